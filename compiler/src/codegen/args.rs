//! Command lines and env values as strings: constants and params substituted, everything stage-specific delegated to the target.

use super::Context;
use super::manifest::scalar_text;
use crate::ir::{self, Ref, TemplatePart, Value};

/// The prefix of the pipeline's channel inputs (`pipelinechannel--NAME`), as the KFP SDK names them.
pub(crate) const CHANNEL: &str = "pipelinechannel--";

/// What a target substitutes for a reference it owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot<'a> {
    /// An input or output of the stage (`data` in `run = [..., data]`); the
    /// target tells them apart with [`is_output`].
    Input(&'a str),
    /// A searched parameter of a tune trial (`${trialParameters.lr}` in Katib).
    Param(&'a str),
    /// `model_dir` or `port` in a `serve`, a serving metric in a rule.
    Builtin(&'a str),
    /// The loop variable of the stage's `for`.
    LoopVar(&'a str),
    /// `STAGE.OUTPUT` read directly (outside a signature default).
    StageOutput { stage: &'a str, output: &'a str },
    /// `TUNE.best.NAME`.
    Best { tune: &'a str, field: &'a str },
}

/// Renders one value as text. `slot` answers for references that depend on
/// the target (paths, placeholders); constants, params and datasets are
/// resolved here. A fan-in list renders as a JSON array, as KFP passes lists.
pub(crate) fn render(context: &Context<'_>, value: &Value, slot: &mut dyn FnMut(Slot<'_>) -> String) -> String {
    if let Some(text) = scalar_text(value) {
        return text;
    }
    match value {
        Value::Ref(reference) => render_ref(context, reference, slot),
        Value::Template(parts) => parts
            .iter()
            .map(|part| match part {
                TemplatePart::Text(text) => text.clone(),
                TemplatePart::Value(value) => render(context, value, slot),
            })
            .collect(),
        Value::List(_) => list_json(context, value, slot).to_string(),
        Value::Object(_) => object_json(context, value, slot).to_string(),
        // Ranges, calls and run-time expressions are not arguments
        // (the checker rejects them in `run`); render them readably anyway.
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A list as a JSON array of its items' texts; a nested list stays a nested array (as the runtime renders it),
/// not the text of one: escaping each level's quotes again would double the output per level.
fn list_json(context: &Context<'_>, value: &Value, slot: &mut dyn FnMut(Slot<'_>) -> String) -> serde_json::Value {
    match value {
        Value::List(items) => items.iter().map(|item| list_json(context, item, slot)).collect(),
        other => serde_json::Value::String(render(context, other, slot)),
    }
}

/// An object as JSON, rendered once however deep (as the runtime renders it): numbers and bools stay JSON
/// numbers and bools, nested objects and lists stay nested, everything else is its text.
fn object_json(context: &Context<'_>, value: &Value, slot: &mut dyn FnMut(Slot<'_>) -> String) -> serde_json::Value {
    match value {
        Value::Object(fields) => {
            serde_json::Value::Object(fields.iter().map(|(k, v)| (k.clone(), object_json(context, v, slot))).collect())
        }
        Value::List(items) => items.iter().map(|item| object_json(context, item, slot)).collect(),
        Value::Int(n) => (*n).into(),
        Value::Float(x) => {
            serde_json::Number::from_f64(*x).map_or_else(|| render(context, value, slot).into(), Into::into)
        }
        Value::Bool(b) => (*b).into(),
        other => serde_json::Value::String(render(context, other, slot)),
    }
}

fn render_ref(context: &Context<'_>, reference: &Ref, slot: &mut dyn FnMut(Slot<'_>) -> String) -> String {
    match reference {
        Ref::Param { name } => match context.params.get(name) {
            Some(value) => render(context, value, slot),
            None => slot(Slot::Param(name)),
        },
        // A local file read directly is not on the cluster: its staged copy's URI is (`staging.rs`).
        Ref::Dataset { name } => {
            context.staged.get(name).cloned().unwrap_or_else(|| dataset_uri(context.program, name))
        }
        Ref::Local { name } => slot(Slot::Input(name)),
        Ref::Builtin { name } => slot(Slot::Builtin(name)),
        Ref::LoopVar { name } => slot(Slot::LoopVar(name)),
        Ref::Output { stage, output, .. } => slot(Slot::StageOutput { stage, output }),
        Ref::Best { tune, field, .. } => slot(Slot::Best { tune, field }),
        Ref::Volume { name }
        | Ref::Secret { name }
        | Ref::Model { name }
        | Ref::Serve { name }
        | Ref::Stage { name }
        | Ref::Component { name, .. } => name.clone(),
    }
}

/// A dataset's URI as declared (relative paths stay relative to the file).
pub(crate) fn dataset_uri(program: &ir::Program, name: &str) -> String {
    program.datasets.iter().find(|d| d.name == name).map(|d| d.uri.clone()).unwrap_or_default()
}

/// Whether `name` is an output of `stage` (so a `Slot::Input` is really an output).
pub(crate) fn is_output(stage: &ir::Stage, name: &str) -> bool {
    stage.outputs.iter().any(|o| o.name == name)
}

/// A param read directly becomes a channel input (`{channel}NAME`), a value
/// the pipeline run supplies, instead of the value known at build time.
pub(crate) fn params_as_channels(value: &Value, channel: &str) -> Value {
    match value {
        Value::Ref(Ref::Param { name }) => Value::Ref(Ref::Local { name: format!("{channel}{name}") }),
        Value::Template(parts) => Value::Template(
            parts
                .iter()
                .map(|part| match part {
                    TemplatePart::Value(v) => TemplatePart::Value(params_as_channels(v, channel)),
                    text => text.clone(),
                })
                .collect(),
        ),
        Value::List(items) => Value::List(items.iter().map(|item| params_as_channels(item, channel)).collect()),
        other => other.clone(),
    }
}
