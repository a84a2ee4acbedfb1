//! The router: KServe V1 and V2 endpoints proxied to a ready replica, canary split, limits, `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::admin;
use super::binary_tensor::{self, BinaryOutputs};
use super::guard;
use super::metrics::{self, VersionGauges};
use super::pool::{Lease, Pool};
use super::shared::{Routes, Shared, error_response};
use super::upstream_pool::{ExchangeError, Outgoing};

pub fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        // KServe 0.21.0 answers V1 liveness at `/` (python/kserve/kserve/protocol/rest/server.py,
        // `dataplane.live`), which its SDK's V1 `is_server_live` reads as `status == "alive"`.
        .route("/", get(|| async { axum::Json(serde_json::json!({ "status": "alive" })) }))
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(|| async { axum::Json(serde_json::json!({ "live": true })) }))
        .route("/v2/health/ready", get(health_ready))
        .route("/v1/models", get(model_list))
        .route("/v2/models", get(model_list))
        .route("/kfl/v1/status", get(admin::status))
        .route("/kfl/v1/canary", post(admin::set_canary))
        .route("/kfl/v1/promote", post(admin::promote))
        .route("/kfl/v1/rollback", post(admin::rollback))
        .fallback(dispatch)
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&shared), guard::check))
        .with_state(shared)
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    let routes = shared.routes();
    let mut versions: Vec<(Arc<Pool>, VersionGauges)> = routes
        .pools()
        .map(|pool| {
            let gauges = VersionGauges {
                ready_replicas: pool.ready_count(),
                replicas: pool.replica_count(),
                in_flight: pool.in_flight.load(Ordering::Relaxed),
                traffic_percent: routes.traffic_percent(pool),
            };
            (Arc::clone(pool), gauges)
        })
        .collect();
    // Counters never go back: a version rolled out of the server keeps its series.
    for pool in shared.every_pool() {
        if pool.is_retired() && !routes.pools().any(|routed| Arc::ptr_eq(routed, &pool)) {
            let gauges = VersionGauges { ready_replicas: 0, replicas: 0, in_flight: 0, traffic_percent: 0.0 };
            versions.push((pool, gauges));
        }
    }
    let borrowed: Vec<_> = versions.iter().map(|(pool, gauges)| (&pool.metrics, *gauges)).collect();
    let text = metrics::render(&shared.config.name, &borrowed);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Ready when a replica is in rotation, or when a scaled-to-zero stable version can cold-start.
fn is_ready(shared: &Shared) -> bool {
    let routes = shared.routes();
    routes.pools().any(|pool| pool.ready_count() > 0)
        || (shared.config.scaling.min == 0 && routes.stable.replica_count() == 0)
}

async fn health_ready(State(shared): State<Arc<Shared>>) -> Response {
    let ready = is_ready(&shared);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(serde_json::json!({ "ready": ready }))).into_response()
}

/// The model's readiness, answered by the router for V1 and V2 alike (a predictor need not
/// implement both): `{"name", "ready": true}`, or 503 as KServe 0.21.0's `ModelNotReady` handler
/// answers (python/kserve/kserve/errors.py, protocol/rest/v1_endpoints.py `model_ready`).
fn model_ready(shared: &Shared) -> Response {
    let name = &shared.config.model_name;
    if is_ready(shared) {
        axum::Json(serde_json::json!({ "name": name, "ready": true })).into_response()
    } else {
        error_response(StatusCode::SERVICE_UNAVAILABLE, format!("Model with name {name} is not ready."))
    }
}

/// `GET /v1/models` and `/v2/models`: the one model this server serves.
async fn model_list(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(serde_json::json!({ "models": [shared.config.model_name] })).into_response()
}

/// Server metadata (Open Inference Protocol `GET /v2`): the extensions are the router's own.
async fn server_metadata() -> Response {
    axum::Json(serde_json::json!({
        "name": "kfl",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data"],
    }))
    .into_response()
}

/// Inference calls are counted in the metrics and the monitor window; metadata calls are not;
/// readiness is the router's own answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Call {
    Inference,
    Metadata,
    Readiness,
}

