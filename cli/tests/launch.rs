//! `kfl launch` end to end: the real binary against an in-process fake Kubernetes API server (via a kubeconfig), checking what it creates, how it waits, what it writes and how it fails.

#[path = "launch/fake_cluster.rs"]
mod fake_cluster;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use fake_cluster::{Cluster, Shared};
use kfl_compiler::codegen::launcher;
use serde_json::{Value, json};

const TRAINJOBS: &str = "/apis/trainer.kubeflow.org/v1alpha1/namespaces/ml/trainjobs";
const EXPERIMENTS: &str = "/apis/kubeflow.org/v1beta1/namespaces/ml/experiments";
const SERVICES: &str = "/apis/serving.kserve.io/v1beta1/namespaces/ml/inferenceservices";
const RULES: &str = "/apis/monitoring.coreos.com/v1/namespaces/ml/prometheusrules";
const STORAGE_CONTAINERS: &str = "/apis/serving.kserve.io/v1alpha1/clusterstoragecontainers";

/// A ClusterStorageContainerList with one container per prefix.
fn storage_containers(prefixes: &[&str]) -> Value {
    let items: Vec<Value> = prefixes
        .iter()
        .enumerate()
        .map(|(i, prefix)| json!({
            "apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainer",
            "metadata": {"name": format!("csc-{i}")},
            "spec": {"container": {"name": "storage-initializer", "image": "i"}, "supportedUriFormats": [{"prefix": prefix}], "workloadType": "initContainer"}
        }))
        .collect();
    json!({"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainerList", "metadata": {}, "items": items})
}

fn trainjob_manifest() -> String {
    json!({
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": {"name": "fit", "namespace": "ml", "labels": {"app.kubernetes.io/managed-by": "kfl"}},
        "spec": {
            "runtimeRef": {"name": "torch-distributed", "apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime"},
            "trainer": {
                "image": "python:3.12",
                "command": ["python3"],
                "args": ["train.py", "--data", "${kfl.inputs.data}", "--lr=${kfl.inputs.lr}", "--steps", "${kfl.refs.steps}", "--out", "${kfl.outputs.model}"]
            },
            "activeDeadlineSeconds": 1800
        }
    })
    .to_string()
}

/// The name `kfl launch` gives a stage's object in a run: `STAGE-` and 8 hex digits of SHA-256 over the run id
/// and the stage, the stage shortened to fit `max` (33 for a TrainJob, 40 for an Experiment).
fn run_name(stage: &str, run: &str, max: usize) -> String {
    use sha2::Digest;
    let hash: String =
        sha2::Sha256::digest(format!("{run}\n{stage}").as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hash}", &stage[..stage.len().min(max - 9)].trim_end_matches('-'))
}

/// Where run `run`'s TrainJob `fit` lives.
fn fit_path(run: &str) -> String {
    format!("{TRAINJOBS}/{}", run_name("fit", run, 33))
}

type Rule = (String, String, String);

/// (API group, resource, verb) of every request the fake API server saw.
fn used_rules(shared: &Shared) -> BTreeSet<Rule> {
    let cluster = shared.lock().expect("lock");
    cluster
        .seen
        .iter()
        .filter_map(|seen| {
            let parts: Vec<&str> = seen.path.trim_start_matches('/').split('/').collect();
            // `api/v1/namespaces/NS/…` or `apis/GROUP/VERSION/namespaces/NS/…`
            let (group, rest) = match parts.as_slice() {
                // Cluster-scoped (ClusterStorageContainers): no Role grants them; see `cluster_scoped`.
                ["apis", _, _, _] => return None,
                ["api", _, _, _, rest @ ..] => ("", rest),
                ["apis", group, _, _, _, rest @ ..] => (*group, rest),
                other => panic!("unexpected path {other:?}"),
            };
            let (resource, verb) = match (rest, seen.method.as_str()) {
                ([plural], "GET") => (plural.to_string(), "list"),
                ([plural], "POST") => (plural.to_string(), "create"),
                ([plural, _], "GET") => (plural.to_string(), "get"),
                ([plural, _], "PUT") => (plural.to_string(), "update"),
                ([plural, _], "PATCH") => (plural.to_string(), "patch"),
                ([plural, _, sub], "GET") => (format!("{plural}/{sub}"), "get"),
                (other, method) => panic!("unexpected {method} {other:?}"),
            };
            Some((group.to_string(), resource, verb.to_string()))
        })
        .collect()
}

/// The cluster-scoped paths the fake API server was asked for.
fn cluster_scoped(shared: &Shared) -> Vec<String> {
    let cluster = shared.lock().expect("lock");
    cluster
        .seen
        .iter()
        .filter(|s| s.path.trim_start_matches('/').split('/').count() == 4)
        .map(|s| s.path.clone())
        .collect()
}

