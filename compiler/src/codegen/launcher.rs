//! The contract between the compiled pipeline and `kfl launch`: the markers a launcher manifest carries for run-time values.
//!
//! A pipeline task that creates a cluster resource (a `train`, `tune`,
//! `serve` or `monitor`) passes the whole manifest inline
//! (`--manifest-json '{…}'`), so the task needs nothing from the build
//! directory. Values known only when the task runs (its bound inputs, params
//! and other stages' outputs read directly, its own outputs) appear in that
//! manifest as markers, which `kfl launch` replaces in every string of the
//! parsed manifest with the value of the matching flag:
//!
//! | marker                 | flag                 | what                                   |
//! |------------------------|----------------------|----------------------------------------|
//! | `${kfl.inputs.NAME}`   | `--set NAME=VALUE`   | a declared input of the task           |
//! | `${kfl.refs.NAME}`     | `--ref NAME=VALUE`   | a param or another task's output (`pipelinechannel--NAME`) |
//! | `${kfl.outputs.NAME}`  | `--output NAME=URI`  | an output artifact of a `train`        |
//!
//! In a `tune`'s Experiment, `${kfl.outputs.NAME}` in the trial stands for
//! the trial's own place under the task's `--best NAME=URI`
//! (`URI/<trial name>`, through a trial parameter that Katib fills with
//! `${trialSpec.Name}`); once the Experiment succeeds, the launcher writes
//! KFP's executor output file so the task's output artifact is the best
//! trial's.
//!
//! A `train`'s metrics and other non-artifact outputs are not markers: the
//! training code prints `NAME=VALUE` lines (the format Katib's StdOut
//! collector reads) and the launcher takes the last value of each from the
//! log of the trainer's first pod (`--metric NAME=FILE`).
//!
//! Replacing inside parsed strings (not in the JSON text) means a value with
//! quotes or backslashes cannot break the manifest. The `${…}` form is the one
//! Katib uses for `${trialParameters.NAME}`, which the launcher leaves alone;
//! Kubernetes only expands `$(VAR)`, never `${…}`.

/// The marker of a declared input, filled from `--set NAME=VALUE`.
pub fn input_marker(name: &str) -> String {
    format!("${{{INPUTS}.{name}}}")
}

/// The marker of a param or another task's output, filled from `--ref NAME=VALUE`.
pub fn ref_marker(name: &str) -> String {
    format!("${{{REFS}.{name}}}")
}

/// The marker of an output artifact, filled from `--output NAME=URI`.
pub fn output_marker(name: &str) -> String {
    format!("${{{OUTPUTS}.{name}}}")
}

/// Marker namespaces, as `kfl launch` parses them.
pub const INPUTS: &str = "kfl.inputs";
pub const REFS: &str = "kfl.refs";
pub const OUTPUTS: &str = "kfl.outputs";

/// The flag that carries the run's id (`{{$.pipeline_job_uuid}}`); the launcher records it on the resource.
pub const RUN_ID_FLAG: &str = "--run-id";

/// The annotation holding the id of the run that created a resource (also its label, when the id is a valid
/// label value, so `kubectl get … -l kfl.dev/pipeline-run=RUN` lists a run's objects).
pub const RUN_ANNOTATION: &str = "kfl.dev/pipeline-run";

/// The label naming the stage a run's object was created for (its name carries a run hash).
pub const STAGE_LABEL: &str = "kfl.dev/stage";

/// The environment variable a launcher task's pod gets its own namespace in (the downward API's
/// `metadata.namespace`, through kfp-kubernetes `fieldPathAsEnv`, which the driver turns into a `fieldRef` env
/// var: `backend/src/v2/driver/k8s.go`, kubeflow/pipelines 2.17.0). `kfl launch` refuses to create a
/// namespaced object anywhere else: the project's Role is bound in the project's namespace, and a run's objects
/// are owned by the task's pod, which an object in another namespace cannot be.
pub const POD_NAMESPACE_ENV: &str = "KFL_POD_NAMESPACE";

/// The downward-API field `POD_NAMESPACE_ENV` is filled from.
pub const POD_NAMESPACE_FIELD: &str = "metadata.namespace";