/// Matches the model paths by hand: V1's `NAME:predict` is not expressible as an axum route.
fn classify<'a>(method: &Method, path: &'a str) -> Result<(&'a str, Call), StatusCode> {
    let (name, call, wanted) = if let Some(rest) = path.strip_prefix("/v1/models/") {
        match rest.strip_suffix(":predict") {
            Some(name) => (name, Call::Inference, Method::POST),
            None => (rest, Call::Readiness, Method::GET),
        }
    } else if let Some(rest) = path.strip_prefix("/v2/models/") {
        match rest.split_once('/') {
            None => (rest, Call::Metadata, Method::GET),
            Some((name, "ready")) => (name, Call::Readiness, Method::GET),
            Some((name, "infer")) => (name, Call::Inference, Method::POST),
            Some(_) => return Err(StatusCode::NOT_FOUND),
        }
    } else {
        return Err(StatusCode::NOT_FOUND);
    };
    if name.is_empty() || name.contains('/') {
        return Err(StatusCode::NOT_FOUND);
    }
    if *method != wanted {
        return Err(StatusCode::METHOD_NOT_ALLOWED);
    }
    Ok((name, call))
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let (name, call) = match classify(&parts.method, path) {
        Ok(found) => found,
        Err(status) => return error_response(status, format!("no endpoint {} {path}", parts.method)),
    };
    if name != shared.config.model_name {
        let served = &shared.config.model_name;
        return error_response(
            StatusCode::NOT_FOUND,
            format!("model {name} is not served here (this server serves {served})"),
        );
    }
    if call == Call::Readiness {
        return model_ready(&shared);
    }
    // A client that trickles its body holds a connection slot; the request timeout bounds it.
    let collecting =
        tokio::time::timeout(shared.config.request_timeout, Limited::new(body, shared.config.body_limit).collect());
    let Ok(collected) = collecting.await else {
        let timeout = shared.config.request_timeout;
        return error_response(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within {timeout:?}"),
        );
    };
    let body = match collected {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            let limit = shared.config.body_limit;
            return error_response(StatusCode::PAYLOAD_TOO_LARGE, format!("request body is larger than {limit} bytes"));
        }
        Err(error) => return error_response(StatusCode::BAD_REQUEST, format!("cannot read the request body: {error}")),
    };
    let uri = match parts.uri.path_and_query() {
        Some(path_and_query) => Uri::from(path_and_query.clone()),
        None => Uri::from_static("/"),
    };
    let mut headers = parts.headers;
    remove_hop_by_hop(&mut headers);
    let (body, binary_outputs) = if call == Call::Inference && path.starts_with("/v2/") {
        match binary_request(&mut headers, body) {
            Ok(prepared) => prepared,
            Err(error) => return error_response(StatusCode::BAD_REQUEST, error.to_string()),
        }
    } else {
        (body, None)
    };
    let outgoing = Outgoing { method: &parts.method, uri: &uri, headers: &headers, body };
    let routes = shared.routes();
    let (pool, other) = routes.choose(&shared.split_counter);
    let exchange = forward(&shared, &routes, pool, other, &outgoing);
    let (response, served_by) = match tokio::time::timeout(shared.config.request_timeout, exchange).await {
        Ok(answer) => answer,
        Err(_) => {
            let timeout = shared.config.request_timeout;
            (error_response(StatusCode::GATEWAY_TIMEOUT, format!("no answer within {timeout:?}")), Arc::clone(pool))
        }
    };
    let response = match binary_outputs {
        Some(wants) => binary_answer(response, &wants).await,
        None => response,
    };
    if call == Call::Inference {
        let latency = started.elapsed();
        let error = response.status().is_server_error();
        served_by.metrics.record(latency, error);
        shared.window.record(latency, error);
    }
    response
}

