//! The pooled HTTP/1 client the router, the readiness probes and the webhook share.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Why a request got no whole answer; nothing was retried.
#[derive(Debug)]
pub enum UpstreamError {
    Build { url: String, source: hyper::http::Error },
    Request { url: String, source: hyper_util::client::legacy::Error },
    Body { url: String, source: hyper::Error },
    Timeout { url: String, timeout: Duration },
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Build { url, source } => write!(f, "cannot build a request to {url}: {source}"),
            UpstreamError::Request { url, source } => write!(f, "{url}: {source}"),
            UpstreamError::Body { url, source } => write!(f, "{url}: {source}"),
            UpstreamError::Timeout { url, timeout } => write!(f, "{url}: no answer within {timeout:?}"),
        }
    }
}

impl std::error::Error for UpstreamError {}

pub fn new_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    // Small request/response pairs: Nagle would add up to 40 ms per exchange.
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector)
}

/// One request with the whole response body, bounded by `timeout` (connecting included); errors are
/// described for logs.
pub async fn call(
    client: &HttpClient,
    method: Method,
    url: &str,
    body: Bytes,
    bearer: Option<&str>,
    timeout: Duration,
) -> Result<(StatusCode, Bytes), UpstreamError> {
    let mut request =
        Request::builder().method(method).uri(url).header(hyper::header::CONTENT_TYPE, "application/json");
    if let Some(token) = bearer {
        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request =
        request.body(Full::new(body)).map_err(|source| UpstreamError::Build { url: url.to_string(), source })?;
    let exchange = async {
        let response =
            client.request(request).await.map_err(|source| UpstreamError::Request { url: url.to_string(), source })?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|source| UpstreamError::Body { url: url.to_string(), source })?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| UpstreamError::Timeout { url: url.to_string(), timeout })?
}
