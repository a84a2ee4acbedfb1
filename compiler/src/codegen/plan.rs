//! `plan.json`: the execution plan the embedded runtime runs, built from the `kfl-plan` types (docs/PLAN.md, docs/plan.schema.json).
//!
//! The plan is its own stable format, built from the types the runtime reads too (`kfl_plan::format`) and
//! serialised once — not the IR dumped as is. Everything the runtime needs is
//! in it (it never sees the AST or the IR): param values after `-p`, stages
//! in topological order with their commands as typed parts (so the runtime
//! substitutes paths and values itself), bindings, control flow, search
//! spaces, registry and serving specs. Order comes from the program (source
//! order, `graph.order`) and `IndexMap`s only: two builds give the same bytes.

mod layout;

// The runtime must read every plan `kfl build` writes. An expression spends at most two JSON levels per level of
// nesting (a list constant or an object is an object holding an array or a map), under an envelope of fewer
// than 16 (plan → stages → stage → env → value parts …); the reader's bound is kfl_plan::MAX_JSON_DEPTH.
const _: () = assert!(2 * crate::syntax::trivia::MAX_NESTING as usize + 16 <= kfl_plan::MAX_JSON_DEPTH);

use super::Context;
use super::args::{dataset_uri, is_output};
use super::manifest::scalar_text;
use crate::ir::graph::{EdgeKind, NodeKind};
use crate::ir::{self, Expr, Ref, TemplatePart, Value};
use indexmap::IndexMap;
use kfl_plan::format::{
    Algorithm, Autoscale, Constant, Container, CpuRange, Dataset, DatasetKind, DeclKind, Dependency, EarlyStop,
    Expression, Input, Loop, LoopItems, MemoryRange, Metric, Model, ModelSource, Monitor, Mount, Output, OutputKind,
    PLAN_VERSION, Param, Part, Plan, Project, Replicas, Resources, Rule, SearchParam, Secret, Serve, Size, Spec, Stage,
    Train, Transformer, Tune, Volume,
};

pub(crate) fn plan(context: &Context<'_>) -> String {
    // About 2 KiB of JSON per stage (1.8 MB for the 1,000-stage chain): one allocation instead of twenty regrowths.
    let capacity = 4096 + 2048 * context.program.stages.len();
    let mut bytes = Vec::with_capacity(capacity);
    // Writing into memory cannot fail.
    let _ = write_plan(context, &mut bytes);
    // serde_json writes only valid UTF-8: the text of `str`s and its own punctuation.
    String::from_utf8(bytes).unwrap_or_default()
}

/// The plan's JSON (with its final newline) written to `out` as it is built: one stage at a time, so neither the
/// whole plan's typed tree nor its text is ever held (a 50 MB program's plan is about 0.5 GB of JSON;
/// bench/memory.sh). The bytes are those of `serde_json::to_string_pretty` on the whole [`Plan`] (a test checks it).
pub(crate) fn write_plan(context: &Context<'_>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let head = new_plan(context, Vec::new());
    layout::write_pretty(&Streamed { head: &head, context }, &mut *out).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// A [`Plan`] whose stages are built while it is serialised: the fields of `head` in [`Plan`]'s order, then
/// `stages` one by one.
struct Streamed<'h, 'c, 'p> {
    head: &'h Plan,
    context: &'c Context<'p>,
}

impl serde::Serialize for Streamed<'_, '_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        // Plan's fields, in its declaration order (`kfl_plan::format::Plan`); `plan_is_streamed_as_serde_prints_it`
        // checks the result against the derived `Serialize` of the whole plan.
        let Plan { plan_version, project, params, secrets, volumes, datasets, stages: _ } = self.head;
        let mut plan = serializer.serialize_struct("Plan", 7)?;
        plan.serialize_field("plan_version", plan_version)?;
        plan.serialize_field("project", project)?;
        plan.serialize_field("params", params)?;
        plan.serialize_field("secrets", secrets)?;
        plan.serialize_field("volumes", volumes)?;
        plan.serialize_field("datasets", datasets)?;
        plan.serialize_field("stages", &StreamedStages(self.context))?;
        plan.end()
    }
}

