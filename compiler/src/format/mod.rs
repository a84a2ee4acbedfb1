//! `kfl fmt`: prints a parsed file in the one canonical layout, keeping every comment and the file's meaning.
//!
//! The canonical layout, which `examples/` is written in:
//!
//! * Two spaces of indentation. A declaration body has one entry per line;
//!   an empty body is `{}`. The `=` signs of consecutive one-line properties
//!   line up, and a one-line `key { … }` (an object or a `metrics` field
//!   list) lines its `{` up with them: `labels    { team = "ml" }`. A blank
//!   line, an entry that spans several lines, or a `rule` ends such a run;
//!   `mount` lines do not take part and do not end it (own-line comments
//!   neither); consecutive one-line `rule`s line up their `{` among
//!   themselves.
//! * `key { … }` and `key = { … }` are kept as written. An object, a
//!   `metrics` list or a `rule` body that was written on one line stays on
//!   one line (`{ a = 1, b = 2 }`) if it fits in [`MAX_WIDTH`] columns and
//!   holds no comment; otherwise it gets one entry per line. An object that
//!   was written over several lines stays that way.
//! * Lists, call arguments and stage inputs: on one line when the line they
//!   start on stays within [`MAX_WIDTH`] (100) columns, however they were
//!   written; otherwise one element per line with a trailing comma, each
//!   element laid out by the same rule at its own indentation (so a long
//!   `run` command or `k8s` patch wraps, and a short one written over several
//!   lines is joined). A comment inside always gives one element per line.
//!   Stage outputs are always on one line. Expressions, strings and names
//!   are never broken, so a line may still exceed the width when one of
//!   them alone does.
//! * Top-level declarations (and those inside `for`) are separated by one
//!   blank line, except consecutive one-line `import`s, `param`s or step
//!   calls, which keep the blank lines the user put between them (at most
//!   one). Inside bodies, lists and argument lists, the user's blank lines
//!   are kept, collapsed to one.
//! * Expressions: binary operators with a space on each side, `..` without;
//!   parentheses exactly as written; numbers exactly as written, unit
//!   included; strings re-escaped (`\n \t \" \\ \${`), raw strings verbatim.
//! * Comments: a comment on its own line is printed on its own line above the
//!   node that follows it (or before the closing bracket when nothing
//!   follows); a comment after a node on the same line stays there. A `///`
//!   always goes on its own line, since it documents what follows. A comment
//!   inside an expression, where no line of its own is possible, moves to
//!   the end of the line when the entry prints as one line
//!   (`a = 1 + /* x */ 2` becomes `a = 1 + 2 /* x */`; a `//` one goes
//!   last), and above the entry otherwise. The file's doc comment is a leading
//!   comment; the blank line after it is kept, as it is what makes it the
//!   file's doc (above a first `import` it may have none).
//!
//! `format` is idempotent, and `parse(format(x))` dumps
//! ([`crate::syntax::dump`]) the same as `parse(x)`; the tests check both on
//! every example.

mod comments;
mod expr;
mod items;
#[cfg(test)]
mod tests;

use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Span};
use crate::syntax;
use crate::syntax::trivia::CommentKind;
use comments::Comments;

/// The item tag of imports (see [`Chunk::tag`]).
const IMPORT: u8 = 0;

/// The width that one-line forms must fit in to be chosen (`kfl fmt`'s documented line width).
pub const MAX_WIDTH: usize = 100;

/// Formats `src`, or returns its syntax errors: a broken file is never formatted.
pub fn format(src: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = syntax::parse(FileId(0), src);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let mut printer = Printer { comments: Comments::new(src, syntax::comments(src)) };
    Ok(printer.file(&file))
}

struct Printer<'a> {
    comments: Comments<'a>,
}

/// One printed line of a sequence (several lines for a node that spans them).
enum Line {
    Blank,
    Comment(String),
    Node(Node),
}

/// Which alignment run a node can join.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    /// One-line `key = value` and `key { … }`: the key is padded.
    Property,
    /// One-line `rule NAME { … }`: `rule NAME` is padded.
    Rule,
    /// `mount`: not padded, and the run goes on across it.
    Transparent,
    /// Ends the current run.
    Breaks,
}

/// A node as `head`, separator, `tail`; alignment pads the head.
struct Node {
    head: String,
    separator: &'static str,
    tail: String,
    align: Align,
    trailing: String,
}

impl Node {
    fn plain(text: String) -> Node {
        Node { head: text, separator: "", tail: String::new(), align: Align::Breaks, trailing: String::new() }
    }

    fn aligned(head: String, separator: &'static str, tail: String, align: Align) -> Node {
        let align = if tail.contains('\n') { Align::Breaks } else { align };
        Node { head, separator, tail, align, trailing: String::new() }
    }
}

