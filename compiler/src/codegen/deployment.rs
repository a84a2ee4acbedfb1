//! What `manifests/` holds: the objects meaningful before any run, applied up front (`kfl apply`, `kubectl apply -k`), apart from those only the pipeline's launcher tasks create — one decision per declaration, from the IR's references.
//!
//! Volumes, notebooks and monitors (rules, the retraining CronJob, the retrain receiver) are always
//! applied up front. A `train` or `tune` never is: it is a job, which every pipeline run starts once (with
//! a run-unique name), so applied up front it would run one more time at apply. A `serve` is applied up
//! front only when its object is complete without a pipeline run: it reads no value a run produces
//! (another task's output, a tune's best trial, a registered model, a local dataset the pipeline stages)
//! and no credentials only a run copies (a `minio://` model: `kserve::reads_object_store`).
//! Anything else would start with local-run paths (`/kfl/artifacts/…`, a relative dataset path) or ahead
//! of its guard; its launcher task creates it, inside the guarded branch, with the run's values.

use super::{katib, kserve, staging, trainer};
use crate::ir::{self, Ref, Value};

/// Where a declaration's object comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// In `manifests/` and `kustomization.yaml`: applied before any run.
    UpFront,
    /// Created only by the pipeline's launcher task; the text says why, completing "… because it".
    Pipeline(String),
}

/// An object the pipeline creates instead of `manifests/`: its kind, declaration and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deferred {
    pub kind: &'static str,
    pub declaration: String,
    /// The compiled object's name (the declaration's Kubernetes name): a TrainJob's or Experiment's
    /// `kfl.dev/stage` label once a run renames it, an InferenceService's name.
    pub name: String,
    pub reason: String,
}

/// The placement of the declaration `name` (a `train`, `tune` or `serve`; anything else is up front).
pub fn placement(program: &ir::Program, name: &str) -> Placement {
    let reason = if let Some(stage) = program.stage(name).filter(|s| s.train.is_some() && s.trial_of.is_none()) {
        Some(stage_reason(program, stage).unwrap_or_else(|| JOB.to_string()))
    } else if let Some(tune) = program.tune(name) {
        Some(tune_reason(program, tune).unwrap_or_else(|| JOB.to_string()))
    } else if let Some(serve) = program.serve(name) {
        serve_reason(program, serve)
    } else {
        None
    };
    reason.map_or(Placement::UpFront, Placement::Pipeline)
}

/// Why a `train` or `tune` that reads nothing of a run is still the pipeline's: completes "… because it".
const JOB: &str = "is a job each pipeline run starts once; applied up front it would also run at apply time";

/// Every object the manifests back end builds that only the pipeline creates, in declaration order.
pub fn deferred(program: &ir::Program) -> Vec<Deferred> {
    let trains = program.stages.iter().filter(|s| s.train.is_some() && s.trial_of.is_none());
    let workloads = trains
        .map(|s| (trainer::KIND, &s.name))
        .chain(program.tunes.iter().map(|t| (katib::KIND, &t.name)))
        .chain(program.serves.iter().map(|s| (kserve::KIND, &s.name)));
    workloads
        .filter_map(|(kind, name)| match placement(program, name) {
            Placement::UpFront => None,
            Placement::Pipeline(reason) => {
                Some(Deferred { kind, declaration: name.clone(), name: super::manifest::kubernetes_name(name), reason })
            }
        })
        .collect()
}

/// Why a `train` (or a tune's trial) needs a run, if it does.
fn stage_reason(program: &ir::Program, stage: &ir::Stage) -> Option<String> {
    if stage.loop_index.is_some() {
        return Some("runs once per iteration of its `for` loop".to_string());
    }
    if stage.when.is_some() {
        return Some("runs only when its `when` holds, which the run decides".to_string());
    }
    if let Some(first) = stage.after.first() {
        return Some(format!("runs after `{first}`"));
    }
    let searched = program.tunes.iter().find(|t| t.name.as_str() == stage.trial_of.as_deref().unwrap_or_default());
    let bindings = stage
        .inputs
        .iter()
        .filter(|input| searched.is_none_or(|tune| tune.space.iter().all(|p| p.name != input.name)))
        .filter_map(|input| input.binding.as_ref());
    if let Some(read) = bindings.chain(&stage.run).chain(stage.env.values()).find_map(|v| run_value(program, v)) {
        return Some(format!("reads {read}"));
    }
    if let Some(output) = stage.outputs.first() {
        return Some(format!("writes `{}`, an output only a run has a place for", output.name));
    }
    None
}

fn tune_reason(program: &ir::Program, tune: &ir::Tune) -> Option<String> {
    if tune.when.is_some() {
        return Some("runs only when its `when` holds, which the run decides".to_string());
    }
    if let Some(first) = tune.after.first() {
        return Some(format!("runs after `{first}`"));
    }
    if let Some(reason) = program.stage(&tune.trial).and_then(|trial| stage_reason(program, trial)) {
        return Some(format!("runs trials of `{}`, which {reason}", tune.trial));
    }
    let read =
        super::kfp::all_refs(program).into_iter().any(|r| matches!(r, Ref::Best { tune: t, .. } if *t == tune.name));
    read.then(|| "finds the best trial, whose values the run reads".to_string())
}

fn serve_reason(program: &ir::Program, serve: &ir::Serve) -> Option<String> {
    if let Some(model) = program.model(&serve.model) {
        if let ir::ModelSource::Artifact { .. } = model.source {
            return Some(format!("serves `{}`, which a run registers from its training output", model.name));
        }
        if program.project.as_ref().is_some_and(|p| p.registry.is_some()) {
            return Some(format!(
                "serves `{}` from the model registry, where a run's `{}` task registers it",
                model.name, model.name
            ));
        }
        if model.when.is_some() {
            return Some(format!("serves `{}`, registered only when its `when` holds", model.name));
        }
        if kserve::reads_object_store(program, model) {
            return Some(format!(
                "serves `{}` from the object store (`minio://`), whose keys a run's launcher copies into the \
                 Secret KServe reads for `s3://`",
                model.name
            ));
        }
    }
    let transformer = serve.transformer.iter().flat_map(|t| t.run.iter().chain(t.env.values()));
    let values = serve.run.iter().flatten().chain(&serve.args).chain(serve.env.values()).chain(transformer);
    values.into_iter().find_map(|v| run_value(program, v)).map(|read| format!("reads {read}"))
}

/// The first value a run produces that `value` refers to, described ("`prepare.train`, an output of a run's task").
fn run_value(program: &ir::Program, value: &Value) -> Option<String> {
    value.refs().into_iter().find_map(|reference| match reference {
        Ref::Output { stage, output, .. } => Some(format!("`{stage}.{output}`, an output of a run's task")),
        Ref::Best { tune, field, .. } => Some(format!("`{tune}.best.{field}`, a run's best trial")),
        Ref::Model { name } => Some(format!("model `{name}`, registered by a run")),
        Ref::Serve { name } => Some(format!("the URL of `{name}`, deployed by a run")),
        Ref::LoopVar { name } => Some(format!("the loop variable `{name}`")),
        Ref::Dataset { name } => program
            .datasets
            .iter()
            .find(|d| d.name == *name && staging::is_local(&d.uri))
            .map(|d| format!("dataset `{}`, a local file a run imports from where `kfl build` staged it", d.name)),
        _ => None,
    })
}
