//! `ServeConfig`: the plain data one `serve` call needs (predictor argv, versions, scaling, limits, monitoring).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use super::rule::{Rule, RuleFiring};

/// One part of a predictor or transformer command line; placeholders are filled per replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    /// The served version's model directory.
    ModelDir,
    /// The free port this process must listen on (127.0.0.1).
    Port,
    /// Transformer only: `127.0.0.1:PORT` of the predictor process paired with it.
    PredictorHost,
}

/// Which inference protocol the predictor speaks (the plan's enum); decides the readiness probe.
pub use kfl_plan::Protocol;

/// Where a replica speaking `protocol` answers 200 once ready: KServe V1's model endpoint
/// (`GET /v1/models/NAME`), or the Open Inference Protocol's server readiness (`GET /v2/health/ready`).
pub fn readiness_path(protocol: Protocol, model: &str) -> String {
    match protocol {
        Protocol::V1 => format!("/v1/models/{model}"),
        Protocol::V2 => "/v2/health/ready".to_owned(),
    }
}

/// One registered model version the server runs replicas of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelVersion {
    pub version: String,
    pub model_dir: PathBuf,
}

/// The version receiving `percent` of the inference traffic; the stable version gets the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct Canary {
    pub version: ModelVersion,
    /// 0.0 ..= 100.0; changed at run time through the admin endpoint.
    pub percent: f64,
}

/// What the autoscaler compares per replica against its target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScaleMetric {
    /// Average in-flight requests per replica.
    Concurrency(f64),
    /// Requests per second per replica.
    Rps(f64),
}

/// Replica bounds and how the autoscaler moves between them.
#[derive(Clone, Debug, PartialEq)]
pub struct Scaling {
    /// `0` allows scale to zero: the next request then cold-starts a replica and waits for it.
    pub min: u32,
    pub max: u32,
    /// `None` keeps `min` replicas (at least one) per version.
    pub metric: Option<ScaleMetric>,
    /// How often load is observed and the replica count reconsidered.
    pub interval: Duration,
    /// The load average the desired count is computed from.
    pub metric_window: Duration,
    /// Scaling down (and to zero) only happens when every decision over this window allowed it.
    pub scale_down_delay: Duration,
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling {
            min: 1,
            max: 1,
            metric: None,
            interval: Duration::from_secs(2),
            metric_window: Duration::from_secs(10),
            scale_down_delay: Duration::from_secs(60),
        }
    }
}

/// A pre/post-processing process paired with every predictor process (KServe's transformer).
///
/// The router sends requests to the transformer; the transformer calls its predictor at the
/// address given by [`Arg::PredictorHost`] and by the environment variable `KFL_PREDICTOR_HOST`
/// (both `127.0.0.1:PORT`, as KServe's `--predictor_host`). It must answer the same readiness
/// path as the predictor.
#[derive(Clone, Debug, PartialEq)]
pub struct TransformerConfig {
    pub argv: Vec<Arg>,
    pub env: IndexMap<String, String>,
}

/// The retrain action's callback; called from the monitor task, so it must return quickly.
#[derive(Clone)]
pub struct RetrainHook(pub Arc<dyn Fn(&RuleFiring) + Send + Sync>);

impl fmt::Debug for RetrainHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetrainHook")
    }
}

/// Rules over the router's sliding window, and where their actions go.
#[derive(Clone, Debug)]
pub struct MonitorConfig {
    pub rules: Vec<Rule>,
    /// Length of the sliding window metrics are computed over.
    pub window: Duration,
    /// How often the rules are evaluated.
    pub interval: Duration,
    /// `then = alert` POSTs the firing as JSON here (plain `http://` only).
    pub webhook: Option<String>,
    /// `then = retrain` calls this; a `ServeEvent::Retrain` is sent either way.
    pub retrain: Option<RetrainHook>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            rules: Vec::new(),
            window: Duration::from_secs(60),
            interval: Duration::from_secs(1),
            webhook: None,
            retrain: None,
        }
    }
}

/// The default cap on open client connections; the router lowers it to half the process's
/// descriptor limit, so each client connection keeps one free for its replica connection.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Beyond this a cap protects nothing (the semaphore behind it counts in `u32`).
const MAX_CONNECTIONS_LIMIT: usize = 1 << 20;

