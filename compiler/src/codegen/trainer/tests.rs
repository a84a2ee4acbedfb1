//! Unit tests of the TrainJob mapping: small files compiled in memory, fields asserted on the built manifests.

use crate::codegen::{BuildOptions, Context, build};
use crate::source::{MemoryLoader, Origin, SourceFile, Sources};

/// Checks and builds `text` (the whole `kfl build`), then returns the Trainer
/// and Katib manifests as JSON, as (file name, object).
pub(crate) fn built(text: &str) -> Result<Vec<(String, serde_json::Value)>, Vec<String>> {
    let mut sources = Sources::new();
    let main = sources.add(SourceFile::new("main.kfl", text, Origin::User));
    let loader = MemoryLoader { files: vec![("main.kfl".into(), text.into())] };
    let checked = crate::check(&mut sources, main, &loader);
    let Some(program) = checked.program() else {
        return Err(checked.diagnostics.iter().map(|d| format!("{:?} {}", d.code, d.message)).collect());
    };
    let options = BuildOptions::default();
    if let Err(diagnostics) = build(program, &options) {
        return Err(diagnostics.iter().map(|d| format!("{:?} {}", d.code, d.message)).collect());
    }
    let context = Context::new(program, &options);
    let mut diagnostics = Vec::new();
    let mut manifests = super::manifests(&context, &mut diagnostics);
    manifests.extend(crate::codegen::katib::manifests(&context, &mut diagnostics));
    Ok(manifests.into_iter().map(|m| (m.file_name(), m.object)).collect())
}

pub(crate) fn document(text: &str, file: &str) -> serde_json::Value {
    let files = built(text).unwrap_or_else(|e| panic!("build failed: {e:#?}"));
    files.into_iter().find(|(path, _)| path == file).map(|(_, v)| v).unwrap_or_else(|| panic!("no {file}"))
}

const HEAD: &str = "project p { image = \"img:1\" }\n";

fn train(framework: &str, extra: &str) -> String {
    format!(
        "{HEAD}train net(lr: float = 0.1) -> (model: Model) {{\n  framework = {framework}\n  run = [\"python3\", \"t.py\", \"--lr\", lr, \"--out\", model]\n{extra}\n}}\n"
    )
}

#[test]
fn runtime_ref_follows_the_framework() {
    for (framework, runtime) in [
        ("torch", "torch-distributed"),
        ("deepspeed", "deepspeed-distributed"),
        ("jax", "jax-distributed"),
        ("mlx", "mlx-distributed"),
        ("xgboost", "xgboost-distributed"),
    ] {
        let job = document(&train(framework, ""), "trainjob-net.yaml");
        assert_eq!(job["apiVersion"], "trainer.kubeflow.org/v1alpha1");
        assert_eq!(job["spec"]["runtimeRef"]["name"], runtime, "{framework}");
        assert_eq!(job["spec"]["runtimeRef"]["kind"], "ClusterTrainingRuntime");
        assert_eq!(job["spec"]["runtimeRef"]["apiGroup"], "trainer.kubeflow.org");
    }
}

#[test]
fn runtime_overrides_and_custom_needs_one() {
    let job = document(&train("custom", "  runtime = \"my-runtime\""), "trainjob-net.yaml");
    assert_eq!(job["spec"]["runtimeRef"]["name"], "my-runtime");
    let errors = built(&train("custom", "")).expect_err("custom without runtime must fail");
    assert!(errors.iter().any(|e| e.contains("MissingProperty") && e.contains("runtime")), "{errors:?}");
}

/// Trainer v2.3.0 ships no `mpi-distributed` and no `tensorflow-distributed`
/// (`manifests/base/runtimes/`): those frameworks run on a runtime the user names.
#[test]
fn frameworks_without_a_shipped_runtime_need_one() {
    for framework in ["mpi", "tensorflow"] {
        let errors = built(&train(framework, "")).expect_err("no shipped runtime");
        assert!(errors.iter().any(|e| e.contains("runtime") && e.contains(framework)), "{framework}: {errors:?}");
        let job = document(&train(framework, "  runtime = \"my-mpi\""), "trainjob-net.yaml");
        assert_eq!(job["spec"]["runtimeRef"]["name"], "my-mpi");
    }
}

#[test]
fn trainer_fields_nodes_resources_command_and_deadline() {
    let extra =
        "  nodes = 3\n  procs_per_node = 4\n  resources { cpu = 500m..2, memory = 1Gi, gpu = 2 }\n  timeout = 30m";
    let job = document(&train("torch", extra), "trainjob-net.yaml");
    let trainer = &job["spec"]["trainer"];
    assert_eq!(trainer["image"], "img:1");
    assert_eq!(trainer["numNodes"], 3);
    assert_eq!(trainer["numProcPerNode"], 4);
    assert_eq!(trainer["command"], serde_json::json!(["torchrun"]));
    assert_eq!(
        trainer["args"],
        serde_json::json!(["--no-python", "python3", "t.py", "--lr", "0.1", "--out", "/kfl/artifacts/net/model"])
    );
    let resources = &trainer["resourcesPerNode"];
    assert_eq!(resources["requests"]["cpu"], "500m");
    assert_eq!(resources["limits"]["cpu"], "2");
    assert_eq!(resources["requests"]["memory"], "1Gi");
    assert_eq!(resources["limits"]["nvidia.com/gpu"], "2");
    assert_eq!(resources["requests"]["nvidia.com/gpu"], "2");
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 1800);
}

