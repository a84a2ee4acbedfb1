//! `kfl launch retrain --listen` end to end: Alertmanager webhook notifications in, KFP runs out (against the in-process fake KFP API of `launch/fake_services.rs`), cooldown, bad bodies, graceful stop.

#[path = "launch/fake_services.rs"]
mod fake_services;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fake_services::{Services, Shared};
use serde_json::{Value, json};

/// A running receiver; killed if the test fails before stopping it.
struct Receiver {
    child: Child,
    url: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_receiver(kfp_url: &str) -> Receiver {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kfl"))
        .args(["launch", "retrain", "--pipeline", "iris", "--namespace", "ml-team", "--listen", "127.0.0.1:0"])
        .args(["--cooldown", "1h", "--kfp-url", kfp_url, "--token", "t0ken"])
        .env_remove("KFL_KFP_TOKEN")
        .env("KFL_ALERT_TOKEN", ALERT_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kfl launch retrain --listen");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    let address = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}"));
    Receiver { url: format!("http://{address}"), child }
}

/// The receiver's bearer token (on a cluster, from its Secret).
const ALERT_TOKEN: &str = "alertmanager-s3cret";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// POSTs `body` to `/alerts`; the status and the JSON answer.
fn post(receiver: &Receiver, body: &str) -> (u16, Value) {
    post_as(receiver, Some(ALERT_TOKEN), body)
}

/// POSTs `body` to `/alerts` with `token` as the bearer token, or none.
fn post_as(receiver: &Receiver, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = agent().post(&format!("{}/alerts", receiver.url)).content_type("application/json");
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let mut response = request.send(body.as_bytes()).expect("POST /alerts");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|_| json!({ "text": text })))
}

/// The status line of a POST of 2 MiB. Only a little over the 1 MiB limit is sent: the receiver answers once
/// it has read past the limit and then closes, so writing the rest would break the pipe.
fn status_of_a_2_mib_post(receiver: &Receiver) -> String {
    let address = receiver.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let head = format!(
        "POST /alerts HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {ALERT_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        2 << 20
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(&vec![b' '; (1 << 20) + 4096]).expect("write past the limit");
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("status line");
    line.trim().to_string()
}

fn alert(status: &str, action: &str, name: &str) -> Value {
    json!({
        "status": status,
        "labels": { "alertname": name, "kfl_action": action, "kfl_service": "iris", "namespace": "ml-team" },
        "annotations": { "summary": "iris: rule fired" },
        "startsAt": "2025-01-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": format!("{name}-fp"),
    })
}

/// Alertmanager's webhook payload (version 4) around `alerts`.
fn notification(status: &str, alerts: &[Value]) -> String {
    json!({
        "version": "4",
        "groupKey": "{}:{kfl_action=\"retrain\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "ml-team/iris-watch-retrain/iris-watch-retrain-receiver",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    })
    .to_string()
}

fn run_posts(shared: &Shared) -> Vec<Value> {
    let services = shared.lock().expect("lock");
    services.seen.iter().filter(|(method, _, _)| method == "POST").filter_map(|(_, _, body)| body.clone()).collect()
}

#[test]
fn a_firing_retrain_alert_starts_one_run_per_cooldown_and_nothing_else_does() {
    let (kfp_url, shared) = fake_services::start(Services::default());
    let mut receiver = start_receiver(&kfp_url);

    let mut health = agent().get(&format!("{}/healthz", receiver.url)).call().expect("GET /healthz");
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.body_mut().read_to_string().expect("body").trim(), "ok");

    for bad in ["not json", "{\"alerts\": []}", &notification("firing", &[]).replace("\"4\"", "\"3\"")] {
        let (status, answer) = post(&receiver, bad);
        assert_eq!(status, 400, "{bad}: {answer}");
        assert_eq!(answer["started"], false, "{answer}");
    }
    let resolved = notification("resolved", &[alert("resolved", "retrain", "IrisWatchSlow")]);
    let alert_action = notification("firing", &[alert("firing", "alert", "IrisWatchErrors")]);
    for quiet in [resolved, alert_action] {
        let (status, answer) = post(&receiver, &quiet);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["started"], false, "{answer}");
        assert!(answer["why"].as_str().is_some_and(|w| w.contains("no firing alert")), "{answer}");
    }
    assert!(run_posts(&shared).is_empty(), "no run for resolved or alert-only notifications");

    let firing = notification(
        "firing",
        &[alert("firing", "retrain", "IrisWatchSlow"), alert("firing", "alert", "IrisWatchErrors")],
    );
    // No pipeline in KFP yet: 5xx, so Alertmanager retries, and no cooldown starts.
    let (status, answer) = post(&receiver, &firing);
    assert_eq!(status, 502, "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("no pipeline named `iris`")), "{answer}");

    shared.lock().expect("lock").pipelines.insert("iris".into(), ("p-1".into(), vec!["v-2".into(), "v-1".into()]));
    let (status, answer) = post(&receiver, &firing);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "started": true, "run_id": "run-42", "reason": "alert:IrisWatchSlow" }));
    let runs = run_posts(&shared);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["pipeline_version_reference"], json!({ "pipeline_id": "p-1", "pipeline_version_id": "v-2" }));
    assert!(runs[0]["description"].as_str().is_some_and(|d| d.ends_with("alert:IrisWatchSlow")), "{}", runs[0]);
    let listed = shared.lock().expect("lock").seen.iter().any(|(_, path, _)| path.contains("namespace=ml-team"));
    assert!(listed, "the pipeline is looked up in the receiver's namespace");

    // Alertmanager re-sends the firing alert: within the cooldown, no second run.
    let (status, answer) = post(&receiver, &firing);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["started"], false, "{answer}");
    assert!(answer["why"].as_str().is_some_and(|w| w.contains("run run-42") && w.contains("cooldown")), "{answer}");
    assert_eq!(run_posts(&shared).len(), 1);

    assert_eq!(
        status_of_a_2_mib_post(&receiver),
        "HTTP/1.1 413 Payload Too Large",
        "bodies over the limit are refused"
    );

    // SIGTERM (what Kubernetes sends) stops it cleanly.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(receiver.child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let status = receiver.child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
}

