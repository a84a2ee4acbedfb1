//! `train` → Kubeflow Trainer v2 TrainJob (trainer.kubeflow.org/v1alpha1); all Trainer version knowledge lives here.
//!
//! Target: Kubeflow Trainer v2.3.0 (`shared/schemas/crds/trainer/`). One
//! TrainJob per `train` stage that is not a `tune` trial template (those are
//! built here too, through [`train_job`], and embedded by `katib.rs`).
//!
//! Mapping:
//! - `spec.runtimeRef`: the ClusterTrainingRuntime Trainer v2.3.0 ships for
//!   the framework ([`SHIPPED_RUNTIMES`]). `mpi` and `tensorflow` have none
//!   in v2.3.0 and `custom` has none by definition: those need an explicit
//!   `runtime` (E0104 from the checker, `codegen/cluster_rules.rs`).
//! - `spec.trainer`: image, `run` split into `command` (first element) and
//!   `args` (under `torchrun --no-python` for `torch`, under `mpirun` on
//!   the MPI runtimes, so each rank runs as under `kfl run`: see
//!   [`launched`]), env
//!   (plain values, then one `secretKeyRef` per secret key — a secret's
//!   value is never rendered), `numNodes`, `numProcPerNode`
//!   (omitted for `auto`: the v2.3 field is an integer and the runtime's
//!   default is `auto`), `resourcesPerNode` (cpu/memory requests and limits,
//!   `nvidia.com/gpu` as request = limit).
//! - Arguments in a standalone manifest: an input bound to a constant or a
//!   param renders its value. A dataset input whose URI is `hf://` or
//!   `s3://` becomes the dataset initializer (`spec.initializer.dataset`)
//!   only when the runtime has a `dataset-initializer` job (Trainer's jobset
//!   plugin refuses the TrainJob otherwise), and then renders as the path the
//!   initializer writes (`/workspace/dataset`); a `Model` input likewise
//!   becomes the model initializer (`/workspace/model`) only where the
//!   runtime has a `model-initializer` job. Elsewhere the input renders as
//!   its URI, which is what `kfl run` gives the script too: the script reads
//!   the remote URI itself, with the stage's secrets in its env. The
//!   initializers read their credentials from env vars named after their
//!   config fields (`ACCESS_TOKEN` for HF; `ACCESS_KEY_ID`,
//!   `SECRET_ACCESS_KEY`, `ENDPOINT`, `REGION`, `ROLE_ARN` for S3), so the
//!   stage's secret keys are mapped onto those names in the initializer's
//!   `env` ([`INITIALIZER_CREDENTIALS`]). Any other artifact renders as a path
//!   under `/kfl/artifacts/<stage>/<name>` (an input read from another
//!   stage's output uses that stage's path). The TrainJob a pipeline task
//!   carries (`launcher_manifest`) has the launcher's markers instead for
//!   bound inputs, params, other stages' outputs and output artifacts, which
//!   `kfl launch` fills with the run's values and URIs (`launcher.rs`).
//! - `mount V at P`: Trainer v2.3 has no `podTemplateOverrides`; volumes
//!   go through `spec.runtimePatches` (manager `kfl.dev/compiler`), patching the pod
//!   template of every replicated job of the runtime that runs user code
//!   (`node`, and `launcher` for the MPI-based runtimes) with a PVC volume
//!   named after the `volume` (`_` → `-`) and a mount in the `node`
//!   container. A user's `k8s { spec.runtimePatches = [...] }` is merged
//!   with it by `manager` (`Manifest::apply_patches`), so the mount stays.
//! - `timeout` → `spec.activeDeadlineSeconds` (whole seconds, rounded up).
//! - `k8s { … }` patches are merged last.

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ResourceRequirements, SecretKeySelector, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::args::{self, Slot};
use super::launcher;
use super::manifest::kubernetes_name;
use super::{Context, Manifest};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::Ty;
use crate::ir::{self, Framework, Ref, Value};

