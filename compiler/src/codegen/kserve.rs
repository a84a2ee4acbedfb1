//! `serve` → KServe InferenceService (serving.kserve.io/v1beta1, KServe 0.20); all KServe version knowledge lives here.
//!
//! Mapping decisions (checked against the KServe 0.20 CRD in
//! `shared/schemas/crds/kserve` and KServe's `pkg/constants`):
//!
//! - **Deployment mode** is always written as the
//!   `serving.kserve.io/deploymentMode` annotation, because the default
//!   differs between KServe's code (`Standard`) and its shipped
//!   `inferenceservice-config` (`Serverless`). KServe ≥ 0.15 names the modes
//!   `Knative` and `Standard`; `Serverless` and `RawDeployment` are the
//!   deprecated aliases, so we write the new names.
//!   `autoscale = cpu(…)`/`memory(…)` → `Standard` with
//!   `serving.kserve.io/autoscalerClass: hpa` (HPA only scales on cpu and
//!   memory; `scaleMetricType: Utilization`). Anything else (`concurrency`,
//!   `rps`, no autoscale, scale to zero) → `Knative`.
//! - **Canary**: in `Knative` mode `predictor.canaryTrafficPercent` (Knative
//!   splits traffic between the latest and the previous ready revision); in
//!   `Standard` mode the `spec.canary` list (one entry named
//!   `<serve>-canary`, with `trafficPercent`), which KServe only allows in
//!   that mode. There nothing keeps the previous version, so the pipeline's
//!   launcher (`kfl launch inferenceservice`) points the stable predictor
//!   back at the version the running service serves and leaves the new one
//!   to the canary entry (no running service: no split). The standalone
//!   manifest (`manifests/`, `kubectl apply -k`, `kfl apply`) cannot know the
//!   served version: it has no `spec.canary` (a clone of the stable would
//!   split traffic between two copies of the new version) and carries a
//!   `kfl.dev/canary` annotation saying so; docs/TARGETS.md too.
//! - **storageUri**: with `project.registry`,
//!   `model-registry://<model>/<version>` (the Model Registry storage
//!   initializer; without a version: `model-registry://<model>`, the latest);
//!   else the model's URI, or for an artifact the convention
//!   `pvc://<project>-artifacts/<stage>/<output>` (`<tune>/best/<output>` for
//!   `TUNE.best.X`) — the path the pipeline's launcher copies the artifact to.
//!   A `minio://B/K` URI (a written one, or the KFP artifact URI a run registers without a registry) is
//!   served as `s3://B/K` ([`storage_initializer_uri`]) with the object store's credentials, which the
//!   pipeline's launcher copies into the Secret and ServiceAccount KServe reads ([`S3_ENDPOINT`]…).
//! - **Built-in runtimes** use the `model` predictor with
//!   `modelFormat.name` (KServe picks the ServingRuntime); **`custom`** is a
//!   container named `kserve-container` listening on 8080, with
//!   `STORAGE_URI` in its env so the storage initializer still downloads the
//!   model to `/mnt/models` (what `model_dir` means), `PROTOCOL` (`v1`/`v2`:
//!   KServe's `protocolVersion` only exists on the `model` predictor, so a
//!   custom server learns the protocol it must speak from its env) and
//!   `KFL_MODEL_NAME`, the name it answers to ([`served_name`], as under
//!   `kfl run`).
//! - `minReplicas`/`maxReplicas` are written as declared; in `Standard` mode
//!   KServe raises a `minReplicas` of 0 to 1 (HPA cannot scale to zero).
//!   Without `replicas`, `minReplicas: 1` and no `maxReplicas`: KServe then
//!   leaves Knative's autoscaling unbounded (and raises an HPA's max to its
//!   min), instead of kfl pinning one replica.
//! - `protocolVersion`: the serve's `protocol`, by default the first its
//!   ServingRuntime serves ([`RUNTIME_PROTOCOLS`]); the checker refuses a
//!   protocol the runtime's ServingRuntime does not serve (`codegen/cluster_rules.rs`).
//! - The transformer is a `kserve-container` container too.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerPort, EnvVar, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::args::{self, Slot};
use super::core;
use super::manifest::kubernetes_name;
use super::{Context, Manifest};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::{self, AutoscaleMetric, ModelSource, Protocol, Ref, ServeBuiltin, ServeRuntime, Value};

