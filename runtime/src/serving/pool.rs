//! The replicas of one model version: picking the least-loaded ready one, scaling, cold starts, stopping.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::event::ServeEvent;
use super::metrics::VersionMetrics;
use super::replica::{Replica, ReplicaTemplate, supervise};
use super::status::ReplicaStatus;

pub struct Pool {
    pub template: Arc<ReplicaTemplate>,
    pub metrics: VersionMetrics,
    /// Replicas in rotation or starting; stopped ones leave this list at once.
    replicas: RwLock<Vec<Arc<Replica>>>,
    supervisors: Mutex<Vec<JoinHandle<()>>>,
    next_id: AtomicU32,
    round_robin: AtomicUsize,
    /// Requests routed to this version and not yet answered (the autoscaler's concurrency).
    pub in_flight: AtomicUsize,
    /// Sum of request durations, for average concurrency over an interval (Little's law).
    pub busy_micros: AtomicU64,
    /// Requests waiting for a cold start.
    pub waiting: AtomicUsize,
    /// Set once the version leaves the server: it never starts a replica again, and requests that
    /// chose it before it left are routed anew.
    retired: AtomicBool,
    autoscaler: Mutex<Option<JoinHandle<()>>>,
}

/// Holds a replica's outstanding count up while a request is being answered by it.
pub struct Lease {
    pub replica: Arc<Replica>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.replica.outstanding.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a version's replicas did not get ready; the caller stops them and serving stays as it was.
#[derive(Debug, Clone, PartialEq)]
pub enum NotReady {
    Stopping,
    Crashing { restarts: u32 },
    Timeout { ready: usize, count: usize, limit: Duration },
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Stopping => f.write_str("the server is stopping"),
            NotReady::Crashing { restarts } => write!(f, "its replicas failed {restarts} times before getting ready"),
            NotReady::Timeout { ready, count, limit } => write!(f, "{ready}/{count} replicas ready within {limit:?}"),
        }
    }
}

impl Pool {
    pub fn new(template: Arc<ReplicaTemplate>) -> Self {
        let metrics = VersionMetrics::new(&template.version);
        Pool {
            template,
            metrics,
            replicas: RwLock::new(Vec::new()),
            supervisors: Mutex::new(Vec::new()),
            next_id: AtomicU32::new(0),
            round_robin: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            busy_micros: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            retired: AtomicBool::new(false),
            autoscaler: Mutex::new(None),
        }
    }

    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Keeps the version's autoscaler task so retiring the version also ends it.
    pub fn set_autoscaler(&self, task: JoinHandle<()>) {
        if let Ok(mut slot) = self.autoscaler.lock()
            && let Some(previous) = slot.replace(task)
        {
            previous.abort();
        }
    }

    pub fn version(&self) -> &str {
        &self.template.version
    }

    /// The ready replica with the fewest outstanding requests; ties go round robin so an idle
    /// pool still spreads load. `exclude` skips a replica that just refused a connection.
    pub fn pick(&self, exclude: Option<u32>) -> Option<Lease> {
        let replicas = self.replicas.read().ok()?;
        let count = replicas.len();
        if count == 0 {
            return None;
        }
        let start = self.round_robin.fetch_add(1, Ordering::Relaxed) % count;
        let mut best: Option<(&Arc<Replica>, usize)> = None;
        for offset in 0..count {
            let replica = &replicas[(start + offset) % count];
            if !replica.is_ready() || Some(replica.id) == exclude {
                continue;
            }
            let load = replica.outstanding.load(Ordering::Acquire);
            if best.is_none_or(|(_, best_load)| load < best_load) {
                best = Some((replica, load));
            }
        }
        let (replica, _) = best?;
        replica.outstanding.fetch_add(1, Ordering::AcqRel);
        Some(Lease { replica: Arc::clone(replica) })
    }

    pub fn replica_count(&self) -> usize {
        self.replicas.read().map_or(0, |replicas| replicas.len())
    }

    pub fn ready_count(&self) -> usize {
        self.replicas.read().map_or(0, |replicas| replicas.iter().filter(|r| r.is_ready()).count())
    }