#[test]
fn auto_procs_per_node_is_omitted() {
    let job = document(&train("torch", "  procs_per_node = auto"), "trainjob-net.yaml");
    assert!(job["spec"]["trainer"].get("numProcPerNode").is_none());
    assert_eq!(job["spec"]["trainer"]["numNodes"], 1);
}

#[test]
fn secrets_are_key_refs_mounts_are_runtime_patches_and_hf_datasets_initialize() {
    let text = format!(
        "{HEAD}secret tok {{\n  k8s = \"hf-creds\"\n  keys = [\"HF_TOKEN\"]\n}}\nvolume ckpt_store {{\n  size = 1Gi\n  access = read_write_many\n}}\n\
dataset chats {{ uri = \"hf://datasets/acme/chats\" }}\n\
train sft(data: Dataset = chats) -> (model: Model) {{\n  framework = deepspeed\n  run = [\"python3\", \"sft.py\", data, model]\n\
  env {{ MODE = \"fast\" }}\n  secrets = [tok]\n  mount ckpt_store at \"/ckpt\"\n}}\n"
    );
    let job = document(&text, "trainjob-sft.yaml");
    let spec = &job["spec"];
    // deepspeed-distributed has no dataset-initializer job: the script gets the URI, as under `kfl run`.
    assert!(spec.get("initializer").is_none(), "{spec}");
    // Under `mpirun`, the env and secrets forwarded to every rank (Trainer gives them to the launcher only).
    assert_eq!(spec["trainer"]["command"], serde_json::json!(["mpirun"]));
    assert_eq!(
        spec["trainer"]["args"],
        serde_json::json!([
            "-x",
            "MODE",
            "-x",
            "HF_TOKEN",
            "python3",
            "sft.py",
            "hf://datasets/acme/chats",
            "/kfl/artifacts/sft/model"
        ])
    );
    let env = &spec["trainer"]["env"];
    assert_eq!(env[0], serde_json::json!({ "name": "MODE", "value": "fast" }));
    assert_eq!(env[1]["valueFrom"]["secretKeyRef"], serde_json::json!({ "name": "hf-creds", "key": "HF_TOKEN" }));
    let patch = &spec["runtimePatches"][0];
    assert_eq!(patch["manager"], super::PATCH_MANAGER);
    let jobs = &patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"];
    assert_eq!(jobs[0]["name"], "launcher");
    let pod = &jobs[1]["template"]["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"][0]["persistentVolumeClaim"]["claimName"], "ckpt-store");
    assert_eq!(pod["containers"][0]["name"], "node");
    assert_eq!(
        pod["containers"][0]["volumeMounts"][0],
        serde_json::json!({ "name": "ckpt-store", "mountPath": "/ckpt" })
    );
}

