//! Bind once: every property that can hold a param, taken from the property table, either takes a `-p`
//! override everywhere it is rendered or is refused by the checker on the property's line.
//!
//! For each property of each declaration kind whose shape a param type can fill, two programs are built
//! with `-p v=B`: one writes the property as the literal `B`, the other as the param `v` (default `A`).
//! Both declare `v`, so the params' record (plan.json, model metadata) is the same; every output file —
//! manifests, the launcher manifests inlined in pipeline.yaml, plan.json — must then be byte-identical.
//! A property added to the table later is covered without editing this test.

use kfl_compiler::codegen::{BuildOptions, build};
use kfl_compiler::ir::bind::BindOptions;
use kfl_compiler::source::{MemoryLoader, Origin, SourceFile, Sources};
use kfl_compiler::typeck::schema::{self, PropertySpec, Shape};

const PROJECT: &str = "project p {\n  image = \"python:3.12\"\n}\n";
const STEP: &str = "step s() {\n  run = [\"python3\", \"s.py\"]\n}\n";
const MODEL: &str = "model m {\n  uri    = \"gs://b/m\"\n  format = \"sklearn\"\n}\n";
const SERVE: &str = "serve api {\n  model   = m\n  runtime = sklearn\n}\n";
const SERVE_OPEN: &str = "serve api {\n  model   = m\n  runtime = sklearn\n";
const GPU_STEP: &str = "step s() {\n  run = [\"python3\", \"s.py\"]\n  gpu = 1\n}\n";

/// A small program around one declaration of each kind; `@@` is where the property goes.
fn templates() -> Vec<(&'static str, &'static [PropertySpec], String)> {
    let tune_trial = "step fit(lr: float = 0.1, layers: int = 2) {\n  run = [\"python3\", \"fit.py\", lr, layers]\n  \
                      metrics { loss: float }\n}\n";
    vec![
        ("project", schema::PROJECT, format!("project p {{\n  image = \"python:3.12\"\n@@\n}}\n{STEP}")),
        (
            "volume",
            schema::VOLUME,
            format!(
                "{PROJECT}volume w {{\n  size = 1Gi\n@@\n}}\nstep s() {{\n  run = [\"python3\", \"s.py\"]\n  mount w at \"/data\"\n}}\n"
            ),
        ),
        (
            "dataset",
            schema::DATASET,
            format!(
                "{PROJECT}dataset d {{\n  uri = \"s3://b/x.csv\"\n@@\n}}\nstep s(x: Dataset = d) {{\n  run = [\"python3\", \"s.py\", x]\n}}\n"
            ),
        ),
        ("notebook", schema::NOTEBOOK, format!("{PROJECT}notebook n {{\n  image = \"jupyter:1\"\n@@\n}}\n")),
        ("step", schema::STAGE_COMMON, format!("{PROJECT}step s() {{\n  run = [\"python3\", \"s.py\"]\n@@\n}}\n")),
        (
            "train",
            schema::TRAIN_EXTRA,
            format!(
                "{PROJECT}train t() -> (model: Model) {{\n  framework = torch\n  run = [\"python3\", \"t.py\", model]\n@@\n}}\n"
            ),
        ),
        (
            "tune",
            schema::TUNE,
            format!(
                "{PROJECT}{tune_trial}tune u {{\n  trial     = fit\n  objective = minimize(loss)\n  space {{ lr = uniform(0.01, 0.1), layers = randint(1, 8) }}\n@@\n}}\n"
            ),
        ),
        (
            "model",
            schema::MODEL,
            format!("{PROJECT}model m {{\n  uri    = \"gs://b/m\"\n  format = \"sklearn\"\n@@\n}}\n"),
        ),
        ("serve", schema::SERVE, format!("{PROJECT}{MODEL}serve api {{\n  model   = m\n  runtime = sklearn\n@@\n}}\n")),
        ("monitor", schema::MONITOR, format!("{PROJECT}{MODEL}{SERVE}monitor watch {{\n  service = api\n@@\n}}\n")),
        // Scheduling properties on every declaration kind that holds them, with a GPU so `gpu_type` and
        // `gpu_resource` apply; what a target refuses (E0402) is refused on the property's line.
        (
            "project scheduling",
            schema::SCHEDULING,
            format!("project p {{\n  image = \"python:3.12\"\n@@\n}}\n{GPU_STEP}"),
        ),
        (
            "step scheduling",
            schema::SCHEDULING,
            format!("{PROJECT}step s() {{\n  run = [\"python3\", \"s.py\"]\n  gpu = 1\n@@\n}}\n"),
        ),
        (
            "step identity",
            schema::POD_IDENTITY,
            format!("{PROJECT}step s() {{\n  run = [\"python3\", \"s.py\"]\n@@\n}}\n"),
        ),
        (
            "train scheduling",
            schema::SCHEDULING,
            format!(
                "{PROJECT}train t() -> (model: Model) {{\n  framework = torch\n  run = [\"python3\", \"t.py\", model]\n  gpu = 1\n@@\n}}\n"
            ),
        ),
        (
            "train identity",
            schema::POD_IDENTITY,
            format!(
                "{PROJECT}train t() -> (model: Model) {{\n  framework = torch\n  run = [\"python3\", \"t.py\", model]\n@@\n}}\n"
            ),
        ),
        (
            "serve scheduling",
            schema::SCHEDULING,
            format!("{PROJECT}{MODEL}serve api {{\n  model   = m\n  runtime = sklearn\n  gpu = 1\n@@\n}}\n"),
        ),
        ("serve identity", schema::POD_IDENTITY, format!("{PROJECT}{MODEL}{SERVE_OPEN}@@\n}}\n")),
        (
            "notebook scheduling",
            schema::SCHEDULING,
            format!("{PROJECT}notebook n {{\n  image = \"jupyter:1\"\n  gpu = 1\n@@\n}}\n"),
        ),
        (
            "notebook identity",
            schema::POD_IDENTITY,
            format!("{PROJECT}notebook n {{\n  image = \"jupyter:1\"\n@@\n}}\n"),
        ),
    ]
}

