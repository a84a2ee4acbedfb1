//! `kfl apply`, `kfl diff` and `kfl status` against the real test bed of tests/cluster (kube-apiserver, controllers): idempotent apply, a diff of exactly the change, prune of exactly the dropped declaration, the immutable-field warning.
//!
//! Where Go is not installed the build script (cli/build.rs) sets `kfl_testbed_without_go` and the test is
//! ignored with a reason `cargo test` prints on its line; where Go is installed every failure fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// The test bed, started for this test binary unless one is already running; stopped again if started here.
struct TestBed {
    kubeconfig: PathBuf,
    started_here: bool,
}

impl TestBed {
    fn start() -> TestBed {
        // tests/cluster/start reads the CRDs from ../shared beside the repository, or from KFL_SHARED.
        let shared = std::env::var_os("KFL_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from);
        assert!(
            shared.join("schemas/crds").is_dir(),
            "the test bed needs the upstream CRDs: no {}/schemas/crds (set KFL_SHARED)",
            shared.display()
        );
        let cluster = repo().join("tests/cluster");
        let running = Command::new(cluster.join("status")).output().is_ok_and(|o| o.status.success());
        let started = Command::new(cluster.join("start")).output().expect("tests/cluster/start runs");
        assert!(started.status.success(), "tests/cluster/start failed:\n{}", String::from_utf8_lossy(&started.stderr));
        let kubeconfig = PathBuf::from(String::from_utf8_lossy(&started.stdout).trim());
        TestBed { kubeconfig, started_here: !running }
    }

    fn kfl(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kfl"))
            .args(args)
            .current_dir(dir)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("NO_COLOR", "1")
            .output()
            .expect("kfl runs")
    }
}

impl Drop for TestBed {
    fn drop(&mut self) {
        if self.started_here {
            let _ = Command::new(repo().join("tests/cluster/stop")).output();
        }
    }
}

fn program(project: &str, cpu: u32, access: &str, scratch: bool) -> String {
    let scratch = if scratch { "volume scratch {\n  size = 1Gi\n  access = read_write_once\n}\n" } else { "" };
    format!(
        "project {project} {{\n  image = \"python:3.12\"\n}}\n\nvolume workspace {{\n  size = 10Gi\n  access = {access}\n}}\n\n\
         {scratch}\nnotebook explore {{\n  image = \"jupyter/scipy:latest\"\n  cpu = {cpu}\n  memory = 2Gi\n  \
         mount workspace at \"/home/jovyan\"\n}}\n"
    )
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn lines_with<'a>(text: &'a str, word: &str) -> Vec<&'a str> {
    text.lines().filter(|line| line.contains(word)).collect()
}

