//! Back ends: the typed `ir::Program` → Kubernetes manifests, a KFP v2 pipeline and the local execution plan.
//!
//! Each target's version knowledge (API versions, field names, defaults,
//! limits) lives in one module: `trainer.rs` (Trainer v2 TrainJob),
//! `katib.rs` (Katib Experiment), `kserve.rs` (KServe InferenceService),
//! `notebook.rs` (Kubeflow Notebook), `core.rs` (PVC),
//! `monitoring.rs` (PrometheusRule, CronJob), `kfp/` (KFP v2 pipeline IR),
//! `plan.rs` (plan.json for the embedded runtime).

mod args;
mod core;
mod katib;
mod kfp;
mod kserve;
mod manifest;
mod monitoring;
mod notebook;
mod plan;
mod trainer;
pub mod yaml;

pub use manifest::{Context, Manifest};

use crate::diagnostics::Diagnostic;
use crate::ir;

/// Options of `kfl build`.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// `-p NAME=VALUE` overrides, as written on the command line.
    pub params: Vec<(String, String)>,
}

/// Everything `kfl build` writes, as (relative path, contents), in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub files: Vec<(String, String)>,
}

/// Only the execution plan (`plan.json`), for `kfl run`: the manifests and the pipeline are not needed to run
/// locally, so their target checks are left to `kfl build`.
pub fn build_plan(program: &ir::Program, options: &BuildOptions) -> Result<String, Vec<Diagnostic>> {
    let context = Context::new(program, options)?;
    let mut diagnostics = Vec::new();
    let plan = plan::plan(&context, &mut diagnostics);
    if diagnostics.is_empty() { Ok(plan) } else { Err(diagnostics) }
}

/// Compiles a checked program. Errors are diagnostics on the user's source
/// (target constraints that the type checker cannot know, bad `-p` values).
pub fn build(program: &ir::Program, options: &BuildOptions) -> Result<Output, Vec<Diagnostic>> {
    let context = Context::new(program, options)?;
    let mut diagnostics = Vec::new();
    // Storage first, then workloads in lifecycle order, then monitoring.
    let mut manifests: Vec<Manifest> = Vec::new();
    manifests.extend(core::manifests(&context, &mut diagnostics));
    manifests.extend(notebook::manifests(&context, &mut diagnostics));
    manifests.extend(trainer::manifests(&context, &mut diagnostics));
    manifests.extend(katib::manifests(&context, &mut diagnostics));
    manifests.extend(kserve::manifests(&context, &mut diagnostics));
    manifests.extend(monitoring::manifests(&context, &mut diagnostics));
    let pipeline = kfp::pipeline(&context, &mut diagnostics);
    let plan = plan::plan(&context, &mut diagnostics);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let mut output = Output::default();
    output.files.push(("kustomization.yaml".to_string(), manifest::kustomization(&context, &manifests)));
    for manifest in &manifests {
        output.files.push((format!("manifests/{}", manifest.file_name()), manifest.to_yaml()));
    }
    output.files.push(("pipeline.yaml".to_string(), pipeline));
    output.files.push(("plan.json".to_string(), plan));
    Ok(output)
}
