//! What runs and when: stage selection (`--until`, `--only`), dependency states with KFP's skip and failure
//! propagation, and the machine's capacity against declared resources.

use indexmap::IndexMap;

use super::record::{InstanceRecord, RunRecord, StageState};
use super::stage_shape::{Gang, loop_of};
use crate::plan::{Container, EdgeKind, Plan, Spec};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    Run,
    /// An upstream stage of an `--only` stage: satisfied from the cache, never run.
    CacheOnly,
    No,
}

fn is_trial_template(plan: &Plan, s: usize) -> bool {
    matches!(&plan.stages[s].spec, Spec::Container(c) if c.trial_of.is_some())
}

/// Why `--until`/`--only` select nothing; the run starts nothing.
#[derive(Debug, PartialEq)]
pub enum SelectError {
    UnknownStage { name: String, stages: Vec<String> },
    UntilAndOnly,
}

impl std::fmt::Display for SelectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SelectError::UnknownStage { name, stages } => {
                write!(f, "no stage `{name}` in this file; its stages are: {}", stages.join(", "))
            }
            SelectError::UntilAndOnly => f.write_str("give either --until or --only, not both"),
        }
    }
}

/// Which stages this run executes. Trial templates run only through their tune, unless named explicitly.
pub fn select(
    plan: &Plan,
    index: &IndexMap<String, usize>,
    until: Option<&str>,
    only: &[String],
) -> Result<Vec<Selection>, SelectError> {
    let lookup = |name: &str| {
        index.get(name).copied().ok_or_else(|| SelectError::UnknownStage {
            name: name.to_string(),
            stages: index.keys().cloned().collect(),
        })
    };
    let n = plan.stages.len();
    if until.is_some() && !only.is_empty() {
        return Err(SelectError::UntilAndOnly);
    }
    if until.is_none() && only.is_empty() {
        return Ok((0..n).map(|s| if is_trial_template(plan, s) { Selection::No } else { Selection::Run }).collect());
    }
    let targets: Vec<usize> = match until {
        Some(name) => vec![lookup(name)?],
        None => only.iter().map(|name| lookup(name)).collect::<Result<_, _>>()?,
    };
    let mut selection = vec![Selection::No; n];
    let mut stack = targets.clone();
    while let Some(s) = stack.pop() {
        for dep in &plan.stages[s].depends_on {
            let Some(&d) = index.get(&dep.stage) else { continue };
            if selection[d] == Selection::No && !is_trial_template(plan, d) {
                selection[d] = if until.is_some() { Selection::Run } else { Selection::CacheOnly };
                stack.push(d);
            }
        }
    }
    for s in targets {
        selection[s] = Selection::Run;
    }
    Ok(selection)
}

#[derive(Debug, PartialEq, Eq)]
pub enum DepStatus {
    Waiting,
    Ready,
    /// `when` upstream was false for every instance this one needs data from.
    Skip(String),
    Blocked(String),
}

/// The state of an instance's dependencies. An instance inside a `for` depends on the same iteration of its
/// siblings and on every instance of anything else.
pub fn dep_status(
    plan: &Plan,
    record: &RunRecord,
    index: &IndexMap<String, usize>,
    selection: &[Selection],
    expanded: &[bool],
    s: usize,
    i: usize,
) -> DepStatus {
    let stage = &plan.stages[s];
    let always = matches!(&stage.spec, Spec::Container(c) if c.always);
    let my_loop = loop_of(stage);
    let mut skipped_by = None;
    for dep in &stage.depends_on {
        let Some(&d) = index.get(&dep.stage) else { continue };
        if selection[d] == Selection::No {
            continue;
        }
        if !expanded[d] {
            return DepStatus::Waiting;
        }
        let instances = &record.stages[d].instances;
        let relevant: Vec<&InstanceRecord> = if my_loop.is_some() && my_loop == loop_of(&plan.stages[d]) {
            instances.get(i).into_iter().collect()
        } else {
            instances.iter().collect()
        };
        if relevant.iter().any(|x| !x.state.is_done()) {
            return DepStatus::Waiting;
        }
        let failed = relevant.iter().find(|x| {
            matches!(
                x.state,
                StageState::Failed | StageState::UpstreamFailed | StageState::Interrupted | StageState::NotSupported
            )
        });
        if let Some(failed) = failed.filter(|_| !always) {
            return DepStatus::Blocked(match failed.state {
                StageState::NotSupported => format!("needs `{}`, which kfl run cannot run locally yet", dep.stage),
                StageState::UpstreamFailed => format!("upstream `{}` did not run", dep.stage),
                state => format!("upstream `{}` {}", dep.stage, state.label()),
            });
        }
        if dep.kind == EdgeKind::Data && relevant.iter().all(|x| x.state == StageState::Skipped) {
            skipped_by = Some(dep.stage.clone());
        }
    }
    match skipped_by {
        Some(by) if !always => DepStatus::Skip(format!("upstream `{by}` was skipped")),
        _ => DepStatus::Ready,
    }
}

/// CPU (millicores), memory (bytes) and GPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    pub cpu_millis: u64,
    pub memory: u64,
    pub gpu: u64,
}

impl Capacity {
    pub fn of_machine() -> Capacity {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .map_or(u64::MAX, |kib| kib * 1024);
        let gpu = std::env::var("CUDA_VISIBLE_DEVICES")
            .map(|v| v.split(',').filter(|d| !d.trim().is_empty()).count() as u64)
            .unwrap_or(0);
        Capacity { cpu_millis: cores * 1000, memory, gpu }
    }

    /// Whether `need` fits beside what is in use; a stage alone on the machine always runs (a request larger
    /// than the machine would otherwise wait forever).
    pub fn fits(&self, need: &Capacity, total: &Capacity, alone: bool) -> bool {
        alone
            || (self.cpu_millis + need.cpu_millis <= total.cpu_millis
                && self.memory.saturating_add(need.memory) <= total.memory
                && self.gpu + need.gpu <= total.gpu)
    }

    pub fn add(&mut self, need: &Capacity) {
        self.cpu_millis += need.cpu_millis;
        self.memory = self.memory.saturating_add(need.memory);
        self.gpu += need.gpu;
    }

    pub fn remove(&mut self, need: &Capacity) {
        self.cpu_millis = self.cpu_millis.saturating_sub(need.cpu_millis);
        self.memory = self.memory.saturating_sub(need.memory);
        self.gpu = self.gpu.saturating_sub(need.gpu);
    }
}

/// What an instance reserves: its requests per node times its nodes, capped at the machine.
pub fn need(container: &Container, total: &Capacity) -> Capacity {
    let nodes = u64::from(Gang::of(container).nodes);
    let r = &container.resources;
    Capacity {
        cpu_millis: (r.cpu.as_ref().map_or(0, |c| c.request_millis) * nodes).min(total.cpu_millis),
        memory: (r.memory.as_ref().map_or(0, |m| m.request_bytes).saturating_mul(nodes)).min(total.memory),
        gpu: (u64::try_from(r.gpu.unwrap_or(0)).unwrap_or(0) * nodes).min(total.gpu),
    }
}
