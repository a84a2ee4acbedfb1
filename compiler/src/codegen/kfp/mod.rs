//! The Kubeflow Pipelines v2 pipeline (IR YAML) for the whole lifecycle; all KFP version knowledge lives here.
//!
//! Shapes follow what the KFP SDK 2.17 compiler prints (kubeflow/pipelines
//! `sdk/python/test_data/pipelines/*.yaml`): one task, component and
//! executor per stage; `for` → a `for-loop-N` sub-DAG with a
//! `parameterIterator`; `when` → a `condition-N` sub-DAG whose task carries
//! `triggerPolicy.condition` (as `dsl.If` compiles); values crossing a
//! sub-DAG boundary travel as `pipelinechannel--…` inputs going down and as
//! DAG outputs going up (a `LIST` / `isArtifactList` out of a loop, as
//! `dsl.Collected` compiles). `train`, `tune`, `model`, `serve` and `monitor`
//! run the kfl launcher image (`kfl launch …`), which creates the resource
//! from its inline manifest and waits for it. Secrets, volumes and timeouts go to a
//! second document, the kfp-kubernetes platform spec.

mod check;
mod condition;
mod exit;
mod launch;
mod pod;
mod scope;
mod small_map;
mod spec;
mod stage;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use super::Context;
use super::args::{self, Slot};
use super::manifest::{format_float, kubernetes_name, scalar_text};
use super::yaml_stream;
use crate::ir::Ty;
use crate::ir::graph::NodeKind;
use crate::ir::{self, BestField, BinaryOpName, Expr, Ref, UnaryOpName, Value};
pub(crate) use check::check;
pub(crate) use exit::exit_handler_task;
use small_map::SmallMap;
use spec::*;

const SCHEMA_VERSION: &str = "2.1.0";
const SDK_VERSION: &str = "kfl-0.1.0";
const ARTIFACT_SCHEMA_VERSION: &str = "0.0.1";
use super::args::CHANNEL;
/// The SDK's default `backoff_max_duration` (`sdk/python/kfp/dsl/structures.py`, 2.17.0).
const RETRY_MAX_DURATION: &str = "3600s";

/// The pipeline's YAML; `None` when the program has no task to run (see [`Pipeline::new`]).
pub(crate) fn pipeline(context: &Context<'_>) -> Option<String> {
    let pipeline = Pipeline::new(context)?;
    let mut text = Vec::new();
    // Writing into memory cannot fail.
    let _ = pipeline.write(&mut text);
    // The emitter writes only the text of `str`s and its own punctuation.
    String::from_utf8(text).ok()
}

/// The built pipeline: the `PipelineSpec` and, when an executor needs secrets, volumes or a timeout, the
/// kfp-kubernetes `PlatformSpec`.
pub(crate) struct Pipeline<'c> {
    project: &'c str,
    spec: PipelineSpec,
    platform: Option<PlatformSpec>,
}

impl<'c> Pipeline<'c> {
    /// `None` when the program has no task to run (e.g. only notebooks): the SDK refuses a pipeline whose root
    /// DAG has no tasks (`sdk/python/kfp/dsl/graph_component.py`, 2.17.0: "Task is missing from pipeline"), and
    /// KFP has nothing to run, so no pipeline.yaml is written.
    pub(crate) fn new(context: &'c Context<'_>) -> Option<Pipeline<'c>> {
        let mut builder = Builder::new(context);
        builder.build();
        let (spec, platform) = builder.finish();
        if spec.root.dag.as_ref().is_none_or(|dag| dag.tasks.is_empty()) {
            return None;
        }
        Some(Pipeline { project: &context.project, spec, platform })
    }

    /// The YAML of pipeline.yaml, written to `out` as it is produced.
    pub(crate) fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        write!(out, "# PIPELINE DEFINITION\n# Name: {}\n", self.project)?;
        yaml_stream::write_yaml(&self.spec, out)?;
        if let Some(platform) = &self.platform {
            out.write_all(b"---\n")?;
            yaml_stream::write_yaml(platform, out)?;
        }
        Ok(())
    }
}

