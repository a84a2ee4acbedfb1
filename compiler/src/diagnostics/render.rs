//! Renders diagnostics as text (plain for tests, graphical for terminals) or JSON lines; with its `snippet`
//! submodule, the only module that touches miette.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};

use super::{Diagnostic, Label, Severity};
use crate::source::{FileId, Sources};

mod snippet;

pub use snippet::MAX_QUOTED_COLUMNS;
use snippet::Snippet;

/// How text output looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Unicode box drawing, no colour, width 80, no links: stable for snapshots
    /// and what the CLI prints when stderr is not a terminal.
    Plain,
    /// Colours and unicode, for a terminal. `NO_COLOR` is honoured by the caller
    /// choosing `Plain`.
    Fancy,
}

/// Renders one diagnostic with its source snippets.
pub fn render_text(sources: &Sources, diagnostic: &Diagnostic, style: Style) -> String {
    let theme = match style {
        Style::Plain => GraphicalTheme::unicode_nocolor(),
        Style::Fancy => GraphicalTheme::unicode(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(80)
        .with_links(false)
        .with_context_lines(snippet::CONTEXT_LINES);
    let report = Report::build(sources, diagnostic);
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        // Rendering into a String cannot fail short of a bug in miette;
        // fall back to a one-line form rather than lose the diagnostic.
        out = one_line(sources, diagnostic);
    }
    out
}

/// Renders many diagnostics, separated by blank lines.
pub fn render_all(sources: &Sources, diagnostics: &[Diagnostic], style: Style) -> String {
    diagnostics.iter().map(|d| render_text(sources, d, style)).collect::<Vec<_>>().join("\n")
}

/// `file:line:col: severity[CODE]: message`, for logs and the language server.
pub fn one_line(sources: &Sources, diagnostic: &Diagnostic) -> String {
    let file = sources.get(diagnostic.primary.span.file);
    let (line, column) = file.line_col(diagnostic.primary.span.start);
    let severity = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    format!("{}:{line}:{column}: {severity}[{}]: {}", file.name, diagnostic.code, diagnostic.message)
}

/// The JSON object of the spec (§5), one per line.
#[derive(Debug, serde::Serialize)]
pub struct JsonDiagnostic<'a> {
    pub code: &'static str,
    pub severity: Severity,
    pub message: &'a str,
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub help: Option<&'a str>,
}

pub fn render_json(sources: &Sources, diagnostic: &Diagnostic) -> String {
    let span = diagnostic.primary.span;
    let file = sources.get(span.file);
    let (line, column) = file.line_col(span.start);
    let (end_line, end_column) = file.line_col(span.end);
    let json = JsonDiagnostic {
        code: diagnostic.code.as_str(),
        severity: diagnostic.severity,
        message: &diagnostic.message,
        file: &file.name,
        line,
        column,
        end_line,
        end_column,
        help: diagnostic.help.as_deref(),
    };
    serde_json::to_string(&json).unwrap_or_default()
}

/// A miette view of one diagnostic: labels in the primary file, and one
/// related report per other file that secondary labels point into.
#[derive(Debug)]
struct Report {
    message: String,
    code: String,
    severity: miette::Severity,
    help: Option<String>,
    source: Snippet,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn build(sources: &Sources, diagnostic: &Diagnostic) -> Report {
        let primary_file = diagnostic.primary.span.file;
        let mut labels = vec![(&diagnostic.primary, true)];
        let mut others: Vec<(FileId, Vec<(&Label, bool)>)> = Vec::new();
        for label in &diagnostic.secondary {
            if label.span.file == primary_file {
                labels.push((label, false));
            } else if let Some((_, spans)) = others.iter_mut().find(|(f, _)| *f == label.span.file) {
                spans.push((label, false));
            } else {
                others.push((label.span.file, vec![(label, false)]));
            }
        }
        let mut help = diagnostic.help.clone();
        for note in &diagnostic.notes {
            help = Some(match help {
                Some(h) => format!("{h}\nnote: {note}"),
                None => format!("note: {note}"),
            });
        }
        let related = others
            .into_iter()
            .map(|(file, spans)| {
                let (source, labels) = quoted(sources, file, &spans);
                Report {
                    message: format!("see {}", sources.get(file).name),
                    code: String::new(),
                    severity: miette::Severity::Advice,
                    help: None,
                    source,
                    labels,
                    related: Vec::new(),
                }
            })
            .collect();
        let (source, labels) = quoted(sources, primary_file, &labels);
        Report {
            message: diagnostic.message.clone(),
            code: diagnostic.code.as_str().to_string(),
            severity: match diagnostic.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            help,
            source,
            labels,
            related,
        }
    }
}

