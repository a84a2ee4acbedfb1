//! Back ends: the typed `ir::Program` → Kubernetes manifests, a KFP v2 pipeline and the local execution plan.
//!
//! Each target's version knowledge (API versions, field names, defaults,
//! limits) lives in one module: `trainer.rs` (Trainer v2 TrainJob),
//! `katib.rs` (Katib Experiment), `kserve.rs` (KServe InferenceService),
//! `notebook.rs` (Kubeflow Notebook), `core.rs` (PVC),
//! `monitoring.rs` (PrometheusRule, CronJob), `alert_receiver.rs`
//! (AlertmanagerConfig and the retrain webhook receiver), `kfp/` (KFP v2 pipeline IR),
//! `plan.rs` (plan.json for the embedded runtime).

mod alert_receiver;
mod args;
mod cluster_rules;
mod core;
pub mod deployment;
pub mod image_reference;
mod katib;
mod kfp;
pub(crate) mod kserve;
pub mod launcher;
mod manifest;
mod monitoring;
mod notebook;
mod plan;
pub mod rbac;
mod scheduling;
pub mod staging;
mod trainer;
pub mod yaml;
mod yaml_stream;

pub use manifest::{Context, Manifest};
pub use scheduling::cluster_only as cluster_only_properties;
pub use staging::DOWNLOADABLE_SCHEMES;

use crate::diagnostics::Diagnostic;
use crate::ir;

/// Options of `kfl build` besides the params, which are bound when the file is checked
/// (`kfl_compiler::check_bound`, `ir::bind`).
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Dataset name → hex SHA-256 of each file `staging::local_datasets` lists, as `kfl build` staged it.
    pub staged: std::collections::BTreeMap<String, String>,
    /// The local datasets whose file `kfl build` did not find: nothing staged, the importer names
    /// `staging::unhashed_path` under the staging root, where the user uploads the file.
    pub absent: std::collections::BTreeSet<String>,
    /// `kfl build --launcher-image`: wins over `project.launcher_image` (checked by the caller with
    /// `image_reference::problem`).
    pub launcher_image: Option<String>,
    /// `kfl apply --namespace`: wins over `project.namespace` in every manifest and launcher task, so the objects
    /// applied up front and those the pipeline's runs create share one namespace.
    pub namespace: Option<String>,
}

/// Everything `kfl build` writes, as (relative path, contents), in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub files: Vec<(String, String)>,
}

/// Only the execution plan (`plan.json`), for `kfl run`: the manifests and the pipeline are not needed to run
/// locally, so their target checks are left to `kfl build`.
pub fn build_plan(program: &ir::Program, options: &BuildOptions) -> Result<String, Vec<Diagnostic>> {
    let context = Context::new(program, options);
    let mut diagnostics = Vec::new();
    let plan = plan::plan(&context, &mut diagnostics);
    if diagnostics.is_empty() { Ok(plan) } else { Err(diagnostics) }
}

/// The targets' rules the checker applies to every program (`crate::check`): errors every command reports,
/// and the cluster-only refusals (W0402), warnings except for the cluster back ends
/// (`crate::Checked::for_cluster`, which `kfl build` applies before it calls `build`).
pub fn target_checks(program: &ir::Program) -> Vec<Diagnostic> {
    let mut diagnostics = kfp::check(program);
    diagnostics.extend(cluster_rules::check(program));
    diagnostics
}

/// The manifests applied up front (`deployment.rs`): storage first, then workloads in lifecycle order, then
/// monitoring. The workloads only a run creates are built too, for their diagnostics, and left to the
/// pipeline's launcher tasks.
fn manifests(context: &Context<'_>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Manifest> {
    let mut manifests: Vec<Manifest> = Vec::new();
    manifests.extend(core::manifests(context, diagnostics));
    manifests.extend(rbac::manifests(context));
    manifests.extend(notebook::manifests(context, diagnostics));
    manifests.extend(trainer::manifests(context, diagnostics));
    manifests.extend(katib::manifests(context, diagnostics));
    manifests.extend(kserve::manifests(context, diagnostics));
    manifests.extend(monitoring::manifests(context, diagnostics));
    let deferred = deployment::deferred(context.program);
    manifests.retain(|m| !deferred.iter().any(|d| d.kind == m.kind && d.name == m.name));
    manifests
}

/// `kustomization.yaml` and one file per manifest.
fn written_manifests(context: &Context<'_>, manifests: &[Manifest]) -> Vec<(String, String)> {
    let mut files = Vec::with_capacity(manifests.len() + 1);
    let deferred = deployment::deferred(context.program);
    files.push(("kustomization.yaml".to_string(), manifest::kustomization(context, manifests, &deferred)));
    for manifest in manifests {
        files.push((format!("manifests/{}", manifest.file_name()), manifest.to_yaml()));
    }
    files
}

/// Up to this many stages the pipeline is built beside the plan, on a second thread (for speed); above it, one
/// after the other (for memory).
const PARALLEL_STAGES: usize = 5_000;

/// Compiles a checked program. Errors are diagnostics on the user's source
/// (target constraints that the type checker cannot know, bad `-p` values).
pub fn build(program: &ir::Program, options: &BuildOptions) -> Result<Output, Vec<Diagnostic>> {
    let unstaged = staging::unstaged(program, options);
    if !unstaged.is_empty() {
        return Err(unstaged);
    }
    let context = Context::new(program, options);
    // The pipeline is the largest back end; it runs beside the manifests and
    // the plan (the three only read the program). Diagnostics are gathered
    // per back end and joined in the order a single thread would report them.
    let (manifests, manifest_diagnostics, (pipeline, pipeline_diagnostics), (plan, plan_diagnostics)) =
        std::thread::scope(|scope| {
            let pipeline_job = || {
                let mut diagnostics = Vec::new();
                let pipeline = kfp::pipeline(&context, &mut diagnostics);
                (pipeline, diagnostics)
            };
            // The main thread's stack (8 MiB), not a spawned thread's default 2 MiB: the pipeline's
            // builders recurse once per nesting level of a value, as deep as the parser accepts. A large program
            // builds the pipeline after the plan instead: side by side, the two back ends' trees would both be
            // alive at the peak (bench/memory.sh), which matters more there than the time saved.
            let helper = (program.stages.len() <= PARALLEL_STAGES)
                .then(|| std::thread::Builder::new().stack_size(8 * 1024 * 1024).spawn_scoped(scope, pipeline_job).ok())
                .flatten();
            let mut diagnostics = Vec::new();
            let manifests = manifests(&context, &mut diagnostics);
            let manifests = written_manifests(&context, &manifests);
            let mut plan_diagnostics = Vec::new();
            let plan = plan::plan(&context, &mut plan_diagnostics);
            let pipeline = match helper {
                Some(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread to be had: build it here.
                None => pipeline_job(),
            };
            (manifests, diagnostics, pipeline, (plan, plan_diagnostics))
        });
    let mut diagnostics = manifest_diagnostics;
    diagnostics.extend(pipeline_diagnostics);
    diagnostics.extend(plan_diagnostics);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let mut output = Output { files: manifests };
    if let Some(pipeline) = pipeline {
        output.files.push(("pipeline.yaml".to_string(), pipeline));
    }
    output.files.push(("plan.json".to_string(), plan));
    Ok(output)
}