const API_VERSION: &str = "serving.kserve.io/v1beta1";
pub(crate) const KIND: &str = "InferenceService";
const DEPLOYMENT_MODE: &str = "serving.kserve.io/deploymentMode";
const AUTOSCALER_CLASS: &str = "serving.kserve.io/autoscalerClass";
/// On a standalone `Standard`-mode manifest: why it has no `spec.canary` (see the module doc).
const CANARY_NOTE: &str = "kfl.dev/canary";
const MODE_KNATIVE: &str = "Knative";
const MODE_STANDARD: &str = "Standard";
/// Where KServe's storage initializer puts the model.
pub(crate) const MODEL_DIR: &str = "/mnt/models";
/// The port KServe expects the predictor to listen on.
pub(crate) const PORT: u16 = 8080;
/// The container name KServe treats as the predictor / transformer.
const CONTAINER: &str = "kserve-container";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InferenceService {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: Spec,
}

#[derive(Serialize)]
struct Spec {
    predictor: Predictor,
    #[serde(skip_serializing_if = "Option::is_none")]
    transformer: Option<Transformer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    canary: Option<Vec<Canary>>,
}

#[derive(Serialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct Predictor {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_replicas: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_replicas: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scale_metric: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scale_metric_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scale_target: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    canary_traffic_percent: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<ModelSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    containers: Option<Vec<Container>>,
    #[serde(flatten)]
    pod: PodFields,
}

/// The pod fields of a predictor or transformer (KServe v1beta1 `PodSpec` inline, and the component's
/// `labels`, which KServe puts on its pods) that the scheduling properties set (`scheduling.rs`).
#[derive(Serialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct PodFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_selector: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tolerations: Option<Vec<k8s_openapi::api::core::v1::Toleration>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority_class_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_pull_secrets: Option<Vec<k8s_openapi::api::core::v1::LocalObjectReference>>,
}

