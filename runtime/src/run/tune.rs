//! The `tune` stage run locally: trials are the trial template's processes (through the same jobs as any stage,
//! gangs included), proposed by the search engine, `parallel` at a time, stopped early by the median rule;
//! the best trial's outputs, params and metrics become the tune's outputs (`NAME.best.*`).

use std::time::Instant;

use indexmap::IndexMap;
use tokio::sync::{mpsc, watch};

use super::error::TuneSetupError;
use super::job::{self, JobEvent, JobResult};
use super::prepare::{Prepared, TrialSpec};
use super::record::{self, OutputRecord, StageState, TrialOutcome, TrialRecord};
use super::{Engine, Event, Observer, cache, process, report, select};
use crate::plan::{Distribution, Expression, Goal, Spec, Tune};
use crate::search::{self, Direction, MedianStop, Proposal, Sampler, SettingValue, Space, Trial, TrialState};
use crate::value::{EvalError, Value, eval};
use kfl_plan::algorithms::EarlyStopAlgorithm;

/// A tune in progress.
pub(super) struct TuneRun {
    trial_stage: usize,
    space: Space,
    direction: Direction,
    metric: String,
    target: Option<f64>,
    budget: usize,
    parallel: usize,
    max_failed: usize,
    sampler: Box<dyn Sampler>,
    median: Option<MedianStop>,
    history: Vec<Trial>,
    /// Per trial: its stop switch while it runs, and whether it was asked to stop (early stop, search over).
    stops: Vec<Option<watch::Sender<bool>>>,
    stopping: Vec<Option<String>>,
    running: usize,
    failed: usize,
    /// Why no more trials are proposed (goal reached, too many failures, nothing left to try).
    ended: Option<String>,
    started: Instant,
    /// The key the finished tune is cached under as a whole; `None` when it is not cached.
    cache_key: Option<String>,
}

