//! Reusing the parse of unchanged declarations between checks of an edited file (the language server's incremental parse).
//!
//! Big files are parsed in pieces cut at top-level declarations (see
//! `parse_pieces_in_parallel`). A piece's syntax tree depends only on its
//! text and the doc comment block right above it, so a [`ParseCache`] keeps
//! the trees of the last parse keyed by that text; a piece found again is
//! cloned and moved to its new position instead of parsed.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ast::*;
use crate::source::{FileId, Span};

/// The pieces of the last parse of each file, by text. Only looked up, never
/// iterated, so hash order cannot reach any output.
#[derive(Debug, Default)]
pub struct ParseCache {
    pieces: Mutex<HashMap<FileId, HashMap<String, Cached>>>,
    reused: AtomicUsize,
}

#[derive(Debug)]
struct Cached {
    /// Where the key text started when the piece was parsed.
    start: usize,
    items: Vec<Item>,
}

impl ParseCache {
    pub fn new() -> ParseCache {
        ParseCache::default()
    }

    /// How many pieces were reused instead of parsed, so far.
    pub fn reused(&self) -> usize {
        self.reused.load(Ordering::Relaxed)
    }

    /// The items of the piece whose key text is `text`, moved to start at `start`.
    pub(super) fn get(&self, file: FileId, text: &str, start: usize) -> Option<Vec<Item>> {
        let pieces = self.pieces.lock().ok()?;
        let cached = pieces.get(&file)?.get(text)?;
        self.reused.fetch_add(1, Ordering::Relaxed);
        let mut items = cached.items.clone();
        let delta = start as i64 - cached.start as i64;
        if delta != 0 {
            items.iter_mut().for_each(|item| item.shift(delta));
        }
        Some(items)
    }

    /// Keeps, for `file`, the pieces of its latest parse: those found again (`reused`)
    /// and those just parsed (`parsed`: key text, where it started, items).
    pub(super) fn store(&self, file: FileId, reused: &HashSet<&str>, parsed: Vec<(String, usize, Vec<Item>)>) {
        let Ok(mut cache) = self.pieces.lock() else { return };
        let pieces = cache.entry(file).or_default();
        pieces.retain(|text, _| reused.contains(text.as_str()));
        for (text, start, items) in parsed {
            pieces.insert(text, Cached { start, items });
        }
    }
}

/// Moving a parsed subtree by `delta` bytes: every span it holds.
trait Shift {
    fn shift(&mut self, delta: i64);
}

impl Shift for Span {
    fn shift(&mut self, delta: i64) {
        let moved = |n: u32| u32::try_from(i64::from(n) + delta).unwrap_or(0);
        self.start = moved(self.start);
        self.end = moved(self.end);
    }
}

impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, delta: i64) {
        if let Some(inner) = self {
            inner.shift(delta);
        }
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, delta: i64) {
        self.iter_mut().for_each(|t| t.shift(delta));
    }
}

impl<T: Shift> Shift for Box<T> {
    fn shift(&mut self, delta: i64) {
        self.as_mut().shift(delta);
    }
}

// Patterns name every field (no `..`), so a span added to the AST fails to compile here until it is shifted.

impl Shift for Ident {
    fn shift(&mut self, delta: i64) {
        let Ident { name: _, span } = self;
        span.shift(delta);
    }
}

impl Shift for Doc {
    fn shift(&mut self, delta: i64) {
        let Doc { text: _, span } = self;
        span.shift(delta);
    }
}

impl Shift for Item {
    fn shift(&mut self, delta: i64) {
        let Item { doc, kind, span } = self;
        doc.shift(delta);
        span.shift(delta);
        match kind {
            ItemKind::Import(Import { target, alias }) => {
                match target {
                    ImportTarget::File { path: _, span } => span.shift(delta),
                    ImportTarget::Std { path, span } => {
                        path.shift(delta);
                        span.shift(delta);
                    }
                }
                alias.shift(delta);
            }
            ItemKind::Param(Param { name, ty, default }) => {
                name.shift(delta);
                ty.shift(delta);
                default.shift(delta);
            }
            ItemKind::Block(BlockDecl { kind: _, keyword, name, body }) => {
                keyword.shift(delta);
                name.shift(delta);
                body.shift(delta);
            }
            ItemKind::Stage(StageDecl { kind: _, keyword, name, inputs, outputs, body }) => {
                keyword.shift(delta);
                name.shift(delta);
                for Input { name, ty, default, span } in inputs.iter_mut().flatten() {
                    name.shift(delta);
                    ty.shift(delta);
                    default.shift(delta);
                    span.shift(delta);
                }
                for Output { name, ty, span } in outputs.iter_mut().flatten() {
                    name.shift(delta);
                    ty.shift(delta);
                    span.shift(delta);
                }
                body.shift(delta);
            }
            ItemKind::StepCall(StepCall { keyword, name, component, args, args_span }) => {
                keyword.shift(delta);
                name.shift(delta);
                component.shift(delta);
                args.shift(delta);
                args_span.shift(delta);
            }
            ItemKind::For(ForBlock { keyword, var, iterable, items }) => {
                keyword.shift(delta);
                var.shift(delta);
                iterable.shift(delta);
                items.iter_mut().for_each(|item| item.shift(delta));
            }
        }
    }
}

