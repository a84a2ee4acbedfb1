//! One replica: a predictor process (and its transformer), supervised: readiness probing, restart on crash, drain on stop.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use hyper::Method;
use indexmap::IndexMap;
use tokio::process::Child;
use tokio::sync::{Notify, mpsc, watch};

use super::config::{Arg, TransformerConfig};
use super::event::ServeEvent;
use super::process::{ArgValues, fill_argv, free_port, spawn_group, stop_group};
use super::upstream::{HttpClient, call};
use crate::process_tree::kill_group_remains;

const PROBE_INTERVAL: Duration = Duration::from_millis(50);
const TERM_GRACE: Duration = Duration::from_secs(3);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A replica that stayed up this long before crashing restarts without backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(10);

/// What every replica of one version is started from.
pub struct ReplicaTemplate {
    pub version: String,
    /// Probed on the replica's port (the transformer's when there is one).
    pub readiness_path: String,
    pub argv: Vec<Arg>,
    pub model_dir: PathBuf,
    pub working_dir: PathBuf,
    pub env: IndexMap<String, String>,
    pub transformer: Option<TransformerConfig>,
    /// Where the version's processes write stdout and stderr (appended); inherited when `None`.
    pub log: Option<PathBuf>,
    pub readiness_timeout: Duration,
    pub drain_timeout: Duration,
    pub client: HttpClient,
    pub events: mpsc::Sender<ServeEvent>,
    /// Woken whenever a replica of this version enters rotation (cold-start waiters listen).
    pub ready_changed: Arc<Notify>,
}

/// Shared between the router (which picks and counts) and the supervisor (which owns the processes).
pub struct Replica {
    pub id: u32,
    /// The port requests go to: the transformer's when there is one, else the predictor's.
    port: AtomicU16,
    ready: AtomicBool,
    pub outstanding: AtomicUsize,
    pid: AtomicU32,
    restarts: AtomicU32,
    stop: watch::Sender<bool>,
}

impl Replica {
    pub fn new(id: u32) -> Self {
        Replica {
            id,
            port: AtomicU16::new(0),
            ready: AtomicBool::new(false),
            outstanding: AtomicUsize::new(0),
            pid: AtomicU32::new(0),
            restarts: AtomicU32::new(0),
            stop: watch::Sender::new(false),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn port(&self) -> u16 {
        self.port.load(Ordering::Acquire)
    }

    /// The predictor's pid, `0` between processes.
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::Acquire)
    }

    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Takes the replica out of rotation and lets its supervisor drain and stop it.
    pub fn stop(&self) {
        self.ready.store(false, Ordering::Release);
        self.stop.send_replace(true);
    }
}

/// The processes of one start of a replica.
struct Running {
    predictor: Child,
    predictor_pid: u32,
    transformer: Option<(Child, u32)>,
    port: u16,
}

enum Outcome {
    Stopped,
    Failed(String),
}

/// Never waits: a caller that reads its events slowly (or not at all) must not stall restarts.
fn emit(template: &ReplicaTemplate, event: ServeEvent) {
    let _ = template.events.try_send(event);
}

/// Why a replica's processes did not start; the supervisor restarts it after its backoff.
#[derive(Debug)]
enum StartError {
    NoPort(std::io::Error),
    Spawn { process: &'static str, argv: String, source: std::io::Error },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::NoPort(e) => write!(f, "no free port: {e}"),
            StartError::Spawn { process, argv, source } => write!(f, "cannot start {process}`{argv}`: {source}"),
        }
    }
}

