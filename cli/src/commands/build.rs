//! `kfl build`: compile a file to Kubernetes manifests, a KFP pipeline and the execution plan, written atomically.

use std::path::{Path, PathBuf};

use kfl_compiler::codegen::{self, BuildOptions};
use kfl_compiler::diagnostics::render;
use kfl_compiler::ir::bind::BindOptions;

use crate::Status;

/// Compile a .kfl file to manifests/, kustomization.yaml, pipeline.yaml and plan.json.
///
/// Example: `kfl build examples/iris/iris.kfl -o build/iris -p epochs=50`
#[derive(clap::Args, Debug)]
pub struct Args {
    file: PathBuf,
    /// Output folder; replaced as a whole only when the build succeeds.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Override a param: `-p NAME=VALUE` (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
}

pub fn parse_param(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, found `{text}`"))?;
    Ok((name.trim().to_string(), value.to_string()))
}

pub fn run(args: Args) -> Status {
    let bind = BindOptions { params: args.params, require_all: true };
    let (sources, checked) = match super::check_one_for(&args.file, &bind, true) {
        Ok(checked) => checked,
        Err(status) => return status,
    };
    let Some(program) = checked.program() else { return Status::UserErrors };
    let output = match codegen::build(program, &BuildOptions::default()) {
        Ok(output) => output,
        Err(diagnostics) => {
            eprintln!("{}", render::render_all(&sources, &diagnostics, super::text_style()));
            return Status::UserErrors;
        }
    };
    let status = match write_atomically(&args.output, &output.files) {
        Ok(()) => {
            eprintln!("wrote {} files to {}", output.files.len(), args.output.display());
            Status::Ok
        }
        Err(message) => {
            eprintln!("error: {message}; {} was left as it was", args.output.display());
            Status::Usage
        }
    };
    // The process ends here: freeing the syntax trees, the program and the outputs node by node would only
    // cost time (as in `kfl check`; about 5 % of a 1,000-stage build).
    std::mem::forget((output, checked, sources));
    status
}

/// Writes every file into a fresh temporary folder beside `dir`, then swaps
/// it into place, so a failed build never leaves a half-written `dir`.
fn write_atomically(dir: &Path, files: &[(String, String)]) -> Result<(), String> {
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("build");
    let staging = parent.join(format!(".{name}.kfl-build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| {
        write_files(&staging, files)?;
        // Replace the old output: move it aside, move the new one in, then delete the old.
        let previous = parent.join(format!(".{name}.kfl-previous-{}", std::process::id()));
        let had_previous = dir.exists();
        if had_previous {
            std::fs::rename(dir, &previous).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        if let Err(e) = std::fs::rename(&staging, dir) {
            if had_previous {
                let _ = std::fs::rename(&previous, dir);
            }
            return Err(format!("{}: {e}", dir.display()));
        }
        if had_previous {
            let _ = std::fs::remove_dir_all(&previous);
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// Writes `files` under `root`, creating each folder once (not once per file: a build with a few hundred
/// manifests made as many failing `mkdir` calls).
fn write_files(root: &Path, files: &[(String, String)]) -> Result<(), String> {
    let folders: std::collections::BTreeSet<PathBuf> =
        files.iter().filter_map(|(relative, _)| root.join(relative).parent().map(Path::to_path_buf)).collect();
    for folder in &folders {
        std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    }
    for (relative, contents) in files {
        let path = root.join(relative);
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
