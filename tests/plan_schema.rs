//! Every example and every compile fixture builds a `plan.json` that validates against docs/plan.schema.json and
//! that the runtime reads back.
//!
//! The schema is generated from the format's types (`kfl_plan::schema`) and checked to be current here. The JSON is
//! read by serde_json; this file carries a validator for the keywords the schema uses (`type`, `properties`,
//! `required`, `additionalProperties`, `items`, `enum`, `const`, `oneOf`, `anyOf`, `format`, `minimum`, `maximum`,
//! `$ref` into `$defs`; `default` is an annotation); any other keyword in the schema fails the test, so the two
//! cannot drift apart silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kfl_compiler::codegen::build;
use serde_json::Value as Json;

/// The JSON Schema name of a value's type (`integer` is checked apart, as a number without a fraction).
fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn parse(text: &str) -> serde_json::Result<Json> {
    serde_json::from_str(text)
}

/// Validates `value` at `path` against `schema`; errors name the JSON path.
struct Validator<'s> {
    defs: BTreeMap<&'s str, &'s Json>,
}

const KNOWN: [&str; 19] = [
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "default",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "oneOf",
    "anyOf",
    "format",
    "minimum",
    "maximum",
];

impl<'s> Validator<'s> {
    fn new(root: &'s Json) -> Validator<'s> {
        let mut defs = BTreeMap::new();
        if let Some(Json::Object(fields)) = root.get("$defs") {
            for (name, schema) in fields {
                defs.insert(name.as_str(), schema);
            }
        }
        Validator { defs }
    }

    fn validate(&self, schema: &'s Json, value: &Json, path: &str, errors: &mut Vec<String>) {
        let Json::Object(keywords) = schema else {
            errors.push(format!("{path}: schema is not an object"));
            return;
        };
        for keyword in keywords.keys() {
            assert!(
                KNOWN.contains(&keyword.as_str()),
                "the schema uses `{keyword}`, which this validator does not know"
            );
        }
        if let Some(Json::String(reference)) = schema.get("$ref") {
            match reference.strip_prefix("#/$defs/").and_then(|name| self.defs.get(name)) {
                Some(target) => self.validate(target, value, path, errors),
                None => errors.push(format!("{path}: unresolved $ref {reference}")),
            }
        }
        if let Some(ty) = schema.get("type") {
            let allowed: Vec<&str> = match ty {
                Json::String(t) => vec![t.as_str()],
                Json::Array(ts) => {
                    ts.iter().filter_map(|t| if let Json::String(s) = t { Some(s.as_str()) } else { None }).collect()
                }
                _ => Vec::new(),
            };
            let matches = allowed.iter().any(|t| match (*t, value) {
                ("integer", Json::Number(n)) => {
                    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|x| x.fract() == 0.0)
                }
                (t, v) => t == type_name(v),
            });
            if !matches {
                errors.push(format!("{path}: expected {}, found {}", allowed.join(" or "), type_name(value)));
                return;
            }
        }
        if let Some(expected) = schema.get("const")
            && expected != value
        {
            errors.push(format!("{path}: expected {expected:?}, found {value:?}"));
        }
        if let Some(Json::Array(options)) = schema.get("enum")
            && !options.contains(value)
        {
            errors.push(format!("{path}: {value:?} is not one of {options:?}"));
        }
        if let (Some(minimum), Some(n)) = (schema.get("minimum").and_then(Json::as_f64), value.as_f64())
            && n < minimum
        {
            errors.push(format!("{path}: {n} is below the minimum {minimum}"));
        }
        if let (Some(maximum), Some(n)) = (schema.get("maximum").and_then(Json::as_f64), value.as_f64())
            && n > maximum
        {
            errors.push(format!("{path}: {n} is above the maximum {maximum}"));
        }
        if let Some(Json::Array(options)) = schema.get("oneOf") {
            let mut failures = Vec::new();
            let mut passed = 0;
            for option in options {
                let mut option_errors = Vec::new();
                self.validate(option, value, path, &mut option_errors);
                if option_errors.is_empty() {
                    passed += 1;
                } else {
                    failures.push(option_errors.join("; "));
                }
            }
            if passed != 1 {
                errors.push(format!(
                    "{path}: matches {passed} of the oneOf options, not exactly one: [{}]",
                    failures.join(" | ")
                ));
            }
        }
        if let Some(Json::Array(options)) = schema.get("anyOf") {
            let mut failures = Vec::new();
            for option in options {
                let mut option_errors = Vec::new();
                self.validate(option, value, path, &mut option_errors);
                if option_errors.is_empty() {
                    failures.clear();
                    break;
                }
                failures.push(option_errors.join("; "));
            }
            if !failures.is_empty() {
                errors.push(format!("{path}: matches none of the anyOf options: [{}]", failures.join(" | ")));
            }
        }
        // Integer formats (`uint64`, `int32`, …) hold whole numbers; `double` and `float` any number.
        if let (Some(Json::String(format)), Json::Number(n)) = (schema.get("format"), value)
            && (format.starts_with("int") || format.starts_with("uint"))
            && !(n.is_i64() || n.is_u64())
        {
            errors.push(format!("{path}: {n} is not a whole number ({format})"));
        }
        if let (Some(items), Json::Array(values)) = (schema.get("items"), value) {
            for (index, item) in values.iter().enumerate() {
                self.validate(items, item, &format!("{path}[{index}]"), errors);
            }
        }
        if let Json::Object(fields) = value {
            if let Some(Json::Array(required)) = schema.get("required") {
                for name in required {
                    if let Json::String(name) = name
                        && value.get(name).is_none()
                    {
                        errors.push(format!("{path}: missing `{name}`"));
                    }
                }
            }
            let properties = schema.get("properties");
            for (name, field) in fields {
                let child = format!("{path}.{name}");
                match (properties.and_then(|p| p.get(name)), schema.get("additionalProperties")) {
                    (Some(property), _) => self.validate(property, field, &child, errors),
                    (None, Some(Json::Bool(false))) => errors.push(format!("{path}: unexpected property `{name}`")),
                    (None, Some(extra @ Json::Object(_))) => self.validate(extra, field, &child, errors),
                    (None, _) => {}
                }
            }
        }
    }
}