pub(crate) const API_VERSION: &str = "trainer.kubeflow.org/v1alpha1";
pub(crate) const KIND: &str = "TrainJob";
pub(crate) const API_GROUP: &str = "trainer.kubeflow.org";
pub(crate) const RUNTIME_KIND: &str = "ClusterTrainingRuntime";
/// TrainJob names are RFC-1035 labels (checked by the type checker).
pub(crate) const MAX_NAME: usize = 63;
/// The container of the trainer in every upstream runtime (and Katib's primary container).
pub(crate) const TRAINER_CONTAINER: &str = "node";
/// Where the dataset and model initializers write (Trainer's `/workspace` volume).
pub(crate) const DATASET_PATH: &str = "/workspace/dataset";
pub(crate) const MODEL_PATH: &str = "/workspace/model";
/// Root of artifact paths in standalone manifests.
pub(crate) const ARTIFACT_ROOT: &str = "/kfl/artifacts";
/// Trainer's webhook requires each runtime patch's `manager` to be a domain-prefixed path like `acme.io/foo`
/// (kubeflow/trainer v2.3.0 `pkg/runtime/framework/plugins/jobset/jobset.go` `Validate`,
/// `validation.IsDomainPrefixedPath`): a bare `kfl` is refused.
pub(crate) const PATCH_MANAGER: &str = "kfl.dev/compiler";
/// URI schemes Trainer's initializers download from.
const INITIALIZER_SCHEMES: &[&str] = &["hf://", "s3://"];

/// A ClusterTrainingRuntime that Trainer ships: its name, the framework it
/// is the default for, the replicated jobs whose pods run the trainer
/// container `node`, and whether it has the initializer jobs
/// (`dataset-initializer`, `model-initializer`) the jobset plugin requires
/// before it accepts `spec.initializer.dataset`/`.model`.
pub(crate) struct ShippedRuntime {
    pub name: &'static str,
    pub framework: Option<Framework>,
    pub jobs: &'static [&'static str],
    pub dataset_initializer: bool,
    pub model_initializer: bool,
}

const fn shipped(
    name: &'static str,
    framework: Option<Framework>,
    jobs: &'static [&'static str],
    initializers: (bool, bool),
) -> ShippedRuntime {
    ShippedRuntime { name, framework, jobs, dataset_initializer: initializers.0, model_initializer: initializers.1 }
}

/// The ClusterTrainingRuntimes of Trainer v2.3.0: kubeflow/trainer v2.3.0
/// `manifests/base/runtimes/*.yaml`, `data-cache/torch_distributed_with_cache.yaml`
/// and `torchtune/*/*.yaml` (replicated jobs and initializer jobs as those
/// files declare them). There is no `mpi-distributed` and no
/// `tensorflow-distributed` in v2.3.0.
pub(crate) const SHIPPED_RUNTIMES: &[ShippedRuntime] = &[
    shipped("torch-distributed", Some(Framework::Torch), &["node"], (false, false)),
    shipped("deepspeed-distributed", Some(Framework::Deepspeed), &["launcher", "node"], (false, false)),
    shipped("jax-distributed", Some(Framework::Jax), &["node"], (false, false)),
    shipped("mlx-distributed", Some(Framework::Mlx), &["launcher", "node"], (false, false)),
    shipped("xgboost-distributed", Some(Framework::Xgboost), &["node"], (false, false)),
    shipped("torch-distributed-with-cache", None, &["node"], (true, false)),
    shipped("torchtune-llama3.2-1b", None, &["node"], (true, true)),
    shipped("torchtune-llama3.2-3b", None, &["node"], (true, true)),
    shipped("torchtune-qwen2.5-1.5b", None, &["node"], (true, true)),
];

