//! The source text a rendered diagnostic quotes: the lines around its labels, each cut to a window of at most
//! [`MAX_QUOTED_COLUMNS`] characters around the labels, with the labels' spans moved into the cut text.

use std::ops::Range;

use miette::SourceSpan;

use crate::source::SourceFile;

/// The most characters of one source line a diagnostic quotes, ellipses included. A `.kfl` path may be any
/// text file (a symlink to a credentials file, a minified blob): quoting a whole line would echo its content
/// to terminals, logs and CI output. 120 keeps every line of ordinary code whole (`kfl fmt` wraps at 100).
pub const MAX_QUOTED_COLUMNS: usize = 120;

/// Lines miette shows before and after each label; the quoted text holds exactly these.
pub(super) const CONTEXT_LINES: usize = 1;

/// Marks the side(s) where a quoted line was cut.
const ELLIPSIS: &str = "…";

/// One quoted line: which bytes of the file it keeps and where they land in the quoted text.
#[derive(Debug)]
struct QuotedLine {
    /// The line's 0-based number in the file.
    number: usize,
    /// Where the line starts in the file.
    start: usize,
    /// The kept bytes of the file.
    keep: Range<usize>,
    /// Where the line's text ends in the file, before its line break.
    text_end: usize,
    cut_before: bool,
    cut_after: bool,
    /// Where the line starts in the quoted text.
    at: usize,
    /// Line breaks from the start of the file through this line, as miette's own sources count them.
    newlines_through: usize,
}

/// A file as miette sees it: only the lines it will show, cut. miette's own `str` source would quote every
/// line whole and find a span's line by scanning from the start of the file; this holds only the groups of
/// lines around the labels, so rendering thousands of diagnostics in a large file stays linear.
#[derive(Debug)]
pub(super) struct Snippet {
    name: String,
    text: String,
    /// In file order; runs of consecutive line numbers are the groups miette shows.
    lines: Vec<QuotedLine>,
    /// (quoted, file) start of each label, so miette's `[file:line:col]` header names the label's real
    /// column even when the cut moved the label onto an ellipsis.
    origins: Vec<(usize, usize)>,
}

impl Snippet {
    /// Quotes `file` for labels at `spans` (byte ranges in the file; context lines are cut around the
    /// first one). Returns the snippet and each span moved into its text.
    pub(super) fn new(file: &SourceFile, spans: &[Range<usize>]) -> (Snippet, Vec<Range<usize>>) {
        let text: &str = &file.text;
        let spans: Vec<Range<usize>> = spans
            .iter()
            .map(|s| {
                let start = s.start.min(text.len());
                start..s.end.clamp(start, text.len())
            })
            .collect();
        // The lines a span starts and ends on, counted as the reads below do.
        let span_lines: Vec<(usize, usize)> = spans
            .iter()
            .map(|s| (file.line_of(s.start), file.line_of(s.end.saturating_sub(usize::from(s.end > s.start)))))
            .collect();
        let last_line = file.line_count().saturating_sub(1);
        // The groups of lines miette shows: each label with its context, merged as miette's graphical
        // handler merges them (when the left group's first line plus the line breaks up to its end reach
        // the right one's first line), or more eagerly, never less, so no read spans a gap.
        let mut order: Vec<usize> = (0..spans.len()).collect();
        order.sort_by_key(|&i| spans[i].start);
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for i in order {
            let first = span_lines[i].0.saturating_sub(CONTEXT_LINES);
            let last = (span_lines[i].1 + CONTEXT_LINES).min(last_line);
            match groups.last_mut() {
                Some(group) if group.0 + newlines_before(file, file.line_start(group.1 + 1)) >= first => {
                    group.1 = group.1.max(last);
                }
                _ => groups.push((first, last)),
            }
        }
        let anchor = spans.first().map_or(0, |s| char_column(text, file.line_start(file.line_of(s.start)), s.start));

        let mut quoted = String::new();
        if groups.is_empty() {
            groups.push((0, 0));
        }
        let mut lines = Vec::new();
        for line in groups.into_iter().flat_map(|(first, last)| first..=last) {
            let start = file.line_start(line);
            let next = file.line_start(line + 1);
            let full = &text[start..next];
            let body = full.strip_suffix('\n').unwrap_or(full);
            let body = body.strip_suffix('\r').unwrap_or(body);
            let text_end = start + body.len();
            let chars = if body.len() <= MAX_QUOTED_COLUMNS { body.len() } else { body.chars().count() };
            let columns = if chars <= MAX_QUOTED_COLUMNS {
                0..chars
            } else {
                let pieces: Vec<Range<usize>> = spans
                    .iter()
                    .zip(&span_lines)
                    .filter_map(|(s, &(from, to))| match (from == line, to == line) {
                        (true, true) => Some(s.start..s.end.min(text_end)),
                        (true, false) => Some(s.start..s.start),
                        (false, true) => Some(s.end.min(text_end)..s.end.min(text_end)),
                        (false, false) => None,
                    })
                    .map(|p| char_column(text, start, p.start)..char_column(text, start, p.end))
                    .collect();
                let hull = pieces.iter().map(|p| p.start).min().unwrap_or(anchor)
                    ..pieces.iter().map(|p| p.end).max().unwrap_or(anchor);
                let focus = if hull.len() <= MAX_QUOTED_COLUMNS - 2 { hull } else { pieces[0].clone() };
                window(chars, focus)
            };
            let keep = start + byte_of(body, columns.start)..start + byte_of(body, columns.end);
            let cut_before = columns.start > 0;
            let cut_after = columns.end < chars;
            let at = quoted.len();
            if cut_before {
                quoted.push_str(ELLIPSIS);
            }
            quoted.push_str(&text[keep.clone()]);
            if cut_after {
                quoted.push_str(ELLIPSIS);
            }
            quoted.push_str(&text[text_end..next]);
            let newlines_through = newlines_before(file, next);
            lines.push(QuotedLine { number: line, start, keep, text_end, cut_before, cut_after, at, newlines_through });
        }
        let mut snippet = Snippet { name: file.name.clone(), text: quoted, lines, origins: Vec::new() };
        let moved: Vec<Range<usize>> =
            spans.iter().map(|s| snippet.to_quoted(s.start, false)..snippet.to_quoted(s.end, true)).collect();
        snippet.origins = moved.iter().zip(&spans).map(|(q, s)| (q.start, s.start)).collect();
        (snippet, moved)
    }

