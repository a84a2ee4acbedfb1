//! The fixture suite: every case under `cases/` and every example, snapshotted with insta.
mod bind;
mod ide_queries;
mod plan_schema;
mod robustness;
mod tidy;

use std::path::{Path, PathBuf};

use kfl_tests::{check_file, check_file_freeing_syntax, expectations, in_lib_folder, in_run_state, kfl_files};

fn workspace(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// Runs with the workspace root as working directory so names in snapshots are relative.
fn at_root<T>(f: impl FnOnce() -> T) -> T {
    let root = workspace("");
    std::env::set_current_dir(&root).unwrap_or_else(|e| panic!("cd {}: {e}", root.display()));
    f()
}

fn relative(path: &Path) -> PathBuf {
    let root = workspace("").canonicalize().unwrap_or_default();
    let full = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    full.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(full)
}

#[test]
fn errors() {
    at_root(|| {
        insta::glob!("cases/errors/*.kfl", |path| {
            let rel = relative(path);
            let src = std::fs::read_to_string(path).unwrap_or_default();
            let out = check_file(&rel);
            assert!(out.has_errors(), "{} must fail but checked clean", rel.display());
            let expected = expectations(&src);
            assert!(!expected.is_empty(), "{} has no `// expect: CODE @ LINE` line", rel.display());
            let found = out.codes_and_lines();
            for want in &expected {
                assert!(
                    found.contains(want),
                    "{}: expected {} at line {}, found {:?}\n{}",
                    rel.display(),
                    want.0,
                    want.1,
                    found,
                    out.render_plain()
                );
            }
            insta::with_settings!({ description => src.as_str(), omit_expression => true }, {
                insta::assert_snapshot!(out.render_plain());
            });
        });
    });
}

#[test]
fn compile() {
    at_root(|| {
        insta::glob!("cases/compile/*.kfl", |path| {
            let rel = relative(path);
            let src = std::fs::read_to_string(path).unwrap_or_default();
            let out = check_file(&rel);
            assert!(!out.has_errors(), "{} must check clean:\n{}", rel.display(), out.render_plain());
            let program = out.checked.program().map(serde_json_pretty).unwrap_or_default();
            let warnings = out.render_plain();
            insta::with_settings!({ description => src.as_str(), omit_expression => true }, {
                insta::assert_snapshot!(format!("----- WARNINGS\n{warnings}\n----- IR\n{program}"));
            });
        });
    });
}

#[test]
fn examples_check_clean() {
    at_root(|| {
        let mut seen = 0;
        for dir in [workspace("examples"), workspace("../shared/design/examples")] {
            for path in kfl_files(&dir) {
                if in_lib_folder(&path) {
                    continue;
                }
                let rel = relative(&path);
                let out = check_file(&rel);
                assert!(!out.has_errors(), "{} must check clean:\n{}", rel.display(), out.render_plain());
                seen += 1;
            }
        }
        assert!(seen >= 6, "expected the examples and the spec examples, found {seen}");
    });
}

/// `kfl check` frees each declaration's syntax tree once it is lowered (`typeck::Syntax::Free`, for a large
/// file's memory): on every fixture and example it reports the same diagnostics and the same program as a
/// check that keeps the tree, and the tree is really gone.
#[test]
fn freeing_the_syntax_while_checking_changes_nothing() {
    at_root(|| {
        let mut files = Vec::new();
        for dir in ["tests/cases/errors", "tests/cases/compile", "tests/cases/build", "examples"] {
            files.extend(kfl_files(Path::new(dir)).into_iter().filter(|path| !in_lib_folder(path)));
        }
        assert!(files.len() > 100, "fixtures not found: {}", files.len());
        for path in files {
            let kept = check_file(&path);
            let freed = check_file_freeing_syntax(&path);
            assert_eq!(kept.render_plain(), freed.render_plain(), "{}: diagnostics differ", path.display());
            let program = |out: &kfl_tests::Outcome| out.checked.program.as_ref().map(serde_json_pretty);
            assert_eq!(program(&kept), program(&freed), "{}: programs differ", path.display());
            let main = freed.checked.modules.modules.first();
            assert!(main.is_none_or(|m| m.ast.items.is_empty()), "{}: the syntax tree was kept", path.display());
        }
    });
}

#[test]
fn every_code_has_two_error_fixtures() {
    at_root(|| {
        for code in kfl_compiler::diagnostics::Code::ALL {
            let count = std::fs::read_dir(workspace("tests/cases/errors"))
                .map(|entries| {
                    entries
                        .flatten()
                        .filter(|e| {
                            std::fs::read_to_string(e.path())
                                .is_ok_and(|s| expectations(&s).iter().any(|(c, _)| c == code.as_str()))
                        })
                        .count()
                })
                .unwrap_or(0);
            assert!(
                count >= 2,
                "{} ({}) has {count} fixtures with `// expect: {} @ LINE`; every code needs two",
                code.as_str(),
                code.name(),
                code.as_str()
            );
        }
    });
}

fn serde_json_pretty(program: &kfl_compiler::ir::Program) -> String {
    kfl_compiler::ir::to_json(program)
}

/// `docs/LANGUAGE.md` holds the property tables generated from the schema;
/// `KFL_UPDATE_DOCS=1 cargo test` rewrites them.
#[test]
fn language_reference_is_current() {
    let path = workspace("docs/LANGUAGE.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let (begin, end) = ("<!-- properties:begin -->\n", "<!-- properties:end -->");
    let (Some(start), Some(stop)) = (doc.find(begin), doc.find(end)) else {
        panic!("docs/LANGUAGE.md lacks the {begin:?}…{end:?} markers");
    };
    let generated = kfl_compiler::typeck::schema::reference_markdown();
    let current = &doc[start + begin.len()..stop];
    if current != generated {
        if std::env::var_os("KFL_UPDATE_DOCS").is_some() {
            let updated = format!("{}{begin}{generated}{}", &doc[..start], &doc[stop..]);
            std::fs::write(&path, updated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else {
            panic!("docs/LANGUAGE.md property tables are stale; run `KFL_UPDATE_DOCS=1 cargo test -p kfl-tests`");
        }
    }
}

/// `kfl fmt` on every fixture that parses, every example and the stdlib:
/// formatting twice changes nothing, and the formatted file parses to the
/// same tree (modulo spans) with the same comments.
#[test]
fn format_is_idempotent_and_preserves_meaning_everywhere() {
    use kfl_compiler::source::FileId;
    use kfl_compiler::syntax::{self, dump::dump};
    let mut files = Vec::new();
    for dir in ["tests/cases", "examples", "stdlib"] {
        files.extend(kfl_files(&workspace(dir)));
    }
    let mut formatted_count = 0;
    for path in files {
        let src = std::fs::read_to_string(&path).unwrap_or_default();
        let Ok(once) = kfl_compiler::format::format(&src) else {
            // Syntax errors: `fmt` refuses to format, which is what it must do.
            assert!(!syntax::parse(FileId(0), &src).1.is_empty(), "{}: fmt refused a file that parses", path.display());
            continue;
        };
        let twice = kfl_compiler::format::format(&once)
            .unwrap_or_else(|e| panic!("{}: formatted output does not parse: {e:?}", path.display()));
        assert_eq!(once, twice, "{}: fmt is not idempotent", path.display());
        let before = dump(&syntax::parse(FileId(0), &src).0);
        let after = dump(&syntax::parse(FileId(0), &once).0);
        assert_eq!(before, after, "{}: fmt changed the meaning", path.display());
        let comments = |text: &str| {
            let mut found: Vec<String> =
                syntax::comments(text).iter().map(|c| text[c.start..c.end].trim_end().to_string()).collect();
            found.sort();
            found
        };
        assert_eq!(comments(&src), comments(&once), "{}: fmt lost or changed a comment", path.display());
        formatted_count += 1;
    }
    assert!(formatted_count >= 40, "expected most fixtures to be formattable, formatted {formatted_count}");
}

/// What every valid fixture applies up front and what only its pipeline's runs create: its
/// `kustomization.yaml` (the resources, after a comment naming each object left to the launcher tasks
/// and why), reviewed as a snapshot.
#[test]
fn deployment_shapes() {
    at_root(|| {
        insta::glob!("cases/compile/*.kfl", |path| {
            let rel = relative(path);
            let out = check_file(&rel);
            let Some(program) = out.checked.program() else {
                panic!("{} must check clean:\n{}", rel.display(), out.render_plain());
            };
            let built = kfl_compiler::codegen::build(program, &kfl_tests::build_options(program))
                .unwrap_or_else(|d| panic!("{} must build: {d:?}", rel.display()));
            let kustomization = built.files.iter().find(|(file, _)| file == "kustomization.yaml").map(|(_, text)| text);
            insta::with_settings!({ omit_expression => true }, {
                insta::assert_snapshot!(kustomization.cloned().unwrap_or_default());
            });
        });
    });
}

/// Every file `kfl build` writes for `program`, each after a `===== NAME` line.
fn built_text(rel: &Path, program: &kfl_compiler::ir::Program) -> String {
    let built = kfl_compiler::codegen::build(program, &kfl_tests::build_options(program))
        .unwrap_or_else(|d| panic!("{} must build: {d:?}", rel.display()));
    let mut text = String::new();
    for (file, contents) in &built.files {
        text.push_str(&format!("===== {file}\n{contents}"));
        if !contents.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// The full `kfl build` output of every fixture in `cases/build/`, reviewed as a snapshot: properties whose
/// effect is only visible in the manifests and the pipeline (scheduling, credentials).
#[test]
fn build() {
    at_root(|| {
        insta::glob!("cases/build/*.kfl", |path| {
            let rel = relative(path);
            let src = std::fs::read_to_string(path).unwrap_or_default();
            let out = check_file(&rel);
            let Some(program) = out.checked.program() else {
                panic!("{} must check clean:\n{}", rel.display(), out.render_plain());
            };
            assert!(!out.has_errors(), "{} must check clean:\n{}", rel.display(), out.render_plain());
            let text = built_text(&rel, program);
            insta::with_settings!({ description => src.as_str(), omit_expression => true }, {
                insta::assert_snapshot!(text);
            });
        });
    });
}

/// The full `kfl build` output of every example, reviewed as a snapshot:
/// kustomization, every manifest, the KFP pipeline and the plan.
#[test]
fn example_builds() {
    at_root(|| {
        insta::glob!("../examples", "**/*.kfl", |path| {
            // `.kfl/` folders hold run state (`kfl run`), not programs.
            if in_lib_folder(path) || !path.is_file() || in_run_state(path) {
                return;
            }
            let rel = relative(path);
            let out = check_file(&rel);
            let Some(program) = out.checked.program() else {
                panic!("{} must check clean:\n{}", rel.display(), out.render_plain());
            };
            let text = built_text(&rel, program);
            insta::with_settings!({ omit_expression => true }, {
                insta::assert_snapshot!(text);
            });
        });
    });
}
