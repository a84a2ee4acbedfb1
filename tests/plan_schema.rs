//! Every example and every compile fixture builds a `plan.json` that validates against docs/plan.schema.json and
//! that the runtime reads back.
//!
//! The test crate has no JSON dependency, so this file carries a small JSON
//! reader and a validator for the keywords the schema uses (`type`,
//! `properties`, `required`, `additionalProperties`, `items`, `enum`,
//! `const`, `oneOf`, `minimum`, `$ref` into `$defs`); any other keyword in
//! the schema fails the test, so the two cannot drift apart silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kfl_compiler::codegen::build;

#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    /// Keys in document order (duplicates are an error).
    Object(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn parse(text: &str) -> Result<Json, String> {
        let mut reader = Reader { bytes: text.as_bytes(), at: 0 };
        let value = reader.value()?;
        reader.space();
        if reader.at != reader.bytes.len() {
            return Err(format!("trailing text at byte {}", reader.at));
        }
        Ok(value)
    }

    fn space(&mut self) {
        while self.bytes.get(self.at).is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Result<(), String> {
        self.space();
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", byte as char, self.at))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.space();
        let rest = &self.bytes[self.at..];
        for (word, value) in [("null", Json::Null), ("true", Json::Bool(true)), ("false", Json::Bool(false))] {
            if rest.starts_with(word.as_bytes()) {
                self.at += word.len();
                return Ok(value);
            }
        }
        match rest.first() {
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.space();
                if self.bytes.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.space();
                    if self.bytes.get(self.at) == Some(&b',') {
                        self.at += 1;
                    } else {
                        self.eat(b']')?;
                        return Ok(Json::Array(items));
                    }
                }
            }
            Some(b'{') => {
                self.at += 1;
                let mut fields: Vec<(String, Json)> = Vec::new();
                self.space();
                if self.bytes.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(Json::Object(fields));
                }
                loop {
                    self.space();
                    let key = self.string()?;
                    self.eat(b':')?;
                    let value = self.value()?;
                    if fields.iter().any(|(k, _)| *k == key) {
                        return Err(format!("duplicate key `{key}`"));
                    }
                    fields.push((key, value));
                    self.space();
                    if self.bytes.get(self.at) == Some(&b',') {
                        self.at += 1;
                    } else {
                        self.eat(b'}')?;
                        return Ok(Json::Object(fields));
                    }
                }
            }
            _ => {
                let start = self.at;
                while self.bytes.get(self.at).is_some_and(|b| b"+-0123456789.eE".contains(b)) {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.at]).map_err(|e| e.to_string())?;
                text.parse().map(Json::Number).map_err(|_| format!("bad value at byte {start}"))
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            let Some(&byte) = self.bytes.get(self.at) else { return Err("unterminated string".into()) };
            self.at += 1;
            match byte {
                b'"' => return Ok(out),
                b'\\' => {
                    let escape = self.bytes.get(self.at).copied().ok_or("bad escape")?;
                    self.at += 1;
                    match escape {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let hex = std::str::from_utf8(self.bytes.get(self.at..self.at + 4).ok_or("bad \\u")?)
                                .map_err(|e| e.to_string())?;
                            self.at += 4;
                            let code = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        other => out.push(other as char),
                    }
                }
                _ => {
                    // Copy a whole UTF-8 sequence.
                    let start = self.at - 1;
                    let mut end = self.at;
                    while self.bytes.get(end).is_some_and(|b| b & 0xC0 == 0x80) {
                        end += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.bytes[start..end]).map_err(|e| e.to_string())?);
                    self.at = end;
                }
            }
        }
    }
}

/// Validates `value` at `path` against `schema`; errors name the JSON path.
struct Validator<'s> {
    defs: BTreeMap<&'s str, &'s Json>,
}

const KNOWN: [&str; 15] = [
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "oneOf",
    "minimum",
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
        for (keyword, _) in keywords {
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
                ("integer", Json::Number(n)) => n.fract() == 0.0,
                (t, v) => t == v.type_name(),
            });
            if !matches {
                errors.push(format!("{path}: expected {}, found {}", allowed.join(" or "), value.type_name()));
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
        if let (Some(Json::Number(minimum)), Json::Number(n)) = (schema.get("minimum"), value)
            && n < minimum
        {
            errors.push(format!("{path}: {n} is below the minimum {minimum}"));
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

#[test]
fn every_plan_validates_against_the_schema() {
    let schema_text = std::fs::read_to_string(workspace("docs/plan.schema.json")).expect("docs/plan.schema.json");
    let schema = Reader::parse(&schema_text).expect("the schema is JSON");
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
        let plan = Reader::parse(&text).unwrap_or_else(|e| panic!("{}: plan.json is not JSON: {e}", path.display()));
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
    let schema = Reader::parse(&schema_text).expect("the schema is JSON");
    let validator = Validator::new(&schema);
    let text = plan_of(&workspace("examples/iris/iris.kfl"));
    for (from, to) in [
        ("\"plan_version\": 1", "\"plan_version\": 2"),
        ("\"kind\": \"input\"", "\"kind\": \"inputs\""),
        ("\"retries\": 2", "\"retries\": -1"),
        ("\"cache\": true", "\"cache\": \"yes\""),
        ("\"plan_version\": 1", "\"plan_version\": 1, \"extra\": 0"),
    ] {
        assert!(text.contains(from), "the iris plan has no `{from}`");
        let broken = Reader::parse(&text.replacen(from, to, 1)).expect("still JSON");
        let mut errors = Vec::new();
        validator.validate(&schema, &broken, "$", &mut errors);
        assert!(!errors.is_empty(), "`{to}` should not validate");
    }
}
