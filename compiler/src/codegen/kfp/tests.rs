//! Tests of the KFP pipeline IR: one in-memory `.kfl` per mapping rule, asserting the specific fields.

use serde_json::{Value as Json, json};

use super::documents;
use crate::codegen::{BuildOptions, Context};
use crate::source::{MemoryLoader, Origin, SourceFile, Sources};

/// Checks `text` (with `files` importable) and returns (PipelineSpec, PlatformSpec) as JSON.
pub(super) fn compile_with(text: &str, files: &[(&str, &str)]) -> (Json, Option<Json>) {
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("main.kfl".to_string(), text.to_string(), Origin::User));
    let loader = MemoryLoader { files: files.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect() };
    let checked = crate::check(&mut sources, id, &loader);
    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let program = checked.program.expect("a program");
    let context = Context::new(&program, &BuildOptions::default());
    documents(&context)
}

fn compile(text: &str) -> Json {
    compile_with(text, &[]).0
}

fn root_task<'a>(spec: &'a Json, name: &str) -> &'a Json {
    &spec["root"]["dag"]["tasks"][name]
}

#[test]
fn data_edges_become_task_outputs_and_dependent_tasks() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
param epochs: int = 3
step a() -> (out: Dataset, n: int) { run = ["a", out, n] }
step b(data: Dataset = a.out, n: int = a.n, e: int = epochs, k: float = 0.5) -> (m: Model) {
  run = ["b", data, n, e, k, m]
}
step c {
  run   = ["c"]
  after = [b]
}
"#,
    );
    let b = root_task(&spec, "b");
    assert_eq!(b["dependentTasks"], json!(["a"]));
    assert_eq!(
        b["inputs"]["artifacts"]["data"]["taskOutputArtifact"],
        json!({"outputArtifactKey": "out", "producerTask": "a"})
    );
    assert_eq!(
        b["inputs"]["parameters"]["n"]["taskOutputParameter"],
        json!({"outputParameterKey": "n", "producerTask": "a"})
    );
    assert_eq!(b["inputs"]["parameters"]["e"], json!({"componentInputParameter": "epochs"}));
    assert_eq!(b["inputs"]["parameters"]["k"], json!({"runtimeValue": {"constant": 0.5}}));
    assert_eq!(root_task(&spec, "c")["dependentTasks"], json!(["b"]));
    assert_eq!(
        spec["root"]["inputDefinitions"]["parameters"]["epochs"],
        json!({"defaultValue": 3, "isOptional": true, "parameterType": "NUMBER_INTEGER"})
    );
    let component = &spec["components"]["comp-b"];
    assert_eq!(component["inputDefinitions"]["artifacts"]["data"]["artifactType"]["schemaTitle"], "system.Dataset");
    assert_eq!(component["outputDefinitions"]["artifacts"]["m"]["artifactType"]["schemaTitle"], "system.Model");
    let args = &spec["deploymentSpec"]["executors"]["exec-b"]["container"]["args"];
    assert_eq!(
        args,
        &json!([
            "{{$.inputs.artifacts['data'].path}}",
            "{{$.inputs.parameters['n']}}",
            "{{$.inputs.parameters['e']}}",
            "{{$.inputs.parameters['k']}}",
            "{{$.outputs.artifacts['m'].path}}"
        ])
    );
    assert_eq!(spec["schemaVersion"], "2.1.0");
    assert_eq!(spec["sdkVersion"], "kfl-0.1.0");
}

#[test]
fn a_param_in_a_command_is_a_pipeline_parameter_input() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
param name: string = "world"
step hello { run = ["echo", "hello ${name}", name] }
"#,
    );
    let task = root_task(&spec, "hello");
    assert_eq!(task["inputs"]["parameters"]["pipelinechannel--name"], json!({"componentInputParameter": "name"}));
    let args = &spec["deploymentSpec"]["executors"]["exec-hello"]["container"]["args"];
    assert_eq!(args[0], "hello {{$.inputs.parameters['pipelinechannel--name']}}");
    assert_eq!(args[1], "{{$.inputs.parameters['pipelinechannel--name']}}");
}

#[test]
fn datasets_are_imported_like_dsl_importer() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
dataset raw { uri = "s3://bucket/raw.csv" }
step s(d: Dataset = raw) { run = ["s", d] }
"#,
    );
    let importer = &spec["deploymentSpec"]["executors"]["exec-import-raw"]["importer"];
    assert_eq!(importer["artifactUri"], json!({"constant": "s3://bucket/raw.csv"}));
    assert_eq!(importer["typeSchema"]["schemaTitle"], "system.Dataset");
    assert_eq!(root_task(&spec, "s")["dependentTasks"], json!(["import-raw"]));
    assert_eq!(
        root_task(&spec, "s")["inputs"]["artifacts"]["d"]["taskOutputArtifact"],
        json!({"outputArtifactKey": "artifact", "producerTask": "import-raw"})
    );
}

