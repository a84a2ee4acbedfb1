//! What the checker knows about the KFP target: a step's `k8s` block must fit its task's pod (E0402), programs whose pipeline could not run on KFP are cluster-only refusals (W0402), and local data staged for KFP's default bucket is a warning (W0403).
//!
//! Run after type checking by every command (`crate::check_incremental`), so
//! `kfl run` and `kfl build` refuse the same programs; `kfl build` alone
//! turns W0402 into an error (`crate::Checked::for_cluster`).

use super::{exit, pod};
use crate::codegen::staging;
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::{self, Ref, Value};

pub(crate) fn check(program: &ir::Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    step_patches(program, &mut out);
    staged_datasets(program, &mut out);
    artifact_fan_in(program, &mut out);
    exit_handlers(program, &mut out);
    task_status_inputs(program, &mut out);
    out
}

/// A `TaskStatus` input is filled from the `exit-handler-N` DAG of its stage (`taskFinalStatus.producerTask`,
/// `backend/src/v2/driver/resolve.go`, kubeflow/pipelines 2.17.0): an `always` step that waits for no stage
/// has no handler, and a tune's trial runs as a Katib Job, outside the pipeline. `kfl run` refuses them too:
/// there is no status to give.
fn task_status_inputs(program: &ir::Program, out: &mut Vec<Diagnostic>) {
    let (handlers, misplaced) = exit::exit_handlers(program);
    let has_handler = |stage: &ir::Stage| {
        handlers.iter().any(|h| h.exit.name == stage.name)
            || misplaced.iter().any(|m| match m {
                exit::Misplaced::Nested(s) | exit::Misplaced::InsideItsLoop(s) => s.name == stage.name,
                exit::Misplaced::Overlaps { exit, .. } => exit.name == stage.name,
            })
    };
    for stage in program.stages.iter().filter(|s| s.always && s.kind == ir::StageKind::Step) {
        let Some(input) = stage.inputs.iter().find(|i| i.ty == crate::ir::Ty::TaskStatus) else { continue };
        let (message, help) = if let Some(tune) = &stage.trial_of {
            (
                format!("`{}` is a trial of `{tune}` and cannot read a `TaskStatus`", stage.name),
                format!("read the status in an `always` step that runs after `{tune}`"),
            )
        } else if !has_handler(stage) {
            (
                format!("`{}` reads the final status of the stages it waits for, and it waits for none", stage.name),
                "give it stages to wait for (`after = [STAGE]` or an input bound to their outputs)".to_string(),
            )
        } else {
            continue;
        };
        out.push(
            Diagnostic::error(Code::NotAllowedHere, message, Label::new(input.span, "nothing to report on"))
                .with_help(help),
        );
    }
}

/// An `always` stage is a KFP exit handler (`exit.rs`); where KFP allows none, the pipeline cannot keep the
/// promise `kfl run` keeps (run after everything upstream, whatever happened).
fn exit_handlers(program: &ir::Program, out: &mut Vec<Diagnostic>) {
    let (_, misplaced) = exit::exit_handlers(program);
    for problem in misplaced {
        let (stage, message, help) = match problem {
            exit::Misplaced::Nested(stage) => (
                stage,
                format!("`always` stage `{}` is inside a `for` or under `when`", stage.name),
                "move the `always` stage to the top level of the file, without `when`".to_string(),
            ),
            exit::Misplaced::Overlaps { exit, other, shared } => (
                exit,
                format!(
                    "`always` stages `{}` and `{}` both wait for `{shared}`: KFP's exit handlers cannot overlap",
                    other.name, exit.name
                ),
                format!("make `{}` the only `always` stage downstream of `{shared}`", other.name),
            ),
            exit::Misplaced::InsideItsLoop(stage) => (
                stage,
                format!("a `for` block upstream of `always` stage `{}` also reads it", stage.name),
                "move the stages that read it out of the `for` block".to_string(),
            ),
        };
        out.push(
            Diagnostic::warning(Code::ClusterOnly, message, Label::new(stage.span, "cannot be a KFP exit handler"))
                .with_help(format!("{help}; `kfl run` runs it as written"))
                .with_note(
                    "`always` compiles to a KFP ExitHandler, which only the pipeline's outermost level may hold \
                     and which guards a set of tasks of its own (sdk/python/kfp/dsl/tasks_group.py, \
                     kubeflow/pipelines 2.17)",
                ),
        );
    }
}

