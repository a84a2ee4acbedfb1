//! Serving lifecycle tests: shutdown drains in-flight requests, and killing a replica's group leaves no worker behind.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Running, client, config, infer_body, post, predictor_argv, process_exists};

fn child_pid(file: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(pid) = std::fs::read_to_string(file).ok().and_then(|text| text.trim().parse().ok()) {
            return pid;
        }
        assert!(Instant::now() < deadline, "the predictor never wrote {}", file.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while process_exists(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    !process_exists(pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_in_flight_request_finish_then_stops_the_whole_group() {
    let root = tempfile::tempdir().expect("tempdir");
    let pid_file = root.path().join("child.pid");
    let mut config = config(root.path(), "iris");
    config.argv = predictor_argv("iris", &["--child-pid-file", &pid_file.display().to_string()]);
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let worker = child_pid(&pid_file);
    assert!(process_exists(worker));

    let http = client();
    let address = server.address;
    let slow = tokio::spawn(async move {
        post(&http, address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({ "sleep_ms": 1000 }))).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = server.shutdown().await;
    let answer = slow.await.expect("slow request task");
    assert_eq!(answer.status, 200, "the in-flight request is drained, not cut: {}", answer.body);
    assert!(report.drained);
    assert!(wait_gone(worker, Duration::from_secs(5)).await, "the predictor's child {worker} outlived shutdown");
    let refused = client()
        .request(
            hyper::Request::get(format!("http://{address}/v2/health/live")).body(Default::default()).expect("request"),
        )
        .await;
    assert!(refused.is_err(), "the router no longer accepts connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_leader_takes_its_workers_with_it_before_the_restart() {
    let root = tempfile::tempdir().expect("tempdir");
    let pid_file = root.path().join("child.pid");
    let mut config = config(root.path(), "iris");
    config.argv = predictor_argv("iris", &["--child-pid-file", &pid_file.display().to_string()]);
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let worker = child_pid(&pid_file);
    std::fs::remove_file(&pid_file).expect("remove pid file");
    let leader = server.handle.status().versions[0].replicas[0].pid;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(leader as i32), nix::sys::signal::Signal::SIGKILL)
        .expect("kill -9 the leader");
    assert!(wait_gone(worker, Duration::from_secs(10)).await, "worker {worker} of the killed replica still runs");
    let replacement = child_pid(&pid_file);
    assert_ne!(replacement, worker);
    server.wait_ready(1, Duration::from_secs(30)).await;
    let answer = post(&client(), server.address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({}))).await;
    assert_eq!(answer.status, 200);
    server.shutdown().await;
    assert!(wait_gone(replacement, Duration::from_secs(5)).await);
}
