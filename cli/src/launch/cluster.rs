//! The cluster side of a launch: client and namespace, create-or-adopt of a dynamic object, polling its status.

use std::time::{Duration, Instant};

use kfl_compiler::codegen::launcher::{POD_NAMESPACE_ENV, RUN_ANNOTATION};
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::{Client, Config};
use serde_json::Value as Json;

use super::{API_CONNECT_TIMEOUT, API_READ_TIMEOUT, LaunchError, Result, WaitArgs};

/// Group, version, kind and plural of a kind the launcher creates (no discovery call needed), from the table
/// the compiled Role is built from.
pub use kfl_compiler::codegen::launcher::LaunchedKind as Kind;

pub(crate) fn resource(kind: &Kind) -> ApiResource {
    ApiResource {
        group: kind.group.to_string(),
        version: kind.version.to_string(),
        api_version: format!("{}/{}", kind.group, kind.version),
        kind: kind.kind.to_string(),
        plural: kind.plural.to_string(),
    }
}

/// A connection to the cluster and the namespace to work in.
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
}

impl Cluster {
    /// In-cluster config or kubeconfig (`kube::Config::infer`); the namespace is `--namespace`, else the
    /// manifest's, else the pod's (or the kubeconfig context's). In a pod, a namespace other than the pod's own
    /// is refused before anything is sent (`check_run_namespace`).
    pub async fn connect(flag: Option<&str>, manifest: &Json) -> Result<Cluster> {
        let mut config = Config::infer()
            .await
            .map_err(|err| LaunchError::usage(format!("no cluster configuration (in-cluster or kubeconfig): {err}")))?;
        with_timeouts(&mut config);
        let pod = pod_namespace();
        let namespace = chosen_namespace(flag, manifest)
            .or_else(|| pod.as_ref().map(|(namespace, _)| namespace.clone()))
            .unwrap_or_else(|| config.default_namespace.clone());
        check_run_namespace(&namespace, pod)?;
        let client = Client::try_from(config)
            .map_err(|err| LaunchError::usage(format!("cannot build a Kubernetes client: {err}")))?;
        Ok(Cluster { client, namespace })
    }

    /// `--dry-run`: no configuration is read; the namespace is `--namespace`, else the manifest's, else the pod's,
    /// else `default`, checked against the pod's as for a real launch.
    pub fn namespace_offline(flag: Option<&str>, manifest: &Json) -> Result<String> {
        let pod = pod_namespace();
        let namespace = chosen_namespace(flag, manifest)
            .or_else(|| pod.as_ref().map(|(namespace, _)| namespace.clone()))
            .unwrap_or_else(|| "default".to_string());
        check_run_namespace(&namespace, pod)?;
        Ok(namespace)
    }

    pub fn api(&self, kind: Kind) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, &resource(&kind))
    }
}

/// `--namespace`, else the manifest's (the project's namespace, which the compiled task passes as the flag too).
fn chosen_namespace(flag: Option<&str>, manifest: &Json) -> Option<String> {
    let from_manifest = manifest.pointer("/metadata/namespace").and_then(Json::as_str);
    flag.or(from_manifest).filter(|n| !n.is_empty()).map(str::to_string)
}

/// The file in which Kubernetes gives every pod with a service-account token its namespace (the one kube's
/// in-cluster configuration reads).
const SERVICE_ACCOUNT_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The namespace of the pod this launcher runs in, and where it was read: the compiled task's
/// `KFL_POD_NAMESPACE` (downward API), else, inside a pod (`KUBERNETES_SERVICE_HOST`, which the kubelet sets in
/// every container), its service account's namespace file. `None` outside a pod (a manual `kfl launch`).
fn pod_namespace() -> Option<(String, &'static str)> {
    let env = std::env::var(POD_NAMESPACE_ENV).ok().map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if let Some(namespace) = env {
        return Some((namespace, POD_NAMESPACE_ENV));
    }
    std::env::var_os("KUBERNETES_SERVICE_HOST")?;
    let text = std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE_FILE).ok()?;
    Some((text.trim().to_string(), SERVICE_ACCOUNT_NAMESPACE_FILE)).filter(|(n, _)| !n.is_empty())
}

