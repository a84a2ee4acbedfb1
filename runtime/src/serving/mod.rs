//! Local serving: replicas of a model's predictor behind a KServe V1/V2 router, with canary split,
//! autoscaling, `/metrics`, monitoring rules and an admin endpoint.
//!
//! `serve` runs a server until `shutdown` resolves; `start` + [`Server::run_until`] does the same
//! and gives a [`ServeHandle`] for status snapshots and, in between, changes of the served versions
//! in place (canary share, `roll_out` of a new version, `promote`, `rollback`).

mod admin;
mod autoscaler;
mod binary_tensor;
mod config;
mod event;
mod guard;
mod listener;
mod metrics;
mod monitor;
mod pool;
mod process;
mod replica;
mod rollout;
mod router;
mod rule;
mod shared;
mod state;
mod status;
mod upstream;
mod upstream_pool;
mod window;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

pub use admin::{AdminError, request_canary_percent, request_promote, request_rollback, request_status};
pub use config::{
    Arg, Canary, ConfigError, ModelVersion, MonitorConfig, Protocol, RetrainHook, ScaleMetric, Scaling, ServeConfig,
    TransformerConfig,
};
pub use event::{ServeEvent, VersionChange};
pub use guard::same_secret;
pub use rule::{Action, Comparison, Condition, Metric, Rule, RuleFiring};
pub use state::{ServerState, StateError, read_state, running_servers, state_path};
pub use status::{ReplicaStatus, Role, StatusSnapshot, VersionStatus};
pub use window::WindowStats;

use pool::Pool;
use replica::ReplicaTemplate;
use shared::Shared;

#[derive(Debug)]
pub enum ServeError {
    /// The config cannot be served; the message names the field.
    InvalidConfig(ConfigError),
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    StateFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The listener failed while serving.
    Server(std::io::Error),
    /// `set_canary_percent`, promote or rollback on a server without a canary, or a percent outside 0..100.
    Canary(String),
    /// A new version could not be rolled out (already served, or its replicas did not get ready).
    Rollout(String),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::InvalidConfig(message) => write!(f, "cannot serve: {message}"),
            ServeError::Bind { address, source } => write!(f, "cannot listen on {address}: {source}"),
            ServeError::StateFile { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            ServeError::Server(source) => write!(f, "the serving router failed: {source}"),
            ServeError::Canary(message) => write!(f, "cannot change the canary: {message}"),
            ServeError::Rollout(message) => write!(f, "cannot roll out: {message}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Bind { source, .. } | ServeError::StateFile { source, .. } | ServeError::Server(source) => {
                Some(source)
            }
            ServeError::InvalidConfig(source) => Some(source),
            ServeError::Canary(_) | ServeError::Rollout(_) => None,
        }
    }
}

/// How a server ended: its last status (request and error counts per version, restarts).
#[derive(Clone, Debug)]
pub struct ServeReport {
    pub final_status: StatusSnapshot,
    /// False when in-flight requests were still running at the end of the drain timeout.
    pub drained: bool,
    /// Inference requests answered over the server's life, including by versions rolled out of it.
    pub requests: u64,
}

/// A cheap, cloneable view of a running server.
#[derive(Clone)]
pub struct ServeHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for ServeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeHandle").field("address", &self.shared.address).finish()
    }
}

impl ServeHandle {
    pub fn address(&self) -> SocketAddr {
        self.shared.address
    }

    pub fn status(&self) -> StatusSnapshot {
        self.shared.snapshot()
    }

    pub fn canary_percent(&self) -> f64 {
        self.shared.canary_percent()
    }

    /// The token the admin endpoints require (`Authorization: Bearer TOKEN`); also in the state file.
    pub fn admin_token(&self) -> &str {
        &self.shared.admin_token
    }

