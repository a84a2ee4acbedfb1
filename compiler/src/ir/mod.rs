//! The lowered, fully typed model of a file that back ends consume; no AST types leak into it.

pub mod bind;
pub mod graph;
mod ty;
mod value;

pub use ty::Ty;
pub use value::*;

use indexmap::IndexMap;

use crate::source::Span;

/// One checked `.kfl` file, with components instantiated and defaults applied.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Program {
    /// The file's display name (relative path).
    pub file: String,
    pub doc: Option<String>,
    pub project: Option<Project>,
    pub params: Vec<Param>,
    pub secrets: Vec<Secret>,
    pub volumes: Vec<Volume>,
    pub datasets: Vec<Dataset>,
    pub notebooks: Vec<Notebook>,
    /// Steps and trains, including trial templates (`trial_of`) and stages inside `for`.
    pub stages: Vec<Stage>,
    pub tunes: Vec<Tune>,
    pub models: Vec<Model>,
    pub serves: Vec<Serve>,
    pub monitors: Vec<Monitor>,
    pub loops: Vec<Loop>,
    pub graph: graph::Graph,
    /// Every param's value after its default and `-p` (the binding stage's result).
    #[serde(skip)]
    pub bindings: bind::Bindings,
    /// Name → position indexes, built on first lookup (back ends look names
    /// up once per reference; a linear search made large builds quadratic).
    #[serde(skip)]
    pub lookup: std::sync::OnceLock<Lookup>,
}

/// Positions of declarations by name, for [`Program::stage`] and friends.
#[derive(Clone, Debug, Default)]
pub struct Lookup {
    stages: std::collections::HashMap<String, usize>,
    tunes: std::collections::HashMap<String, usize>,
    models: std::collections::HashMap<String, usize>,
    serves: std::collections::HashMap<String, usize>,
    monitors: std::collections::HashMap<String, usize>,
}

impl Program {
    fn lookup(&self) -> &Lookup {
        self.lookup.get_or_init(|| {
            fn index<'a>(names: impl Iterator<Item = &'a String>) -> std::collections::HashMap<String, usize> {
                let mut map = std::collections::HashMap::new();
                for (i, name) in names.enumerate() {
                    map.entry(name.clone()).or_insert(i);
                }
                map
            }
            Lookup {
                stages: index(self.stages.iter().map(|s| &s.name)),
                tunes: index(self.tunes.iter().map(|t| &t.name)),
                models: index(self.models.iter().map(|m| &m.name)),
                serves: index(self.serves.iter().map(|s| &s.name)),
                monitors: index(self.monitors.iter().map(|m| &m.name)),
            }
        })
    }

    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.lookup().stages.get(name).map(|i| &self.stages[*i])
    }

    pub fn tune(&self, name: &str) -> Option<&Tune> {
        self.lookup().tunes.get(name).map(|i| &self.tunes[*i])
    }

    pub fn model(&self, name: &str) -> Option<&Model> {
        self.lookup().models.get(name).map(|i| &self.models[*i])
    }

    pub fn serve(&self, name: &str) -> Option<&Serve> {
        self.lookup().serves.get(name).map(|i| &self.serves[*i])
    }

    pub fn monitor(&self, name: &str) -> Option<&Monitor> {
        self.lookup().monitors.get(name).map(|i| &self.monitors[*i])
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Project {
    pub name: String,
    pub namespace: Option<String>,
    pub image: Option<String>,
    pub registry: Option<String>,
    pub labels: IndexMap<String, Value>,
    /// `artifacts`: the object-store prefix of the pipeline root and of staged local datasets.
    pub artifacts: Option<String>,
    /// `artifacts_secret`: the `secret` holding the object store's key pair, resolved (left out of dumps when
    /// unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifacts_secret: Option<ArtifactsSecret>,
    /// `artifacts_endpoint`: the object store's S3-compatible endpoint URL (left out of dumps when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifacts_endpoint: Option<String>,
    /// `gpu_type_label` as written (`schema::GPU_TYPE_LABEL` when not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_type_label: Option<String>,
    /// The scheduling defaults of every stage, notebook and serve (already applied to them).
    #[serde(skip_serializing_if = "Scheduling::is_empty")]
    pub scheduling: Scheduling,
    /// `launcher_image`: the image of `kfl launch` tasks, the retraining CronJob and the retrain receiver.
    pub launcher_image: Option<String>,
    /// `service_account`: an existing ServiceAccount the pipeline's runs execute as (none is emitted).
    pub service_account: Option<String>,
    /// `kfp`: the Kubeflow Pipelines endpoint `kfl apply` uploads the pipeline to (left out of dumps when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kfp: Option<String>,
}

/// The `secret` `project.artifacts_secret` names: its Kubernetes Secret and the key pair it holds (one of
/// `staging::KEY_PAIRS`; the checker refuses a secret without one).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ArtifactsSecret {
    pub secret: String,
    pub k8s_name: String,
    pub access_key_key: String,
    pub secret_key_key: String,
}

