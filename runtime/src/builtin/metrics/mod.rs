//! `kfl builtin metrics`: evaluation metrics over a CSV table of true values and predictions.

pub mod classification;
pub mod regression;

use super::BuiltinError;
use super::csv_table::Table;

/// The label and prediction cells of every row (trimmed), or an error naming the missing column.
fn pairs<'a>(table: &'a Table, label: &str, prediction: &str) -> Result<Vec<(&'a str, &'a str)>, BuiltinError> {
    let (l, p) = (table.column(label)?, table.column(prediction)?);
    if table.rows.is_empty() {
        return Err(BuiltinError::new(format!("{}: no rows to evaluate", table.source.display())));
    }
    Ok(table.rows.iter().map(|row| (row[l].trim(), row[p].trim())).collect())
}
