//! Where a `TaskStatus` may stand: only as an input, without a default, of an `always` step or component.
//!
//! A `TaskStatus` input is the final status of what an `always` stage waits for: KFP fills it only in an
//! exit handler's exit task (`taskFinalStatus`, sdk/python/kfp/dsl/pipeline_task_final_status.py,
//! kubeflow/pipelines 2.17.0), so a stage without `always` has none to read, and no param, output or default
//! can produce one. A `train` runs its command in a TrainJob, whose standalone manifest has no run to report
//! on: only a `step` reads it. What the pipeline decides (a handler to read) is checked in
//! `codegen/kfp/check.rs`.

use crate::ast::{self, StageKind};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::source::Span;
use crate::typeck::expr::Scope;
use crate::typeck::props::Props;
use crate::typeck::{Checker, Ty};

const WHERE_IT_GOES: &str = "a `TaskStatus` is an input of an `always` step, filled by the run";

impl Checker<'_> {
    /// A param or output (`what`) of type `TaskStatus` (or a list of them).
    pub(super) fn task_status_misplaced(&mut self, ty: &Ty, what: &str, name: &str, span: Span) {
        if *ty != Ty::TaskStatus && *ty != Ty::List(Box::new(Ty::TaskStatus)) {
            return;
        }
        self.diags.push(
            Diagnostic::error(
                Code::NotAllowedHere,
                format!("the {what} `{name}` cannot be a `TaskStatus`"),
                Label::new(span, format!("not a {what} type")),
            )
            .with_help(WHERE_IT_GOES),
        );
    }

    /// `input: TaskStatus = default` of `stage`: the default is checked on its own and refused.
    pub(super) fn task_status_default(&mut self, default: &ast::Expr, scope: &Scope, input: &str, stage: &str) {
        self.expr(default, scope, None);
        self.diags.push(
            Diagnostic::error(
                Code::NotAllowedHere,
                format!("the `TaskStatus` input `{input}` takes no default"),
                Label::new(default.span, "remove `= …`"),
            )
            .with_help(format!(
                "write `{input}: TaskStatus`: the run fills it with the final status of the stages `{stage}` waits for"
            )),
        );
    }

    /// The spans of `stage`'s `TaskStatus` inputs: refused on a `train` and on a stage without `always`.
    pub(super) fn task_status_placement(&mut self, stage: &ast::StageDecl, props: &Props, inputs: &[Span]) {
        let Some(&span) = inputs.first() else { return };
        let keyword = stage.kind.keyword();
        let (message, label, help) = if stage.kind == StageKind::Train {
            (
                format!("`train {}` cannot read a `TaskStatus`", stage.name.name),
                "only a `step` reads it",
                "read the status in an `always = true` step that runs after the train".to_string(),
            )
        } else if props.bool("always") != Some(true) {
            (
                format!("`{keyword} {}` reads a `TaskStatus` but is not `always = true`", stage.name.name),
                "only an `always` stage has one",
                "add `always = true`: the stage then runs once everything upstream has finished, and this input \
                 says how it went"
                    .to_string(),
            )
        } else {
            return;
        };
        self.diags.push(Diagnostic::error(Code::NotAllowedHere, message, Label::new(span, label)).with_help(help));
    }
}
