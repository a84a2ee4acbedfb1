//! `kfl apply`, `kfl diff` and `kfl status`: a file's up-front manifests against a live cluster, through server-side apply.
//!
//! The manifests are those `kfl build` writes under `manifests/`, compiled in memory. Objects go to the cluster by
//! server-side apply (field manager `kfl`, `fieldValidation=Strict`), so a field the API server does not know is an
//! error, never silently pruned. What `kfl apply` owns is recognisable on the cluster without local state: the
//! labels `app.kubernetes.io/managed-by: kfl` and `app.kubernetes.io/part-of: PROJECT` every manifest carries, and
//! a managed-fields entry of manager `kfl` with operation `Apply` (objects `kfl launch` creates for pipeline runs
//! are created, not applied, and carry the run annotation: prune never touches them).

pub mod apply;
pub mod diff;
pub mod pipeline;
pub mod status;
pub mod upload;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use kfl_compiler::codegen::launcher::RUN_ANNOTATION;
use kfl_compiler::codegen::{self, Context};
use kfl_compiler::diagnostics::render;
use kfl_compiler::ir::bind::BindOptions;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::KubeConfigOptions;
use kube::discovery::{self, Discovery, Scope, verbs};
use kube::{Client, Config};
use serde_json::Value as Json;

use crate::Status;

/// The field manager of every `kfl apply`; `kfl launch` creates with its own requests, never applies.
pub const FIELD_MANAGER: &str = "kfl";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const PART_OF: &str = "app.kubernetes.io/part-of";

/// The API groups of every kind `kfl build` emits (core PVCs, Services and Secrets, apps Deployments, batch CronJobs,
/// Notebook and Katib, Trainer, KServe, prometheus-operator): where `--prune` looks for the project's objects.
const PRUNE_GROUPS: &[&str] =
    &["", "apps", "batch", "kubeflow.org", "trainer.kubeflow.org", "serving.kserve.io", "monitoring.coreos.com"];

/// Which file, which params, which cluster: what the three commands share.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// The .kfl file whose manifests are compared with the cluster.
    file: PathBuf,
    /// Override a param: `-p NAME=VALUE` (repeatable), as for `kfl build`.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE", value_parser = crate::commands::build::parse_param)]
    params: Vec<(String, String)>,
    /// The kubeconfig context to use (default: the current context, or the in-cluster configuration).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Put every namespaced object in this namespace instead of the project's.
    #[arg(short = 'n', long, value_name = "NAME")]
    namespace: Option<String>,
    /// The image of the retraining CronJob and the retrain receiver, as for `kfl build --launcher-image`.
    #[arg(long, value_name = "IMAGE", value_parser = crate::commands::build::parse_launcher_image)]
    launcher_image: Option<String>,
}

/// A failure: a usage problem (nothing was sent: exit 2) or a cluster one (exit 1).
#[derive(Debug)]
pub enum Failure {
    Usage(String),
    Cluster(String),
}

pub type Result<T> = std::result::Result<T, Failure>;

impl Failure {
    pub fn report(self) -> Status {
        match self {
            Failure::Usage(message) => {
                eprintln!("error: {message}");
                Status::Usage
            }
            Failure::Cluster(message) => {
                eprintln!("error: {message}");
                Status::UserErrors
            }
        }
    }
}

/// The file's manifests and pipeline, compiled, with the project they belong to.
pub struct Declared {
    pub project: String,
    pub objects: Vec<Json>,
    /// pipeline.yaml, when the file has stages to run.
    pub pipeline: Option<String>,
    /// The project's `namespace` and `kfp`.
    pub namespace: Option<String>,
    pub kfp: Option<String>,
    /// The objects only the pipeline's runs create (`codegen::deployment`), which `kfl status` finds by label.
    pub run_created: Vec<codegen::deployment::Deferred>,
    /// The local datasets the pipeline reads from their staged copies in the project's object store, with the
    /// files to upload there.
    pub datasets: Vec<upload::StagedDataset>,
    /// The local datasets whose file was not found, with the URI the pipeline reads them from.
    pub absent: Vec<(String, String)>,
    /// The project's object store (`staging::object_store`).
    pub store: codegen::staging::ObjectStore,
    /// The `model-registry://` URIs the project's InferenceServices read (whether applied up front or by runs),
    /// which need a ClusterStorageContainer on the cluster (`kserve_storage.rs`).
    pub registry_uris: Vec<String>,
}

