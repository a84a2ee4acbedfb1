//! Property schemas: which properties each declaration kind accepts, their shapes, defaults and docs.
//!
//! This table is the single description of declaration bodies: the checker
//! validates against it, and hover, completion and `docs/LANGUAGE.md` read it.

use crate::ir::Ty;

/// What a property's value must look like.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Int {
        min: i64,
    },
    Float,
    Bool,
    String,
    Duration,
    Quantity,
    Cpu,
    /// A percentage in 0..=100.
    Percent,
    Enum(EnumSet),
    /// `cpu = 2` or `cpu = 2..4` (request..limit).
    CpuOrRange,
    QuantityOrRange,
    /// `procs_per_node`: an int ≥ 1 or `auto`.
    IntOrAuto,
    /// `replicas`: `N` or `lo..hi` with 0 ≤ lo ≤ hi.
    Replicas,
    /// A command line: scalars, unit values and artifacts.
    Run,
    Strings,
    Stages,
    Secrets,
    /// One `secret` declaration (`project.artifacts_secret`).
    Secret,
    /// Free-form keys (`env`, `labels`).
    FreeObject,
    /// A nested block with its own properties.
    Nested(Nested),
    /// `k8s { dotted.path = value }`, checked by the build against the target schema.
    K8sPatch,
    /// `metrics { name: type }`.
    Fields,
    Trial,
    Objective,
    Algorithm,
    EarlyStop,
    Space,
    Autoscale,
    ModelDecl,
    ServeDecl,
    /// `model.artifact = STAGE.OUTPUT`.
    Artifact,
    /// A `bool` expression evaluated at run time.
    Condition,
    /// A five-field cron expression.
    Cron,
    /// `node_selector { key = "value" }`: Kubernetes label keys and values.
    Labels,
    /// `[toleration(key = …, operator = …, value = …, effect = …)]`.
    Tolerations,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nested {
    Resources,
    Transformer,
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnumSet {
    Framework,
    Access,
    ServeRuntime,
    Protocol,
    RuleAction,
    PullPolicy,
    TolerationOperator,
    TaintEffect,
    Scrape,
}

impl EnumSet {
    pub fn name(self) -> &'static str {
        match self {
            EnumSet::Framework => "framework",
            EnumSet::Access => "access mode",
            EnumSet::ServeRuntime => "serving runtime",
            EnumSet::Protocol => "protocol",
            EnumSet::RuleAction => "rule action",
            EnumSet::PullPolicy => "pull policy",
            EnumSet::TolerationOperator => "toleration operator",
            EnumSet::TaintEffect => "taint effect",
            EnumSet::Scrape => "scrape object",
        }
    }

    pub fn values(self) -> &'static [&'static str] {
        match self {
            EnumSet::Framework => kfl_plan::Framework::NAMES,
            EnumSet::Access => kfl_plan::AccessMode::NAMES,
            EnumSet::ServeRuntime => kfl_plan::ServeRuntime::NAMES,
            EnumSet::Protocol => kfl_plan::Protocol::NAMES,
            EnumSet::RuleAction => kfl_plan::RuleAction::NAMES,
            EnumSet::PullPolicy => &["always", "if_not_present", "never"],
            EnumSet::TolerationOperator => &["equal", "exists"],
            EnumSet::TaintEffect => &["no_schedule", "prefer_no_schedule", "no_execute"],
            EnumSet::Scrape => crate::ir::Scrape::NAMES,
        }
    }

    /// Why a word that is not a value of the set is refused, when users may expect it to be one.
    pub fn refusal(self, word: &str) -> Option<&'static str> {
        match (self, word) {
            // codegen/scrape.rs, "A PodMonitor, not a ServiceMonitor".
            (EnumSet::Scrape, "service_monitor") => Some(
                "kfl emits a PodMonitor, which reaches the predictor pods in both KServe modes: no Service has \
                 Istio's port 15090 (Standard mode), and only Knative's per-revision private Services have the \
                 queue-proxy's 9091; write `scrape = pod_monitor`",
            ),
            _ => None,
        }
    }

    /// An enum value as Kubernetes spells it (`if_not_present` → `IfNotPresent`, `no_schedule` → `NoSchedule`).
    pub fn kubernetes(value: &str) -> String {
        value
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
            })
            .collect()
    }

    pub fn ty(self) -> Ty {
        Ty::Enum(self.name().to_string())
    }
}

