//! Retraining while a model is served (by `kfl run`'s serve stage and by `kfl serve` alike): `then = retrain`
//! rules and a monitor's `schedule` start a new run of the file, and the version such a run registers is rolled
//! out in place as the canary of the running server.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use super::cron::Cron;
use super::serve_context::{ServeContext, newest_live_version};
use crate::plan::{Plan, Spec};
use crate::serving::{Action, RetrainHook, ServeConfig, ServeHandle};

/// Share of the traffic a retrained version starts with when the `serve` has no `canary`.
const DEFAULT_CANARY_PERCENT: f64 = 10.0;

/// What retraining did, for the caller's log.
#[derive(Clone, Debug, PartialEq)]
pub enum RetrainNotice {
    /// The monitor's schedule started a retrain run.
    Scheduled { schedule: String },
    /// A retrain run ended without registering a version newer than the one served.
    NothingNew,
    /// A retrain run registered `version`; its replicas are starting beside the served ones.
    RollingOut { version: String, percent: f64 },
    /// The registry could not be read, or the new version could not be rolled out.
    Failed(String),
}

impl fmt::Display for RetrainNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetrainNotice::Scheduled { schedule } => {
                write!(f, "the monitor's schedule `{schedule}` started a retrain run")
            }
            RetrainNotice::NothingNew => f.write_str("the retrain run registered no new version; serving continues"),
            RetrainNotice::RollingOut { version, percent } => write!(
                f,
                "the retrain run registered version {version}; starting its replicas to roll it out as a {percent}% canary"
            ),
            RetrainNotice::Failed(reason) => write!(f, "cannot roll out: {reason}"),
        }
    }
}

/// The retraining of one served `serve` stage: the rules' hook, the schedule, and the rollout of new versions.
pub struct Retraining {
    plan: Plan,
    serve: String,
    context: ServeContext,
    /// Told when a retrain run ends.
    finished_tx: mpsc::UnboundedSender<()>,
    finished: mpsc::UnboundedReceiver<()>,
    schedule: Option<(String, Cron)>,
    /// The newest LIVE version already served or rolled out: a retrain run after which the registry's newest
    /// is still this one registered nothing new (its content matched, or the `model` was skipped).
    newest: String,
    percent: f64,
}

impl Retraining {
    /// Prepares retraining for `config` (from [`super::serve_config`]): its `then = retrain` rules now start runs
    /// of the file whose end this watches.
    pub fn attach(plan: &Plan, serve: &str, context: &ServeContext, config: &mut ServeConfig) -> Retraining {
        let (finished_tx, finished) = mpsc::unbounded_channel();
        let percent = plan
            .stages
            .iter()
            .find_map(|stage| match &stage.spec {
                Spec::Serve(spec) if stage.name == serve => spec.canary_percent,
                _ => None,
            })
            .map_or(DEFAULT_CANARY_PERCENT, |percent| percent.clamp(0.0, 100.0));
        let retraining = Retraining {
            plan: plan.clone(),
            serve: serve.to_owned(),
            context: context.clone(),
            finished_tx,
            finished,
            schedule: schedule_of(plan, serve),
            newest: config.canary.as_ref().map_or(&config.stable, |canary| &canary.version).version.clone(),
            percent,
        };
        if config.monitor.rules.iter().any(|rule| rule.then == Action::Retrain) {
            let (context, serve, done) = (context.clone(), serve.to_owned(), retraining.finished_tx.clone());
            // The hook must not block the monitor: a run that cannot start is not reported beyond
            // the rule's own `ServeEvent::Retrain`.
            config.monitor.retrain = Some(RetrainHook(Arc::new(move |_firing| {
                let _ = start_retrain_for(&context, &serve, &done);
            })));
        }
        retraining
    }

    /// Runs until dropped (the caller aborts it when serving ends): starts retrain runs on the schedule, and
    /// rolls out the version a finished retrain run registered.
    pub async fn run(mut self, handle: ServeHandle, notices: mpsc::UnboundedSender<RetrainNotice>) {
        loop {
            let next_tick = self.schedule.as_ref().and_then(|(_, cron)| {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
                Some(Duration::from_secs(super::cron::next_after(cron, now)?.saturating_sub(now)))
            });
            tokio::select! {
                Some(()) = self.finished.recv() => {
                    if let Some(notice) = self.after_retrain(&handle, &notices).await {
                        let _ = notices.send(notice);
                    }
                }
                () = tokio::time::sleep(next_tick.unwrap_or(Duration::MAX)), if next_tick.is_some() => {
                    let schedule = self.schedule.as_ref().map_or_else(String::new, |(text, _)| text.clone());
                    let _ = notices.send(RetrainNotice::Scheduled { schedule });
                    if let Err(error) = start_retrain_for(&self.context, &self.serve, &self.finished_tx) {
                        let _ = notices.send(RetrainNotice::Failed(format!("cannot start the retrain run: {error}")));
                    }
                }
            }
        }
    }