/// The plan's stages, each built, written and dropped in turn.
struct StreamedStages<'c, 'p>(&'c Context<'p>);

impl serde::Serialize for StreamedStages<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        // The count is not known before the stages are built (a tune adds its trial template); serde_json
        // prints an empty sequence of unknown length as `[]`, as it prints an empty Vec.
        let mut seq = serializer.serialize_seq(None)?;
        let mut failed = None;
        for_each_stage(self.0, |stage| {
            if failed.is_none()
                && let Err(e) = seq.serialize_element(&stage)
            {
                failed = Some(e);
            }
        });
        match failed {
            Some(e) => Err(e),
            None => seq.end(),
        }
    }
}

fn new_plan(context: &Context<'_>, stages: Vec<Stage>) -> Plan {
    let program = context.program;
    let project = Project {
        name: context.project.clone(),
        namespace: context.namespace.clone(),
        image: program.project.as_ref().and_then(|p| p.image.clone()),
        registry: program.project.as_ref().and_then(|p| p.registry.clone()),
        labels: program
            .project
            .iter()
            .flat_map(|p| p.labels.iter())
            .filter_map(|(key, value)| Some((key.clone(), scalar_text(value)?)))
            .collect(),
    };
    let params = program
        .params
        .iter()
        .filter_map(|p| {
            let value = context.params.get(&p.name).and_then(constant)?;
            Some(Param { name: p.name.clone(), ty: p.ty.to_string(), value })
        })
        .collect();
    let secrets = program
        .secrets
        .iter()
        .map(|s| Secret { name: s.name.clone(), k8s_name: s.k8s_name.clone(), keys: s.keys.clone() })
        .collect();
    let volumes = program
        .volumes
        .iter()
        .map(|v| Volume {
            name: v.name.clone(),
            size: Size { text: v.size.text.clone(), bytes: bytes(v.size.bytes) },
            access: v.access,
            class: v.class.clone(),
        })
        .collect();
    let datasets = program
        .datasets
        .iter()
        .map(|d| Dataset { name: d.name.clone(), uri: d.uri.clone(), kind: dataset_kind(&d.uri) })
        .collect();
    Plan { plan_version: PLAN_VERSION, project, params, secrets, volumes, datasets, stages }
}

/// The plan's stages in topological order, each handed to `emit` as it is built; a tune's trial template comes
/// right before its tune.
fn for_each_stage(context: &Context<'_>, mut emit: impl FnMut(Stage)) {
    let program = context.program;
    for name in &program.graph.order {
        let Some(node) = program.graph.node(name) else { continue };
        let depends_on =
            program.graph.dependencies(name).map(|e| Dependency { stage: e.from.clone(), kind: e.kind }).collect();
        let spec = match node.kind {
            NodeKind::Step | NodeKind::Train => {
                program.stage(name).map(|s| Spec::Container(Box::new(container(context, s))))
            }
            NodeKind::Tune => program.tune(name).map(|tune| {
                if let Some(trial) = program.stage(&tune.trial).filter(|s| s.trial_of.is_some()) {
                    emit(Stage {
                        name: trial.name.clone(),
                        kind: if trial.train.is_some() { NodeKind::Train } else { NodeKind::Step },
                        depends_on: trial_dependencies(trial),
                        spec: Spec::Container(Box::new(container(context, trial))),
                    });
                }
                Spec::Tune(Box::new(self::tune(tune, context)))
            }),
            NodeKind::Model => program.model(name).map(|m| Spec::Model(Box::new(model(m, program)))),
            NodeKind::Serve => program.serve(name).map(|s| Spec::Serve(Box::new(serve(s, program)))),
            NodeKind::Monitor => program.monitor(name).map(|m| Spec::Monitor(monitor(m, program))),
        };
        if let Some(spec) = spec {
            emit(Stage { name: name.clone(), kind: node.kind, depends_on, spec });
        }
    }
}