/// One property of a declaration body.
#[derive(Debug)]
pub struct PropertySpec {
    pub name: &'static str,
    pub shape: Shape,
    pub required: bool,
    /// The value an omitted property has: the checker, the binder, codegen (through the IR), hover,
    /// completion and `docs/LANGUAGE.md` all read it here.
    pub default: Option<DefaultValue>,
    /// When a param written in this property takes its value.
    pub binding: Binding,
    pub doc: &'static str,
}

/// A property's default, as a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DefaultValue {
    Int(i64),
    Bool(bool),
    /// An enum value (`read_write_once`, `v2`) or a keyword (`auto`).
    Enum(&'static str),
    /// A call without arguments (`random()`).
    Call(&'static str),
    /// No value: the property's meaning when omitted (`next` for a model's version), shown in the docs only.
    Described(&'static str),
}

impl DefaultValue {
    /// The default as an IR value; `None` for a described default.
    pub fn value(self) -> Option<crate::ir::Value> {
        use crate::ir::{Call, Value};
        Some(match self {
            DefaultValue::Int(n) => Value::Int(n),
            DefaultValue::Bool(b) => Value::Bool(b),
            DefaultValue::Enum(name) => Value::Enum(name.to_string()),
            DefaultValue::Call(name) => Value::Call(Box::new(Call {
                name: name.to_string(),
                args: indexmap::IndexMap::new(),
                positional: Vec::new(),
            })),
            DefaultValue::Described(_) => return None,
        })
    }
}

impl std::fmt::Display for DefaultValue {
    /// As kfl source.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DefaultValue::Int(n) => write!(f, "{n}"),
            DefaultValue::Bool(b) => write!(f, "{b}"),
            DefaultValue::Enum(name) | DefaultValue::Described(name) => f.write_str(name),
            DefaultValue::Call(name) => write!(f, "{name}()"),
        }
    }
}

/// When a param in a property takes its value (see `ir::bind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// The value is needed when the manifests are written (a namespace, a replica count, a resource, a URI):
    /// the param's bound value (its default or `-p`) replaces it, and ranges are checked on that value.
    Build,
    /// The value is read when the stage runs (`run`, `env`, `when`, an artifact): the reference stays, and the
    /// compiled pipeline takes the param as a pipeline input.
    Run,
}

/// Properties evaluated at run time keep their params; every other one is bound at build time.
const fn binding_of(shape: Shape) -> Binding {
    match shape {
        Shape::Run | Shape::Condition | Shape::Artifact | Shape::FreeObject => Binding::Run,
        _ => Binding::Build,
    }
}

const fn prop(name: &'static str, shape: Shape, doc: &'static str) -> PropertySpec {
    PropertySpec { name, shape, required: false, default: None, binding: binding_of(shape), doc }
}

const fn required(name: &'static str, shape: Shape, doc: &'static str) -> PropertySpec {
    PropertySpec { name, shape, required: true, default: None, binding: binding_of(shape), doc }
}

const fn defaulted(name: &'static str, shape: Shape, default: DefaultValue, doc: &'static str) -> PropertySpec {
    PropertySpec { name, shape, required: false, default: Some(default), binding: binding_of(shape), doc }
}

impl PropertySpec {
    /// This property's params are bound at build time whatever its shape (`project.labels`: labels of manifests).
    const fn bound_at_build(self) -> PropertySpec {
        PropertySpec { binding: Binding::Build, ..self }
    }
}

