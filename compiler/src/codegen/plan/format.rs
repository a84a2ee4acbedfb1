//! The plan's format: typed serde structs, one per object of docs/plan.schema.json (documented in docs/PLAN.md).
//!
//! Field order here is the order in `plan.json`; maps are `IndexMap`s in source order.

use indexmap::IndexMap;
use serde::Serialize;

use crate::ir::graph::{EdgeKind, NodeKind};
use crate::ir::{BestField, BinaryOpName, Goal, UnaryOpName};

// The runtime must read every plan `kfl build` writes. An expression spends at most two JSON levels per level of
// nesting (a list constant or an object is an object holding an array or a map), under an envelope of fewer
// than 16 (plan → stages → stage → env → value parts …); the reader's bound is kfl_plan::MAX_JSON_DEPTH.
const _: () = assert!(2 * crate::syntax::trivia::MAX_NESTING as usize + 16 <= kfl_plan::MAX_JSON_DEPTH);

#[derive(Serialize)]
pub(super) struct Plan {
    pub(super) plan_version: u32,
    pub(super) project: Project,
    pub(super) params: Vec<Param>,
    pub(super) secrets: Vec<Secret>,
    pub(super) volumes: Vec<Volume>,
    pub(super) datasets: Vec<Dataset>,
    pub(super) stages: Vec<Stage>,
}

#[derive(Serialize)]
pub(super) struct Project {
    pub(super) name: String,
    pub(super) namespace: Option<String>,
    pub(super) image: Option<String>,
    pub(super) registry: Option<String>,
    pub(super) labels: IndexMap<String, String>,
}

#[derive(Serialize)]
pub(super) struct Param {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) ty: String,
    pub(super) value: Constant,
}

#[derive(Serialize)]
pub(super) struct Secret {
    pub(super) name: String,
    pub(super) k8s_name: String,
    pub(super) keys: Vec<String>,
}

#[derive(Serialize)]
pub(super) struct Volume {
    pub(super) name: String,
    pub(super) size: Size,
    pub(super) access: String,
    pub(super) class: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Size {
    pub(super) text: String,
    pub(super) bytes: u64,
}

#[derive(Serialize)]
pub(super) struct Dataset {
    pub(super) name: String,
    pub(super) uri: String,
    pub(super) kind: &'static str,
}

/// A constant value with its type, its value in base units and its text.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Constant {
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

/// A value that may depend on run-time results: `when`, bindings, rule conditions.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Expression {
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
        decl: &'static str,
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
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Part {
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

#[derive(Serialize)]
pub(super) struct Dependency {
    pub(super) stage: String,
    pub(super) kind: EdgeKind,
}

#[derive(Serialize)]
pub(super) struct Stage {
    pub(super) name: String,
    pub(super) kind: NodeKind,
    pub(super) depends_on: Vec<Dependency>,
    #[serde(flatten)]
    pub(super) spec: Spec,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Spec {
    Container(Box<Container>),
    Tune(Box<Tune>),
    Model(Box<Model>),
    Serve(Box<Serve>),
    Monitor(Monitor),
}

#[derive(Serialize)]
pub(super) struct Input {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) ty: String,
    pub(super) binding: Option<Expression>,
}

#[derive(Serialize)]
pub(super) struct Output {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) ty: String,
    /// `artifact` (a path) or `scalar` (a file holding the value).
    pub(super) kind: &'static str,
}

#[derive(Serialize)]
pub(super) struct Metric {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) ty: String,
}