/// The whole plan as one typed value (for the test that the streamed text is serde's).
#[cfg(test)]
fn whole_plan(context: &Context<'_>) -> Plan {
    let mut stages = Vec::new();
    for_each_stage(context, |stage| stages.push(stage));
    new_plan(context, stages)
}

/// A trial template is not a node of the graph (its tune inherits its
/// edges); its own dependencies are read from what it references.
fn trial_dependencies(trial: &ir::Stage) -> Vec<Dependency> {
    let mut out: Vec<Dependency> = Vec::new();
    let values = trial.inputs.iter().filter_map(|i| i.binding.as_ref()).chain(trial.when.iter()).chain(&trial.run);
    for reference in values.flat_map(Value::refs) {
        let stage = match reference {
            Ref::Output { stage, .. } => stage,
            Ref::Best { tune, .. } => tune,
            _ => continue,
        };
        if !out.iter().any(|d| &d.stage == stage) {
            out.push(Dependency { stage: stage.clone(), kind: EdgeKind::Data });
        }
    }
    for stage in &trial.after {
        if !out.iter().any(|d| &d.stage == stage && d.kind == EdgeKind::After) {
            out.push(Dependency { stage: stage.clone(), kind: EdgeKind::After });
        }
    }
    out
}

fn container(context: &Context<'_>, stage: &ir::Stage) -> Container {
    let program = context.program;
    let run = stage.local_run.as_ref().unwrap_or(&stage.run);
    let part = |value: &Value| stage_part(value, stage, program);
    Container {
        component: stage.component.clone(),
        image: context.stage_image(stage).to_string(),
        command: run.iter().map(part).collect(),
        inputs: stage
            .inputs
            .iter()
            .map(|i| Input {
                name: i.name.clone(),
                ty: i.ty.to_string(),
                binding: i.binding.as_ref().map(|b| expression(b, program)),
                status_of: (i.ty == crate::ir::Ty::TaskStatus)
                    .then(|| super::kfp::exit_handler_task(program, stage))
                    .flatten(),
            })
            .collect(),
        outputs: stage
            .outputs
            .iter()
            .map(|o| Output {
                name: o.name.clone(),
                ty: o.ty.to_string(),
                kind: if o.ty.is_artifact() { OutputKind::Artifact } else { OutputKind::Scalar },
            })
            .collect(),
        metrics: stage.metrics.iter().map(|m| Metric { name: m.name.clone(), ty: m.ty.to_string() }).collect(),
        env: stage.env.iter().map(|(k, v)| (k.clone(), part(v))).collect(),
        local_env: stage.local_env.iter().map(|(k, v)| (k.clone(), part(v))).collect(),
        resources: resources(&stage.resources),
        retries: stage.retries,
        timeout_seconds: stage.timeout.map(ir::Duration::seconds),
        cache: stage.cache,
        when: stage.when.as_ref().map(|w| expression(w, program)),
        always: stage.always,
        after: stage.after.clone(),
        mounts: stage.mounts.iter().map(|m| Mount { volume: m.volume.clone(), path: m.path.clone() }).collect(),
        secrets: stage.secrets.clone(),
        train: stage.train.as_ref().map(|t| Train {
            framework: t.framework,
            nodes: t.nodes,
            procs_per_node: t.procs_per_node,
            runtime: t.runtime.clone(),
        }),
        for_loop: stage.loop_index.and_then(|index| {
            let l = program.loops.get(index)?;
            Some(Loop { index, var: l.var.clone(), items: loop_items(&l.iterable, program) })
        }),
        trial_of: stage.trial_of.clone(),
    }
}

