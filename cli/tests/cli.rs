//! The `kfl` binary end to end: exit codes, JSON diagnostics, and atomic `kfl build` output.

use std::path::{Path, PathBuf};
use std::process::Command;

fn kfl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kfl"))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh folder under the target directory (removed first).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

#[test]
fn check_exit_codes_are_0_1_2() {
    let ok = kfl().arg("check").arg(workspace().join("examples")).output().unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    let dir = scratch("exit-codes");
    let bad = dir.join("bad.kfl");
    std::fs::write(&bad, "project p { image = \"x\" }\nstep a { run = [\"x\", nope] }\n").unwrap();
    let user_error = kfl().arg("check").arg(&bad).output().unwrap();
    assert_eq!(user_error.status.code(), Some(1));
    let missing = kfl().arg("check").arg(dir.join("missing.kfl")).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let usage = kfl().arg("check").arg("--format").arg("xml").output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn json_diagnostics_have_the_spec_fields() {
    let dir = scratch("json");
    let bad = dir.join("bad.kfl");
    std::fs::write(&bad, "project p { image = \"x\" }\nstep a { run = [\"x\", nope] }\n").unwrap();
    let out = kfl().arg("check").arg("--format").arg("json").arg(&bad).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().next().unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    for field in ["code", "severity", "message", "file", "line", "column", "end_line", "end_column", "help"] {
        assert!(json.get(field).is_some(), "missing {field} in {line}");
    }
    assert_eq!(json["code"], "E0101");
    assert_eq!(json["line"], 2);
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let dir = scratch("deny");
    let file = dir.join("warn.kfl");
    std::fs::write(&file, "project p { image = \"x\" }\nparam unused: int = 1\nstep a { run = [\"x\"] }\n").unwrap();
    assert_eq!(kfl().arg("check").arg(&file).status().unwrap().code(), Some(0));
    assert_eq!(kfl().args(["check", "--deny", "warnings"]).arg(&file).status().unwrap().code(), Some(1));
}

#[test]
fn build_is_deterministic_and_atomic() {
    let dir = scratch("build");
    let out = dir.join("out");
    let iris = workspace().join("examples/iris/iris.kfl");
    let first = kfl().arg("build").arg(&iris).arg("-o").arg(&out).output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    let snapshot = read_tree(&out);
    assert!(snapshot.iter().any(|(p, _)| p == "kustomization.yaml"), "no kustomization.yaml");

    // A second build gives byte-identical files.
    let again = dir.join("again");
    assert_eq!(kfl().arg("build").arg(&iris).arg("-o").arg(&again).status().unwrap().code(), Some(0));
    assert_eq!(snapshot, read_tree(&again), "two builds differ");

    // A failing build leaves the previous output untouched.
    let bad = dir.join("bad.kfl");
    std::fs::write(&bad, "project p { image = \"x\" }\nstep a { run = [\"x\", nope] }\n").unwrap();
    let failed = kfl().arg("build").arg(&bad).arg("-o").arg(&out).output().unwrap();
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(snapshot, read_tree(&out), "a failed build changed the output folder");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary folders left behind: {leftovers:?}");
}

#[test]
fn build_rejects_bad_param_overrides() {
    let dir = scratch("params");
    let iris = workspace().join("examples/iris/iris.kfl");
    let out =
        kfl().arg("build").arg(&iris).args(["-o"]).arg(dir.join("o")).args(["-p", "epochs=many"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("epochs=many"));
    assert!(!dir.join("o").exists());
}

#[test]
fn build_refuses_what_only_runs_locally_and_check_warns() {
    let dir = scratch("cluster-only");
    let source = dir.join("fan_in.kfl");
    // KFP's launcher gives a task only the first artifact of a list collected from a `for` (W0402).
    std::fs::write(
        &source,
        "project p { image = \"python:3.12\" }\n\
         for shard in 0..2 {\n  step part(shard: int = shard) -> (out: Dataset) { run = [\"part\", shard, out] }\n}\n\
         step merge(parts: list[Dataset] = part.out) { run = [\"merge\", parts] }\n",
    )
    .unwrap();
    let checked = kfl().arg("check").arg(&source).output().unwrap();
    assert_eq!(checked.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&checked.stderr).contains("W0402"));
    let built = kfl().arg("build").arg(&source).arg("-o").arg(dir.join("o")).output().unwrap();
    assert_eq!(built.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(stderr.contains("W0402") && stderr.contains("part.out"), "{stderr}");
    assert!(!dir.join("o").exists());
}

#[test]
fn build_stages_local_datasets_for_kfps_default_bucket_without_artifacts() {
    let dir = scratch("default-bucket");
    let source = dir.join("local.kfl");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/train.csv"), "x\n1\n").unwrap();
    std::fs::write(&source, LOCAL_DATASET.replace("ARTIFACTS\n", "")).unwrap();
    let checked = kfl().arg("check").arg(&source).output().unwrap();
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("W0403") && !stderr.contains("W0402"), "{stderr}");

    let built = kfl().arg("build").arg(&source).arg("-o").arg(dir.join("o")).output().unwrap();
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert_eq!(built.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("W0403"), "{stderr}");
    let pipeline = std::fs::read_to_string(dir.join("o/pipeline.yaml")).unwrap();
    // KFP keeps its configured pipeline root: kfl sets none.
    assert!(!pipeline.contains("defaultPipelineRoot"), "{pipeline}");
    let uri = importer_uri(&dir.join("o"));
    let relative = uri.strip_prefix("minio://mlpipeline/kfl/").unwrap_or_else(|| panic!("{uri}"));
    assert!(relative.starts_with("datasets/") && relative.ends_with("/train.csv"), "{uri}");
    assert_eq!(std::fs::read(dir.join("o/stage").join(relative)).unwrap(), b"x\n1\n");
    let upload = format!("mc mirror --overwrite {} kfl/mlpipeline/kfl", dir.join("o/stage").display());
    assert!(stderr.contains(&upload), "{stderr}");
}

#[test]
fn remote_datasets_kfp_cannot_download_reach_tasks_as_text() {
    let dir = scratch("remote-datasets");
    let source = dir.join("remote.kfl");
    std::fs::write(
        &source,
        "project p { image = \"python:3.12\" }\n\
         volume shared { size = 1Gi }\n\
         dataset hub { uri = \"hf://datasets/acme/chats\" }\n\
         dataset claim { uri = \"pvc://shared/train.parquet\" }\n\
         dataset web { uri = \"https://example.com/train.csv\" }\n\
         step prep(a: Dataset = hub, b: Dataset = claim, c: Dataset = web) {\n  \
           run = [\"python3\", \"prep.py\", a, b, c]\n  mount shared at \"/data\"\n}\n",
    )
    .unwrap();
    let checked = kfl().arg("check").arg(&source).output().unwrap();
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("W04"), "{stderr}");
    let built = kfl().arg("build").arg(&source).arg("-o").arg(dir.join("o")).output().unwrap();
    assert_eq!(built.status.code(), Some(0), "{}", String::from_utf8_lossy(&built.stderr));
    let pipeline = std::fs::read_to_string(dir.join("o/pipeline.yaml")).unwrap();
    assert!(!pipeline.contains("importer"), "{pipeline}");
    for uri in ["hf://datasets/acme/chats", "pvc://shared/train.parquet", "https://example.com/train.csv"] {
        assert!(pipeline.contains(&format!("constant: {uri}")), "{uri} in {pipeline}");
    }
}