#[test]
fn for_is_a_parallel_for_sub_dag_with_collected_outputs() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
step prep() -> (d: Dataset) { run = ["prep", d] }
for fold in 0..2 {
  step cv(fold: int = fold, data: Dataset = prep.d) -> (score: float, m: Model) {
    run = ["cv", fold, data, score, m]
  }
}
step mean(values: list[float] = cv.score) -> (mean: float) { run = ["mean", values, mean] }
"#,
    );
    let loop_task = root_task(&spec, "for-loop-2");
    assert_eq!(
        loop_task["parameterIterator"],
        json!({"itemInput": "pipelinechannel--loop-item-param-1", "items": {"raw": "[0, 1, 2]"}})
    );
    assert_eq!(loop_task["dependentTasks"], json!(["prep"]));
    assert_eq!(
        loop_task["inputs"]["artifacts"]["pipelinechannel--prep-d"]["taskOutputArtifact"],
        json!({"outputArtifactKey": "d", "producerTask": "prep"})
    );
    let body = &spec["components"]["comp-for-loop-2"];
    assert_eq!(
        body["inputDefinitions"]["parameters"]["pipelinechannel--loop-item-param-1"]["parameterType"],
        "NUMBER_INTEGER"
    );
    let cv = &body["dag"]["tasks"]["cv"];
    assert_eq!(
        cv["inputs"]["parameters"]["fold"],
        json!({"componentInputParameter": "pipelinechannel--loop-item-param-1"})
    );
    assert_eq!(cv["inputs"]["artifacts"]["data"], json!({"componentInputArtifact": "pipelinechannel--prep-d"}));
    assert_eq!(
        body["dag"]["outputs"]["parameters"]["pipelinechannel--cv-score"],
        json!({"valueFromParameter": {"outputParameterKey": "score", "producerSubtask": "cv"}})
    );
    assert_eq!(body["outputDefinitions"]["parameters"]["pipelinechannel--cv-score"]["parameterType"], "LIST");
    let mean = root_task(&spec, "mean");
    assert_eq!(mean["dependentTasks"], json!(["for-loop-2"]));
    assert_eq!(
        mean["inputs"]["parameters"]["values"]["taskOutputParameter"],
        json!({"outputParameterKey": "pipelinechannel--cv-score", "producerTask": "for-loop-2"})
    );
}

#[test]
fn for_over_a_list_param_iterates_the_pipeline_parameter() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
param seeds: list[int] = [1, 2]
for seed in seeds {
  step run_one(s: int = seed) { run = ["run", s] }
}
"#,
    );
    let loop_task = root_task(&spec, "for-loop-2");
    assert_eq!(
        loop_task["parameterIterator"],
        json!({"itemInput": "pipelinechannel--seeds-loop-item", "items": {"inputParameter": "pipelinechannel--seeds"}})
    );
    assert_eq!(
        loop_task["inputs"]["parameters"]["pipelinechannel--seeds"],
        json!({"componentInputParameter": "seeds"})
    );
    let body = &spec["components"]["comp-for-loop-2"];
    assert_eq!(
        body["dag"]["tasks"]["run-one"]["inputs"]["parameters"]["s"],
        json!({"componentInputParameter": "pipelinechannel--seeds-loop-item"})
    );
}

#[test]
fn when_is_a_condition_sub_dag_with_a_trigger_policy() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
step score() -> (mean: float, n: int) { run = ["s", mean, n] }
step deploy(m: float = score.mean) {
  run  = ["d", m]
  when = score.mean > 0.75 && score.n >= 3
}
"#,
    );
    let condition = root_task(&spec, "condition-1");
    assert_eq!(
        condition["triggerPolicy"]["condition"],
        "(inputs.parameter_values['pipelinechannel--score-mean'] > 0.75) && (int(inputs.parameter_values['pipelinechannel--score-n']) >= 3)"
    );
    assert_eq!(condition["dependentTasks"], json!(["score"]));
    let inner = &spec["components"]["comp-condition-1"]["dag"]["tasks"]["deploy"];
    assert_eq!(inner["inputs"]["parameters"]["m"], json!({"componentInputParameter": "pipelinechannel--score-mean"}));
    assert!(inner.get("dependentTasks").is_none());
}

