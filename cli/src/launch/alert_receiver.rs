//! `kfl launch retrain --listen ADDR`: Alertmanager's webhook receiver for `then = retrain` rules; a firing retrain alert starts one pipeline run, at most one per cooldown.
//!
//! Alertmanager POSTs its webhook notification (version "4": `status`,
//! `alerts[]` with `status` firing|resolved, `labels`, `fingerprint`,
//! `startsAt`) to `/alerts`, and re-sends a firing group every
//! `repeat_interval`. A notification with at least one firing alert labelled
//! `kfl_action="retrain"` starts one run of the pipeline (reason
//! `alert:NAME[,NAME…]`), unless this receiver started one less than
//! `--cooldown` ago: one run retrains for every alert. Runs are started one
//! at a time (a lock held across the KFP call), so two notifications
//! arriving together start one run.
//!
//! Every `/alerts` request must carry `Authorization: Bearer TOKEN` with the
//! token in `$KFL_ALERT_TOKEN` (the receiver's Secret, which the
//! AlertmanagerConfig's webhook also sends); others get 401 and start nothing.
//! `/healthz` (the kubelet's probes) needs none. The receiver refuses to start
//! without a token.
//!
//! Answers: 200 with `{"started": true, "run_id", "reason"}` or
//! `{"started": false, "why"}`; 400 for a body that is not a version-4
//! notification; 413 over the size limit; 502 when the KFP call fails,
//! which Alertmanager retries (the cooldown starts only with a run). The
//! cooldown is kept in memory and, when memory has no run within it (a
//! restarted receiver, or another replica's run), read from KFP: the newest
//! run whose display name says an alert started it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kfl_compiler::codegen::launcher::ALERT_TOKEN_ENV;
use kfl_runtime::serving::same_secret;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::retrain::{ALERT_REASON_PREFIX, Args, newest_alert_run, start_run};
use super::{LaunchError, Result};

/// Alertmanager's webhook payload version this receiver reads.
const PAYLOAD_VERSION: &str = "4";
/// The label a kfl rule's action is in, and the value that asks for a run.
const ACTION_LABEL: &str = "kfl_action";
const RETRAIN: &str = kfl_runtime::serving::Action::Retrain.name();
/// A notification is a few kB per alert; this leaves room for hundreds.
const MAX_BODY: usize = 1 << 20;

/// Alertmanager's webhook notification (the fields this receiver reads).
#[derive(Deserialize)]
struct Notification {
    version: String,
    status: String,
    alerts: Vec<Alert>,
}

#[derive(Deserialize)]
struct Alert {
    status: String,
    labels: BTreeMap<String, String>,
    #[serde(default)]
    fingerprint: String,
    #[serde(rename = "startsAt", default)]
    starts_at: String,
}

struct Receiver {
    args: Arc<Args>,
    /// What `/alerts` requests must present as `Authorization: Bearer TOKEN`.
    token: String,
    cooldown: Duration,
    /// When the last run started, and its id.
    last_run: Mutex<Option<(Instant, String)>>,
}

/// Serves until SIGTERM or Ctrl-C.
pub(super) async fn serve(args: Args, address: SocketAddr) -> Result<()> {
    let token = std::env::var(ALERT_TOKEN_ENV).unwrap_or_default().trim().to_string();
    if token.is_empty() {
        return Err(LaunchError::usage(format!(
            "the receiver needs the bearer token Alertmanager sends in ${ALERT_TOKEN_ENV} (on a cluster, from the \
             receiver's Secret: see docs/SECURITY.md); without one anyone who reaches it could start runs"
        )));
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|err| LaunchError::usage(format!("cannot listen on {address}: {err}")))?;
    let local = listener.local_addr().map_err(|err| LaunchError::failed(format!("listening on {address}: {err}")))?;
    let receiver =
        Arc::new(Receiver { cooldown: args.cooldown, args: Arc::new(args), token, last_run: Mutex::new(None) });
    let app = Router::new()
        .route("/alerts", post(alerts))
        .route_layer(axum::middleware::from_fn_with_state(Arc::clone(&receiver), authenticate))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(receiver);
    // The first line on stdout, so whoever started it (a test, a wrapper) learns the port of `:0`.
    println!("listening on {local}");
    axum::serve(listener, app)
        .with_graceful_shutdown(crate::commands::run::interrupted())
        .await
        .map_err(|err| LaunchError::failed(format!("serving on {local}: {err}")))?;
    eprintln!("stopped");
    Ok(())
}

