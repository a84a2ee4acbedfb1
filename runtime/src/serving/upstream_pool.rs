//! The router's kept-alive HTTP/1 connections to replicas: an idle list per replica port, no task spawned per request.
//!
//! hyper-util's pooled client spawns a task per request to return the connection to its pool and
//! keys its pool by URI authority; on loopback with a no-work model that bookkeeping is a visible
//! share of the router's cost, so the proxy path checks connections in and out of a plain list.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header, response};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Sender = SendRequest<Full<Bytes>>;

/// Idle connections older than this are closed rather than reused, as the pooled client did.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an exchange with a replica failed.
#[derive(Debug)]
pub enum ExchangeError {
    /// No connection could be opened: the request never reached a model, so it may go elsewhere.
    Connect(std::io::Error),
    /// The request could not be built from the incoming one.
    Request(axum::http::Error),
    /// The connection failed after the request may have been sent.
    Exchange(hyper::Error),
    /// The replica answered but closed the connection before the body was complete.
    Body(hyper::Error),
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExchangeError::Connect(error) => write!(f, "cannot connect: {error}"),
            ExchangeError::Request(error) => write!(f, "cannot forward the request: {error}"),
            ExchangeError::Exchange(error) => write!(f, "{error}"),
            ExchangeError::Body(error) => write!(f, "closed its answer early: {error}"),
        }
    }
}

/// A request as it is forwarded: rebuilt per attempt because hyper consumes it.
pub struct Outgoing<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    /// The incoming headers without hop-by-hop ones.
    pub headers: &'a HeaderMap,
    pub body: Bytes,
}

pub struct UpstreamPool {
    idle: Mutex<BTreeMap<u16, Vec<(Sender, Instant)>>>,
    max_idle_per_replica: usize,
    /// A replica whose listen backlog is full drops connection attempts silently; without a
    /// bound the request would wait out TCP's SYN retries (seconds, then the request timeout).
    connect_timeout: Duration,
}

impl UpstreamPool {
    pub fn new(max_idle_per_replica: usize, connect_timeout: Duration) -> Self {
        UpstreamPool { idle: Mutex::new(BTreeMap::new()), max_idle_per_replica, connect_timeout }
    }

    /// The most recently used open connection to `port`; stale and closed ones are dropped.
    fn checkout(&self, port: u16) -> Option<Sender> {
        let Ok(mut idle) = self.idle.lock() else { return None };
        let list = idle.get_mut(&port)?;
        while let Some((sender, since)) = list.pop() {
            if !sender.is_closed() && since.elapsed() < IDLE_TIMEOUT {
                return Some(sender);
            }
        }
        None
    }

    fn checkin(&self, port: u16, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else { return };
        let list = idle.entry(port).or_default();
        // The oldest entry sits first; dropping one stale entry per check-in keeps the list bounded
        // in time without a background sweep.
        if list.first().is_some_and(|(sender, since)| sender.is_closed() || since.elapsed() >= IDLE_TIMEOUT) {
            list.remove(0);
        }
        if list.len() < self.max_idle_per_replica {
            list.push((sender, Instant::now()));
        }
    }

    async fn connect(&self, port: u16) -> Result<Sender, ExchangeError> {
        let stream = match tokio::time::timeout(self.connect_timeout, TcpStream::connect(("127.0.0.1", port))).await {
            Ok(connected) => connected.map_err(ExchangeError::Connect)?,
            Err(_) => {
                let message = format!("no connection within {:?}", self.connect_timeout);
                return Err(ExchangeError::Connect(std::io::Error::new(std::io::ErrorKind::TimedOut, message)));
            }
        };
        // Small request/response pairs: Nagle would add up to 40 ms per exchange.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.map_err(ExchangeError::Exchange)?;
        // The connection task ends when the replica closes the socket or the sender is dropped.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    fn build(port: u16, outgoing: &Outgoing<'_>) -> Result<hyper::Request<Full<Bytes>>, ExchangeError> {
        let mut request = hyper::Request::builder()
            .method(outgoing.method.clone())
            .uri(outgoing.uri.clone())
            .body(Full::new(outgoing.body.clone()))
            .map_err(ExchangeError::Request)?;
        let headers = request.headers_mut();
        headers.reserve(outgoing.headers.len() + 1);
        for (name, value) in outgoing.headers {
            headers.append(name, value.clone());
        }
        let host = HeaderValue::from_str(&format!("127.0.0.1:{port}"))
            .map_err(|error| ExchangeError::Request(axum::http::Error::from(error)))?;
        headers.insert(header::HOST, host);
        Ok(request)
    }

    /// One exchange with the replica on `port`, with the whole response body. A pooled connection
    /// the replica closed meanwhile fails before the request is written; the next one is tried,
    /// then a fresh connection.
    pub async fn exchange(
        &self,
        port: u16,
        outgoing: &Outgoing<'_>,
    ) -> Result<(response::Parts, Bytes), ExchangeError> {
        loop {
            let (mut sender, fresh) = match self.checkout(port) {
                Some(sender) => (sender, false),
                None => (self.connect(port).await?, true),
            };
            if let Err(error) = sender.ready().await {
                if fresh {
                    return Err(ExchangeError::Exchange(error));
                }
                continue;
            }
            let response = match sender.send_request(Self::build(port, outgoing)?).await {
                Ok(response) => response,
                Err(error) if error.is_canceled() && !fresh => continue,
                Err(error) => return Err(ExchangeError::Exchange(error)),
            };
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(ExchangeError::Body)?.to_bytes();
            self.checkin(port, sender);
            return Ok((parts, body));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replica_whose_listen_backlog_is_full_fails_to_connect_within_the_timeout() {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
        let listener = socket.listen(1).expect("listen");
        let port = listener.local_addr().expect("address").port();
        // Connections nobody accepts fill the queue; past it the kernel drops SYNs silently.
        let mut queued = Vec::new();
        for _ in 0..8 {
            match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(("127.0.0.1", port))).await {
                Ok(Ok(stream)) => queued.push(stream),
                _ => break,
            }
        }
        let pool = UpstreamPool::new(1, Duration::from_millis(300));
        let started = Instant::now();
        let connected = tokio::time::timeout(Duration::from_secs(5), pool.connect(port)).await;
        assert!(
            matches!(connected, Ok(Err(ExchangeError::Connect(ref error))) if error.kind() == std::io::ErrorKind::TimedOut),
            "expected a connect timeout, got {connected:?} after {:?}",
            started.elapsed()
        );
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    }
}
