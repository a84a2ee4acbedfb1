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
}

impl EnumSet {
    pub fn name(self) -> &'static str {
        match self {
            EnumSet::Framework => "framework",
            EnumSet::Access => "access mode",
            EnumSet::ServeRuntime => "serving runtime",
            EnumSet::Protocol => "protocol",
            EnumSet::RuleAction => "rule action",
        }
    }

    pub fn values(self) -> &'static [&'static str] {
        match self {
            EnumSet::Framework => &["torch", "deepspeed", "jax", "tensorflow", "mpi", "mlx", "xgboost", "custom"],
            EnumSet::Access => &["read_write_once", "read_only_many", "read_write_many", "read_write_once_pod"],
            EnumSet::ServeRuntime => {
                &["sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow", "onnx", "triton", "huggingface", "custom"]
            }
            EnumSet::Protocol => &["v1", "v2"],
            EnumSet::RuleAction => &["alert", "retrain"],
        }
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
        "kfp",
        Shape::String,
        "URL of the Kubeflow Pipelines endpoint (`https://HOST/pipeline` through Kubeflow's gateway, or the \
         Pipelines UI) that `kfl apply` uploads the pipeline to and starts a run in; `--kfp` overrides it.",
    ),
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
        DefaultValue::Enum("read_write_once"),
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
    prop("gpu", Shape::Int { min: 0 }, "Number of `nvidia.com/gpu`."),
    prop("resources", Shape::Nested(Nested::Resources), "`cpu`, `memory` and `gpu` grouped."),
    prop("env", Shape::FreeObject, "Environment variables."),
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
    prop("gpu", Shape::Int { min: 0 }, "Number of `nvidia.com/gpu`."),
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
    defaulted("algorithm", Shape::Algorithm, DefaultValue::Call("random"), "Search algorithm."),
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
    prop("gpu", Shape::Int { min: 0 }, "Number of `nvidia.com/gpu`."),
    prop("resources", Shape::Nested(Nested::Resources), "`cpu`, `memory` and `gpu` grouped."),
    prop("local", Shape::Nested(Nested::Local), "Overrides used by `kfl run`/`kfl serve` only."),
    prop("k8s", Shape::K8sPatch, "A patch merged into the generated InferenceService."),
];

pub const MONITOR: &[PropertySpec] = &[
    required("service", Shape::ServeDecl, "The `serve` to watch."),
    prop("schedule", Shape::Cron, "Periodic retraining, as a cron expression."),
];

pub const RULE: &[PropertySpec] = &[
    required("when", Shape::Condition, "Condition over `error_rate`, `latency_p50|p95|p99`, `requests_per_second`."),
    prop("for", Shape::Duration, "How long the condition must hold."),
    required("then", Shape::Enum(EnumSet::RuleAction), "`alert` or `retrain` (reruns this file's pipeline)."),
];

