//! A `step`'s `k8s { … }` patch, written against the task's Pod, read into the kfp-kubernetes `KubernetesExecutorConfig`; what that config cannot carry is refused.
//!
//! A KFP task's pod is built by the driver from the executor config
//! (`backend/src/v2/driver/k8s.go`, kubeflow/pipelines 2.17.0: node selector,
//! tolerations, node affinity, image pull secrets, security context, config
//! maps and secrets as volumes and as env) and by the Argo compiler
//! (`backend/src/v2/compiler/argocompiler/container.go`, 2.17.0: pod labels
//! and annotations). Nothing else a user could write reaches the pod, so every
//! other path is an E0402 on the step's `k8s` block. The proto's `podAffinity`
//! is refused too: the 2.17.0 driver never reads it.
//!
//! Config maps and secrets are written as the Pod has them: a `spec.volumes`
//! entry (`configMap: {name, optional}` or `secret: {secretName, optional}`)
//! mounted by a `volumeMounts` entry of the one container, and `env` entries
//! with `valueFrom.configMapKeyRef` / `secretKeyRef` (`{name, key, optional}`).
//! The driver names the pod's volume after the config map or secret
//! (`k8s.go`), so each is mounted once; the proto has no `items`, `subPath`,
//! `readOnly` or `defaultMode`, which are refused.

use serde_json::Value as Json;

use super::spec::*;
use crate::codegen::manifest::patch_value;
use crate::ir::Patch;

/// The paths a step's `k8s` block can set, for fix hints.
pub(crate) const SUPPORTED: &str = "metadata.labels, metadata.annotations, spec.nodeSelector, spec.tolerations, \
    spec.affinity.nodeAffinity, spec.imagePullSecrets, spec.securityContext.runAsUser / runAsGroup / \
    runAsNonRoot, config maps and secrets in spec.volumes (mounted by spec.containers[0].volumeMounts) and in \
    spec.containers[0].env valueFrom (claims: `mount VOLUME at \"/path\"`; declared secrets: `secrets = [NAME]`)";

/// Why a patch does not fit: the index of the path segment at fault (it may lie inside the value, past the
/// written path) and what was expected there.
#[derive(Debug)]
pub(crate) struct Misfit {
    pub segment: usize,
    pub path: String,
    pub expected: Option<&'static str>,
}

/// Reads a step's patches into `config`: every misfit, with the index of the patch it is in.
pub(crate) fn apply(config: &mut KubernetesExecutorConfig, patches: &[Patch]) -> Vec<(usize, Misfit)> {
    let mut objects = Objects::default();
    let mut misfits = Vec::new();
    for (index, patch) in patches.iter().enumerate() {
        let mut value = patch_value(&patch.value);
        for key in patch.path.iter().rev() {
            value = Json::Object(serde_json::Map::from_iter([(key.clone(), value)]));
        }
        let mut reader = Reader { config, path: Vec::new(), objects: &mut objects, patch: index };
        if let Err(misfit) = reader.pod(&value) {
            misfits.push((index, misfit));
        }
    }
    misfits.extend(objects.mount(config));
    misfits
}

/// A config map or secret volume of `spec.volumes`.
struct ObjectVolume {
    name: String,
    secret: bool,
    object: String,
    optional: bool,
    patch: usize,
}

/// Volumes and mounts, which may come in different patches: paired once all are read.
#[derive(Default)]
struct Objects {
    volumes: Vec<ObjectVolume>,
    /// (volume name, mount path, patch)
    mounts: Vec<(String, String, usize)>,
}

impl Objects {
    fn mount(self, config: &mut KubernetesExecutorConfig) -> Vec<(usize, Misfit)> {
        let misfit =
            |path: &str, expected| Misfit { segment: usize::MAX, path: path.to_string(), expected: Some(expected) };
        let mut out = Vec::new();
        let mut mounted: Vec<(bool, &str)> = Vec::new();
        for (name, path, patch) in &self.mounts {
            let Some(volume) = self.volumes.iter().find(|v| &v.name == name) else {
                out.push((
                    *patch,
                    misfit(
                        "spec.containers.volumeMounts",
                        "the `name` of a config map or secret volume in `spec.volumes`",
                    ),
                ));
                continue;
            };
            if mounted.contains(&(volume.secret, volume.object.as_str())) {
                out.push((
                    *patch,
                    misfit(
                        "spec.containers.volumeMounts",
                        "one mount per config map or secret (KFP names the pod's volume after it)",
                    ),
                ));
                continue;
            }
            mounted.push((volume.secret, volume.object.as_str()));
            let parameter = NameParameter { runtime_value: Constant { constant: Json::String(volume.object.clone()) } };
            if volume.secret {
                config.secret_as_volume.push(SecretAsVolume {
                    mount_path: path.clone(),
                    optional: volume.optional,
                    secret_name: volume.object.clone(),
                    secret_name_parameter: parameter,
                });
            } else {
                config.config_map_as_volume.push(ConfigMapAsVolume {
                    config_map_name: volume.object.clone(),
                    config_map_name_parameter: parameter,
                    mount_path: path.clone(),
                    optional: volume.optional,
                });
            }
        }
        for volume in &self.volumes {
            if !self.mounts.iter().any(|(name, _, _)| *name == volume.name) {
                out.push((
                    volume.patch,
                    misfit("spec.volumes", "mounted by a `volumeMounts` entry of `spec.containers`"),
                ));
            }
        }
        out
    }
}