#[test]
fn always_is_the_exit_task_of_an_exit_handler_around_everything_upstream() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
param n: int = 3
step a -> (x: float) { run = ["a", n, x] }
for i in 0..1 {
  step b(i: int = i, x: float = a.x) -> (y: float) { run = ["b", i, x, y] }
}
step other { run = ["o"] }
step c(x: float = a.x) { run = ["c", x] }
step cleanup(x: float = a.x) {
  run    = ["c", x]
  after  = [b]
  always = true
}
step last { run = ["l"], after = [cleanup] }
"#,
    );
    let root = spec["root"]["dag"]["tasks"].as_object().expect("root tasks");
    let mut names: Vec<&str> = root.keys().map(String::as_str).collect();
    names.sort_unstable();
    // `c` and `other` are not upstream of `cleanup`: they stay in the root DAG.
    assert_eq!(names, ["c", "cleanup", "exit-handler-1", "last", "other"]);
    let cleanup = &root["cleanup"];
    assert_eq!(cleanup["triggerPolicy"], json!({"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}));
    assert_eq!(cleanup["dependentTasks"], json!(["exit-handler-1"]));
    assert_eq!(
        cleanup["inputs"]["parameters"]["x"],
        json!({"taskOutputParameter": {"outputParameterKey": "pipelinechannel--a-x", "producerTask": "exit-handler-1"}})
    );
    assert_eq!(root["last"]["dependentTasks"], json!(["cleanup"]));
    assert_eq!(root["c"]["dependentTasks"], json!(["exit-handler-1"]));
    assert_eq!(
        root["exit-handler-1"]["inputs"]["parameters"]["pipelinechannel--n"],
        json!({"componentInputParameter": "n"})
    );
    let handler = &spec["components"]["comp-exit-handler-1"]["dag"]["tasks"];
    let mut inside: Vec<&str> = handler.as_object().expect("handler tasks").keys().map(String::as_str).collect();
    inside.sort_unstable();
    assert_eq!(inside, ["a", "for-loop-3"]);
}

#[test]
fn a_task_status_input_receives_the_exit_handlers_final_status() {
    let text = r#"
project p { image = "python:3.12" }
step a -> (x: float) { run = ["a", x] }
step other { run = ["o"] }
step first_report(status: TaskStatus) {
  run    = ["sh", "-c", "echo $0", status]
  after  = [other]
  always = true
}
step report(x: float = a.x, status: TaskStatus) {
  run    = ["r", x, "--status=${status}"]
  always = true
}
"#;
    let spec = compile(text);
    let report = root_task(&spec, "report");
    // The driver reads the status of the first dependent task: the handler must be the only one.
    assert_eq!(report["dependentTasks"], json!(["exit-handler-2"]));
    assert_eq!(
        report["inputs"]["parameters"]["status"],
        json!({"taskFinalStatus": {"producerTask": "exit-handler-2"}})
    );
    assert_eq!(
        spec["components"]["comp-report"]["inputDefinitions"]["parameters"]["status"],
        json!({"isOptional": true, "parameterType": "TASK_FINAL_STATUS"})
    );
    let args = &spec["deploymentSpec"]["executors"]["exec-report"]["container"]["args"];
    assert_eq!(args[1], "--status={{$.inputs.parameters['status']}}");
    assert_eq!(
        root_task(&spec, "first-report")["inputs"]["parameters"]["status"],
        json!({"taskFinalStatus": {"producerTask": "exit-handler-1"}})
    );
    // plan.json names the same handler, the `pipelineTaskName` `kfl run` reports.
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("main.kfl".to_string(), text.to_string(), Origin::User));
    let program = crate::check(&mut sources, id, &MemoryLoader::default()).program.expect("a program");
    for (stage, handler) in [("first_report", "exit-handler-1"), ("report", "exit-handler-2")] {
        let stage = program.stage(stage).expect("stage");
        assert_eq!(super::exit_handler_task(&program, stage).as_deref(), Some(handler));
    }
}

#[test]
fn retries_cache_and_resources() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
step a {
  run     = ["a"]
  retries = 3
  cache   = false
  resources { cpu = 2, memory = 4Gi, gpu = 1 }
}
step b {
  run   = ["b"]
  cache = true
}
"#,
    );
    let a = root_task(&spec, "a");
    assert_eq!(
        a["retryPolicy"],
        json!({"backoffDuration": "1s", "backoffFactor": 2.0, "backoffMaxDuration": "3600s", "maxRetryCount": 3})
    );
    assert_eq!(a["cachingOptions"], json!({}));
    assert_eq!(root_task(&spec, "b")["cachingOptions"], json!({"enableCache": true}));
    assert!(root_task(&spec, "b").get("retryPolicy").is_none());
    let resources = &spec["deploymentSpec"]["executors"]["exec-a"]["container"]["resources"];
    assert_eq!(resources["resourceCpuLimit"], "2");
    assert_eq!(resources["resourceMemoryLimit"], "4Gi");
    assert_eq!(resources["cpuLimit"], 2.0);
    assert_eq!(
        resources["accelerator"],
        json!({"count": "1", "resourceCount": "1", "resourceType": "nvidia.com/gpu", "type": "nvidia.com/gpu"})
    );
}

