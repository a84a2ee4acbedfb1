//! Lexical edge cases of the grammar: identifiers, numbers with units, strings, keys.

use kfl_grammar::{KflParser, Rule};
use pest::Parser;

fn whole(rule: Rule, input: &str) -> bool {
    match KflParser::parse(rule, input) {
        Ok(mut pairs) => pairs.next().is_some_and(|p| p.as_str() == input),
        Err(_) => false,
    }
}

#[test]
fn numbers_carry_their_unit_in_one_token() {
    for ok in ["42", "0.5", "1e-3", "1e3", "2E", "512Mi", "1.5Gi", "500m", "250ms", "20%", "0.5h"] {
        assert!(whole(Rule::number, ok), "{ok} should be one number token");
    }
    // A float needs a digit after its dot, so `0..4` is a range.
    assert!(!whole(Rule::number, "0."));
    assert!(whole(Rule::expr, "0..4"));
}

#[test]
fn identifiers_exclude_only_reserved_words() {
    for ok in ["train", "model", "step", "iffy", "_x", "for_each"] {
        assert!(whole(Rule::ident, ok), "{ok} is an identifier");
    }
    for reserved in ["true", "false", "if", "then", "else"] {
        assert!(!whole(Rule::ident, reserved), "{reserved} is reserved");
    }
}

#[test]
fn strings_interpolate_and_escape() {
    assert!(whole(Rule::string, r#""a ${b.c} d""#));
    assert!(whole(Rule::string, r#""nested ${f("x")}""#));
    assert!(whole(Rule::string, r#""literal \${x} and lone $""#));
    assert!(!whole(Rule::string, r#""bad \q escape""#));
    assert!(!whole(Rule::string, "\"no\nbreaks\""));
    assert!(whole(Rule::raw_string, r#"r"C:\no\escapes""#));
}

#[test]
fn keys_are_dotted_and_may_be_quoted() {
    assert!(whole(Rule::key, r#"metadata.labels."kueue.x-k8s.io/queue-name""#));
    assert!(whole(Rule::key, "app.kubernetes.io/name"));
    assert!(whole(Rule::key, "NCCL_DEBUG"));
}

#[test]
fn keyword_list_matches_the_grammar() {
    for keyword in kfl_grammar::KEYWORDS {
        let name = format!("kw_{keyword} ");
        let literal = format!("\"{keyword}\" ~ !ident_char");
        assert!(
            kfl_grammar::GRAMMAR_SOURCE.lines().any(|line| line.starts_with(&name) && line.contains(&literal)),
            "KEYWORDS lists `{keyword}` but kfl.pest has no matching `kw_{keyword}` rule"
        );
    }
    let declared = kfl_grammar::GRAMMAR_SOURCE.lines().filter(|l| l.starts_with("kw_")).count();
    assert_eq!(declared, kfl_grammar::KEYWORDS.len(), "every kw_ rule is listed in KEYWORDS");
}

#[test]
fn spec_examples_parse() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut stack = vec![std::path::PathBuf::from(root)];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kfl") {
                let src = std::fs::read_to_string(&path).unwrap();
                if let Err(e) = KflParser::parse(Rule::file, &src) {
                    panic!("{}: {e}", path.display());
                }
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "no examples found under {root}");
}
