//! A served model on the object store: its URI in the form KServe reads (`minio://` → `s3://`) and the object store's keys copied into the Secret and ServiceAccount KServe's storage initializer reads them from.
//!
//! KFP keeps its object store's keys in a Secret with its own key names (`staging::object_store`: by default
//! `mlpipeline-minio-artifact` with `accesskey`/`secretkey`); KServe reads s3 credentials from the Secrets
//! listed by the predictor's ServiceAccount, under `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, with the endpoint
//! in the Secret's `serving.kserve.io/s3-*` annotations (`kfl_compiler::codegen::kserve`, which cites KServe).
//! So the launcher writes both (server-side apply, field manager `kfl-launch`) under `--s3-account` and points the
//! predictor at that account, unless the serve names its own `service_account`, which is trusted to carry the
//! keys. They are not owned by the run: the served pods read them at every restart, after the run is gone.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kfl_compiler::codegen::kserve;
use kfl_compiler::codegen::launcher::RUN_ANNOTATION;
use kube::api::{Api, Patch, PatchParams};
use serde_json::Value as Json;

use super::{LaunchError, Result};

/// The field manager of the launcher's applies.
const FIELD_MANAGER: &str = "kfl-launch";
/// Labels copied from the InferenceService, so the account shows which project it belongs to.
const COPIED_LABELS: &[&str] = &["app.kubernetes.io/managed-by", "app.kubernetes.io/part-of"];

/// The `--s3-*` flags the compiled task passes for a serve that reads the object store.
#[derive(clap::Args, Debug, Default)]
pub struct S3Args {
    /// The Secret holding the object store's keys (KFP's `mlpipeline-minio-artifact` by default).
    #[arg(long = "s3-secret", value_name = "NAME", requires_all = ["keys", "endpoint", "region", "account"])]
    secret: Option<String>,
    /// Its keys holding the access key id and the secret key: `ACCESS:SECRET`.
    #[arg(long = "s3-secret-keys", id = "keys", value_name = "ACCESS:SECRET", requires = "secret")]
    keys: Option<String>,
    /// The object store's S3 endpoint, `http://HOST:PORT` or `https://HOST:PORT`.
    #[arg(long = "s3-endpoint", id = "endpoint", value_name = "URL", requires = "secret")]
    endpoint: Option<String>,
    /// The region requests are signed for.
    #[arg(long = "s3-region", id = "region", value_name = "REGION", requires = "secret")]
    region: Option<String>,
    /// The Secret and ServiceAccount to write the keys to in KServe's form.
    #[arg(long = "s3-account", id = "account", value_name = "NAME", requires = "secret")]
    account: Option<String>,
}

/// What the launcher writes for the predictor: the source Secret and its keys, and the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub source: String,
    pub access_key: String,
    pub secret_key: String,
    pub host: String,
    pub use_https: bool,
    pub region: String,
    pub account: String,
}

impl S3Args {
    fn plan(&self) -> Result<Option<Plan>> {
        let (Some(source), Some(keys), Some(endpoint), Some(region), Some(account)) =
            (&self.secret, &self.keys, &self.endpoint, &self.region, &self.account)
        else {
            return Ok(None);
        };
        let (access_key, secret_key) = keys
            .split_once(':')
            .filter(|(a, s)| !a.is_empty() && !s.is_empty())
            .ok_or_else(|| LaunchError::usage(format!("--s3-secret-keys `{keys}` is not ACCESS:SECRET")))?;
        let (use_https, host) = match (endpoint.strip_prefix("https://"), endpoint.strip_prefix("http://")) {
            (Some(host), _) => (true, host),
            (_, Some(host)) => (false, host),
            _ => return Err(LaunchError::usage(format!("--s3-endpoint `{endpoint}` is not http(s)://HOST:PORT"))),
        };
        Ok(Some(Plan {
            source: source.clone(),
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            host: host.trim_end_matches('/').to_string(),
            use_https,
            region: region.clone(),
            account: account.clone(),
        }))
    }
}

/// The predictors of an InferenceService manifest: `spec.predictor` and each `spec.canary[].predictor`.
fn predictors(manifest: &mut Json) -> Vec<&mut Json> {
    let Some(spec) = manifest.get_mut("spec").and_then(Json::as_object_mut) else { return Vec::new() };
    let mut out = Vec::new();
    for (key, value) in spec.iter_mut() {
        match key.as_str() {
            "predictor" => out.push(value),
            "canary" => out.extend(value.as_array_mut().into_iter().flatten().filter_map(|c| c.get_mut("predictor"))),
            _ => {}
        }
    }
    out
}

