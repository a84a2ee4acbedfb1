//! CSV tables as the builtins read and write them: RFC 4180, a header line, every record as wide as it.
//!
//! Quoted fields may hold commas, doubled quotes and line breaks; lines end in LF or CRLF; a UTF-8 byte
//! order mark and blank lines are skipped. Cells stay text: each builtin decides what a cell means.

use std::path::{Path, PathBuf};

use super::BuiltinError;

/// A table read from a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where the table came from, for messages.
    pub source: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The line each row starts on (1-based, the header is line 1), for messages.
    pub lines: Vec<usize>,
}

impl Table {
    /// Reads and parses a CSV file.
    pub fn read(path: &Path) -> Result<Table, BuiltinError> {
        let bytes =
            std::fs::read(path).map_err(|e| BuiltinError::new(format!("cannot read {}: {e}", path.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| BuiltinError::new(format!("{} is not UTF-8 text: {e}", path.display())))?;
        Table::parse(&text, path)
    }

    /// Parses CSV text; `source` only names it in messages.
    pub fn parse(text: &str, source: &Path) -> Result<Table, BuiltinError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut records = parse_records(text).map_err(|e| BuiltinError::new(format!("{}:{e}", source.display())))?;
        if records.is_empty() {
            return Err(BuiltinError::new(format!("{}: empty file, expected a header line", source.display())));
        }
        let (_, header) = records.remove(0);
        let mut rows = Vec::with_capacity(records.len());
        let mut lines = Vec::with_capacity(records.len());
        for (line, record) in records {
            if record.len() != header.len() {
                return Err(BuiltinError::new(format!(
                    "{}:{line}: {} fields, the header has {}",
                    source.display(),
                    record.len(),
                    header.len()
                )));
            }
            rows.push(record);
            lines.push(line);
        }
        Ok(Table { source: source.to_path_buf(), header, rows, lines })
    }

    /// The index of a column, or an error listing the columns there are.
    pub fn column(&self, name: &str) -> Result<usize, BuiltinError> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            BuiltinError::new(format!(
                "{}: no column `{name}`; the columns are {}",
                self.source.display(),
                self.header.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// The header and the rows at `indices`, in that order, as CSV text.
    pub fn to_csv(&self, indices: &[usize]) -> String {
        let mut out = String::new();
        push_record(&mut out, &self.header);
        for &i in indices {
            if let Some(row) = self.rows.get(i) {
                push_record(&mut out, row);
            }
        }
        out
    }
}

/// Records with the line each starts on; blank lines are skipped.
/// CSV that is not well formed, at a 1-based line.
#[derive(Debug, PartialEq)]
enum CsvError {
    UnclosedQuote { line: usize },
    AfterClosingQuote { line: usize, found: char },
    QuoteInField { line: usize },
}

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CsvError::UnclosedQuote { line } => write!(f, "{line}: a quoted field is never closed"),
            CsvError::AfterClosingQuote { line, found } => {
                write!(f, "{line}: `{found}` after a closing quote; expected `,` or a line end")
            }
            CsvError::QuoteInField { line } => {
                write!(f, "{line}: a quote inside an unquoted field; quote the whole field")
            }
        }
    }
}

fn parse_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, CsvError> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut record = Vec::new();
        let mut field = String::new();
        let mut quoted_field = false;
        loop {
            match chars.next() {
                None => {
                    record.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') if field.is_empty() && !quoted_field => {
                    quoted_field = true;
                    loop {
                        match chars.next() {
                            None => return Err(CsvError::UnclosedQuote { line: start }),
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                field.push(c);
                            }
                        }
                    }
                    match chars.peek() {
                        None | Some(',') | Some('\n') | Some('\r') => {}
                        Some(c) => {
                            return Err(CsvError::AfterClosingQuote { line, found: *c });
                        }
                    }
                }
                Some(',') => {
                    record.push(std::mem::take(&mut field));
                    quoted_field = false;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    line += 1;
                    record.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') => return Err(CsvError::QuoteInField { line }),
                Some(c) => field.push(c),
            }
        }
        let blank = record.len() == 1 && record[0].is_empty() && !quoted_field;
        if !blank {
            records.push((start, record));
        }
    }
    Ok(records)
}

fn push_record(out: &mut String, fields: &[String]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Table, BuiltinError> {
        Table::parse(text, Path::new("t.csv"))
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let table = parse("\u{feff}a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\n\"two\nlines\",3\n").expect("parses");
        assert_eq!(table.header, ["a", "b"]);
        assert_eq!(table.rows, [vec!["x, y", "say \"hi\""], vec!["two\nlines", "3"]]);
        assert_eq!(table.lines, [2, 4]);
    }

    #[test]
    fn writing_then_reading_gives_the_same_table() {
        let table = parse("a,b\n\"x, y\",\"q\"\"\"\n\"multi\nline\",\n").expect("parses");
        let again = parse(&table.to_csv(&[0, 1])).expect("reparses");
        assert_eq!(again.rows, table.rows);
        assert_eq!(table.to_csv(&[1]), "a,b\n\"multi\nline\",\n");
    }

    #[test]
    fn a_last_line_without_newline_and_empty_fields_are_kept() {
        let table = parse("a,b,c\n1,,3").expect("parses");
        assert_eq!(table.rows, [vec!["1", "", "3"]]);
    }

    #[test]
    fn ragged_rows_and_broken_quotes_name_the_line() {
        let err = parse("a,b\n1,2\n3\n").expect_err("ragged");
        assert_eq!(err.0, "t.csv:3: 1 fields, the header has 2");
        let err = parse("a\n\"open\n").expect_err("unclosed");
        assert!(err.0.contains("t.csv:2: a quoted field is never closed"), "{err}");
        let err = parse("a\n\"x\"y\n").expect_err("junk after quote");
        assert!(err.0.contains("after a closing quote"), "{err}");
        let err = parse("a\nx\"y\n").expect_err("stray quote");
        assert!(err.0.contains("quote inside an unquoted field"), "{err}");
        assert!(parse("").expect_err("empty").0.contains("empty file"));
    }

    #[test]
    fn an_unknown_column_lists_the_columns() {
        let table = parse("label,prediction\n").expect("parses");
        assert_eq!(table.column("prediction"), Ok(1));
        assert_eq!(
            table.column("lable").expect_err("missing").0,
            "t.csv: no column `lable`; the columns are `label`, `prediction`"
        );
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let err = Table::read(Path::new("/nonexistent/kfl/t.csv")).expect_err("missing");
        assert!(err.0.starts_with("cannot read /nonexistent/kfl/t.csv"), "{err}");
    }
}
