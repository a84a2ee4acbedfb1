//! `kfl apply`'s first step: the local datasets the pipeline reads, uploaded to their content-addressed places in the project's object store before any object is applied.
//!
//! The store is `staging::object_store` (the compiler's one resolution of `project.artifacts`,
//! `artifacts_endpoint` and `artifacts_secret`); the key pair comes from the environment, else from the
//! Kubernetes Secret in the project's namespace. A file already there with the same size is left alone: its key
//! names its content's digest, so the same size is the same file.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kfl_compiler::codegen::staging::ObjectStore;
use kube::api::Api;

use super::{Failure, Session, api_message};
use crate::s3::{Client, MAX_SINGLE_PUT};

/// One staged dataset: its files, as (path under the store's root, source file).
#[derive(Debug)]
pub struct StagedDataset {
    pub name: String,
    pub files: Vec<(String, PathBuf)>,
}

/// The upload flags of `kfl apply`.
#[derive(clap::Args, Debug)]
pub struct UploadArgs {
    /// The object store's S3-compatible endpoint for the uploads (e.g. `http://127.0.0.1:9000` through `kubectl
    /// port-forward -n kubeflow svc/minio-service 9000:9000`), instead of `project.artifacts_endpoint` or the
    /// store's default, which is often reachable only inside the cluster.
    #[arg(long, value_name = "URL", value_parser = parse_endpoint)]
    artifacts_endpoint: Option<String>,
    /// Do not upload the staged datasets (you copied `kfl build`'s `stage/` folder to the store yourself).
    #[arg(long)]
    no_upload: bool,
    /// Seconds each object-store call may take once connected (a PUT's whole body included).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    upload_timeout: u64,
}

fn parse_endpoint(url: &str) -> Result<String, String> {
    match kfl_compiler::typeck::uris::endpoint_problem(url) {
        Some(problem) => Err(format!("the endpoint {problem}")),
        None => Ok(url.trim_end_matches('/').to_string()),
    }
}

/// Uploads every staged file the store does not hold yet, printing one line per dataset; on a dry run, lists
/// them and contacts nothing. A failure says what was uploaded before it.
pub async fn upload(
    session: &Session,
    declared: &super::Declared,
    args: &UploadArgs,
    dry_run: bool,
) -> super::Result<()> {
    let store = match &args.artifacts_endpoint {
        Some(endpoint) => declared.store.with_endpoint(endpoint),
        None => declared.store.clone(),
    };
    for (name, uri) in &declared.absent {
        eprintln!(
            "note: dataset `{name}`'s file was not found when compiling, so nothing of it is uploaded: the pipeline \
             reads {uri}; put the data there before a run"
        );
    }
    if declared.datasets.is_empty() {
        return Ok(());
    }
    let root = store.uri("");
    if args.no_upload {
        eprintln!("note: the staged datasets were not uploaded (--no-upload): runs read them under {root}");
        return Ok(());
    }
    if dry_run {
        for dataset in &declared.datasets {
            let bytes: u64 = dataset.files.iter().map(|(_, file)| size_of(file)).sum();
            println!(
                "Dataset/{} would be uploaded to {} unless there already: {} file(s), {bytes} bytes (the store was \
                 not contacted: dry run)",
                dataset.name,
                store.url(),
                dataset.files.len()
            );
        }
        return Ok(());
    }
    let namespace = session.namespace_of(declared);
    let (access_key, secret_key) = credentials(session, &store, &namespace).await?;
    let datasets: Vec<(String, Vec<(String, PathBuf)>)> =
        declared.datasets.iter().map(|d| (d.name.clone(), d.files.clone())).collect();
    let answer = Duration::from_secs(args.upload_timeout.max(1));
    tokio::task::spawn_blocking(move || {
        let client = Client::new(&store.url(), &store.region, access_key, secret_key, answer);
        upload_all(&client, &store, &datasets)
    })
    .await
    .map_err(|err| Failure::Cluster(format!("the uploads stopped: {err}")))?
}

