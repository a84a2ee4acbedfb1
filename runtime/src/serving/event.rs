//! `ServeEvent`: what the server reports to its caller while it runs (for logs and the status line).

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::rule::RuleFiring;

/// Sent with `try_send`: serving never waits for the caller, so events are dropped while the
/// channel is full. A capacity of a few hundred is plenty for logs and the status line.
#[derive(Clone, Debug, PartialEq)]
pub enum ServeEvent {
    /// The router accepts connections at `address`.
    Listening {
        address: SocketAddr,
    },
    ReplicaStarted {
        version: String,
        replica: u32,
        pid: u32,
        port: u16,
    },
    ReplicaReady {
        version: String,
        replica: u32,
        port: u16,
    },
    /// A replica's process exited without being asked to, or did not become ready in time.
    ReplicaFailed {
        version: String,
        replica: u32,
        reason: String,
    },
    Scaled {
        version: String,
        from: usize,
        to: usize,
    },
    CanaryChanged {
        percent: f64,
    },
    Alert(RuleFiring),
    Retrain(RuleFiring),
    /// The webhook of an alert could not be reached; the alert itself was still reported.
    WebhookFailed {
        rule: String,
        reason: String,
    },
    /// A new version's replicas got ready and it became the canary.
    RolledOut(VersionChange),
    /// The version could not be rolled out; the server serves what it served before.
    RolloutFailed {
        version: String,
        reason: String,
    },
    Promoted(VersionChange),
    RolledBack(VersionChange),
    /// The state file could not follow a change of the served versions.
    StateFileFailed {
        reason: String,
    },
    ShuttingDown,
}

impl ServeEvent {
    /// The line a user watching the server sees, for events worth a line.
    pub fn describe(&self) -> Option<String> {
        Some(match self {
            ServeEvent::ReplicaFailed { version, replica, reason } => {
                format!("replica {replica} of version {version} failed: {reason}; restarting it")
            }
            ServeEvent::Scaled { version, from, to } => format!("version {version}: {from} → {to} replicas"),
            ServeEvent::CanaryChanged { percent } => format!("canary now gets {percent}% of requests"),
            ServeEvent::Alert(firing) => format!("alert: rule `{}` fired (value {:.4})", firing.rule, firing.value),
            ServeEvent::Retrain(firing) => {
                format!("retrain: rule `{}` fired; a new run of the file started", firing.rule)
            }
            ServeEvent::WebhookFailed { rule, reason } => format!("alert `{rule}`: webhook failed: {reason}"),
            ServeEvent::RolledOut(change) => format!("rolled out in place: {change}"),
            ServeEvent::RolloutFailed { version, reason } => {
                format!("version {version} was not rolled out: {reason}; serving continues unchanged")
            }
            ServeEvent::Promoted(change) => format!("promoted: {change}"),
            ServeEvent::RolledBack(change) => format!("rolled back: {change}"),
            ServeEvent::StateFileFailed { reason } => reason.clone(),
            ServeEvent::Listening { .. }
            | ServeEvent::ReplicaStarted { .. }
            | ServeEvent::ReplicaReady { .. }
            | ServeEvent::ShuttingDown => return None,
        })
    }
}

/// The versions served after a change, and the ones it drained and stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionChange {
    pub model: String,
    pub stable: String,
    pub canary: Option<String>,
    /// The canary's share (0 without a canary).
    pub canary_percent: f64,
    /// Versions taken out of the server by the change, drained and stopped.
    pub retired: Vec<String>,
}

/// `api` now serves version 1 (90%) and canary 2 (10%); version 0 drained and stopped
impl fmt::Display for VersionChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.canary {
            Some(canary) => write!(
                f,
                "`{}` now serves version {} ({}%) and canary {canary} ({}%)",
                self.model,
                self.stable,
                100.0 - self.canary_percent,
                self.canary_percent
            )?,
            None => write!(f, "`{}` now serves version {} (100%)", self.model, self.stable)?,
        }
        match self.retired.as_slice() {
            [] => Ok(()),
            [one] => write!(f, "; version {one} drained and stopped"),
            many => write!(f, "; versions {} drained and stopped", many.join(", ")),
        }
    }
}
