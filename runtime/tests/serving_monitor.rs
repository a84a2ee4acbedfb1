//! Monitoring tests: rules over the router's window fire the retrain hook and POST alerts to a webhook.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::post as post_route;
use kfl_runtime::serving::{Action, Comparison, Condition, Metric, RetrainHook, Rule, RuleFiring, ServeEvent};
use serde_json::{Value, json};
use support::{Running, client, config, infer_body, post};

fn rule(name: &str, metric: Metric, threshold: f64, then: Action) -> Rule {
    Rule {
        name: name.into(),
        condition: Condition { metric, comparison: Comparison::Greater, threshold },
        for_seconds: 1,
        then,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_errors_fire_retrain_and_alert_with_webhook() {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = Arc::clone(&received);
    let webhook = axum::Router::new().route(
        "/hook",
        post_route(move |Json(body): Json<Value>| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().expect("webhook sink").push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("webhook listener");
    let hook_address = listener.local_addr().expect("webhook address");
    tokio::spawn(async move { axum::serve(listener, webhook).await });

    let root = tempfile::tempdir().expect("tempdir");
    let mut config = config(root.path(), "iris");
    let retrains: Arc<Mutex<Vec<RuleFiring>>> = Arc::default();
    let retrain_sink = Arc::clone(&retrains);
    config.monitor.window = Duration::from_secs(5);
    config.monitor.interval = Duration::from_millis(100);
    config.monitor.webhook = Some(format!("http://{hook_address}/hook"));
    config.monitor.retrain = Some(RetrainHook(Arc::new(move |firing: &RuleFiring| {
        retrain_sink.lock().expect("retrains").push(firing.clone())
    })));
    config.monitor.rules = vec![
        rule("too-many-errors", Metric::ErrorRate, 0.5, Action::Retrain),
        rule("errors-alert", Metric::ErrorRate, 0.2, Action::Alert),
        // Never true for this fixture: guards against rules firing regardless of their condition.
        rule("slow", Metric::LatencyP99, 30.0, Action::Alert),
    ];
    let mut server = Running::start(config).await;
    server.wait_ready(1, Duration::from_secs(30)).await;
    let http = client();

    // Healthy traffic first: nothing may fire.
    for _ in 0..20 {
        let answer = post(&http, server.address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({}))).await;
        assert_eq!(answer.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(retrains.lock().expect("retrains").is_empty(), "healthy traffic fired a retrain");

    let deadline = Instant::now() + Duration::from_secs(20);
    while retrains.lock().expect("retrains").is_empty() && Instant::now() < deadline {
        let answer =
            post(&http, server.address, "/v2/models/iris/infer", &infer_body(&[1.0], json!({ "fail": true }))).await;
        assert_eq!(answer.status, 500);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let firings = retrains.lock().expect("retrains").clone();
    assert_eq!(firings.len(), 1, "the retrain rule fires once per episode: {firings:?}");
    assert_eq!(firings[0].rule, "too-many-errors");
    assert!(firings[0].value > 0.5);
    assert_eq!(firings[0].model, "iris");

    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().expect("webhook").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alerts = received.lock().expect("webhook").clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["rule"], "errors-alert");
    assert_eq!(alerts[0]["action"], "alert");
    assert_eq!(alerts[0]["condition"]["metric"], "error_rate");

    let mut kinds = Vec::new();
    while let Ok(event) = server.events.try_recv() {
        match event {
            ServeEvent::Retrain(firing) => kinds.push(format!("retrain {}", firing.rule)),
            ServeEvent::Alert(firing) => kinds.push(format!("alert {}", firing.rule)),
            _ => {}
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["alert errors-alert", "retrain too-many-errors"]);
    let report = server.shutdown().await;
    assert!(report.final_status.versions[0].errors > 0);
}
