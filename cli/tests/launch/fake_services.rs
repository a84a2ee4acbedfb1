//! In-process fakes of the two REST services `kfl launch` calls besides Kubernetes: a stateful Kubeflow Model Registry (the subset of v1alpha3 the runtime's client uses) and the KFP API v2beta1 (pipelines, versions, runs).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const REGISTRY_API: &str = "/api/model_registry/v1alpha3";

#[derive(Default)]
pub struct Services {
    pub models: Vec<Value>,
    pub versions: Vec<Value>,
    /// Version id → its artifacts.
    pub artifacts: BTreeMap<String, Vec<Value>>,
    /// KFP: pipeline display name → (pipeline id, version ids newest first).
    pub pipelines: BTreeMap<String, (String, Vec<String>)>,
    /// KFP runs (`run_id`, `display_name`, `created_at`): given by a test or started through the API.
    pub runs: Vec<Value>,
    /// Every request: method, path with query, body.
    pub seen: Vec<(String, String, Option<Value>)>,
}

pub type Shared = Arc<Mutex<Services>>;

pub fn start(services: Services) -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(services));
    let state = Arc::clone(&shared);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            sender.send(listener.local_addr().expect("addr")).expect("send");
            let app = Router::new().fallback(handle).with_state(state);
            axum::serve(listener, app).await.expect("serve");
        });
    });
    (format!("http://{}", receiver.recv().expect("address")), shared)
}

fn list(items: Vec<Value>) -> Value {
    let size = items.len();
    json!({ "items": items, "nextPageToken": "", "pageSize": 100, "size": size })
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({"code": "404", "message": "not found"}))).into_response()
}

fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| decode(v))
}

/// Percent-decoding of a query value (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(State(state): State<Shared>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let bytes = to_bytes(request.into_body(), 1 << 20).await.unwrap_or_default();
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let mut services = state.lock().expect("lock");
    let target = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
    services.seen.push((method.to_string(), target, body.clone()));
    if let Some(rest) = path.strip_prefix(REGISTRY_API) {
        return registry(&mut services, &method, rest, &query, body);
    }
    kfp(&mut services, &method, &path, &query, body)
}

fn registry(services: &mut Services, method: &Method, path: &str, query: &str, body: Option<Value>) -> Response {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let stamp = "1700000000000";
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["registered_model"]) => {
            let name = query_value(query, "name").unwrap_or_default();
            match services.models.iter().find(|m| m["name"] == name.as_str()) {
                Some(model) => axum::Json(model.clone()).into_response(),
                None => not_found(),
            }
        }
        ("POST", ["registered_models"]) => {
            let mut model = body.unwrap_or_default();
            model["id"] = json!((services.models.len() + 1).to_string());
            model["createTimeSinceEpoch"] = json!(stamp);
            model["lastUpdateTimeSinceEpoch"] = json!(stamp);
            services.models.push(model.clone());
            (StatusCode::CREATED, axum::Json(model)).into_response()
        }
        ("GET", ["registered_models", id, "versions"]) => {
            let items = services.versions.iter().filter(|v| v["registeredModelId"] == *id).cloned().collect();
            axum::Json(list(items)).into_response()
        }
        ("GET", ["model_version"]) => {
            let name = query_value(query, "name").unwrap_or_default();
            let parent = query_value(query, "parentResourceId").unwrap_or_default();
            let found = services
                .versions
                .iter()
                .find(|v| v["name"] == name.as_str() && v["registeredModelId"] == parent.as_str());
            found.map_or_else(not_found, |v| axum::Json(v.clone()).into_response())
        }
        ("POST", ["model_versions"]) => {
            let mut version = body.unwrap_or_default();
            version["id"] = json!((services.versions.len() + 100).to_string());
            version["createTimeSinceEpoch"] = json!(stamp);
            version["lastUpdateTimeSinceEpoch"] = json!(stamp);
            services.versions.push(version.clone());
            (StatusCode::CREATED, axum::Json(version)).into_response()
        }
        ("POST", ["model_versions", id, "artifacts"]) => {
            let mut artifact = body.unwrap_or_default();
            artifact["id"] = json!(format!("a{id}"));
            artifact["createTimeSinceEpoch"] = json!(stamp);
            artifact["lastUpdateTimeSinceEpoch"] = json!(stamp);
            services.artifacts.entry((*id).to_string()).or_default().push(artifact.clone());
            (StatusCode::CREATED, axum::Json(artifact)).into_response()
        }
        ("GET", ["model_versions", id, "artifacts"]) => {
            axum::Json(list(services.artifacts.get(*id).cloned().unwrap_or_default())).into_response()
        }
        _ => not_found(),
    }
}