/// A run's objects belong in the namespace its pods run in: the compiled Role is bound to the run's service
/// account in the project's namespace, and each run object is owned by the task's pod, which an object in another
/// namespace cannot be (a namespaced owner must be in its dependent's namespace, else the garbage collector
/// treats it as absent and deletes the dependent: kubernetes.io "Owners and Dependents", Kubernetes 1.20 and
/// later). So a mismatch stops the launch before anything is created.
fn check_run_namespace(namespace: &str, pod: Option<(String, &'static str)>) -> Result<()> {
    let Some((own, source)) = pod else { return Ok(()) };
    if own == namespace {
        return Ok(());
    }
    Err(LaunchError::usage(format!(
        "this run executes in namespace `{own}` (its pod's, from {source}) but the project's objects belong in \
         namespace `{namespace}` (--namespace or the manifest's: the project's `namespace`); nothing was created: the project's \
         Role is bound to the run's service account in `{namespace}`, and the objects a run creates are owned by \
         its task pod, which owner references cannot reach across namespaces (the garbage collector would delete \
         them)\n  help: start the run in namespace `{namespace}`: `kfl apply --kfp URL` creates it in the project's \
         experiment there, or start it from the Kubeflow profile whose namespace is `{namespace}`; or set the \
         project's `namespace = \"{own}\"` and build again"
    )))
}

/// kube's defaults leave reads unbounded (for exec and watch streams, which the launcher does not
/// use): an API server that accepts and never answers would hang the task until KFP kills it.
fn with_timeouts(config: &mut Config) {
    config.connect_timeout = Some(API_CONNECT_TIMEOUT);
    config.read_timeout = Some(API_READ_TIMEOUT);
    config.write_timeout = Some(API_READ_TIMEOUT);
    // Counts the read timeout from the request, not from when its pooled connection went idle.
    config.reset_reader_on_write = true;
}

/// What `create` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    New,
    /// The object this run created before (a retried task).
    Adopted,
}

/// The manifest as the object to send: namespace set, the run's id recorded as an annotation.
pub fn prepare(kind: Kind, manifest: Json, namespace: &str, run_id: Option<&str>) -> Result<DynamicObject> {
    let mut object: DynamicObject = serde_json::from_value(manifest)
        .map_err(|err| LaunchError::usage(format!("the manifest is not a Kubernetes object: {err}")))?;
    if object.types.as_ref().is_none_or(|t| t.kind != kind.kind) {
        return Err(LaunchError::usage(format!("the manifest is not a {}", kind.kind)));
    }
    if object.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err(LaunchError::usage(format!("the {} manifest has no metadata.name", kind.kind)));
    }
    object.metadata.namespace = Some(namespace.to_string());
    if let Some(run) = run_id {
        object.metadata.annotations.get_or_insert_default().insert(RUN_ANNOTATION.to_string(), run.to_string());
    }
    Ok(object)
}

/// `--dry-run`: the object as it would be sent, as JSON on stdout.
pub fn print(object: &DynamicObject) -> Result<()> {
    let text = serde_json::to_string_pretty(object)
        .map_err(|err| LaunchError::usage(format!("cannot print the object: {err}")))?;
    println!("{text}");
    Ok(())
}

pub fn name_of(object: &DynamicObject) -> String {
    object.metadata.name.clone().unwrap_or_default()
}

fn run_of(object: &DynamicObject) -> Option<&str> {
    object.metadata.annotations.as_ref()?.get(RUN_ANNOTATION).map(String::as_str)
}

/// Creates the object; an existing object of the same name that this run created is adopted. One from another
/// run (or not made by the launcher) is an error: its status belongs to someone else.
pub async fn create_or_adopt(api: &Api<DynamicObject>, kind: Kind, object: &DynamicObject) -> Result<Created> {
    let name = name_of(object);
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(Created::New),
        Err(kube::Error::Api(status)) if status.is_already_exists() || status.code == 409 => {
            let existing = get(api, kind, &name).await?;
            let ours = run_of(object);
            match (ours, run_of(&existing)) {
                (Some(ours), Some(theirs)) if ours == theirs => {
                    // A retry's pod joins the owners, so the first attempt's pod going does not take the object.
                    if let Some(owners) = super::run_objects::missing_owners(object, &existing) {
                        let mut updated = existing.clone();
                        updated.metadata.owner_references = Some(owners);
                        api.replace(&name, &PostParams::default(), &updated)
                            .await
                            .map_err(|err| api_error("update the owners of", kind, &name, err))?;
                    }
                    Ok(Created::Adopted)
                }
                (_, theirs) => Err(LaunchError::failed(format!(
                    "{} `{name}` already exists in namespace `{}` from {}; it was left as it is \
                     (delete it to launch this run's)",
                    kind.kind,
                    api_namespace(object),
                    theirs.map_or_else(|| "outside this pipeline".to_string(), |run| format!("run `{run}`")),
                ))),
            }
        }
        Err(err) => Err(api_error("create", kind, &name, err)),
    }
}

