//! Local datasets on the cluster: which files `kfl build` stages under `project.artifacts`, and the content-addressed URI each importer then names.
//!
//! The compiler does no I/O: the CLI hashes each file [`local_datasets`] lists, copies it to
//! `<output>/stage/<staged_path>` and passes the digests in `BuildOptions::staged`; the user uploads
//! `<output>/stage` to `project.artifacts` as it is.

use std::collections::BTreeMap;

use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir;

/// URI schemes KFP's launcher downloads an input artifact from: `ParseBucketConfigForArtifactURI` in
/// `backend/src/v2/objectstore/config.go` and `LocalPathForURI` in `backend/src/v2/component/launcher_v2.go`
/// (kubeflow/pipelines 2.17.0); any other scheme fails the task before its command starts.
pub const DOWNLOADABLE_SCHEMES: &[&str] = &["s3://", "gs://", "minio://"];

/// The folder of the build output holding the staged files, laid out as they go under `project.artifacts`.
pub const STAGE_DIR: &str = "stage";

/// Whether a dataset URI is a path on this machine (relative to the .kfl file's folder): it has no scheme.
pub fn is_local(uri: &str) -> bool {
    !uri.contains("://")
}

/// The datasets `kfl build` must stage: the local ones, when the project has `artifacts` to stage them into.
pub fn local_datasets(program: &ir::Program) -> Vec<&ir::Dataset> {
    if artifacts(program).is_none() {
        return Vec::new();
    }
    program.datasets.iter().filter(|d| is_local(&d.uri)).collect()
}

/// Where a local dataset with content digest `digest` (hex SHA-256) goes, relative to `project.artifacts`
/// and to the build's `stage/` folder: `datasets/<first 16 hex digits>/<its file name>`. The digest keeps
/// two versions of a file apart (a run never reads another build's data); the name keeps what the step sees.
pub fn staged_path(digest: &str, uri: &str) -> String {
    let name = uri.trim_end_matches('/').rsplit('/').next().filter(|n| !n.is_empty() && *n != "..").unwrap_or("data");
    format!("datasets/{}/{name}", &digest[..digest.len().min(16)])
}

fn artifacts(program: &ir::Program) -> Option<&str> {
    program.project.as_ref()?.artifacts.as_deref()
}

/// Dataset name → the object-store URI its importer names, for every dataset staged with a digest in
/// `digests`.
pub(crate) fn staged_uris(program: &ir::Program, digests: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let Some(root) = artifacts(program) else { return BTreeMap::new() };
    local_datasets(program)
        .into_iter()
        .filter_map(|dataset| {
            let digest = digests.get(&dataset.name)?;
            Some((
                dataset.name.clone(),
                format!("{}/{}", root.trim_end_matches('/'), staged_path(digest, &dataset.uri)),
            ))
        })
        .collect()
}

/// The local datasets to stage whose digest the caller did not supply: the pipeline would name data nobody
/// uploaded, so the cluster build refuses them (`kfl run` reads the files as written and needs none).
pub(crate) fn unstaged(program: &ir::Program, digests: &BTreeMap<String, String>) -> Vec<Diagnostic> {
    local_datasets(program)
        .into_iter()
        .filter(|dataset| !digests.contains_key(&dataset.name))
        .map(|dataset| {
            Diagnostic::error(
                Code::ClusterOnly,
                format!("local dataset `{}` was not staged under `project.artifacts`", dataset.name),
                Label::new(dataset.span, "not staged"),
            )
            .with_help("compile with `kfl build`, which stages local dataset files")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_paths_are_content_addressed_and_keep_the_file_name() {
        let digest = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
        assert_eq!(staged_path(digest, "data/iris.csv"), "datasets/ffeeddccbbaa9988/iris.csv");
        assert_eq!(staged_path(digest, "images/"), "datasets/ffeeddccbbaa9988/images");
        assert_eq!(staged_path(digest, "../up/.."), "datasets/ffeeddccbbaa9988/data");
        assert_ne!(staged_path(digest, "a.csv"), staged_path(&digest.replace('f', "0"), "a.csv"));
    }

    #[test]
    fn only_paths_without_a_scheme_are_local() {
        assert!(is_local("data/iris.csv") && is_local("/abs/file") && is_local("../x"));
        assert!(!is_local("s3://b/x") && !is_local("hf://datasets/a/b") && !is_local("pvc://v/x"));
    }
}
