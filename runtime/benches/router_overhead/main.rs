//! Benchmark: the serving router's added latency and throughput against calling a minimal Rust predictor directly (wrk load).
//!
//! `cargo bench -p kfl-runtime --bench router_overhead` starts the router in this process with one
//! replica: this same binary re-executed as `--predictor PORT WORK_US`, an axum V2 predictor.
//! wrk (a separate process) then drives `POST /v2/models/bench/infer` at the replica's port
//! (direct) and at the router, at 1 and 64 connections, for each amount of simulated model work.
//! `KFL_BENCH_SECONDS` sets each run's length (default 10), `KFL_BENCH_WORK_US` the simulated
//! model work per request in microseconds (comma-separated, default `0,1000,10000`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use kfl_runtime::serving::{Arg, ModelVersion, ServeConfig, start};
use tokio::sync::mpsc;

const BODY: &str = r#"{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]}"#;
const ANSWER: &str =
    r#"{"model_name":"bench","model_version":"1","outputs":[{"name":"y","datatype":"INT64","shape":[1],"data":[0]}]}"#;

async fn predictor(port: u16, work: Duration) -> std::io::Result<()> {
    let app = Router::new().route("/v2/health/ready", get(|| async { "{\"ready\":true}" })).route(
        "/v2/models/bench/infer",
        post(move |_body: axum::body::Bytes| async move {
            if !work.is_zero() {
                tokio::time::sleep(work).await;
            }
            ([(axum::http::header::CONTENT_TYPE, "application/json")], ANSWER)
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}

struct Measured {
    requests_per_second: f64,
    /// Requests completed in the whole run (wrk's "N requests in" line).
    requests: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn milliseconds(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(number / 1000.0),
        "ms" => Some(number),
        "s" => Some(number * 1000.0),
        _ => None,
    }
}

fn parse_wrk(output: &str) -> Option<Measured> {
    let mut requests_per_second = None;
    let mut requests = None;
    let mut p50_ms = None;
    let mut p99_ms = None;
    for line in output.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["Requests/sec:", value] => requests_per_second = value.parse().ok(),
            [count, "requests", "in", ..] => requests = count.parse().ok(),
            ["50%", value] => p50_ms = milliseconds(value),
            ["99%", value] => p99_ms = milliseconds(value),
            _ => {}
        }
    }
    Some(Measured { requests_per_second: requests_per_second?, requests: requests?, p50_ms: p50_ms?, p99_ms: p99_ms? })
}

fn wrk(script: &Path, url: &str, connections: u32, seconds: u64) -> Result<Measured, String> {
    let threads = connections.min(2);
    let output = Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--latency"])
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .map_err(|error| format!("cannot run wrk (apt-get install -y wrk): {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!("wrk against {url} reported failures:\n{text}"));
    }
    parse_wrk(&text).ok_or_else(|| format!("cannot read wrk's output:\n{text}"))
}

/// User + system CPU seconds a process has used so far (`/proc/PID/stat` fields 14 and 15).
/// Throughput on a shared 2-core machine moves with other load; CPU per request does much less.
fn cpu_seconds(pid: &str) -> Result<f64, String> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|error| format!("/proc/{pid}/stat: {error}"))?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).ok_or("unexpected /proc stat format")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<f64>().ok());
    // Fields 14 and 15 of the whole line are 12 and 13 after the name (state is field 3).
    let (user, system) = (ticks(11).ok_or("no utime")?, ticks(12).ok_or("no stime")?);
    // USER_HZ is 100 on every Linux configuration the bench runs on.
    Ok((user + system) / 100.0)
}

/// Runs wrk and returns its figures with the CPU microseconds per request each process in `pids` used meanwhile.
fn wrk_with_cpu(
    script: &Path,
    url: &str,
    connections: u32,
    seconds: u64,
    pids: &[&str],
) -> Result<(Measured, Vec<f64>), String> {
    let before = pids.iter().map(|pid| cpu_seconds(pid)).collect::<Result<Vec<_>, _>>()?;
    let measured = wrk(script, url, connections, seconds)?;
    let after = pids.iter().map(|pid| cpu_seconds(pid)).collect::<Result<Vec<_>, _>>()?;
    let per_request =
        before.iter().zip(&after).map(|(b, a)| (a - b) * 1e6 / measured.requests.max(1.0)).collect::<Vec<_>>();
    Ok((measured, per_request))
}

