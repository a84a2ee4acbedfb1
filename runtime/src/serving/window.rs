//! Sliding window of request outcomes (one-second buckets): error rate, latency percentiles, requests per second.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Latency bucket `i` holds durations up to `FIRST_BOUND * GROWTH^i`; percentiles are therefore
/// accurate to within one bucket (±7.5%), which is plenty for alerting thresholds.
const FIRST_BOUND_SECS: f64 = 50e-6;
const GROWTH: f64 = 1.15;
const LATENCY_BUCKETS: usize = 128;

#[derive(Clone)]
struct Second {
    /// Seconds since the window's origin; a bucket is stale when this is not the current slot's second.
    at: u64,
    requests: u64,
    errors: u64,
    latency: Vec<u32>,
}

impl Second {
    fn empty() -> Self {
        Second { at: u64::MAX, requests: 0, errors: 0, latency: vec![0; LATENCY_BUCKETS] }
    }
}

/// The window's metrics at one moment; latency fields are `None` when no request completed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct WindowStats {
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub requests_per_second: f64,
    pub latency_p50: Option<f64>,
    pub latency_p95: Option<f64>,
    pub latency_p99: Option<f64>,
}

impl WindowStats {
    /// A serving metric's value in the window; latencies are seconds and absent while no request completed.
    pub fn metric(&self, metric: kfl_plan::ServingMetric) -> Option<f64> {
        use kfl_plan::ServingMetric as M;
        match metric {
            M::ErrorRate => Some(self.error_rate),
            M::LatencyP50 => self.latency_p50,
            M::LatencyP95 => self.latency_p95,
            M::LatencyP99 => self.latency_p99,
            M::RequestsPerSecond => Some(self.requests_per_second),
        }
    }
}

/// Ring of per-second buckets covering the last `length` seconds.
pub struct SlidingWindow {
    origin: Instant,
    seconds: Mutex<Vec<Second>>,
}

fn latency_bucket(latency: Duration) -> usize {
    let secs = latency.as_secs_f64();
    if secs <= FIRST_BOUND_SECS {
        return 0;
    }
    let index = ((secs / FIRST_BOUND_SECS).ln() / GROWTH.ln()).ceil();
    (index as usize).min(LATENCY_BUCKETS - 1)
}

fn bucket_upper_bound(index: usize) -> f64 {
    FIRST_BOUND_SECS * GROWTH.powi(index as i32)
}

impl SlidingWindow {
    pub fn new(length: Duration) -> Self {
        let slots = length.as_secs().max(1) as usize;
        SlidingWindow { origin: Instant::now(), seconds: Mutex::new(vec![Second::empty(); slots]) }
    }

    pub fn record(&self, latency: Duration, error: bool) {
        let now = self.origin.elapsed().as_secs();
        let Ok(mut seconds) = self.seconds.lock() else { return };
        let slots = seconds.len() as u64;
        let slot = &mut seconds[(now % slots) as usize];
        if slot.at != now {
            *slot = Second { at: now, ..Second::empty() };
        }
        slot.requests += 1;
        slot.errors += u64::from(error);
        slot.latency[latency_bucket(latency)] += 1;
    }

    /// Stats over the buckets still inside the window; rates divide by the window's elapsed part
    /// so a server younger than the window does not under-report requests per second.
    pub fn stats(&self) -> WindowStats {
        let elapsed = self.origin.elapsed();
        let now = elapsed.as_secs();
        let Ok(seconds) = self.seconds.lock() else { return WindowStats::default() };
        let slots = seconds.len() as u64;
        let mut stats = WindowStats::default();
        let mut latency = vec![0u64; LATENCY_BUCKETS];
        for second in seconds.iter().filter(|s| s.at != u64::MAX && now.saturating_sub(s.at) < slots) {
            stats.requests += second.requests;
            stats.errors += second.errors;
            for (total, count) in latency.iter_mut().zip(&second.latency) {
                *total += u64::from(*count);
            }
        }
        let span = elapsed.as_secs_f64().min(slots as f64).max(1.0);
        stats.requests_per_second = stats.requests as f64 / span;
        if stats.requests > 0 {
            stats.error_rate = stats.errors as f64 / stats.requests as f64;
            stats.latency_p50 = percentile(&latency, stats.requests, 0.50);
            stats.latency_p95 = percentile(&latency, stats.requests, 0.95);
            stats.latency_p99 = percentile(&latency, stats.requests, 0.99);
        }
        stats
    }
}

fn percentile(buckets: &[u64], total: u64, quantile: f64) -> Option<f64> {
    let rank = ((total as f64) * quantile).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (index, count) in buckets.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(bucket_upper_bound(index));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_land_within_one_bucket_of_the_true_value() {
        let window = SlidingWindow::new(Duration::from_secs(10));
        for ms in 1..=100u64 {
            window.record(Duration::from_millis(ms), ms > 90);
        }
        let stats = window.stats();
        assert_eq!(stats.requests, 100);
        assert_eq!(stats.errors, 10);
        assert!((stats.error_rate - 0.1).abs() < 1e-9);
        let p50 = stats.latency_p50.expect("p50 with requests");
        let p99 = stats.latency_p99.expect("p99 with requests");
        assert!((0.050..=0.050 * GROWTH).contains(&p50), "p50 {p50}");
        assert!((0.099..=0.099 * GROWTH).contains(&p99), "p99 {p99}");
    }

    #[test]
    fn an_empty_window_has_no_latency() {
        let stats = SlidingWindow::new(Duration::from_secs(5)).stats();
        assert_eq!(stats.requests, 0);
        assert_eq!(stats.latency_p95, None);
        assert_eq!(stats.error_rate, 0.0);
    }
}
