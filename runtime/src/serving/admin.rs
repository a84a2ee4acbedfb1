//! Admin surface: `/kfl/v1/status`, `/kfl/v1/canary`, `/kfl/v1/promote`, `/kfl/v1/rollback` on the router's listener, and the CLI's client for them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyper::Method;
use serde::{Deserialize, Serialize};

use super::ServeError;
use super::event::ServeEvent;
use super::event::VersionChange;
use super::rollout;
use super::shared::{Shared, error_response};
use super::status::StatusSnapshot;
use super::upstream::{UpstreamError, call, new_client};

// Who may call these (loopback peer, Host, Origin, token, content type) is checked before any
// of them runs, in `guard.rs`.

pub async fn status(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.snapshot()).into_response()
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct CanaryRequest {
    pub percent: f64,
}

pub async fn set_canary(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
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
pub async fn promote(State(shared): State<Arc<Shared>>) -> Response {
    change_response(rollout::promote(&shared).await)
}

/// Answers once the canary has drained and stopped.
pub async fn rollback(State(shared): State<Arc<Shared>>) -> Response {
    change_response(rollout::rollback(&shared).await)
}

/// Why an admin request to a running server failed; the server is unchanged unless it answered.
#[derive(Debug)]
pub enum AdminError {
    Encode(serde_json::Error),
    /// No whole answer (connection refused, timeout).
    Call(UpstreamError),
    /// The server refused the request (wrong token, no canary, bad percent), in its words.
    Status {
        url: String,
        status: StatusCode,
        body: String,
    },
    /// An answer this kfl cannot read.
    Decode {
        url: String,
        source: serde_json::Error,
    },
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Encode(e) => e.fmt(f),
            AdminError::Call(e) => e.fmt(f),
            AdminError::Status { url, status, body } => write!(f, "{url} answered {status}: {body}"),
            AdminError::Decode { url, source } => write!(f, "{url}: {source}"),
        }
    }
}

impl std::error::Error for AdminError {}

impl From<UpstreamError> for AdminError {
    fn from(e: UpstreamError) -> Self {
        AdminError::Call(e)
    }
}

/// Sets the canary's share on a running server (`promote` = 100, `rollback` = 0); `token` is the
/// server's admin token (from its state file, or [`super::ServeHandle::admin_token`]).
pub async fn request_canary_percent(address: SocketAddr, token: &str, percent: f64) -> Result<f64, AdminError> {
    let body = serde_json::to_vec(&CanaryRequest { percent }).map_err(AdminError::Encode)?;
    let url = format!("http://{address}/kfl/v1/canary");
    let (status, answer) =
        call(&new_client(), Method::POST, &url, Bytes::from(body), Some(token), Duration::from_secs(10)).await?;
    if !status.is_success() {
        return Err(AdminError::Status { url, status, body: String::from_utf8_lossy(&answer).into_owned() });
    }
    let set: CanaryRequest = serde_json::from_slice(&answer).map_err(|source| AdminError::Decode { url, source })?;
    Ok(set.percent)
}

/// Promotes (`true`) or rolls back the canary of a running server; answers after the version
/// that left has drained and stopped, so the wait covers the server's drain timeout.
async fn request_change(address: SocketAddr, token: &str, promote: bool) -> Result<VersionChange, AdminError> {
    let url = format!("http://{address}/kfl/v1/{}", if promote { "promote" } else { "rollback" });
    let (status, answer) =
        call(&new_client(), Method::POST, &url, Bytes::new(), Some(token), Duration::from_secs(300)).await?;
    if !status.is_success() {
        return Err(AdminError::Status { url, status, body: String::from_utf8_lossy(&answer).into_owned() });
    }
    serde_json::from_slice(&answer).map_err(|source| AdminError::Decode { url, source })
}

/// `kfl serve promote`: all traffic to the canary, the old stable version stopped.
pub async fn request_promote(address: SocketAddr, token: &str) -> Result<VersionChange, AdminError> {
    request_change(address, token, true).await
}

/// `kfl serve rollback`: all traffic to the stable version, the canary stopped.
pub async fn request_rollback(address: SocketAddr, token: &str) -> Result<VersionChange, AdminError> {
    request_change(address, token, false).await
}

/// Fetches the status snapshot of a running server.
pub async fn request_status(address: SocketAddr, token: &str) -> Result<StatusSnapshot, AdminError> {
    let url = format!("http://{address}/kfl/v1/status");
    let (status, answer) =
        call(&new_client(), Method::GET, &url, Bytes::new(), Some(token), Duration::from_secs(10)).await?;
    if !status.is_success() {
        return Err(AdminError::Status { url, status, body: String::from_utf8_lossy(&answer).into_owned() });
    }
    serde_json::from_slice(&answer).map_err(|source| AdminError::Decode { url, source })
}
