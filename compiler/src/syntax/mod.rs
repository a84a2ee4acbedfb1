//! Parsing: text → AST, recovering declaration by declaration so every syntax error in a file is reported.

pub mod dump;
mod error;
mod lower;
mod reuse;
pub mod trivia;

pub use reuse::ParseCache;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use kfl_grammar::{KflParser, Rule};
use pest::Parser;

use crate::ast;
use crate::diagnostics::Diagnostic;
use crate::source::FileId;

/// Parses one file. Always returns a tree: declarations that failed to parse
/// are left out and reported as E0001 diagnostics.
pub fn parse(file: FileId, src: &str) -> (ast::File, Vec<Diagnostic>) {
    parse_with(file, src, None)
}

/// Like [`parse`], reusing the trees of declarations `cache` saw in an earlier
/// parse of the same file (large files only; the result is the same).
pub fn parse_cached(file: FileId, src: &str, cache: &ParseCache) -> (ast::File, Vec<Diagnostic>) {
    parse_with(file, src, Some(cache))
}

fn parse_with(file: FileId, src: &str, cache: Option<&ParseCache>) -> (ast::File, Vec<Diagnostic>) {
    let trivia = trivia::scan(src);
    let (items, diagnostics) =
        if trivia.too_deep.is_empty() { parse_pieces_in_parallel(file, src, &trivia, cache) } else { None }
            .unwrap_or_else(|| parse_whole(file, src, &trivia));
    finish(file, src, &trivia, items, diagnostics)
}

/// Parses the file in one go; on a syntax error, each top-level declaration on its own.
fn parse_whole(file: FileId, src: &str, trivia: &trivia::Trivia) -> (Vec<ast::Item>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut items = Vec::new();
    // Too deep a nesting is not parsed at all: the parser and every later pass recurse per level.
    let whole = if trivia.too_deep.is_empty() { KflParser::parse(Rule::file, src).map_err(Some) } else { Err(None) };
    match whole {
        Ok(mut pairs) => {
            let mut lowerer = lower::Lowerer::new(file, src, 0, &trivia.comments);
            if let Some(pair) = pairs.next() {
                items = lowerer.items(pair);
            }
            diagnostics.extend(lowerer.diagnostics);
        }
        Err(first_error) => {
            // pest stops at the first error; parse each top-level declaration on
            // its own so the others are still checked and reported.
            let mut starts = trivia.declaration_starts.clone();
            if starts.first() != Some(&0) {
                starts.insert(0, 0);
            }
            let mut any_chunk_failed = false;
            for (index, &start) in starts.iter().enumerate() {
                let end = starts.get(index + 1).copied().unwrap_or(src.len());
                let chunk = &src[start..end];
                if let Some(&offset) = trivia.too_deep.iter().find(|offset| (start..end).contains(offset)) {
                    any_chunk_failed = true;
                    diagnostics.push(error::too_deep(file, src, offset));
                    continue;
                }
                match KflParser::parse(Rule::item_chunk, chunk) {
                    Ok(mut pairs) => {
                        let mut lowerer = lower::Lowerer::new(file, src, start, &trivia.comments);
                        if let Some(pair) = pairs.next() {
                            items.extend(lowerer.items(pair));
                        }
                        diagnostics.extend(lowerer.diagnostics);
                    }
                    Err(err) => {
                        any_chunk_failed = true;
                        diagnostics.push(error::syntax_error(file, src, start, &err));
                    }
                }
            }
            if !any_chunk_failed && let Some(first_error) = first_error {
                // Every piece parses alone but the whole does not (e.g. a stray
                // `}` the splitter absorbed): report the whole-file error.
                diagnostics.push(error::syntax_error(file, src, 0, &first_error));
            }
        }
    }
    (items, diagnostics)
}

/// Attaches the file's doc comment.
fn finish(
    file: FileId,
    src: &str,
    trivia: &trivia::Trivia,
    mut items: Vec<ast::Item>,
    diagnostics: Vec<Diagnostic>,
) -> (ast::File, Vec<Diagnostic>) {
    let first_item = items.first().map(|item: &ast::Item| item.span.start as usize);
    let first_is_import = matches!(items.first().map(|i| &i.kind), Some(ast::ItemKind::Import(_)));
    let doc = trivia::file_doc(src, &trivia.comments, first_item, first_is_import)
        .map(|(text, start, end)| ast::Doc { text, span: crate::source::Span::new(file, start, end) });
    if doc.is_some() {
        // A doc that documents the file does not also document the first item.
        if let Some(first) = items.first_mut()
            && first.doc.as_ref().map(|d| d.span) == doc.as_ref().map(|d| d.span)
        {
            first.doc = None;
        }
    }
    (ast::File { id: file, doc, items }, diagnostics)
}

