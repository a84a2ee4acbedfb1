//! The router's accept loop: a connection cap answered with a clear 503, a header-read timeout that
//! also bounds idle kept-alive connections, and a graceful drain at shutdown.
//!
//! `axum::serve` has neither a cap nor timeouts, so one client holding thousands of silent
//! connections (slowloris) or idle ones (file-descriptor exhaustion) stopped all service.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::future::RouteFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};

/// Connections beyond the cap are answered 503 by short-lived tasks; this bounds those too, so a
/// flood cannot turn the refusals themselves into the exhaustion the cap prevents.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;
/// How long a refused client gets to send its request before the 503 is written and the socket
/// closed (closing with unread bytes would reset the connection and lose the answer).
const REFUSAL_LINGER: Duration = Duration::from_millis(500);
/// After a failed accept (e.g. EMFILE) the loop pauses instead of spinning on the same error.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Limits of the router's listener.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    /// Time allowed to send a request's head, counted from the connection's start or the end of
    /// the previous answer: the idle timeout of kept-alive connections too.
    pub header_read_timeout: Duration,
}

/// Descriptors kept for the replicas' processes, pipes, logs and the state file.
const RESERVED_DESCRIPTORS: u64 = 64;

/// The cap actually applied: `configured`, but at most half of what the descriptor limit leaves
/// after the reserve, since every proxied request also holds a connection to a replica.
pub fn effective_cap(configured: usize) -> usize {
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) => {
            let room = usize::try_from(soft.saturating_sub(RESERVED_DESCRIPTORS) / 2).unwrap_or(usize::MAX);
            configured.min(room.max(1))
        }
        Err(_) => configured,
    }
}

/// Adds the peer address, as `ConnectInfo`, to every request of one connection.
#[derive(Clone)]
struct PeerService {
    router: Router,
    peer: SocketAddr,
}

impl hyper::service::Service<hyper::Request<Incoming>> for PeerService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let mut router = self.router.clone();
        tower_service::Service::call(&mut router, request)
    }
}

fn refusal(max_connections: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "error": format!("the server is at its limit of {max_connections} open connections; retry shortly")
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads what the client sent (so closing does not reset the connection), answers 503, closes.
async fn refuse(mut stream: TcpStream, answer: Arc<[u8]>) {
    let mut scratch = [0u8; 4096];
    let _ = tokio::time::timeout(REFUSAL_LINGER, stream.read(&mut scratch)).await;
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(&answer).await?;
        stream.shutdown().await
    })
    .await;
}

/// Serves `router` on `listener` until `stop` is notified, then stops accepting, asks every open
/// connection to finish its current request and close, and returns when all have closed (the
/// caller bounds that wait).
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: Arc<Notify>) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    let answer: Arc<[u8]> = refusal(limits.max_connections).into();
    let draining = Arc::new(tokio::sync::watch::Sender::new(false));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.notified() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        // Answers are small single writes after a read; Nagle would hold them for the client's ACK.
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            if let Ok(refusing) = Arc::clone(&refusals).try_acquire_owned() {
                let answer = Arc::clone(&answer);
                tokio::spawn(async move {
                    refuse(stream, answer).await;
                    drop(refusing);
                });
            }
            continue;
        };
        let service = PeerService { router: router.clone(), peer };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let mut draining = draining.subscribe();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = async { drop(draining.wait_for(|draining| *draining).await) } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    draining.send_replace(true);
    let _ = open.acquire_many(limits.max_connections as u32).await;
}
