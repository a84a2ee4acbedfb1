//! Writing a task's outputs to the files KFP gives (`{{$.outputs.parameters[…].output_file}}`).

use std::path::Path;

use super::{LaunchError, Result};

/// Writes `value` to `path`, creating its directory (KFP creates it, a local test may not).
pub fn write(path: &str, value: &str) -> Result<()> {
    let path = Path::new(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|err| LaunchError::failed(format!("cannot create {}: {err}", parent.display())))?;
    }
    std::fs::write(path, value).map_err(|err| LaunchError::failed(format!("cannot write {}: {err}", path.display())))
}