/// The `PipelineSpec` and, when an executor needs secrets, volumes or a
/// timeout, the kfp-kubernetes `PlatformSpec`, as JSON trees (for tests).
#[cfg(test)]
fn documents(context: &Context<'_>) -> (Json, Option<Json>) {
    let mut builder = Builder::new(context);
    builder.build();
    let (pipeline, platform) = builder.finish();
    (
        serde_json::to_value(&pipeline).unwrap_or_default(),
        platform.map(|p| serde_json::to_value(&p).unwrap_or_default()),
    )
}

/// How a value travels: a typed parameter or an artifact.
/// The parameter type of an exit task's input that receives `PipelineTaskFinalStatus`
/// (`api/v2alpha1/pipeline_spec.proto`, kubeflow/pipelines 2.17.0).
const TASK_FINAL_STATUS: &str = "TASK_FINAL_STATUS";

#[derive(Clone, Debug, PartialEq)]
enum Io {
    Parameter(&'static str),
    Artifact { title: &'static str, list: bool },
}

impl Io {
    fn of(ty: &Ty) -> Io {
        match ty {
            Ty::Int => Io::Parameter("NUMBER_INTEGER"),
            Ty::Float => Io::Parameter("NUMBER_DOUBLE"),
            Ty::Bool => Io::Parameter("BOOLEAN"),
            Ty::List(inner) if inner.is_artifact() => Io::of(inner).list(),
            Ty::List(_) | Ty::Range(_) => Io::Parameter("LIST"),
            Ty::Object => Io::Parameter("STRUCT"),
            Ty::TaskStatus => Io::Parameter(TASK_FINAL_STATUS),
            Ty::Dataset => Io::Artifact { title: "system.Dataset", list: false },
            Ty::Model => Io::Artifact { title: "system.Model", list: false },
            Ty::Artifact => Io::Artifact { title: "system.Artifact", list: false },
            _ => Io::Parameter("STRING"),
        }
    }

    /// The type of the same value collected over a loop's iterations.
    fn list(&self) -> Io {
        match self {
            Io::Parameter(_) => Io::Parameter("LIST"),
            Io::Artifact { title, .. } => Io::Artifact { title, list: true },
        }
    }

    fn define(&self, interface: &mut Interface, name: &str) {
        match self {
            Io::Parameter(kind) => {
                // The SDK marks the status input optional (`pipeline_with_task_final_status.yaml`, 2.17.0).
                let is_optional = *kind == TASK_FINAL_STATUS;
                interface
                    .parameters
                    .insert(name.to_string(), ParameterDef { default_value: None, is_optional, parameter_type: kind });
            }
            Io::Artifact { title, list } => {
                interface.artifacts.insert(
                    name.to_string(),
                    ArtifactDef {
                        artifact_type: ArtifactType { schema_title: title, schema_version: ARTIFACT_SCHEMA_VERSION },
                        is_artifact_list: *list,
                    },
                );
            }
        }
    }

    /// The placeholder a command line uses for an input or output of this type.
    /// `uri`: the artifact's remote URI (for launchers), else its local path.
    fn placeholder(&self, name: &str, output: bool, uri: bool) -> String {
        let field = if uri { "uri" } else { "path" };
        match (self, output) {
            (Io::Parameter(_), false) => format!("{{{{$.inputs.parameters['{name}']}}}}"),
            (Io::Parameter(_), true) => format!("{{{{$.outputs.parameters['{name}'].output_file}}}}"),
            (Io::Artifact { .. }, false) => format!("{{{{$.inputs.artifacts['{name}'].{field}}}}}"),
            (Io::Artifact { .. }, true) => format!("{{{{$.outputs.artifacts['{name}'].{field}}}}}"),
        }
    }
}

/// Where a value comes from, and the DAG (scope) it is produced in.
#[derive(Clone, Debug)]
enum Source {
    /// A root pipeline parameter (a `param`).
    Param { name: String, io: Io },
    /// An output of a task of DAG `scope` (a stage, an importer, or a sub-DAG's collected output).
    Task { scope: usize, task: String, key: String, io: Io },
    /// The item of a `for-loop-N` DAG.
    LoopItem { scope: usize, name: String, io: Io },
}

impl Source {
    fn home(&self) -> usize {
        match self {
            Source::Param { .. } => 0,
            Source::Task { scope, .. } | Source::LoopItem { scope, .. } => *scope,
        }
    }

    fn io(&self) -> &Io {
        match self {
            Source::Param { io, .. } | Source::Task { io, .. } | Source::LoopItem { io, .. } => io,
        }
    }

    /// The SDK's channel name: `pipelinechannel--PARAM`, `pipelinechannel--TASK-KEY`.
    fn channel(&self) -> String {
        match self {
            Source::Param { name, .. } => format!("{CHANNEL}{name}"),
            Source::Task { task, key, .. } if !key.starts_with(CHANNEL) => format!("{CHANNEL}{task}-{key}"),
            Source::Task { key, .. } => key.clone(),
            Source::LoopItem { name, .. } => name.clone(),
        }
    }
}

/// A bound task input.
enum Bound {
    Parameter(ParameterBinding),
    Artifact(ArtifactBinding),
}

/// One DAG: the root, a `for-loop-N` or a `condition-N`.
#[derive(Default)]
struct Scope {
    parent: Option<usize>,
    /// The task that runs this DAG in its parent.
    task: String,
    is_loop: bool,
    tasks: BTreeMap<String, Box<TaskSpec>>,
    inputs: Interface,
    outputs: DagOutputs,
    output_definitions: Interface,
}

struct Builder<'c, 'p> {
    context: &'c Context<'p>,
    program: &'p ir::Program,
    scopes: Vec<Scope>,
    components: BTreeMap<String, Box<ComponentSpec>>,
    executors: BTreeMap<String, Box<ExecutorSpec>>,
    platform: BTreeMap<String, Box<KubernetesExecutorConfig>>,
    /// Node name → (scope, task name).
    homes: HashMap<String, (usize, String)>,
    /// Node name → output key → type (a node has one or two: a `BTreeMap` each was a tenth of the builder's
    /// memory).
    outputs: HashMap<String, SmallMap<String, Io>>,
    /// Loop index → (scope, its item).
    loops: HashMap<usize, (usize, Source)>,
    /// Dataset name → (DAG, importer task): the root DAG, or the exit handler of the node that first reads it
    /// (a failed import is then one of the failures the exit task reports).
    importers: HashMap<String, (usize, String)>,
    /// Numbers sub-DAGs and loop items like the SDK's group counter.
    counter: usize,
    /// Node name → the `exit-handler-N` DAG it runs in (`exit.rs`); other nodes start from the root DAG.
    guarded: HashMap<String, usize>,
    /// Loop index → the `exit-handler-N` DAG its loop DAG goes in.
    guarded_loops: HashMap<usize, usize>,
    /// `always` stage → the task name of the `exit-handler-N` DAG it is the exit task of.
    exits: HashMap<String, String>,
    /// The DAG the node being compiled starts from: the root or its exit handler's.
    base: usize,
    /// Container and importer components created since the last [`Builder::seal`].
    unsealed: Vec<String>,
    /// Each distinct (component without its `executorLabel`, executor, platform config) compiled so far, and
    /// its group's number: identical components are shared (`deduplicate`), so each is held once while the
    /// pipeline is built, not once per task (most of a large program's pipeline memory: bench/memory.sh).
    contents: HashMap<Content, usize>,
    /// Every sealed component by name (in name order, as the SDK picks the one a group keeps): its group and
    /// its executor label.
    sealed: BTreeMap<String, (usize, String)>,
}

/// A container or importer component without its `executorLabel`, its executor and its kfp-kubernetes config.
type Content = (ComponentSpec, Option<Box<ExecutorSpec>>, Option<Box<KubernetesExecutorConfig>>);

/// The task, component and executor names of a declaration.
fn task_name(name: &str) -> String {
    kubernetes_name(name).to_ascii_lowercase()
}

fn best_key(field: &str) -> String {
    format!("best_{field}")
}

/// `{name}=` followed by a placeholder: the launcher's `--set`/`--output` form.
fn pair(name: &str, value: &str) -> String {
    format!("{name}={value}")
}

impl<'c, 'p> Builder<'c, 'p> {
    fn new(context: &'c Context<'p>) -> Builder<'c, 'p> {
        let program = context.program;
        let mut builder = Builder {
            context,
            program,
            scopes: vec![Scope::default()],
            components: BTreeMap::new(),
            executors: BTreeMap::new(),
            platform: BTreeMap::new(),
            homes: HashMap::new(),
            outputs: HashMap::new(),
            loops: HashMap::new(),
            importers: HashMap::new(),
            counter: 0,
            guarded: HashMap::new(),
            guarded_loops: HashMap::new(),
            exits: HashMap::new(),
            base: 0,
            unsealed: Vec::new(),
            contents: HashMap::new(),
            sealed: BTreeMap::new(),
        };
        builder.collect_outputs();
        builder
    }

    /// Every node's outputs, known before any task is built.
    fn collect_outputs(&mut self) {
        let program = self.program;
        for stage in program.stages.iter().filter(|s| s.trial_of.is_none()) {
            let mut map: SmallMap<String, Io> = stage.outputs.iter().map(|o| (o.name.clone(), Io::of(&o.ty))).collect();
            if stage.kind == ir::StageKind::Train {
                for metric in &stage.metrics {
                    map.insert(metric.name.clone(), Io::of(&metric.ty));
                }
            }
            self.outputs.insert(stage.name.clone(), map);
        }
        for tune in &program.tunes {
            // Every artifact a trial writes is an output of the tune (the best trial's), read or not: the
            // launcher gives each trial its own place under that output's URI.
            let artifacts = program.stage(&tune.trial).into_iter().flat_map(|trial| &trial.outputs);
            let artifacts = artifacts.filter(|o| matches!(Io::of(&o.ty), Io::Artifact { .. }));
            let map = artifacts.map(|o| (best_key(&o.name), Io::of(&o.ty))).collect();
            self.outputs.insert(tune.name.clone(), map);
        }
        for reference in all_refs(program) {
            if let Ref::Best { tune, field, what } = reference {
                let Some(t) = program.tune(tune) else { continue };
                let Some(trial) = program.stage(&t.trial) else { continue };
                let ty = match what {
                    BestField::Output => trial.outputs.iter().find(|o| &o.name == field).map(|o| &o.ty),
                    BestField::Metric => trial.metrics.iter().find(|m| &m.name == field).map(|m| &m.ty),
                    BestField::Param => trial.inputs.iter().find(|i| &i.name == field).map(|i| &i.ty),
                };
                let io = ty.map_or(Io::Parameter("STRING"), Io::of);
                self.outputs.entry(tune.clone()).or_default().insert(best_key(field), io);
            }
        }
        for model in &program.models {
            self.outputs
                .insert(model.name.clone(), SmallMap::from_iter([("uri".to_string(), Io::Parameter("STRING"))]));
        }
        for serve in &program.serves {
            self.outputs
                .insert(serve.name.clone(), SmallMap::from_iter([("url".to_string(), Io::Parameter("STRING"))]));
        }
    }

    fn build(&mut self) {
        let program = self.program;
        self.exit_handlers();
        for name in &program.graph.order {
            let Some(node) = program.graph.node(name) else { continue };
            self.base = self.guarded.get(name).copied().unwrap_or(0);
            match node.kind {
                NodeKind::Step | NodeKind::Train => {
                    if let Some(stage) = program.stage(name).filter(|s| s.trial_of.is_none()) {
                        self.stage(stage);
                    }
                }
                NodeKind::Tune => {
                    if let Some(tune) = program.tune(name) {
                        self.tune(tune);
                    }
                }
                NodeKind::Model => {
                    if let Some(model) = program.model(name) {
                        self.model(model);
                    }
                }
                NodeKind::Serve => {
                    if let Some(serve) = program.serve(name) {
                        self.serve(serve);
                    }
                }
                NodeKind::Monitor => {
                    if let Some(monitor) = program.monitor(name) {
                        self.monitor(monitor);
                    }
                }
            }
            self.seal();
        }
        self.base = 0;
        self.graph_dependencies();
    }

    /// One `exit-handler-N` DAG per `always` stage that can have one, holding the nodes it guards.
    fn exit_handlers(&mut self) {
        let (handlers, _) = exit::exit_handlers(self.program);
        for handler in handlers {
            self.counter += 1;
            let scope = self.new_scope(0, format!("exit-handler-{}", self.counter), false);
            self.exits.insert(handler.exit.name.clone(), self.scopes[scope].task.clone());
            for node in handler.guarded {
                self.guarded.insert(node.to_string(), scope);
            }
            for index in handler.loops {
                self.guarded_loops.insert(index, scope);
            }
        }
    }

    /// `after` and data edges of the graph, on the tasks that share a DAG:
    /// a task depends on the loop or condition that holds its producer.
    fn graph_dependencies(&mut self) {
        let program = self.program;
        for edge in &program.graph.edges {
            let (Some(from), Some(to)) = (self.chain(&edge.from), self.chain(&edge.to)) else { continue };
            let Some((scope, dependent)) = to.iter().find(|(s, _)| from.iter().any(|(f, _)| f == s)).cloned() else {
                continue;
            };
            let Some((_, dependency)) = from.iter().find(|(s, _)| *s == scope).cloned() else { continue };
            if dependent != dependency
                && let Some(task) = self.scopes[scope].tasks.get_mut(&dependent)
            {
                task.dependent_tasks.insert(dependency);
            }
        }
    }

    /// (DAG, task) from a node's own task up through the sub-DAGs around it.
    fn chain(&self, node: &str) -> Option<Vec<(usize, String)>> {
        let (mut scope, mut task) = self.homes.get(node).cloned()?;
        let mut chain = vec![(scope, task.clone())];
        while let Some(parent) = self.scopes[scope].parent {
            task = self.scopes[scope].task.clone();
            scope = parent;
            chain.push((scope, task.clone()));
        }
        Some(chain)
    }

    /// Files the components the last node created (whose component, executor and platform config are complete
    /// once its node is compiled) by content: a component identical to one already compiled adds only its name.
    fn seal(&mut self) {
        for name in std::mem::take(&mut self.unsealed) {
            let Some(mut component) = self.components.remove(&name) else { continue };
            let Some(label) = component.executor_label.take() else {
                self.components.insert(name, component);
                continue;
            };
            let executor = self.executors.remove(&label);
            let platform = self.platform.remove(&label);
            let next = self.contents.len();
            let group = *self.contents.entry((*component, executor, platform)).or_insert(next);
            self.sealed.insert(name, (group, label));
        }
    }

    /// Shares one component and executor among tasks whose container
    /// components are identical, as the KFP SDK does: components are grouped
    /// by (component without its `executorLabel`, executor, kfp-kubernetes
    /// platform config); each group keeps its first component by name, and the
    /// tasks of the others are pointed to it.
    fn deduplicate(&mut self) {
        self.seal();
        let mut contents: Vec<Option<Content>> = (0..self.contents.len()).map(|_| None).collect();
        for (content, group) in self.contents.drain() {
            contents[group] = Some(content);
        }
        let mut kept: Vec<Option<String>> = vec![None; contents.len()];
        let mut renamed: HashMap<String, String> = HashMap::new();
        for (name, (group, label)) in std::mem::take(&mut self.sealed) {
            if let Some(kept) = &kept[group] {
                renamed.insert(name, kept.clone());
                continue;
            }
            kept[group] = Some(name.clone());
            let Some((mut component, executor, platform)) = contents[group].take() else { continue };
            component.executor_label = Some(label.clone());
            if let Some(executor) = executor {
                self.executors.insert(label.clone(), executor);
            }
            if let Some(platform) = platform {
                self.platform.insert(label, platform);
            }
            self.components.insert(name, Box::new(component));
        }
        if renamed.is_empty() {
            return;
        }
        for scope in &mut self.scopes {
            for task in scope.tasks.values_mut() {
                if let Some(kept) = renamed.get(&task.component_ref.name) {
                    task.component_ref.name = kept.clone();
                }
            }
        }
    }

    fn finish(mut self) -> (PipelineSpec, Option<PlatformSpec>) {
        self.deduplicate();
        let scopes = std::mem::take(&mut self.scopes);
        let mut root_tasks = BTreeMap::new();
        for (index, scope) in scopes.into_iter().enumerate() {
            if index == 0 {
                root_tasks = scope.tasks;
                continue;
            }
            self.components.insert(
                format!("comp-{}", scope.task),
                Box::new(ComponentSpec {
                    dag: Some(DagSpec { outputs: scope.outputs, tasks: scope.tasks }),
                    executor_label: None,
                    input_definitions: scope.inputs,
                    output_definitions: scope.output_definitions,
                }),
            );
        }
        self.keep_pipeline_name_free(&mut root_tasks);
        let mut root_inputs = Interface::default();
        // A param read only by properties bound at build time (a namespace, `nodes`, `replicas`) is baked into
        // what it configures: as a pipeline input, a run could change it and nothing would follow.
        for param in self.program.params.iter().filter(|p| p.read_at_run_time) {
            let Io::Parameter(kind) = Io::of(&param.ty) else { continue };
            root_inputs.parameters.insert(
                param.name.clone(),
                ParameterDef {
                    default_value: self.context.params.get(&param.name).and_then(constant_json),
                    is_optional: true,
                    parameter_type: kind,
                },
            );
        }
        let pipeline = PipelineSpec {
            components: std::mem::take(&mut self.components),
            default_pipeline_root: self.program.project.as_ref().and_then(|p| p.artifacts.clone()),
            deployment_spec: DeploymentSpec { executors: std::mem::take(&mut self.executors) },
            pipeline_info: PipelineInfo { description: self.program.doc.clone(), name: self.context.project.clone() },
            root: ComponentSpec {
                dag: Some(DagSpec { outputs: DagOutputs::default(), tasks: root_tasks }),
                executor_label: None,
                input_definitions: root_inputs,
                output_definitions: Interface::default(),
            },
            schema_version: SCHEMA_VERSION,
            sdk_version: SDK_VERSION,
        };
        let platform = (!self.platform.is_empty()).then(|| PlatformSpec {
            platforms: Platforms {
                kubernetes: KubernetesPlatform {
                    deployment_spec: KubernetesDeploymentSpec { executors: std::mem::take(&mut self.platform) },
                },
            },
        });
        (pipeline, platform)
    }
}

impl Builder<'_, '_> {
    /// Renames a component called `comp-PIPELINE` (a stage named like the project) to the SDK's next free
    /// `comp-PIPELINE-N`: loading the pipeline as a component of another pipeline names the pipeline's
    /// own component `comp-PIPELINE`, and the two would collide (`sdk/python/kfp/dsl/utils.py`
    /// `make_name_unique_by_adding_index`, 2.17.0, starts at 2).
    fn keep_pipeline_name_free(&mut self, root_tasks: &mut BTreeMap<String, Box<TaskSpec>>) {
        let name = task_name(&self.context.project);
        let taken = format!("comp-{name}");
        if let Some(component) = self.components.remove(&taken)
            && let Some(free) = (2..).map(|n| format!("{taken}-{n}")).find(|c| !self.components.contains_key(c))
        {
            self.components.insert(free.clone(), component);
            let dags = self.components.values_mut().filter_map(|c| c.dag.as_mut()).map(|dag| &mut dag.tasks);
            for tasks in dags.chain(std::iter::once(&mut *root_tasks)) {
                for task in tasks.values_mut().filter(|task| task.component_ref.name == taken) {
                    task.component_ref.name = free.clone();
                }
            }
        }
        // The executor too: kfp 2.17.3 `ComponentSpec.from_ir_dicts` (sdk/python/kfp/dsl/structures.py) reads a
        // pipeline that has an executor `exec-<pipeline name>` as that one container component, and a pipeline
        // using it as a task then loses the platform spec (tests/kfp/run finds it).
        let taken = format!("exec-{name}");
        if let Some(executor) = self.executors.remove(&taken)
            && let Some(free) = (2..).map(|n| format!("{taken}-{n}")).find(|e| !self.executors.contains_key(e))
        {
            self.executors.insert(free.clone(), executor);
            if let Some(config) = self.platform.remove(&taken) {
                self.platform.insert(free.clone(), config);
            }
            for component in self.components.values_mut() {
                if component.executor_label.as_deref() == Some(taken.as_str()) {
                    component.executor_label = Some(free.clone());
                }
            }
        }
    }
}

/// A constant as JSON (ranges expanded, units as Kubernetes text); `None` when it holds references.
fn constant_json(value: &Value) -> Option<Json> {
    Some(match value {
        Value::Int(n) => Json::from(*n),
        Value::Float(x) => Json::from(*x),
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) | Value::Enum(s) => Json::String(s.clone()),
        Value::Duration(_) | Value::Quantity(_) | Value::Cpu(_) | Value::Percent(_) => {
            Json::String(scalar_text(value)?)
        }
        Value::List(items) => Json::Array(items.iter().map(constant_json).collect::<Option<_>>()?),
        Value::Range(lo, hi) => match (lo.as_ref(), hi.as_ref()) {
            (Value::Int(lo), Value::Int(hi)) => Json::Array((*lo..=*hi).map(Json::from).collect()),
            _ => return None,
        },
        Value::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| Some((k.clone(), constant_json(v)?))).collect::<Option<_>>()?)
        }
        _ => return None,
    })
}

