//! `kfl builtin …` end to end, invoked with the exact `run` lines of the `std.data` and `std.eval` components.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh folder under the target directory (removed first).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// The `run` list of `component NAME` in `stdlib/MODULE.kfl`: quoted items are literal, bare names are the
/// component's inputs and outputs, replaced from `bindings` the way the runtime substitutes them.
fn stdlib_command(module: &str, component: &str, bindings: &BTreeMap<&str, String>) -> Command {
    let path = workspace().join("stdlib").join(format!("{module}.kfl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = text.find(&format!("component {component}(")).unwrap_or_else(|| panic!("no component {component}"));
    // `kfl fmt` wraps a long `run` list over several lines: read from its `[` to its `]`.
    let component = &text[start..];
    let run_at = component
        .lines()
        .find(|l| l.trim_start().starts_with("run"))
        .map(|l| l.as_ptr() as usize - component.as_ptr() as usize)
        .expect("a run line");
    let open = run_at + component[run_at..].find('[').expect("[");
    let close = open + component[open..].find(']').expect("]");
    let run_line = &component[run_at..=close];
    let list = &component[open + 1..close];
    let items: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match item.strip_prefix('"').and_then(|i| i.strip_suffix('"')) {
            Some(literal) => literal.to_string(),
            None => bindings.get(item).unwrap_or_else(|| panic!("no binding for `{item}` in {run_line}")).clone(),
        })
        .collect();
    assert_eq!(items[..2], ["kfl", "builtin"], "{run_line}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_kfl"));
    command.args(&items[1..]);
    command
}

fn bind(pairs: &[(&'static str, &Path)], scalars: &[(&'static str, &str)]) -> BTreeMap<&'static str, String> {
    let mut map: BTreeMap<&str, String> = pairs.iter().map(|(k, v)| (*k, v.display().to_string())).collect();
    map.extend(scalars.iter().map(|(k, v)| (*k, v.to_string())));
    map
}

