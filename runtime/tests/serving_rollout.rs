//! Serving tests for changing versions in place with real predictor processes: a rollout under continuous load
//! refuses no request, promote and rollback drain and stop the version that leaves, a broken version is not rolled out.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kfl_runtime::serving::{
    AdminError, Canary, Role, ServeEvent, read_state, request_canary_percent, request_promote, request_rollback,
};
use serde_json::json;
use support::{Running, TestClient, client, config, get, infer_body, model_dir, post, process_exists, request};

/// Clients sending requests back to back until stopped: half over kept-alive connections, half
/// with a new connection per request (so a refused connect would show up).
struct Load {
    stop: Arc<AtomicBool>,
    workers: tokio::task::JoinSet<(usize, Vec<String>)>,
}

impl Load {
    fn start(address: SocketAddr, workers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let mut set = tokio::task::JoinSet::new();
        for worker in 0..workers {
            let stop = Arc::clone(&stop);
            set.spawn(async move {
                let kept_alive = client();
                let (mut answered, mut failures) = (0, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let http = if worker % 2 == 0 { kept_alive.clone() } else { client() };
                    let url = format!("http://{address}/v2/models/iris/infer");
                    let body = infer_body(&[1.0], json!({ "sleep_ms": 5 })).to_string().into_bytes();
                    match request(&http, "POST", &url, body).await {
                        Ok(answer) if answer.status == 200 => answered += 1,
                        Ok(answer) => failures.push(format!("{}: {}", answer.status, answer.body)),
                        Err(error) => failures.push(error),
                    }
                }
                (answered, failures)
            });
        }
        Load { stop, workers: set }
    }

    async fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut answered, mut failures) = (0, Vec::new());
        while let Some(result) = self.workers.join_next().await {
            let (count, failed) = result.expect("load worker");
            answered += count;
            failures.extend(failed);
        }
        (answered, failures)
    }
}

async fn versions_answering(http: &TestClient, address: SocketAddr, count: usize) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for _ in 0..count {
        let answer = post(http, address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({}))).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let version = answer.version.unwrap_or_default();
        match counts.iter_mut().find(|(v, _)| *v == version) {
            Some((_, n)) => *n += 1,
            None => counts.push((version, 1)),
        }
    }
    counts.sort();
    counts
}

fn pids_of(server: &Running, version: &str) -> Vec<u32> {
    let status = server.handle.status();
    let found = status.versions.iter().find(|v| v.version == version);
    found.map(|v| v.replicas.iter().map(|r| r.pid).collect()).unwrap_or_default()
}