/// The lines for one element of a sequence, with what the blank-line rule
/// needs to know about it.
struct Chunk {
    lines: Vec<Line>,
    /// The source had a blank line before it.
    blank_before: bool,
    /// For items: a kind tag when the item printed as one line and may stay
    /// next to others with the same tag.
    tag: Option<u8>,
    /// Comments after the last element.
    dangling: bool,
}

/// How blank lines between the chunks of a sequence are decided.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Blanks {
    /// Where the source had one.
    AsWritten,
    /// Always between declarations, except between one-liners of one kind.
    BetweenItems,
}

impl Printer<'_> {
    /// Prints a sequence of elements lying in `lo..hi` of the source, with the
    /// comments between them; `suffix` follows each element (`,` in lists).
    fn sequence<T>(
        &mut self,
        elements: &[T],
        (lo, hi): (usize, usize),
        suffix: &str,
        span_of: impl Fn(&T) -> Span,
        mut render: impl FnMut(&mut Self, &T) -> (Node, Option<u8>),
    ) -> Vec<Chunk> {
        let mut chunks = Vec::new();
        let mut previous_end: Option<usize> = None;
        for element in elements {
            let span = span_of(element);
            let start = span.start as usize;
            let end = self.comments.trim_end(start, span.end as usize);
            let leading = self.comments.take_range(lo, start);
            let (mut lines, blank_before_comments, cursor) = self.comment_lines(&leading, previous_end);
            let blank_before_element = cursor.is_some_and(|cursor| self.comments.blank_line_between(cursor, start));
            let blank_before = if leading.is_empty() {
                blank_before_element
            } else {
                if blank_before_element {
                    lines.push(Line::Blank);
                }
                blank_before_comments
            };
            let (mut node, tag) = render(self, element);
            if node.tail.is_empty() {
                node.head.push_str(suffix);
            } else {
                node.tail.push_str(suffix);
            }
            // Whatever the element could not place inside itself.
            let unplaced = self.comments.take_range(lo, end);
            let trailing = self.comments.take_trailing(end, hi);
            let element_end = trailing.last().map_or(end, |&index| self.comments.end(index));
            // Only the file's doc can stand first at the top with no blank line after it.
            let file_doc_above_import = lo == 0 && previous_end.is_none() && tag == Some(IMPORT);
            self.place(&mut lines, &mut node, &unplaced, &trailing, file_doc_above_import);
            lines.push(Line::Node(node));
            chunks.push(Chunk { lines, blank_before, tag, dangling: false });
            previous_end = Some(element_end);
        }
        let dangling = self.comments.take_range(lo, hi);
        if !dangling.is_empty() {
            let (lines, blank_before, _) = self.comment_lines(&dangling, previous_end);
            chunks.push(Chunk { lines, blank_before, tag: None, dangling: true });
        }
        chunks
    }

    /// Puts the comments found inside an element (`unplaced`) and after it on
    /// its line (`trailing`). On a one-line element they all trail, the one
    /// `//` comment last; otherwise the unplaced ones go above the element,
    /// below its leading comments but never between a `///` block and what
    /// it documents.
    fn place(
        &self,
        lines: &mut Vec<Line>,
        node: &mut Node,
        unplaced: &[usize],
        trailing: &[usize],
        file_doc_above_import: bool,
    ) {
        let one_line = !node.head.contains('\n') && !node.tail.contains('\n');
        let all = unplaced.iter().chain(trailing);
        let line_comments = all.clone().filter(|&&index| self.comments.kind(index) == Some(CommentKind::Line)).count();
        let plain = unplaced.iter().all(|&index| {
            self.comments.kind(index) != Some(CommentKind::Doc) && !self.comments.text(index).contains('\n')
        });
        if one_line && plain && line_comments <= 1 {
            let (line, blocks): (Vec<usize>, Vec<usize>) =
                all.partition(|&&index| self.comments.kind(index) == Some(CommentKind::Line));
            for index in blocks.into_iter().chain(line) {
                node.trailing.push(' ');
                node.trailing.push_str(&self.comments.text(index));
            }
            return;
        }
        for &index in trailing {
            node.trailing.push(' ');
            node.trailing.push_str(&self.comments.text(index));
        }
        if unplaced.is_empty() {
            return;
        }
        let mut at = lines.len();
        while at > 0 && matches!(&lines[at - 1], Line::Comment(text) if is_doc(text)) {
            at -= 1;
        }
        if at == 0 && file_doc_above_import {
            at = lines.len();
        }
        let mut moved: Vec<Line> = unplaced.iter().map(|&index| Line::Comment(self.comments.text(index))).collect();
        if unplaced.iter().any(|&index| self.comments.kind(index) == Some(CommentKind::Doc)) {
            // A `///` from inside an expression documents nothing; the blank
            // line keeps it from documenting the element.
            moved.push(Line::Blank);
        }
        lines.splice(at..at, moved);
    }

    /// Own-line comments, keeping blank lines between them. Returns the lines,
    /// whether a blank line came before the first, and where the last ends.
    fn comment_lines(&self, indices: &[usize], mut cursor: Option<usize>) -> (Vec<Line>, bool, Option<usize>) {
        let mut lines = Vec::new();
        let mut blank_before_first = false;
        for (position, &index) in indices.iter().enumerate() {
            let blank =
                cursor.is_some_and(|cursor| self.comments.blank_line_between(cursor, self.comments.start(index)));
            if position == 0 {
                blank_before_first = blank;
            } else if blank {
                lines.push(Line::Blank);
            }
            lines.push(Line::Comment(self.comments.text(index)));
            cursor = Some(self.comments.end(index));
        }
        (lines, blank_before_first, cursor)
    }
}

