//! `ServeEvent`: what the server reports to its caller while it runs (for logs and the status line).

use std::net::SocketAddr;

use super::monitor::RuleFiring;

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
    ShuttingDown,
}
