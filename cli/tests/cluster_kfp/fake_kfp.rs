//! An in-process fake of the KFP API server v2beta1 for `kfl apply --kfp` and `kfl status`: exactly the endpoints kfl calls, with KFP 2.17.0's rules and answers.
//!
//! Written from kubeflow/pipelines 2.17.0: `backend/api/v2beta1/{pipeline,experiment,run,filter}.proto`, the
//! multipart endpoints of `backend/api/v2beta1/swagger/pipeline.upload.swagger.json` as
//! `backend/src/apiserver/server/pipeline_upload_server.go` serves them (the file read from the `uploadfile`
//! part, a `.yaml` name required by `ReadPipelineFile`, `pipelineid` required, a taken version name refused with
//! 409 and `{error_message, error_details}`), grpc-gateway errors as `google.rpc.Status` (`{code, message}`:
//! NotFound 404, AlreadyExists 409, InvalidArgument 400, Unauthenticated 401), answers in proto field names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Query as AxumQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// How the server answers every request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Normal,
    /// Accept the connection and the request, never answer.
    Hang,
}

#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Version {
    pub id: String,
    pub pipeline_id: String,
    pub name: String,
    /// The uploaded file, byte for byte.
    pub spec: Vec<u8>,
    pub file_name: String,
}

pub struct Kfp {
    pub mode: Mode,
    /// Single-user mode: every pipeline's and experiment's namespace is emptied (`ReplaceNamespace`,
    /// backend/src/apiserver/resource/resource_manager.go, 2.17.0), and runs execute in KFP's own namespace.
    pub single_user: bool,
    /// When set, every call needs `Authorization: Bearer TOKEN` (401 otherwise).
    pub token: Option<String>,
    /// `(METHOD, path)` answered with this status and message instead.
    pub fail: Option<(String, String, u16)>,
    /// `(id, name, namespace)`.
    pub pipelines: Vec<(String, String, String)>,
    /// In creation order.
    pub versions: Vec<Version>,
    /// `(id, display_name, namespace)`.
    pub experiments: Vec<(String, String, String)>,
    /// Created runs (with the server's fields), in creation order, plus their namespace.
    pub runs: Vec<(Value, String)>,
    pub seen: Vec<Seen>,
    /// The number in the next id the server hands out (ids are `KIND-N`, N counting every creation).
    pub next_id: u64,
}

impl Default for Kfp {
    fn default() -> Self {
        Kfp {
            mode: Mode::Normal,
            single_user: false,
            token: None,
            fail: None,
            pipelines: Vec::new(),
            versions: Vec::new(),
            experiments: Vec::new(),
            runs: Vec::new(),
            seen: Vec::new(),
            next_id: 0,
        }
    }
}

pub type Shared = Arc<Mutex<Kfp>>;

/// Starts the server on a free port of 127.0.0.1; its URL and state.
pub fn start(kfp: Kfp) -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(kfp));
    let url = crate::fake_cluster::serve(Router::new().fallback(handle).with_state(Arc::clone(&shared)));
    (url, shared)
}

/// A grpc-gateway error: `google.rpc.Status` in JSON.
fn rpc_error(status: u16, code: u32, message: &str) -> Response {
    (
        StatusCode::from_u16(status).expect("status"),
        axum::Json(json!({"code": code, "message": message, "details": []})),
    )
        .into_response()
}

/// An upload endpoint's error (`writeErrorToResponse`).
fn upload_error(status: u16, message: &str) -> Response {
    let body = json!({"error_message": message, "error_details": message});
    (StatusCode::from_u16(status).expect("status"), axum::Json(body)).into_response()
}

/// The namespace KFP records: the one asked for, or none in single-user mode.
fn placed(single_user: bool, namespace: String) -> String {
    if single_user { String::new() } else { namespace }
}

/// A query's values, percent-decoded (axum's `Query`, serde_urlencoded).
type Query = HashMap<String, String>;

