//! What `kfl` reads as a `.kfl` file: a FIFO (named or imported), a device, a file over 64 MiB, binary or
//! non-UTF-8 content are refused at once with exit 2 (or a diagnostic for an import), never read forever and
//! never quoted; expressions too deep for any tree are E0001, never a signal, in every command; a long
//! line of a text file is quoted only as a window around the diagnostic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// No command here may take longer: a hang is a failure, not a stuck test run.
const LIMIT: Duration = Duration::from_secs(60);

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("input-files").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Runs `kfl ARGS` in `dir`, killed (and failed) after [`LIMIT`]. The output is read while it runs, so a
/// long one cannot block kfl on a full pipe.
fn kfl(dir: &Path, args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_kfl"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kfl");
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    match receiver.recv_timeout(LIMIT) {
        Ok(output) => output.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("`kfl {}` hung for {LIMIT:?}", args.join(" "));
        }
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().expect("mkfifo").success());
}

#[test]
fn a_fifo_is_refused_not_waited_on() {
    let dir = scratch("fifo");
    mkfifo(&dir.join("x.kfl"));
    for command in ["check", "fmt", "graph"] {
        let out = kfl(&dir, &[command, "x.kfl"]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        assert!(stderr(&out).contains("is a FIFO, not a regular file"), "{command}: {}", stderr(&out));
    }
    let build = kfl(&dir, &["build", "x.kfl", "-o", "out"]);
    assert_eq!(build.status.code(), Some(2), "{}", stderr(&build));
    // Found in a folder, too.
    let out = kfl(&dir, &["check", "."]);
    assert!(stderr(&out).contains("is a FIFO"), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Imported: a diagnostic at the import.
    std::fs::write(dir.join("main.kfl"), "import \"x.kfl\" as x\nproject p { image = \"x\" }\n").unwrap();
    let out = kfl(&dir, &["check", "main.kfl"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a FIFO, not a regular file"), "{}", stderr(&out));
}

#[test]
fn a_device_and_a_huge_file_are_refused_without_reading_them() {
    let dir = scratch("device");
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.kfl")).unwrap();
    let out = kfl(&dir, &["check", "zero.kfl"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a device, not a regular file"), "{}", stderr(&out));

    // A sparse file just over the cap: refused by its size, before a byte is read.
    let huge = std::fs::File::create(dir.join("huge.kfl")).unwrap();
    huge.set_len(64 * 1024 * 1024 + 1).unwrap();
    let out = kfl(&dir, &["check", "huge.kfl"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("larger than 64 MiB"), "{}", stderr(&out));
}

#[test]
fn binary_and_non_utf8_content_is_refused_and_never_quoted() {
    let dir = scratch("binary");
    std::fs::write(dir.join("secret"), b"aws_secret_access_key = SECRETVALUE\0\x01\x02").unwrap();
    std::os::unix::fs::symlink(dir.join("secret"), dir.join("creds.kfl")).unwrap();
    std::fs::write(dir.join("latin1.kfl"), b"project p { image = \"caf\xe9 SECRETVALUE\" }\n").unwrap();
    for (file, why) in [("creds.kfl", "holds NUL bytes"), ("latin1.kfl", "not UTF-8 text")] {
        let out = kfl(&dir, &["check", file]);
        assert_eq!(out.status.code(), Some(2), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{file}: {}", stderr(&out));
        let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
        assert!(!all.contains("SECRETVALUE"), "{file}: content quoted: {all}");
    }
}

#[test]
fn expressions_too_deep_for_any_tree_are_e0001_in_every_command() {
    let dir = scratch("deep");
    let project = "project p { image = \"x\" }\n";
    let files = [
        ("add.kfl", format!("{project}param n: int = {}\n", vec!["1"; 4_000].join(" + "))),
        ("and.kfl", format!("{project}param b: bool = {}\n", vec!["true"; 5_000].join(" && "))),
        ("str.kfl", format!("{project}param s: string = {}\n", vec!["\"a\""; 4_000].join(" + "))),
        (
            "for.kfl",
            format!(
                "{project}{}step a {{ run = [\"x\"] }}\n{}",
                (0..5_000).map(|k| format!("for i{k} in [1] {{\n")).collect::<String>(),
                "}\n".repeat(5_000)
            ),
        ),
    ];
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
        for args in
            [vec!["check", name], vec!["fmt", "--check", name], vec!["graph", name], vec!["build", name, "-o", "out"]]
        {
            let out = kfl(&dir, &args);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", &stderr(&out)[..stderr(&out).len().min(3000)]);
            assert!(stderr(&out).contains("levels deep"), "{args:?}");
        }
    }
    assert!(!dir.join("out").exists());
}

#[test]
fn a_long_line_of_a_text_file_is_never_quoted_whole() {
    let dir = scratch("long-line");
    // 300 characters that repeat nowhere, so no quoted part of the line equals its end.
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let secret: String = (0..300)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(alphabet[(state % 62) as usize])
        })
        .collect();
    std::fs::write(dir.join("creds"), format!("aws_secret_access_key = {secret}\n")).unwrap();
    std::os::unix::fs::symlink(dir.join("creds"), dir.join("x.kfl")).unwrap();
    let out = kfl(&dir, &["check", "x.kfl"]);
    let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("E0001"), "{all}");
    assert!(!all.contains(&secret[200..]), "the end of the line was quoted: {all}");
    // The line is quoted, cut where it is marked.
    let quoted = all.lines().find(|l| l.contains("aws_secret_access_key = ")).unwrap_or_else(|| panic!("{all}"));
    assert!(quoted.contains(&secret[..40]) && quoted.ends_with('…'), "{all}");
}
