//! The `serve` and `monitor` stages run locally: the served model's LIVE versions come from the registry, the
//! predictor runs as replica processes behind the serving router (canary split, autoscaling), the file's
//! `monitor` rules watch it, and a smoke-test request checks it answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indexmap::IndexMap;
use tokio::sync::{mpsc, watch};

use super::job::JobEvent;
use super::record::StageState;
use super::retrain::{self, RetrainNotice, Retraining};
use super::serve_context::{ServeContext, live_versions, local_version, no_live_version};
use super::serve_error::{ServeSetupError, ServedError, SmokeTestError};
use super::served::Served;
use super::{Engine, Event, Observer};
use crate::plan::{AutoscaleMetric, BinaryOpName, Constant, Expression, Part, Plan, ServeBuiltin, Spec, Stage};
use crate::serving::{
    self, Arg, Canary, Comparison, Condition, Metric, Protocol, Rule, ScaleMetric, ServeConfig, ServeEvent,
};
use crate::value::Value;

/// How long `kfl run` keeps a `serve` stage up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServeMode {
    /// Until Ctrl-C.
    UntilInterrupted,
    /// This long after the smoke test, then a graceful shutdown.
    For(Duration),
    /// Serve stages are skipped (`--no-serve`).
    Skip,
}

/// The serving configuration of the `serve` stage `name`: the command with `model_dir`/`port` bound per
/// replica, the model's newest LIVE version (and, with `canary`, the previous one as stable), scaling, the
/// transformer, and the rules of every `monitor` watching it.
pub fn serve_config(plan: &Plan, name: &str, context: &ServeContext) -> Result<ServeConfig, ServeSetupError> {
    let stage = plan
        .stages
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ServeSetupError::NoStage { name: name.to_string() })?;
    let Spec::Serve(serve) = &stage.spec else { return Err(ServeSetupError::NotAServe { name: name.to_string() }) };
    let run = serve
        .local_run
        .as_ref()
        .or(serve.run.as_ref())
        .ok_or_else(|| ServeSetupError::ClusterOnlyRuntime { name: name.to_string(), runtime: serve.runtime })?;
    let argv = run.iter().map(|p| arg(p, plan)).collect::<Result<Vec<_>, _>>()?;
    let live = live_versions(&serve.model, context)?;
    let current = live.current.ok_or_else(|| no_live_version(&serve.model))?;
    let (stable, canary) = match (serve.canary_percent, &live.previous) {
        (Some(percent), Some(previous)) => (
            local_version(previous)?,
            Some(Canary { version: local_version(&current)?, percent: percent.clamp(0.0, 100.0) }),
        ),
        _ => (local_version(&current)?, None),
    };
    let mut config = ServeConfig::new(name, argv, stable);
    if let Some(served) = &serve.served_name {
        config.model_name = served.clone();
    }
    config.canary = canary;
    config.protocol = serve.protocol;
    config.working_dir = context.project_dir.clone();
    config.env =
        serve.env.iter().map(|(k, p)| Ok((k.clone(), text(p, plan)?))).collect::<Result<_, ServeSetupError>>()?;
    config.port = context.port;
    config.state_dir = Some(context.project_dir.join(".kfl").join("serving"));
    config.scaling.min = u32::try_from(serve.replicas.min.max(0)).unwrap_or(0);
    config.scaling.max = u32::try_from(serve.replicas.max.max(1)).unwrap_or(1).max(config.scaling.min.max(1));
    config.scaling.metric = match &serve.autoscale {
        Some(autoscale) => {
            let target =
                number(&autoscale.target).ok_or_else(|| ServeSetupError::AutoscaleTarget { name: name.to_string() })?;
            match autoscale.metric {
                AutoscaleMetric::Concurrency => Some(ScaleMetric::Concurrency(target)),
                AutoscaleMetric::Rps => Some(ScaleMetric::Rps(target)),
                // CPU and memory targets need the cluster's metrics server; locally the count stays fixed.
                AutoscaleMetric::Cpu | AutoscaleMetric::Memory => None,
            }
        }
        None => None,
    };
    if let Some(transformer) = &serve.transformer {
        config.transformer = Some(serving::TransformerConfig {
            argv: transformer.run.iter().map(|p| arg(p, plan)).collect::<Result<_, _>>()?,
            env: transformer
                .env
                .iter()
                .map(|(k, p)| Ok((k.clone(), text(p, plan)?)))
                .collect::<Result<_, ServeSetupError>>()?,
        });
    }
    config.monitor.rules = monitor_rules(plan, name)?;
    // Where `then = alert` POSTs its JSON: a deployment setting, not part of the file.
    config.monitor.webhook = std::env::var("KFL_ALERT_WEBHOOK").ok().filter(|url| !url.is_empty());
    config.validate().map_err(|source| ServeSetupError::Config { name: name.to_string(), source })?;
    Ok(config)
}