/// The comments of a file, for the formatter.
pub fn comments(src: &str) -> Vec<trivia::Comment> {
    trivia::scan(src).comments
}

/// Files at least this large are parsed in pieces on two threads.
const PARALLEL_THRESHOLD: usize = 32 * 1024;
/// Files larger than this are parsed in pieces on one thread: memory over speed. The checker frees each
/// declaration's tree as it lowers it, but with the system allocator (glibc) a helper thread's trees live in
/// that thread's own arena, which the main thread's later allocations (the program, the pipeline) never reuse:
/// at 20,000 stages it held a sixth of `kfl build`'s peak, and a 50 MB file's build went past 30× its size
/// (docs/PERFORMANCE.md §Memory). Below it, a file's trees are small beside the process, and two threads win.
const ONE_THREAD_ABOVE: usize = 8 * 1024 * 1024;
/// Target size of one piece. pest keeps a token queue of ~50 bytes per token
/// for the whole input it parses; small pieces, each lowered and dropped
/// before the next, keep that queue in memory the allocator reuses. With
/// 64 KiB pieces page faults alone cost ~17 ms of `kfl check` at 1,000
/// stages; with 4 KiB pieces ~11 ms (see docs/PERFORMANCE.md).
const PIECE_SIZE: usize = 4 * 1024;

/// A piece's index, its items, and the diagnostics lowering reported.
type ParsedPiece = (usize, Vec<ast::Item>, Vec<Diagnostic>);

