//! The `kfl build` output folder: the stamp that marks kfl's files, the lock, and the swap that replaces only them.
//!
//! A build writes into a staging folder beside DIR and swaps it in. DIR is replaced only when it is missing,
//! empty, or an earlier kfl build whose stamp lists every file in it; anything else (a user's folder, a
//! file, a device, a FIFO) is refused, and only the files a stamp lists are ever deleted.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Component, Path, PathBuf};

use kfl_compiler::codegen::Sink;

/// The stamp kfl writes into every build folder: the source, the kfl version and the files it wrote.
pub const STAMP: &str = ".kfl-build";

/// Why the output folder was not written; the message names the folder and what to do.
pub type Refusal = String;

#[derive(serde::Serialize, serde::Deserialize)]
struct Stamp {
    /// Bumped when the stamp's meaning changes; a stamp of another format is not trusted.
    kfl_build: u32,
    source: String,
    kfl_version: String,
    /// Every file of the build, relative to the folder, `/`-separated.
    files: Vec<String>,
}

const STAMP_FORMAT: u32 = 1;

/// A file copied into the build as it is: (path relative to the build folder, the file copied).
pub type CopiedFile = (String, PathBuf);

/// What the write did: how many files the build produced (the copies aside), and notes for the user when something could not be tidied.
pub struct Written {
    pub files: usize,
    pub notes: Vec<String>,
}

/// Writes the files `produce` gives the sink (and the `copies`, as (relative path, file to copy)) into `dir` for
/// the build of `source`: refused unless `dir` is missing, empty or an earlier kfl build, with nothing changed
/// when refused or failed. Each file goes to disk as it is produced, so a large build never holds them all.
pub fn write(
    dir: &Path,
    source: &Path,
    copies: &[(String, PathBuf)],
    produce: impl FnOnce(&mut dyn Sink) -> std::io::Result<()>,
) -> Result<Written, Refusal> {
    let dir = resolve(dir)?;
    let parent = dir.parent().ok_or_else(|| format!("{}: cannot write a build over the root folder", dir.display()))?;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: the folder name is not UTF-8", dir.display()))?
        .to_string();
    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let _lock = Lock::acquire(parent, &name, &dir)?;
    let mut notes = sweep_leftovers(parent, &name);
    let previous_files = inspect(&dir)?;
    let staging = parent.join(format!(".{name}.kfl-build-{}", std::process::id()));
    let result = stage_and_swap(&dir, parent, &name, &staging, source, (produce, copies), previous_files);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    let (files, swap_notes) = result?;
    notes.extend(swap_notes);
    Ok(Written { files, notes })
}

/// `dir` itself, or the folder a symbolic link names; refused when it exists and is not a folder.
fn resolve(dir: &Path) -> Result<PathBuf, Refusal> {
    let absolute = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    match std::fs::symlink_metadata(&absolute) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(normalise(&absolute)),
        Err(e) => Err(format!("{}: {e}", dir.display())),
        Ok(meta) if meta.is_dir() => Ok(normalise(&absolute)),
        Ok(meta) if meta.file_type().is_symlink() && absolute.is_dir() => {
            std::fs::canonicalize(&absolute).map_err(|e| format!("{}: {e}", dir.display()))
        }
        Ok(meta) => Err(format!(
            "{} exists and is {}, not a folder: kfl build writes a folder of files; give a new or empty folder",
            dir.display(),
            crate::files::describe_kind(&meta)
        )),
    }
}

