//! `tune` → Katib Experiment (kubeflow.org/v1beta1) with a TrainJob trial template; all Katib version knowledge lives here.
//!
//! Target: Katib v0.19.0 (`shared/schemas/openapi/katib-swagger.json`, the
//! webhook rules in `validator.go`, algorithm names from `katib-config.yaml`).
//!
//! Mapping:
//! - `objective` → `objective.type`/`objectiveMetricName`; `goal` → `goal`
//!   (a number); the trial's other metrics → `additionalMetricNames`.
//! - `algorithm` → `algorithmName` and `algorithmSettings` under the Katib
//!   names of the algorithm table (`kfl_plan::algorithms::ALGORITHMS`, which cites
//!   the suggestion service of each algorithm); hyperband `resource` →
//!   `resource_name`, and `r_l` = the upper bound of the resource parameter.
//! - `space` → `parameters` with min/max/step as strings: `uniform`,
//!   `loguniform` (`logUniform`), `quniform` (step; `int` for int inputs),
//!   `randint` (`int`, bounds inclusive), `choice` (`categorical` list).
//!   Katib describes `normal`/`logNormal` by min/max: Katib's suggestion
//!   services take μ as the midpoint and σ as a sixth of the range, so
//!   `normal(mu, sigma)` is [μ−3σ, μ+3σ] and `lognormal(mu, sigma)` is
//!   [e^(μ−3σ), e^(μ+3σ)].
//! - `trials`/`parallel`/`max_failed` → `maxTrialCount`/`parallelTrialCount`/`maxFailedTrialCount`.
//! - `early_stop = median(…)` → `medianstop` with `min_trials_required`, `start_step`.
//! - Metrics are read from stdout (`StdOut` collector: the trial prints `accuracy=0.93`).
//! - `trialTemplate`: a `train` trial becomes its TrainJob (built by
//!   `trainer.rs`, without name and namespace), primary container `node`,
//!   primary pods those of the runtime's replicated job that prints the
//!   metrics (`launcher` for MPI runtimes, else `node`), success/failure on
//!   the TrainJob's `Complete`/`Failed` conditions; the primary pod labels keep
//!   Katib's pin to the job's first pod (`job-completion-index: "0"`). `retain:
//!   false` is written out: Katib deletes each finished trial's Job or TrainJob
//!   and its logs. A `step` trial becomes a
//!   batch/v1 Job with `restartPolicy: Never`. Each searched input renders as
//!   `${trialParameters.NAME}`; unsearched inputs keep their defaults.
//! - `k8s { … }` patches of the tune are merged last (those of the trial
//!   stage into its trial spec).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::manifest::{format_float, scalar_text};
use super::{Context, Manifest, trainer};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::Ty;
use crate::ir::{self, Distribution, Goal, StageKind, Value};
use crate::typeck::schema;

