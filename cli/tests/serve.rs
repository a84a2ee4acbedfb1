//! `kfl run` through registration and serving: real predictor processes behind the router, real HTTP, the
//! monitor's retrain rule, and the iris example end to end.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn kfl(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kfl"));
    command.current_dir(dir).env("NO_COLOR", "1");
    command
}

fn records(dir: &Path) -> Vec<Value> {
    let mut runs: Vec<_> = std::fs::read_dir(dir.join(".kfl/runs")).map_or_else(
        |_| Vec::new(),
        |entries| entries.flatten().map(|e| e.path()).filter(|p| p.join("run.json").exists()).collect(),
    );
    runs.sort();
    runs.iter().filter_map(|p| serde_json::from_str(&std::fs::read_to_string(p.join("run.json")).ok()?).ok()).collect()
}

fn stage<'a>(record: &'a Value, name: &str) -> &'a Value {
    let stages = record["stages"].as_array().expect("stages");
    &stages.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no stage {name}"))["instances"][0]
}

/// One HTTP/1.1 POST over a plain socket (no client library in the test's way): status and body.
fn post(address: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else { return (0, String::new()) };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    (status, if chunked { dechunk(body) } else { body.to_string() })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

#[test]
fn a_served_model_answers_and_a_failing_one_triggers_a_retrain_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(here.join("tests/run/serving.kfl"), dir.path().join("main.kfl")).expect("fixture");
    std::fs::copy(here.join("../runtime/tests/fixtures/predictor.py"), dir.path().join("predictor.py"))
        .expect("predictor");
    let child = kfl(dir.path())
        .args(["run", "main.kfl", "--serve-for", "25s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kfl run");
    let state = dir.path().join(".kfl/serving/api.json");
    let start = Instant::now();
    while !state.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "the serve stage did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let server: Value = serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("json");
    let address = server["address"].as_str().expect("address").to_string();
    let good = r#"{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1.5, 2]}]}"#;
    let mut answer = (0, String::new());
    while answer.0 != 200 && start.elapsed() < Duration::from_secs(60) {
        answer = post(&address, "/v2/models/api/infer", good);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(answer.0, 200, "{}", answer.1);
    let body: Value = serde_json::from_str(&answer.1).expect("V2 response");
    let data: Vec<f64> =
        body["outputs"][0]["data"].as_array().expect("data").iter().filter_map(Value::as_f64).collect();
    assert_eq!(data, [3.0, 4.0], "{body}");
    let failing =
        r#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"fail": true}}"#;
    // The rule fires within a second and the rollout restarts the router: later requests may find it between
    // two servers (refused, or 503 while version 2's replica starts).
    let codes: Vec<u16> = (0..20).map(|_| post(&address, "/v2/models/api/infer", failing).0).collect();
    assert_eq!(codes[0], 500);
    assert!(codes.iter().all(|c| matches!(c, 500 | 503 | 0)), "{codes:?}");
    // The retrain run registers version 2; the router comes back on the same port with it as a canary.
    let start = Instant::now();
    loop {
        let server: Option<Value> = std::fs::read_to_string(&state).ok().and_then(|t| serde_json::from_str(&t).ok());
        if server.as_ref().is_some_and(|s| s["canary_version"] == "2") {
            assert_eq!(server.expect("state")["address"], address.as_str(), "the rollout moved the router");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "version 2 was not rolled out as a canary");
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("kfl run");
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{log}");
    assert!(log.contains("retrain: rule `watch.failing` fired"), "{log}");
    assert!(log.contains("rolled out: `api` now serves version 1 (90%) and canary 2 (10%)"), "{log}");
    // The retrain is a second run of the same file, without serving; wait for it to finish.
    let start = Instant::now();
    loop {
        let runs = records(dir.path());
        if runs.len() >= 2 && runs[1]["state"] != "running" {
            assert_eq!(runs[1]["state"], "succeeded", "{}", runs[1]);
            assert_eq!(stage(&runs[1], "api")["state"], "skipped");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no retrain run finished");
        std::thread::sleep(Duration::from_millis(200));
    }
    let first = &records(dir.path())[0];
    assert_eq!(stage(first, "scaler")["outputs"]["version"]["value"], "1");
    assert!(stage(first, "api")["metrics"]["retrains"].as_f64().expect("retrains") >= 1.0);
    assert_eq!(stage(first, "watch")["state"], "succeeded");
    assert!(!state.exists(), "the state file outlived the server");
}

#[test]
fn the_iris_example_runs_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let iris = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/iris");
    for path in [
        "iris.kfl",
        "data/iris.csv",
        "steps/mlp.py",
        "steps/prepare.py",
        "steps/train.py",
        "steps/evaluate.py",
        "steps/predict.py",
    ] {
        let target = dir.path().join(path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(iris.join(path), &target).expect("copy");
    }
    let child = kfl(dir.path())
        .args(["run", "iris.kfl", "--serve-for", "3s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kfl run");
    // While it serves: the iris predictor behind the router answers V2 and V1 with the right species.
    let state = dir.path().join(".kfl/serving/iris.json");
    let start = Instant::now();
    while !state.exists() {
        assert!(start.elapsed() < Duration::from_secs(240), "the iris serve stage did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let server: Value = serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("json");
    let address = server["address"].as_str().expect("address").to_string();
    let rows = "[5.1, 3.5, 1.4, 0.2, 7.7, 3.0, 6.1, 2.3]";
    let v2 = format!(r#"{{"inputs": [{{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": {rows}}}]}}"#);
    let mut answer = (0, String::new());
    while answer.0 != 200 && start.elapsed() < Duration::from_secs(240) {
        answer = post(&address, "/v2/models/iris/infer", &v2);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(answer.0, 200, "{}", answer.1);
    let body: Value = serde_json::from_str(&answer.1).expect("V2 response");
    assert_eq!(body["outputs"][0]["data"], serde_json::json!(["setosa", "virginica"]), "{body}");
    let (status, v1) = post(&address, "/v1/models/iris:predict", r#"{"instances": [[6.0, 2.9, 4.5, 1.5]]}"#);
    assert_eq!(status, 200, "{v1}");
    assert_eq!(
        serde_json::from_str::<Value>(&v1).expect("V1 response")["predictions"],
        serde_json::json!(["versicolor"])
    );
    let output = child.wait_with_output().expect("kfl run");
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{log}");
    let run = records(dir.path()).pop().expect("a run");
    for name in ["prepare", "search", "evaluate", "iris_classifier", "iris", "iris_watch"] {
        assert_eq!(stage(&run, name)["state"], "succeeded", "{name}: {}", stage(&run, name));
    }
    assert!(stage(&run, "evaluate")["outputs"]["accuracy"]["value"].as_f64().expect("accuracy") > 0.9);
    assert!(log.contains("smoke test: GET /v2/models/iris → 200"), "{log}");
    let models = kfl(dir.path()).args(["models", "list"]).output().expect("kfl models");
    assert!(String::from_utf8_lossy(&models.stdout).contains("iris_classifier"));
}
