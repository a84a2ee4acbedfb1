//! The stage cache: content hashes of artifacts, and `.kfl/cache/<key>/` entries holding a stage's outputs, so an
//! unchanged stage reuses them across runs.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::record::{Objective, OutputRecord, TrialRecord};

/// Bumped whenever what a key covers changes, so old entries are never misread.
const KEY_VERSION: &str = "kfl-cache-1";

/// SHA-256 of a file, or of a folder's tree (names, kinds and contents, in name order). Symlinks are followed.
pub fn hash_path(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    hash_into(path, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

fn hash_into(path: &Path, hasher: &mut Sha256) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(path)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
        names.sort();
        hasher.update(b"dir\0");
        for name in names {
            hasher.update(name.as_encoded_bytes());
            hasher.update(b"\0");
            hash_into(&path.join(&name), hasher)?;
        }
        hasher.update(b"end\0");
    } else {
        hasher.update(format!("file {}\0", meta.len()).as_bytes());
        let mut file = std::fs::File::open(path)?;
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    Ok(())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes of artifacts already computed in this run, by path.
#[derive(Default, Debug)]
pub struct Hashes {
    known: HashMap<PathBuf, String>,
}

impl Hashes {
    pub fn get(&mut self, path: &Path) -> std::io::Result<String> {
        if let Some(hash) = self.known.get(path) {
            return Ok(hash.clone());
        }
        let hash = hash_path(path)?;
        self.known.insert(path.to_path_buf(), hash.clone());
        Ok(hash)
    }

    pub fn remember(&mut self, path: &Path, hash: &str) {
        self.known.insert(path.to_path_buf(), hash.to_string());
    }
}

/// The cache key of a stage: everything that determines its outputs, with artifacts by content and outputs by
/// name (their paths change from run to run).
pub fn key(fields: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(KEY_VERSION.as_bytes());
    hasher.update(fields.to_string().as_bytes());
    hex(&hasher.finalize())
}

/// What a cache entry remembers beside the output files.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub stage: String,
    pub outputs: IndexMap<String, OutputRecord>,
    pub metrics: IndexMap<String, f64>,
    pub curves: IndexMap<String, Vec<f64>>,
    /// A tune cached as a whole: its trials, its closing message and what it optimised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trials: Vec<TrialRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<Objective>,
}

pub fn cache_dir(project_dir: &Path) -> PathBuf {
    project_dir.join(".kfl").join("cache")
}

/// Looks an entry up; an entry whose files are gone counts as a miss.
pub fn lookup(project_dir: &Path, key: &str) -> Option<(Entry, PathBuf)> {
    let dir = cache_dir(project_dir).join(key);
    let entry: Entry = crate::deep_json::from_str(&std::fs::read_to_string(dir.join("entry.json")).ok()?).ok()?;
    let files = dir.join("outputs");
    let complete = entry.outputs.iter().all(|(name, output)| match output {
        OutputRecord::Artifact { .. } => files.join(name).exists(),
        OutputRecord::Scalar { .. } => true,
    });
    complete.then_some((entry, files))
}

/// Stores a finished stage's outputs under its key: files are hard-linked (copied across file systems) into a
/// temporary folder renamed into place, so a crash never leaves half an entry.
pub fn store(project_dir: &Path, key: &str, outputs_dir: &Path, entry: &Entry) -> std::io::Result<()> {
    let root = cache_dir(project_dir);
    let dir = root.join(key);
    if dir.join("entry.json").exists() {
        return Ok(());
    }
    std::fs::create_dir_all(&root)?;
    let tmp = root.join(format!(".tmp-{key}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let files = tmp.join("outputs");
    std::fs::create_dir_all(&files)?;
    for (name, output) in &entry.outputs {
        if let OutputRecord::Artifact { .. } = output {
            link_tree(&outputs_dir.join(name), &files.join(name))?;
        }
    }
    std::fs::write(tmp.join("entry.json"), serde_json::to_vec_pretty(entry).map_err(std::io::Error::other)?)?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(()),
        // Another run stored the same key first; its entry is as good as ours.
        Err(_) if dir.exists() => std::fs::remove_dir_all(&tmp),
        Err(e) => Err(e),
    }
}

/// Copies a file or a folder by hard links where the file system allows, else by copying.
pub fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(from)?;
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            link_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_hashes_see_names_and_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        std::fs::create_dir_all(a.join("sub")).expect("mkdir");
        std::fs::write(a.join("sub/x"), "1").expect("write");
        let first = hash_path(&a).expect("hash");
        std::fs::write(a.join("sub/x"), "2").expect("write");
        let second = hash_path(&a).expect("hash");
        assert_ne!(first, second);
        std::fs::rename(a.join("sub/x"), a.join("sub/y")).expect("rename");
        assert_ne!(second, hash_path(&a).expect("hash"));
        assert_eq!(hash_path(&a).expect("hash"), hash_path(&a).expect("hash"));
    }

    #[test]
    fn stored_entries_come_back_and_missing_files_miss() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outputs = dir.path().join("out");
        std::fs::create_dir_all(&outputs).expect("mkdir");
        std::fs::write(outputs.join("model"), "weights").expect("write");
        let mut entry_outputs = IndexMap::new();
        entry_outputs.insert("model".to_string(), OutputRecord::Artifact { path: "x".into(), sha256: "h".into() });
        let entry = Entry {
            stage: "s".into(),
            outputs: entry_outputs,
            metrics: IndexMap::new(),
            curves: IndexMap::new(),
            trials: Vec::new(),
            message: None,
            objective: None,
        };
        store(dir.path(), "k1", &outputs, &entry).expect("store");
        let (found, files) = lookup(dir.path(), "k1").expect("hit");
        assert_eq!(found.stage, "s");
        assert_eq!(std::fs::read_to_string(files.join("model")).expect("read"), "weights");
        std::fs::remove_file(files.join("model")).expect("rm");
        assert!(lookup(dir.path(), "k1").is_none());
        assert!(lookup(dir.path(), "k2").is_none());
    }
}
