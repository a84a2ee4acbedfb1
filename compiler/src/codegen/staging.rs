//! Datasets on the cluster: which local files `kfl build` stages, under `project.artifacts` or KFP's default bucket, the content-addressed URI each importer then names, and which URIs reach a task as text.
//!
//! The compiler does no I/O: the CLI hashes each file [`local_datasets`] lists, copies it to
//! `<output>/stage/<staged_path>` and passes the digests in `BuildOptions::staged`; the user uploads
//! `<output>/stage` to [`root`] as it is.

use std::collections::BTreeMap;

use super::BuildOptions;
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir;

/// URI schemes KFP's launcher downloads an input artifact from: `ParseBucketConfigForArtifactURI` in
/// `backend/src/v2/objectstore/config.go` and `LocalPathForURI` in `backend/src/v2/component/launcher_v2.go`
/// (kubeflow/pipelines 2.17.0); any other scheme fails the task before its command starts.
pub const DOWNLOADABLE_SCHEMES: &[&str] = &["s3://", "gs://", "minio://"];

/// Where local datasets are staged when the project has no `artifacts`: a folder of the `mlpipeline` bucket,
/// which KFP's own default pipeline root uses (`defaultPipelineRoot = "minio://mlpipeline/v2/artifacts"` in
/// `backend/src/v2/config/env.go`, kubeflow/pipelines 2.17.0), so the bucket exists and the launcher can read
/// it with the credentials KFP is installed with. Beside KFP's `v2/artifacts`, never inside it.
pub const DEFAULT_ROOT: &str = "minio://mlpipeline/kfl";

/// The folder of the build output holding the staged files, laid out as they go under `project.artifacts`.
pub const STAGE_DIR: &str = "stage";

/// The object store a project's pipeline artifacts live in, as the cluster's readers must be told it: the
/// endpoint and the Secret (with its two key names) holding the access keys. KFP's launcher reads it this way
/// for `minio://` URIs, and `kfl launch inferenceservice` copies it into the form KServe's storage
/// initializer reads for `s3://` (`kserve::s3_credentials`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectStore {
    /// `host:port` of the S3 API, without a scheme.
    pub endpoint: String,
    /// Whether the endpoint speaks TLS.
    pub use_https: bool,
    /// The region requests are signed for.
    pub region: String,
    /// The Secret in the run's namespace holding the access keys.
    pub secret_name: String,
    /// The Secret's key holding the access key id.
    pub access_key_key: String,
    /// The Secret's key holding the secret access key.
    pub secret_key_key: String,
}

/// KFP's default object store: `getDefaultMinioSessionInfo` in `backend/src/v2/config/env.go` (kubeflow/pipelines
/// 2.17.0: region `minio`, `disableSSL: true`, Secret `mlpipeline-minio-artifact` with keys `accesskey` and
/// `secretkey`), at the Service every KFP install has in front of its store, `minio-service` in `kubeflow` on
/// port 9000 (`manifests/kustomize/third-party/seaweedfs/base/seaweedfs/minio-service.yaml`, which keeps that
/// name in front of SeaweedFS; the profile controller copies the Secret into each profile namespace).
pub const KFP_OBJECT_STORE_ENDPOINT: &str = "minio-service.kubeflow:9000";
pub const KFP_OBJECT_STORE_SECRET: &str = "mlpipeline-minio-artifact";
pub const KFP_OBJECT_STORE_REGION: &str = "minio";
pub const KFP_ACCESS_KEY_KEY: &str = "accesskey";
pub const KFP_SECRET_KEY_KEY: &str = "secretkey";

/// The object store of `project`'s artifacts: the one place it is resolved. A project has no store settings of
/// its own yet, so this is KFP's default store (above).
pub fn object_store(_project: Option<&ir::Project>) -> ObjectStore {
    ObjectStore {
        endpoint: KFP_OBJECT_STORE_ENDPOINT.to_string(),
        use_https: false,
        region: KFP_OBJECT_STORE_REGION.to_string(),
        secret_name: KFP_OBJECT_STORE_SECRET.to_string(),
        access_key_key: KFP_ACCESS_KEY_KEY.to_string(),
        secret_key_key: KFP_SECRET_KEY_KEY.to_string(),
    }
}

/// Whether a dataset URI is a path on this machine (relative to the .kfl file's folder): it has no scheme.
pub fn is_local(uri: &str) -> bool {
    !uri.contains("://")
}

/// Whether KFP's launcher can download an artifact from `uri`, so a dataset there can be imported.
pub fn is_downloadable(uri: &str) -> bool {
    DOWNLOADABLE_SCHEMES.iter().any(|scheme| uri.starts_with(scheme))
}

/// Whether a dataset reaches a pipeline task as its URI text (a string parameter) rather than as an imported
/// artifact: a remote URI KFP's launcher cannot download (`hf://`, `pvc://`, `http(s)://`). `kfl run` passes
/// such URIs as text too (`runtime/src/run/prepare.rs`): the script reads the data itself.
pub fn is_passed_as_text(uri: &str) -> bool {
    !is_local(uri) && !is_downloadable(uri)
}

