//! Helpers for the fixture suite: compile a fixture in process (imports from disk) and render its diagnostics.

use std::path::Path;

use kfl_compiler::diagnostics::Diagnostic;
use kfl_compiler::diagnostics::render::{self, Style};
use kfl_compiler::source::{Loader, Origin, SourceFile, Sources, join_relative};

/// Loads imports from disk relative to the fixture (tests may do I/O; the compiler may not).
struct FixtureLoader;

impl Loader for FixtureLoader {
    fn load(&self, from: &str, relative: &str) -> Result<(String, String), String> {
        let name = join_relative(from, relative);
        std::fs::read_to_string(&name).map(|t| (name.clone(), t)).map_err(|_| format!("no such file `{name}`"))
    }
}

/// One compiled fixture.
#[derive(Debug)]
pub struct Outcome {
    pub sources: Sources,
    pub checked: kfl_compiler::Checked,
}

impl Outcome {
    pub fn has_errors(&self) -> bool {
        self.checked.has_errors()
    }

    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.checked.diagnostics
    }

    /// Plain, width-80 rendering; file names relative to the workspace.
    pub fn render_plain(&self) -> String {
        render::render_all(&self.sources, &self.checked.diagnostics, Style::Plain)
    }

    /// (code, 1-based line) of each diagnostic.
    pub fn codes_and_lines(&self) -> Vec<(String, usize)> {
        self.checked
            .diagnostics
            .iter()
            .map(|d| {
                let file = self.sources.get(d.primary.span.file);
                (d.code.as_str().to_string(), file.line_col(d.primary.span.start).0)
            })
            .collect()
    }
}

/// Checks a fixture file; `path` should be relative to the workspace root
/// (tests run with the crate folder as working directory, so we pass `../`).
pub fn check_file(path: &Path) -> Outcome {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    check_text(&display(path), &text)
}

pub fn check_text(name: &str, text: &str) -> Outcome {
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new(name.to_string(), text.to_string(), Origin::User));
    let checked = kfl_compiler::check(&mut sources, id, &FixtureLoader);
    Outcome { sources, checked }
}

/// Checks a fixture file as `kfl check` does: `check_bound` with the default options, which frees the file's
/// syntax tree while it is lowered (the outcome must equal [`check_file`]'s otherwise).
pub fn check_file_freeing_syntax(path: &Path) -> Outcome {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new(display(path), text, Origin::User));
    let bind = kfl_compiler::ir::bind::BindOptions::default();
    let checked = kfl_compiler::check_bound(&mut sources, id, &FixtureLoader, &bind);
    Outcome { sources, checked }
}

/// Checks a fixture file as `kfl build` and `kfl run` do: params bound, every param needing a value.
pub fn check_file_bound(path: &Path) -> Outcome {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new(display(path), text, Origin::User));
    let bind = kfl_compiler::ir::bind::BindOptions { params: Vec::new(), require_all: true };
    let checked = kfl_compiler::check_bound(&mut sources, id, &FixtureLoader, &bind);
    Outcome { sources, checked }
}

fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Every `.kfl` file under `dir`, recursively, sorted (none if `dir` is missing).
pub fn kfl_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !in_run_state(&path) {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "kfl") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Whether `path` lies in a hidden folder such as `.kfl/`, where `kfl run` keeps its runs and cache.
pub fn in_run_state(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str().to_str().is_some_and(|s| s.starts_with('.') && s != "." && s != ".."))
}

/// Whether `path` lies in a `lib/` folder (imported modules, not programs).
pub fn in_lib_folder(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "lib")
}

/// `// expect: E0101 @ 3` lines in a fixture: the codes and lines it must report.
pub fn expectations(text: &str) -> Vec<(String, usize)> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("// expect:"))
        .filter_map(|rest| {
            let (code, line) = rest.split_once('@')?;
            Some((code.trim().to_string(), line.trim().parse().ok()?))
        })
        .collect()
}

/// Options to build `program` in process as `kfl build` would, each dataset `kfl build` stages (under
/// `project.artifacts` or KFP's default bucket) given a digest made from its name: these tests look at the compiled output, not at
/// the data (the CLI's tests stage real files and check their digests).
pub fn build_options(program: &kfl_compiler::ir::Program) -> kfl_compiler::codegen::BuildOptions {
    let staged = kfl_compiler::codegen::staging::local_datasets(program)
        .into_iter()
        .map(|dataset| {
            let digest: String = dataset.name.bytes().cycle().take(32).map(|b| format!("{b:02x}")).collect();
            (dataset.name.clone(), digest)
        })
        .collect();
    kfl_compiler::codegen::BuildOptions { staged, ..Default::default() }
}