/// The rules of the Role `kfl build` emits for a project launching `kinds`.
fn role_rules(kinds: &[&kfl_compiler::codegen::launcher::LaunchedKind]) -> BTreeSet<Rule> {
    let mut out = BTreeSet::new();
    for rule in kfl_compiler::codegen::rbac::rules(kinds) {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    out
}

fn launch(dir: &Path, url: &str, args: &[&str]) -> Output {
    launch_in_pod(dir, url, args, None)
}

/// `kfl launch` as KFP runs it in the task pod `pod` (`KFP_POD_NAME`, `KFP_POD_UID`).
fn launch_in_pod(dir: &Path, url: &str, args: &[&str], pod: Option<(&str, &str)>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kfl"));
    command.env_remove("KFP_POD_NAME").env_remove("KFP_POD_UID");
    if let Some((name, uid)) = pod {
        command.env("KFP_POD_NAME", name).env("KFP_POD_UID", uid);
    }
    launch_with(dir, url, args, command)
}

fn launch_with(dir: &Path, url: &str, args: &[&str], mut command: Command) -> Output {
    let kubeconfig = fake_cluster::kubeconfig(dir, url);
    command
        .arg("launch")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .expect("run kfl launch")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": message})
}

fn trainjob_args<'a>(manifest: &'a str, metric_file: &'a str, run: &'a str) -> Vec<&'a str> {
    vec![
        "trainjob",
        "--manifest-json",
        manifest,
        "--namespace",
        "ml",
        "--run-id",
        run,
        "--set",
        "data=s3://bucket/prep/d",
        "--set",
        "lr=0.05",
        "--ref",
        "steps=200",
        "--output",
        "model=s3://bucket/fit/model",
        "--metric",
        metric_file,
        "--poll-interval",
        "0.05",
    ]
}

/// The bodies POSTed to `collection`.
fn posts(shared: &Shared, collection: &str) -> Vec<Value> {
    let cluster = shared.lock().expect("lock");
    cluster.seen.iter().filter(|s| s.method == "POST" && s.path == collection).filter_map(|s| s.body.clone()).collect()
}

fn trainer_pod() -> Value {
    json!({
        "metadata": {"name": "fit-node-0-0-abcde", "namespace": "ml", "labels": {
            "jobset.sigs.k8s.io/jobset-name": "fit",
            "jobset.sigs.k8s.io/replicatedjob-name": "node",
            "batch.kubernetes.io/job-completion-index": "0"
        }}
    })
}

#[test]
fn a_trainjob_is_created_with_values_filled_polled_until_complete_and_its_metric_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::default();
    cluster.statuses.insert(
        fit_path("run-1"),
        vec![
            json!({}),
            json!({"conditions": [condition("Created", "True", "JobsCreated", "")]}),
            json!({"conditions": [condition("Complete", "True", "JobsCompleted", "done")]}),
        ],
    );
    cluster.pods.push(trainer_pod());
    cluster.logs.insert("fit-node-0-0-abcde".into(), "epoch 1 acc=0.5\nepoch 2 acc=0.93 loss=0.2\n".into());
    let (url, shared) = fake_cluster::start(cluster);
    let metric = dir.path().join("outputs/acc/data");
    let metric_arg = format!("acc={}", metric.display());
    let manifest = trainjob_manifest();
    let output = launch(dir.path(), &url, &trainjob_args(&manifest, &metric_arg, "run-1"));
    assert!(output.status.success(), "{}", stderr(&output));
    let created = posts(&shared, TRAINJOBS);
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(
        created[0]["spec"]["trainer"]["args"],
        json!([
            "train.py",
            "--data",
            "s3://bucket/prep/d",
            "--lr=0.05",
            "--steps",
            "200",
            "--out",
            "s3://bucket/fit/model"
        ])
    );
    assert_eq!(created[0]["metadata"]["annotations"]["kfl.dev/pipeline-run"], "run-1");
    assert_eq!(created[0]["metadata"]["namespace"], "ml");
    let reads = shared.lock().expect("lock").reads.get(&fit_path("run-1")).copied();
    assert_eq!(reads, Some(3), "polled until the third status said Complete");
    assert_eq!(std::fs::read_to_string(&metric).expect("metric written"), "0.93");
}