impl Shift for TypeExpr {
    fn shift(&mut self, delta: i64) {
        let TypeExpr { name, arg, span } = self;
        name.shift(delta);
        arg.shift(delta);
        span.shift(delta);
    }
}

impl Shift for Block {
    fn shift(&mut self, delta: i64) {
        let Block { entries, span } = self;
        span.shift(delta);
        for entry in entries {
            match entry {
                Entry::Property(Property { key, value, block_form: _, span }) => {
                    key.shift(delta);
                    value.shift(delta);
                    span.shift(delta);
                }
                Entry::Fields(Fields { key, fields, span }) => {
                    key.shift(delta);
                    for Field { key, ty, span } in fields {
                        key.shift(delta);
                        ty.shift(delta);
                        span.shift(delta);
                    }
                    span.shift(delta);
                }
                Entry::Mount(Mount { keyword, volume, path, span }) => {
                    keyword.shift(delta);
                    volume.shift(delta);
                    path.shift(delta);
                    span.shift(delta);
                }
                Entry::Rule(MonitorRule { keyword, name, body, span }) => {
                    keyword.shift(delta);
                    name.shift(delta);
                    body.shift(delta);
                    span.shift(delta);
                }
            }
        }
    }
}

impl Shift for Key {
    fn shift(&mut self, delta: i64) {
        let Key { segments, span } = self;
        span.shift(delta);
        for KeySegment { text: _, quoted: _, span } in segments {
            span.shift(delta);
        }
    }
}

impl Shift for Arg {
    fn shift(&mut self, delta: i64) {
        let Arg { name, value, span } = self;
        name.shift(delta);
        value.shift(delta);
        span.shift(delta);
    }
}

impl Shift for Expr {
    fn shift(&mut self, delta: i64) {
        let Expr { kind, span } = self;
        span.shift(delta);
        match kind {
            ExprKind::Number(number) => {
                let NumberLit { text: _, is_float: _, unit: _, unit_span } = number.as_mut();
                unit_span.shift(delta);
            }
            ExprKind::String(StringLit { parts, raw: _ }) => {
                for part in parts {
                    if let StringPart::Interpolation(inner) = part {
                        inner.shift(delta);
                    }
                }
            }
            ExprKind::Bool(_) => {}
            ExprKind::List(items) => items.shift(delta),
            ExprKind::Object(block) => block.shift(delta),
            ExprKind::Name(name) => name.shift(delta),
            ExprKind::Member(base, member) => {
                base.shift(delta);
                member.shift(delta);
            }
            ExprKind::Call(callee, args) => {
                callee.shift(delta);
                args.shift(delta);
            }
            ExprKind::Unary(_, operand) => operand.shift(delta),
            ExprKind::Binary(_, lhs, rhs) => {
                lhs.shift(delta);
                rhs.shift(delta);
            }
            ExprKind::If(cond, then, otherwise) => {
                cond.shift(delta);
                then.shift(delta);
                otherwise.shift(delta);
            }
            ExprKind::Paren(inner) => inner.shift(delta),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{parse, parse_cached};

    fn big_file() -> String {
        let mut text =
            String::from("/// A file big enough to be parsed in pieces.\n\nproject p {\n  image = \"x\"\n}\n\n");
        for i in 0..600 {
            text.push_str(&format!(
                "/// Step {i}.\nstep s{i}(x: int = {i}, d: Dataset = s{}.out) -> (out: Dataset) {{\n  run = [\"echo\", \"${{x}}\", d, out] // why\n  cpu = 500m\n}}\n\n",
                i.max(1) - 1
            ));
        }
        text
    }

    #[test]
    fn cached_parses_equal_fresh_parses_across_edits() {
        let cache = ParseCache::new();
        let file = FileId(0);
        let original = big_file();
        let edits: Vec<(&str, String)> = vec![
            ("unchanged", original.clone()),
            ("same length", original.replace("x: int = 300,", "x: int = 301,")),
            ("longer in the middle", original.replace("x: int = 300,", "x: int = 300000,")),
            ("doc above a declaration", original.replace("/// Step 451.", "/// Step four hundred and fifty-one.")),
            ("doc line added", original.replace("/// Step 200.", "/// Extra.\n/// Step 200.")),
            ("declaration removed", original.replacen("/// Step 3.\nstep s3(", "step gone(", 1)),
            ("syntax error", original.replace("cpu = 500m\n}\n\n/// Step 420.", "cpu = \n}\n\n/// Step 420.")),
            ("back to the start", original.clone()),
        ];
        let mut reused_before = 0;
        for (what, text) in &edits {
            assert!(text.len() > 32 * 1024);
            let fresh = parse(file, text);
            let cached = parse_cached(file, text, &cache);
            assert_eq!(cached, fresh, "{what}");
            if *what != "unchanged" {
                assert!(cache.reused() > reused_before + 10, "{what}: pieces were parsed again");
            }
            reused_before = cache.reused();
        }
    }
}
