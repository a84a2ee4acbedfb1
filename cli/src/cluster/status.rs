//! `kfl status`: each declaration's live object and the conditions that say where it stands, and the pipeline's newest KFP run, in one table.

use std::time::Duration;

use kube::api::DynamicObject;
use serde_json::Value as Json;

use super::{Failure, Session, Target};
use crate::Status;

/// Show each declared object on the cluster with its state (TrainJob Complete/Failed, Experiment Succeeded and
/// its best trial, InferenceService Ready and URL, Notebook ready replicas, PVC phase, Deployment Available), and
/// with `--kfp URL` or `project.kfp` the state of the pipeline's newest run.
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
