//! The processes kfl starts, as the kernel sees them: each started as the leader of its own process group that
//! dies with kfl, `/proc` read for process groups, descendants and identity (pid plus start time), kfl made a
//! child subreaper, and a stage's whole tree stopped when the stage ends. Every process-group and parent-death
//! call of the runtime (`process_group`, `pre_exec`, `killpg`) is here.
//!
//! kfl stops its stages, replicas and retrain runs itself when it ends normally or on Ctrl-C. When it is killed
//! outright (`kill -9`, the OOM killer) it cannot: each process it starts is therefore armed with the kernel's
//! parent-death signal ([`lead_own_group`]), without which a predictor replica would keep its port and a
//! training its GPU long after the run that started it is gone.
//!
//! A stage runs in its own process group, but a member may leave it (`setsid`, `setpgid`) and then outlive a
//! group kill. kfl is therefore a child subreaper (`PR_SET_CHILD_SUBREAPER`): an orphan of a stage is reparented
//! to kfl rather than to init, so it stays in kfl's tree, where the stage's token finds it. Every stage process
//! inherits `KFL_PROCESS_TOKEN` (unique per process kfl starts); at the stage's end every process in kfl's tree
//! that carries the token, every member of the stage's group, and every descendant of those, is stopped.
//!
//! An orphan that exits while its stage still runs is reaped at once ([`OrphanReaper`], on every SIGCHLD), not
//! left a zombie until kfl exits. The children kfl spawned itself belong to their owners (tokio or a thread waits
//! for them), so they are noted at spawn ([`spawn_own`]) and never reaped here.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// Makes `command` start the leader of a new process group (so a group kill also reaches the workers it forks,
/// and a terminal's Ctrl-C reaches only kfl, which then stops it in order) that gets SIGTERM when kfl dies.
///
/// The parent-death signal goes only to the leader (the kernel has no group form of it): SIGTERM rather than
/// SIGKILL so that a leader which forks workers (torchrun, gunicorn, uvicorn) stops them as it does on any
/// SIGTERM. What a leader forks and does not stop itself is reached by the group kill kfl does when it can, and
/// is otherwise orphaned; so is a leader that ignores SIGTERM.
///
/// The signal follows the starting *thread*, not the process: spawn only from a tokio worker or a thread that
/// lives as long as kfl (never from `spawn_blocking`, whose idle threads exit).
pub(crate) fn lead_own_group(command: &mut tokio::process::Command) {
    lead_own_group_std(command.as_std_mut());
}

/// [`lead_own_group`] for the standard library's `Command`.
pub(crate) fn lead_own_group_std(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    let parent = nix::unistd::getpid();
    // SAFETY: the hook runs in the child between fork and exec, where only async-signal-safe calls are allowed.
    // It makes two system calls (prctl, getppid) and, when the parent is already gone, a third (kill on itself);
    // it allocates nothing and takes no lock.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || arm_parent_death(parent));
    }
}

/// In the child: arms the signal, then closes the race with a parent that died before it was armed.
fn arm_parent_death(parent: Pid) -> std::io::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)?;
    if nix::unistd::getppid() != parent {
        // Reparented already: kfl is gone, so is the reason to run.
        let _ = kill(nix::unistd::getpid(), Signal::SIGTERM);
    }
    Ok(())
}

/// SIGKILL to what is left of a group whose leader (`pid`, the group's id) has already been reaped; a group
/// that is already gone (ESRCH, the expected outcome after a crash) is fine.
pub fn kill_group_remains(pid: u32) {
    let Ok(raw) = i32::try_from(pid) else { return };
    let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
}

/// The environment variable that marks every process of one stage process tree.
pub const TOKEN_VARIABLE: &str = "KFL_PROCESS_TOKEN";

/// What `/proc/PID/stat` says about a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    pub zombie: bool,
    pub ppid: i32,
    pub pgrp: i32,
    /// Clock ticks after boot at which the process started: with the pid, it names one process for good.
    pub start_ticks: u64,
}

/// Reads `/proc/PID/stat`; `None` once the process is gone.
pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
/// priority nice threads itrealvalue starttime …` (proc(5)); comm may hold spaces and parentheses, so the fields
/// are split after the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_once(" (")?.0.trim().parse().ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `fields[0]` is field 3 (state), so field N is `fields[N - 3]`.
    Some(Stat {
        pid,
        zombie: *fields.first()? == "Z",
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// Every process visible in `/proc`.
fn all() -> Vec<Stat> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()).filter_map(stat).collect()
}

