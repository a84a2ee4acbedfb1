//! Executing one prepared stage instance: attempts with exponential backoff, a gang of processes for `train`,
//! typed outputs read back, and the outputs published (temporary folder renamed) and cached only on success.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use tokio::sync::{mpsc, watch};

use super::cache::{self, Entry};
use super::process::{self, Exit, Launch};
use super::record::OutputRecord;
use super::served::Served;
use crate::plan::{Output, OutputKind};

/// Everything needed to run one instance, computed by the scheduler.
#[derive(Debug)]
pub struct Job {
    pub stage: usize,
    pub iteration: usize,
    pub name: String,
    /// One process for a step; `nodes × procs_per_node` for a train gang (rank order).
    pub launches: Vec<Launch>,
    /// The project folder: processes run here and record paths are relative to it.
    pub project_dir: PathBuf,
    /// Where the processes write their outputs (relative to the project folder).
    pub tmp_dir: PathBuf,
    /// Where the outputs appear once the stage succeeded.
    pub outputs_dir: PathBuf,
    pub outputs: Vec<Output>,
    pub retries: u32,
    pub retry_base: Duration,
    pub cache_key: Option<String>,
    /// `(tune stage, trial number)` when this is a tune trial.
    pub trial: Option<(usize, usize)>,
}

/// Which instance (or tune trial) a job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobId {
    pub stage: usize,
    pub iteration: usize,
    /// `(tune stage, trial number)` for a tune trial.
    pub trial: Option<(usize, usize)>,
}

/// Progress reported while a job runs.
#[derive(Debug)]
pub enum JobEvent {
    Attempt {
        id: JobId,
        attempt: u32,
    },
    Retry {
        id: JobId,
        attempt: u32,
        delay: Duration,
        reason: String,
    },
    Metric {
        id: JobId,
        name: String,
        value: f64,
    },
    Done(Box<JobResult>),
    /// Something the user should read (a serve's address, alerts, replica restarts).
    Notice(String),
    /// A `serve` stage ended.
    Served(Box<Served>),
}

#[derive(Debug)]
pub struct JobResult {
    pub id: JobId,
    pub attempts: u32,
    pub exit: Exit,
    pub duration: Duration,
    /// The published outputs, or why the stage failed although its process succeeded.
    pub outputs: Result<IndexMap<String, OutputRecord>, JobFailure>,
    pub curves: IndexMap<String, Vec<f64>>,
    /// What failed, in words, when it did.
    pub message: Option<String>,
}

/// Why a job's attempt failed. Its temporary folder is discarded: earlier outputs of the stage stay as they were.
#[derive(Debug)]
pub enum JobFailure {
    /// The process did not succeed (spawn error, exit status, signal, timeout), in words.
    Process(String),
    MissingArtifact {
        name: String,
        path: PathBuf,
    },
    MissingScalar {
        name: String,
        ty: String,
        path: PathBuf,
    },
    Scalar(ScalarError),
    /// The temporary folder could not be renamed to the outputs folder.
    Publish {
        dir: PathBuf,
        source: std::io::Error,
    },
    HashOutput {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl std::fmt::Display for JobFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobFailure::Process(message) => f.write_str(message),
            JobFailure::MissingArtifact { name, path } => write!(
                f,
                "the process exited with 0 but did not write its output `{name}` (a file or folder at {})",
                path.display()
            ),
            JobFailure::MissingScalar { name, ty, path } => write!(
                f,
                "the process exited with 0 but did not write its output `{name}` ({ty}) to {}",
                path.display()
            ),
            JobFailure::Scalar(e) => e.fmt(f),
            JobFailure::Publish { dir, source } => write!(f, "cannot publish outputs to {}: {source}", dir.display()),
            JobFailure::HashOutput { path, source } => write!(f, "cannot read output {}: {source}", path.display()),
        }
    }
}

/// A scalar output whose text is not a value of its declared type.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarError {
    pub name: String,
    pub ty: String,
    pub text: String,
}

impl std::fmt::Display for ScalarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "output `{}` is declared `{}`, but the process wrote {:?}", self.name, self.ty, self.text)
    }
}

impl From<ScalarError> for JobFailure {
    fn from(e: ScalarError) -> Self {
        JobFailure::Scalar(e)
    }
}