async fn scenario(script: &Path, work_us: u64, seconds: u64) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let dir = std::env::temp_dir();
    let argv = vec![
        Arg::Text(exe.display().to_string()),
        Arg::Text("--predictor".into()),
        Arg::Port,
        Arg::Text(work_us.to_string()),
    ];
    let mut config = ServeConfig::new("bench", argv, ModelVersion { version: "1".into(), model_dir: dir });
    config.request_timeout = Duration::from_secs(30);
    let (events, mut received) = mpsc::channel(64);
    tokio::spawn(async move { while received.recv().await.is_some() {} });
    let server = start(config, events).await.map_err(|error| error.to_string())?;
    let handle = server.handle();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let (port, predictor_pid) = loop {
        let status = handle.status();
        if let Some(replica) = status.versions[0].replicas.iter().find(|r| r.ready) {
            break (replica.port, replica.pid.to_string());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let direct = format!("http://127.0.0.1:{port}/v2/models/bench/infer");
    let routed = format!("http://{}/v2/models/bench/infer", handle.address());
    for connections in [1, 64] {
        let script = script.to_path_buf();
        let (direct, routed, predictor_pid) = (direct.clone(), routed.clone(), predictor_pid.clone());
        let ((direct, direct_cpu), (routed, routed_cpu)) = tokio::task::spawn_blocking(move || {
            // Warm both paths (connection pools, page cache) before measuring.
            let _ = wrk(&script, &direct, connections, 1);
            let _ = wrk(&script, &routed, connections, 1);
            // The router runs in this process; wrk's CPU is not counted here until it is waited for.
            let pids = ["self", predictor_pid.as_str()];
            Ok::<_, String>((
                wrk_with_cpu(&script, &direct, connections, seconds, &pids)?,
                wrk_with_cpu(&script, &routed, connections, seconds, &pids)?,
            ))
        })
        .await
        .map_err(|error| error.to_string())??;
        println!(
            "| {} µs | {connections} | {:.0} | {:.0} | {:.1}% | {:.3} | {:.3} | {:+.3} | {:.3} | {:.3} | {:.0} | {:.0} | {:.0} |",
            work_us,
            direct.requests_per_second,
            routed.requests_per_second,
            routed.requests_per_second / direct.requests_per_second * 100.0,
            direct.p50_ms,
            routed.p50_ms,
            routed.p50_ms - direct.p50_ms,
            direct.p99_ms,
            routed.p99_ms,
            direct_cpu[1],
            routed_cpu[1],
            routed_cpu[0],
        );
    }
    let _ = stop.send(());
    running.await.map_err(|error| error.to_string())?.map_err(|error| error.to_string())?;
    Ok(())
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(index) = args.iter().position(|arg| arg == "--predictor") {
        let runtime = tokio::runtime::Runtime::new().map_err(|error| error.to_string())?;
        let port = args.get(index + 1).and_then(|p| p.parse().ok()).ok_or("--predictor PORT WORK_US")?;
        let work_us = args.get(index + 2).and_then(|w| w.parse().ok()).ok_or("--predictor PORT WORK_US")?;
        return runtime.block_on(predictor(port, Duration::from_micros(work_us))).map_err(|error| error.to_string());
    }
    // The router's runtime: `KFL_BENCH_ROUTER_THREADS` worker threads (default: one per core).
    let runtime = match std::env::var("KFL_BENCH_ROUTER_THREADS").ok().and_then(|t| t.parse::<usize>().ok()) {
        Some(threads) => tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build(),
        None => tokio::runtime::Runtime::new(),
    }
    .map_err(|error| error.to_string())?;
    let seconds = std::env::var("KFL_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let script_dir = tempfile::tempdir().map_err(|error| error.to_string())?;
    let script = script_dir.path().join("infer.lua");
    let lua =
        format!("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '{BODY}'\n");
    std::fs::write(&script, lua).map_err(|error| error.to_string())?;
    println!(
        "| model work | connections | direct req/s | router req/s | router/direct | direct p50 ms | router p50 ms | added p50 ms | direct p99 ms | router p99 ms | predictor CPU µs/req direct | predictor CPU µs/req routed | router CPU µs/req |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let work: Vec<u64> = match std::env::var("KFL_BENCH_WORK_US") {
        Ok(list) => list
            .split(',')
            .map(|w| w.trim().parse().map_err(|_| format!("KFL_BENCH_WORK_US: {w:?}")))
            .collect::<Result<_, _>>()?,
        Err(_) => vec![0, 1000, 10_000],
    };
    runtime.block_on(async {
        for work_us in work {
            scenario(&script, work_us, seconds).await?;
        }
        Ok(())
    })
}