/// The datasets `kfl build` must stage: the local ones the program reads (an unused one is W0001, not data).
pub fn local_datasets(program: &ir::Program) -> Vec<&ir::Dataset> {
    let read: std::collections::HashSet<&str> = super::kfp::all_refs(program)
        .into_iter()
        .filter_map(|r| match r {
            ir::Ref::Dataset { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    program.datasets.iter().filter(|d| is_local(&d.uri) && read.contains(d.name.as_str())).collect()
}

/// The object-store prefix local datasets are staged under: `project.artifacts`, else [`DEFAULT_ROOT`].
pub fn root(program: &ir::Program) -> &str {
    artifacts(program).unwrap_or(DEFAULT_ROOT)
}

/// Where a local dataset with content digest `digest` (hex SHA-256) goes, relative to `project.artifacts`
/// and to the build's `stage/` folder: `datasets/<first 16 hex digits>/<its file name>`. The digest keeps
/// two versions of a file apart (a run never reads another build's data); the name keeps what the step sees.
pub fn staged_path(digest: &str, uri: &str) -> String {
    format!("datasets/{}/{}", &digest[..digest.len().min(16)], file_name(uri))
}

/// Where a local dataset whose file `kfl build` did not find goes, relative to [`root`]:
/// `datasets/by-name/<dataset>/<its file name>`. Nothing was hashed, so the place is the dataset's name; the
/// user uploads the file there before a run (`kfl build` says so).
pub fn unhashed_path(dataset: &str, uri: &str) -> String {
    format!("datasets/by-name/{dataset}/{}", file_name(uri))
}

fn file_name(uri: &str) -> &str {
    uri.trim_end_matches('/').rsplit('/').next().filter(|n| !n.is_empty() && *n != "..").unwrap_or("data")
}

fn artifacts(program: &ir::Program) -> Option<&str> {
    program.project.as_ref()?.artifacts.as_deref()
}

/// `path` (a [`staged_path`] or [`unhashed_path`]) as an object-store URI under [`root`].
pub fn under_root(program: &ir::Program, path: &str) -> String {
    format!("{}/{path}", root(program).trim_end_matches('/'))
}

/// Dataset name → the object-store URI its importer names, for every dataset staged with a digest in
/// `options.staged` or listed in `options.absent`.
pub(crate) fn staged_uris(program: &ir::Program, options: &BuildOptions) -> BTreeMap<String, String> {
    local_datasets(program)
        .into_iter()
        .filter_map(|dataset| {
            let path = match options.staged.get(&dataset.name) {
                Some(digest) => staged_path(digest, &dataset.uri),
                None if options.absent.contains(&dataset.name) => unhashed_path(&dataset.name, &dataset.uri),
                None => return None,
            };
            Some((dataset.name.clone(), under_root(program, &path)))
        })
        .collect()
}

/// The local datasets to stage that the caller neither hashed nor found absent: the pipeline would name data
/// nobody uploaded, so the cluster build refuses them (`kfl run` reads the files as written and needs none).
pub(crate) fn unstaged(program: &ir::Program, options: &BuildOptions) -> Vec<Diagnostic> {
    local_datasets(program)
        .into_iter()
        .filter(|dataset| !options.staged.contains_key(&dataset.name) && !options.absent.contains(&dataset.name))
        .map(|dataset| {
            Diagnostic::error(
                Code::ClusterOnly,
                format!("local dataset `{}` was not staged under `{}`", dataset.name, root(program)),
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
        assert_eq!(unhashed_path("raw", "data/iris.csv"), "datasets/by-name/raw/iris.csv");
    }

    #[test]
    fn without_settings_the_object_store_is_kfps_default() {
        let store = object_store(None);
        assert_eq!(store.endpoint, "minio-service.kubeflow:9000");
        assert!(!store.use_https);
        assert_eq!(
            (store.secret_name.as_str(), store.access_key_key.as_str(), store.secret_key_key.as_str()),
            ("mlpipeline-minio-artifact", "accesskey", "secretkey")
        );
    }

    #[test]
    fn only_paths_without_a_scheme_are_local() {
        assert!(is_local("data/iris.csv") && is_local("/abs/file") && is_local("../x"));
        assert!(!is_local("s3://b/x") && !is_local("hf://datasets/a/b") && !is_local("pvc://v/x"));
    }

    #[test]
    fn remote_uris_the_launcher_cannot_download_pass_as_text() {
        for uri in ["hf://datasets/a/b", "pvc://v/x", "http://h/x.csv", "https://h/x.csv"] {
            assert!(is_passed_as_text(uri) && !is_downloadable(uri), "{uri}");
        }
        for uri in ["s3://b/x", "gs://b/x", "minio://b/x", "data/x.csv"] {
            assert!(!is_passed_as_text(uri), "{uri}");
        }
    }
}
