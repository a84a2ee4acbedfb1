//! `kfl apply`: server-side apply of a file's manifests, namespaces first, with `--prune` of what the file dropped; then, with `--kfp` or `project.kfp`, the pipeline uploaded to KFP and a run started.

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value as Json, json};

use super::{Failure, Object, Session, Target, api_message, comparable, label};
use crate::Status;
use crate::kserve_storage::{self, Support};

/// Apply the file's manifests to the cluster (server-side apply, field manager `kfl`), then upload its pipeline to
/// Kubeflow Pipelines and start a run (with `--kfp URL` or `project.kfp`).
///
/// A second apply of the same file changes no object and says so; with KFP it starts another run of the same
/// pipeline version. Example: `kfl apply iris.kfl --prune --kfp https://kubeflow.example.com/pipeline`
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    /// `--dry-run=server`: the API server and its admission webhooks check every object; nothing is stored.
    #[arg(long, value_name = "server", value_parser = ["server"])]
    dry_run: Option<String>,
    /// Delete this project's applied objects (in the namespaces the file uses) that the file no longer declares.
    #[arg(long)]
    prune: bool,
    /// Take over fields another field manager owns, and objects of the same name another kfl project applied,
    /// instead of refusing the conflict.
    #[arg(long)]
    force_conflicts: bool,
    #[command(flatten)]
    kfp: super::pipeline::KfpArgs,
    #[command(flatten)]
    upload: super::upload::UploadArgs,
}

pub fn run(args: Args) -> Status {
    let args = &args;
    super::command(&args.target, Failure::report, move |declared| async move { apply(args, &declared).await })
}

/// Refuses the apply, before anything is sent, when KServe could not fetch a `model-registry://` model the
/// project serves: no ClusterStorageContainer supports the URI (the runs' InferenceServices would never be Ready).
async fn storage_containers(session: &Session, declared: &super::Declared, suffix: &str) -> super::Result<()> {
    for uri in &declared.registry_uris {
        match kserve_storage::support(&session.client, uri).await.map_err(Failure::Cluster)? {
            Support::By(name) => println!("`{uri}` is fetched by ClusterStorageContainer/{name}{suffix}"),
            Support::Missing(why) => return Err(Failure::Cluster(format!("{why}; nothing was applied{suffix}"))),
            Support::Unchecked(why) => eprintln!("warning: {why}"),
        }
    }
    Ok(())
}