fn loop_items(iterable: &Value, program: &ir::Program) -> LoopItems {
    match iterable {
        Value::Range(from, to) => match (from.as_int(), to.as_int()) {
            (Some(from), Some(to)) => LoopItems::Range { from, to },
            _ => LoopItems::Expr { expr: expression(iterable, program) },
        },
        Value::List(items) => match items.iter().map(constant).collect::<Option<Vec<_>>>() {
            Some(items) => LoopItems::List { items },
            None => LoopItems::Expr { expr: expression(iterable, program) },
        },
        other => LoopItems::Expr { expr: expression(other, program) },
    }
}

fn tune(tune: &ir::Tune, context: &Context<'_>) -> Tune {
    let program = context.program;
    let counts = context.tune_counts(tune);
    let program_free = |v: &Value| expression(v, program);
    Tune {
        trial: tune.trial.clone(),
        goal: tune.goal,
        metric: tune.metric.clone(),
        target: counts.target,
        algorithm: Algorithm {
            name: tune.algorithm.name,
            seed: tune.algorithm.seed,
            settings: tune.algorithm.settings.iter().map(|(k, v)| (k.clone(), program_free(v))).collect(),
        },
        trials: counts.trials,
        parallel: counts.parallel,
        max_failed: counts.max_failed,
        early_stop: tune.early_stop.as_ref().map(|e| EarlyStop {
            name: e.name,
            min_trials: e.min_trials,
            start_step: e.start_step,
        }),
        space: tune
            .space
            .iter()
            .map(|p| SearchParam {
                name: p.name.clone(),
                ty: p.ty.to_string(),
                distribution: p.distribution,
                args: p.args.iter().map(program_free).collect(),
            })
            .collect(),
        after: tune.after.clone(),
        when: tune.when.as_ref().map(program_free),
    }
}

fn model(model: &ir::Model, program: &ir::Program) -> Model {
    Model {
        source: match &model.source {
            ir::ModelSource::Artifact { value } => ModelSource::Artifact { artifact: expression(value, program) },
            ir::ModelSource::Uri { uri } => ModelSource::Uri { uri: uri.clone() },
        },
        format: model.format.clone(),
        version: model.version.clone(),
        description: model.description.as_ref().map(|d| plain_part(d, program)),
        labels: model.labels.iter().map(|(k, v)| (k.clone(), plain_part(v, program))).collect(),
        when: model.when.as_ref().map(|w| expression(w, program)),
        after: model.after.clone(),
    }
}

fn serve(serve: &ir::Serve, program: &ir::Program) -> Serve {
    let parts = |run: &Vec<Value>| run.iter().map(|v| plain_part(v, program)).collect::<Vec<_>>();
    let env = |env: &IndexMap<String, Value>| env.iter().map(|(k, v)| (k.clone(), plain_part(v, program))).collect();
    Serve {
        model: serve.model.clone(),
        served_name: Some(super::kserve::served_name(serve)),
        runtime: serve.runtime,
        image: serve.image.clone(),
        run: serve.run.as_ref().map(parts),
        local_run: serve.local_run.as_ref().map(parts),
        args: parts(&serve.args),
        protocol: serve.protocol,
        replicas: Replicas { min: serve.min_replicas, max: serve.max_replicas },
        autoscale: serve
            .autoscale
            .as_ref()
            .map(|a| Autoscale { metric: a.metric, target: expression(&a.target, program) }),
        canary_percent: serve.canary,
        transformer: serve.transformer.as_ref().map(|t| Transformer {
            image: t.image.clone(),
            run: parts(&t.run),
            env: env(&t.env),
            resources: resources(&t.resources),
        }),
        env: env(&serve.env),
        resources: resources(&serve.resources),
    }
}

fn monitor(monitor: &ir::Monitor, program: &ir::Program) -> Monitor {
    Monitor {
        service: monitor.service.clone(),
        rules: monitor
            .rules
            .iter()
            .map(|r| Rule {
                name: r.name.clone(),
                when: expression(&r.when, program),
                for_seconds: r.duration.map(ir::Duration::seconds),
                then: r.then,
            })
            .collect(),
        schedule: monitor.schedule.clone(),
    }
}

