//! The README's tour, run as written: every `kfl …` line of its fenced `sh` blocks, in order, on a copy of
//! the example it names, so the commands a new user types first cannot rot.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `kfl` command lines of the README's fenced `sh` blocks, as words (no line continuations or
/// quoting: a tour command a reader copies should need neither).
fn commands(readme: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut fenced = None;
    for line in readme.lines() {
        if let Some(info) = line.strip_prefix("```") {
            fenced = match fenced {
                None => Some(info.trim().to_string()),
                Some(_) => None,
            };
            continue;
        }
        if fenced.as_deref() == Some("sh") && line.starts_with("kfl ") {
            let command = line.split(" #").next().unwrap_or(line);
            assert!(!command.contains(['\\', '"', '\'']), "README: write `{line}` without quoting");
            out.push(command.split_whitespace().map(str::to_string).collect());
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let name = entry.file_name();
        // Run state of a developer's own `kfl run` of the example is not part of it.
        if name == ".kfl" || name == "__pycache__" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("{}: {e}", target.display()));
        }
    }
}

#[test]
fn the_readme_commands_run_as_written() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let commands = commands(&readme);
    let tour: Vec<&str> = commands.iter().map(|c| c[1].as_str()).collect();
    // The tour's four steps are there: a README that lost one fails here, not only when a user looks.
    for step in ["check", "run", "serve", "build"] {
        assert!(tour.contains(&step), "the README's tour has no `kfl {step}`: {tour:?}");
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme");
    let _ = std::fs::remove_dir_all(&dir);
    for command in &commands {
        for word in &command[2..] {
            if let Some(example) = word.strip_prefix("examples/").and_then(|rest| rest.split('/').next())
                && !dir.join("examples").join(example).exists()
            {
                copy_tree(&workspace().join("examples").join(example), &dir.join("examples").join(example));
            }
        }
    }
    for command in &commands {
        // The one change: a fixed port may be taken on a shared machine, so the test asks for a free one.
        let words: Vec<&str> = command[1..]
            .iter()
            .zip(std::iter::once("").chain(command[1..].iter().map(String::as_str)))
            .map(|(word, before)| if before == "--port" { "0" } else { word.as_str() })
            .collect();
        let output = Command::new(env!("CARGO_BIN_EXE_kfl"))
            .args(&words)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", command.join(" ")));
        assert!(
            output.status.success(),
            "`{}` failed ({}):\n{}\n{}",
            command.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn commands_come_from_sh_blocks_only_and_drop_comments() {
    let readme = "```sh\nkfl check a.kfl   # comment\ncargo run\n```\n```\nkfl run a.kfl\n```\n```sh\nkfl build a.kfl -o out\n```\n";
    assert_eq!(commands(readme), vec![vec!["kfl", "check", "a.kfl"], vec!["kfl", "build", "a.kfl", "-o", "out"]]);
}
