//! Tests for `fmt`: canonical examples, idempotence, meaning and comment preservation, and odd layouts.

use super::format;
use crate::source::FileId;
use crate::syntax::{self, dump::dump};

/// Formats `src` and checks the three promises: idempotent, same dump,
/// same comments (the same texts, each as often). Returns the formatted text.
fn check(src: &str) -> String {
    let once = match format(src) {
        Ok(text) => text,
        Err(diagnostics) => panic!("does not parse: {diagnostics:?}\n{src}"),
    };
    let twice = match format(&once) {
        Ok(text) => text,
        Err(diagnostics) => panic!("formatted text does not parse: {diagnostics:?}\n{once}"),
    };
    assert_eq!(once, twice, "not idempotent; first pass:\n{once}");
    let before = dump(&syntax::parse(FileId(0), src).0);
    let after = dump(&syntax::parse(FileId(0), &once).0);
    assert_eq!(before, after, "meaning changed; formatted:\n{once}");
    assert_eq!(comment_texts(src), comment_texts(&once), "comments changed; formatted:\n{once}");
    once
}

fn comment_texts(src: &str) -> Vec<String> {
    let mut texts: Vec<String> =
        syntax::comments(src).iter().map(|comment| src[comment.start..comment.end].trim_end().to_string()).collect();
    // A comment inside an expression may move above its entry, so order is not compared.
    texts.sort();
    texts
}

/// Every `.kfl` under `examples/`, as (path, text).
// Tests may read fixtures; the library itself never does I/O.
#[allow(clippy::disallowed_methods)]
fn examples() -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut paths: Vec<_> = entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|extension| extension == "kfl") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                out.push((path, text));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut out = Vec::new();
    walk(&root, &mut out);
    out
}

#[test]
fn every_example_is_stable_and_keeps_meaning_and_comments() {
    let examples = examples();
    assert!(examples.len() >= 4, "examples not found");
    for (path, src) in examples {
        let formatted = std::panic::catch_unwind(|| check(&src));
        assert!(formatted.is_ok(), "{}", path.display());
    }
}

#[test]
fn spec_examples_are_already_canonical() {
    let canonical =
        ["iris/iris.kfl", "cross-validation/cv.kfl", "cross-validation/lib/common.kfl", "llm-finetune/finetune.kfl"];
    let examples = examples();
    for name in canonical {
        let Some((_, src)) = examples.iter().find(|(path, _)| path.ends_with(name)) else {
            panic!("missing example {name}");
        };
        assert_eq!(check(src), *src, "{name} is not in canonical form");
    }
}

#[test]
fn syntax_errors_are_returned_not_formatted() {
    let errors = format("step a {\n  run = [\n}\n").err().unwrap_or_default();
    assert!(!errors.is_empty());
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(check(""), "");
    assert_eq!(check("\n\n"), "");
    assert_eq!(check("// only\n\n\n/* a comment */\n"), "// only\n\n/* a comment */\n");
}

#[test]
fn bodies_get_one_entry_per_line_and_aligned_equals() {
    let src = "dataset raw { uri = \"x\", format_hint = 1 }\nstep a { image = \"i\"\n run = [\"x\"]\n\n\n\n cpu = 1 }";
    let expected = "dataset raw {\n  uri         = \"x\"\n  format_hint = 1\n}\n\nstep a {\n  image = \"i\"\n  run   = [\"x\"]\n\n  cpu = 1\n}\n";
    assert_eq!(check(src), expected);
}

#[test]
fn blank_lines_between_declarations() {
    let src = "import \"a.kfl\" as a\nimport \"b.kfl\" as b\nparam x: int = 1\nparam y: int = 2\n\n\n\nparam z: int = 3\nstep s = a.f(v = x)\nstep t = a.f(v = y)\nstep u {}\nstep w {}";
    let expected = "import \"a.kfl\" as a\nimport \"b.kfl\" as b\n\nparam x: int = 1\nparam y: int = 2\n\nparam z: int = 3\n\nstep s = a.f(v = x)\nstep t = a.f(v = y)\n\nstep u {}\n\nstep w {}\n";
    assert_eq!(check(src), expected);
}

