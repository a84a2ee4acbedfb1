//! `kfl build -o DIR` never destroys what it did not write: files, devices, FIFOs and users' folders are
//! refused with exit 2, an earlier build is replaced file by file, killed builds' leftovers are swept, and
//! concurrent builds of one folder leave one complete build and nothing else.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kfl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kfl"))
}

/// A program that builds on its own (no local datasets, which `kfl build` refuses) and writes a manifest.
const PROGRAM: &str = "project p { image = \"x\" }\nvolume v { size = 1Gi }\nstep a { run = [\"x\"] }\n";

/// `PROGRAM` as `dir/p.kfl`.
fn source(dir: &Path) -> PathBuf {
    let path = dir.join("p.kfl");
    std::fs::write(&path, PROGRAM).unwrap();
    path
}

/// A fresh folder under the target directory (removed first).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("build-output").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn build(source: &Path, out: &Path) -> Output {
    kfl().arg("build").arg(source).arg("-o").arg(out).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_refused(out: &Output, words: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    assert!(stderr(out).contains(words), "expected `{words}` in: {}", stderr(out));
}

/// Every entry of `dir` whose name starts with a dot (staging, previous and lock files of builds).
fn hidden_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn a_file_is_refused_and_kept() {
    let dir = scratch("file");
    let program = source(&dir);
    let target = dir.join("notes.txt");
    std::fs::write(&target, "mine").unwrap();
    assert_refused(&build(&program, &target), "is a file, not a folder");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "mine");
    assert_eq!(hidden_entries(&dir), Vec::<String>::new());
}

#[test]
fn a_fifo_a_device_and_a_link_to_a_file_are_refused_and_kept() {
    let dir = scratch("special");
    let program = source(&dir);
    let fifo = dir.join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    assert_refused(&build(&program, &fifo), "is a FIFO");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    // A character device like /dev/null (made here, so the test never touches the real one); only root may.
    let device = dir.join("null");
    if Command::new("mknod").arg(&device).args(["c", "1", "3"]).status().is_ok_and(|s| s.success()) {
        assert_refused(&build(&program, &device), "is a device");
        assert!(std::fs::symlink_metadata(&device).unwrap().file_type().is_char_device());
    }

    let file = dir.join("secret");
    std::fs::write(&file, "mine").unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    assert_refused(&build(&program, &link), "not a folder");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
}

#[test]
fn a_users_folder_is_refused_and_kept() {
    let dir = scratch("users-folder");
    let program = source(&dir);
    let out = dir.join("out");
    std::fs::create_dir_all(out.join("sub")).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join("sub/more.txt"), "also mine").unwrap();
    assert_refused(&build(&program, &out), "has no `.kfl-build` stamp");
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
    assert_eq!(std::fs::read_to_string(out.join("sub/more.txt")).unwrap(), "also mine");
    assert_eq!(hidden_entries(&dir), Vec::<String>::new());

    // The project's own folder: `kfl build p/iris.kfl -o p`.
    let project = scratch("project");
    let source = source(&project);
    assert_refused(&build(&source, &project), "kfl build replaces only a folder it wrote itself");
    assert!(source.is_file());
    // `-o .` from inside it too.
    let here = kfl().current_dir(&project).args(["build", "p.kfl", "-o", "."]).output().unwrap();
    assert_refused(&here, "is not empty");
    assert!(source.is_file());
}