#[test]
fn a_failed_trainjob_exits_1_with_its_condition_and_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::default();
    cluster.statuses.insert(
        fit_path("run-1"),
        vec![json!({"conditions": [condition("Failed", "True", "DeadlineExceeded", "the job ran out of time")]})],
    );
    let (url, _shared) = fake_cluster::start(cluster);
    let metric = dir.path().join("acc");
    let metric_arg = format!("acc={}", metric.display());
    let manifest = trainjob_manifest();
    let output = launch(dir.path(), &url, &trainjob_args(&manifest, &metric_arg, "run-1"));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("DeadlineExceeded: the job ran out of time"), "{message}");
    assert!(message.contains("kept in namespace `ml`"), "{message}");
    assert!(!metric.exists(), "no metric from a failed job");
}

#[test]
fn two_runs_get_their_own_trainjobs_and_a_retry_adopts_its_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run_1 = "3f1c2a9e-8b7d-4c1e-9f00-1a2b3c4d5e6f";
    let run_2 = "0b6e4d1a-2c3f-4e5a-8b9c-7d6e5f4a3b2c";
    let mut cluster = Cluster::default();
    for run in [run_1, run_2] {
        cluster
            .statuses
            .insert(fit_path(run), vec![json!({"conditions": [condition("Complete", "True", "JobsCompleted", "")]})]);
    }
    cluster.pods.push(trainer_pod());
    cluster.logs.insert("fit-node-0-0-abcde".into(), "acc=0.8\n".into());
    let (url, shared) = fake_cluster::start(cluster);
    let metric = dir.path().join("acc");
    let metric_arg = format!("acc={}", metric.display());
    let manifest = trainjob_manifest();

    let first =
        launch_in_pod(dir.path(), &url, &trainjob_args(&manifest, &metric_arg, run_1), Some(("task-a", "uid-a")));
    assert!(first.status.success(), "{}", stderr(&first));
    let name_1 = run_name("fit", run_1, 33);
    assert!(stderr(&first).contains(&format!("created TrainJob ml/{name_1}")), "{}", stderr(&first));
    let created = shared.lock().expect("lock").objects.get(&fit_path(run_1)).cloned().expect("run 1's TrainJob");
    assert_eq!(created["metadata"]["labels"]["kfl.dev/pipeline-run"], run_1);
    assert_eq!(created["metadata"]["labels"]["kfl.dev/stage"], "fit");
    assert_eq!(
        created["metadata"]["ownerReferences"],
        json!([{"apiVersion": "v1", "kind": "Pod", "name": "task-a", "uid": "uid-a"}]),
        "the task's pod owns it, so it goes with the run"
    );

    // KFP retries the task in a new pod: same run id, same name, the object is adopted and the pod joins its owners.
    let retry =
        launch_in_pod(dir.path(), &url, &trainjob_args(&manifest, &metric_arg, run_1), Some(("task-b", "uid-b")));
    assert!(retry.status.success(), "{}", stderr(&retry));
    assert!(stderr(&retry).contains(&format!("adopted TrainJob ml/{name_1}")), "{}", stderr(&retry));
    let adopted = shared.lock().expect("lock").objects.get(&fit_path(run_1)).cloned().expect("run 1's TrainJob");
    let owners: Vec<&str> = adopted["metadata"]["ownerReferences"]
        .as_array()
        .expect("owners")
        .iter()
        .filter_map(|o| o["uid"].as_str())
        .collect();
    assert_eq!(owners, ["uid-a", "uid-b"]);
    assert_eq!(std::fs::read_to_string(&metric).expect("metric"), "0.8");

    // A second run (a retrain) meets no conflict: its TrainJob has its own name.
    let second =
        launch_in_pod(dir.path(), &url, &trainjob_args(&manifest, &metric_arg, run_2), Some(("task-c", "uid-c")));
    assert!(second.status.success(), "{}", stderr(&second));
    let name_2 = run_name("fit", run_2, 33);
    assert_ne!(name_1, name_2);
    assert!(stderr(&second).contains(&format!("created TrainJob ml/{name_2}")), "{}", stderr(&second));
    let cluster = shared.lock().expect("lock");
    assert_eq!(cluster.objects.len(), 2, "one TrainJob per run: {:?}", cluster.objects.keys());
    let posts = cluster.seen.iter().filter(|s| s.method == "POST").count();
    assert_eq!(posts, 3, "the retry POSTed, found its run's object and adopted it");
    drop(cluster);
    assert_eq!(used_rules(&shared), role_rules(&[&launcher::TRAINJOB]), "the Role grants exactly what was used");
}

