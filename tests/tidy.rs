//! Tidy checks over the repository itself: `//!` docs, orphaned snapshots, editor keyword drift, explanations, module size.

use std::path::{Path, PathBuf};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, skipping `target/` (and hidden or `node_modules` directories).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if name != "target" && name != "node_modules" && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn display(path: &Path) -> String {
    let root = root().canonicalize().unwrap_or_default();
    let full = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    full.strip_prefix(&root).unwrap_or(&full).display().to_string()
}

/// STYLE §1.7: every `.rs` file opens with a `//!` line saying what it is.
#[test]
fn every_rust_file_starts_with_module_doc() {
    let mut missing = Vec::new();
    let mut seen = 0;
    for dir in ["grammar", "plan", "compiler", "runtime", "cli", "tests", "fuzz", "bench"] {
        for path in rust_files(&root().join(dir)) {
            seen += 1;
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if !text.lines().next().is_some_and(|line| line.starts_with("//!")) {
                missing.push(display(&path));
            }
        }
    }
    assert!(seen >= 20, "expected the workspace's .rs files, found {seen}");
    assert!(missing.is_empty(), "these files do not start with a `//!` line:\n  {}", missing.join("\n  "));
}

/// The fixture a snapshot file belongs to, or `None` if its name has no known form.
/// `suite__KIND@NAME.kfl.snap` → `tests/cases/KIND/NAME.kfl` (insta's glob naming),
/// and `suite__example_builds@DIR__NAME.kfl.snap` → `examples/DIR/NAME.kfl`.
fn fixture_of(snapshot: &str) -> Option<String> {
    let stem = snapshot.strip_suffix(".snap")?;
    let rest = stem.strip_prefix("suite__")?;
    let (kind, name) = rest.split_once('@')?;
    if kind.is_empty() || name.is_empty() || kind.contains("__") {
        return None;
    }
    if kind == "example_builds" {
        return Some(format!("examples/{}", name.replace("__", "/")));
    }
    // `deployment_shapes` snapshots the valid fixtures' up-front manifests.
    if kind == "deployment_shapes" {
        return Some(format!("tests/cases/compile/{name}"));
    }
    Some(format!("tests/cases/{kind}/{name}"))
}

/// STYLE §1.8: no orphaned snapshots and no pending `.snap.new`.
#[test]
fn snapshots_map_to_fixtures() {
    let dir = root().join("tests/snapshots");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut problems = Vec::new();
    let mut seen = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
            problems.push(format!("{name}: pending snapshot; review it (`cargo insta review`) or delete it"));
        } else if name.ends_with(".snap") {
            seen += 1;
            match fixture_of(&name) {
                Some(fixture) if root().join(&fixture).is_file() => {}
                Some(fixture) => problems.push(format!("{name}: orphaned, {fixture} does not exist")),
                None => problems.push(format!("{name}: unknown snapshot name (expected suite__KIND@NAME.kfl.snap)")),
            }
        }
    }
    assert!(seen > 0, "no snapshots found in {}", dir.display());
    assert!(problems.is_empty(), "tests/snapshots:\n  {}", problems.join("\n  "));
}

#[test]
fn snapshot_names_map_as_documented() {
    assert_eq!(fixture_of("suite__errors@e0101_x.kfl.snap").as_deref(), Some("tests/cases/errors/e0101_x.kfl"));
    assert_eq!(fixture_of("suite__compile@a.kfl.snap").as_deref(), Some("tests/cases/compile/a.kfl"));
    assert_eq!(fixture_of("suite__deployment_shapes@a.kfl.snap").as_deref(), Some("tests/cases/compile/a.kfl"));
    assert_eq!(fixture_of("suite__example_builds@iris__iris.kfl.snap").as_deref(), Some("examples/iris/iris.kfl"));
    assert_eq!(fixture_of("suite__tidy__other.snap"), None);
    assert_eq!(fixture_of("random.snap"), None);
}

/// True if `word` occurs in `text` not as part of a longer identifier.
/// A regex `\b` right before the word counts as a boundary.
fn contains_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = &text[..at];
        let after = &text[at + word.len()..];
        let starts = before.chars().next_back().is_none_or(|c| !is_ident(c)) || before.ends_with("\\b");
        let ends = after.chars().next().is_none_or(|c| !is_ident(c));
        starts && ends
    })
}

#[test]
fn contains_word_is_whole_word() {
    assert!(contains_word("\"(import|as)\"", "as"));
    assert!(contains_word("\\\\bimport\\\\b", "import"));
    assert!(!contains_word("alias basis", "as"));
    assert!(!contains_word("monitoring", "monitor"));
}