/// KFP's ListRuns: `display_name` predicates (EQUALS, IS_SUBSTRING), newest first, `page_size`.
fn list_runs(services: &Services, query: &str) -> Value {
    let filter: Value = serde_json::from_str(&query_value(query, "filter").unwrap_or_default()).unwrap_or_default();
    let predicates = filter["predicates"].as_array().cloned().unwrap_or_default();
    let matches = |run: &&Value| {
        predicates.iter().all(|predicate| {
            let name = run["display_name"].as_str().unwrap_or_default();
            let wanted = predicate["string_value"].as_str().unwrap_or_default();
            match (predicate["key"].as_str(), predicate["operation"].as_str()) {
                (Some("display_name"), Some("EQUALS")) => name == wanted,
                (Some("display_name"), Some("IS_SUBSTRING")) => name.contains(wanted),
                _ => false,
            }
        })
    };
    let created = |run: &Value| run["created_at"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let mut runs: Vec<Value> = services.runs.iter().filter(matches).cloned().collect();
    if query_value(query, "sort_by").as_deref() == Some("created_at desc") {
        runs.sort_by_key(|run| std::cmp::Reverse(created(run)));
    }
    let page_size = query_value(query, "page_size").and_then(|size| size.parse().ok()).unwrap_or(usize::MAX);
    let total = runs.len();
    runs.truncate(page_size);
    // proto3 JSON leaves out an empty list, as KFP does.
    if runs.is_empty() { json!({}) } else { json!({ "runs": runs, "total_size": total }) }
}

fn kfp(services: &mut Services, method: &Method, path: &str, query: &str, body: Option<Value>) -> Response {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["apis", "v2beta1", "pipelines"]) => {
            let filter: Value =
                serde_json::from_str(&query_value(query, "filter").unwrap_or_default()).unwrap_or_default();
            let name = filter.pointer("/predicates/0/string_value").and_then(Value::as_str).unwrap_or_default();
            let found: Vec<Value> = services
                .pipelines
                .get(name)
                .map(|(id, _)| json!({"pipeline_id": id, "display_name": name}))
                .into_iter()
                .collect();
            axum::Json(json!({"pipelines": found, "total_size": found.len()})).into_response()
        }
        ("GET", ["apis", "v2beta1", "pipelines", id, "versions"]) => {
            let versions: Vec<Value> = services
                .pipelines
                .values()
                .filter(|(pid, _)| pid == id)
                .flat_map(|(_, versions)| versions.iter().map(|v| json!({"pipeline_version_id": v})))
                .collect();
            axum::Json(json!({"pipeline_versions": versions})).into_response()
        }
        ("GET", ["apis", "v2beta1", "runs"]) => axum::Json(list_runs(services, query)).into_response(),
        ("POST", ["apis", "v2beta1", "runs"]) => {
            let run = json!({
                "run_id": format!("run-{}", 42 + services.runs.len()),
                "display_name": body.as_ref().and_then(|b| b["display_name"].as_str()).unwrap_or_default(),
                "created_at": jiff::Timestamp::now().to_string(),
                "state": "PENDING",
            });
            services.runs.push(run.clone());
            axum::Json(run).into_response()
        }
        _ => not_found(),
    }
}