/// Checks and compiles the file; diagnostics are printed, and the status to exit with returned.
pub fn declared(target: &Target) -> std::result::Result<Declared, Status> {
    // As for `kfl build`: every param bound, and what only `kfl run` can do refused (W0402 is an error).
    let bind = BindOptions { params: target.params.clone(), require_all: true };
    let (sources, checked) = crate::commands::check_one_for(&target.file, &bind, true)?;
    let Some(program) = checked.program() else { return Err(Status::UserErrors) };
    let fail = |diagnostics: Vec<_>| {
        eprintln!("{}", render::render_all(&sources, &diagnostics, crate::commands::text_style()));
        Status::UserErrors
    };
    // The pipeline names each local dataset's staged copy by its digest, as `kfl build` does; nothing is copied.
    let base = target.file.parent().unwrap_or(std::path::Path::new("."));
    let staged = crate::commands::stage::stage(program, base).map_err(fail)?;
    let options = codegen::BuildOptions { launcher_image: target.launcher_image.clone(), ..staged.options() };
    let context = Context::new(program, &options);
    let mut registry_uris: Vec<String> = program
        .serves
        .iter()
        .filter_map(|serve| program.model(&serve.model))
        .map(|model| codegen::kserve::storage_uri(&context, model))
        .filter(|uri| uri.starts_with(crate::kserve_storage::REGISTRY_SCHEME))
        .collect();
    registry_uris.sort();
    registry_uris.dedup();
    let (project, namespace) = (context.project, context.namespace);
    let kfp = program.project.as_ref().and_then(|p| p.kfp.clone());
    // The whole build: exactly what `kfl build` writes under `manifests/` (the objects meaningful before any run,
    // as `codegen::deployment` places them) and the pipeline `--kfp` uploads.
    let output = codegen::build(program, &options).map_err(fail)?;
    let mut objects = Vec::new();
    let mut pipeline = None;
    for (path, text) in output.files {
        if path == "pipeline.yaml" {
            pipeline = Some(text);
            continue;
        }
        if !path.starts_with("manifests/") {
            continue;
        }
        let object: Json = serde_saphyr::from_str(&text).map_err(|err| {
            eprintln!("error: kfl build wrote {path}, which does not read back as YAML ({err}); this is a kfl bug");
            Status::UserErrors
        })?;
        objects.push(object);
    }
    let store = codegen::staging::object_store(program.project.as_ref());
    let (datasets, absent) = staged_datasets(program, &staged);
    let run_created = codegen::deployment::deferred(program);
    Ok(Declared { project, objects, pipeline, namespace, kfp, run_created, datasets, absent, store, registry_uris })
}

/// Each staged dataset with its files (paths under the store's root), and each absent one with its URI.
fn staged_datasets(
    program: &kfl_compiler::ir::Program,
    staged: &crate::commands::stage::Staged,
) -> (Vec<upload::StagedDataset>, Vec<(String, String)>) {
    use codegen::staging;
    let mut datasets = Vec::new();
    let mut absent = Vec::new();
    for dataset in staging::local_datasets(program) {
        if let Some(digest) = staged.digests.get(&dataset.name) {
            let place = staging::staged_path(digest, &dataset.uri);
            let files = staged
                .copies
                .iter()
                .filter_map(|(path, source)| {
                    let path = path.strip_prefix(staging::STAGE_DIR)?.strip_prefix('/')?;
                    let inside = path == place || path.strip_prefix(&place).is_some_and(|rest| rest.starts_with('/'));
                    inside.then(|| (path.to_string(), source.clone()))
                })
                .collect();
            datasets.push(upload::StagedDataset { name: dataset.name.clone(), files });
        } else if staged.absent.iter().any(|(name, _)| name == &dataset.name) {
            let uri = staging::under_root(program, &staging::unhashed_path(&dataset.name, &dataset.uri));
            absent.push((dataset.name.clone(), uri));
        }
    }
    (datasets, absent)
}

/// A connection, its default namespace, and what discovery found so far.
pub struct Session {
    pub client: Client,
    namespace_flag: Option<String>,
    default_namespace: String,
    kinds: HashMap<(String, String), (ApiResource, bool)>,
}

/// One declared object, resolved against the cluster's discovery.
pub struct Object {
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub name: String,
    pub body: DynamicObject,
}

impl Object {
    /// `Kind/name` (with the namespace when there is one), as every message names it.
    pub fn label(&self) -> String {
        label(&self.resource.kind, self.namespace.as_deref(), &self.name)
    }
}

pub fn label(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{kind}/{name} (namespace {namespace})"),
        None => format!("{kind}/{name}"),
    }
}

