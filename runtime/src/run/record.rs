//! Run records: `.kfl/runs/<run-id>/run.json`, written atomically as the run goes, read back by `kfl runs`,
//! `kfl logs` and `--resume`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::plan::{Goal, StageKind};

/// Format version of `run.json`.
pub const RECORD_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    Interrupted,
    /// Reached a stage this runtime cannot run locally; everything before it finished.
    Stopped,
}

impl RunState {
    pub fn label(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Interrupted => "interrupted",
            RunState::Stopped => "stopped",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    Pending,
    Running,
    Succeeded,
    /// Outputs reused from the cache (or from the run being resumed).
    Cached,
    Failed,
    /// `when` was false, or an upstream stage whose outputs it needs was skipped.
    Skipped,
    /// Not run because an upstream stage failed.
    UpstreamFailed,
    Interrupted,
    /// A stage kind this runtime does not run locally.
    NotSupported,
    /// Left out by `--until` / `--only`.
    NotSelected,
}

impl StageState {
    pub fn is_done(self) -> bool {
        !matches!(self, StageState::Pending | StageState::Running)
    }

    /// Its outputs exist.
    pub fn produced(self) -> bool {
        matches!(self, StageState::Succeeded | StageState::Cached)
    }

    pub fn label(self) -> &'static str {
        match self {
            StageState::Pending => "pending",
            StageState::Running => "running",
            StageState::Succeeded => "succeeded",
            StageState::Cached => "cached",
            StageState::Failed => "failed",
            StageState::Skipped => "skipped",
            StageState::UpstreamFailed => "upstream failed",
            StageState::Interrupted => "interrupted",
            StageState::NotSupported => "not supported locally",
            StageState::NotSelected => "not selected",
        }
    }
}

/// One stage output as recorded: an artifact's path and content hash, or a scalar's value.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutputRecord {
    Artifact {
        /// Relative to the `.kfl` file's folder.
        path: String,
        sha256: String,
    },
    Scalar {
        #[serde(rename = "type")]
        ty: String,
        value: serde_json::Value,
        text: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// Iteration of a `for` stage (0-based), `null` outside loops.
    pub iteration: Option<usize>,
    /// The loop item of that iteration.
    pub item: Option<serde_json::Value>,
    pub state: StageState,
    pub attempts: u32,
    pub exit_code: Option<i32>,
    pub started_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub cached: bool,
    pub cache_key: Option<String>,
    pub outputs: IndexMap<String, OutputRecord>,
    /// Last reported value of each metric.
    pub metrics: IndexMap<String, f64>,
    /// Why it failed, was skipped or not run.
    pub message: Option<String>,
    /// Log files, relative to the run folder.
    pub logs: Vec<String>,
    /// A tune's trials, in the order they were proposed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trials: Vec<TrialRecord>,
    /// A tune's HTML report, relative to the run folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// What a tune optimises, so readers of the record can rank its trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<Objective>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Objective {
    pub metric: String,
    pub goal: Goal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialOutcome {
    Running,
    Completed,
    /// Stopped early by the early-stopping rule, or because the search ended.
    Stopped,
    Failed,
    /// Stopped by Ctrl-C; `--resume` runs it again.
    Interrupted,
}

/// One trial of a tune.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrialRecord {
    pub number: usize,
    /// The searched values, by parameter name.
    pub params: IndexMap<String, serde_json::Value>,
    pub outcome: TrialOutcome,
    /// The objective: the trial's best report by the tune's direction.
    pub value: Option<f64>,
    /// Every report of the objective metric, in order (step = position + 1).
    pub curve: Vec<f64>,
    /// Last report of each metric.
    pub metrics: IndexMap<String, f64>,
    pub outputs: IndexMap<String, OutputRecord>,
    pub cached: bool,
    pub duration_ms: Option<u64>,
    pub message: Option<String>,
    /// Log files, relative to the run folder.
    pub logs: Vec<String>,
}

