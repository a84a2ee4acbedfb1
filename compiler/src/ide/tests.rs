//! Tests of the editor queries on the iris example and small in-memory projects.

use crate::ide::{self, Analysis, CompletionKind, Symbol};
use crate::source::{FileId, MemoryLoader, Origin, SourceFile, Sources};

const IRIS: &str = include_str!("../../../examples/iris/iris.kfl");

fn checked(text: &str, files: &[(&str, &str)]) -> (Sources, crate::Checked, FileId) {
    let mut sources = Sources::new();
    let file = sources.add(SourceFile::new("main.kfl", text, Origin::User));
    let loader = MemoryLoader { files: files.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect() };
    let checked = crate::check(&mut sources, file, &loader);
    (sources, checked, file)
}

/// Byte offset of the `nth` (0-based) occurrence of `needle`, plus `extra`.
fn offset(text: &str, needle: &str, nth: usize, extra: usize) -> usize {
    text.match_indices(needle).nth(nth).map(|(i, _)| i + extra).unwrap_or_else(|| panic!("no `{needle}` #{nth}"))
}

fn slices(text: &str, spans: &[crate::source::Span]) -> Vec<String> {
    spans.iter().map(|s| text[s.range()].to_string()).collect()
}

#[test]
fn iris_has_no_errors_and_every_reference_resolves() {
    let (sources, checked, file) = checked(IRIS, &[]);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let analysis = Analysis::new(&sources, &checked);
    let occurrences = ide::occurrences(analysis, file);
    for occurrence in occurrences.iter().filter(|o| matches!(o.symbol, Symbol::Decl { .. } | Symbol::Field { .. })) {
        let definition = ide::definition(analysis, file, occurrence.span.start as usize);
        assert!(definition.is_some(), "no definition for `{}`", &IRIS[occurrence.span.range()]);
    }
}

#[test]
fn tune_best_fields_objective_metrics_and_space_keys_point_at_the_trial() {
    let (sources, checked, file) = checked(IRIS, &[]);
    let analysis = Analysis::new(&sources, &checked);
    let metric = ide::definition(analysis, file, offset(IRIS, "maximize(accuracy)", 0, 10)).expect("metric");
    assert_eq!(metric.start as usize, offset(IRIS, "accuracy: float, loss", 0, 0));
    let lr = ide::references(analysis, file, offset(IRIS, "lr: float = 0.1", 0, 0), true);
    assert_eq!(slices(IRIS, &lr), ["lr", "lr", "lr"], "declaration, use in run, space key");
    let model = ide::references(analysis, file, offset(IRIS, "(model: Model)", 0, 1), false);
    assert_eq!(model.len(), 3, "run, search.best.model twice: {:?}", slices(IRIS, &model));
}

#[test]
fn hover_explains_properties_enum_values_and_builtins() {
    let (sources, checked, file) = checked(IRIS, &[]);
    let analysis = Analysis::new(&sources, &checked);
    let access = ide::hover(analysis, file, offset(IRIS, "access", 0, 1)).expect("hover");
    assert!(access.markdown.contains("default `read_write_once`"), "{}", access.markdown);
    let protocol = ide::hover(analysis, file, offset(IRIS, "= v2", 0, 3)).expect("hover");
    assert!(protocol.markdown.contains("`v1`, `v2`"), "{}", protocol.markdown);
    let port = ide::hover(analysis, file, offset(IRIS, "port]", 0, 1)).expect("hover");
    assert!(port.markdown.contains("built in"), "{}", port.markdown);
    let epochs = ide::hover(analysis, file, offset(IRIS, "epochs: int = epochs", 0, 16)).expect("hover");
    assert!(epochs.markdown.contains("param epochs: int = 30"), "{}", epochs.markdown);
    let input = ide::hover(analysis, file, offset(IRIS, "epochs: int = epochs", 0, 1)).expect("hover");
    assert!(input.markdown.contains("default resolves to `30`"), "{}", input.markdown);
    let model = ide::hover(analysis, file, offset(IRIS, "model: Model = search", 0, 1)).expect("hover");
    assert!(
        model.markdown.contains("default resolves to `model: Model`, the output of train `classifier`"),
        "{}",
        model.markdown
    );
}

