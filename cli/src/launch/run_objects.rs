//! Objects a pipeline run creates (TrainJob, Experiment): a name unique to the run, labels naming the run and stage, and the task's pod as owner so they are garbage-collected with the run.
//!
//! A compiled manifest names the object after its stage (`fit`, `search`). Every run of the pipeline
//! (a retrain from the CronJob or an alert, a second manual run) creates its own: the launcher names it
//! `STAGE-HASH`, HASH the first 8 hex digits of SHA-256 over the run id and the stage name, so a retried
//! task (same run id, KFP's `{{$.pipeline_job_uuid}}`) computes the same name and adopts its object, and a
//! new run computes another. The stage part is shortened when the whole would not fit the kind's limit
//! (the hash covers the full stage name, so two shortened stages still differ).
//!
//! Clean-up: the object's owner is the task's pod, which KFP's container executor names in `KFP_POD_NAME`
//! and `KFP_POD_UID` (downward API; backend/src/v2/compiler/argocompiler/container.go, kubeflow/pipelines
//! 2.17). That pod is owned by the run's Argo Workflow, so Kubernetes' garbage collector deletes the object
//! when the run's pods go: when the run is deleted, when KFP's persistence agent deletes finished Workflows
//! after its TTL, or when an Argo pod-GC strategy removes them. A retry's pod is added as a second owner, so
//! the first attempt's pod going does not delete the object the retry waits for. Outside a KFP pod (a
//! manual `kfl launch`) there is no owner and the object stays until deleted
//! (`kubectl delete trainjobs,experiments -l kfl.dev/pipeline-run=RUN`).
//!
//! InferenceServices and PrometheusRules are not renamed: users and alerts call them by name, and each run
//! replaces the previous one in place.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kfl_compiler::codegen::launcher::{RUN_ANNOTATION, STAGE_LABEL};
use kube::api::DynamicObject;
use sha2::{Digest, Sha256};

/// Hex digits of the run hash in a name.
const HASH_DIGITS: usize = 8;

/// Katib refuses an Experiment name longer than 40 characters (pkg/webhook/v1beta1/experiment/validator/
/// validator.go, kubeflow/katib v0.19.0).
pub const EXPERIMENT_MAX_NAME: usize = 40;

/// The longest TrainJob name whose JobSet pods still get valid names: Trainer names the JobSet after the
/// TrainJob, and JobSet's webhook refuses a JobSet whose longest pod name `JOBSET-RJOB-JOBINDEX-PODINDEX-abcde`
/// is not a DNS-1035 label of at most 63 characters (pkg/webhooks/jobset_webhook.go and
/// pkg/util/placement, sigs.k8s.io/jobset v0.12.0). The longest replicated job of Trainer's runtimes is
/// `dataset-initializer` (pkg/constants/constants.go, kubeflow/trainer v2.3.0), one job, one pod.
pub const TRAINJOB_MAX_NAME: usize = 63 - "-dataset-initializer-0-0-abcde".len();

/// The environment KFP's container executor sets from the downward API.
const POD_NAME_ENV: &str = "KFP_POD_NAME";
const POD_UID_ENV: &str = "KFP_POD_UID";

/// `STAGE-HASH` within `max` characters.
pub fn run_unique_name(stage: &str, run_id: &str, max: usize) -> String {
    let digest = Sha256::digest(format!("{run_id}\n{stage}").as_bytes());
    let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect::<String>()[..HASH_DIGITS].to_string();
    let room = max.saturating_sub(HASH_DIGITS + 1);
    let head = stage.get(..room.min(stage.len())).unwrap_or(stage).trim_end_matches('-');
    format!("{head}-{hash}")
}

/// Renames the object for the run, labels it with the run and the stage, and makes the task's pod its owner.
/// Without a run id (a manual launch) the object keeps the manifest's name.
pub fn for_run(object: &mut DynamicObject, run_id: Option<&str>, max_name: usize) {
    let Some(run) = run_id else { return };
    let stage = object.metadata.name.clone().unwrap_or_default();
    object.metadata.name = Some(run_unique_name(&stage, run, max_name));
    let labels = object.metadata.labels.get_or_insert_default();
    labels.insert(STAGE_LABEL.to_string(), stage);
    // A label value is at most 63 characters of [A-Za-z0-9._-]: KFP's run ids (UUIDs) are; the annotation
    // holds any other.
    if run.len() <= 63 && run.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        labels.insert(RUN_ANNOTATION.to_string(), run.to_string());
    }
    if let Some(owner) = task_pod() {
        object.metadata.owner_references = Some(vec![owner]);
    }
}

/// The task's pod, from KFP's environment.
fn task_pod() -> Option<OwnerReference> {
    let name = std::env::var(POD_NAME_ENV).ok().filter(|n| !n.is_empty())?;
    let uid = std::env::var(POD_UID_ENV).ok().filter(|u| !u.is_empty())?;
    Some(OwnerReference { api_version: "v1".into(), kind: "Pod".into(), name, uid, ..OwnerReference::default() })
}

/// The owners `object` names that `existing` lacks (a retry's pod), or `None` when there are none.
pub fn missing_owners(object: &DynamicObject, existing: &DynamicObject) -> Option<Vec<OwnerReference>> {
    let have = existing.metadata.owner_references.clone().unwrap_or_default();
    let new: Vec<OwnerReference> = object
        .metadata
        .owner_references
        .iter()
        .flatten()
        .filter(|owner| !have.iter().any(|h| h.uid == owner.uid))
        .cloned()
        .collect();
    if new.is_empty() { None } else { Some(have.into_iter().chain(new).collect()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_per_run_distinct_across_runs_and_within_the_limit() {
        let uuid = "3f1c2a9e-8b7d-4c1e-9f00-1a2b3c4d5e6f";
        let first = run_unique_name("search", uuid, EXPERIMENT_MAX_NAME);
        assert_eq!(first, run_unique_name("search", uuid, EXPERIMENT_MAX_NAME), "a retry computes the same");
        assert_ne!(first, run_unique_name("search", "another-run", EXPERIMENT_MAX_NAME));
        assert!(first.starts_with("search-") && first.len() == "search-".len() + HASH_DIGITS, "{first}");
        let long = "a-very-long-stage-name-that-fills-the-katib-limit";
        let a = run_unique_name(long, uuid, EXPERIMENT_MAX_NAME);
        let b = run_unique_name(&format!("{long}-x"), uuid, EXPERIMENT_MAX_NAME);
        assert!(a.len() <= EXPERIMENT_MAX_NAME && b.len() <= EXPERIMENT_MAX_NAME, "{a} {b}");
        assert_ne!(a, b, "shortened names of different stages differ");
        let dashed = run_unique_name("abcdefghijklmnopqrstuvw-yz", uuid, TRAINJOB_MAX_NAME);
        assert!(!dashed.contains("--") && dashed.len() <= TRAINJOB_MAX_NAME, "{dashed}");
        assert_eq!(TRAINJOB_MAX_NAME, 33);
    }
}