/// The param type, default (`A`, as source) and override (`B`, as source and as `-p` text) for a shape.
fn values(spec: &PropertySpec) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    Some(match spec.shape {
        Shape::Int { min } if min <= 1 => ("int", "2", "3", "3"),
        Shape::Replicas => ("int", "2", "3", "3"),
        Shape::Float => ("float", "0.5", "0.75", "0.75"),
        Shape::Bool => ("bool", "true", "false", "false"),
        Shape::Percent => ("percent", "10%", "30%", "30%"),
        Shape::Quantity | Shape::QuantityOrRange => ("quantity", "1Gi", "3Gi", "3Gi"),
        Shape::Cpu | Shape::CpuOrRange => ("cpu", "500m", "2", "2"),
        Shape::Duration => ("duration", "10m", "25m", "25m"),
        Shape::Cron => ("string", "\"0 3 * * 1\"", "\"30 4 * * 2-5\"", "30 4 * * 2-5"),
        Shape::String if spec.name == "uri" => ("string", "\"s3://b/a\"", "\"s3://b/override\"", "s3://b/override"),
        Shape::String => ("string", "\"alpha\"", "\"bravo\"", "bravo"),
        _ => return None,
    })
}

/// The template with the marker in place of the declaration's own `name = …` line, when it has one
/// (a dataset's `uri`, a notebook's `image`).
fn in_place(template: &str, name: &str) -> String {
    let lines: Vec<&str> = template.lines().collect();
    let marker = lines.iter().position(|l| *l == "@@").expect("marker");
    let header = lines[..marker].iter().rposition(|l| l.ends_with('{') && !l.starts_with(' ')).unwrap_or(0);
    let own = (header..marker)
        .find(|&i| lines[i].trim_start().strip_prefix(name).is_some_and(|rest| rest.trim_start().starts_with('=')));
    let Some(own) = own else { return template.to_string() };
    let kept: Vec<&str> = lines.iter().enumerate().filter(|(i, _)| *i != marker).map(|(_, l)| *l).collect();
    let mut out: Vec<&str> = kept.clone();
    out[own] = "@@";
    out.join("\n") + "\n"
}

/// Output files as (name, contents), or the errors as (code, line).
type Compiled = Result<Vec<(String, String)>, Vec<(String, usize)>>;

fn compile(text: &str, params: &[(String, String)]) -> Compiled {
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("main.kfl".to_string(), text.to_string(), Origin::User));
    let bind = BindOptions { params: params.to_vec(), require_all: true };
    let checked = kfl_compiler::check_bound(&mut sources, id, &MemoryLoader::default(), &bind);
    let errors = |diagnostics: &[kfl_compiler::diagnostics::Diagnostic]| {
        let file = sources.get(id);
        diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| (d.code.as_str().to_string(), file.line_col(d.primary.span.start).0))
            .collect::<Vec<_>>()
    };
    let Some(program) = checked.program() else { return Err(errors(&checked.diagnostics)) };
    build(program, &kfl_tests::build_options(program)).map(|output| output.files).map_err(|d| errors(&d))
}

