//! `kfl run` through registration and serving: real predictor processes behind the router, real HTTP, the
//! monitor's retrain rule, and the iris example end to end.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Good requests sent back to back on a thread, each on a new connection (a refused connect counts as a
/// failure), from the moment `start_file` exists until `finish`.
struct Load {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl Load {
    fn start(address: &str, start_file: &Path) -> Load {
        let start = Instant::now();
        while !start_file.exists() {
            assert!(start.elapsed() < Duration::from_secs(30), "{} never appeared", start_file.display());
            std::thread::sleep(Duration::from_millis(50));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (address, stopping) = (address.to_string(), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let good = r#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}"#;
            let (mut answered, mut failures) = (0, Vec::new());
            while !stopping.load(Ordering::Relaxed) {
                match post(&address, "/v2/models/api/infer", good) {
                    (200, _) => answered += 1,
                    (status, body) => failures.push(format!("{status}: {body}")),
                }
            }
            (answered, failures)
        });
        Load { stop, thread }
    }

    fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("load thread")
    }
}

/// Waits until the state file names `version` as the canary, on the same address.
fn wait_for_canary(state: &Path, version: &str, address: &str) {
    let start = Instant::now();
    loop {
        let server: Option<Value> = std::fs::read_to_string(state).ok().and_then(|t| serde_json::from_str(&t).ok());
        if server.as_ref().is_some_and(|s| s["canary_version"] == version) {
            assert_eq!(server.expect("state")["address"], address, "the rollout moved the router");
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "version {version} was not rolled out as a canary");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_served_model_answers_and_a_failing_one_is_retrained_and_rolled_out_without_a_failed_request() {
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
    let state = dir.path().join(format!(".kfl/serving/api.{}.json", child.id()));
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
    // The rule fires within a second and starts the retrain run; the router keeps answering throughout.
    let codes: Vec<u16> = (0..20).map(|_| post(&address, "/v2/models/api/infer", failing).0).collect();
    assert!(codes.iter().all(|c| *c == 500), "{codes:?}");
    // The retrain run registers version 2, rolled out in place as a canary while requests keep coming.
    let load = Load::start(&address, &dir.path().join(".kfl/serving/api-retrain.log"));
    wait_for_canary(&state, "2", &address);
    std::thread::sleep(Duration::from_millis(500));
    let (answered, failures) = load.finish();
    assert!(failures.is_empty(), "{} of {answered} requests failed during the rollout: {failures:?}", failures.len());
    assert!(answered > 20, "only {answered} requests were sent during the rollout");
    let output = child.wait_with_output().expect("kfl run");
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{log}");
    assert!(log.contains("retrain: rule `watch.failing` fired"), "{log}");
    assert!(log.contains("rolled out in place: `api` now serves version 1 (90%) and canary 2 (10%)"), "{log}");
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

/// GET over a plain socket; the body as JSON (`Null` when the request failed).
fn get_json(address: &str, token: &str, path: &str) -> Value {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else { return Value::Null };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return Value::Null;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.into() };
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

fn replica_pids(address: &str, token: &str, version: &str) -> Vec<u32> {
    let status = get_json(address, token, "/kfl/v1/status");
    let versions = status["versions"].as_array().cloned().unwrap_or_default();
    let found = versions.iter().find(|v| v["version"] == version).cloned().unwrap_or(Value::Null);
    let replicas = found["replicas"].as_array().cloned().unwrap_or_default();
    replicas.iter().filter_map(|r| r["pid"].as_u64()).map(|pid| pid as u32).collect()
}

/// True once every one of `pids` has ended (gone, or a zombie whose new parent has not reaped it yet).
fn wait_gone(pids: &[u32]) -> bool {
    let alive = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
    };
    let start = Instant::now();
    while pids.iter().any(alive) {
        if start.elapsed() > Duration::from_secs(15) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

fn serve_command(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = kfl(dir).arg("serve").args(args).output().expect("kfl serve");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).to_string();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

/// Sends failing requests until the monitor's rule starts a retrain run (the log of which then grows).
fn trigger_retrain(address: &str, token: &str, retrain_log: &Path) {
    let failing =
        r#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"fail": true}}"#;
    // A rule fires once per episode: the error rate must first fall back under the threshold, and be seen
    // there by the monitor (it evaluates every second).
    let good = r#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}"#;
    let start = Instant::now();
    while get_json(address, token, "/kfl/v1/status")["window"]["error_rate"].as_f64().is_none_or(|rate| rate >= 0.05) {
        assert!(start.elapsed() < Duration::from_secs(60), "the error rate stays high");
        for _ in 0..20 {
            assert_eq!(post(address, "/v2/models/api/infer", good).0, 200);
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    let before = std::fs::metadata(retrain_log).map_or(0, |m| m.len());
    let start = Instant::now();
    while std::fs::metadata(retrain_log).map_or(0, |m| m.len()) == before {
        assert!(start.elapsed() < Duration::from_secs(60), "the retrain rule did not fire");
        for _ in 0..10 {
            assert_eq!(post(address, "/v2/models/api/infer", failing).0, 500);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A project of `tests/run/serving.kfl` and its predictor whose model `kfl run --no-serve` has registered.
fn registered_serving_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(here.join("tests/run/serving.kfl"), dir.path().join("main.kfl")).expect("fixture");
    std::fs::copy(here.join("../runtime/tests/fixtures/predictor.py"), dir.path().join("predictor.py"))
        .expect("predictor");
    let registered = kfl(dir.path()).args(["run", "main.kfl", "--no-serve"]).output().expect("kfl run");
    assert!(registered.status.success(), "{}", String::from_utf8_lossy(&registered.stderr));
    dir
}

#[test]
fn kfl_serve_rolls_retrained_versions_out_in_place_and_promote_and_rollback_stop_the_version_that_leaves() {
    let dir = registered_serving_project();
    let child = kfl(dir.path())
        .args(["serve", "main.kfl", "--port", "0", "--serve-for", "300s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kfl serve");
    let state = dir.path().join(format!(".kfl/serving/api.{}.json", child.id()));
    let start = Instant::now();
    while !state.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "kfl serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let server: Value = serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("json");
    let address = server["address"].as_str().expect("address").to_string();
    let token = server["token"].as_str().expect("token").to_string();
    let good = r#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}"#;
    while post(&address, "/v2/models/api/infer", good).0 != 200 {
        assert!(start.elapsed() < Duration::from_secs(60), "version 1 never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let retrain_log = dir.path().join(".kfl/serving/api-retrain.log");

    // `kfl serve` honours `then = retrain` like `kfl run`: version 2 comes in place as a 10% canary.
    trigger_retrain(&address, &token, &retrain_log);
    let load = Load::start(&address, &retrain_log);
    wait_for_canary(&state, "2", &address);
    std::thread::sleep(Duration::from_millis(500));
    let (answered, failures) = load.finish();
    assert!(failures.is_empty(), "{} of {answered} requests failed during the rollout: {failures:?}", failures.len());
    let (ok, status, _) = serve_command(dir.path(), &["status", "api", "--project", "."]);
    assert!(ok && status.starts_with("api v1 90% 1/1 ready · canary v2 10% 1/1 ready"), "{status}");

    // Promote: version 2 takes all traffic, version 1's replica is drained and stopped; registry states stay.
    let old = replica_pids(&address, &token, "1");
    assert_eq!(old.len(), 1);
    let (ok, promoted, error) = serve_command(dir.path(), &["promote", "api", "--project", "."]);
    assert!(ok, "{error}");
    assert_eq!(promoted.trim(), "promoted: `api` now serves version 2 (100%); version 1 drained and stopped");
    assert!(wait_gone(&old), "version 1's replica {old:?} still runs after promote");
    let (_, status, _) = serve_command(dir.path(), &["status", "api", "--project", "."]);
    assert!(status.starts_with("api v2 100% 1/1 ready ·") && !status.contains("canary"), "{status}");
    let server: Value = serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("json");
    assert_eq!((&server["stable_version"], &server["canary_version"]), (&Value::from("2"), &Value::Null));
    let (ok, _, error) = serve_command(dir.path(), &["promote", "api", "--project", "."]);
    assert!(!ok && error.contains("no canary"), "{error}");
    let models = kfl(dir.path()).args(["models", "show", "scaler", "1"]).output().expect("kfl models");
    assert!(String::from_utf8_lossy(&models.stdout).contains("LIVE"), "promote does not archive version 1");

    // A second retrain: version 3 beside version 2; rollback stops it and version 2 serves alone.
    trigger_retrain(&address, &token, &retrain_log);
    wait_for_canary(&state, "3", &address);
    let canary = replica_pids(&address, &token, "3");
    let (ok, rolled_back, error) = serve_command(dir.path(), &["rollback", "api", "--project", "."]);
    assert!(ok, "{error}");
    assert_eq!(rolled_back.trim(), "rolled back: `api` now serves version 2 (100%); version 3 drained and stopped");
    assert!(wait_gone(&canary), "version 3's replica still runs after rollback");
    let (_, status, _) = serve_command(dir.path(), &["status", "api", "--project", "."]);
    assert!(status.starts_with("api v2 100% 1/1 ready ·") && !status.contains("canary"), "{status}");
    for _ in 0..20 {
        let (code, body) = post(&address, "/v2/models/api/infer", good);
        assert_eq!(code, 200, "{body}");
    }

    let served = replica_pids(&address, &token, "2");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT)
        .expect("Ctrl-C");
    let output = child.wait_with_output().expect("kfl serve");
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{log}");
    assert!(log.contains("rolled out in place: `api` now serves version 1 (90%) and canary 2 (10%)"), "{log}");
    assert!(log.contains("rolled out in place: `api` now serves version 2 (90%) and canary 3 (10%)"), "{log}");
    assert!(log.contains("promoted: `api` now serves version 2 (100%)"), "{log}");
    assert!(wait_gone(&served), "replicas outlived kfl serve");
    assert!(!state.exists(), "the state file outlived the server");
}

#[test]
fn replicas_end_with_a_kfl_serve_that_is_killed_outright() {
    let dir = registered_serving_project();
    let mut child = kfl(dir.path())
        .args(["serve", "main.kfl", "--port", "0", "--serve-for", "300s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kfl serve");
    let state = dir.path().join(format!(".kfl/serving/api.{}.json", child.id()));
    let start = Instant::now();
    let replicas = loop {
        assert!(start.elapsed() < Duration::from_secs(60), "kfl serve did not start a replica");
        if let Some((address, token)) = std::fs::read_to_string(&state)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|server| Some((server["address"].as_str()?.to_string(), server["token"].as_str()?.to_string())))
        {
            let pids = replica_pids(&address, &token, "1");
            if !pids.is_empty() {
                break pids;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    assert!(wait_gone(&replicas), "replicas {replicas:?} outlived a kill -9 of kfl serve");
}

#[test]
fn kfl_serve_follows_the_monitor_schedule_and_rolls_the_new_version_out_with_the_file_canary_share() {
    let dir = tempfile::tempdir().expect("tempdir");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(here.join("tests/run/serving_schedule.kfl"), dir.path().join("main.kfl")).expect("fixture");
    std::fs::copy(here.join("../runtime/tests/fixtures/predictor.py"), dir.path().join("predictor.py"))
        .expect("predictor");
    let registered = kfl(dir.path()).args(["run", "main.kfl", "--no-serve"]).output().expect("kfl run");
    assert!(registered.status.success(), "{}", String::from_utf8_lossy(&registered.stderr));
    let child = kfl(dir.path())
        .args(["serve", "main.kfl", "--port", "0", "--serve-for", "300s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kfl serve");
    let state = dir.path().join(format!(".kfl/serving/api.{}.json", child.id()));
    let start = Instant::now();
    while !state.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "kfl serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let server: Value = serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("json");
    let address = server["address"].as_str().expect("address").to_string();
    assert_eq!(server["canary_version"], Value::Null, "one LIVE version: no canary yet");
    // `* * * * *` starts a retrain run at the next minute (UTC); its version 2 comes in as the file's 25% canary.
    let start = Instant::now();
    loop {
        let server: Option<Value> = std::fs::read_to_string(&state).ok().and_then(|t| serde_json::from_str(&t).ok());
        if server.as_ref().is_some_and(|s| s["canary_version"] == "2") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(100), "the schedule rolled out no version within 100 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, status, error) = serve_command(dir.path(), &["status", "api", "--project", "."]);
    assert!(ok, "{error}");
    assert!(status.starts_with("api v1 75% 1/1 ready · canary v2 25% 1/1 ready"), "{status}");
    let good = r#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}"#;
    assert_eq!(post(&address, "/v2/models/api/infer", good).0, 200);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT)
        .expect("Ctrl-C");
    let output = child.wait_with_output().expect("kfl serve");
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{log}");
    assert!(log.contains("monitor `watch`: the retraining schedule `* * * * *` (UTC) starts retrain runs"), "{log}");
    assert!(log.contains("the monitor's schedule `* * * * *` started a retrain run"), "{log}");
    assert!(log.contains("rolled out in place: `api` now serves version 1 (75%) and canary 2 (25%)"), "{log}");
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
    let state = dir.path().join(format!(".kfl/serving/iris.{}.json", child.id()));
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

#[test]
fn serve_commands_refuse_names_that_are_not_declaration_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".kfl/serving")).expect("mkdir");
    // A file outside the state folder that a path-like name would have reached.
    std::fs::write(dir.path().join("x.json"), r#"{"address": "127.0.0.1:1"}"#).expect("write");
    for name in ["../../x", "../x", "a/b", "Api", "9lives", ""] {
        for action in ["status", "promote", "rollback"] {
            let (ok, _, error) = serve_command(dir.path(), &[action, name, "--project", "."]);
            assert!(!ok, "kfl serve {action} {name:?} succeeded");
            assert!(error.contains("not a") && error.contains("name"), "{action} {name:?}: {error}");
        }
    }
    let (ok, _, error) = serve_command(dir.path(), &["status", "api", "--project", "."]);
    assert!(!ok);
    assert!(error.contains("no running server api"), "{error}");
}

/// Waits for the state file of the server process `pid`; its address and admin token.
fn server_of(dir: &Path, pid: u32) -> (String, String) {
    let state = dir.join(format!(".kfl/serving/api.{pid}.json"));
    let start = Instant::now();
    loop {
        if let Some(server) =
            std::fs::read_to_string(&state).ok().and_then(|text| serde_json::from_str::<Value>(&text).ok())
        {
            let field = |name: &str| server[name].as_str().expect("state field").to_string();
            return (field("address"), field("token"));
        }
        assert!(start.elapsed() < Duration::from_secs(60), "server {pid} wrote no state file");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_servers_of_one_project_each_keep_their_own_state_file() {
    let dir = registered_serving_project();
    let spawn = |limit: &str| {
        kfl(dir.path())
            .args(["serve", "main.kfl", "--port", "0", "--serve-for", limit])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("kfl serve")
    };
    let mut short = spawn("3s");
    let mut long = spawn("60s");
    let (_, _) = server_of(dir.path(), short.id());
    let (address, token) = server_of(dir.path(), long.id());
    let (ok, status, error) = serve_command(dir.path(), &["status", "api", "--project", "."]);
    assert!(ok, "{error}");
    assert_eq!(status.lines().count(), 2, "both servers report: {status}");
    let (ok, _, error) = serve_command(dir.path(), &["promote", "api", "--project", "."]);
    assert!(!ok && error.contains("--pid"), "several servers: promote must ask which: {error}");

    assert!(short.wait().expect("first server").success());
    // The first server's exit removed its own file only: the second is still found and answers.
    let (ok, status, error) = serve_command(dir.path(), &["status", "api", "--project", "."]);
    assert!(ok, "the second server was hidden by the first one's exit: {error}");
    assert!(status.starts_with("api v1 100%"), "{status}");
    let pid = long.id().to_string();
    let (ok, status, error) = serve_command(dir.path(), &["status", "api", "--project", ".", "--pid", &pid]);
    assert!(ok && status.starts_with("api v1"), "{status}{error}");
    assert!(get_json(&address, &token, "/kfl/v1/status")["versions"].is_array());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(long.id() as i32), nix::sys::signal::Signal::SIGINT)
        .expect("Ctrl-C");
    assert!(long.wait().expect("second server").success());
    let left: Vec<_> = std::fs::read_dir(dir.path().join(".kfl/serving"))
        .expect("state folder")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().to_string())
        .filter(|name| name.ends_with(".json"))
        .collect();
    assert!(left.is_empty(), "state files outlived their servers: {left:?}");
}
