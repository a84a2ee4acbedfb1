//! The launcher image reaches every container that runs `kfl`: `--launcher-image` wins over `project.launcher_image`, which wins over the default that follows kfl's version; a bad reference is refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn kfl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kfl"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// A project with a launcher task of each kind that runs `kfl` (register, serve, monitor), a scheduled retrain
/// (CronJob), a `then = retrain` rule (the receiver Deployment) and a `std.*` component (`kfl builtin`).
fn source(launcher_image: Option<&str>) -> String {
    let line = launcher_image.map(|image| format!("  launcher_image = \"{image}\"\n")).unwrap_or_default();
    format!(
        "import std.data\n\nproject shop {{\n  image = \"python:3.12\"\n  namespace = \"ml\"\n{line}}}\n\
         dataset raw {{ uri = \"s3://acme/rows.csv\" }}\n\
         step split = data.split(data = raw)\n\
         step fit -> (model: Model) {{ run = [\"python3\", \"fit.py\", model] }}\n\
         model clf {{ artifact = fit.model, format = \"sklearn\" }}\n\
         serve svc {{ model = clf, runtime = sklearn }}\n\
         monitor watch {{\n  service = svc\n  rule slow {{ when = latency_p99 > 250ms, for = 10m, then = retrain }}\n  \
         schedule = \"0 3 * * 1\"\n}}\n"
    )
}

/// Every image of a container whose command is `kfl …`, in the pipeline and the manifests.
fn kfl_images(out: &Path) -> Vec<String> {
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                let runs_kfl = map.get("command").and_then(|c| c.get(0)).and_then(Value::as_str) == Some("kfl");
                if runs_kfl && let Some(image) = map.get("image").and_then(Value::as_str) {
                    found.push(image.to_string());
                }
                map.values().for_each(|v| walk(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut files = vec![out.join("pipeline.yaml")];
    files.extend(std::fs::read_dir(out.join("manifests")).expect("manifests").map(|e| e.expect("entry").path()));
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for document in text.split("\n---\n") {
            let value: Value = serde_saphyr::from_str(document).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            walk(&value, &mut found);
        }
    }
    found
}

fn build(dir: &Path, name: &str, launcher_image: Option<&str>, flag: Option<&str>) -> Vec<String> {
    let file = dir.join(format!("{name}.kfl"));
    std::fs::write(&file, source(launcher_image)).expect("write");
    let out = dir.join(name);
    let mut command = kfl();
    command.arg("build").arg(&file).arg("-o").arg(&out);
    if let Some(flag) = flag {
        command.args(["--launcher-image", flag]);
    }
    let built = command.output().expect("kfl build");
    assert_eq!(built.status.code(), Some(0), "{}", String::from_utf8_lossy(&built.stderr));
    let mut images = kfl_images(&out);
    // Three launcher tasks (model, serve, monitor), the `std.data.split` step, the CronJob, the receiver's
    // Deployment.
    assert_eq!(images.len(), 6, "{images:?}");
    // The local plan names the same image for the std component.
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).expect("plan")).expect("json");
    let split = plan["stages"].as_array().expect("stages").iter().find(|s| s["name"] == "split").expect("split");
    images.push(split["image"].as_str().unwrap_or_else(|| panic!("{split}")).to_string());
    images
}

#[test]
fn the_flag_wins_over_the_project_which_wins_over_the_versioned_default() {
    let dir = scratch("launcher-image");
    let version = format!("ghcr.io/kfl-dev/kfl:{}", env!("CARGO_PKG_VERSION"));
    let cases = [
        ("default", None, None, version.as_str()),
        ("project", Some("registry.example.com/ml/kfl:1.0"), None, "registry.example.com/ml/kfl:1.0"),
        (
            "flag",
            Some("registry.example.com/ml/kfl:1.0"),
            Some("localhost:5000/kfl@sha256:0123456789abcdef0123456789abcdef"),
            "localhost:5000/kfl@sha256:0123456789abcdef0123456789abcdef",
        ),
    ];
    for (name, project, flag, expected) in cases {
        let images = build(&dir, name, project, flag);
        assert!(images.iter().all(|image| image == expected), "{name}: {images:?}, expected {expected}");
    }
}

#[test]
fn a_bad_reference_is_refused_from_the_flag_and_from_the_project() {
    let dir = scratch("launcher-image-bad");
    let file = dir.join("bad.kfl");
    std::fs::write(&file, source(Some("registry.example.com/ML/kfl"))).expect("write");
    let checked = kfl().arg("check").arg(&file).output().expect("kfl check");
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("E0203") && stderr.contains("launcher_image"), "{stderr}");

    std::fs::write(&file, source(None)).expect("write");
    let built = kfl()
        .arg("build")
        .arg(&file)
        .arg("-o")
        .arg(dir.join("out"))
        .args(["--launcher-image", "kfl:a b"])
        .output()
        .expect("kfl build");
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert_eq!(built.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a container image reference"), "{stderr}");
    assert!(!dir.join("out").exists(), "nothing is written for a refused flag");
}
