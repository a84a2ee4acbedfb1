//! `RunError`: why `kfl run` stopped before or after executing stages, saying what failed and what was kept.

use std::fmt;
use std::path::PathBuf;

use super::record::RecordError;
use super::select::SelectError;
use crate::plan::Distribution;
use crate::search::SamplerError;
use crate::value::EvalError;
use kfl_plan::algorithms::SearchAlgorithm;

/// A run that could not start (nothing ran, nothing was written but an empty run folder) or whose record could
/// not be written (the stages' outputs and logs under the run folder are kept).
#[derive(Debug)]
pub enum RunError {
    Select(SelectError),
    /// `--resume`'s run was not found or not read.
    Resume(RecordError),
    /// `--resume` names a run whose kfl still runs it.
    StillRunning {
        run_id: String,
        runner: String,
    },
    CreateRunDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    WriteRecord {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A local dataset that is not on disk.
    MissingDataset {
        name: String,
        uri: String,
        project_dir: PathBuf,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Select(e) => e.fmt(f),
            RunError::Resume(e) => e.fmt(f),
            RunError::StillRunning { run_id, runner } => {
                write!(f, "run {run_id} is still running ({runner}); resume it once it has stopped")
            }
            RunError::CreateRunDir { dir, source } => write!(f, "cannot create {}: {source}", dir.display()),
            RunError::WriteRecord { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            RunError::MissingDataset { name, uri, project_dir } => write!(
                f,
                "dataset `{name}`: {uri} does not exist (paths are relative to the .kfl file's folder, {})",
                project_dir.display()
            ),
        }
    }
}

impl std::error::Error for RunError {}

/// Why a `for` stage has no instances: it fails with this message, and its upstream outputs are kept.
#[derive(Debug)]
pub(super) enum LoopItemsError {
    NotAList { value: String },
    Eval(EvalError),
}

impl fmt::Display for LoopItemsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoopItemsError::NotAList { value } => write!(f, "the loop iterates over {value}, not a list"),
            LoopItemsError::Eval(e) => write!(f, "the loop's items cannot be computed: {e}"),
        }
    }
}

impl From<SelectError> for RunError {
    fn from(e: SelectError) -> Self {
        RunError::Select(e)
    }
}

impl From<RecordError> for RunError {
    fn from(e: RecordError) -> Self {
        RunError::Resume(e)
    }
}

/// Why a tune could not start its search; it fails with this message, proposes no trial, and its upstream
/// outputs are kept.
#[derive(Debug)]
pub(super) enum TuneSetupError {
    Setting { name: String, source: EvalError },
    SpaceArgument { param: String, distribution: Distribution, source: EvalError },
    NotANumber { param: String, distribution: Distribution, position: usize },
    Sampler { algorithm: SearchAlgorithm, source: SamplerError },
}

impl fmt::Display for TuneSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TuneSetupError::Setting { name, source } => write!(f, "setting `{name}`: {source}"),
            TuneSetupError::SpaceArgument { param, distribution, source } => {
                write!(f, "`{param}`: {distribution}(…): {source}")
            }
            TuneSetupError::NotANumber { param, distribution, position } => {
                write!(f, "`{param}`: {distribution}(…) needs a number as argument {position}")
            }
            TuneSetupError::Sampler { algorithm, source } => write!(f, "algorithm `{algorithm}`: {source}"),
        }
    }
}
