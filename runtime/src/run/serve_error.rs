//! `ServeSetupError` and `ServedError`: why a `serve` stage (or `kfl serve`) did not start serving, or how
//! serving ended badly, naming the stage, model, version, param or rule.

use std::fmt;

use crate::plan::ServeRuntime;
use crate::registry::RegistryError;
use crate::serving::{ConfigError, ServeError};

/// A `serve` that could not be configured: nothing was started and the registry is unchanged.
#[derive(Debug)]
pub enum ServeSetupError {
    NoStage {
        name: String,
    },
    NotAServe {
        name: String,
    },
    NoServeStage {
        name: String,
    },
    /// A KServe runtime with no local `run`: the stage is not supported by `kfl run`.
    ClusterOnlyRuntime {
        name: String,
        runtime: ServeRuntime,
    },
    OpenRegistry(RegistryError),
    LiveVersions {
        model: String,
        source: RegistryError,
    },
    NoLiveVersion {
        model: String,
    },
    /// A version whose artifact is only remote.
    NotLocal {
        model: String,
        version: String,
        uri: String,
    },
    UnboundParam {
        name: String,
    },
    /// `model_dir`/`port` inside a larger argument.
    BuiltinNotWhole {
        name: String,
    },
    /// A plan reference that has no value outside a pipeline run (its debug form).
    UnsupportedPart {
        part: String,
    },
    AutoscaleTarget {
        name: String,
    },
    /// A `monitor` rule that is not `METRIC OP NUMBER`.
    RuleShape {
        monitor: String,
        rule: String,
    },
    UnknownMetric {
        monitor: String,
        metric: String,
    },
    Config {
        name: String,
        source: ConfigError,
    },
}

impl fmt::Display for ServeSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeSetupError::NoStage { name } => write!(f, "no stage `{name}`"),
            ServeSetupError::NotAServe { name } => write!(f, "`{name}` is not a serve"),
            ServeSetupError::NoServeStage { name } => write!(f, "no serve stage `{name}`"),
            ServeSetupError::ClusterOnlyRuntime { name, runtime } => write!(
                f,
                "`{name}` uses runtime = {runtime}, whose server only exists in the cluster (KServe); give it `run` \
                 (or `local {{ run }}`) to serve it locally"
            ),
            ServeSetupError::OpenRegistry(e) => write!(f, "cannot open the registry: {e}"),
            ServeSetupError::LiveVersions { model, source } => write!(f, "model `{model}`: {source}"),
            ServeSetupError::NoLiveVersion { model } => {
                write!(f, "model `{model}` has no LIVE version in the registry; run the pipeline to register one")
            }
            ServeSetupError::NotLocal { model, version, uri } => {
                write!(f, "version {version} of `{model}` is only at {uri}; serving needs a local copy")
            }
            ServeSetupError::UnboundParam { name } => write!(f, "param `{name}` has no value"),
            ServeSetupError::BuiltinNotWhole { name } => {
                write!(f, "`{name}` must be a whole argument of a serve's `run` to be bound locally")
            }
            ServeSetupError::UnsupportedPart { part } => write!(f, "a serve's command cannot use {part} locally"),
            ServeSetupError::AutoscaleTarget { name } => {
                write!(f, "`{name}`: the autoscale target must be a number locally")
            }
            ServeSetupError::RuleShape { monitor, rule } => {
                write!(f, "monitor `{monitor}`, rule `{rule}`: locally a rule is `METRIC OP NUMBER`")
            }
            ServeSetupError::UnknownMetric { monitor, metric } => {
                write!(f, "monitor `{monitor}`: unknown serving metric `{metric}`")
            }
            ServeSetupError::Config { name, source } => write!(f, "`{name}`: {source}"),
        }
    }
}

impl std::error::Error for ServeSetupError {}

/// How a started serve failed. The registry is unchanged; the replicas were stopped.
#[derive(Debug)]
pub enum ServedError {
    Start(ServeError),
    /// The router ran, but the smoke test's request got no answer.
    NoAnswer(SmokeTestError),
    Serving(ServeError),
    /// The serving task panicked or was cancelled.
    Task(tokio::task::JoinError),
}

impl fmt::Display for ServedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServedError::Start(e) => write!(f, "cannot serve: {e}"),
            ServedError::NoAnswer(e) => write!(f, "the server started but did not answer: {e}"),
            ServedError::Serving(e) => write!(f, "serving failed: {e}"),
            ServedError::Task(e) => write!(f, "serving failed: {e}"),
        }
    }
}

impl std::error::Error for ServedError {}

/// The smoke test's request to the router failed.
#[derive(Debug)]
pub enum SmokeTestError {
    Request { url: String, source: Box<ureq::Error> },
    Task(tokio::task::JoinError),
}

impl fmt::Display for SmokeTestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmokeTestError::Request { url, source } => write!(f, "GET {url}: {source}"),
            SmokeTestError::Task(e) => e.fmt(f),
        }
    }
}
