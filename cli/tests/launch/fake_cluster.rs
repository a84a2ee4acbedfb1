//! An in-process fake Kubernetes API server for `kfl launch` and `kfl apply` tests: records every request, stores created and applied objects, and answers reads with a scripted sequence of statuses.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
}

#[derive(Default)]
pub struct Cluster {
    /// Object path (`/apis/…/namespaces/NS/PLURAL/NAME`) → stored object.
    pub objects: BTreeMap<String, Value>,
    /// Object path → statuses the n-th read returns (the last one repeats).
    pub statuses: BTreeMap<String, Vec<Value>>,
    /// Object path → how many reads it had.
    pub reads: BTreeMap<String, usize>,
    pub seen: Vec<Seen>,
    /// `GET /api/v1/namespaces/NS/pods` answer items, and each pod's log.
    pub pods: Vec<Value>,
    pub logs: BTreeMap<String, String>,
    /// Object path → the message a server-side apply (PATCH) of it is refused with (422).
    pub refused: BTreeMap<String, String>,
}

pub type Shared = Arc<Mutex<Cluster>>;

/// Starts the server on a free port; returns its URL and the shared state.
pub fn start(cluster: Cluster) -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(cluster));
    let url = serve(Router::new().fallback(handle).with_state(Arc::clone(&shared)));
    (url, shared)
}

/// Serves `app` on a free port of 127.0.0.1 from a thread of its own (for as long as the test runs); its URL.
pub fn serve(app: Router) -> String {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            sender.send(listener.local_addr().expect("addr")).expect("send");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    let addr = receiver.recv().expect("server address");
    format!("http://{addr}")
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code});
    (StatusCode::from_u16(code).expect("code"), axum::Json(body)).into_response()
}

async fn handle(State(state): State<Shared>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let dry_run = request.uri().query().is_some_and(|query| query.split('&').any(|pair| pair == "dryRun=All"));
    let selector = request.uri().query().and_then(|query| {
        let pair = query.split('&').find_map(|pair| pair.strip_prefix("labelSelector="))?;
        Some(percent_decode(pair))
    });
    let bytes = to_bytes(request.into_body(), 1 << 24).await.unwrap_or_default();
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let mut cluster = state.lock().expect("lock");
    cluster.seen.push(Seen { method: method.to_string(), path: path.clone(), body: body.clone() });
    if path.ends_with("/pods") && method == Method::GET {
        let items = cluster.pods.clone();
        return axum::Json(json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}))
            .into_response();
    }
    if let Some(pod) = path.strip_suffix("/log") {
        let name = pod.rsplit('/').next().unwrap_or_default().to_string();
        return match cluster.logs.get(&name) {
            Some(log) => Response::new(Body::from(log.clone())),
            None => status(404, "NotFound", "no such pod"),
        };
    }
    match method {
        Method::POST => {
            let Some(object) = body else { return status(400, "BadRequest", "no body") };
            let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let key = format!("{path}/{name}");
            if cluster.objects.contains_key(&key) {
                return status(409, "AlreadyExists", &format!("{name} already exists"));
            }
            let mut stored = object.clone();
            stored["metadata"]["resourceVersion"] = json!("1");
            stored["metadata"]["generation"] = json!(1);
            cluster.objects.insert(key, stored.clone());
            (StatusCode::CREATED, axum::Json(stored)).into_response()
        }
        Method::PUT => {
            let Some(mut object) = body else { return status(400, "BadRequest", "no body") };
            let Some(old) = cluster.objects.get(&path).cloned() else { return status(404, "NotFound", "absent") };
            let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1) + 1;
            object["metadata"]["generation"] = json!(generation);
            object["metadata"]["resourceVersion"] = json!(generation.to_string());
            cluster.objects.insert(path, object.clone());
            axum::Json(object).into_response()
        }
        Method::GET => {
            if let Some(selector) = selector.filter(|_| !cluster.objects.contains_key(&path)) {
                return list(&cluster, &path, &selector);
            }
            let Some(mut object) = cluster.objects.get(&path).cloned() else {
                return status(404, "NotFound", "not found");
            };
            let read = cluster.reads.entry(path.clone()).or_default();
            let n = *read;
            *read += 1;
            if let Some(statuses) = cluster.statuses.get(&path)
                && let Some(last) = statuses.last()
            {
                object["status"] = statuses.get(n).unwrap_or(last).clone();
            }
            axum::Json(object).into_response()
        }
        Method::PATCH => {
            if let Some(message) = cluster.refused.get(&path) {
                return status(422, "Invalid", message);
            }
            let Some(mut object) = body else { return status(400, "BadRequest", "no body") };
            let generation = cluster.objects.get(&path).and_then(|o| o.pointer("/metadata/generation")?.as_i64());
            let generation = generation.unwrap_or(0) + 1;
            object["metadata"]["generation"] = json!(generation);
            object["metadata"]["resourceVersion"] = json!(generation.to_string());
            if !dry_run {
                cluster.objects.insert(path, object.clone());
            }
            axum::Json(object).into_response()
        }
        _ => status(405, "MethodNotAllowed", "unsupported"),
    }
}

/// A list of the collection `path`'s objects whose labels match every `KEY=VALUE` of `selector`.
fn list(cluster: &Cluster, path: &str, selector: &str) -> Response {
    let terms: Vec<(&str, &str)> = selector.split(',').filter_map(|term| term.split_once('=')).collect();
    let items: Vec<Value> = cluster
        .objects
        .iter()
        .filter(|(key, _)| {
            key.strip_prefix(path).and_then(|rest| rest.strip_prefix('/')).is_some_and(|n| !n.contains('/'))
        })
        .filter(|(_, object)| terms.iter().all(|(k, v)| object["metadata"]["labels"][*k] == *v))
        .map(|(_, object)| object.clone())
        .collect();
    axum::Json(json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}))
        .into_response()
}

/// `%XX` escapes decoded (a label selector's `=` and `,` arrive escaped).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()),
        ) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A kubeconfig whose current context points at `url` with namespace `default`.
pub fn kubeconfig(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\nusers:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\n"
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}