/// The `EQUALS` predicates of a list filter (`filter.proto`), as `(key, value)`.
fn equals_predicates(query: &Query) -> Vec<(String, String)> {
    let Some(filter) = query.get("filter") else { return Vec::new() };
    let filter: Value = serde_json::from_str(filter).expect("the filter is JSON");
    filter["predicates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            assert_eq!(p["operation"], "EQUALS", "only EQUALS is used: {p}");
            (
                p["key"].as_str().unwrap_or_default().to_string(),
                p["string_value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The `uploadfile` part of a multipart body: its file name and bytes.
fn uploaded_file(headers: &HeaderMap, body: &[u8]) -> Option<(String, Vec<u8>)> {
    let content_type = headers.get("content-type")?.to_str().ok()?;
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=")?;
    let delimiter = format!("--{boundary}");
    let text = body;
    let start = find(text, delimiter.as_bytes())? + delimiter.len() + 2;
    let headers_end = start + find(&text[start..], b"\r\n\r\n")?;
    let part_headers = std::str::from_utf8(&text[start..headers_end]).ok()?;
    if !part_headers.contains("name=\"uploadfile\"") {
        return None;
    }
    let file_name = part_headers.split("filename=\"").nth(1)?.split('"').next()?.to_string();
    let content_start = headers_end + 4;
    let end = content_start + find(&text[content_start..], format!("\r\n{delimiter}--").as_bytes())?;
    Some((file_name, text[content_start..end].to_vec()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

async fn handle(State(state): State<Shared>, AxumQuery(values): AxumQuery<Query>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let value = |key: &str| values.get(key).cloned();
    let headers = request.headers().clone();
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = to_bytes(request.into_body(), 64 << 20).await.unwrap_or_default();
    let mode = {
        let mut kfp = state.lock().expect("lock");
        kfp.seen.push(Seen {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            authorization: authorization.clone(),
        });
        kfp.mode
    };
    if mode == Mode::Hang {
        std::future::pending::<()>().await;
    }
    let mut kfp = state.lock().expect("lock");
    if let Some(token) = &kfp.token
        && authorization.as_deref() != Some(&format!("Bearer {token}"))
    {
        return rpc_error(401, 16, "Unauthenticated: Request header error: there is no user identity header.");
    }
    if let Some((fail_method, fail_path, status)) = &kfp.fail
        && *fail_method == method.as_str()
        && *fail_path == path
    {
        return rpc_error(*status, 13, "Internal error: Failed to create a run due to error fetching manifest");
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), &segments[..]) {
        ("GET", ["apis", "v2beta1", "pipelines", "names", name]) => {
            let namespace = placed(kfp.single_user, value("namespace").unwrap_or_default());
            match kfp.pipelines.iter().find(|(_, n, ns)| n == name && *ns == namespace) {
                Some((id, name, namespace)) => {
                    axum::Json(json!({"pipeline_id": id, "name": name, "display_name": name, "namespace": namespace}))
                        .into_response()
                }
                None => {
                    rpc_error(404, 5, &format!("Failed to get a pipeline with name {name} and namespace {namespace}"))
                }
            }
        }
        ("POST", ["apis", "v2beta1", "pipelines"]) => {
            let body: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let name = body["name"].as_str().unwrap_or_default().to_string();
            let namespace = placed(kfp.single_user, body["namespace"].as_str().unwrap_or_default().to_string());
            if name.is_empty() {
                return rpc_error(400, 3, "pipeline name is empty");
            }
            if kfp.pipelines.iter().any(|(_, n, ns)| *n == name && *ns == namespace) {
                return rpc_error(409, 6, "Failed to create a pipeline: already exists");
            }
            kfp.next_id += 1;
            let id = format!("pipeline-{}", kfp.next_id);
            kfp.pipelines.push((id.clone(), name.clone(), namespace.clone()));
            axum::Json(
                json!({"pipeline_id": id, "name": name, "display_name": body["display_name"], "namespace": namespace}),
            )
            .into_response()
        }
        ("POST", ["apis", "v2beta1", "pipelines", "upload_version"]) => {
            let Some((file_name, spec)) = uploaded_file(&headers, &bytes) else {
                return upload_error(400, "Failed to create a pipeline version");
            };
            if !(file_name.ends_with(".yaml") || file_name.ends_with(".yml")) {
                return upload_error(400, "Failed to create a pipeline version");
            }
            let Some(pipeline_id) = value("pipelineid").filter(|id| !id.is_empty()) else {
                return upload_error(400, "Failed to create a pipeline version");
            };
            if !kfp.pipelines.iter().any(|(id, ..)| *id == pipeline_id) {
                return upload_error(400, "Failed to create a pipeline version");
            }
            let name = value("name").unwrap_or_else(|| file_name.clone());
            if name.len() > 127 {
                return (StatusCode::BAD_REQUEST, "PipelineVersion.Name length cannot exceed 127").into_response();
            }
            if kfp.versions.iter().any(|v| v.pipeline_id == pipeline_id && v.name == name) {
                return upload_error(409, "Failed to create a pipeline version");
            }
            kfp.next_id += 1;
            let id = format!("version-{}", kfp.next_id);
            kfp.versions.push(Version {
                id: id.clone(),
                pipeline_id: pipeline_id.clone(),
                name: name.clone(),
                spec,
                file_name,
            });
            axum::Json(
                json!({"pipeline_id": pipeline_id, "pipeline_version_id": id, "name": name, "display_name": name}),
            )
            .into_response()
        }
        ("GET", ["apis", "v2beta1", "pipelines", pipeline_id, "versions"]) => {
            assert_eq!(value("sort_by").as_deref(), Some("created_at desc"), "{query}");
            let size: usize = value("page_size").and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
            let versions: Vec<Value> = kfp
                .versions
                .iter()
                .rev()
                .filter(|v| v.pipeline_id == *pipeline_id)
                .take(size)
                .map(|v| json!({"pipeline_id": v.pipeline_id, "pipeline_version_id": v.id, "name": v.name}))
                .collect();
            axum::Json(json!({"pipeline_versions": versions, "total_size": versions.len()})).into_response()
        }
        ("GET", ["apis", "v2beta1", "experiments"]) => {
            let namespace = placed(kfp.single_user, value("namespace").unwrap_or_default());
            let wanted = equals_predicates(&values);
            let experiments: Vec<Value> = kfp
                .experiments
                .iter()
                .filter(|(_, name, ns)| {
                    *ns == namespace && wanted.iter().all(|(k, v)| k == "display_name" && v == name)
                })
                .map(|(id, name, ns)| json!({"experiment_id": id, "display_name": name, "namespace": ns}))
                .collect();
            axum::Json(json!({"experiments": experiments, "total_size": experiments.len()})).into_response()
        }
        ("POST", ["apis", "v2beta1", "experiments"]) => {
            let body: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let name = body["display_name"].as_str().unwrap_or_default().to_string();
            let namespace = placed(kfp.single_user, body["namespace"].as_str().unwrap_or_default().to_string());
            if kfp.experiments.iter().any(|(_, n, ns)| *n == name && *ns == namespace) {
                return rpc_error(409, 6, "Failed to create an experiment: already exists");
            }
            kfp.next_id += 1;
            let id = format!("experiment-{}", kfp.next_id);
            kfp.experiments.push((id.clone(), name.clone(), namespace.clone()));
            axum::Json(json!({"experiment_id": id, "display_name": name, "namespace": namespace})).into_response()
        }
        ("POST", ["apis", "v2beta1", "runs"]) => {
            let mut run: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            if run["display_name"].as_str().is_none_or(str::is_empty) {
                return rpc_error(400, 3, "The run name is empty. Please specify a valid name");
            }
            let experiment = run["experiment_id"].as_str().unwrap_or_default().to_string();
            let Some(namespace) = kfp.experiments.iter().find(|(id, ..)| *id == experiment).map(|e| e.2.clone()) else {
                return rpc_error(400, 3, "Experiment id can not be empty in multi-user mode");
            };
            let reference = &run["pipeline_version_reference"];
            let known = kfp.versions.iter().any(|v| {
                reference["pipeline_id"] == v.pipeline_id.as_str() && reference["pipeline_version_id"] == v.id.as_str()
            });
            if !known {
                return rpc_error(404, 5, "pipeline version not found");
            }
            kfp.next_id += 1;
            run["run_id"] = json!(format!("run-{}", kfp.next_id));
            run["state"] = json!("PENDING");
            run["created_at"] = json!(format!("2026-12-07T10:00:{:02}Z", kfp.next_id % 60));
            kfp.runs.push((run.clone(), namespace));
            axum::Json(run).into_response()
        }
        ("GET", ["apis", "v2beta1", "runs"]) => {
            assert_eq!(value("sort_by").as_deref(), Some("created_at desc"), "{query}");
            let namespace = placed(kfp.single_user, value("namespace").unwrap_or_default());
            let size: usize = value("page_size").and_then(|s| s.parse().ok()).unwrap_or(20);
            let skip: usize = value("page_token").and_then(|s| s.parse().ok()).unwrap_or(0);
            let all: Vec<&Value> =
                kfp.runs.iter().rev().filter(|(_, ns)| *ns == namespace).map(|(run, _)| run).collect();
            let page: Vec<&Value> = all.iter().skip(skip).take(size).copied().collect();
            let next = if skip + size < all.len() { (skip + size).to_string() } else { String::new() };
            axum::Json(json!({"runs": page, "total_size": all.len(), "next_page_token": next})).into_response()
        }
        _ => rpc_error(404, 5, &format!("Not Found: {method} {path}")),
    }
}
