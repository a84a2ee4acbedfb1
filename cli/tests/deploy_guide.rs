//! docs/DEPLOY.md against the CLI: every command of its `sh` blocks runs (`kfl apply` as `--dry-run=server`, against an in-process API server), and what it shows of the output (the kustomization, the upload command, the launcher image) is what `kfl build` writes.

#[path = "deploy/fake_apiserver.rs"]
mod fake_apiserver;
// For its kubeconfig writer; its server is `kfl launch`'s.
#[allow(dead_code)]
#[path = "launch/fake_cluster.rs"]
mod fake_cluster;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// The fenced blocks of a Markdown text: (info string, body).
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in text.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_string(), String::new())),
            (Some(_), Some("")) => out.extend(open.take()),
            (Some((_, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a folder");
    for entry in std::fs::read_dir(from).expect("read a folder").flatten() {
        let name = entry.file_name();
        // A local run's state is not part of the example.
        if name == ".kfl" {
            continue;
        }
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).expect("copy a file");
        }
    }
}

#[test]
fn the_deploy_guide_runs_and_shows_what_kfl_build_writes() {
    let guide = std::fs::read_to_string(repo().join("docs/DEPLOY.md")).expect("docs/DEPLOY.md");
    let blocks = blocks(&guide);
    let commands: Vec<String> =
        blocks.iter().filter(|(info, _)| info == "sh").flat_map(|(_, body)| body.lines().map(str::to_string)).collect();
    assert!(commands.len() >= 3, "the guide's sh blocks: {commands:?}");

    // The commands name files as from the repository's root; they run in a copy of its examples.
    let scratch = tempfile::tempdir().expect("a scratch directory");
    copy_dir(&repo().join("examples"), &scratch.path().join("examples"));
    let (url, server) = fake_apiserver::start();
    let kubeconfig = fake_cluster::kubeconfig(scratch.path(), &url);
    let mut builds = Vec::new();
    for command in &commands {
        // Plain words only, so what the guide shows is exactly what runs.
        assert!(!command.contains(['"', '\'', '\\', '$', '|', '>']), "`{command}`: sh blocks hold plain kfl commands");
        let mut words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"kfl"), "`{command}`: sh blocks hold kfl commands; others go in text blocks");
        words.remove(0);
        if words.first() == Some(&"apply") && !words.iter().any(|w| w.starts_with("--dry-run")) {
            words.push("--dry-run=server");
        }
        let before = server.lock().expect("lock").applied.len();
        let output = Command::new(env!("CARGO_BIN_EXE_kfl"))
            .args(&words)
            .current_dir(scratch.path())
            .env("KUBECONFIG", &kubeconfig)
            .env("NO_COLOR", "1")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .output()
            .expect("kfl runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "`kfl {}` failed:\n{stderr}", words.join(" "));
        eprintln!("ran: kfl {}", words.join(" "));
        if words.first() == Some(&"build") {
            let out = words.iter().position(|w| *w == "-o").and_then(|i| words.get(i + 1)).expect("kfl build -o DIR");
            // The upload command `kfl build` prints is the one the guide gives.
            for printed in stderr.lines().filter(|l| l.starts_with("  ")).map(str::trim) {
                assert!(guide.contains(printed), "kfl build printed `{printed}`, which docs/DEPLOY.md does not show");
            }
            builds.push(scratch.path().join(out));
        }
        if words.first() == Some(&"apply") {
            let sent = server.lock().expect("lock").applied[before..].to_vec();
            assert!(!sent.is_empty() && sent.iter().all(|a| a.dry_run), "`kfl {}` sent {sent:?}", words.join(" "));
            // The up-front set, in the project's namespace, as the guide's kustomization lists it.
            let shown: Vec<String> = sent.iter().map(|a| format!("{}/{}", a.kind, a.name)).collect();
            for object in &sent {
                assert_eq!(object.namespace.as_deref(), Some("ml-team"), "{shown:?}");
                assert!(!object.body.to_string().contains("/kfl/artifacts"), "{shown:?}");
                let file = format!("manifests/{}-{}.yaml", object.kind.to_ascii_lowercase(), object.name);
                assert!(
                    guide.contains(&format!("- {file}\n")),
                    "`kfl apply` sent {file}, which the guide does not list"
                );
            }
        }
    }
    let build = builds.first().expect("the guide builds");

    // The kustomization the guide shows is the one the build wrote.
    let written = std::fs::read_to_string(build.join("kustomization.yaml")).expect("kustomization.yaml");
    let shown = blocks.iter().find(|(info, body)| info == "yaml" && body.contains("kind: Kustomization"));
    assert_eq!(
        shown.map(|(_, body)| body.as_str()),
        Some(written.as_str()),
        "docs/DEPLOY.md shows another kustomization"
    );

    // The image the guide builds is the one the pipeline's launcher tasks run.
    let pipeline = std::fs::read_to_string(build.join("pipeline.yaml")).expect("pipeline.yaml");
    let tagged = blocks
        .iter()
        .flat_map(|(_, body)| body.lines())
        .find(|line| line.starts_with("docker build -f cli/launcher.Dockerfile"))
        .and_then(|line| line.split_whitespace().skip_while(|w| *w != "-t").nth(1))
        .expect("the guide builds the launcher image with docker build -t IMAGE");
    assert!(repo().join("cli/launcher.Dockerfile").is_file());
    assert!(pipeline.contains(&format!("image: {tagged}\n")), "the pipeline's launcher tasks do not run {tagged}");
}