fn upload_all(
    client: &Client,
    store: &ObjectStore,
    datasets: &[(String, Vec<(String, PathBuf)>)],
) -> super::Result<()> {
    let mut done: Vec<String> = Vec::new();
    for (name, files) in datasets {
        let (mut uploaded, mut unchanged, mut bytes) = (0usize, 0usize, 0u64);
        for (path, source) in files {
            let key = store.key(path);
            let shown = store.uri(path);
            let fail = |message: String, done: &[String]| {
                let kept = if done.is_empty() {
                    "nothing was uploaded".to_string()
                } else {
                    format!("uploaded: {}", done.join(", "))
                };
                Failure::Cluster(format!(
                    "dataset `{name}`: {shown}: {message}; {kept}; no object was applied and no run started"
                ))
            };
            let size = std::fs::metadata(source)
                .map_err(|err| fail(format!("cannot read {}: {err}", source.display()), &done))?
                .len();
            if size > MAX_SINGLE_PUT {
                return Err(fail(
                    format!(
                        "{} is {size} bytes, over the 5 GiB a single PUT stores (kfl does not do multipart uploads): \
                         upload `kfl build`'s stage/ folder with the command it prints, then apply with --no-upload",
                        source.display()
                    ),
                    &done,
                ));
            }
            match client.head(&store.bucket, &key) {
                Ok(Some(found)) if found == size => {
                    unchanged += 1;
                    continue;
                }
                Ok(_) => {}
                Err(err) => return Err(fail(err.message, &done)),
            }
            let sha256 = crate::s3::sha256_file(source)
                .map_err(|err| fail(format!("cannot read {}: {err}", source.display()), &done))?;
            client.put_file(&store.bucket, &key, source, &sha256).map_err(|err| fail(err.message, &done))?;
            done.push(shown);
            uploaded += 1;
            bytes += size;
        }
        println!(
            "Dataset/{name} uploaded: {uploaded} file(s), {bytes} bytes; {unchanged} unchanged (already in {})",
            store.url()
        );
    }
    Ok(())
}

/// The key pair: the environment variables `store.env` when both are set, else the Secret's keys.
async fn credentials(session: &Session, store: &ObjectStore, namespace: &str) -> super::Result<(String, String)> {
    let (access_env, secret_env) = &store.env;
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(access), Some(secret)) = (from_env(access_env), from_env(secret_env)) {
        return Ok((access, secret));
    }
    let env_place = format!("the environment variables {access_env} and {secret_env} are not both set");
    if !store.secret_holds_keys {
        return Err(Failure::Usage(format!(
            "no key pair for the object store {}: {env_place}, and the project names no `artifacts_secret`; set \
             them, or declare the Secret and name it in `project.artifacts_secret`; nothing was uploaded or applied",
            store.url()
        )));
    }
    let (name, access_key, secret_key) = (&store.secret_name, &store.access_key_key, &store.secret_key_key);
    let api: Api<Secret> = Api::namespaced(session.client.clone(), namespace);
    let problem = match api.get_opt(name).await {
        Ok(Some(secret)) => {
            let data = secret.data.unwrap_or_default();
            let value = |key: &str| data.get(key).map(|v| String::from_utf8_lossy(&v.0).into_owned());
            match (value(access_key), value(secret_key)) {
                (Some(access), Some(secret)) if !access.is_empty() && !secret.is_empty() => {
                    return Ok((access, secret));
                }
                _ => format!("it has no non-empty keys `{access_key}` and `{secret_key}`"),
            }
        }
        Ok(None) => "it does not exist".to_string(),
        Err(err) => format!("it cannot be read: {}", api_message(&err)),
    };
    Err(Failure::Usage(format!(
        "no key pair for the object store {}: {env_place}, and Secret `{name}` in namespace `{namespace}` gave none \
         ({problem}); set the variables, or create the Secret with keys `{access_key}` and `{secret_key}`; nothing \
         was uploaded or applied",
        store.url()
    )))
}

fn size_of(file: &std::path::Path) -> u64 {
    std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)
}