/// This boot's id: a pid and start time name one process only within one boot.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Whether the process `pid` that started at `start_ticks` during boot `boot` is still alive (not a zombie).
/// A reused pid has another start time, so it does not count.
pub fn is_alive(pid: u32, start_ticks: u64, boot: &str) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    boot == boot_id() && stat(pid).is_some_and(|s| s.start_ticks == start_ticks && !s.zombie)
}

/// Makes this process the child subreaper of everything it starts, so orphans stay in its tree. Best effort:
/// without it (a kernel before 3.4) an orphan that left its stage's group goes to init and out of reach.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// The group leaders this process spawned itself (pid, start time): their owners wait for them.
static OWN: Mutex<Vec<(i32, u64)>> = Mutex::new(Vec::new());

/// Spawns a child that its caller will wait for, noting it as this process's own so the orphan reaper leaves it
/// alone. The note is taken under the reaper's lock, so a child that exits before it is noted is never mistaken
/// for an orphan.
pub fn spawn_own<C>(
    spawn: impl FnOnce() -> std::io::Result<C>,
    pid: impl FnOnce(&C) -> Option<u32>,
) -> std::io::Result<C> {
    let mut own = OWN.lock().unwrap_or_else(PoisonError::into_inner);
    let child = spawn()?;
    // A child gone already (reaped by its owner) needs no note: its pid is no longer this process's child.
    if let Some(stat) = pid(&child).and_then(|pid| i32::try_from(pid).ok()).and_then(stat) {
        own.push((stat.pid, stat.start_ticks));
    }
    Ok(child)
}