impl InstanceRecord {
    pub fn new(iteration: Option<usize>, item: Option<serde_json::Value>) -> Self {
        InstanceRecord {
            iteration,
            item,
            state: StageState::Pending,
            attempts: 0,
            exit_code: None,
            started_at: None,
            duration_ms: None,
            cached: false,
            cache_key: None,
            outputs: IndexMap::new(),
            metrics: IndexMap::new(),
            message: None,
            logs: Vec::new(),
            trials: Vec::new(),
            report: None,
            objective: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageRecord {
    pub name: String,
    pub kind: StageKind,
    /// Empty until the stage's iterations are known.
    pub instances: Vec<InstanceRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub record_version: u32,
    pub run_id: String,
    /// The `.kfl` file, relative to its project folder.
    pub file: String,
    pub plan_sha256: String,
    pub state: RunState,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// Param values after `-p`, as text.
    pub params: IndexMap<String, String>,
    pub stages: Vec<StageRecord>,
    /// The kfl process running it, so readers can tell a run in progress from one whose kfl was killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<Runner>,
}

/// One process for good: its pid, its start time (a reused pid starts later) and the boot it ran in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Runner {
    pub pid: u32,
    /// Clock ticks after boot (`/proc/PID/stat` field 22).
    pub start_ticks: u64,
    pub boot_id: String,
}

impl Runner {
    /// This process.
    pub fn current() -> Option<Runner> {
        let pid = std::process::id();
        let stat = crate::process_tree::stat(i32::try_from(pid).ok()?)?;
        Some(Runner { pid, start_ticks: stat.start_ticks, boot_id: crate::process_tree::boot_id() })
    }

    pub fn is_alive(&self) -> bool {
        crate::process_tree::is_alive(self.pid, self.start_ticks, &self.boot_id)
    }
}

impl RunRecord {
    pub fn stage(&self, name: &str) -> Option<&StageRecord> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// The folder holding every run of a project.
pub fn runs_dir(project_dir: &Path) -> PathBuf {
    project_dir.join(".kfl").join("runs")
}

/// Writes `run.json` through a temporary file and a rename, so readers never see half a record.
pub fn write(run_dir: &Path, record: &RunRecord) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    write_atomic(&run_dir.join("run.json"), text.as_bytes())
}

/// Writes a file through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Why a run record was not read or a run not found; the run's files are untouched.
#[derive(Debug)]
pub enum RecordError {
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    NotARecord {
        path: PathBuf,
        source: crate::deep_json::JsonError,
    },
    /// Written by a kfl with another record format.
    Version {
        path: PathBuf,
        found: u32,
    },
    NoRuns {
        dir: PathBuf,
    },
    NoSuchRun {
        id: String,
        dir: PathBuf,
    },
    /// An id prefix that several runs start with.
    Ambiguous {
        id: String,
        count: usize,
    },
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            RecordError::NotARecord { path, source } => {
                write!(f, "{} is not a kfl run record: {source}", path.display())
            }
            RecordError::Version { path, found } => {
                write!(f, "{} has record version {found}, this kfl reads version {RECORD_VERSION}", path.display())
            }
            RecordError::NoRuns { dir } => write!(f, "no runs in {}", dir.display()),
            RecordError::NoSuchRun { id, dir } => {
                write!(f, "no run `{id}` in {}; `kfl runs list` shows them", dir.display())
            }
            RecordError::Ambiguous { id, count } => write!(f, "`{id}` matches {count} runs; give more of the id"),
        }
    }
}

impl std::error::Error for RecordError {}

pub fn read(run_dir: &Path) -> Result<RunRecord, RecordError> {
    let path = run_dir.join("run.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(source) => return Err(RecordError::Read { path, source }),
    };
    let record: RunRecord = match crate::deep_json::from_str(&text) {
        Ok(record) => record,
        Err(source) => return Err(RecordError::NotARecord { path, source }),
    };
    if record.record_version != RECORD_VERSION {
        return Err(RecordError::Version { path, found: record.record_version });
    }
    Ok(settle_abandoned(record))
}

