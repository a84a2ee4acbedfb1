//! What every target shares: the build context (namespace, labels, `-p` values), manifests as typed objects turned into one JSON tree, `k8s {}` patches, YAML emission, kustomization.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::BuildOptions;
use crate::ir::{self, Value};

/// What every generator needs besides its own declaration.
/// A tune's numbers with params resolved.
#[derive(Clone, Copy, Debug)]
pub struct TuneCounts {
    pub target: Option<f64>,
    pub trials: i64,
    pub parallel: i64,
    pub max_failed: i64,
}

#[derive(Debug)]
pub struct Context<'p> {
    pub program: &'p ir::Program,
    pub project: String,
    pub namespace: Option<String>,
    /// `app.kubernetes.io/managed-by`, `app.kubernetes.io/part-of`, and the project's labels.
    pub labels: BTreeMap<String, String>,
    /// Param values after defaults and `-p` overrides (the program's bindings).
    pub params: IndexMap<String, Value>,
    /// Dataset name → the object-store URI a staged local dataset has on the cluster (`staging.rs`).
    pub staged: BTreeMap<String, String>,
    /// The image with the `kfl` binary that launcher tasks, the retraining CronJob and the retrain receiver run:
    /// `--launcher-image`, else `project.launcher_image`, else `image_reference::default_launcher_image`.
    pub launcher_image: String,
}

impl<'p> Context<'p> {
    pub fn new(program: &'p ir::Program, options: &BuildOptions) -> Context<'p> {
        let project = program.project.as_ref().map_or_else(|| "kfl".to_string(), |p| p.name.replace('_', "-"));
        let mut labels = BTreeMap::new();
        labels.insert("app.kubernetes.io/managed-by".to_string(), "kfl".to_string());
        labels.insert("app.kubernetes.io/part-of".to_string(), project.clone());
        if let Some(p) = &program.project {
            for (key, value) in &p.labels {
                if let Some(text) = scalar_text(value) {
                    labels.insert(key.clone(), text);
                }
            }
        }
        // Bound once, by the checker (`ir::bind`): a back end never parses a `-p` value.
        let params = program.bindings.values().clone();
        let namespace = program.project.as_ref().and_then(|p| p.namespace.clone());
        let staged = super::staging::staged_uris(program, options);
        let launcher_image = options
            .launcher_image
            .clone()
            .or_else(|| program.project.as_ref().and_then(|p| p.launcher_image.clone()))
            .unwrap_or_else(super::image_reference::default_launcher_image);
        Context { program, project, namespace, labels, params, staged, launcher_image }
    }

    /// The image a stage runs: its own, or for a `std.*` component the build's launcher image.
    pub fn stage_image<'s>(&'s self, stage: &'s ir::Stage) -> &'s str {
        if stage.launcher_image { &self.launcher_image } else { &stage.image }
    }

    /// A value with params replaced by their values after `-p`.
    pub fn resolved<'v>(&'v self, value: &'v Value) -> &'v Value {
        match value {
            Value::Ref(ir::Ref::Param { name }) => self.params.get(name).unwrap_or(value),
            other => other,
        }
    }

    /// A tune's `goal`, `trials`, `parallel` and `max_failed` after `-p`. `parallel` and `max_failed` never
    /// exceed `trials` (the type checker reports that for literal values; a `-p` value is capped).
    pub fn tune_counts(&self, tune: &ir::Tune) -> TuneCounts {
        let int = |value: &Value| self.resolved(value).as_int();
        let trials = int(&tune.trials).unwrap_or(10).max(1);
        TuneCounts {
            target: tune.target.as_ref().and_then(|t| self.resolved(t).as_f64()),
            trials,
            parallel: int(&tune.parallel).unwrap_or(1).clamp(1, trials),
            max_failed: tune.max_failed.as_ref().and_then(int).unwrap_or(trials).clamp(0, trials),
        }
    }

    /// `metadata` with the name, namespace and common labels.
    pub fn metadata(&self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(kubernetes_name(name)),
            namespace: self.namespace.clone(),
            labels: Some(self.labels.clone()),
            ..ObjectMeta::default()
        }
    }
}

