//! Benchmark: the serving router's added latency and throughput against calling a minimal Rust predictor directly (wrk load).
//!
//! `cargo bench -p kfl-runtime --bench router_overhead` starts the router in this process with one
//! replica: this same binary re-executed as `--predictor PORT WORK_US`, an axum V2 predictor.
//! wrk (a separate process) then drives `POST /v2/models/bench/infer` at the replica's port
//! (direct) and at the router, at 1 and 64 connections, for each amount of simulated model work.
//! `KFL_BENCH_SECONDS` sets each run's length (default 10), `KFL_BENCH_WORK_US` the simulated
//! model work per request in microseconds (comma-separated, default `0,1000,10000`).
//! The same replica is also measured behind established reverse proxies (nginx, haproxy; see
//! `reference_proxy`), the ones installed unless `KFL_BENCH_REFERENCE` names them (empty: none),
//! so that the machine's floor for any proxy is measured beside the router's figures.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use kfl_runtime::serving::{Arg, ModelVersion, ServeConfig, start};
use reference_proxy::ReferenceProxy;
use tokio::sync::mpsc;

mod reference_proxy;

/// The `kfl` binary's allocator (`cli/src/main.rs`), so the router is measured as `kfl serve` runs it.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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

/// A way to the replica other than directly: the router or a reference proxy.
#[derive(Clone)]
struct Target {
    name: String,
    url: String,
    /// The processes whose CPU is the proxy's (`self` for the router in this process).
    pids: Vec<String>,
}

/// Measures the replica directly, then through each target, one after the other; returns a table
/// row (without the first two columns) per path.
fn measure(
    script: &Path,
    direct_url: &str,
    targets: &[Target],
    predictor_pid: &str,
    connections: u32,
    seconds: u64,
) -> Result<Vec<String>, String> {
    // Warm every path (connection pools, page cache) before measuring.
    let _ = wrk(script, direct_url, connections, 1);
    for target in targets {
        let _ = wrk(script, &target.url, connections, 1);
    }
    let (direct, direct_cpu) = wrk_with_cpu(script, direct_url, connections, seconds, &[predictor_pid])?;
    let mut rows = vec![format!(
        "direct | {:.0} | 100% | {:.3} | | {:.3} | | {:.0} |",
        direct.requests_per_second, direct.p50_ms, direct.p99_ms, direct_cpu[0]
    )];
    for target in targets {
        let mut pids: Vec<&str> = target.pids.iter().map(String::as_str).collect();
        pids.push(predictor_pid);
        let (measured, cpu) = wrk_with_cpu(script, &target.url, connections, seconds, &pids)?;
        let (predictor_cpu, proxy_cpu) = cpu.split_last().ok_or("no CPU figures")?;
        rows.push(format!(
            "{} | {:.0} | {:.1}% | {:.3} | {:+.3} | {:.3} | {:.0} | {:.0} |",
            target.name,
            measured.requests_per_second,
            measured.requests_per_second / direct.requests_per_second * 100.0,
            measured.p50_ms,
            measured.p50_ms - direct.p50_ms,
            measured.p99_ms,
            proxy_cpu.iter().sum::<f64>(),
            predictor_cpu,
        ));
    }
    Ok(rows)
}

async fn scenario(script: &Path, work_us: u64, seconds: u64, references: &[String]) -> Result<(), String> {
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
    let reference_dir = tempfile::tempdir().map_err(|error| error.to_string())?;
    let references = references
        .iter()
        .map(|name| {
            let dir = reference_dir.path().join(name);
            std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
            ReferenceProxy::start(name, port, &dir)
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The router runs in this process; each reference proxy's CPU is summed over its processes.
    let mut paths = vec![Target { name: "kfl router".into(), url: routed, pids: vec!["self".into()] }];
    for proxy in &references {
        let url = format!("http://127.0.0.1:{}/v2/models/bench/infer", proxy.port);
        paths.push(Target { name: proxy.name.into(), url, pids: proxy.pids() });
    }
    for connections in [1, 64] {
        let (script, direct, paths, predictor_pid) =
            (script.to_path_buf(), direct.clone(), paths.clone(), predictor_pid.clone());
        let rows = tokio::task::spawn_blocking(move || {
            measure(&script, &direct, &paths, &predictor_pid, connections, seconds)
        })
        .await
        .map_err(|error| error.to_string())??;
        for row in rows {
            println!("| {work_us} µs | {connections} | {row}");
        }
    }
    drop(references);
    let _ = stop.send(());
    running.await.map_err(|error| error.to_string())?.map_err(|error| error.to_string())?;
    Ok(())
}

/// The reference proxies to measure beside the router: `KFL_BENCH_REFERENCE` (comma-separated,
/// empty for none), by default every known one that is installed.
fn reference_proxies() -> Result<Vec<String>, String> {
    if let Ok(list) = std::env::var("KFL_BENCH_REFERENCE") {
        let names: Vec<String> = list.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect();
        if let Some(unknown) = names.iter().find(|name| !reference_proxy::KNOWN.contains(&name.as_str())) {
            return Err(format!(
                "KFL_BENCH_REFERENCE: unknown proxy {unknown:?}; known: {}",
                reference_proxy::KNOWN.join(", ")
            ));
        }
        return Ok(names);
    }
    let installed =
        |name: &str| Command::new(name).arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    let mut found = Vec::new();
    for name in reference_proxy::KNOWN {
        if installed(name) {
            found.push(name.to_string());
        } else {
            eprintln!("{name} is not installed, so it is not measured (apt-get install -y nginx-light haproxy)");
        }
    }
    Ok(found)
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
    let references = reference_proxies()?;
    println!(
        "| model work | connections | path | req/s | of direct | p50 ms | added p50 ms | p99 ms | proxy CPU µs/req | predictor CPU µs/req |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let work: Vec<u64> = match std::env::var("KFL_BENCH_WORK_US") {
        Ok(list) => list
            .split(',')
            .map(|w| w.trim().parse().map_err(|_| format!("KFL_BENCH_WORK_US: {w:?}")))
            .collect::<Result<_, _>>()?,
        Err(_) => vec![0, 1000, 10_000],
    };
    runtime.block_on(async {
        for work_us in work {
            scenario(&script, work_us, seconds, &references).await?;
        }
        Ok(())
    })
}