pub const PROJECT: &[PropertySpec] = &[
    prop("namespace", Shape::String, "Kubernetes namespace of every generated object."),
    prop("image", Shape::String, "Default container image for stages and notebooks."),
    prop("registry", Shape::String, "URL of the Kubeflow Model Registry that `model` declarations register into."),
    prop("labels", Shape::FreeObject, "Labels added to every generated object.").bound_at_build(),
    prop(
        "artifacts",
        Shape::String,
        "Object-store prefix (`s3://`, `gs://`, `minio://`) for the cluster: the pipeline root of every run, and \
         where `kfl build` stages local dataset files (under `datasets/`, content-addressed). Without it they are \
         staged for KFP's default bucket (W0403) and KFP's configured pipeline root applies.",
    ),
    prop(
        "artifacts_secret",
        Shape::Secret,
        "The `secret` whose Kubernetes Secret holds the object store's key pair: keys `AWS_ACCESS_KEY_ID` and \
         `AWS_SECRET_ACCESS_KEY`, or KFP's `accesskey` and `secretkey`. `kfl apply` uploads staged datasets with it \
         (the keys read as environment variables first, else from the Secret). Without it, `kfl apply` reads \
         `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` from the environment, else, for `minio://`, KFP's \
         `mlpipeline-minio-artifact` Secret.",
    ),
    prop(
        "artifacts_endpoint",
        Shape::String,
        "The S3-compatible endpoint of the object store (`http://HOST:PORT` or `https://HOST`); `kfl apply \
         --artifacts-endpoint` overrides it. Defaults: KFP's MinIO `http://minio-service.kubeflow:9000` for \
         `minio://`, `https://s3.us-east-1.amazonaws.com` for `s3://` (write `https://s3.REGION.amazonaws.com` \
         for another region), `https://storage.googleapis.com` (HMAC keys) for `gs://`.",
    ),
    defaulted(
        "gpu_type_label",
        Shape::String,
        DefaultValue::Described(GPU_TYPE_LABEL),
        "The node label whose value `gpu_type` selects (e.g. `nvidia.com/gpu.product` with NVIDIA's GPU feature \
         discovery).",
    ),
    prop(
        "launcher_image",
        Shape::String,
        "Image with the `kfl` binary that the pipeline's launcher tasks, the retraining CronJob and the retrain \
         receiver run (`kfl build --launcher-image` overrides it); `ghcr.io/kfl-dev/kfl:VERSION` of this kfl when \
         omitted. Build it from `cli/launcher.Dockerfile`.",
    ),
    prop(
        "service_account",
        Shape::String,
        "An existing ServiceAccount the pipeline's runs execute as (start runs with it; retraining does): the \
         emitted Role granting what `kfl launch` needs is bound to it. When omitted, the Role is bound to KFP's \
         default run accounts `default-editor` (Kubeflow profiles) and `pipeline-runner` (standalone KFP).",
    ),
    prop(
        "kfp",
        Shape::String,
        "URL of the Kubeflow Pipelines endpoint (`https://HOST/pipeline` through Kubeflow's gateway, or the \
         Pipelines UI) that `kfl apply` uploads the pipeline to and starts a run in; `--kfp` overrides it.",
    ),
];

/// The node label `gpu_type` selects on when the project names none: GKE's accelerator label, whose values
/// are the GPU names `gpu_type` takes (`nvidia-h100-80gb`, `nvidia-l4`; GKE docs, "About GPUs in GKE").
pub const GPU_TYPE_LABEL: &str = "cloud.google.com/gke-accelerator";

/// Where the pods of a `step`, `train` (and so a tune's trials), `serve` or `notebook` run and which
/// credentials they pull with; written in `project`, each is the default of every such declaration, whose own
/// value replaces it. `docs/TARGETS.md` says where each lands per target.
pub const SCHEDULING: &[PropertySpec] = &[
    prop("node_selector", Shape::Labels, "Node labels the pods must match: `node_selector { pool = \"gpu\" }`."),
    prop(
        "tolerations",
        Shape::Tolerations,
        "Taints the pods tolerate: `[toleration(key = \"gpu\", operator = exists, effect = no_schedule)]`.",
    ),
    prop(
        "gpu_type",
        Shape::String,
        "GPU model the pods need (e.g. `\"nvidia-h100-80gb\"`): a node selector on the project's `gpu_type_label`; \
         needs `gpu` (a project default applies to declarations with `gpu`).",
    ),
    prop(
        "gpu_resource",
        Shape::String,
        "Extended resource `gpu` counts (default `nvidia.com/gpu`; e.g. `\"amd.com/gpu\"`); needs `gpu`.",
    ),
    prop("queue", Shape::String, "Kueue LocalQueue of the pods' workload (label `kueue.x-k8s.io/queue-name`)."),
    prop("priority_class", Shape::String, "PriorityClass of the pods (`priorityClassName`)."),
    prop("image_pull_secrets", Shape::Strings, "Names of Kubernetes Secrets used to pull the images."),
    prop("image_pull_policy", Shape::Enum(EnumSet::PullPolicy), "When the kubelet pulls the image."),
];

