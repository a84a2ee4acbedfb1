//! Renders diagnostics as text (plain for tests, graphical for terminals) or JSON lines; the only module that touches miette.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};

use super::{Diagnostic, Label, Severity};
use crate::source::{FileId, Sources};

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
    let handler = GraphicalReportHandler::new_themed(theme).with_width(80).with_links(false);
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
        let mut labels = vec![labeled(&diagnostic.primary, true)];
        let mut others: Vec<(FileId, Vec<LabeledSpan>)> = Vec::new();
        for label in &diagnostic.secondary {
            if label.span.file == primary_file {
                labels.push(labeled(label, false));
            } else if let Some((_, spans)) = others.iter_mut().find(|(f, _)| *f == label.span.file) {
                spans.push(labeled(label, false));
            } else {
                others.push((label.span.file, vec![labeled(label, false)]));
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
            .map(|(file, spans)| Report {
                message: format!("see {}", sources.get(file).name),
                code: String::new(),
                severity: miette::Severity::Advice,
                help: None,
                source: named(sources, file),
                labels: spans,
                related: Vec::new(),
            })
            .collect();
        Report {
            message: diagnostic.message.clone(),
            code: diagnostic.code.as_str().to_string(),
            severity: match diagnostic.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            help,
            source: named(sources, primary_file),
            labels,
            related,
        }
    }
}

fn named(sources: &Sources, file: FileId) -> Snippet {
    Snippet { file: sources.get(file).clone() }
}

/// A file as miette sees it. miette's own `str` source finds a span's line by
/// scanning from the start of the file; we answer from our line index, so
/// rendering thousands of diagnostics in a large file stays linear.
#[derive(Debug)]
struct Snippet {
    file: crate::source::SourceFile,
}

impl miette::SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let file = &self.file;
        let text: &str = &file.text;
        let start = span.offset().min(text.len());
        let end = (span.offset() + span.len()).min(text.len());
        if start > text.len() {
            return Err(miette::MietteError::OutOfBounds);
        }
        let first_line = file.line_of(start).saturating_sub(context_lines_before);
        let end_line = file.line_of(end.saturating_sub(usize::from(end > start)));
        let last_line = (end_line + context_lines_after).min(file.line_count().saturating_sub(1));
        // With no context (miette's header lookup) the window starts at the
        // span itself and `column` locates it, as miette's own sources do.
        let (window_start, column) = if context_lines_before == 0 {
            (start, start - file.line_start(first_line))
        } else {
            (file.line_start(first_line), 0)
        };
        // The window ends after the last line's line break, as miette's own sources do.
        let window_end = file.line_start(last_line + 1).max(window_start);
        let window = &text[window_start..window_end];
        Ok(Box::new(miette::MietteSpanContents::new_named(
            file.name.clone(),
            window.as_bytes(),
            SourceSpan::new(window_start.into(), window.len()),
            first_line,
            column,
            // miette's own sources report the newlines from the start of the
            // file to the window's end here, and its graphical handler merges
            // nearby snippets based on that; match it so output is the same.
            newlines_before(text, file, window_end),
        )))
    }
}

fn labeled(label: &Label, primary: bool) -> LabeledSpan {
    let span = SourceSpan::new((label.span.start as usize).into(), label.span.len());
    if primary {
        LabeledSpan::new_primary_with_span(label.text.clone(), span)
    } else {
        LabeledSpan::new_with_span(label.text.clone(), span)
    }
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

/// Line breaks in `text[..end]`.
fn newlines_before(text: &str, file: &crate::source::SourceFile, end: usize) -> usize {
    if end == 0 {
        return 0;
    }
    file.line_of(end - 1) + usize::from(text[..end].ends_with('\n'))
}