fn succeed(mut command: Command) -> String {
    let out: Output = command.output().expect("kfl runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const TABLE: &str =
    "id,size,kind\n1,2.5,a\n2,3.5,b\n3,,a\n4,1.0,\"c, d\"\n5,2.0,b\n6,4.0,a\n7,0.5,b\n8,1.5,a\n9,2.5,b\n10,3.0,a\n";

#[test]
fn split_cuts_the_table_as_std_data_split_calls_it() {
    let dir = scratch("builtin-split");
    let data = dir.join("data.csv");
    std::fs::write(&data, TABLE).expect("write");
    let (train, test) = (dir.join("run/split/train"), dir.join("run/split/test"));
    let bindings = bind(&[("data", &data), ("train", &train), ("test", &test)], &[("fraction", "0.3"), ("seed", "7")]);
    let stdout = succeed(stdlib_command("data", "split", &bindings));
    assert_eq!(stdout, "rows=10\ntrain_rows=7\ntest_rows=3\n");
    let (train_text, test_text) = (read(&train), read(&test));
    assert!(train_text.starts_with("id,size,kind\n") && test_text.starts_with("id,size,kind\n"));
    let mut rows: Vec<&str> = train_text.lines().skip(1).chain(test_text.lines().skip(1)).collect();
    rows.sort_unstable();
    let mut expected: Vec<&str> = TABLE.lines().skip(1).collect();
    expected.sort_unstable();
    assert_eq!(rows, expected, "every row once, quoting kept");
    // The same seed gives the same split; another seed another one.
    succeed(stdlib_command("data", "split", &bindings));
    assert_eq!(read(&test), test_text);
    let other = bind(&[("data", &data), ("train", &train), ("test", &test)], &[("fraction", "0.3"), ("seed", "8")]);
    succeed(stdlib_command("data", "split", &other));
    assert_ne!(read(&test), test_text);
}

#[test]
fn sample_draws_rows_as_std_data_sample_calls_it() {
    let dir = scratch("builtin-sample");
    let data = dir.join("data.csv");
    std::fs::write(&data, TABLE).expect("write");
    let sample = dir.join("sample.csv");
    let stdout = succeed(stdlib_command(
        "data",
        "sample",
        &bind(&[("data", &data), ("sample", &sample)], &[("rows", "4"), ("seed", "1")]),
    ));
    assert_eq!(stdout, "rows=10\nsampled_rows=4\n");
    let text = read(&sample);
    assert_eq!(text.lines().count(), 5);
    assert!(text.lines().skip(1).all(|row| TABLE.contains(&format!("\n{row}\n"))), "{text}");
}

#[test]
fn describe_profiles_the_table_as_std_data_describe_calls_it() {
    let dir = scratch("builtin-describe");
    let data = dir.join("data.csv");
    std::fs::write(&data, TABLE).expect("write");
    let (profile, rows) = (dir.join("profile.json"), dir.join("rows"));
    succeed(stdlib_command("data", "describe", &bind(&[("data", &data), ("profile", &profile), ("rows", &rows)], &[])));
    assert_eq!(read(&rows), "10\n");
    let json: serde_json::Value = serde_json::from_str(&read(&profile)).expect("json");
    assert_eq!(json["columns"][0]["type"], "integer");
    assert_eq!(json["columns"][1]["type"], "float");
    assert_eq!(json["columns"][1]["missing"], 1);
    assert_eq!(json["columns"][1]["max"], 4.0);
    assert_eq!(json["columns"][2]["distinct"], 3);
}

#[test]
fn metrics_score_predictions_as_std_eval_calls_them() {
    let dir = scratch("builtin-metrics");
    let data = dir.join("predictions.csv");
    std::fs::write(&data, "truth,guess\ncat,cat\ncat,dog\ndog,dog\ndog,dog\n").expect("write");
    let (report, accuracy, f1) = (dir.join("report.json"), dir.join("accuracy"), dir.join("f1"));
    let bindings = bind(
        &[("predictions", &data), ("report", &report), ("accuracy", &accuracy), ("f1", &f1)],
        &[("label", "truth"), ("prediction", "guess")],
    );
    let stdout = succeed(stdlib_command("eval", "classification", &bindings));
    assert!(stdout.starts_with("rows=4\naccuracy=0.75\n"), "{stdout}");
    assert_eq!(read(&accuracy), "0.75\n");
    // cat: precision 1, recall 1/2 → F1 2/3; dog: precision 2/3, recall 1 → F1 4/5.
    let f1_value: f64 = read(&f1).trim().parse().expect("a float");
    assert!((f1_value - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);

    std::fs::write(&data, "truth,guess\n1,1.5\n2,2\n3,2.5\n").expect("write");
    let (rmse, mae, r2) = (dir.join("rmse"), dir.join("mae"), dir.join("r2"));
    let bindings = bind(
        &[("predictions", &data), ("report", &report), ("rmse", &rmse), ("mae", &mae), ("r2", &r2)],
        &[("label", "truth"), ("prediction", "guess")],
    );
    succeed(stdlib_command("eval", "regression", &bindings));
    let value = |p: &Path| read(p).trim().parse::<f64>().expect("a float");
    assert!((value(&mae) - 1.0 / 3.0).abs() < 1e-12);
    assert!((value(&rmse) - (0.5f64 / 3.0).sqrt()).abs() < 1e-12);
    assert!((value(&r2) - 0.75).abs() < 1e-12);
    let json: serde_json::Value = serde_json::from_str(&read(&report)).expect("json");
    assert_eq!(json["rows"], 3);
}

#[test]
fn bad_input_fails_with_status_1_and_says_what_failed() {
    let dir = scratch("builtin-errors");
    let data = dir.join("data.csv");
    std::fs::write(&data, TABLE).expect("write");
    let kfl = || Command::new(env!("CARGO_BIN_EXE_kfl"));
    let missing = kfl()
        .args(["builtin", "describe"])
        .arg(dir.join("missing.csv"))
        .arg("--out")
        .arg(dir.join("p"))
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("error: kfl builtin describe: cannot read"));
    let column = kfl()
        .args(["builtin", "metrics", "classification"])
        .arg(&data)
        .args(["--label", "nope", "--report"])
        .arg(dir.join("r"))
        .output()
        .expect("runs");
    assert_eq!(column.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&column.stderr).contains("no column `nope`; the columns are `id`, `size`, `kind`"));
    assert!(!dir.join("r").exists(), "no report after a failure");
    let fraction = kfl()
        .args(["builtin", "split"])
        .arg(&data)
        .args(["--train", "a", "--test", "b", "--fraction", "2"])
        .output()
        .expect("runs");
    assert_eq!(fraction.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&fraction.stderr).contains("--fraction must be between 0 and 1, got 2"));
}