async fn apply(args: &Args, declared: &super::Declared) -> super::Result<Status> {
    let dry_run = args.dry_run.is_some();
    let suffix = if dry_run { " (server dry run)" } else { "" };
    let endpoint = args.kfp.endpoint(declared.kfp.as_deref())?;
    check_run_namespace(args, declared, endpoint.is_some())?;
    let mut session = Session::connect(&args.target).await?;
    storage_containers(&session, declared, suffix).await?;
    let objects = session.resolve(declared).await?;
    // The data first: a run must never start without it, and a failed upload leaves the cluster as it was.
    super::upload::upload(&session, declared, &args.upload, dry_run).await?;
    let namespaces = session.namespaces(&objects).await?;
    for (namespace, _) in namespaces.iter().filter(|(_, exists)| !**exists) {
        let experiments = objects
            .iter()
            .any(|o| o.resource.kind == "Experiment" && o.namespace.as_deref() == Some(namespace.as_str()));
        create_namespace(&session, namespace, &declared.project, experiments, dry_run).await?;
        println!("Namespace/{namespace} created{suffix}");
    }
    let mut failed = Vec::new();
    for object in &objects {
        let missing_namespace = object.namespace.as_ref().is_some_and(|n| namespaces.get(n) == Some(&false));
        if dry_run && missing_namespace {
            // A dry run stores no namespace, so the server cannot check objects inside one that does not exist.
            println!(
                "{} would be created (its namespace does not exist yet: not checked by the server)",
                object.label()
            );
            continue;
        }
        match apply_one(&session, object, dry_run, args.force_conflicts).await {
            Ok(outcome) => println!("{} {outcome}{suffix}", object.label()),
            Err(message) => {
                eprintln!("error: {} refused: {message}", object.label());
                failed.push(object.label());
            }
        }
    }
    if args.prune {
        let in_use = namespaces.keys().cloned().collect();
        for (resource, namespace, name) in session.prunable(&declared.project, &in_use, &objects).await? {
            let api = session.api(&resource, Some(&namespace));
            let params = DeleteParams { dry_run, ..DeleteParams::background() };
            let what = label(&resource.kind, Some(&namespace), &name);
            match api.delete(&name, &params).await {
                Ok(_) => println!("{what} pruned (no longer declared){suffix}"),
                // Gone between the listing and the delete: what prune wanted.
                Err(kube::Error::Api(status)) if status.code == 404 => println!("{what} already deleted"),
                Err(err) => {
                    eprintln!("error: cannot delete {what}: {}", api_message(&err));
                    failed.push(what);
                }
            }
        }
    }
    if !failed.is_empty() {
        eprintln!("error: {} of the objects failed (above); the others were applied{suffix}", failed.len());
        if endpoint.is_some() && declared.pipeline.is_some() {
            eprintln!(
                "error: the pipeline was not uploaded and no run was started (its tasks need every object): fix the \
                 failures above and apply again"
            );
        }
        return Ok(Status::UserErrors);
    }
    let (Some(endpoint), Some(spec)) = (&endpoint, &declared.pipeline) else {
        match (&endpoint, &declared.pipeline) {
            (None, Some(_)) => {
                eprintln!("note: pipeline.yaml was not uploaded (no --kfp URL and no `kfp` in the project)");
            }
            (Some(endpoint), None) => {
                eprintln!("note: the file declares no stages to run: no pipeline for {}", endpoint.url());
            }
            _ => {}
        }
        return Ok(Status::Ok);
    };
    let publication = super::pipeline::Publication {
        pipeline: declared.project.clone(),
        namespace: session.namespace_of(declared),
        spec: spec.clone(),
        source: args.target.file.file_name().unwrap_or_default().to_string_lossy().into_owned(),
    };
    if dry_run {
        let parameters = Json::Object(super::pipeline::runtime_parameters(spec));
        println!(
            "pipeline `{}` would be uploaded to {} (namespace {}) and a run started with parameters {parameters}; \
             KFP was not contacted (dry run)",
            publication.pipeline,
            endpoint.url(),
            publication.namespace
        );
        return Ok(Status::Ok);
    }
    let endpoint = endpoint.clone();
    let endpoint_url = endpoint.url().to_string();
    let published = tokio::task::spawn_blocking(move || {
        super::pipeline::publish(&endpoint, &publication).map(|p| (p, publication))
    })
    .await
    .map_err(|err| Failure::Cluster(format!("the KFP calls stopped: {err}")))?;
    match published {
        Ok((published, publication)) => {
            let what = if published.uploaded { "uploaded" } else { "unchanged (the newest version has this content)" };
            println!(
                "Pipeline/{} version {} {what} (pipeline {}, version {})",
                publication.pipeline, published.version_name, published.pipeline_id, published.version_id
            );
            match &published.namespace {
                Some(namespace) => {
                    println!("Run {} started in namespace {namespace}: {}", published.run_id, published.run_url)
                }
                None => {
                    println!("Run {} started: {}", published.run_id, published.run_url);
                    eprintln!(
                        "warning: KFP at {} runs in single-user mode: the run executes in the namespace KFP is \
                         installed in, and its launcher tasks stop before creating anything unless that is `{}` (the \
                         project's namespace); install the project there or use multi-user Kubeflow Pipelines",
                        endpoint_url, publication.namespace
                    );
                }
            }
            Ok(Status::Ok)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(Status::UserErrors)
        }
    }
}

