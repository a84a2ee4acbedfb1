//! The Model Registry's `customProperties` (a map of `MetadataValue`s) as kfl uses it: labels under their own
//! keys, params under `param.<name>`, metrics under `metric.<name>`, lineage under `kfl.run_id`, `kfl.stage`
//! and `kfl.input.<name>`, and the content digest of a stored artifact under `kfl.sha256`.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::records::{Lineage, PropertyValue};
use super::{RegistryError, Result};

const PARAM: &str = "param.";
const METRIC: &str = "metric.";
const KFL: &str = "kfl.";
const INPUT: &str = "kfl.input.";
pub(crate) const RUN_ID: &str = "kfl.run_id";
pub(crate) const STAGE: &str = "kfl.stage";
pub(crate) const DIGEST: &str = "kfl.sha256";

/// Keys a label may not use, because decoding would take it for a param, metric or lineage entry.
pub(crate) fn is_reserved(key: &str) -> bool {
    key.starts_with(PARAM) || key.starts_with(METRIC) || key.starts_with(KFL)
}

/// The custom properties of a version, in a fixed order: labels, params, metrics, lineage.
pub(crate) fn encode_version(
    labels: &IndexMap<String, String>,
    params: &IndexMap<String, PropertyValue>,
    metrics: &IndexMap<String, f64>,
    lineage: &Lineage,
) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, value) in labels {
        map.insert(key.clone(), string_value(value));
    }
    for (key, value) in params {
        map.insert(format!("{PARAM}{key}"), metadata_value(value));
    }
    for (key, value) in metrics {
        map.insert(format!("{METRIC}{key}"), json!({ "metadataType": "MetadataDoubleValue", "double_value": value }));
    }
    if let Some(run_id) = &lineage.run_id {
        map.insert(RUN_ID.into(), string_value(run_id));
    }
    if let Some(stage) = &lineage.stage {
        map.insert(STAGE.into(), string_value(stage));
    }
    for (input, hash) in &lineage.input_hashes {
        map.insert(format!("{INPUT}{input}"), string_value(hash));
    }
    map
}

/// What `encode_version` wrote, read back. Properties other tools added are kept as labels when they are
/// strings and dropped otherwise (kfl labels are strings).
pub(crate) struct DecodedVersion {
    pub labels: IndexMap<String, String>,
    pub params: IndexMap<String, PropertyValue>,
    pub metrics: IndexMap<String, f64>,
    pub lineage: Lineage,
}

pub(crate) fn decode_version(map: &Map<String, Value>) -> Result<DecodedVersion> {
    let mut decoded = DecodedVersion {
        labels: IndexMap::new(),
        params: IndexMap::new(),
        metrics: IndexMap::new(),
        lineage: Lineage::default(),
    };
    for (key, value) in map {
        let property = parse_metadata_value(key, value)?;
        if let Some(name) = key.strip_prefix(PARAM) {
            decoded.params.insert(name.to_string(), property);
        } else if let Some(name) = key.strip_prefix(METRIC) {
            let number = match property {
                PropertyValue::Double(number) => number,
                PropertyValue::Int(number) => number as f64,
                other => {
                    return Err(RegistryError::Corrupt { what: format!("metric `{name}` is not a number: {other}") });
                }
            };
            decoded.metrics.insert(name.to_string(), number);
        } else if let Some(name) = key.strip_prefix(INPUT) {
            decoded.lineage.input_hashes.insert(name.to_string(), property.to_string());
        } else if key == RUN_ID {
            decoded.lineage.run_id = Some(property.to_string());
        } else if key == STAGE {
            decoded.lineage.stage = Some(property.to_string());
        } else if key.starts_with(KFL) {
            // Artifact-level keys such as the digest; not part of the version.
        } else if let PropertyValue::String(text) = property {
            decoded.labels.insert(key.clone(), text);
        }
    }
    Ok(decoded)
}