    async fn after_retrain(
        &mut self,
        handle: &ServeHandle,
        notices: &mpsc::UnboundedSender<RetrainNotice>,
    ) -> Option<RetrainNotice> {
        let (plan, serve, context) = (self.plan.clone(), self.serve.clone(), self.context.clone());
        // The registry is SQLite or a blocking REST client.
        let newest = tokio::task::spawn_blocking(move || newest_live_version(&plan, &serve, &context)).await;
        let version = match newest {
            Ok(Ok(version)) => version,
            Ok(Err(reason)) => return Some(RetrainNotice::Failed(reason.to_string())),
            Err(error) => return Some(RetrainNotice::Failed(error.to_string())),
        };
        let served = handle.status().versions.iter().any(|served| served.version == version.version);
        if version.version == self.newest || served {
            return Some(RetrainNotice::NothingNew);
        }
        // Tried once: a version whose replicas never get ready is not retried by every later run.
        self.newest = version.version.clone();
        let _ = notices.send(RetrainNotice::RollingOut { version: version.version.clone(), percent: self.percent });
        // Success is reported by the server itself (`ServeEvent::RolledOut`).
        handle.roll_out(version, self.percent).await.err().map(|error| RetrainNotice::Failed(error.to_string()))
    }
}

/// One line per monitor `schedule` of `serve`, saying what serving does with it.
pub fn schedule_notices(plan: &Plan, serve: &str) -> Vec<String> {
    plan.stages
        .iter()
        .filter_map(|stage| match &stage.spec {
            Spec::Monitor(monitor) if monitor.service == serve => {
                monitor.schedule.as_ref().map(|schedule| match Cron::parse(schedule) {
                    Ok(_) => format!(
                        "monitor `{}`: the retraining schedule `{schedule}` (UTC) starts retrain runs while it serves",
                        stage.name
                    ),
                    Err(e) => format!("monitor `{}`: schedule not used locally: {e}", stage.name),
                })
            }
            _ => None,
        })
        .collect()
}

/// The first usable `schedule` among the monitors watching `serve`.
fn schedule_of(plan: &Plan, serve: &str) -> Option<(String, Cron)> {
    plan.stages.iter().find_map(|stage| match &stage.spec {
        Spec::Monitor(monitor) if monitor.service == serve => {
            let text = monitor.schedule.as_deref()?;
            Cron::parse(text).ok().map(|cron| (text.to_owned(), cron))
        }
        _ => None,
    })
}

/// Starts a run of the file without serving, logged to `.kfl/serving/<serve>-retrain.log`, with the `-p`
/// overrides the serving command was given, so the retrained model is built the way the served one was.
fn start_retrain_for(context: &ServeContext, serve: &str, done: &mpsc::UnboundedSender<()>) -> std::io::Result<()> {
    let log = context.project_dir.join(".kfl").join("serving").join(format!("{serve}-retrain.log"));
    let args = retrain_args(context);
    start_retrain(&context.kfl_exe, &context.project_dir, &args, &log, done.clone())
}

/// `kfl run FILE --no-serve [-p NAME=VALUE]… [--registry URL]`.
fn retrain_args(context: &ServeContext) -> Vec<String> {
    let mut args = vec!["run".to_owned(), context.file.clone(), "--no-serve".to_owned()];
    for (name, value) in &context.params {
        args.extend(["-p".to_owned(), format!("{name}={value}")]);
    }
    // The new version must land in the registry serving reads from.
    if let Some(url) = &context.registry {
        args.extend(["--registry".to_owned(), url.clone()]);
    }
    args
}

/// Starts the retrain run in its own process group; `done` hears when it ended.
fn start_retrain(
    exe: &Path,
    dir: &Path,
    args: &[String],
    log: &Path,
    done: mpsc::UnboundedSender<()>,
) -> std::io::Result<()> {
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    let mut command = std::process::Command::new(exe);
    command.args(args).current_dir(dir).stdin(std::process::Stdio::null()).stdout(out.try_clone()?).stderr(out);
    crate::process_tree::lead_own_group_std(&mut command);
    let mut child = crate::process_tree::spawn_own(|| command.spawn(), |c| Some(c.id()))?;
    // Reap it when it ends, so it never lingers as a zombie, and tell the watcher.
    std::thread::spawn(move || {
        let _ = child.wait();
        let _ = done.send(());
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(params: &[(&str, &str)], registry: Option<&str>) -> ServeContext {
        ServeContext {
            project_dir: "proj".into(),
            file: "main.kfl".into(),
            kfl_exe: "kfl".into(),
            registry: registry.map(str::to_owned),
            params: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            port: 0,
        }
    }

    #[test]
    fn a_retrain_run_gets_the_overrides_and_the_registry_of_the_server() {
        let args = retrain_args(&context(&[("epochs", "3"), ("lr", "0.1")], Some("http://registry:8080")));
        assert_eq!(
            args,
            ["run", "main.kfl", "--no-serve", "-p", "epochs=3", "-p", "lr=0.1", "--registry", "http://registry:8080"]
        );
        assert_eq!(retrain_args(&context(&[], None)), ["run", "main.kfl", "--no-serve"]);
    }
}