    pub fn set_canary_percent(&self, percent: f64) -> Result<(), ServeError> {
        if self.shared.routes().canary.is_none() {
            return Err(ServeError::Canary(format!("model {} has no canary version", self.shared.config.name)));
        }
        if !(0.0..=100.0).contains(&percent) {
            return Err(ServeError::Canary(format!("percent {percent} is outside 0..100")));
        }
        self.shared.set_canary_percent(percent);
        let _ = self.shared.events.try_send(ServeEvent::CanaryChanged { percent });
        Ok(())
    }

    /// Rolls `version` out in place as the canary with `percent` of the traffic (see
    /// [`rollout::roll_out`]): same port, counters and monitor window; no request refused.
    pub async fn roll_out(&self, version: ModelVersion, percent: f64) -> Result<VersionChange, ServeError> {
        rollout::roll_out(&self.shared, version, percent).await
    }

    /// All traffic to the canary; the old stable version is drained and stopped.
    pub async fn promote(&self) -> Result<VersionChange, ServeError> {
        rollout::promote(&self.shared).await
    }

    /// All traffic to the stable version; the canary is drained and stopped.
    pub async fn rollback(&self) -> Result<VersionChange, ServeError> {
        rollout::rollback(&self.shared).await
    }
}

/// A started server: listening, replicas starting; nothing is served until `run_until` polls it.
pub struct Server {
    shared: Arc<Shared>,
    /// Taken by `run_until`.
    listener: Option<TcpListener>,
    state_path: Option<PathBuf>,
    background: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("address", &self.shared.address).finish()
    }
}

fn template(
    config: &ServeConfig,
    version: &ModelVersion,
    client: &upstream::HttpClient,
    events: &mpsc::Sender<ServeEvent>,
) -> Arc<ReplicaTemplate> {
    Arc::new(ReplicaTemplate {
        version: version.version.clone(),
        readiness_path: config
            .readiness_path
            .clone()
            .unwrap_or_else(|| config::readiness_path(config.protocol, &config.model_name)),
        argv: config.argv.clone(),
        model_dir: version.model_dir.clone(),
        working_dir: config.working_dir.clone(),
        // Each version's processes know which model and version they serve (responses carry it).
        env: {
            let mut env = config.env.clone();
            env.insert("KFL_MODEL_NAME".to_owned(), config.model_name.clone());
            env.insert("KFL_MODEL_VERSION".to_owned(), version.version.clone());
            // As the cluster's container gets it (codegen/kserve.rs), so one server script runs in both.
            env.insert("PROTOCOL".to_owned(), config.protocol.to_string());
            env
        },
        transformer: config.transformer.clone(),
        log: config.state_dir.as_ref().map(|dir| dir.join(format!("{}-{}.log", config.name, version.version))),
        readiness_timeout: config.readiness_timeout,
        drain_timeout: config.drain_timeout,
        client: client.clone(),
        events: events.clone(),
        ready_changed: Arc::new(Notify::new()),
    })
}

