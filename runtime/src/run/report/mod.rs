//! The HTML report of one tune: a self-contained page (inline CSS and SVG, no scripts) with the best trial,
//! the outcome counts, the objective per trial, parallel coordinates of the parameters, learning curves and
//! the trials table. Pure: trials in, HTML out, the same bytes for the same trials.

mod chart;

use serde::Serialize;

use self::chart::{AxisValue, loss, number, outcome_label};
use crate::plan::Goal;
use crate::run::record::{TrialOutcome, TrialRecord};

const TEMPLATE: &str = include_str!("report.html");

#[derive(Serialize)]
struct Best {
    number: usize,
    value: String,
    params: String,
}

#[derive(Serialize)]
struct OutcomeCount {
    outcome: &'static str,
    count: usize,
}

#[derive(Serialize)]
struct Counts {
    total: usize,
    outcomes: Vec<OutcomeCount>,
}

#[derive(Serialize)]
struct Charts {
    objective: String,
    parallel: String,
    curves: String,
}

#[derive(Serialize)]
struct Row {
    number: usize,
    best: bool,
    params: String,
    outcome: &'static str,
    cached: bool,
    value: String,
    duration: String,
    message: String,
}

/// The best trial: the completed one with the best finite objective, the lowest number among equals (as the
/// engine picks it).
pub fn best(trials: &[TrialRecord], goal: Goal) -> Option<&TrialRecord> {
    let mut sorted: Vec<&TrialRecord> = trials.iter().collect();
    sorted.sort_by_key(|t| t.number);
    sorted
        .into_iter()
        .filter(|t| t.outcome == TrialOutcome::Completed)
        .filter_map(|t| Some((t, t.value.filter(|v| v.is_finite())?)))
        .min_by(|a, b| loss(goal, a.1).total_cmp(&loss(goal, b.1)))
        .map(|(t, _)| t)
}

/// A trial's parameters as `name=value, …`.
pub fn params_text(trial: &TrialRecord) -> String {
    let params: Vec<String> = trial.params.iter().map(|(k, v)| format!("{k}={}", AxisValue::of(v).text())).collect();
    params.join(", ")
}

/// A duration as `1.2s` or `3m04s`.
pub fn duration_text(ms: u64) -> String {
    if ms >= 60_000 {
        format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// Why no report was written; the tune's trials and outputs are recorded in `run.json` all the same.
#[derive(Debug)]
pub enum ReportError {
    Template(tera::Error),
    Render { tune: String, source: tera::Error },
    Write { path: std::path::PathBuf, source: std::io::Error },
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::Template(e) => write!(f, "the report template: {e}"),
            ReportError::Render { tune, source } => write!(f, "cannot render the report of `{tune}`: {source}"),
            ReportError::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for ReportError {}

/// The report of tune `tune`, whose objective is `metric` to `goal`, over its trials in any order.
pub fn render(tune: &str, metric: &str, goal: Goal, trials: &[TrialRecord]) -> Result<String, ReportError> {
    let mut sorted: Vec<&TrialRecord> = trials.iter().collect();
    sorted.sort_by_key(|t| t.number);
    let best_trial = best(trials, goal);
    let outcomes = [
        TrialOutcome::Completed,
        TrialOutcome::Stopped,
        TrialOutcome::Failed,
        TrialOutcome::Interrupted,
        TrialOutcome::Running,
    ]
    .into_iter()
    .map(|o| OutcomeCount { outcome: outcome_label(o), count: trials.iter().filter(|t| t.outcome == o).count() })
    .filter(|c| c.count > 0 || matches!(c.outcome, "completed" | "stopped" | "failed"))
    .collect();
    let rows: Vec<Row> = sorted
        .iter()
        .map(|t| Row {
            number: t.number,
            best: best_trial.is_some_and(|b| b.number == t.number),
            params: params_text(t),
            outcome: outcome_label(t.outcome),
            cached: t.cached,
            value: t.value.map(number).unwrap_or_else(|| "–".into()),
            duration: t.duration_ms.map(duration_text).unwrap_or_else(|| "–".into()),
            message: t.message.clone().unwrap_or_default(),
        })
        .collect();
    let mut context = tera::Context::new();
    context.insert("tune", tune);
    context.insert("metric", metric);
    context.insert(
        "goal",
        match goal {
            Goal::Maximize => "maximize",
            Goal::Minimize => "minimize",
        },
    );
    context.insert(
        "best",
        &best_trial.map(|t| Best {
            number: t.number,
            value: t.value.map(number).unwrap_or_default(),
            params: params_text(t),
        }),
    );
    context.insert("counts", &Counts { total: trials.len(), outcomes });
    context.insert(
        "charts",
        &Charts {
            objective: chart::objective(&sorted, metric, goal),
            parallel: chart::parallel(&sorted, metric, goal),
            curves: chart::curves(&sorted, metric),
        },
    );
    context.insert("rows", &rows);
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", TEMPLATE).map_err(ReportError::Template)?;
    tera.render("report.html", &context).map_err(|source| ReportError::Render { tune: tune.to_string(), source })
}

#[cfg(test)]
mod tests;