#[test]
fn secrets_volumes_and_timeouts_go_to_the_kubernetes_platform_spec() {
    let (_, platform) = compile_with(
        r#"
project p { image = "python:3.12" }
secret creds {
  k8s  = "s3-creds"
  keys = ["AWS_ACCESS_KEY_ID"]
}
volume data {
  size   = 1Gi
  access = read_write_once
}
step a {
  run     = ["a"]
  secrets = [creds]
  timeout = 10m
  mount data at "/data"
}
"#,
        &[],
    );
    let config =
        &platform.expect("a platform spec")["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-a"];
    assert_eq!(config["activeDeadlineSeconds"], 600);
    assert_eq!(
        config["pvcMount"],
        json!([{"constant": "data", "mountPath": "/data", "pvcNameParameter": {"runtimeValue": {"constant": "data"}}}])
    );
    assert_eq!(config["secretAsEnv"][0]["secretName"], "s3-creds");
    assert_eq!(
        config["secretAsEnv"][0]["keyToEnv"],
        json!([{"envVar": "AWS_ACCESS_KEY_ID", "secretKey": "AWS_ACCESS_KEY_ID"}])
    );
}

#[test]
fn lifecycle_stages_run_the_launcher() {
    let spec = compile(
        r#"
project p {
  image     = "python:3.12"
  namespace = "ml"
  registry  = "http://registry:8080"
}
step prep() -> (d: Dataset) { run = ["prep", d] }
train fit(data: Dataset = prep.d, lr: float = 0.1) -> (model: Model) {
  framework = torch
  nodes     = 1
  run       = ["train", data, lr, model]
  metrics   { acc: float }
}
tune search {
  trial     = fit
  objective = maximize(acc)
  algorithm = random()
  trials    = 4
  space { lr = uniform(0.01, 0.1) }
}
model m {
  artifact = search.best.model
  format   = "pytorch"
}
serve svc {
  model   = m
  runtime = pytorch
}
"#,
    );
    let executors = &spec["deploymentSpec"]["executors"];
    let search = &executors["exec-search"]["container"];
    assert_eq!(search["image"], crate::codegen::image_reference::default_launcher_image());
    assert_eq!(search["command"], json!(["kfl", "launch"]));
    let args: Vec<&str> = search["args"].as_array().unwrap().iter().filter_map(Json::as_str).collect();
    assert_eq!(args[..2], ["experiment", "--manifest-json"]);
    assert_eq!(args[3..7], ["--namespace", "ml", "--run-id", "{{$.pipeline_job_uuid}}"]);
    // The manifest travels inline; run-time values are launcher markers, searched ones Katib's.
    let experiment: Json = serde_json::from_str(args[2]).expect("the manifest is JSON");
    assert_eq!(experiment["kind"], "Experiment");
    assert_eq!(
        experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["trainer"]["args"],
        json!(["--no-python", "train", "${kfl.inputs.data}", "${trialParameters.lr}", "${kfl.outputs.model}"])
    );
    assert!(args.contains(&"data={{$.inputs.artifacts['data'].uri}}"), "{args:?}");
    assert!(!args.iter().any(|a| a.starts_with("lr=")), "searched params are the Experiment's: {args:?}");
    assert!(args.contains(&"model={{$.outputs.artifacts['best_model'].uri}}"), "{args:?}");
    // Where the best trial's artifact is, the launcher reports through the executor input's output file.
    assert_eq!(args[args.len() - 2..], ["--executor-input", "{{$}}"]);
    assert_eq!(
        spec["components"]["comp-search"]["outputDefinitions"]["artifacts"]["best_model"]["artifactType"]["schemaTitle"],
        "system.Model"
    );
    // The trial template is not a task of its own.
    assert!(root_task(&spec, "fit").is_null());
    let m = root_task(&spec, "m");
    assert_eq!(
        m["inputs"]["artifacts"]["artifact"]["taskOutputArtifact"],
        json!({"outputArtifactKey": "best_model", "producerTask": "search"})
    );
    let register: Vec<&str> =
        executors["exec-m"]["container"]["args"].as_array().unwrap().iter().filter_map(Json::as_str).collect();
    assert_eq!(&register[..3], &["register-model", "--registry", "http://registry:8080"]);
    let svc = root_task(&spec, "svc");
    assert_eq!(
        svc["inputs"]["parameters"]["storage_uri"]["taskOutputParameter"],
        json!({"outputParameterKey": "uri", "producerTask": "m"})
    );
    assert_eq!(svc["cachingOptions"], json!({}));
    let serve: Vec<&str> =
        executors["exec-svc"]["container"]["args"].as_array().unwrap().iter().filter_map(Json::as_str).collect();
    let service: Json = serde_json::from_str(serve[2]).expect("the manifest is JSON");
    assert_eq!(service["spec"]["predictor"]["model"]["storageUri"], "${kfl.inputs.storage_uri}");
    assert!(serve.contains(&"storage_uri={{$.inputs.parameters['storage_uri']}}"), "{serve:?}");
}