#[test]
#[cfg_attr(
    kfl_testbed_without_go,
    ignore = "SKIPPED: Go is not installed, so the test bed cannot be built: kfl apply/diff/status/prune were not \
              checked against a real API server and controllers"
)]
fn apply_diff_prune_and_status_against_the_test_bed() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("a scratch directory");
    let namespace = format!("kfl-apply-{}", std::process::id());
    let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).expect("write the program");
    write("v1.kfl", program("demo", 1, "read_write_once", true));
    write("v2.kfl", program("demo", 2, "read_write_once", false));
    write("v3.kfl", program("demo", 2, "read_write_many", false));
    write("clash.kfl", program("other", 1, "read_write_once", false));
    write("other.kfl", "project other {\n  image = \"python:3.12\"\n}\n\nvolume cache {\n  size = 1Gi\n  access = read_write_once\n}\n".to_string());
    let ns = ["-n", namespace.as_str()];
    let kfl = |args: &[&str]| bed.kfl(dir.path(), &[args, &ns[..]].concat());

    // A server dry run into a namespace that does not exist stores nothing.
    let dry = kfl(&["apply", "v1.kfl", "--dry-run=server"]);
    assert!(dry.status.success(), "{dry:?}");
    assert_eq!(lines_with(&stdout(&dry), "would be created").len(), 3, "{dry:?}");
    let status = kfl(&["status", "v1.kfl"]);
    assert_eq!(lines_with(&stdout(&status), "not applied").len(), 3, "{status:?}");

    let first = kfl(&["apply", "v1.kfl"]);
    assert!(first.status.success(), "{first:?}");
    let text = stdout(&first);
    assert!(text.starts_with(&format!("Namespace/{namespace} created\n")), "{text}");
    assert_eq!(lines_with(&text, " created").len(), 4, "{text}");

    // Twice is a no-op: every object unchanged.
    let second = kfl(&["apply", "v1.kfl"]);
    assert!(second.status.success(), "{second:?}");
    let text = stdout(&second);
    assert_eq!(lines_with(&text, " unchanged").len(), 3, "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    let same = kfl(&["diff", "v1.kfl"]);
    assert_eq!(same.status.code(), Some(0), "{same:?}");
    assert_eq!(stdout(&same), "");

    // Another project cannot take this one's objects by declaring the same names.
    let clash_diff = kfl(&["diff", "clash.kfl"]);
    assert!(String::from_utf8_lossy(&clash_diff.stderr).contains("belongs to project `demo`"), "{clash_diff:?}");
    let clash = kfl(&["apply", "clash.kfl"]);
    assert_eq!(clash.status.code(), Some(1), "{clash:?}");
    assert!(String::from_utf8_lossy(&clash.stderr).contains("it belongs to project `demo`"), "{clash:?}");
    assert_eq!(lines_with(&stdout(&clash), " configured").len(), 0, "{clash:?}");

    // Another project's objects in the same namespace are never pruned.
    let other = kfl(&["apply", "other.kfl"]);
    assert!(other.status.success(), "{other:?}");

    // The diff after a change shows exactly that change (and the declaration the file dropped).
    let diff = kfl(&["diff", "v2.kfl"]);
    assert_eq!(diff.status.code(), Some(1), "{diff:?}");
    let text = stdout(&diff);
    let changed: Vec<&str> = text
        .lines()
        .filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++") && !l.starts_with("---"))
        .collect();
    assert_eq!(
        changed,
        ["-            cpu: '1'", "+            cpu: '2'", "-            cpu: '1'", "+            cpu: '2'"],
        "{text}"
    );
    assert!(
        text.contains(&format!("PersistentVolumeClaim/scratch (namespace {namespace}) is no longer declared")),
        "{text}"
    );

    // --prune deletes the dropped declaration's object and nothing else.
    let pruned = kfl(&["apply", "v2.kfl", "--prune"]);
    assert!(pruned.status.success(), "{pruned:?}");
    let text = stdout(&pruned);
    assert_eq!(
        lines_with(&text, "pruned"),
        [format!("PersistentVolumeClaim/scratch (namespace {namespace}) pruned (no longer declared)")],
        "{text}"
    );
    assert_eq!(
        lines_with(&text, " configured"),
        [format!("Notebook/explore (namespace {namespace}) configured")],
        "{text}"
    );
    let again = kfl(&["apply", "v2.kfl", "--prune"]);
    assert!(!stdout(&again).contains("pruned") && again.status.success(), "{again:?}");
    let other = kfl(&["status", "other.kfl"]);
    assert!(!stdout(&other).contains("not applied"), "another project's objects were pruned: {other:?}");

    // An immutable field (a PVC's access modes) is a warning that apply would be refused.
    let immutable = kfl(&["diff", "v3.kfl"]);
    assert_eq!(immutable.status.code(), Some(1), "{immutable:?}");
    assert!(String::from_utf8_lossy(&immutable.stderr).contains("cannot be changed in place"), "{immutable:?}");
    assert!(stdout(&immutable).contains("+  - ReadWriteMany"), "{immutable:?}");

    let status = kfl(&["status", "v2.kfl"]);
    assert!(status.status.success(), "{status:?}");
    let text = stdout(&status);
    assert!(text.starts_with("KIND"), "{text}");
    assert_eq!(lines_with(&text, "PersistentVolumeClaim").len(), 1, "{text}");
    assert!(lines_with(&text, "Notebook")[0].contains("explore"), "{text}");

    // A project whose only workload is a `train`: its TrainJob is a job each pipeline run starts
    // (`codegen/deployment.rs`), so `kfl apply` applies only the launcher's Role and RoleBinding, and the real
    // API server has no TrainJob afterwards. The TrainJob reaching Complete through the real Trainer and JobSet
    // controllers is `kfl launch trainjob`'s test (tests/cluster/run, launch tests).
    let example = repo().join("examples/cross-validation/cv.kfl");
    let example = example.to_str().expect("a UTF-8 path");
    let jobs = format!("{namespace}-jobs");
    let applied = bed.kfl(dir.path(), &["apply", example, "-n", &jobs]);
    assert!(applied.status.success(), "{applied:?}");
    let last = stdout(&bed.kfl(dir.path(), &["status", example, "-n", &jobs]));
    assert_eq!(lines_with(&last, "Role ").len(), 1, "{last}");
    assert_eq!(lines_with(&last, "RoleBinding").len(), 1, "{last}");
    // `kfl status` lists the TrainJob each run creates by its project and stage labels: the real API server's
    // label-selected list holds none, so its one row says no run made it yet.
    let trainjobs = lines_with(&last, "TrainJob");
    assert_eq!(trainjobs.len(), 1, "{last}");
    assert!(
        trainjobs[0].contains("final-*") && trainjobs[0].contains("no run yet"),
        "a TrainJob was applied up front:\n{last}"
    );
}