/// The shipped runtime a framework defaults to (`None`: `mpi`, `tensorflow`, `custom`).
pub(crate) fn runtime_for(framework: Framework) -> Option<&'static str> {
    SHIPPED_RUNTIMES.iter().find(|r| r.framework == Some(framework)).map(|r| r.name)
}

/// A shipped runtime by name (`None`: the user's own runtime, which kfl knows nothing about).
pub(crate) fn shipped_runtime(name: &str) -> Option<&'static ShippedRuntime> {
    SHIPPED_RUNTIMES.iter().find(|r| r.name == name)
}

/// The runtime a `train` runs on: its `runtime`, else its framework's shipped one.
pub(crate) fn runtime_name(train: &ir::Train) -> Option<String> {
    train.runtime.clone().or_else(|| runtime_for(train.framework).map(str::to_string))
}

/// Replicated jobs whose pods run user code: the shipped runtime's; for a
/// runtime of the user's, those of the shipped runtimes' layout for the
/// framework (an MPI launcher beside `node` for the MPI-based frameworks).
fn replicated_jobs(train: &ir::Train) -> &'static [&'static str] {
    match runtime_name(train).and_then(|name| shipped_runtime(&name)) {
        Some(runtime) => runtime.jobs,
        None if matches!(train.framework, Framework::Deepspeed | Framework::Mpi | Framework::Mlx) => {
            &["launcher", "node"]
        }
        None => &["node"],
    }
}