/// Joins chunks, putting blank lines between them by `blanks`.
fn assemble(chunks: Vec<Chunk>, blanks: Blanks) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut previous_tag: Option<Option<u8>> = None;
    for chunk in chunks {
        if let Some(previous) = previous_tag {
            let same_kind_one_liners = previous.is_some() && previous == chunk.tag;
            let forced = blanks == Blanks::BetweenItems && !chunk.dangling && !same_kind_one_liners;
            if chunk.blank_before || forced {
                lines.push(Line::Blank);
            }
        }
        previous_tag = Some(chunk.tag);
        lines.extend(chunk.lines);
    }
    lines
}

/// Prints lines at `indent`, padding aligned heads; no final newline.
fn render_lines(lines: &[Line], indent: usize) -> String {
    let widths = alignment_widths(lines);
    let pad = indentation(indent);
    let mut out = String::new();
    for (position, line) in lines.iter().enumerate() {
        if position > 0 {
            out.push('\n');
        }
        match line {
            Line::Blank => {}
            Line::Comment(text) => {
                out.push_str(&pad);
                out.push_str(text);
            }
            Line::Node(node) => {
                out.push_str(&pad);
                out.push_str(&node.head);
                let padding = widths.get(position).copied().unwrap_or(0).saturating_sub(width(&node.head));
                out.extend(std::iter::repeat_n(' ', padding));
                out.push_str(node.separator);
                out.push_str(&node.tail);
                out.push_str(&node.trailing);
            }
        }
    }
    out
}

/// The padded head width of every line (0 when not aligned).
fn alignment_widths(lines: &[Line]) -> Vec<usize> {
    let mut widths = vec![0; lines.len()];
    let mut run: Vec<usize> = Vec::new();
    let mut run_align = Align::Breaks;
    let flush = |run: &mut Vec<usize>, widths: &mut Vec<usize>| {
        let head_width = |position: usize| match lines.get(position) {
            Some(Line::Node(node)) => width(&node.head),
            _ => 0,
        };
        let max = run.iter().map(|&position| head_width(position)).max().unwrap_or(0);
        for &position in run.iter() {
            widths[position] = max;
        }
        run.clear();
    };
    for (position, line) in lines.iter().enumerate() {
        match line {
            Line::Blank => flush(&mut run, &mut widths),
            Line::Comment(_) => {}
            Line::Node(node) => match node.align {
                Align::Transparent => {}
                Align::Breaks => flush(&mut run, &mut widths),
                align => {
                    if align != run_align {
                        flush(&mut run, &mut widths);
                        run_align = align;
                    }
                    run.push(position);
                }
            },
        }
    }
    flush(&mut run, &mut widths);
    widths
}

fn is_doc(comment: &str) -> bool {
    comment.starts_with("///") && !comment.starts_with("////")
}

fn indentation(indent: usize) -> String {
    "  ".repeat(indent)
}

/// Columns taken by `text` (characters, not bytes).
fn width(text: &str) -> usize {
    text.chars().count()
}

/// The column after printing `text` starting at `column`.
fn advance(column: usize, text: &str) -> usize {
    match text.rfind('\n') {
        Some(newline) => width(&text[newline + 1..]),
        None => column + width(text),
    }
}

/// `lines` inside a bracket pair, the closing bracket at `indent`.
fn bracketed(open: &str, lines: &[Line], indent: usize, close: &str) -> String {
    format!("{open}\n{}\n{}{close}", render_lines(lines, indent + 1), indentation(indent))
}