#[test]
fn an_empty_folder_and_an_earlier_build_are_replaced() {
    let dir = scratch("replace");
    let program = source(&dir);
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let first = build(&program, &out);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let stamp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".kfl-build")).unwrap()).unwrap();
    assert!(stamp["source"].as_str().unwrap().ends_with("p.kfl"), "{stamp}");
    assert!(stamp["files"].as_array().unwrap().iter().any(|f| f == "plan.json"), "{stamp}");

    // Again over its own output (through a symbolic link to it, too).
    let again = build(&program, &out);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let link = dir.join("link");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    let through_link = build(&program, &link);
    assert_eq!(through_link.status.code(), Some(0), "{}", stderr(&through_link));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(out.join("plan.json").is_file());
    assert_eq!(hidden_entries(&dir), Vec::<String>::new());

    // A file the user added since: refused, and everything kept.
    std::fs::write(out.join("manifests/extra.yaml"), "mine").unwrap();
    assert_refused(&build(&program, &out), "holds files the last build did not write (manifests/extra.yaml)");
    assert_eq!(std::fs::read_to_string(out.join("manifests/extra.yaml")).unwrap(), "mine");
    assert!(out.join("plan.json").is_file());

    // A forged stamp that lists a path outside the folder is not trusted.
    std::fs::remove_file(out.join("manifests/extra.yaml")).unwrap();
    std::fs::write(out.join(".kfl-build"), r#"{"kfl_build":1,"source":"x","kfl_version":"0","files":["../victim"]}"#)
        .unwrap();
    std::fs::write(dir.join("victim"), "mine").unwrap();
    assert_refused(&build(&program, &out), "stamp is not one kfl wrote");
    assert_eq!(std::fs::read_to_string(dir.join("victim")).unwrap(), "mine");
}

/// A pid no process has: a child that has been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn leftovers_of_killed_builds_are_swept() {
    let dir = scratch("leftovers");
    let program = source(&dir);
    let out = dir.join("out");
    let pid = dead_pid();
    // A killed build's staging folder, and the previous build it had moved aside (stamped, so kfl's).
    let staging = dir.join(format!(".out.kfl-build-{pid}"));
    std::fs::create_dir_all(staging.join("manifests")).unwrap();
    std::fs::write(staging.join("manifests/a.yaml"), "half").unwrap();
    let previous = dir.join(format!(".out.kfl-previous-{pid}"));
    assert_eq!(build(&program, &previous).status.code(), Some(0));
    // Another killed build's previous folder that a user has since put a file in: kept as it is.
    let other = dead_pid();
    let touched = dir.join(format!(".out.kfl-previous-{other}"));
    assert_eq!(build(&program, &touched).status.code(), Some(0));
    std::fs::write(touched.join("notes.txt"), "mine").unwrap();
    // A live process's staging folder (this test's) is not touched.
    let live = dir.join(format!(".out.kfl-build-{}", std::process::id()));
    std::fs::create_dir(&live).unwrap();

    let swept = build(&program, &out);
    assert_eq!(swept.status.code(), Some(0), "{}", stderr(&swept));
    assert!(!staging.exists(), "the staging folder of a dead build was kept");
    assert!(!previous.exists(), "the previous build of a dead build was kept");
    assert_eq!(std::fs::read_to_string(touched.join("notes.txt")).unwrap(), "mine");
    assert!(stderr(&swept).contains("holds files no kfl build wrote"), "{}", stderr(&swept));
    assert!(live.is_dir());
    std::fs::remove_dir(&live).unwrap();
}

#[test]
fn concurrent_builds_of_one_folder_leave_one_build_and_no_leftovers() {
    let dir = scratch("concurrent");
    let out = dir.join("out");
    let program = source(&dir);
    let builds: Vec<_> = (0..6)
        .map(|_| {
            kfl()
                .arg("build")
                .arg(&program)
                .arg("-o")
                .arg(&out)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = builds.into_iter().map(|b| b.wait_with_output().unwrap()).collect();
    let codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
    assert!(codes.contains(&Some(0)), "no build won: {codes:?}");
    for output in outputs.iter().filter(|o| o.status.code() != Some(0)) {
        assert_refused(output, "another kfl build is writing");
    }
    assert_eq!(hidden_entries(&dir), Vec::<String>::new());
    assert!(out.join("plan.json").is_file() && out.join(".kfl-build").is_file());

    // While one holds the lock, the next one fails cleanly at once.
    let lock = std::fs::File::create(dir.join(".out.kfl-lock")).unwrap();
    lock.lock().unwrap();
    assert_refused(&build(&program, &out), "another kfl build is writing");
    assert!(out.join("plan.json").is_file());
    drop(lock);
    std::fs::remove_file(dir.join(".out.kfl-lock")).unwrap();
    assert_eq!(hidden_entries(&dir), Vec::<String>::new());
}
