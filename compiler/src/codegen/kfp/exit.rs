//! `always = true` as KFP's `dsl.ExitHandler`: the stages upstream of an `always` stage run in an `exit-handler-N` sub-DAG, and the `always` stage is its exit task.
//!
//! The SDK compiles `with dsl.ExitHandler(exit_task): …` to a DAG task
//! `exit-handler-N` holding the guarded tasks, and the exit task beside it
//! in the root DAG with `dependentTasks: [exit-handler-N]` and the trigger
//! strategy `ALL_UPSTREAM_TASKS_COMPLETED`
//! (`sdk/python/test_data/pipelines/pipeline_with_task_final_status.yaml`,
//! kubeflow/pipelines 2.17.0): the backend runs it once the whole DAG is
//! done, whatever state its tasks ended in. That is `kfl run`'s `always`: it
//! waits for every stage upstream of it and runs even when one failed.
//!
//! What the SDK cannot express is refused for the cluster (W0402, `check.rs`):
//! an exit handler only at the pipeline's outermost level
//! (`sdk/python/kfp/compiler/compiler_test.py` `test_nested_unsupported`,
//! 2.17.0: "ExitHandler can only be used within the outermost scope"), so not
//! for an `always` stage in a `for` or under `when`, nor for two `always`
//! stages whose upstream stages overlap (one task cannot be in two DAGs).

use std::collections::{BTreeSet, HashMap};

use crate::ir::{self, StageKind};

/// One `always` stage and the stages its exit handler guards.
pub(crate) struct ExitHandler<'p> {
    pub exit: &'p ir::Stage,
    /// Graph nodes upstream of `exit`, with every stage of a `for` one of them is in (a loop is one DAG).
    pub guarded: BTreeSet<&'p str>,
    /// Indices of the loops whose DAGs go inside the handler.
    pub loops: BTreeSet<usize>,
}

/// Why an `always` stage cannot be an exit handler on KFP.
pub(crate) enum Misplaced<'p> {
    /// In a `for` or under `when`: not at the pipeline's outermost level.
    Nested(&'p ir::Stage),
    /// Guards a stage another `always` stage guards (or guards that stage itself).
    Overlaps { exit: &'p ir::Stage, other: &'p ir::Stage, shared: &'p str },
    /// A `for` it must guard holds a stage that reads it: the handler would wait for its own exit task.
    InsideItsLoop(&'p ir::Stage),
}

/// The task name of the `exit-handler-N` DAG whose exit task `stage` is: the SDK numbers groups from 1, and
/// the exit handlers are the first groups kfl creates (`Builder::exit_handlers`), in this order.
pub(crate) fn exit_handler_task(program: &ir::Program, stage: &ir::Stage) -> Option<String> {
    let (handlers, _) = exit_handlers(program);
    let index = handlers.iter().position(|h| h.exit.name == stage.name)?;
    Some(format!("exit-handler-{}", index + 1))
}

fn is_exit(stage: &ir::Stage) -> bool {
    stage.always && stage.trial_of.is_none() && matches!(stage.kind, StageKind::Step | StageKind::Train)
}

/// Every `always` stage that can be an exit handler (in source order), and those that cannot.
pub(crate) fn exit_handlers(program: &ir::Program) -> (Vec<ExitHandler<'_>>, Vec<Misplaced<'_>>) {
    let mut handlers = Vec::new();
    let mut misplaced = Vec::new();
    for stage in program.stages.iter().filter(|s| is_exit(s)) {
        if stage.loop_index.is_some() || stage.when.is_some() {
            misplaced.push(Misplaced::Nested(stage));
            continue;
        }
        let handler = guard(program, stage);
        if handler.guarded.contains(stage.name.as_str()) {
            misplaced.push(Misplaced::InsideItsLoop(stage));
        } else if !handler.guarded.is_empty() {
            handlers.push(handler);
        }
    }
    // Overlaps are reported on the later stage; the earlier keeps its handler.
    let mut owner: HashMap<&str, usize> = HashMap::new();
    let mut kept = Vec::new();
    for handler in handlers {
        let exit = handler.exit;
        let shared = handler
            .guarded
            .iter()
            .chain(std::iter::once(&exit.name.as_str()))
            .find_map(|node| owner.get(node).map(|&other| (*node, other)));
        let inside_kept = kept.iter().position(|h: &ExitHandler<'_>| handler.guarded.contains(h.exit.name.as_str()));
        match (shared, inside_kept) {
            (Some((shared, other)), _) => {
                let other: &ExitHandler<'_> = &kept[other];
                misplaced.push(Misplaced::Overlaps { exit, other: other.exit, shared });
            }
            (None, Some(other)) => {
                let other = kept[other].exit;
                misplaced.push(Misplaced::Overlaps { exit, other, shared: other.name.as_str() });
            }
            (None, None) => {
                for node in handler.guarded.iter().chain(std::iter::once(&exit.name.as_str())) {
                    owner.insert(node, kept.len());
                }
                kept.push(handler);
            }
        }
    }
    (kept, misplaced)
}

/// The nodes upstream of `exit`, closed over loops: a stage in a `for` brings the whole loop, and the loop
/// brings what its stages read.
fn guard<'p>(program: &'p ir::Program, exit: &'p ir::Stage) -> ExitHandler<'p> {
    let mut guarded: BTreeSet<&'p str> = BTreeSet::new();
    let mut loops = BTreeSet::new();
    let mut pending: Vec<&'p str> = vec![exit.name.as_str()];
    while let Some(node) = pending.pop() {
        for edge in program.graph.dependencies(node) {
            if guarded.insert(edge.from.as_str()) {
                pending.push(edge.from.as_str());
            }
        }
        let Some(index) = program.stage(node).and_then(|s| s.loop_index) else { continue };
        if loops.insert(index) {
            let siblings = program.stages.iter().filter(|s| s.loop_index == Some(index));
            for sibling in siblings {
                if guarded.insert(sibling.name.as_str()) {
                    pending.push(sibling.name.as_str());
                }
            }
        }
    }
    ExitHandler { exit, guarded, loops }
}