pub async fn execute(job: Job, stop: watch::Receiver<bool>, events: mpsc::Sender<JobEvent>) {
    let started = Instant::now();
    let id = JobId { stage: job.stage, iteration: job.iteration, trial: job.trial };
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let _ = events.send(JobEvent::Attempt { id, attempt }).await;
        let tmp = job.project_dir.join(&job.tmp_dir);
        let _ = std::fs::remove_dir_all(&tmp);
        if let Err(e) = std::fs::create_dir_all(&tmp) {
            break failed(&job, attempt, started, Exit::NotStarted(format!("cannot create {}: {e}", tmp.display())));
        }
        let (exit, curves, message) = run_gang(&job, stop.clone(), &events).await;
        let outcome = match exit {
            Exit::Success => finish(&job, &curves),
            _ => Err(JobFailure::Process(message.unwrap_or_else(|| format!("the process {}", exit.describe())))),
        };
        let interrupted = stop_requested(&stop) || exit == Exit::Stopped;
        match outcome {
            Ok(outputs) => {
                break JobResult {
                    id,
                    attempts: attempt,
                    exit,
                    duration: started.elapsed(),
                    outputs: Ok(outputs),
                    curves,
                    message: None,
                };
            }
            Err(reason) if attempt <= job.retries && !interrupted => {
                let delay = backoff(job.retry_base, attempt);
                let _ = events.send(JobEvent::Retry { id, attempt, delay, reason: reason.to_string() }).await;
                let mut stop = stop.clone();
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stopped(&mut stop) => {}
                }
            }
            Err(reason) => {
                let _ = std::fs::remove_dir_all(&tmp);
                let exit = if interrupted { Exit::Stopped } else { exit };
                break JobResult {
                    id,
                    attempts: attempt,
                    exit,
                    duration: started.elapsed(),
                    message: Some(reason.to_string()),
                    outputs: Err(reason),
                    curves,
                };
            }
        }
    };
    let _ = events.send(JobEvent::Done(Box::new(result))).await;
}

/// Completes once `stop` turns true (never, if its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn stop_requested(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

fn failed(job: &Job, attempts: u32, started: Instant, exit: Exit) -> JobResult {
    let message = format!("the process {}", exit.describe());
    JobResult {
        id: JobId { stage: job.stage, iteration: job.iteration, trial: job.trial },
        attempts,
        exit,
        duration: started.elapsed(),
        outputs: Err(JobFailure::Process(message.clone())),
        curves: IndexMap::new(),
        message: Some(message),
    }
}

/// 1×, 2×, 4×, … the base, at most a minute.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(Duration::from_secs(60))
}