#[test]
fn an_object_of_the_runs_name_from_elsewhere_is_refused_not_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::default();
    let name = run_name("fit", "run-1", 33);
    cluster.objects.insert(
        fit_path("run-1"),
        json!({"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob",
               "metadata": {"name": name, "namespace": "ml", "annotations": {"kfl.dev/pipeline-run": "run-9"}}}),
    );
    let (url, shared) = fake_cluster::start(cluster);
    let metric_arg = format!("acc={}", dir.path().join("acc").display());
    let manifest = trainjob_manifest();
    let other = launch(dir.path(), &url, &trainjob_args(&manifest, &metric_arg, "run-1"));
    assert_eq!(other.status.code(), Some(1), "{}", stderr(&other));
    assert!(
        stderr(&other).contains(&format!("TrainJob `{name}` already exists in namespace `ml` from run `run-9`")),
        "{}",
        stderr(&other)
    );
    let cluster = shared.lock().expect("lock");
    assert_eq!(cluster.objects.len(), 1, "nothing replaced");
    assert!(cluster.seen.iter().all(|s| s.method != "PUT"), "nothing updated");
}

/// `kfl launch` in a compiled task's pod in namespace `pod_namespace` (`KFL_POD_NAMESPACE`, from the downward API).
fn launch_in_namespace(dir: &Path, url: &str, args: &[&str], pod_namespace: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kfl"));
    command.env("KFL_POD_NAMESPACE", pod_namespace).env("KFP_POD_NAME", "task-a").env("KFP_POD_UID", "uid-a");
    launch_with(dir, url, args, command)
}

#[test]
fn a_run_in_another_namespace_than_the_projects_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, shared) = fake_cluster::start(Cluster::default());
    let metric_arg = format!("acc={}", dir.path().join("acc").display());
    let manifest = trainjob_manifest();
    let output = launch_in_namespace(dir.path(), &url, &trainjob_args(&manifest, &metric_arg, "run-1"), "team-a");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    for part in [
        "this run executes in namespace `team-a` (its pod's, from KFL_POD_NAMESPACE)",
        "the project's objects belong in namespace `ml`",
        "nothing was created",
        "Role is bound",
        "owner references cannot reach across namespaces",
        "help: start the run in namespace `ml`: `kfl apply --kfp URL`",
    ] {
        assert!(message.contains(part), "missing {part:?} in {message}");
    }
    assert!(shared.lock().expect("lock").seen.is_empty(), "no request reached the cluster");

    // The same task in a dry run is refused the same way.
    let mut args = trainjob_args(&manifest, &metric_arg, "run-1");
    args.push("--dry-run");
    let dry = launch_in_namespace(dir.path(), &url, &args, "team-a");
    assert_eq!(dry.status.code(), Some(2), "{}", stderr(&dry));
    assert!(stderr(&dry).contains("executes in namespace `team-a`"), "{}", stderr(&dry));

    // An InferenceService (no owner reference, but the Role) is refused too.
    let isvc = json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                      "metadata": {"name": "iris", "namespace": "ml"}, "spec": {"predictor": {}}})
    .to_string();
    let serve = launch_in_namespace(
        dir.path(),
        &url,
        &["inferenceservice", "--manifest-json", &isvc, "--namespace", "ml", "--poll-interval", "0.05"],
        "team-a",
    );
    assert_eq!(serve.status.code(), Some(2), "{}", stderr(&serve));
    assert!(shared.lock().expect("lock").seen.is_empty(), "no request reached the cluster");
}

#[test]
fn a_run_in_the_projects_namespace_proceeds_and_one_without_a_namespace_uses_the_pods() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::default();
    cluster
        .statuses
        .insert(fit_path("run-1"), vec![json!({"conditions": [condition("Complete", "True", "JobsCompleted", "")]})]);
    let team =
        format!("/apis/trainer.kubeflow.org/v1alpha1/namespaces/team-a/trainjobs/{}", run_name("fit", "run-2", 33));
    cluster.statuses.insert(team.clone(), vec![json!({"conditions": [condition("Complete", "True", "Done", "")]})]);
    cluster.pods.push(trainer_pod());
    cluster.logs.insert("fit-node-0-0-abcde".into(), "acc=0.9\n".into());
    let (url, shared) = fake_cluster::start(cluster);
    let metric_arg = format!("acc={}", dir.path().join("acc").display());
    let manifest = trainjob_manifest();
    let output = launch_in_namespace(dir.path(), &url, &trainjob_args(&manifest, &metric_arg, "run-1"), "ml");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(posts(&shared, TRAINJOBS).len(), 1, "created in the project's (and the pod's) namespace");

    // A project without a namespace: neither the flag nor the manifest names one, the pod's is used.
    let mut unplaced: Value = serde_json::from_str(&manifest).expect("manifest");
    unplaced["metadata"].as_object_mut().expect("metadata").remove("namespace");
    let unplaced = unplaced.to_string();
    let mut args: Vec<&str> = trainjob_args(&unplaced, &metric_arg, "run-2");
    let at = args.iter().position(|a| *a == "--namespace").expect("flag");
    args.drain(at..at + 2);
    let output = launch_in_namespace(dir.path(), &url, &args, "team-a");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(shared.lock().expect("lock").objects.contains_key(&team), "created in the pod's namespace");
}

