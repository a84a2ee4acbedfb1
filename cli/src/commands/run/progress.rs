//! How a run looks: a live display (indicatif) of running stages when stderr is a terminal, one line per event
//! otherwise, and the final summary table.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use kfl_runtime::run::record::{InstanceRecord, RunRecord, StageState, TrialOutcome, TrialRecord};
use kfl_runtime::run::{Event, Observer};

pub struct Progress {
    live: Option<MultiProgress>,
    bars: HashMap<String, ProgressBar>,
    /// Where tune reports are, relative to.
    run_dir: PathBuf,
}

fn instance_name(stage: &str, iteration: Option<usize>) -> String {
    match iteration {
        Some(i) => format!("{stage}[{i}]"),
        None => stage.to_string(),
    }
}

impl Progress {
    pub fn new() -> Progress {
        let live = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let live = live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { live, bars: HashMap::new(), run_dir: PathBuf::new() }
    }

    fn line(&self, text: String) {
        match &self.live {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    pub fn close(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Started { run_id, run_dir, resumed } => {
                let verb = if resumed { "resuming run" } else { "run" };
                self.run_dir = run_dir.to_path_buf();
                self.line(format!("{verb} {run_id} ({})", run_dir.display()));
            }
            Event::Notice(text) => self.line(format!("note: {text}")),
            Event::StageStarted { stage, iteration, attempt, processes } => {
                let name = instance_name(stage, iteration);
                let what = match (attempt, processes) {
                    (1, 0 | 1) => String::new(),
                    (1, n) => format!(" ({n} processes)"),
                    (n, _) => format!(" (attempt {n})"),
                };
                match &self.live {
                    Some(multi) => {
                        let bar = self.bars.entry(name.clone()).or_insert_with(|| {
                            let bar = multi.add(ProgressBar::new_spinner());
                            bar.set_style(
                                ProgressStyle::with_template("{spinner} {prefix:20} {elapsed:>5} {msg}")
                                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                            );
                            bar.set_prefix(name.clone());
                            bar.enable_steady_tick(Duration::from_millis(120));
                            bar
                        });
                        bar.set_message(what.trim().to_string());
                    }
                    None => eprintln!("▶ {name}{what}"),
                }
            }
            Event::StageRetry { stage, iteration, attempt, delay, reason } => self.line(format!(
                "↻ {} failed (attempt {attempt}): {reason}; retrying in {:.1}s",
                instance_name(stage, iteration),
                delay.as_secs_f64()
            )),
            Event::Metric { stage, iteration, name, value } => {
                if let Some(bar) = self.bars.get(&instance_name(stage, iteration)) {
                    bar.set_message(format!("{name}={value}"));
                }
            }
            Event::Trial { tune, trial } => self.trial(tune, trial),
            Event::StageFinished { stage, instance, .. } => {
                let name = instance_name(stage, instance.iteration);
                if let Some(bar) = self.bars.remove(&name) {
                    bar.finish_and_clear();
                }
                self.line(finished_line(&name, instance));
                if let Some(report) = &instance.report {
                    self.line(format!("  report: {}", self.run_dir.join(report).display()));
                }
            }
        }
    }
}

impl Progress {
    /// One line per finished trial (a live trials table, row by row); a spinner while it runs.
    fn trial(&mut self, tune: &str, trial: &TrialRecord) {
        let name = format!("{tune}#{}", trial.number);
        let params: Vec<String> = trial.params.iter().map(|(k, v)| format!("{k}={}", json_text(v))).collect();
        let params = params.join(" ");
        if trial.outcome == TrialOutcome::Running {
            if let Some(multi) = &self.live {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:20} {elapsed:>5} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(name.clone());
                bar.set_message(params);
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bars.insert(name, bar);
            }
            return;
        }
        if let Some(bar) = self.bars.remove(&name) {
            bar.finish_and_clear();
        }
        let outcome = match trial.outcome {
            TrialOutcome::Completed => "completed",
            TrialOutcome::Stopped => "stopped",
            TrialOutcome::Failed => "failed",
            TrialOutcome::Interrupted => "interrupted",
            TrialOutcome::Running => "running",
        };
        let value = trial.value.map(|v| format!(" value={v:.4}")).unwrap_or_default();
        let time = trial.duration_ms.map(|ms| format!(" {}", seconds(ms))).unwrap_or_default();
        let cached = if trial.cached { " (cached)" } else { "" };
        let why = trial.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
        self.line(format!("  {name:<12} {params:<32} {outcome}{cached}{value}{time}{why}"));
    }
}

fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.as_f64().map_or_else(
            || n.to_string(),
            |x| format!("{x:.4}").trim_end_matches('0').trim_end_matches('.').to_string(),
        ),
        other => other.to_string(),
    }
}

fn finished_line(name: &str, instance: &InstanceRecord) -> String {
    let mark = match instance.state {
        StageState::Succeeded => "✓",
        StageState::Cached => "≡",
        StageState::Skipped | StageState::NotSelected => "○",
        StageState::NotSupported => "■",
        _ => "✗",
    };
    let time = instance.duration_ms.map(|ms| format!(" {}", seconds(ms))).unwrap_or_default();
    let message = instance.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
    format!("{mark} {name} {}{time}{message}", instance.state.label())
}

/// Counts as integers, measurements with four decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{value:.0}") } else { format!("{value:.4}") }
}

fn seconds(ms: u64) -> String {
    if ms >= 60_000 {
        format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// After the summary: the scheduling properties `kfl run` accepted and did not apply (they place pods on a
/// cluster), per stage or serve.
pub fn cluster_only(declarations: &[(String, Vec<&'static str>)]) {
    for (name, properties) in declarations {
        let list: Vec<String> = properties.iter().map(|p| format!("`{p}`")).collect();
        let verb = if list.len() == 1 { "applies" } else { "apply" };
        println!("{name}: {} {verb} on the cluster only (kfl run ignores it here)", list.join(", "));
    }
}

/// The table printed when a run ends: stage, status, time, cached, metrics.
pub fn summary(record: &RunRecord) {
    let mut rows = vec![["stage".to_string(), "status".into(), "time".into(), "cached".into(), "metrics".into()]];
    for stage in &record.stages {
        for instance in &stage.instances {
            // Trial templates not run on their own belong to their tune; leave them out.
            if instance.state == StageState::NotSelected {
                continue;
            }
            let metrics: Vec<String> = instance.metrics.iter().map(|(k, v)| format!("{k}={}", number(*v))).collect();
            rows.push([
                instance_name(&stage.name, instance.iteration),
                instance.state.label().to_string(),
                instance.duration_ms.map(seconds).unwrap_or_else(|| "-".into()),
                if instance.cached { "yes".into() } else { "no".into() },
                metrics.join(" "),
            ]);
        }
    }
    let mut out = crate::commands::runs::table(&rows);
    let total = record.duration_ms.map(seconds).unwrap_or_default();
    out.push_str(&format!("run {} {} in {total}\n", record.run_id, record.state.label()));
    print!("{out}");
}
