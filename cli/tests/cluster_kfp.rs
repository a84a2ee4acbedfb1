//! `kfl apply --kfp` and `kfl status` against in-process fakes of the Kubernetes API (`launch/fake_cluster.rs`) and of KFP's API server v2beta1 (`cluster_kfp/fake_kfp.rs`): the uploaded spec, the run's parameters, versions, status, and every failure saying what was kept.

#[path = "launch/fake_cluster.rs"]
mod fake_cluster;
#[path = "cluster_kfp/fake_kfp.rs"]
mod fake_kfp;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use fake_kfp::{Kfp, Mode};
use serde_json::json;

const PROGRAM: &str = r#"project demo {
  image     = "python:3.12"
  namespace = "team-a"
}

param epochs: int = 3
param lr: float = 0.01

volume data {
  size   = 1Gi
  access = read_write_once
}

step train {
  run = ["python", "train.py", "--epochs", epochs, "--lr", lr]
  mount data at "/data"
}
"#;

/// The PVC of `volume data` in the project's namespace, as the fake cluster keys it.
const PVC: &str = "/api/v1/namespaces/team-a/persistentvolumeclaims/data";

/// A cluster that serves PVCs (discovery) and has the project's namespace.
fn cluster() -> fake_cluster::Cluster {
    let mut cluster = fake_cluster::Cluster::default();
    cluster.objects.insert(
        "/api/v1".into(),
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
            {"name": "persistentvolumeclaims", "singularName": "persistentvolumeclaim", "namespaced": true,
             "kind": "PersistentVolumeClaim", "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
            {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
             "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
        ]}),
    );
    cluster.objects.insert(
        "/api/v1/namespaces/team-a".into(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
    );
    cluster
}

struct Setup {
    dir: tempfile::TempDir,
    kube: fake_cluster::Shared,
    kube_url: String,
    kfp: fake_kfp::Shared,
    kfp_url: String,
}

fn setup(kfp: Kfp) -> Setup {
    let dir = tempfile::tempdir().expect("a scratch directory");
    std::fs::write(dir.path().join("demo.kfl"), PROGRAM).expect("write the program");
    let (kube_url, kube) = fake_cluster::start(cluster());
    let (kfp_url, kfp) = fake_kfp::start(kfp);
    Setup { dir, kube, kube_url, kfp, kfp_url }
}