fn resources(resources: &ir::Resources) -> Resources {
    Resources {
        cpu: resources
            .cpu
            .map(|(request, limit)| CpuRange { request_millis: request.millis, limit_millis: limit.millis }),
        memory: resources.memory.as_ref().map(|(request, limit)| MemoryRange {
            request_bytes: bytes(request.bytes),
            limit_bytes: bytes(limit.bytes),
        }),
        gpu: resources.gpu,
    }
}

/// Whole bytes (a quantity is never negative; fractions of a byte are rounded).
fn bytes(value: f64) -> u64 {
    value.max(0.0).round() as u64
}

/// Where a dataset's data lives, from its URI scheme.
fn dataset_kind(uri: &str) -> DatasetKind {
    let scheme = uri.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme {
        "s3" => DatasetKind::S3,
        "gs" => DatasetKind::Gs,
        "hf" => DatasetKind::Hf,
        "pvc" => DatasetKind::Pvc,
        "http" | "https" => DatasetKind::Http,
        _ => DatasetKind::Local,
    }
}

/// A constant value, or `None` when it depends on something only known at run time.
fn constant(value: &Value) -> Option<Constant> {
    let text = || scalar_text(value).unwrap_or_default();
    Some(match value {
        Value::Int(n) => Constant::Int { value: *n, text: text() },
        Value::Float(x) => Constant::Float { value: *x, text: text() },
        Value::Bool(b) => Constant::Bool { value: *b, text: text() },
        Value::String(s) => Constant::String { value: s.clone(), text: text() },
        Value::Enum(s) => Constant::Enum { value: s.clone(), text: text() },
        Value::Duration(d) => Constant::Duration { value: d.millis, text: text() },
        Value::Quantity(q) => Constant::Quantity { value: q.bytes, text: text() },
        Value::Cpu(c) => Constant::Cpu { value: c.millis, text: text() },
        Value::Percent(p) => Constant::Percent { value: *p, text: text() },
        Value::List(items) => Constant::List { items: items.iter().map(constant).collect::<Option<_>>()? },
        Value::Range(from, to) => Constant::Range { from: Box::new(constant(from)?), to: Box::new(constant(to)?) },
        Value::Object(fields) => Constant::Object {
            fields: fields.iter().map(|(k, v)| Some((k.clone(), constant(v)?))).collect::<Option<_>>()?,
        },
        Value::Template(_) | Value::Ref(_) | Value::Call(_) | Value::Expr(_) => return None,
    })
}

fn expression(value: &Value, program: &ir::Program) -> Expression {
    expression_with(value, &|name| dataset_uri(program, name))
}

