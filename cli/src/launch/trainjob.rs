//! `kfl launch trainjob`: create the Trainer v2 TrainJob, wait for Complete or Failed, read its metrics from the trainer's log.

use indexmap::IndexMap;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use serde_json::Value as Json;

use super::cluster::{self, Cluster, Created, Kind, Outcome};
use super::markers::{ManifestArgs, pairs};
use super::run_objects;
use super::{LaunchError, Result, WaitArgs, outputs};

const TRAINJOB: Kind = kfl_compiler::codegen::launcher::TRAINJOB;
/// Trainer v2 runs a TrainJob as a JobSet of the same name; its pods carry these labels.
const JOBSET_LABEL: &str = "jobset.sigs.k8s.io/jobset-name";
const REPLICATED_JOB_LABEL: &str = "jobset.sigs.k8s.io/replicatedjob-name";
const COMPLETION_INDEX_LABEL: &str = "batch.kubernetes.io/job-completion-index";
const TRAINER_CONTAINER: &str = "node";

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    pub(super) wait: WaitArgs,
    /// `NAME=URI`: an output artifact; `${kfl.outputs.NAME}` in the manifest becomes the URI the training writes to.
    #[arg(long = "output", value_name = "NAME=URI")]
    outputs: Vec<String>,
    /// `NAME=FILE`: a metric or value the training prints as `NAME=VALUE`; the last one is written to FILE.
    #[arg(long = "metric", value_name = "NAME=FILE")]
    metrics: Vec<String>,
}

pub async fn run(args: Args) -> Result<()> {
    let metrics = pairs("--metric", &args.metrics)?;
    let manifest = args.manifest.manifest(pairs("--output", &args.outputs)?)?;
    let deadline = manifest.pointer("/spec/activeDeadlineSeconds").and_then(Json::as_u64);
    if args.manifest.dry_run {
        let namespace = Cluster::namespace_offline(args.manifest.namespace.as_deref(), &manifest)?;
        let mut object = cluster::prepare(TRAINJOB, manifest, &namespace, args.manifest.run_id.as_deref())?;
        run_objects::for_run(&mut object, args.manifest.run_id.as_deref(), run_objects::TRAINJOB_MAX_NAME);
        return cluster::print(&object);
    }
    let cluster = Cluster::connect(args.manifest.namespace.as_deref(), &manifest).await?;
    let mut object = cluster::prepare(TRAINJOB, manifest, &cluster.namespace, args.manifest.run_id.as_deref())?;
    run_objects::for_run(&mut object, args.manifest.run_id.as_deref(), run_objects::TRAINJOB_MAX_NAME);
    let name = cluster::name_of(&object);
    let api = cluster.api(TRAINJOB);
    match cluster::create_or_adopt(&api, TRAINJOB, &object).await? {
        Created::New => eprintln!("created TrainJob {}/{name}", cluster.namespace),
        Created::Adopted => eprintln!("adopted TrainJob {}/{name} created by this run", cluster.namespace),
    }
    cluster::wait(&api, TRAINJOB, &name, &args.wait, deadline, |job| {
        if let Some(failed) = cluster::is_true(job, "Failed") {
            return Some(Outcome::Failed(format!("condition Failed: {}", cluster::describe(&failed))));
        }
        cluster::is_true(job, "Complete").map(|_| Outcome::Done(()))
    })
    .await?;
    eprintln!("TrainJob {}/{name} completed", cluster.namespace);
    if metrics.is_empty() {
        return Ok(());
    }
    let (pod, log) = trainer_log(&cluster, &name).await?;
    let values = printed_values(&log);
    for (metric, file) in &metrics {
        let Some(value) = values.get(metric) else {
            return Err(LaunchError::failed(format!(
                "TrainJob `{name}` completed but its trainer (pod `{pod}`) never printed `{metric}=VALUE`"
            )));
        };
        outputs::write(file, value)?;
    }
    Ok(())
}

/// The log of the trainer container of the TrainJob's first node (the rank-0 process prints the metrics).
async fn trainer_log(cluster: &Cluster, name: &str) -> Result<(String, String)> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let list = pods
        .list(&ListParams::default().labels(&format!("{JOBSET_LABEL}={name}")))
        .await
        .map_err(|err| LaunchError::failed(format!("cannot list the pods of TrainJob `{name}`: {err}")))?;
    let label = |pod: &Pod, key: &str| pod.metadata.labels.as_ref().and_then(|l| l.get(key)).cloned();
    let mut candidates: Vec<&Pod> = list.items.iter().collect();
    candidates.sort_by_key(|pod| {
        let trainer = label(pod, REPLICATED_JOB_LABEL).as_deref() == Some(TRAINER_CONTAINER);
        let first = label(pod, COMPLETION_INDEX_LABEL).as_deref() == Some("0");
        (!(trainer && first), !trainer, pod.metadata.name.clone())
    });
    let Some(pod) = candidates.first().and_then(|p| p.metadata.name.clone()) else {
        return Err(LaunchError::failed(format!(
            "TrainJob `{name}` completed but no pod labelled {JOBSET_LABEL}={name} is left to read its metrics from"
        )));
    };
    let params = LogParams { container: Some(TRAINER_CONTAINER.to_string()), ..LogParams::default() };
    let log = pods
        .logs(&pod, &params)
        .await
        .map_err(|err| LaunchError::failed(format!("cannot read the log of pod `{pod}`: {err}")))?;
    Ok((pod, log))
}

/// `NAME=VALUE` words of a log, the last value of each name (Katib's StdOut collector format).
pub fn printed_values(log: &str) -> IndexMap<String, String> {
    let mut values = IndexMap::new();
    for word in log.split_whitespace() {
        let Some((name, value)) = word.split_once('=') else { continue };
        let value = value.trim_end_matches([',', ';']);
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if !name.is_empty() && name.chars().all(plain) && !value.is_empty() {
            values.insert(name.to_string(), value.to_string());
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::printed_values;

    #[test]
    fn the_last_printed_value_wins() {
        let log = "epoch 1 loss=0.9 accuracy=0.5\nepoch 2 loss=0.4, accuracy=0.8\nnoise a=\n";
        let values = printed_values(log);
        assert_eq!(values.get("loss").map(String::as_str), Some("0.4"));
        assert_eq!(values.get("accuracy").map(String::as_str), Some("0.8"));
        assert!(!values.contains_key("a"));
    }
}
