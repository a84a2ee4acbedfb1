//! Prometheus counters and latency histograms per model version, rendered as text for `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram, as Prometheus client libraries default to.
const BOUNDS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Lock-free counters for one version; recorded on every inference request.
pub struct VersionMetrics {
    pub version: String,
    requests: AtomicU64,
    errors: AtomicU64,
    /// Non-cumulative counts per bound; the last slot is `+Inf`.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

impl VersionMetrics {
    pub fn new(version: &str) -> Self {
        VersionMetrics {
            version: version.to_owned(),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn record(&self, latency: Duration, error: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let secs = latency.as_secs_f64();
        let slot = BOUNDS.iter().position(|bound| secs <= *bound).unwrap_or(BOUNDS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// Gauges read at scrape time, next to the counters.
#[derive(Clone, Copy)]
pub struct VersionGauges {
    pub ready_replicas: usize,
    pub replicas: usize,
    pub in_flight: usize,
    pub traffic_percent: f64,
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Renders the text exposition format (version 0.0.4).
pub fn render(model: &str, versions: &[(&VersionMetrics, VersionGauges)]) -> String {
    let model = escape_label(model);
    let mut out = String::new();
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(&mut out, "kfl_serving_requests_total", "counter", "Inference requests answered, by model version.");
    for (metrics, _) in versions {
        let labels = format!("model=\"{model}\",version=\"{}\"", escape_label(&metrics.version));
        let _ = writeln!(out, "kfl_serving_requests_total{{{labels}}} {}", metrics.requests());
    }
    family(&mut out, "kfl_serving_errors_total", "counter", "Inference requests answered with a 5xx status.");
    for (metrics, _) in versions {
        let labels = format!("model=\"{model}\",version=\"{}\"", escape_label(&metrics.version));
        let _ = writeln!(out, "kfl_serving_errors_total{{{labels}}} {}", metrics.errors());
    }
    family(
        &mut out,
        "kfl_serving_request_duration_seconds",
        "histogram",
        "Time from request received to response body complete.",
    );
    for (metrics, _) in versions {
        let labels = format!("model=\"{model}\",version=\"{}\"", escape_label(&metrics.version));
        let mut cumulative = 0;
        for (index, bucket) in metrics.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let bound = BOUNDS.get(index).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ =
                writeln!(out, "kfl_serving_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let sum = metrics.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "kfl_serving_request_duration_seconds_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "kfl_serving_request_duration_seconds_count{{{labels}}} {cumulative}");
    }
    type Gauge = (&'static str, &'static str, fn(&VersionGauges) -> f64);
    let gauges: [Gauge; 4] = [
        ("kfl_serving_replicas_ready", "Replicas in rotation.", |g| g.ready_replicas as f64),
        ("kfl_serving_replicas", "Replicas running or starting.", |g| g.replicas as f64),
        ("kfl_serving_in_flight_requests", "Requests being answered now.", |g| g.in_flight as f64),
        ("kfl_serving_traffic_percent", "Share of inference traffic routed to the version.", |g| g.traffic_percent),
    ];
    for (name, help, value) in gauges {
        family(&mut out, name, "gauge", help);
        for (metrics, version_gauges) in versions {
            let labels = format!("model=\"{model}\",version=\"{}\"", escape_label(&metrics.version));
            let _ = writeln!(out, "{name}{{{labels}}} {}", value(version_gauges));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_count_matches_requests() {
        let metrics = VersionMetrics::new("3");
        metrics.record(Duration::from_micros(300), false);
        metrics.record(Duration::from_millis(20), true);
        metrics.record(Duration::from_secs(30), false);
        let gauges = VersionGauges { ready_replicas: 1, replicas: 2, in_flight: 0, traffic_percent: 100.0 };
        let text = render("iris", &[(&metrics, gauges)]);
        assert!(text.contains("kfl_serving_requests_total{model=\"iris\",version=\"3\"} 3\n"), "{text}");
        assert!(text.contains("kfl_serving_errors_total{model=\"iris\",version=\"3\"} 1\n"));
        assert!(text.contains("le=\"0.0005\"} 1\n"));
        assert!(text.contains("le=\"0.025\"} 2\n"));
        assert!(text.contains("le=\"10\"} 2\n"));
        assert!(text.contains("le=\"+Inf\"} 3\n"));
        assert!(text.contains("kfl_serving_request_duration_seconds_count{model=\"iris\",version=\"3\"} 3\n"));
        assert!(text.contains("kfl_serving_replicas{model=\"iris\",version=\"3\"} 2\n"));
    }
}
