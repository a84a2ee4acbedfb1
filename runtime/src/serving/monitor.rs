//! Monitoring rules over the sliding window: conditions held `for_seconds` fire alerts (log + webhook) or retrains.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use hyper::Method;
use tokio::sync::mpsc;

use super::config::MonitorConfig;
use super::event::ServeEvent;
use super::rule::{Action, RuleFiring};
use super::upstream::{HttpClient, call};
use super::window::SlidingWindow;

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
            Err(reason) => Some(reason.to_string()),
        },
    };
    if let Some(reason) = failure {
        let _ = events.try_send(ServeEvent::WebhookFailed { rule: firing.rule.clone(), reason });
    }
}