#[test]
fn a_train_task_carries_its_trainjob_with_markers_for_run_time_values() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
param steps: int = 100
step prep() -> (d: Dataset) { run = ["prep", d] }
train fit(data: Dataset = prep.d, lr: float = 0.1) -> (model: Model, rows: int) {
  framework = torch
  run       = ["train", data, "--lr=${lr}", "--steps", steps, model, rows]
  metrics   { acc: float }
}
"#,
    );
    let args: Vec<&str> = spec["deploymentSpec"]["executors"]["exec-fit"]["container"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert_eq!(args[..2], ["trainjob", "--manifest-json"]);
    let job: Json = serde_json::from_str(args[2]).expect("the manifest is JSON");
    assert_eq!(job["kind"], "TrainJob");
    assert!(!args[2].contains(": "), "compact JSON: {}", args[2]);
    // A param read directly is the run's value (`--ref`), not the build's; a value output is read from the log.
    assert_eq!(
        job["spec"]["trainer"]["args"],
        json!([
            "--no-python",
            "train",
            "${kfl.inputs.data}",
            "--lr=${kfl.inputs.lr}",
            "--steps",
            "${kfl.refs.steps}",
            "${kfl.outputs.model}",
            "/kfl/artifacts/fit/rows"
        ])
    );
    assert!(args.contains(&"steps={{$.inputs.parameters['pipelinechannel--steps']}}"), "{args:?}");
    assert!(args.contains(&"lr={{$.inputs.parameters['lr']}}"), "{args:?}");
    assert!(args.contains(&"model={{$.outputs.artifacts['model'].uri}}"), "{args:?}");
    let metric_files: Vec<&str> = args.windows(2).filter(|w| w[0] == "--metric").map(|w| w[1]).collect();
    assert_eq!(
        metric_files,
        ["acc={{$.outputs.parameters['acc'].output_file}}", "rows={{$.outputs.parameters['rows'].output_file}}"]
    );
}

#[test]
fn output_is_deterministic() {
    let text = r#"
project p { image = "python:3.12" }
step a() -> (x: int) { run = ["a", x] }
for i in [1, 2, 3] { step b(x: int = a.x, i: int = i) -> (y: int) { run = ["b", x, i, y] } }
step c(ys: list[int] = b.y) {
  run  = ["c", ys]
  when = a.x > 1
}
"#;
    assert_eq!(compile(text), compile(text));
}

#[test]
fn artifacts_collected_from_a_loop_over_an_output_are_an_artifact_list() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
step gen() -> (items: list[string]) { run = ["gen", items] }
for item in gen.items {
  step use(x: string = item) -> (m: Model) { run = ["use", x, m] }
}
step join(ms: list[Model] = use.m) { run = ["join", ms] }
"#,
    );
    let loop_task = root_task(&spec, "for-loop-2");
    assert_eq!(
        loop_task["parameterIterator"],
        json!({"itemInput": "pipelinechannel--gen-items-loop-item", "items": {"inputParameter": "pipelinechannel--gen-items"}})
    );
    let body = &spec["components"]["comp-for-loop-2"];
    assert_eq!(
        body["dag"]["outputs"]["artifacts"]["pipelinechannel--use-m"],
        json!({"artifactSelectors": [{"outputArtifactKey": "m", "producerSubtask": "use"}]})
    );
    assert_eq!(body["outputDefinitions"]["artifacts"]["pipelinechannel--use-m"]["isArtifactList"], true);
    assert_eq!(spec["components"]["comp-join"]["inputDefinitions"]["artifacts"]["ms"]["isArtifactList"], true);
    assert_eq!(
        root_task(&spec, "join")["inputs"]["artifacts"]["ms"]["taskOutputArtifact"],
        json!({"outputArtifactKey": "pipelinechannel--use-m", "producerTask": "for-loop-2"})
    );
}

