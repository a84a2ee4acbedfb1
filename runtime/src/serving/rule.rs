//! The data of monitoring rules: `metric op threshold` held `for_seconds`, its action, and what a firing carries
//! (read by the config, the monitor that evaluates them, and events).

use serde::Serialize;

use super::window::WindowStats;

/// The serving metric a rule compares (the plan's enum, serialised as its word in events and webhooks).
pub use kfl_plan::ServingMetric as Metric;

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
        let value = stats.metric(self.metric)?;
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

/// What a firing rule does: the plan's `then` (its enum, serialised as its word in events and webhooks).
pub use kfl_plan::RuleAction as Action;

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