/// The compiled launcher tasks create the run's objects in the project's `namespace` (`--namespace` in their
/// arguments), where the compiled Role is bound, and `kfl launch` refuses to run in any other. `-n` moves the
/// manifests, the Role included, but not what the pipeline was compiled with: starting a run there (`--kfp`) is
/// refused before anything is sent; without `--kfp`, a warning says where runs must execute.
fn check_run_namespace(args: &Args, declared: &super::Declared, starts_run: bool) -> super::Result<()> {
    let (Some(flag), Some(project)) = (&args.target.namespace, &declared.namespace) else { return Ok(()) };
    let launches = declared.objects.iter().any(|o| o.get("kind").and_then(Json::as_str) == Some("Role"));
    if flag == project || declared.pipeline.is_none() || !launches {
        return Ok(());
    }
    let why = format!(
        "the pipeline's launcher tasks create their objects in the project's namespace `{project}` and refuse to run \
         elsewhere, while -n puts the manifests, the launcher Role included, in `{flag}`"
    );
    if starts_run {
        return Err(Failure::Usage(format!(
            "cannot start a run in namespace `{flag}`: {why}; nothing was applied or uploaded\n  help: drop -n to use \
             `{project}`, or set the project's `namespace = \"{flag}\"`"
        )));
    }
    eprintln!("warning: {why}; runs of this pipeline must execute in `{project}`, where no launcher Role is applied");
    Ok(())
}

/// `created`, `configured` or `unchanged`: the server's answer compared with the object before.
async fn apply_one(session: &Session, object: &Object, dry_run: bool, force: bool) -> Result<&'static str, String> {
    let before = session.live(object).await.map_err(|failure| match failure {
        Failure::Usage(message) | Failure::Cluster(message) => message,
    })?;
    if let Some(owner) = before.as_ref().and_then(|live| super::other_project(live, object)).filter(|_| !force) {
        return Err(format!(
            "it belongs to project `{owner}` (label {}); it was left as it is: rename the declaration, or take the \
             object over with --force-conflicts",
            super::PART_OF
        ));
    }
    let after = session.apply(object, dry_run, force).await.map_err(|err| {
        let conflict = matches!(&err, kube::Error::Api(status) if status.code == 409);
        let hint =
            if conflict { " (another field manager owns these fields: --force-conflicts takes them over)" } else { "" };
        format!("{}{hint}", api_message(&err))
    })?;
    let Some(before) = before else { return Ok(if dry_run { "would be created" } else { "created" }) };
    // An apply that changes nothing leaves the resource version as it was; a controller may have written the
    // object between the read and the apply (a PVC's binding annotations), so equal content counts as unchanged
    // too, and a dry run's answer, never stored, is judged by content alone.
    let same_version = !dry_run && before.metadata.resource_version == after.metadata.resource_version;
    let unchanged = same_version || comparable(&before) == comparable(&after);
    Ok(match (unchanged, dry_run) {
        (true, _) => "unchanged",
        (false, true) => "would be configured",
        (false, false) => "configured",
    })
}

/// The namespace label without which Katib's Experiment validator refuses every Experiment in the namespace
/// (kubeflow/katib v0.19.0 `pkg/webhook/v1beta1/experiment/validation_webhook.go`); Kubeflow's profile
/// controller gives it to every profile namespace.
const KATIB_INJECTION_LABEL: (&str, &str) = ("katib.kubeflow.org/metrics-collector-injection", "enabled");

/// Creates a namespace the objects need, labelled as the project's (never pruned: other objects may live there),
/// and as Katib requires when Experiments go in it.
async fn create_namespace(
    session: &Session,
    name: &str,
    project: &str,
    experiments: bool,
    dry_run: bool,
) -> super::Result<()> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(session.client.clone());
    let mut labels = json!({ super::MANAGED_BY: super::FIELD_MANAGER, super::PART_OF: project });
    if experiments {
        labels[KATIB_INJECTION_LABEL.0] = json!(KATIB_INJECTION_LABEL.1);
    }
    let body = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": name, "labels": labels },
    });
    let mut params = PatchParams::apply(super::FIELD_MANAGER).validation_strict();
    if dry_run {
        params = params.dry_run();
    }
    api.patch(name, &params, &Patch::Apply(&body))
        .await
        .map_err(|err| Failure::Cluster(format!("cannot create namespace `{name}`: {}", api_message(&err))))?;
    Ok(())
}