#[derive(Serialize)]
pub(super) struct Resources {
    pub(super) cpu: Option<CpuRange>,
    pub(super) memory: Option<MemoryRange>,
    pub(super) gpu: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct CpuRange {
    pub(super) request_millis: u64,
    pub(super) limit_millis: u64,
}

#[derive(Serialize)]
pub(super) struct MemoryRange {
    pub(super) request_bytes: u64,
    pub(super) limit_bytes: u64,
}

#[derive(Serialize)]
pub(super) struct Mount {
    pub(super) volume: String,
    pub(super) path: String,
}

#[derive(Serialize)]
pub(super) struct Train {
    pub(super) framework: String,
    pub(super) nodes: i64,
    pub(super) procs_per_node: Option<i64>,
    pub(super) runtime: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Loop {
    pub(super) index: usize,
    pub(super) var: String,
    pub(super) items: LoopItems,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum LoopItems {
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
#[derive(Serialize)]
pub(super) struct Container {
    pub(super) component: Option<String>,
    pub(super) image: String,
    pub(super) command: Vec<Part>,
    pub(super) inputs: Vec<Input>,
    pub(super) outputs: Vec<Output>,
    pub(super) metrics: Vec<Metric>,
    pub(super) env: IndexMap<String, Part>,
    pub(super) local_env: IndexMap<String, Part>,
    pub(super) resources: Resources,
    pub(super) retries: i64,
    pub(super) timeout_seconds: Option<u64>,
    pub(super) cache: bool,
    pub(super) when: Option<Expression>,
    pub(super) always: bool,
    pub(super) after: Vec<String>,
    pub(super) mounts: Vec<Mount>,
    pub(super) secrets: Vec<String>,
    pub(super) train: Option<Train>,
    #[serde(rename = "loop")]
    pub(super) for_loop: Option<Loop>,
    pub(super) trial_of: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Tune {
    pub(super) trial: String,
    pub(super) goal: Goal,
    pub(super) metric: String,
    pub(super) target: Option<f64>,
    pub(super) algorithm: Algorithm,
    pub(super) trials: i64,
    pub(super) parallel: i64,
    pub(super) max_failed: i64,
    pub(super) early_stop: Option<EarlyStop>,
    pub(super) space: Vec<SearchParam>,
    pub(super) after: Vec<String>,
    pub(super) when: Option<Expression>,
}

#[derive(Serialize)]
pub(super) struct Algorithm {
    pub(super) name: String,
    pub(super) seed: Option<i64>,
    pub(super) settings: IndexMap<String, Expression>,
}

#[derive(Serialize)]
pub(super) struct EarlyStop {
    pub(super) name: String,
    pub(super) min_trials: Option<i64>,
    pub(super) start_step: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct SearchParam {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) ty: String,
    pub(super) distribution: String,
    pub(super) args: Vec<Expression>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum ModelSource {
    Artifact { artifact: Expression },
    Uri { uri: String },
}

#[derive(Serialize)]
pub(super) struct Model {
    pub(super) source: ModelSource,
    pub(super) format: Option<String>,
    pub(super) version: Option<String>,
    pub(super) description: Option<Part>,
    pub(super) labels: IndexMap<String, Part>,
    pub(super) when: Option<Expression>,
    pub(super) after: Vec<String>,
}

#[derive(Serialize)]
pub(super) struct Replicas {
    pub(super) min: i64,
    pub(super) max: i64,
}

#[derive(Serialize)]
pub(super) struct Autoscale {
    pub(super) metric: String,
    pub(super) target: Expression,
}

#[derive(Serialize)]
pub(super) struct Transformer {
    pub(super) image: String,
    pub(super) run: Vec<Part>,
    pub(super) env: IndexMap<String, Part>,
    pub(super) resources: Resources,
}

#[derive(Serialize)]
pub(super) struct Serve {
    pub(super) model: String,
    pub(super) served_name: String,
    pub(super) runtime: String,
    pub(super) image: Option<String>,
    pub(super) run: Option<Vec<Part>>,
    pub(super) local_run: Option<Vec<Part>>,
    pub(super) args: Vec<Part>,
    pub(super) protocol: String,
    pub(super) replicas: Replicas,
    pub(super) autoscale: Option<Autoscale>,
    pub(super) canary_percent: Option<f64>,
    pub(super) transformer: Option<Transformer>,
    pub(super) env: IndexMap<String, Part>,
    pub(super) resources: Resources,
}

#[derive(Serialize)]
pub(super) struct Rule {
    pub(super) name: String,
    pub(super) when: Expression,
    pub(super) for_seconds: Option<u64>,
    pub(super) then: String,
}

#[derive(Serialize)]
pub(super) struct Monitor {
    pub(super) service: String,
    pub(super) rules: Vec<Rule>,
    pub(super) schedule: Option<String>,
}