/// Every program of the language spec's examples (`../shared/design/examples`, or `$KFL_SHARED/design/examples`)
/// builds, and what it writes passes `kube-validate`.
#[test]
fn spec_examples_build_and_pass_kube_validate() {
    let shared = std::env::var_os("KFL_SHARED").map_or_else(|| workspace().join("../shared"), PathBuf::from);
    let examples = shared.join("design/examples");
    let validate = shared.join("tools/kube-validate");
    if !examples.is_dir() || !validate.is_file() {
        eprintln!("!! SKIPPED: no {} or {} (set KFL_SHARED)", examples.display(), validate.display());
        return;
    }
    let dir = scratch("spec-examples");
    let mut files = Vec::new();
    let mut stack = vec![examples];
    while let Some(folder) = stack.pop() {
        for path in std::fs::read_dir(&folder).unwrap().flatten().map(|e| e.path()) {
            if path.is_dir() && path.file_name().is_some_and(|n| n != "lib") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kfl") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut documents = Vec::new();
    for (n, file) in files.iter().enumerate() {
        let out = dir.join(format!("{n}"));
        let built = kfl().arg("build").arg(file).arg("-o").arg(&out).output().unwrap();
        assert_eq!(built.status.code(), Some(0), "{}: {}", file.display(), String::from_utf8_lossy(&built.stderr));
        documents.extend(read_tree(&out).into_iter().filter(|(p, _)| p.ends_with(".yaml")).map(|(p, _)| out.join(p)));
    }
    for name in ["iris/iris.kfl", "llm-finetune/finetune.kfl"] {
        assert!(files.iter().any(|f| f.ends_with(name)), "{name} is not among {files:?}");
    }
    let validated = Command::new(&validate).args(&documents).output().unwrap();
    let stdout = String::from_utf8_lossy(&validated.stdout);
    assert_eq!(validated.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&validated.stderr));
    // A file may hold several documents (pipeline.yaml: the PipelineSpec and its PlatformSpec), each validated.
    let passed = stdout
        .lines()
        .find_map(|line| line.strip_suffix(" passed, 0 failed"))
        .and_then(|n| n.trim().parse::<usize>().ok());
    assert!(passed.is_some_and(|n| n >= documents.len()), "{} files: {stdout}", documents.len());
}

/// A project reading a local file; `ARTIFACTS` is where a test puts its `artifacts` line, if any.
const LOCAL_DATASET: &str = "project p {\n  image = \"python:3.12\"\n  ARTIFACTS\n}\n\
    dataset raw { uri = \"data/train.csv\" }\n\
    step prep(src: Dataset = raw) { run = [\"python3\", \"prep.py\", src] }\n";

/// The first line after `key` in `pipeline.yaml` under `out`, trimmed.
fn pipeline_value(out: &Path, key: &str) -> String {
    let pipeline = std::fs::read_to_string(out.join("pipeline.yaml")).unwrap();
    let at = pipeline.find(key).unwrap_or_else(|| panic!("no {key} in {pipeline}"));
    pipeline[at + key.len()..].split_whitespace().next().unwrap_or_default().to_string()
}

/// The URI the importer of `pipeline.yaml` under `out` names.
fn importer_uri(out: &Path) -> String {
    pipeline_value(out, "artifactUri:\n          constant:")
}

/// The importer of `pipeline.yaml` under `out`, its URI and the pipeline root.
fn importer_uri_and_root(out: &Path) -> (String, String) {
    (importer_uri(out), pipeline_value(out, "defaultPipelineRoot:"))
}

#[test]
fn build_stages_local_datasets_content_addressed_under_project_artifacts() {
    let dir = scratch("artifacts");
    let source = dir.join("local.kfl");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/train.csv"), "x\n1\n").unwrap();
    std::fs::write(&source, LOCAL_DATASET.replace("ARTIFACTS", "artifacts = \"s3://acme/kfl\"")).unwrap();
    let checked = kfl().arg("check").arg(&source).output().unwrap();
    assert!(!String::from_utf8_lossy(&checked.stderr).contains("W0402"), "staged data is not cluster-only");

    let built = kfl().arg("build").arg(&source).arg("-o").arg(dir.join("o")).output().unwrap();
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert_eq!(built.status.code(), Some(0), "{stderr}");
    let (uri, root) = importer_uri_and_root(&dir.join("o"));
    assert_eq!(root, "s3://acme/kfl");
    let relative = uri.strip_prefix("s3://acme/kfl/").unwrap_or_else(|| panic!("{uri}"));
    assert!(relative.starts_with("datasets/") && relative.ends_with("/train.csv"), "{uri}");
    // The staged copy sits where the upload command puts it under the prefix, byte for byte.
    assert_eq!(std::fs::read(dir.join("o/stage").join(relative)).unwrap(), b"x\n1\n");
    assert!(stderr.contains(&format!("aws s3 sync {} s3://acme/kfl", dir.join("o/stage").display())), "{stderr}");

    // New contents, new object: a run never reads another build's data.
    std::fs::write(dir.join("data/train.csv"), "x\n2\n").unwrap();
    assert_eq!(kfl().arg("build").arg(&source).arg("-o").arg(dir.join("o2")).status().unwrap().code(), Some(0));
    let (changed, _) = importer_uri_and_root(&dir.join("o2"));
    assert_ne!(uri, changed);

    // A missing file (made or fetched after the build) is staged by nobody: the importer names a place by the
    // dataset's name, and the build says to put the data there.
    std::fs::remove_file(dir.join("data/train.csv")).unwrap();
    let missing = kfl().arg("build").arg(&source).arg("-o").arg(dir.join("o3")).output().unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(0), "{stderr}");
    let by_name = "s3://acme/kfl/datasets/by-name/raw/train.csv";
    assert_eq!(importer_uri(&dir.join("o3")), by_name);
    assert!(stderr.contains("warning: dataset `raw`") && stderr.contains(by_name), "{stderr}");
    assert!(!dir.join("o3/stage").exists());

    // A file that is there but cannot be read (a dangling link) is a diagnostic on the dataset, and nothing
    // is written.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.join("data/gone.csv"), dir.join("data/train.csv")).unwrap();
        let unreadable = kfl().arg("build").arg(&source).arg("-o").arg(dir.join("o4")).output().unwrap();
        let stderr = String::from_utf8_lossy(&unreadable.stderr);
        assert_eq!(unreadable.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("E0105") && stderr.contains("cannot stage dataset `raw`"), "{stderr}");
        assert!(!dir.join("o4").exists());
    }
}