/// The pods' own identity: per declaration only (the project's service account is the pipeline's).
pub const POD_IDENTITY: &[PropertySpec] =
    &[prop("service_account", Shape::String, "ServiceAccount the pods of this declaration run as.")];

/// The tables of each body that holds scheduling properties, for the checker, hover and completion.
pub const PROJECT_SPECS: &[&[PropertySpec]] = &[PROJECT, SCHEDULING];
pub const STEP_SPECS: &[&[PropertySpec]] = &[STAGE_COMMON, SCHEDULING, POD_IDENTITY];
pub const TRAIN_SPECS: &[&[PropertySpec]] = &[STAGE_COMMON, TRAIN_EXTRA, SCHEDULING, POD_IDENTITY];
pub const NOTEBOOK_SPECS: &[&[PropertySpec]] = &[NOTEBOOK, SCHEDULING, POD_IDENTITY];
pub const SERVE_SPECS: &[&[PropertySpec]] = &[SERVE, SCHEDULING, POD_IDENTITY];

/// `toleration(…)`'s arguments: (name, what it takes). Kubernetes' rules between them are checked in
/// `typeck/scheduling.rs`.
pub const TOLERATION_ARGS: &[(&str, &str)] = &[
    ("key", "a taint key (a label key); omitted with `exists`, it tolerates every taint"),
    ("operator", "`equal` (default) or `exists`"),
    ("value", "the taint's value; not with `exists`"),
    ("effect", "`no_schedule`, `prefer_no_schedule` or `no_execute`; omitted, every effect"),
    ("evict_after", "with `no_execute`: how long the pod stays once tainted (`tolerationSeconds`)"),
];

pub const SECRET: &[PropertySpec] = &[
    required("k8s", Shape::String, "Name of the Kubernetes Secret; locally the keys are read from the environment."),
    prop("keys", Shape::Strings, "Keys of the Secret exposed as environment variables."),
];

pub const VOLUME: &[PropertySpec] = &[
    required("size", Shape::Quantity, "Requested storage, e.g. `10Gi`."),
    defaulted(
        "access",
        Shape::Enum(EnumSet::Access),
        DefaultValue::Enum(DEFAULT_ACCESS.name()),
        "Access mode of the PersistentVolumeClaim.",
    ),
    prop("class", Shape::String, "StorageClass name; the cluster default when omitted."),
];

pub const DATASET: &[PropertySpec] = &[
    required(
        "uri",
        Shape::String,
        "A path relative to the file, or an `s3://`, `gs://`, `hf://` or `pvc://VOLUME/path` URI.",
    ),
    prop("description", Shape::String, "What the data is."),
];

pub const NOTEBOOK: &[PropertySpec] = &[
    prop("image", Shape::String, "Notebook server image; the project's image when omitted."),
    prop("cpu", Shape::CpuOrRange, "CPU request (= limit), or `request..limit`."),
    prop("memory", Shape::QuantityOrRange, "Memory request (= limit), or `request..limit`."),
    prop("gpu", Shape::Int { min: 0 }, "Number of GPUs (`gpu_resource`, `nvidia.com/gpu` by default)."),
    prop("resources", Shape::Nested(Nested::Resources), "`cpu`, `memory` and `gpu` grouped."),
    prop("env", Shape::FreeObject, "Environment variables."),
    prop("secrets", Shape::Secrets, "Secrets exposed to the notebook server as environment variables."),
    prop("k8s", Shape::K8sPatch, "A patch merged into the generated Notebook."),
];