/// Parses a large file in pieces cut at top-level declarations, the pieces
/// shared out between two threads: pest is the bulk of `kfl check` on big files,
/// and our machines have two cores. Returns `None` when the file is small, or
/// any piece has a syntax error (e.g. because a cut fell inside a block) —
/// the caller then parses it whole and recovers from errors as usual, so the
/// result never depends on this path. With a `cache`, pieces it holds are
/// reused and only the others are parsed.
fn parse_pieces_in_parallel(
    file: FileId,
    src: &str,
    trivia: &trivia::Trivia,
    cache: Option<&ParseCache>,
) -> Option<(Vec<ast::Item>, Vec<Diagnostic>)> {
    if src.len() < PARALLEL_THRESHOLD {
        return None;
    }
    let mut cuts = vec![0];
    for &start in &trivia.declaration_starts {
        if start >= cuts.last().copied().unwrap_or(0) + PIECE_SIZE {
            cuts.push(start);
        }
    }
    cuts.push(src.len());
    let pieces: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    if pieces.len() < 2 {
        return None;
    }
    // A piece's tree depends on its text and the doc block right above it (the
    // first item's doc): that text is the piece's key in the cache.
    let key_start =
        |start: usize| trivia::doc_before(src, &trivia.comments, start).map_or(start, |(_, doc, _)| doc.min(start));
    let keys: Vec<(usize, usize)> = pieces.iter().map(|&(start, end)| (key_start(start), end)).collect();
    let mut reused: Vec<Option<Vec<ast::Item>>> = match cache {
        Some(cache) => keys.iter().map(|&(start, end)| cache.get(file, &src[start..end], start)).collect(),
        None => vec![None; pieces.len()],
    };
    let missing: Vec<usize> = (0..pieces.len()).filter(|i| reused[*i].is_none()).collect();
    // The main thread takes pieces from the front and the helper from the back until they meet, rather than
    // half the pieces each: the helper starts later and its first allocations fault in fresh pages, so a fixed
    // split left the main thread waiting for it. Each thread's pieces stay one run of the file, so the items
    // later passes walk in order come from one thread's memory, then the other's. A syntax error anywhere stops
    // both (the whole file is then parsed again).
    let remaining = Mutex::new(0..missing.len());
    let failed = AtomicBool::new(false);
    let parse_pieces = |from_front: bool| -> Option<Vec<ParsedPiece>> {
        let mut out = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let taken = match remaining.lock() {
                Ok(mut range) if from_front => range.next(),
                Ok(mut range) => range.next_back(),
                Err(_) => return None,
            };
            let Some(&index) = taken.and_then(|position| missing.get(position)) else { return Some(out) };
            let (start, end) = pieces[index];
            let Ok(mut pairs) = KflParser::parse(Rule::item_chunk, &src[start..end]) else {
                failed.store(true, Ordering::Relaxed);
                return None;
            };
            let mut lowerer = lower::Lowerer::new(file, src, start, &trivia.comments);
            let items = pairs.next().map(|pair| lowerer.items(pair)).unwrap_or_default();
            out.push((index, items, lowerer.diagnostics));
        }
        None
    };
    let mut parsed = if missing.len() < 2 || src.len() > ONE_THREAD_ABOVE {
        parse_pieces(true)?
    } else {
        let (first, second) = std::thread::scope(|scope| {
            // The main thread's stack is 8 MiB; give the helper the same so deep
            // nesting behaves alike in every piece.
            let second = std::thread::Builder::new()
                .stack_size(8 * 1024 * 1024)
                .spawn_scoped(scope, || parse_pieces(false))
                .ok();
            let first = parse_pieces(true);
            // No helper thread to be had: the main thread has taken every piece itself.
            let second = match second {
                Some(handle) => handle.join().ok().flatten(),
                None => Some(Vec::new()),
            };
            (first, second)
        });
        let mut parsed = first?;
        parsed.extend(second?);
        parsed
    };
    // Lowering diagnostics in file order, whichever thread parsed which piece.
    parsed.sort_unstable_by_key(|(index, _, _)| *index);
    let mut diagnostics = Vec::new();
    let mut fresh = Vec::new();
    for (index, items, lowered) in parsed {
        if cache.is_some() && lowered.is_empty() {
            let (start, end) = keys[index];
            fresh.push((src[start..end].to_string(), start, items.clone()));
        }
        diagnostics.extend(lowered);
        reused[index] = Some(items);
    }
    if let Some(cache) = cache {
        let kept: std::collections::HashSet<&str> =
            (0..pieces.len()).filter(|i| !missing.contains(i)).map(|i| &src[keys[i].0..keys[i].1]).collect();
        cache.store(file, &kept, fresh);
    }
    let pieces: Vec<Vec<ast::Item>> = reused.into_iter().flatten().collect();
    let mut items = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
    items.extend(pieces.into_iter().flatten());
    Some((items, diagnostics))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: usize = 1200;

    /// Many pieces, some with errors found while lowering (reported in file order, whichever thread met them).
    fn big_file_with_lowering_errors() -> String {
        let mut text = String::from("project p {\n  image = \"x\"\n}\n\n");
        for i in 0..STEPS {
            let entries = if i % 97 == 5 { "run = [\"a\"] cpu = 1" } else { "run = [\"a\", x]\n  cpu = 1" };
            let when = if i % 131 == 7 { "\n  when = x < 1 < 2" } else { "" };
            text.push_str(&format!("/// Step {i}.\nstep s{i}(x: int = {i}) {{\n  {entries}{when}\n}}\n\n"));
        }
        text
    }

    #[test]
    fn pieces_parsed_on_two_threads_equal_the_whole_file_parsed_at_once() {
        let file = FileId(0);
        let src = big_file_with_lowering_errors();
        assert!(src.len() > 2 * PARALLEL_THRESHOLD);
        let trivia = trivia::scan(src.as_str());
        let whole = parse_whole(file, &src, &trivia);
        assert!(whole.1.len() >= 8, "the file should have lowering errors: {:?}", whole.1);
        for _ in 0..20 {
            let pieces = parse_pieces_in_parallel(file, &src, &trivia, None).expect("every piece parses");
            assert_eq!(pieces, whole);
        }
    }

    #[test]
    fn a_syntax_error_in_any_piece_sends_the_file_to_the_whole_parse() {
        let file = FileId(0);
        let src = big_file_with_lowering_errors().replace("step s250(x: int = 250) {", "step s250(x: int = ) {");
        let trivia = trivia::scan(src.as_str());
        assert!(parse_pieces_in_parallel(file, &src, &trivia, None).is_none());
        let (parsed, diagnostics) = parse(file, &src);
        assert_eq!(parsed.items.len(), STEPS, "the project and every other step are still parsed");
        assert!(diagnostics.iter().any(|d| d.message.contains("expected")), "{diagnostics:?}");
    }
}
