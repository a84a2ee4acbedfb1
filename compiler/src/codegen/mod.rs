//! Back ends: the typed `ir::Program` → Kubernetes manifests, a KFP v2 pipeline and the local execution plan.
//!
//! Each target's version knowledge (API versions, field names, defaults,
//! limits) lives in one module: `trainer.rs` (Trainer v2 TrainJob),
//! `katib.rs` (Katib Experiment), `kserve.rs` (KServe InferenceService),
//! `notebook.rs` (Kubeflow Notebook), `core.rs` (PVC),
//! `monitoring.rs` (PrometheusRule, CronJob), `scrape.rs` (PodMonitor), `alert_receiver.rs`
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
pub mod kserve;
pub mod launcher;
mod manifest;
mod monitoring;
mod notebook;
mod plan;
pub mod rbac;
mod scheduling;
mod scrape;
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
}

/// Everything `kfl build` writes, as (relative path, contents), in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub files: Vec<(String, String)>,
}

/// Only the execution plan (`plan.json`), for `kfl run`: the manifests and the pipeline are not needed to run
/// locally, so their target checks are left to `kfl build`.
pub fn build_plan(program: &ir::Program, options: &BuildOptions) -> Result<String, Vec<Diagnostic>> {
    // Every program the checker accepts has a plan.
    Ok(plan::plan(&Context::new(program, options)))
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
    // A set, not a scan per manifest: a program has as many deferred declarations as trains and tunes.
    let deferred: std::collections::HashSet<(&str, String)> =
        deployment::deferred(context.program).into_iter().map(|d| (d.kind, d.name)).collect();
    manifests.retain(|m| !deferred.contains(&(m.kind.as_str(), m.name.clone())));
    manifests
}

/// Up to this many stages the pipeline is built beside the plan, on a second thread (for speed); above it, one
/// after the other (for memory).
const PARALLEL_STAGES: usize = 5_000;

/// Where [`Prepared::write`] puts each file as it is produced: the CLI's staging folder, or memory ([`build`]).
pub trait Sink {
    /// Creates the file `path` (relative, `/`-separated) and has `contents` write it.
    fn file(
        &mut self,
        path: &str,
        contents: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<()>;
}

/// The files in memory, as [`Output`] holds them.
impl Sink for Output {
    fn file(
        &mut self,
        path: &str,
        contents: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        contents(&mut bytes)?;
        let text = String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        self.files.push((path.to_string(), text));
        Ok(())
    }
}

/// A program whose build has no errors, its manifests built: [`Prepared::write`] produces the files one at a
/// time, so a large build never holds all of them (bench/memory.sh).
pub struct Prepared<'p> {
    context: Context<'p>,
    manifests: Vec<Manifest>,
}

/// Checks what only a build can check and builds the manifests. Errors are diagnostics on the user's source
/// (target constraints that the type checker cannot know, datasets not staged); the pipeline and the plan
/// have none (every checked program has both).
pub fn prepare<'p>(program: &'p ir::Program, options: &BuildOptions) -> Result<Prepared<'p>, Vec<Diagnostic>> {
    let unstaged = staging::unstaged(program, options);
    if !unstaged.is_empty() {
        return Err(unstaged);
    }
    let context = Context::new(program, options);
    let mut diagnostics = Vec::new();
    let manifests = manifests(&context, &mut diagnostics);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    Ok(Prepared { context, manifests })
}

impl Prepared<'_> {
    /// Writes `kustomization.yaml`, the manifests, `pipeline.yaml` (when the program has a task) and
    /// `plan.json`, in that order, each file's text freed before the next is built.
    pub fn write(self, sink: &mut dyn Sink) -> std::io::Result<()> {
        let Prepared { context, manifests } = self;
        let deferred = deployment::deferred(context.program);
        let kustomization = manifest::kustomization(&context, &manifests, &deferred);
        sink.file("kustomization.yaml", &mut |out| out.write_all(kustomization.as_bytes()))?;
        drop(kustomization);
        for manifest in manifests {
            let text = manifest.to_yaml();
            sink.file(&format!("manifests/{}", manifest.file_name()), &mut |out| out.write_all(text.as_bytes()))?;
        }
        if context.program.stages.len() > PARALLEL_STAGES {
            // One after the other, each streamed to its file: never two back ends' trees or texts alive at once.
            if let Some(pipeline) = kfp::Pipeline::new(&context) {
                sink.file("pipeline.yaml", &mut |out| pipeline.write(out))?;
            }
            return sink.file("plan.json", &mut |out| plan::write_plan(&context, out));
        }
        // The pipeline is the largest back end: it is built on a second thread while this one builds the plan
        // (the two only read the program). The main thread's stack size (8 MiB), not a spawned thread's
        // default 2 MiB: the pipeline's builders recurse once per nesting level of a value, as deep as the
        // parser accepts.
        let (pipeline, plan) = std::thread::scope(|scope| {
            let pipeline_job = || kfp::pipeline(&context);
            let helper = std::thread::Builder::new().stack_size(8 * 1024 * 1024).spawn_scoped(scope, pipeline_job).ok();
            let plan = plan::plan(&context);
            let pipeline = match helper {
                Some(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread to be had: build it here.
                None => pipeline_job(),
            };
            (pipeline, plan)
        });
        if let Some(pipeline) = pipeline {
            sink.file("pipeline.yaml", &mut |out| out.write_all(pipeline.as_bytes()))?;
        }
        sink.file("plan.json", &mut |out| out.write_all(plan.as_bytes()))
    }
}

/// Compiles a checked program into memory. Errors are diagnostics on the user's source
/// (target constraints that the type checker cannot know, bad `-p` values).
pub fn build(program: &ir::Program, options: &BuildOptions) -> Result<Output, Vec<Diagnostic>> {
    let prepared = prepare(program, options)?;
    let mut output = Output::default();
    // Memory takes every write.
    let _ = prepared.write(&mut output);
    Ok(output)
}
