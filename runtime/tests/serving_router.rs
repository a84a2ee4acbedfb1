//! Serving router tests with real predictor processes: V1/V2, binary tensors, transformer, limits, 503, canary split, promote/rollback.

mod support;

use std::time::Duration;

use kfl_runtime::serving::{Arg, Canary, TransformerConfig, read_state, request_canary_percent};
use serde_json::json;
use support::{Running, client, config, get, infer_body, model_dir, post, predictor_argv, process_exists};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_and_v2_requests_reach_the_predictor_and_shutdown_leaves_no_process() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    config.state_dir = Some(root.path().join(".kfl/serving"));
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let http = client();
    let address = server.address;

    let v2 = post(&http, address, "/v2/models/iris/infer", &infer_body(&[1.0, 2.5], json!({}))).await;
    assert_eq!(v2.status, 200, "{}", v2.body);
    assert_eq!(v2.body["outputs"][0]["data"], json!([2.0, 5.0]));
    assert_eq!(v2.body["model_version"], "1");
    assert_eq!(v2.version.as_deref(), Some("1"));

    let v1 = post(&http, address, "/v1/models/iris:predict", &json!({ "instances": [3, 4] })).await;
    assert_eq!(v1.status, 200, "{}", v1.body);
    assert_eq!(v1.body["predictions"], json!([6.0, 8.0]));

    assert_eq!(get(&http, address, "/v1/models/iris").await.body["ready"], true);
    assert_eq!(get(&http, address, "/v2/models/iris").await.body["name"], "iris");
    assert_eq!(get(&http, address, "/v2/models/iris/ready").await.status, 200);
    assert_eq!(get(&http, address, "/v2/health/live").await.body["live"], true);
    assert_eq!(get(&http, address, "/v2/health/ready").await.body["ready"], true);
    let unknown = post(&http, address, "/v2/models/rose/infer", &infer_body(&[1.0], json!({}))).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body["error"].as_str().is_some_and(|e| e.contains("rose")), "{}", unknown.body);
    assert_eq!(get(&http, address, "/v2/models/iris/infer").await.status, 405);

    let metrics = get(&http, address, "/metrics").await.body;
    let metrics = metrics.as_str().expect("metrics text");
    assert!(metrics.contains("kfl_serving_requests_total{model=\"iris\",version=\"1\"} 2\n"), "{metrics}");
    assert!(metrics.contains("kfl_serving_request_duration_seconds_count{model=\"iris\",version=\"1\"} 2\n"));

    let state = read_state(&root.path().join(".kfl/serving"), "iris", None).expect("state file while running");
    assert_eq!(state.address, address);
    assert_eq!(state.pid, std::process::id());

    let pid = server.handle.status().versions[0].replicas[0].pid;
    assert!(process_exists(pid));
    let report = server.shutdown().await;
    assert!(report.drained);
    assert_eq!(report.final_status.versions[0].requests, 2);
    assert!(!process_exists(pid), "replica {pid} outlived the server");
    assert!(read_state(&root.path().join(".kfl/serving"), "iris", None).is_err(), "state file removed");
}