#[test]
fn identical_components_are_shared_like_the_sdk_does() {
    let (spec, platform) = compile_with(
        r#"
project p { image = "python:3.12" }
secret creds {
  k8s  = "s3-creds"
  keys = ["AWS_ACCESS_KEY_ID"]
}
step s0(k: int = 0) -> (out: Dataset) { run = ["s", "--k", k, out] }
step s1(data: Dataset = s0.out, k: int = 1) -> (out: Dataset) { run = ["s", data, "--k", k, out] }
step s2(data: Dataset = s1.out, k: int = 2) -> (out: Dataset) { run = ["s", data, "--k", k, out] }
step s3(data: Dataset = s2.out, k: int = 3) -> (out: Dataset) {
  run     = ["s", data, "--k", k, out]
  secrets = [creds]
}
step s4(data: Dataset = s3.out, k: int = 4) -> (out: Dataset) {
  run     = ["s", data, "--k", k, out]
  secrets = [creds]
}
step s5(data: Dataset = s4.out, k: int = 5) -> (out: Dataset) {
  run = ["s", data, "--k", k, out]
  cpu = 1.5
}
step s6(data: Dataset = s5.out, k: int = 6) -> (out: Dataset) {
  run = ["s", data, "--k", k, out]
  cpu = 1.5
}
step s7(data: Dataset = s6.out, k: int = 7) -> (out: Dataset) {
  run = ["s", data, "--k", k, out]
  cpu = 2
}
"#,
        &[],
    );
    let components: Vec<&String> = spec["components"].as_object().expect("components").keys().collect();
    assert_eq!(components, ["comp-s0", "comp-s1", "comp-s3", "comp-s5", "comp-s7"]);
    let executors: Vec<&String> = spec["deploymentSpec"]["executors"].as_object().expect("executors").keys().collect();
    assert_eq!(executors, ["exec-s0", "exec-s1", "exec-s3", "exec-s5", "exec-s7"]);
    let refs: Vec<&Json> = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"]
        .iter()
        .map(|t| &root_task(&spec, t)["componentRef"]["name"])
        .collect();
    let shared = ["comp-s0", "comp-s1", "comp-s1", "comp-s3", "comp-s3", "comp-s5", "comp-s5", "comp-s7"];
    assert_eq!(refs, shared.map(|name| json!(name)).iter().collect::<Vec<_>>());
    // Resources are numbers in the executor: equal ones are shared, different ones are not.
    assert_eq!(spec["deploymentSpec"]["executors"]["exec-s5"]["container"]["resources"]["cpuLimit"], json!(1.5));
    assert_eq!(root_task(&spec, "s2")["inputs"]["parameters"]["k"], json!({"runtimeValue": {"constant": 2}}));
    assert_eq!(spec["components"]["comp-s1"]["executorLabel"], "exec-s1");
    let platform = platform.expect("a platform spec");
    let configs: Vec<&String> = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        .as_object()
        .expect("configs")
        .keys()
        .collect();
    assert_eq!(configs, ["exec-s3"]);
}

#[test]
fn a_step_k8s_block_goes_to_its_kubernetes_executor_config() {
    let (_, platform) = compile_with(
        r#"
project p { image = "python:3.12" }
step a {
  run = ["a"]
  k8s {
    metadata.labels.team = "vision"
    metadata.annotations."example.com/owner" = "ml"
    spec.nodeSelector."cloud.google.com/gke-accelerator" = "nvidia-l4"
    spec.tolerations = [{ key = "gpu", operator = "Exists", effect = "NoSchedule" }]
    spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms = [
      { matchExpressions = [{ key = "zone", operator = "In", values = ["a", "b"] }] }
    ]
    spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution = [
      { weight = 10, preference = { matchExpressions = [{ key = "spot", operator = "DoesNotExist" }] } }
    ]
    spec.imagePullSecrets = [{ name = "registry" }]
    spec.securityContext.runAsUser = 1000
  }
}
"#,
        &[],
    );
    let config =
        &platform.expect("a platform spec")["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-a"];
    assert_eq!(
        config["podMetadata"],
        json!({"annotations": {"example.com/owner": "ml"}, "labels": {"team": "vision"}})
    );
    assert_eq!(config["nodeSelector"], json!({"labels": {"cloud.google.com/gke-accelerator": "nvidia-l4"}}));
    assert_eq!(config["tolerations"], json!([{"effect": "NoSchedule", "key": "gpu", "operator": "Exists"}]));
    assert_eq!(
        config["nodeAffinity"],
        json!([
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
            {"matchExpressions": [{"key": "spot", "operator": "DoesNotExist"}], "weight": 10}
        ])
    );
    assert_eq!(
        config["imagePullSecret"],
        json!([{"secretName": "registry", "secretNameParameter": {"runtimeValue": {"constant": "registry"}}}])
    );
    assert_eq!(config["securityContext"], json!({"runAsUser": 1000}));
}

#[test]
fn a_stage_named_like_the_pipeline_gets_the_next_free_component_name() {
    let spec = compile(
        r#"
project iris { image = "python:3.12" }
step iris -> (out: float) { run = ["a", out] }
step after(x: float = iris.out) { run = ["b", x] }
"#,
    );
    let components = spec["components"].as_object().expect("components");
    assert!(!components.contains_key("comp-iris"), "{components:?}");
    assert!(components.contains_key("comp-iris-2"));
    assert_eq!(root_task(&spec, "iris")["componentRef"]["name"], "comp-iris-2");
    assert_eq!(spec["pipelineInfo"]["name"], "iris");
}

