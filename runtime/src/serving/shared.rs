//! `Shared` and `Routes`: the state of one server that the router, the admin endpoints, the guard, rollouts,
//! autoscalers and handles read and change, below all of them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::config::ServeConfig;
use super::event::ServeEvent;
use super::pool::Pool;
use super::state::ServerState;
use super::status::{Role, StatusSnapshot, VersionStatus};
use super::upstream::HttpClient;
use super::upstream_pool::UpstreamPool;
use super::window::SlidingWindow;

/// Enough kept-alive connections for a few hundred concurrent clients per replica; more are
/// closed after use rather than held open against the replica.
const MAX_IDLE_PER_REPLICA: usize = 256;

/// The versions requests go to, replaced as a whole when they change (rollout, promote,
/// rollback, a new canary share), so a request always sees one consistent split.
pub struct Routes {
    pub stable: Arc<Pool>,
    pub canary: Option<Arc<Pool>>,
    /// The canary's share in percent (0 without a canary).
    pub canary_percent: f64,
}

impl Routes {
    pub fn pools(&self) -> impl Iterator<Item = &Arc<Pool>> {
        std::iter::once(&self.stable).chain(self.canary.as_ref())
    }

    pub fn traffic_percent(&self, pool: &Pool) -> f64 {
        let canary = self.canary.as_ref().map_or(0.0, |_| self.canary_percent);
        if std::ptr::eq(pool, Arc::as_ptr(&self.stable)) {
            100.0 - canary
        } else if self.canary.as_ref().is_some_and(|c| std::ptr::eq(pool, Arc::as_ptr(c))) {
            canary
        } else {
            0.0
        }
    }

    pub fn role(&self, pool: &Pool) -> Role {
        if std::ptr::eq(pool, Arc::as_ptr(&self.stable)) { Role::Stable } else { Role::Canary }
    }

    /// The version a request goes to (weighted by the canary percent) and the other one.
    pub(super) fn choose(&self, counter: &AtomicU64) -> (&Arc<Pool>, Option<&Arc<Pool>>) {
        let Some(canary) = &self.canary else { return (&self.stable, None) };
        let draw = splitmix64(counter.fetch_add(1, Ordering::Relaxed)) % 10_000;
        if (draw as f64) / 100.0 < self.canary_percent {
            (canary, Some(&self.stable))
        } else {
            (&self.stable, Some(canary))
        }
    }
}

/// State shared by the router, the admin endpoints, the autoscalers, the monitor and handles.
pub struct Shared {
    pub config: ServeConfig,
    routes: RwLock<Arc<Routes>>,
    /// Every version this server has run, routed or not (starting, or retired): shutdown stops
    /// them all, and `/metrics` keeps the counters of retired ones.
    every_pool: Mutex<Vec<Arc<Pool>>>,
    /// Held through a rollout, promote or rollback, so those never interleave.
    pub changing: tokio::sync::Mutex<()>,
    pub(super) split_counter: AtomicU64,
    pub window: Arc<SlidingWindow>,
    pub client: HttpClient,
    /// The proxy path's own connections (probes and webhooks use `client`).
    pub(super) upstream: UpstreamPool,
    pub events: mpsc::Sender<ServeEvent>,
    pub started: Instant,
    /// Unix seconds, for the state file.
    pub started_unix: u64,
    pub address: SocketAddr,
    /// The admin endpoints' bearer token, random per server, written only to the 0600 state file.
    pub admin_token: String,
}