/// The model answers to its served name (plan.json `served_name`, the InferenceService's name on the
/// cluster), while the serve's own name keeps naming its state file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_answers_to_its_served_name() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "churn_api");
    config.model_name = "churn-api".into();
    config.argv = predictor_argv("churn-api", &[]);
    config.state_dir = Some(root.path().join(".kfl/serving"));
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let http = client();
    let address = server.address;
    let served = post(&http, address, "/v2/models/churn-api/infer", &infer_body(&[1.0], json!({}))).await;
    assert_eq!(served.status, 200, "{}", served.body);
    let declared = post(&http, address, "/v2/models/churn_api/infer", &infer_body(&[1.0], json!({}))).await;
    assert_eq!(declared.status, 404, "{}", declared.body);
    assert!(declared.body["error"].as_str().is_some_and(|e| e.contains("churn-api")), "{}", declared.body);
    assert!(
        read_state(&root.path().join(".kfl/serving"), "churn_api", None).is_ok(),
        "state file under the serve's name"
    );
    assert_eq!(get(&http, address, "/v2/models").await.body, json!({ "models": ["churn-api"] }));
    assert_eq!(get(&http, address, "/v1/models/churn-api").await.body, json!({ "name": "churn-api", "ready": true }));
    assert_eq!(get(&http, address, "/v2/models/churn_api/ready").await.status, 404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_pass_through_the_transformer_before_the_predictor() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    config.transformer = Some(TransformerConfig {
        argv: vec![
            Arg::Text("python3".into()),
            Arg::Text(support::fixture().display().to_string()),
            Arg::Text("transform".into()),
            Arg::Text("--port".into()),
            Arg::Port,
            Arg::Text("--predictor-host".into()),
            Arg::PredictorHost,
            Arg::Text("--name".into()),
            Arg::Text("iris".into()),
        ],
        env: Default::default(),
    });
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let http = client();
    let answer = post(&http, server.address, "/v2/models/iris/infer", &infer_body(&[1.0, 2.0], json!({}))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The transformer adds 1, the predictor doubles.
    assert_eq!(answer.body["outputs"][0]["data"], json!([4.0, 6.0]));
    assert_eq!(answer.body["transformed"], true);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_and_slow_answers_504() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    config.body_limit = 1024;
    config.request_timeout = Duration::from_millis(700);
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let http = client();
    let big = infer_body(&vec![1.0; 1000], json!({}));
    let too_large = post(&http, server.address, "/v2/models/iris/infer", &big).await;
    assert_eq!(too_large.status, 413);
    assert!(too_large.body["error"].as_str().is_some_and(|e| e.contains("1024")), "{}", too_large.body);
    let slow =
        post(&http, server.address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({ "sleep_ms": 3000 }))).await;
    assert_eq!(slow.status, 504, "{}", slow.body);
    assert!(slow.body["error"].is_string());
    let fine = post(&http, server.address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({}))).await;
    assert_eq!(fine.status, 200);
    let status = server.handle.status();
    assert_eq!(status.versions[0].errors, 1, "the 504 counts as an error: {status:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ready_replica_answers_503_with_a_json_error() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    config.argv = predictor_argv("iris", &["--never-ready"]);
    let server = Running::start(config).await;
    // Give the replica time to start and answer its readiness probe with 503.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let http = client();
    let answer = post(&http, server.address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({}))).await;
    assert_eq!(answer.status, 503);
    assert!(answer.body["error"].as_str().is_some_and(|e| e.contains("no replica")), "{}", answer.body);
    assert_eq!(get(&http, server.address, "/v2/health/ready").await.status, 503);
    for path in ["/v2/models/iris/ready", "/v1/models/iris"] {
        let not_ready = get(&http, server.address, path).await;
        assert_eq!(not_ready.status, 503, "{path}: {}", not_ready.body);
    }
    assert_eq!(get(&http, server.address, "/").await.body["status"], "alive", "liveness is the router's own");
    server.shutdown().await;
}

/// A raw exchange: status, headers, body bytes.
async fn exchange(
    http: &support::TestClient,
    address: std::net::SocketAddr,
    path: &str,
    json_length: Option<&str>,
    body: Vec<u8>,
) -> (u16, hyper::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    let mut request = hyper::Request::builder().method("POST").uri(format!("http://{address}{path}"));
    request = match json_length {
        Some(length) => {
            request.header("content-type", "application/octet-stream").header("inference-header-content-length", length)
        }
        None => request.header("content-type", "application/json"),
    };
    let request = request.body(http_body_util::Full::new(axum::body::Bytes::from(body))).expect("request");
    let response = http.request(request).await.expect("answered");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes().to_vec();
    (parts.status.as_u16(), parts.headers, body)
}