#[test]
fn trial_templates_are_not_trainjobs() {
    let text = format!(
        "{}tune search {{\n  trial = net\n  objective = maximize(acc)\n  space {{ lr = uniform(0.01, 0.1) }}\n}}\n",
        train("torch", "  metrics { acc: float }")
    );
    let files = built(&text).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(
        !files.iter().any(|(path, _)| path.starts_with("trainjob-")),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
}

/// The dataset initializer only where the runtime has a `dataset-initializer`
/// job, its credentials under the env names Trainer v2.3.0's initializers read
/// (`pkg/initializers/types/types.py`), whatever the secret's keys are called.
#[test]
fn initializers_only_on_runtimes_with_the_job_and_credentials_under_their_names() {
    let text = format!(
        "{HEAD}secret tok {{\n  k8s = \"hf-creds\"\n  keys = [\"HF_TOKEN\"]\n}}\nsecret aws {{\n  k8s = \"s3-creds\"\n  keys = [\"AWS_ACCESS_KEY_ID\", \"AWS_SECRET_ACCESS_KEY\"]\n}}\n\
dataset chats {{ uri = \"hf://datasets/acme/chats\" }}\ndataset logs {{ uri = \"s3://bucket/logs\" }}\n\
train a(data: Dataset = chats) -> (model: Model) {{\n  framework = torch\n  runtime = \"torch-distributed-with-cache\"\n  run = [\"python3\", \"a.py\", data, model]\n  secrets = [tok]\n}}\n\
train b(data: Dataset = logs) -> (model: Model) {{\n  framework = torch\n  runtime = \"torch-distributed-with-cache\"\n  run = [\"python3\", \"b.py\", data, model]\n  secrets = [aws]\n}}\n"
    );
    let a = document(&text, "trainjob-a.yaml");
    let dataset = &a["spec"]["initializer"]["dataset"];
    assert_eq!(dataset["storageUri"], "hf://datasets/acme/chats");
    assert_eq!(
        dataset["env"],
        serde_json::json!([{ "name": "ACCESS_TOKEN", "valueFrom": { "secretKeyRef": { "name": "hf-creds", "key": "HF_TOKEN" } } }])
    );
    assert!(dataset.get("secretRef").is_none());
    assert_eq!(a["spec"]["trainer"]["args"][3], "/workspace/dataset", "under torchrun --no-python python3 a.py");
    let b = document(&text, "trainjob-b.yaml");
    let env = &b["spec"]["initializer"]["dataset"]["env"];
    assert_eq!(env[0]["name"], "ACCESS_KEY_ID");
    assert_eq!(env[0]["valueFrom"]["secretKeyRef"]["key"], "AWS_ACCESS_KEY_ID");
    assert_eq!(env[1]["name"], "SECRET_ACCESS_KEY");
    assert_eq!(env[1]["valueFrom"]["secretKeyRef"]["key"], "AWS_SECRET_ACCESS_KEY");
    assert!(b["spec"].get("initializer").and_then(|i| i.get("model")).is_none());
}

/// A user's `spec.runtimePatches` is merged with kfl's mount patch by
/// `manager` (the list's map key in Trainer v2.3.0 `trainjob_types.go`), so
/// the volume stays; a ReadOnlyMany volume is mounted read-only.
#[test]
fn user_runtime_patches_merge_with_the_mount_patch() {
    let text = format!(
        "{HEAD}volume ref_data {{\n  size = 1Gi\n  access = read_only_many\n}}\n\
train net() -> (model: Model) {{\n  framework = torch\n  run = [\"python3\", \"t.py\", model]\n  mount ref_data at \"/ref\"\n\
  k8s {{\n    spec.runtimePatches = [{{ manager = \"acme.io/ml\", trainingRuntimeSpec = {{ template = {{ metadata = {{ labels = {{ team = \"ml\" }} }} }} }} }}]\n  }}\n}}\n"
    );
    let job = document(&text, "trainjob-net.yaml");
    let patches = job["spec"]["runtimePatches"].as_array().cloned().unwrap_or_default();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert_eq!(patches[0]["manager"], super::PATCH_MANAGER);
    assert_eq!(patches[1]["manager"], "acme.io/ml");
    let pod = &patches[0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]
        ["spec"];
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"],
        serde_json::json!({ "claimName": "ref-data", "readOnly": true })
    );
    assert_eq!(pod["containers"][0]["volumeMounts"][0]["readOnly"], true);
}

/// Launch parity: Trainer's torch plugin gives a node only `PET_*` and runs the command once per node
/// (kubeflow/trainer v2.3.0 `plugins/torch/torch.go`); `torchrun --no-python` turns those into the per-rank
/// `RANK`/`WORLD_SIZE`/… that `kfl run` sets. The MPI runtimes run the command once on the launcher
/// (`plugins/mpi/mpi.go`): `mpirun` starts every rank. Other frameworks, a command that already is its
/// launcher and the torchtune runtimes keep the command as written.
#[test]
fn torch_commands_run_under_torchrun_others_as_written() {
    let torch = document(&train("torch", ""), "trainjob-net.yaml");
    assert_eq!(torch["spec"]["trainer"]["command"], serde_json::json!(["torchrun"]));
    assert_eq!(torch["spec"]["trainer"]["args"][0], "--no-python");
    assert_eq!(torch["spec"]["trainer"]["args"][1], "python3");
    let jax = document(&train("jax", ""), "trainjob-net.yaml");
    assert_eq!(jax["spec"]["trainer"]["command"], serde_json::json!(["python3"]));
    let mlx = document(&train("mlx", ""), "trainjob-net.yaml");
    assert_eq!(mlx["spec"]["trainer"]["command"], serde_json::json!(["mpirun"]));
    assert_eq!(mlx["spec"]["trainer"]["args"][0], "python3");
    let text = format!(
        "{HEAD}train net -> (model: Model) {{\n  framework = deepspeed\n  run = [\"deepspeed\", \"t.py\", model]\n}}\n"
    );
    let deepspeed = document(&text, "trainjob-net.yaml");
    assert_eq!(deepspeed["spec"]["trainer"]["command"], serde_json::json!(["deepspeed"]));
    let text = format!(
        "{HEAD}train net -> (model: Model) {{\n  framework = torch\n  run = [\"torchrun\", \"--nproc-per-node=2\", \"t.py\", model]\n}}\n"
    );
    let already = document(&text, "trainjob-net.yaml");
    assert_eq!(already["spec"]["trainer"]["command"], serde_json::json!(["torchrun"]));
    assert_eq!(already["spec"]["trainer"]["args"][0], "--nproc-per-node=2");
    let tune = document(&train("torch", "  runtime = \"torchtune-llama3.2-1b\""), "trainjob-net.yaml");
    assert_eq!(tune["spec"]["trainer"]["command"], serde_json::json!(["python3"]));
}