pub(crate) const API_VERSION: &str = "kubeflow.org/v1beta1";
pub(crate) const KIND: &str = "Experiment";
/// Katib Experiment names: at most 40 characters, starting with a letter (checked by the type checker).
pub(crate) const MAX_NAME: usize = 40;
const METRICS_COLLECTOR: &str = "StdOut";
/// Container of a `step` trial's Job.
const JOB_CONTAINER: &str = "training-container";
const JOBSET_REPLICATED_JOB_LABEL: &str = "jobset.sigs.k8s.io/replicatedjob-name";
const JOB_COMPLETION_INDEX_LABEL: &str = "batch.kubernetes.io/job-completion-index";
const TRAINJOB_SUCCESS: &str = r#"status.conditions.#(type=="Complete")#|#(status=="True")#"#;
const TRAINJOB_FAILURE: &str = r#"status.conditions.#(type=="Failed")#|#(status=="True")#"#;
const JOB_SUCCESS: &str = r#"status.conditions.#(type=="Complete")#|#(status=="True")#"#;
const JOB_FAILURE: &str = r#"status.conditions.#(type=="Failed")#|#(status=="True")#"#;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Experiment {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: ExperimentSpec,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExperimentSpec {
    objective: Objective,
    algorithm: AlgorithmSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    early_stopping: Option<AlgorithmSpec>,
    parameters: Vec<ParameterSpec>,
    max_trial_count: i64,
    parallel_trial_count: i64,
    max_failed_trial_count: i64,
    metrics_collector_spec: MetricsCollectorSpec,
    trial_template: TrialTemplate,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Objective {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    goal: Option<f64>,
    objective_metric_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    additional_metric_names: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AlgorithmSpec {
    algorithm_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    algorithm_settings: Vec<Setting>,
}

#[derive(Clone, Debug, Serialize)]
struct Setting {
    name: String,
    value: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ParameterSpec {
    name: String,
    parameter_type: &'static str,
    feasible_space: FeasibleSpace,
}

#[derive(Clone, Debug, Default, Serialize)]
struct FeasibleSpace {
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    list: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    distribution: Option<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
struct MetricsCollectorSpec {
    collector: Collector,
}

#[derive(Clone, Debug, Serialize)]
struct Collector {
    kind: &'static str,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TrialTemplate {
    /// Written out although `false` is Katib's default: once a trial completes, Katib deletes its
    /// Job or TrainJob and with it the pods' logs (kubeflow/katib v0.19.0
    /// `pkg/controller.v1beta1/trial/trial_controller.go`, `!instance.Spec.RetainRun`); the metrics
    /// are collected before. `k8s { spec.trialTemplate.retain = true }` keeps them.
    retain: bool,
    primary_container_name: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    primary_pod_labels: BTreeMap<String, String>,
    success_condition: &'static str,
    failure_condition: &'static str,
    trial_parameters: Vec<TrialParameter>,
    trial_spec: serde_json::Value,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TrialParameter {
    name: String,
    description: String,
    reference: String,
}

pub(crate) fn manifests(context: &Context<'_>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Manifest> {
    let mut manifests = Vec::new();
    for tune in &context.program.tunes {
        match patched_experiment(context, tune, false) {
            Ok(manifest) => manifests.push(manifest),
            Err(diagnostic) => diagnostics.push(*diagnostic),
        }
    }
    manifests
}

/// The Experiment a pipeline task passes to `kfl launch experiment`, with the
/// launcher's markers for run-time values; `None` when it cannot be built
/// (the manifests back end reports why).
pub(crate) fn launcher_manifest(context: &Context<'_>, tune: &ir::Tune) -> Option<Manifest> {
    patched_experiment(context, tune, true).ok()
}

fn patched_experiment(context: &Context<'_>, tune: &ir::Tune, launcher: bool) -> Result<Manifest, Box<Diagnostic>> {
    let experiment = experiment(context, tune, launcher)?;
    let mut manifest = Manifest::from_typed(KIND, &tune.name, &experiment);
    debug_assert!(manifest.name.len() <= MAX_NAME, "typeck checks Experiment names");
    manifest.apply_patches(&tune.patches);
    Ok(manifest)
}

fn experiment(context: &Context<'_>, tune: &ir::Tune, launcher: bool) -> Result<Experiment, Box<Diagnostic>> {
    let Some(trial) = context.program.stages.iter().find(|s| s.name == tune.trial) else {
        return Err(Box::new(
            Diagnostic::error(
                Code::UnknownName,
                format!("no trial stage `{}`", tune.trial),
                Label::new(tune.span, "trial not found"),
            )
            .with_help("name a `train` or `step` with metrics"),
        ));
    };
    let searched: Vec<&str> = tune.space.iter().map(|p| p.name.as_str()).collect();
    let rendering = trainer::Rendering { searched: &searched, launcher };
    let (trial_spec, primary_container_name, primary_pod_labels, success_condition, failure_condition) =
        match trial.kind {
            StageKind::Train => {
                let mut job = trainer::train_job(context, trial, rendering)?;
                job.metadata = trial_metadata(context, trial);
                let primary_job = trial.train.as_ref().map_or(trainer::TRAINER_CONTAINER, trainer::metrics_job);
                // Setting primaryPodLabels replaces Katib's default for TrainJob, which also pins the
                // first pod of the job: kubeflow/katib v0.19.0
                // pkg/apis/controller/experiments/v1beta1/constants.go `DefaultTrainJobPrimaryPodLabels`.
                // Without the index pin the metrics collector would run in every node's pod.
                let labels = BTreeMap::from([
                    (JOBSET_REPLICATED_JOB_LABEL.to_string(), primary_job.to_string()),
                    (JOB_COMPLETION_INDEX_LABEL.to_string(), "0".to_string()),
                ]);
                (
                    patched(trainer::KIND, trial, &job),
                    trainer::TRAINER_CONTAINER,
                    labels,
                    TRAINJOB_SUCCESS,
                    TRAINJOB_FAILURE,
                )
            }
            StageKind::Step => {
                let job = step_job(context, trial, rendering);
                (patched("Job", trial, &job), JOB_CONTAINER, BTreeMap::new(), JOB_SUCCESS, JOB_FAILURE)
            }
        };
    let additional_metric_names =
        trial.metrics.iter().filter(|m| m.name != tune.metric).map(|m| m.name.clone()).collect();
    let counts = context.tune_counts(tune);
    Ok(Experiment {
        api_version: API_VERSION,
        kind: KIND,
        metadata: context.metadata(&tune.name),
        spec: ExperimentSpec {
            objective: Objective {
                kind: match tune.goal {
                    Goal::Maximize => "maximize",
                    Goal::Minimize => "minimize",
                },
                goal: counts.target,
                objective_metric_name: tune.metric.clone(),
                additional_metric_names,
            },
            algorithm: algorithm(&tune.algorithm, &tune.space),
            early_stopping: tune.early_stop.as_ref().map(early_stopping),
            parameters: tune.space.iter().map(parameter).collect(),
            max_trial_count: counts.trials,
            parallel_trial_count: counts.parallel,
            max_failed_trial_count: counts.max_failed,
            metrics_collector_spec: MetricsCollectorSpec { collector: Collector { kind: METRICS_COLLECTOR } },
            trial_template: TrialTemplate {
                retain: false,
                primary_container_name,
                primary_pod_labels,
                success_condition,
                failure_condition,
                trial_parameters: tune
                    .space
                    .iter()
                    .map(|p| TrialParameter {
                        name: p.name.clone(),
                        description: format!("searched input `{}` of `{}`", p.name, trial.name),
                        reference: p.name.clone(),
                    })
                    .collect(),
                trial_spec,
            },
        },
    })
}

/// Trial specs carry no name or namespace (Katib sets them); labels stay, with the trial's Kueue queue.
fn trial_metadata(context: &Context<'_>, trial: &ir::Stage) -> ObjectMeta {
    let mut labels = Some(context.labels.clone());
    super::scheduling::add_queue_label(&trial.scheduling, &mut labels);
    ObjectMeta { labels, ..ObjectMeta::default() }
}

/// The trial object with the trial stage's `k8s { … }` patches merged.
fn patched<T: Serialize>(kind: &str, trial: &ir::Stage, object: &T) -> serde_json::Value {
    let mut manifest = Manifest::from_typed(kind, &trial.name, object);
    manifest.apply_patches(&trial.patches);
    manifest.object
}

/// A `step` trial as a batch/v1 Job (Katib requires `restartPolicy: Never`).
fn step_job(context: &Context<'_>, stage: &ir::Stage, rendering: trainer::Rendering<'_>) -> Job {
    let (command, args) = trainer::command_line(context, stage, rendering);
    let (volumes, volume_mounts) = trainer::volumes(context, stage);
    let env = trainer::env(context, stage, rendering);
    let container = Container {
        name: JOB_CONTAINER.to_string(),
        image: Some(context.stage_image(stage).to_string()),
        command: (!command.is_empty()).then_some(command),
        args: (!args.is_empty()).then_some(args),
        env: (!env.is_empty()).then_some(env),
        resources: trainer::resources(&stage.resources),
        volume_mounts: (!volume_mounts.is_empty()).then_some(volume_mounts),
        ..Container::default()
    };
    let mut pod = PodSpec {
        containers: vec![container],
        restart_policy: Some("Never".to_string()),
        volumes: (!volumes.is_empty()).then_some(volumes),
        ..PodSpec::default()
    };
    super::scheduling::apply(&stage.scheduling, &mut pod);
    Job {
        metadata: trial_metadata(context, stage),
        spec: Some(JobSpec {
            // Kueue's batch/Job integration admits a Job created suspended and unsuspends it.
            suspend: stage.scheduling.queue.is_some().then_some(true),
            backoff_limit: Some(i32::try_from(stage.retries).unwrap_or(i32::MAX)),
            active_deadline_seconds: stage.timeout.map(|t| i64::try_from(t.seconds()).unwrap_or(i64::MAX)),
            template: PodTemplateSpec { metadata: None, spec: Some(pod) },
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// `algorithmName` and `algorithmSettings` under the names the algorithm table (`schema::ALGORITHMS`) gives;
/// the checker has refused every argument the serving Katib service does not accept.
fn algorithm(algorithm: &ir::Algorithm, space: &[ir::SearchParam]) -> AlgorithmSpec {
    let (_, name, specs) = *algorithm.name.row();
    let spec_of = |key: &str| specs.iter().chain(std::iter::once(&schema::SEED)).find(|s| s.name == key);
    let mut settings = Vec::new();
    let mut push = |name: &str, value: String| settings.push(Setting { name: name.to_string(), value });
    if let Some(seed) = algorithm.seed
        && let Some(schema::Katib::Setting(katib)) = spec_of("seed").map(|s| s.katib)
    {
        push(katib, seed.to_string());
    }
    for (key, value) in &algorithm.settings {
        match spec_of(key).map(|s| s.katib) {
            Some(schema::Katib::Setting(katib)) => push(katib, setting_text(value)),
            Some(schema::Katib::Resource) => {
                let resource = reference_name(value);
                if let Some(max) = space.iter().find(|p| p.name == resource).and_then(|p| bounds(p).map(|(_, hi)| hi)) {
                    push("r_l", max);
                }
                push("resource_name", resource);
            }
            Some(schema::Katib::Refused(_)) | None => {}
        }
    }
    AlgorithmSpec { algorithm_name: name.to_string(), algorithm_settings: settings }
}

/// The name a setting refers to (hyperband's `resource = epochs`).
fn reference_name(value: &Value) -> String {
    match value {
        Value::Ref(ir::Ref::Local { name } | ir::Ref::Param { name }) => name.clone(),
        other => scalar_text(other).unwrap_or_default(),
    }
}

fn setting_text(value: &Value) -> String {
    scalar_text(value).unwrap_or_default()
}

/// The early-stopping rule under the names the algorithm table (`schema::EARLY_STOP`) gives it and its settings.
fn early_stopping(early: &ir::EarlyStop) -> AlgorithmSpec {
    let (_, katib_name, specs) = *early.name.row();
    let setting = |key: &str| {
        specs.iter().find(|s| s.name == key).and_then(|s| match s.katib {
            schema::Katib::Setting(katib) => Some(katib),
            _ => None,
        })
    };
    let mut settings = Vec::new();
    for (key, value) in [("min_trials", early.min_trials), ("start_step", early.start_step)] {
        if let (Some(name), Some(n)) = (setting(key), value) {
            settings.push(Setting { name: name.into(), value: n.to_string() });
        }
    }
    AlgorithmSpec { algorithm_name: katib_name.to_string(), algorithm_settings: settings }
}

fn number(value: f64, int: bool) -> String {
    if int { (value.round() as i64).to_string() } else { format_float(value) }
}

/// (min, max) of a bounded distribution, as Katib strings.
fn bounds(param: &ir::SearchParam) -> Option<(String, String)> {
    let int = param.ty == Ty::Int;
    let arg = |i: usize| param.args.get(i).and_then(Value::as_f64);
    let (lo, hi) = (arg(0)?, arg(1)?);
    Some(match param.distribution {
        Distribution::Normal => (number(lo - 3.0 * hi, false), number(lo + 3.0 * hi, false)),
        Distribution::LogNormal => (number((lo - 3.0 * hi).exp(), false), number((lo + 3.0 * hi).exp(), false)),
        Distribution::Choice => return None,
        Distribution::Uniform | Distribution::LogUniform | Distribution::QUniform | Distribution::RandInt => {
            (number(lo, int), number(hi, int))
        }
    })
}

fn parameter(param: &ir::SearchParam) -> ParameterSpec {
    let int = param.ty == Ty::Int;
    let mut space = FeasibleSpace::default();
    let parameter_type = match param.distribution {
        Distribution::Choice => {
            space.list = param.args.iter().map(|v| scalar_text(v).unwrap_or_default()).collect();
            "categorical"
        }
        distribution => {
            if let Some((min, max)) = bounds(param) {
                space.min = Some(min);
                space.max = Some(max);
            }
            space.distribution = Some(match distribution {
                Distribution::LogUniform => "logUniform",
                Distribution::Normal => "normal",
                Distribution::LogNormal => "logNormal",
                Distribution::Uniform | Distribution::QUniform | Distribution::RandInt | Distribution::Choice => {
                    "uniform"
                }
            });
            if distribution == Distribution::QUniform {
                space.step = param.args.get(2).and_then(Value::as_f64).map(|q| number(q, int));
            }
            if int && matches!(distribution, Distribution::QUniform | Distribution::RandInt) { "int" } else { "double" }
        }
    };
    ParameterSpec { name: param.name.clone(), parameter_type, feasible_space: space }
}

#[cfg(test)]
mod tests {
    use crate::codegen::trainer::tests::{built, document};

    const TRIAL: &str = "project p { image = \"img:1\" }\n\
train net(lr: float = 0.1, layers: int = 2, epochs: int = 10, act: string = \"relu\") -> (model: Model) {\n\
  framework = torch\n  nodes = 2\n\
  run = [\"python3\", \"train.py\", \"--lr=${lr}\", layers, epochs, act, model]\n\
  metrics { accuracy: float, loss: float }\n}\n";

    fn tune(body: &str) -> serde_json::Value {
        document(&format!("{TRIAL}tune search {{\n  trial = net\n{body}\n}}\n"), "experiment-search.yaml")
    }

    #[test]
    fn objective_algorithm_counts_and_early_stopping() {
        let exp = tune(
            "  objective = maximize(accuracy)\n  goal = 0.97\n  algorithm = tpe(seed = 7, candidates = 12, gamma = 0.3)\n  trials = 20\n  parallel = 2\n  max_failed = 3\n  early_stop = median(min_trials = 4, start_step = 5)\n  space { lr = loguniform(0.001, 0.5) }",
        );
        assert_eq!(exp["apiVersion"], "kubeflow.org/v1beta1");
        let spec = &exp["spec"];
        assert_eq!(spec["objective"]["type"], "maximize");
        assert_eq!(spec["objective"]["goal"], 0.97);
        assert_eq!(spec["objective"]["objectiveMetricName"], "accuracy");
        assert_eq!(spec["objective"]["additionalMetricNames"], serde_json::json!(["loss"]));
        assert_eq!(spec["algorithm"]["algorithmName"], "tpe");
        assert_eq!(
            spec["algorithm"]["algorithmSettings"],
            serde_json::json!([
                { "name": "random_state", "value": "7" },
                { "name": "n_EI_candidates", "value": "12" },
                { "name": "gamma", "value": "0.3" }
            ])
        );
        assert_eq!(
            (spec["maxTrialCount"].clone(), spec["parallelTrialCount"].clone(), spec["maxFailedTrialCount"].clone()),
            (20.into(), 2.into(), 3.into())
        );
        assert_eq!(spec["earlyStopping"]["algorithmName"], "medianstop");
        assert_eq!(
            spec["earlyStopping"]["algorithmSettings"],
            serde_json::json!([{ "name": "min_trials_required", "value": "4" }, { "name": "start_step", "value": "5" }])
        );
        assert_eq!(spec["metricsCollectorSpec"]["collector"]["kind"], "StdOut");
    }

    #[test]
    fn feasible_spaces_are_strings() {
        let exp = tune(
            "  objective = minimize(loss)\n  algorithm = bayesian(seed = 1)\n  space { lr = normal(0.1, 0.02), layers = quniform(1, 8, 1), epochs = randint(1, 27), act = choice(\"relu\", \"gelu\") }",
        );
        let params = &exp["spec"]["parameters"];
        assert_eq!(exp["spec"]["algorithm"]["algorithmName"], "bayesianoptimization");
        assert_eq!(params[0]["parameterType"], "double");
        assert_eq!(params[0]["feasibleSpace"]["distribution"], "normal");
        assert!(params[0]["feasibleSpace"]["min"].is_string() && params[0]["feasibleSpace"]["max"].is_string());
        assert_eq!(params[1]["parameterType"], "int");
        assert_eq!(
            params[1]["feasibleSpace"],
            serde_json::json!({ "min": "1", "max": "8", "step": "1", "distribution": "uniform" })
        );
        assert_eq!(params[2]["feasibleSpace"]["max"], "27");
        assert_eq!(params[3]["parameterType"], "categorical");
        assert_eq!(params[3]["feasibleSpace"]["list"], serde_json::json!(["relu", "gelu"]));
    }

    #[test]
    fn trial_spec_is_the_trainjob_with_trial_parameters() {
        let exp = tune("  objective = maximize(accuracy)\n  space { lr = uniform(0.01, 0.1), layers = choice(1, 2) }");
        let template = &exp["spec"]["trialTemplate"];
        assert_eq!(template["primaryContainerName"], "node");
        assert_eq!(
            template["trialParameters"][0],
            serde_json::json!({ "name": "lr", "description": "searched input `lr` of `net`", "reference": "lr" })
        );
        let spec = &template["trialSpec"];
        assert_eq!(spec["kind"], "TrainJob");
        assert!(spec["metadata"].get("name").is_none());
        assert_eq!(spec["spec"]["trainer"]["numNodes"], 2);
        assert_eq!(
            spec["spec"]["trainer"]["args"],
            serde_json::json!([
                "--no-python",
                "python3",
                "train.py",
                "--lr=${trialParameters.lr}",
                "${trialParameters.layers}",
                "10",
                "relu",
                "/kfl/artifacts/net/model"
            ])
        );
        assert!(template["successCondition"].as_str().is_some_and(|c| c.contains("Complete")));
    }

    #[test]
    fn hyperband_settings_and_step_trials() {
        let exp = tune(
            "  objective = maximize(accuracy)\n  algorithm = hyperband(resource = epochs, eta = 3)\n  trials = 27\n  parallel = 27\n  space { lr = uniform(0.01, 0.1), epochs = randint(1, 27) }",
        );
        assert_eq!(
            exp["spec"]["algorithm"]["algorithmSettings"],
            serde_json::json!([{ "name": "r_l", "value": "27" }, { "name": "resource_name", "value": "epochs" }, { "name": "eta", "value": "3" }])
        );
        let text = "project p { image = \"img:1\" }\nstep quick(lr: float = 0.1) {\n  run = [\"python3\", \"q.py\", lr]\n  metrics { acc: float }\n}\n\
tune fast {\n  trial = quick\n  objective = maximize(acc)\n  algorithm = random(seed = 3)\n  space { lr = uniform(0.1, 0.2) }\n}\n";
        let files = built(text).unwrap_or_else(|e| panic!("{e:#?}"));
        let exp = &files.iter().find(|(f, _)| f == "experiment-fast.yaml").expect("experiment").1;
        let job = &exp["spec"]["trialTemplate"]["trialSpec"];
        assert_eq!(job["apiVersion"], "batch/v1");
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
        assert_eq!(
            job["spec"]["template"]["spec"]["containers"][0]["args"],
            serde_json::json!(["q.py", "${trialParameters.lr}"])
        );
        assert_eq!(
            exp["spec"]["algorithm"]["algorithmSettings"][0],
            serde_json::json!({ "name": "random_state", "value": "3" })
        );
    }
}
