//! The pooled HTTP/1 client the router, the readiness probes and the webhook share.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

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
) -> Result<(StatusCode, Bytes), String> {
    let mut request =
        Request::builder().method(method).uri(url).header(hyper::header::CONTENT_TYPE, "application/json");
    if let Some(token) = bearer {
        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Full::new(body)).map_err(|error| format!("cannot build a request to {url}: {error}"))?;
    let exchange = async {
        let response = client.request(request).await.map_err(|error| format!("{url}: {error}"))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|error| format!("{url}: {error}"))?.to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| format!("{url}: no answer within {timeout:?}"))?
}