impl Shared {
    pub fn new(
        config: ServeConfig,
        stable: Arc<Pool>,
        canary: Option<Arc<Pool>>,
        client: HttpClient,
        events: mpsc::Sender<ServeEvent>,
        address: SocketAddr,
        admin_token: String,
    ) -> Self {
        let canary_percent = config.canary.as_ref().map_or(0.0, |canary| canary.percent);
        let window = Arc::new(SlidingWindow::new(config.monitor.window));
        let upstream = UpstreamPool::new(MAX_IDLE_PER_REPLICA, config.upstream_connect_timeout);
        let every_pool = Mutex::new(std::iter::once(&stable).chain(canary.as_ref()).cloned().collect());
        Shared {
            config,
            routes: RwLock::new(Arc::new(Routes { stable, canary, canary_percent })),
            every_pool,
            changing: tokio::sync::Mutex::new(()),
            split_counter: AtomicU64::new(0),
            window,
            client,
            upstream,
            events,
            started: Instant::now(),
            started_unix: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            address,
            admin_token,
        }
    }

    pub fn routes(&self) -> Arc<Routes> {
        match self.routes.read() {
            Ok(routes) => Arc::clone(&routes),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the routes with `change(current)` in one step (concurrent changes cannot lose
    /// each other's update) and returns the new routes.
    pub fn update_routes(&self, change: impl FnOnce(&Routes) -> Routes) -> Arc<Routes> {
        let mut routes = match self.routes.write() {
            Ok(routes) => routes,
            Err(poisoned) => poisoned.into_inner(),
        };
        let next = Arc::new(change(&routes));
        *routes = Arc::clone(&next);
        next
    }

    pub fn canary_percent(&self) -> f64 {
        let routes = self.routes();
        routes.canary.as_ref().map_or(0.0, |_| routes.canary_percent)
    }

    pub fn set_canary_percent(&self, percent: f64) {
        self.update_routes(|routes| Routes {
            stable: Arc::clone(&routes.stable),
            canary: routes.canary.clone(),
            canary_percent: percent,
        });
    }

    /// Registers a version started outside the routes (a rollout's), so shutdown stops it too.
    pub fn adopt(&self, pool: &Arc<Pool>) {
        if let Ok(mut pools) = self.every_pool.lock() {
            pools.push(Arc::clone(pool));
        }
    }

    /// Drops a version that never entered the routes (its rollout failed): it served nothing to count.
    pub fn forget(&self, pool: &Arc<Pool>) {
        if let Ok(mut pools) = self.every_pool.lock() {
            pools.retain(|known| !Arc::ptr_eq(known, pool));
        }
    }

    pub fn every_pool(&self) -> Vec<Arc<Pool>> {
        self.every_pool.lock().map_or_else(|_| Vec::new(), |pools| pools.clone())
    }

    /// What `/kfl/v1/status`, a handle and the final report show: every routed version with its replicas,
    /// traffic share and counters.
    pub fn snapshot(&self) -> StatusSnapshot {
        let routes = self.routes();
        let versions = routes
            .pools()
            .map(|pool| VersionStatus {
                version: pool.version().to_owned(),
                role: routes.role(pool),
                traffic_percent: routes.traffic_percent(pool),
                replicas: pool.replica_statuses(),
                ready_replicas: pool.ready_count(),
                in_flight: pool.in_flight.load(Ordering::Relaxed),
                requests: pool.metrics.requests(),
                errors: pool.metrics.errors(),
                restarts: pool.restarts(),
            })
            .collect();
        StatusSnapshot {
            name: self.config.name.clone(),
            address: self.address,
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            versions,
            window: self.window.stats(),
        }
    }

    /// The state file's content for the current routes.
    pub fn server_state(&self) -> ServerState {
        let routes = self.routes();
        ServerState {
            name: self.config.name.clone(),
            address: self.address,
            pid: std::process::id(),
            started_at: self.started_unix,
            stable_version: routes.stable.version().to_owned(),
            canary_version: routes.canary.as_ref().map(|pool| pool.version().to_owned()),
            token: self.admin_token.clone(),
        }
    }
}

/// Decorrelates consecutive counter values so the split is uniform without a shared RNG lock.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_counter_is_uniform_enough_for_small_shares() {
        let canary = (0..10_000u64).filter(|n| splitmix64(*n) % 10_000 < 500).count();
        assert!((450..=550).contains(&canary), "5% share drew {canary} of 10000");
    }
}
