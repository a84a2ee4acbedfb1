//! One stage process: started in its own process group, logged, its stdout metrics parsed, killed as a group on
//! timeout, interruption or a gang member's failure.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use indexmap::IndexMap;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::{ChildStderr, ChildStdout, Command};
use tokio::sync::{mpsc, watch};

use super::capped_log::CappedLog;
use crate::process_tree::{self, group_alive, stop_group};

/// What to start.
#[derive(Clone, Debug)]
pub struct Launch {
    pub argv: Vec<String>,
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// stdout and stderr are appended here.
    pub log: PathBuf,
    /// Bytes of the log kept at each end ([`super::capped_log`]).
    pub log_keep: u64,
    /// Metric names parsed from stdout `name=value` lines.
    pub metrics: Vec<String>,
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL when stopping the group.
    pub kill_grace: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Exit {
    Success,
    /// Exit code, or the signal that ended it.
    Failed {
        code: Option<i32>,
        signal: Option<i32>,
    },
    TimedOut,
    /// Stopped from outside: Ctrl-C, or another rank of its gang failed.
    Stopped,
    /// It could not be started at all.
    NotStarted(String),
}

impl Exit {
    pub fn describe(&self) -> String {
        match self {
            Exit::Success => "exited with 0".into(),
            Exit::Failed { code: Some(code), .. } => format!("exited with {code}"),
            Exit::Failed { signal: Some(signal), .. } => {
                let name = Signal::try_from(*signal).map_or_else(|_| format!("signal {signal}"), |s| s.to_string());
                format!("was killed by {name}")
            }
            Exit::Failed { .. } => "failed".into(),
            Exit::TimedOut => "timed out; its process group was killed".into(),
            Exit::Stopped => "was stopped".into(),
            Exit::NotStarted(why) => format!("could not start: {why}"),
        }
    }

    pub fn code(&self) -> Option<i32> {
        match self {
            Exit::Success => Some(0),
            Exit::Failed { code, .. } => *code,
            _ => None,
        }
    }
}

/// A metric report: name, value; its step is its position among the reports of that name.
pub type MetricReport = (String, f64);

#[derive(Debug)]
pub struct Finished {
    pub exit: Exit,
    /// Every report of each declared metric, in order.
    pub curves: IndexMap<String, Vec<f64>>,
}

/// Runs a process to its end. `stop` turning true stops it (SIGTERM to its group, SIGKILL after the grace);
/// metric reports go to `reports` as they arrive.
pub async fn run(
    launch: Launch,
    mut stop: watch::Receiver<bool>,
    reports: Option<mpsc::Sender<MetricReport>>,
) -> Finished {
    let curves: IndexMap<String, Vec<f64>> = launch.metrics.iter().map(|m| (m.clone(), Vec::new())).collect();
    let not_started = |why: String, curves| Finished { exit: Exit::NotStarted(why), curves };
    let Some((program, args)) = launch.argv.split_first() else {
        return not_started("the command is empty".into(), curves);
    };
    let log = match std::fs::OpenOptions::new().create(true).append(true).open(&launch.log) {
        Ok(file) => {
            let existing = file.metadata().map_or(0, |m| m.len());
            CappedLog::new(file, existing, launch.log_keep)
        }
        Err(e) => return not_started(format!("cannot open log {}: {e}", launch.log.display()), curves),
    };
    let token = process_tree::new_token();
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .env(process_tree::TOKEN_VARIABLE, &token)
        .current_dir(&launch.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    process_tree::lead_own_group(&mut command);
    let mut child = match process_tree::spawn_own(|| command.spawn(), tokio::process::Child::id) {
        Ok(child) => child,
        Err(e) => return not_started(format!("`{program}`: {e}"), curves),
    };
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));