/// A record still `running` whose kfl process is gone (killed with SIGKILL, the OOM killer, a reboot) is read as
/// `interrupted`, with the stages and trials it was running: `--resume` continues it like any interrupted run.
fn settle_abandoned(mut record: RunRecord) -> RunRecord {
    let Some(runner) = record.runner.as_ref().filter(|r| record.state == RunState::Running && !r.is_alive()) else {
        return record;
    };
    let why = format!("kfl (pid {}) ended without finishing it; `--resume` continues the run", runner.pid);
    record.state = RunState::Interrupted;
    for instance in record.stages.iter_mut().flat_map(|s| &mut s.instances) {
        if instance.state == StageState::Running {
            instance.state = StageState::Interrupted;
            instance.message = Some(why.clone());
        }
        for trial in instance.trials.iter_mut().filter(|t| t.outcome == TrialOutcome::Running) {
            trial.outcome = TrialOutcome::Interrupted;
        }
    }
    record
}

/// Every run of a project, newest first; unreadable records are reported, not skipped silently.
pub fn list(project_dir: &Path) -> Vec<Result<RunRecord, RecordError>> {
    let Ok(entries) = std::fs::read_dir(runs_dir(project_dir)) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.join("run.json").exists()).collect();
    dirs.sort();
    dirs.reverse();
    dirs.iter().map(|d| read(d)).collect()
}

/// Finds a run by id or unique id prefix; `latest` names the newest run.
pub fn find(project_dir: &Path, id: &str) -> Result<PathBuf, RecordError> {
    let runs = runs_dir(project_dir);
    let mut ids: Vec<String> = std::fs::read_dir(&runs)
        .map_err(|_| RecordError::NoRuns { dir: runs.clone() })?
        .flatten()
        .filter(|e| e.path().join("run.json").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    if id == "latest" {
        return ids.last().map(|last| runs.join(last)).ok_or(RecordError::NoRuns { dir: runs });
    }
    let matches: Vec<&String> = ids.iter().filter(|candidate| candidate.starts_with(id)).collect();
    match matches.as_slice() {
        [one] => Ok(runs.join(one)),
        [] => Err(RecordError::NoSuchRun { id: id.to_string(), dir: runs }),
        many => Err(RecordError::Ambiguous { id: id.to_string(), count: many.len() }),
    }
}

/// A new run id: UTC time to the millisecond plus two hex digits against collisions, so ids sort by start time.
pub fn new_run_id() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (date, time) = civil(now.as_secs());
    let noise = (now.subsec_nanos() ^ std::process::id().wrapping_mul(2_654_435_761)) & 0xff;
    format!("{}-{}-{:03}-{noise:02x}", date.replace('-', ""), time.replace(':', ""), now.subsec_millis())
}

/// Now as RFC 3339 UTC (`2026-11-28T21:07:27Z`).
pub fn timestamp() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (date, time) = civil(now.as_secs());
    format!("{date}T{time}Z")
}

/// Seconds since the epoch → (`YYYY-MM-DD`, `HH:MM:SS`) in UTC.
fn civil(secs: u64) -> (String, String) {
    let t = super::clock::Civil::at(secs);
    (t.date(), t.time())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_found_by_prefix_and_latest() {
        let dir = tempfile::tempdir().expect("tempdir");
        for id in ["20261128-100000-001-aa", "20261128-110000-002-bb"] {
            let run = runs_dir(dir.path()).join(id);
            std::fs::create_dir_all(&run).expect("mkdir");
            std::fs::write(run.join("run.json"), "{}").expect("write");
        }
        assert!(find(dir.path(), "20261128-10").expect("prefix").ends_with("20261128-100000-001-aa"));
        assert!(find(dir.path(), "latest").expect("latest").ends_with("20261128-110000-002-bb"));
        let ambiguous = find(dir.path(), "2026").unwrap_err();
        assert!(matches!(&ambiguous, RecordError::Ambiguous { id, count: 2 } if id == "2026"), "{ambiguous:?}");
        assert_eq!(ambiguous.to_string(), "`2026` matches 2 runs; give more of the id");
        let missing = find(dir.path(), "1999").unwrap_err();
        assert!(matches!(&missing, RecordError::NoSuchRun { id, .. } if id == "1999"), "{missing:?}");
        assert!(missing.to_string().starts_with("no run `1999` in "), "{missing}");
    }
}
