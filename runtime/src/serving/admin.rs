//! Admin surface: `/kfl/v1/status`, `/kfl/v1/canary`, `/kfl/v1/promote`, `/kfl/v1/rollback` on the router's listener, the state file, and the CLI's client for both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyper::Method;
use serde::{Deserialize, Serialize};

use super::ServeError;
use super::event::ServeEvent;
use super::rollout::{self, VersionChange};
use super::router::{Shared, error_response};
use super::status::{StatusSnapshot, VersionStatus};
use super::upstream::{call, new_client};

pub fn snapshot(shared: &Shared) -> StatusSnapshot {
    let routes = shared.routes();
    let versions = routes
        .pools()
        .map(|pool| VersionStatus {
            version: pool.version().to_owned(),
            role: routes.role(pool),
            traffic_percent: routes.traffic_percent(pool),
            replicas: pool.replica_statuses(),
            ready_replicas: pool.ready_count(),
            in_flight: pool.in_flight.load(Ordering::Relaxed),
            requests: pool.metrics.requests(),
            errors: pool.metrics.errors(),
            restarts: pool.restarts(),
        })
        .collect();
    StatusSnapshot {
        name: shared.config.name.clone(),
        address: shared.address,
        uptime_seconds: shared.started.elapsed().as_secs_f64(),
        versions,
        window: shared.window.stats(),
    }
}

/// The router may listen beyond loopback (`bind = 0.0.0.0`); changing traffic stays local.
fn refuse_remote(peer: SocketAddr) -> Option<Response> {
    (!peer.ip().is_loopback())
        .then(|| error_response(StatusCode::FORBIDDEN, "the admin endpoints answer loopback clients only"))
}

pub async fn status(State(shared): State<Arc<Shared>>, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if let Some(refused) = refuse_remote(peer) {
        return refused;
    }
    Json(snapshot(&shared)).into_response()
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct CanaryRequest {
    pub percent: f64,
}

pub async fn set_canary(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    if let Some(refused) = refuse_remote(peer) {
        return refused;
    }
    let request: CanaryRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return error_response(StatusCode::BAD_REQUEST, format!("expected {{\"percent\": N}}: {error}")),
    };
    if shared.routes().canary.is_none() {
        return error_response(StatusCode::CONFLICT, format!("model {} has no canary version", shared.config.name));
    }
    if !(0.0..=100.0).contains(&request.percent) {
        return error_response(StatusCode::BAD_REQUEST, format!("percent {} is outside 0..100", request.percent));
    }
    shared.set_canary_percent(request.percent);
    let _ = shared.events.try_send(ServeEvent::CanaryChanged { percent: request.percent });
    Json(CanaryRequest { percent: request.percent }).into_response()
}

fn change_response(result: Result<VersionChange, ServeError>) -> Response {
    match result {
        Ok(change) => Json(change).into_response(),
        Err(error @ ServeError::Canary(_)) => error_response(StatusCode::CONFLICT, error.to_string()),
        Err(error) => error_response(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

/// Answers once the old stable version has drained and stopped.
pub async fn promote(State(shared): State<Arc<Shared>>, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if let Some(refused) = refuse_remote(peer) {
        return refused;
    }
    change_response(rollout::promote(&shared).await)
}

/// Answers once the canary has drained and stopped.
pub async fn rollback(State(shared): State<Arc<Shared>>, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if let Some(refused) = refuse_remote(peer) {
        return refused;
    }
    change_response(rollout::rollback(&shared).await)
}

/// What `.kfl/serving/<name>.json` holds while a server runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerState {
    pub name: String,
    pub address: SocketAddr,
    pub pid: u32,
    pub started_at: u64,
    pub stable_version: String,
    pub canary_version: Option<String>,
}

pub fn state_path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(format!("{name}.json"))
}

/// Writes to a temporary file and renames it, so a reader never sees half a file.
pub fn write_state(state_dir: &Path, state: &ServerState) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(state_dir)?;
    let path = state_path(state_dir, &state.name);
    let temporary = state_dir.join(format!(".{}.json.{}", state.name, std::process::id()));
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, &path)?;
    Ok(path)
}

pub fn new_state(shared: &Shared) -> ServerState {
    let routes = shared.routes();
    ServerState {
        name: shared.config.name.clone(),
        address: shared.address,
        pid: std::process::id(),
        started_at: shared.started_unix,
        stable_version: routes.stable.version().to_owned(),
        canary_version: routes.canary.as_ref().map(|pool| pool.version().to_owned()),
    }
}

/// Removes the state file if it still describes this process (a newer server may have replaced it).
pub fn remove_state(path: &Path) {
    let ours = std::fs::read(path)
        .ok()
        .and_then(|text| serde_json::from_slice::<ServerState>(&text).ok())
        .is_some_and(|state| state.pid == std::process::id());
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

/// Reads the state file of a running server named `name`, for `kfl serve promote|rollback|status`.
pub fn read_state(state_dir: &Path, name: &str) -> Result<ServerState, String> {
    let path = state_path(state_dir, name);
    let text =
        std::fs::read(&path).map_err(|error| format!("no running server {name} ({}: {error})", path.display()))?;
    serde_json::from_slice(&text).map_err(|error| format!("{} is not a serving state file: {error}", path.display()))
}

/// Sets the canary's share on a running server (`promote` = 100, `rollback` = 0).
pub async fn request_canary_percent(address: SocketAddr, percent: f64) -> Result<f64, String> {
    let body = serde_json::to_vec(&CanaryRequest { percent }).map_err(|error| error.to_string())?;
    let url = format!("http://{address}/kfl/v1/canary");
    let (status, answer) = call(&new_client(), Method::POST, &url, Bytes::from(body), Duration::from_secs(10)).await?;
    if !status.is_success() {
        return Err(format!("{url} answered {status}: {}", String::from_utf8_lossy(&answer)));
    }
    let set: CanaryRequest = serde_json::from_slice(&answer).map_err(|error| format!("{url}: {error}"))?;
    Ok(set.percent)
}

/// Promotes (`true`) or rolls back the canary of a running server; answers after the version
/// that left has drained and stopped, so the wait covers the server's drain timeout.
async fn request_change(address: SocketAddr, promote: bool) -> Result<VersionChange, String> {
    let url = format!("http://{address}/kfl/v1/{}", if promote { "promote" } else { "rollback" });
    let (status, answer) = call(&new_client(), Method::POST, &url, Bytes::new(), Duration::from_secs(300)).await?;
    if !status.is_success() {
        return Err(format!("{url} answered {status}: {}", String::from_utf8_lossy(&answer)));
    }
    serde_json::from_slice(&answer).map_err(|error| format!("{url}: {error}"))
}

/// `kfl serve promote`: all traffic to the canary, the old stable version stopped.
pub async fn request_promote(address: SocketAddr) -> Result<VersionChange, String> {
    request_change(address, true).await
}

/// `kfl serve rollback`: all traffic to the stable version, the canary stopped.
pub async fn request_rollback(address: SocketAddr) -> Result<VersionChange, String> {
    request_change(address, false).await
}

/// Fetches the status snapshot of a running server.
pub async fn request_status(address: SocketAddr) -> Result<StatusSnapshot, String> {
    let url = format!("http://{address}/kfl/v1/status");
    let (status, answer) = call(&new_client(), Method::GET, &url, Bytes::new(), Duration::from_secs(10)).await?;
    if !status.is_success() {
        return Err(format!("{url} answered {status}: {}", String::from_utf8_lossy(&answer)));
    }
    serde_json::from_slice(&answer).map_err(|error| format!("{url}: {error}"))
}