struct Reader<'c> {
    config: &'c mut KubernetesExecutorConfig,
    path: Vec<String>,
    objects: &'c mut Objects,
    patch: usize,
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
            "volumes" => {
                let expected = "a list of `{ name, configMap = { name, optional } }` or `{ name, secret = { secretName, optional } }`";
                for item in self.list(field, expected)? {
                    let volume = self.volume(item).ok_or_else(|| self.wrong(expected))?;
                    self.objects.volumes.push(volume);
                }
            }
            "containers" => {
                let expected = "a list of one container `{ volumeMounts = […], env = […] }`";
                match self.list(field, expected)?.as_slice() {
                    [container] => self.fields(container, expected, |r, key, field| r.container(key, field))?,
                    _ => return Err(self.wrong(expected)),
                }
            }
            "affinity" => self.fields(field, "an object", |r, key, field| match key {
                "nodeAffinity" => r.fields(field, "an object", |r, key, field| r.node_affinity(key, field)),
                other => Err(r.unknown(other)),
            })?,
            other => return Err(self.unknown(other)),
        }
        Ok(())
    }

    /// `{ name, configMap = { name, optional } }` or `{ name, secret = { secretName, optional } }`.
    fn volume(&self, item: &Json) -> Option<ObjectVolume> {
        let map = item.as_object()?;
        if map.len() != 2 {
            return None;
        }
        let name = map.get("name")?.as_str()?.to_string();
        let (secret, source, key) = match (map.get("configMap"), map.get("secret")) {
            (Some(source), None) => (false, source, "name"),
            (None, Some(source)) => (true, source, "secretName"),
            _ => return None,
        };
        let (object, optional) = object_ref(source, key, false)?;
        Some(ObjectVolume { name, secret, object, optional, patch: self.patch })
    }

    /// The one container of the task (Argo names it `main`).
    fn container(&mut self, key: &str, field: &Json) -> Result<(), Misfit> {
        match key {
            "name" if field.as_str() == Some("main") => Ok(()),
            "name" => Err(self.wrong("`main`, the name of the task's container")),
            "volumeMounts" => {
                let expected = "a list of `{ name, mountPath }`";
                for item in self.list(field, expected)? {
                    let map = item.as_object().filter(|m| m.len() == 2).ok_or_else(|| self.wrong(expected))?;
                    let (Some(name), Some(path)) =
                        (map.get("name").and_then(Json::as_str), map.get("mountPath").and_then(Json::as_str))
                    else {
                        return Err(self.wrong(expected));
                    };
                    self.objects.mounts.push((name.to_string(), path.to_string(), self.patch));
                }
                Ok(())
            }
            "env" => {
                let expected = "a list of `{ name, valueFrom = { configMapKeyRef | secretKeyRef = { name, key, \
                                optional } } }` (plain values go in the step's `env`)";
                for item in self.list(field, expected)? {
                    self.env_var(item).ok_or_else(|| self.wrong(expected))?;
                }
                Ok(())
            }
            other => Err(self.unknown(other)),
        }
    }

    fn env_var(&mut self, item: &Json) -> Option<()> {
        let map = item.as_object().filter(|m| m.len() == 2)?;
        let env_var = map.get("name")?.as_str()?.to_string();
        let source = map.get("valueFrom")?.as_object().filter(|m| m.len() == 1)?;
        let (kind, selector) = source.iter().next()?;
        let (object, optional) = object_ref(selector, "name", true)?;
        let key = selector.get("key")?.as_str()?.to_string();
        let parameter = || NameParameter { runtime_value: Constant { constant: Json::String(object.clone()) } };
        match kind.as_str() {
            "configMapKeyRef" => {
                let entry = ConfigMapKeyToEnv { config_map_key: key, env_var };
                match self
                    .config
                    .config_map_as_env
                    .iter_mut()
                    .find(|e| e.config_map_name == object && e.optional == optional)
                {
                    Some(existing) => existing.key_to_env.push(entry),
                    None => self.config.config_map_as_env.push(ConfigMapAsEnv {
                        config_map_name: object.clone(),
                        config_map_name_parameter: parameter(),
                        key_to_env: vec![entry],
                        optional,
                    }),
                }
            }
            "secretKeyRef" => {
                let entry = KeyToEnv { env_var, secret_key: key };
                match self.config.secret_as_env.iter_mut().find(|e| e.secret_name == object && e.optional == optional) {
                    Some(existing) => existing.key_to_env.push(entry),
                    None => self.config.secret_as_env.push(SecretAsEnv {
                        key_to_env: vec![entry],
                        optional,
                        secret_name: object.clone(),
                        secret_name_parameter: parameter(),
                    }),
                }
            }
            _ => return None,
        }
        Some(())
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

/// `{ NAME_KEY = "…", optional = BOOL }` (with `key` too for an env selector): the object's name and whether
/// it may be missing.
fn object_ref(source: &Json, name_key: &str, with_key: bool) -> Option<(String, bool)> {
    let map = source.as_object()?;
    let allowed = |k: &str| k == name_key || k == "optional" || (with_key && k == "key");
    if map.keys().any(|k| !allowed(k)) {
        return None;
    }
    let name = map.get(name_key)?.as_str()?.to_string();
    let optional = match map.get("optional") {
        None => false,
        Some(value) => value.as_bool()?,
    };
    Some((name, optional))
}

#[cfg(test)]
#[path = "pod/tests.rs"]
mod tests;
