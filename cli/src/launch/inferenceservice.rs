//! `kfl launch inferenceservice`: create or replace the KServe InferenceService, wait for Ready, write its URL.

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::cluster::{self, Cluster, Created, Kind, Outcome};
use super::markers::ManifestArgs;
use super::{LaunchError, Result, WaitArgs, outputs};

const INFERENCE_SERVICE: Kind =
    Kind { group: "serving.kserve.io", version: "v1beta1", kind: "InferenceService", plural: "inferenceservices" };

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    pub(super) wait: WaitArgs,
    /// FILE to write the service's URL (`status.url`) to.
    #[arg(long = "output-url", value_name = "FILE")]
    output_url: Option<String>,
}

pub async fn run(args: Args) -> Result<()> {
    let manifest = args.manifest.manifest(IndexMap::new())?;
    if args.manifest.dry_run {
        let namespace = Cluster::namespace_offline(args.manifest.namespace.as_deref(), &manifest);
        return cluster::print(&cluster::prepare(
            INFERENCE_SERVICE,
            manifest,
            &namespace,
            args.manifest.run_id.as_deref(),
        )?);
    }
    let cluster = Cluster::connect(args.manifest.namespace.as_deref(), &manifest).await?;
    let object = cluster::prepare(INFERENCE_SERVICE, manifest, &cluster.namespace, args.manifest.run_id.as_deref())?;
    let name = cluster::name_of(&object);
    let api = cluster.api(INFERENCE_SERVICE);
    // A new model version rolls out on the existing service (KServe keeps the canary split), so replace, not adopt.
    match cluster::create_or_replace(&api, INFERENCE_SERVICE, &object).await? {
        Created::New => eprintln!("created InferenceService {}/{name}", cluster.namespace),
        Created::Adopted => eprintln!("replaced InferenceService {}/{name}", cluster.namespace),
    }
    let generation = std::cell::Cell::new(0i64);
    let url = cluster::wait(&api, INFERENCE_SERVICE, &name, &args.wait, None, |service| {
        generation.set(service.metadata.generation.unwrap_or_default());
        let observed = service.data.pointer("/status/observedGeneration").and_then(Json::as_i64);
        // A Ready condition of the previous generation says nothing about the spec just sent.
        if observed.is_some_and(|o| o < generation.get()) {
            return None;
        }
        match cluster::condition(service, "Ready") {
            Some(ready) if ready.status == "True" => {
                let url = service.data.pointer("/status/url").and_then(Json::as_str).unwrap_or_default();
                Some(Outcome::Done(url.to_string()))
            }
            // KServe reports a rollout it gave up on as Ready=False with a failure reason.
            Some(ready) if ready.status == "False" && failed_reason(&ready.reason) => {
                Some(Outcome::Failed(format!("condition Ready=False: {}", cluster::describe(&ready))))
            }
            _ => None,
        }
    })
    .await?;
    if url.is_empty() {
        return Err(LaunchError::failed(format!("InferenceService `{name}` is Ready but has no status.url")));
    }
    eprintln!("InferenceService {}/{name} ready at {url}", cluster.namespace);
    if let Some(file) = &args.output_url {
        outputs::write(file, &url)?;
    }
    Ok(())
}

/// Reasons after which KServe stops retrying by itself (a bad model, an image that cannot be pulled).
fn failed_reason(reason: &str) -> bool {
    matches!(reason, "RevisionFailed" | "ModelLoadFailed" | "InvalidSpecification" | "FailedToLoad")
        || reason.ends_with("Failed")
}
