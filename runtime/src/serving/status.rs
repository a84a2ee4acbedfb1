//! `StatusSnapshot`: the live state of a server (replicas, traffic split, window metrics) for the CLI's status line.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::window::WindowStats;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Stable,
    Canary,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    pub id: u32,
    /// The predictor's pid; `0` while it is being restarted.
    pub pid: u32,
    pub port: u16,
    pub ready: bool,
    pub outstanding: usize,
    pub restarts: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionStatus {
    pub version: String,
    pub role: Role,
    pub traffic_percent: f64,
    pub replicas: Vec<ReplicaStatus>,
    pub ready_replicas: usize,
    pub in_flight: usize,
    pub requests: u64,
    pub errors: u64,
    pub restarts: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    pub name: String,
    pub address: SocketAddr,
    pub uptime_seconds: f64,
    /// Stable first, then the canary when there is one.
    pub versions: Vec<VersionStatus>,
    /// Over the monitor's sliding window, all versions together.
    pub window: WindowStats,
}

/// One line: `iris v3 90% 2/2 ready · canary v4 10% 1/1 ready · 12.5 rps · p95 4.1 ms · errors 0.0%`.
impl fmt::Display for StatusSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        for version in &self.versions {
            let role = match version.role {
                Role::Stable => "",
                Role::Canary => " canary",
            };
            let total = version.replicas.len();
            write!(
                f,
                "{role} v{} {}% {}/{} ready ·",
                version.version, version.traffic_percent, version.ready_replicas, total
            )?;
        }
        write!(f, " {:.1} rps", self.window.requests_per_second)?;
        match self.window.latency_p95 {
            Some(p95) => write!(f, " · p95 {:.1} ms", p95 * 1000.0)?,
            None => write!(f, " · p95 -")?,
        }
        write!(f, " · errors {:.1}%", self.window.error_rate * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(version: &str, role: Role, percent: f64, ready: usize, total: usize) -> VersionStatus {
        let replica = ReplicaStatus { id: 0, pid: 1, port: 2, ready: true, outstanding: 0, restarts: 0 };
        VersionStatus {
            version: version.into(),
            role,
            traffic_percent: percent,
            replicas: vec![replica; total],
            ready_replicas: ready,
            in_flight: 0,
            requests: 0,
            errors: 0,
            restarts: 0,
        }
    }

    #[test]
    fn the_status_line_shows_replicas_split_rate_latency_and_errors() {
        let snapshot = StatusSnapshot {
            name: "iris".into(),
            address: SocketAddr::from(([127, 0, 0, 1], 8080)),
            uptime_seconds: 3.0,
            versions: vec![version("3", Role::Stable, 90.0, 2, 2), version("4", Role::Canary, 10.0, 0, 1)],
            window: WindowStats {
                requests: 40,
                errors: 1,
                error_rate: 0.025,
                requests_per_second: 12.5,
                latency_p50: Some(0.002),
                latency_p95: Some(0.0041),
                latency_p99: Some(0.009),
            },
        };
        assert_eq!(
            snapshot.to_string(),
            "iris v3 90% 2/2 ready · canary v4 10% 0/1 ready · 12.5 rps · p95 4.1 ms · errors 2.5%"
        );
    }
}