#[test]
fn a_project_without_tasks_writes_no_pipeline() {
    let mut sources = Sources::new();
    let text = "project p { image = \"python:3.12\" }\nnotebook lab { cpu = 1 }\n";
    let id = sources.add(SourceFile::new("main.kfl".to_string(), text.to_string(), Origin::User));
    let checked = crate::check(&mut sources, id, &MemoryLoader { files: Default::default() });
    let program = checked.program().expect("a program");
    let output = crate::codegen::build(program, &BuildOptions::default()).expect("builds");
    let files: Vec<&str> = output.files.iter().map(|(name, _)| name.as_str()).collect();
    assert!(!files.contains(&"pipeline.yaml"), "{files:?}");
    assert!(files.contains(&"plan.json"), "{files:?}");
}

#[test]
fn a_dataset_first_read_inside_an_exit_handler_is_imported_there() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
dataset raw { uri = "s3://bucket/raw.csv" }
step a(d: Dataset = raw) -> (x: float) { run = ["a", d, x] }
step cleanup(x: float = a.x) {
  run    = ["c", x]
  always = true
}
"#,
    );
    let handler = &spec["components"]["comp-exit-handler-1"]["dag"]["tasks"];
    assert!(handler.get("import-raw").is_some(), "{handler:#}");
    assert!(root_task(&spec, "import-raw").is_null());
    assert_eq!(root_task(&spec, "cleanup")["dependentTasks"], json!(["exit-handler-1"]));
}

#[test]
fn interpolated_model_labels_are_task_inputs_and_build_time_params_are_not_pipeline_inputs() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
param workers: int = 2
param tag: string = "nightly"
step a() -> (m: Model, rows: int) { run = ["a", m, rows, tag] }
train t() -> (model: Model) {
  framework = torch
  nodes     = workers
  run       = ["t", model]
}
model reg {
  artifact = a.m
  format   = "sklearn"
  labels   { rows = "${a.rows} rows", kind = "fixed" }
}
"#,
    );
    let args = spec["deploymentSpec"]["executors"]["exec-reg"]["container"]["args"].as_array().expect("args").clone();
    let label = |key: &str| {
        args.windows(2)
            .find(|w| w[0] == "--label" && w[1].as_str().is_some_and(|v| v.starts_with(key)))
            .map(|w| w[1].clone())
    };
    assert_eq!(label("rows="), Some(json!("rows={{$.inputs.parameters['label_0']}}")));
    assert_eq!(label("kind="), Some(json!("kind=fixed")));
    let task = root_task(&spec, "reg");
    assert!(task["inputs"]["parameters"]["label_0"].is_object(), "{task:#}");
    // `workers` only sizes the TrainJob (bound when the file is compiled): a run could not change it.
    let inputs = &spec["root"]["inputDefinitions"]["parameters"];
    assert!(inputs.get("workers").is_none(), "{inputs:#}");
    assert_eq!(inputs["tag"]["defaultValue"], "nightly");
    assert!(args.contains(&json!("param.workers=2")), "{args:#?}");
}

#[test]
fn local_datasets_are_imported_from_their_staged_copy_under_the_pipeline_root() {
    let text = r#"
project p {
  image     = "python:3.12"
  artifacts = "s3://bucket/kfl/"
}
dataset raw { uri = "data/raw.csv" }
dataset remote { uri = "gs://other/remote.csv" }
step s(d: Dataset = raw, e: Dataset = remote) { run = ["s", d, e] }
"#;
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("main.kfl".to_string(), text.to_string(), Origin::User));
    let checked = crate::check(&mut sources, id, &MemoryLoader::default());
    assert!(checked.diagnostics.is_empty(), "a staged local dataset is not cluster-only: {:#?}", checked.diagnostics);
    let program = checked.program.expect("a program");

    // Without the file's digest there is nothing to name: the build refuses rather than import a guess.
    let unstaged = crate::codegen::build(&program, &BuildOptions::default()).expect_err("unstaged");
    assert_eq!(unstaged.len(), 1);
    assert!(unstaged[0].message.contains("`raw` was not staged"), "{}", unstaged[0].message);

    let digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let options = BuildOptions { staged: [("raw".to_string(), digest.to_string())].into(), ..Default::default() };
    let context = Context::new(&program, &options);
    let (spec, _) = documents(&context);
    assert_eq!(spec["defaultPipelineRoot"], "s3://bucket/kfl/");
    let executors = &spec["deploymentSpec"]["executors"];
    let staged = json!({"constant": "s3://bucket/kfl/datasets/0123456789abcdef/raw.csv"});
    assert_eq!(executors["exec-import-raw"]["importer"]["artifactUri"], staged);
    assert_eq!(root_task(&spec, "import-raw")["inputs"]["parameters"]["uri"]["runtimeValue"], staged);
    assert_eq!(
        executors["exec-import-remote"]["importer"]["artifactUri"],
        json!({"constant": "gs://other/remote.csv"})
    );
}

