//! The router under 200 concurrent clients in front of the iris example's real predictor: every
//! request is answered, none waits more than 5 s (a listen backlog or a connection cap that drops
//! connections shows up as multi-second TCP retries).

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kfl_runtime::serving::{Arg, ModelVersion, ServeConfig};
use serde_json::json;
use support::{Running, client, post};

const CLIENTS: usize = 200;
const REQUESTS_PER_CLIENT: usize = 5;
const STALL: Duration = Duration::from_secs(5);

/// A small model trained by the example's own script (2 epochs: a fraction of a second).
fn iris_model(root: &Path, steps: &Path) -> ModelVersion {
    let dir = root.join("model-1");
    let data = steps.join("../data/iris.csv");
    let trained = Command::new("python3")
        .arg(steps.join("train.py"))
        .args([
            "--data".as_ref(),
            data.as_os_str(),
            "--epochs".as_ref(),
            "2".as_ref(),
            "--out".as_ref(),
            dir.as_os_str(),
        ])
        .output()
        .expect("python3 runs");
    assert!(trained.status.success(), "train.py failed: {}", String::from_utf8_lossy(&trained.stderr));
    ModelVersion { version: "1".to_owned(), model_dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_clients_are_all_answered_without_stalls() {
    let root = tempfile::tempdir().expect("tempdir");
    let steps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/iris/steps");
    let argv = vec![
        Arg::Text("python3".into()),
        Arg::Text(steps.join("predict.py").display().to_string()),
        Arg::Text("--model".into()),
        Arg::ModelDir,
        Arg::Text("--port".into()),
        Arg::Port,
    ];
    let mut config = ServeConfig::new("iris", argv, iris_model(root.path(), &steps));
    config.readiness_timeout = Duration::from_secs(30);
    config.request_timeout = Duration::from_secs(30);
    config.drain_timeout = Duration::from_secs(5);
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let address = server.address;

    let start = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|index| {
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                // One client each: its own connection, as separate processes would have.
                let http = client();
                let row = [5.1 + (index % 10) as f64 / 10.0, 3.5, 1.4, 0.2];
                let body =
                    json!({ "inputs": [{ "name": "input-0", "datatype": "FP32", "shape": [1, 4], "data": row }] });
                start.wait().await;
                let mut slowest = Duration::ZERO;
                for _ in 0..REQUESTS_PER_CLIENT {
                    let sent = Instant::now();
                    let answer = post(&http, address, "/v2/models/iris/infer", &body).await;
                    slowest = slowest.max(sent.elapsed());
                    assert_eq!(answer.status, 200, "client {index}: {}", answer.body);
                    assert!(answer.body["outputs"][0]["data"][0].is_string(), "client {index}: {}", answer.body);
                }
                slowest
            })
        })
        .collect();
    let all = async {
        let mut slowest = Duration::ZERO;
        for client in clients {
            slowest = slowest.max(client.await.expect("client task"));
        }
        slowest
    };
    let slowest = tokio::time::timeout(Duration::from_secs(120), all).await.expect("all clients finish within 120 s");
    assert!(slowest < STALL, "a request took {slowest:?} under {CLIENTS} concurrent clients");
    let report = server.shutdown().await;
    assert_eq!(report.requests, (CLIENTS * REQUESTS_PER_CLIENT) as u64);
}
