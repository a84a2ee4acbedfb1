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

/// The endpoint of KFP's own MinIO, which a `minio://` store uses when the project names none:
/// `DefaultMinioEndpointInMultiUserMode = "minio-service.kubeflow:9000"` in `backend/src/v2/objectstore/config.go`,
/// reached without TLS (`"disableSSL": true` in `getDefaultMinioSessionInfo`, `backend/src/v2/config/env.go`;
/// kubeflow/pipelines 2.17.0).
pub const KFP_MINIO_ENDPOINT: &str = "http://minio-service.kubeflow:9000";

/// The region KFP's launcher signs its MinIO requests for (`"region": "minio"` in `getDefaultMinioSessionInfo`,
/// `backend/src/v2/config/env.go`, kubeflow/pipelines 2.17.0); MinIO without a configured region accepts any.
pub const KFP_MINIO_REGION: &str = "minio";

/// The Secret holding the key pair of KFP's MinIO, and its keys: `minioArtifactSecretName`,
/// `minioArtifactAccessKeyKey` and `minioArtifactSecretKeyKey` in `backend/src/v2/config/env.go`
/// (kubeflow/pipelines 2.17.0), the Secret KFP's manifests create in every profile namespace.
pub const KFP_MINIO_SECRET: &str = "mlpipeline-minio-artifact";
pub const KFP_MINIO_KEYS: (&str, &str) = ("accesskey", "secretkey");

/// The environment variables of an AWS-style key pair, which the AWS SDKs, `aws` and KServe's S3 credentials
/// (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`) use.
pub const AWS_KEYS: (&str, &str) = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY");

/// The key pairs `project.artifacts_secret` may hold: (access key id, secret access key).
pub const KEY_PAIRS: &[(&str, &str)] = &[AWS_KEYS, KFP_MINIO_KEYS];

/// AWS S3's endpoint for `s3://` when the project names none, and the region it is signed for; another region
/// is named by its endpoint (`https://s3.REGION.amazonaws.com`), which [`object_store`] reads the region from.
pub const AWS_S3_DEFAULT_REGION: &str = "us-east-1";

/// Google Cloud Storage's XML API, which takes S3 requests signed with an HMAC key pair (Cloud Storage docs,
/// "Migrating from Amazon S3": endpoint `https://storage.googleapis.com`, region `auto`).
pub const GCS_ENDPOINT: &str = "https://storage.googleapis.com";
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

/// The object store of a project, resolved once from `artifacts`, `artifacts_endpoint` and `artifacts_secret`
/// with KFP's defaults: where `kfl apply` uploads staged datasets, and what the cluster's readers of the
/// store need (endpoint, Secret, key names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectStore {
    pub kind: StoreKind,
    pub bucket: String,
    /// The folder under the bucket, without a slash at either end (empty for the bucket's root).
    pub prefix: String,
    /// The S3-compatible endpoint, `http(s)://HOST[:PORT]` without a trailing slash.
    pub endpoint: String,
    /// The region requests are signed for (AWS Signature Version 4's credential scope).
    pub region: String,
    pub credentials: StoreCredentials,
}

/// Where the store's key pair is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreCredentials {
    /// The Kubernetes Secret holding the pair, in the project's namespace; `None`: the environment only.
    pub secret_name: Option<String>,
    /// The Secret's keys of the access key id and of the secret access key.
    pub access_key_key: String,
    pub secret_key_key: String,
    /// The environment variables read before the Secret (of the access key id, of the secret key): a declared
    /// secret's own keys, as for every kfl secret run locally; else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    pub env: (String, String),
}

impl ObjectStore {
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

    /// The same store reached through another endpoint (`kfl apply --artifacts-endpoint`, a port-forward); an S3
    /// store signs for the region an AWS endpoint names.
    pub fn with_endpoint(&self, endpoint: &str) -> ObjectStore {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let region = match self.kind {
            StoreKind::S3 => aws_region(&endpoint).map_or_else(|| self.region.clone(), str::to_string),
            _ => self.region.clone(),
        };
        ObjectStore { endpoint, region, ..self.clone() }
    }
}

/// The key pair among `keys` (a secret's `keys`), as (access key id, secret key), if it holds one of
/// [`KEY_PAIRS`].
pub fn key_pair(keys: &[String]) -> Option<(&'static str, &'static str)> {
    let has = |key: &str| keys.iter().any(|k| k == key);
    KEY_PAIRS.iter().copied().find(|(access, secret)| has(access) && has(secret))
}

/// The project's object store: the one place its settings and KFP's defaults meet.
pub fn object_store(program: &ir::Program) -> ObjectStore {
    let project = program.project.as_ref();
    let root = root(program);
    let (scheme, rest) = root.split_once("://").unwrap_or(("minio", root));
    let kind = match scheme {
        "s3" => StoreKind::S3,
        "gs" => StoreKind::Gcs,
        _ => StoreKind::Minio,
    };
    let rest = rest.trim_matches('/');
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let written = project.and_then(|p| p.artifacts_endpoint.as_deref()).map(|e| e.trim_end_matches('/').to_string());
    let (endpoint, region) = match kind {
        StoreKind::Minio => (written.unwrap_or_else(|| KFP_MINIO_ENDPOINT.into()), KFP_MINIO_REGION.to_string()),
        StoreKind::Gcs => (written.unwrap_or_else(|| GCS_ENDPOINT.into()), GCS_REGION.to_string()),
        StoreKind::S3 => {
            let endpoint = written.unwrap_or_else(|| aws_endpoint(AWS_S3_DEFAULT_REGION));
            let region = aws_region(&endpoint).unwrap_or(AWS_S3_DEFAULT_REGION).to_string();
            (endpoint, region)
        }
    };
    let declared = project
        .and_then(|p| p.artifacts_secret.as_ref())
        .and_then(|name| program.secrets.iter().find(|s| &s.name == name));
    let credentials = match declared {
        Some(secret) => {
            let (access, secret_key) = key_pair(&secret.keys).unwrap_or(AWS_KEYS);
            StoreCredentials {
                secret_name: Some(secret.k8s_name.clone()),
                access_key_key: access.into(),
                secret_key_key: secret_key.into(),
                env: (access.into(), secret_key.into()),
            }
        }
        None => {
            let (access, secret_key) = if kind == StoreKind::Minio { KFP_MINIO_KEYS } else { AWS_KEYS };
            StoreCredentials {
                secret_name: (kind == StoreKind::Minio).then(|| KFP_MINIO_SECRET.to_string()),
                access_key_key: access.into(),
                secret_key_key: secret_key.into(),
                env: (AWS_KEYS.0.into(), AWS_KEYS.1.into()),
            }
        }
    };
    ObjectStore {
        kind,
        bucket: bucket.to_string(),
        prefix: prefix.trim_end_matches('/').to_string(),
        endpoint,
        region,
        credentials,
    }
}