/// (relative path, contents) of every file under `root`, sorted.
fn read_tree(root: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                files.push((relative, std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    files.sort();
    files
}

fn graph(file: &Path, format: &str) -> String {
    let out = kfl().arg("graph").arg(file).args(["--format", format]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn graph_shows_for_fan_out_and_when_gates() {
    let dir = scratch("graph");
    let file = dir.join("gates.kfl");
    std::fs::write(
        &file,
        "project p { image = \"x\" }\n\
         param folds: list[int] = [1, 2]\n\
         for fold in folds {\n  step cv(k: int = fold) -> (score: float) { run = [\"cv\", k, score] }\n}\n\
         step pick(scores: list[float] = cv.score) -> (best: float) { run = [\"pick\", scores, best] }\n\
         step ship(x: float = pick.best) {\n  run = [\"ship\", x]\n  when = pick.best >= 0.9 && !(pick.best > 0.99)\n}\n",
    )
    .unwrap();
    let dot = graph(&file, "dot");
    assert!(
        dot.contains("subgraph \"cluster_for_0\" {\n    label=\"for fold in folds\";\n    style=dashed;\n    \"cv\""),
        "{dot}"
    );
    assert!(
        dot.contains("\"ship\" [shape=box, label=\"ship\\n(step)\\nwhen pick.best >= 0.9 && !(pick.best > 0.99)\"]"),
        "{dot}"
    );
    let mermaid = graph(&file, "mermaid");
    assert!(mermaid.contains("  subgraph for_0 [\"for fold in folds\"]\n    cv[\"cv (step)\"]\n  end\n"), "{mermaid}");
    assert!(
        mermaid.contains("ship[\"ship (step)<br/>when pick.best #gt;= 0.9 #amp;#amp; !(pick.best #gt; 0.99)\"]"),
        "{mermaid}"
    );
    // A fixture's literal range heads its cluster; a file without gates gets no `when` line.
    let plain = graph(&workspace().join("tests/cases/compile/for_fan_in.kfl"), "dot");
    assert!(plain.contains("label=\"for fold in 0..4\""), "{plain}");
    assert!(!plain.contains("when"), "{plain}");
}