impl PodFields {
    fn of(scheduling: &ir::Scheduling) -> PodFields {
        use super::scheduling as pod;
        let queue = pod::queue_labels(scheduling);
        PodFields {
            labels: (!queue.is_empty()).then_some(queue),
            node_selector: pod::node_selector(scheduling),
            tolerations: pod::tolerations(scheduling),
            priority_class_name: scheduling.priority_class.clone(),
            service_account_name: scheduling.service_account.clone(),
            image_pull_secrets: pod::image_pull_secrets(scheduling),
        }
    }
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ModelSpec {
    /// Only in a `spec.canary` predictor, where KServe's schema requires the
    /// container name (and its webhook forbids it in `spec.predictor`).
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    model_format: ModelFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol_version: Option<String>,
    storage_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<Vec<EnvVar>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<ResourceRequirements>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_pull_policy: Option<String>,
}

#[derive(Serialize, Clone)]
struct ModelFormat {
    name: &'static str,
}

#[derive(Serialize)]
struct Transformer {
    containers: Vec<Container>,
    #[serde(flatten)]
    pod: PodFields,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Canary {
    predictor: Predictor,
    traffic_percent: i32,
}

pub(crate) fn manifests(context: &Context<'_>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Manifest> {
    context.program.serves.iter().map(|serve| manifest(context, serve, None, false, diagnostics)).collect()
}

/// The InferenceService a pipeline task passes to `kfl launch inferenceservice`;
/// `storage` replaces the model's storage URI (the launcher's marker for the
/// registered model's URI, when the pipeline registers it).
pub(crate) fn launcher_manifest(context: &Context<'_>, serve: &ir::Serve, storage: Option<String>) -> Manifest {
    manifest(context, serve, storage, true, &mut Vec::new())
}

/// The runtime → KServe's `modelFormat.name`; `None` for `custom`.
fn model_format(runtime: ServeRuntime) -> Option<&'static str> {
    Some(match runtime {
        ServeRuntime::Sklearn => "sklearn",
        ServeRuntime::Xgboost => "xgboost",
        ServeRuntime::Lightgbm => "lightgbm",
        ServeRuntime::Pytorch => "pytorch",
        ServeRuntime::Tensorflow => "tensorflow",
        ServeRuntime::Onnx => "onnx",
        ServeRuntime::Triton => "triton",
        ServeRuntime::Huggingface => "huggingface",
        ServeRuntime::Custom => return None,
    })
}

/// The inference protocols the ServingRuntime KServe v0.20.0 ships for each
/// built-in `runtime` serves, preferred first (the first is kfl's default):
/// kserve/kserve v0.20.0 `config/runtimes/*.yaml`, `spec.protocolVersions`
/// of `kserve-sklearnserver`, `kserve-xgbserver`, `kserve-lgbserver`,
/// `kserve-torchserve`, `kserve-tensorflow-serving` (v1 only: with v2 KServe
/// would select Triton, which needs a Triton model repository instead of a
/// SavedModel — serve those with `runtime = triton`), `kserve-tritonserver`
/// (`onnx`, `triton`: v2 only) and `kserve-huggingfaceserver`.
pub(crate) const RUNTIME_PROTOCOLS: &[(ServeRuntime, &str, &[Protocol])] = &[
    (ServeRuntime::Sklearn, "kserve-sklearnserver", &[Protocol::V2, Protocol::V1]),
    (ServeRuntime::Xgboost, "kserve-xgbserver", &[Protocol::V2, Protocol::V1]),
    (ServeRuntime::Lightgbm, "kserve-lgbserver", &[Protocol::V2, Protocol::V1]),
    (ServeRuntime::Pytorch, "kserve-torchserve", &[Protocol::V2, Protocol::V1]),
    (ServeRuntime::Tensorflow, "kserve-tensorflow-serving", &[Protocol::V1]),
    (ServeRuntime::Onnx, "kserve-tritonserver", &[Protocol::V2]),
    (ServeRuntime::Triton, "kserve-tritonserver", &[Protocol::V2]),
    (ServeRuntime::Huggingface, "kserve-huggingfaceserver", &[Protocol::V2, Protocol::V1]),
];

/// (ServingRuntime, protocols it serves) for a built-in runtime; `None` for `custom` (any protocol).
pub(crate) fn runtime_protocols(runtime: ServeRuntime) -> Option<(&'static str, &'static [Protocol])> {
    RUNTIME_PROTOCOLS.iter().find(|(name, _, _)| *name == runtime).map(|(_, server, protocols)| (*server, *protocols))
}

/// The protocol a serve speaks when it sets none: its ServingRuntime's first, `v2` for `custom`.
pub(crate) fn default_protocol(runtime: ServeRuntime) -> Protocol {
    runtime_protocols(runtime).and_then(|(_, protocols)| protocols.first().copied()).unwrap_or(Protocol::V2)
}

/// Whether a serve runs in `Standard` (raw Deployment + HPA) mode.
pub(crate) fn is_standard(serve: &ir::Serve) -> bool {
    serve.autoscale.as_ref().is_some_and(|a| a.metric.is_utilisation())
}

/// The name a serve's model answers to, locally and on the cluster: the InferenceService's name (KServe
/// serves a `model` predictor under its InferenceService's name, `/v2/models/NAME`), which the local router
/// (plan.json `served_name`) and a custom server's `KFL_MODEL_NAME` use too.
pub(crate) fn served_name(serve: &ir::Serve) -> String {
    kubernetes_name(&serve.name)
}

/// The Kubernetes name of the predictor workload of `serve NAME` (`<isvc>-predictor`, KServe v0.20.0
/// `constants.PredictorServiceName`), for monitoring.
pub(crate) fn predictor_name(serve: &str) -> String {
    format!("{}-predictor", kubernetes_name(serve))
}

/// The labels KServe v0.20.0 gives every predictor pod of the InferenceService `isvc`, in both deployment modes:
/// `Predictor.buildObjectMeta` (`pkg/controller/v1beta1/inferenceservice/components/predictor.go`; the keys are
/// `InferenceServicePodLabelKey` and `KServiceComponentLabel` of `pkg/constants/constants.go`) labels the
/// Knative Service's revision template (`reconcilers/knative/ksvc_reconciler.go`, whose default
/// `serviceLabelDisallowedList` holds only Knative's visibility label) and the raw Deployment's pod template
/// (`reconcilers/deployment/deployment_reconciler.go`). A transformer's pods say `component: transformer`.
pub(crate) fn predictor_pod_labels(isvc: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("serving.kserve.io/inferenceservice".to_string(), isvc.to_string()),
        ("component".to_string(), "predictor".to_string()),
    ])
}

/// What `serve.run`/`args` references mean inside KServe.
fn serve_slot(slot: Slot<'_>) -> String {
    match slot {
        Slot::Builtin(name) => match ServeBuiltin::from_name(name) {
            Some(ServeBuiltin::ModelDir) => MODEL_DIR.to_string(),
            Some(ServeBuiltin::Port) => PORT.to_string(),
            None => name.to_string(),
        },
        Slot::Input(name) | Slot::Param(name) | Slot::LoopVar(name) => name.to_string(),
        Slot::StageOutput { stage, output } => format!("{stage}.{output}"),
        Slot::Best { tune, field } => format!("{tune}.best.{field}"),
    }
}

/// The scheme KFP's launcher reads its default object store through (`backend/src/v2/objectstore/config.go`,
/// kubeflow/pipelines 2.17.0) and KServe's storage initializer does not know: it downloads from `gs://`,
/// `s3://`, `hdfs://`, `webhdfs://`, `hf://`, `http(s)://`, local and `/mnt/pvc` paths only, and fails on any
/// other ("Cannot recognize storage type", `Storage.download` in
/// `python/storage/kserve_storage/kserve_storage.py`, kserve/kserve v0.20.0).
const MINIO_SCHEME: &str = "minio://";
const S3_SCHEME: &str = "s3://";