#[test]
fn a_marker_without_a_value_is_a_usage_error_and_nothing_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, shared) = fake_cluster::start(Cluster::default());
    let manifest = trainjob_manifest();
    let output = launch(dir.path(), &url, &["trainjob", "--manifest-json", &manifest, "--set", "data=s3://d"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("no `--set lr=…` was given"), "{}", stderr(&output));
    assert!(shared.lock().expect("lock").seen.is_empty(), "no request reached the cluster");
}

#[test]
fn an_experiment_writes_the_best_trials_parameters_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = json!({
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": "search", "namespace": "ml"},
        "spec": {"objective": {"type": "maximize", "objectiveMetricName": "acc"},
                 "trialTemplate": {"trialSpec": {"spec": {"trainer": {"args": ["${kfl.inputs.data}", "${trialParameters.lr}"]}}}}}
    })
    .to_string();
    let mut cluster = Cluster::default();
    cluster.statuses.insert(
        format!("{EXPERIMENTS}/{}", run_name("search", "run-1", 40)),
        vec![
            json!({"conditions": [condition("Running", "True", "ExperimentRunning", "")]}),
            json!({
                "conditions": [condition("Succeeded", "True", "ExperimentGoalReached", "")],
                "currentOptimalTrial": {
                    "bestTrialName": "search-abc",
                    "parameterAssignments": [{"name": "lr", "value": "0.031"}],
                    "observation": {"metrics": [{"name": "acc", "latest": "0.9", "max": "0.95", "min": "0.5"}]}
                }
            }),
        ],
    );
    let (url, shared) = fake_cluster::start(cluster);
    let lr = dir.path().join("lr");
    let acc = dir.path().join("acc");
    let (lr_arg, acc_arg) = (format!("lr={}", lr.display()), format!("acc={}", acc.display()));
    let args = [
        "experiment",
        "--manifest-json",
        &manifest,
        "--run-id",
        "run-1",
        "--set",
        "data=s3://d",
        "--best",
        &lr_arg,
        "--best",
        &acc_arg,
        "--poll-interval",
        "0.05",
    ];
    let output = launch(dir.path(), &url, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        posts(&shared, EXPERIMENTS)[0]["spec"]["trialTemplate"]["trialSpec"]["spec"]["trainer"]["args"],
        json!(["s3://d", "${trialParameters.lr}"])
    );
    assert_eq!(std::fs::read_to_string(&lr).expect("lr"), "0.031");
    assert_eq!(std::fs::read_to_string(&acc).expect("acc"), "0.95", "the max when maximizing");
    let missing = format!("loss={}", dir.path().join("loss").display());
    let again = launch(
        dir.path(),
        &url,
        &["experiment", "--manifest-json", &manifest, "--run-id", "run-1", "--set", "data=s3://d", "--best", &missing],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("no parameter or metric `loss` (it has: lr, acc)"), "{}", stderr(&again));
    // `update` (a retry's pod joining the owners) is the TrainJob's path, tested there.
    let used = used_rules(&shared);
    assert!(used.is_subset(&role_rules(&[&launcher::EXPERIMENT])), "{used:?}");
}

#[test]
fn an_inferenceservice_is_replaced_when_it_exists_and_its_url_written_once_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = json!({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "svc", "namespace": "ml"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "${kfl.inputs.storage_uri}"}}}
    })
    .to_string();
    let mut cluster = Cluster::default();
    cluster.objects.insert(
        format!("{SERVICES}/svc"),
        json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
               "metadata": {"name": "svc", "namespace": "ml", "resourceVersion": "7", "generation": 1}}),
    );
    cluster.objects.insert(STORAGE_CONTAINERS.to_string(), storage_containers(&["hf://", "model-registry://"]));
    cluster.statuses.insert(
        format!("{SERVICES}/svc"),
        vec![
            // Ready from the previous generation must not count.
            json!({"observedGeneration": 1, "url": "http://old", "conditions": [condition("Ready", "True", "", "")]}),
            json!({"observedGeneration": 2, "conditions": [condition("Ready", "Unknown", "RevisionMissing", "")]}),
            json!({"observedGeneration": 2, "url": "http://svc.ml.example.com", "conditions": [condition("Ready", "True", "", "")]}),
        ],
    );
    let (url, shared) = fake_cluster::start(cluster);
    let out = dir.path().join("url");
    let out_arg = out.display().to_string();
    let args = [
        "inferenceservice",
        "--manifest-json",
        &manifest,
        "--set",
        "storage_uri=model-registry://clf/3",
        "--output-url",
        &out_arg,
        "--poll-interval",
        "0.05",
    ];
    let output = launch(dir.path(), &url, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let cluster = shared.lock().expect("lock");
    let put = cluster.seen.iter().find(|s| s.method == "PUT").and_then(|s| s.body.clone()).expect("a replace");
    assert_eq!(put["metadata"]["resourceVersion"], "7");
    assert_eq!(put["spec"]["predictor"]["model"]["storageUri"], "model-registry://clf/3");
    assert_eq!(std::fs::read_to_string(&out).expect("url"), "http://svc.ml.example.com");
    drop(cluster);
    assert_eq!(
        used_rules(&shared),
        role_rules(&[&launcher::INFERENCE_SERVICE]),
        "the Role grants exactly what was used"
    );
}

