//! The scheduling and credential properties (`ir::Scheduling`) as the pod fields every target shares, and what a target cannot carry (E0402 on the property).
//!
//! Where each lands: a KFP step's `KubernetesExecutorConfig` (`kfp/stage.rs`), a TrainJob's
//! `runtimePatches` (`trainer.rs`), a Katib Job trial's pod (`katib.rs`), the InferenceService predictor and
//! transformer (`kserve.rs`), the Notebook's pod template (`notebook.rs`). `queue` is Kueue's
//! `kueue.x-k8s.io/queue-name` label on the object Kueue manages: the TrainJob (Kueue's TrainJob
//! integration, which also needs `spec.suspend: true` until admission — kueue.sigs.k8s.io "Run A TrainJob"),
//! the trial Job (batch/Job integration), and the pods of steps, serves and notebooks (Kueue's plain-Pod
//! integration; the notebook controller copies the Notebook's labels to its pod, kubeflow/notebooks
//! `notebook-controller/controllers/notebook_controller.go` `generateStatefulSet`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, LocalObjectReference, PodSpec, Toleration};

use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::{self, Scheduling};
use crate::typeck::schema::EnumSet;

/// Kueue's queue label (sigs.k8s.io/kueue `pkg/controller/constants`, `QueueLabel`).
pub(crate) const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";

pub(crate) fn node_selector(scheduling: &Scheduling) -> Option<BTreeMap<String, String>> {
    let map: BTreeMap<String, String> = scheduling.node_selector.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    (!map.is_empty()).then_some(map)
}

/// Tolerations in Kubernetes' spelling (`exists` → `Exists`, `no_execute` → `NoExecute`).
pub(crate) fn tolerations(scheduling: &Scheduling) -> Option<Vec<Toleration>> {
    let list: Vec<Toleration> = scheduling
        .tolerations
        .iter()
        .map(|t| Toleration {
            key: t.key.clone(),
            operator: Some(EnumSet::kubernetes(&t.operator)),
            value: t.value.clone(),
            effect: t.effect.as_deref().map(EnumSet::kubernetes),
            toleration_seconds: t.evict_after.map(|d| i64::try_from(d.seconds()).unwrap_or(i64::MAX)),
        })
        .collect();
    (!list.is_empty()).then_some(list)
}

pub(crate) fn image_pull_secrets(scheduling: &Scheduling) -> Option<Vec<LocalObjectReference>> {
    let list: Vec<LocalObjectReference> =
        scheduling.image_pull_secrets.iter().map(|name| LocalObjectReference { name: name.clone() }).collect();
    (!list.is_empty()).then_some(list)
}

/// `image_pull_policy` as Kubernetes spells it.
pub(crate) fn pull_policy(scheduling: &Scheduling) -> Option<String> {
    scheduling.image_pull_policy.as_deref().map(EnumSet::kubernetes)
}

/// The labels Kueue reads (`queue`).
pub(crate) fn queue_labels(scheduling: &Scheduling) -> BTreeMap<String, String> {
    scheduling.queue.iter().map(|q| (QUEUE_LABEL.to_string(), q.clone())).collect()
}

/// Adds the queue label to `labels`.
pub(crate) fn add_queue_label(scheduling: &Scheduling, labels: &mut Option<BTreeMap<String, String>>) {
    let queue = queue_labels(scheduling);
    if !queue.is_empty() {
        labels.get_or_insert_with(BTreeMap::new).extend(queue);
    }
}

/// The pod-level fields on `spec`, and the pull policy on each of its containers.
pub(crate) fn apply(scheduling: &Scheduling, spec: &mut PodSpec) {
    spec.node_selector = node_selector(scheduling);
    spec.tolerations = tolerations(scheduling);
    spec.priority_class_name = scheduling.priority_class.clone();
    spec.service_account_name = scheduling.service_account.clone();
    spec.image_pull_secrets = image_pull_secrets(scheduling);
    for container in &mut spec.containers {
        apply_container(scheduling, container);
    }
}

pub(crate) fn apply_container(scheduling: &Scheduling, container: &mut Container) {
    if let Some(policy) = pull_policy(scheduling) {
        container.image_pull_policy = Some(policy);
    }
}

