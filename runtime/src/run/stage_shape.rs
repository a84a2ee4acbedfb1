//! What a stage's plan entry says about how its instances run, read by preparation and scheduling alike: its
//! gang of processes and the `for` loop it belongs to.

use crate::plan::{Container, Spec, Stage};

/// The `for` loop (by index in the plan) a stage runs in, if any.
pub fn loop_of(stage: &Stage) -> Option<usize> {
    match &stage.spec {
        Spec::Container(c) => c.for_loop.as_ref().map(|l| l.index),
        _ => None,
    }
}

/// The processes of a container stage: one for a step, `nodes × procs_per_node` with the rendezvous
/// environment torchrun and Kubeflow Trainer give each rank for a train.
pub struct Gang {
    pub nodes: u32,
    pub procs_per_node: u32,
}

impl Gang {
    pub fn of(container: &Container) -> Gang {
        match &container.train {
            Some(train) => Gang {
                nodes: u32::try_from(train.nodes.max(1)).unwrap_or(1),
                // `auto` is one process per GPU, else one.
                procs_per_node: u32::try_from(
                    train.procs_per_node.unwrap_or_else(|| container.resources.gpu.unwrap_or(1).max(1)),
                )
                .unwrap_or(1)
                .max(1),
            },
            None => Gang { nodes: 1, procs_per_node: 1 },
        }
    }

    pub fn size(&self) -> u32 {
        self.nodes * self.procs_per_node
    }
}