/// Creates the object, or replaces the one of the same name (keeping its resourceVersion).
pub async fn create_or_replace(api: &Api<DynamicObject>, kind: Kind, object: &DynamicObject) -> Result<Created> {
    let name = name_of(object);
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(Created::New),
        Err(kube::Error::Api(status)) if status.is_already_exists() || status.code == 409 => {
            let existing = get(api, kind, &name).await?;
            let mut replacement = object.clone();
            replacement.metadata.resource_version = existing.metadata.resource_version.clone();
            api.replace(&name, &PostParams::default(), &replacement)
                .await
                .map_err(|err| api_error("replace", kind, &name, err))?;
            Ok(Created::Adopted)
        }
        Err(err) => Err(api_error("create", kind, &name, err)),
    }
}

fn api_namespace(object: &DynamicObject) -> String {
    object.metadata.namespace.clone().unwrap_or_default()
}

pub async fn get(api: &Api<DynamicObject>, kind: Kind, name: &str) -> Result<DynamicObject> {
    api.get(name).await.map_err(|err| api_error("read", kind, name, err))
}

pub fn api_error(action: &str, kind: Kind, name: &str, err: kube::Error) -> LaunchError {
    LaunchError::failed(format!("cannot {action} {} `{name}`: {}", kind.kind, detail(&err)))
}

/// `Reason (code): message` of an API error, or the transport error.
pub fn detail(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => format!("{} ({}): {}", status.reason, status.code, status.message),
        other => other.to_string(),
    }
}

/// The `status` of a condition of `type` (`"True"`, `"False"`, …) with its reason and message.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    pub status: String,
    pub reason: String,
    pub message: String,
}

pub fn condition(object: &DynamicObject, kind: &str) -> Option<Condition> {
    conditions(object).find(|(found, _)| *found == kind).map(|(_, condition)| condition)
}

/// Each entry of `status.conditions` with its `type`.
fn conditions(object: &DynamicObject) -> impl Iterator<Item = (&str, Condition)> {
    let listed = object.data.pointer("/status/conditions").and_then(Json::as_array);
    listed.into_iter().flatten().filter_map(|found| {
        let text = |key: &str| found.get(key).and_then(Json::as_str).unwrap_or_default().to_string();
        let kind = found.get("type").and_then(Json::as_str)?;
        Some((kind, Condition { status: text("status"), reason: text("reason"), message: text("message") }))
    })
}

pub fn is_true(object: &DynamicObject, kind: &str) -> Option<Condition> {
    condition(object, kind).filter(|c| c.status == "True")
}

/// How a wait ended.
pub enum Outcome<T> {
    Done(T),
    Failed(String),
}

/// Reads the object every `interval` until `judge` decides, or the limit passes.
pub async fn wait<T>(
    api: &Api<DynamicObject>,
    kind: Kind,
    name: &str,
    wait: &WaitArgs,
    deadline: Option<u64>,
    mut judge: impl FnMut(&DynamicObject) -> Option<Outcome<T>>,
) -> Result<T> {
    let started = Instant::now();
    let limit = wait.limit(deadline);
    let interval: Duration = wait.interval();
    loop {
        let object = get(api, kind, name).await?;
        match judge(&object) {
            Some(Outcome::Done(value)) => return Ok(value),
            Some(Outcome::Failed(why)) => {
                return Err(LaunchError::failed(format!(
                    "{} `{name}` failed: {why}; the {} was kept in namespace `{}` for inspection",
                    kind.kind,
                    kind.kind,
                    api_namespace(&object)
                )));
            }
            None => {}
        }
        if let Some(limit) = limit
            && started.elapsed() >= limit
        {
            return Err(LaunchError::failed(format!(
                "{} `{name}` did not finish within {}s; it was left running in namespace `{}`; {}",
                kind.kind,
                limit.as_secs_f64(),
                api_namespace(&object),
                last_conditions(&object)
            )));
        }
        let remaining = limit.map_or(interval, |limit| limit.saturating_sub(started.elapsed()));
        tokio::time::sleep(interval.min(remaining)).await;
    }
}

/// The object's conditions as last read, for a wait that gave up: what the controller was still waiting for
/// (a Deployment without minimum availability, a pod that cannot be scheduled) is the first thing to look at.
fn last_conditions(object: &DynamicObject) -> String {
    let listed: Vec<String> = conditions(object)
        .map(|(kind, condition)| match condition.reason.is_empty() && condition.message.is_empty() {
            true => format!("{kind}={}", condition.status),
            false => format!("{kind}={} ({})", condition.status, describe(&condition)),
        })
        .collect();
    if listed.is_empty() {
        "it reported no conditions".to_string()
    } else {
        format!("its conditions when the wait ended: {}", listed.join(", "))
    }
}

/// `reason: message` of a condition, for failure messages.
pub fn describe(condition: &Condition) -> String {
    match (condition.reason.is_empty(), condition.message.is_empty()) {
        (false, false) => format!("{}: {}", condition.reason, condition.message),
        (false, true) => condition.reason.clone(),
        (true, false) => condition.message.clone(),
        (true, true) => "no reason given".to_string(),
    }
}