/// A pipeline step's `k8s` block is read into its task's `KubernetesExecutorConfig` (`pod.rs`); a `step`
/// that is a tune's trial runs as a Katib Job instead, whose patches go to the Job.
fn step_patches(program: &ir::Program, out: &mut Vec<Diagnostic>) {
    let steps = program.stages.iter().filter(|s| s.kind == ir::StageKind::Step && s.trial_of.is_none());
    for stage in steps {
        let mut scratch = super::spec::KubernetesExecutorConfig::default();
        for (index, misfit) in pod::apply(&mut scratch, &stage.patches) {
            let patch = &stage.patches[index];
            let written = misfit.segment < patch.path.len();
            let span = match (&misfit.expected, written) {
                (None, true) => patch.path_spans.get(misfit.segment).copied().unwrap_or(patch.span),
                _ => patch.span,
            };
            let (message, label) = match misfit.expected {
                None => {
                    (format!("`{}` cannot be set on the pod of a KFP task", misfit.path), "not in the platform spec")
                }
                Some(expected) => {
                    (format!("`{}` must be {expected} on the pod of a KFP task", misfit.path), "does not fit")
                }
            };
            out.push(
                Diagnostic::error(Code::PatchDoesNotFit, message, Label::new(span, label))
                    .with_help(format!("a step's `k8s` block sets {}", pod::SUPPORTED))
                    .with_note(format!(
                        "step `{}` runs as a Kubeflow Pipelines task: its pod takes only what the kfp-kubernetes \
                         KubernetesExecutorConfig carries (kubeflow/pipelines 2.17)",
                        stage.name
                    )),
            );
        }
    }
}

/// A local dataset is staged into object storage by `kfl build` and imported from there (`staging.rs`); without
/// `project.artifacts` it goes to KFP's default bucket, which the user should know before a run reads it.
/// Remote URIs need nothing: KFP imports what its launcher downloads, and passes the others as text.
fn staged_datasets(program: &ir::Program, out: &mut Vec<Diagnostic>) {
    if program.project.as_ref().is_some_and(|p| p.artifacts.is_some()) {
        return;
    }
    for dataset in staging::local_datasets(program) {
        out.push(
            Diagnostic::warning(
                Code::DefaultArtifacts,
                format!(
                    "no `project.artifacts`: dataset `{}` staged for KFP's default bucket, under `{}`",
                    dataset.name,
                    staging::DEFAULT_ROOT
                ),
                Label::new(dataset.span, "staged by `kfl build`"),
            )
            .with_help(format!(
                "set `artifacts` in `project` (an `s3://`, `gs://` or `minio://` prefix) to choose where \
                 `kfl build` stages it; `kfl run` keeps reading `{}` as written",
                dataset.uri
            ))
            .with_note(
                "`mlpipeline` is the bucket of KFP's own default pipeline root (minio://mlpipeline/v2/artifacts, \
                 backend/src/v2/config/env.go, kubeflow/pipelines 2.17)",
            ),
        );
    }
}

/// `{{$.inputs.artifacts['x'].path}}` (and `.uri`) of an `isArtifactList` input is filled from the list's
/// first artifact only: `getPlaceholders` in `backend/src/v2/component/launcher_v2.go` (kubeflow/pipelines
/// 2.17.0) reads `artifactList.Artifacts[0]`. The one form holding every element is `{{$}}`, the whole
/// executor input as JSON, which no user command reads.
fn artifact_fan_in(program: &ir::Program, out: &mut Vec<Diagnostic>) {
    for stage in program.stages.iter().filter(|s| s.trial_of.is_none()) {
        let mut values: Vec<&Value> = stage.inputs.iter().filter_map(|i| i.binding.as_ref()).collect();
        values.extend(stage.run.iter());
        values.extend(stage.env.values());
        let collected = values.into_iter().flat_map(Value::refs).find_map(|r| match r {
            Ref::Output { stage: producer, output, fan_in: true } => {
                let producer = program.stage(producer)?;
                let ty = &producer.outputs.iter().find(|o| &o.name == output)?.ty;
                ty.is_artifact().then(|| format!("{}.{output}", producer.name))
            }
            _ => None,
        });
        let Some(collected) = collected else { continue };
        out.push(
            Diagnostic::warning(
                Code::ClusterOnly,
                format!(
                    "Kubeflow Pipelines passes stage `{}` only the first of the artifacts `{collected}`",
                    stage.name
                ),
                Label::new(stage.span, "reads a list of artifacts collected from a `for` block"),
            )
            .with_help(
                "collect parameters (a `list[float]`, `list[string]`, …) out of the `for` block, or merge the \
                 artifacts inside it; `kfl run` passes the whole list",
            )
            .with_note(
                "KFP's launcher fills an artifact list's placeholder from its first artifact \
                 (backend/src/v2/component/launcher_v2.go, kubeflow/pipelines 2.17)",
            ),
        );
    }
}