/// `a/./b/..` as `a`, without touching the disk (the path may not exist yet).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The files of the earlier build in `dir` (None when `dir` is missing or empty); refused when `dir` holds
/// anything its stamp does not list.
fn inspect(dir: &Path) -> Result<Option<Vec<String>>, Refusal> {
    let entries = match walk(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    if entries.is_empty() {
        return Ok(None);
    }
    let not_ours = |why: &str| {
        format!(
            "{} is not empty and {why}: kfl build replaces only a folder it wrote itself; \
             choose another folder (or move its files away)",
            dir.display()
        )
    };
    let stamp = match std::fs::read_to_string(dir.join(STAMP)) {
        Ok(text) => serde_json::from_str::<Stamp>(&text)
            .ok()
            .filter(|s| s.kfl_build == STAMP_FORMAT && s.files.iter().all(|f| is_plain_relative(f)))
            .ok_or_else(|| not_ours(&format!("its `{STAMP}` stamp is not one kfl wrote")))?,
        Err(_) => return Err(not_ours(&format!("has no `{STAMP}` stamp, so kfl did not write it"))),
    };
    let listed: BTreeSet<&str> = stamp.files.iter().map(String::as_str).collect();
    let folders: BTreeSet<String> = stamp.files.iter().flat_map(|f| ancestors(f)).collect();
    let unknown: Vec<&str> = entries
        .iter()
        .filter(|(path, is_dir)| {
            path != STAMP && !if *is_dir { folders.contains(path) } else { listed.contains(path.as_str()) }
        })
        .map(|(path, _)| path.as_str())
        .collect();
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(5).copied().collect();
        let more = if unknown.len() > 5 { format!(" and {} more", unknown.len() - 5) } else { String::new() };
        return Err(not_ours(&format!("holds files the last build did not write ({}{more})", shown.join(", "))));
    }
    Ok(Some(stamp.files))
}

/// A stamp's file name may only point inside the folder: no `..`, no root, no empty parts.
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty() && Path::new(path).components().all(|c| matches!(c, Component::Normal(_)))
}

/// `a/b/c.yaml` → `a`, `a/b`.
fn ancestors(path: &str) -> Vec<String> {
    path.match_indices('/').map(|(at, _)| path[..at].to_string()).collect()
}

/// Every entry under `root` as (relative `/` path, is a real folder), symbolic links not followed.
fn walk(root: &Path) -> std::io::Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let is_dir = entry.file_type()?.is_dir();
            if is_dir {
                stack.push((entry.path(), relative.clone()));
            }
            out.push((relative, is_dir));
        }
    }
    Ok(out)
}

/// Writes the staging folder, swaps it in for `dir`, and deletes the earlier build's files; returns how many
/// files the build has and the notes.
fn stage_and_swap(
    dir: &Path,
    parent: &Path,
    name: &str,
    staging: &Path,
    source: &Path,
    (produce, copies): (impl FnOnce(&mut dyn Sink) -> std::io::Result<()>, &[CopiedFile]),
    previous_files: Option<Vec<String>>,
) -> Result<(usize, Vec<String>), Refusal> {
    let _ = std::fs::remove_dir_all(staging);
    let mut folder = Folder { root: staging.to_path_buf(), files: Vec::new(), folders: BTreeSet::new() };
    folder.create_dir(staging)?;
    produce(&mut folder).map_err(|e| e.to_string())?;
    let count = folder.files.len();
    copy_files(&mut folder, copies)?;
    let files = folder.files;
    let stamp = Stamp {
        kfl_build: STAMP_FORMAT,
        source: std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf()).display().to_string(),
        kfl_version: env!("CARGO_PKG_VERSION").to_string(),
        files,
    };
    let text = serde_json::to_string_pretty(&stamp).map_err(|e| e.to_string())? + "\n";
    std::fs::write(staging.join(STAMP), text).map_err(|e| format!("{}: {e}", staging.display()))?;
    let Some(previous_files) = previous_files else {
        // Missing or empty: `remove_dir` refuses a folder that gained a file since it was inspected.
        match std::fs::remove_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("{}: {e} (it changed during the build)", dir.display()));
            }
            _ => {}
        }
        std::fs::rename(staging, dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        return Ok((count, Vec::new()));
    };
    let previous = parent.join(format!(".{name}.kfl-previous-{}", std::process::id()));
    std::fs::rename(dir, &previous).map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Err(e) = std::fs::rename(staging, dir) {
        let _ = std::fs::rename(&previous, dir);
        return Err(format!("{}: {e}", dir.display()));
    }
    Ok((count, remove_listed(&previous, &previous_files).into_iter().collect()))
}

/// Deletes the files a stamp lists, the stamp and the folders that held them, then the folder itself; a file
/// someone added meanwhile survives, and the note says where.
fn remove_listed(root: &Path, files: &[String]) -> Option<String> {
    for file in files {
        let _ = std::fs::remove_file(root.join(file));
    }
    let _ = std::fs::remove_file(root.join(STAMP));
    let mut folders: Vec<String> = files.iter().flat_map(|f| ancestors(f)).collect();
    folders.sort_by_key(|f| std::cmp::Reverse(f.matches('/').count()));
    folders.dedup();
    for folder in &folders {
        let _ = std::fs::remove_dir(root.join(folder));
    }
    match std::fs::remove_dir(root) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Some(format!("files added to the old build while kfl replaced it were kept in {}", root.display()))
        }
        _ => None,
    }
}

