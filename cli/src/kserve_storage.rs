//! Whether KServe can fetch a `model-registry://` model: a ClusterStorageContainer on the cluster must support the URI, which `kfl apply` and `kfl launch inferenceservice` check before they deploy.
//!
//! KServe ships no storage container for `model-registry://`: its storage-initializer injector lists the
//! ClusterStorageContainers and takes the first that is not `disabled`, has `workloadType: initContainer` and
//! supports the URI by a `prefix` or a `regex` of `supportedUriFormats` (`GetStorageContainerSpec` in
//! `pkg/webhook/admission/pod/storage_initializer_injector.go`, `IsStorageUriSupported` in
//! `pkg/apis/serving/v1alpha1/storage_container_types.go`, kserve/kserve v0.20.0; the CRD defaults
//! `workloadType` to `initContainer`). With none, KServe's controller refuses the URI ("StorageURI not
//! supported": `ValidateStorageURI` in `pkg/controller/v1beta1/inferenceservice/utils/utils.go`, which accepts
//! a scheme without a container only from its own prefix list), so the service never gets a predictor and
//! never becomes Ready (`tests/cluster/storage-container.sh` shows it on the test bed). The Model Registry
//! provides one (`manifests/kustomize/options/csi/clusterstoragecontainer.yaml`, kubeflow/model-registry).

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::Value as Json;

/// The URIs that need a ClusterStorageContainer: those KServe's own storage initializer cannot read.
pub const REGISTRY_SCHEME: &str = "model-registry://";

/// What to install when none supports a URI.
pub const REGISTRY_CSC_MANIFEST: &str = "kubectl apply -k \"github.com/kubeflow/model-registry/manifests/kustomize/options/csi?ref=RELEASE\" \
     (kubeflow/model-registry manifests/kustomize/options/csi/clusterstoragecontainer.yaml)";

fn resource() -> ApiResource {
    ApiResource {
        group: "serving.kserve.io".into(),
        version: "v1alpha1".into(),
        api_version: "serving.kserve.io/v1alpha1".into(),
        kind: "ClusterStorageContainer".into(),
        plural: "clusterstoragecontainers".into(),
    }
}

/// What the cluster said about a URI.
#[derive(Debug, PartialEq, Eq)]
pub enum Support {
    /// The named ClusterStorageContainer fetches it.
    By(String),
    /// None does (the CRD may be missing): the message says what is missing and what provides it.
    Missing(String),
    /// The caller may not list ClusterStorageContainers (cluster-scoped; a namespace's Role cannot grant it).
    Unchecked(String),
}

/// Asks the cluster which ClusterStorageContainer fetches `uri`.
pub async fn support(client: &Client, uri: &str) -> Result<Support, String> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource());
    match api.list(&ListParams::default()).await {
        Ok(list) => {
            let items: Vec<Json> =
                list.items.iter().map(|item| serde_json::to_value(item).unwrap_or_default()).collect();
            Ok(match supporting(&items, uri)? {
                Some(name) => Support::By(name),
                None => Support::Missing(missing(uri, "no ClusterStorageContainer on the cluster supports it")),
            })
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Support::Missing(missing(
            uri,
            "the cluster has no ClusterStorageContainer resource (serving.kserve.io/v1alpha1)",
        ))),
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(Support::Unchecked(format!(
            "cannot list ClusterStorageContainers ({}): not checked that one supports `{uri}`",
            status.message
        ))),
        Err(err) => Err(format!("cannot list ClusterStorageContainers: {err}")),
    }
}

fn missing(uri: &str, why: &str) -> String {
    format!(
        "KServe cannot fetch `{uri}`: {why}, so KServe's controller would refuse the URI (\"StorageURI not \
         supported\") and the service would never get a predictor; install the Model Registry's storage \
         initializer: {REGISTRY_CSC_MANIFEST}"
    )
}

/// The name of the first ClusterStorageContainer among `items` (list items as JSON) KServe would pick for `uri`.
pub fn supporting(items: &[Json], uri: &str) -> Result<Option<String>, String> {
    for item in items {
        let name = item.pointer("/metadata/name").and_then(Json::as_str).unwrap_or_default();
        if item.get("disabled").and_then(Json::as_bool) == Some(true) {
            continue;
        }
        let workload = item.pointer("/spec/workloadType").and_then(Json::as_str).unwrap_or("initContainer");
        if workload != "initContainer" {
            continue;
        }
        let formats = item.pointer("/spec/supportedUriFormats").and_then(Json::as_array).into_iter().flatten();
        for format in formats {
            let prefix = format.get("prefix").and_then(Json::as_str).unwrap_or_default();
            let pattern = format.get("regex").and_then(Json::as_str).unwrap_or_default();
            let matched = if !prefix.is_empty() {
                uri.starts_with(prefix)
            } else if !pattern.is_empty() {
                // KServe fails the whole lookup on a regex that does not compile: so does this.
                regex::Regex::new(pattern)
                    .map_err(|err| format!("ClusterStorageContainer `{name}` has a bad regex `{pattern}`: {err}"))?
                    .is_match(uri)
            } else {
                false
            };
            if matched {
                return Ok(Some(name.to_string()));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn csc(name: &str, formats: Json) -> Json {
        json!({"metadata": {"name": name}, "spec": {"container": {"name": "s", "image": "i"}, "supportedUriFormats": formats}})
    }

    #[test]
    fn a_prefix_or_a_regex_supports_a_uri_as_kserve_matches_them() {
        let uri = "model-registry://iris/3";
        let items = [csc("hf", json!([{"prefix": "hf://"}])), csc("mr", json!([{"prefix": "model-registry://"}]))];
        assert_eq!(supporting(&items, uri), Ok(Some("mr".to_string())));
        let items = [csc("by-regex", json!([{"regex": "^model-registry://[a-z]+/\\d+$"}]))];
        assert_eq!(supporting(&items, uri), Ok(Some("by-regex".to_string())));
        assert_eq!(supporting(&items, "model-registry://iris/latest"), Ok(None));
        assert_eq!(supporting(&[], uri), Ok(None));
    }

    #[test]
    fn disabled_and_download_job_containers_do_not_count_and_a_bad_regex_fails() {
        let uri = "model-registry://iris/3";
        let mut disabled = csc("off", json!([{"prefix": "model-registry://"}]));
        disabled["disabled"] = json!(true);
        let mut job = csc("job", json!([{"prefix": "model-registry://"}]));
        job["spec"]["workloadType"] = json!("localModelDownloadJob");
        assert_eq!(supporting(&[disabled, job], uri), Ok(None));
        let bad = csc("bad", json!([{"regex": "("}]));
        assert!(supporting(&[bad], uri).is_err_and(|e| e.contains("`bad`")));
    }
}
