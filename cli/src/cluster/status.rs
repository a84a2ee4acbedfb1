//! `kfl status`: each declaration's live object and the conditions that say where it stands, and the pipeline's newest KFP run, in one table.

use std::time::Duration;

use kfl_compiler::codegen::deployment::Deferred;
use kfl_compiler::codegen::launcher::{self, LaunchedKind as Kind, RUN_ANNOTATION, STAGE_LABEL};
use kube::api::{DynamicObject, ListParams};
use serde_json::Value as Json;

use super::{Failure, Session, Target};
use crate::Status;

/// Show each declared object on the cluster with its state (TrainJob Complete/Failed, Experiment Succeeded and
/// its best trial, InferenceService Ready and URL, Notebook ready replicas, PVC phase, Deployment Available): the
/// applied ones, and for each TrainJob and Experiment pipeline runs create, the newest run's and how many older
/// ones remain; with `--kfp URL` or `project.kfp` the state of the pipeline's newest run.
///
/// Example: `kfl status iris.kfl --watch`
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    /// Print the table again every 5 seconds until Ctrl-C.
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    kfp: super::pipeline::KfpArgs,
}

pub fn run(args: Args) -> Status {
    let args = &args;
    super::command(&args.target, Failure::report, move |declared| async move { status(args, &declared).await })
}

async fn status(args: &Args, declared: &super::Declared) -> super::Result<Status> {
    let endpoint = args.kfp.endpoint(declared.kfp.as_deref())?.filter(|_| declared.pipeline.is_some());
    let endpoint = endpoint.map(std::sync::Arc::new);
    let mut session = Session::connect(&args.target).await?;
    let objects = session.resolve(declared).await?;
    let namespace = session.namespace_of(declared);
    loop {
        let mut failed = false;
        let mut rows = vec![[
            "KIND".to_string(),
            "NAMESPACE".to_string(),
            "NAME".to_string(),
            "STATE".to_string(),
            "DETAIL".to_string(),
        ]];
        for object in &objects {
            let (state, detail) = match session.live(object).await? {
                Some(live) => summary(&object.resource.kind, &live),
                None => ("not applied".to_string(), String::new()),
            };
            rows.push([
                object.resource.kind.clone(),
                object.namespace.clone().unwrap_or_else(|| "-".to_string()),
                object.name.clone(),
                state,
                detail,
            ]);
        }
        for deferred in &declared.run_created {
            rows.push(run_created(&session, declared, deferred, &namespace).await?);
        }
        if let Some(endpoint) = &endpoint {
            let (endpoint, pipeline, within) = (endpoint.clone(), declared.project.clone(), namespace.clone());
            let found = tokio::task::spawn_blocking(move || super::pipeline::latest_run(&endpoint, &pipeline, &within))
                .await
                .map_err(|err| Failure::Cluster(format!("the KFP calls stopped: {err}")))?;
            let (state, detail) = match found {
                Ok(run) => (run.state, run.detail),
                Err(message) => {
                    failed = true;
                    ("unknown".to_string(), message)
                }
            };
            rows.push(["PipelineRun".to_string(), namespace.clone(), declared.project.clone(), state, detail]);
        }
        print_table(&rows);
        if !args.watch {
            return Ok(if failed { Status::UserErrors } else { Status::Ok });
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => println!(),
            _ = tokio::signal::ctrl_c() => return Ok(Status::Ok),
        }
    }
}

/// The launched kind of a run-created object (`codegen::deployment` names TrainJob, Experiment and
/// InferenceService).
fn launched(kind: &str) -> Option<Kind> {
    [launcher::TRAINJOB, launcher::EXPERIMENT, launcher::INFERENCE_SERVICE].into_iter().find(|k| k.kind == kind)
}

