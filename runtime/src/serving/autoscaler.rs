//! Autoscaler: observes each version's load (concurrency or requests per second) and moves its replica count within min..max.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::config::{ScaleMetric, Scaling};
use super::pool::Pool;

/// A load observation: cumulative counters at one instant.
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    busy_micros: u64,
    requests: u64,
}

/// The replica count the load asks for, before the bounds and the scale-down delay.
///
/// Concurrency is averaged by Little's law (request-seconds completed per second) and raised to
/// the requests in flight right now, so long requests count before they complete.
fn desired(metric: ScaleMetric, oldest: Sample, newest: Sample, in_flight: usize) -> usize {
    let seconds = newest.at.duration_since(oldest.at).as_secs_f64().max(1e-3);
    let (load, target) = match metric {
        ScaleMetric::Concurrency(target) => {
            let average = (newest.busy_micros - oldest.busy_micros) as f64 / 1e6 / seconds;
            (average.max(in_flight as f64), target)
        }
        ScaleMetric::Rps(target) => ((newest.requests - oldest.requests) as f64 / seconds, target),
    };
    (load / target).ceil() as usize
}

/// Runs until aborted. Scale-up follows the load at once; scale-down (and to zero) takes the
/// highest count asked for during `scale_down_delay`, so a short lull does not drop replicas.
pub async fn run(pool: Arc<Pool>, scaling: Scaling) {
    let min = scaling.min as usize;
    let max = scaling.max as usize;
    let Some(metric) = scaling.metric else { return };
    let mut samples: VecDeque<Sample> = VecDeque::new();
    let mut decisions: VecDeque<(Instant, usize)> = VecDeque::new();
    let mut ticker = tokio::time::interval(scaling.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let sample = Sample {
            at: now,
            busy_micros: pool.busy_micros.load(Ordering::Relaxed),
            requests: pool.metrics.requests(),
        };
        samples.push_back(sample);
        while samples.len() > 2 && samples.front().is_some_and(|s| now.duration_since(s.at) > scaling.metric_window) {
            samples.pop_front();
        }
        let Some(&oldest) = samples.front() else { continue };
        let in_flight = pool.in_flight.load(Ordering::Acquire);
        let mut wanted = desired(metric, oldest, sample, in_flight);
        if in_flight > 0 || pool.waiting.load(Ordering::Acquire) > 0 {
            wanted = wanted.max(1);
        }
        let wanted = wanted.clamp(min, max);
        decisions.push_back((now, wanted));
        while decisions.front().is_some_and(|(at, _)| now.duration_since(*at) > scaling.scale_down_delay) {
            decisions.pop_front();
        }
        let current = pool.replica_count();
        // Scaling down never goes above the current count: an older, higher decision only holds
        // replicas that are still there.
        let target = if wanted >= current {
            wanted
        } else {
            decisions.iter().map(|(_, n)| *n).max().unwrap_or(wanted).min(current)
        };
        if target != current {
            pool.scale_to(target);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn desired_replicas_follow_load_over_target() {
        let start = Instant::now();
        let oldest = Sample { at: start, busy_micros: 0, requests: 0 };
        // 10 s window with 25 request-seconds: average concurrency 2.5.
        let newest = Sample { at: start + Duration::from_secs(10), busy_micros: 25_000_000, requests: 300 };
        assert_eq!(desired(ScaleMetric::Concurrency(1.0), oldest, newest, 0), 3);
        assert_eq!(desired(ScaleMetric::Concurrency(1.0), oldest, newest, 4), 4);
        assert_eq!(desired(ScaleMetric::Rps(10.0), oldest, newest, 0), 3);
        let idle = Sample { at: start + Duration::from_secs(10), busy_micros: 0, requests: 0 };
        assert_eq!(desired(ScaleMetric::Rps(10.0), oldest, idle, 0), 0);
    }
}