pub(crate) fn string_value(text: &str) -> Value {
    json!({ "metadataType": "MetadataStringValue", "string_value": text })
}

/// `MetadataIntValue.int_value` is an int64 carried as a JSON string, as in the OpenAPI schema.
fn metadata_value(value: &PropertyValue) -> Value {
    match value {
        PropertyValue::Bool(b) => json!({ "metadataType": "MetadataBoolValue", "bool_value": b }),
        PropertyValue::Int(i) => json!({ "metadataType": "MetadataIntValue", "int_value": i.to_string() }),
        PropertyValue::Double(d) => json!({ "metadataType": "MetadataDoubleValue", "double_value": d }),
        PropertyValue::String(s) => string_value(s),
    }
}

/// Reads one `MetadataValue`; struct and proto values (base64 blobs) are refused since kfl never writes them.
pub(crate) fn parse_metadata_value(key: &str, value: &Value) -> Result<PropertyValue> {
    let corrupt = |why: &str| RegistryError::Corrupt { what: format!("custom property `{key}`: {why}: {value}") };
    let kind = value.get("metadataType").and_then(Value::as_str).ok_or_else(|| corrupt("no metadataType"))?;
    match kind {
        "MetadataStringValue" => value
            .get("string_value")
            .and_then(Value::as_str)
            .map(|s| PropertyValue::String(s.to_string()))
            .ok_or_else(|| corrupt("string_value missing")),
        "MetadataBoolValue" => value
            .get("bool_value")
            .and_then(Value::as_bool)
            .map(PropertyValue::Bool)
            .ok_or_else(|| corrupt("bool_value missing")),
        "MetadataDoubleValue" => value
            .get("double_value")
            .and_then(Value::as_f64)
            .map(PropertyValue::Double)
            .ok_or_else(|| corrupt("double_value missing")),
        "MetadataIntValue" => {
            let int = value.get("int_value").ok_or_else(|| corrupt("int_value missing"))?;
            // The schema says string; accept a bare number too, which some servers send.
            let parsed = match int {
                Value::String(text) => text.parse::<i64>().ok(),
                other => other.as_i64(),
            };
            parsed.map(PropertyValue::Int).ok_or_else(|| corrupt("int_value is not an int64"))
        }
        _ => Ok(PropertyValue::String(format!("<{kind}>"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_gives_back_every_part() {
        let labels = IndexMap::from([("team".to_string(), "ml".to_string())]);
        let params = IndexMap::from([
            ("lr".to_string(), PropertyValue::Double(0.01)),
            ("epochs".to_string(), PropertyValue::Int(50)),
            ("shuffle".to_string(), PropertyValue::Bool(true)),
            ("optimizer".to_string(), PropertyValue::String("adam".into())),
        ]);
        let metrics = IndexMap::from([("accuracy".to_string(), 0.97)]);
        let lineage = Lineage {
            run_id: Some("run-7".into()),
            stage: Some("register".into()),
            input_hashes: IndexMap::from([("train".to_string(), "ab".repeat(32))]),
        };
        let map = encode_version(&labels, &params, &metrics, &lineage);
        assert_eq!(map["param.epochs"], json!({ "metadataType": "MetadataIntValue", "int_value": "50" }));
        assert_eq!(map["team"], json!({ "metadataType": "MetadataStringValue", "string_value": "ml" }));
        let decoded = decode_version(&map).expect("decode");
        assert_eq!(decoded.labels, labels);
        assert_eq!(decoded.params, params);
        assert_eq!(decoded.metrics, metrics);
        assert_eq!(decoded.lineage, lineage);
    }

    #[test]
    fn malformed_values_are_reported_with_their_key() {
        let map =
            Map::from_iter([("param.x".to_string(), json!({ "metadataType": "MetadataIntValue", "int_value": "x" }))]);
        let err = decode_version(&map).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("param.x") && err.contains("int64"), "{err}");
    }
}