/// `_` → `-`: declaration names become Kubernetes names.
pub fn kubernetes_name(name: &str) -> String {
    name.replace('_', "-")
}

/// The text of a constant scalar (for labels, env values, arguments).
pub fn scalar_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Int(n) => n.to_string(),
        Value::Float(x) => format_float(*x),
        Value::Bool(b) => b.to_string(),
        Value::String(s) | Value::Enum(s) => s.clone(),
        Value::Quantity(q) => q.text.clone(),
        Value::Cpu(c) => c.to_kubernetes(),
        Value::Duration(d) => format_duration(*d),
        Value::Percent(p) => format!("{}%", format_float(*p)),
        _ => return None,
    })
}

/// Shortest text that reads back as the same float (`0.1`, not `0.1000000001`; `2.0` keeps its point).
pub fn format_float(x: f64) -> String {
    let text = format!("{x}");
    if text.contains(['.', 'e', 'E']) || !x.is_finite() { text } else { format!("{text}.0") }
}

/// `90s`, `30m`, `12h`, `1500ms`: the largest whole unit.
pub fn format_duration(d: ir::Duration) -> String {
    let ms = d.millis;
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// One generated Kubernetes object.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub kind: String,
    pub name: String,
    /// The whole object, serialised once from typed structs and then patched.
    pub object: serde_json::Value,
}

impl Manifest {
    /// Serialises a typed object. Typed structs cannot fail to serialise
    /// except through a bug, which is reported as a compiler bug diagnostic
    /// by the caller seeing `Value::Null`.
    pub fn from_typed<T: Serialize>(kind: &str, name: &str, object: &T) -> Manifest {
        Manifest {
            kind: kind.to_string(),
            name: kubernetes_name(name),
            object: serde_json::to_value(object).unwrap_or_default(),
        }
    }

    /// `trainjob-classifier.yaml`
    pub fn file_name(&self) -> String {
        format!("{}-{}.yaml", self.kind.to_ascii_lowercase(), self.name)
    }

    pub fn to_yaml(&self) -> String {
        to_yaml(&self.object)
    }

    /// Merges a `k8s { path = value }` patch into the object (objects merge
    /// key by key; a list of objects merges into kfl's list by its merge key,
    /// see [`merge_list`]; anything else replaces).
    pub fn apply_patches(&mut self, patches: &[ir::Patch]) {
        for patch in patches {
            let value = patch_value(&patch.value);
            let mut node = &mut self.object;
            for (index, key) in patch.path.iter().enumerate() {
                if !node.is_object() {
                    *node = serde_json::Value::Object(serde_json::Map::new());
                }
                let serde_json::Value::Object(map) = node else { break };
                if index + 1 == patch.path.len() {
                    let merged = map.get(key).and_then(|current| merge_list(current, &value));
                    map.insert(key.clone(), merged.unwrap_or_else(|| value.clone()));
                    break;
                }
                node = map.entry(key.clone()).or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            }
        }
    }
}

/// The keys Kubernetes merges lists of objects by (`+listMapKey`): `manager`
/// for TrainJob `spec.runtimePatches` (kubeflow/trainer v2.3.0
/// `pkg/apis/trainer/v1alpha1/trainjob_types.go`), `name` for containers,
/// volumes, env, mounts and replicated jobs.
const LIST_MERGE_KEYS: &[&str] = &["manager", "name"];