/// Starts every process of the job together; the first to fail stops the others (gang semantics).
/// Returns the job's exit, rank 0's metric curves and, for a gang, which rank failed.
async fn run_gang(
    job: &Job,
    stop: watch::Receiver<bool>,
    events: &mpsc::Sender<JobEvent>,
) -> (Exit, IndexMap<String, Vec<f64>>, Option<String>) {
    let (gang_tx, gang_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let (metric_tx, mut metric_rx) = mpsc::channel::<process::MetricReport>(256);
    for (rank, launch) in job.launches.iter().enumerate() {
        let reports = (rank == 0).then(|| metric_tx.clone());
        let gang_stop = gang_rx.clone();
        let launch = launch.clone();
        tasks.spawn(async move { (rank, process::run(launch, gang_stop, reports).await) });
    }
    drop(metric_tx);
    let mut stop = stop;
    let mut first_failure: Option<(usize, Exit)> = None;
    let mut curves = IndexMap::new();
    let mut remaining = job.launches.len();
    let mut metrics_open = true;
    while remaining > 0 {
        tokio::select! {
            joined = tasks.join_next() => {
                let Some(joined) = joined else { break };
                remaining -= 1;
                let (rank, finished) = match joined {
                    Ok(done) => done,
                    Err(e) => (usize::MAX, process::Finished { exit: Exit::NotStarted(e.to_string()), curves: IndexMap::new() }),
                };
                if rank == 0 {
                    curves = finished.curves;
                }
                if finished.exit != Exit::Success && first_failure.is_none() {
                    first_failure = Some((rank, finished.exit));
                    let _ = gang_tx.send(true);
                }
            }
            report = metric_rx.recv(), if metrics_open => match report {
                Some((name, value)) => {
                    let _ = events.send(JobEvent::Metric { id: JobId { stage: job.stage, iteration: job.iteration, trial: job.trial }, name, value }).await;
                }
                None => metrics_open = false,
            },
            () = stopped(&mut stop), if !stop_requested(&gang_rx) => {
                let _ = gang_tx.send(true);
            }
        }
    }
    while let Ok((name, value)) = metric_rx.try_recv() {
        let _ = events
            .send(JobEvent::Metric {
                id: JobId { stage: job.stage, iteration: job.iteration, trial: job.trial },
                name,
                value,
            })
            .await;
    }
    match first_failure {
        None => (Exit::Success, curves, None),
        Some((rank, exit)) if job.launches.len() > 1 => {
            let message = match exit {
                Exit::Stopped => "the gang was stopped".to_string(),
                _ => format!("rank {rank} {}; the other ranks were stopped", exit.describe()),
            };
            (exit, curves, Some(message))
        }
        Some((_, exit)) => (exit, curves, None),
    }
}

/// Checks and reads the outputs the processes wrote, then publishes them: the temporary folder is renamed to
/// the outputs folder, so a failed or killed stage never leaves partial outputs where readers look.
fn finish(job: &Job, curves: &IndexMap<String, Vec<f64>>) -> Result<IndexMap<String, OutputRecord>, JobFailure> {
    let tmp = job.project_dir.join(&job.tmp_dir);
    let mut scalars = IndexMap::new();
    for output in &job.outputs {
        let path = tmp.join(&output.name);
        match output.kind {
            OutputKind::Artifact if !path.exists() => {
                return Err(JobFailure::MissingArtifact {
                    name: output.name.clone(),
                    path: job.tmp_dir.join(&output.name),
                });
            }
            OutputKind::Artifact => {}
            OutputKind::Scalar => {
                let text = std::fs::read_to_string(&path).map_err(|_| JobFailure::MissingScalar {
                    name: output.name.clone(),
                    ty: output.ty.clone(),
                    path: job.tmp_dir.join(&output.name),
                })?;
                scalars.insert(output.name.clone(), parse_scalar(&output.name, &output.ty, text.trim())?);
            }
        }
    }
    let published = job.project_dir.join(&job.outputs_dir);
    let _ = std::fs::remove_dir_all(&published);
    std::fs::rename(&tmp, &published).map_err(|source| JobFailure::Publish { dir: job.outputs_dir.clone(), source })?;
    let mut records = IndexMap::new();
    for output in &job.outputs {
        let record = match scalars.shift_remove(&output.name) {
            Some(scalar) => scalar,
            None => {
                let path = published.join(&output.name);
                let sha256 =
                    cache::hash_path(&path).map_err(|source| JobFailure::HashOutput { path: path.clone(), source })?;
                OutputRecord::Artifact { path: job.outputs_dir.join(&output.name).display().to_string(), sha256 }
            }
        };
        records.insert(output.name.clone(), record);
    }
    if let Some(key) = &job.cache_key {
        let entry = Entry {
            stage: job.name.clone(),
            outputs: records.clone(),
            metrics: curves.iter().filter_map(|(k, v)| Some((k.clone(), *v.last()?))).collect(),
            curves: curves.clone(),
            trials: Vec::new(),
            message: None,
            objective: None,
        };
        // A cache that cannot be written costs the next run time, not this run its result.
        let _ = cache::store(&job.project_dir, key, &published, &entry);
    }
    Ok(records)
}

/// A scalar output's text read back as its declared type.
pub fn parse_scalar(name: &str, ty: &str, text: &str) -> Result<OutputRecord, ScalarError> {
    let bad = || ScalarError { name: name.to_string(), ty: ty.to_string(), text: text.to_string() };
    let value: serde_json::Value = match ty {
        "int" => text.parse::<i64>().map_err(|_| bad())?.into(),
        "float" => {
            let x = text.parse::<f64>().map_err(|_| bad())?;
            serde_json::Number::from_f64(x).map(Into::into).ok_or_else(bad)?
        }
        "bool" => match text {
            "true" | "True" | "1" => true.into(),
            "false" | "False" | "0" => false.into(),
            _ => return Err(bad()),
        },
        _ if ty.starts_with("list[") => {
            let list: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
            if !list.is_array() {
                return Err(bad());
            }
            list
        }
        _ => text.into(),
    };
    let text = match &value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(OutputRecord::Scalar { ty: ty.to_string(), value, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_checked_against_their_types() {
        assert!(matches!(parse_scalar("n", "int", "150"), Ok(OutputRecord::Scalar { text, .. }) if text == "150"));
        let err = parse_scalar("acc", "float", "abc").unwrap_err();
        assert_eq!(err.to_string(), "output `acc` is declared `float`, but the process wrote \"abc\"");
        assert!(parse_scalar("ok", "bool", "yes").is_err());
        assert!(parse_scalar("xs", "list[int]", "[1,2]").is_ok());
        assert!(parse_scalar("s", "string", "any text").is_ok());
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_millis(500);
        assert_eq!(backoff(base, 1), Duration::from_millis(500));
        assert_eq!(backoff(base, 3), Duration::from_secs(2));
        assert_eq!(backoff(base, 40), Duration::from_secs(60));
    }
}
