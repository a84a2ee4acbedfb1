//! `ServeEvent`: what the server reports to its caller while it runs (for logs and the status line).

use std::net::SocketAddr;

use super::monitor::RuleFiring;
use super::rollout::VersionChange;

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