/// A request in the binary tensor extension decoded to JSON for the predictor, and the outputs the
/// client wants as binary (which a JSON request may ask for too).
fn binary_request(
    headers: &mut HeaderMap,
    body: Bytes,
) -> Result<(Bytes, Option<BinaryOutputs>), binary_tensor::BinaryTensorError> {
    if let Some(length) = headers.remove(binary_tensor::HEADER) {
        let length = length.to_str().map_err(|_| binary_tensor::BinaryTensorError::HeaderNotACount {
            value: String::from_utf8_lossy(length.as_bytes()).into_owned(),
        })?;
        let (json, wants) = binary_tensor::decode_request(&body, length)?;
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // The upstream client sets the new body's length.
        headers.remove(header::CONTENT_LENGTH);
        return Ok((Bytes::from(json), wants.any().then_some(wants)));
    }
    // Most JSON requests never mention binary data: only those that do are parsed here.
    const MARK: &[u8] = b"binary_data";
    if body.windows(MARK.len()).any(|window| window[0] == b'b' && window == MARK)
        && let Ok(request) = serde_json::from_slice::<serde_json::Value>(&body)
    {
        let wants = BinaryOutputs::of_request(&request);
        return Ok((body, wants.any().then_some(wants)));
    }
    Ok((body, None))
}

/// A predictor's successful JSON answer in the binary form the client asked for; an answer that
/// is already binary, or an error, passes unchanged.
async fn binary_answer(response: Response, wants: &BinaryOutputs) -> Response {
    if !response.status().is_success() || response.headers().contains_key(binary_tensor::HEADER) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(body) = body.collect().await.map(|collected| collected.to_bytes()) else {
        return error_response(StatusCode::BAD_GATEWAY, "the predictor's answer could not be read");
    };
    match binary_tensor::encode_response(&body, wants) {
        Ok(Some((encoded, json_length))) => {
            parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(encoded.len()));
            parts.headers.insert(binary_tensor::HEADER, HeaderValue::from(json_length));
            Response::from_parts(parts, Body::from(encoded))
        }
        Ok(None) => Response::from_parts(parts, Body::from(body)),
        Err(message) => {
            error_response(StatusCode::BAD_GATEWAY, format!("cannot encode the answer as binary: {message}"))
        }
    }
}

/// Counts a request in its version's load while it is answered (also when the timeout drops it).
struct InFlight {
    pool: Arc<Pool>,
    started: Instant,
}

impl InFlight {
    fn enter(pool: &Arc<Pool>) -> Self {
        pool.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { pool: Arc::clone(pool), started: Instant::now() }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.pool.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.pool.busy_micros.fetch_add(self.started.elapsed().as_micros() as u64, Ordering::Relaxed);
    }
}

/// A replica of the chosen version; a scaled-to-zero version is cold-started and waited for; a
/// version whose replicas are all restarting lends its traffic to the other one if that has a share.
async fn acquire(
    shared: &Shared,
    routes: &Routes,
    pool: &Arc<Pool>,
    other: Option<&Arc<Pool>>,
) -> Option<(Arc<Pool>, Lease)> {
    if let Some(lease) = pool.pick(None) {
        return Some((Arc::clone(pool), lease));
    }
    if pool.replica_count() == 0 && !pool.is_retired() {
        return pool.cold_start(shared.config.request_timeout).await.map(|lease| (Arc::clone(pool), lease));
    }
    let other = other.filter(|other| routes.traffic_percent(other) > 0.0)?;
    other.pick(None).map(|lease| (Arc::clone(other), lease))
}

