//! `kfl tune show`: the trials of a run's tunes as a table, the best marked, with the path of each report.

use std::path::Path;

use kfl_runtime::plan::Goal;
use kfl_runtime::plan::StageKind;
use kfl_runtime::run::record::{self, InstanceRecord, RunRecord, TrialOutcome};
use kfl_runtime::run::report;

use super::runs::{ProjectArg, table};
use crate::Status;

/// The trials of a run's tunes.
#[derive(clap::Subcommand, Debug)]
pub enum TuneCommand {
    /// Show the trials of a tune (of every tune of the run without STAGE), sorted by number, the best marked
    /// with `*`, and where its HTML report is.
    ///
    /// Example: `kfl tune show latest search --project examples/iris`
    Show {
        /// A run id, a unique prefix of one, or `latest`.
        run_id: String,
        /// The tune stage; all tunes of the run when omitted.
        stage: Option<String>,
        #[command(flatten)]
        project: ProjectArg,
    },
}

pub fn tune(command: TuneCommand) -> Status {
    match command {
        TuneCommand::Show { run_id, stage, project } => show(&run_id, stage.as_deref(), &project),
    }
}

fn show(run_id: &str, stage: Option<&str>, project: &ProjectArg) -> Status {
    let found = record::find(&project.dir(), run_id).and_then(|dir| Ok((record::read(&dir)?, dir)));
    let (run, run_dir) = match found {
        Ok(found) => found,
        Err(message) => {
            eprintln!("error: {message}");
            return Status::Usage;
        }
    };
    let tunes = match tunes_of(&run, stage) {
        Ok(tunes) => tunes,
        Err(message) => {
            eprintln!("error: {message}");
            return Status::Usage;
        }
    };
    if project.format == "json" {
        let shown: Vec<serde_json::Value> = tunes
            .iter()
            .map(|(name, instance)| {
                let best = instance.objective.as_ref().and_then(|o| report::best(&instance.trials, o.goal));
                serde_json::json!({
                    "stage": name,
                    "state": instance.state,
                    "objective": instance.objective,
                    "best": best.map(|t| t.number),
                    "report": instance.report.as_ref().map(|r| run_dir.join(r).display().to_string()),
                    "trials": instance.trials,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
        return Status::Ok;
    }
    let texts: Vec<String> = tunes.iter().map(|(name, instance)| text(name, instance, &run, &run_dir)).collect();
    print!("{}", texts.join("\n"));
    Status::Ok
}

/// The tune instances to show, by stage name.
fn tunes_of<'a>(run: &'a RunRecord, stage: Option<&str>) -> Result<Vec<(&'a str, &'a InstanceRecord)>, String> {
    let tunes: Vec<_> = run.stages.iter().filter(|s| s.kind == StageKind::Tune).collect();
    let names = || tunes.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    let chosen: Vec<_> = match stage {
        Some(name) => {
            let stage = run.stage(name).ok_or_else(|| format!("run {} has no stage `{name}`", run.run_id))?;
            if stage.kind != StageKind::Tune {
                let others = if tunes.is_empty() { "it has no tune".into() } else { format!("its tunes: {}", names()) };
                return Err(format!("`{name}` is not a tune in run {}; {others}", run.run_id));
            }
            vec![stage]
        }
        None if tunes.is_empty() => return Err(format!("run {} has no tune", run.run_id)),
        None => tunes,
    };
    Ok(chosen.into_iter().filter_map(|s| Some((s.name.as_str(), s.instances.first()?))).collect())
}

fn text(name: &str, instance: &InstanceRecord, run: &RunRecord, run_dir: &Path) -> String {
    let mut out = String::new();
    let objective = instance.objective.as_ref().map_or(String::new(), |o| {
        let goal = match o.goal {
            Goal::Maximize => "maximize",
            Goal::Minimize => "minimize",
        };
        format!(", {goal} {}", o.metric)
    });
    out.push_str(&format!("tune {name} (run {}{objective}): {}\n", run.run_id, instance.state.label()));
    let best = instance.objective.as_ref().and_then(|o| report::best(&instance.trials, o.goal));
    match best {
        Some(best) => out.push_str(&format!(
            "best: trial {} ({}={}{})\n",
            best.number,
            instance.objective.as_ref().map_or("value", |o| o.metric.as_str()),
            best.value.map(number).unwrap_or_default(),
            best.params.iter().map(|(k, v)| format!(", {k}={}", json_text(v))).collect::<String>()
        )),
        None if instance.trials.is_empty() => out.push_str("no trials\n"),
        None => out.push_str("best: none (no trial completed with a value)\n"),
    }
    if !instance.trials.is_empty() {
        let mut params: Vec<&str> = Vec::new();
        for trial in &instance.trials {
            for param in trial.params.keys() {
                if !params.contains(&param.as_str()) {
                    params.push(param);
                }
            }
        }
        let metric = instance.objective.as_ref().map_or("value", |o| o.metric.as_str());
        let mut header = vec![String::new(), "#".to_string()];
        header.extend(params.iter().map(|p| p.to_string()));
        header.extend([metric.to_string(), "outcome".into(), "time".into(), "message".into()]);
        let mut rows = vec![header];
        let mut trials: Vec<_> = instance.trials.iter().collect();
        trials.sort_by_key(|t| t.number);
        for trial in trials {
            let mut row = vec![
                if best.is_some_and(|b| b.number == trial.number) { "*".to_string() } else { String::new() },
                trial.number.to_string(),
            ];
            row.extend(params.iter().map(|p| trial.params.get(*p).map_or("-".into(), json_text)));
            let outcome = match trial.outcome {
                TrialOutcome::Running => "running",
                TrialOutcome::Completed => "completed",
                TrialOutcome::Stopped => "stopped",
                TrialOutcome::Failed => "failed",
                TrialOutcome::Interrupted => "interrupted",
            };
            row.extend([
                trial.value.map_or("-".into(), number),
                if trial.cached { format!("{outcome} (cached)") } else { outcome.to_string() },
                trial.duration_ms.map_or("-".into(), report::duration_text),
                trial.message.clone().unwrap_or_default(),
            ]);
            rows.push(row);
        }
        out.push_str(&table(&rows));
    }
    match &instance.report {
        Some(report) => out.push_str(&format!("report: {}\n", run_dir.join(report).display())),
        None => out.push_str("report: none (written when the tune finishes)\n"),
    }
    out
}

/// Enough digits to compare trials, without float noise; exponent notation keeps tiny values from showing as 0.
fn number(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e6).contains(&x.abs()) {
        return format!("{x:e}");
    }
    let text = format!("{x:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".into() } else { text.to_string() }
}

fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
        other => other.to_string(),
    }
}
