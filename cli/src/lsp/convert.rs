//! Conversions between the compiler's byte spans and file names and the protocol's positions (UTF-16) and URIs.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use kfl_compiler::diagnostics::{self, Severity};
use kfl_compiler::source::{SourceFile, Sources, Span};
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Position, Range, Uri};

/// The protocol position of byte `offset` in `file` (columns count UTF-16 code units).
pub fn position(file: &SourceFile, offset: usize) -> Position {
    let offset = offset.min(file.text.len());
    let line = file.line_of(offset);
    let start = file.line_start(line);
    let character = file.text.get(start..offset).map_or(0, |s| s.encode_utf16().count());
    Position { line: to_u32(line), character: to_u32(character) }
}

pub fn range(file: &SourceFile, span: Span) -> Range {
    Range { start: position(file, span.start as usize), end: position(file, span.end as usize) }
}

/// The byte offset of a protocol position; past the end of a line means its end.
pub fn offset(file: &SourceFile, position: Position) -> usize {
    let line = position.line as usize;
    if line >= file.line_count() {
        return file.text.len();
    }
    let start = file.line_start(line);
    let mut units = 0;
    for (index, c) in file.text[start..].char_indices() {
        if c == '\n' || units >= position.character as usize {
            return start + index;
        }
        units += c.len_utf16();
    }
    file.text.len()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The name a document gets in the compiler's source map: its path for `file:` URIs
/// (so imports resolve on disk), the URI itself otherwise (an unsaved buffer).
pub fn name_of(uri: &Uri) -> String {
    let text = uri.as_str();
    match text.strip_prefix("file://") {
        Some(rest) => {
            // `file://host/path` is rare; the host is dropped, `file:///path` keeps its slash.
            let path = if rest.starts_with('/') { rest } else { rest.find('/').map_or(rest, |i| &rest[i..]) };
            percent_decode(path)
        }
        None => text.to_string(),
    }
}

/// The URI of a file the compiler names `name`; standard-library modules are mapped into `std_dir`.
pub fn uri_of(name: &str, std_dir: &Path) -> Option<Uri> {
    let text = if let Some(module) = name.strip_prefix("<stdlib/").and_then(|n| n.strip_suffix('>')) {
        file_uri(&std_dir.join(module))
    } else if name.starts_with('/') {
        file_uri(Path::new(name))
    } else {
        name.to_string()
    };
    Uri::from_str(&text).ok()
}

pub fn file_uri(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::from("file://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(value) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where standard-library modules are written so editors can open them:
/// `$XDG_CACHE_HOME/kfl/std-VERSION/` (or `~/.cache/…`, else the temp folder).
pub fn std_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("kfl").join(format!("std-{}", env!("CARGO_PKG_VERSION")))
}

/// Writes the standard library's modules into `dir` (once; the files are read-only copies).
pub fn write_std(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in kfl_compiler::stdlib::MODULES {
        let path = dir.join(format!("{name}.kfl"));
        if std::fs::read_to_string(&path).ok().as_deref() != Some(*text) {
            std::fs::write(&path, text)?;
        }
    }
    Ok(())
}

/// The diagnostics of `file`, as the protocol has them: code `E0201`, help and notes in the
/// message, secondary labels as related information.
pub fn diagnostics(
    sources: &Sources,
    all: &[diagnostics::Diagnostic],
    file: kfl_compiler::source::FileId,
    std_dir: &Path,
) -> Vec<lsp_types::Diagnostic> {
    let source = sources.get(file);
    all.iter()
        .filter(|d| d.primary.span.file == file)
        .map(|d| {
            let mut message = d.message.clone();
            if let Some(label) = &d.primary.text {
                message.push_str(&format!(" ({label})"));
            }
            if let Some(help) = &d.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            for note in &d.notes {
                message.push_str(&format!("\nnote: {note}"));
            }
            let related: Vec<DiagnosticRelatedInformation> = d
                .secondary
                .iter()
                .filter_map(|label| {
                    let label_file = sources.get(label.span.file);
                    Some(DiagnosticRelatedInformation {
                        location: Location {
                            uri: uri_of(&label_file.name, std_dir)?,
                            range: range(label_file, label.span),
                        },
                        message: label.text.clone().unwrap_or_else(|| "here".to_string()),
                    })
                })
                .collect();
            lsp_types::Diagnostic {
                range: range(source, d.primary.span),
                severity: Some(match d.severity {
                    Severity::Error => DiagnosticSeverity::ERROR,
                    Severity::Warning => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(d.code.as_str().to_string())),
                source: Some("kfl".to_string()),
                message,
                related_information: if related.is_empty() { None } else { Some(related) },
                ..lsp_types::Diagnostic::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kfl_compiler::source::Origin;

    #[test]
    fn positions_count_utf16_units() {
        let file = SourceFile::new("a.kfl", "ab\n\u{e9}\u{1F600}x\n", Origin::User);
        let x = "ab\n\u{e9}\u{1F600}".len();
        assert_eq!(position(&file, x), Position { line: 1, character: 3 });
        assert_eq!(offset(&file, Position { line: 1, character: 3 }), x);
        assert_eq!(offset(&file, Position { line: 0, character: 99 }), 2);
        assert_eq!(offset(&file, Position { line: 9, character: 0 }), file.text.len());
    }

    #[test]
    fn file_uris_round_trip() {
        let uri = Uri::from_str(&file_uri(Path::new("/tmp/a b/c#.kfl"))).expect("uri");
        assert_eq!(uri.as_str(), "file:///tmp/a%20b/c%23.kfl");
        assert_eq!(name_of(&uri), "/tmp/a b/c#.kfl");
    }
}
