//! `kfl diff`: what `kfl apply` would change, from a server-side dry run against the live objects.

use std::collections::BTreeSet;

use kfl_compiler::codegen::yaml::to_yaml;
use serde_json::Value as Json;
use similar::TextDiff;

use super::{Failure, Object, Session, Target, api_message, comparable, label};
use crate::Status;

/// Show what `kfl apply` would change on the cluster, as a unified diff per object.
///
/// Exit status: 0 nothing would change, 1 something would, 2 an error. Example: `kfl diff iris.kfl -p epochs=50`
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    target: Target,
}

pub fn run(args: Args) -> Status {
    let args = &args;
    // Exit 1 means "differences", so every failure is 2 here.
    let failed = |failure: Failure| {
        failure.report();
        Status::Usage
    };
    super::command(&args.target, failed, move |declared| async move { diff(args, &declared).await })
}

async fn diff(args: &Args, declared: &super::Declared) -> super::Result<Status> {
    let mut session = Session::connect(&args.target).await?;
    let objects = session.resolve(declared).await?;
    let namespaces = session.namespaces(&objects).await?;
    let mut changed = false;
    let mut failed = false;
    for object in &objects {
        let missing_namespace = object.namespace.as_ref().is_some_and(|n| namespaces.get(n) == Some(&false));
        let live = if missing_namespace { None } else { session.live(object).await? };
        let Some(live) = live else {
            // New objects are shown as the file declares them; the server cannot dry-run them into a namespace
            // that does not exist yet.
            print_diff(object, &Json::Null, &manifest_json(object), "after apply");
            changed = true;
            continue;
        };
        if let Some(owner) = super::other_project(&live, object) {
            eprintln!(
                "warning: {} belongs to project `{owner}`: `kfl apply` refuses it unless --force-conflicts",
                object.label()
            );
        }
        match session.apply(object, true, false).await {
            Ok(after) => {
                let (before, after) = (comparable(&live), comparable(&after));
                if before != after {
                    print_diff(object, &before, &after, "after apply");
                    changed = true;
                }
            }
            Err(kube::Error::Api(status)) if status.code == 422 => {
                // Core immutable fields and CRD transition rules (`self == oldSelf`) are enforced on update, so
                // the dry run is refused exactly when apply would be.
                eprintln!(
                    "warning: {} cannot be changed in place: {} ({}): {}; apply would be refused: delete the \
                     object and apply again to re-create it",
                    object.label(),
                    status.reason,
                    status.code,
                    status.message
                );
                let declared = manifest_json(object);
                print_diff(object, &declared_part(&comparable(&live), &declared), &declared, "declared");
                changed = true;
            }
            Err(err) => {
                eprintln!("error: {} refused by the server's dry run: {}", object.label(), api_message(&err));
                failed = true;
            }
        }
    }
    let in_use: BTreeSet<String> = namespaces.iter().filter(|(_, exists)| **exists).map(|(n, _)| n.clone()).collect();
    for (resource, namespace, name) in session.prunable(&declared.project, &in_use, &objects).await? {
        println!(
            "{} is no longer declared: `kfl apply --prune` deletes it",
            label(&resource.kind, Some(&namespace), &name)
        );
        changed = true;
    }
    Ok(if failed {
        Status::Usage
    } else if changed {
        Status::UserErrors
    } else {
        Status::Ok
    })
}

fn manifest_json(object: &Object) -> Json {
    serde_json::to_value(&object.body).unwrap_or_default()
}

/// The part of the live object the manifest declares, in the manifest's key order: the server's defaults and
/// what controllers added are not the user's change.
fn declared_part(live: &Json, declared: &Json) -> Json {
    match (live, declared) {
        (Json::Object(live), Json::Object(declared)) => Json::Object(
            declared
                .iter()
                .filter_map(|(key, value)| live.get(key).map(|found| (key.clone(), declared_part(found, value))))
                .collect(),
        ),
        (live, _) => live.clone(),
    }
}

/// A unified diff of the two objects as YAML, headed by the object it is about.
fn print_diff(object: &Object, live: &Json, applied: &Json, applied_name: &str) {
    let before = if live.is_null() { String::new() } else { to_yaml(live) };
    let after = to_yaml(applied);
    let header = object.label();
    let live_header =
        if live.is_null() { format!("{header} (not on the cluster)") } else { format!("{header} (live)") };
    let text = TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&live_header, &format!("{header} ({applied_name})"))
        .to_string();
    print!("{text}");
}