#[test]
fn rename_covers_named_arguments_and_refuses_language_words() {
    let lib =
        "component split(data: Dataset) -> (train: Dataset) {\n  image = \"x\"\n  run = [\"s\", data, train]\n}\n";
    let main = "import \"lib.kfl\" as lib\nproject p {\n  image = \"x\"\n}\ndataset raw {\n  uri = \"r.csv\"\n}\nstep a = lib.split(data = raw)\nstep b(d: Dataset = a.train) {\n  run = [\"b\", d]\n}\n";
    let (sources, checked, file) = checked(main, &[("lib.kfl", lib)]);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let analysis = Analysis::new(&sources, &checked);
    let rename = ide::rename(analysis, file, offset(main, "data = raw", 0, 1), Some("input")).expect("rename");
    let lib_file = sources.find("lib.kfl").expect("lib loaded");
    let in_lib: Vec<_> = rename.edits.iter().filter(|s| s.file == lib_file).collect();
    assert_eq!(in_lib.len(), 2, "declaration and use in run");
    assert_eq!(rename.edits.iter().filter(|s| s.file == file).count(), 1, "the named argument");
    assert!(ide::rename(analysis, file, offset(main, "image", 0, 1), Some("x")).is_err());
    assert!(ide::rename(analysis, file, offset(main, "raw", 1, 0), Some("if")).is_err());
    assert!(ide::rename(analysis, file, offset(main, "raw", 1, 0), Some("source")).is_ok());
}

#[test]
fn completion_reads_the_context_from_text_that_does_not_parse() {
    let text = "project p {\n  image = \"x\"\n}\nvolume v {\n  access = \n}\nserve s {\n  resources {\n    \n  }\n}\n";
    let (sources, checked, file) = checked(text, &[]);
    assert!(checked.has_errors());
    let analysis = Analysis::new(&sources, &checked);
    let access = ide::complete(analysis, file, offset(text, "access = ", 0, 9));
    let labels: Vec<&str> = access.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["read_write_once", "read_only_many", "read_write_many", "read_write_once_pod"]);
    assert!(access.iter().all(|c| c.kind == CompletionKind::EnumValue));
    let nested = ide::complete(analysis, file, offset(text, "    \n", 0, 4));
    let labels: Vec<&str> = nested.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["cpu", "memory", "gpu"]);
}

#[test]
fn completion_after_a_dot_lists_members() {
    let (sources, checked, file) = checked(IRIS, &[]);
    let analysis = Analysis::new(&sources, &checked);
    let after = |needle: &str, extra: usize| -> Vec<String> {
        ide::complete(analysis, file, offset(IRIS, needle, 0, extra)).into_iter().map(|c| c.label).collect()
    };
    assert_eq!(after("search.best.model", 7), ["best"]);
    let best = after("search.best.model", 12);
    assert!(best.contains(&"model".to_string()) && best.contains(&"lr".to_string()), "{best:?}");
    assert_eq!(after("prepare.test", 8), ["train", "test", "rows"]);
}

#[test]
fn outline_and_semantic_tokens_cover_the_file() {
    let (sources, checked, file) = checked(IRIS, &[]);
    let analysis = Analysis::new(&sources, &checked);
    let outline = ide::outline(analysis, file);
    let names: Vec<&str> = outline.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names[..4], ["iris", "epochs", "test_fraction", "workspace"]);
    let prepare = outline.iter().find(|o| o.name == "prepare").expect("prepare");
    let children: Vec<&str> = prepare.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(children, ["src", "fraction", "train", "test", "rows"]);
    let tokens = ide::semantic_tokens(analysis, file);
    assert!(tokens.windows(2).all(|w| w[0].span.end <= w[1].span.start), "sorted, no overlap");
    let torch = offset(IRIS, "torch", 0, 0) as u32;
    let token = tokens.iter().find(|t| t.span.start == torch).expect("torch token");
    assert_eq!(token.kind, ide::SemanticKind::EnumMember);
}
