//! An example as the cluster needs it: dataset URIs that KFP cannot download (a local path, `hf://`, `pvc://`) rewritten under `s3://staged/`, as staging them into object storage would, so `kfl build` does not refuse it (W0402).

use std::path::{Path, PathBuf};

/// `source` when nothing needs staging; otherwise a rewritten copy of it in `dir` (for files without imports).
pub fn staged(source: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(source).expect("read source");
    let mut rewritten = text.clone();
    for scheme in ["hf://", "pvc://", "data/"] {
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
