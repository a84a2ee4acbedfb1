//! Unit tests of plan.json: in-memory sources built end to end, the plan read back as JSON.

use crate::codegen::{BuildOptions, build};
use crate::source::{MemoryLoader, Origin, SourceFile, Sources};

fn plan_of(text: &str, params: &[(&str, &str)]) -> serde_json::Value {
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("main.kfl".to_string(), text.to_string(), Origin::User));
    let bind = crate::ir::bind::BindOptions {
        params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        require_all: true,
    };
    let checked = crate::check_bound(&mut sources, id, &MemoryLoader::default(), &bind);
    let program = checked.program().unwrap_or_else(|| panic!("does not check: {:#?}", checked.diagnostics));
    let options = BuildOptions::default();
    let output = build(program, &options).unwrap_or_else(|d| panic!("does not build: {d:#?}"));
    let (_, text) = output.files.iter().find(|(name, _)| name == "plan.json").expect("plan.json");
    assert!(text.ends_with('\n'));
    // The streamed plan (`write_plan`) is byte for byte serde's text of the whole plan.
    let whole = super::whole_plan(&crate::codegen::Context::new(program, &options));
    assert_eq!(text, &(serde_json::to_string_pretty(&whole).expect("serialises") + "\n"), "streamed plan differs");
    let again = build(program, &options).unwrap_or_else(|d| panic!("{d:#?}"));
    assert!(again.files.iter().any(|(name, t)| name == "plan.json" && t == text), "plan is not deterministic");
    serde_json::from_str(text).expect("plan.json is JSON")
}

fn stage<'a>(plan: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    plan["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage {name}"))
}

const PIPELINE: &str = r#"
project demo { image = "img:1" }
param epochs: int = 3
dataset raw { uri = "s3://bucket/raw.csv" }
step report(score: float = fit.score) { run = ["echo", "score=${score}"] }
step prep(src: Dataset = raw) -> (out: Dataset) {
  run = ["prep", src, "--out", out, "--epochs", epochs]
  retries = 2
  timeout = 90s
}
step fit(data: Dataset = prep.out, e: int = epochs) -> (score: float) {
  run = ["fit", data, e, score]
  local { run = ["fit", "--fast", data, score] }
}
"#;

#[test]
fn stages_follow_the_topological_order() {
    let plan = plan_of(PIPELINE, &[]);
    assert_eq!(plan["plan_version"], 1);
    let names: Vec<&str> = plan["stages"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["prep", "fit", "report"]);
    assert_eq!(stage(&plan, "fit")["depends_on"], serde_json::json!([{ "stage": "prep", "kind": "data" }]));
    assert_eq!(stage(&plan, "prep")["timeout_seconds"], 90);
    assert_eq!(stage(&plan, "prep")["retries"], 2);
    assert_eq!(plan["datasets"][0]["kind"], "s3");
}

#[test]
fn commands_are_typed_parts_and_local_run_wins() {
    let plan = plan_of(PIPELINE, &[]);
    let prep = &stage(&plan, "prep")["command"];
    assert_eq!(prep[0], serde_json::json!({ "kind": "text", "text": "prep" }));
    assert_eq!(prep[1], serde_json::json!({ "kind": "input", "name": "src" }));
    assert_eq!(prep[3], serde_json::json!({ "kind": "output", "name": "out" }));
    assert_eq!(prep[5], serde_json::json!({ "kind": "param", "name": "epochs" }));
    let fit = &stage(&plan, "fit");
    assert_eq!(fit["command"][1], serde_json::json!({ "kind": "text", "text": "--fast" }));
    assert_eq!(
        fit["inputs"][0]["binding"],
        serde_json::json!({ "kind": "output", "stage": "prep", "output": "out", "fan_in": false })
    );
    assert_eq!(fit["outputs"][0]["kind"], "scalar");
    let report = &stage(&plan, "report")["command"][1];
    assert_eq!(report["kind"], "template");
    assert_eq!(report["parts"][1], serde_json::json!({ "kind": "input", "name": "score" }));
}

#[test]
fn params_carry_overrides() {
    let plan = plan_of(PIPELINE, &[("epochs", "12")]);
    assert_eq!(
        plan["params"][0],
        serde_json::json!({ "name": "epochs", "type": "int", "value": { "type": "int", "value": 12, "text": "12" } })
    );
}

#[test]
fn loops_list_their_items() {
    let plan = plan_of(
        r#"
project demo { image = "img:1" }
for fold in 0..4 {
  step cv(fold: int = fold) -> (score: float) { run = ["cv", fold, score] }
}
for name in ["a", "b"] {
  step each(n: string = name) { run = ["each", n, name] }
}
step mean(scores: list[float] = cv.score) { run = ["mean", scores] }
"#,
        &[],
    );
    let cv = stage(&plan, "cv");
    assert_eq!(cv["loop"]["items"], serde_json::json!({ "kind": "range", "from": 0, "to": 4 }));
    assert_eq!(cv["loop"]["var"], "fold");
    assert_eq!(cv["inputs"][0]["binding"], serde_json::json!({ "kind": "loop_var", "name": "fold" }));
    let each = stage(&plan, "each");
    assert_eq!(each["loop"]["items"]["items"][1]["value"], "b");
    assert_eq!(each["command"][2], serde_json::json!({ "kind": "loop_var", "name": "name" }));
    assert_eq!(stage(&plan, "mean")["inputs"][0]["binding"]["fan_in"], true);
}

#[test]
fn tunes_carry_their_trial_and_space() {
    let plan = plan_of(
        r#"
project demo { image = "img:1" }
train fit(lr: float = 0.1, width: int = 8) -> (model: Model) {
  framework = torch
  run = ["fit", "--lr", lr, "--width", width, model]
  metrics { accuracy: float }
}
tune search {
  trial = fit
  objective = maximize(accuracy)
  algorithm = tpe(seed = 7)
  trials = 10
  parallel = 2
  space {
lr = loguniform(0.001, 0.5)
width = choice(8, 16)
  }
}
step use(m: Model = search.best.model) { run = ["use", m] }
"#,
        &[],
    );
    let names: Vec<&str> = plan["stages"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["fit", "search", "use"]);
    assert_eq!(stage(&plan, "fit")["trial_of"], "search");
    assert_eq!(stage(&plan, "fit")["depends_on"], serde_json::json!([]));
    assert_eq!(stage(&plan, "fit")["train"]["framework"], "torch");
    let search = stage(&plan, "search");
    assert_eq!(search["kind"], "tune");
    assert_eq!(search["goal"], "maximize");
    assert_eq!(search["algorithm"]["seed"], 7);
    assert_eq!(search["space"][0]["distribution"], "loguniform");
    assert_eq!(search["space"][0]["args"][1]["value"]["value"], 0.5);
    assert_eq!(search["space"][1]["args"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        stage(&plan, "use")["inputs"][0]["binding"],
        serde_json::json!({ "kind": "best", "tune": "search", "field": "model", "what": "output" })
    );
}
