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
const KFP_MINIO_KEYS: (&str, &str) = (KFP_ACCESS_KEY_KEY, KFP_SECRET_KEY_KEY);

/// The environment variables of an AWS-style key pair, which the AWS SDKs, `aws` and KServe's S3 credentials
/// (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`) use.
pub const AWS_KEYS: (&str, &str) = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY");

/// The key pairs `project.artifacts_secret` may hold: (access key id, secret access key).
pub const KEY_PAIRS: &[(&str, &str)] = &[AWS_KEYS, KFP_MINIO_KEYS];

/// The region AWS S3's endpoint for `s3://` is signed for when the project names no endpoint; another region is
/// named by its endpoint (`https://s3.REGION.amazonaws.com`), which [`object_store`] reads the region from.
pub const AWS_S3_DEFAULT_REGION: &str = "us-east-1";

/// Google Cloud Storage's XML API, which takes S3 requests signed with an HMAC key pair (Cloud Storage docs,
/// "Migrating from Amazon S3": endpoint `storage.googleapis.com` over https, region `auto`).
pub const GCS_ENDPOINT: &str = "storage.googleapis.com";
pub const GCS_REGION: &str = "auto";

/// The folder of the build output holding the staged files, laid out as they go under `project.artifacts`.
pub const STAGE_DIR: &str = "stage";

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

/// Which service an object-store prefix names, by its scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Minio,
    S3,
    Gcs,
}

/// The object store a project's pipeline artifacts and staged datasets live in, resolved once from
/// `artifacts`, `artifacts_endpoint` and `artifacts_secret` with KFP's defaults: what the cluster's readers must
/// be told (KFP's launcher reads it this way for `minio://` URIs, and `kfl launch inferenceservice` copies it
/// into the form KServe's storage initializer reads for `s3://`, `kserve::s3_credentials`), and where `kfl apply`
/// uploads staged datasets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectStore {
    /// `host:port` of the S3 API, without a scheme.
    pub endpoint: String,
    /// Whether the endpoint speaks TLS.
    pub use_https: bool,
    /// The region requests are signed for (AWS Signature Version 4's credential scope).
    pub region: String,
    /// The Secret in the run's namespace holding the access keys.
    pub secret_name: String,
    /// The Secret's key holding the access key id.
    pub access_key_key: String,
    /// The Secret's key holding the secret access key.
    pub secret_key_key: String,
    /// Whether `secret_name` holds this store's keys: false for an `s3://` or `gs://` store without
    /// `artifacts_secret`, whose keys come from the environment only (`secret_name` is then KFP's, which holds
    /// its MinIO's).
    pub secret_holds_keys: bool,
    /// The environment variables `kfl apply` reads the key pair from before the Secret (access key id, secret
    /// key): a declared secret's own keys, as for every kfl secret run locally; else `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`.
    pub env: (String, String),
    pub kind: StoreKind,
    pub bucket: String,
    /// The folder under the bucket, without a slash at either end (empty for the bucket's root).
    pub prefix: String,
}

impl ObjectStore {
    /// The endpoint as a URL: `http(s)://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.use_https { "https" } else { "http" }, self.endpoint)
    }

    /// The object key of `path` (relative to the store's root, as [`staged_path`] gives it).
    pub fn key(&self, path: &str) -> String {
        match (self.prefix.is_empty(), path.is_empty()) {
            (true, _) => path.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{path}", self.prefix),
        }
    }

    /// `path` under the store's root as a URI (`minio://bucket/prefix/path`); the root itself for `""`.
    pub fn uri(&self, path: &str) -> String {
        let scheme = match self.kind {
            StoreKind::Minio => "minio",
            StoreKind::S3 => "s3",
            StoreKind::Gcs => "gs",
        };
        let key = self.key(path);
        if key.is_empty() { format!("{scheme}://{}", self.bucket) } else { format!("{scheme}://{}/{key}", self.bucket) }
    }

    /// The same store reached through another endpoint URL (`kfl apply --artifacts-endpoint`, a port-forward;
    /// checked by `typeck::uris::endpoint_problem`); an S3 store signs for the region an AWS endpoint names.
    pub fn with_endpoint(&self, url: &str) -> ObjectStore {
        let (use_https, endpoint) = split_url(url);
        let region = match self.kind {
            StoreKind::S3 => aws_region(&endpoint).map_or_else(|| self.region.clone(), str::to_string),
            _ => self.region.clone(),
        };
        ObjectStore { endpoint, use_https, region, ..self.clone() }
    }
}

