//! `kfl run` of a tune end to end, then its report and `kfl tune show`: the fixture `tests/run/tune.kfl` tunes a
//! quadratic step (a float and a string choice, 8 random trials, 2 at a time) in a scratch folder.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn kfl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kfl")).current_dir(dir).args(args).env("NO_COLOR", "1").output().expect("run kfl")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Runs the fixture once with `extra` arguments, expecting exit code `code`; returns the scratch folder and the
/// tune's record instance.
fn tuned(extra: &[&str], code: i32) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run/tune.kfl");
    std::fs::copy(&source, dir.path().join("main.kfl")).expect("copy fixture");
    let mut args = vec!["run", "main.kfl"];
    args.extend_from_slice(extra);
    let output = kfl(dir.path(), &args);
    assert_eq!(output.status.code(), Some(code), "{}", text(&output));
    assert!(text(&output).contains("report: "), "kfl run names the report: {}", text(&output));
    let runs: Vec<_> = std::fs::read_dir(dir.path().join(".kfl/runs")).expect("runs").flatten().collect();
    assert_eq!(runs.len(), 1);
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(runs[0].path().join("run.json")).expect("run.json"))
            .expect("json");
    let stage = record["stages"].as_array().expect("stages").iter().find(|s| s["name"] == "search").cloned();
    let instance = stage.expect("a search stage")["instances"][0].clone();
    (dir, instance)
}

/// The completed trial with the lowest value, as (number, value).
fn minimum(trials: &[Value]) -> (u64, f64) {
    trials
        .iter()
        .filter(|t| t["outcome"] == "completed")
        .map(|t| (t["number"].as_u64().expect("number"), t["value"].as_f64().expect("value")))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a completed trial")
}

#[test]
fn a_tune_runs_writes_its_report_and_shows_its_trials() {
    let (dir, instance) = tuned(&[], 0);
    assert_eq!(instance["state"], "succeeded", "{instance:#}");
    let trials = instance["trials"].as_array().expect("trials");
    assert_eq!(trials.len(), 8);
    for trial in trials {
        assert_eq!(trial["outcome"], "completed", "{trial:#}");
        // Three reports, each 0.25 lower: the objective is the last, the minimum of the curve.
        let curve: Vec<f64> = trial["curve"].as_array().expect("curve").iter().filter_map(Value::as_f64).collect();
        assert_eq!(curve.len(), 3);
        assert_eq!(trial["value"].as_f64(), Some(curve[2]));
        let x = trial["params"]["x"].as_f64().expect("x");
        let offset = if trial["params"]["shape"] == "steep" { 0.5 } else { 0.0 };
        assert!((curve[2] - ((x - 1.0).powi(2) + offset)).abs() < 1e-9, "{trial:#}");
    }

    // The tune's result is the minimum over the recorded trials.
    let (best, value) = minimum(trials);
    let best_trial = &trials[best as usize];
    assert_eq!(instance["outputs"]["value"]["value"].as_f64(), Some(value));
    assert_eq!(instance["outputs"]["x"]["value"], best_trial["params"]["x"]);
    assert_eq!(instance["outputs"]["shape"]["value"], best_trial["params"]["shape"]);
    assert_eq!(instance["objective"]["metric"], "value");
    assert_eq!(instance["objective"]["goal"], "minimize");

    // The report: where the record says, with the charts and one point per trial.
    assert_eq!(instance["report"], "search/report.html");
    let runs = dir.path().join(".kfl/runs");
    let run_dir = std::fs::read_dir(&runs).expect("runs").flatten().next().expect("a run").path();
    let html = std::fs::read_to_string(run_dir.join("search/report.html")).expect("report.html");
    assert_eq!(html.matches("<svg").count(), 3);
    assert_eq!(html.matches("<circle class=\"trial\"").count(), 8);
    assert!(html.contains(&format!("best: trial {best},")), "the header names trial {best}");
    assert!(html.contains(">shape</text>") && html.contains(">steep</text>"), "a categorical axis for shape");

    // `kfl tune show latest`: every trial by number, the best marked, the report's path.
    let output = kfl(dir.path(), &["tune", "show", "latest"]);
    assert!(output.status.success(), "{}", text(&output));
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.starts_with("tune search (run "), "{shown}");
    assert!(shown.contains(&format!("best: trial {best} (value=")), "{shown}");
    let rows: Vec<&str> = shown.lines().filter(|l| l.contains("completed")).collect();
    assert_eq!(rows.len(), 8, "{shown}");
    let numbers: Vec<&str> =
        rows.iter().map(|r| r.trim_start_matches('*').split_whitespace().next().unwrap_or("")).collect();
    assert_eq!(numbers, ["0", "1", "2", "3", "4", "5", "6", "7"]);
    let marked: Vec<&&str> = rows.iter().filter(|r| r.starts_with('*')).collect();
    assert_eq!(marked.len(), 1);
    assert!(marked[0].trim_start_matches('*').trim_start().starts_with(&format!("{best} ")), "{shown}");
    assert!(shown.trim_end().ends_with("search/report.html"), "{shown}");

    // JSON, and a stage that is not a tune.
    let output = kfl(dir.path(), &["tune", "show", "latest", "search", "--format", "json"]);
    assert!(output.status.success(), "{}", text(&output));
    let json: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json[0]["best"].as_u64(), Some(best));
    assert_eq!(json[0]["trials"].as_array().map(Vec::len), Some(8));
    let output = kfl(dir.path(), &["tune", "show", "latest", "quad"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("`quad` is not a tune"), "{}", text(&output));
}

