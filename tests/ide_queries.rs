//! Editor queries (`kfl_compiler::ide`) on every fixture and example, at many offsets: no panic, spans inside their files.

use std::path::{Path, PathBuf};

use kfl_compiler::ide::{self, Analysis};
use kfl_compiler::source::Span;

fn workspace(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// Runs every query at offsets `step` bytes apart (on character boundaries); returns what was wrong.
fn query_everywhere(name: &str, text: &str, step: usize) -> Vec<String> {
    let outcome = kfl_tests::check_text(name, text);
    let analysis = Analysis::new(&outcome.sources, &outcome.checked);
    let file = outcome.checked.modules.modules.first().map(|m| m.file).unwrap_or_default();
    let mut problems = Vec::new();
    let mut inside = |what: &str, offset: usize, span: Span| {
        let len = outcome.sources.get(span.file).text.len();
        if span.start > span.end || span.end as usize > len {
            problems.push(format!("{name}@{offset}: {what} returned {span:?} outside a file of {len} bytes"));
        }
    };
    for outline in ide::outline(analysis, file) {
        inside("outline", 0, outline.range);
        inside("outline", 0, outline.selection);
    }
    for token in ide::semantic_tokens(analysis, file) {
        inside("semantic token", 0, token.span);
    }
    let offsets = (0..=text.len()).step_by(step.max(1)).filter(|o| text.is_char_boundary(*o));
    for offset in offsets {
        if let Some(hover) = ide::hover(analysis, file, offset) {
            inside("hover", offset, hover.range);
        }
        if let Some(span) = ide::definition(analysis, file, offset) {
            inside("definition", offset, span);
        }
        for span in ide::references(analysis, file, offset, true) {
            inside("references", offset, span);
        }
        for completion in ide::complete(analysis, file, offset) {
            inside("completion", offset, completion.replace);
        }
        if let Ok(rename) = ide::rename(analysis, file, offset, Some("renamed")) {
            rename.edits.iter().for_each(|span| inside("rename", offset, *span));
        }
    }
    problems
}

#[test]
fn queries_never_panic_on_fixtures_and_examples() {
    let mut files = kfl_tests::kfl_files(&workspace("tests/cases"));
    files.extend(kfl_tests::kfl_files(&workspace("examples")));
    assert!(files.len() > 20, "fixtures not found");
    let mut problems = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        problems.extend(query_everywhere(&path.to_string_lossy(), &text, 3));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn queries_never_panic_on_truncated_files() {
    // Every prefix of an example is what an editor holds while the file is typed top to bottom.
    let text = std::fs::read_to_string(workspace("examples/iris/iris.kfl")).unwrap_or_default();
    let mut problems = Vec::new();
    for end in (0..text.len()).step_by(97).filter(|e| text.is_char_boundary(*e)) {
        problems.extend(query_everywhere("iris-prefix.kfl", &text[..end], 11));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