fn element_io(first: Option<&Json>) -> Io {
    match first {
        Some(Json::Number(n)) if n.is_i64() || n.is_u64() => Io::Parameter("NUMBER_INTEGER"),
        Some(Json::Number(_)) => Io::Parameter("NUMBER_DOUBLE"),
        Some(Json::Bool(_)) => Io::Parameter("BOOLEAN"),
        Some(Json::Array(_)) => Io::Parameter("LIST"),
        Some(Json::Object(_)) => Io::Parameter("STRUCT"),
        _ => Io::Parameter("STRING"),
    }
}

/// Every reference in the program's stage-level values (for `TUNE.best.*` outputs, and the datasets to stage).
pub(crate) fn all_refs(program: &ir::Program) -> Vec<&Ref> {
    let mut values: Vec<&Value> = Vec::new();
    for stage in &program.stages {
        values.extend(stage.inputs.iter().filter_map(|i| i.binding.as_ref()));
        values.extend(stage.run.iter());
        values.extend(stage.env.values());
        values.extend(stage.when.iter());
    }
    for model in &program.models {
        if let ir::ModelSource::Artifact { value } = &model.source {
            values.push(value);
        }
        values.extend(model.description.iter());
        values.extend(model.when.iter());
    }
    for tune in &program.tunes {
        values.extend(tune.when.iter());
    }
    values.into_iter().flat_map(Value::refs).collect()
}