/// Properties shared by `component`, `step` and `train` bodies.
pub const STAGE_COMMON: &[PropertySpec] = &[
    prop("image", Shape::String, "Container image; the project's image when omitted."),
    required("run", Shape::Run, "Command and arguments; artifacts become paths, scalars their values."),
    prop("env", Shape::FreeObject, "Environment variables."),
    prop("metrics", Shape::Fields, "Metrics printed on stdout as `name=value` lines (Katib's StdOut format)."),
    prop("cpu", Shape::CpuOrRange, "CPU request (= limit), or `request..limit`."),
    prop("memory", Shape::QuantityOrRange, "Memory request (= limit), or `request..limit`."),
    prop("gpu", Shape::Int { min: 0 }, "Number of GPUs (`gpu_resource`, `nvidia.com/gpu` by default)."),
    prop("resources", Shape::Nested(Nested::Resources), "`cpu`, `memory` and `gpu` grouped."),
    defaulted(
        "retries",
        Shape::Int { min: 0 },
        DefaultValue::Int(0),
        "Retries after a failure, with exponential backoff.",
    ),
    prop("timeout", Shape::Duration, "Kill the stage after this long."),
    defaulted(
        "cache",
        Shape::Bool,
        DefaultValue::Bool(true),
        "Reuse outputs when command, inputs, params, env and image are unchanged.",
    ),
    prop("after", Shape::Stages, "Stages that must finish first, besides data dependencies."),
    prop("when", Shape::Condition, "Run only when this is true; skipped otherwise (and so are dependants)."),
    defaulted(
        "always",
        Shape::Bool,
        DefaultValue::Bool(false),
        "Run even when upstream stages failed (an exit handler).",
    ),
    prop("secrets", Shape::Secrets, "Secrets exposed to the process as environment variables."),
    prop("local", Shape::Nested(Nested::Local), "Overrides used by `kfl run` only (e.g. a different `run`)."),
    prop("k8s", Shape::K8sPatch, "A patch merged into the generated manifest."),
];

pub const TRAIN_EXTRA: &[PropertySpec] = &[
    required("framework", Shape::Enum(EnumSet::Framework), "Training framework; picks the Trainer runtime."),
    defaulted("nodes", Shape::Int { min: 1 }, DefaultValue::Int(1), "Number of nodes (`numNodes`)."),
    defaulted("procs_per_node", Shape::IntOrAuto, DefaultValue::Enum("auto"), "Processes per node (`numProcPerNode`)."),
    prop(
        "runtime",
        Shape::String,
        "ClusterTrainingRuntime name; default: the one Trainer ships for the framework (`mpi`, `tensorflow` and `custom` have none: required).",
    ),
];

pub const TUNE: &[PropertySpec] = &[
    required("trial", Shape::Trial, "The `train` or `step` whose inputs are searched."),
    required("objective", Shape::Objective, "`maximize(METRIC)` or `minimize(METRIC)` over the trial's metrics."),
    prop("goal", Shape::Float, "Stop the search when the objective reaches this value."),
    defaulted("algorithm", Shape::Algorithm, DefaultValue::Call(DEFAULT_ALGORITHM.name()), "Search algorithm."),
    defaulted("trials", Shape::Int { min: 1 }, DefaultValue::Int(10), "Maximum number of trials (`maxTrialCount`)."),
    defaulted("parallel", Shape::Int { min: 1 }, DefaultValue::Int(1), "Trials run at once (`parallelTrialCount`)."),
    prop("max_failed", Shape::Int { min: 0 }, "Abort after this many failed trials; default `trials`."),
    prop("early_stop", Shape::EarlyStop, "`median(min_trials = N, start_step = S)`."),
    prop("space", Shape::Space, "The searched inputs and their distributions."),
    prop("after", Shape::Stages, "Stages that must finish first."),
    prop("when", Shape::Condition, "Run only when this is true."),
    prop("k8s", Shape::K8sPatch, "A patch merged into the generated Katib Experiment."),
];