fn start(template: &ReplicaTemplate) -> Result<Running, StartError> {
    let predictor_port = free_port().map_err(StartError::NoPort)?;
    let values = ArgValues { model_dir: &template.model_dir, port: predictor_port, predictor_port: None };
    let argv = fill_argv(&template.argv, &values);
    let predictor = spawn_group(&argv, &template.working_dir, &template.env, template.log.as_deref())
        .map_err(|source| StartError::Spawn { process: "", argv: argv.join(" "), source })?;
    let predictor_pid = predictor.id().unwrap_or(0);
    let mut running = Running { predictor, predictor_pid, transformer: None, port: predictor_port };
    if let Some(transformer) = &template.transformer {
        let port = free_port().map_err(StartError::NoPort)?;
        let values = ArgValues { model_dir: &template.model_dir, port, predictor_port: Some(predictor_port) };
        let argv = fill_argv(&transformer.argv, &values);
        let mut env = template.env.clone();
        env.extend(transformer.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.insert("KFL_PREDICTOR_HOST".to_owned(), format!("127.0.0.1:{predictor_port}"));
        let child = spawn_group(&argv, &template.working_dir, &env, template.log.as_deref())
            .map_err(|source| StartError::Spawn { process: "transformer ", argv: argv.join(" "), source })?;
        let pid = child.id().unwrap_or(0);
        running.transformer = Some((child, pid));
        running.port = port;
    }
    Ok(running)
}

async fn stop_running(running: &mut Running) {
    if let Some((child, pid)) = &mut running.transformer {
        stop_group(child, TERM_GRACE).await;
        kill_group_remains(*pid);
    }
    stop_group(&mut running.predictor, TERM_GRACE).await;
    kill_group_remains(running.predictor_pid);
}

/// Resolves when either process of the replica exits, with a description of which and how.
async fn exited(running: &mut Running) -> String {
    let transformer = async {
        match &mut running.transformer {
            Some((child, _)) => child.wait().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        status = running.predictor.wait() => format!("predictor exited ({})", describe(status)),
        status = transformer => format!("transformer exited ({})", describe(status)),
    }
}

fn describe(status: std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(error) => format!("cannot wait for it: {error}"),
    }
}

async fn probe(template: &ReplicaTemplate, port: u16, path: &str) -> bool {
    // Transformers must answer the same readiness path; probing its port covers both processes.
    let url = format!("http://127.0.0.1:{port}{path}");
    matches!(call(&template.client, Method::GET, &url, Bytes::new(), None, Duration::from_secs(2)).await,
        Ok((status, _)) if status.is_success())
}

/// Polls readiness until it answers 200, a process exits, the deadline passes or stop is asked.
async fn await_ready(
    template: &ReplicaTemplate,
    running: &mut Running,
    stop: &mut watch::Receiver<bool>,
) -> Option<Outcome> {
    let path = &template.readiness_path;
    let deadline = tokio::time::Instant::now() + template.readiness_timeout;
    loop {
        let port = running.port;
        tokio::select! {
            reason = exited(running) => return Some(Outcome::Failed(reason)),
            _ = stop.wait_for(|stop| *stop) => return Some(Outcome::Stopped),
            _ = tokio::time::sleep_until(deadline) => {
                return Some(Outcome::Failed(format!("not ready within {:?}", template.readiness_timeout)));
            }
            ready = probe(template, port, path) => {
                if ready {
                    return None;
                }
            }
        }
        tokio::select! {
            reason = exited(running) => return Some(Outcome::Failed(reason)),
            _ = stop.wait_for(|stop| *stop) => return Some(Outcome::Stopped),
            _ = tokio::time::sleep(PROBE_INTERVAL) => {}
        }
    }
}

/// Runs one start of the replica until it fails or is stopped.
async fn run_once(template: &ReplicaTemplate, replica: &Replica, stop: &mut watch::Receiver<bool>) -> Outcome {
    let mut running = match start(template) {
        Ok(running) => running,
        Err(reason) => return Outcome::Failed(reason.to_string()),
    };
    replica.pid.store(running.predictor_pid, Ordering::Release);
    replica.port.store(running.port, Ordering::Release);
    let version = template.version.clone();
    emit(
        template,
        ServeEvent::ReplicaStarted {
            version: version.clone(),
            replica: replica.id,
            pid: running.predictor_pid,
            port: running.port,
        },
    );
    let outcome = match await_ready(template, &mut running, stop).await {
        Some(outcome) => outcome,
        None => {
            replica.ready.store(true, Ordering::Release);
            template.ready_changed.notify_waiters();
            emit(template, ServeEvent::ReplicaReady { version, replica: replica.id, port: running.port });
            tokio::select! {
                reason = exited(&mut running) => Outcome::Failed(reason),
                _ = stop.wait_for(|stop| *stop) => Outcome::Stopped,
            }
        }
    };
    replica.ready.store(false, Ordering::Release);
    if matches!(outcome, Outcome::Stopped) {
        drain(replica, template.drain_timeout).await;
    }
    stop_running(&mut running).await;
    replica.pid.store(0, Ordering::Release);
    outcome
}

/// Waits for the requests already routed to the replica, so scaling down loses none of them.
async fn drain(replica: &Replica, limit: Duration) {
    let deadline = Instant::now() + limit;
    while replica.outstanding.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Keeps the replica running until it is stopped: restarts it (with backoff) whenever it exits
/// or misses its readiness deadline; it is out of rotation from the exit until ready again.
pub async fn supervise(template: Arc<ReplicaTemplate>, replica: Arc<Replica>) {
    let mut stop = replica.stop.subscribe();
    let mut backoff = Duration::from_millis(100);
    loop {
        if *stop.borrow() {
            return;
        }
        let started = Instant::now();
        match run_once(&template, &replica, &mut stop).await {
            Outcome::Stopped => return,
            Outcome::Failed(reason) => {
                replica.restarts.fetch_add(1, Ordering::Relaxed);
                let event =
                    ServeEvent::ReplicaFailed { version: template.version.clone(), replica: replica.id, reason };
                emit(&template, event);
            }
        }
        if started.elapsed() >= HEALTHY_RUN {
            backoff = Duration::from_millis(100);
        }
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
