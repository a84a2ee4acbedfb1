//! The content-addressed artifact store `.kfl/models/sha256/<hex>/`: artifacts are copied into a private temporary
//! directory while hashed, then renamed into place, so a stored directory is always complete.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::{RegistryError, Result};

/// Separates temporary directories of concurrent registrations inside one process.
static NEXT_STAGING: AtomicU64 = AtomicU64::new(0);

/// Hash input format version; changing what is hashed changes every digest, so it is part of the hash.
const TREE_MAGIC: &[u8] = b"kfl-tree-v1\n";

#[derive(Clone, Debug)]
pub struct ContentStore {
    root: PathBuf,
}

/// An artifact in the store. `path` is the stored copy (the file itself for a single-file artifact),
/// `relative_path` the same path relative to the store root, as recorded in the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredArtifact {
    pub digest: String,
    pub path: PathBuf,
    pub relative_path: String,
}

impl ContentStore {
    /// The store of a project: `<project_dir>/.kfl/models`.
    pub fn in_project(project_dir: &Path) -> ContentStore {
        ContentStore { root: project_dir.join(".kfl").join("models") }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Copies `source` (a file or a directory tree) into the store and returns where it lives. Storing the same
    /// content twice keeps the first copy.
    pub fn put(&self, source: &Path) -> Result<StoredArtifact> {
        let metadata = fs::symlink_metadata(source).map_err(RegistryError::io("read the artifact", source))?;
        let staging_root = self.root.join("tmp");
        fs::create_dir_all(&staging_root).map_err(RegistryError::io("create", &staging_root))?;
        let staging = staging_root.join(format!(
            "{}-{}-{}",
            std::process::id(),
            super::records::now_ms(),
            NEXT_STAGING.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&staging).map_err(RegistryError::io("create", &staging))?;
        let result = self.copy_and_publish(source, &metadata, &staging);
        if staging.exists() {
            // Leftovers only on failure or when the content was already stored; not worth failing over.
            let _ = fs::remove_dir_all(&staging);
        }
        result
    }

    fn copy_and_publish(&self, source: &Path, metadata: &fs::Metadata, staging: &Path) -> Result<StoredArtifact> {
        let mut hasher = Sha256::new();
        hasher.update(TREE_MAGIC);
        let file_name = if metadata.is_dir() {
            copy_tree(source, staging, "", &mut hasher)?;
            None
        } else if metadata.is_file() {
            let name = source
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| RegistryError::Invalid {
                    what: "artifact path",
                    value: source.display().to_string(),
                    reason: "the file name is not valid UTF-8",
                })?
                .to_string();
            copy_entry(source, staging, &name, &mut hasher)?;
            Some(name)
        } else {
            return Err(RegistryError::Invalid {
                what: "artifact path",
                value: source.display().to_string(),
                reason: "it is neither a file nor a directory",
            });
        };
        let digest = hex(&hasher.finalize());
        let shard = self.root.join("sha256");
        fs::create_dir_all(&shard).map_err(RegistryError::io("create", &shard))?;
        let target = shard.join(&digest);
        if !target.exists() {
            sync_dir(staging)?;
            if let Err(err) = fs::rename(staging, &target) {
                // Another registration may have published the same content between the check and the rename.
                if !target.is_dir() {
                    return Err(RegistryError::Io { action: "move the artifact into", path: target, source: err });
                }
            }
            sync_dir(&shard)?;
        }
        let relative_path = match &file_name {
            Some(name) => format!("sha256/{digest}/{name}"),
            None => format!("sha256/{digest}"),
        };
        let path = self.root.join(&relative_path);
        Ok(StoredArtifact { digest, path, relative_path })
    }

    /// Removes temporary directories left by registrations that were killed. A directory whose process is still
    /// running is left alone.
    pub fn remove_stale_staging(&self) -> Result<()> {
        let staging_root = self.root.join("tmp");
        let Ok(entries) = fs::read_dir(&staging_root) else { return Ok(()) };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let pid = name.to_str().and_then(|n| n.split('-').next()).and_then(|p| p.parse::<i32>().ok());
            let alive = pid.is_some_and(process_is_alive);
            if !alive {
                let path = entry.path();
                fs::remove_dir_all(&path).map_err(RegistryError::io("remove the stale staging directory", &path))?;
            }
        }
        Ok(())
    }
}

fn process_is_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        // EPERM: the process exists but belongs to someone else.
        Err(_) => true,
    }
}

/// Copies a directory's entries in byte order of their names, so the hash does not depend on the order the
/// file system lists them in.
fn copy_tree(source: &Path, target: &Path, prefix: &str, hasher: &mut Sha256) -> Result<()> {
    let mut names = Vec::new();
    for entry in fs::read_dir(source).map_err(RegistryError::io("list", source))? {
        let entry = entry.map_err(RegistryError::io("list", source))?;
        let name = entry.file_name().into_string().map_err(|name| RegistryError::Invalid {
            what: "artifact file name",
            value: name.to_string_lossy().into_owned(),
            reason: "it is not valid UTF-8",
        })?;
        names.push(name);
    }
    names.sort();
    for name in names {
        let relative = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        copy_entry(&source.join(&name), target, &relative, hasher)?;
    }
    Ok(())
}