pub const MODEL: &[PropertySpec] = &[
    prop("artifact", Shape::Artifact, "The stage output holding the model (exactly one of `artifact`, `uri`)."),
    prop("uri", Shape::String, "An existing model's URI (exactly one of `artifact`, `uri`)."),
    prop("format", Shape::String, "Model format, e.g. `\"sklearn\"`, `\"onnx\"`."),
    defaulted("version", Shape::String, DefaultValue::Described("next"), "Version; the next one when omitted."),
    prop("description", Shape::String, "What the model is."),
    prop("labels", Shape::FreeObject, "Labels stored with the version."),
    prop("when", Shape::Condition, "Register only when this is true."),
    prop("after", Shape::Stages, "Stages that must finish first."),
];

pub const SERVE: &[PropertySpec] = &[
    required("model", Shape::ModelDecl, "The `model` declaration to serve."),
    required("runtime", Shape::Enum(EnumSet::ServeRuntime), "Serving runtime (model format), or `custom` with `run`."),
    prop("image", Shape::String, "Image of a custom predictor; the project's image when omitted."),
    prop("run", Shape::Run, "Custom predictor command; `model_dir` and `port` are in scope."),
    prop("args", Shape::Run, "Extra arguments for a built-in runtime's server."),
    defaulted(
        "protocol",
        Shape::Enum(EnumSet::Protocol),
        DefaultValue::Described("the first its KServe runtime serves: v2; v1 for tensorflow"),
        "Inference protocol.",
    ),
    defaulted(
        "replicas",
        Shape::Replicas,
        DefaultValue::Described("1, with no upper bound on the cluster"),
        "`N`, or `lo..hi` for autoscaling (`0..N` scales to zero).",
    ),
    prop("autoscale", Shape::Autoscale, "`concurrency(N)`, `rps(N)`, `cpu(P%)` or `memory(P%)`."),
    prop("canary", Shape::Percent, "Share of traffic for the newest version."),
    prop("transformer", Shape::Nested(Nested::Transformer), "A pre/post-processing container `{ image, run }`."),
    prop("env", Shape::FreeObject, "Environment variables of the predictor."),
    prop("cpu", Shape::CpuOrRange, "CPU request (= limit), or `request..limit`."),
    prop("memory", Shape::QuantityOrRange, "Memory request (= limit), or `request..limit`."),
    prop("gpu", Shape::Int { min: 0 }, "Number of GPUs (`gpu_resource`, `nvidia.com/gpu` by default)."),
    prop("resources", Shape::Nested(Nested::Resources), "`cpu`, `memory` and `gpu` grouped."),
    prop("local", Shape::Nested(Nested::Local), "Overrides used by `kfl run`/`kfl serve` only."),
    prop("k8s", Shape::K8sPatch, "A patch merged into the generated InferenceService."),
];

pub const MONITOR: &[PropertySpec] = &[
    required("service", Shape::ServeDecl, "The `serve` to watch."),
    prop("schedule", Shape::Cron, "Periodic retraining, as a cron expression."),
    defaulted(
        "scrape",
        Shape::Enum(EnumSet::Scrape),
        DefaultValue::Enum(crate::ir::Scrape::None.name()),
        "`pod_monitor`: also emit the PodMonitor that has Prometheus scrape the serve's request metrics.",
    ),
];

pub const RULE: &[PropertySpec] = &[
    required("when", Shape::Condition, "Condition over `error_rate`, `latency_p50|p95|p99`, `requests_per_second`."),
    prop("for", Shape::Duration, "How long the condition must hold."),
    required("then", Shape::Enum(EnumSet::RuleAction), "`alert` or `retrain` (reruns this file's pipeline)."),
];

pub const RESOURCES: &[PropertySpec] = &[
    prop("cpu", Shape::CpuOrRange, "CPU request (= limit), or `request..limit`."),
    prop("memory", Shape::QuantityOrRange, "Memory request (= limit), or `request..limit`."),
    prop("gpu", Shape::Int { min: 0 }, "Number of GPUs (`gpu_resource`, `nvidia.com/gpu` by default)."),
];