impl Engine<'_> {
    fn tune_spec(&self, s: usize) -> Option<&Tune> {
        match &self.plan.stages[s].spec {
            Spec::Tune(tune) => Some(tune),
            _ => None,
        }
    }

    /// Starts a ready tune: its space and sampler, and the trials a resumed run already finished.
    /// Returns the state to settle with when it does not run: skipped, failed, or served from the cache.
    pub(super) fn start_tune(&mut self, s: usize, observer: &mut dyn Observer) -> Result<(), (StageState, String)> {
        let failed = |message: String| (StageState::Failed, message);
        let tune = self.tune_spec(s).ok_or_else(|| failed("not a tune".into()))?.clone();
        let scope = self.scope(s, 0, None);
        if let Some(when) = &tune.when {
            match eval(when, &scope).map_err(|e| failed(format!("`when`: {e}")))? {
                Value::Bool(true) => {}
                Value::Bool(false) => return Err((StageState::Skipped, "`when` is false".into())),
                other => return Err(failed(format!("`when` gave {}, not a bool", other.text()))),
            }
        }
        let trial_stage = *self.index.get(&tune.trial).ok_or_else(|| failed(format!("no trial `{}`", tune.trial)))?;
        let space = space_of(&tune, &|e| eval(e, &scope)).map_err(|e| failed(e.to_string()))?;
        let direction = match tune.goal {
            Goal::Maximize => Direction::Maximize,
            Goal::Minimize => Direction::Minimize,
        };
        let settings = tune
            .algorithm
            .settings
            .iter()
            .map(|(name, expr)| {
                let value = setting(expr, &|e| eval(e, &scope))
                    .map_err(|source| TuneSetupError::Setting { name: name.clone(), source })?;
                Ok((name.clone(), value))
            })
            .collect::<Result<Vec<_>, TuneSetupError>>()
            .map_err(|e| failed(e.to_string()))?;
        let budget = usize::try_from(tune.trials.max(1)).unwrap_or(1);
        let seed = tune.algorithm.seed.map(|s| s as u64);
        let sampler = search::sampler(tune.algorithm.name.name(), seed, &settings, &space, direction, budget)
            .map_err(|source| TuneSetupError::Sampler { algorithm: tune.algorithm.name, source })
            .map_err(|e| failed(e.to_string()))?;
        let median = tune.early_stop.as_ref().map(|e| match e.name {
            EarlyStopAlgorithm::Median => {
                let defaults = MedianStop::default();
                MedianStop {
                    min_trials: e.min_trials.map_or(defaults.min_trials, |n| n.max(0) as usize),
                    start_step: e.start_step.map_or(defaults.start_step, |n| n.max(0) as u64),
                }
            }
        });
        let cache_key = self.tune_key(s, &tune, trial_stage, &space, &settings);
        if let Some(key) = &cache_key
            && let Some(message) = self.reuse_tune(s, key, observer)
        {
            return Err((StageState::Cached, message));
        }
        let mut run = TuneRun {
            trial_stage,
            direction,
            metric: tune.metric.clone(),
            target: tune.target,
            budget,
            parallel: usize::try_from(tune.parallel.max(1)).unwrap_or(1),
            max_failed: usize::try_from(tune.max_failed.max(0)).unwrap_or(0),
            sampler,
            median,
            history: Vec::new(),
            stops: Vec::new(),
            stopping: Vec::new(),
            running: 0,
            failed: 0,
            ended: None,
            started: Instant::now(),
            space,
            cache_key,
        };
        let mut kept = Vec::new();
        let previous = self.previous.as_ref().and_then(|p| p.stage(&self.plan.stages[s].name));
        let finished = previous.and_then(|p| p.instances.first()).map(|i| i.trials.clone()).unwrap_or_default();
        for mut trial in finished {
            let state = match trial.outcome {
                TrialOutcome::Completed => TrialState::Completed,
                TrialOutcome::Stopped => TrialState::Stopped,
                TrialOutcome::Failed => TrialState::Failed,
                TrialOutcome::Running | TrialOutcome::Interrupted => continue,
            };
            let params: Option<Vec<search::Value>> =
                run.space.params.iter().map(|p| trial.params.get(&p.name).and_then(search_value)).collect();
            let Some(params) = params else { continue };
            trial.number = kept.len();
            run.history.push(Trial {
                id: trial.number,
                params,
                state,
                value: trial.value,
                curve: curve_steps(&trial.curve),
            });
            run.stops.push(None);
            run.stopping.push(None);
            if state == TrialState::Failed {
                run.failed += 1;
            }
            kept.push(trial);
        }
        let instance = &mut self.record.stages[s].instances[0];
        instance.state = StageState::Running;
        instance.started_at = Some(record::timestamp());
        instance.trials = kept;
        self.dirty = true;
        self.tunes.insert(s, run);
        Ok(())
    }

    /// Proposes and starts trials while the tunes' `parallel`, `--jobs` and the machine allow; finishes the
    /// tunes that are done. True when anything changed.
    pub(super) fn pump_tunes(
        &mut self,
        observer: &mut dyn Observer,
        events: &mpsc::Sender<JobEvent>,
        global_stop: &watch::Receiver<bool>,
    ) -> bool {
        let mut changed = false;
        let tunes: Vec<usize> = self.tunes.keys().copied().collect();
        for s in tunes {
            while self.launch_trial(s, observer, events, global_stop) {
                changed = true;
            }
            let Some(run) = self.tunes.get_mut(&s) else { continue };
            // Nothing running and nothing proposed (a sampler waiting on itself) would wait forever.
            if run.running == 0 && run.ended.is_none() && run.history.len() < run.budget && self.running == 0 {
                run.ended = Some("the algorithm proposed no further trial".into());
            }
            let over = run.ended.is_some() || run.history.len() >= run.budget;
            if over && run.running == 0 {
                self.finish_tune(s, observer);
                changed = true;
            }
        }
        changed
    }

    fn launch_trial(
        &mut self,
        s: usize,
        observer: &mut dyn Observer,
        events: &mpsc::Sender<JobEvent>,
        global_stop: &watch::Receiver<bool>,
    ) -> bool {
        let Some(run) = self.tunes.get_mut(&s) else { return false };
        if run.ended.is_some() || run.history.len() >= run.budget || run.running >= run.parallel {
            return false;
        }
        let Spec::Container(container) = &self.plan.stages[run.trial_stage].spec else { return false };
        let need = select::need(container, &self.capacity);
        if self.running >= self.opts.jobs.max(1) || !self.used.fits(&need, &self.capacity, self.running == 0) {
            return false;
        }
        let suggestion = match run.sampler.suggest(&run.space, &run.history) {
            Proposal::Trial(suggestion) => suggestion,
            Proposal::Wait => return false,
            Proposal::Exhausted => {
                run.ended = Some("the algorithm has nothing left to try".into());
                return true;
            }
        };
        let number = run.history.len();
        let names: Vec<String> = run.space.params.iter().map(|p| p.name.clone()).collect();
        let params: IndexMap<String, serde_json::Value> =
            names.iter().zip(&suggestion.params).map(|(n, v)| (n.clone(), search_json(v))).collect();
        run.history.push(Trial {
            id: number,
            params: suggestion.params.clone(),
            state: TrialState::Running,
            value: None,
            curve: vec![],
        });
        run.stops.push(None);
        run.stopping.push(None);
        let trial_stage = run.trial_stage;
        let spec = TrialSpec {
            overrides: names.iter().zip(&suggestion.params).map(|(n, v)| (n.clone(), runtime_value(v))).collect(),
            dir: self.run_dir.join(&self.plan.stages[s].name).join(format!("trial-{number}")),
            tune: s,
            number,
        };
        self.record.stages[s].instances[0].trials.push(TrialRecord {
            number,
            params,
            outcome: TrialOutcome::Running,
            value: None,
            curve: Vec::new(),
            metrics: IndexMap::new(),
            outputs: IndexMap::new(),
            cached: false,
            duration_ms: None,
            message: None,
            logs: Vec::new(),
        });
        self.dirty = true;
        let prepared = self.prepare(trial_stage, 0, container, Some(&spec));
        let tune_name = self.plan.stages[s].name.clone();
        match prepared {
            Ok(Prepared::Job(job)) => {
                let (stop_tx, stop_rx) = watch::channel(*global_stop.borrow());
                let logs = job
                    .launches
                    .iter()
                    .filter_map(|l| l.log.strip_prefix(self.opts.project_dir.join(&self.run_dir)).ok())
                    .map(|p| p.display().to_string())
                    .collect();
                let record = &mut self.record.stages[s].instances[0].trials[number];
                record.logs = logs;
                observer.event(Event::Trial { tune: &tune_name, trial: record });
                if let Some(run) = self.tunes.get_mut(&s) {
                    run.stops[number] = Some(stop_tx);
                    run.running += 1;
                }
                self.used.add(&need);
                self.running += 1;
                tokio::spawn(job::execute(*job, stop_rx, events.clone()));
            }
            Ok(Prepared::Reused(reuse)) => {
                let curve = reuse.curves.get(&self.tunes[&s].metric).cloned().unwrap_or_default();
                let record = &mut self.record.stages[s].instances[0].trials[number];
                record.cached = true;
                record.metrics = reuse.metrics;
                self.complete_trial(s, number, Ok(reuse.outputs), curve, None, observer);
            }
            Ok(Prepared::Settled(_, message)) => {
                self.complete_trial(s, number, Err(Stop::Failed(message)), Vec::new(), None, observer);
            }
            Err(error) => {
                self.complete_trial(s, number, Err(Stop::Failed(error.to_string())), Vec::new(), None, observer)
            }
        }
        true
    }

    /// A metric report of a running trial: the objective's curve grows, and the median rule may stop it.
    pub(super) fn on_trial_metric(&mut self, s: usize, number: usize, name: &str, value: f64) {
        let Some(run) = self.tunes.get_mut(&s) else { return };
        let record = &mut self.record.stages[s].instances[0].trials[number];
        record.metrics.insert(name.to_string(), value);
        if name != run.metric {
            return;
        }
        record.curve.push(value);
        let step = record.curve.len() as u64;
        let trial = &mut run.history[number];
        trial.curve.push((step, value));
        if run.stopping[number].is_none()
            && let Some(median) = run.median
            && median.should_stop(&run.history[number], &run.history, run.direction)
        {
            run.stopping[number] =
                Some(format!("stopped at step {step}: worse than the median of completed trials (median rule)"));
            if let Some(stop) = &run.stops[number] {
                let _ = stop.send(true);
            }
        }
        self.dirty = true;
    }

    pub(super) fn on_trial_done(&mut self, result: JobResult, observer: &mut dyn Observer) {
        let Some((s, number)) = result.id.trial else { return };
        let Some(run) = self.tunes.get_mut(&s) else { return };
        run.running -= 1;
        run.stops[number] = None;
        let Spec::Container(container) = &self.plan.stages[run.trial_stage].spec else { return };
        self.used.remove(&select::need(container, &self.capacity));
        self.running -= 1;
        let record = &mut self.record.stages[s].instances[0].trials[number];
        record.duration_ms = Some(result.duration.as_millis() as u64);
        let curve = record.curve.clone();
        let stopped_by = if result.exit == process::Exit::Stopped { run.stopping[number].clone() } else { None };
        let outputs = match (result.outputs, stopped_by) {
            (Ok(outputs), _) => Ok(outputs),
            (Err(_), Some(reason)) => Err(Stop::Early(reason)),
            (Err(_), None) if self.interrupted => Err(Stop::Interrupted),
            (Err(reason), None) => Err(Stop::Failed(result.message.unwrap_or_else(|| reason.to_string()))),
        };
        match outputs {
            Ok(outputs) => self.complete_trial(s, number, Ok(outputs), curve, None, observer),
            Err(stop @ Stop::Failed(_)) => self.complete_trial(s, number, Err(stop), curve, None, observer),
            Err(stop @ Stop::Early(_)) => {
                self.complete_trial(s, number, Err(stop), curve, Some(TrialOutcome::Stopped), observer);
            }
            Err(Stop::Interrupted) => {
                let interrupted = Err(Stop::Interrupted);
                self.complete_trial(s, number, interrupted, curve, Some(TrialOutcome::Interrupted), observer);
            }
        }
    }

    /// Records a trial's end. `outcome` forces stopped/interrupted; otherwise success with a finite objective is
    /// completed and anything else failed.
    fn complete_trial(
        &mut self,
        s: usize,
        number: usize,
        outputs: Result<IndexMap<String, OutputRecord>, Stop>,
        curve: Vec<f64>,
        outcome: Option<TrialOutcome>,
        observer: &mut dyn Observer,
    ) {
        let Some(run) = self.tunes.get_mut(&s) else { return };
        let best = best_of(&curve, run.direction);
        let (outcome, message, outputs) = match (outcome, outputs) {
            (Some(forced), result) => (forced, result.err().map(|stop| stop.to_string()), IndexMap::new()),
            (None, Ok(outputs)) => match best {
                Some(value) if value.is_finite() => (TrialOutcome::Completed, None, outputs),
                Some(_) => (TrialOutcome::Failed, Some(format!("`{}` is not a finite number", run.metric)), outputs),
                None => (
                    TrialOutcome::Failed,
                    Some(format!("the trial printed no `{}=…` line, so it has no objective value", run.metric)),
                    outputs,
                ),
            },
            (None, Err(stop)) => (TrialOutcome::Failed, Some(stop.to_string()), IndexMap::new()),
        };
        let trial = &mut run.history[number];
        trial.curve = curve_steps(&curve);
        trial.value = best;
        trial.state = match outcome {
            TrialOutcome::Completed => TrialState::Completed,
            TrialOutcome::Stopped => TrialState::Stopped,
            _ => TrialState::Failed,
        };
        if outcome == TrialOutcome::Failed {
            run.failed += 1;
            if run.failed > run.max_failed && run.ended.is_none() {
                run.ended = Some(format!("{} trials failed, more than max_failed = {}", run.failed, run.max_failed));
            }
        }
        let reached = |target: f64, value: f64| match run.direction {
            Direction::Maximize => value >= target,
            Direction::Minimize => value <= target,
        };
        if outcome == TrialOutcome::Completed
            && let (Some(target), Some(value)) = (run.target, best)
            && reached(target, value)
            && run.ended.is_none()
        {
            run.ended = Some(format!("goal reached: {} = {value} (goal {target})", run.metric));
        }
        // Once the search is over, running trials are stopped: their results can no longer matter.
        if let Some(reason) = run.ended.clone() {
            for (n, stop) in run.stops.iter().enumerate() {
                if let Some(stop) = stop {
                    run.stopping[n].get_or_insert_with(|| format!("the search ended ({reason})"));
                    let _ = stop.send(true);
                }
            }
        }
        let record = &mut self.record.stages[s].instances[0].trials[number];
        record.outcome = outcome;
        record.value = best;
        record.curve = curve;
        record.message = message;
        record.outputs = outputs;
        self.dirty = true;
        let tune_name = self.plan.stages[s].name.clone();
        observer.event(Event::Trial { tune: &tune_name, trial: &self.record.stages[s].instances[0].trials[number] });
    }

    /// The best completed trial becomes the tune's result.
    fn finish_tune(&mut self, s: usize, observer: &mut dyn Observer) {
        let Some(run) = self.tunes.shift_remove(&s) else { return };
        let instance = &mut self.record.stages[s].instances[0];
        instance.duration_ms = Some(run.started.elapsed().as_millis() as u64);
        let best = instance
            .trials
            .iter()
            .filter(|t| t.outcome == TrialOutcome::Completed)
            .filter_map(|t| Some((t, t.value?)))
            .min_by(|a, b| run.direction.loss(a.1).total_cmp(&run.direction.loss(b.1)));
        let count = |o: TrialOutcome| instance.trials.iter().filter(|t| t.outcome == o).count();
        let tally = format!(
            "{} trials: {} completed, {} stopped early, {} failed",
            instance.trials.len(),
            count(TrialOutcome::Completed),
            count(TrialOutcome::Stopped),
            count(TrialOutcome::Failed)
        );
        let ended = run.ended.map(|e| format!("; {e}")).unwrap_or_default();
        let Some((best, value)) = best else {
            instance.state = StageState::Failed;
            instance.message = Some(format!("no trial completed ({tally}{ended})"));
            self.write_report(s, &run.metric, observer);
            self.finished(s, 0, observer);
            return;
        };
        let mut outputs = best.outputs.clone();
        for (name, value) in &best.params {
            let ty = match value {
                serde_json::Value::Number(n) if n.is_i64() => "int",
                serde_json::Value::Number(_) => "float",
                _ => "string",
            };
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
            outputs.entry(name.clone()).or_insert(OutputRecord::Scalar { ty: ty.into(), value: value.clone(), text });
        }
        let mut metrics = best.metrics.clone();
        metrics.insert(run.metric.clone(), value);
        for (name, metric) in &metrics {
            let json = serde_json::Number::from_f64(*metric).map_or(serde_json::Value::Null, Into::into);
            let text = crate::value::format_float(*metric);
            outputs.entry(name.clone()).or_insert(OutputRecord::Scalar { ty: "float".into(), value: json, text });
        }
        let params: Vec<String> = best.params.iter().map(|(k, v)| format!("{k}={}", json_text(v))).collect();
        instance.message = Some(format!(
            "best: trial {} ({}={value}, {}); {tally}{ended}",
            best.number,
            run.metric,
            params.join(", ")
        ));
        // The objective is the trial's best report (what the search ranks by, as Katib's metric strategies do), but the
        // artifact is what the trial saved at its end: its last report is recorded beside it, as `NAME.final` (a name
        // no declared metric can have), so the registry shows what the saved model scored.
        if let Some(last) = best.curve.last() {
            metrics.insert(format!("{}.final", run.metric), *last);
        }
        instance.outputs = outputs;
        instance.metrics = metrics;
        instance.state = StageState::Succeeded;
        self.write_report(s, &run.metric, observer);
        if let Some(key) = &run.cache_key
            && let Err(e) = self.store_tune(s, key)
        {
            let name = &self.plan.stages[s].name;
            observer.event(Event::Notice(format!("`{name}`: its result is not cached: {e}")));
        }
        self.finished(s, 0, observer);
    }

    /// The key of a tune as a whole: its definition, its space and settings as evaluated, and its trial template
    /// with the searched inputs left open (image, command, the other inputs by content). `None` when the tune
    /// is not to be cached (`--no-cache`, a trial with `cache = false`) or the template needs a searched value
    /// to be keyed.
    fn tune_key(
        &mut self,
        s: usize,
        tune: &Tune,
        trial_stage: usize,
        space: &Space,
        settings: &[(String, SettingValue)],
    ) -> Option<String> {
        let Spec::Container(container) = &self.plan.stages[trial_stage].spec else { return None };
        if self.opts.no_cache || !container.cache {
            return None;
        }
        let searched: Vec<String> = space.params.iter().map(|p| p.name.clone()).collect();
        let template = self.template_key(trial_stage, container, &searched).ok()?;
        Some(cache::key(&serde_json::json!({
            "tune": format!("{tune:?}"),
            "trial": format!("{container:?}"),
            "template": template,
            "space": format!("{space:?}"),
            "settings": format!("{settings:?}"),
            "stage": self.plan.stages[s].name,
        })))
    }

    /// Serves a tune from the cache: the best trial's outputs linked into `<tune>/outputs`, the trials recorded
    /// as they were (their logs and trial outputs belong to the run that ran them), the report written again.
    /// The message to settle with, or `None` on a miss.
    fn reuse_tune(&mut self, s: usize, key: &str, observer: &mut dyn Observer) -> Option<String> {
        let (entry, files) = cache::lookup(&self.opts.project_dir, key)?;
        let objective = entry.objective.clone()?;
        let instance_dir = self.run_dir.join(&self.plan.stages[s].name);
        let outputs = self.adopt(entry.outputs, &files, &instance_dir)?;
        let instance = &mut self.record.stages[s].instances[0];
        instance.outputs = outputs;
        instance.metrics = entry.metrics;
        instance.cached = true;
        instance.cache_key = Some(key.to_string());
        instance.trials = entry.trials;
        for trial in &mut instance.trials {
            trial.logs.clear();
            trial.outputs.clear();
        }
        self.write_report(s, &objective.metric, observer);
        Some(entry.message.unwrap_or_default())
    }

    /// Caches a finished tune under `key`: its outputs (the best trial's artifacts), metrics, trials and message.
    fn store_tune(&self, s: usize, key: &str) -> std::io::Result<()> {
        let instance = &self.record.stages[s].instances[0];
        let artifact = instance.outputs.values().find_map(|o| match o {
            OutputRecord::Artifact { path, .. } => Some(self.opts.project_dir.join(path)),
            OutputRecord::Scalar { .. } => None,
        });
        // Every artifact of the best trial lies in that trial's `outputs` folder.
        let outputs_dir = artifact.as_deref().and_then(std::path::Path::parent).unwrap_or(&self.opts.project_dir);
        let entry = cache::Entry {
            stage: self.plan.stages[s].name.clone(),
            outputs: instance.outputs.clone(),
            metrics: instance.metrics.clone(),
            curves: IndexMap::new(),
            trials: instance.trials.clone(),
            message: instance.message.clone(),
            objective: instance.objective.clone(),
        };
        cache::store(&self.opts.project_dir, key, outputs_dir, &entry)
    }

    /// Records the objective, writes `<tune>/report.html` in the run folder and records its path; a report that cannot be written is
    /// a notice, not a failed tune.
    fn write_report(&mut self, s: usize, metric: &str, observer: &mut dyn Observer) {
        let Some(goal) = self.tune_spec(s).map(|t| t.goal) else { return };
        let name = &self.plan.stages[s].name;
        let relative = format!("{name}/report.html");
        let path = self.run_dir_abs().join(&relative);
        let instance = &mut self.record.stages[s].instances[0];
        instance.objective = Some(record::Objective { metric: metric.to_string(), goal });
        let written = report::render(name, metric, goal, &instance.trials).and_then(|html| {
            let dir = path.parent().unwrap_or(&path);
            std::fs::create_dir_all(dir)
                .and_then(|()| record::write_atomic(&path, html.as_bytes()))
                .map_err(|source| report::ReportError::Write { path: path.clone(), source })
        });
        match written {
            Ok(()) => self.record.stages[s].instances[0].report = Some(relative),
            Err(message) => observer.event(Event::Notice(format!("`{name}`: no report: {message}"))),
        }
    }

    /// Ctrl-C: every running trial stops with the run.
    pub(super) fn stop_trials(&mut self) {
        for run in self.tunes.values() {
            for stop in run.stops.iter().flatten() {
                let _ = stop.send(true);
            }
        }
    }
}