/// A KFP run `minutes_ago` old with `display_name`.
fn kfp_run(run_id: &str, display_name: &str, minutes_ago: i64) -> Value {
    let created_at = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes_ago);
    // KFP writes whole seconds.
    let created_at = created_at.round(jiff::Unit::Second).expect("round");
    json!({ "run_id": run_id, "display_name": display_name, "created_at": created_at.to_string() })
}

#[test]
fn a_restarted_receiver_keeps_the_cooldown_of_the_runs_kfp_knows() {
    let mut services = Services::default();
    services.pipelines.insert("iris".into(), ("p-1".into(), vec!["v-1".into()]));
    // An alert's run 10 minutes ago, by a receiver that has restarted since; a scheduled run is
    // newer but is not an alert's, so it does not hold the cooldown.
    services.runs = vec![
        kfp_run("run-7", "iris (alert:IrisWatchSlow)", 10),
        kfp_run("run-8", "iris (schedule:iris-watch)", 1),
        kfp_run("run-6", "other (alert:OtherSlow)", 2),
    ];
    let (kfp_url, shared) = fake_services::start(services);
    let firing = notification("firing", &[alert("firing", "retrain", "IrisWatchErrors")]);

    let receiver = start_receiver(&kfp_url);
    let (status, answer) = post(&receiver, &firing);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["started"], false, "{answer}");
    let why = answer["why"].as_str().unwrap_or_default();
    assert!(why.contains("run run-7 started") && why.contains("found in KFP"), "{answer}");
    assert!(run_posts(&shared).is_empty(), "no run within the cooldown of run-7");
    let listed = shared.lock().expect("lock").seen.iter().any(|(method, path, _)| {
        method == "GET"
            && path.starts_with("/apis/v2beta1/runs?")
            && path.contains("IS_SUBSTRING")
            && path.contains("sort_by=created_at")
            && path.contains("namespace=ml-team")
    });
    assert!(listed, "the newest alert run is asked for in the receiver's namespace");
    drop(receiver);

    // The same run two hours old: the cooldown is over, and a new receiver starts a run.
    shared.lock().expect("lock").runs[0] = kfp_run("run-7", "iris (alert:IrisWatchSlow)", 120);
    let receiver = start_receiver(&kfp_url);
    let (status, answer) = post(&receiver, &firing);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["started"], true, "{answer}");
    assert_eq!(run_posts(&shared).len(), 1);
    drop(receiver);
}

#[test]
fn cooldown_needs_listen_and_reason_conflicts_with_it() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kfl"))
            .args(["launch", "retrain", "--pipeline", "iris"])
            .args(args)
            .output()
            .expect("run kfl launch retrain")
    };
    assert_eq!(run(&["--cooldown", "5m"]).status.code(), Some(2));
    assert_eq!(run(&["--listen", "127.0.0.1:0", "--reason", "manual"]).status.code(), Some(2));
    assert_eq!(run(&["--listen", "127.0.0.1:0", "--cooldown", "soon"]).status.code(), Some(2));
}

#[test]
fn alerts_without_the_receivers_bearer_token_are_refused_and_start_nothing() {
    let (kfp_url, shared) = fake_services::start(Services::default());
    shared.lock().expect("lock").pipelines.insert("iris".into(), ("p-1".into(), vec!["v-1".into()]));
    let receiver = start_receiver(&kfp_url);
    let firing = notification("firing", &[alert("firing", "retrain", "IrisWatchSlow")]);
    for token in [None, Some("wrong"), Some(""), Some("alertmanager-s3cre")] {
        let (status, answer) = post_as(&receiver, token, &firing);
        assert_eq!(status, 401, "{token:?}: {answer}");
        assert_eq!(answer["started"], false, "{answer}");
    }
    assert!(run_posts(&shared).is_empty(), "an unauthenticated notification started a run");
    let health = agent().get(&format!("{}/healthz", receiver.url)).call().expect("GET /healthz");
    assert_eq!(health.status().as_u16(), 200, "the kubelet's probe needs no token");
    let (status, answer) = post(&receiver, &firing);
    assert_eq!((status, &answer["started"]), (200, &json!(true)), "{answer}");
    drop(receiver);

    // Without a token the receiver does not start.
    let output = Command::new(env!("CARGO_BIN_EXE_kfl"))
        .args(["launch", "retrain", "--pipeline", "iris", "--listen", "127.0.0.1:0", "--kfp-url", &kfp_url])
        .env_remove("KFL_ALERT_TOKEN")
        .output()
        .expect("run kfl launch retrain");
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("KFL_ALERT_TOKEN"), "{error}");
}