/// Reaps every child of this subreaper that exited and is neither one of its own ([`spawn_own`]) nor in its own
/// process group (a plain child some code waits for): what is left are orphans of stages, handed to this
/// subreaper. Notes of own children that their owners reaped are dropped on the way.
pub fn reap_exited_orphans() {
    let me = nix::unistd::getpid().as_raw();
    let my_group = nix::unistd::getpgrp().as_raw();
    let mut own = OWN.lock().unwrap_or_else(PoisonError::into_inner);
    let children: Vec<Stat> = all().into_iter().filter(|p| p.ppid == me).collect();
    own.retain(|&(pid, start)| children.iter().any(|c| c.pid == pid && c.start_ticks == start));
    for child in children {
        if child.zombie && child.pgrp != my_group && !own.contains(&(child.pid, child.start_ticks)) {
            // The pid is a zombie child of this process: it cannot be reused before this wait.
            let _ = waitpid(Pid::from_raw(child.pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

/// Reaps orphans as they exit while it lives: on every SIGCHLD, and every few seconds in case a signal was
/// missed or the signal stream could not be set up. Dropping it stops the reaping.
pub struct OrphanReaper(tokio::task::JoinHandle<()>);

impl OrphanReaper {
    /// Starts reaping on the current tokio runtime.
    pub fn start() -> Self {
        OrphanReaper(tokio::spawn(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut child_exits = signal(SignalKind::child()).ok();
            loop {
                match child_exits.as_mut() {
                    Some(stream) => {
                        let _ = tokio::time::timeout(Duration::from_secs(5), stream.recv()).await;
                    }
                    None => tokio::time::sleep(Duration::from_millis(500)).await,
                }
                reap_exited_orphans();
            }
        }))
    }
}

impl Drop for OrphanReaper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A new token for one process kfl starts, unique within this kfl process.
pub fn new_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Whether a process's initial environment holds `KFL_PROCESS_TOKEN=token`.
fn carries(pid: i32, token: &str) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { return false };
    let wanted = format!("{TOKEN_VARIABLE}={token}");
    environ.split(|&b| b == 0).any(|entry| entry == wanted.as_bytes())
}

/// The live processes of one stage: members of its group, processes in this process's tree carrying its token,
/// and every descendant of those.
pub fn stage_processes(pgid: Pid, token: &str) -> Vec<Stat> {
    let processes = all();
    let me = nix::unistd::getpid().as_raw();
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in &processes {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mine = subtree(&children, me);
    let by_pid: HashMap<i32, Stat> = processes.iter().map(|p| (p.pid, *p)).collect();
    let roots: Vec<i32> = processes
        .iter()
        .filter(|p| p.pid != me && !p.zombie)
        .filter(|p| p.pgrp == pgid.as_raw() || (mine.contains(&p.pid) && carries(p.pid, token)))
        .map(|p| p.pid)
        .collect();
    let mut found = HashSet::new();
    for root in roots {
        found.extend(subtree(&children, root));
    }
    found.remove(&me);
    found.into_iter().filter_map(|pid| by_pid.get(&pid).copied()).filter(|p| !p.zombie).collect()
}

/// `root` and everything below it.
fn subtree(children: &HashMap<i32, Vec<i32>>, root: i32) -> HashSet<i32> {
    let mut seen = HashSet::from([root]);
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for &child in children.get(&pid).map_or(&[][..], Vec::as_slice) {
            if seen.insert(child) {
                todo.push(child);
            }
        }
    }
    seen
}

/// Whether any live process of the group exists. Zombies do not count: an orphaned member that died waits for
/// its reaper, which can take a moment and must not hold the stage up.
pub fn group_alive(pgid: Pid) -> bool {
    if killpg(pgid, None).is_err() {
        return false;
    }
    all().iter().any(|p| p.pgrp == pgid.as_raw() && !p.zombie)
}

/// SIGTERM to the group; the leader is reaped as soon as it exits (so its zombie does not count as alive),
/// and SIGKILL goes to whatever remains once the grace has passed.
/// Also what serving uses for its replicas; returns the leader's exit status when it was reaped in time.
pub async fn stop_group(
    pgid: Pid,
    child: &mut tokio::process::Child,
    grace: Duration,
) -> Option<std::process::ExitStatus> {
    if killpg(pgid, Signal::SIGTERM).is_err() {
        return None;
    }
    let deadline = tokio::time::Instant::now() + grace;
    let status = tokio::time::timeout_at(deadline, child.wait()).await.ok().and_then(Result::ok);
    while tokio::time::Instant::now() < deadline {
        if !group_alive(pgid) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = killpg(pgid, Signal::SIGKILL);
    status
}

/// Stops what is left of a stage once its leader has been reaped: SIGTERM to every process of the stage
/// ([`stage_processes`]), SIGKILL to those still alive after `grace`, and the orphans this process inherited
/// as their subreaper reaped, so none stays a zombie.
pub async fn stop_stage_tree(pgid: Pid, token: &str, grace: Duration) {
    let first = stage_processes(pgid, token);
    if first.is_empty() {
        return;
    }
    let mut signalled: HashMap<i32, u64> = HashMap::new();
    for p in &first {
        let _ = kill(Pid::from_raw(p.pid), Signal::SIGTERM);
        signalled.insert(p.pid, p.start_ticks);
    }
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        reap_orphans(&signalled);
        let left = stage_processes(pgid, token);
        if left.is_empty() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            for p in &left {
                let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
                signalled.insert(p.pid, p.start_ticks);
            }
            // SIGKILL cannot be refused: give the kernel a moment to deliver it, then reap.
            for _ in 0..50 {
                reap_orphans(&signalled);
                if stage_processes(pgid, token).is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reap_orphans(&signalled);
}

/// Reaps the signalled processes that became this process's children (orphans handed to the subreaper).
/// Only pids this module signalled are waited for: the stage leaders and replicas belong to tokio.
fn reap_orphans(signalled: &HashMap<i32, u64>) {
    let me = nix::unistd::getpid().as_raw();
    for (&pid, &start) in signalled {
        if stat(pid).is_some_and(|s| s.ppid == me && s.zombie && s.start_ticks == start) {
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let stat = parse_stat(line).expect("stat");
        assert_eq!(stat, Stat { pid: 4242, zombie: false, ppid: 17, pgrp: 4242, start_ticks: 987_654 });
    }

    #[test]
    fn this_process_is_alive_and_a_different_start_time_is_not() {
        let me = stat(std::process::id() as i32).expect("own stat");
        assert!(is_alive(std::process::id(), me.start_ticks, &boot_id()));
        assert!(!is_alive(std::process::id(), me.start_ticks + 1, &boot_id()));
        assert!(!is_alive(std::process::id(), me.start_ticks, "another boot"));
    }
}