    // The pump is its own task: the leader's exit, not the pipes' end, ends the stage (an orphaned member of
    // the group may hold them open until it is killed below).
    let pump =
        tokio::spawn(pump(child.stdout.take(), child.stderr.take(), log, launch.metrics.clone(), curves, reports));
    let deadline = async {
        match launch.timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    let stopped = async {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let status = tokio::select! {
        status = child.wait() => Some(status),
        () = deadline => None,
        () = stopped => Some(Err(std::io::Error::other("stopped"))),
    };
    let exit = match status {
        Some(Ok(status)) => {
            use std::os::unix::process::ExitStatusExt;
            if status.success() { Exit::Success } else { Exit::Failed { code: status.code(), signal: status.signal() } }
        }
        Some(Err(_)) => Exit::Stopped,
        None => Exit::TimedOut,
    };
    // Whatever the leader did, no process of the group may outlive the stage.
    if let Some(pgid) = pgid.filter(|&pgid| exit != Exit::Success || group_alive(pgid)) {
        stop_group(pgid, &mut child, launch.kill_grace).await;
    }
    let _ = child.wait().await;
    // Processes that left the group (`setsid`) are found by their token, as descendants of this subreaper.
    if let Some(pgid) = pgid {
        process_tree::stop_stage_tree(pgid, &token, launch.kill_grace).await;
    }
    let curves = match tokio::time::timeout(launch.kill_grace.max(Duration::from_secs(1)), pump).await {
        Ok(Ok((curves, log))) => {
            // A full disk must not fail the stage; the log is best effort.
            let _ = log.finish();
            curves
        }
        _ => IndexMap::new(),
    };
    Finished { exit, curves }
}

/// Copies the process's stdout and stderr into its log as they come, in constant memory whatever their
/// size, and parses stdout's lines for metric reports; returns the curves and the log to finish.
async fn pump(
    mut stdout: Option<ChildStdout>,
    mut stderr: Option<ChildStderr>,
    mut log: CappedLog,
    names: Vec<String>,
    mut curves: IndexMap<String, Vec<f64>>,
    reports: Option<mpsc::Sender<MetricReport>>,
) -> (IndexMap<String, Vec<f64>>, CappedLog) {
    let mut out_buf = vec![0u8; READ_CHUNK];
    let mut err_buf = vec![0u8; READ_CHUNK];
    let mut lines = Lines::default();
    let mut found = Vec::new();
    loop {
        tokio::select! {
            read = read_some(&mut stdout, &mut out_buf), if stdout.is_some() => match read {
                Ok(n) if n > 0 => {
                    let _ = log.write(&out_buf[..n]);
                    if !names.is_empty() {
                        lines.push(&out_buf[..n], |line| found.extend(parse_metrics(line, &names)));
                    }
                }
                _ => {
                    stdout = None;
                    lines.end(|line| found.extend(parse_metrics(line, &names)));
                }
            },
            read = read_some(&mut stderr, &mut err_buf), if stderr.is_some() => match read {
                Ok(n) if n > 0 => {
                    let _ = log.write(&err_buf[..n]);
                }
                _ => stderr = None,
            },
            else => break,
        }
        for (name, value) in found.drain(..) {
            if let Some(curve) = curves.get_mut(&name) {
                curve.push(value);
            }
            if let Some(reports) = &reports {
                let _ = reports.send((name, value)).await;
            }
        }
    }
    (curves, log)
}

const READ_CHUNK: usize = 64 * 1024;

async fn read_some<R: tokio::io::AsyncRead + Unpin>(reader: &mut Option<R>, buf: &mut [u8]) -> std::io::Result<usize> {
    match reader {
        Some(reader) => reader.read(buf).await,
        None => Ok(0),
    }
}

/// Stdout cut into lines for metric parsing. A line longer than [`MAX_METRIC_LINE`] cannot be a metric report
/// and is skipped without being held.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    overlong: bool,
}

/// The longest stdout line parsed for metric reports.
const MAX_METRIC_LINE: usize = 64 * 1024;

impl Lines {
    fn push(&mut self, mut bytes: &[u8], mut line: impl FnMut(&str)) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            let (piece, rest) = (&bytes[..end], &bytes[end + 1..]);
            if !self.overlong {
                if self.partial.is_empty() {
                    line(&String::from_utf8_lossy(piece));
                } else {
                    self.partial.extend_from_slice(piece);
                    line(&String::from_utf8_lossy(&self.partial));
                }
            }
            self.partial.clear();
            self.overlong = false;
            bytes = rest;
        }
        if !self.overlong {
            self.partial.extend_from_slice(bytes);
            if self.partial.len() > MAX_METRIC_LINE {
                self.partial = Vec::new();
                self.overlong = true;
            }
        }
    }

    /// The last line, when the output did not end with a newline.
    fn end(&mut self, mut line: impl FnMut(&str)) {
        if !self.overlong && !self.partial.is_empty() {
            line(&String::from_utf8_lossy(&self.partial));
        }
        self.partial = Vec::new();
        self.overlong = false;
    }
}

/// `name=value` pairs of declared metrics in one stdout line (Katib's StdOut format: several pairs may share a
/// line, separated by spaces or commas; spaces around `=` are allowed).
pub fn parse_metrics(line: &str, names: &[String]) -> Vec<MetricReport> {
    let mut out = Vec::new();
    if names.is_empty() {
        return out;
    }
    for (at, _) in line.match_indices('=') {
        let name_end = line[..at].trim_end().len();
        let name_start = line[..name_end]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/' || c == '.'))
            .map_or(0, |i| i + 1);
        let name = &line[name_start..name_end];
        if !names.iter().any(|n| n == name) {
            continue;
        }
        let rest = line[at + 1..].trim_start();
        let value_len =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))).unwrap_or(rest.len());
        if let Ok(value) = rest[..value_len].parse::<f64>() {
            out.push((name.to_string(), value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn metrics_follow_katib_stdout_format() {
        let declared = names(&["accuracy", "loss"]);
        assert_eq!(parse_metrics("accuracy=0.93", &declared), vec![("accuracy".into(), 0.93)]);
        assert_eq!(
            parse_metrics("epoch 3: loss = 1e-2, accuracy=0.5 other=7", &declared),
            vec![("loss".into(), 0.01), ("accuracy".into(), 0.5)]
        );
        assert!(parse_metrics("val_accuracy=0.9 accuracy=abc", &declared).is_empty());
        assert_eq!(parse_metrics("accuracy=nan", &declared).len(), 1);
    }
}