fn copy_entry(source: &Path, target_root: &Path, relative: &str, hasher: &mut Sha256) -> Result<()> {
    let metadata = fs::symlink_metadata(source).map_err(RegistryError::io("read", source))?;
    let target = target_root.join(relative);
    if metadata.is_dir() {
        hasher.update(b"d");
        hasher.update(relative.as_bytes());
        hasher.update([0]);
        fs::create_dir(&target).map_err(RegistryError::io("create", &target))?;
        copy_tree(source, target_root, relative, hasher)?;
        sync_dir(&target)
    } else if metadata.is_file() {
        use std::os::unix::fs::PermissionsExt;
        let executable = metadata.permissions().mode() & 0o111 != 0;
        hasher.update(if executable { b"x" } else { b"f" });
        hasher.update(relative.as_bytes());
        hasher.update([0]);
        hasher.update(metadata.len().to_le_bytes());
        copy_file(source, &target, hasher)?;
        if executable {
            fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
                .map_err(RegistryError::io("chmod", &target))?;
        }
        Ok(())
    } else {
        // A symlink could point outside the artifact, so the stored copy would not be self-contained.
        Err(RegistryError::Invalid {
            what: "artifact entry",
            value: source.display().to_string(),
            reason: "only regular files and directories can be registered (symbolic links and devices cannot)",
        })
    }
}

fn copy_file(source: &Path, target: &Path, hasher: &mut Sha256) -> Result<()> {
    let mut input = fs::File::open(source).map_err(RegistryError::io("open", source))?;
    let mut output = fs::File::create_new(target).map_err(RegistryError::io("create", target))?;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = input.read(&mut buffer).map_err(RegistryError::io("read", source))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        output.write_all(&buffer[..read]).map_err(RegistryError::io("write", target))?;
    }
    // Durable before the rename publishes it: a stored artifact must never be a torn file after a power loss.
    output.sync_all().map_err(RegistryError::io("flush", target))
}

fn sync_dir(path: &Path) -> Result<()> {
    fs::File::open(path).and_then(|dir| dir.sync_all()).map_err(RegistryError::io("flush", path))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    #[test]
    fn same_tree_same_digest_and_one_copy() {
        let project = tempfile::tempdir().expect("tempdir");
        let store = ContentStore::in_project(project.path());
        let a = project.path().join("a");
        write(&a.join("model.pkl"), "weights");
        write(&a.join("meta/info.json"), "{}");
        let b = project.path().join("b");
        write(&b.join("meta/info.json"), "{}");
        write(&b.join("model.pkl"), "weights");
        let first = store.put(&a).expect("put a");
        let second = store.put(&b).expect("put b");
        assert_eq!(first, second);
        assert_eq!(fs::read_to_string(first.path.join("meta/info.json")).expect("read"), "{}");
        assert_eq!(fs::read_dir(store.root().join("sha256")).expect("list").count(), 1);
        assert_eq!(fs::read_dir(store.root().join("tmp")).expect("list").count(), 0, "staging cleaned up");
    }

    #[test]
    fn content_names_and_layout_change_the_digest() {
        let project = tempfile::tempdir().expect("tempdir");
        let store = ContentStore::in_project(project.path());
        let base = project.path().join("base");
        write(&base.join("model.pkl"), "weights");
        let renamed = project.path().join("renamed");
        write(&renamed.join("model.bin"), "weights");
        let changed = project.path().join("changed");
        write(&changed.join("model.pkl"), "weightz");
        let moved = project.path().join("moved");
        write(&moved.join("model.pkl/x"), "");
        let digests: Vec<String> =
            [&base, &renamed, &changed, &moved].iter().map(|p| store.put(p).expect("put").digest).collect();
        let mut unique = digests.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 4, "{digests:?}");
    }

    #[test]
    fn a_single_file_is_stored_under_its_name() {
        let project = tempfile::tempdir().expect("tempdir");
        let store = ContentStore::in_project(project.path());
        let file = project.path().join("model.joblib");
        write(&file, "bytes");
        let stored = store.put(&file).expect("put");
        assert_eq!(stored.relative_path, format!("sha256/{}/model.joblib", stored.digest));
        assert_eq!(fs::read_to_string(&stored.path).expect("read"), "bytes");
        assert_eq!(stored.digest.len(), 64);
    }

    #[test]
    fn missing_artifacts_and_symlinks_are_refused() {
        let project = tempfile::tempdir().expect("tempdir");
        let store = ContentStore::in_project(project.path());
        let missing = store.put(&project.path().join("nope"));
        assert!(matches!(missing, Err(RegistryError::Io { .. })), "{missing:?}");
        let dir = project.path().join("d");
        write(&dir.join("f"), "x");
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).expect("symlink");
        assert!(matches!(store.put(&dir), Err(RegistryError::Invalid { what: "artifact entry", .. })));
        assert_eq!(fs::read_dir(store.root().join("tmp")).expect("list").count(), 0);
    }

    #[test]
    fn stale_staging_of_dead_processes_is_removed() {
        let project = tempfile::tempdir().expect("tempdir");
        let store = ContentStore::in_project(project.path());
        // PIDs are below 2^22 on Linux, so this one cannot be running.
        let dead = store.root().join("tmp").join("99999999-1-0");
        let live = store.root().join("tmp").join(format!("{}-1-0", std::process::id()));
        fs::create_dir_all(&dead).expect("mkdir");
        fs::create_dir_all(&live).expect("mkdir");
        store.remove_stale_staging().expect("sweep");
        assert!(!dead.exists());
        assert!(live.exists());
    }
}