pub const TRANSFORMER: &[PropertySpec] = &[
    prop("image", Shape::String, "Transformer image; the project's image when omitted."),
    required("run", Shape::Run, "Transformer command."),
    prop("env", Shape::FreeObject, "Environment variables."),
    prop("resources", Shape::Nested(Nested::Resources), "`cpu`, `memory` and `gpu`."),
];

pub const LOCAL: &[PropertySpec] = &[
    prop("run", Shape::Run, "The command `kfl run` uses instead of `run`."),
    prop("env", Shape::FreeObject, "Extra environment variables for local runs."),
];

pub fn nested(nested: Nested) -> &'static [PropertySpec] {
    match nested {
        Nested::Resources => RESOURCES,
        Nested::Transformer => TRANSFORMER,
        Nested::Local => LOCAL,
    }
}

/// The names in scope in a serve's `run` and `args`, which each replica fills in.
pub use kfl_plan::ServeBuiltin;

/// A serve built-in's type: the model folder is a path string, the port a number.
pub fn serve_builtin_ty(builtin: ServeBuiltin) -> Ty {
    match builtin {
        ServeBuiltin::ModelDir => Ty::String,
        ServeBuiltin::Port => Ty::Int,
    }
}

/// The serving metrics in scope inside `monitor` rules.
pub use kfl_plan::ServingMetric;

/// A serving metric's type in a rule: the error rate is a percentage, latencies are durations.
pub fn serving_metric_ty(metric: ServingMetric) -> Ty {
    match metric {
        ServingMetric::ErrorRate => Ty::Percent,
        ServingMetric::LatencyP50 | ServingMetric::LatencyP95 | ServingMetric::LatencyP99 => Ty::Duration,
        ServingMetric::RequestsPerSecond => Ty::Float,
    }
}

/// The search-algorithm table lives in `kfl-plan`, which the runtime's search reads too.
pub use kfl_plan::algorithms::{
    ALGORITHMS, ArgSpec, ArgTy, EARLY_STOP, EarlyStopAlgorithm, HYPERBAND_ETA, Katib, SEED, SearchAlgorithm,
};

/// A volume's `access` when it writes none.
pub const DEFAULT_ACCESS: kfl_plan::AccessMode = kfl_plan::AccessMode::ReadWriteOnce;

/// A tune's `algorithm` when it writes none.
pub const DEFAULT_ALGORITHM: SearchAlgorithm = SearchAlgorithm::Random;

/// Parameters of a call that names an output or input: `objective`'s `maximize(accuracy)`.
pub const OBJECTIVES: &[&str] = &["maximize", "minimize"];

