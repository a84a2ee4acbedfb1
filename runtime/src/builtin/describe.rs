//! `kfl builtin describe`: a JSON profile of a CSV table — per column its type, missing and distinct values,
//! and min/mean/max for numbers.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::BuiltinError;
use super::csv_table::Table;
use super::output;

/// Cells that count as missing besides empty ones (after trimming): a subset of the markers pandas reads as
/// missing by default.
pub const MISSING_MARKERS: [&str; 10] = ["NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "<NA>", "#N/A"];

/// The report `describe` writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub rows: usize,
    pub columns: Vec<ColumnProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnProfile {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnKind,
    /// Cells that are missing (see `MISSING_MARKERS`).
    pub missing: usize,
    /// Distinct values among the present cells (compared as trimmed text).
    pub distinct: usize,
    /// Set for `integer` and `float` columns only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// The narrowest type every present cell of a column fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Every cell is missing.
    Empty,
    Boolean,
    Integer,
    Float,
    String,
}

/// Reads `data`, writes its profile as JSON to `out` and, if given, the row count to `rows_out`.
pub fn describe(data: &Path, out: &Path, rows_out: Option<&Path>) -> Result<Profile, BuiltinError> {
    let table = Table::read(data)?;
    let profile = profile(&table);
    output::write_json(out, &profile)?;
    if let Some(rows_out) = rows_out {
        output::write_scalar(rows_out, profile.rows)?;
    }
    Ok(profile)
}

pub fn profile(table: &Table) -> Profile {
    let columns = table
        .header
        .iter()
        .enumerate()
        .map(|(i, name)| column_profile(name, table.rows.iter().filter_map(|row| row.get(i)).map(String::as_str)))
        .collect();
    Profile { rows: table.rows.len(), columns }
}

fn is_missing(cell: &str) -> bool {
    cell.is_empty() || MISSING_MARKERS.contains(&cell)
}

fn cell_kind(cell: &str) -> ColumnKind {
    if cell.parse::<i64>().is_ok() {
        ColumnKind::Integer
    } else if cell.parse::<f64>().is_ok_and(f64::is_finite) {
        ColumnKind::Float
    } else if matches!(cell, "true" | "false" | "True" | "False" | "TRUE" | "FALSE") {
        ColumnKind::Boolean
    } else {
        ColumnKind::String
    }
}

/// How two cell types combine in one column: integers widen to floats, anything else mixed is a string.
fn widen(a: ColumnKind, b: ColumnKind) -> ColumnKind {
    use ColumnKind::*;
    match (a, b) {
        (Empty, k) | (k, Empty) => k,
        (x, y) if x == y => x,
        (Integer, Float) | (Float, Integer) => Float,
        _ => String,
    }
}

fn column_profile<'a>(name: &str, cells: impl Iterator<Item = &'a str>) -> ColumnProfile {
    let mut kind = ColumnKind::Empty;
    let mut missing = 0;
    let mut distinct = BTreeSet::new();
    let mut numbers = Vec::new();
    for cell in cells.map(str::trim) {
        if is_missing(cell) {
            missing += 1;
            continue;
        }
        kind = widen(kind, cell_kind(cell));
        distinct.insert(cell);
        if matches!(kind, ColumnKind::Integer | ColumnKind::Float) {
            numbers.push(cell.parse::<f64>().unwrap_or(f64::NAN));
        }
    }
    let numeric = matches!(kind, ColumnKind::Integer | ColumnKind::Float) && !numbers.is_empty();
    let (min, mean, max) = if numeric {
        let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
        let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (Some(min), Some(numbers.iter().sum::<f64>() / numbers.len() as f64), Some(max))
    } else {
        (None, None, None)
    };
    ColumnProfile { name: name.to_string(), kind, missing, distinct: distinct.len(), min, mean, max }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        Table::parse(text, Path::new("t.csv")).expect("parses")
    }

    #[test]
    fn types_missing_distinct_and_number_summaries() {
        let p = profile(&table("n,x,flag,name,blank\n1,1.5,true,a,\n2,,false,b,NA\n3,2,true,a,\n,3.5,TRUE,,\n"));
        assert_eq!(p.rows, 4);
        let by_name = |n: &str| p.columns.iter().find(|c| c.name == n).expect("column").clone();
        let n = by_name("n");
        assert_eq!((n.kind, n.missing, n.distinct), (ColumnKind::Integer, 1, 3));
        assert_eq!((n.min, n.mean, n.max), (Some(1.0), Some(2.0), Some(3.0)));
        let x = by_name("x");
        assert_eq!((x.kind, x.missing, x.distinct), (ColumnKind::Float, 1, 3));
        assert_eq!(x.mean, Some(7.0 / 3.0));
        assert_eq!(by_name("flag").kind, ColumnKind::Boolean);
        assert_eq!(by_name("flag").min, None);
        let name = by_name("name");
        assert_eq!((name.kind, name.missing, name.distinct), (ColumnKind::String, 1, 2));
        assert_eq!((by_name("blank").kind, by_name("blank").missing), (ColumnKind::Empty, 4));
    }

    #[test]
    fn numbers_mixed_with_text_make_a_string_column_without_summaries() {
        let p = profile(&table("v\n1\nabc\n2.5\n"));
        assert_eq!(p.columns[0].kind, ColumnKind::String);
        assert_eq!(p.columns[0].mean, None);
        let p = profile(&table("v\ninf\n1\n"));
        assert_eq!(p.columns[0].kind, ColumnKind::String, "infinities are not data");
    }

    #[test]
    fn writes_the_json_report_and_the_row_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("d.csv");
        std::fs::write(&data, "a,b\n1,x\n3,y\n").expect("write");
        let (out, rows) = (dir.path().join("profile.json"), dir.path().join("rows"));
        describe(&data, &out, Some(&rows)).expect("describes");
        assert_eq!(std::fs::read_to_string(&rows).expect("rows"), "2\n");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).expect("report")).expect("json");
        assert_eq!(json["rows"], 2);
        assert_eq!(json["columns"][0]["type"], "integer");
        assert_eq!(json["columns"][0]["mean"], 2.0);
        assert_eq!(json["columns"][1]["type"], "string");
        assert!(json["columns"][1].get("mean").is_none());
    }
}
