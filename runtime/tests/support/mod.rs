//! Shared by the serving tests: the fixture predictor's config, model directories, a running server, an HTTP client.

#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kfl_runtime::serving::{Arg, ModelVersion, ServeConfig, ServeError, ServeEvent, ServeHandle, ServeReport, start};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/predictor.py")
}

/// A model directory whose predictor multiplies inputs by `factor` and tags answers with `version`.
pub fn model_dir(root: &Path, version: &str, factor: f64) -> ModelVersion {
    let dir = root.join(format!("model-{version}"));
    std::fs::create_dir_all(&dir).expect("create model dir");
    let model = serde_json::json!({ "version": version, "factor": factor });
    std::fs::write(dir.join("model.json"), model.to_string()).expect("write model.json");
    ModelVersion { version: version.to_owned(), model_dir: dir }
}

pub fn predictor_argv(name: &str, extra: &[&str]) -> Vec<Arg> {
    let mut argv = vec![
        Arg::Text("python3".into()),
        Arg::Text(fixture().display().to_string()),
        Arg::Text("predict".into()),
        Arg::Text("--port".into()),
        Arg::Port,
        Arg::Text("--model-dir".into()),
        Arg::ModelDir,
        Arg::Text("--name".into()),
        Arg::Text(name.into()),
    ];
    argv.extend(extra.iter().map(|text| Arg::Text((*text).into())));
    argv
}

pub fn config(root: &Path, name: &str) -> ServeConfig {
    let stable = model_dir(root, "1", 2.0);
    let mut config = ServeConfig::new(name, predictor_argv(name, &[]), stable);
    config.readiness_timeout = Duration::from_secs(30);
    config.request_timeout = Duration::from_secs(20);
    config.drain_timeout = Duration::from_secs(5);
    config
}

pub struct Running {
    pub handle: ServeHandle,
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<ServeReport, ServeError>>>,
    pub events: mpsc::Receiver<ServeEvent>,
}

impl Running {
    pub async fn start(config: ServeConfig) -> Running {
        let (events_tx, events) = mpsc::channel(1024);
        let server = start(config, events_tx).await.expect("server starts");
        let handle = server.handle();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        Running { address: handle.address(), handle, stop: Some(stop), task: Some(task), events }
    }

    /// Waits until `ready` replicas of every version are in rotation.
    pub async fn wait_ready(&self, ready: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let status = self.handle.status();
            if status.versions.iter().all(|v| v.ready_replicas >= ready) {
                return;
            }
            assert!(Instant::now() < deadline, "replicas not ready within {limit:?}: {status:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn shutdown(mut self) -> ServeReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("running server");
        task.await.expect("server task").expect("server ends cleanly")
    }
}

pub type TestClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub version: Option<String>,
}

pub async fn request(client: &TestClient, method: &str, url: &str, body: Vec<u8>) -> Result<Answer, String> {
    let request = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|error| error.to_string())?;
    let response = client.request(request).await.map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let version = response.headers().get("kfl-model-version").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = response.into_body().collect().await.map_err(|error| error.to_string())?.to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Ok(Answer { status, body, version })
}

pub async fn post(client: &TestClient, address: SocketAddr, path: &str, body: &Value) -> Answer {
    let url = format!("http://{address}{path}");
    request(client, "POST", &url, body.to_string().into_bytes()).await.expect("POST answered")
}

pub async fn get(client: &TestClient, address: SocketAddr, path: &str) -> Answer {
    let url = format!("http://{address}{path}");
    request(client, "GET", &url, Vec::new()).await.expect("GET answered")
}

pub fn infer_body(data: &[f64], parameters: Value) -> Value {
    serde_json::json!({
        "inputs": [{ "name": "x", "datatype": "FP64", "shape": [data.len()], "data": data }],
        "parameters": parameters,
    })
}

/// True while a process with this pid exists (signal 0 checks without signalling).
pub fn process_exists(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}
