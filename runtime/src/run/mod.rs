//! `kfl run`: the scheduler that executes a plan's DAG on one machine — ready stages start as soon as their
//! inputs exist, bounded by `--jobs` and by declared resources; `for` fans out, `when` skips, `always` runs
//! after failures; results are cached and recorded in `.kfl/runs/<run-id>/run.json`.

pub mod cache;
pub mod capped_log;
mod clock;
mod cron;
mod error;
mod final_status;
mod job;
mod model;
mod prepare;
pub mod process;
pub mod record;
pub mod report;
mod retrain;
mod select;
mod serve;
mod serve_context;
mod serve_error;
mod served;
mod stage_shape;
mod tune;

pub use self::error::RunError;
pub use self::retrain::{RetrainNotice, Retraining, schedule_notices};
pub use self::serve::{ServeMode, serve_config};
pub use self::serve_context::ServeContext;
pub use self::serve_error::{ServeSetupError, ServedError, SmokeTestError};

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

use self::cache::Hashes;
use self::error::LoopItemsError;
use self::job::{Job, JobEvent, JobId, JobResult};
use self::prepare::{InstanceScope, Prepared};
use self::record::{InstanceRecord, RunRecord, RunState, StageRecord, StageState};
use self::select::{Capacity, DepStatus, Selection};
use crate::plan::{DatasetKind, LoopItems, Plan, Spec, StageKind};
use crate::value::{Value, eval};

/// How often at most `run.json` is rewritten while the run goes.
const FLUSH_INTERVAL: Duration = Duration::from_millis(250);

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The `.kfl` file's folder: stages run here, `.kfl/` lives here.
    pub project_dir: PathBuf,
    /// The `.kfl` file, relative to `project_dir` (for the record).
    pub file: String,
    /// Stage instances running at once.
    pub jobs: usize,
    pub no_cache: bool,
    /// Run only these stages; their upstream stages must come from the cache.
    pub only: Vec<String>,
    /// Run this stage and what it depends on.
    pub until: Option<String>,
    /// Continue this run: only stages that did not succeed run again.
    pub resume: Option<String>,
    /// This `kfl` binary, for `kfl builtin …` commands.
    pub kfl_exe: PathBuf,
    /// First retry delay; doubles per attempt.
    pub retry_base: Duration,
    /// Between SIGTERM and SIGKILL when stopping a process group.
    pub kill_grace: Duration,
    /// Bytes kept at each end of a stage process's log ([`capped_log::DEFAULT_KEEP`] by default).
    pub log_keep: u64,
    /// A Model Registry server for `model` and `serve` stages instead of `.kfl/registry.db`.
    pub registry: Option<String>,
    /// The `-p NAME=VALUE` overrides the plan was compiled with, passed on to retrain runs.
    pub params: Vec<(String, String)>,
    /// How long `serve` stages stay up.
    pub serve: ServeMode,
}

/// What the run reports as it goes; the CLI renders it.
#[derive(Debug)]
pub enum Event<'a> {
    Started {
        run_id: &'a str,
        run_dir: &'a Path,
        resumed: bool,
    },
    Notice(String),
    StageStarted {
        stage: &'a str,
        iteration: Option<usize>,
        attempt: u32,
        processes: u32,
    },
    StageRetry {
        stage: &'a str,
        iteration: Option<usize>,
        attempt: u32,
        delay: Duration,
        reason: &'a str,
    },
    Metric {
        stage: &'a str,
        iteration: Option<usize>,
        name: &'a str,
        value: f64,
    },
    StageFinished {
        stage: &'a str,
        kind: StageKind,
        instance: &'a InstanceRecord,
    },
    /// A tune trial started or ended.
    Trial {
        tune: &'a str,
        trial: &'a record::TrialRecord,
    },
}

