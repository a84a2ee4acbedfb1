//! An example as the cluster needs it: dataset URIs that KFP cannot download (`hf://`, `pvc://`, and a local path when the project has no `artifacts` for `kfl build` to stage it under) rewritten under `s3://staged/`, as copying them into object storage would, so `kfl build` does not refuse it (W0402).

use std::path::{Path, PathBuf};

/// `source` when nothing needs staging; otherwise a rewritten copy of it in `dir` (for files without imports).
pub fn staged(source: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(source).expect("read source");
    let mut rewritten = text.clone();
    let local = if text.contains("artifacts =") { None } else { Some("data/") };
    for scheme in ["hf://", "pvc://"].into_iter().chain(local) {
        rewritten = rewritten.replace(&format!("uri = \"{scheme}"), &format!("uri = \"s3://staged/{scheme}"));
    }
    if rewritten == text {
        return source.to_path_buf();
    }
    assert!(!text.contains("import "), "{}: a staged copy cannot resolve imports", source.display());
    let copy = dir.join(source.file_name().expect("a file name"));
    std::fs::write(&copy, rewritten).expect("write staged copy");
    copy
}