/// The `Inference-Header-Content-Length` of a binary answer.
fn json_part_length(headers: &hyper::HeaderMap) -> usize {
    headers
        .get("inference-header-content-length")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("a binary answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kserve_binary_tensors_reach_a_json_predictor_and_binary_answers_come_back_when_asked() {
    let root = tempfile::tempdir().expect("tempdir");
    let server = Running::start(config(root.path(), "iris")).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let http = client();
    let address = server.address;
    let floats = |values: &[f64]| values.iter().flat_map(|value| value.to_le_bytes()).collect::<Vec<u8>>();

    // As KServe 0.21.0's SDK sends numpy inputs: the JSON part, then the raw little-endian tensor.
    let head = json!({
        "id": "r1",
        "inputs": [{ "name": "x", "shape": [2], "datatype": "FP64", "parameters": { "binary_data_size": 16 } }],
        "parameters": { "binary_data_output": true },
    });
    let mut body = serde_json::to_vec(&head).expect("json");
    let json_length = body.len().to_string();
    body.extend(floats(&[1.5, -2.0]));
    let (status, headers, answer) =
        exchange(&http, address, "/v2/models/iris/infer", Some(&json_length), body.clone()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let length = json_part_length(&headers);
    let answer_head: serde_json::Value = serde_json::from_slice(&answer[..length]).expect("json part");
    assert_eq!(answer_head["outputs"][0]["parameters"]["binary_data_size"], 16, "{answer_head}");
    assert!(answer_head["outputs"][0].get("data").is_none());
    assert_eq!(answer_head["id"], "r1");
    assert_eq!(&answer[length..], &floats(&[3.0, -4.0])[..], "the predictor got the decoded values");

    // A JSON request asking for a binary output by name.
    let by_name = json!({
        "inputs": [{ "name": "x", "shape": [1], "datatype": "FP64", "data": [4.0] }],
        "outputs": [{ "name": "y", "parameters": { "binary_data": true } }],
    });
    let (status, headers, answer) =
        exchange(&http, address, "/v2/models/iris/infer", None, serde_json::to_vec(&by_name).expect("json")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let length = json_part_length(&headers);
    assert_eq!(&answer[length..], &floats(&[8.0])[..]);

    // Malformed binary bodies: 400 with the reason, and the server keeps serving.
    for (json_length, body, reason) in [
        ("many", body.clone(), "must be a byte count"),
        (json_length.as_str(), body[..body.len() - 1].to_vec(), "only 15 bytes of binary data are left"),
        ("100000", body.clone(), "the body has only"),
        ("0", body.clone(), "are not a JSON object"),
    ] {
        let (status, _, answer) = exchange(&http, address, "/v2/models/iris/infer", Some(json_length), body).await;
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status, 400, "{answer}");
        assert!(answer.contains(reason), "expected {reason:?} in {answer}");
    }
    let fine = post(&http, address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({}))).await;
    assert_eq!(fine.status, 200);
    assert_eq!(fine.body["outputs"][0]["data"], json!([2.0]));

    // The endpoints KServe's model server answers besides inference.
    assert_eq!(get(&http, address, "/").await.body, json!({ "status": "alive" }));
    let metadata = get(&http, address, "/v2").await;
    assert_eq!(metadata.body["extensions"], json!(["binary_tensor_data"]), "{}", metadata.body);
    assert_eq!(get(&http, address, "/v1/models").await.body, json!({ "models": ["iris"] }));
    assert_eq!(get(&http, address, "/v2/models").await.body, json!({ "models": ["iris"] }));
    assert_eq!(get(&http, address, "/v2/models/iris/ready").await.body, json!({ "name": "iris", "ready": true }));
    assert_eq!(get(&http, address, "/v2/models/rose/ready").await.status, 404);
    assert_eq!(get(&http, address, "/v1/models/rose").await.status, 404);
    server.shutdown().await;
}

async fn versions_of(http: &support::TestClient, address: std::net::SocketAddr, count: usize) -> (usize, usize) {
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 16;
    for worker in 0..workers {
        let http = http.clone();
        tasks.spawn(async move {
            let mut canary = 0;
            let mut stable = 0;
            for _ in (worker..count).step_by(workers) {
                let answer = post(&http, address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({}))).await;
                assert_eq!(answer.status, 200, "{}", answer.body);
                match answer.body["model_version"].as_str() {
                    Some("2") => canary += 1,
                    Some("1") => stable += 1,
                    other => panic!("unexpected version {other:?}"),
                }
            }
            (stable, canary)
        });
    }
    let mut totals = (0, 0);
    while let Some(result) = tasks.join_next().await {
        let (stable, canary) = result.expect("worker");
        totals.0 += stable;
        totals.1 += canary;
    }
    totals
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_gets_its_share_and_promote_and_rollback_move_all_traffic() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    config.canary = Some(Canary { version: model_dir(root.path(), "2", 3.0), percent: 30.0 });
    config.scaling.min = 2;
    config.scaling.max = 2;
    let server = Running::start(config).await;
    server.wait_ready(2, Duration::from_secs(30)).await;
    let http = client();

    let (stable, canary) = versions_of(&http, server.address, 2000).await;
    assert_eq!(stable + canary, 2000);
    let share = canary as f64 / 2000.0 * 100.0;
    assert!((25.0..=35.0).contains(&share), "canary got {share}% of 2000 requests, configured 30%");

    assert_eq!(request_canary_percent(server.address, server.handle.admin_token(), 100.0).await.ok(), Some(100.0));
    assert_eq!(versions_of(&http, server.address, 100).await, (0, 100));
    assert_eq!(request_canary_percent(server.address, server.handle.admin_token(), 0.0).await.ok(), Some(0.0));
    assert_eq!(versions_of(&http, server.address, 100).await, (100, 0));
    assert!(request_canary_percent(server.address, server.handle.admin_token(), 120.0).await.is_err());

    let status = server.handle.status();
    assert_eq!(status.versions[1].traffic_percent, 0.0);
    assert_eq!(status.versions[1].requests as usize, canary + 100);
    server.shutdown().await;
}