/// `uri` as KServe's storage initializer reads it: `minio://B/K` (an S3 API, KFP's object store) becomes
/// `s3://B/K`, read with the endpoint and keys of [`S3_ENDPOINT`]…; any other URI is unchanged. The one
/// rewrite of the build (a written model URI) and of `kfl launch inferenceservice` (a run's artifact URI).
pub fn storage_initializer_uri(uri: &str) -> String {
    match uri.strip_prefix(MINIO_SCHEME) {
        Some(rest) => format!("{S3_SCHEME}{rest}"),
        None => uri.to_string(),
    }
}

/// Whether KServe reads `uri` through the s3 credentials of its predictor's ServiceAccount.
pub fn is_s3(uri: &str) -> bool {
    uri.starts_with(S3_SCHEME)
}

/// The annotations of an s3 credentials Secret KServe turns into the storage initializer's `S3_ENDPOINT`,
/// `S3_USE_HTTPS`, `AWS_DEFAULT_REGION` (`BuildS3EnvVars` in `pkg/credentials/s3/utils.go`, the names in
/// `pkg/credentials/s3/s3_secret.go`, kserve/kserve v0.20.0).
pub const S3_ENDPOINT: &str = "serving.kserve.io/s3-endpoint";
pub const S3_USE_HTTPS: &str = "serving.kserve.io/s3-usehttps";
pub const S3_REGION: &str = "serving.kserve.io/s3-region";
/// The keys of that Secret: KServe takes a Secret listed by the predictor's ServiceAccount as s3 credentials
/// when it has the secret-access-key key (`mountSecretCredential`, `pkg/credentials/service_account_credentials.go`)
/// and reads both keys under the names `credentials.s3` of the shipped `inferenceservice-config` gives
/// (`config/configmap/inferenceservice.yaml`, kserve/kserve v0.20.0).
pub const S3_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const S3_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";

/// The Secret and ServiceAccount the pipeline's launcher writes for a project's serves that read its object
/// store: `<project>-kserve-s3`.
pub fn s3_account(project: &str) -> String {
    format!("{project}-kserve-s3")
}

/// Whether a serve of `model` reads the project's object store: without a registry, a model a run registers
/// from its training output (KFP's artifact URI) or one written on `minio://`.
pub fn reads_object_store(program: &ir::Program, model: &ir::Model) -> bool {
    if program.project.as_ref().is_some_and(|p| p.registry.is_some()) {
        return false;
    }
    match &model.source {
        ModelSource::Artifact { .. } => true,
        ModelSource::Uri { uri } => uri.starts_with(MINIO_SCHEME),
    }
}

/// Whether the pipeline's launcher gives `serve` the object store's keys in the account [`s3_account`]: it reads
/// the object store, names no `service_account` of its own (that account is trusted to carry the keys), and the
/// store is S3-compatible with its keys in a Secret (`staging::object_store`; a store whose keys only the
/// environment holds has nothing to copy).
pub fn writes_s3_account(program: &ir::Program, serve: &ir::Serve) -> bool {
    serve.scheduling.service_account.is_none()
        && program.model(&serve.model).is_some_and(|model| reads_object_store(program, model))
        && {
            let store = super::staging::object_store(program.project.as_ref());
            store.kind != super::staging::StoreKind::Gcs && store.secret_holds_keys
        }
}

/// The model's storage URI (see the module doc).
pub fn storage_uri(context: &Context<'_>, model: &ir::Model) -> String {
    if context.program.project.as_ref().is_some_and(|p| p.registry.is_some()) {
        return match &model.version {
            Some(version) => format!("model-registry://{}/{version}", model.registered_name()),
            None => format!("model-registry://{}", model.registered_name()),
        };
    }
    match &model.source {
        ModelSource::Uri { uri } => storage_initializer_uri(uri),
        ModelSource::Artifact { value } => {
            let path = match value {
                Value::Ref(Ref::Output { stage, output, .. }) => format!("{}/{output}", kubernetes_name(stage)),
                Value::Ref(Ref::Best { tune, field, .. }) => format!("{}/best/{field}", kubernetes_name(tune)),
                other => args::render(context, other, &mut serve_slot),
            };
            format!("pvc://{}-artifacts/{path}", context.project)
        }
    }
}

fn out_of_range(span: crate::source::Span, message: String, help: &str) -> Diagnostic {
    Diagnostic::error(Code::OutOfRange, message, Label::new(span, "in this serve")).with_help(help.to_string())
}

