//! `kill -9` during registration: a child process (this test binary, re-run on the ignored `registration_child`
//! test) registers versions in a loop and is killed at varying moments, again and again; afterwards the database
//! and the content store must be consistent and usable.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use indexmap::IndexMap;
use kfl_runtime::registry::{ArtifactSource, ContentStore, Lineage, ModelStore, PropertyValue, Registration, Registry};

const CHILD_ENV: &str = "KFL_REGISTRY_CRASH_CHILD";
const ROUNDS: u64 = 24;

/// The child: registers until killed. Only runs when the parent asks for it.
#[test]
#[ignore = "child process of kill_9_during_registration_leaves_a_consistent_registry"]
fn registration_child() {
    let Some(project) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else { return };
    let mut registry = Registry::open(&project).expect("child: open");
    println!("ready");
    let pid = std::process::id();
    // Bounded so a parent that fails to kill it cannot fill the disk; the parent treats a finished child as a failure.
    for round in 0u64..20_000 {
        // Mostly URI registrations, which are pure database work, so most kills land inside a transaction; every
        // sixteenth one copies a directory tree, so kills also land in the copy and between the copy and the commit.
        let artifact = if round % 16 == 0 {
            let source = project.join(format!("work/{pid}-{round}"));
            std::fs::create_dir_all(source.join("weights")).expect("child: mkdir");
            let block = format!("{pid}-{round}-").repeat(2_000);
            std::fs::write(source.join("weights/layer0.bin"), &block).expect("child: write");
            std::fs::write(source.join("model.json"), format!("{{\"round\": {round}}}")).expect("child: write");
            ArtifactSource::Path(source)
        } else {
            ArtifactSource::Uri(format!("s3://models/{pid}/{round}"))
        };
        let request = Registration {
            params: IndexMap::from([("round".to_string(), PropertyValue::Int(round as i64))]),
            metrics: IndexMap::from([("loss".to_string(), 1.0 / (round as f64 + 1.0))]),
            lineage: Lineage {
                run_id: Some(format!("run-{pid}-{round}")),
                stage: Some("register".into()),
                // Many inputs make each transaction long enough for kills to land inside it.
                input_hashes: (0..40).map(|i| (format!("input{i}"), format!("{round:060x}{i:04x}"))).collect(),
            },
            ..Registration::new(if round % 3 == 0 { "wine" } else { "iris" }, artifact)
        };
        registry.register(&request).expect("child: register");
    }
}

/// A small deterministic sequence of kill delays (no test should depend on an RNG crate's stream).
fn delays() -> impl Iterator<Item = Duration> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    std::iter::repeat_with(move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        Duration::from_millis((state >> 33) % 150)
    })
}

fn run_and_kill(project: &Path, delay: Duration) {
    let exe = std::env::current_exe().expect("test executable");
    let mut child = Command::new(exe)
        .args(["registration_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, project)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.by_ref().map_while(Result::ok).any(|line| line.trim_end().ends_with("ready"));
    assert!(ready, "the child never opened the registry");
    std::thread::sleep(delay);
    // `Child::kill` is SIGKILL on Unix: no destructor, no rollback, no cleanup runs in the child.
    child.kill().expect("kill child");
    let status = child.wait().expect("reap child");
    assert!(!status.success(), "the child must die from the signal, not finish: {status:?}");
}

fn count(registry: &Registry, sql: &str) -> i64 {
    registry.connection().query_row(sql, [], |row| row.get(0)).unwrap_or_else(|err| panic!("{sql}: {err}"))
}

#[test]
fn kill_9_during_registration_leaves_a_consistent_registry() {
    let project = tempfile::tempdir().expect("tempdir");
    for delay in delays().take(ROUNDS as usize) {
        run_and_kill(project.path(), delay);
    }

    let mut registry = Registry::open(project.path()).expect("open after crashes");
    let integrity: String =
        registry.connection().query_row("PRAGMA integrity_check", [], |row| row.get(0)).expect("check");
    assert_eq!(integrity, "ok");
    assert_eq!(count(&registry, "SELECT count(*) FROM pragma_foreign_key_check"), 0, "dangling references");
    assert_eq!(
        count(
            &registry,
            "SELECT count(*) FROM model_version v WHERE NOT EXISTS (SELECT 1 FROM model_artifact a WHERE a.model_version_id = v.id)"
        ),
        0,
        "a version without its artifact"
    );
    assert_eq!(
        count(
            &registry,
            "SELECT count(*) FROM registered_model m WHERE NOT EXISTS (SELECT 1 FROM model_version v WHERE v.registered_model_id = m.id)"
        ),
        0,
        "a model without versions: its registration was cut in half"
    );
    assert_eq!(
        count(
            &registry,
            "SELECT count(*) FROM model_version v WHERE NOT EXISTS (SELECT 1 FROM model_version_input i WHERE i.model_version_id = v.id)"
        ),
        0,
        "a version without its lineage inputs"
    );

    let store = ContentStore::in_project(project.path());
    let mut total = 0;
    for model in registry.list_models().expect("list") {
        let versions = registry.versions(&model.name).expect("versions");
        // Each registration is atomic, so the automatic numbers have no holes.
        let names: Vec<String> = versions.iter().map(|v| v.version.clone()).collect();
        let expected: Vec<String> = (1..=versions.len()).map(|n| n.to_string()).collect();
        assert_eq!(names, expected, "versions of {}", model.name);
        for version in &versions {
            if let Some(path) = &version.artifact.path {
                let rehashed = store.put(path).expect("re-hash the stored copy");
                assert_eq!(
                    Some(rehashed.digest),
                    version.artifact.digest,
                    "copy of {} {}",
                    model.name,
                    version.version
                );
            } else {
                assert!(version.artifact.uri.starts_with("s3://"), "{}", version.artifact.uri);
            }
            // The row was written whole: its param and its lineage come from the same request.
            let round = version.params.get("round").map(ToString::to_string).expect("round param");
            let run_id = version.lineage.run_id.clone().expect("run id");
            assert!(run_id.ends_with(&format!("-{round}")), "{run_id} vs round {round}");
        }
        total += versions.len();
    }
    assert!(total > 0, "no registration finished in {ROUNDS} rounds; the child never got going");
    let staging = std::fs::read_dir(store.root().join("tmp")).map(|entries| entries.count()).unwrap_or(0);
    assert_eq!(staging, 0, "staging directories of killed children are swept on open");

    // And the registry still works where the children left off.
    let source = project.path().join("after");
    std::fs::create_dir_all(&source).expect("mkdir");
    std::fs::write(source.join("m"), "after").expect("write");
    let next = registry.register(&Registration::new("iris", ArtifactSource::Path(source))).expect("register after");
    let iris = registry.versions("iris").expect("versions").len();
    assert_eq!(next.version, iris.to_string());
    eprintln!("{total} registrations survived {ROUNDS} kills");
}