impl Session {
    pub async fn connect(target: &Target) -> Result<Session> {
        let config = match &target.context {
            Some(context) => {
                let options = KubeConfigOptions { context: Some(context.clone()), ..KubeConfigOptions::default() };
                Config::from_kubeconfig(&options)
                    .await
                    .map_err(|err| Failure::Usage(format!("kubeconfig context `{context}`: {err}")))?
            }
            None => Config::infer()
                .await
                .map_err(|err| Failure::Usage(format!("no cluster configuration (in-cluster or kubeconfig): {err}")))?,
        };
        let default_namespace = config.default_namespace.clone();
        let client = Client::try_from(config)
            .map_err(|err| Failure::Usage(format!("cannot build a Kubernetes client: {err}")))?;
        Ok(Session { client, namespace_flag: target.namespace.clone(), default_namespace, kinds: HashMap::new() })
    }

    /// The resource of a kind (plural, scope) from the server's discovery, asked once per kind.
    async fn resource(&mut self, api_version: &str, kind: &str) -> Result<(ApiResource, bool)> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.kinds.get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let (resource, capabilities) = discovery::pinned_kind(&self.client, &gvk).await.map_err(|err| {
            Failure::Cluster(format!(
                "the cluster does not serve {kind} ({api_version}): {}; is its CRD installed?",
                api_message(&err)
            ))
        })?;
        let found = (resource, capabilities.scope == Scope::Namespaced);
        self.kinds.insert(key, found.clone());
        Ok(found)
    }

    /// The declared objects in apply order (as compiled: storage first, then workloads in lifecycle order), each
    /// with its namespace settled: `--namespace`, else the manifest's, else the context's default.
    pub async fn resolve(&mut self, declared: &Declared) -> Result<Vec<Object>> {
        let mut objects = Vec::with_capacity(declared.objects.len());
        for manifest in &declared.objects {
            let text = |pointer: &str| manifest.pointer(pointer).and_then(Json::as_str).unwrap_or_default();
            let (api_version, kind, name) = (text("/apiVersion"), text("/kind"), text("/metadata/name"));
            let (resource, namespaced) = self.resource(api_version, kind).await?;
            let mut body: DynamicObject = serde_json::from_value(manifest.clone())
                .map_err(|err| Failure::Usage(format!("{kind}/{name} is not a Kubernetes object: {err}")))?;
            let namespace = namespaced.then(|| {
                self.namespace_flag
                    .clone()
                    .or_else(|| body.metadata.namespace.clone())
                    .unwrap_or_else(|| self.default_namespace.clone())
            });
            body.metadata.namespace = namespace.clone();
            objects.push(Object { resource, namespace, name: name.to_string(), body });
        }
        Ok(objects)
    }

    /// The namespace of what is not a manifest (the pipeline, its runs): `--namespace`, else the project's, else
    /// the context's default, as for the manifests.
    pub fn namespace_of(&self, declared: &Declared) -> String {
        self.namespace_flag
            .clone()
            .or_else(|| declared.namespace.clone())
            .unwrap_or_else(|| self.default_namespace.clone())
    }

    pub fn api(&self, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, resource),
            None => Api::all_with(self.client.clone(), resource),
        }
    }

    /// The live object, or `None` when there is none.
    pub async fn live(&self, object: &Object) -> Result<Option<DynamicObject>> {
        self.api(&object.resource, object.namespace.as_deref())
            .get_opt(&object.name)
            .await
            .map_err(|err| Failure::Cluster(format!("cannot read {}: {}", object.label(), api_message(&err))))
    }

    /// Server-side apply of one object (or its dry run): what the server stored, or would store.
    pub async fn apply(
        &self,
        object: &Object,
        dry_run: bool,
        force: bool,
    ) -> std::result::Result<DynamicObject, kube::Error> {
        let mut params = PatchParams::apply(FIELD_MANAGER).validation_strict();
        if dry_run {
            params = params.dry_run();
        }
        if force {
            params = params.force();
        }
        self.api(&object.resource, object.namespace.as_deref())
            .patch(&object.name, &params, &Patch::Apply(&object.body))
            .await
    }

    /// Which of the namespaces the objects go to exist (`true`) or not.
    pub async fn namespaces(&self, objects: &[Object]) -> Result<BTreeMap<String, bool>> {
        let names: BTreeSet<&str> = objects.iter().filter_map(|o| o.namespace.as_deref()).collect();
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let mut found = BTreeMap::new();
        for name in names {
            let exists = api
                .get_opt(name)
                .await
                .map_err(|err| Failure::Cluster(format!("cannot read namespace `{name}`: {}", api_message(&err))))?
                .is_some();
            found.insert(name.to_string(), exists);
        }
        Ok(found)
    }

    /// The project's applied objects in `namespaces` that no declaration names any more: what `--prune` deletes.
    pub async fn prunable(
        &self,
        project: &str,
        namespaces: &BTreeSet<String>,
        declared: &[Object],
    ) -> Result<Vec<(ApiResource, String, String)>> {
        let wanted: BTreeSet<(String, String, Option<String>, String)> = declared
            .iter()
            .map(|o| (o.resource.group.clone(), o.resource.kind.clone(), o.namespace.clone(), o.name.clone()))
            .collect();
        let discovery =
            Discovery::new(self.client.clone()).filter(PRUNE_GROUPS).run().await.map_err(|err| {
                Failure::Cluster(format!("cannot discover the cluster's kinds: {}", api_message(&err)))
            })?;
        let selector = format!("{MANAGED_BY}={FIELD_MANAGER},{PART_OF}={project}");
        let mut found = Vec::new();
        for group in discovery.groups() {
            for (resource, capabilities) in group.recommended_resources() {
                if capabilities.scope != Scope::Namespaced
                    || !capabilities.supports_operation(verbs::LIST)
                    || !capabilities.supports_operation(verbs::DELETE)
                {
                    continue;
                }
                for namespace in namespaces {
                    let api = self.api(&resource, Some(namespace));
                    let list = api.list(&ListParams::default().labels(&selector)).await.map_err(|err| {
                        Failure::Cluster(format!(
                            "cannot list {} in `{namespace}`: {}",
                            resource.plural,
                            api_message(&err)
                        ))
                    })?;
                    for item in list.items {
                        let name = item.metadata.name.clone().unwrap_or_default();
                        let key =
                            (resource.group.clone(), resource.kind.clone(), Some(namespace.clone()), name.clone());
                        // An object already being deleted (held by a finalizer, such as a PVC's protection) is
                        // on its way out: deleting it again would only race the finalizer.
                        let deleting = item.metadata.deletion_timestamp.is_some();
                        if applied_by_kfl(&item) && !deleting && !wanted.contains(&key) {
                            found.push((resource.clone(), namespace.clone(), name));
                        }
                    }
                }
            }
        }
        found.sort_by(|a, b| (&a.1, &a.0.kind, &a.2).cmp(&(&b.1, &b.0.kind, &b.2)));
        Ok(found)
    }
}

