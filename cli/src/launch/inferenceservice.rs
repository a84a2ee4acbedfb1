//! `kfl launch inferenceservice`: create or replace the KServe InferenceService, wait for Ready, write its URL; first its model's URI in the form KServe reads, the object store's keys where KServe reads them (`s3_credentials.rs`), and a `model-registry://` URI refused unless a ClusterStorageContainer fetches it (`kserve_storage.rs`).

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::cluster::{self, Cluster, Created, Kind, Outcome};
use super::markers::ManifestArgs;
use super::s3_credentials::{self, S3Args};
use super::{LaunchError, Result, WaitArgs, outputs};
use crate::kserve_storage::{self, Support};

const INFERENCE_SERVICE: Kind = kfl_compiler::codegen::launcher::INFERENCE_SERVICE;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    pub(super) wait: WaitArgs,
    /// FILE to write the service's URL (`status.url`) to.
    #[arg(long = "output-url", value_name = "FILE")]
    output_url: Option<String>,
    #[command(flatten)]
    s3: S3Args,
}

pub async fn run(args: Args) -> Result<()> {
    let mut manifest = args.manifest.manifest(IndexMap::new())?;
    // A run's artifact URI arrives as `minio://` (KFP's store), which KServe reads as `s3://`.
    let uris = s3_credentials::rewrite_storage_uris(&mut manifest);
    let s3 = s3_credentials::prepare(&args.s3, &mut manifest, &uris)?;
    let run_id = args.manifest.run_id.as_deref();
    if args.manifest.dry_run {
        if let Some(plan) = &s3 {
            eprintln!(
                "s3: would write Secret and ServiceAccount `{}` with the keys of Secret `{}` (dry run: not read)",
                plan.account, plan.source
            );
        }
        let namespace = Cluster::namespace_offline(args.manifest.namespace.as_deref(), &manifest)?;
        return cluster::print(&cluster::prepare(INFERENCE_SERVICE, manifest, &namespace, run_id)?);
    }
    let cluster = Cluster::connect(args.manifest.namespace.as_deref(), &manifest).await?;
    for uri in uris.iter().filter(|uri| uri.starts_with(kserve_storage::REGISTRY_SCHEME)) {
        match kserve_storage::support(&cluster.client, uri).await.map_err(LaunchError::failed)? {
            Support::By(name) => eprintln!("`{uri}` is fetched by ClusterStorageContainer `{name}`"),
            Support::Missing(why) => {
                return Err(LaunchError::failed(format!("{why}; no InferenceService was created or changed")));
            }
            Support::Unchecked(why) => eprintln!("warning: {why}"),
        }
    }
    if let Some(plan) = &s3 {
        s3_credentials::write(&cluster.client, &cluster.namespace, plan, &manifest, run_id).await?;
    }
    let mut object = cluster::prepare(INFERENCE_SERVICE, manifest, &cluster.namespace, run_id)?;
    let name = cluster::name_of(&object);
    let api = cluster.api(INFERENCE_SERVICE);
    if has_canary_list(&object.data) {
        let existing =
            api.get_opt(&name).await.map_err(|err| cluster::api_error("read", INFERENCE_SERVICE, &name, err))?;
        match stable_for_canary(&mut object.data, existing.as_ref().map(|e| &e.data)) {
            Some(previous) => eprintln!("canary: the stable predictor keeps serving {previous}"),
            None => eprintln!("canary: no earlier version is served; the new version takes all traffic"),
        }
    }
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

/// Whether the manifest splits traffic through `spec.canary` (KServe's `Standard` mode; in `Knative` mode
/// `canaryTrafficPercent` makes Knative split between the latest and the previous revision by itself).
fn has_canary_list(manifest: &Json) -> bool {
    manifest.pointer("/spec/canary").and_then(Json::as_array).is_some_and(|list| !list.is_empty())
}

/// Points `spec.predictor` (the stable) back at the version the existing service serves newest (its canary's,
/// else its predictor's) so the `spec.canary` entry alone serves the new version: a canary must compare two
/// versions, not two copies of one. Without an existing service, or when it already serves this version,
/// there is nothing to compare: the canary list is dropped and the new version takes all traffic. Returns
/// the stable's storage URI when it was kept.
fn stable_for_canary(manifest: &mut Json, existing: Option<&Json>) -> Option<String> {
    let previous = existing.and_then(|e| {
        let canary = e.pointer("/spec/canary/0/predictor").and_then(storage_uri);
        canary.or_else(|| e.pointer("/spec/predictor").and_then(storage_uri))
    });
    let new = manifest.pointer("/spec/predictor").and_then(storage_uri);
    match previous.filter(|p| Some(p) != new.as_ref()) {
        Some(previous) => {
            if let Some(predictor) = manifest.pointer_mut("/spec/predictor") {
                set_storage_uri(predictor, &previous);
            }
            Some(previous)
        }
        None => {
            if let Some(spec) = manifest.get_mut("spec").and_then(Json::as_object_mut) {
                spec.remove("canary");
            }
            None
        }
    }
}

/// Where a predictor's model comes from: `model.storageUri`, or a custom container's `STORAGE_URI`.
fn storage_uri(predictor: &Json) -> Option<String> {
    let model = predictor.pointer("/model/storageUri").and_then(Json::as_str);
    let env =
        || {
            predictor.pointer("/containers/0/env")?.as_array()?.iter().find_map(|var| {
                (var.get("name")?.as_str()? == "STORAGE_URI").then(|| var.get("value")?.as_str()).flatten()
            })
        };
    model.or_else(env).map(str::to_string)
}

fn set_storage_uri(predictor: &mut Json, uri: &str) {
    if let Some(model) = predictor.pointer_mut("/model").and_then(Json::as_object_mut) {
        model.insert("storageUri".into(), Json::String(uri.to_string()));
    }
    let env = predictor.pointer_mut("/containers/0/env").and_then(Json::as_array_mut).into_iter().flatten();
    for var in env.filter(|var| var.get("name").and_then(Json::as_str) == Some("STORAGE_URI")) {
        var["value"] = Json::String(uri.to_string());
    }
}

/// Reasons after which KServe stops retrying by itself (a bad model, an image that cannot be pulled).
fn failed_reason(reason: &str) -> bool {
    matches!(reason, "RevisionFailed" | "ModelLoadFailed" | "InvalidSpecification" | "FailedToLoad")
        || reason.ends_with("Failed")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn standard(uri: &str) -> Json {
        json!({"spec": {
            "predictor": {"model": {"storageUri": uri}},
            "canary": [{"predictor": {"name": "svc-canary", "model": {"storageUri": uri}}, "trafficPercent": 10}]
        }})
    }

    #[test]
    fn the_stable_keeps_the_served_version_and_the_canary_gets_the_new_one() {
        let mut manifest = standard("model-registry://clf/4");
        let existing = json!({"spec": {"predictor": {"model": {"storageUri": "model-registry://clf/3"}}}});
        assert_eq!(stable_for_canary(&mut manifest, Some(&existing)).as_deref(), Some("model-registry://clf/3"));
        assert_eq!(manifest["spec"]["predictor"]["model"]["storageUri"], "model-registry://clf/3");
        assert_eq!(manifest["spec"]["canary"][0]["predictor"]["model"]["storageUri"], "model-registry://clf/4");
    }

    #[test]
    fn after_an_earlier_canary_the_stable_is_the_version_that_canary_served() {
        let mut manifest = standard("model-registry://clf/5");
        let existing = standard("model-registry://clf/4");
        assert_eq!(stable_for_canary(&mut manifest, Some(&existing)).as_deref(), Some("model-registry://clf/4"));
        assert_eq!(manifest["spec"]["canary"][0]["predictor"]["model"]["storageUri"], "model-registry://clf/5");
    }

    #[test]
    fn a_first_rollout_or_the_same_version_has_no_canary_split() {
        let mut first = standard("model-registry://clf/1");
        assert_eq!(stable_for_canary(&mut first, None), None);
        assert!(first["spec"].get("canary").is_none());
        assert_eq!(first["spec"]["predictor"]["model"]["storageUri"], "model-registry://clf/1");
        let mut same = standard("model-registry://clf/1");
        let existing = json!({"spec": {"predictor": {"model": {"storageUri": "model-registry://clf/1"}}}});
        assert_eq!(stable_for_canary(&mut same, Some(&existing)), None);
        assert!(!has_canary_list(&same));
    }

    #[test]
    fn a_custom_predictor_reads_and_writes_its_storage_uri_env() {
        let predictor = |uri: &str| json!({"containers": [{"name": "kserve-container", "env": [{"name": "STORAGE_URI", "value": uri}]}]});
        let mut manifest = json!({"spec": {"predictor": predictor("s3://m/2"), "canary": [{"predictor": predictor("s3://m/2"), "trafficPercent": 20}]}});
        let existing = json!({"spec": {"predictor": predictor("s3://m/1")}});
        assert_eq!(stable_for_canary(&mut manifest, Some(&existing)).as_deref(), Some("s3://m/1"));
        assert_eq!(manifest["spec"]["predictor"]["containers"][0]["env"][0]["value"], "s3://m/1");
        assert_eq!(manifest["spec"]["canary"][0]["predictor"]["containers"][0]["env"][0]["value"], "s3://m/2");
    }
}
