//! `kfl models list|show|archive` on a registry seeded through the runtime's API.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use indexmap::IndexMap;
use kfl_runtime::registry::{ArtifactSource, ModelFormat, ModelStore, Registration, Registry};

fn kfl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kfl")).arg("models").args(args).arg("--dir").arg(dir).output().expect("run kfl")
}

fn stdout(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn seed(dir: &Path) {
    let mut registry = Registry::open(dir).expect("open");
    for (model, content) in [("iris", "a"), ("iris", "b"), ("wine", "c")] {
        let source = dir.join(format!("out-{content}"));
        std::fs::create_dir_all(&source).expect("mkdir");
        std::fs::write(source.join("model.pkl"), content).expect("write");
        let request = Registration {
            format: ModelFormat { name: Some("sklearn".into()), version: Some("1".into()) },
            metrics: IndexMap::from([("accuracy".to_string(), 0.9)]),
            ..Registration::new(model, ArtifactSource::Path(source))
        };
        registry.register(&request).expect("register");
    }
}

#[test]
fn list_show_and_archive() {
    let dir = scratch("models-list-show-archive");
    seed(&dir);
    let list = stdout(&kfl(&dir, &["list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("NAME  STATE  VERSIONS  LATEST  UPDATED"), "{list}");
    assert!(lines[1].starts_with("iris  LIVE   2         2       "), "{list}");
    assert!(lines[2].starts_with("wine  LIVE   1         1       "), "{list}");

    let versions = stdout(&kfl(&dir, &["show", "iris"]));
    assert!(versions.starts_with("VERSION  STATE  FORMAT     ARTIFACT"), "{versions}");
    assert_eq!(versions.lines().count(), 3, "{versions}");

    let detail = stdout(&kfl(&dir, &["show", "iris", "1"]));
    let detail_lines: Vec<&str> = detail.lines().collect();
    assert_eq!(detail_lines[..3], ["model            iris", "version          1", "state            LIVE"], "{detail}");
    assert!(detail_lines.contains(&"format           sklearn:1"), "{detail}");
    assert_eq!(detail_lines.last(), Some(&"metric accuracy  0.9"), "{detail}");

    let archived = stdout(&kfl(&dir, &["archive", "iris", "1"]));
    assert_eq!(archived, "archived iris version 1\n");
    let json = stdout(&kfl(&dir, &["show", "iris", "1", "--format", "json"]));
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(value["state"], "ARCHIVED");
    assert_eq!(value["version"], "1");
    assert_eq!(value["artifact"]["format"]["name"], "sklearn");
    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&kfl(&dir, &["list", "--format", "json"]))).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
}

#[test]
fn errors_and_empty_projects() {
    let dir = scratch("models-errors");
    // No registry yet: an empty list, and nothing created by looking.
    assert_eq!(stdout(&kfl(&dir, &["list"])), "NAME  STATE  VERSIONS  LATEST  UPDATED\n");
    assert!(!dir.join(".kfl").exists());
    let missing = kfl(&dir, &["show", "iris"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no registered model named `iris`"));

    seed(&dir);
    let unknown = kfl(&dir, &["archive", "iris", "7"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("model `iris` has no version `7`"));
    let bad_url = kfl(&dir, &["list", "--registry", "localhost:8080"]);
    assert_eq!(bad_url.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_url.stderr).contains("invalid registry URL"));
    // Port 9 (discard) has no HTTP server on loopback: a connection failure, reported as I/O (exit 2).
    let unreachable = kfl(&dir, &["list", "--registry", "http://127.0.0.1:9"]);
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unreachable.stderr)
            .contains("GET http://127.0.0.1:9/api/model_registry/v1alpha3/registered_models")
    );
}

#[test]
fn an_empty_registry_file_is_refused_not_restarted() {
    let dir = scratch("models-empty-registry");
    seed(&dir);
    let db = dir.join(".kfl/registry.db");
    assert!(std::fs::metadata(&db).expect("registry.db").len() > 0);
    // Something (a failed copy, a restore gone wrong) empties the file: opening it must not start over at 1.
    std::fs::write(&db, "").expect("truncate");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!(".kfl/registry.db{suffix}")));
    }
    let list = kfl(&dir, &["list"]);
    assert_ne!(list.status.code(), Some(0));
    let said = String::from_utf8_lossy(&list.stderr);
    assert!(said.contains("is empty (0 bytes)") && said.contains("Restore it from a backup"), "{said}");
    let err = Registry::open(&dir).expect_err("an empty registry.db was opened");
    assert!(err.to_string().contains("reuse version numbers"), "{err}");
    assert_eq!(std::fs::metadata(&db).expect("registry.db").len(), 0, "the refused file was written to");

    // A project without a registry gets a whole one at once.
    let fresh = scratch("models-fresh-registry");
    drop(Registry::open(&fresh).expect("create"));
    assert!(std::fs::metadata(fresh.join(".kfl/registry.db")).expect("created").len() > 0);
    assert!(stdout(&kfl(&fresh, &["list"])).starts_with("NAME"), "an empty registry lists its header");
}

