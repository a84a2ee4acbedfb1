//! The formatter's view of comments: which are still to print, and where they sit relative to nodes.
//!
//! Every comment is printed exactly once. Printing walks the tree in source
//! order and takes comments by byte offset: those before a node are its
//! leading comments, those after it on the same line its trailing comments,
//! and anything left inside a node the printer could not place is hoisted
//! above it, so no comment is ever dropped.

use crate::syntax::trivia::{Comment, CommentKind};

pub(super) struct Comments<'a> {
    src: &'a str,
    list: Vec<Comment>,
    used: Vec<bool>,
}

impl<'a> Comments<'a> {
    pub fn new(src: &'a str, list: Vec<Comment>) -> Comments<'a> {
        let used = vec![false; list.len()];
        Comments { src, list, used }
    }

    /// The comment as printed: line comments lose trailing blanks (and a `\r`).
    pub fn text(&self, index: usize) -> String {
        let Some(comment) = self.list.get(index) else { return String::new() };
        let raw = self.src.get(comment.start..comment.end).unwrap_or_default();
        match comment.kind {
            CommentKind::Block => raw.to_string(),
            CommentKind::Line | CommentKind::Doc => raw.trim_end().to_string(),
        }
    }

    pub fn kind(&self, index: usize) -> Option<CommentKind> {
        self.list.get(index).map(|comment| comment.kind)
    }

    pub fn start(&self, index: usize) -> usize {
        self.list.get(index).map_or(0, |comment| comment.start)
    }

    pub fn end(&self, index: usize) -> usize {
        self.list.get(index).map_or(0, |comment| comment.end)
    }

    /// Whether any comment, printed or not, starts inside `lo..hi`; such a
    /// container is printed one element per line so the comment has a place.
    pub fn any_within(&self, lo: usize, hi: usize) -> bool {
        let first = self.list.partition_point(|comment| comment.start < lo);
        self.list.get(first).is_some_and(|comment| comment.start < hi)
    }

    /// Takes the unprinted comments starting inside `lo..hi`, in order.
    pub fn take_range(&mut self, lo: usize, hi: usize) -> Vec<usize> {
        let first = self.list.partition_point(|comment| comment.start < lo);
        let mut taken = Vec::new();
        for index in first..self.list.len() {
            if self.list[index].start >= hi {
                break;
            }
            if !self.used[index] {
                self.used[index] = true;
                taken.push(index);
            }
        }
        taken
    }

    /// Takes the comments that follow `end` on the same line (only blanks
    /// and commas in between), stopping before `hi`. A `///` never trails:
    /// it documents what follows, so it stays in front of that.
    pub fn take_trailing(&mut self, end: usize, hi: usize) -> Vec<usize> {
        let mut cursor = end;
        let mut taken = Vec::new();
        let first = self.list.partition_point(|comment| comment.start < end);
        for index in first..self.list.len() {
            let comment = &self.list[index];
            if comment.start >= hi || self.used[index] || comment.kind == CommentKind::Doc {
                break;
            }
            let gap = self.src.get(cursor..comment.start).unwrap_or("\n");
            if !gap.chars().all(|c| matches!(c, ' ' | '\t' | ',')) {
                break;
            }
            self.used[index] = true;
            taken.push(index);
            cursor = comment.end;
            if comment.kind == CommentKind::Line {
                break;
            }
        }
        taken
    }

    /// `end` moved back over blanks and whole comments, but not before
    /// `start`: some node spans run on over the trivia that follows them.
    pub fn trim_end(&self, start: usize, mut end: usize) -> usize {
        loop {
            let Some(text) = self.src.get(start..end) else { return end };
            end = start + text.trim_end().len();
            let before = self.list.partition_point(|comment| comment.start < end);
            match before.checked_sub(1).and_then(|index| self.list.get(index)) {
                Some(comment) if comment.start >= start && comment.end >= end => end = comment.start,
                _ => return end,
            }
        }
    }

    /// Whether the source between two offsets holds a blank line.
    pub fn blank_line_between(&self, from: usize, to: usize) -> bool {
        self.src.get(from..to).is_some_and(|gap| gap.matches('\n').count() >= 2)
    }

    pub fn src(&self) -> &'a str {
        self.src
    }

    /// Where the `close` bracket after `from` is, skipping blanks, commas and
    /// comments; `None` when something else comes first.
    pub fn closing_after(&self, from: usize, close: u8) -> Option<usize> {
        let bytes = self.src.as_bytes();
        let mut at = from;
        while at < bytes.len() {
            let byte = bytes[at];
            if byte == close {
                return Some(at);
            }
            if matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | b',') {
                at += 1;
                continue;
            }
            let comment = self.list.iter().find(|comment| comment.start == at)?;
            at = comment.end;
        }
        None
    }
}