#[test]
fn without_artifacts_there_is_no_pipeline_root() {
    let spec = compile("project p { image = \"x\" }\nstep s { run = [\"s\"] }\n");
    assert!(spec.get("defaultPipelineRoot").is_none(), "{spec}");
}

#[test]
fn datasets_the_launcher_cannot_download_are_string_parameters_of_their_tasks() {
    let spec = compile(
        r#"
project p { image = "python:3.12" }
volume shared { size = 1Gi }
dataset hub { uri = "hf://datasets/acme/chats" }
dataset claim { uri = "pvc://shared/train.parquet" }
dataset web { uri = "http://example.com/train.csv" }
dataset bucket { uri = "s3://acme/train.parquet" }
step prep(a: Dataset = hub, b: Dataset = claim, c: Dataset = web, d: Dataset = bucket) {
  run = ["prep", a, b, c, d]
}
train t(data: Dataset = hub) -> (model: Model) {
  framework = torch
  run       = ["t", data, model]
}
"#,
    );
    let inputs = &spec["components"]["comp-prep"]["inputDefinitions"];
    for (input, uri) in
        [("a", "hf://datasets/acme/chats"), ("b", "pvc://shared/train.parquet"), ("c", "http://example.com/train.csv")]
    {
        assert_eq!(inputs["parameters"][input]["parameterType"], "STRING", "{input}: {inputs:#}");
        let task = root_task(&spec, "prep");
        assert_eq!(task["inputs"]["parameters"][input]["runtimeValue"]["constant"], uri, "{task:#}");
        // The command reads the parameter, as `kfl run` passes the URI text.
        let args = &spec["deploymentSpec"]["executors"]["exec-prep"]["container"]["args"];
        assert!(args.as_array().is_some_and(|a| a.contains(&json!(format!("{{{{$.inputs.parameters['{input}']}}}}")))));
    }
    // An object-store URI is still imported as a Dataset artifact.
    assert_eq!(inputs["artifacts"]["d"]["artifactType"]["schemaTitle"], "system.Dataset");
    let tasks: Vec<&String> = spec["root"]["dag"]["tasks"].as_object().expect("tasks").keys().collect();
    assert_eq!(tasks, ["import-bucket", "prep", "t"]);
    // The train's launcher passes the URI on to the TrainJob's `--data`.
    let train = &spec["components"]["comp-t"]["inputDefinitions"]["parameters"]["data"];
    assert_eq!(train["parameterType"], "STRING");
    let args = &spec["deploymentSpec"]["executors"]["exec-t"]["container"]["args"];
    assert!(args.as_array().is_some_and(|a| a.contains(&json!("data={{$.inputs.parameters['data']}}"))), "{args:#}");
}

#[test]
fn without_artifacts_local_datasets_are_staged_for_kfps_default_bucket() {
    let text = "project p { image = \"python:3.12\" }\ndataset raw { uri = \"data/raw.csv\" }\n\
                dataset later { uri = \"data/later.csv\" }\nstep s(d: Dataset = raw, e: Dataset = later) { run = [\"s\", d, e] }\n";
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("main.kfl".to_string(), text.to_string(), Origin::User));
    let checked = crate::check(&mut sources, id, &MemoryLoader::default());
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["W0403", "W0403"], "{:#?}", checked.diagnostics);
    assert!(checked.diagnostics.iter().all(|d| !d.is_error()));
    let program = checked.program.expect("a program");
    let digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let options = BuildOptions {
        staged: [("raw".to_string(), digest.to_string())].into(),
        absent: ["later".to_string()].into(),
        ..BuildOptions::default()
    };
    let (spec, _) = documents(&Context::new(&program, &options));
    assert!(spec.get("defaultPipelineRoot").is_none(), "KFP keeps its configured root: {spec:#}");
    let executors = &spec["deploymentSpec"]["executors"];
    assert_eq!(
        executors["exec-import-raw"]["importer"]["artifactUri"]["constant"],
        format!("{}/datasets/0123456789abcdef/raw.csv", crate::codegen::staging::DEFAULT_ROOT)
    );
    assert_eq!(
        executors["exec-import-later"]["importer"]["artifactUri"]["constant"],
        format!("{}/datasets/by-name/later/later.csv", crate::codegen::staging::DEFAULT_ROOT)
    );
    assert!(crate::codegen::build(&program, &options).is_ok());
    assert!(crate::codegen::build(&program, &BuildOptions::default()).is_err(), "neither hashed nor found absent");
}
