//! Children that die with kfl: the parent-death signal for every process the runtime starts.
//!
//! kfl stops its stages, replicas and retrain runs itself when it ends normally or on Ctrl-C. When it is killed
//! outright (`kill -9`, the OOM killer) it cannot, and without this a predictor replica would keep its port and
//! a training would keep its GPU long after the run that started it is gone.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Asks the kernel to send SIGTERM to the process `command` starts as soon as the kfl thread that started it
/// ends. Only that process gets the signal (the kernel has no group form of it): SIGTERM rather than SIGKILL so
/// that a leader which forks workers (torchrun, gunicorn, uvicorn) stops them as it does on any SIGTERM. What a
/// leader forks and does not stop itself is reached by the group kill kfl does when it can, and is otherwise
/// orphaned; so is a leader that ignores SIGTERM.
///
/// The signal follows the starting *thread*, not the process: call this only for commands spawned from a
/// tokio worker or a thread that lives as long as kfl (never from `spawn_blocking`, whose idle threads exit).
pub(crate) fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::getpid();
    // SAFETY: the hook runs in the child between fork and exec, where only async-signal-safe calls are allowed.
    // It makes two system calls (prctl, getppid) and, when the parent is already gone, a third (kill on itself);
    // it allocates nothing and takes no lock.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || arm(parent));
    }
}

/// [`die_with_parent`] for tokio's `Command`.
pub(crate) fn die_with_parent_tokio(command: &mut tokio::process::Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: as in `die_with_parent`.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || arm(parent));
    }
}

/// In the child: arms the signal, then closes the race with a parent that died before it was armed.
fn arm(parent: Pid) -> std::io::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)?;
    if nix::unistd::getppid() != parent {
        // Reparented already: kfl is gone, so is the reason to run.
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), Signal::SIGTERM);
    }
    Ok(())
}