/// A command-line part of a serve: `model_dir` and `port` are bound per replica by the router.
fn arg(part: &Part, plan: &Plan) -> Result<Arg, ServeSetupError> {
    match part {
        Part::Builtin { name } => match ServeBuiltin::from_name(name) {
            Some(ServeBuiltin::ModelDir) => Ok(Arg::ModelDir),
            Some(ServeBuiltin::Port) => Ok(Arg::Port),
            None => text(part, plan).map(Arg::Text),
        },
        other => text(other, plan).map(Arg::Text),
    }
}

fn text(part: &Part, plan: &Plan) -> Result<String, ServeSetupError> {
    Ok(match part {
        Part::Text { text } => text.clone(),
        Part::Param { name } => plan
            .params
            .iter()
            .find(|p| &p.name == name)
            .map(|p| Value::from(&p.value).text())
            .ok_or_else(|| ServeSetupError::UnboundParam { name: name.clone() })?,
        Part::Dataset { uri, .. } => uri.clone(),
        Part::Template { parts } => parts.iter().map(|p| text(p, plan)).collect::<Result<String, _>>()?,
        Part::Builtin { name } => {
            return Err(ServeSetupError::BuiltinNotWhole { name: name.clone() });
        }
        other => return Err(ServeSetupError::UnsupportedPart { part: format!("{other:?}") }),
    })
}

fn number(expr: &Expression) -> Option<f64> {
    match expr {
        Expression::Constant { value } => match Value::from(value) {
            Value::Int(n) => Some(n as f64),
            Value::Float(x) => Some(x),
            Value::Unit { value, .. } => Some(value),
            _ => None,
        },
        _ => None,
    }
}

/// The rules of every `monitor` watching `serve`, as the router's rule type: `METRIC OP CONSTANT`, with
/// `error_rate` in percent (the router counts fractions) and latencies as durations (the router counts seconds).
fn monitor_rules(plan: &Plan, serve: &str) -> Result<Vec<Rule>, ServeSetupError> {
    let mut rules = Vec::new();
    for stage in &plan.stages {
        let Spec::Monitor(monitor) = &stage.spec else { continue };
        if monitor.service != serve {
            continue;
        }
        for rule in &monitor.rules {
            let bad = || ServeSetupError::RuleShape { monitor: stage.name.clone(), rule: rule.name.clone() };
            let Expression::Binary { op, lhs, rhs } = &rule.when else { return Err(bad()) };
            let (Expression::Builtin { name }, Expression::Constant { value }) = (&**lhs, &**rhs) else {
                return Err(bad());
            };
            let Some(metric) = Metric::from_name(name) else {
                return Err(ServeSetupError::UnknownMetric { monitor: stage.name.clone(), metric: name.clone() });
            };
            let scale = match metric {
                Metric::ErrorRate => 0.01,
                Metric::LatencyP50 | Metric::LatencyP95 | Metric::LatencyP99 => 0.001,
                Metric::RequestsPerSecond => 1.0,
            };
            let threshold = match value {
                Constant::Int { value, .. } => *value as f64,
                Constant::Float { value, .. } | Constant::Percent { value, .. } | Constant::Quantity { value, .. } => {
                    *value
                }
                Constant::Duration { value, .. } | Constant::Cpu { value, .. } => *value as f64,
                _ => return Err(bad()),
            };
            let comparison = match op {
                BinaryOpName::Gt => Comparison::Greater,
                BinaryOpName::Ge => Comparison::GreaterOrEqual,
                BinaryOpName::Lt => Comparison::Less,
                BinaryOpName::Le => Comparison::LessOrEqual,
                BinaryOpName::Eq => Comparison::Equal,
                BinaryOpName::Ne => Comparison::NotEqual,
                _ => return Err(bad()),
            };
            rules.push(Rule {
                name: format!("{}.{}", stage.name, rule.name),
                condition: Condition { metric, comparison, threshold: threshold * scale },
                for_seconds: rule.for_seconds.unwrap_or(0),
                then: rule.then,
            });
        }
    }
    Ok(rules)
}

