//! docs/plan.schema.json, derived from the format's types (`format.rs`) so the two cannot drift apart.

use serde_json::{Map, Value, json};

use crate::format::{PLAN_VERSION, Plan};

/// The JSON Schema of `plan.json`, pretty-printed with a trailing newline (the text of docs/plan.schema.json).
pub fn plan_schema() -> String {
    let mut schema = schemars::schema_for!(Plan).to_value();
    if let Value::Object(root) = &mut schema {
        root.insert("$id".into(), format!("https://kfl.dev/schemas/plan-{PLAN_VERSION}.json").into());
        root.insert("title".into(), format!("kfl execution plan (plan.json), version {PLAN_VERSION}").into());
        root.insert(
            "description".into(),
            "Written by `kfl build`; read by the embedded runtime. Documented in docs/PLAN.md; generated from the \
             kfl-plan crate's types (`KFL_UPDATE_DOCS=1 cargo test -p kfl-tests` rewrites it)."
                .into(),
        );
        // The runtime reads exactly one version (`kfl_runtime::plan::parse`).
        if let Some(Value::Object(properties)) = root.get_mut("properties") {
            properties.insert("plan_version".into(), json!({ "const": PLAN_VERSION }));
        }
        close(root);
        if let Some(Value::Object(defs)) = root.get_mut("$defs") {
            flatten_stage(defs);
            defs.values_mut().for_each(close_all);
        }
    }
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// A stage is its name, kind and dependencies with one spec flattened into it (`Stage::spec`, untagged): each
/// alternative becomes the stage's own properties merged with the spec's, so that every object can be closed.
fn flatten_stage(defs: &mut Map<String, Value>) {
    let Some(Value::Object(stage)) = defs.get("Stage").cloned() else { return };
    let Some(Value::Array(specs)) = stage.get("anyOf") else { return };
    let mut alternatives = Vec::new();
    for spec in specs {
        let Some(name) = spec.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) else {
            continue;
        };
        let Some(Value::Object(mut merged)) = defs.shift_remove(name) else { continue };
        for key in ["properties", "required"] {
            let own = merged.remove(key);
            let mut joined = stage.get(key).cloned().unwrap_or(Value::Null);
            match (&mut joined, own) {
                (Value::Object(into), Some(Value::Object(from))) => into.extend(from),
                (Value::Array(into), Some(Value::Array(from))) => into.extend(from),
                _ => {}
            }
            merged.insert(key.into(), joined);
        }
        alternatives.push(Value::Object(merged));
    }
    let mut flattened = Map::new();
    if let Some(description) = stage.get("description") {
        flattened.insert("description".into(), description.clone());
    }
    flattened.insert("anyOf".into(), alternatives.into());
    defs.insert("Stage".into(), flattened.into());
}

/// Refuses properties an object schema does not list.
fn close(schema: &mut Map<String, Value>) {
    if schema.contains_key("properties") && !schema.contains_key("additionalProperties") {
        schema.insert("additionalProperties".into(), false.into());
    }
}

/// [`close`] on a schema and every schema nested in it (the variants of a tagged enum).
fn close_all(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            close(map);
            map.values_mut().for_each(close_all);
        }
        Value::Array(items) => items.iter_mut().for_each(close_all),
        _ => {}
    }
}
