//! `kfl builtin metrics regression`: root mean squared error, mean absolute error and R².
//!
//! R² is `1 − SS_res / SS_tot`; when every label is the same (`SS_tot = 0`) it is 1 for perfect predictions
//! and 0 otherwise, as scikit-learn's `r2_score` with `force_finite=True`.

use std::path::Path;

use serde::Serialize;

use super::super::BuiltinError;
use super::super::csv_table::Table;
use super::super::output;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionReport {
    pub rows: usize,
    pub rmse: f64,
    pub mae: f64,
    pub r2: f64,
}

/// Where `metrics regression` writes: the JSON report, and optionally each metric as a scalar.
#[derive(Debug, Clone, Copy)]
pub struct RegressionOutputs<'a> {
    pub report: &'a Path,
    pub rmse: Option<&'a Path>,
    pub mae: Option<&'a Path>,
    pub r2: Option<&'a Path>,
}

pub fn run(
    predictions: &Path,
    label: &str,
    prediction: &str,
    outputs: RegressionOutputs<'_>,
) -> Result<RegressionReport, BuiltinError> {
    let table = Table::read(predictions)?;
    let pairs = super::pairs(&table, label, prediction)?;
    let mut values = Vec::with_capacity(pairs.len());
    for ((l, p), line) in pairs.into_iter().zip(&table.lines) {
        let number = |cell: &str, column: &str| {
            cell.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                BuiltinError::new(format!(
                    "{}:{line}: `{column}` is `{cell}`, not a finite number",
                    table.source.display()
                ))
            })
        };
        values.push((number(l, label)?, number(p, prediction)?));
    }
    let report = report(&values);
    output::write_json(outputs.report, &report)?;
    for (path, value) in [(outputs.rmse, report.rmse), (outputs.mae, report.mae), (outputs.r2, report.r2)] {
        if let Some(path) = path {
            output::write_scalar(path, value)?;
        }
    }
    Ok(report)
}

/// The metrics of (label, prediction) pairs; `pairs` is not empty.
pub fn report(pairs: &[(f64, f64)]) -> RegressionReport {
    let n = pairs.len() as f64;
    let ss_res: f64 = pairs.iter().map(|(l, p)| (l - p) * (l - p)).sum();
    let mae = pairs.iter().map(|(l, p)| (l - p).abs()).sum::<f64>() / n;
    let mean = pairs.iter().map(|(l, _)| l).sum::<f64>() / n;
    let ss_tot: f64 = pairs.iter().map(|(l, _)| (l - mean) * (l - mean)).sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    };
    RegressionReport { rows: pairs.len(), rmse: (ss_res / n).sqrt(), mae, r2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scikit_learn() {
        // sklearn: y_true = [3, -0.5, 2, 7], y_pred = [2.5, 0.0, 2, 8] → MSE 0.375, MAE 0.5, R² 0.9486081370449679
        let r = report(&[(3.0, 2.5), (-0.5, 0.0), (2.0, 2.0), (7.0, 8.0)]);
        assert!((r.rmse - 0.375f64.sqrt()).abs() < 1e-12);
        assert!((r.mae - 0.5).abs() < 1e-12);
        assert!((r.r2 - 0.9486081370449679).abs() < 1e-12);
    }

    #[test]
    fn constant_labels_give_r2_of_one_or_zero() {
        assert_eq!(report(&[(2.0, 2.0), (2.0, 2.0)]).r2, 1.0);
        assert_eq!(report(&[(2.0, 2.0), (2.0, 3.0)]).r2, 0.0);
    }

    #[test]
    fn writes_scalars_and_names_a_cell_that_is_not_a_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("p.csv");
        std::fs::write(&data, "y,yhat\n1,1\n2,4\n").expect("write");
        let (report_path, rmse, mae, r2) =
            (dir.path().join("r.json"), dir.path().join("rmse"), dir.path().join("mae"), dir.path().join("r2"));
        let outputs = RegressionOutputs { report: &report_path, rmse: Some(&rmse), mae: Some(&mae), r2: Some(&r2) };
        run(&data, "y", "yhat", outputs).expect("runs");
        assert_eq!(std::fs::read_to_string(&mae).expect("mae"), "1\n");
        assert_eq!(std::fs::read_to_string(&rmse).expect("rmse"), format!("{}\n", 2.0f64.sqrt()));
        assert_eq!(std::fs::read_to_string(&r2).expect("r2"), "-7\n");
        std::fs::write(&data, "y,yhat\n1,1\n2,two\n").expect("write");
        let err = run(&data, "y", "yhat", outputs).expect_err("not a number");
        assert!(err.0.ends_with("p.csv:3: `yhat` is `two`, not a finite number"), "{err}");
    }
}