/// A user's list of objects merged into the list kfl wrote, as a strategic
/// merge patch would: an entry with the same merge key replaces kfl's entry,
/// the others are appended, kfl's other entries stay (so a user's runtime
/// patch does not remove kfl's mount patch). `None`: not two keyed lists; the
/// user's value replaces.
fn merge_list(current: &serde_json::Value, patch: &serde_json::Value) -> Option<serde_json::Value> {
    let (serde_json::Value::Array(ours), serde_json::Value::Array(theirs)) = (current, patch) else { return None };
    let keyed = |items: &[serde_json::Value], key: &str| items.iter().all(|item| item.get(key).is_some());
    let key = LIST_MERGE_KEYS.iter().find(|key| !ours.is_empty() && keyed(ours, key) && keyed(theirs, key))?;
    let mut merged = ours.clone();
    for item in theirs {
        match merged.iter_mut().find(|existing| existing.get(key) == item.get(key)) {
            Some(existing) => *existing = item.clone(),
            None => merged.push(item.clone()),
        }
    }
    Some(serde_json::Value::Array(merged))
}

/// A patch value as JSON: constants only (the checker reports anything else).
pub(crate) fn patch_value(value: &Value) -> serde_json::Value {
    match value {
        Value::Int(n) => serde_json::Value::from(*n),
        Value::Float(x) => serde_json::Value::from(*x),
        Value::Bool(b) => serde_json::Value::from(*b),
        Value::List(items) => serde_json::Value::Array(items.iter().map(patch_value).collect()),
        Value::Object(map) => serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), patch_value(v))).collect()),
        other => serde_json::Value::String(scalar_text(other).unwrap_or_default()),
    }
}

/// One YAML document (see `yaml.rs` for the quoting rules).
pub fn to_yaml(value: &serde_json::Value) -> String {
    super::yaml::to_yaml(value)
}

/// `kustomization.yaml` listing every manifest, so `kubectl apply -k DIR` works, after a comment naming the
/// objects the pipeline creates instead and why (`deployment.rs`).
pub fn kustomization(
    context: &Context<'_>,
    manifests: &[Manifest],
    deferred: &[super::deployment::Deferred],
) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Kustomization {
        api_version: &'static str,
        kind: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        resources: Vec<String>,
    }
    let kustomization = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        namespace: context.namespace.clone(),
        resources: manifests.iter().map(|m| format!("manifests/{}", m.file_name())).collect(),
    };
    let mut text = String::new();
    if !deferred.is_empty() {
        text.push_str(
            "# The resources below are applied up front (`kfl apply`, `kubectl apply -k`). Not here: these\n",
        );
        text.push_str("# objects, which only the pipeline's launcher tasks create, in each run (pipeline.yaml):\n");
        for object in deferred {
            let name = kubernetes_name(&object.declaration);
            text.push_str(&format!("# - {}/{name}: it {}\n", object.kind, object.reason));
        }
    }
    text.push_str(&to_yaml(&serde_json::to_value(&kustomization).unwrap_or_default()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_quotes_yaml11_traps() {
        let value = serde_json::json!({ "a": "yes", "b": "on", "c": "0123", "d": "1e3", "e": "null", "f": "plain" });
        let yaml = to_yaml(&value);
        for trap in ["'yes'", "'on'", "'0123'", "'1e3'", "'null'"] {
            assert!(yaml.contains(trap), "{trap} must be quoted in:\n{yaml}");
        }
        assert!(yaml.contains("f: plain"));
    }

    #[test]
    fn durations_use_the_largest_whole_unit() {
        assert_eq!(format_duration(ir::Duration { millis: 1_800_000 }), "30m");
        assert_eq!(format_duration(ir::Duration { millis: 1_500 }), "1500ms");
        assert_eq!(format_duration(ir::Duration { millis: 43_200_000 }), "12h");
    }

    #[test]
    fn patches_merge_into_nested_objects() {
        let mut manifest =
            Manifest { kind: "X".into(), name: "x".into(), object: serde_json::json!({ "metadata": { "name": "x" } }) };
        manifest.apply_patches(&[ir::Patch {
            path: vec!["metadata".into(), "labels".into(), "kueue.x-k8s.io/queue-name".into()],
            value: Value::String("gpu".into()),
            span: crate::source::Span::default(),
            path_spans: Vec::new(),
        }]);
        assert_eq!(manifest.object["metadata"]["labels"]["kueue.x-k8s.io/queue-name"], "gpu");
        assert_eq!(manifest.object["metadata"]["name"], "x");
    }
}