/// AWS S3's regional endpoint (AWS docs, "Amazon S3 endpoints and quotas": `s3.REGION.amazonaws.com`).
fn aws_endpoint(region: &str) -> String {
    format!("https://s3.{region}.amazonaws.com")
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
        object_store(checked.program().expect("a program"))
    }

    #[test]
    fn a_project_without_settings_uses_kfp_minio_and_its_secret() {
        let found = store("", "");
        assert_eq!((found.kind, found.bucket.as_str(), found.prefix.as_str()), (StoreKind::Minio, "mlpipeline", "kfl"));
        assert_eq!((found.endpoint.as_str(), found.region.as_str()), (KFP_MINIO_ENDPOINT, KFP_MINIO_REGION));
        let creds = &found.credentials;
        assert_eq!(creds.secret_name.as_deref(), Some(KFP_MINIO_SECRET));
        assert_eq!((creds.access_key_key.as_str(), creds.secret_key_key.as_str()), KFP_MINIO_KEYS);
        assert_eq!((creds.env.0.as_str(), creds.env.1.as_str()), AWS_KEYS);
        assert_eq!(found.uri("datasets/ab/x.csv"), "minio://mlpipeline/kfl/datasets/ab/x.csv");
    }

    #[test]
    fn s3_and_gs_stores_take_their_services_defaults_and_the_environment() {
        let s3 = store("  artifacts = \"s3://acme/ml/runs/\"", "");
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str()), ("acme", "ml/runs"));
        assert_eq!((s3.endpoint.as_str(), s3.region.as_str()), ("https://s3.us-east-1.amazonaws.com", "us-east-1"));
        assert_eq!(s3.credentials.secret_name, None);
        let regional =
            store("  artifacts = \"s3://acme\"\n  artifacts_endpoint = \"https://s3.eu-west-1.amazonaws.com/\"", "");
        assert_eq!(
            (regional.endpoint.as_str(), regional.region.as_str()),
            ("https://s3.eu-west-1.amazonaws.com", "eu-west-1")
        );
        assert_eq!((regional.prefix.as_str(), regional.key("a/b")), ("", "a/b".to_string()));
        let forwarded = regional.with_endpoint("http://127.0.0.1:9000");
        assert_eq!((forwarded.endpoint.as_str(), forwarded.region.as_str()), ("http://127.0.0.1:9000", "eu-west-1"));
        let gs = store("  artifacts = \"gs://team\"", "");
        assert_eq!((gs.kind, gs.endpoint.as_str(), gs.region.as_str()), (StoreKind::Gcs, GCS_ENDPOINT, GCS_REGION));
    }

    #[test]
    fn a_declared_secret_gives_its_kubernetes_name_and_key_pair() {
        let secret = "secret store {\n  k8s = \"team-minio\"\n  keys = [\"secretkey\", \"accesskey\", \"other\"]\n}\n";
        let found = store("  artifacts_secret = store\n  artifacts_endpoint = \"https://minio.example.com\"", secret);
        assert_eq!(found.endpoint, "https://minio.example.com");
        let creds = &found.credentials;
        assert_eq!(creds.secret_name.as_deref(), Some("team-minio"));
        assert_eq!((creds.access_key_key.as_str(), creds.secret_key_key.as_str()), KFP_MINIO_KEYS);
        assert_eq!((creds.env.0.as_str(), creds.env.1.as_str()), KFP_MINIO_KEYS, "a secret's keys are its variables");
    }

    #[test]
    fn aws_endpoints_name_their_region_and_others_none() {
        assert_eq!(aws_region("https://s3.eu-west-1.amazonaws.com"), Some("eu-west-1"));
        assert_eq!(aws_region("https://s3-us-west-2.amazonaws.com:443"), Some("us-west-2"));
        assert_eq!(aws_region(&aws_endpoint(AWS_S3_DEFAULT_REGION)), Some(AWS_S3_DEFAULT_REGION));
        assert_eq!(aws_region("https://s3.amazonaws.com"), None);
        assert_eq!(aws_region("http://minio-service.kubeflow:9000"), None);
        assert_eq!(aws_region("https://bucket.s3.eu-west-1.amazonaws.com.evil.example"), None);
    }

    #[test]
    fn a_secret_holds_a_key_pair_only_with_both_keys() {
        let keys = |list: &[&str]| list.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        assert_eq!(key_pair(&keys(&["AWS_SECRET_ACCESS_KEY", "X", "AWS_ACCESS_KEY_ID"])), Some(AWS_KEYS));
        assert_eq!(key_pair(&keys(&["accesskey", "secretkey"])), Some(KFP_MINIO_KEYS));
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