/// A `model-registry://` model with no ClusterStorageContainer supporting it (none, or the CRD absent) is refused
/// before anything is created; the CSC list is cluster-scoped, outside the Role.
#[test]
fn a_registry_model_without_a_storage_container_for_it_is_refused_and_nothing_created() {
    let manifest = json!({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "svc", "namespace": "ml"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "${kfl.inputs.storage_uri}"}}}
    })
    .to_string();
    for containers in [None, Some(storage_containers(&["hf://"]))] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cluster = Cluster::default();
        if let Some(list) = &containers {
            cluster.objects.insert(STORAGE_CONTAINERS.to_string(), list.clone());
        }
        let (url, shared) = fake_cluster::start(cluster);
        let args = ["inferenceservice", "--manifest-json", &manifest, "--set", "storage_uri=model-registry://clf/3"];
        let output = launch(dir.path(), &url, &args);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let message = stderr(&output);
        let why = if containers.is_some() {
            "no ClusterStorageContainer on the cluster supports it"
        } else {
            "no ClusterStorageContainer resource"
        };
        assert!(message.contains(why), "{message}");
        assert!(message.contains("manifests/kustomize/options/csi/clusterstoragecontainer.yaml"), "{message}");
        assert!(message.contains("no InferenceService was created"), "{message}");
        assert!(posts(&shared, SERVICES).is_empty());
        assert_eq!(cluster_scoped(&shared), [STORAGE_CONTAINERS]);
    }
}