impl Engine<'_> {
    /// Starts a ready `serve` stage in the background; its end arrives as `JobEvent::Served`.
    pub(super) fn start_serve(
        &mut self,
        s: usize,
        observer: &mut dyn Observer,
        events: &mpsc::Sender<JobEvent>,
        stop: &watch::Receiver<bool>,
    ) -> Result<(), (StageState, String)> {
        if self.opts.serve == ServeMode::Skip {
            return Err((StageState::Skipped, "--no-serve".into()));
        }
        let stage: &Stage = &self.plan.stages[s];
        let context = ServeContext {
            project_dir: self.opts.project_dir.clone(),
            file: self.opts.file.clone(),
            kfl_exe: self.opts.kfl_exe.clone(),
            registry: self.opts.registry.clone(),
            params: self.opts.params.clone(),
            port: 0,
        };
        let config = serve_config(self.plan, &stage.name, &context).map_err(|e| {
            let state = match e {
                ServeSetupError::ClusterOnlyRuntime { .. } => StageState::NotSupported,
                _ => StageState::Failed,
            };
            (state, e.to_string())
        })?;
        for line in retrain::schedule_notices(self.plan, &stage.name) {
            observer.event(Event::Notice(line));
        }
        let instance = &mut self.record.stages[s].instances[0];
        instance.state = StageState::Running;
        instance.started_at = Some(super::record::timestamp());
        self.dirty = true;
        self.running += 1;
        observer.event(Event::StageStarted { stage: &stage.name, iteration: None, attempt: 1, processes: 0 });
        let plan = self.plan.clone();
        tokio::spawn(serve_task(s, plan, context, config, self.opts.serve, stop.clone(), events.clone()));
        Ok(())
    }

    pub(super) fn on_served(&mut self, served: Served, observer: &mut dyn Observer) {
        self.running -= 1;
        let s = served.stage;
        let (alerts, retrains) = (served.alerts as f64, served.retrains as f64);
        let instance = &mut self.record.stages[s].instances[0];
        instance.duration_ms = Some(served.duration.as_millis() as u64);
        instance.metrics = IndexMap::from([
            ("requests".to_string(), served.requests as f64),
            ("alerts".to_string(), served.alerts as f64),
            ("retrains".to_string(), served.retrains as f64),
        ]);
        let (state, message) = match served.result {
            Ok(message) => (StageState::Succeeded, message),
            Err(error) => (StageState::Failed, error.to_string()),
        };
        instance.state = state;
        instance.message = Some(message);
        self.finished(s, 0, observer);
        // Its monitors end with it (also when Ctrl-C ended the serving, which stops the scheduler).
        let name = self.plan.stages[s].name.clone();
        for m in 0..self.plan.stages.len() {
            let watches = matches!(&self.plan.stages[m].spec, Spec::Monitor(monitor) if monitor.service == name);
            let pending = self.record.stages[m].instances.first().is_some_and(|i| i.state == StageState::Pending);
            if watches && pending {
                let (state, message) = if state == StageState::Succeeded {
                    (StageState::Succeeded, monitor_summary(&name, alerts, retrains))
                } else {
                    (StageState::UpstreamFailed, format!("`{name}` did not serve"))
                };
                self.settle(m, 0, state, message, observer);
            }
        }
    }
}

struct Counters {
    alerts: AtomicUsize,
    retrains: AtomicUsize,
}

/// Serves until the window ends or Ctrl-C. Retrain runs started by the monitor's rules or its schedule roll the
/// version they register out in place (`retrain::Retraining`): same router, no request refused.
async fn serve_task(
    s: usize,
    plan: Plan,
    context: ServeContext,
    mut config: ServeConfig,
    mode: ServeMode,
    stop: watch::Receiver<bool>,
    events: mpsc::Sender<JobEvent>,
) {
    let name = config.name.clone();
    let started = std::time::Instant::now();
    let counters = Arc::new(Counters { alerts: AtomicUsize::new(0), retrains: AtomicUsize::new(0) });
    let retraining = Retraining::attach(&plan, &name, &context, &mut config);
    let (serve_tx, serve_rx) = mpsc::channel::<ServeEvent>(512);
    let relay = tokio::spawn(relay_events(name.clone(), serve_rx, counters.clone(), events.clone()));
    let (result, requests) =
        serve_until_done(&name, config, retraining, mode, stop, serve_tx, &counters, &events).await;
    relay.abort();
    let served = Served {
        stage: s,
        duration: started.elapsed(),
        result,
        requests,
        alerts: counters.alerts.load(Ordering::Relaxed),
        retrains: counters.retrains.load(Ordering::Relaxed),
    };
    let _ = events.send(JobEvent::Served(Box::new(served))).await;
}