#[test]
fn a_tune_without_a_completed_trial_still_gets_its_report() {
    let (dir, instance) = tuned(&["-p", "broken=true"], 1);
    assert_eq!(instance["state"], "failed", "{instance:#}");
    let trials = instance["trials"].as_array().expect("trials");
    assert!(!trials.is_empty());
    assert!(trials.iter().all(|t| t["outcome"] == "failed" && t["value"].is_null()), "{trials:#?}");
    assert_eq!(instance["report"], "search/report.html");
    let runs = dir.path().join(".kfl/runs");
    let run_dir = std::fs::read_dir(&runs).expect("runs").flatten().next().expect("a run").path();
    let html = std::fs::read_to_string(run_dir.join("search/report.html")).expect("report.html");
    assert!(html.contains("no trial completed with a value"));
    assert_eq!(html.matches("<path class=\"novalue\"").count(), trials.len(), "a cross per failed trial");
    assert!(html.contains("the process exited with 1"), "the trials table carries the messages");

    let output = kfl(dir.path(), &["tune", "show", "latest", "search"]);
    assert!(output.status.success(), "{}", text(&output));
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("): failed\nbest: none"), "{shown}");
    assert_eq!(shown.lines().filter(|l| l.contains(" failed ")).count(), trials.len(), "{shown}");
}

#[test]
fn a_tuned_model_is_registered_with_its_best_and_its_final_objective() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run/tune_overfit.kfl");
    std::fs::copy(&source, dir.path().join("main.kfl")).expect("copy fixture");
    let output = kfl(dir.path(), &["run", "main.kfl"]);
    assert!(output.status.success(), "{}", text(&output));
    let output = kfl(dir.path(), &["models", "show", "fitted", "1", "--format", "json"]);
    assert!(output.status.success(), "{}", text(&output));
    let version: Value = serde_json::from_slice(&output.stdout).expect("json");
    let best = version["metrics"]["loss"].as_f64().expect("loss");
    let last = version["metrics"]["loss.final"].as_f64().expect("loss.final");
    // Each trial reports 3.0, 1.0 + x, 2.0 + x: the best is the second report, the saved model scored the third.
    assert!((last - best - 1.0).abs() < 1e-9 && (1.0..1.5).contains(&best), "{version:#}");
    let shown = String::from_utf8_lossy(&kfl(dir.path(), &["models", "show", "fitted", "1"]).stdout).into_owned();
    assert!(shown.contains("metric loss ") && shown.contains("metric loss.final "), "{shown}");
}