/// Where pods run and what they pull with (`schema::SCHEDULING`, `service_account`), after the project's
/// defaults; `gpu_type` is also in `node_selector` under the project's `gpu_type_label`, and `gpu_resource` is
/// in the declaration's `Resources`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Scheduling {
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub node_selector: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<String>,
    /// One of the `image_pull_policy` enum values (`if_not_present`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    /// The `node_selector` key `gpu_type` added (the project's `gpu_type_label`): a serve's transformer
    /// without GPUs leaves it out.
    #[serde(skip)]
    pub gpu_label: Option<String>,
    /// Where each property written was written: on the declaration, or in `project` (`inherited`).
    #[serde(skip)]
    pub written: IndexMap<&'static str, Written>,
}

impl Scheduling {
    pub fn is_empty(&self) -> bool {
        self.node_selector.is_empty()
            && self.tolerations.is_empty()
            && self.gpu_type.is_none()
            && self.queue.is_none()
            && self.priority_class.is_none()
            && self.service_account.is_none()
            && self.image_pull_secrets.is_empty()
            && self.image_pull_policy.is_none()
    }
}

/// Where a scheduling property's value was written.
#[derive(Clone, Copy, Debug)]
pub struct Written {
    pub span: Span,
    /// The project's default, not the declaration's own value.
    pub inherited: bool,
}

