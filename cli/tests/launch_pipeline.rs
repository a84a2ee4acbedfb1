//! The compiler and the launcher agree: every `kfl launch` task of every compiled example and fixture, with KFP's placeholders filled as KFP fills them, is accepted by `kfl launch --dry-run` and leaves no marker unfilled.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

#[path = "launch/staged.rs"]
mod staged;

fn kfl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kfl"))
}

fn sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [root.join("examples"), root.join("tests/cases/compile")] {
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read dir").map(|e| e.expect("entry").path()) {
                let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                if entry.is_dir() && name != "lib" && name != ".kfl" {
                    stack.push(entry);
                } else if name.ends_with(".kfl") {
                    files.push(entry);
                }
            }
        }
    }
    files.sort();
    files
}

/// What KFP puts in place of a placeholder: output artifacts get URIs under one root, output parameters files.
fn fill(arg: &str, scratch: &Path) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("{{$") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").map_or(rest.len(), |e| start + e + 2);
        let placeholder = &rest[start..end];
        let key = placeholder.split('\'').nth(1).unwrap_or("key");
        out.push_str(&if placeholder.starts_with("{{$.outputs.artifacts[") {
            format!("s3://root/{key}")
        } else if placeholder.ends_with(".output_file}}") {
            scratch.join(key).display().to_string()
        } else if placeholder.starts_with("{{$.inputs.artifacts[") {
            format!("s3://root/in/{key}")
        } else {
            format!("value-of-{key}")
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `{{$}}`: the executor input, with the task's output artifacts at the URIs `fill` gives them.
fn executor_input(args: &[String], scratch: &Path) -> String {
    let mut artifacts = serde_json::Map::new();
    for arg in args {
        if let Some(at) = arg.find("{{$.outputs.artifacts['") {
            let key = arg[at..].split('\'').nth(1).unwrap_or_default();
            artifacts.insert(key.to_string(), json!({"artifacts": [{"uri": format!("s3://root/{key}")}]}));
        }
    }
    json!({"outputs": {"artifacts": artifacts, "outputFile": scratch.join("output_metadata.json").display().to_string()}})
        .to_string()
}

#[test]
fn every_compiled_launcher_task_is_accepted_by_kfl_launch() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for (n, source) in sources().iter().enumerate() {
        let out = scratch.path().join(format!("build-{n}"));
        let sources = scratch.path().join(format!("source-{n}"));
        std::fs::create_dir_all(&sources).expect("mkdir");
        let source = &staged::staged(source, &sources);
        let build = kfl().arg("build").arg(source).arg("-o").arg(&out).output().expect("kfl build");
        assert!(build.status.success(), "{}: {}", source.display(), String::from_utf8_lossy(&build.stderr));
        let text = std::fs::read_to_string(out.join("pipeline.yaml")).expect("pipeline.yaml");
        let first = text.split("\n---\n").next().unwrap_or_default();
        let pipeline: Value = serde_saphyr::from_str(first).expect("pipeline.yaml is YAML");
        let platform: Value = text
            .split("\n---\n")
            .nth(1)
            .map(|doc| serde_saphyr::from_str(doc).expect("platform spec"))
            .unwrap_or_default();
        let executors = pipeline.pointer("/deploymentSpec/executors").and_then(Value::as_object);
        for (executor, spec) in executors.into_iter().flatten() {
            let Some(container) = spec.get("container") else { continue };
            if container["command"] != json!(["kfl", "launch"]) {
                continue;
            }
            let raw: Vec<String> = container["args"]
                .as_array()
                .expect("args")
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect();
            let args: Vec<String> = raw
                .iter()
                .map(
                    |arg| if arg == "{{$}}" { executor_input(&raw, scratch.path()) } else { fill(arg, scratch.path()) },
                )
                .collect();
            // Each launcher pod is told its namespace, which `kfl launch` checks against the project's.
            let config = platform.pointer(&format!("/platforms/kubernetes/deploymentSpec/executors/{executor}"));
            assert_eq!(
                config.and_then(|c| c.get("fieldPathAsEnv")),
                Some(&json!([{"name": "KFL_POD_NAMESPACE", "fieldPath": "metadata.namespace"}])),
                "{} {executor}: the pod's namespace reaches the launcher",
                source.display()
            );
            // The run executes in the project's namespace (or, for a project without one, anywhere: the pod's).
            let flag = args.iter().position(|a| a == "--namespace").map(|at| args[at + 1].clone());
            let pod_namespace = flag.unwrap_or_else(|| "profile-ns".to_string());
            let launched = kfl()
                .arg("launch")
                .args(&args)
                .arg("--dry-run")
                .env("KFL_POD_NAMESPACE", &pod_namespace)
                .env_remove("KUBERNETES_SERVICE_HOST")
                .output()
                .expect("kfl launch");
            let stdout = String::from_utf8_lossy(&launched.stdout);
            assert!(
                launched.status.success(),
                "{} {executor}: kfl launch {:?}\n{}",
                source.display(),
                args,
                String::from_utf8_lossy(&launched.stderr)
            );
            assert!(!stdout.contains("${kfl."), "{} {executor}: a marker is left:\n{stdout}", source.display());
            if args[0] != "register-model" && !stdout.trim().is_empty() {
                let object: Value = serde_json::from_str(&stdout).expect("the object as JSON");
                assert_eq!(object["metadata"]["namespace"], json!(pod_namespace), "{} {executor}", source.display());
            }
            kinds.insert(args[0].clone());
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} launcher tasks found");
    let expected = ["experiment", "inferenceservice", "monitor", "register-model", "trainjob"];
    assert_eq!(
        kinds.iter().map(String::as_str).collect::<Vec<_>>(),
        expected,
        "every kind of launcher task is covered"
    );
}