#[allow(clippy::too_many_arguments)] // the serve task's parts, passed once
async fn serve_until_done(
    name: &str,
    config: ServeConfig,
    retraining: Retraining,
    mode: ServeMode,
    stop: watch::Receiver<bool>,
    serve_tx: mpsc::Sender<ServeEvent>,
    counters: &Arc<Counters>,
    events: &mpsc::Sender<JobEvent>,
) -> (Result<String, ServedError>, u64) {
    let model_path = match config.protocol {
        Protocol::V1 => format!("/v1/models/{}", config.model_name),
        Protocol::V2 => format!("/v2/models/{}", config.model_name),
    };
    let versions = match &config.canary {
        Some(canary) => format!(
            "version {} ({}%) and canary {} ({}%)",
            config.stable.version,
            100.0 - canary.percent,
            canary.version.version,
            canary.percent
        ),
        None => format!("version {}", config.stable.version),
    };
    let server = match serving::start(config, serve_tx).await {
        Ok(server) => server,
        Err(e) => return (Err(ServedError::Start(e)), 0),
    };
    let handle = server.handle();
    let address = handle.address();
    let deadline = match mode {
        ServeMode::For(limit) => Some(tokio::time::Instant::now() + limit),
        _ => None,
    };
    let (smoke_tx, smoke_rx) = tokio::sync::oneshot::channel::<bool>();
    let mut stop = stop;
    let shutdown = async move {
        if !matches!(smoke_rx.await, Ok(true)) {
            return;
        }
        let until_deadline = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = until_deadline => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    };
    let running = tokio::spawn(server.run_until(shutdown));
    let smoke = smoke_test(address, &model_path).await;
    let _ = smoke_tx.send(smoke.is_ok());
    let line = match &smoke {
        Err(e) => format!("{name}: smoke test failed: {e}"),
        Ok(answer) => format!(
            "serving `{name}` {versions} at http://{address}{model_path} (smoke test: {answer}); {}",
            match mode {
                ServeMode::For(d) => format!("stopping after {}s", d.as_secs_f64()),
                _ => "Ctrl-C stops it".into(),
            }
        ),
    };
    let _ = events.send(JobEvent::Notice(line)).await;
    let (notices_tx, mut notices_rx) = mpsc::unbounded_channel::<RetrainNotice>();
    let watcher = tokio::spawn(retraining.run(handle, notices_tx));
    let notices = {
        let (name, counters, events) = (name.to_owned(), Arc::clone(counters), events.clone());
        tokio::spawn(async move {
            while let Some(notice) = notices_rx.recv().await {
                if matches!(notice, RetrainNotice::Scheduled { .. }) {
                    counters.retrains.fetch_add(1, Ordering::Relaxed);
                }
                let _ = events.send(JobEvent::Notice(format!("{name}: {notice}"))).await;
            }
        })
    };
    let report = running.await;
    watcher.abort();
    notices.abort();
    match (report, smoke) {
        (Ok(Ok(report)), Ok(_)) => {
            (Ok(format!("served at http://{address}; stopped cleanly ({})", report.final_status)), report.requests)
        }
        (Ok(Ok(report)), Err(e)) => (Err(ServedError::NoAnswer(e)), report.requests),
        (Ok(Err(e)), _) => (Err(ServedError::Serving(e)), 0),
        (Err(e), _) => (Err(ServedError::Task(e)), 0),
    }
}

/// Router events the user should see, counted for the stage's record.
async fn relay_events(
    name: String,
    mut serve_rx: mpsc::Receiver<ServeEvent>,
    counters: Arc<Counters>,
    events: mpsc::Sender<JobEvent>,
) {
    while let Some(event) = serve_rx.recv().await {
        match &event {
            ServeEvent::Alert(_) => counters.alerts.fetch_add(1, Ordering::Relaxed),
            ServeEvent::Retrain(_) => counters.retrains.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        // Canary changes made through the admin endpoint are shown as well.
        if let Some(line) = event.describe() {
            let _ = events.send(JobEvent::Notice(format!("{name}: {line}"))).await;
        }
    }
}

/// Readiness, then the model's metadata through the router: proof the predictor answers.
async fn smoke_test(address: std::net::SocketAddr, model_path: &str) -> Result<String, SmokeTestError> {
    let url = format!("http://{address}{model_path}");
    let model_path = model_path.to_string();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
        // Replicas start in the background: 503 (none ready yet) is retried until the readiness timeout.
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            match agent.get(&url).call() {
                Ok(mut response) => {
                    let body = response
                        .body_mut()
                        .read_to_string()
                        .map_err(|e| SmokeTestError::Request { url: url.clone(), source: Box::new(e) })?;
                    return Ok(format!("GET {model_path} → 200, {} bytes", body.len()));
                }
                Err(ureq::Error::StatusCode(503)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(SmokeTestError::Request { url, source: Box::new(e) }),
            }
        }
    })
    .await
    .map_err(SmokeTestError::Task)?
}

/// The monitor stages of a serve finish with it: their rules were evaluated while it served.
pub fn monitor_summary(serve: &str, alerts: f64, retrains: f64) -> String {
    format!("watched `{serve}` while it served: {alerts} alerts, {retrains} retrains fired")
}
