//! The router against hostile local clients, over raw sockets: admin token, Host and Origin checks,
//! JSON-only admin POSTs, the header-read timeout (slowloris) and the connection cap's 503.

mod support;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use kfl_runtime::serving::{read_state, state_path};
use serde_json::json;
use support::{Running, config, infer_body};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `head` (request line and headers, no blank line) and `body`; the status and body, within 10 s.
async fn exchange(address: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let attempt = async {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        let request = format!("{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer).to_string();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, body.to_owned())
    };
    tokio::time::timeout(Duration::from_secs(10), attempt).await.expect("answered within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_need_the_servers_token_its_own_host_a_same_site_origin_and_json() {
    let root = tempfile::tempdir().expect("tempdir");
    let state_dir = root.path().join(".kfl/serving");
    let mut config = config(root.path(), "iris");
    config.state_dir = Some(state_dir.clone());
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let address = server.address;
    let port = address.port();

    let state = read_state(&state_dir, "iris", None).expect("state file");
    assert_eq!(state.token, server.handle.admin_token());
    assert_eq!(state.token.len(), 64);
    let file = state_path(&state_dir, "iris", std::process::id());
    let mode = std::fs::metadata(&file).expect("state file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the state file holds the token: owner only");
    let token = format!("Authorization: Bearer {}", state.token);
    let host = format!("Host: 127.0.0.1:{port}");

    let (status, body) = exchange(address, &format!("GET /kfl/v1/status HTTP/1.1\r\n{host}"), "").await;
    assert_eq!(status, 401, "no token: {body}");
    let wrong = "Authorization: Bearer 0000000000000000000000000000000000000000000000000000000000000000";
    assert_eq!(exchange(address, &format!("GET /kfl/v1/status HTTP/1.1\r\n{host}\r\n{wrong}"), "").await.0, 401);
    let (status, body) = exchange(address, &format!("GET /kfl/v1/status HTTP/1.1\r\n{host}\r\n{token}"), "").await;
    assert_eq!(status, 200, "{body}");
    let localhost = format!("Host: localhost:{port}");
    assert_eq!(exchange(address, &format!("GET /kfl/v1/status HTTP/1.1\r\n{localhost}\r\n{token}"), "").await.0, 200);

    // DNS rebinding: a page of evil.example re-resolved to 127.0.0.1 sends its own name as Host.
    let rebound = format!("Host: evil.example:{port}");
    let (status, body) = exchange(address, &format!("GET /kfl/v1/status HTTP/1.1\r\n{rebound}\r\n{token}"), "").await;
    assert_eq!(status, 421, "{body}");
    let inference = infer_body(&[1.0], json!({})).to_string();
    let infer = "POST /v2/models/iris/infer HTTP/1.1\r\nContent-Type: application/json";
    assert_eq!(exchange(address, &format!("{infer}\r\n{rebound}"), &inference).await.0, 421);
    assert_eq!(exchange(address, &format!("{infer}\r\nHost: 127.0.0.1:{}", port ^ 1), &inference).await.0, 421);
    let (status, body) = exchange(address, &format!("{infer}\r\n{localhost}"), &inference).await;
    assert_eq!(status, 200, "{body}");

    // A cross-site page's form or no-cors fetch: its Origin, or the browser's Sec-Fetch-Site.
    let canary = "POST /kfl/v1/canary HTTP/1.1\r\nContent-Type: application/json";
    let percent = r#"{"percent": 50}"#;
    for origin in ["Origin: http://evil.example", "Origin: null", "Sec-Fetch-Site: cross-site"] {
        let (status, body) = exchange(address, &format!("{canary}\r\n{host}\r\n{token}\r\n{origin}"), percent).await;
        assert_eq!(status, 403, "{origin}: {body}");
        assert_eq!(exchange(address, &format!("{infer}\r\n{host}\r\n{origin}"), &inference).await.0, 403, "{origin}");
    }
    let same = format!("Origin: http://localhost:{port}");
    assert_eq!(exchange(address, &format!("{infer}\r\n{host}\r\n{same}"), &inference).await.0, 200);

    // A form can only send text/plain, urlencoded or multipart: admin POSTs must be JSON.
    let plain = format!("POST /kfl/v1/canary HTTP/1.1\r\nContent-Type: text/plain\r\n{host}\r\n{token}");
    let (status, body) = exchange(address, &plain, percent).await;
    assert_eq!(status, 415, "{body}");
    let promote = format!("POST /kfl/v1/promote HTTP/1.1\r\n{host}\r\n{token}");
    assert_eq!(exchange(address, &promote, "").await.0, 415);
    // The JSON call with the token reaches the endpoint (which refuses: there is no canary).
    let (status, body) = exchange(address, &format!("{canary}\r\n{host}\r\n{token}"), percent).await;
    assert_eq!(status, 409, "{body}");
    server.shutdown().await;
    assert!(!file.exists(), "the state file outlived the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_slow_connections_are_closed_and_do_not_hold_up_other_clients() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    config.header_read_timeout = Duration::from_secs(1);
    config.max_connections = 64;
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let address = server.address;

    // Slowloris: 48 connections send part of a head and then nothing.
    let mut slow = Vec::new();
    for _ in 0..48 {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream.write_all(b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: 127").await.expect("write");
        slow.push(stream);
    }
    let inference = infer_body(&[1.0], json!({})).to_string();
    let infer = format!("POST /v2/models/iris/infer HTTP/1.1\r\nContent-Type: application/json\r\nHost: {address}");
    let (status, body) = exchange(address, &infer, &inference).await;
    assert_eq!(status, 200, "{body}");

    // Each is closed once its head is late: reading sees the end (or a reset), never blocks.
    let started = Instant::now();
    for mut stream in slow {
        let mut scratch = [0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match stream.read(&mut scratch).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(read.is_ok(), "a silent connection stayed open {:?} past its header-read timeout", started.elapsed());
    }
    // An idle kept-alive connection is closed the same way.
    let mut idle = TcpStream::connect(address).await.expect("connect");
    let mut scratch = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut scratch)).await;
    assert!(matches!(closed, Ok(Ok(0) | Err(_))), "an idle connection was not closed: {closed:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_get_a_503_and_service_recovers_when_they_close() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    config.max_connections = 8;
    let server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let address = server.address;
    let inference = infer_body(&[1.0], json!({})).to_string();
    let infer = format!("POST /v2/models/iris/infer HTTP/1.1\r\nContent-Type: application/json\r\nHost: {address}");

    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(address).await.expect("connect"));
    }
    // The listener accepts them in order; give it the moment to count all eight.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let (status, body) = exchange(address, &infer, &inference).await;
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("limit of 8 open connections"), "{body}");
    }
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = exchange(address, &infer, &inference).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "service did not recover after the connections closed: {status} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await;
}