    /// Starts or stops replicas until `target` are running; stopped replicas finish their
    /// outstanding requests first. Returns the count before.
    pub fn scale_to(&self, target: usize) -> usize {
        let Ok(mut replicas) = self.replicas.write() else { return 0 };
        // Checked under the lock `retire` takes too: no replica starts after retirement.
        let target = if self.is_retired() { 0 } else { target };
        let before = replicas.len();
        while replicas.len() < target {
            let replica = Arc::new(Replica::new(self.next_id.fetch_add(1, Ordering::Relaxed)));
            let supervisor = tokio::spawn(supervise(Arc::clone(&self.template), Arc::clone(&replica)));
            if let Ok(mut supervisors) = self.supervisors.lock() {
                supervisors.retain(|handle| !handle.is_finished());
                supervisors.push(supervisor);
            }
            replicas.push(replica);
        }
        while replicas.len() > target {
            // Prefer stopping one that is not serving yet; otherwise the newest.
            let index = replicas.iter().rposition(|r| !r.is_ready()).unwrap_or(replicas.len() - 1);
            replicas.remove(index).stop();
        }
        if before != target {
            let event = ServeEvent::Scaled { version: self.version().to_owned(), from: before, to: target };
            // The channel may be full under an event burst; a lost scaling notice is preferable
            // to blocking the request path that triggered a cold start.
            let _ = self.template.events.try_send(event);
        }
        before
    }

    /// Waits up to `limit` for a ready replica, starting one first when the pool is scaled to zero.
    pub async fn cold_start(&self, limit: Duration) -> Option<Lease> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let deadline = Instant::now() + limit;
        let lease = loop {
            let notified = self.template.ready_changed.notified();
            if let Some(lease) = self.pick(None) {
                break Some(lease);
            }
            if self.is_retired() {
                break None;
            }
            if self.replica_count() == 0 {
                self.scale_to(1);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break None;
            }
            // Bounded wait: a wake-up between `pick` and `notified` would otherwise be missed.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), notified).await;
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        lease
    }

    pub fn replica_statuses(&self) -> Vec<ReplicaStatus> {
        let Ok(replicas) = self.replicas.read() else { return Vec::new() };
        replicas
            .iter()
            .map(|replica| ReplicaStatus {
                id: replica.id,
                pid: replica.pid(),
                port: replica.port(),
                ready: replica.is_ready(),
                outstanding: replica.outstanding.load(Ordering::Acquire),
                restarts: replica.restarts(),
            })
            .collect()
    }

    pub fn restarts(&self) -> u32 {
        self.replicas.read().map_or(0, |replicas| replicas.iter().map(|r| r.restarts()).sum())
    }

    /// Waits up to `limit` until `count` replicas are in rotation. Gives up early when the
    /// replicas keep failing (three restarts): a version that crashes on start never gets ready.
    pub async fn wait_ready(&self, count: usize, limit: Duration) -> Result<(), NotReady> {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.template.ready_changed.notified();
            if self.ready_count() >= count {
                return Ok(());
            }
            if self.is_retired() {
                return Err(NotReady::Stopping);
            }
            let restarts = self.restarts();
            if restarts >= 3 {
                return Err(NotReady::Crashing { restarts });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NotReady::Timeout { ready: self.ready_count(), count, limit });
            }
            // Bounded wait: a wake-up between the check and `notified` would otherwise be missed.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), notified).await;
        }
    }

    /// Takes the version out of service at once: no new replica, its autoscaler ended, every
    /// replica told to drain (finish its outstanding requests) and stop.
    pub fn retire(&self) {
        {
            let Ok(_replicas) = self.replicas.write() else { return };
            self.retired.store(true, Ordering::Release);
        }
        if let Ok(mut slot) = self.autoscaler.lock()
            && let Some(task) = slot.take()
        {
            task.abort();
        }
        self.scale_to(0);
    }

    /// Retires the version and waits until each process group is gone.
    pub async fn shutdown(&self) {
        self.retire();
        let supervisors = match self.supervisors.lock() {
            Ok(mut supervisors) => std::mem::take(&mut *supervisors),
            Err(_) => Vec::new(),
        };
        for supervisor in supervisors {
            let _ = supervisor.await;
        }
    }
}