/// Refuses `/alerts` requests without the receiver's bearer token, before their body is read.
async fn authenticate(State(receiver): State<Arc<Receiver>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    if !given.is_some_and(|given| same_secret(given.as_bytes(), receiver.token.as_bytes())) {
        let error = format!("`Authorization: Bearer TOKEN` with the receiver's token (${ALERT_TOKEN_ENV}) is required");
        let mut refused = answer(StatusCode::UNAUTHORIZED, json!({ "started": false, "error": error }));
        refused.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return refused;
    }
    next.run(request).await
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn alerts(State(receiver): State<Arc<Receiver>>, body: Bytes) -> Response {
    let notification: Notification = match serde_json::from_slice(&body) {
        Ok(notification) => notification,
        Err(err) => {
            let error = format!("not an Alertmanager webhook notification: {err}");
            return answer(StatusCode::BAD_REQUEST, json!({ "started": false, "error": error }));
        }
    };
    if notification.version != PAYLOAD_VERSION {
        let error = format!("webhook payload version `{}`; this receiver reads version 4", notification.version);
        return answer(StatusCode::BAD_REQUEST, json!({ "started": false, "error": error }));
    }
    let firing: Vec<&Alert> = notification
        .alerts
        .iter()
        .filter(|a| a.status == "firing" && a.labels.get(ACTION_LABEL).is_some_and(|v| v == RETRAIN))
        .collect();
    if firing.is_empty() {
        let why =
            format!("no firing alert labelled {ACTION_LABEL}=\"{RETRAIN}\" (notification {})", notification.status);
        eprintln!("{why}");
        return answer(StatusCode::OK, json!({ "started": false, "why": why }));
    }
    for alert in &firing {
        let name = alert.labels.get("alertname").map_or("?", String::as_str);
        eprintln!("firing: {name} (fingerprint {}, since {})", alert.fingerprint, alert.starts_at);
    }
    let names: BTreeSet<&str> =
        firing.iter().map(|a| a.labels.get("alertname").map_or("unnamed", String::as_str)).collect();
    let reason = format!("{ALERT_REASON_PREFIX}{}", names.into_iter().collect::<Vec<_>>().join(","));
    // Held across the KFP call: a second notification waits, then sees this run's cooldown.
    let mut last_run = receiver.last_run.lock().await;
    if let Some((at, run_id)) = last_run.as_ref()
        && at.elapsed() < receiver.cooldown
    {
        let why = format!(
            "run {run_id} started {}s ago, within the {}s cooldown",
            at.elapsed().as_secs(),
            receiver.cooldown.as_secs()
        );
        eprintln!("{reason}: {why}");
        return answer(StatusCode::OK, json!({ "started": false, "why": why }));
    }
    match alert_run_in_kfp_cooldown(&receiver).await {
        Ok(None) => {}
        Ok(Some((age, run_id))) => {
            let cooldown = receiver.cooldown.as_secs();
            let why =
                format!("run {run_id} started {}s ago (found in KFP), within the {cooldown}s cooldown", age.as_secs());
            eprintln!("{reason}: {why}");
            *last_run = Some((Instant::now().checked_sub(age).unwrap_or_else(Instant::now), run_id));
            return answer(StatusCode::OK, json!({ "started": false, "why": why }));
        }
        Err((status, error)) => {
            eprintln!("{reason}: {error}");
            return answer(status, json!({ "started": false, "error": error }));
        }
    }
    let args = Arc::clone(&receiver.args);
    let run_reason = reason.clone();
    match tokio::task::spawn_blocking(move || start_run(&args, &run_reason)).await {
        Ok(Ok(run_id)) => {
            eprintln!("{reason}: started run {run_id}");
            *last_run = Some((Instant::now(), run_id.clone()));
            answer(StatusCode::OK, json!({ "started": true, "run_id": run_id, "reason": reason }))
        }
        Ok(Err(err)) => {
            eprintln!("{reason}: {}", err.message());
            answer(StatusCode::BAD_GATEWAY, json!({ "started": false, "error": err.message() }))
        }
        Err(err) => {
            let error = format!("the KFP call stopped: {err}");
            answer(StatusCode::INTERNAL_SERVER_ERROR, json!({ "started": false, "error": error }))
        }
    }
}

/// The newest alert-started run KFP knows, with its age, when it is within the cooldown; an error
/// (status and message) when KFP cannot be asked, which Alertmanager retries.
async fn alert_run_in_kfp_cooldown(
    receiver: &Receiver,
) -> std::result::Result<Option<(Duration, String)>, (StatusCode, String)> {
    let args = Arc::clone(&receiver.args);
    let found = match tokio::task::spawn_blocking(move || newest_alert_run(&args)).await {
        Ok(Ok(found)) => found,
        Ok(Err(err)) => return Err((StatusCode::BAD_GATEWAY, err.message().to_string())),
        Err(err) => return Err((StatusCode::INTERNAL_SERVER_ERROR, format!("the KFP call stopped: {err}"))),
    };
    Ok(found.and_then(|run| {
        // A clock behind KFP's makes the age negative: the run counts as just started.
        let age = Duration::try_from(jiff::Timestamp::now().duration_since(run.created_at)).unwrap_or_default();
        (age < receiver.cooldown).then_some((age, run.run_id))
    }))
}