/// Why a trial ended without outputs; its words become the trial's message.
enum Stop {
    /// Stopped early (median rule, or the search ended), and why.
    Early(String),
    Interrupted,
    /// Failed, in the job's or the preparation's words.
    Failed(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Early(reason) | Stop::Failed(reason) => f.write_str(reason),
            Stop::Interrupted => f.write_str("stopped by the interruption"),
        }
    }
}

/// The trial's best report by the direction (Katib's objective strategy).
fn best_of(curve: &[f64], direction: Direction) -> Option<f64> {
    curve.iter().copied().min_by(|a, b| direction.loss(*a).total_cmp(&direction.loss(*b)))
}

fn curve_steps(curve: &[f64]) -> Vec<(u64, f64)> {
    curve.iter().enumerate().map(|(i, v)| (i as u64 + 1, *v)).collect()
}

fn json_text(value: &serde_json::Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

fn search_json(value: &search::Value) -> serde_json::Value {
    match value {
        search::Value::Int(n) => (*n).into(),
        search::Value::Float(x) => serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into),
        search::Value::Str(s) => s.clone().into(),
    }
}

fn search_value(value: &serde_json::Value) -> Option<search::Value> {
    Some(match value {
        serde_json::Value::Number(n) if n.is_i64() => search::Value::Int(n.as_i64()?),
        serde_json::Value::Number(n) => search::Value::Float(n.as_f64()?),
        serde_json::Value::String(s) => search::Value::Str(s.clone()),
        _ => return None,
    })
}

