//! `kfl builtin metrics classification`: accuracy, macro precision/recall/F1 and the confusion matrix.
//!
//! Labels are compared as text. The classes are every value seen as a label or a prediction, sorted; a
//! precision or recall whose denominator is zero counts as 0 (scikit-learn's `zero_division=0`), and the macro
//! averages are unweighted means over the classes, as scikit-learn's `average="macro"`.

use std::collections::BTreeSet;
use std::path::Path;

use indexmap::IndexMap;
use serde::Serialize;

use super::super::BuiltinError;
use super::super::csv_table::Table;
use super::super::output;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationReport {
    pub rows: usize,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Per class, in `classes` order.
    pub per_class: IndexMap<String, ClassScores>,
    pub classes: Vec<String>,
    /// `confusion_matrix[i][j]`: rows whose label is `classes[i]` predicted as `classes[j]`.
    pub confusion_matrix: Vec<Vec<usize>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows whose label is this class.
    pub support: usize,
}

/// Where `metrics classification` writes: the JSON report, and optionally accuracy and macro F1 as scalars.
#[derive(Debug, Clone, Copy)]
pub struct ClassificationOutputs<'a> {
    pub report: &'a Path,
    pub accuracy: Option<&'a Path>,
    pub f1: Option<&'a Path>,
}

pub fn run(
    predictions: &Path,
    label: &str,
    prediction: &str,
    outputs: ClassificationOutputs<'_>,
) -> Result<ClassificationReport, BuiltinError> {
    let table = Table::read(predictions)?;
    let report = report(&super::pairs(&table, label, prediction)?);
    output::write_json(outputs.report, &report)?;
    if let Some(path) = outputs.accuracy {
        output::write_scalar(path, report.accuracy)?;
    }
    if let Some(path) = outputs.f1 {
        output::write_scalar(path, report.f1)?;
    }
    Ok(report)
}

/// The metrics of (label, prediction) pairs; `pairs` is not empty.
pub fn report(pairs: &[(&str, &str)]) -> ClassificationReport {
    let classes: Vec<String> =
        pairs.iter().flat_map(|&(l, p)| [l, p]).collect::<BTreeSet<_>>().into_iter().map(String::from).collect();
    let index = |name: &str| classes.iter().position(|c| c == name).unwrap_or(0);
    let mut matrix = vec![vec![0usize; classes.len()]; classes.len()];
    for &(l, p) in pairs {
        matrix[index(l)][index(p)] += 1;
    }
    let ratio = |num: usize, den: usize| if den == 0 { 0.0 } else { num as f64 / den as f64 };
    let mut per_class = IndexMap::new();
    for (i, class) in classes.iter().enumerate() {
        let tp = matrix[i][i];
        let support: usize = matrix[i].iter().sum();
        let predicted: usize = matrix.iter().map(|row| row[i]).sum();
        let (precision, recall) = (ratio(tp, predicted), ratio(tp, support));
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        per_class.insert(class.clone(), ClassScores { precision, recall, f1, support });
    }
    let mean = |get: fn(&ClassScores) -> f64| per_class.values().map(get).sum::<f64>() / per_class.len() as f64;
    let correct: usize = (0..classes.len()).map(|i| matrix[i][i]).sum();
    ClassificationReport {
        rows: pairs.len(),
        accuracy: ratio(correct, pairs.len()),
        precision: mean(|s| s.precision),
        recall: mean(|s| s.recall),
        f1: mean(|s| s.f1),
        per_class,
        classes,
        confusion_matrix: matrix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scikit_learn_on_a_three_class_example() {
        // sklearn: y_true = [a a a b b c], y_pred = [a a b b c c]
        let pairs = [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b"), ("b", "c"), ("c", "c")];
        let r = report(&pairs);
        assert_eq!(r.classes, ["a", "b", "c"]);
        assert_eq!(r.confusion_matrix, [vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // precision: a 1, b 1/2, c 1/2; recall: a 2/3, b 1/2, c 1; f1: a 0.8, b 0.5, c 2/3
        assert!((r.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.recall - 13.0 / 18.0).abs() < 1e-12);
        assert!((r.f1 - (0.8 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(r.per_class["a"].support, 3);
    }

    #[test]
    fn a_class_only_ever_predicted_counts_with_zero_scores() {
        let r = report(&[("x", "x"), ("x", "y")]);
        assert_eq!(r.classes, ["x", "y"]);
        assert_eq!(r.per_class["y"], ClassScores { precision: 0.0, recall: 0.0, f1: 0.0, support: 0 });
        assert!((r.f1 - (2.0 / 3.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn writes_report_and_scalars_and_names_a_missing_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("p.csv");
        std::fs::write(&data, "label,prediction\ncat,cat\ndog,cat\ndog,dog\ndog,dog\n").expect("write");
        let (report_path, acc, f1) = (dir.path().join("r.json"), dir.path().join("acc"), dir.path().join("f1"));
        let outputs = ClassificationOutputs { report: &report_path, accuracy: Some(&acc), f1: Some(&f1) };
        let r = run(&data, "label", "prediction", outputs).expect("runs");
        assert_eq!(std::fs::read_to_string(&acc).expect("acc"), "0.75\n");
        let f1_text = std::fs::read_to_string(&f1).expect("f1");
        assert_eq!(f1_text.trim().parse::<f64>().expect("float"), r.f1);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report_path).expect("report")).expect("json");
        assert_eq!(json["confusion_matrix"], serde_json::json!([[1, 0], [1, 2]]));
        let err = run(&data, "truth", "prediction", outputs).expect_err("no such column");
        assert!(err.0.contains("no column `truth`"), "{err}");
    }

    #[test]
    fn an_empty_table_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("p.csv");
        std::fs::write(&data, "label,prediction\n").expect("write");
        let outputs = ClassificationOutputs { report: &dir.path().join("r.json"), accuracy: None, f1: None };
        assert!(run(&data, "label", "prediction", outputs).expect_err("empty").0.contains("no rows"));
    }
}