/// One row for an object only pipeline runs create. A TrainJob or Experiment has a run-unique name
/// (`STAGE-HASH`, `kfl launch`'s run_objects.rs): the newest one labelled with the project and the stage is
/// shown, with how many older runs' objects are still there. An InferenceService keeps the declaration's name,
/// which each run updates in place.
async fn run_created(
    session: &Session,
    declared: &super::Declared,
    deferred: &Deferred,
    namespace: &str,
) -> super::Result<[String; 5]> {
    let Some(kind) = launched(deferred.kind) else {
        return Ok([
            deferred.kind.to_string(),
            namespace.to_string(),
            deferred.name.clone(),
            "-".into(),
            String::new(),
        ]);
    };
    let resource = crate::launch::api_resource(&kind);
    let api = session.api(&resource, Some(namespace));
    let read_failed =
        |err: kube::Error| Failure::Cluster(format!("cannot read {}: {}", kind.plural, super::api_message(&err)));
    let row = |name: String, state: String, detail: String| {
        [kind.kind.to_string(), namespace.to_string(), name, state, detail]
    };
    if kind.kind == launcher::INFERENCE_SERVICE.kind {
        return Ok(match api.get_opt(&deferred.name).await.map_err(read_failed)? {
            Some(live) => {
                let (state, detail) = summary(kind.kind, &live);
                row(deferred.name.clone(), state, detail)
            }
            None => row(deferred.name.clone(), "no run yet".into(), "created by the pipeline's runs".into()),
        });
    }
    let selector = format!("{}={},{STAGE_LABEL}={}", super::PART_OF, declared.project, deferred.name);
    let mut found = api.list(&ListParams::default().labels(&selector)).await.map_err(read_failed)?.items;
    // Newest first: RFC 3339 creation times in UTC sort as text; the name breaks a tie the same way every time.
    found.sort_by(|a, b| {
        let created = |o: &DynamicObject| o.metadata.creation_timestamp.as_ref().map(|t| t.0);
        (created(b), &b.metadata.name).cmp(&(created(a), &a.metadata.name))
    });
    let Some(newest) = found.first() else {
        let pattern = format!("{}-*", deferred.name);
        return Ok(row(pattern, "no run yet".into(), format!("created by each pipeline run (label {selector})")));
    };
    let (state, mut detail) = summary(kind.kind, newest);
    let run = newest.metadata.labels.as_ref().and_then(|l| l.get(RUN_ANNOTATION)).cloned();
    let mut notes = Vec::new();
    if let Some(run) = run.or_else(|| newest.metadata.annotations.as_ref()?.get(RUN_ANNOTATION).cloned()) {
        notes.push(format!("run {run}"));
    }
    match found.len() - 1 {
        0 => {}
        1 => notes.push("1 older run's object".to_string()),
        older => notes.push(format!("{older} older runs' objects")),
    }
    if !notes.is_empty() {
        let notes = format!("({})", notes.join("; "));
        detail = if detail.is_empty() { notes } else { format!("{detail} {notes}") };
    }
    Ok(row(newest.metadata.name.clone().unwrap_or_default(), state, detail))
}

fn print_table(rows: &[[String; 5]]) {
    let mut widths = [0usize; 5];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in rows {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:width$}")).collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

/// The state and a detail of one live object, from the conditions its operator sets.
fn summary(kind: &str, object: &DynamicObject) -> (String, String) {
    let status = object.data.get("status").cloned().unwrap_or(Json::Null);
    let text = |pointer: &str| status.pointer(pointer).and_then(Json::as_str).unwrap_or_default().to_string();
    let conditions: Vec<(String, String, String)> = status
        .get("conditions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let field = |key: &str| c.get(key).and_then(Json::as_str).unwrap_or_default().to_string();
            (
                field("type"),
                field("status"),
                if field("message").is_empty() { field("reason") } else { field("message") },
            )
        })
        .collect();
    let holds = |name: &str| conditions.iter().find(|(kind, state, _)| kind == name && state == "True");
    // The first terminal condition that holds names the state (trainer v2.3.0 TrainJob Complete/Failed, Katib
    // v0.19 Experiment Succeeded/Failed, KServe v0.20 InferenceService Ready, apps/v1 Deployment Available).
    let terminal: &[&str] = match kind {
        "TrainJob" => &["Failed", "Complete", "Suspended"],
        "Experiment" => &["Failed", "Succeeded", "Running", "Created"],
        "InferenceService" | "Notebook" => &["Ready"],
        "Deployment" => &["Available"],
        _ => &[],
    };
    let mut state = terminal.iter().find_map(|name| holds(name).map(|_| name.to_string()));
    let mut detail = state
        .as_ref()
        .and_then(|s| conditions.iter().find(|(kind, ..)| kind == s))
        .map(|(.., m)| m.clone())
        .unwrap_or_default();
    match kind {
        "Experiment" => {
            let best = text("/currentOptimalTrial/bestTrialName");
            if !best.is_empty() {
                let metrics: Vec<String> = status
                    .pointer("/currentOptimalTrial/observation/metrics")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .map(|m| format!("{}={}", m["name"].as_str().unwrap_or("?"), m["latest"].as_str().unwrap_or("?")))
                    .collect();
                detail = format!("best trial {best} {}", metrics.join(" ")).trim_end().to_string();
            }
        }
        "InferenceService" => {
            let url = text("/url");
            if !url.is_empty() {
                detail = url;
            }
        }
        "Notebook" if state.is_none() => {
            let ready = status.get("readyReplicas").and_then(Json::as_i64).unwrap_or(0);
            state = Some(if ready > 0 { "Ready" } else { "NotReady" }.to_string());
        }
        "PersistentVolumeClaim" => state = Some(text("/phase")).filter(|p| !p.is_empty()),
        _ => {}
    }
    let state = state.unwrap_or_else(|| {
        if conditions.is_empty() {
            "exists".to_string()
        } else {
            // No terminal condition yet: every condition as TYPE=STATUS.
            conditions.iter().map(|(kind, state, _)| format!("{kind}={state}")).collect::<Vec<_>>().join(",")
        }
    });
    (state, detail)
}