fn to_i32(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn manifest(
    context: &Context<'_>,
    serve: &ir::Serve,
    storage: Option<String>,
    launcher: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Manifest {
    let standard = is_standard(serve);
    let span = serve.span;
    // Target constraints (KServe's webhook); the checker catches most of them.
    if serve.min_replicas < 0 || serve.max_replicas < 0 {
        diagnostics.push(out_of_range(
            span,
            "replica counts cannot be negative".into(),
            "use `replicas = MIN..MAX` with MIN ≥ 0",
        ));
    }
    if serve.max_replicas != 0 && serve.min_replicas > serve.max_replicas {
        diagnostics.push(out_of_range(
            span,
            format!(
                "`replicas = {}..{}`: minReplicas is greater than maxReplicas",
                serve.min_replicas, serve.max_replicas
            ),
            "write the smaller count first",
        ));
    }
    let canary = serve.canary.map(|c| c.round() as i64);
    let mut standalone_canary = None;
    if let Some(percent) = canary.filter(|p| !(0..=100).contains(p)) {
        diagnostics.push(out_of_range(
            span,
            format!("`canary = {percent}%` is not between 0% and 100%"),
            "give a percentage from 0% to 100%",
        ));
    }
    let (scale_metric, scale_metric_type, scale_target) = match &serve.autoscale {
        Some(autoscale) => {
            // KServe's `scaleMetric` values (v1beta1 `ScaleMetric`) are kfl's words.
            let metric: &'static str = match autoscale.metric {
                AutoscaleMetric::Cpu => "cpu",
                AutoscaleMetric::Memory => "memory",
                AutoscaleMetric::Rps => "rps",
                AutoscaleMetric::Concurrency => "concurrency",
            };
            let target = autoscale.target.as_f64().map(|t| t.round() as i64);
            if standard && target.is_some_and(|t| !(1..=100).contains(&t)) {
                diagnostics.push(out_of_range(
                    span,
                    format!("`autoscale = {metric}(…)`: the HPA utilisation target must be 1%..100%"),
                    "give a percentage from 1% to 100%",
                ));
            }
            (Some(metric), standard.then_some("Utilization"), target.map(to_i32))
        }
        None => (None, None, None),
    };

    let env = core::env_vars(context, &serve.env, &mut serve_slot);
    let resources = core::resource_requirements(&serve.resources);
    let model = context.program.models.iter().find(|m| m.name == serve.model);
    let storage = storage.unwrap_or_else(|| model.map(|m| storage_uri(context, m)).unwrap_or_default());

    let mut predictor = Predictor { pod: PodFields::of(&serve.scheduling), ..Predictor::default() };
    match model_format(serve.runtime) {
        Some(format) => {
            let args: Vec<String> = serve.args.iter().map(|a| args::render(context, a, &mut serve_slot)).collect();
            predictor.model = Some(ModelSpec {
                name: None,
                model_format: ModelFormat { name: format },
                protocol_version: Some(serve.protocol.to_string()),
                storage_uri: storage,
                args: (!args.is_empty()).then_some(args),
                env: (!env.is_empty()).then_some(env),
                resources,
                image_pull_policy: super::scheduling::pull_policy(&serve.scheduling),
            });
        }
        None => {
            let image = serve.image.clone().or_else(|| context.program.project.as_ref().and_then(|p| p.image.clone()));
            if image.is_none() {
                diagnostics.push(
                    Diagnostic::error(
                        Code::MissingProperty,
                        "a `custom` serve needs an image",
                        Label::new(span, "no `image` here or in `project`"),
                    )
                    .with_help("set `image = \"…\"` in the serve or the project"),
                );
            }
            let mut command: Vec<String> =
                serve.run.iter().flatten().map(|a| args::render(context, a, &mut serve_slot)).collect();
            command.extend(serve.args.iter().map(|a| args::render(context, a, &mut serve_slot)));
            let mut env = env;
            env.push(EnvVar { name: "STORAGE_URI".into(), value: Some(storage), ..EnvVar::default() });
            env.push(EnvVar { name: "PROTOCOL".into(), value: Some(serve.protocol.to_string()), ..EnvVar::default() });
            env.push(EnvVar { name: "KFL_MODEL_NAME".into(), value: Some(served_name(serve)), ..EnvVar::default() });
            predictor.containers = Some(vec![Container {
                name: CONTAINER.to_string(),
                image,
                command: (!command.is_empty()).then_some(command),
                env: Some(env),
                ports: Some(vec![ContainerPort {
                    container_port: i32::from(PORT),
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                }]),
                resources,
                image_pull_policy: super::scheduling::pull_policy(&serve.scheduling),
                ..Container::default()
            }]);
        }
    }

    // The canary entry (Standard mode) is the predictor without the fields KServe forbids there; the
    // launcher moves the stable back to the served version (see the module doc). A standalone manifest
    // cannot know that version: it has no canary entry and says so in an annotation.
    let canary_list = match canary {
        Some(percent) if standard && !launcher => {
            standalone_canary = Some(format!(
                "a {percent}% canary is deployed by the pipeline (kfl launch inferenceservice), which keeps the \
                 served version as the stable; this manifest serves the new version alone"
            ));
            None
        }
        Some(percent) if standard => Some(vec![Canary {
            predictor: Predictor {
                name: Some(format!("{}-canary", kubernetes_name(&serve.name))),
                model: predictor.model.clone().map(|model| ModelSpec { name: Some(CONTAINER.to_string()), ..model }),
                ..predictor.clone()
            },
            traffic_percent: to_i32(percent),
        }]),
        _ => None,
    };
    predictor.min_replicas = Some(to_i32(serve.min_replicas));
    // 0 is "no upper bound" (no `replicas` written): KServe's default, so the field is left out.
    predictor.max_replicas = (serve.max_replicas != 0).then(|| to_i32(serve.max_replicas));
    predictor.scale_metric = scale_metric;
    predictor.scale_metric_type = scale_metric_type;
    predictor.scale_target = scale_target;
    if !standard {
        predictor.canary_traffic_percent = canary;
    }

    let transformer = serve.transformer.as_ref().map(|t| {
        let command: Vec<String> = t.run.iter().map(|a| args::render(context, a, &mut serve_slot)).collect();
        let env = core::env_vars(context, &t.env, &mut serve_slot);
        Transformer {
            containers: vec![Container {
                name: CONTAINER.to_string(),
                image: Some(t.image.clone()),
                command: (!command.is_empty()).then_some(command),
                env: (!env.is_empty()).then_some(env),
                resources: core::resource_requirements(&t.resources),
                image_pull_policy: super::scheduling::pull_policy(&serve.scheduling),
                ..Container::default()
            }],
            // The serve's `gpu_type` picks its predictor's nodes; a transformer without GPUs runs anywhere.
            pod: PodFields::of(&match &serve.scheduling.gpu_label {
                Some(label) if t.resources.gpu.is_none_or(|g| g == 0) => {
                    let mut scheduling = serve.scheduling.clone();
                    scheduling.node_selector.shift_remove(label);
                    scheduling
                }
                _ => serve.scheduling.clone(),
            }),
        }
    });

    let mut metadata = context.metadata(&serve.name);
    let mut annotations = BTreeMap::new();
    if let Some(note) = standalone_canary {
        annotations.insert(CANARY_NOTE.to_string(), note);
    }
    annotations.insert(DEPLOYMENT_MODE.to_string(), if standard { MODE_STANDARD } else { MODE_KNATIVE }.to_string());
    if standard {
        annotations.insert(AUTOSCALER_CLASS.to_string(), "hpa".to_string());
    }
    metadata.annotations = Some(annotations);

    let object = InferenceService {
        api_version: API_VERSION,
        kind: KIND,
        metadata,
        spec: Spec { predictor, transformer, canary: canary_list },
    };
    let mut manifest = Manifest::from_typed(KIND, &serve.name, &object);
    manifest.apply_patches(&serve.patches);
    manifest
}

#[cfg(test)]
mod tests {
    use crate::codegen::core::tests::{build_text, file, try_build_text};

    /// A model at a fixed URI: its serve is applied up front, so `manifests/` shows the InferenceService.
    const MODELS: &str = "project p { image = \"python:3.12\" }\n\
        model clf { uri = \"s3://models/clf\", format = \"sklearn\" }\n";
    /// A model a run registers from a step's output: its serve is only created by the run.
    const TRAINED: &str = "project p { image = \"python:3.12\" }\n\
        step fit -> (model: Model) { run = [\"python3\", \"fit.py\", model] }\n\
        model clf { artifact = fit.model, format = \"sklearn\" }\n";

    /// One served name: the InferenceService's (`churn-api`), which the local router (plan.json
    /// `served_name`) and a custom server's `KFL_MODEL_NAME` use too.
    #[test]
    fn a_serve_answers_to_its_inference_service_name_everywhere() {
        let output = build_text(&format!(
            "{MODELS}serve churn_api {{\n  model = clf\n  runtime = custom\n  run = [\"python3\", \"serve.py\", model_dir, port]\n}}\n"
        ));
        let yaml = file(&output, "inferenceservice-churn-api.yaml");
        assert!(yaml.contains("name: churn-api"), "{yaml}");
        assert!(yaml.contains("- name: KFL_MODEL_NAME\n        value: churn-api"), "{yaml}");
        let plan = output.files.iter().find(|(path, _)| path == "plan.json").map(|(_, text)| text.as_str());
        assert!(plan.is_some_and(|p| p.contains("\"served_name\": \"churn-api\"")), "{plan:?}");
    }

    #[test]
    fn concurrency_autoscale_is_knative_with_canary_traffic_percent() {
        let output = build_text(&format!(
            "{MODELS}serve svc {{\n  model = clf\n  runtime = sklearn\n  protocol = v2\n  replicas = 0..3\n  autoscale = concurrency(8)\n  canary = 20%\n  resources {{ cpu = 500m, memory = 512Mi }}\n}}\n"
        ));
        let yaml = file(&output, "inferenceservice-svc.yaml");
        assert!(yaml.contains("serving.kserve.io/deploymentMode: Knative"), "{yaml}");
        assert!(yaml.contains("canaryTrafficPercent: 20"), "{yaml}");
        assert!(yaml.contains("scaleMetric: concurrency"), "{yaml}");
        assert!(yaml.contains("scaleTarget: 8"), "{yaml}");
        assert!(yaml.contains("minReplicas: 0"), "{yaml}");
        assert!(yaml.contains("name: sklearn"), "{yaml}");
        assert!(yaml.contains("protocolVersion: v2"), "{yaml}");
        assert!(yaml.contains("storageUri: s3://models/clf"), "{yaml}");
        assert!(!yaml.contains("autoscalerClass"), "{yaml}");
    }

    /// Standard mode: the pipeline's launcher gets the canary list (and keeps the served version as the
    /// stable); the standalone manifest, which cannot know that version, has none and says why.
    #[test]
    fn cpu_autoscale_is_standard_with_hpa_and_a_canary_list_for_the_launcher_only() {
        let text = format!(
            "{MODELS}serve svc {{\n  model = clf\n  runtime = xgboost\n  replicas = 1..4\n  autoscale = cpu(80%)\n  canary = 10%\n}}\n"
        );
        let output = build_text(&text);
        let yaml = file(&output, "inferenceservice-svc.yaml");
        assert!(yaml.contains("serving.kserve.io/deploymentMode: Standard"), "{yaml}");
        assert!(yaml.contains("serving.kserve.io/autoscalerClass: hpa"), "{yaml}");
        assert!(yaml.contains("scaleMetric: cpu"), "{yaml}");
        assert!(yaml.contains("scaleTarget: 80"), "{yaml}");
        assert!(!yaml.contains("\n  canary:") && !yaml.contains("trafficPercent"), "{yaml}");
        assert!(yaml.contains("kfl.dev/canary: a 10% canary is deployed by the pipeline"), "{yaml}");

        let mut sources = crate::source::Sources::new();
        let main = sources.add(crate::source::SourceFile::new("test.kfl", text.as_str(), crate::source::Origin::User));
        let checked = crate::check(&mut sources, main, &crate::source::MemoryLoader::default());
        let program = checked.program().expect("checks");
        let context = crate::codegen::Context::new(program, &crate::codegen::BuildOptions::default());
        let launcher = super::launcher_manifest(&context, &program.serves[0], None);
        let spec = &launcher.object["spec"];
        assert_eq!(spec["canary"][0]["trafficPercent"], 10, "{spec}");
        assert_eq!(spec["canary"][0]["predictor"]["name"], "svc-canary", "{spec}");
        assert!(spec["predictor"].get("canaryTrafficPercent").is_none(), "{spec}");
        assert!(launcher.object["metadata"]["annotations"].get("kfl.dev/canary").is_none());
    }

    #[test]
    fn custom_runtime_is_a_kserve_container_with_model_dir_and_port() {
        let output = build_text(&format!(
            "{MODELS}serve svc {{\n  model = clf\n  runtime = custom\n  run = [\"python3\", \"serve.py\", \"--model\", model_dir, \"--port\", port]\n  resources {{ cpu = 1, memory = 1Gi, gpu = 1 }}\n}}\n"
        ));
        let yaml = file(&output, "inferenceservice-svc.yaml");
        assert!(yaml.contains("name: kserve-container"), "{yaml}");
        assert!(yaml.contains("- /mnt/models"), "{yaml}");
        assert!(yaml.contains("containerPort: 8080"), "{yaml}");
        assert!(yaml.contains("- '8080'") || yaml.contains("- \"8080\""), "{yaml}");
        assert!(yaml.contains("nvidia.com/gpu"), "{yaml}");
        assert!(yaml.contains("name: STORAGE_URI"), "{yaml}");
        assert!(yaml.contains("- name: KFL_MODEL_NAME\n        value: svc"), "{yaml}");
        assert!(!yaml.contains("modelFormat"), "{yaml}");
    }

    /// A serve of a model a run registers (from an output, or in the registry) is left to the run's launcher
    /// task, which names the registered URI; the kustomization says why it is not applied up front.
    #[test]
    fn serves_of_models_a_run_registers_are_created_by_the_run() {
        let registry = "project p { image = \"python:3.12\", registry = \"http://registry:8080\" }\n\
             model clf { uri = \"s3://models/clf\", format = \"sklearn\", version = \"1.2.0\" }\n\
             serve svc { model = clf, runtime = sklearn }\n";
        let trained = format!("{TRAINED}serve svc {{ model = clf, runtime = sklearn }}\n");
        for (text, why) in
            [(registry.to_string(), "from the model registry"), (trained, "registers from its training output")]
        {
            let output = build_text(&text);
            assert!(!output.files.iter().any(|(path, _)| path.starts_with("manifests/inferenceservice")), "{text}");
            let kustomization = &output.files[0].1;
            assert!(kustomization.contains("# - InferenceService/svc: it serves `clf`"), "{kustomization}");
            assert!(kustomization.contains(why), "{kustomization}");
            let pipeline = output.files.iter().find(|(path, _)| path == "pipeline.yaml").map(|(_, t)| t.as_str());
            assert!(
                pipeline.is_some_and(|p| p.contains("\"storageUri\":\"${kfl.inputs.storage_uri}\"")),
                "{pipeline:?}"
            );
        }
    }

    #[test]
    fn minio_uris_are_read_as_s3_and_others_unchanged() {
        assert_eq!(
            super::storage_initializer_uri("minio://mlpipeline/v2/artifacts/p/fit/model"),
            "s3://mlpipeline/v2/artifacts/p/fit/model"
        );
        for uri in ["s3://b/k", "gs://b/k", "pvc://v/k", "model-registry://clf/3", "hf://a/b", "miniox://b/k"] {
            assert_eq!(super::storage_initializer_uri(uri), uri);
        }
        assert!(super::is_s3("s3://b/k") && !super::is_s3("minio://b/k"));
    }

    /// A written `minio://` model is served by the run's launcher, which is told the object store's Secret,
    /// endpoint and the account to write; the standalone manifests have no InferenceService for it, and the
    /// InferenceService built for it reads `s3://`.
    #[test]
    fn a_written_minio_model_is_served_as_s3_by_the_run_with_the_object_stores_keys() {
        let text = "project shop { image = \"python:3.12\" }\nmodel clf { uri = \"minio://models/clf/3\", format = \"sklearn\" }\nserve svc { model = clf, runtime = sklearn }\n";
        let output = build_text(text);
        assert!(!output.files.iter().any(|(path, _)| path.starts_with("manifests/inferenceservice")));
        assert!(output.files[0].1.contains("from the object store (`minio://`)"), "{}", output.files[0].1);
        let pipeline = output.files.iter().find(|(path, _)| path == "pipeline.yaml").map(|(_, t)| t.as_str());
        let pipeline = pipeline.expect("a pipeline");
        for flag in [
            "--s3-secret'\n        - mlpipeline-minio-artifact\n",
            "--s3-secret-keys'\n        - accesskey:secretkey\n",
            "--s3-endpoint'\n        - http://minio-service.kubeflow:9000\n",
            "--s3-region'\n        - minio\n",
            "--s3-account'\n        - shop-kserve-s3\n",
        ] {
            assert!(pipeline.contains(flag), "{flag}: {pipeline}");
        }

        let mut sources = crate::source::Sources::new();
        let main = sources.add(crate::source::SourceFile::new("test.kfl", text, crate::source::Origin::User));
        let checked = crate::check(&mut sources, main, &crate::source::MemoryLoader::default());
        let program = checked.program().expect("checks");
        let context = crate::codegen::Context::new(program, &crate::codegen::BuildOptions::default());
        let built = super::manifests(&context, &mut Vec::new());
        assert_eq!(built[0].object["spec"]["predictor"]["model"]["storageUri"], "s3://models/clf/3");
    }

    /// The checker rejects `replicas = 5..2`; the back end must refuse it too
    /// (E0203 on the serve) if a program ever reaches it.
    #[test]
    fn min_above_max_and_canary_over_100_are_e0203() {
        // A serve only a run creates: its manifest is still built and checked.
        let text = format!("{TRAINED}serve svc {{ model = clf, runtime = sklearn, replicas = 1..2 }}\n");
        let mut sources = crate::source::Sources::new();
        let main = sources.add(crate::source::SourceFile::new("test.kfl", text.as_str(), crate::source::Origin::User));
        let checked = crate::check(&mut sources, main, &crate::source::MemoryLoader::default());
        let mut program = checked.program().expect("checks").clone();
        program.serves[0].min_replicas = 5;
        program.serves[0].canary = Some(120.0);
        let errors =
            crate::codegen::build(&program, &crate::codegen::BuildOptions::default()).expect_err("must refuse");
        let codes: Vec<&str> = errors.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["E0203", "E0203"], "{errors:?}");
        assert_eq!(errors[0].primary.span, program.serves[0].span);
        program.serves[0].max_replicas = 0;
        program.serves[0].canary = None;
        assert!(
            crate::codegen::build(&program, &crate::codegen::BuildOptions::default()).is_ok(),
            "max 0 means unbounded"
        );
        let _ = try_build_text;
    }
}