#[test]
fn comments_in_odd_places_are_kept() {
    let src = "\
// top
/// Doc for a.
step a( // after paren
  x: int = 1, // after x
  /* before y */ y: int = 2
) -> (o: int) /* before body */ {
  run = [ // first
    \"a\", // after a
    /* before b */ \"b\"
    // at the end
  ] // after list
  cpu = 1 + /* inside */ 2
  k8s { // after brace
    a.b = 1
    // dangling
  }
  env = { A = \"x\" /* trailing block */ }
  // last
}
// end of file
";
    let out = check(src);
    assert!(out.contains("  x: int = 1, // after x\n"), "{out}");
    assert!(out.contains("] // after list\n"), "{out}");
    assert!(out.contains("  cpu = 1 + 2 /* inside */\n"), "{out}");
    assert!(out.contains("/* before body */\n/// Doc for a.\nstep a("), "{out}");
    assert!(out.ends_with("  // last\n}\n// end of file\n"), "{out}");
}

#[test]
fn doc_comment_placement_is_preserved() {
    let src = "/// File doc.\n\n/// Item doc.\nparam a: int = 1 /// becomes b's doc\nparam b: int = 2\n";
    let out = check(src);
    assert_eq!(out, "/// File doc.\n\n/// Item doc.\nparam a: int = 1\n/// becomes b's doc\nparam b: int = 2\n");
    let above_import = "/// File doc.\nimport \"x.kfl\" as x\n";
    assert_eq!(check(above_import), above_import);
}

#[test]
fn nested_objects_and_block_forms() {
    let src = "step a {\n  resources { cpu = 1, memory = 1Gi }\n  labels    = { a = { b = 1 } }\n  local {\n    env { X = \"1\" }\n  }\n  empty      {}\n  also_empty = {}\n}\n";
    assert_eq!(check(src), src);
    let long = format!("step a {{\n  labels {{ a = \"{}\", b = 2 }}\n}}\n", "x".repeat(90));
    let expected = format!("step a {{\n  labels {{\n    a = \"{}\"\n    b = 2\n  }}\n}}\n", "x".repeat(90));
    assert_eq!(check(&long), expected);
}

#[test]
fn k8s_quoted_keys() {
    let src = "train t {\n  k8s {\n    metadata.labels.\"kueue.x-k8s.io/queue-name\" = \"gpu-queue\"\n  }\n}\n";
    assert_eq!(check(src), src);
    let one_line = "train t { k8s { metadata.labels.\"kueue.x-k8s.io/queue-name\" = \"gpu-queue\" } }";
    assert_eq!(
        check(one_line),
        "train t {\n  k8s { metadata.labels.\"kueue.x-k8s.io/queue-name\" = \"gpu-queue\" }\n}\n"
    );
}

#[test]
fn long_lists_break_and_short_ones_join() {
    let elements: Vec<String> = (0..12).map(|n| format!("\"argument-{n}\"")).collect();
    let filled = "  run = [\n    \"argument-0\", \"argument-1\", \"argument-2\", \"argument-3\", \"argument-4\", \"argument-5\",\n    \"argument-6\", \"argument-7\", \"argument-8\", \"argument-9\", \"argument-10\", \"argument-11\",\n  ]\n";
    let multi = format!("step a {{\n  run = [\n{}\n  ]\n}}\n", elements.join(",\n"));
    assert_eq!(check(&multi), format!("step a {{\n{filled}}}\n"));
    let short = "step a {\n  run = [\n    \"x\",\n    \"y\"\n  ]\n}\n";
    assert_eq!(check(short), "step a {\n  run = [\"x\", \"y\"]\n}\n");
    // Written on one line, a command too long for the width wraps the same way.
    let one_line = format!("step a {{\n  run = [{}]\n}}\n", elements.join(", "));
    assert_eq!(check(&one_line), format!("step a {{\n{filled}}}\n"));
}

#[test]
fn long_lines_wrap_at_the_width_and_stay_wrapped() {
    let inputs: Vec<String> = (0..8).map(|n| format!("input_{n}: string = \"default value {n}\"")).collect();
    let signature = format!("step wide({}) -> (out: Dataset) {{\n  run = [\"x\", out]\n}}\n", inputs.join(", "));
    assert!(signature.lines().next().is_some_and(|line| line.len() > 200));
    let k8s = "step patched {\n  run = [\"x\"]\n  k8s = { spec = { containers = [{ name = \"main\", env = [{ name = \"A_LONG_VARIABLE_NAME\", value = \"a long value\" }, { name = \"ANOTHER_VARIABLE\", value = \"another value\" }] }], tolerations = [{ key = \"gpu\", operator = \"Exists\", effect = \"NoSchedule\" }] } }\n}\n";
    let call = format!(
        "step split_call = lib.split({})\n",
        (0..12).map(|n| format!("arg_{n} = {n}")).collect::<Vec<_>>().join(", ")
    );
    for src in [signature.as_str(), k8s, call.as_str()] {
        // `check` formats twice (idempotence) and compares meaning and comments.
        let out = check(src);
        let longest = out.lines().map(str::len).max().unwrap_or(0);
        assert!(longest <= super::MAX_WIDTH, "a line of {longest} columns:\n{out}");
        assert!(out.lines().count() > src.lines().count(), "nothing wrapped:\n{out}");
    }
    assert!(
        check(&signature).starts_with("step wide(\n  input_0: string = \"default value 0\",\n"),
        "{}",
        check(&signature)
    );
}

#[test]
fn strings_escapes_interpolation_and_raw() {
    let src = "step a {\n  x = \"tab\\t nl\\n quote\\\" back\\\\ dollar\\${no} $ ${a.b} ${f(\"q\", 1)}\"\n  y = r\"C:\\raw\\${x}\"\n  z = \"\"\n}\n";
    assert_eq!(check(src), src);
}

#[test]
fn signatures_break_one_input_per_line_when_long() {
    let src = "step prepare(\n  source: Dataset = raw,\n  fraction: float = test_fraction,\n  seed: int = 1234567890,\n  label: string = \"a long label value here\",\n) -> (train: Dataset) {\n  run = [\"x\"]\n}\n";
    assert_eq!(check(src), src);
    let short = "step a(\n  x: int = 1,\n  y: int = 2\n) -> (o: int) {\n  run = [\"x\"]\n}\n";
    assert_eq!(check(short), "step a(x: int = 1, y: int = 2) -> (o: int) {\n  run = [\"x\"]\n}\n");
    assert_eq!(check("step b() { run = [\"x\"] }"), "step b() {\n  run = [\"x\"]\n}\n");
}

#[test]
fn for_blocks_and_step_calls() {
    let src = "for fold in 0..4 {\nstep cv(fold: int = fold) -> (score: float) { run = [\"x\", fold] }\nstep again = lib.c(a = fold)\n}\nstep s = common.mean(values = cv.score)\n";
    let expected = "for fold in 0..4 {\n  step cv(fold: int = fold) -> (score: float) {\n    run = [\"x\", fold]\n  }\n\n  step again = lib.c(a = fold)\n}\n\nstep s = common.mean(values = cv.score)\n";
    assert_eq!(check(src), expected);
}

#[test]
fn expressions_keep_parens_and_spacing() {
    let src = "step a {\n  x = if a>1 then -b else (c+d)*2\n  y = !ok&&(p||q)\n  r = 1 .. n+1\n  z = -(1 - -2)\n}\n";
    let expected = "step a {\n  x = if a > 1 then -b else (c + d) * 2\n  y = !ok && (p || q)\n  r = 1..n + 1\n  z = -(1 - -2)\n}\n";
    assert_eq!(check(src), expected);
}

#[test]
fn monitor_rules_align_among_themselves() {
    let src = "monitor m {\n  service = s\n  rule errors { when = error_rate > 5%, for = 5m, then = alert }\n  rule slow { when = latency_p95 > 250ms, for = 10m, then = retrain }\n  schedule = \"0 3 * * 1\"\n}\n";
    let expected = "monitor m {\n  service = s\n  rule errors { when = error_rate > 5%, for = 5m, then = alert }\n  rule slow   { when = latency_p95 > 250ms, for = 10m, then = retrain }\n  schedule = \"0 3 * * 1\"\n}\n";
    assert_eq!(check(src), expected);
}

#[test]
fn mounts_do_not_break_alignment_and_fields_align() {
    let src =
        "train t {\n  framework = torch\n  mount v at \"/p\"\n  metrics { loss: float }\n  k8s {\n    a = 1\n  }\n}\n";
    let expected = "train t {\n  framework = torch\n  mount v at \"/p\"\n  metrics   { loss: float }\n  k8s {\n    a = 1\n  }\n}\n";
    assert_eq!(check(src), expected);
}

#[test]
fn crlf_and_trailing_blanks_in_comments() {
    let out = check("// one   \r\nparam a: int = 1 // two\r\n");
    assert_eq!(out, "// one\nparam a: int = 1 // two\n");
}

/// Every space outside strings and comments becomes ` /*cN*/ `, and every
/// line gets a `// eolN`: comments in every place a blank may stand.
fn with_comments_everywhere(src: &str) -> String {
    let comments = syntax::comments(src);
    let in_comment = |at: usize| comments.iter().any(|comment| comment.start <= at && at < comment.end);
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut counter = 0;
    for (at, c) in src.char_indices() {
        if in_string {
            in_string = c != '"' || escaped;
            escaped = c == '\\' && !escaped;
            out.push(c);
            continue;
        }
        if in_comment(at) {
            out.push(c);
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            ' ' => {
                counter += 1;
                out.push_str(&format!(" /*c{counter}*/ "));
            }
            '\n' => {
                counter += 1;
                out.push_str(&format!(" // eol{counter}\n"));
            }
            other => out.push(other),
        }
    }
    out
}

#[test]
fn examples_with_comments_everywhere_keep_every_comment() {
    for (path, src) in examples() {
        let variant = with_comments_everywhere(&src);
        let result = std::panic::catch_unwind(|| check(&variant));
        assert!(result.is_ok(), "{}", path.display());
    }
}

#[test]
fn examples_with_extra_blank_lines_and_no_indentation() {
    for (path, src) in examples() {
        let spread = src.replace('\n', "\n\n\n");
        let flat: String = src.lines().map(|line| line.trim_start().to_string() + "\n").collect();
        for variant in [spread, flat] {
            let result = std::panic::catch_unwind(|| check(&variant));
            assert!(result.is_ok(), "{}", path.display());
        }
    }
}

/// Small deterministic mutations of the examples (a character dropped, a
/// line doubled or joined to the next); whatever still parses must keep the
/// promises.
#[test]
fn mutated_examples_keep_the_promises() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound.max(1) as u64) as usize
    };
    for (path, src) in examples() {
        for _ in 0..25 {
            let mut variant = src.clone();
            match next(3) {
                0 => {
                    let at = next(variant.len());
                    if variant.is_char_boundary(at) && variant.is_char_boundary(at + 1) {
                        variant.replace_range(at..at + 1, "");
                    }
                }
                1 => {
                    let lines: Vec<&str> = src.lines().collect();
                    let line = next(lines.len());
                    let mut copy: Vec<&str> = lines.clone();
                    copy.insert(line, lines[line]);
                    variant = copy.join("\n");
                }
                _ => {
                    let newlines: Vec<usize> = src.match_indices('\n').map(|(at, _)| at).collect();
                    let at = newlines[next(newlines.len())];
                    variant.replace_range(at..at + 1, " ");
                }
            }
            if format(&variant).is_ok() {
                let result = std::panic::catch_unwind(|| check(&variant));
                assert!(result.is_ok(), "{}:\n{variant}", path.display());
            }
        }
    }
}

#[test]
fn small_forms() {
    let src = "import std.data\nimport \"lib/a \\\"b\\\".kfl\" as a\n\nstep cleanup {\n  run = [\"rm\"]\n}\n\nfor i in xs {}\n";
    assert_eq!(check(src), src);
    let long_default =
        format!("param names: list[string] = [\n  \"{}\",\n  \"{}\",\n]\n", "a".repeat(50), "b".repeat(50));
    assert_eq!(check(&long_default), long_default);
    let nested = "step a {\n  x = ((1))\n  y = f(g(h(1)), -(-x), !!ok, a.b.c(d = [e, { f = 1 }]))\n}\n";
    assert_eq!(check(nested), nested);
}

#[test]
fn comments_inside_one_line_entries_trail_the_line() {
    let src = "step a {\n  cpu = 1 + // why\n    2\n  memory = /* m */ 1Gi // set\n}\n";
    assert_eq!(check(src), "step a {\n  cpu    = 1 + 2 // why\n  memory = 1Gi /* m */ // set\n}\n");
}
