//! Mutation robustness: every example, mutated 2,000 times with a seeded RNG (one mutation in twenty inserts
//! a long operator chain, deep nesting or a huge literal), must be checked without a panic or a stack overflow,
//! and every diagnostic span must lie inside its file.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const MUTANTS_PER_EXAMPLE: usize = 2_000;
const SEED: u64 = 0x6b66_6c5f_6675_7a7a; // "kfl_fuzz"

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    files.extend(kfl_tests::kfl_files(&root.join("examples")));
    files.extend(kfl_tests::kfl_files(&root.join("../shared/design/examples")));
    // Absolute names, so imports resolve whatever the working directory is.
    files.into_iter().map(|p| p.canonicalize().unwrap_or(p)).collect()
}

/// A char boundary at or below `i`.
fn floor(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A random range `[a, b)` on char boundaries, at most `max` bytes long.
fn range(rng: &mut SmallRng, text: &str, max: usize) -> (usize, usize) {
    let a = floor(text, rng.random_range(0..=text.len()));
    let b = floor(text, a + rng.random_range(0..=max));
    (a, b.max(a))
}

/// Applies one to three random mutations; returns the mutant and a description.
fn mutate(rng: &mut SmallRng, original: &str) -> (String, String) {
    let mut text = original.to_string();
    let mut done = Vec::new();
    for _ in 0..rng.random_range(1..=3) {
        if text.is_empty() {
            break;
        }
        if rng.random_ratio(1, 20) {
            let at = floor(&text, rng.random_range(0..=text.len()));
            let (piece, what) = hostile_piece(rng);
            text.insert_str(at, &piece);
            done.push(format!("insert {what} at {at}"));
            continue;
        }
        match rng.random_range(0..5) {
            0 => {
                // Flip an ASCII byte to another printable ASCII byte (or a newline / tab).
                let ascii: Vec<usize> = (0..text.len()).filter(|&i| text.as_bytes()[i].is_ascii()).collect();
                if let Some(&i) = ascii.get(rng.random_range(0..ascii.len().max(1))) {
                    const EXTRA: &[u8] = b"\n\t";
                    let n = rng.random_range(0..(95 + EXTRA.len()));
                    let byte = if n < 95 { b' ' + n as u8 } else { EXTRA[n - 95] };
                    text.replace_range(i..i + 1, std::str::from_utf8(&[byte]).unwrap_or(" "));
                    done.push(format!("flip@{i}={byte:?}"));
                }
            }
            1 => {
                let (a, b) = range(rng, &text, 40);
                text.replace_range(a..b, "");
                done.push(format!("delete {a}..{b}"));
            }
            2 => {
                let at = floor(&text, rng.random_range(0..=text.len()));
                text.truncate(at);
                done.push(format!("truncate {at}"));
            }
            3 => {
                let (a, b) = range(rng, &text, 80);
                let piece = text[a..b].to_string();
                let at = floor(&text, rng.random_range(0..=text.len()));
                text.insert_str(at, &piece);
                done.push(format!("duplicate {a}..{b} at {at}"));
            }
            _ => {
                // Swap two whitespace-separated tokens.
                let tokens: Vec<(usize, usize)> = token_ranges(&text);
                if tokens.len() >= 2 {
                    let i = rng.random_range(0..tokens.len());
                    let j = rng.random_range(0..tokens.len());
                    let (first, second) =
                        if tokens[i].0 <= tokens[j].0 { (tokens[i], tokens[j]) } else { (tokens[j], tokens[i]) };
                    if first != second {
                        let mut swapped = String::with_capacity(text.len());
                        swapped.push_str(&text[..first.0]);
                        swapped.push_str(&text[second.0..second.1]);
                        swapped.push_str(&text[first.1..second.0]);
                        swapped.push_str(&text[first.0..first.1]);
                        swapped.push_str(&text[second.1..]);
                        text = swapped;
                        done.push(format!("swap {first:?} {second:?}"));
                    }
                }
            }
        }
    }
    (text, done.join(", "))
}

/// Text no tree may follow or no buffer should copy: a long flat operator chain, deep `for` nesting at
/// column 0, deep brackets, a huge number or string; inserted anywhere by [`mutate`].
fn hostile_piece(rng: &mut SmallRng) -> (String, String) {
    const OPERATORS: [&str; 8] = [" + ", " && ", " || ", " * ", " - ", " == ", ".", " ..\n"];
    let n = rng.random_range(200..4_000);
    match rng.random_range(0..5) {
        0 => {
            let op = OPERATORS[rng.random_range(0..OPERATORS.len())];
            (vec!["1"; n].join(op), format!("a chain of {n} `{}`", op.trim()))
        }
        1 => ((0..n).map(|k| format!("for i{k} in [1] {{\n")).collect(), format!("{n} nested `for`")),
        2 => (format!("{}1{}", "([{".repeat(n / 3), "}])".repeat(n / 3)), format!("{n} brackets")),
        3 => ("9".repeat(n * 50), format!("a {}-digit number", n * 50)),
        _ => (format!("\"{}\"", "x".repeat(n * 50)), format!("a {}-byte string", n * 50)),
    }
}

fn token_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                tokens.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        tokens.push((s, text.len()));
    }
    tokens
}

