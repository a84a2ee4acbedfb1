//! The state file each running server writes (`.kfl/serving/NAME.PID.json`, mode 0600: address,
//! pid, versions, admin token), and finding the live servers of a name for `kfl serve status|promote|rollback`.
//!
//! One file per server process: two servers of one name (two `kfl run --serve-for` of a project)
//! each remove only their own file, so neither hides the other.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a server's state file holds while it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerState {
    pub name: String,
    pub address: SocketAddr,
    pub pid: u32,
    pub started_at: u64,
    pub stable_version: String,
    pub canary_version: Option<String>,
    /// Required as `Authorization: Bearer TOKEN` by the admin endpoints; the file's 0600 mode
    /// keeps it to the user who started the server.
    pub token: String,
}

/// Why no server was found from the state files; nothing was changed but removing dead servers' files.
#[derive(Debug)]
pub enum StateError {
    Name {
        name: String,
    },
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    NoServer {
        name: String,
        pid: Option<u32>,
        dir: PathBuf,
    },
    /// Several servers of that name run, and no `--pid` picked one.
    Several {
        name: String,
        servers: Vec<(u32, std::net::SocketAddr)>,
    },
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Name { name } => write!(f, "`{name}` is not a serve name (letters, digits, `_` and `-` only)"),
            StateError::ReadDir { dir, source } => write!(f, "cannot read {}: {source}", dir.display()),
            StateError::NoServer { name, pid: Some(pid), dir } => {
                write!(f, "no running server {name} with pid {pid} (no state file in {})", dir.display())
            }
            StateError::NoServer { name, pid: None, dir } => {
                write!(f, "no running server {name} (no state file in {})", dir.display())
            }
            StateError::Several { name, servers } => {
                let listed: Vec<String> =
                    servers.iter().map(|(pid, address)| format!("pid {pid} at {address}")).collect();
                write!(
                    f,
                    "{} servers named {name} are running ({}); pick one with --pid",
                    servers.len(),
                    listed.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for StateError {}

/// A name that is safe as a file-name prefix: no separators, no dots, not empty. Serve names
/// from a compiled plan always are; names typed on a command line are checked here too.
pub fn check_name(name: &str) -> Result<(), StateError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(StateError::Name { name: name.to_string() });
    }
    Ok(())
}

pub fn state_path(state_dir: &Path, name: &str, pid: u32) -> PathBuf {
    state_dir.join(format!("{name}.{pid}.json"))
}

/// 32 random bytes from the kernel, hex: the admin token of one server's life.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Writes to a temporary file (created 0600, as the token is a secret) and renames it, so a
/// reader never sees half a file.
pub fn write_state(state_dir: &Path, state: &ServerState) -> std::io::Result<PathBuf> {
    check_name(&state.name).map_err(std::io::Error::other)?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(state_dir)?;
    let path = state_path(state_dir, &state.name, state.pid);
    let temporary = state_dir.join(format!(".{}.{}.json.partial", state.name, state.pid));
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    Ok(path)
}

/// Removes this server's own state file (pid-keyed: never another server's).
pub fn remove_state(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// True unless the kernel says no process has this pid (a server killed with SIGKILL left its file).
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    !matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH))
}

/// Every live server of `name` with a state file in `state_dir`, oldest first. Files left by
/// servers that no longer run are removed (they hold only a dead server's address and token).
pub fn running_servers(state_dir: &Path, name: &str) -> Result<Vec<ServerState>, StateError> {
    check_name(name)?;
    let entries = match std::fs::read_dir(state_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StateError::ReadDir { dir: state_dir.to_path_buf(), source }),
    };
    let prefix = format!("{name}.");
    let mut servers = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|file| file.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".json"))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let Some(state) = std::fs::read(&path).ok().and_then(|text| serde_json::from_slice::<ServerState>(&text).ok())
        else {
            continue;
        };
        if state.name != name || state.pid != pid {
            continue;
        }
        if !alive(pid) {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        servers.push(state);
    }
    servers.sort_by_key(|state| (state.started_at, state.pid));
    Ok(servers)
}

/// The one running server named `name`, or the one with process id `pid` when several run.
pub fn read_state(state_dir: &Path, name: &str, pid: Option<u32>) -> Result<ServerState, StateError> {
    let mut servers = running_servers(state_dir, name)?;
    if let Some(pid) = pid {
        servers.retain(|state| state.pid == pid);
    }
    match servers.len() {
        0 => Err(StateError::NoServer { name: name.to_string(), pid, dir: state_dir.to_path_buf() }),
        1 => Ok(servers.remove(0)),
        _ => Err(StateError::Several {
            name: name.to_string(),
            servers: servers.iter().map(|state| (state.pid, state.address)).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(name: &str, pid: u32) -> ServerState {
        ServerState {
            name: name.to_owned(),
            address: "127.0.0.1:8080".parse().expect("address"),
            pid,
            started_at: 1,
            stable_version: "1".to_owned(),
            canary_version: None,
            token: new_token().expect("token"),
        }
    }

    #[test]
    fn names_that_leave_the_state_folder_are_refused() {
        for name in ["../../x", "a/b", "", ".", "x.1", "a b"] {
            assert!(check_name(name).is_err(), "{name:?}");
        }
        assert!(check_name("iris_v2-x").is_ok());
    }

    #[test]
    fn each_server_has_its_own_private_file_and_dead_ones_are_swept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let ours = write_state(dir.path(), &state("iris", std::process::id())).expect("write");
        assert_eq!(std::fs::metadata(&ours).expect("meta").permissions().mode() & 0o777, 0o600);
        // pid 0x7fff_fff0 is above Linux's pid_max: no such process.
        let dead = write_state(dir.path(), &state("iris", 0x7fff_fff0)).expect("write");
        write_state(dir.path(), &state("iris_two", std::process::id())).expect("write");
        let found = running_servers(dir.path(), "iris").expect("list");
        assert_eq!(found.iter().map(|s| s.pid).collect::<Vec<_>>(), [std::process::id()]);
        assert!(!dead.exists(), "a dead server's file is swept");
        assert!(read_state(dir.path(), "../iris", None).is_err());
        assert_eq!(new_token().expect("token").len(), 64);
    }
}