/// The property tables as Markdown, for `docs/LANGUAGE.md` (a test keeps the doc current).
pub fn reference_markdown() -> String {
    let sections: &[(&str, &[&[PropertySpec]])] = &[
        ("project", &[PROJECT]),
        ("secret", &[SECRET]),
        ("volume", &[VOLUME]),
        ("dataset", &[DATASET]),
        ("notebook", &[NOTEBOOK]),
        ("step / component", &[STAGE_COMMON]),
        ("train (adds to step)", &[TRAIN_EXTRA]),
        ("tune", &[TUNE]),
        ("model", &[MODEL]),
        ("serve", &[SERVE]),
        ("monitor", &[MONITOR]),
        ("rule (inside monitor)", &[RULE]),
        ("resources", &[RESOURCES]),
        ("transformer (inside serve)", &[TRANSFORMER]),
        ("local (inside step, train, serve)", &[LOCAL]),
        ("scheduling (step, train, serve, notebook; defaults in project)", &[SCHEDULING]),
        ("pod identity (step, train, serve, notebook)", &[POD_IDENTITY]),
    ];
    let mut out = String::new();
    for (title, tables) in sections {
        out.push_str(&format!(
            "### `{title}`\n\n| property | type | required | default | meaning |\n|---|---|---|---|---|\n"
        ));
        for spec in tables.iter().flat_map(|t| t.iter()) {
            let required = if spec.required { "yes" } else { "" };
            let default = spec.default.map(|d| format!("`{d}`")).unwrap_or_default();
            out.push_str(&format!(
                "| `{}` | {} | {required} | {default} | {} |\n",
                spec.name,
                shape_name(spec.shape),
                spec.doc.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    out
}

/// What a property naming one declaration takes (`ModelDecl`, `ServeDecl`, `Secret`): its type, the
/// declaration's keyword, and the hint when something else stands there.
pub fn named_declaration(shape: Shape) -> (Ty, &'static str, &'static str) {
    match shape {
        Shape::ModelDecl => {
            (Ty::ModelDecl, "model", "register the artifact with `model NAME { artifact = … }` and serve that name")
        }
        Shape::ServeDecl => (Ty::ServeDecl, "serve", "name a `serve` declaration"),
        _ => (
            Ty::SecretDecl,
            "secret",
            "declare the Secret with `secret NAME { k8s = \"…\" keys = [\"AWS_ACCESS_KEY_ID\", \
             \"AWS_SECRET_ACCESS_KEY\"] }` and name it here",
        ),
    }
}

/// A shape as the reference names it.
pub fn shape_name(shape: Shape) -> String {
    match shape {
        Shape::Int { min } => format!("int ≥ {min}"),
        Shape::Float => "float".into(),
        Shape::Bool => "bool".into(),
        Shape::String => "string".into(),
        Shape::Duration => "duration".into(),
        Shape::Quantity => "quantity".into(),
        Shape::Cpu => "cpu".into(),
        Shape::Percent => "percent (0–100%)".into(),
        Shape::Enum(set) => set.values().join(" \\| "),
        Shape::CpuOrRange => "cpu or cpu..cpu".into(),
        Shape::QuantityOrRange => "quantity or quantity..quantity".into(),
        Shape::IntOrAuto => "int ≥ 1 or `auto`".into(),
        Shape::Replicas => "int or int..int".into(),
        Shape::Run => "list of scalars/artifacts".into(),
        Shape::Strings => "list[string]".into(),
        Shape::Stages => "list of stages".into(),
        Shape::Secrets => "list of secrets".into(),
        Shape::Secret => "secret declaration".into(),
        Shape::FreeObject => "object".into(),
        Shape::Nested(_) => "block".into(),
        Shape::K8sPatch => "`k8s` patch".into(),
        Shape::Fields => "`{ name: type }`".into(),
        Shape::Trial => "step or train".into(),
        Shape::Objective => "`maximize(m)` \\| `minimize(m)`".into(),
        Shape::Algorithm => ALGORITHMS.iter().map(|(n, _, _)| format!("`{n}()`")).collect::<Vec<_>>().join(" \\| "),
        Shape::EarlyStop => "`median(min_trials, start_step)`".into(),
        Shape::Space => "`{ PARAM = distribution }`".into(),
        Shape::Autoscale => "`concurrency(n)` \\| `rps(n)` \\| `cpu(p%)` \\| `memory(p%)`".into(),
        Shape::ModelDecl => "model declaration".into(),
        Shape::ServeDecl => "serve declaration".into(),
        Shape::Artifact => "stage output (Model/Dataset/Artifact)".into(),
        Shape::Condition => "bool expression".into(),
        Shape::Cron => "cron string".into(),
        Shape::Labels => "`{ label = \"value\" }`".into(),
        Shape::Tolerations => "list of `toleration(…)`".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_has_a_doc_and_unique_name() {
        for table in [
            PROJECT,
            SECRET,
            VOLUME,
            DATASET,
            NOTEBOOK,
            STAGE_COMMON,
            TRAIN_EXTRA,
            TUNE,
            MODEL,
            SERVE,
            MONITOR,
            RULE,
            RESOURCES,
            TRANSFORMER,
            LOCAL,
            SCHEDULING,
            POD_IDENTITY,
        ] {
            for (i, spec) in table.iter().enumerate() {
                assert!(!spec.doc.is_empty(), "{} has no doc", spec.name);
                assert!(table[i + 1..].iter().all(|o| o.name != spec.name), "{} twice", spec.name);
            }
        }
    }
}