    /// Where file offset `p` lands in the quoted text; a cut-away start lands on the ellipsis before the
    /// kept text (`end` false) and a cut-away end after it (`end` true), so the label marks the cut.
    fn to_quoted(&self, p: usize, end: bool) -> usize {
        let index = self.lines.partition_point(|l| l.start <= p).saturating_sub(1);
        let line = &self.lines[index];
        if p <= line.start {
            return line.at;
        }
        let kept_at = line.at + if line.cut_before { ELLIPSIS.len() } else { 0 };
        let kept_end = kept_at + line.keep.len();
        if p < line.keep.start {
            if end { kept_at } else { line.at }
        } else if p <= line.keep.end {
            kept_at + (p - line.keep.start)
        } else if p < line.text_end {
            if end { kept_end + ELLIPSIS.len() } else { kept_end }
        } else {
            kept_end + if line.cut_after { ELLIPSIS.len() } else { 0 } + (p - line.text_end)
        }
    }

    /// The file offset a quoted offset came from (a label's own start when one begins there).
    fn to_file(&self, q: usize, index: usize) -> usize {
        if let Some(&(_, p)) = self.origins.iter().find(|(at, _)| *at == q) {
            return p;
        }
        let line = &self.lines[index];
        let kept_at = line.at + if line.cut_before { ELLIPSIS.len() } else { 0 };
        (line.keep.start + q.saturating_sub(kept_at)).min(line.text_end.max(line.keep.end))
    }

    /// The index in `lines` of the line holding quoted offset `q`.
    fn line_of(&self, q: usize) -> usize {
        self.lines.partition_point(|l| l.at <= q).saturating_sub(1)
    }
}

impl miette::SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let start = span.offset().min(self.text.len());
        let end = (span.offset() + span.len()).min(self.text.len());
        // Context extends only over the consecutive lines of the span's group.
        let follows = |i: usize| self.lines[i].number + 1 == self.lines[i + 1].number;
        let mut first = self.line_of(start);
        for _ in 0..context_lines_before {
            if first > 0 && follows(first - 1) {
                first -= 1;
            }
        }
        let mut last = self.line_of(end.saturating_sub(usize::from(end > start))).max(first);
        for _ in 0..context_lines_after {
            if last + 1 < self.lines.len() && follows(last) {
                last += 1;
            }
        }
        // With no context (miette's header lookup) the window starts at the
        // span itself and `column` locates it in the file, as miette's own sources do.
        let (window_start, column) = if context_lines_before == 0 {
            (start, self.to_file(start, first) - self.lines[first].start)
        } else {
            (self.lines[first].at, 0)
        };
        // The window ends after the last line's line break, as miette's own sources do.
        let window_end = self.lines.get(last + 1).map_or(self.text.len(), |l| l.at).max(window_start);
        let window = &self.text[window_start..window_end];
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            window.as_bytes(),
            SourceSpan::new(window_start.into(), window.len()),
            self.lines[first].number,
            column,
            // miette's own sources report the newlines from the start of the
            // file to the window's end here, and its graphical handler merges
            // nearby snippets based on that; match it so output is the same.
            self.lines[last].newlines_through,
        )))
    }
}

/// The characters of `text` from `line_start` to `offset`.
fn char_column(text: &str, line_start: usize, offset: usize) -> usize {
    text.get(line_start..offset).map_or(offset.saturating_sub(line_start), |s| s.chars().count())
}

/// The byte offset of character `column` of `body` (its length past the end).
fn byte_of(body: &str, column: usize) -> usize {
    body.char_indices().nth(column).map_or(body.len(), |(i, _)| i)
}

/// The columns of a line of `chars` characters (more than [`MAX_QUOTED_COLUMNS`]) to keep so that `focus`
/// shows, centred when it fits, with room left for an ellipsis on each cut side.
fn window(chars: usize, focus: Range<usize>) -> Range<usize> {
    let between = MAX_QUOTED_COLUMNS - 2;
    let start = focus.start.saturating_sub(between.saturating_sub(focus.len()) / 2);
    if start <= 1 {
        0..MAX_QUOTED_COLUMNS - 1
    } else if start + between + 1 >= chars {
        chars - (MAX_QUOTED_COLUMNS - 1)..chars
    } else {
        start..start + between
    }
}

/// Line breaks in the file before byte `end`.
fn newlines_before(file: &SourceFile, end: usize) -> usize {
    if end == 0 {
        return 0;
    }
    file.line_of(end - 1) + usize::from(file.text[..end].ends_with('\n'))
}
