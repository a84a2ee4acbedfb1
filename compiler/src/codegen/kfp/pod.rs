//! A `step`'s `k8s { … }` patch, written against the task's Pod, read into the kfp-kubernetes `KubernetesExecutorConfig`; what that config cannot carry is refused.
//!
//! A KFP task's pod is built by the driver from the executor config
//! (`backend/src/v2/driver/k8s.go`, kubeflow/pipelines 2.17.0: node selector,
//! tolerations, node affinity, image pull secrets, security context) and by the
//! Argo compiler (`backend/src/v2/compiler/argocompiler/container.go`, 2.17.0:
//! pod labels and annotations). Nothing else a user could write reaches the
//! pod, so every other path is an E0402 on the step's `k8s` block. The
//! proto's `podAffinity` is refused too: the 2.17.0 driver never reads it.

use serde_json::Value as Json;

use super::spec::*;
use crate::codegen::manifest::patch_value;
use crate::ir::Patch;

/// The paths a step's `k8s` block can set, for fix hints.
pub(crate) const SUPPORTED: &str = "metadata.labels, metadata.annotations, spec.nodeSelector, spec.tolerations, \
    spec.affinity.nodeAffinity, spec.imagePullSecrets and spec.securityContext.runAsUser / runAsGroup / \
    runAsNonRoot (volumes: `mount VOLUME at \"/path\"`; secrets: `secrets = [NAME]`)";

/// Why a patch does not fit: the index of the path segment at fault (it may lie inside the value, past the
/// written path) and what was expected there.
#[derive(Debug)]
pub(crate) struct Misfit {
    pub segment: usize,
    pub path: String,
    pub expected: Option<&'static str>,
}

/// Reads one patch into `config`.
pub(crate) fn apply(config: &mut KubernetesExecutorConfig, patch: &Patch) -> Result<(), Misfit> {
    let mut value = patch_value(&patch.value);
    for key in patch.path.iter().rev() {
        value = Json::Object(serde_json::Map::from_iter([(key.clone(), value)]));
    }
    let mut reader = Reader { config, path: Vec::new() };
    reader.pod(&value)
}

struct Reader<'c> {
    config: &'c mut KubernetesExecutorConfig,
    path: Vec<String>,
}