/// Everything `serve` needs; filled by the caller from plan.json's `serve` stage and the registry.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The serve's name: its state and log files, messages.
    pub name: String,
    /// The name the model answers to: in the URL paths (`/v2/models/NAME/infer`, `/v1/models/NAME`) and the
    /// replicas' `KFL_MODEL_NAME`. plan.json's `served_name`, the InferenceService's name on the cluster.
    pub model_name: String,
    pub protocol: Protocol,
    /// Predictor command line; the first part is the program.
    pub argv: Vec<Arg>,
    pub working_dir: PathBuf,
    pub env: IndexMap<String, String>,
    pub stable: ModelVersion,
    pub canary: Option<Canary>,
    pub scaling: Scaling,
    pub transformer: Option<TransformerConfig>,
    pub bind: IpAddr,
    /// `0` picks a free port.
    pub port: u16,
    /// Larger request bodies are answered 413 without reaching a replica.
    pub body_limit: usize,
    /// Covers waiting for a cold start, the replica's answer and its body; 504 when exceeded.
    pub request_timeout: Duration,
    /// The path probed on each replica until it answers 200; `None` uses the protocol's
    /// (`/v2/health/ready`, or `/v1/models/NAME` for V1).
    pub readiness_path: Option<String>,
    /// How long one process start may take to become ready before it is killed and restarted.
    pub readiness_timeout: Duration,
    /// How long in-flight requests may take to finish after shutdown was asked for.
    pub drain_timeout: Duration,
    /// Open client connections beyond this are answered 503 and closed (keeps file descriptors
    /// for the replicas and the service alive under a flood).
    pub max_connections: usize,
    /// Time a client has to send a request's head, from connecting or from the previous answer:
    /// slow (slowloris) and idle kept-alive connections are closed after it.
    pub header_read_timeout: Duration,
    /// Time to open a connection to a replica; a request whose connection did not open was never
    /// sent, so it is retried once on another ready replica.
    pub upstream_connect_timeout: Duration,
    /// Where `<name>.json` (address, pid) is written for `kfl serve promote|rollback|status`;
    /// `None` writes nothing.
    pub state_dir: Option<PathBuf>,
    pub monitor: MonitorConfig,
}

impl ServeConfig {
    /// A config with the defaults: V2, 127.0.0.1 on a free port, one replica, 1 MiB bodies, 60 s
    /// timeout, 1,024 client connections, 10 s to send a request head, 1 s to connect to a replica.
    pub fn new(name: impl Into<String>, argv: Vec<Arg>, stable: ModelVersion) -> Self {
        let name = name.into();
        ServeConfig {
            model_name: name.clone(),
            name,
            protocol: Protocol::V2,
            argv,
            working_dir: PathBuf::from("."),
            env: IndexMap::new(),
            stable,
            canary: None,
            scaling: Scaling::default(),
            transformer: None,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            readiness_path: None,
            readiness_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(10),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: Duration::from_secs(10),
            upstream_connect_timeout: Duration::from_secs(1),
            state_dir: None,
            monitor: MonitorConfig::default(),
        }
    }