/// Checks the 2,000 mutants of one file; returns a report per failing mutant.
fn mutants_of(n: usize, path: &Path) -> Vec<String> {
    let name = path.to_string_lossy().replace('\\', "/");
    let original = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {name}: {e}"));
    let seed = SEED ^ n as u64;
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut failures = Vec::new();
    for index in 0..MUTANTS_PER_EXAMPLE {
        let (mutant, how) = mutate(&mut rng, &original);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let outcome = kfl_tests::check_text(&name, &mutant);
            let mut bad = Vec::new();
            for d in outcome.diagnostics() {
                for label in std::iter::once(&d.primary).chain(&d.secondary) {
                    let span = label.span;
                    let len = outcome.sources.get(span.file).text.len();
                    if !(span.start <= span.end && span.end as usize <= len) {
                        bad.push(format!("{} {:?} outside file of {len} bytes: {}", d.code.as_str(), span, d.message));
                    }
                }
            }
            bad
        }));
        let problem = match result {
            Ok(bad) if bad.is_empty() => None,
            Ok(bad) => Some(bad.join("\n")),
            Err(payload) => Some(format!(
                "panic: {}",
                payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("<non-string payload>")
            )),
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "{name} seed={seed:#x} mutant #{index} ({how}):\n{problem}\n--- mutant ---\n{mutant}\n--- end ---"
            ));
        }
    }
    failures
}

#[test]
fn mutated_examples_never_panic() {
    let mut files = examples();
    assert!(!files.is_empty(), "no examples found");
    // The design folder mirrors examples/: check each distinct text once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|p| seen.insert(std::fs::read(p).unwrap_or_default()));
    // The panic hook is process-wide and shared with the other tests, so it is left alone:
    // a caught panic's message lands in this test's captured output only.
    // Files are spread over a few threads, each with the stack `kfl`'s main thread has (8 MiB), as the
    // inserted chains and nesting may reach the deepest the parser accepts; each file's seed depends only on
    // its index.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    let mut failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                std::thread::Builder::new()
                    .stack_size(8 * 1024 * 1024)
                    .spawn_scoped(scope, || {
                        let mut found = Vec::new();
                        loop {
                            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(path) = files.get(n) else { break found };
                            found.extend(mutants_of(n, path));
                        }
                    })
                    .expect("thread")
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} failing mutants; first ones:\n\n{}",
        failures.len(),
        failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n\n")
    );
}

/// A one-step file whose `env` value is `value`.
fn with_env_value(value: &str) -> String {
    format!("project p {{\n  image = \"a\"\n}}\n\nstep s() {{\n  run = [\"true\"]\n  env {{ x = {value} }}\n}}\n")
}

