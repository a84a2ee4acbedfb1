//! Writing a builtin's outputs: parents created, written to a temporary name and renamed into place.
//!
//! The rename means a reader (or a runtime that crashed mid-step) never sees half a file.

use std::path::Path;

use super::BuiltinError;

/// Writes `contents` to `path` atomically, creating missing parent folders.
pub fn write_file(path: &Path, contents: &str) -> Result<(), BuiltinError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| BuiltinError::new(format!("cannot create folder {}: {e}", parent.display())))?;
    }
    let Some(name) = path.file_name() else {
        return Err(BuiltinError::new(format!("output path {} names no file", path.display())));
    };
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".kfl-tmp");
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, contents).map_err(|e| BuiltinError::new(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        BuiltinError::new(format!("cannot move {} to {}: {e}", tmp.display(), path.display()))
    })
}

/// Writes a scalar output: the value as text and a newline, as the runtime reads scalar outputs back.
pub fn write_scalar(path: &Path, value: impl std::fmt::Display) -> Result<(), BuiltinError> {
    write_file(path, &format!("{value}\n"))
}

/// Writes a JSON report, pretty-printed with a trailing newline.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), BuiltinError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| BuiltinError::new(format!("cannot encode the report for {}: {e}", path.display())))?;
    write_file(path, &(text + "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_parents_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b/value");
        write_scalar(&path, 0.5).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "0.5\n");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a/b")).expect("list").flatten().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_path_without_a_file_name_is_an_error() {
        let err = write_file(Path::new("/"), "x").expect_err("root is not a file");
        assert!(err.0.contains("names no file"), "{err}");
    }
}