fn workspace(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

fn plan_of(path: &Path) -> String {
    let outcome = kfl_tests::check_file(path);
    let program = outcome
        .checked
        .program()
        .unwrap_or_else(|| panic!("{} does not check:\n{}", path.display(), outcome.render_plain()));
    let output = build(program, &kfl_tests::build_options(program))
        .unwrap_or_else(|d| panic!("{} does not build: {d:#?}", path.display()));
    output
        .files
        .into_iter()
        .find(|(name, _)| name == "plan.json")
        .map(|(_, text)| text)
        .expect("plan.json in the output")
}

/// docs/plan.schema.json is generated from the plan format's types (`kfl_plan::schema`); `KFL_UPDATE_DOCS=1 cargo
/// test -p kfl-tests` rewrites it.
#[test]
fn the_schema_is_generated_from_the_format() {
    let path = workspace("docs/plan.schema.json");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = kfl_plan::schema::plan_schema();
    if current != generated {
        if std::env::var_os("KFL_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else {
            panic!("docs/plan.schema.json is stale; run `KFL_UPDATE_DOCS=1 cargo test -p kfl-tests`");
        }
    }
}

#[test]
fn every_plan_validates_against_the_schema() {
    let schema_text = std::fs::read_to_string(workspace("docs/plan.schema.json")).expect("docs/plan.schema.json");
    let schema = parse(&schema_text).expect("the schema is JSON");
    let validator = Validator::new(&schema);
    let mut files = Vec::new();
    files.extend(kfl_tests::kfl_files(&workspace("examples")).into_iter().filter(|p| !kfl_tests::in_lib_folder(p)));
    let examples = files.len();
    files.extend(
        kfl_tests::kfl_files(&workspace("tests/cases/compile")).into_iter().filter(|p| !kfl_tests::in_lib_folder(p)),
    );
    assert!(examples >= 3 && files.len() > examples, "no examples or fixtures found");
    let mut failures = Vec::new();
    for path in &files {
        let text = plan_of(path);
        let plan = parse(&text).unwrap_or_else(|e| panic!("{}: plan.json is not JSON: {e}", path.display()));
        let mut errors = Vec::new();
        validator.validate(&schema, &plan, "$", &mut errors);
        // The runtime reads the plan with its own structs (the reader's side of the format): they must agree.
        if let Err(e) = kfl_runtime::plan::parse(&text) {
            errors.push(format!("kfl-runtime cannot read it: {e}"));
        }
        if !errors.is_empty() {
            failures.push(format!("{}:\n  {}", path.display(), errors.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "plans that do not match docs/plan.schema.json:\n{}", failures.join("\n"));
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let schema_text = std::fs::read_to_string(workspace("docs/plan.schema.json")).expect("docs/plan.schema.json");
    let schema = parse(&schema_text).expect("the schema is JSON");
    let validator = Validator::new(&schema);
    let text = plan_of(&workspace("examples/iris/iris.kfl"));
    for (from, to) in [
        ("\"plan_version\": 1", "\"plan_version\": 2"),
        ("\"kind\": \"input\"", "\"kind\": \"inputs\""),
        ("\"retries\": 2", "\"retries\": -1"),
        ("\"cache\": true", "\"cache\": \"yes\""),
        ("\"plan_version\": 1", "\"plan_version\": 1, \"extra\": 0"),
        ("\"cache\": true", "\"cache\": true, \"extra\": 0"),
        ("\"retries\": 2", "\"retries\": 2.5"),
    ] {
        assert!(text.contains(from), "the iris plan has no `{from}`");
        let broken = parse(&text.replacen(from, to, 1)).expect("still JSON");
        let mut errors = Vec::new();
        validator.validate(&schema, &broken, "$", &mut errors);
        assert!(!errors.is_empty(), "`{to}` should not validate");
    }
}
