//! A replica's processes: free ports, argv filling, and starting and stopping each as its own process group
//! (through `process_tree`, which owns every process-group call).

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use indexmap::IndexMap;
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::config::Arg;

/// Asks the kernel for a free loopback port. The port is released before the child binds it, so
/// another process can take it first; the child then fails to start and its supervisor retries
/// on a new port.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Values the placeholders of one command line stand for.
pub struct ArgValues<'a> {
    pub model_dir: &'a Path,
    pub port: u16,
    pub predictor_port: Option<u16>,
}

pub fn fill_argv(argv: &[Arg], values: &ArgValues<'_>) -> Vec<String> {
    argv.iter()
        .map(|arg| match arg {
            Arg::Text(text) => text.clone(),
            Arg::ModelDir => values.model_dir.display().to_string(),
            Arg::Port => values.port.to_string(),
            Arg::PredictorHost => format!("127.0.0.1:{}", values.predictor_port.unwrap_or(0)),
        })
        .collect()
}

/// Starts `argv` as the leader of a new process group, so killing the group also reaches the
/// workers it forks and a terminal's Ctrl-C reaches only kfl, which then stops it in order.
pub fn spawn_group(
    argv: &[String],
    working_dir: &Path,
    env: &IndexMap<String, String>,
    log: Option<&Path>,
) -> std::io::Result<Child> {
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command line"));
    };
    let mut command = Command::new(program);
    command.args(args).current_dir(working_dir).envs(env).stdin(Stdio::null()).kill_on_drop(true);
    crate::process_tree::lead_own_group(&mut command);
    if let Some(log) = log {
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        command.stdout(file.try_clone()?).stderr(file);
    }
    crate::process_tree::spawn_own(|| command.spawn(), Child::id)
}

/// Stops a replica's process group the way the runtime stops a stage's (`process_tree::stop_group`: SIGTERM,
/// the leader reaped, SIGKILL to any live member left after `grace`), then reaps the leader.
pub async fn stop_group(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let Some(raw) = child.id().and_then(|pid| i32::try_from(pid).ok()) else {
        // Already reaped; the group id is gone with it.
        return child.try_wait().ok().flatten();
    };
    match crate::process_tree::stop_group(Pid::from_raw(raw), child, grace).await {
        Some(status) => Some(status),
        None => child.wait().await.ok(),
    }
}
