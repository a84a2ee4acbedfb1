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
        ("mpi", "mpi-distributed"),
        ("jax", "jax-distributed"),
        ("mlx", "mlx-distributed"),
        ("xgboost", "xgboost-distributed"),
        ("tensorflow", "tensorflow-distributed"),
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

#[test]
fn trainer_fields_nodes_resources_command_and_deadline() {
    let extra =
        "  nodes = 3\n  procs_per_node = 4\n  resources { cpu = 500m..2, memory = 1Gi, gpu = 2 }\n  timeout = 30m";
    let job = document(&train("torch", extra), "trainjob-net.yaml");
    let trainer = &job["spec"]["trainer"];
    assert_eq!(trainer["image"], "img:1");
    assert_eq!(trainer["numNodes"], 3);
    assert_eq!(trainer["numProcPerNode"], 4);
    assert_eq!(trainer["command"], serde_json::json!(["python3"]));
    assert_eq!(trainer["args"], serde_json::json!(["t.py", "--lr", "0.1", "--out", "/kfl/artifacts/net/model"]));
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
    assert_eq!(spec["initializer"]["dataset"]["storageUri"], "hf://datasets/acme/chats");
    assert_eq!(spec["initializer"]["dataset"]["secretRef"]["name"], "hf-creds");
    assert_eq!(spec["trainer"]["args"][1], "/workspace/dataset");
    let env = &spec["trainer"]["env"];
    assert_eq!(env[0], serde_json::json!({ "name": "MODE", "value": "fast" }));
    assert_eq!(env[1]["valueFrom"]["secretKeyRef"], serde_json::json!({ "name": "hf-creds", "key": "HF_TOKEN" }));
    let patch = &spec["runtimePatches"][0];
    assert_eq!(patch["manager"], "kfl");
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