/// A run's `minio://` artifact is served as `s3://`: the launcher copies the keys of KFP's object-store Secret
/// into `<project>-kserve-s3` (KServe's key names and endpoint annotations), lists it in the ServiceAccount of
/// that name and runs the predictor as it; the Role grants exactly those requests.
#[test]
fn a_minio_artifact_is_served_as_s3_with_the_object_stores_keys_in_kserves_form() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = json!({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "svc", "namespace": "ml", "labels": {"app.kubernetes.io/managed-by": "kfl", "app.kubernetes.io/part-of": "shop"}},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "${kfl.inputs.storage_uri}"}}}
    })
    .to_string();
    let mut cluster = Cluster::default();
    cluster.objects.insert(
        "/api/v1/namespaces/ml/secrets/mlpipeline-minio-artifact".into(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "mlpipeline-minio-artifact", "namespace": "ml"},
               "data": {"accesskey": "bWluaW8=", "secretkey": "bWluaW8xMjM="}}),
    );
    // The previous run's service: this run replaces it.
    cluster.objects.insert(
        format!("{SERVICES}/svc"),
        json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
               "metadata": {"name": "svc", "namespace": "ml", "resourceVersion": "4", "generation": 1}}),
    );
    cluster.statuses.insert(
        format!("{SERVICES}/svc"),
        vec![json!({"observedGeneration": 2, "url": "http://svc.ml", "conditions": [condition("Ready", "True", "", "")]})],
    );
    let (url, shared) = fake_cluster::start(cluster);
    let args = [
        "inferenceservice",
        "--manifest-json",
        &manifest,
        "--run-id",
        "run-1",
        "--set",
        "storage_uri=minio://mlpipeline/v2/artifacts/shop/run-1/fit/model",
        "--s3-secret",
        "mlpipeline-minio-artifact",
        "--s3-secret-keys",
        "accesskey:secretkey",
        "--s3-endpoint",
        "http://minio-service.kubeflow:9000",
        "--s3-region",
        "minio",
        "--s3-account",
        "shop-kserve-s3",
        "--poll-interval",
        "0.05",
    ];
    let output = launch(dir.path(), &url, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let cluster = shared.lock().expect("lock");
    let patched = |path: &str| {
        cluster.seen.iter().find(|s| s.method == "PATCH" && s.path == path).and_then(|s| s.body.clone()).expect(path)
    };
    let secret = patched("/api/v1/namespaces/ml/secrets/shop-kserve-s3");
    assert_eq!(secret["data"], json!({"AWS_ACCESS_KEY_ID": "bWluaW8=", "AWS_SECRET_ACCESS_KEY": "bWluaW8xMjM="}));
    let annotations = &secret["metadata"]["annotations"];
    assert_eq!(annotations["serving.kserve.io/s3-endpoint"], "minio-service.kubeflow:9000");
    assert_eq!(annotations["serving.kserve.io/s3-usehttps"], "0");
    assert_eq!(annotations["serving.kserve.io/s3-region"], "minio");
    assert_eq!(secret["metadata"]["labels"]["app.kubernetes.io/part-of"], "shop");
    let account = patched("/api/v1/namespaces/ml/serviceaccounts/shop-kserve-s3");
    assert_eq!(account["secrets"], json!([{"name": "shop-kserve-s3"}]));
    let created = [cluster.seen.iter().find(|s| s.method == "PUT").and_then(|s| s.body.clone()).expect("a replace")];
    drop(cluster);
    assert_eq!(
        created[0]["spec"]["predictor"]["model"]["storageUri"],
        "s3://mlpipeline/v2/artifacts/shop/run-1/fit/model"
    );
    assert_eq!(created[0]["spec"]["predictor"]["serviceAccountName"], "shop-kserve-s3");
    assert!(cluster_scoped(&shared).is_empty(), "no registry URI: no ClusterStorageContainer lookup");

    let mut granted = role_rules(&[&launcher::INFERENCE_SERVICE]);
    let secret = kfl_compiler::codegen::staging::KFP_OBJECT_STORE_SECRET;
    for rule in kfl_compiler::codegen::rbac::object_store_rules(secret, "shop-kserve-s3") {
        for resource in rule.resources.iter().flatten() {
            for verb in &rule.verbs {
                granted.insert((String::new(), resource.clone(), verb.clone()));
            }
        }
    }
    let mut used = used_rules(&shared);
    // A server-side apply that creates its object is authorized as `create` too (k8s.io/apiserver
    // pkg/endpoints/handlers/patch.go); the fake sees only the PATCH.
    for resource in ["secrets", "serviceaccounts"] {
        used.insert((String::new(), resource.to_string(), "create".to_string()));
    }
    assert_eq!(used, granted, "the Role grants exactly what was used");
}

#[test]
fn each_trial_writes_its_artifact_apart_and_the_best_ones_is_reported_to_kfp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = json!({
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": "search", "namespace": "ml"},
        "spec": {"objective": {"type": "minimize", "objectiveMetricName": "loss"},
                 "trialTemplate": {
                     "trialParameters": [{"name": "lr", "description": "", "reference": "lr"}],
                     "trialSpec": {"spec": {"trainer": {"args": ["${trialParameters.lr}", "--out", "${kfl.outputs.model}"]}}}}}
    })
    .to_string();
    let output_file = dir.path().join("kfp_outputs/output_metadata.json");
    let executor_input = json!({
        "inputs": {},
        "outputs": {
            "artifacts": {"best_model": {"artifacts": [{"name": "best_model", "uri": "s3://b/search/best_model"}]}},
            "outputFile": output_file.display().to_string()
        }
    })
    .to_string();
    let mut cluster = Cluster::default();
    cluster.statuses.insert(
        format!("{EXPERIMENTS}/search"),
        vec![json!({
            "conditions": [condition("Succeeded", "True", "ExperimentMaxTrialsReached", "")],
            "currentOptimalTrial": {"bestTrialName": "search-x7", "parameterAssignments": [{"name": "lr", "value": "0.2"}]}
        })],
    );
    let (url, shared) = fake_cluster::start(cluster);
    let without_input = launch(
        dir.path(),
        &url,
        &["experiment", "--manifest-json", &manifest, "--best", "model=s3://b/search/best_model"],
    );
    assert_eq!(without_input.status.code(), Some(2), "{}", stderr(&without_input));
    assert!(stderr(&without_input).contains("no --executor-input"), "{}", stderr(&without_input));
    assert!(shared.lock().expect("lock").seen.is_empty(), "nothing was sent");
    let args = [
        "experiment",
        "--manifest-json",
        &manifest,
        "--best",
        "model=s3://b/search/best_model/",
        "--executor-input",
        &executor_input,
        "--poll-interval",
        "0.05",
    ];
    let output = launch(dir.path(), &url, &args);
    assert_eq!(output.status.code(), Some(2), "a URI that is not the output's is refused: {}", stderr(&output));
    assert!(shared.lock().expect("lock").seen.is_empty(), "refused before anything was sent");
    let args = [
        "experiment",
        "--manifest-json",
        &manifest,
        "--best",
        "model=s3://b/search/best_model",
        "--executor-input",
        &executor_input,
        "--poll-interval",
        "0.05",
    ];
    let output = launch(dir.path(), &url, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let created = posts(&shared, EXPERIMENTS);
    let template = &created[0]["spec"]["trialTemplate"];
    assert_eq!(
        template["trialSpec"]["spec"]["trainer"]["args"],
        json!(["${trialParameters.lr}", "--out", "s3://b/search/best_model/${trialParameters.kflTrialName}"])
    );
    assert_eq!(template["trialParameters"][1]["reference"], "${trialSpec.Name}");
    let reported: Value =
        serde_json::from_str(&std::fs::read_to_string(&output_file).expect("executor output")).expect("JSON");
    assert_eq!(
        reported,
        json!({"artifacts": {"best_model": {"artifacts": [{"uri": "s3://b/search/best_model/search-x7"}]}}})
    );
}