/// Every nesting form at the deepest the parser accepts: checked, built and its plan read back by the runtime
/// without a panic or a stack overflow, on a thread with the stack `kfl`'s main thread has (8 MiB; a test
/// thread has 2 MiB), in whichever profile the tests are built.
#[test]
fn the_deepest_accepted_nesting_checks_and_builds() {
    std::thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn(check_and_build_the_deepest_values)
        .expect("thread")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

fn check_and_build_the_deepest_values() {
    // Levels left for the value inside `step s() { env { x = … } }`.
    let n = 254;
    let values = [
        format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        format!("{}true", "!".repeat(n)),
        format!("{}1{}", "{ a = ".repeat(n), " }".repeat(n)),
        format!("{}1{}", "if true then ".repeat(n), " else 2".repeat(n)),
        // Two levels per `"${`, one for the innermost string.
        format!("{}\"a\"{}", "\"${".repeat(n / 2 - 1), "}\"".repeat(n / 2 - 1)),
        // A flat chain of n operators is a tree n levels deep.
        vec!["1"; n + 1].join(" + "),
        vec!["true"; n + 1].join(" && "),
        vec!["1"; n + 1].join(" * "),
        format!("{}1{}", "(1 + ".repeat(n / 2), ")".repeat(n / 2)),
        format!("\"${{{}}}\"", vec!["1"; n - 1].join(" + ")),
    ];
    for value in values {
        let text = with_env_value(&value);
        let outcome = kfl_tests::check_text("deep.kfl", &text);
        assert!(
            !outcome.render_plain().contains("levels deep"),
            "the deepest accepted nesting was refused:\n{}",
            outcome.render_plain()
        );
        if let Some(program) = outcome.checked.program() {
            let built = kfl_compiler::codegen::build(program, &kfl_tests::build_options(program));
            let files = built.unwrap_or_else(|d| panic!("{d:?}")).files;
            // `kfl run` reads every plan `kfl build` writes.
            let plan = files.iter().find(|(name, _)| name == "plan.json").expect("plan.json");
            kfl_runtime::plan::parse(&plan.1).unwrap_or_else(|e| panic!("{value:.40}…: {e}"));
        }
        let formatted = kfl_compiler::format::format(&text).unwrap_or_else(|d| panic!("{d:?}"));
        assert!(!kfl_tests::check_text("deep.kfl", &formatted).has_errors(), "{formatted}");
    }
}

/// Inputs the parser accepts but no tree may follow: flat chains of thousands of operators, thousands of
/// nested blocks (at column 0 too, where a keyword resynchronises the scanner), several deep declarations in
/// one file, huge literals. Each is checked, formatted and (when it checks) built on a thread with 8 MiB of
/// stack, without a signal, and a too deep one is refused with E0001 at its place.
#[test]
fn long_chains_and_deep_blocks_are_refused_not_overflowed() {
    std::thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn(|| {
            for (what, text, refused) in hostile_inputs() {
                let outcome = kfl_tests::check_text("hostile.kfl", &text);
                let plain = outcome.render_plain();
                assert_eq!(plain.contains("levels deep"), refused, "{what}: {}", &plain[..plain.len().min(2000)]);
                if let Some(program) = outcome.checked.program() {
                    let _ = kfl_compiler::codegen::build(program, &kfl_compiler::codegen::BuildOptions::default());
                }
                let _ = kfl_compiler::format::format(&text);
            }
        })
        .expect("thread")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

/// (what, text, whether E0001 "levels deep" is expected).
fn hostile_inputs() -> Vec<(&'static str, String, bool)> {
    let project = "project p { image = \"x\" }\n";
    let param = |ty: &str, value: String| format!("{project}param v: {ty} = {value}\nstep a {{ run = [\"x\", v] }}\n");
    let nested_for = |indent: &str| {
        let n = 5_000;
        let opens: String = (0..n).map(|k| format!("{}for i{k} in [1] {{\n", indent.repeat(k.min(1)))).collect();
        format!("{project}{opens}step a {{ run = [\"x\"] }}\n{}", "}\n".repeat(n))
    };
    let deep_list = format!("{}1{}", "[".repeat(3_000), "]".repeat(3_000));
    vec![
        ("4,000 `+`", param("int", vec!["1"; 4_000].join(" + ")), true),
        ("5,000 `&&`", param("bool", vec!["true"; 5_000].join(" && ")), true),
        ("4,000 string `+`", param("string", vec!["\"a\""; 4_000].join(" + ")), true),
        ("a chain across lines", param("int", vec!["1"; 4_000].join(" +\n  ")), true),
        ("4,000 members", param("int", format!("a{}", ".b".repeat(4_000))), true),
        ("4,000 `-`", param("int", format!("{}1", "- ".repeat(4_000))), true),
        ("a chain in an interpolation", param("string", format!("\"${{{}}}\"", vec!["1"; 4_000].join(" + "))), true),
        ("5,000 nested `for` at column 0", nested_for(""), true),
        ("5,000 nested `for`, indented", nested_for("  "), true),
        (
            "two deep declarations",
            format!("{project}param a: list[int] = {deep_list}\nparam b: list[int] = {deep_list}\n"),
            true,
        ),
        ("a 1 MB string", param("string", format!("\"{}\"", "a".repeat(1 << 20))), false),
        ("a 100,000-digit number", param("int", "9".repeat(100_000)), false),
        ("a 100,000-item list", param("list[int]", format!("[{}]", vec!["1"; 100_000].join(", "))), false),
        (
            "300 entries of one block",
            format!(
                "{project}step a {{\n  run = [\"x\"]\n  env {{\n{}  }}\n}}\n",
                (0..300).map(|k| format!("    k{k} = \"a\" + \"b\"\n")).collect::<String>()
            ),
            false,
        ),
    ]
}

/// A nested list becomes a nested JSON array in the pipeline, so its text grows with its size: escaping
/// each level's quotes again, as an earlier version did, doubled it per level.
#[test]
fn nested_lists_render_in_linear_size() {
    let depth = 22;
    let text = with_env_value(&format!("{}1{}", "[".repeat(depth), "]".repeat(depth)));
    let outcome = kfl_tests::check_text("nested.kfl", &text);
    let program = outcome.checked.program().unwrap_or_else(|| panic!("{}", outcome.render_plain()));
    let built =
        kfl_compiler::codegen::build(program, &kfl_tests::build_options(program)).unwrap_or_else(|d| panic!("{d:?}"));
    let (_, pipeline) = built.files.iter().find(|(name, _)| name.as_str() == "pipeline.yaml").expect("pipeline");
    let expected = format!("value: '{}\"1\"{}'", "[".repeat(depth), "]".repeat(depth));
    assert!(pipeline.contains(&expected), "{pipeline}");
}
