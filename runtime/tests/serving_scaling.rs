//! Serving tests for replica counts: autoscaling up and down, scale to zero with cold start, crash restart.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kfl_runtime::serving::{ScaleMetric, ServeConfig};
use serde_json::json;
use support::{Running, client, config, infer_body, post, process_exists};

fn fast_scaling(config: &mut ServeConfig, min: u32, max: u32, metric: ScaleMetric) {
    config.scaling.min = min;
    config.scaling.max = max;
    config.scaling.metric = Some(metric);
    config.scaling.interval = Duration::from_millis(200);
    config.scaling.metric_window = Duration::from_secs(1);
    config.scaling.scale_down_delay = Duration::from_secs(1);
}

async fn wait_for_replicas(server: &Running, wanted: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if server.handle.status().versions[0].replicas.len() == wanted {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_load_adds_replicas_and_idling_removes_them() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    fast_scaling(&mut config, 1, 3, ScaleMetric::Concurrency(1.0));
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let http = client();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (http, stop, failures, address) = (http.clone(), Arc::clone(&stop), Arc::clone(&failures), server.address);
        workers.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let body = infer_body(&[1.0], json!({ "sleep_ms": 150 }));
                if post(&http, address, "/v2/models/iris/infer", &body).await.status != 200 {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut most_ready = 0;
    while Instant::now() < deadline && most_ready < 3 {
        most_ready = most_ready.max(server.handle.status().versions[0].ready_replicas);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    while workers.join_next().await.is_some() {}
    assert_eq!(most_ready, 3, "6 concurrent 150 ms requests with target concurrency 1 should reach 3 replicas");
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no request fails while scaling up");
    assert!(wait_for_replicas(&server, 1, Duration::from_secs(15)).await, "back to 1 replica after idling");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaled_to_zero_cold_starts_on_the_next_request_and_scales_back_to_zero() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    fast_scaling(&mut config, 0, 2, ScaleMetric::Rps(50.0));
    let server = Running::start(config).await;
    assert!(server.handle.status().versions[0].replicas.is_empty(), "min 0 starts no replica");
    let http = client();
    let answer = post(&http, server.address, "/v2/models/iris/infer", &infer_body(&[2.0], json!({}))).await;
    assert_eq!(answer.status, 200, "the request waits for the cold start: {}", answer.body);
    assert_eq!(answer.body["outputs"][0]["data"], json!([4.0]));
    let pid = server.handle.status().versions[0].replicas[0].pid;
    assert!(wait_for_replicas(&server, 0, Duration::from_secs(15)).await, "scaled back to zero after idling");
    // The supervisor reaps the process after taking it out of the list.
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_exists(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!process_exists(pid), "scaled-down replica {pid} still runs");
    let again = post(&http, server.address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({}))).await;
    assert_eq!(again.status, 200, "{}", again.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_is_restarted_and_requests_keep_succeeding() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    config.scaling.min = 2;
    config.scaling.max = 2;
    let server = Running::start(config).await;
    server.wait_ready(2, Duration::from_secs(30)).await;
    let http = client();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let concurrency = 4;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (http, stop, address) = (http.clone(), Arc::clone(&stop), server.address);
        let (failures, answered) = (Arc::clone(&failures), Arc::clone(&answered));
        workers.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let body = infer_body(&[1.0], json!({ "sleep_ms": 20 }));
                match post(&http, address, "/v2/models/iris/infer", &body).await.status {
                    200 => answered.fetch_add(1, Ordering::Relaxed),
                    _ => failures.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let victim = server.handle.status().versions[0].replicas[0].clone();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(victim.pid as i32), nix::sys::signal::Signal::SIGKILL)
        .expect("kill -9 the replica");
    let deadline = Instant::now() + Duration::from_secs(20);
    let restarted = loop {
        let status = server.handle.status();
        let replica = status.versions[0].replicas.iter().find(|r| r.id == victim.id).cloned();
        if let Some(replica) = replica.filter(|r| r.ready && r.pid != victim.pid) {
            break Some(replica);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    while workers.join_next().await.is_some() {}
    let restarted = restarted.expect("the killed replica is back in rotation with a new process");
    assert_eq!(restarted.restarts, 1);
    assert!(answered.load(Ordering::Relaxed) > 20, "requests kept flowing");
    let failed = failures.load(Ordering::Relaxed);
    assert!(failed <= concurrency, "{failed} requests failed; at most the {concurrency} in flight may");
    assert!(!process_exists(victim.pid));
    server.shutdown().await;
}