impl Setup {
    fn kfl(&self, args: &[&str], token: Option<&str>) -> Output {
        let kubeconfig = fake_cluster::kubeconfig(self.dir.path(), &self.kube_url);
        let mut command = Command::new(env!("CARGO_BIN_EXE_kfl"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("KUBECONFIG", kubeconfig)
            .env("NO_COLOR", "1")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .env_remove("KFL_KFP_TOKEN");
        if let Some(token) = token {
            command.env("KFL_KFP_TOKEN", token);
        }
        command.output().expect("kfl runs")
    }

    fn apply(&self, extra: &[&str], token: Option<&str>) -> Output {
        self.kfl(&[&["apply", "demo.kfl", "--kfp", &self.kfp_url][..], extra].concat(), token)
    }

    fn kfp_calls(&self) -> usize {
        self.kfp.lock().expect("lock").seen.len()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn apply_uploads_the_compiled_pipeline_and_starts_a_run_with_the_bound_params() {
    let setup = setup(Kfp { token: Some("s3cret".into()), ..Kfp::default() });
    let build = setup.kfl(&["build", "demo.kfl", "-p", "epochs=7", "-o", "out"], None);
    assert!(build.status.success(), "{build:?}");
    let compiled = std::fs::read(setup.dir.path().join("out/pipeline.yaml")).expect("pipeline.yaml");

    let first = setup.apply(&["-p", "epochs=7"], Some("s3cret"));
    assert!(first.status.success(), "{first:?}");
    let text = stdout(&first);
    assert!(text.contains("PersistentVolumeClaim/data (namespace team-a) created"), "{text}");
    // The manifests go first: the PVC was applied before KFP was called at all.
    assert!(setup.kube.lock().expect("lock").objects.contains_key(PVC));

    let patched = setup.kube.lock().expect("lock").seen.iter().any(|s| {
        s.method == "PATCH" && s.path == PVC && s.body.as_ref().is_some_and(|b| b["kind"] == "PersistentVolumeClaim")
    });
    assert!(patched, "the PVC was not server-side applied");
    let kfp = setup.kfp.lock().expect("lock");
    assert!(kfp.seen.iter().all(|s| s.authorization.as_deref() == Some("Bearer s3cret")), "{:?}", kfp.seen);
    let calls: Vec<String> = kfp.seen.iter().map(|s| format!("{} {}", s.method, s.path)).collect();
    assert_eq!(
        calls,
        [
            "GET /apis/v2beta1/pipelines/names/demo",
            "POST /apis/v2beta1/pipelines",
            "GET /apis/v2beta1/pipelines/pipeline-1/versions",
            "POST /apis/v2beta1/pipelines/upload_version",
            "GET /apis/v2beta1/experiments",
            "POST /apis/v2beta1/experiments",
            "POST /apis/v2beta1/runs",
        ]
    );
    assert!(kfp.seen[0].query.contains("namespace=team-a"), "{:?}", kfp.seen[0]);
    assert_eq!(kfp.pipelines, [("pipeline-1".to_string(), "demo".to_string(), "team-a".to_string())]);
    assert_eq!(kfp.versions.len(), 1);
    let version = &kfp.versions[0];
    assert_eq!(version.spec, compiled, "the uploaded spec is pipeline.yaml byte for byte");
    assert_eq!(version.file_name, "pipeline.yaml");
    assert!(version.name.starts_with("demo-"), "{}", version.name);
    assert_eq!(kfp.experiments, [("experiment-3".to_string(), "demo".to_string(), "team-a".to_string())]);
    assert_eq!(kfp.runs.len(), 1);
    let (run, namespace) = &kfp.runs[0];
    assert_eq!(namespace, "team-a");
    assert_eq!(run["display_name"], "demo (apply)");
    assert_eq!(run["experiment_id"], "experiment-3");
    assert_eq!(
        run["pipeline_version_reference"],
        json!({"pipeline_id": "pipeline-1", "pipeline_version_id": version.id})
    );
    assert_eq!(run["runtime_config"]["parameters"], json!({"epochs": 7, "lr": 0.01}), "{run}");
    let run_id = run["run_id"].as_str().expect("run id").to_string();
    drop(kfp);
    assert!(
        text.contains(&format!("Pipeline/demo version {} uploaded", setup.kfp.lock().unwrap().versions[0].name)),
        "{text}"
    );
    assert!(
        text.contains(&format!("Run {run_id} started in namespace team-a: {}/#/runs/details/{run_id}", setup.kfp_url)),
        "{text}"
    );

    // The same content again: no new version, a new run of the same version in the same experiment.
    let second = setup.apply(&["-p", "epochs=7"], Some("s3cret"));
    assert!(second.status.success(), "{second:?}");
    let text = stdout(&second);
    assert!(text.contains("unchanged (the newest version has this content)"), "{text}");
    assert!(text.contains("PersistentVolumeClaim/data (namespace team-a) unchanged"), "{text}");
    {
        let kfp = setup.kfp.lock().expect("lock");
        assert_eq!(kfp.versions.len(), 1);
        assert_eq!(kfp.experiments.len(), 1);
        assert_eq!(kfp.runs.len(), 2);
        assert_eq!(kfp.runs[1].0["pipeline_version_reference"], kfp.runs[0].0["pipeline_version_reference"]);
    }

    // Other values compile to another spec (the defaults of the pipeline's inputs): a new version, run with them.
    let third = setup.apply(&["-p", "epochs=9", "-p", "lr=0.5"], Some("s3cret"));
    assert!(third.status.success(), "{third:?}");
    {
        let kfp = setup.kfp.lock().expect("lock");
        assert_eq!(kfp.versions.len(), 2, "{}", stdout(&third));
        assert_ne!(kfp.versions[0].spec, kfp.versions[1].spec);
        let run = &kfp.runs[2].0;
        assert_eq!(run["pipeline_version_reference"]["pipeline_version_id"], kfp.versions[1].id.as_str());
        assert_eq!(run["runtime_config"]["parameters"], json!({"epochs": 9, "lr": 0.5}));
    }

    // Going back to the first content uploads it again, so the newest version is always the last applied (what
    // `kfl launch retrain` runs).
    let fourth = setup.apply(&["-p", "epochs=7"], Some("s3cret"));
    assert!(fourth.status.success(), "{fourth:?}");
    let kfp = setup.kfp.lock().expect("lock");
    assert_eq!(kfp.versions.len(), 3);
    assert_eq!(kfp.versions[2].spec, compiled);
}

#[test]
fn status_shows_the_newest_run_of_the_pipeline_beside_the_objects() {
    let setup = setup(Kfp::default());
    let before = setup.kfl(&["status", "demo.kfl", "--kfp", &setup.kfp_url], None);
    assert!(before.status.success(), "{before:?}");
    let text = stdout(&before);
    let row = text.lines().find(|l| l.starts_with("PipelineRun")).unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("team-a") && row.contains("demo") && row.contains("not uploaded"), "{text}");

    for _ in 0..2 {
        let applied = setup.apply(&[], None);
        assert!(applied.status.success(), "{applied:?}");
    }
    {
        // A run of another pipeline, newer than ours, is not this project's.
        let mut kfp = setup.kfp.lock().expect("lock");
        kfp.runs[1].0["state"] = json!("FAILED");
        kfp.runs[1].0["error"] = json!({"code": 2, "message": "task train failed"});
        let mut other = kfp.runs[0].0.clone();
        other["run_id"] = json!("run-other");
        other["state"] = json!("SUCCEEDED");
        other["pipeline_version_reference"]["pipeline_id"] = json!("pipeline-of-another-project");
        kfp.runs.push((other, "team-a".into()));
    }
    let status = setup.kfl(&["status", "demo.kfl", "--kfp", &setup.kfp_url], None);
    assert!(status.status.success(), "{status:?}");
    let text = stdout(&status);
    assert!(text.starts_with("KIND"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("PersistentVolumeClaim") && l.contains("data")), "{text}");
    let row = text.lines().find(|l| l.starts_with("PipelineRun")).unwrap_or_else(|| panic!("{text}"));
    let newest = setup.kfp.lock().expect("lock").runs[1].0["run_id"].as_str().expect("id").to_string();
    assert!(row.contains("FAILED") && row.contains(&newest) && row.contains("task train failed"), "{row}");
    assert!(row.contains(&format!("{}/#/runs/details/{newest}", setup.kfp_url)), "{row}");

    // Without --kfp (and no project.kfp) the table is the objects alone.
    let plain = setup.kfl(&["status", "demo.kfl"], None);
    assert!(!stdout(&plain).contains("PipelineRun"), "{plain:?}");
}

#[test]
fn a_dry_run_and_a_bad_url_send_nothing_to_kfp() {
    let setup = setup(Kfp::default());
    let dry = setup.apply(&["--dry-run=server"], None);
    assert!(dry.status.success(), "{dry:?}");
    assert!(stdout(&dry).contains("KFP was not contacted (dry run)"), "{dry:?}");
    assert!(stdout(&dry).contains(r#"a run started with parameters {"epochs":3,"lr":0.01}"#), "{dry:?}");
    assert_eq!(setup.kfp_calls(), 0);

    for url in ["ml-pipeline.kubeflow:8888", "https:///pipeline", "http://host/pipeline?x=1"] {
        let bad = setup.kfl(&["apply", "demo.kfl", "--kfp", url], None);
        assert_eq!(bad.status.code(), Some(2), "{bad:?}");
        assert!(
            stderr(&bad).starts_with("error: --kfp ") && stderr(&bad).contains(&format!("found `{url}`")),
            "{bad:?}"
        );
    }
    assert_eq!(setup.kfp_calls(), 0);
    assert!(!setup.kube.lock().expect("lock").objects.contains_key(PVC), "a usage error applied the manifests");

    // A manifest the cluster refuses: nothing goes to KFP, and the error says so.
    setup.kube.lock().expect("lock").refused.insert(PVC.into(), "spec.resources: Invalid value".into());
    let refused = setup.apply(&[], None);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(stderr(&refused).contains("the pipeline was not uploaded and no run was started"), "{refused:?}");
    assert_eq!(setup.kfp_calls(), 0);
}

#[test]
fn an_unauthenticated_call_says_nothing_was_uploaded() {
    let setup = setup(Kfp { token: Some("s3cret".into()), ..Kfp::default() });
    let denied = setup.apply(&[], Some("expired"));
    assert_eq!(denied.status.code(), Some(1), "{denied:?}");
    let text = stderr(&denied);
    assert!(text.contains("status 401: Unauthenticated"), "{text}");
    assert!(text.contains("--kfp-token or KFL_KFP_TOKEN"), "{text}");
    assert!(
        text.contains("kept: the manifests were applied; nothing was uploaded to KFP and no run was created"),
        "{text}"
    );
    assert!(setup.kube.lock().expect("lock").objects.contains_key(PVC));
    let kfp = setup.kfp.lock().expect("lock");
    assert!(kfp.pipelines.is_empty() && kfp.versions.is_empty() && kfp.runs.is_empty());
}

#[test]
fn a_server_error_on_the_run_keeps_the_uploaded_version_and_says_so() {
    let setup = setup(Kfp { fail: Some(("POST".into(), "/apis/v2beta1/runs".into(), 500)), ..Kfp::default() });
    let failed = setup.apply(&[], None);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let text = stderr(&failed);
    let kfp = setup.kfp.lock().expect("lock");
    assert_eq!(kfp.versions.len(), 1);
    assert!(kfp.runs.is_empty());
    assert!(text.contains("KFP API POST") && text.contains("/apis/v2beta1/runs: status 500: Internal error"), "{text}");
    let kept = format!(
        "kept: the manifests were applied and pipeline `demo` version `{}` ({}) is in KFP; no run was created",
        kfp.versions[0].name, kfp.versions[0].id
    );
    assert!(text.contains(&kept), "{text}");
}

#[test]
fn a_kfp_that_never_answers_is_bounded_by_the_timeout() {
    let setup = setup(Kfp { mode: Mode::Hang, ..Kfp::default() });
    let started = Instant::now();
    let hung = setup.apply(&["--kfp-timeout", "1"], None);
    let took = started.elapsed();
    assert_eq!(hung.status.code(), Some(1), "{hung:?}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let text = stderr(&hung);
    assert!(text.contains("no answer in time"), "{text}");
    assert!(text.contains("kept: the manifests were applied; nothing was uploaded"), "{text}");
    let status = setup.kfl(&["status", "demo.kfl", "--kfp", &setup.kfp_url, "--kfp-timeout", "1"], None);
    assert_eq!(status.status.code(), Some(1), "{status:?}");
    let row = stdout(&status).lines().find(|l| l.starts_with("PipelineRun")).map(str::to_string);
    assert!(row.is_some_and(|r| r.contains("unknown") && r.contains("no answer in time")), "{status:?}");
}

#[test]
fn the_projects_kfp_is_used_and_the_option_overrides_it() {
    let setup = setup(Kfp::default());
    let program = PROGRAM.replace(
        "  namespace = \"team-a\"\n",
        &format!("  namespace = \"team-a\"\n  kfp       = \"{}\"\n", setup.kfp_url),
    );
    assert!(program.contains("kfp       = \"http://127.0.0.1:"), "{program}");
    std::fs::write(setup.dir.path().join("demo.kfl"), program).expect("write the program");
    let applied = setup.kfl(&["apply", "demo.kfl"], None);
    assert!(applied.status.success(), "{applied:?}");
    assert_eq!(setup.kfp.lock().expect("lock").runs.len(), 1);
    let status = setup.kfl(&["status", "demo.kfl"], None);
    assert!(stdout(&status).lines().any(|l| l.starts_with("PipelineRun") && l.contains("PENDING")), "{status:?}");

    // `--kfp` wins over the project's: nothing listens there, and the error names that call.
    let unreachable = setup.kfl(&["apply", "demo.kfl", "--kfp", "http://127.0.0.1:9"], None);
    assert_eq!(unreachable.status.code(), Some(1), "{unreachable:?}");
    assert!(
        stderr(&unreachable).contains("KFP API GET http://127.0.0.1:9/apis/v2beta1/pipelines/names/demo"),
        "{unreachable:?}"
    );
    assert_eq!(setup.kfp.lock().expect("lock").runs.len(), 1);

    // A 404 that is not KFP's NOT_FOUND (here the Kubernetes API's) means a wrong URL, not a missing pipeline:
    // nothing is created there.
    let wrong = setup.kfl(&["apply", "demo.kfl", "--kfp", &setup.kube_url], None);
    assert_eq!(wrong.status.code(), Some(1), "{wrong:?}");
    assert!(stderr(&wrong).contains("/apis/v2beta1/pipelines/names/demo: status 404"), "{wrong:?}");
    let posted = setup.kube.lock().expect("lock").seen.iter().any(|s| s.path.starts_with("/apis/v2beta1"));
    let posted = posted && setup.kube.lock().expect("lock").seen.iter().any(|s| s.method == "POST");
    assert!(!posted, "a pipeline was created at the wrong URL");

    // https is verified (rustls, system roots): a plain-http server is a TLS failure, reported, never a crash.
    let https = setup.kfp_url.replace("http://", "https://");
    let tls = setup.kfl(&["apply", "demo.kfl", "--kfp", &https], None);
    assert_eq!(tls.status.code(), Some(1), "{tls:?}");
    assert!(stderr(&tls).contains(&format!("KFP API GET {https}/apis/v2beta1/pipelines/names/demo")), "{tls:?}");
}

/// A project whose pipeline creates a TrainJob from a launcher task.
const TRAINING: &str = r#"project demo {
  image     = "python:3.12"
  namespace = "team-a"
}

dataset remote {
  uri = "s3://acme/data/train.csv"
}

train fit(data: Dataset = remote) -> (model: Model) {
  framework = torch
  run       = ["python3", "fit.py", data, model]
}
"#;

#[test]
fn a_run_is_started_where_the_launcher_tasks_create_their_objects_or_refused() {
    // The project names `team-a`: its launcher tasks create there. `-n team-b` with `--kfp` would start the run in
    // `team-b`, where every launcher task would refuse: refused before anything is sent.
    let setup = setup(Kfp::default());
    std::fs::write(setup.dir.path().join("demo.kfl"), TRAINING).expect("write the program");
    serve_rbac(&mut setup.kube.lock().expect("lock"));
    let refused = setup.apply(&["-n", "team-b"], None);
    assert_eq!(refused.status.code(), Some(2), "{}{}", stdout(&refused), stderr(&refused));
    let message = stderr(&refused);
    for part in ["cannot start a run in namespace `team-b`", "project's namespace `team-a`", "nothing was applied"] {
        assert!(message.contains(part), "missing {part:?} in {message}");
    }
    assert!(setup.kube.lock().expect("lock").seen.is_empty(), "nothing reached the cluster");
    assert_eq!(setup.kfp_calls(), 0, "nothing reached KFP");

    // A project without a namespace: `-n team-b` places the manifests and the run's experiment in `team-b`, and the
    // launcher tasks (no `--namespace`) create in their pod's namespace, the run's.
    std::fs::write(setup.dir.path().join("demo.kfl"), TRAINING.replace("namespace = \"team-a\"\n", ""))
        .expect("write the program");
    setup.kube.lock().expect("lock").objects.insert(
        "/api/v1/namespaces/team-b".into(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}}),
    );
    let output = setup.apply(&["-n", "team-b"], None);
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("started in namespace team-b"), "{}", stdout(&output));
    let kube = setup.kube.lock().expect("lock");
    let applied: Vec<&str> = kube.seen.iter().filter(|s| s.method == "PATCH").map(|s| s.path.as_str()).collect();
    assert!(applied.iter().all(|path| path.contains("/namespaces/team-b/")), "{applied:?}");
    assert!(
        applied.iter().any(|path| path.contains("/roles/")),
        "the Role is bound where the run executes: {applied:?}"
    );
    drop(kube);
    let kfp = setup.kfp.lock().expect("lock");
    assert_eq!(kfp.runs.len(), 1);
    assert_eq!(kfp.runs[0].1, "team-b", "the run executes in the experiment's namespace");
    let spec = String::from_utf8(kfp.versions[0].spec.clone()).expect("UTF-8");
    assert!(!spec.contains("'--namespace'"), "the tasks take their pod's namespace: {spec}");
}

#[test]
fn a_single_user_kfp_is_named_in_a_warning_with_the_namespace_the_tasks_need() {
    let setup = setup(Kfp { single_user: true, ..Kfp::default() });
    let output = setup.apply(&[], None);
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    let warning = stderr(&output);
    assert!(warning.contains("runs in single-user mode"), "{warning}");
    assert!(warning.contains("unless that is `team-a`"), "{warning}");
    assert!(!stdout(&output).contains("started in namespace"), "{}", stdout(&output));
}

/// Discovery of the RBAC kinds (the Role and RoleBinding a project with launcher tasks applies).
fn serve_rbac(kube: &mut fake_cluster::Cluster) {
    kube.objects.insert(
        "/apis/rbac.authorization.k8s.io/v1".into(),
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "rbac.authorization.k8s.io/v1",
               "resources": [
            {"name": "roles", "singularName": "role", "namespaced": true, "kind": "Role",
             "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
            {"name": "rolebindings", "singularName": "rolebinding", "namespaced": true, "kind": "RoleBinding",
             "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
        ]}),
    );
}

/// A TrainJob a run created for stage `stage` of `project`, as `kfl launch` names and labels it.
fn run_trainjob(
    project: &str,
    stage: &str,
    name: &str,
    run: &str,
    created: &str,
    condition: &str,
) -> serde_json::Value {
    json!({
        "apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob",
        "metadata": {"name": name, "namespace": "team-a", "creationTimestamp": created,
            "labels": {"app.kubernetes.io/managed-by": "kfl", "app.kubernetes.io/part-of": project,
                       "kfl.dev/stage": stage, "kfl.dev/pipeline-run": run},
            "annotations": {"kfl.dev/pipeline-run": run}},
        "status": {"conditions": [{"type": condition, "status": "True", "reason": condition, "message": format!("{condition} here")}]}
    })
}

#[test]
fn status_lists_the_newest_run_created_object_of_each_declaration_and_counts_the_older_ones() {
    let setup = setup(Kfp::default());
    std::fs::write(setup.dir.path().join("demo.kfl"), TRAINING).expect("write the program");
    serve_rbac(&mut setup.kube.lock().expect("lock"));
    let before = setup.kfl(&["status", "demo.kfl"], None);
    assert!(before.status.success(), "{}{}", stdout(&before), stderr(&before));
    let text = stdout(&before);
    let row = text.lines().find(|l| l.starts_with("TrainJob")).unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("fit-*") && row.contains("no run yet") && row.contains("kfl.dev/stage=fit"), "{row}");

    let jobs = "/apis/trainer.kubeflow.org/v1alpha1/namespaces/team-a/trainjobs";
    {
        let mut kube = setup.kube.lock().expect("lock");
        let mut add = |object: serde_json::Value| {
            let name = object["metadata"]["name"].as_str().expect("name").to_string();
            kube.objects.insert(format!("{jobs}/{name}"), object);
        };
        add(run_trainjob("demo", "fit", "fit-0000aaaa", "run-1", "2026-12-07T10:00:00Z", "Failed"));
        add(run_trainjob("demo", "fit", "fit-2222cccc", "run-3", "2026-12-07T12:00:00Z", "Complete"));
        add(run_trainjob("demo", "fit", "fit-1111bbbb", "run-2", "2026-12-07T11:00:00Z", "Complete"));
        // Newer, but another project's, and another stage's: not this declaration's.
        add(run_trainjob("other", "fit", "fit-9999ffff", "run-9", "2026-12-08T00:00:00Z", "Failed"));
        add(run_trainjob("demo", "prep", "prep-8888eeee", "run-9", "2026-12-08T00:00:00Z", "Failed"));
    }
    let after = setup.kfl(&["status", "demo.kfl"], None);
    assert!(after.status.success(), "{}{}", stdout(&after), stderr(&after));
    let text = stdout(&after);
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("TrainJob")).collect();
    assert_eq!(rows.len(), 1, "one row per declaration: {text}");
    for part in ["team-a", "fit-2222cccc", "Complete", "Complete here", "run run-3", "2 older runs' objects"] {
        assert!(rows[0].contains(part), "missing {part:?} in {}", rows[0]);
    }
    let listed = setup.kube.lock().expect("lock").seen.iter().any(|s| s.method == "GET" && s.path == jobs);
    assert!(listed, "found by listing with the project's and the stage's labels");
}