pub const RESOURCES: &[PropertySpec] = &[
    prop("cpu", Shape::CpuOrRange, "CPU request (= limit), or `request..limit`."),
    prop("memory", Shape::QuantityOrRange, "Memory request (= limit), or `request..limit`."),
    prop("gpu", Shape::Int { min: 0 }, "Number of `nvidia.com/gpu`."),
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

/// Serving metrics in scope inside `monitor` rules.
pub const SERVING_METRICS: &[(&str, Ty)] = &[
    ("error_rate", Ty::Percent),
    ("latency_p50", Ty::Duration),
    ("latency_p95", Ty::Duration),
    ("latency_p99", Ty::Duration),
    ("requests_per_second", Ty::Float),
];

/// An argument of a call a property gives meaning to.
#[derive(Debug)]
pub struct ArgSpec {
    pub name: &'static str,
    pub ty: ArgTy,
    pub required: bool,
    /// What the Katib suggestion service serving the algorithm calls it (`katib.rs` emits it under that name).
    pub katib: Katib,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgTy {
    Int {
        min: i64,
    },
    Float,
    /// A float strictly between 0 and 1.
    Fraction,
    /// A searched parameter of the trial (hyperband's `resource`).
    SearchedParam,
    Percent,
}

/// How an argument reaches Katib's suggestion service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Katib {
    /// An `algorithmSettings` entry of this name.
    Setting(&'static str),
    /// Hyperband's resource: `resource_name` and `r_l` (the upper bound of the searched parameter).
    Resource,
    /// The service has no such setting and refuses unknown ones: the checker refuses the argument with this
    /// reason, so `kfl run` and the cluster search the same way.
    Refused(&'static str),
}

const fn arg(name: &'static str, ty: ArgTy, katib: &'static str) -> ArgSpec {
    ArgSpec { name, ty, required: false, katib: Katib::Setting(katib) }
}

const fn refused(name: &'static str, ty: ArgTy, why: &'static str) -> ArgSpec {
    ArgSpec { name, ty, required: false, katib: Katib::Refused(why) }
}

/// `seed` of every algorithm that does not list its own (`random_state` in every Katib service that has one).
pub const SEED: ArgSpec = arg("seed", ArgTy::Int { min: 0 }, "random_state");

/// Algorithms, their Katib `algorithmName`, and their optional arguments (every one accepts `seed` unless it
/// lists its own). The settings each Katib v0.19.0 suggestion service validates (it refuses any other):
/// - hyperopt (`random`, `tpe`): `pkg/suggestion/v1beta1/hyperopt/service.py` — `random_state`, and for tpe
///   `gamma` in (0, 1), `prior_weight` > 0, `n_EI_candidates` > 0;
/// - optuna (`grid`): `pkg/suggestion/v1beta1/optuna/service.py` — `random_state`;
/// - skopt (`bayesianoptimization`): `pkg/suggestion/v1beta1/skopt/service.py` — `n_initial_points`,
///   `random_state` (and estimator choices kfl does not expose);
/// - goptuna (`cmaes`, `sobol`): `pkg/suggestion/v1beta1/goptuna/converter.go` — `sigma`, `random_state`;
/// - hyperband: `pkg/suggestion/v1beta1/hyperband/service.py` — `r_l`, `resource_name`, `eta`; no seed.
pub const ALGORITHMS: &[(&str, &str, &[ArgSpec])] = &[
    ("random", "random", &[]),
    ("grid", "grid", &[]),
    (
        "tpe",
        "tpe",
        &[
            refused(
                "startup_trials",
                ArgTy::Int { min: 1 },
                "Katib's tpe (the hyperopt service, v0.19.0) has no setting for its random start-up trials and \
                 refuses unknown settings",
            ),
            arg("candidates", ArgTy::Int { min: 1 }, "n_EI_candidates"),
            arg("gamma", ArgTy::Fraction, "gamma"),
            arg("prior_weight", ArgTy::Float, "prior_weight"),
        ],
    ),
    ("bayesian", "bayesianoptimization", &[arg("initial_points", ArgTy::Int { min: 1 }, "n_initial_points")]),
    (
        "cmaes",
        "cmaes",
        &[
            arg("sigma", ArgTy::Float, "sigma"),
            refused(
                "population",
                ArgTy::Int { min: 2 },
                "Katib's cmaes (the goptuna service, v0.19.0) has no population setting",
            ),
        ],
    ),
    (
        "hyperband",
        "hyperband",
        &[
            ArgSpec { name: "resource", ty: ArgTy::SearchedParam, required: true, katib: Katib::Resource },
            arg("eta", ArgTy::Int { min: 2 }, "eta"),
            refused(
                "seed",
                ArgTy::Int { min: 0 },
                "Katib's hyperband service (v0.19.0) samples without a seed, so a seeded search could not be \
                 repeated on the cluster",
            ),
        ],
    ),
    ("sobol", "sobol", &[]),
];

/// Hyperband's `eta` when omitted (the hyperband service's default, `service.py`).
pub const HYPERBAND_ETA: i64 = 3;

pub const EARLY_STOP: &[(&str, &str, &[ArgSpec])] = &[(
    "median",
    "medianstop",
    &[
        arg("min_trials", ArgTy::Int { min: 1 }, "min_trials_required"),
        arg("start_step", ArgTy::Int { min: 1 }, "start_step"),
    ],
)];

pub const AUTOSCALE: &[&str] = &["concurrency", "rps", "cpu", "memory"];

pub const DISTRIBUTIONS: &[&str] = &["uniform", "loguniform", "normal", "lognormal", "quniform", "randint", "choice"];

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
        ] {
            for (i, spec) in table.iter().enumerate() {
                assert!(!spec.doc.is_empty(), "{} has no doc", spec.name);
                assert!(table[i + 1..].iter().all(|o| o.name != spec.name), "{} twice", spec.name);
            }
        }
    }
}