#[test]
fn every_bound_property_takes_the_override_or_is_refused() {
    let mut covered = Vec::new();
    for (kind, table, template) in templates() {
        // Every property a scalar param can fill, whatever the table says of its binding: with `-p`, the
        // param must render exactly as the literal does (shapes that keep references for the run, such as
        // `run` and `env`, are left out by `values`).
        for spec in table.iter() {
            let Some((ty, a, b, b_text)) = values(spec) else { continue };
            let template = in_place(&template, spec.name);
            let line = template.lines().position(|l| l == "@@").expect("marker") + 2;
            let with = |value: &str| {
                format!("param v: {ty} = {a}\n{}", template.replace("@@", &format!("  {} = {value}", spec.name)))
            };
            let params = [("v".to_string(), b_text.to_string())];
            // A property the template cannot hold as a literal either is not this test's concern.
            let Ok(literal) = compile(&with(b), &params) else { continue };
            match compile(&with("v"), &params) {
                Ok(bound) => {
                    let names = |files: &[(String, String)]| files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
                    assert_eq!(names(&bound), names(&literal), "{kind}.{}: different files", spec.name);
                    for ((file, bound), (_, literal)) in bound.iter().zip(&literal) {
                        assert!(
                            bound == literal,
                            "{kind}.{} = v with `-p v={b_text}` differs from `{} = {b}` in {file}:\n--- param\n{bound}\n--- literal\n{literal}",
                            spec.name,
                            spec.name
                        );
                    }
                }
                Err(errors) => assert!(
                    errors.iter().any(|(_, l)| *l == line),
                    "{kind}.{}: a param is refused, but not on its line {line}: {errors:?}",
                    spec.name
                ),
            }
            covered.push(format!("{kind}.{}", spec.name));
        }
    }
    // The table's scalar properties of the kinds the issue names, at least.
    for must in [
        "project.namespace",
        "train.nodes",
        "step.gpu",
        "step.memory",
        "step.cpu",
        "step.retries",
        "serve.canary",
        "serve.replicas",
        "dataset.uri",
        "step scheduling.queue",
        "train scheduling.gpu_type",
        "serve scheduling.priority_class",
        "notebook identity.service_account",
        "project scheduling.queue",
    ] {
        assert!(covered.iter().any(|c| c == must), "{must} not covered; covered: {covered:?}");
    }
}

/// `kfl run` (the checker, then the plan) and `kfl build` (the checker, then every back end) accept exactly
/// the same programs: every fixture and every example.
#[test]
fn run_and_build_accept_the_same_programs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_current_dir(&root).unwrap_or_else(|e| panic!("cd {}: {e}", root.display()));
    let mut differ = Vec::new();
    let mut seen = 0;
    for dir in ["tests/cases/errors", "tests/cases/compile", "examples"] {
        for path in kfl_tests::kfl_files(std::path::Path::new(dir)) {
            if kfl_tests::in_lib_folder(&path) || kfl_tests::in_run_state(&path) {
                continue;
            }
            seen += 1;
            let out = kfl_tests::check_file_bound(&path);
            let Some(program) = out.checked.program() else { continue };
            let run = kfl_compiler::codegen::build_plan(program, &BuildOptions::default());
            let built = build(program, &kfl_tests::build_options(program));
            if run.is_ok() != built.is_ok() {
                let codes = |d: &[kfl_compiler::diagnostics::Diagnostic]| {
                    d.iter().map(|d| format!("{} {}", d.code.as_str(), d.message)).collect::<Vec<_>>()
                };
                let why = match (&run, &built) {
                    (Err(d), _) => format!("run refuses: {:?}", codes(d)),
                    (_, Err(d)) => format!("build refuses: {:?}", codes(d)),
                    _ => String::new(),
                };
                differ.push(format!("{}: {why}", path.display()));
            }
        }
    }
    assert!(seen > 50, "found only {seen} programs");
    assert!(differ.is_empty(), "`kfl run` and `kfl build` disagree:\n{}", differ.join("\n"));
}