/// The staging folder as the back ends' [`Sink`]: each file is written through a buffer as it is produced, and
/// listed for the stamp.
struct Folder {
    root: PathBuf,
    /// Every file written, relative to `root`, `/`-separated, in the order written.
    files: Vec<String>,
    /// The folders made so far: each is created once, not once per file (a build with a few hundred manifests
    /// made as many failing `mkdir` calls).
    folders: BTreeSet<PathBuf>,
}

impl Folder {
    fn create_dir(&mut self, folder: &Path) -> Result<(), Refusal> {
        if !self.folders.contains(folder) {
            std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
            self.folders.insert(folder.to_path_buf());
        }
        Ok(())
    }

    /// The path of `relative` in the folder, its parent folder created.
    fn place(&mut self, relative: &str) -> Result<PathBuf, Refusal> {
        let path = self.root.join(relative);
        if let Some(folder) = path.parent() {
            self.create_dir(folder)?;
        }
        self.files.push(relative.to_string());
        Ok(path)
    }
}

impl Sink for Folder {
    fn file(
        &mut self,
        relative: &str,
        contents: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        use std::io::Write;
        let path = self.place(relative).map_err(std::io::Error::other)?;
        let failed = |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let file = File::create(&path).map_err(failed)?;
        let mut writer = std::io::BufWriter::with_capacity(256 * 1024, file);
        contents(&mut writer).map_err(failed)?;
        writer.flush().map_err(failed)
    }
}

/// Copies the `copies` (relative path, file to copy) into the folder.
fn copy_files(folder: &mut Folder, copies: &[(String, PathBuf)]) -> Result<(), Refusal> {
    for (relative, source) in copies {
        let path = folder.place(relative)?;
        std::fs::copy(source, &path).map_err(|e| format!("{} → {}: {e}", source.display(), path.display()))?;
    }
    Ok(())
}

/// Staging and previous folders of builds of `name` that were killed: the staging folder is all kfl's; of
/// an old build only the files its stamp lists are deleted. Runs under the lock, so no live build owns them.
fn sweep_leftovers(parent: &Path, name: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(parent) else { return Vec::new() };
    let mut notes = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&format!(".{name}.")) else { continue };
        let (kind, pid) = match rest.rsplit_once('-') {
            Some((kind @ ("kfl-build" | "kfl-previous"), pid)) => (kind, pid),
            _ => continue,
        };
        let Ok(pid) = pid.parse::<i32>() else { continue };
        if is_alive(pid) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        if kind == "kfl-build" {
            let _ = std::fs::remove_dir_all(&path);
        } else if let Ok(Some(files)) = inspect(&path) {
            notes.extend(remove_listed(&path, &files));
        } else {
            notes.push(format!("{} holds files no kfl build wrote: left as it is", path.display()));
        }
    }
    notes
}

fn is_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    pid == std::process::id() as i32
        || !matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// An exclusive lock on the builds of one output folder (`flock` on `.NAME.kfl-lock` beside it), removed on drop.
struct Lock {
    path: PathBuf,
    _file: File,
}

impl Lock {
    fn acquire(parent: &Path, name: &str, dir: &Path) -> Result<Lock, Refusal> {
        use std::os::unix::fs::MetadataExt;
        let path = parent.join(format!(".{name}.kfl-lock"));
        loop {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(format!(
                        "another kfl build is writing {} right now; try again when it ends",
                        dir.display()
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(format!("{}: {e}", path.display())),
            }
            // The holder before us deletes the lock file as it ends: a lock on that deleted file locks nothing.
            let held = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?;
            match std::fs::metadata(&path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => return Ok(Lock { path, _file: file }),
                _ => continue,
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Deleted while still locked, so a waiting build re-checks and takes a fresh file.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_list_only_paths_inside_the_folder() {
        assert!(is_plain_relative("manifests/a.yaml"));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "./a"] {
            assert!(!is_plain_relative(bad), "{bad}");
        }
        assert_eq!(ancestors("a/b/c.yaml"), ["a", "a/b"]);
    }
}