/// The key pair among `keys` (a secret's `keys`), as (access key id, secret key), if it holds one of
/// [`KEY_PAIRS`].
pub fn key_pair(keys: &[String]) -> Option<(&'static str, &'static str)> {
    let has = |key: &str| keys.iter().any(|k| k == key);
    KEY_PAIRS.iter().copied().find(|(access, secret)| has(access) && has(secret))
}

/// The object store of `project`'s artifacts: the one place its settings and KFP's defaults meet.
pub fn object_store(project: Option<&ir::Project>) -> ObjectStore {
    let root = project.and_then(|p| p.artifacts.as_deref()).unwrap_or(DEFAULT_ROOT);
    let (scheme, rest) = root.split_once("://").unwrap_or(("minio", root));
    let kind = match scheme {
        "s3" => StoreKind::S3,
        "gs" => StoreKind::Gcs,
        _ => StoreKind::Minio,
    };
    let rest = rest.trim_matches('/');
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let written = project.and_then(|p| p.artifacts_endpoint.as_deref()).map(split_url);
    let ((use_https, endpoint), region) = match kind {
        StoreKind::Minio => {
            (written.unwrap_or((false, KFP_OBJECT_STORE_ENDPOINT.into())), KFP_OBJECT_STORE_REGION.to_string())
        }
        StoreKind::Gcs => (written.unwrap_or((true, GCS_ENDPOINT.into())), GCS_REGION.to_string()),
        StoreKind::S3 => {
            let (use_https, endpoint) = written.unwrap_or_else(|| (true, aws_endpoint(AWS_S3_DEFAULT_REGION)));
            let region = aws_region(&endpoint).unwrap_or(AWS_S3_DEFAULT_REGION).to_string();
            ((use_https, endpoint), region)
        }
    };
    let declared = project.and_then(|p| p.artifacts_secret.as_ref());
    let (secret_name, (access, secret), secret_holds_keys, env) = match declared {
        Some(declared) => (
            declared.k8s_name.clone(),
            (declared.access_key_key.clone(), declared.secret_key_key.clone()),
            true,
            (declared.access_key_key.clone(), declared.secret_key_key.clone()),
        ),
        None => (
            KFP_OBJECT_STORE_SECRET.to_string(),
            (KFP_ACCESS_KEY_KEY.to_string(), KFP_SECRET_KEY_KEY.to_string()),
            kind == StoreKind::Minio,
            (AWS_KEYS.0.to_string(), AWS_KEYS.1.to_string()),
        ),
    };
    ObjectStore {
        endpoint,
        use_https,
        region,
        secret_name,
        access_key_key: access,
        secret_key_key: secret,
        secret_holds_keys,
        env,
        kind,
        bucket: bucket.to_string(),
        prefix: prefix.trim_end_matches('/').to_string(),
    }
}

/// `http(s)://HOST[:PORT][/]` → (TLS, `HOST[:PORT]`).
fn split_url(url: &str) -> (bool, String) {
    let (use_https, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme != "http", rest),
        None => (true, url),
    };
    (use_https, rest.trim_end_matches('/').to_string())
}

/// AWS S3's regional endpoint (AWS docs, "Amazon S3 endpoints and quotas": `s3.REGION.amazonaws.com`).
fn aws_endpoint(region: &str) -> String {
    format!("s3.{region}.amazonaws.com")
}

