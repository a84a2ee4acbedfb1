//! The launcher manifest: parsing `--manifest-json` and filling its `${kfl.…}` markers from `--set`, `--ref` and `--output`.

use indexmap::IndexMap;
use kfl_compiler::codegen::launcher::{INPUTS, OUTPUTS, REFS};
use serde_json::Value as Json;

use super::{LaunchError, Result};

/// The manifest flags every resource-creating subcommand shares.
#[derive(clap::Args, Debug, Clone)]
pub struct ManifestArgs {
    /// The resource, as compact JSON (what the compiled pipeline passes).
    #[arg(long = "manifest-json", value_name = "JSON")]
    manifest_json: Option<String>,
    /// The namespace to create it in (default: the manifest's, else the pod's or kubeconfig's).
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// The id of the pipeline run; recorded on the resource so a retry adopts only its own run's object.
    #[arg(long = "run-id", value_name = "ID")]
    pub run_id: Option<String>,
    /// `NAME=VALUE` for `${kfl.inputs.NAME}` (a declared input of the task).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// `NAME=VALUE` for `${kfl.refs.NAME}` (a param or another task's output).
    #[arg(long = "ref", value_name = "NAME=VALUE")]
    refs: Vec<String>,
    /// Print the object as it would be sent, and contact nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `NAME=VALUE` → (NAME, VALUE); the value may contain `=`.
pub fn split_pair(flag: &str, text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(LaunchError::usage(format!("`{flag} {text}`: expected NAME=VALUE"))),
    }
}

pub fn pairs(flag: &str, texts: &[String]) -> Result<IndexMap<String, String>> {
    let mut out = IndexMap::new();
    for text in texts {
        let (name, value) = split_pair(flag, text)?;
        out.insert(name, value);
    }
    Ok(out)
}

/// Values for each marker namespace.
#[derive(Debug, Default)]
pub struct Values {
    pub inputs: IndexMap<String, String>,
    pub refs: IndexMap<String, String>,
    pub outputs: IndexMap<String, String>,
}

impl ManifestArgs {
    /// Whether the manifest has a `${kfl.outputs.NAME}` marker.
    pub fn uses_output(&self, name: &str) -> bool {
        self.manifest_json.as_ref().is_some_and(|text| text.contains(&format!("${{{OUTPUTS}.{name}}}")))
    }

    pub fn has_manifest(&self) -> bool {
        self.manifest_json.is_some()
    }

    /// The manifest with every marker filled from `--set`/`--ref` and `outputs`.
    pub fn manifest(&self, outputs: IndexMap<String, String>) -> Result<Json> {
        let values = Values { inputs: pairs("--set", &self.set)?, refs: pairs("--ref", &self.refs)?, outputs };
        let Some(text) = &self.manifest_json else {
            return Err(LaunchError::usage("no --manifest-json: nothing to create"));
        };
        let mut manifest: Json = serde_json::from_str(text)
            .map_err(|err| LaunchError::usage(format!("--manifest-json is not JSON: {err}")))?;
        if !manifest.is_object() {
            return Err(LaunchError::usage("--manifest-json is not a JSON object"));
        }
        fill(&mut manifest, &values)?;
        Ok(manifest)
    }
}

/// Replaces the markers in every string of `value` (keys are left alone: manifests never put markers there).
pub fn fill(value: &mut Json, values: &Values) -> Result<()> {
    match value {
        Json::String(text) if text.contains("${kfl.") => *text = fill_text(text, values)?,
        Json::Array(items) => items.iter_mut().try_for_each(|item| fill(item, values))?,
        Json::Object(map) => map.values_mut().try_for_each(|item| fill(item, values))?,
        _ => {}
    }
    Ok(())
}

fn fill_text(text: &str, values: &Values) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${kfl.") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(LaunchError::usage(format!("unterminated marker in manifest string `{text}`")));
        };
        let marker = &after[..end];
        let namespaced = |namespace: &str| marker.strip_prefix(namespace).and_then(|rest| rest.strip_prefix('.'));
        let (table, flag, name) = if let Some(name) = namespaced(INPUTS) {
            (&values.inputs, "--set", name)
        } else if let Some(name) = namespaced(REFS) {
            (&values.refs, "--ref", name)
        } else if let Some(name) = namespaced(OUTPUTS) {
            (&values.outputs, "--output", name)
        } else {
            return Err(LaunchError::usage(format!("unknown marker `${{{marker}}}` in the manifest")));
        };
        match table.get(name) {
            Some(value) => out.push_str(value),
            None => {
                return Err(LaunchError::usage(format!(
                    "the manifest uses `${{{marker}}}` but no `{flag} {name}=…` was given"
                )));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        let mut values = Values::default();
        values.inputs.insert("lr".into(), "0.1".into());
        values.refs.insert("prepare-train".into(), "s3://b/train".into());
        values.outputs.insert("model".into(), "s3://b/\"quoted\"".into());
        values
    }

    #[test]
    fn markers_are_filled_inside_strings_and_katib_placeholders_stay() {
        let mut manifest = serde_json::json!({
            "args": ["--lr=${kfl.inputs.lr}", "${kfl.refs.prepare-train}", "${kfl.outputs.model}", "${trialParameters.x}"],
            "n": 3
        });
        fill(&mut manifest, &values()).expect("filled");
        assert_eq!(
            manifest,
            serde_json::json!({
                "args": ["--lr=0.1", "s3://b/train", "s3://b/\"quoted\"", "${trialParameters.x}"],
                "n": 3
            })
        );
    }

    #[test]
    fn a_marker_without_a_value_names_the_missing_flag() {
        let mut manifest = serde_json::json!(["${kfl.inputs.epochs}"]);
        let Err(LaunchError::Usage(message)) = fill(&mut manifest, &values()) else { panic!("expected an error") };
        assert!(message.contains("--set epochs="), "{message}");
    }

    #[test]
    fn pairs_keep_equals_signs_in_values() {
        assert_eq!(split_pair("--set", "a=b=c").expect("pair"), ("a".into(), "b=c".into()));
        assert!(split_pair("--set", "novalue").is_err());
    }
}