/// A file's snippet for `labels` (the first centres cut context lines), with the labels moved into it.
fn quoted(sources: &Sources, file: FileId, labels: &[(&Label, bool)]) -> (Snippet, Vec<LabeledSpan>) {
    let spans: Vec<_> = labels.iter().map(|(label, _)| label.span.range()).collect();
    let (snippet, moved) = Snippet::new(sources.get(file), &spans);
    let labeled = labels
        .iter()
        .zip(moved)
        .map(|((label, primary), span)| {
            let span = SourceSpan::new(span.start.into(), span.len());
            if *primary {
                LabeledSpan::new_primary_with_span(label.text.clone(), span)
            } else {
                LabeledSpan::new_with_span(label.text.clone(), span)
            }
        })
        .collect();
    (snippet, labeled)
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        (!self.code.is_empty()).then(|| Box::new(&self.code) as Box<dyn std::fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Code;
    use crate::source::{Origin, SourceFile, Span};

    /// Renders an E0001 labelled at `span` in a file holding `text`.
    fn render(text: &str, span: std::ops::Range<usize>, secondary: Option<std::ops::Range<usize>>) -> String {
        let mut sources = Sources::new();
        let file = sources.add(SourceFile::new("a.kfl", text, Origin::User));
        let mut diagnostic =
            Diagnostic::error(Code::SyntaxError, "bad", Label::new(Span::new(file, span.start, span.end), "here"));
        if let Some(s) = secondary {
            diagnostic = diagnostic.with_label(Label::new(Span::new(file, s.start, s.end), "also"));
        }
        render_text(&sources, &diagnostic, Style::Plain)
    }

    /// The character column of `needle` in the first output line holding it, and that line's index.
    fn column_of(out: &str, needle: &str) -> (usize, usize) {
        let (index, line) = out.lines().enumerate().find(|(_, l)| l.contains(needle)).expect(needle);
        (index, line[..line.find(needle).unwrap()].chars().count())
    }

    #[test]
    fn a_long_line_is_quoted_as_a_window_around_the_label() {
        // 5,000 characters, the span in the middle, a long context line after it.
        let line: String = (0..5_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let mut text = line.clone();
        text.replace_range(2_500..2_506, "TARGET");
        let text = format!("{text}\n{line}\n");
        let out = render(&text, 2_500..2_506, None);

        // No line of the output holds more than the window (plus the gutter).
        for quoted in out.lines() {
            assert!(quoted.chars().count() <= MAX_QUOTED_COLUMNS + 8, "{} chars: {quoted}", quoted.chars().count());
        }
        // Both lines are cut on both sides, and the header still names the real column.
        assert_eq!(out.matches('…').count(), 4, "{out}");
        assert!(out.contains("[a.kfl:1:2501]"), "{out}");
        // The underline starts under the span and is as wide as it.
        let (row, column) = column_of(&out, "TARGET");
        let underline = out.lines().nth(row + 1).unwrap();
        let marks: String = underline.chars().skip(column).take(6).collect();
        assert!(marks.chars().all(|c| c == '─' || c == '┬') && marks.contains('┬'), "{out}");
        assert_eq!(underline.chars().nth(column - 1), Some(' '), "{out}");
    }

    #[test]
    fn labels_far_apart_are_quoted_as_separate_groups_with_their_own_line_numbers() {
        let text: String = (1..=300).map(|n| format!("line {n}\n")).collect();
        let at = |n: usize| text.find(&format!("line {n}\n")).unwrap();
        let out = render(&text, at(200)..at(200) + 8, Some(at(3)..at(3) + 6));
        for n in [2, 3, 4, 199, 200, 201] {
            assert!(out.contains(&format!(" {n} │ line {n}\n")), "line {n} missing: {out}");
        }
        assert!(!out.contains("line 5\n") && !out.contains("line 198\n"), "{out}");
        assert!(out.contains("[a.kfl:200:1]"), "{out}");
    }

    #[test]
    fn a_label_cut_away_points_at_the_ellipsis_and_short_lines_are_whole() {
        let long = "x".repeat(1_000);
        let text = format!("short line\n{long} END\n");
        // A primary label at the start and a secondary one at the end of the long line cannot both
        // show: the window follows the primary, and the secondary marks the cut.
        let end = 11 + long.len() + 1;
        let out = render(&text, 11..12, Some(end..end + 3));
        assert!(out.contains("short line"), "{out}");
        assert!(!out.contains("END"), "{out}");
        let (row, column) = column_of(&out, "…");
        let underline = out.lines().nth(row + 1).unwrap();
        assert_eq!(underline.chars().nth(column), Some('┬'), "{out}");
        // Quoted lines stay within the window (label lines below them may run on by the label's text).
        for quoted in out.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())) {
            assert!(quoted.chars().count() <= MAX_QUOTED_COLUMNS + 8, "{out}");
        }
    }
}
