//! The value of an `always` step's `TaskStatus` input: how the stages it waits for ended, as the JSON text KFP
//! gives an exit task (`PipelineTaskFinalStatus`).
//!
//! On KFP 2.17.0 the driver builds it from the `exit-handler-N` DAG the exit task depends on
//! (`backend/src/v2/driver/resolve.go`): `state` is that DAG's ML Metadata execution state (`COMPLETE`,
//! `FAILED`, `CANCELED`), `pipelineTaskName` the DAG's task name, `pipelineJobResourceName` the run's name,
//! and `error` an empty object (the driver does not fill it yet). The launcher hands the struct to the command
//! as JSON text. `kfl run` gives the same keys and states, reads them from the stages upstream of the step
//! (what the exit handler guards), and fills `error.message` with the first failure it finds, which KFP
//! leaves empty: a script must not rely on it.

use indexmap::IndexMap;
use serde_json::json;

use super::record::{RunRecord, StageState};
use crate::plan::Plan;

/// The JSON text of the final status of everything upstream of stage `s`, named `task` (`pipelineTaskName`).
pub(super) fn final_status(
    plan: &Plan,
    record: &RunRecord,
    index: &IndexMap<String, usize>,
    s: usize,
    task: &str,
) -> String {
    let mut upstream = vec![false; plan.stages.len()];
    let mut pending = vec![s];
    while let Some(stage) = pending.pop() {
        for dep in &plan.stages[stage].depends_on {
            if let Some(&d) = index.get(&dep.stage)
                && !upstream[d]
            {
                upstream[d] = true;
                pending.push(d);
            }
        }
    }
    let mut failure: Option<String> = None;
    let mut canceled = false;
    // Plan order is a topological order: the first failure found is the earliest one.
    for (d, _) in upstream.iter().enumerate().filter(|(_, up)| **up) {
        for instance in &record.stages[d].instances {
            match instance.state {
                StageState::Failed | StageState::NotSupported if failure.is_none() => {
                    let why = instance.message.as_deref().unwrap_or("failed");
                    failure = Some(format!("stage `{}`: {why}", plan.stages[d].name));
                }
                StageState::Interrupted => canceled = true,
                _ => {}
            }
        }
    }
    let (state, error) = match (failure, canceled) {
        (Some(message), _) => ("FAILED", json!({ "message": message })),
        (None, true) => ("CANCELED", json!({})),
        (None, false) => ("COMPLETE", json!({})),
    };
    json!({
        "error": error,
        "pipelineJobResourceName": record.run_id,
        "pipelineTaskName": task,
        "state": state,
    })
    .to_string()
}