#[test]
fn models_list_and_show_read_a_registry_on_a_full_disk() {
    let dir = scratch("models-full-disk");
    let seeded = dir.join("seeded");
    seed(&seeded);
    let mount = dir.join("mnt");
    std::fs::create_dir_all(&mount).expect("mkdir");
    // A 1 MiB tmpfs in a mount namespace of its own (unmounted when the script ends), filled to the last byte.
    let script = r#"
        set -u
        mount -t tmpfs -o size=1m tmpfs "$MNT" || exit 90
        cp -a "$SEEDED/.kfl" "$MNT/" || exit 91
        dd if=/dev/zero of="$MNT/fill" bs=4096 2>/dev/null
        dd if=/dev/zero of="$MNT/fill2" bs=1 2>/dev/null
        echo "== list"; "$KFL" models list --dir "$MNT"; echo "== status $?"
        echo "== show"; "$KFL" models show iris --dir "$MNT"; echo "== status $?"
        echo "== archive"; "$KFL" models archive iris 1 --dir "$MNT" 2>&1; echo "== status $?"
        rm -f "$MNT/fill" "$MNT/fill2"
        echo "== after"; "$KFL" models archive iris 1 --dir "$MNT"; echo "== status $?"
        "$KFL" models show iris --dir "$MNT"
    "#;
    let output = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
        .env("MNT", &mount)
        .env("SEEDED", &seeded)
        .env("KFL", env!("CARGO_BIN_EXE_kfl"))
        .env("NO_COLOR", "1")
        .output()
        .expect("unshare");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the full-disk scenario could not be set up: {said}");
    let section = |name: &str| -> String {
        let start = said.find(&format!("== {name}\n")).unwrap_or_else(|| panic!("no {name} in {said}"));
        said[start..].lines().skip(1).take_while(|l| !l.starts_with("== status")).collect::<Vec<_>>().join("\n")
    };
    let status = |name: &str| -> String {
        let start = said.find(&format!("== {name}\n")).unwrap_or_else(|| panic!("no {name}"));
        said[start..].lines().find_map(|l| l.strip_prefix("== status ")).unwrap_or("?").to_string()
    };
    assert_eq!(status("list"), "0", "{said}");
    assert!(section("list").contains("iris  LIVE   2"), "{said}");
    assert_eq!(status("show"), "0", "{said}");
    assert_eq!(section("show").lines().count(), 3, "{said}");
    assert_ne!(status("archive"), "0", "a write on a full disk succeeded: {said}");
    assert!(section("archive").contains("is full. Nothing was written"), "{said}");
    assert_eq!(status("after"), "0", "the registry did not recover once space was freed: {said}");
    assert!(said.trim_end().lines().last().is_some_and(|l| l.starts_with("2 ")), "{said}");
}
