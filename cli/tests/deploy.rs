//! The deployment shape: `kfl apply` of every example and valid fixture, against an in-process fake API server, applies exactly the `manifests/` `kfl build` writes, in order, and nothing in them names a local-run path, a local dataset or a value only a pipeline run has.

#[path = "deploy/fake_apiserver.rs"]
mod fake_apiserver;
// For its kubeconfig writer; its server is `kfl launch`'s.
#[allow(dead_code)]
#[path = "launch/fake_cluster.rs"]
mod fake_cluster;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// What only a run has, or only a local run: the local runtime's artifact root (`/kfl/artifacts/…`), KFP
/// placeholders (`{{$.…}}`) and the launcher's run-time markers (`${kfl.inputs.…}`).
const RUN_ONLY: &[&str] = &["/kfl/artifacts", "{{$.", "${kfl."];

/// Every `.kfl` program: the examples, the valid fixtures, and the spec examples when ../shared is there.
fn programs() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // `lib/` holds imported modules, `.kfl/` a local run's state: neither is a program.
            if path.is_dir() && name != "lib" && name != ".kfl" {
                walk(&path, out);
            } else if name.ends_with(".kfl") && path.is_file() {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("examples"), &mut out);
    walk(&repo().join("tests/cases/compile"), &mut out);
    let shared = std::env::var_os("KFL_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from);
    if shared.join("design/examples").is_dir() {
        walk(&shared.join("design/examples"), &mut out);
    } else {
        eprintln!("!! the spec examples are not covered: no {}/design/examples (set KFL_SHARED)", shared.display());
    }
    out
}

fn kfl(args: &[&str], kubeconfig: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kfl"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("NO_COLOR", "1")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .expect("kfl runs")
}

/// (kind, name) of each resource `kustomization.yaml` lists, in its order, read from the files.
fn listed(build: &Path) -> (Vec<(String, String)>, Vec<String>) {
    let kustomization = std::fs::read_to_string(build.join("kustomization.yaml")).expect("kustomization.yaml");
    let parsed: Value = serde_saphyr::from_str(&kustomization).expect("kustomization.yaml is YAML");
    let mut objects = Vec::new();
    let mut texts = vec![kustomization.clone()];
    for resource in parsed["resources"].as_array().into_iter().flatten() {
        let file = resource.as_str().expect("a path");
        let text = std::fs::read_to_string(build.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let object: Value = serde_saphyr::from_str(&text).expect("a manifest is YAML");
        let field = |pointer: &str| object.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string();
        objects.push((field("/kind"), field("/metadata/name")));
        texts.push(text);
    }
    let on_disk = std::fs::read_dir(build.join("manifests")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(on_disk, objects.len(), "{}: manifests/ holds files kustomization.yaml does not list", build.display());
    (objects, texts)
}

/// The relative paths of the program's local datasets, from the plan `kfl build` wrote.
fn local_datasets(build: &Path) -> Vec<String> {
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(build.join("plan.json")).expect("plan.json")).expect("JSON");
    let uris = plan["datasets"].as_array().into_iter().flatten().filter_map(|d| d["uri"].as_str());
    uris.filter(|uri| !uri.contains("://")).map(str::to_string).collect()
}

#[test]
fn apply_sends_exactly_the_up_front_manifests_and_none_names_a_run_value() {
    let (url, server) = fake_apiserver::start();
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let kubeconfig = fake_cluster::kubeconfig(scratch.path(), &url);
    let (mut checked, mut objects, mut deferred) = (0, 0, 0);
    for (index, program) in programs().into_iter().enumerate() {
        let shown = program.strip_prefix(repo()).unwrap_or(&program).display().to_string();
        let build = scratch.path().join(format!("build-{index}"));
        let built = kfl(&["build", &program.to_string_lossy(), "-o", &build.to_string_lossy()], &kubeconfig);
        assert!(built.status.success(), "{shown}: kfl build failed:\n{}", String::from_utf8_lossy(&built.stderr));
        let (expected, texts) = listed(&build);
        let locals = local_datasets(&build);
        for text in &texts {
            for needle in RUN_ONLY.iter().copied().chain(locals.iter().map(String::as_str)) {
                assert!(!text.contains(needle), "{shown}: an up-front manifest names `{needle}`:\n{text}");
            }
        }
        let kustomization = &texts[0];
        deferred += kustomization.lines().filter(|l| l.starts_with("# - ")).count();

        // Its own namespace, so two programs' objects of the same name never meet.
        let namespace = format!("deploy-{index}");
        let before = server.lock().expect("lock").applied.len();
        // The data uploads are tests/upload.rs's: this fake has no object store.
        let applied = kfl(&["apply", &program.to_string_lossy(), "-n", &namespace, "--no-upload"], &kubeconfig);
        assert!(applied.status.success(), "{shown}: kfl apply failed:\n{}", String::from_utf8_lossy(&applied.stderr));
        let sent: Vec<fake_apiserver::Applied> = server.lock().expect("lock").applied[before..].to_vec();
        let order: Vec<(String, String)> = sent.iter().map(|a| (a.kind.clone(), a.name.clone())).collect();
        assert_eq!(order, expected, "{shown}: kfl apply must send kustomization.yaml's resources, in its order");
        for object in &sent {
            assert!(!object.dry_run && object.namespace.as_deref().is_none_or(|n| n == namespace), "{object:?}");
            let body = object.body.to_string();
            for needle in RUN_ONLY.iter().copied().chain(locals.iter().map(String::as_str)) {
                assert!(
                    !body.contains(needle),
                    "{shown}: kfl apply sent `{needle}` in {}/{}",
                    object.kind,
                    object.name
                );
            }
        }
        let stdout = String::from_utf8_lossy(&applied.stdout);
        assert_eq!(stdout.lines().filter(|l| l.ends_with(" created")).count(), expected.len(), "{shown}:\n{stdout}");
        checked += 1;
        objects += expected.len();
    }
    eprintln!("{checked} programs: {objects} objects applied up front, {deferred} left to their pipelines' runs");
    assert!(checked >= 15, "expected the examples and the valid fixtures, applied {checked}");
    assert!(objects >= 20 && deferred >= 10, "expected objects of both kinds: {objects} applied, {deferred} deferred");
}

/// The same file twice: the second apply changes nothing, so a re-applied project never restarts a workload.
#[test]
fn a_second_apply_of_the_up_front_set_is_unchanged() {
    let (url, server) = fake_apiserver::start();
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let kubeconfig = fake_cluster::kubeconfig(scratch.path(), &url);
    let iris = repo().join("examples/iris/iris.kfl");
    let first = kfl(&["apply", &iris.to_string_lossy(), "--no-upload"], &kubeconfig);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let created = String::from_utf8_lossy(&first.stdout).lines().filter(|l| l.ends_with(" created")).count();
    assert!(created >= 5, "{}", String::from_utf8_lossy(&first.stdout));
    let second = kfl(&["apply", &iris.to_string_lossy(), "--no-upload"], &kubeconfig);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(stdout.lines().filter(|l| l.ends_with(" unchanged")).count(), created, "{stdout}");
    let kinds: Vec<String> = server.lock().expect("lock").applied.iter().map(|a| a.kind.clone()).collect();
    assert!(
        !kinds.iter().any(|k| k == "Experiment" || k == "InferenceService"),
        "iris's search and serve are run-created: {kinds:?}"
    );
}