pub trait Observer {
    fn event(&mut self, event: Event<'_>);
}

#[derive(Debug)]
pub struct Outcome {
    pub run_dir: PathBuf,
    pub record: RunRecord,
}

/// Runs the plan until every selected stage is done or `interrupt` completes (Ctrl-C): then every process
/// group is stopped and the run is recorded as interrupted, ready for `--resume`.
pub async fn run(
    plan: &Plan,
    plan_text: &str,
    options: RunOptions,
    observer: &mut dyn Observer,
    interrupt: impl Future<Output = ()>,
) -> Result<Outcome, RunError> {
    // Orphans of a stage (a `setsid` daemon) stay in kfl's tree, where the stage's end finds and stops them.
    crate::process_tree::become_subreaper();
    // An orphan that exits while its stage runs is reaped at once, not kept a zombie until kfl exits.
    let _reaper = crate::process_tree::OrphanReaper::start();
    let mut engine = Engine::new(plan, plan_text, options)?;
    observer.event(Event::Started {
        run_id: &engine.record.run_id,
        run_dir: &engine.run_dir_abs(),
        resumed: engine.previous.is_some(),
    });
    for notice in engine.notices() {
        observer.event(Event::Notice(notice));
    }
    engine.flush()?;
    engine.execute(observer, interrupt).await;
    engine.finish();
    engine.flush()?;
    Ok(Outcome { run_dir: engine.run_dir_abs(), record: engine.record })
}

struct Engine<'p> {
    plan: &'p Plan,
    opts: RunOptions,
    /// `.kfl/runs/<id>`, relative to the project folder.
    run_dir: PathBuf,
    record: RunRecord,
    previous: Option<RunRecord>,
    index: IndexMap<String, usize>,
    selection: Vec<Selection>,
    expanded: Vec<bool>,
    hashes: Hashes,
    capacity: Capacity,
    used: Capacity,
    running: usize,
    prepared: IndexMap<(usize, usize), Job>,
    tunes: IndexMap<usize, tune::TuneRun>,
    started: Instant,
    interrupted: bool,
    last_flush: Instant,
    dirty: bool,
}

impl<'p> Engine<'p> {
    fn new(plan: &'p Plan, plan_text: &str, opts: RunOptions) -> Result<Self, RunError> {
        let index: IndexMap<String, usize> = plan.stages.iter().enumerate().map(|(i, s)| (s.name.clone(), i)).collect();
        let selection = select::select(plan, &index, opts.until.as_deref(), &opts.only)?;
        let previous = match &opts.resume {
            Some(id) => Some(record::read(&record::find(&opts.project_dir, id)?)?),
            None => None,
        };
        if let Some(busy) = previous.as_ref().filter(|p| p.state == RunState::Running) {
            let pid = busy.runner.as_ref().map_or_else(|| "another kfl".to_string(), |r| format!("kfl pid {}", r.pid));
            return Err(RunError::StillRunning { run_id: busy.run_id.clone(), runner: pid });
        }
        let run_id = previous.as_ref().map_or_else(record::new_run_id, |p| p.run_id.clone());
        let run_dir = PathBuf::from(".kfl").join("runs").join(&run_id);
        std::fs::create_dir_all(opts.project_dir.join(&run_dir))
            .map_err(|source| RunError::CreateRunDir { dir: run_dir.clone(), source })?;
        let stages = plan
            .stages
            .iter()
            .zip(&selection)
            .map(|(stage, selected)| StageRecord {
                name: stage.name.clone(),
                kind: stage.kind,
                instances: match selected {
                    Selection::No => {
                        let mut instance = InstanceRecord::new(None, None);
                        instance.state = StageState::NotSelected;
                        vec![instance]
                    }
                    _ => Vec::new(),
                },
            })
            .collect();
        let record = RunRecord {
            record_version: record::RECORD_VERSION,
            run_id,
            file: opts.file.clone(),
            plan_sha256: cache::hex(&Sha256::digest(plan_text.as_bytes())),
            state: RunState::Running,
            started_at: record::timestamp(),
            finished_at: None,
            duration_ms: None,
            params: plan.params.iter().map(|p| (p.name.clone(), Value::from(&p.value).text())).collect(),
            stages,
            runner: record::Runner::current(),
        };
        let expanded = selection.iter().map(|s| *s == Selection::No).collect();
        check_datasets(plan, &opts.project_dir)?;
        Ok(Engine {
            plan,
            capacity: Capacity::of_machine(),
            used: Capacity::default(),
            opts,
            run_dir,
            record,
            previous,
            index,
            selection,
            expanded,
            hashes: Hashes::default(),
            running: 0,
            prepared: IndexMap::new(),
            tunes: IndexMap::new(),
            started: Instant::now(),
            interrupted: false,
            last_flush: Instant::now(),
            dirty: false,
        })
    }

