//! Staging for `kfl build`: hashes each local dataset the cluster needs and lists the copies that go into the build's `stage/` folder, laid out as under `project.artifacts` (or KFP's default bucket).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kfl_compiler::codegen::BuildOptions;
use kfl_compiler::codegen::staging::{self, ObjectStore, STAGE_DIR, StoreKind};
use kfl_compiler::diagnostics::{Code, Diagnostic, Label};
use kfl_compiler::ir;

/// What staging found: each dataset's digest (for `BuildOptions::staged`), the files to copy, as (path
/// relative to the build output, source file), and the datasets whose file is not there (for
/// `BuildOptions::absent`), as (name, the file looked for).
#[derive(Debug, Default)]
pub struct Staged {
    pub digests: BTreeMap<String, String>,
    pub copies: Vec<(String, PathBuf)>,
    pub absent: Vec<(String, PathBuf)>,
}

impl Staged {
    pub fn options(&self) -> BuildOptions {
        BuildOptions {
            staged: self.digests.clone(),
            absent: self.absent.iter().map(|(name, _)| name.clone()).collect(),
            ..BuildOptions::default()
        }
    }
}

/// Stages every dataset `staging::local_datasets` lists; paths are relative to `base` (the .kfl file's
/// folder, as `kfl run` reads them). A file that does not exist is listed as absent (the data may be made
/// or fetched after the build: the pipeline names where it must go); one that cannot be read is an error on
/// its dataset.
pub fn stage(program: &ir::Program, base: &Path) -> Result<Staged, Vec<Diagnostic>> {
    let mut staged = Staged::default();
    let mut errors = Vec::new();
    for dataset in staging::local_datasets(program) {
        let source = base.join(&dataset.uri);
        if std::fs::symlink_metadata(&source).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            staged.absent.push((dataset.name.clone(), source));
            continue;
        }
        let found = kfl_runtime::run::cache::hash_path(&source).and_then(|digest| {
            let target = format!("{STAGE_DIR}/{}", staging::staged_path(&digest, &dataset.uri));
            copies(&source, &target, &mut staged.copies)?;
            Ok(digest)
        });
        match found {
            Ok(digest) => {
                staged.digests.insert(dataset.name.clone(), digest);
            }
            Err(error) => errors.push(
                Diagnostic::error(
                    Code::ImportFailed,
                    format!("cannot stage dataset `{}`: {}: {error}", dataset.name, source.display()),
                    Label::new(dataset.span, "read from here"),
                )
                .with_help(
                    "create the file, or fix the path (relative to the .kfl file's folder), or give an \
                     object-store URI",
                ),
            ),
        }
    }
    if errors.is_empty() { Ok(staged) } else { Err(errors) }
}

/// The copies of `source` (a file, or a folder's files in name order) under `target`.
fn copies(source: &Path, target: &str, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    if !std::fs::metadata(source)?.is_dir() {
        out.push((target.to_string(), source.to_path_buf()));
        return Ok(());
    }
    let mut names: Vec<_> = std::fs::read_dir(source)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        copies(&source.join(&name), &format!("{target}/{}", name.to_string_lossy()), out)?;
    }
    Ok(())
}

/// The one command that uploads the build's `stage/` folder to the project's object store, for its kind, for
/// people who do not let `kfl apply` upload it.
pub fn upload_command(stage_dir: &Path, store: &ObjectStore) -> String {
    let stage = stage_dir.display();
    let root = store.uri("");
    match store.kind {
        // `mc` addresses a server through an alias; `kfl` is the one DEPLOY.md has the user set.
        StoreKind::Minio => format!("mc mirror --overwrite {stage} kfl/{}", root.trim_start_matches("minio://")),
        StoreKind::Gcs => format!("gcloud storage rsync --recursive {stage} {root}"),
        // The AWS CLI finds AWS's own endpoints by itself; any other S3-compatible store is named.
        StoreKind::S3 if store.endpoint.ends_with(".amazonaws.com") => format!("aws s3 sync {stage} {root}"),
        StoreKind::S3 => format!("aws s3 sync {stage} {root} --endpoint-url {}", store.url()),
    }
}
