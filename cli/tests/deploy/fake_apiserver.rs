//! An in-process fake Kubernetes API server for `kfl apply`: discovery of the kinds `kfl build` emits, existing namespaces, reads, and server-side apply (dry run or stored), recording every applied object in order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The kinds the fake serves: (group, version, kind, plural, namespaced). A kind missing here makes
/// `kfl apply` fail with "the cluster does not serve …", as a cluster without that CRD would.
const KINDS: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "Namespace", "namespaces", false),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
    ("", "v1", "Service", "services", true),
    ("", "v1", "Secret", "secrets", true),
    ("", "v1", "ServiceAccount", "serviceaccounts", true),
    ("", "v1", "ConfigMap", "configmaps", true),
    ("apps", "v1", "Deployment", "deployments", true),
    ("batch", "v1", "CronJob", "cronjobs", true),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
    ("kubeflow.org", "v1", "Notebook", "notebooks", true),
    ("kubeflow.org", "v1beta1", "Experiment", "experiments", true),
    ("trainer.kubeflow.org", "v1alpha1", "TrainJob", "trainjobs", true),
    ("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices", true),
    ("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", true),
    ("monitoring.coreos.com", "v1alpha1", "AlertmanagerConfig", "alertmanagerconfigs", true),
];

/// One object a server-side apply sent: where, and the body.
#[derive(Clone, Debug)]
pub struct Applied {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub dry_run: bool,
    pub body: Value,
}

#[derive(Default)]
pub struct Server {
    /// Object path → stored object (applies that were not dry runs).
    pub objects: BTreeMap<String, Value>,
    /// Every apply, in the order it arrived.
    pub applied: Vec<Applied>,
}

pub type Shared = Arc<Mutex<Server>>;

/// Starts the server on a free loopback port; returns its URL and the shared state.
pub fn start() -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Server::default()));
    let url = crate::fake_cluster::serve(Router::new().fallback(handle).with_state(Arc::clone(&shared)));
    (url, shared)
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code});
    (StatusCode::from_u16(code).expect("code"), axum::Json(body)).into_response()
}

/// The API resource list of one group version, as discovery serves it.
fn resource_list(group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = KINDS
        .iter()
        .filter(|(g, v, ..)| *g == group && *v == version)
        .map(|(_, _, kind, plural, namespaced)| {
            json!({"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind,
                   "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    (!resources.is_empty())
        .then(|| json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
}

/// `/api/v1/…` or `/apis/GROUP/VERSION/…` → (group, version, the rest's segments).
fn split(path: &str) -> Option<(&str, &str, Vec<&str>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", version, rest @ ..] => Some(("", version, rest.to_vec())),
        ["apis", group, version, rest @ ..] => Some((group, version, rest.to_vec())),
        _ => None,
    }
}

async fn handle(State(state): State<Shared>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let dry_run = request.uri().query().is_some_and(|q| q.split('&').any(|p| p == "dryRun=All"));
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let bytes = to_bytes(request.into_body(), 1 << 24).await.unwrap_or_default();
    let Some((group, version, rest)) = split(&path) else { return status(404, "NotFound", "no such path") };
    if rest.is_empty() {
        return match resource_list(group, version) {
            Some(list) => axum::Json(list).into_response(),
            None => status(404, "NotFound", "no such group version"),
        };
    }
    // Every namespace exists: `kfl apply` then checks each object in it, dry run or not.
    if let ["namespaces", name] = rest.as_slice()
        && method == Method::GET
    {
        return axum::Json(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            .into_response();
    }
    // A Kubeflow install with the Model Registry's storage initializer for KServe (kubeflow/model-registry
    // manifests/kustomize/options/csi/clusterstoragecontainer.yaml), which `kfl apply` looks for.
    if let ("serving.kserve.io", "v1alpha1", ["clusterstoragecontainers"]) = (group, version, rest.as_slice())
        && method == Method::GET
    {
        return axum::Json(json!({
            "apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainerList", "metadata": {},
            "items": [{"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainer",
                       "metadata": {"name": "model-registry-storage-initializer"},
                       "spec": {"container": {"name": "storage-initializer", "image": "model-registry-storage-initializer"},
                                "supportedUriFormats": [{"prefix": "model-registry://"}]}}]
        }))
        .into_response();
    }
    let (namespace, plural, name) = match rest.as_slice() {
        ["namespaces", namespace, plural, name] => (Some(namespace.to_string()), *plural, *name),
        [plural, name] => (None, *plural, *name),
        _ => return status(405, "MethodNotAllowed", "only single objects are served"),
    };
    let Some((_, _, kind, _, namespaced)) =
        KINDS.iter().find(|(g, v, _, p, _)| *g == group && *v == version && *p == plural)
    else {
        return status(404, "NotFound", "no such resource");
    };
    if *namespaced != namespace.is_some() {
        return status(404, "NotFound", "wrong scope");
    }
    let mut server = state.lock().expect("lock");
    match method {
        Method::GET => match server.objects.get(&path) {
            Some(object) => axum::Json(object.clone()).into_response(),
            None => status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
        },
        Method::PATCH => {
            if content_type != "application/apply-patch+yaml" {
                return status(415, "UnsupportedMediaType", &format!("not a server-side apply: {content_type}"));
            }
            let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
                return status(400, "BadRequest", "the body is not JSON");
            };
            let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
            let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str).map(str::to_string);
            let problems = [
                (text("/apiVersion") != Some(api_version.clone()), "apiVersion"),
                (text("/kind").as_deref() != Some(*kind), "kind"),
                (text("/metadata/name").as_deref() != Some(name), "metadata.name"),
                (text("/metadata/namespace") != namespace, "metadata.namespace"),
            ];
            if let Some((_, field)) = problems.iter().find(|(wrong, _)| *wrong) {
                return status(422, "Invalid", &format!("{field} does not match the request path {path}"));
            }
            server.applied.push(Applied {
                kind: kind.to_string(),
                namespace: namespace.clone(),
                name: name.to_string(),
                dry_run,
                body: body.clone(),
            });
            let mut stored = body;
            stored["metadata"]["resourceVersion"] = json!(server.applied.len().to_string());
            if !dry_run {
                server.objects.insert(path, stored.clone());
            }
            axum::Json(stored).into_response()
        }
        _ => status(405, "MethodNotAllowed", "unsupported"),
    }
}