#[test]
fn a_trainjob_that_never_finishes_times_out_with_exit_1_and_is_left_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::default();
    cluster
        .statuses
        .insert(fit_path("run-1"), vec![json!({"conditions": [condition("Created", "True", "JobsCreated", "")]})]);
    let (url, shared) = fake_cluster::start(cluster);
    let metric_arg = format!("acc={}", dir.path().join("acc").display());
    let manifest = trainjob_manifest();
    let mut args = trainjob_args(&manifest, &metric_arg, "run-1");
    args.extend(["--timeout", "0.3"]);
    let output = launch(dir.path(), &url, &args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    let name = run_name("fit", "run-1", 33);
    assert!(message.contains(&format!("TrainJob `{name}` did not finish within 0.3s")), "{message}");
    assert!(message.contains("left running in namespace `ml`"), "{message}");
    assert!(message.contains("its conditions when the wait ended: Created=True (JobsCreated)"), "{message}");
    let reads = shared.lock().expect("lock").reads.get(&fit_path("run-1")).copied().unwrap_or_default();
    assert!(reads >= 2, "polled more than once before giving up: {reads}");
}

#[test]
fn a_monitor_rule_is_created_then_replaced_with_the_service_url_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = json!({
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": {"name": "watch", "namespace": "ml"},
        "spec": {"groups": [{"name": "watch", "rules": [{"alert": "WatchErrors", "expr": "up == 0"}]}]}
    })
    .to_string();
    let (url, shared) = fake_cluster::start(Cluster::default());
    let args = ["monitor", "--manifest-json", &manifest, "--run-id", "run-1", "--service-url", "http://svc.ml"];
    let first = launch(dir.path(), &url, &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = launch(dir.path(), &url, &args);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stderr(&second).contains("replaced PrometheusRule ml/watch"), "{}", stderr(&second));
    let cluster = shared.lock().expect("lock");
    let stored = cluster.objects.get(&format!("{RULES}/watch")).expect("the rule");
    assert_eq!(stored["metadata"]["annotations"]["kfl.dev/service-url"], "http://svc.ml");
    assert_eq!(stored["metadata"]["generation"], 2, "replaced, not created twice");
    let no_rules = launch(dir.path(), &url, &["monitor", "--run-id", "run-1"]);
    assert!(no_rules.status.success(), "{}", stderr(&no_rules));
    assert!(stderr(&no_rules).contains("no PrometheusRule to create"), "{}", stderr(&no_rules));
    drop(cluster);
    assert_eq!(used_rules(&shared), role_rules(&[&launcher::PROMETHEUS_RULE]), "the Role grants exactly what was used");
}

/// An API server that accepts connections and never answers: `--timeout` still ends the command.
#[test]
fn an_api_server_that_accepts_and_never_answers_is_bounded_by_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    // Holds every connection open, silent, until the test process ends.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let metric_arg = format!("acc={}", dir.path().join("acc").display());
    let manifest = trainjob_manifest();
    let mut args = trainjob_args(&manifest, &metric_arg, "run-1");
    args.extend(["--timeout", "2"]);
    let started = std::time::Instant::now();
    let output = launch(dir.path(), &url, &args);
    let took = started.elapsed();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("kfl launch trainjob did not finish within 2s (--timeout)"), "{message}");
    assert!(took < std::time::Duration::from_secs(15), "took {took:?}");
}