    /// Rejects configs no process could be started from, naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() || self.name.contains(['/', ':', '?', '#']) {
            return Err(ConfigError::Name(self.name.clone()));
        }
        if !matches!(self.argv.first(), Some(Arg::Text(program)) if !program.is_empty()) {
            return Err(ConfigError::NoProgram { command: "predictor" });
        }
        if self.argv.contains(&Arg::PredictorHost) {
            return Err(ConfigError::PredictorHostInPredictor);
        }
        if let Some(transformer) = &self.transformer
            && !matches!(transformer.argv.first(), Some(Arg::Text(program)) if !program.is_empty())
        {
            return Err(ConfigError::NoProgram { command: "transformer" });
        }
        if self.scaling.max == 0 || self.scaling.min > self.scaling.max {
            return Err(ConfigError::Replicas { min: self.scaling.min, max: self.scaling.max });
        }
        if let Some(ScaleMetric::Concurrency(target) | ScaleMetric::Rps(target)) = self.scaling.metric
            && !(target.is_finite() && target > 0.0)
        {
            return Err(ConfigError::AutoscaleTarget(target));
        }
        if let Some(canary) = &self.canary {
            if !(0.0..=100.0).contains(&canary.percent) {
                return Err(ConfigError::CanaryPercent(canary.percent));
            }
            if canary.version.version == self.stable.version {
                return Err(ConfigError::CanaryIsStable(canary.version.version.clone()));
            }
        }
        if let Some(path) = &self.readiness_path
            && !path.starts_with('/')
        {
            return Err(ConfigError::ReadinessPath(path.clone()));
        }
        if self.request_timeout.is_zero()
            || self.readiness_timeout.is_zero()
            || self.header_read_timeout.is_zero()
            || self.upstream_connect_timeout.is_zero()
        {
            return Err(ConfigError::ZeroTimeout);
        }
        if self.max_connections == 0 || self.max_connections > MAX_CONNECTIONS_LIMIT {
            return Err(ConfigError::MaxConnections(self.max_connections));
        }
        if let Some(url) = &self.monitor.webhook
            && !url.starts_with("http://")
        {
            return Err(ConfigError::Webhook(url.clone()));
        }
        Ok(())
    }
}

/// A serving config no process could be started from, naming the field; nothing was started.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    Name(String),
    /// The predictor's or transformer's command line has no program.
    NoProgram {
        command: &'static str,
    },
    PredictorHostInPredictor,
    Replicas {
        min: u32,
        max: u32,
    },
    AutoscaleTarget(f64),
    CanaryPercent(f64),
    CanaryIsStable(String),
    ReadinessPath(String),
    ZeroTimeout,
    MaxConnections(usize),
    Webhook(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Name(name) => write!(f, "serve name {name:?} cannot appear in a URL path segment"),
            ConfigError::NoProgram { command } => {
                write!(f, "the {command} command line must start with a program name")
            }
            ConfigError::PredictorHostInPredictor => {
                f.write_str("`predictor host` is only meaningful in a transformer command line")
            }
            ConfigError::Replicas { min, max } => {
                write!(f, "replicas {min}..{max} is not a range with at least one replica")
            }
            ConfigError::AutoscaleTarget(target) => write!(f, "autoscale target {target} must be a positive number"),
            ConfigError::CanaryPercent(percent) => write!(f, "canary percent {percent} is outside 0..100"),
            ConfigError::CanaryIsStable(version) => write!(f, "canary version {version} is the stable version"),
            ConfigError::ReadinessPath(path) => write!(f, "readiness path {path:?} must start with `/`"),
            ConfigError::ZeroTimeout => {
                f.write_str("request, readiness, header-read and connect timeouts must be longer than zero")
            }
            ConfigError::MaxConnections(n) => write!(f, "max connections {n} is outside 1..={MAX_CONNECTIONS_LIMIT}"),
            ConfigError::Webhook(url) => {
                write!(f, "webhook {url:?} must be an http:// URL (TLS is not supported locally)")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ServeConfig {
        let argv = vec![Arg::Text("python3".into()), Arg::Text("predict.py".into()), Arg::Port];
        ServeConfig::new("iris", argv, ModelVersion { version: "1".into(), model_dir: PathBuf::from("m") })
    }

    #[test]
    fn validation_names_what_is_wrong() {
        assert_eq!(valid().validate(), Ok(()));
        let mut config = valid();
        config.scaling.min = 3;
        config.scaling.max = 2;
        assert_eq!(config.validate(), Err(ConfigError::Replicas { min: 3, max: 2 }));
        let mut config = valid();
        config.canary = Some(Canary { version: config.stable.clone(), percent: 10.0 });
        assert_eq!(config.validate(), Err(ConfigError::CanaryIsStable("1".into())));
        let mut config = valid();
        config.argv = vec![Arg::Port];
        assert!(config.validate().is_err_and(|e| e.to_string().contains("program")));
        let mut config = valid();
        config.name = "a/b".into();
        assert_eq!(config.validate(), Err(ConfigError::Name("a/b".into())));
        let mut config = valid();
        config.monitor.webhook = Some("https://hooks.example/x".into());
        assert!(config.validate().is_err_and(|e| e.to_string().contains("http://")));
    }
}