/// An expression; `uri` gives a dataset's URI.
fn expression_with(value: &Value, uri: &dyn Fn(&str) -> String) -> Expression {
    if let Some(value) = constant(value) {
        return Expression::Constant { value };
    }
    let sub = |v: &Value| Box::new(expression_with(v, uri));
    match value {
        Value::Ref(reference) => match reference {
            Ref::Param { name } => Expression::Param { name: name.clone() },
            Ref::Dataset { name } => Expression::Dataset { name: name.clone(), uri: uri(name) },
            Ref::Output { stage, output, fan_in } => {
                Expression::Output { stage: stage.clone(), output: output.clone(), fan_in: *fan_in }
            }
            Ref::Best { tune, field, what } => {
                Expression::Best { tune: tune.clone(), field: field.clone(), what: *what }
            }
            Ref::Local { name } => Expression::Local { name: name.clone() },
            Ref::LoopVar { name } => Expression::LoopVar { name: name.clone() },
            Ref::Builtin { name } => Expression::Builtin { name: name.clone() },
            Ref::Volume { name } => Expression::Decl { decl: DeclKind::Volume, name: name.clone() },
            Ref::Secret { name } => Expression::Decl { decl: DeclKind::Secret, name: name.clone() },
            Ref::Model { name } => Expression::Decl { decl: DeclKind::Model, name: name.clone() },
            Ref::Serve { name } => Expression::Decl { decl: DeclKind::Serve, name: name.clone() },
            Ref::Stage { name } => Expression::Decl { decl: DeclKind::Stage, name: name.clone() },
            Ref::Component { module, name } => Expression::Decl {
                decl: DeclKind::Component,
                name: module.as_ref().map_or_else(|| name.clone(), |m| format!("{m}.{name}")),
            },
        },
        Value::Expr(expr) => match expr.as_ref() {
            Expr::Unary { op, operand } => Expression::Unary { op: *op, operand: sub(operand) },
            Expr::Binary { op, lhs, rhs } => Expression::Binary { op: *op, lhs: sub(lhs), rhs: sub(rhs) },
            Expr::If { cond, then, otherwise } => {
                Expression::If { cond: sub(cond), then: sub(then), otherwise: sub(otherwise) }
            }
        },
        Value::Template(parts) => Expression::Template {
            parts: parts
                .iter()
                .map(|p| match p {
                    TemplatePart::Text(text) => {
                        Expression::Constant { value: Constant::String { value: text.clone(), text: text.clone() } }
                    }
                    TemplatePart::Value(v) => expression_with(v, uri),
                })
                .collect(),
        },
        Value::List(items) => Expression::List { items: items.iter().map(|v| expression_with(v, uri)).collect() },
        Value::Range(from, to) => Expression::Range { from: sub(from), to: sub(to) },
        Value::Object(fields) => {
            Expression::Object { fields: fields.iter().map(|(k, v)| (k.clone(), expression_with(v, uri))).collect() }
        }
        Value::Call(call) => Expression::Call {
            name: call.name.clone(),
            args: call.args.iter().map(|(k, v)| (k.clone(), expression_with(v, uri))).collect(),
            positional: call.positional.iter().map(|v| expression_with(v, uri)).collect(),
        },
        // Constants were handled above.
        _ => Expression::Constant { value: Constant::String { value: String::new(), text: String::new() } },
    }
}

/// A part of a stage's command or env: its own inputs and outputs are told apart.
fn stage_part(value: &Value, stage: &ir::Stage, program: &ir::Program) -> Part {
    part(value, program, &|name| is_output(stage, name))
}

/// A part outside a container stage (serve, model): locals are inputs.
fn plain_part(value: &Value, program: &ir::Program) -> Part {
    part(value, program, &|_| false)
}

fn part(value: &Value, program: &ir::Program, output: &dyn Fn(&str) -> bool) -> Part {
    if let Some(text) = scalar_text(value) {
        return Part::Text { text };
    }
    match value {
        Value::Ref(Ref::Param { name }) => Part::Param { name: name.clone() },
        Value::Ref(Ref::Dataset { name }) => Part::Dataset { name: name.clone(), uri: dataset_uri(program, name) },
        Value::Ref(Ref::Local { name }) if output(name) => Part::Output { name: name.clone() },
        Value::Ref(Ref::Local { name }) => Part::Input { name: name.clone() },
        Value::Ref(Ref::Output { stage, output, fan_in }) => {
            Part::StageOutput { stage: stage.clone(), output: output.clone(), fan_in: *fan_in }
        }
        Value::Ref(Ref::Best { tune, field, .. }) => Part::Best { tune: tune.clone(), field: field.clone() },
        Value::Ref(Ref::LoopVar { name }) => Part::LoopVar { name: name.clone() },
        Value::Ref(Ref::Builtin { name }) => Part::Builtin { name: name.clone() },
        Value::Template(parts) => Part::Template {
            parts: parts
                .iter()
                .map(|p| match p {
                    TemplatePart::Text(text) => Part::Text { text: text.clone() },
                    TemplatePart::Value(v) => part(v, program, output),
                })
                .collect(),
        },
        Value::List(items) => Part::List { items: items.iter().map(|v| part(v, program, output)).collect() },
        other => Part::Expr { expr: expression(other, program) },
    }
}

#[cfg(test)]
mod tests;