/// The project a live object is labelled with, when it is not the declaring one's: objects of the same name
/// from two projects must not silently take each other over.
pub fn other_project(live: &DynamicObject, object: &Object) -> Option<String> {
    let owner = live.metadata.labels.as_ref()?.get(PART_OF)?;
    let declared = object.body.metadata.labels.as_ref().and_then(|labels| labels.get(PART_OF));
    (Some(owner) != declared).then(|| owner.clone())
}

/// Applied by `kfl apply` (a managed-fields entry of manager `kfl`, operation `Apply`) and not an object a
/// pipeline run created.
fn applied_by_kfl(object: &DynamicObject) -> bool {
    let from_run = object.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(RUN_ANNOTATION));
    let applied =
        object.metadata.managed_fields.iter().flatten().any(|entry| {
            entry.manager.as_deref() == Some(FIELD_MANAGER) && entry.operation.as_deref() == Some("Apply")
        });
    applied && !from_run
}

/// The server's own message for an API error (reason, code, message), anything else as it prints.
pub fn api_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => format!("{} ({}): {}", status.reason, status.code, status.message),
        other => other.to_string(),
    }
}

/// An object as the user compares it: without what the server maintains (managed fields, resource version,
/// generation, uid, timestamps, status).
pub fn comparable(object: &DynamicObject) -> Json {
    let mut json = serde_json::to_value(object).unwrap_or_default();
    if let Some(map) = json.as_object_mut() {
        map.remove("status");
    }
    if let Some(metadata) = json.get_mut("metadata").and_then(Json::as_object_mut) {
        for key in ["managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"] {
            metadata.remove(key);
        }
    }
    json
}

/// One command: compile the file, then run `body` on a current-thread event loop; a failure becomes the status
/// `on_failure` gives (after printing it).
pub fn command<F, Fut>(target: &Target, on_failure: fn(Failure) -> Status, body: F) -> Status
where
    F: FnOnce(Declared) -> Fut,
    Fut: std::future::Future<Output = Result<Status>>,
{
    let declared = match declared(target) {
        Ok(declared) => declared,
        Err(status) => return status,
    };
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(body(declared)).unwrap_or_else(on_failure),
        Err(err) => {
            eprintln!("error: cannot start the event loop: {err}");
            Status::Usage
        }
    }
}
