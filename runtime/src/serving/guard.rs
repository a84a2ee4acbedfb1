//! Who may call the router, checked before any endpoint runs: the Host must name this server
//! (DNS rebinding), a browser's cross-site Origin is refused, and the admin endpoints also need a
//! loopback peer, the server's bearer token and, on POST, a JSON content type.
//!
//! A web page in the user's browser can send requests to 127.0.0.1: a form or `fetch` with
//! `no-cors` reaches the router with the page's `Origin` and a `text/plain` body, and a page whose
//! domain re-resolves to 127.0.0.1 (DNS rebinding) reads answers with its own name as `Host`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::shared::{Shared, error_response};

/// The admin endpoints' common path prefix.
const ADMIN_PREFIX: &str = "/kfl/";

/// `host[:port]` from a Host header or a URI authority, the host lower-cased, IPv6 brackets kept.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':')?.parse().ok()?),
        };
        (format!("[{inside}]"), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port.parse().ok()?)),
            None => (authority.to_owned(), None),
        }
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

/// Names that reach this listener only from this machine.
fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A Host (or Origin authority) that names this server: a loopback name with the bound port (or
/// none when that port is 80). A router bound beyond loopback (`0.0.0.0`, a LAN address) is
/// reachable under names it cannot know, so any name is accepted there, but only for inference.
fn names_this_server(authority: &str, bound: SocketAddr, admin: bool) -> bool {
    let Some((host, port)) = split_authority(authority) else { return false };
    if port.unwrap_or(80) != bound.port() {
        return false;
    }
    let bound_host = match bound.ip() {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    is_loopback_name(&host) || host == bound_host || (!admin && !bound.ip().is_loopback())
}

fn host_of(request: &Request) -> Option<&str> {
    match request.headers().get(header::HOST) {
        Some(value) => value.to_str().ok(),
        None => request.uri().authority().map(|authority| authority.as_str()),
    }
}

/// A browser's `Origin` (absent for non-browser clients) must be this server itself.
fn cross_site(headers: &HeaderMap, bound: SocketAddr, admin: bool) -> bool {
    if headers.get("sec-fetch-site").is_some_and(|site| site.as_bytes() == b"cross-site") {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return false };
    let Some(authority) = origin.to_str().ok().and_then(|origin| origin.strip_prefix("http://")) else {
        // `null` (sandboxed frames, file: pages), https:// and anything unreadable are other sites.
        return true;
    };
    !names_this_server(authority, bound, admin)
}

/// Compares in time independent of where the first difference is.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn admin_refusal(shared: &Shared, request: &Request) -> Option<Response> {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| *peer);
    if !peer.is_some_and(|peer| peer.ip().is_loopback()) {
        return Some(error_response(StatusCode::FORBIDDEN, "the admin endpoints answer loopback clients only"));
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if !token.is_some_and(|token| same_secret(token.trim().as_bytes(), shared.admin_token.as_bytes())) {
        let mut refused = error_response(
            StatusCode::UNAUTHORIZED,
            "the admin endpoints need `Authorization: Bearer TOKEN` with the token in the server's state file \
             (.kfl/serving/NAME.PID.json); `kfl serve status|promote|rollback` send it",
        );
        refused.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return Some(refused);
    }
    if request.method() == Method::POST {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Some(error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "admin requests must be sent as `Content-Type: application/json`",
            ));
        }
    }
    None
}

pub async fn check(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let admin = request.uri().path().starts_with(ADMIN_PREFIX);
    if !host_of(&request).is_some_and(|host| names_this_server(host, shared.address, admin)) {
        let host = host_of(&request).unwrap_or("(none)").to_owned();
        let message = format!(
            "Host {host:?} does not name this server; use http://{} or http://localhost:{}",
            shared.address,
            shared.address.port()
        );
        return error_response(StatusCode::MISDIRECTED_REQUEST, message);
    }
    if cross_site(request.headers(), shared.address, admin) {
        return error_response(StatusCode::FORBIDDEN, "requests from another web site's pages are refused");
    }
    if admin && let Some(refused) = admin_refusal(&shared, &request) {
        return refused;
    }
    next.run(request).await.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_split_and_matched_against_the_bound_address() {
        let bound: SocketAddr = "127.0.0.1:8080".parse().expect("address");
        assert_eq!(split_authority("LocalHost:8080"), Some(("localhost".to_owned(), Some(8080))));
        assert_eq!(split_authority("[::1]:8080"), Some(("[::1]".to_owned(), Some(8080))));
        assert_eq!(split_authority("x:y"), None);
        for good in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"] {
            assert!(names_this_server(good, bound, true), "{good}");
        }
        for bad in ["evil.example:8080", "127.0.0.1:9090", "localhost", "127.0.0.1.nip.io:8080", ""] {
            assert!(!names_this_server(bad, bound, false), "{bad}");
        }
        let everywhere: SocketAddr = "0.0.0.0:8080".parse().expect("address");
        assert!(names_this_server("box.lan:8080", everywhere, false));
        assert!(!names_this_server("box.lan:8080", everywhere, true));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
    }
}