async fn wait_gone(pids: &[u32], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while pids.iter().any(|pid| process_exists(*pid)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    !pids.iter().any(|pid| process_exists(*pid))
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{line_start}` in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_under_continuous_load_refuses_no_request_and_retires_the_oldest_version() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    let state_dir = root.path().join(".kfl/serving");
    config.state_dir = Some(state_dir.clone());
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let address = server.address;
    let first_pids = pids_of(&server, "1");
    let load = Load::start(address, 6);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let change = server.handle.roll_out(model_dir(root.path(), "2", 3.0), 30.0).await.expect("version 2 rolled out");
    assert_eq!((change.stable.as_str(), change.canary.as_deref(), change.canary_percent), ("1", Some("2"), 30.0));
    assert!(change.retired.is_empty(), "{change:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let change = server.handle.roll_out(model_dir(root.path(), "3", 4.0), 30.0).await.expect("version 3 rolled out");
    assert_eq!((change.stable.as_str(), change.canary.as_deref()), ("2", Some("3")));
    assert_eq!(change.retired, ["1"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (answered, failures) = load.finish().await;
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during the rollouts: {failures:?}",
        failures.len(),
        answered
    );
    assert!(answered > 100, "the load sent only {answered} requests");
    assert!(wait_gone(&first_pids, Duration::from_secs(10)).await, "version 1's replicas {first_pids:?} outlived it");

    // The split afterwards is the configured one, on the same port.
    let http = client();
    let counts = versions_answering(&http, address, 600).await;
    assert_eq!(counts.len(), 2, "{counts:?}");
    let share = counts.iter().find(|(v, _)| v == "3").map_or(0, |(_, n)| *n) as f64 / 6.0;
    assert!((23.0..=37.0).contains(&share), "canary 3 got {share}% of 600 requests, configured 30%: {counts:?}");

    let status = server.handle.status();
    let roles: Vec<_> = status.versions.iter().map(|v| (v.version.as_str(), v.role, v.traffic_percent)).collect();
    assert_eq!(roles, [("2", Role::Stable, 70.0), ("3", Role::Canary, 30.0)]);
    let state = read_state(&state_dir, "iris", None).expect("state file");
    assert_eq!(
        (state.address, state.stable_version.as_str(), state.canary_version.as_deref()),
        (address, "2", Some("3"))
    );

    // Counters and the monitor window continue across the rollouts: version 1's series stays, and the window
    // holds every request the versions counted.
    let metrics = get(&http, address, "/metrics").await.body;
    let metrics = metrics.as_str().expect("metrics text");
    let total: f64 = ["1", "2", "3"]
        .iter()
        .map(|v| metric(metrics, &format!("kfl_serving_requests_total{{model=\"iris\",version=\"{v}\"}} ")))
        .sum();
    assert_eq!(total as usize, answered + 600, "{metrics}");
    assert!(metric(metrics, "kfl_serving_requests_total{model=\"iris\",version=\"1\"} ") > 0.0);
    assert_eq!(server.handle.status().window.requests as usize, answered + 600);
    let report = server.shutdown().await;
    assert_eq!(report.requests as usize, answered + 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_and_rollback_drain_and_stop_the_version_that_leaves() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    let state_dir = root.path().join(".kfl/serving");
    config.state_dir = Some(state_dir.clone());
    config.canary = Some(Canary { version: model_dir(root.path(), "2", 3.0), percent: 30.0 });
    let mut server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let address = server.address;
    let token = server.handle.admin_token().to_owned();
    let (stable_pids, canary_pids) = (pids_of(&server, "1"), pids_of(&server, "2"));

    // A slow request on the stable version is in flight when promote takes its traffic away.
    assert_eq!(request_canary_percent(address, &token, 0.0).await.ok(), Some(0.0));
    let slow = tokio::spawn(async move {
        post(&client(), address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({ "sleep_ms": 1500 }))).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let change = request_promote(address, &token).await.expect("promote");
    assert_eq!(
        (change.stable.as_str(), change.canary.as_deref(), change.retired.as_slice()),
        ("2", None, &["1".to_owned()][..])
    );
    let slow = slow.await.expect("slow request");
    assert_eq!((slow.status, slow.version.as_deref()), (200, Some("1")), "drained, not cut: {}", slow.body);
    assert!(wait_gone(&stable_pids, Duration::from_secs(10)).await, "version 1's replicas outlived the promote");
    assert!(canary_pids.iter().all(|pid| process_exists(*pid)), "the promoted version keeps its replicas");
    let http = client();
    assert_eq!(versions_answering(&http, address, 50).await, [("2".to_owned(), 50)]);
    let status = server.handle.status();
    assert_eq!(status.versions.len(), 1, "{status:?}");
    assert_eq!((status.versions[0].role, status.versions[0].traffic_percent), (Role::Stable, 100.0));
    let state = read_state(&state_dir, "iris", None).expect("state file");
    assert_eq!((state.stable_version.as_str(), state.canary_version), ("2", None));
    let refused = request_promote(address, &token).await.expect_err("no canary to promote");
    assert!(matches!(&refused, AdminError::Status { status, .. } if status.as_u16() == 409), "{refused}");
    assert!(refused.to_string().contains("no canary"), "{refused}");
    assert!(request_rollback(address, &token).await.is_err(), "nothing to roll back");

    let change = server.handle.roll_out(model_dir(root.path(), "3", 4.0), 50.0).await.expect("version 3");
    assert_eq!((change.stable.as_str(), change.canary.as_deref()), ("2", Some("3")));
    let new_pids = pids_of(&server, "3");
    let change = request_rollback(address, &token).await.expect("rollback");
    assert_eq!(
        (change.stable.as_str(), change.canary.as_deref(), change.retired.as_slice()),
        ("2", None, &["3".to_owned()][..])
    );
    assert!(wait_gone(&new_pids, Duration::from_secs(10)).await, "version 3's replicas outlived the rollback");
    assert_eq!(versions_answering(&http, address, 50).await, [("2".to_owned(), 50)]);
    let state = read_state(&state_dir, "iris", None).expect("state file");
    assert_eq!((state.stable_version.as_str(), state.canary_version), ("2", None));

    let mut seen = Vec::new();
    while let Ok(event) = server.events.try_recv() {
        match event {
            ServeEvent::Promoted(change) => seen.push(format!("promoted {}", change.stable)),
            ServeEvent::RolledOut(change) => seen.push(format!("rolled out {}", change.canary.unwrap_or_default())),
            ServeEvent::RolledBack(change) => seen.push(format!("rolled back to {}", change.stable)),
            _ => {}
        }
    }
    assert_eq!(seen, ["promoted 2", "rolled out 3", "rolled back to 2"]);
    let pids = pids_of(&server, "2");
    server.shutdown().await;
    assert!(wait_gone(&pids, Duration::from_secs(5)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waiting_for_a_version_that_leaves_is_served_by_the_one_that_stays() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    // Version 1 loads for 3 s; with scale to zero the first request waits for its cold start.
    let slow = serde_json::json!({ "version": "1", "factor": 2.0, "start_delay_ms": 3000 });
    std::fs::write(config.stable.model_dir.join("model.json"), slow.to_string()).expect("model.json");
    config.canary = Some(Canary { version: model_dir(root.path(), "2", 3.0), percent: 0.0 });
    config.scaling.min = 0;
    config.scaling.max = 1;
    config.scaling.metric = Some(kfl_runtime::serving::ScaleMetric::Rps(100.0));
    let server = Running::start(config).await;
    let address = server.address;
    let waiting =
        tokio::spawn(
            async move { post(&client(), address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({}))).await },
        );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.handle.status().versions[0].replicas.len(), 1, "version 1 is cold-starting");
    let change = server.handle.promote().await.expect("promote");
    assert_eq!(change.retired, ["1"]);
    let answer = waiting.await.expect("waiting request");
    assert_eq!((answer.status, answer.version.as_deref()), (200, Some("2")), "{}", answer.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_never_gets_ready_is_not_rolled_out() {
    let root = tempfile::tempdir().expect("tempdir");
    let server = Running::start(config(root.path(), "iris")).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    // No model.json: the predictor exits at once, every time it is restarted.
    let broken = root.path().join("model-broken");
    std::fs::create_dir_all(&broken).expect("mkdir");
    let version = kfl_runtime::serving::ModelVersion { version: "2".into(), model_dir: broken };
    let error = server.handle.roll_out(version, 50.0).await.expect_err("a crashing version is refused");
    assert!(error.to_string().contains("did not get ready"), "{error}");
    let status = server.handle.status();
    assert_eq!(status.versions.len(), 1);
    assert_eq!((status.versions[0].version.as_str(), status.versions[0].traffic_percent), ("1", 100.0));
    assert_eq!(versions_answering(&client(), server.address, 20).await, [("1".to_owned(), 20)]);
    let metrics = get(&client(), server.address, "/metrics").await.body;
    assert!(!metrics.as_str().expect("metrics text").contains("version=\"2\""), "{metrics}");
    server.shutdown().await;
}