/// The project's scheduling as it applies to a launcher pod (a pipeline's `kfl launch` tasks, the retraining
/// CronJob, the retrain receiver): where it may run (`node_selector`, `tolerations`), how it pulls the launcher
/// image (`image_pull_secrets`, `image_pull_policy`) and `priority_class` where the pod has a field for it. Not
/// `gpu_type` (its node-selector entry) nor `queue`: a launcher needs no GPU, and waiting in a GPU queue it could
/// hold back the very job it launches. Not `service_account`: each launcher pod has its own (the run's, or the
/// launcher account of `rbac.rs`).
pub(crate) fn launcher(program: &ir::Program) -> Scheduling {
    let Some(project) = &program.project else { return Scheduling::default() };
    let mut scheduling = project.scheduling.clone();
    if let Some(label) = scheduling.gpu_label.take() {
        scheduling.node_selector.shift_remove(&label);
    }
    scheduling.gpu_type = None;
    scheduling.queue = None;
    scheduling.service_account = None;
    scheduling
}

/// `launcher(program)` on a launcher pod's spec, keeping the pod's own service account.
pub(crate) fn apply_launcher(program: &ir::Program, spec: &mut PodSpec) {
    let account = spec.service_account_name.take();
    apply(&launcher(program), spec);
    spec.service_account_name = account;
}

/// The stages and serves `kfl run` runs whose scheduling properties (their own or the project's) only a
/// cluster applies, each with those properties' names in table order: `kfl run`'s summary lists them.
pub fn cluster_only(program: &ir::Program) -> Vec<(String, Vec<&'static str>)> {
    let names = |scheduling: &Scheduling| -> Vec<&'static str> {
        crate::typeck::schema::SCHEDULING
            .iter()
            .chain(crate::typeck::schema::POD_IDENTITY)
            .map(|spec| spec.name)
            .filter(|name| scheduling.written.contains_key(name))
            .collect()
    };
    program
        .stages
        .iter()
        .map(|s| (&s.name, &*s.scheduling))
        .chain(program.serves.iter().map(|s| (&s.name, &s.scheduling)))
        .map(|(name, scheduling)| (name.clone(), names(scheduling)))
        .filter(|(_, names)| !names.is_empty())
        .collect()
}

/// A target and the properties its object has no field for.
struct Limits {
    target: &'static str,
    refused: &'static [(&'static str, &'static str)],
}

/// A KFP task's pod is what the driver builds from `KubernetesExecutorConfig` (kubeflow/pipelines 2.17.0
/// `kubernetes_platform/proto/kubernetes_executor_config.proto`, `backend/src/v2/driver/k8s.go`): no
/// priority class, and the service account is the run's, one for every task.
const KFP_TASK: Limits = Limits {
    target: "the pod of a KFP task",
    refused: &[
        ("priority_class", "kfp-kubernetes 2.17 has no priority class field; KFP runs every task at the same priority"),
        (
            "service_account",
            "KFP runs every task of a run under the run's service account (kfp-kubernetes 2.17 has no per-task one)",
        ),
    ],
};

/// Trainer v2.3.0 `TrainJob.spec.runtimePatches` pod spec patch: affinity, containers (env, securityContext,
/// volumeMounts only), imagePullSecrets, initContainers, nodeSelector, schedulingGates, securityContext,
/// serviceAccountName, terminationGracePeriodSeconds, tolerations, volumes
/// (`pkg/apis/trainer/v1alpha1/trainjob_types.go`, `shared/schemas/crds/trainer`).
const TRAIN_JOB: Limits = Limits {
    target: "a TrainJob (Trainer v2.3.0)",
    refused: &[
        ("priority_class", "Trainer v2.3.0's runtime patches have no `priorityClassName`; set it in the runtime"),
        (
            "image_pull_policy",
            "Trainer v2.3.0's runtime patches cannot set a container's `imagePullPolicy`; set it in the runtime",
        ),
    ],
};

/// E0402 for each scheduling property a stage's target cannot carry, on the property. A project default is
/// the default of the declarations whose target carries it: the others keep their target's own behaviour
/// (docs/TARGETS.md lists which), so a project may set `priority_class` for its serves and notebooks even
/// when it has pipeline steps.
pub(crate) fn check(program: &ir::Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for stage in &program.stages {
        let limits = match (&stage.train, &stage.trial_of) {
            (Some(_), _) => &TRAIN_JOB,
            (None, None) => &KFP_TASK,
            // A step trial is a Katib batch/v1 Job: its pod carries every property.
            (None, Some(_)) => continue,
        };
        for (name, why) in limits.refused {
            let Some(written) = stage.scheduling.written.get(name).filter(|w| !w.inherited) else { continue };
            if !seen.insert((written.span, *name, limits.target)) {
                continue;
            }
            out.push(
                Diagnostic::error(
                    Code::PatchDoesNotFit,
                    format!("`{name}` cannot be set on {}", limits.target),
                    Label::new(written.span, "no field for it"),
                )
                .with_help(format!("remove `{name}` from `{}`", stage.name))
                .with_note((*why).to_string()),
            );
        }
    }
    out
}
