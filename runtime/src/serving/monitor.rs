//! Monitoring rules over the sliding window: conditions held `for_seconds` fire alerts (log + webhook) or retrains.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use hyper::Method;
use serde::Serialize;
use tokio::sync::mpsc;

use super::config::MonitorConfig;
use super::event::ServeEvent;
use super::upstream::{HttpClient, call};
use super::window::{SlidingWindow, WindowStats};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    ErrorRate,
    LatencyP50,
    LatencyP95,
    LatencyP99,
    RequestsPerSecond,
}

impl Metric {
    /// The value in the window; latencies are seconds and absent while no request completed.
    pub fn value(self, stats: &WindowStats) -> Option<f64> {
        match self {
            Metric::ErrorRate => Some(stats.error_rate),
            Metric::LatencyP50 => stats.latency_p50,
            Metric::LatencyP95 => stats.latency_p95,
            Metric::LatencyP99 => stats.latency_p99,
            Metric::RequestsPerSecond => Some(stats.requests_per_second),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Comparison {
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "<=")]
    LessOrEqual,
    #[serde(rename = ">")]
    Greater,
    #[serde(rename = ">=")]
    GreaterOrEqual,
    #[serde(rename = "==")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
}

/// `metric op threshold`, e.g. `error_rate > 0.05` or `latency_p95 > 0.2` (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Condition {
    pub metric: Metric,
    pub comparison: Comparison,
    pub threshold: f64,
}

impl Condition {
    /// `None` when the metric has no value yet; such a condition is not met.
    pub fn holds(&self, stats: &WindowStats) -> Option<f64> {
        let value = self.metric.value(stats)?;
        let met = match self.comparison {
            Comparison::Less => value < self.threshold,
            Comparison::LessOrEqual => value <= self.threshold,
            Comparison::Greater => value > self.threshold,
            Comparison::GreaterOrEqual => value >= self.threshold,
            Comparison::Equal => value == self.threshold,
            Comparison::NotEqual => value != self.threshold,
        };
        met.then_some(value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Alert,
    Retrain,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    pub name: String,
    pub condition: Condition,
    /// How long the condition must hold before the rule fires; `0` fires on the first evaluation.
    pub for_seconds: u64,
    pub then: Action,
}

/// What the webhook receives, the retrain hook is called with, and events carry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleFiring {
    pub model: String,
    pub rule: String,
    pub action: Action,
    pub condition: Condition,
    pub value: f64,
    pub window: WindowStats,
    /// Unix seconds.
    pub fired_at: u64,
}

/// Per-rule state: since when the condition holds, and whether this episode already fired.
/// A rule fires once per episode; it can fire again after the condition stopped holding.
#[derive(Default)]
struct RuleState {
    holding_since: Option<Instant>,
    fired: bool,
}

/// Evaluates the rules every `interval` until the task is aborted.
pub async fn run(
    model: String,
    config: MonitorConfig,
    window: Arc<SlidingWindow>,
    client: HttpClient,
    events: mpsc::Sender<ServeEvent>,
) {
    if config.rules.is_empty() {
        return;
    }
    let mut states: Vec<RuleState> = config.rules.iter().map(|_| RuleState::default()).collect();
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let stats = window.stats();
        let now = Instant::now();
        for (rule, state) in config.rules.iter().zip(states.iter_mut()) {
            let Some(value) = rule.condition.holds(&stats) else {
                *state = RuleState::default();
                continue;
            };
            let since = *state.holding_since.get_or_insert(now);
            if state.fired || now.duration_since(since) < Duration::from_secs(rule.for_seconds) {
                continue;
            }
            state.fired = true;
            let fired_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let firing = RuleFiring {
                model: model.clone(),
                rule: rule.name.clone(),
                action: rule.then,
                condition: rule.condition,
                value,
                window: stats,
                fired_at,
            };
            fire(&config, &client, &events, firing).await;
        }
    }
}

async fn fire(config: &MonitorConfig, client: &HttpClient, events: &mpsc::Sender<ServeEvent>, firing: RuleFiring) {
    match firing.action {
        Action::Alert => {
            let _ = events.try_send(ServeEvent::Alert(firing.clone()));
            if let Some(url) = &config.webhook {
                post_webhook(client, url, &firing, events).await;
            }
        }
        Action::Retrain => {
            if let Some(hook) = &config.retrain {
                (hook.0)(&firing);
            }
            let _ = events.try_send(ServeEvent::Retrain(firing));
        }
    }
}

async fn post_webhook(client: &HttpClient, url: &str, firing: &RuleFiring, events: &mpsc::Sender<ServeEvent>) {
    let failure = match serde_json::to_vec(firing) {
        Err(error) => Some(format!("cannot encode the alert: {error}")),
        Ok(body) => match call(client, Method::POST, url, Bytes::from(body), None, Duration::from_secs(10)).await {
            Ok((status, _)) if status.is_success() => None,
            Ok((status, _)) => Some(format!("{url} answered {status}")),
            Err(reason) => Some(reason),
        },
    };
    if let Some(reason) = failure {
        let _ = events.try_send(ServeEvent::WebhookFailed { rule: firing.rule.clone(), reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_compare_and_absent_latency_never_holds() {
        let stats = WindowStats { requests: 10, errors: 3, error_rate: 0.3, ..WindowStats::default() };
        let over = Condition { metric: Metric::ErrorRate, comparison: Comparison::Greater, threshold: 0.25 };
        assert_eq!(over.holds(&stats), Some(0.3));
        let under = Condition { threshold: 0.5, ..over };
        assert_eq!(under.holds(&stats), None);
        let slow = Condition { metric: Metric::LatencyP95, comparison: Comparison::Greater, threshold: 0.0 };
        assert_eq!(slow.holds(&stats), None);
    }
}