fn runtime_value(value: &search::Value) -> Value {
    match value {
        search::Value::Int(n) => Value::Int(*n),
        search::Value::Float(x) => Value::Float(*x),
        search::Value::Str(s) => Value::Str(s.clone()),
    }
}

/// The plan's search space as the search engine's.
fn space_of(tune: &Tune, eval: &dyn Fn(&Expression) -> Result<Value, EvalError>) -> Result<Space, TuneSetupError> {
    let mut params = Vec::new();
    for param in &tune.space {
        let args = param.args.iter().map(eval).collect::<Result<Vec<_>, _>>().map_err(|source| {
            TuneSetupError::SpaceArgument { param: param.name.clone(), distribution: param.distribution, source }
        })?;
        let number = |i: usize| -> Result<f64, TuneSetupError> {
            match args.get(i) {
                Some(Value::Int(n)) => Ok(*n as f64),
                Some(Value::Float(x)) => Ok(*x),
                Some(Value::Unit { value, .. }) => Ok(*value),
                _ => Err(TuneSetupError::NotANumber {
                    param: param.name.clone(),
                    distribution: param.distribution,
                    position: i + 1,
                }),
            }
        };
        let distribution = match param.distribution {
            Distribution::Uniform => search::Distribution::Uniform { low: number(0)?, high: number(1)? },
            Distribution::LogUniform => search::Distribution::LogUniform { low: number(0)?, high: number(1)? },
            Distribution::Normal => search::Distribution::Normal { mu: number(0)?, sigma: number(1)? },
            Distribution::LogNormal => search::Distribution::LogNormal { mu: number(0)?, sigma: number(1)? },
            Distribution::QUniform => {
                search::Distribution::QUniform { low: number(0)?, high: number(1)?, q: number(2)? }
            }
            Distribution::RandInt => search::Distribution::RandInt { low: number(0)? as i64, high: number(1)? as i64 },
            Distribution::Choice => search::Distribution::Choice(
                args.iter()
                    .map(|v| match v {
                        Value::Int(n) => search::Value::Int(*n),
                        Value::Float(x) => search::Value::Float(*x),
                        other => search::Value::Str(other.text()),
                    })
                    .collect(),
            ),
        };
        let ty = match param.ty.as_str() {
            "int" => search::ParamType::Int,
            "float" => search::ParamType::Float,
            _ => search::ParamType::String,
        };
        params.push(search::Param { name: param.name.clone(), ty, distribution });
    }
    Ok(Space { params })
}

fn setting(
    expr: &Expression,
    eval: &dyn Fn(&Expression) -> Result<Value, EvalError>,
) -> Result<SettingValue, EvalError> {
    // A bare name (`resource = epochs`) arrives as a reference to the trial's input; its name is the setting.
    if let Expression::Local { name } | Expression::Param { name } = expr {
        return Ok(SettingValue::Str(name.clone()));
    }
    Ok(match eval(expr)? {
        Value::Int(n) => SettingValue::Int(n),
        Value::Float(x) => SettingValue::Float(x),
        Value::Bool(b) => SettingValue::Bool(b),
        Value::Unit { value, .. } => SettingValue::Float(value),
        other => SettingValue::Str(other.text()),
    })
}