/// `toleration(…)`, with enum values as written (`exists`, `no_schedule`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Toleration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub operator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evict_after: Option<Duration>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Param {
    pub name: String,
    pub doc: Option<String>,
    pub ty: Ty,
    pub default: Option<Value>,
    /// Whether a value read when a stage runs refers to it (`run`, `env`, `when`, …); a param read only by
    /// properties bound at build time is not a pipeline input, so a run cannot change it.
    #[serde(skip)]
    pub read_at_run_time: bool,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Secret {
    pub name: String,
    pub k8s_name: String,
    pub keys: Vec<String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Volume {
    pub name: String,
    pub size: Quantity,
    pub access: AccessMode,
    pub class: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Dataset {
    pub name: String,
    pub doc: Option<String>,
    pub uri: String,
    pub description: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Resources {
    /// (request, limit)
    pub cpu: Option<(Cpu, Cpu)>,
    pub memory: Option<(Quantity, Quantity)>,
    pub gpu: Option<i64>,
    /// The extended resource `gpu` counts, when `gpu_resource` names one (else [`GPU_RESOURCE`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_resource: Option<String>,
}

/// The extended resource `gpu` counts when `gpu_resource` names none (NVIDIA's device plugin).
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

impl Resources {
    /// The extended resource name GPUs are requested under: the one fact every target reads.
    pub fn gpu_resource(&self) -> &str {
        self.gpu_resource.as_deref().unwrap_or(GPU_RESOURCE)
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Mount {
    pub volume: String,
    pub path: String,
}

/// One assignment of a `k8s { … }` patch: a path of keys and a value.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Patch {
    pub path: Vec<String>,
    pub value: Value,
    #[serde(skip)]
    pub span: Span,
    /// Where each path segment is written, for errors on the offending segment.
    #[serde(skip)]
    pub path_spans: Vec<Span>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Notebook {
    pub name: String,
    pub doc: Option<String>,
    pub image: String,
    pub resources: Resources,
    pub env: IndexMap<String, Value>,
    pub mounts: Vec<Mount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    #[serde(skip_serializing_if = "Scheduling::is_empty")]
    pub scheduling: Scheduling,
    pub patches: Vec<Patch>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Step,
    Train,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Input {
    pub name: String,
    pub ty: Ty,
    /// What the input is bound to: a default, an argument, or another stage's output. `None` for a
    /// `TaskStatus` input, which the pipeline fills (and for an unbound component input, refused at its call).
    pub binding: Option<Value>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Output {
    pub name: String,
    pub ty: Ty,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Metric {
    pub name: String,
    pub ty: Ty,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Train {
    pub framework: Framework,
    pub nodes: i64,
    /// `None` is `auto`.
    pub procs_per_node: Option<i64>,
    pub runtime: Option<String>,
}

/// A container stage: a `step`, a `train`, or a component instantiated by `step NAME = C(…)`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Stage {
    pub name: String,
    pub kind: StageKind,
    pub doc: Option<String>,
    /// `module.component` when instantiated from a component.
    pub component: Option<String>,
    /// Empty when `launcher_image` is set.
    pub image: String,
    /// A `std.*` component that writes no `image`: it runs the kfl launcher image (the `kfl` binary its `run`
    /// calls), which only the build settles (`--launcher-image`, `project.launcher_image`, the default):
    /// `codegen::Context::stage_image`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub launcher_image: bool,
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
    pub metrics: Vec<Metric>,
    pub run: Vec<Value>,
    pub local_run: Option<Vec<Value>>,
    pub env: IndexMap<String, Value>,
    pub local_env: IndexMap<String, Value>,
    pub resources: Resources,
    pub retries: i64,
    pub timeout: Option<Duration>,
    pub cache: bool,
    pub after: Vec<String>,
    pub when: Option<Value>,
    pub always: bool,
    pub mounts: Vec<Mount>,
    pub secrets: Vec<String>,
    /// Boxed: a few hundred bytes, mostly empty, in each of a large program's stages (bench/memory.sh).
    #[serde(skip_serializing_if = "Scheduling::is_empty")]
    pub scheduling: Box<Scheduling>,
    pub patches: Vec<Patch>,
    pub train: Option<Train>,
    /// Index into [`Program::loops`] for a stage inside a `for` block.
    pub loop_index: Option<usize>,
    /// The `tune` this stage is the trial template of: not a stage of its own.
    pub trial_of: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

/// `retries`: the first retry waits this long, each next one twice as long (`kfl run` and the KFP
/// `retryPolicy` both; `kfl run` caps one wait at a minute, KFP stops retrying after an hour in all).
pub const RETRY_BACKOFF_SECONDS: u64 = 1;
pub const RETRY_BACKOFF_FACTOR: f64 = 2.0;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Loop {
    pub var: String,
    pub iterable: Value,
    pub stages: Vec<String>,
}

/// A tune's search algorithm and early-stopping rule; the algorithm table's enums (`kfl_plan::algorithms`).
pub use kfl_plan::algorithms::{EarlyStopAlgorithm, SearchAlgorithm};
/// A train's framework and a volume's access mode; the plan format's enums (`kfl-plan`).
pub use kfl_plan::{AccessMode, Framework};
/// Closed sets of a serve and a monitor; the plan format's enums (`kfl-plan`).
pub use kfl_plan::{AutoscaleMetric, Protocol, RuleAction, ServeBuiltin, ServeRuntime, ServingMetric};
/// A tune's direction and a searched parameter's distribution; the plan format's enums (`kfl-plan`).
pub use kfl_plan::{Distribution, Goal};

#[derive(Clone, Debug, serde::Serialize)]
pub struct SearchParam {
    pub name: String,
    pub ty: Ty,
    pub distribution: Distribution,
    pub args: Vec<Value>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Algorithm {
    pub name: SearchAlgorithm,
    pub seed: Option<i64>,
    pub settings: IndexMap<String, Value>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct EarlyStop {
    pub name: EarlyStopAlgorithm,
    pub min_trials: Option<i64>,
    pub start_step: Option<i64>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Tune {
    pub name: String,
    pub doc: Option<String>,
    pub trial: String,
    pub goal: Goal,
    pub metric: String,
    /// `goal`: a number, or a param resolved at build time (like the counts below).
    pub target: Option<Value>,
    pub algorithm: Algorithm,
    pub trials: Value,
    pub parallel: Value,
    /// `None`: as many as `trials`.
    pub max_failed: Option<Value>,
    pub early_stop: Option<EarlyStop>,
    pub space: Vec<SearchParam>,
    pub after: Vec<String>,
    pub when: Option<Value>,
    pub patches: Vec<Patch>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ModelSource {
    Artifact { value: Value },
    Uri { uri: String },
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Model {
    pub name: String,
    pub doc: Option<String>,
    pub source: ModelSource,
    pub format: Option<String>,
    /// `None`: the next version.
    pub version: Option<String>,
    pub description: Option<Value>,
    pub labels: IndexMap<String, Value>,
    pub when: Option<Value>,
    pub after: Vec<String>,
    #[serde(skip)]
    pub span: Span,
}

impl Model {
    /// The name the model is registered under, everywhere: the pipeline's registry task, the storage URI of an
    /// InferenceService (`model-registry://NAME/VERSION`) and `kfl run`'s registry. It is the name as declared:
    /// the Model Registry takes any name, and a lookup only finds what was registered under the same one.
    pub fn registered_name(&self) -> &str {
        &self.name
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Autoscale {
    pub metric: AutoscaleMetric,
    pub target: Value,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Transformer {
    pub image: String,
    pub run: Vec<Value>,
    pub env: IndexMap<String, Value>,
    pub resources: Resources,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Serve {
    pub name: String,
    pub doc: Option<String>,
    pub model: String,
    pub runtime: ServeRuntime,
    pub image: Option<String>,
    pub run: Option<Vec<Value>>,
    pub local_run: Option<Vec<Value>>,
    pub args: Vec<Value>,
    pub protocol: Protocol,
    pub min_replicas: i64,
    /// 0: no upper bound (no `replicas` written), which KServe leaves to its autoscaler.
    pub max_replicas: i64,
    pub autoscale: Option<Autoscale>,
    pub canary: Option<f64>,
    pub transformer: Option<Transformer>,
    pub env: IndexMap<String, Value>,
    pub resources: Resources,
    /// Of the predictor's and the transformer's pods.
    #[serde(skip_serializing_if = "Scheduling::is_empty")]
    pub scheduling: Scheduling,
    pub patches: Vec<Patch>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Rule {
    pub name: String,
    pub when: Value,
    pub duration: Option<Duration>,
    pub then: RuleAction,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Monitor {
    pub name: String,
    pub doc: Option<String>,
    pub service: String,
    pub rules: Vec<Rule>,
    pub schedule: Option<String>,
    /// The object that has Prometheus scrape the serve's request metrics (`scrape = pod_monitor`); by default
    /// none: the cluster's Prometheus is left to scrape them.
    #[serde(skip_serializing_if = "Scrape::is_none")]
    pub scrape: Scrape,
    #[serde(skip)]
    pub span: Span,
}

/// Pretty JSON of a program (for `kfl debug ir` and snapshots).
pub fn to_json(program: &Program) -> String {
    serde_json::to_string_pretty(program).unwrap_or_default()
}

/// What a `monitor` emits so that Prometheus scrapes the metrics its rules query (`scrape = …`; the one list of
/// its words, read by the property table, the binder and codegen/scrape.rs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scrape {
    /// Nothing: the cluster's Prometheus is configured to scrape them already.
    #[default]
    None,
    /// A prometheus-operator PodMonitor for the serve's predictor pods.
    PodMonitor,
}

impl Scrape {
    pub const ALL: [Scrape; 2] = [Scrape::None, Scrape::PodMonitor];
    /// The words `scrape = …` accepts, in the order of [`Scrape::ALL`].
    pub const NAMES: &'static [&'static str] = &[Scrape::None.name(), Scrape::PodMonitor.name()];

    pub const fn name(self) -> &'static str {
        match self {
            Scrape::None => "none",
            Scrape::PodMonitor => "pod_monitor",
        }
    }

    pub fn from_name(name: &str) -> Option<Scrape> {
        Scrape::ALL.into_iter().find(|scrape| scrape.name() == name)
    }

    pub fn is_none(&self) -> bool {
        *self == Scrape::None
    }
}

/// Written as its word, as the user wrote it (the IR's debug output).
impl serde::Serialize for Scrape {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}