impl Reader<'_> {
    /// `key`, the last segment on the path (`fields` pushed it), names nothing the config carries.
    fn unknown(&self, key: &str) -> Misfit {
        debug_assert_eq!(self.path.last().map(String::as_str), Some(key));
        Misfit { segment: self.path.len().saturating_sub(1), path: self.path.join("."), expected: None }
    }

    fn wrong(&self, expected: &'static str) -> Misfit {
        Misfit { segment: self.path.len().saturating_sub(1), path: self.path.join("."), expected: Some(expected) }
    }

    /// Each field of an object, read by `read` with the key on the path.
    fn fields(
        &mut self,
        value: &Json,
        expected: &'static str,
        mut read: impl FnMut(&mut Self, &str, &Json) -> Result<(), Misfit>,
    ) -> Result<(), Misfit> {
        let Json::Object(map) = value else { return Err(self.wrong(expected)) };
        for (key, field) in map {
            self.path.push(key.clone());
            read(self, key, field)?;
            self.path.pop();
        }
        Ok(())
    }

    fn pod(&mut self, value: &Json) -> Result<(), Misfit> {
        self.fields(value, "an object", |r, key, field| match key {
            "metadata" => r.fields(field, "an object", |r, key, field| match key {
                "labels" | "annotations" => {
                    let entries = r.strings(field)?;
                    let metadata = r.config.pod_metadata.get_or_insert_with(PodMetadata::default);
                    let map = if key == "labels" { &mut metadata.labels } else { &mut metadata.annotations };
                    map.extend(entries);
                    Ok(())
                }
                other => Err(r.unknown(other)),
            }),
            "spec" => r.fields(field, "an object", |r, key, field| r.spec(key, field)),
            other => Err(r.unknown(other)),
        })
    }

    fn spec(&mut self, key: &str, field: &Json) -> Result<(), Misfit> {
        match key {
            "nodeSelector" => {
                let entries = self.strings(field)?;
                self.config.node_selector.get_or_insert_with(NodeSelector::default).labels.extend(entries);
            }
            "tolerations" => {
                for item in self.list(field, "a list of tolerations")? {
                    let toleration = self.toleration(item)?;
                    self.config.tolerations.push(toleration);
                }
            }
            "imagePullSecrets" => {
                for item in self.list(field, "a list of `{ name = \"SECRET\" }`")? {
                    let name = item
                        .get("name")
                        .and_then(Json::as_str)
                        .filter(|_| item.as_object().is_some_and(|m| m.len() == 1));
                    let Some(name) = name else { return Err(self.wrong("a list of `{ name = \"SECRET\" }`")) };
                    self.config.image_pull_secret.push(ImagePullSecret {
                        secret_name: name.to_string(),
                        secret_name_parameter: NameParameter {
                            runtime_value: Constant { constant: Json::String(name.to_string()) },
                        },
                    });
                }
            }
            "securityContext" => self.fields(field, "an object", |r, key, field| {
                let context = r.config.security_context.get_or_insert_with(SecurityContext::default);
                match (key, field) {
                    ("runAsUser", Json::Number(n)) if n.is_i64() => context.run_as_user = n.as_i64(),
                    ("runAsGroup", Json::Number(n)) if n.is_i64() => context.run_as_group = n.as_i64(),
                    ("runAsNonRoot", Json::Bool(b)) => context.run_as_non_root = Some(*b),
                    ("runAsUser" | "runAsGroup", _) => return Err(r.wrong("an integer")),
                    ("runAsNonRoot", _) => return Err(r.wrong("a bool")),
                    (other, _) => return Err(r.unknown(other)),
                }
                Ok(())
            })?,
            "affinity" => self.fields(field, "an object", |r, key, field| match key {
                "nodeAffinity" => r.fields(field, "an object", |r, key, field| r.node_affinity(key, field)),
                other => Err(r.unknown(other)),
            })?,
            other => return Err(self.unknown(other)),
        }
        Ok(())
    }

    /// `requiredDuringScheduling…` terms become weightless terms, `preferredDuringScheduling…` weighted ones,
    /// which the driver turns back into the same two lists.
    fn node_affinity(&mut self, key: &str, field: &Json) -> Result<(), Misfit> {
        match key {
            "requiredDuringSchedulingIgnoredDuringExecution" => self.fields(field, "an object", |r, key, field| {
                if key != "nodeSelectorTerms" {
                    return Err(r.unknown(key));
                }
                for term in r.list(field, "a list of node selector terms")? {
                    let term = r.selector_term(term, None)?;
                    r.config.node_affinity.push(term);
                }
                Ok(())
            }),
            "preferredDuringSchedulingIgnoredDuringExecution" => {
                for item in self.list(field, "a list of `{ weight, preference }`")? {
                    let weight = item.get("weight").and_then(Json::as_i64).filter(|w| (1..=100).contains(w));
                    let (Some(weight), Some(preference), Some(2)) =
                        (weight, item.get("preference"), item.as_object().map(serde_json::Map::len))
                    else {
                        return Err(self.wrong("a list of `{ weight = 1..100, preference = { … } }`"));
                    };
                    let term = self.selector_term(preference, Some(weight))?;
                    self.config.node_affinity.push(term);
                }
                Ok(())
            }
            other => Err(self.unknown(other)),
        }
    }

    fn selector_term(&mut self, term: &Json, weight: Option<i64>) -> Result<NodeAffinityTerm, Misfit> {
        let mut out = NodeAffinityTerm { weight, ..NodeAffinityTerm::default() };
        self.fields(term, "a node selector term", |r, key, field| {
            let requirements = match key {
                "matchExpressions" => &mut out.match_expressions,
                "matchFields" => &mut out.match_fields,
                other => return Err(r.unknown(other)),
            };
            for item in r.list(field, "a list of `{ key, operator, values }`")? {
                requirements.push(requirement(item).ok_or_else(|| r.wrong("a list of `{ key, operator, values }`"))?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn toleration(&self, item: &Json) -> Result<Toleration, Misfit> {
        let expected = "a list of `{ key, operator, value, effect, tolerationSeconds }`";
        let Json::Object(map) = item else { return Err(self.wrong(expected)) };
        let mut toleration = Toleration::default();
        for (key, value) in map {
            match (key.as_str(), value) {
                ("key", Json::String(s)) => toleration.key = s.clone(),
                ("operator", Json::String(s)) => toleration.operator = s.clone(),
                ("value", Json::String(s)) => toleration.value = s.clone(),
                ("effect", Json::String(s)) => toleration.effect = s.clone(),
                ("tolerationSeconds", Json::Number(n)) if n.is_i64() => toleration.toleration_seconds = n.as_i64(),
                _ => return Err(self.wrong(expected)),
            }
        }
        Ok(toleration)
    }

    fn list<'v>(&self, value: &'v Json, expected: &'static str) -> Result<&'v Vec<Json>, Misfit> {
        value.as_array().ok_or_else(|| self.wrong(expected))
    }

    /// A map of strings (label values are strings in Kubernetes; numbers and bools are written as text).
    fn strings(&mut self, value: &Json) -> Result<Vec<(String, String)>, Misfit> {
        let mut out = Vec::new();
        self.fields(value, "an object of strings", |r, key, field| {
            let text = match field {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                Json::Bool(b) => b.to_string(),
                _ => return Err(r.wrong("a string")),
            };
            out.push((key.to_string(), text));
            Ok(())
        })?;
        Ok(out)
    }
}

fn requirement(item: &Json) -> Option<SelectorRequirement> {
    let map = item.as_object()?;
    if map.keys().any(|k| !matches!(k.as_str(), "key" | "operator" | "values")) {
        return None;
    }
    let values = match map.get("values") {
        Some(Json::Array(items)) => items.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<_>>()?,
        None => Vec::new(),
        Some(_) => return None,
    };
    Some(SelectorRequirement {
        key: map.get("key")?.as_str()?.to_string(),
        operator: map.get("operator")?.as_str()?.to_string(),
        values,
    })
}