/// Every storage URI field of a predictor: `model.storageUri`, a custom container's `STORAGE_URI`.
fn uri_fields(predictor: &mut Json) -> Vec<&mut Json> {
    let mut out = Vec::new();
    let Some(object) = predictor.as_object_mut() else { return out };
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "model" => out.extend(value.get_mut("storageUri")),
            "containers" => {
                for container in value.as_array_mut().into_iter().flatten() {
                    for var in container.get_mut("env").and_then(Json::as_array_mut).into_iter().flatten() {
                        if var.get("name").and_then(Json::as_str) == Some("STORAGE_URI") {
                            out.extend(var.get_mut("value"));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Rewrites every storage URI of the manifest to the form KServe reads; returns the URIs after it.
pub fn rewrite_storage_uris(manifest: &mut Json) -> Vec<String> {
    let mut uris = Vec::new();
    for predictor in predictors(manifest) {
        for field in uri_fields(predictor) {
            if let Some(uri) = field.as_str() {
                let readable = kserve::storage_initializer_uri(uri);
                *field = Json::String(readable.clone());
                uris.push(readable);
            }
        }
    }
    uris
}

/// Decides what to write: `None` without `--s3-*` flags, when no URI is `s3://`, or when the predictor names its
/// own account (said on stderr). Otherwise every predictor is pointed at the plan's account.
pub fn prepare(args: &S3Args, manifest: &mut Json, uris: &[String]) -> Result<Option<Plan>> {
    let Some(plan) = args.plan()? else { return Ok(None) };
    if !uris.iter().any(|uri| kserve::is_s3(uri)) {
        return Ok(None);
    }
    let own = manifest.pointer("/spec/predictor/serviceAccountName").and_then(Json::as_str).map(str::to_string);
    if let Some(own) = own {
        eprintln!(
            "s3: the predictor runs as its own service account `{own}`, which must list a Secret with `{}` and \
             `{}` (and the `{}` annotation for a store other than AWS); kfl writes none",
            kserve::S3_ACCESS_KEY_ID,
            kserve::S3_SECRET_ACCESS_KEY,
            kserve::S3_ENDPOINT
        );
        return Ok(None);
    }
    for predictor in predictors(manifest) {
        if let Some(object) = predictor.as_object_mut() {
            object.insert("serviceAccountName".into(), Json::String(plan.account.clone()));
        }
    }
    Ok(Some(plan))
}

/// Reads the object store's Secret and applies the account's Secret and ServiceAccount.
pub async fn write(
    client: &kube::Client,
    namespace: &str,
    plan: &Plan,
    manifest: &Json,
    run: Option<&str>,
) -> Result<()> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let source = secrets.get(&plan.source).await.map_err(|err| {
        LaunchError::failed(format!(
            "cannot read the object store's Secret `{namespace}/{}`: {}; nothing was written and no InferenceService \
             was created",
            plan.source,
            super::cluster::detail(&err)
        ))
    })?;
    let data = source.data.unwrap_or_default();
    let key = |name: &str| {
        data.get(name).cloned().ok_or_else(|| {
            LaunchError::failed(format!(
                "the Secret `{namespace}/{}` has no key `{name}`; nothing was written and no InferenceService was \
                 created",
                plan.source
            ))
        })
    };
    let (access, secret) = (key(&plan.access_key)?, key(&plan.secret_key)?);
    let metadata = metadata(plan, namespace, manifest, run);
    let mut annotations = metadata.annotations.clone().unwrap_or_default();
    annotations.insert(kserve::S3_ENDPOINT.into(), plan.host.clone());
    annotations.insert(kserve::S3_USE_HTTPS.into(), if plan.use_https { "1" } else { "0" }.into());
    annotations.insert(kserve::S3_REGION.into(), plan.region.clone());
    let credentials = Secret {
        metadata: ObjectMeta { annotations: Some(annotations), ..metadata.clone() },
        data: Some(BTreeMap::from([
            (kserve::S3_ACCESS_KEY_ID.to_string(), access),
            (kserve::S3_SECRET_ACCESS_KEY.to_string(), secret),
        ])),
        type_: Some("Opaque".into()),
        ..Secret::default()
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    secrets.patch(&plan.account, &params, &Patch::Apply(&typed("Secret", &credentials)?)).await.map_err(|err| {
        LaunchError::failed(format!(
            "cannot write the Secret `{namespace}/{}`: {}; no InferenceService was created",
            plan.account,
            super::cluster::detail(&err)
        ))
    })?;
    let account = ServiceAccount {
        metadata,
        secrets: Some(vec![ObjectReference { name: Some(plan.account.clone()), ..ObjectReference::default() }]),
        ..ServiceAccount::default()
    };
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    accounts.patch(&plan.account, &params, &Patch::Apply(&typed("ServiceAccount", &account)?)).await.map_err(
        |err| {
            LaunchError::failed(format!(
                "cannot write the ServiceAccount `{namespace}/{}`: {}; its Secret was kept, no InferenceService was \
             created",
                plan.account,
                super::cluster::detail(&err)
            ))
        },
    )?;
    eprintln!(
        "s3: wrote Secret and ServiceAccount {namespace}/{} with the keys of `{}` for {}",
        plan.account, plan.source, plan.host
    );
    Ok(())
}

fn metadata(plan: &Plan, namespace: &str, manifest: &Json, run: Option<&str>) -> ObjectMeta {
    let labels: BTreeMap<String, String> = COPIED_LABELS
        .iter()
        .filter_map(|key| {
            let value = manifest.pointer("/metadata/labels")?.get(*key)?.as_str()?;
            Some((key.to_string(), value.to_string()))
        })
        .collect();
    ObjectMeta {
        name: Some(plan.account.clone()),
        namespace: Some(namespace.to_string()),
        labels: (!labels.is_empty()).then_some(labels),
        annotations: run.map(|run| BTreeMap::from([(RUN_ANNOTATION.to_string(), run.to_string())])),
        ..ObjectMeta::default()
    }
}

/// A server-side apply body names its apiVersion and kind (the typed structs leave them out).
fn typed<T: serde::Serialize>(kind: &str, object: &T) -> Result<Json> {
    let mut json =
        serde_json::to_value(object).map_err(|err| LaunchError::usage(format!("cannot encode the {kind}: {err}")))?;
    json["apiVersion"] = Json::String("v1".into());
    json["kind"] = Json::String(kind.into());
    Ok(json)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args() -> S3Args {
        S3Args {
            secret: Some("mlpipeline-minio-artifact".into()),
            keys: Some("accesskey:secretkey".into()),
            endpoint: Some("http://minio-service.kubeflow:9000".into()),
            region: Some("minio".into()),
            account: Some("shop-kserve-s3".into()),
        }
    }

    #[test]
    fn minio_uris_of_every_predictor_are_rewritten_and_the_account_set() {
        let mut manifest = json!({"spec": {
            "predictor": {"model": {"storageUri": "minio://mlpipeline/v2/artifacts/fit/model"}},
            "canary": [{"predictor": {"containers": [{"env": [{"name": "STORAGE_URI", "value": "minio://b/new"}]}]}}]
        }});
        let uris = rewrite_storage_uris(&mut manifest);
        assert_eq!(uris, ["s3://mlpipeline/v2/artifacts/fit/model", "s3://b/new"]);
        let plan = prepare(&args(), &mut manifest, &uris).expect("flags").expect("a plan");
        assert_eq!((plan.host.as_str(), plan.use_https), ("minio-service.kubeflow:9000", false));
        assert_eq!(manifest["spec"]["predictor"]["serviceAccountName"], "shop-kserve-s3");
        assert_eq!(manifest["spec"]["canary"][0]["predictor"]["serviceAccountName"], "shop-kserve-s3");
        assert_eq!(manifest["spec"]["canary"][0]["predictor"]["containers"][0]["env"][0]["value"], "s3://b/new");
    }

    #[test]
    fn an_own_account_gcs_models_or_no_flags_write_nothing() {
        let mut own =
            json!({"spec": {"predictor": {"serviceAccountName": "mine", "model": {"storageUri": "minio://b/k"}}}});
        let uris = rewrite_storage_uris(&mut own);
        assert_eq!(prepare(&args(), &mut own, &uris).expect("flags"), None);
        assert_eq!(own["spec"]["predictor"]["serviceAccountName"], "mine");
        let mut gcs = json!({"spec": {"predictor": {"model": {"storageUri": "gs://b/k"}}}});
        let uris = rewrite_storage_uris(&mut gcs);
        assert_eq!(prepare(&args(), &mut gcs, &uris).expect("flags"), None);
        let mut plain = json!({"spec": {"predictor": {"model": {"storageUri": "minio://b/k"}}}});
        let uris = rewrite_storage_uris(&mut plain);
        assert_eq!(prepare(&S3Args::default(), &mut plain, &uris).expect("no flags"), None);
        assert_eq!(plain["spec"]["predictor"]["model"]["storageUri"], "s3://b/k", "rewritten all the same");
        let bad = S3Args { keys: Some("accesskey".into()), ..args() };
        assert!(prepare(&bad, &mut plain, &uris).is_err());
    }
}
