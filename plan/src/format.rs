//! The plan.json format: one set of serde types the compiler writes and the runtime reads (docs/PLAN.md).
//!
//! Field order here is the order in `plan.json`; maps are `IndexMap`s in source order. docs/plan.schema.json is
//! generated from these types (`schema.rs`). Any incompatible change bumps [`PLAN_VERSION`].

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::algorithms::{EarlyStopAlgorithm, SearchAlgorithm};
use crate::closed_set::closed_set;

/// The version of the format: what the compiler writes and the only one the runtime reads.
pub const PLAN_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    Local,
    S3,
    Gs,
    Hf,
    Pvc,
    Http,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// A path the process writes (a file or a folder).
    Artifact,
    /// A file the process writes the value into.
    Scalar,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Step,
    Train,
    Tune,
    Model,
    Serve,
    Monitor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// The dependent reads an output of the dependency (or its model, or its service).
    Data,
    /// The dependent lists the dependency in `after`.
    After,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BestField {
    Output,
    Param,
    Metric,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    Maximize,
    Minimize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnaryOpName {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOpName {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Range,
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub plan_version: u32,
    pub project: Project,
    pub params: Vec<Param>,
    pub secrets: Vec<Secret>,
    pub volumes: Vec<Volume>,
    pub datasets: Vec<Dataset>,
    pub stages: Vec<Stage>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Project {
    pub name: String,
    pub namespace: Option<String>,
    pub image: Option<String>,
    pub registry: Option<String>,
    pub labels: IndexMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Param {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub value: Constant,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Secret {
    pub name: String,
    pub k8s_name: String,
    pub keys: Vec<String>,
}

closed_set! {
    /// A volume's access mode (its PersistentVolumeClaim's `accessModes`, in Kubernetes' spelling there).
    pub enum AccessMode {
        ReadWriteOnce = "read_write_once",
        ReadOnlyMany = "read_only_many",
        ReadWriteMany = "read_write_many",
        ReadWriteOncePod = "read_write_once_pod",
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Volume {
    pub name: String,
    pub size: Size,
    pub access: AccessMode,
    pub class: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Size {
    pub text: String,
    pub bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Dataset {
    pub name: String,
    pub uri: String,
    pub kind: DatasetKind,
}

/// A constant value with its type, its value in base units and its text.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Constant {
    Int {
        value: i64,
        text: String,
    },
    Float {
        value: f64,
        text: String,
    },
    Bool {
        value: bool,
        text: String,
    },
    String {
        value: String,
        text: String,
    },
    Enum {
        value: String,
        text: String,
    },
    /// Milliseconds.
    Duration {
        value: u64,
        text: String,
    },
    /// Bytes.
    Quantity {
        value: f64,
        text: String,
    },
    /// Millicores.
    Cpu {
        value: u64,
        text: String,
    },
    /// `20%` is `20.0`.
    Percent {
        value: f64,
        text: String,
    },
    List {
        items: Vec<Constant>,
    },
    /// Inclusive.
    Range {
        from: Box<Constant>,
        to: Box<Constant>,
    },
    Object {
        fields: IndexMap<String, Constant>,
    },
}

closed_set! {
    /// The kind of declaration a value names as a whole (`mounts = [data]`, `model = clf`).
    pub enum DeclKind {
        Volume = "volume",
        Secret = "secret",
        Model = "model",
        Serve = "serve",
        Stage = "stage",
        Component = "component",
    }
}

/// A value that may depend on run-time results: `when`, bindings, rule conditions.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expression {
    Constant {
        value: Constant,
    },
    Param {
        name: String,
    },
    Dataset {
        name: String,
        uri: String,
    },
    Output {
        stage: String,
        output: String,
        fan_in: bool,
    },
    Best {
        tune: String,
        field: String,
        what: BestField,
    },
    /// An input or output of the enclosing stage.
    Local {
        name: String,
    },
    LoopVar {
        name: String,
    },
    /// `model_dir`, `port`, serving metrics (`error_rate`, `latency_p95`, …).
    Builtin {
        name: String,
    },
    /// A whole declaration (`model`, `serve`, `volume`, `secret`, `stage`, `component`).
    Decl {
        decl: DeclKind,
        name: String,
    },
    Unary {
        op: UnaryOpName,
        operand: Box<Expression>,
    },
    Binary {
        op: BinaryOpName,
        lhs: Box<Expression>,
        rhs: Box<Expression>,
    },
    If {
        cond: Box<Expression>,
        then: Box<Expression>,
        otherwise: Box<Expression>,
    },
    /// A string built from parts (text parts are string constants).
    Template {
        parts: Vec<Expression>,
    },
    List {
        items: Vec<Expression>,
    },
    Range {
        from: Box<Expression>,
        to: Box<Expression>,
    },
    Object {
        fields: IndexMap<String, Expression>,
    },
    Call {
        name: String,
        args: IndexMap<String, Expression>,
        positional: Vec<Expression>,
    },
}

/// One element (or piece of an element) of a command line or an env value.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Part {
    Text {
        text: String,
    },
    Param {
        name: String,
    },
    Dataset {
        name: String,
        uri: String,
    },
    /// An input of the stage: its path (artifact) or its value (scalar).
    Input {
        name: String,
    },
    /// An output of the stage: the path the process writes.
    Output {
        name: String,
    },
    /// Another stage's output read directly.
    StageOutput {
        stage: String,
        output: String,
        fan_in: bool,
    },
    Best {
        tune: String,
        field: String,
    },
    LoopVar {
        name: String,
    },
    /// `model_dir`, `port`.
    Builtin {
        name: String,
    },
    /// One argument made of several parts, concatenated.
    Template {
        parts: Vec<Part>,
    },
    /// A list, passed as a JSON array of strings (as KFP passes lists).
    List {
        items: Vec<Part>,
    },
    /// A computed argument.
    Expr {
        expr: Expression,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Dependency {
    pub stage: String,
    pub kind: EdgeKind,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Stage {
    pub name: String,
    pub kind: StageKind,
    pub depends_on: Vec<Dependency>,
    #[serde(flatten)]
    pub spec: Spec,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Spec {
    Container(Box<Container>),
    Tune(Box<Tune>),
    Model(Box<Model>),
    Serve(Box<Serve>),
    Monitor(Monitor),
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// `null` for a `TaskStatus` input: the runtime fills it when the stage starts.
    pub binding: Option<Expression>,
    /// A `TaskStatus` input: the name of the KFP exit handler DAG whose final status the pipeline gives it
    /// (`exit-handler-N`), its `pipelineTaskName` under `kfl run` too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_of: Option<String>,
}

/// The type of an `always` step's input that receives the final status of the stages it waits for, as the
/// JSON text of KFP's `PipelineTaskFinalStatus` (docs/PLAN.md).
pub const TASK_STATUS: &str = "TaskStatus";

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Output {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub kind: OutputKind,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Metric {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Resources {
    pub cpu: Option<CpuRange>,
    pub memory: Option<MemoryRange>,
    #[schemars(range(min = 0))]
    pub gpu: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CpuRange {
    pub request_millis: u64,
    pub limit_millis: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct MemoryRange {
    pub request_bytes: u64,
    pub limit_bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Mount {
    pub volume: String,
    pub path: String,
}

closed_set! {
    /// A `train`'s framework: how its processes are launched and which Trainer runtime it defaults to.
    pub enum Framework {
        Torch = "torch",
        Deepspeed = "deepspeed",
        Jax = "jax",
        Tensorflow = "tensorflow",
        Mpi = "mpi",
        Mlx = "mlx",
        Xgboost = "xgboost",
        Custom = "custom",
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Train {
    pub framework: Framework,
    #[schemars(range(min = 1))]
    pub nodes: i64,
    #[schemars(range(min = 1))]
    pub procs_per_node: Option<i64>,
    pub runtime: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Loop {
    pub index: usize,
    pub var: String,
    pub items: LoopItems,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoopItems {
    /// `from..to`, both ends included.
    Range {
        from: i64,
        to: i64,
    },
    List {
        items: Vec<Constant>,
    },
    Expr {
        expr: Expression,
    },
}

/// A `step` or a `train` (also a tune's trial template, with `trial_of`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Container {
    pub component: Option<String>,
    pub image: String,
    pub command: Vec<Part>,
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
    pub metrics: Vec<Metric>,
    pub env: IndexMap<String, Part>,
    pub local_env: IndexMap<String, Part>,
    pub resources: Resources,
    #[schemars(range(min = 0))]
    pub retries: i64,
    pub timeout_seconds: Option<u64>,
    pub cache: bool,
    pub when: Option<Expression>,
    pub always: bool,
    pub after: Vec<String>,
    pub mounts: Vec<Mount>,
    pub secrets: Vec<String>,
    pub train: Option<Train>,
    #[serde(rename = "loop")]
    pub for_loop: Option<Loop>,
    pub trial_of: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Tune {
    pub trial: String,
    pub goal: Goal,
    pub metric: String,
    pub target: Option<f64>,
    pub algorithm: Algorithm,
    #[schemars(range(min = 1))]
    pub trials: i64,
    #[schemars(range(min = 1))]
    pub parallel: i64,
    #[schemars(range(min = 0))]
    pub max_failed: i64,
    pub early_stop: Option<EarlyStop>,
    pub space: Vec<SearchParam>,
    pub after: Vec<String>,
    pub when: Option<Expression>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Algorithm {
    pub name: SearchAlgorithm,
    pub seed: Option<i64>,
    pub settings: IndexMap<String, Expression>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EarlyStop {
    pub name: EarlyStopAlgorithm,
    pub min_trials: Option<i64>,
    pub start_step: Option<i64>,
}

closed_set! {
    /// Where a searched parameter's values come from (`space { lr = loguniform(1e-4, 1e-1) }`). The arguments:
    /// `(lo, hi)` for uniform, loguniform and randint (both ends included), `(mu, sigma)` for normal and
    /// lognormal (of `ln x`), `(lo, hi, q)` for quniform, the values for choice.
    pub enum Distribution {
        Uniform = "uniform",
        LogUniform = "loguniform",
        Normal = "normal",
        LogNormal = "lognormal",
        QUniform = "quniform",
        RandInt = "randint",
        Choice = "choice",
    }
}

impl Distribution {
    /// Whether the first two arguments are a lower and an upper bound (`lo < hi`; `hi` is the largest value).
    pub const fn bounded(self) -> bool {
        matches!(
            self,
            Distribution::Uniform | Distribution::LogUniform | Distribution::QUniform | Distribution::RandInt
        )
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SearchParam {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub distribution: Distribution,
    pub args: Vec<Expression>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSource {
    Artifact { artifact: Expression },
    Uri { uri: String },
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Model {
    pub source: ModelSource,
    pub format: Option<String>,
    pub version: Option<String>,
    pub description: Option<Part>,
    pub labels: IndexMap<String, Part>,
    pub when: Option<Expression>,
    pub after: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Replicas {
    #[schemars(range(min = 0))]
    pub min: i64,
    #[schemars(range(min = 0))]
    pub max: i64,
}

closed_set! {
    /// What a serve's autoscaler holds at its target per replica: in-flight requests or requests per second
    /// (KServe's Knative autoscaler, and `kfl run`'s), or CPU or memory utilisation (a Kubernetes HPA in KServe's
    /// Standard mode; `kfl run` keeps the replica count fixed, having no metrics server).
    pub enum AutoscaleMetric {
        Concurrency = "concurrency",
        Rps = "rps",
        Cpu = "cpu",
        Memory = "memory",
    }
}

impl AutoscaleMetric {
    /// Whether the target is a utilisation percentage of the pods' requests (an HPA's), not a load per replica.
    pub const fn is_utilisation(self) -> bool {
        matches!(self, AutoscaleMetric::Cpu | AutoscaleMetric::Memory)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Autoscale {
    pub metric: AutoscaleMetric,
    pub target: Expression,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Transformer {
    pub image: String,
    pub run: Vec<Part>,
    pub env: IndexMap<String, Part>,
    pub resources: Resources,
}

closed_set! {
    /// A serve's runtime: the model format a KServe ServingRuntime serves, or `custom` (the serve's own `run`).
    pub enum ServeRuntime {
        Sklearn = "sklearn",
        Xgboost = "xgboost",
        Lightgbm = "lightgbm",
        Pytorch = "pytorch",
        Tensorflow = "tensorflow",
        Onnx = "onnx",
        Triton = "triton",
        Huggingface = "huggingface",
        Custom = "custom",
    }
}

closed_set! {
    /// What a serve's command line refers to that each replica fills in: the folder of the model version it
    /// serves and the port it listens on. In plan.json it is the name of a [`Part::Builtin`].
    pub enum ServeBuiltin {
        ModelDir = "model_dir",
        Port = "port",
    }
}

closed_set! {
    /// The inference protocol a predictor speaks: KServe's V1 or the Open Inference Protocol (V2).
    pub enum Protocol {
        V1 = "v1",
        V2 = "v2",
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Serve {
    pub model: String,
    /// The name the model answers to (`/v2/models/NAME`); absent in older plans: the stage's name.
    #[serde(default)]
    pub served_name: Option<String>,
    pub runtime: ServeRuntime,
    pub image: Option<String>,
    pub run: Option<Vec<Part>>,
    pub local_run: Option<Vec<Part>>,
    pub args: Vec<Part>,
    pub protocol: Protocol,
    pub replicas: Replicas,
    pub autoscale: Option<Autoscale>,
    #[schemars(range(min = 0.0, max = 100.0))]
    pub canary_percent: Option<f64>,
    pub transformer: Option<Transformer>,
    pub env: IndexMap<String, Part>,
    pub resources: Resources,
}

closed_set! {
    /// A serving metric a monitor's rule compares (`when = error_rate > 5%`), over the watched service's recent
    /// requests. In plan.json it is the name of an [`Expression::Builtin`], beside `model_dir` and `port`.
    pub enum ServingMetric {
        ErrorRate = "error_rate",
        LatencyP50 = "latency_p50",
        LatencyP95 = "latency_p95",
        LatencyP99 = "latency_p99",
        RequestsPerSecond = "requests_per_second",
    }
}

closed_set! {
    /// What a monitor's rule does when it fires: notify, or start a run of the file's pipeline.
    pub enum RuleAction {
        Alert = "alert",
        Retrain = "retrain",
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Rule {
    pub name: String,
    pub when: Expression,
    pub for_seconds: Option<u64>,
    pub then: RuleAction,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Monitor {
    pub service: String,
    pub rules: Vec<Rule>,
    pub schedule: Option<String>,
}