/// The flag that carries KFP's executor input (`{{$}}`), for a task that must tell KFP where an output artifact
/// ended up (a tune's best trial's artifacts).
pub const EXECUTOR_INPUT_FLAG: &str = "--executor-input";

/// The environment variable holding the bearer token the retrain receiver (`kfl launch retrain
/// --listen`) requires on `/alerts`; its Deployment fills it from the receiver's Secret.
pub const ALERT_TOKEN_ENV: &str = "KFL_ALERT_TOKEN";

/// The flag that carries the manifest.
pub const MANIFEST_FLAG: &str = "--manifest-json";

/// Where launcher pods that start pipeline runs (the retrain CronJob, the alert receiver) get the projected
/// service-account token KFP accepts in multi-user mode, and the file in it `kfl launch retrain` reads.
pub const KFP_TOKEN_DIR: &str = "/var/run/secrets/kubeflow/pipelines";
pub const KFP_TOKEN_FILE_NAME: &str = "token";

/// A kind `kfl launch` creates, with every API verb it uses on it, and on the kinds it reads besides:
/// the one table the launcher's clients and the compiled Role (`rbac.rs`) are built from.
#[derive(Clone, Copy, Debug)]
pub struct LaunchedKind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    /// `create` (the first attempt), `get` (polling, and reading the existing object on a conflict),
    /// `update` (replacing a serving object, or adding a retry's pod to a run object's owners).
    pub verbs: &'static [&'static str],
    /// Other resources read while waiting: (API group, resource, verbs).
    pub reads: &'static [(&'static str, &'static str, &'static [&'static str])],
}

const CREATE_GET_UPDATE: &[&str] = &["create", "get", "update"];

/// `kfl launch trainjob`: also lists the TrainJob's pods and reads the trainer's log for its metrics.
pub const TRAINJOB: LaunchedKind = LaunchedKind {
    group: "trainer.kubeflow.org",
    version: "v1alpha1",
    kind: "TrainJob",
    plural: "trainjobs",
    verbs: CREATE_GET_UPDATE,
    reads: &[("", "pods", &["list"]), ("", "pods/log", &["get"])],
};

/// `kfl launch experiment`.
pub const EXPERIMENT: LaunchedKind = LaunchedKind {
    group: "kubeflow.org",
    version: "v1beta1",
    kind: "Experiment",
    plural: "experiments",
    verbs: CREATE_GET_UPDATE,
    reads: &[],
};

/// `kfl launch inferenceservice`.
pub const INFERENCE_SERVICE: LaunchedKind = LaunchedKind {
    group: "serving.kserve.io",
    version: "v1beta1",
    kind: "InferenceService",
    plural: "inferenceservices",
    verbs: CREATE_GET_UPDATE,
    reads: &[],
};

/// `kfl launch monitor`.
pub const PROMETHEUS_RULE: LaunchedKind = LaunchedKind {
    group: "monitoring.coreos.com",
    version: "v1",
    kind: "PrometheusRule",
    plural: "prometheusrules",
    verbs: CREATE_GET_UPDATE,
    reads: &[],
};

/// Flags of `kfl launch inferenceservice` for a serve that reads the project's object store
/// (`kserve::reads_object_store`), from `staging::object_store`: the Secret holding its keys and the key names,
/// its endpoint (`http://` or `https://` + `host:port`) and region, and the Secret and ServiceAccount to write
/// the keys to in the form KServe reads (`kserve::s3_account`).
pub const S3_SECRET_FLAG: &str = "--s3-secret";
pub const S3_SECRET_KEYS_FLAG: &str = "--s3-secret-keys";
pub const S3_ENDPOINT_FLAG: &str = "--s3-endpoint";
pub const S3_REGION_FLAG: &str = "--s3-region";
pub const S3_ACCOUNT_FLAG: &str = "--s3-account";

/// The flag of `kfl launch retrain` naming the service account the runs it starts execute as.
pub const SERVICE_ACCOUNT_FLAG: &str = "--service-account";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_name_their_namespace() {
        assert_eq!(input_marker("lr"), "${kfl.inputs.lr}");
        assert_eq!(ref_marker("prepare-train"), "${kfl.refs.prepare-train}");
        assert_eq!(output_marker("model"), "${kfl.outputs.model}");
    }
}
