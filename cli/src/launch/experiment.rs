//! `kfl launch experiment`: create the Katib Experiment, wait for Succeeded or Failed, write the best trial's values.

use indexmap::IndexMap;
use kube::api::DynamicObject;
use serde_json::Value as Json;

use super::cluster::{self, Cluster, Created, Kind, Outcome};
use super::markers::{ManifestArgs, pairs};
use super::{LaunchError, Result, WaitArgs, outputs};

const EXPERIMENT: Kind = Kind { group: "kubeflow.org", version: "v1beta1", kind: "Experiment", plural: "experiments" };

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    wait: WaitArgs,
    /// `NAME=FILE`: the best trial's value of a searched parameter or a metric, written to FILE.
    #[arg(long = "best", value_name = "NAME=FILE")]
    best: Vec<String>,
}

pub async fn run(args: Args) -> Result<()> {
    let best = pairs("--best", &args.best)?;
    let manifest = args.manifest.manifest(IndexMap::new()).map_err(|err| match err {
        // Every trial would write to the one URI KFP gives the task, so the last writer, not the best, would win.
        LaunchError::Usage(message) if message.contains("${kfl.outputs.") => LaunchError::usage(format!(
            "{message}: the trial writes an output artifact, and `kfl launch experiment` cannot hand a trial's \
             artifacts to the pipeline (each trial would overwrite the others'); nothing was created"
        )),
        other => other,
    })?;
    let maximize = manifest.pointer("/spec/objective/type").and_then(Json::as_str) != Some("minimize");
    let cluster = Cluster::connect(args.manifest.namespace.as_deref(), &manifest).await?;
    let object = cluster::prepare(EXPERIMENT, manifest, &cluster.namespace, args.manifest.run_id.as_deref())?;
    let name = cluster::name_of(&object);
    let api = cluster.api(EXPERIMENT);
    match cluster::create_or_adopt(&api, EXPERIMENT, &object).await? {
        Created::New => eprintln!("created Experiment {}/{name}", cluster.namespace),
        Created::Adopted => eprintln!("adopted Experiment {}/{name} created by this run", cluster.namespace),
    }
    let finished = cluster::wait(&api, EXPERIMENT, &name, &args.wait, None, |experiment| {
        if let Some(failed) = cluster::is_true(experiment, "Failed") {
            return Some(Outcome::Failed(format!("condition Failed: {}", cluster::describe(&failed))));
        }
        cluster::is_true(experiment, "Succeeded").map(|_| Outcome::Done(experiment.clone()))
    })
    .await?;
    let optimal = best_values(&finished, maximize);
    let trial = finished
        .data
        .pointer("/status/currentOptimalTrial/bestTrialName")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    eprintln!("Experiment {}/{name} succeeded; best trial `{trial}`", cluster.namespace);
    for (field, file) in &best {
        let Some(value) = optimal.get(field) else {
            let known: Vec<&str> = optimal.keys().map(String::as_str).collect();
            return Err(LaunchError::failed(format!(
                "Experiment `{name}` succeeded but its best trial `{trial}` has no parameter or metric `{field}` \
                 (it has: {})",
                if known.is_empty() { "nothing".to_string() } else { known.join(", ") }
            )));
        };
        outputs::write(file, value)?;
    }
    Ok(())
}

/// The best trial's parameter assignments and metrics (the `max` of a metric when maximizing, else the `min`, as
/// Katib's default metric strategies rank them; `latest` when those are absent).
fn best_values(experiment: &DynamicObject, maximize: bool) -> IndexMap<String, String> {
    let mut values = IndexMap::new();
    let Some(optimal) = experiment.data.pointer("/status/currentOptimalTrial") else { return values };
    let text = |value: &Json| match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    };
    for assignment in optimal.get("parameterAssignments").and_then(Json::as_array).into_iter().flatten() {
        if let (Some(name), Some(value)) =
            (assignment.get("name").and_then(Json::as_str), assignment.get("value").and_then(text))
        {
            values.insert(name.to_string(), value);
        }
    }
    let strategy = if maximize { "max" } else { "min" };
    for metric in optimal.pointer("/observation/metrics").and_then(Json::as_array).into_iter().flatten() {
        let Some(name) = metric.get("name").and_then(Json::as_str) else { continue };
        let value = metric.get(strategy).or_else(|| metric.get("latest")).and_then(text);
        if let Some(value) = value {
            values.insert(name.to_string(), value);
        }
    }
    values
}
