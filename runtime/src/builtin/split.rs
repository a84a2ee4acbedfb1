//! `kfl builtin split`: shuffle a CSV table's rows with a seed and cut them into train and test tables.

use std::path::Path;

use super::BuiltinError;
use super::csv_table::Table;
use super::output;
use super::seeded::Rng;

/// What `split` did, for the command line to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitSummary {
    pub rows: usize,
    pub train_rows: usize,
    pub test_rows: usize,
}

/// Reads `data`, writes `train` and `test` (both with the header). `fraction` (0 to 1) is the share of rows
/// that goes to `test`, rounded to the nearest row.
pub fn split(data: &Path, train: &Path, test: &Path, fraction: f64, seed: i64) -> Result<SplitSummary, BuiltinError> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(BuiltinError::new(format!("--fraction must be between 0 and 1, got {fraction}")));
    }
    let table = Table::read(data)?;
    let (train_rows, test_rows) = partition(table.rows.len(), fraction, seed);
    output::write_file(train, &table.to_csv(&train_rows))?;
    output::write_file(test, &table.to_csv(&test_rows))?;
    Ok(SplitSummary { rows: table.rows.len(), train_rows: train_rows.len(), test_rows: test_rows.len() })
}

/// Row indices of the train and the test part: a seeded permutation of `0..rows`, whose first
/// `round(rows × fraction)` go to test. Each part keeps the shuffled order.
pub fn partition(rows: usize, fraction: f64, seed: i64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..rows).collect();
    Rng::new(seed).shuffle(&mut order);
    let n_test = ((rows as f64) * fraction.clamp(0.0, 1.0)).round() as usize;
    let train = order.split_off(n_test.min(rows));
    (train, order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_disjoint_cover_every_row_and_follow_the_seed() {
        let (train, test) = partition(10, 0.3, 5);
        assert_eq!((train.len(), test.len()), (7, 3));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(partition(10, 0.3, 5), (train.clone(), test.clone()));
        assert_ne!(partition(10, 0.3, 6).1, test);
    }

    #[test]
    fn fractions_round_to_the_nearest_row_and_the_ends_are_allowed() {
        assert_eq!(partition(150, 0.2, 0).1.len(), 30);
        assert_eq!(partition(7, 0.5, 0).1.len(), 4);
        assert_eq!(partition(4, 0.0, 0).1.len(), 0);
        assert_eq!(partition(4, 1.0, 0).0.len(), 0);
        assert_eq!(partition(0, 0.5, 0), (vec![], vec![]));
    }

    #[test]
    fn writes_both_tables_with_the_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data.csv");
        let rows: String = (0..20).map(|i| format!("{i},\"v,{i}\"\n")).collect();
        std::fs::write(&data, format!("id,value\n{rows}")).expect("write");
        let (train, test) = (dir.path().join("out/train.csv"), dir.path().join("out/test.csv"));
        let summary = split(&data, &train, &test, 0.25, 1).expect("splits");
        assert_eq!(summary, SplitSummary { rows: 20, train_rows: 15, test_rows: 5 });
        let test_table = Table::read(&test).expect("test table");
        let train_table = Table::read(&train).expect("train table");
        assert_eq!(test_table.header, ["id", "value"]);
        assert_eq!(test_table.rows.len() + train_table.rows.len(), 20);
        assert!(test_table.rows.iter().all(|r| r[1] == format!("v,{}", r[0])));
    }

    #[test]
    fn a_fraction_out_of_range_is_refused_before_reading() {
        let err = split(Path::new("missing.csv"), Path::new("a"), Path::new("b"), 1.5, 0).expect_err("refused");
        assert_eq!(err.0, "--fraction must be between 0 and 1, got 1.5");
        let err = split(Path::new("missing.csv"), Path::new("a"), Path::new("b"), 0.2, 0).expect_err("missing");
        assert!(err.0.starts_with("cannot read missing.csv"), "{err}");
    }
}
