//! `kfl launch experiment`: create the Katib Experiment, wait for Succeeded or Failed, write the best trial's values.

use indexmap::IndexMap;
use kube::api::DynamicObject;
use serde_json::{Value as Json, json};

use super::cluster::{self, Cluster, Created, Kind, Outcome};
use super::markers::{ManifestArgs, pairs};
use super::run_objects;
use super::{LaunchError, Result, WaitArgs, outputs};

const EXPERIMENT: Kind = kfl_compiler::codegen::launcher::EXPERIMENT;

/// The trial parameter Katib fills with each trial's name (a metadata reference), so trials write apart.
const TRIAL_NAME_PARAMETER: &str = "kflTrialName";

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    pub(super) wait: WaitArgs,
    /// `NAME=FILE`: the best trial's value of a searched parameter or a metric, written to FILE; `NAME=URI` for an
    /// output artifact of the trial (`${kfl.outputs.NAME}`): each trial writes under `URI/<trial name>`.
    #[arg(long = "best", value_name = "NAME=FILE|URI")]
    best: Vec<String>,
    /// KFP's executor input (`{{$}}`): where to report the best trial's artifacts.
    #[arg(long = "executor-input", value_name = "JSON")]
    executor_input: Option<String>,
}

pub async fn run(args: Args) -> Result<()> {
    let best = pairs("--best", &args.best)?;
    let artifacts: IndexMap<String, String> =
        best.iter().filter(|(name, _)| args.manifest.uses_output(name)).map(|(n, u)| (n.clone(), u.clone())).collect();
    let executor = match (&args.executor_input, artifacts.is_empty()) {
        (_, true) => None,
        (Some(text), false) => Some(ExecutorOutputs::parse(text)?),
        (None, false) => {
            return Err(LaunchError::usage(
                "the trial writes output artifacts but no --executor-input was given to report the best one; \
                 nothing was created",
            ));
        }
    };
    if let Some(executor) = &executor {
        // Checked before anything is created: the report at the end must have somewhere to go.
        for uri in artifacts.values() {
            executor.key_of(uri)?;
        }
    }
    let trial_places: IndexMap<String, String> = artifacts
        .iter()
        .map(|(name, uri)| {
            let place = format!("{}/${{trialParameters.{TRIAL_NAME_PARAMETER}}}", uri.trim_end_matches('/'));
            (name.clone(), place)
        })
        .collect();
    let mut manifest = args.manifest.manifest(trial_places)?;
    if !artifacts.is_empty() {
        add_trial_name_parameter(&mut manifest)?;
    }
    let maximize = manifest.pointer("/spec/objective/type").and_then(Json::as_str) != Some("minimize");
    if args.manifest.dry_run {
        let namespace = Cluster::namespace_offline(args.manifest.namespace.as_deref(), &manifest)?;
        let mut object = cluster::prepare(EXPERIMENT, manifest, &namespace, args.manifest.run_id.as_deref())?;
        run_objects::for_run(&mut object, args.manifest.run_id.as_deref(), run_objects::EXPERIMENT_MAX_NAME);
        return cluster::print(&object);
    }
    let cluster = Cluster::connect(args.manifest.namespace.as_deref(), &manifest).await?;
    let mut object = cluster::prepare(EXPERIMENT, manifest, &cluster.namespace, args.manifest.run_id.as_deref())?;
    run_objects::for_run(&mut object, args.manifest.run_id.as_deref(), run_objects::EXPERIMENT_MAX_NAME);
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
    if trial.is_empty() && !best.is_empty() {
        return Err(LaunchError::failed(format!(
            "Experiment `{name}` succeeded without a best trial (status.currentOptimalTrial is empty); it was kept"
        )));
    }
    for (field, file) in best.iter().filter(|(field, _)| !artifacts.contains_key(*field)) {
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
    if let Some(executor) = executor {
        let moved: Vec<(String, String)> =
            artifacts.values().map(|uri| (uri.clone(), format!("{}/{trial}", uri.trim_end_matches('/')))).collect();
        executor.report(&moved)?;
    }
    Ok(())
}

/// Declares the trial-name parameter, so Katib substitutes `${trialParameters.kflTrialName}` per trial.
fn add_trial_name_parameter(manifest: &mut Json) -> Result<()> {
    let Some(parameters) = manifest.pointer_mut("/spec/trialTemplate/trialParameters").and_then(Json::as_array_mut)
    else {
        return Err(LaunchError::usage("the Experiment manifest has no spec.trialTemplate.trialParameters list"));
    };
    parameters.push(json!({
        "name": TRIAL_NAME_PARAMETER,
        "description": "the trial's name: where its output artifacts go",
        "reference": "${trialSpec.Name}",
    }));
    Ok(())
}

/// The parts of KFP's executor input the launcher reports through: the output artifacts and the output file.
struct ExecutorOutputs {
    /// Output artifact key → its URI.
    artifacts: IndexMap<String, String>,
    output_file: String,
}

impl ExecutorOutputs {
    fn parse(text: &str) -> Result<ExecutorOutputs> {
        let input: Json = serde_json::from_str(text)
            .map_err(|err| LaunchError::usage(format!("--executor-input is not JSON: {err}")))?;
        let Some(output_file) = input.pointer("/outputs/outputFile").and_then(Json::as_str) else {
            return Err(LaunchError::usage("--executor-input has no outputs.outputFile"));
        };
        let mut artifacts = IndexMap::new();
        for (key, list) in input.pointer("/outputs/artifacts").and_then(Json::as_object).into_iter().flatten() {
            if let Some(uri) = list.pointer("/artifacts/0/uri").and_then(Json::as_str) {
                artifacts.insert(key.clone(), uri.to_string());
            }
        }
        Ok(ExecutorOutputs { artifacts, output_file: output_file.to_string() })
    }

    /// The output artifact whose URI KFP chose to be `uri`.
    fn key_of(&self, uri: &str) -> Result<&str> {
        match self.artifacts.iter().find(|(_, u)| *u == uri) {
            Some((key, _)) => Ok(key),
            None => Err(LaunchError::usage(format!(
                "--executor-input has no output artifact at `{uri}`; nothing was created"
            ))),
        }
    }

    /// Writes the executor output file: each (task output URI, best trial's URI) as the artifact's new URI,
    /// which KFP records instead of the URI it chose (its launcher merges a reported `uri` into the output).
    fn report(&self, moved: &[(String, String)]) -> Result<()> {
        let mut reported = serde_json::Map::new();
        for (uri, best) in moved {
            reported.insert(self.key_of(uri)?.to_string(), json!({ "artifacts": [{ "uri": best }] }));
        }
        let text = json!({ "artifacts": reported }).to_string();
        outputs::write(&self.output_file, &text)
    }
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