    fn run_dir_abs(&self) -> PathBuf {
        self.opts.project_dir.join(&self.run_dir)
    }

    /// What the user should know before anything runs.
    fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        for dataset in &self.plan.datasets {
            if !matches!(dataset.kind, DatasetKind::Local) {
                out.push(format!(
                    "dataset `{}` is {}; kfl run passes the URI to the steps as text and does not download it",
                    dataset.name, dataset.uri
                ));
            }
        }
        if let Some(previous) = &self.previous {
            let now = &self.record.plan_sha256;
            if &previous.plan_sha256 != now {
                out.push("the file changed since this run started; stages whose inputs changed run again".into());
            }
        }
        out
    }

    async fn execute(&mut self, observer: &mut dyn Observer, interrupt: impl Future<Output = ()>) {
        let (events_tx, mut events_rx) = mpsc::channel::<JobEvent>(1024);
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::pin!(interrupt);
        loop {
            self.advance(observer, &events_tx, &stop_rx);
            if self.running == 0 {
                break;
            }
            tokio::select! {
                event = events_rx.recv() => match event {
                    Some(event) => self.on_event(event, observer),
                    None => break,
                },
                () = &mut interrupt, if !self.interrupted => {
                    self.interrupted = true;
                    observer.event(Event::Notice("interrupted: stopping every running stage".into()));
                    let _ = stop_tx.send(true);
                    self.stop_trials();
                }
                // A change not yet on disk is written within the flush interval even while nothing else happens
                // (`kfl runs show` and `kfl logs --follow` read the record during long stages).
                () = tokio::time::sleep(FLUSH_INTERVAL), if self.dirty => {}
            }
            self.maybe_flush();
        }
    }

    /// Settles every instance whose dependencies are done (skip, block, cache hit) and starts what fits,
    /// until nothing changes.
    fn advance(&mut self, observer: &mut dyn Observer, events: &mpsc::Sender<JobEvent>, stop: &watch::Receiver<bool>) {
        let mut changed = true;
        while changed && !self.interrupted {
            changed = false;
            for s in 0..self.plan.stages.len() {
                if !self.expanded[s] {
                    if !self.expand(s, observer) {
                        continue;
                    }
                    changed = true;
                }
                for i in 0..self.record.stages[s].instances.len() {
                    if self.record.stages[s].instances[i].state != StageState::Pending {
                        continue;
                    }
                    changed |= self.try_start(s, i, observer, events, stop);
                }
            }
            changed |= self.pump_tunes(observer, events, stop);
        }
    }

    /// Creates a stage's instances once its loop items are known; false while they are not.
    fn expand(&mut self, s: usize, observer: &mut dyn Observer) -> bool {
        let stage = &self.plan.stages[s];
        let items = match &stage.spec {
            Spec::Container(c) => c.for_loop.as_ref().map(|l| &l.items),
            _ => None,
        };
        let values: Result<Option<Vec<Value>>, LoopItemsError> = match items {
            None => Ok(None),
            Some(LoopItems::Range { from, to }) => Ok(Some((*from..=*to).map(Value::Int).collect())),
            Some(LoopItems::List { items }) => Ok(Some(items.iter().map(Value::from).collect())),
            Some(LoopItems::Expr { expr }) => {
                // Loop items computed from upstream outputs: wait for every dependency outside the loop.
                if stage.depends_on.iter().any(|d| {
                    self.index.get(&d.stage).is_some_and(|&d| {
                        stage_shape::loop_of(&self.plan.stages[d]) != stage_shape::loop_of(stage)
                            && !(self.expanded[d] && self.record.stages[d].instances.iter().all(|i| i.state.is_done()))
                    })
                }) {
                    return false;
                }
                let scope = self.scope(s, 0, None);
                match eval(expr, &scope) {
                    Ok(Value::List(items)) => Ok(Some(items)),
                    Ok(other) => Err(LoopItemsError::NotAList { value: other.text() }),
                    Err(e) => Err(LoopItemsError::Eval(e)),
                }
            }
        };
        self.expanded[s] = true;
        match values {
            Ok(None) => self.record.stages[s].instances = vec![InstanceRecord::new(None, None)],
            Ok(Some(items)) => {
                self.record.stages[s].instances =
                    items.iter().enumerate().map(|(i, v)| InstanceRecord::new(Some(i), Some(v.json()))).collect();
            }
            Err(error) => {
                let mut instance = InstanceRecord::new(None, None);
                instance.state = StageState::Failed;
                instance.message = Some(error.to_string());
                self.record.stages[s].instances = vec![instance];
                self.finished(s, 0, observer);
            }
        }
        self.dirty = true;
        true
    }

    fn scope(&self, s: usize, i: usize, locals: Option<IndexMap<String, Value>>) -> InstanceScope<'_> {
        scope_of(self.plan, &self.record, &self.index, s, i, locals)
    }

    /// Decides one pending instance; true when its state changed or it started.
    fn try_start(
        &mut self,
        s: usize,
        i: usize,
        observer: &mut dyn Observer,
        events: &mpsc::Sender<JobEvent>,
        stop: &watch::Receiver<bool>,
    ) -> bool {
        match select::dep_status(self.plan, &self.record, &self.index, &self.selection, &self.expanded, s, i) {
            DepStatus::Waiting => return false,
            DepStatus::Blocked(message) => return self.settle(s, i, StageState::UpstreamFailed, message, observer),
            DepStatus::Skip(message) => return self.settle(s, i, StageState::Skipped, message, observer),
            DepStatus::Ready => {}
        }
        let stage = &self.plan.stages[s];
        if self.selection[s] == Selection::CacheOnly && !matches!(stage.spec, Spec::Container(_)) {
            // Upstream of an `--only` stage: a model is already in the registry; anything else cannot be reused.
            let (state, message) = match stage.spec {
                Spec::Model(_) => {
                    (StageState::Cached, "not selected by --only: the registry's versions are used".into())
                }
                _ => (StageState::Failed, "not selected by --only, and its result is not cached; run it first".into()),
            };
            return self.settle(s, i, state, message, observer);
        }
        let container = match &stage.spec {
            Spec::Container(c) => c,
            Spec::Tune(_) => {
                return match self.start_tune(s, observer) {
                    Ok(()) => true,
                    Err((state, message)) => self.settle(s, i, state, message, observer),
                };
            }
            Spec::Model(_) => {
                let started = Instant::now();
                let (state, message) = self.run_model(s);
                self.record.stages[s].instances[i].duration_ms = Some(started.elapsed().as_millis() as u64);
                return self.settle(s, i, state, message, observer);
            }
            Spec::Serve(_) => {
                return match self.start_serve(s, observer, events, stop) {
                    Ok(()) => true,
                    Err((state, message)) => self.settle(s, i, state, message, observer),
                };
            }
            Spec::Monitor(monitor) => {
                // A monitor runs inside its serve; it is ready once the serve has ended.
                let message = format!("`{}` ended before its monitor could watch it", monitor.service);
                return self.settle(s, i, StageState::Succeeded, message, observer);
            }
        };
        if !self.prepared.contains_key(&(s, i)) {
            match self.prepare(s, i, container, None) {
                Ok(Prepared::Job(job)) => {
                    self.prepared.insert((s, i), *job);
                }
                Ok(Prepared::Settled(state, message)) => return self.settle(s, i, state, message, observer),
                Ok(Prepared::Reused(reuse)) => {
                    let instance = &mut self.record.stages[s].instances[i];
                    instance.outputs = reuse.outputs;
                    instance.metrics = reuse.metrics;
                    instance.cached = true;
                    return self.settle(s, i, StageState::Cached, reuse.message, observer);
                }
                Err(error) => return self.settle(s, i, StageState::Failed, error.to_string(), observer),
            }
        }
        let need = select::need(container, &self.capacity);
        if self.running >= self.opts.jobs.max(1) || !self.used.fits(&need, &self.capacity, self.running == 0) {
            return false;
        }
        let Some(job) = self.prepared.shift_remove(&(s, i)) else { return false };
        self.used.add(&need);
        self.running += 1;
        let instance = &mut self.record.stages[s].instances[i];
        instance.state = StageState::Running;
        instance.started_at = Some(record::timestamp());
        instance.cache_key = job.cache_key.clone();
        instance.logs = job
            .launches
            .iter()
            .filter_map(|l| l.log.strip_prefix(self.opts.project_dir.join(&self.run_dir)).ok())
            .map(|p| p.display().to_string())
            .collect();
        self.dirty = true;
        let processes = job.launches.len() as u32;
        let iteration = instance.iteration;
        observer.event(Event::StageStarted { stage: &stage.name, iteration, attempt: 1, processes });
        tokio::spawn(job::execute(job, stop.clone(), events.clone()));
        true
    }

    fn settle(&mut self, s: usize, i: usize, state: StageState, message: String, observer: &mut dyn Observer) -> bool {
        let instance = &mut self.record.stages[s].instances[i];
        instance.state = state;
        instance.message = (!message.is_empty()).then_some(message);
        self.finished(s, i, observer);
        true
    }

    fn finished(&mut self, s: usize, i: usize, observer: &mut dyn Observer) {
        self.dirty = true;
        let stage = &self.plan.stages[s];
        observer.event(Event::StageFinished {
            stage: &stage.name,
            kind: stage.kind,
            instance: &self.record.stages[s].instances[i],
        });
    }

    fn on_event(&mut self, event: JobEvent, observer: &mut dyn Observer) {
        if let JobEvent::Metric { id: JobId { trial: Some((s, n)), .. }, name, value } = &event {
            self.on_trial_metric(*s, *n, name, *value);
            return;
        }
        if let JobEvent::Notice(text) = event {
            observer.event(Event::Notice(text));
            return;
        }
        if let JobEvent::Served(served) = event {
            self.on_served(*served, observer);
            return;
        }
        if let JobEvent::Done(result) = event {
            if result.id.trial.is_some() {
                self.on_trial_done(*result, observer);
            } else {
                self.on_done(*result, observer);
            }
            return;
        }
        match event {
            JobEvent::Attempt { id: JobId { trial: Some(_), .. }, .. }
            | JobEvent::Retry { id: JobId { trial: Some(_), .. }, .. } => {}
            JobEvent::Attempt { id: JobId { stage, iteration, .. }, attempt } => {
                let instance = &mut self.record.stages[stage].instances[iteration];
                instance.attempts = attempt;
                if attempt > 1 {
                    let (name, iteration) = (&self.plan.stages[stage].name, instance.iteration);
                    observer.event(Event::StageStarted { stage: name, iteration, attempt, processes: 0 });
                }
            }
            JobEvent::Retry { id: JobId { stage, iteration, .. }, attempt, delay, reason } => {
                let iteration = self.record.stages[stage].instances[iteration].iteration;
                let name = &self.plan.stages[stage].name;
                observer.event(Event::StageRetry { stage: name, iteration, attempt, delay, reason: &reason });
            }
            JobEvent::Metric { id: JobId { stage, iteration, .. }, name, value } => {
                let instance = &mut self.record.stages[stage].instances[iteration];
                instance.metrics.insert(name.clone(), value);
                let iteration = instance.iteration;
                let stage = &self.plan.stages[stage].name;
                observer.event(Event::Metric { stage, iteration, name: &name, value });
            }
            JobEvent::Done(_) | JobEvent::Notice(_) | JobEvent::Served(_) => {}
        }
    }

    fn on_done(&mut self, result: JobResult, observer: &mut dyn Observer) {
        let JobResult { id, attempts, exit, duration, outputs, curves, message } = result;
        let (s, i) = (id.stage, id.iteration);
        if let Spec::Container(container) = &self.plan.stages[s].spec {
            let need = select::need(container, &self.capacity);
            self.used.remove(&need);
        }
        self.running -= 1;
        let instance = &mut self.record.stages[s].instances[i];
        instance.attempts = attempts;
        instance.exit_code = exit.code();
        instance.duration_ms = Some(duration.as_millis() as u64);
        for (name, curve) in curves {
            if let Some(last) = curve.last() {
                instance.metrics.insert(name, *last);
            }
        }
        let (state, message) = match outputs {
            Ok(outputs) => {
                instance.outputs = outputs;
                (StageState::Succeeded, None)
            }
            Err(_) if exit == process::Exit::Stopped && self.interrupted => {
                (StageState::Interrupted, Some("stopped by the interruption".to_string()))
            }
            Err(reason) => (StageState::Failed, message.or_else(|| Some(reason.to_string()))),
        };
        instance.state = state;
        instance.message = message;
        self.finished(s, i, observer);
    }

    fn finish(&mut self) {
        for s in self.tunes.keys().copied().collect::<Vec<_>>() {
            let instance = &mut self.record.stages[s].instances[0];
            instance.state = StageState::Interrupted;
            instance.message = Some("stopped by the interruption; --resume keeps its finished trials".into());
        }
        let states = || self.record.stages.iter().flat_map(|s| &s.instances).map(|i| i.state);
        // Ctrl-C that only ended serving (everything else done) is how a served run normally ends.
        let unfinished =
            states().any(|s| matches!(s, StageState::Pending | StageState::Running | StageState::Interrupted));
        self.record.state = if self.interrupted && unfinished {
            RunState::Interrupted
        } else if states().any(|s| s == StageState::Failed) {
            RunState::Failed
        } else if states().any(|s| s == StageState::NotSupported) {
            RunState::Stopped
        } else if states().any(|s| matches!(s, StageState::UpstreamFailed | StageState::Interrupted)) {
            RunState::Failed
        } else {
            RunState::Succeeded
        };
        self.record.finished_at = Some(record::timestamp());
        self.record.duration_ms = Some(self.started.elapsed().as_millis() as u64);
        self.dirty = true;
    }

    /// `run.json` is rewritten at most every `FLUSH_INTERVAL` while stages churn, and at the end.
    fn maybe_flush(&mut self) {
        if self.dirty && self.last_flush.elapsed() >= FLUSH_INTERVAL {
            let _ = self.flush();
        }
    }

    fn flush(&mut self) -> Result<(), RunError> {
        self.last_flush = Instant::now();
        self.dirty = false;
        let dir = self.run_dir_abs();
        record::write(&dir, &self.record).map_err(|source| RunError::WriteRecord { path: dir.join("run.json"), source })
    }
}

/// The scope of one instance, borrowing only what it reads (so the engine's other fields stay free).
fn scope_of<'a>(
    plan: &'a Plan,
    record: &'a RunRecord,
    index: &'a IndexMap<String, usize>,
    s: usize,
    i: usize,
    locals: Option<IndexMap<String, Value>>,
) -> InstanceScope<'a> {
    let item = record.stages[s].instances.get(i).and_then(|inst| inst.item.as_ref()).map(item_value);
    InstanceScope { plan, record, index, stage: s, iteration: i, item, locals: locals.unwrap_or_default() }
}

fn item_value(item: &serde_json::Value) -> Value {
    match item {
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(item_value).collect()),
        other => Value::Str(other.to_string()),
    }
}

/// Local datasets must exist before anything runs: a missing file should not surface an hour in.
fn check_datasets(plan: &Plan, project_dir: &Path) -> Result<(), RunError> {
    for dataset in &plan.datasets {
        if dataset.kind == DatasetKind::Local && !project_dir.join(&dataset.uri).exists() {
            return Err(RunError::MissingDataset {
                name: dataset.name.clone(),
                uri: dataset.uri.clone(),
                project_dir: project_dir.to_path_buf(),
            });
        }
    }
    Ok(())
}