/// The region of an AWS S3 endpoint (`s3.REGION.amazonaws.com`, `s3-REGION.amazonaws.com`), if it is one.
fn aws_region(endpoint: &str) -> Option<&str> {
    let host = endpoint.split_once("://").map_or(endpoint, |(_, h)| h);
    let host = host.split([':', '/']).next()?;
    let name = host.strip_suffix(".amazonaws.com")?;
    let region = name.strip_prefix("s3.").or_else(|| name.strip_prefix("s3-"))?;
    (!region.is_empty() && !region.contains('.')).then_some(region)
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

    /// The object store of a project block (with `extra` declarations), checked clean.
    fn store(project: &str, extra: &str) -> ObjectStore {
        use crate::source::{MemoryLoader, Origin, SourceFile, Sources};
        let text = format!("project p {{\n  image = \"img:1\"\n{project}\n}}\n{extra}\nstep s {{ run = [\"s\"] }}\n");
        let mut sources = Sources::new();
        let main = sources.add(SourceFile::new("main.kfl", text.as_str(), Origin::User));
        let loader = MemoryLoader { files: vec![("main.kfl".into(), text.clone())] };
        let checked = crate::check(&mut sources, main, &loader);
        let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| &d.message).collect();
        assert!(errors.is_empty(), "{text}: {errors:?}");
        object_store(checked.program().expect("a program").project.as_ref())
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
    fn a_project_without_settings_uses_kfp_minio_and_its_secret() {
        let found = store("", "");
        assert_eq!(found, object_store(None));
        assert_eq!((found.kind, found.bucket.as_str(), found.prefix.as_str()), (StoreKind::Minio, "mlpipeline", "kfl"));
        assert_eq!((found.url(), found.region.as_str()), ("http://minio-service.kubeflow:9000".into(), "minio"));
        assert!(found.secret_holds_keys);
        assert_eq!((found.env.0.as_str(), found.env.1.as_str()), AWS_KEYS);
        assert_eq!(found.uri("datasets/ab/x.csv"), "minio://mlpipeline/kfl/datasets/ab/x.csv");
    }

    #[test]
    fn s3_and_gs_stores_take_their_services_defaults_and_the_environment() {
        let s3 = store("  artifacts = \"s3://acme/ml/runs/\"", "");
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str()), ("acme", "ml/runs"));
        assert_eq!((s3.url(), s3.region.as_str()), ("https://s3.us-east-1.amazonaws.com".into(), "us-east-1"));
        assert!(!s3.secret_holds_keys, "an s3:// store without artifacts_secret reads the environment only");
        let regional =
            store("  artifacts = \"s3://acme\"\n  artifacts_endpoint = \"https://s3.eu-west-1.amazonaws.com/\"", "");
        assert_eq!(
            (regional.url(), regional.region.as_str()),
            ("https://s3.eu-west-1.amazonaws.com".into(), "eu-west-1")
        );
        assert_eq!((regional.prefix.as_str(), regional.key("a/b")), ("", "a/b".to_string()));
        let forwarded = regional.with_endpoint("http://127.0.0.1:9000");
        assert_eq!((forwarded.url(), forwarded.region.as_str()), ("http://127.0.0.1:9000".into(), "eu-west-1"));
        let gs = store("  artifacts = \"gs://team\"", "");
        assert_eq!(
            (gs.kind, gs.url(), gs.region.as_str()),
            (StoreKind::Gcs, "https://storage.googleapis.com".into(), GCS_REGION)
        );
    }

    #[test]
    fn a_declared_secret_gives_its_kubernetes_name_and_key_pair() {
        let secret = "secret store {\n  k8s = \"team-minio\"\n  keys = [\"AWS_SECRET_ACCESS_KEY\", \"AWS_ACCESS_KEY_ID\", \"x\"]\n}\n";
        let found = store("  artifacts_secret = store\n  artifacts_endpoint = \"https://minio.example.com\"", secret);
        assert_eq!((found.endpoint.as_str(), found.use_https), ("minio.example.com", true));
        assert_eq!(found.secret_name, "team-minio");
        assert_eq!((found.access_key_key.as_str(), found.secret_key_key.as_str()), AWS_KEYS);
        assert_eq!((found.env.0.as_str(), found.env.1.as_str()), AWS_KEYS, "a secret's keys are its variables");
        assert!(found.secret_holds_keys);
    }

    #[test]
    fn aws_endpoints_name_their_region_and_others_none() {
        assert_eq!(aws_region("https://s3.eu-west-1.amazonaws.com"), Some("eu-west-1"));
        assert_eq!(aws_region("https://s3-us-west-2.amazonaws.com:443"), Some("us-west-2"));
        assert_eq!(aws_region(&aws_endpoint(AWS_S3_DEFAULT_REGION)), Some(AWS_S3_DEFAULT_REGION));
        assert_eq!(aws_region("s3.ap-south-1.amazonaws.com"), Some("ap-south-1"));
        assert_eq!(aws_region("https://s3.amazonaws.com"), None);
        assert_eq!(aws_region("http://minio-service.kubeflow:9000"), None);
        assert_eq!(aws_region("https://bucket.s3.eu-west-1.amazonaws.com.evil.example"), None);
    }

    #[test]
    fn a_secret_holds_a_key_pair_only_with_both_keys() {
        let keys = |list: &[&str]| list.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        assert_eq!(key_pair(&keys(&["AWS_SECRET_ACCESS_KEY", "X", "AWS_ACCESS_KEY_ID"])), Some(AWS_KEYS));
        assert_eq!(key_pair(&keys(&["accesskey", "secretkey"])), Some(KFP_MINIO_KEYS));
        assert_eq!(KFP_MINIO_KEYS, ("accesskey", "secretkey"));
        assert_eq!(key_pair(&keys(&["AWS_ACCESS_KEY_ID", "secretkey"])), None);
        assert_eq!(key_pair(&[]), None);
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