async fn forward(
    shared: &Shared,
    routes: &Routes,
    pool: &Arc<Pool>,
    other: Option<&Arc<Pool>>,
    outgoing: &Outgoing<'_>,
) -> (Response, Arc<Pool>) {
    let _in_flight = InFlight::enter(pool);
    let mut acquired = acquire(shared, routes, pool, other).await;
    let fresh;
    let (mut routes, mut other) = (routes, other);
    if acquired.is_none() && pool.is_retired() {
        // The version left the server after this request chose it (a rollout, promote or
        // rollback): the request goes where the new routes send it instead of failing.
        fresh = shared.routes();
        let (next, next_other) = fresh.choose(&shared.split_counter);
        acquired = acquire(shared, &fresh, next, next_other).await;
        (routes, other) = (&*fresh, next_other);
    }
    let Some((mut serving, mut lease)) = acquired else {
        let message = format!("no replica of model {} is ready", shared.config.name);
        return (error_response(StatusCode::SERVICE_UNAVAILABLE, message), Arc::clone(pool));
    };
    let mut retried = false;
    loop {
        match send(shared, &lease, outgoing).await {
            Ok(response) => {
                let response = with_version(response, serving.version());
                return (response, serving);
            }
            // A connection that was refused or did not open in time never carried the request:
            // the replica died since it was picked, or its listen backlog is full. One retry
            // elsewhere cannot run the request twice; with no other replica, the same one gets
            // a second chance (a full backlog drains).
            Err(error @ ExchangeError::Connect(_)) if !retried => {
                retried = true;
                let failed = lease.replica.id;
                drop(lease);
                if let Some(next) = serving.pick(Some(failed)) {
                    lease = next;
                } else if let Some((other, next)) = other
                    .filter(|other| routes.traffic_percent(other) > 0.0)
                    .and_then(|other| other.pick(None).map(|next| (other, next)))
                {
                    serving = Arc::clone(other);
                    lease = next;
                } else if let Some(next) = serving.pick(None) {
                    lease = next;
                } else {
                    let message = format!("replica of model {} refused the connection: {error}", shared.config.name);
                    return (error_response(StatusCode::BAD_GATEWAY, message), serving);
                }
            }
            Err(ExchangeError::Request(error)) => {
                // Every part came from a request hyper already parsed, so this cannot happen in
                // practice; answering 400 keeps a malformed corner case from panicking.
                return (
                    error_response(StatusCode::BAD_REQUEST, format!("cannot forward the request: {error}")),
                    serving,
                );
            }
            Err(error) => {
                let message = format!("replica of model {} failed: {error}", shared.config.name);
                return (error_response(StatusCode::BAD_GATEWAY, message), serving);
            }
        }
    }
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1): never copied across
/// the proxy. `host` is not among them: the upstream request replaces it.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::TRANSFER_ENCODING,
    header::TE,
    header::UPGRADE,
    HeaderName::from_static("proxy-connection"),
];

/// Removes the hop-by-hop headers: the fixed ones and any that `Connection` names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the few headers present costs less than a lookup
    // per hop-by-hop name on every request and every answer.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

async fn send(shared: &Shared, lease: &Lease, outgoing: &Outgoing<'_>) -> Result<Response, ExchangeError> {
    let (mut parts, body) = shared.upstream.exchange(lease.replica.port(), outgoing).await?;
    remove_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn with_version(mut response: Response, version: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(version) {
        response.headers_mut().insert("kfl-model-version", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_paths_are_classified_with_their_method() {
        assert!(matches!(classify(&Method::POST, "/v1/models/iris:predict"), Ok(("iris", Call::Inference))));
        assert!(matches!(classify(&Method::GET, "/v1/models/iris"), Ok(("iris", Call::Readiness))));
        assert!(matches!(classify(&Method::POST, "/v2/models/iris/infer"), Ok(("iris", Call::Inference))));
        assert!(matches!(classify(&Method::GET, "/v2/models/iris/ready"), Ok(("iris", Call::Readiness))));
        assert!(matches!(classify(&Method::GET, "/v2/models/iris"), Ok(("iris", Call::Metadata))));
        assert_eq!(classify(&Method::GET, "/v2/models/iris/infer").err(), Some(StatusCode::METHOD_NOT_ALLOWED));
        assert_eq!(classify(&Method::POST, "/v2/models/iris/explain").err(), Some(StatusCode::NOT_FOUND));
        assert_eq!(classify(&Method::GET, "/v2/models/").err(), Some(StatusCode::NOT_FOUND));
        assert_eq!(classify(&Method::GET, "/elsewhere").err(), Some(StatusCode::NOT_FOUND));
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, X-Trace-Hop"),
            ("keep-alive", "timeout=5"),
            ("x-trace-hop", "1"),
            ("te", "trailers"),
            ("content-type", "application/json"),
            ("x-request-id", "abc"),
            ("host", "127.0.0.1:8080"),
        ] {
            headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        remove_hop_by_hop(&mut headers);
        let mut kept: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["content-type", "host", "x-request-id"]);

        let mut plain = HeaderMap::new();
        plain.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        remove_hop_by_hop(&mut plain);
        assert_eq!(plain.len(), 1);
    }
}