/// STYLE §1.6 drift check: every grammar keyword is highlighted by every editor grammar.
#[test]
fn editors_know_every_keyword() {
    let files = [
        "editors/vscode/syntaxes/kfl.tmLanguage.json",
        "editors/vim/syntax/kfl.vim",
        "editors/tree-sitter-kfl/queries/highlights.scm",
    ];
    let mut missing = Vec::new();
    for file in files {
        let text = read(file);
        for keyword in kfl_grammar::KEYWORDS {
            if !contains_word(&text, keyword) {
                missing.push(format!("{file}: `{keyword}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keywords from kfl_grammar::KEYWORDS missing in editor grammars:\n  {}",
        missing.join("\n  ")
    );
}

/// Every code has a full `kfl explain` text, and the project-added codes are in the reference.
#[test]
fn every_code_is_explained() {
    let mut problems = Vec::new();
    for code in kfl_compiler::diagnostics::Code::ALL {
        let e = code.explanation();
        for (field, text) in [("summary", e.summary), ("details", e.details), ("example", e.example), ("fix", e.fix)] {
            if text.trim().is_empty() {
                problems.push(format!("{} ({}): empty `{field}`", code.as_str(), code.name()));
            }
        }
    }
    let language = read("docs/LANGUAGE.md");
    for code in ["E0106", "E0107"] {
        if !contains_word(&language, code) {
            problems.push(format!("docs/LANGUAGE.md does not mention {code}"));
        }
    }
    assert!(problems.is_empty(), "diagnostic explanations:\n  {}", problems.join("\n  "));
}

/// Modules stay small enough to read: the goal is ~800 lines, the limit 900.
#[test]
fn modules_stay_small() {
    const LIMIT: usize = 900;
    const CLOSE: usize = 700;
    let mut over = Vec::new();
    let mut close = Vec::new();
    for dir in ["compiler/src", "runtime/src", "plan/src", "cli/src", "grammar/src"] {
        for path in rust_files(&root().join(dir)) {
            let lines = std::fs::read_to_string(&path).unwrap_or_default().lines().count();
            if lines > LIMIT {
                over.push(format!("{} ({lines} lines)", display(&path)));
            } else if lines > CLOSE {
                close.push(format!("{} ({lines} lines)", display(&path)));
            }
        }
    }
    if !close.is_empty() {
        eprintln!("modules close to the {LIMIT}-line limit:\n  {}", close.join("\n  "));
    }
    assert!(over.is_empty(), "modules over {LIMIT} lines; split them:\n  {}", over.join("\n  "));
}

/// The 1-based lines of `text` that name a `Result` whose error type is `String`: `Result<T, String>` with any
/// `T` (nested generics and tuples included), `std::result::Result<…>` and `std::string::String` too.
fn string_error_results(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    for (at, _) in text.match_indices("Result<") {
        if text[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let (mut depth, mut args, mut current) = (1usize, Vec::new(), String::new());
        for c in text[at + "Result<".len()..].chars() {
            match c {
                '<' | '(' | '[' => depth += 1,
                ')' | ']' => depth = depth.saturating_sub(1),
                '>' if depth == 1 => break,
                '>' => depth -= 1,
                ',' if depth == 1 => {
                    args.push(std::mem::take(&mut current));
                    continue;
                }
                _ => {}
            }
            current.push(c);
        }
        args.push(current);
        if let [_, error] = args.as_slice()
            && matches!(error.trim(), "String" | "std::string::String" | "alloc::string::String")
        {
            lines.push(text[..at].lines().count().max(1));
        }
    }
    lines
}

#[test]
fn string_error_results_are_found_in_every_form() {
    assert_eq!(string_error_results("fn a() -> Result<(), String> {}"), vec![1]);
    assert_eq!(string_error_results("\nfn b() -> Result<Vec<(usize, Vec<String>)>, String>"), vec![2]);
    assert_eq!(string_error_results("x.collect::<Result<_, std::string::String>>()"), vec![1]);
    assert_eq!(string_error_results("type T = std::result::Result<(u8, u8), String>;"), vec![1]);
    assert!(string_error_results("fn c() -> Result<String, Error>").is_empty());
    assert!(string_error_results("fn d() -> io::Result<String>").is_empty());
    assert!(string_error_results("fn e() -> MyResult<u8, String>").is_empty());
}

/// The runtime's failures are typed errors that say what failed and what was kept, never bare strings.
#[test]
fn the_runtime_has_no_string_errors() {
    let mut found = Vec::new();
    for path in rust_files(&root().join("runtime/src")) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in string_error_results(&text) {
            found.push(format!("{}:{line}", display(&path)));
        }
    }
    assert!(
        found.is_empty(),
        "`Result<_, String>` in runtime/src; give the failure a typed error (an enum with a Display that says what \
         failed and what was kept):\n  {}",
        found.join("\n  ")
    );
}

/// The module path of a file under `src` (`run/mod.rs` → `run`, `run/job.rs` → `run::job`, `lib.rs` → ``).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut path: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    if path.last().is_some_and(|last| last == "mod" || last == "lib") {
        path.pop();
    }
    path
}

/// Every path in a `use` tree (`super::{a, b::{c, d}}` → `super::a`, `super::b::c`, `super::b::d`).
fn use_paths(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else { return vec![tree] };
    let (prefix, inner) = (&tree[..open], &tree[open + 1..tree.len().saturating_sub(1)]);
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (at, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items.into_iter().filter(|item| !item.is_empty()).flat_map(|item| use_paths(&format!("{prefix}{item}"))).collect()
}

/// The modules of `src` each file refers to through `crate::`, `super::` or `self::` paths (in `use` trees and
/// inline), test modules excluded: `(from, to)` module paths.
fn module_references(src: &Path) -> std::collections::BTreeSet<(Vec<String>, Vec<String>)> {
    let files = rust_files(src);
    let modules: std::collections::BTreeSet<Vec<String>> = files.iter().map(|f| module_path(src, f)).collect();
    let mut edges = std::collections::BTreeSet::new();
    for file in &files {
        let me = module_path(src, file);
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
        let mut paths = Vec::new();
        for statement in text.split(';') {
            let statement = statement.trim_start();
            let statement = statement.strip_prefix("pub ").unwrap_or(statement);
            if let Some(tree) = statement.split("use ").nth(1).filter(|_| statement.contains("use ")) {
                paths.extend(use_paths(tree));
            }
        }
        for (at, _) in text.match_indices("::") {
            let head_start = text[..at].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
            let end = text[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(text.len(), |i| at + i);
            if text[..head_start].ends_with("::") {
                continue;
            }
            paths.push(text[head_start..end].to_string());
        }
        for path in paths {
            let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let mut base = match segments.first() {
                Some(&"crate") => Vec::new(),
                Some(&"super") => me[..me.len().saturating_sub(1)].to_vec(),
                Some(&"self") => me.clone(),
                _ => continue,
            };
            segments.remove(0);
            while segments.first() == Some(&"super") {
                base.pop();
                segments.remove(0);
            }
            base.extend(segments.iter().map(|s| s.to_string()));
            while !base.is_empty() && !modules.contains(&base) {
                base.pop();
            }
            if base != me && !base.is_empty() {
                edges.insert((me.clone(), base));
            }
        }
    }
    edges
}

/// Two modules that import each other (neither inside the other): shared data types belong in a module below
/// both, not in either.
#[test]
fn runtime_modules_import_no_circles() {
    let src = root().join("runtime/src");
    let edges = module_references(&src);
    assert!(edges.len() > 50, "expected the runtime's module references, found {}", edges.len());
    let nested = |a: &Vec<String>, b: &Vec<String>| a.starts_with(b) || b.starts_with(a);
    let circles: Vec<String> = edges
        .iter()
        .filter(|(a, b)| a < b && !nested(a, b) && edges.contains(&(b.clone(), a.clone())))
        .map(|(a, b)| format!("{} <-> {}", a.join("::"), b.join("::")))
        .collect();
    assert!(circles.is_empty(), "modules of runtime/src that import each other:\n  {}", circles.join("\n  "));
}

#[test]
fn module_references_read_use_trees_and_inline_paths() {
    assert_eq!(use_paths("super::{a, b::{c, d}}"), ["super::a", "super::b::c", "super::b::d"]);
    assert_eq!(use_paths("crate::x::Y"), ["crate::x::Y"]);
    let dir = std::env::temp_dir().join(format!("kfl-tidy-modules-{}", std::process::id()));
    let src = dir.as_path();
    std::fs::create_dir_all(src.join("run")).expect("run/");
    std::fs::write(src.join("lib.rs"), "//! x\npub mod run;\n").expect("lib.rs");
    std::fs::write(src.join("run/mod.rs"), "//! x\nmod a;\nmod b;\n").expect("mod.rs");
    std::fs::write(src.join("run/a.rs"), "//! x\nuse super::{b::Thing, Engine};\n").expect("a.rs");
    std::fs::write(src.join("run/b.rs"), "//! x\nfn f() -> crate::run::a::Other { todo!() }\n").expect("b.rs");
    let edges = module_references(src);
    let module = |p: &str| p.split("::").map(String::from).collect::<Vec<_>>();
    assert!(edges.contains(&(module("run::a"), module("run::b"))), "{edges:?}");
    assert!(edges.contains(&(module("run::b"), module("run::a"))), "{edges:?}");
    assert!(edges.contains(&(module("run::a"), module("run"))), "{edges:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Process groups and the parent-death signal are handled in one module: every process kfl starts leads its own
/// group through `process_tree::lead_own_group`, and only that module signals groups.
#[test]
fn process_groups_are_handled_in_process_tree_only() {
    let owner = root().join("runtime/src/process_tree.rs");
    let mut found = Vec::new();
    for dir in ["runtime/src", "cli/src"] {
        for path in rust_files(&root().join(dir)) {
            if path == owner {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let code: String = text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect();
            for call in ["process_group(", "killpg", "pre_exec", "setsid", "setpgid", "set_pdeathsig"] {
                if code.contains(call) {
                    found.push(format!("{}: {call}", display(&path)));
                }
            }
        }
    }
    let owner_text = std::fs::read_to_string(&owner).unwrap_or_default();
    assert!(owner_text.contains("process_group(0)") && owner_text.contains("killpg"), "process_tree.rs moved?");
    assert!(found.is_empty(), "process-group calls outside runtime/src/process_tree.rs:\n  {}", found.join("\n  "));
}