/// Validates the config, binds the listener, starts the initial replicas, the autoscalers and the
/// monitor, and writes the state file.
pub async fn start(config: ServeConfig, events: mpsc::Sender<ServeEvent>) -> Result<Server, ServeError> {
    config.validate().map_err(ServeError::InvalidConfig)?;
    let bind = SocketAddr::new(config.bind, config.port);
    let listener = TcpListener::bind(bind).await.map_err(|source| ServeError::Bind { address: bind, source })?;
    let address = listener.local_addr().map_err(|source| ServeError::Bind { address: bind, source })?;
    let token = state::new_token().map_err(ServeError::Server)?;
    let client = upstream::new_client();
    let stable = Arc::new(Pool::new(template(&config, &config.stable, &client, &events)));
    let canary =
        config.canary.as_ref().map(|canary| Arc::new(Pool::new(template(&config, &canary.version, &client, &events))));
    let shared = Arc::new(Shared::new(config, stable, canary, client, events.clone(), address, token));
    let scaling = shared.config.scaling.clone();
    // Without an autoscale metric nothing would ever start a replica after scaling to zero.
    let initial = if scaling.metric.is_some() { scaling.min } else { scaling.min.max(1) };
    let mut background = Vec::new();
    for pool in shared.routes().pools() {
        pool.scale_to(initial as usize);
        pool.set_autoscaler(tokio::spawn(autoscaler::run(Arc::clone(pool), scaling.clone())));
    }
    background.push(tokio::spawn(monitor::run(
        shared.config.name.clone(),
        shared.config.monitor.clone(),
        Arc::clone(&shared.window),
        shared.client.clone(),
        events.clone(),
    )));
    let mut server = Server { shared, listener: Some(listener), state_path: None, background };
    if let Some(state_dir) = &server.shared.config.state_dir {
        let state = server.shared.server_state();
        match state::write_state(state_dir, &state) {
            Ok(path) => server.state_path = Some(path),
            Err(source) => {
                let path = state::state_path(state_dir, &server.shared.config.name, std::process::id());
                server.stop_background().await;
                return Err(ServeError::StateFile { path, source });
            }
        }
    }
    let _ = events.try_send(ServeEvent::Listening { address });
    Ok(server)
}

/// A server dropped without `run_until` (or whose `run_until` future was dropped) still stops its
/// replicas: their supervisors kill the process groups as soon as the runtime polls them.
impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
        for pool in self.shared.every_pool() {
            pool.retire();
        }
    }
}

impl Server {
    pub fn handle(&self) -> ServeHandle {
        ServeHandle { shared: Arc::clone(&self.shared) }
    }

    async fn stop_background(&mut self) {
        for task in self.background.drain(..) {
            task.abort();
        }
        // Retire every version first so all of them drain at the same time.
        let pools = self.shared.every_pool();
        for pool in &pools {
            pool.retire();
        }
        for pool in &pools {
            pool.shutdown().await;
        }
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
    /// (up to the drain timeout), stops every replica's process group and removes the state file.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> Result<ServeReport, ServeError> {
        let app = router::app(Arc::clone(&self.shared));
        let stop = Arc::new(Notify::new());
        let stopping = Arc::clone(&stop);
        let Some(listener) = self.listener.take() else {
            return Err(ServeError::Server(std::io::Error::other("the server already ran")));
        };
        let limits = listener::Limits {
            max_connections: listener::effective_cap(self.shared.config.max_connections),
            header_read_timeout: self.shared.config.header_read_timeout,
        };
        let mut server = tokio::spawn(listener::serve(listener, app, limits, stopping));
        let outcome = tokio::select! {
            finished = &mut server => Some(finished),
            () = shutdown => None,
        };
        let mut drained = true;
        let result = match outcome {
            Some(finished) => finished.map_err(|error| ServeError::Server(std::io::Error::other(error))),
            None => {
                let _ = self.shared.events.try_send(ServeEvent::ShuttingDown);
                stop.notify_one();
                match tokio::time::timeout(self.shared.config.drain_timeout, &mut server).await {
                    Ok(_) => {}
                    Err(_) => {
                        drained = false;
                        server.abort();
                    }
                }
                Ok(())
            }
        };
        self.stop_background().await;
        if let Some(path) = &self.state_path {
            state::remove_state(path);
        }
        result?;
        let requests = self.shared.every_pool().iter().map(|pool| pool.metrics.requests()).sum();
        Ok(ServeReport { final_status: self.shared.snapshot(), drained, requests })
    }
}

/// Runs a server until `shutdown` resolves (e.g. `tokio::signal::ctrl_c()`), reporting progress on
/// `events`. Use [`start`] instead to also get a [`ServeHandle`] while it runs.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
    events: mpsc::Sender<ServeEvent>,
) -> Result<ServeReport, ServeError> {
    start(config, events).await?.run_until(shutdown).await
}