/// Whether the runtime's pods that print a trial's metrics are the MPI launcher's.
pub(crate) fn metrics_job(train: &ir::Train) -> &'static str {
    if replicated_jobs(train).contains(&"launcher") { "launcher" } else { TRAINER_CONTAINER }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TrainJob {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: TrainJobSpec,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TrainJobSpec {
    pub runtime_ref: RuntimeRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initializer: Option<Initializer>,
    pub trainer: Trainer,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runtime_patches: Vec<RuntimePatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<u64>,
    /// `true` with a Kueue `queue`: Kueue unsuspends the TrainJob when it admits it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RuntimeRef {
    pub name: String,
    pub api_group: &'static str,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Initializer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<StorageInitializer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<StorageInitializer>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StorageInitializer {
    pub storage_uri: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Trainer {
    pub image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    pub num_nodes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_proc_per_node: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources_per_node: Option<ResourceRequirements>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RuntimePatch {
    pub manager: &'static str,
    pub training_runtime_spec: TrainingRuntimeSpecPatch,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct TrainingRuntimeSpecPatch {
    pub template: JobSetTemplatePatch,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct JobSetTemplatePatch {
    pub spec: JobSetSpecPatch,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobSetSpecPatch {
    pub replicated_jobs: Vec<ReplicatedJobPatch>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct ReplicatedJobPatch {
    pub name: String,
    pub template: JobTemplatePatch,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct JobTemplatePatch {
    pub spec: JobSpecPatch,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct JobSpecPatch {
    pub template: PodTemplatePatch,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct PodTemplatePatch {
    pub spec: PodSpecPatch,
}

/// The fields of Trainer v2.3.0's pod spec patch kfl sets (`scheduling.rs` lists what it cannot carry).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodSpecPatch {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerPatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<k8s_openapi::api::core::v1::Toleration>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<k8s_openapi::api::core::v1::LocalObjectReference>>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerPatch {
    pub name: &'static str,
    pub volume_mounts: Vec<VolumeMount>,
}

pub(crate) fn manifests(context: &Context<'_>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Manifest> {
    let mut manifests = Vec::new();
    for stage in &context.program.stages {
        if stage.train.is_none() || stage.trial_of.is_some() {
            continue;
        }
        match patched_train_job(context, stage, Rendering::default()) {
            Ok(manifest) => manifests.push(manifest),
            Err(diagnostic) => diagnostics.push(*diagnostic),
        }
    }
    manifests
}

/// The TrainJob a pipeline task passes to `kfl launch trainjob`, with the
/// launcher's markers for run-time values; `None` when it cannot be built
/// (the manifests back end reports why).
pub(crate) fn launcher_manifest(context: &Context<'_>, stage: &ir::Stage) -> Option<Manifest> {
    patched_train_job(context, stage, Rendering { searched: &[], launcher: true }).ok()
}

fn patched_train_job(
    context: &Context<'_>,
    stage: &ir::Stage,
    rendering: Rendering<'_>,
) -> Result<Manifest, Box<Diagnostic>> {
    let job = train_job(context, stage, rendering)?;
    let mut manifest = Manifest::from_typed(KIND, &stage.name, &job);
    debug_assert!(manifest.name.len() <= MAX_NAME, "typeck checks TrainJob names");
    manifest.apply_patches(&stage.patches);
    Ok(manifest)
}

/// How a stage's own references render in its manifest.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rendering<'a> {
    /// Inputs a Katib trial searches: Katib's `${trialParameters.NAME}` (none for a standalone TrainJob).
    pub searched: &'a [&'a str],
    /// The manifest a pipeline task passes to `kfl launch`: bound inputs,
    /// params, other stages' outputs and this stage's output artifacts are
    /// the launcher's markers (see `launcher.rs`), filled when the task runs.
    pub launcher: bool,
}

/// The TrainJob of a `train` stage.
pub(crate) fn train_job(
    context: &Context<'_>,
    stage: &ir::Stage,
    rendering: Rendering<'_>,
) -> Result<TrainJob, Box<Diagnostic>> {
    let train = stage.train.as_ref().ok_or_else(|| Box::new(not_a_train(stage)))?;
    let Some(runtime) = runtime_name(train) else { return Err(Box::new(runtime_required(stage))) };
    let initializers = initializers(context, stage);
    let env = env(context, stage, rendering);
    let (command, args) = launched(train, &runtime, &env, command_line(context, stage, rendering));
    let trainer = Trainer {
        image: context.stage_image(stage).to_string(),
        command,
        args,
        env,
        num_nodes: train.nodes,
        num_proc_per_node: train.procs_per_node,
        resources_per_node: resources(&stage.resources),
    };
    let initializer = (initializers.dataset.is_some() || initializers.model.is_some()).then_some(initializers);
    let runtime_patches = runtime_patch(context, stage, train).into_iter().collect();
    let mut metadata = context.metadata(&stage.name);
    super::scheduling::add_queue_label(&stage.scheduling, &mut metadata.labels);
    Ok(TrainJob {
        api_version: API_VERSION,
        kind: KIND,
        metadata,
        spec: TrainJobSpec {
            runtime_ref: RuntimeRef { name: runtime, api_group: API_GROUP, kind: RUNTIME_KIND },
            initializer,
            trainer,
            runtime_patches,
            active_deadline_seconds: stage.timeout.map(ir::Duration::seconds),
            suspend: stage.scheduling.queue.is_some().then_some(true),
        },
    })
}

/// E0104: a `train` whose framework has no runtime shipped with Trainer v2.3.0 and no `runtime`.
pub(crate) fn runtime_required(stage: &ir::Stage) -> Diagnostic {
    let framework = stage.train.as_ref().map_or(Framework::Custom, |t| t.framework);
    let why = if framework == Framework::Custom {
        "`framework = custom` names no ClusterTrainingRuntime".to_string()
    } else {
        format!("Trainer v2.3.0 ships no ClusterTrainingRuntime for `framework = {framework}`")
    };
    Diagnostic::error(
        Code::MissingProperty,
        format!("`train {}` needs a `runtime`: {why}", stage.name),
        Label::new(stage.span, "no ClusterTrainingRuntime to run it"),
    )
    .with_help("name a ClusterTrainingRuntime installed on the cluster: `runtime = \"my-runtime\"`")
    .with_note(format!(
        "Trainer's webhook refuses a TrainJob whose runtimeRef names no runtime; v2.3.0 ships {}",
        SHIPPED_RUNTIMES.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
    ))
}

fn not_a_train(stage: &ir::Stage) -> Diagnostic {
    Diagnostic::error(
        Code::NotAllowedHere,
        format!("`{}` is not a `train` stage", stage.name),
        Label::new(stage.span, "expected a `train`"),
    )
}

/// `run` as (command, args), with this stage's references resolved.
pub(crate) fn command_line(
    context: &Context<'_>,
    stage: &ir::Stage,
    rendering: Rendering<'_>,
) -> (Vec<String>, Vec<String>) {
    let mut rendered: Vec<String> = stage.run.iter().map(|value| render(context, stage, rendering, value)).collect();
    if rendered.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let command = rendered.remove(0);
    (vec![command], rendered)
}

/// What starts the processes of a train on the cluster, so a script gets there the environment `kfl run`
/// gives it (one process per rank, `runtime/src/run/prepare.rs`).
///
/// - `torch`: Trainer's torch plugin (kubeflow/trainer v2.3.0 `pkg/runtime/framework/plugins/torch/torch.go`,
///   `EnforceMLPolicy`) gives each node's container only `PET_NNODES`, `PET_NPROC_PER_NODE`, `PET_NODE_RANK`,
///   `PET_MASTER_ADDR` and `PET_MASTER_PORT` and runs the command as written, once per node. Under
///   `torchrun --no-python` (which reads the `PET_*` values as its options) each node starts
///   `procs_per_node` processes with `RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `LOCAL_WORLD_SIZE`, `GROUP_RANK`,
///   `MASTER_ADDR` and `MASTER_PORT`, as under `kfl run`.
/// - MPI runtimes (a `launcher` job: `deepspeed-distributed`, `mlx-distributed`): the MPI plugin
///   (`plugins/mpi/mpi.go`) runs the command once, on the launcher, whose env points OpenMPI at the
///   hostfile with `procs_per_node` slots per node; the other nodes only run sshd. Under `mpirun` every
///   rank runs the script, and `-x NAME` forwards the train's env and secrets, which Trainer gives the
///   launcher only. Ranks see OpenMPI's `OMPI_COMM_WORLD_*`, from which `deepspeed.init_distributed()` and
///   `mlx.core.distributed.init()` set themselves up (under `kfl run` they read `RANK`/`WORLD_SIZE`).
///
/// A command that already is its launcher (`torchrun`, `python -m torch.distributed.run`, `mpirun`,
/// `mpiexec`, `deepspeed`) and the torchtune runtimes (whose entrypoint the torch plugin rewrites) are left
/// as written.
const TORCHRUN: &[&str] = &["torchrun", "--no-python"];
/// The env vars the torch plugin sets and its webhook refuses in a TrainJob (`TorchRunReservedEnvNames`,
/// kubeflow/trainer v2.3.0 `pkg/constants/constants.go`); `torchrun` reads them as its options.
pub(crate) const TORCHRUN_RESERVED_ENV: &[&str] =
    &["PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT"];
const MPIRUN: &str = "mpirun";
const LAUNCHERS: &[&str] = &["torchrun", "mpirun", "mpiexec", "deepspeed"];

fn launched(
    train: &ir::Train,
    runtime: &str,
    env: &[EnvVar],
    (command, args): (Vec<String>, Vec<String>),
) -> (Vec<String>, Vec<String>) {
    let Some(program) = command.first().map(|c| c.rsplit('/').next().unwrap_or(c)) else { return (command, args) };
    let launcher_already = LAUNCHERS.contains(&program)
        || args.windows(2).next().is_some_and(|w| w[0] == "-m" && w[1] == "torch.distributed.run");
    if launcher_already || runtime.starts_with("torchtune-") {
        return (command, args);
    }
    let mut wrapped: Vec<String> = if train.framework == Framework::Torch {
        TORCHRUN[1..].iter().map(|a| a.to_string()).collect()
    } else if replicated_jobs(train).contains(&"launcher") {
        env.iter().flat_map(|var| ["-x".to_string(), var.name.clone()]).collect()
    } else {
        return (command, args);
    };
    let launcher = if train.framework == Framework::Torch { TORCHRUN[0] } else { MPIRUN };
    wrapped.extend(command);
    wrapped.extend(args);
    (vec![launcher.to_string()], wrapped)
}

/// `env` values, then one `secretKeyRef` per key of each secret.
pub(crate) fn env(context: &Context<'_>, stage: &ir::Stage, rendering: Rendering<'_>) -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = stage
        .env
        .iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: Some(render(context, stage, rendering, value)),
            value_from: None,
        })
        .collect();
    vars.extend(super::core::secret_env(context.program, &stage.secrets));
    vars
}

/// cpu/memory requests and limits and GPUs, shared with the other targets.
pub(crate) fn resources(resources: &ir::Resources) -> Option<ResourceRequirements> {
    super::core::resource_requirements(resources)
}

/// PVC volumes and their mounts for `mount V at P` (volume names `_` → `-`).
pub(crate) fn volumes(context: &Context<'_>, stage: &ir::Stage) -> (Vec<Volume>, Vec<VolumeMount>) {
    super::core::pvc_mounts(context.program, &stage.mounts)
}

/// kfl's own runtime patch: the volumes and mounts of `mount`, and the scheduling properties, on every
/// replicated job that runs user code.
fn runtime_patch(context: &Context<'_>, stage: &ir::Stage, train: &ir::Train) -> Option<RuntimePatch> {
    use super::scheduling as pod;
    let (volumes, mounts) = self::volumes(context, stage);
    let spec = PodSpecPatch {
        containers: if mounts.is_empty() {
            Vec::new()
        } else {
            vec![ContainerPatch { name: TRAINER_CONTAINER, volume_mounts: mounts }]
        },
        volumes,
        node_selector: pod::node_selector(&stage.scheduling),
        tolerations: pod::tolerations(&stage.scheduling),
        service_account_name: stage.scheduling.service_account.clone(),
        image_pull_secrets: pod::image_pull_secrets(&stage.scheduling),
    };
    if spec.volumes.is_empty()
        && spec.node_selector.is_none()
        && spec.tolerations.is_none()
        && spec.service_account_name.is_none()
        && spec.image_pull_secrets.is_none()
    {
        return None;
    }
    let replicated_jobs = replicated_jobs(train)
        .iter()
        .map(|job| ReplicatedJobPatch {
            name: job.to_string(),
            template: JobTemplatePatch { spec: JobSpecPatch { template: PodTemplatePatch { spec: spec.clone() } } },
        })
        .collect();
    Some(RuntimePatch {
        manager: PATCH_MANAGER,
        training_runtime_spec: TrainingRuntimeSpecPatch {
            template: JobSetTemplatePatch { spec: JobSetSpecPatch { replicated_jobs } },
        },
    })
}

/// A URI Trainer's initializers can download.
fn initializer_uri(uri: &str) -> bool {
    INITIALIZER_SCHEMES.iter().any(|scheme| uri.starts_with(scheme))
}

/// The URI an input is bound to, when it is a dataset or a constant string.
fn bound_uri(context: &Context<'_>, binding: &Value) -> Option<String> {
    match binding {
        Value::Ref(Ref::Dataset { name }) => Some(args::dataset_uri(context.program, name)),
        Value::Ref(Ref::Param { name }) => context.params.get(name).and_then(Value::as_str).map(str::to_string),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// An input an initializer downloads: (input name, URI).
type Initialized<'s> = Option<(&'s str, String)>;

/// What an initializer handles: (input name, URI) of the first dataset and
/// model input with an `hf://`/`s3://` URI, when the stage's runtime has the
/// initializer job for it (see [`SHIPPED_RUNTIMES`]).
fn initialized_inputs<'s>(context: &Context<'_>, stage: &'s ir::Stage) -> (Initialized<'s>, Initialized<'s>) {
    let runtime = stage.train.as_ref().and_then(runtime_name).and_then(|name| shipped_runtime(&name));
    let (dataset_job, model_job) = runtime.map_or((false, false), |r| (r.dataset_initializer, r.model_initializer));
    let mut dataset = None;
    let mut model = None;
    for input in &stage.inputs {
        let Some(uri) = input.binding.as_ref().and_then(|b| bound_uri(context, b)) else { continue };
        if !initializer_uri(&uri) {
            continue;
        }
        match input.ty {
            Ty::Dataset if dataset_job && dataset.is_none() => dataset = Some((input.name.as_str(), uri)),
            Ty::Model if model_job && model.is_none() => model = Some((input.name.as_str(), uri)),
            _ => {}
        }
    }
    (dataset, model)
}

fn initializers(context: &Context<'_>, stage: &ir::Stage) -> Initializer {
    let (dataset, model) = initialized_inputs(context, stage);
    let make = |uri: String| StorageInitializer { env: credentials(context, stage, &uri), storage_uri: uri };
    Initializer { dataset: dataset.map(|(_, uri)| make(uri)), model: model.map(|(_, uri)| make(uri)) }
}

/// The env vars Trainer's initializers read their credentials from, per URI
/// scheme, and the secret keys a user's secret may hold them under. The
/// initializers fill their config dataclass from env vars named after its
/// fields, upper-cased: kubeflow/trainer v2.3.0 `pkg/initializers/types/types.py`
/// (`HuggingFaceDatasetInitializer.access_token`, `S3DatasetInitializer.
/// access_key_id`/`secret_access_key`/`endpoint`/`region`/`role_arn`, and the
/// model initializers alike) and `pkg/initializers/utils/utils.py`
/// (`get_config_from_env`). A secret key named otherwise (`HF_TOKEN`) would be
/// ignored, so it is mapped onto the initializer's name with a `secretKeyRef`.
pub(crate) const INITIALIZER_CREDENTIALS: &[(&str, &str, &[&str])] = &[
    ("hf://", "ACCESS_TOKEN", &["ACCESS_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"]),
    ("s3://", "ACCESS_KEY_ID", &["ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"]),
    ("s3://", "SECRET_ACCESS_KEY", &["SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"]),
    ("s3://", "ENDPOINT", &["ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "S3_ENDPOINT"]),
    ("s3://", "REGION", &["REGION", "AWS_REGION", "AWS_DEFAULT_REGION"]),
    ("s3://", "ROLE_ARN", &["ROLE_ARN", "AWS_ROLE_ARN"]),
];

/// The initializer's credential env vars, each from the first of the stage's secrets holding one of its keys.
fn credentials(context: &Context<'_>, stage: &ir::Stage, uri: &str) -> Vec<EnvVar> {
    let secrets: Vec<&ir::Secret> =
        stage.secrets.iter().filter_map(|name| context.program.secrets.iter().find(|s| &s.name == name)).collect();
    INITIALIZER_CREDENTIALS
        .iter()
        .filter(|(scheme, _, _)| uri.starts_with(scheme))
        .filter_map(|(_, env, keys)| {
            keys.iter().find_map(|key| {
                let secret = secrets.iter().find(|s| s.keys.iter().any(|k| k == key))?;
                Some(EnvVar {
                    name: (*env).to_string(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: secret.k8s_name.clone(),
                            key: (*key).to_string(),
                            optional: None,
                        }),
                        ..EnvVarSource::default()
                    }),
                })
            })
        })
        .collect()
}

/// Path of an artifact under [`ARTIFACT_ROOT`].
pub(crate) fn artifact_path(owner: &str, name: &str) -> String {
    format!("{ARTIFACT_ROOT}/{}/{name}", kubernetes_name(owner))
}

/// Katib's placeholder for a searched parameter.
pub(crate) fn trial_parameter(name: &str) -> String {
    format!("${{trialParameters.{name}}}")
}

/// One `run` or `env` value. For the launcher, a param read directly is a
/// run-time value (`-p` at run submission), as the pipeline passes it.
fn render(context: &Context<'_>, stage: &ir::Stage, rendering: Rendering<'_>, value: &Value) -> String {
    let mut slot = |slot: Slot<'_>| slot_text(context, stage, rendering, slot);
    if rendering.launcher {
        args::render(context, &args::params_as_channels(value, args::CHANNEL), &mut slot)
    } else {
        args::render(context, value, &mut slot)
    }
}

/// The launcher marker of another task's output, named as the pipeline names the channel (`TASK-KEY`).
fn channel_marker(stage: &str, key: &str) -> String {
    launcher::ref_marker(&format!("{}-{key}", kubernetes_name(stage).to_ascii_lowercase()))
}

/// Text for a reference this target owns (see the module doc).
pub(crate) fn slot_text(context: &Context<'_>, stage: &ir::Stage, rendering: Rendering<'_>, slot: Slot<'_>) -> String {
    let launcher = rendering.launcher;
    match slot {
        Slot::Input(name) if rendering.searched.contains(&name) => trial_parameter(name),
        Slot::Input(name) if launcher && stage.outputs.iter().any(|o| o.name == name && is_artifact(&o.ty)) => {
            launcher::output_marker(name)
        }
        Slot::Input(name) if args::is_output(stage, name) => artifact_path(&stage.name, name),
        Slot::Input(name) if launcher && name.starts_with(args::CHANNEL) => {
            launcher::ref_marker(&name[args::CHANNEL.len()..])
        }
        Slot::Input(name) => {
            let Some(input) = stage.inputs.iter().find(|i| i.name == name) else {
                return artifact_path(&stage.name, name);
            };
            let (dataset, model) = initialized_inputs(context, stage);
            if dataset.as_ref().is_some_and(|(n, _)| *n == name) {
                return DATASET_PATH.to_string();
            }
            if model.as_ref().is_some_and(|(n, _)| *n == name) {
                return MODEL_PATH.to_string();
            }
            if launcher && input.binding.is_some() {
                return launcher::input_marker(name);
            }
            // A remote URI no initializer downloads reaches the script as written, as under `kfl run`.
            if let Some(uri) = input.binding.as_ref().and_then(|b| bound_uri(context, b)).filter(|u| u.contains("://"))
            {
                return uri;
            }
            match &input.binding {
                Some(Value::Ref(Ref::Output { stage: producer, output, .. })) => artifact_path(producer, output),
                Some(Value::Ref(Ref::Best { tune, field, .. })) => artifact_path(tune, &format!("best/{field}")),
                Some(binding) if !is_artifact(&input.ty) => {
                    args::render(context, binding, &mut |inner| slot_text(context, stage, rendering, inner))
                }
                _ => artifact_path(&stage.name, name),
            }
        }
        Slot::Param(name) => format!("${{{name}}}"),
        Slot::LoopVar(name) if launcher => launcher::ref_marker(name),
        Slot::Builtin(name) | Slot::LoopVar(name) => name.to_string(),
        Slot::StageOutput { stage: producer, output } if launcher => channel_marker(producer, output),
        Slot::StageOutput { stage: producer, output } => artifact_path(producer, output),
        Slot::Best { tune, field } if launcher => channel_marker(tune, &format!("best_{field}")),
        Slot::Best { tune, field } => artifact_path(tune, &format!("best/{field}")),
    }
}

fn is_artifact(ty: &Ty) -> bool {
    matches!(ty, Ty::Dataset | Ty::Model | Ty::Artifact)
}

#[cfg(test)]
#[path = "trainer/tests.rs"]
pub(crate) mod tests;
