//! `cli/launcher.Dockerfile` has the shape an image build needs: valid instructions, the workspace's `kfl` binary copied onto the PATH, run by ENTRYPOINT.

use std::path::Path;

use kfl_compiler::codegen::image_reference;

/// The instructions of Dockerfile syntax 1 (docs.docker.com/reference/dockerfile).
const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// debian:bookworm-slim's PATH, on which pods find the `kfl` their command names.
const BASE_PATH: &[&str] = &["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

fn dockerfile() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("launcher.Dockerfile");
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// (instruction, arguments) with continuation lines joined and comments dropped, as the Dockerfile parser reads them.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(trimmed);
                let (keyword, arguments) = pending.split_once(' ').unwrap_or((&pending, ""));
                out.push((keyword.to_string(), arguments.trim().to_string()));
                pending.clear();
            }
        }
    }
    assert!(pending.is_empty(), "the Dockerfile ends inside a continued line: {pending}");
    out
}

#[test]
fn every_instruction_parses_and_the_image_starts_from_a_base() {
    let parsed = instructions(&dockerfile());
    for (keyword, arguments) in &parsed {
        assert!(INSTRUCTIONS.contains(&keyword.as_str()), "unknown instruction `{keyword}`");
        assert_eq!(keyword, &keyword.to_uppercase(), "instructions are written in capitals here");
        assert!(!arguments.is_empty(), "`{keyword}` has no arguments");
    }
    let first = parsed.iter().find(|(keyword, _)| keyword != "ARG").expect("instructions");
    assert_eq!(first.0, "FROM", "the first instruction after ARGs must be FROM");
    assert_eq!(image_reference::problem(&first.1), None, "FROM {} is not an image reference", first.1);
    assert_eq!(parsed.iter().filter(|(keyword, _)| keyword == "FROM").count(), 1, "one stage: nothing is compiled in");
}

#[test]
fn copies_the_workspace_binary_onto_the_path_and_runs_it() {
    let parsed = instructions(&dockerfile());
    let binary = Path::new(env!("CARGO_BIN_EXE_kfl")).file_name().and_then(|n| n.to_str()).expect("binary name");
    let copies: Vec<_> = parsed.iter().filter(|(keyword, _)| keyword == "COPY" || keyword == "ADD").collect();
    assert_eq!(copies.len(), 1, "exactly one file enters the image: {copies:?}");
    let words: Vec<&str> = copies[0].1.split_whitespace().collect();
    assert_eq!(copies[0].0, "COPY", "ADD would also fetch URLs and unpack archives");
    let [source, destination] = words[..] else { panic!("COPY SOURCE DEST, found {words:?}") };
    assert_eq!(source, binary, "COPY must take the binary cargo builds for package kfl");
    let installed = Path::new(destination);
    assert_eq!(installed.file_name().and_then(|n| n.to_str()), Some("kfl"), "pods run `kfl` by name");
    let folder = installed.parent().and_then(Path::to_str).unwrap_or_default();
    assert!(BASE_PATH.contains(&folder), "{destination} is not on the base image's PATH");

    let entrypoint = parsed.iter().rev().find(|(keyword, _)| keyword == "ENTRYPOINT").expect("an ENTRYPOINT");
    let exec: Vec<String> = serde_json::from_str(&entrypoint.1)
        .unwrap_or_else(|err| panic!("ENTRYPOINT must be the exec form (a JSON array): {err}"));
    assert_eq!(exec.first().map(String::as_str), Some(destination), "ENTRYPOINT must run what COPY installed");
}

#[test]
fn the_documented_build_command_matches_the_dockerfile_and_the_default_image() {
    let text = dockerfile();
    let binary = Path::new(env!("CARGO_BIN_EXE_kfl"));
    let profile = binary.parent().and_then(Path::file_name).and_then(|n| n.to_str()).expect("profile folder");
    assert!(["debug", "release"].contains(&profile), "binaries live in target/PROFILE, found {profile}");
    assert!(text.contains("cargo build --release --locked -p kfl"), "the release build of package kfl");
    assert!(
        text.contains("docker build -f cli/launcher.Dockerfile -t ") && text.contains(" target/release\n"),
        "the docker build names this file and the folder the release binary is in"
    );
    // The repository kfl names by default is the one the comment tells users about.
    let repository = image_reference::default_launcher_image();
    let repository = repository.rsplit_once(':').map_or(repository.as_str(), |(name, _)| name);
    assert!(text.contains(&format!("{repository}:VERSION")), "the comment names the default {repository}:VERSION");
    assert!(text.contains("--launcher-image"), "the comment says how to compile against a pushed image");
}
