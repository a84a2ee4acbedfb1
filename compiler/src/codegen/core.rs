//! Core Kubernetes kinds: PersistentVolumeClaims for `volume`s (CronJobs for monitor schedules live in `monitoring.rs`),
//! and the pod-level pieces the Kubeflow kinds share (resources, env, PVC mounts).
//!
//! Everything is built from k8s-openapi structs (feature `v1_33`) and
//! serialised once by [`Manifest::from_typed`].

use std::collections::BTreeMap;

use indexmap::IndexMap;
use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    ResourceRequirements, SecretKeySelector, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::args::{self, Slot};
use super::manifest::kubernetes_name;
use super::{Context, Manifest};
use crate::diagnostics::Diagnostic;
use crate::ir::{self, AccessMode, Value};

pub(crate) fn manifests(context: &Context<'_>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Manifest> {
    let _ = diagnostics;
    context.program.volumes.iter().map(|volume| persistent_volume_claim(context, volume)).collect()
}

/// The `access` enum value → the Kubernetes access mode.
pub(crate) fn access_mode(access: AccessMode) -> &'static str {
    match access {
        AccessMode::ReadWriteOnce => "ReadWriteOnce",
        AccessMode::ReadOnlyMany => "ReadOnlyMany",
        AccessMode::ReadWriteMany => "ReadWriteMany",
        AccessMode::ReadWriteOncePod => "ReadWriteOncePod",
    }
}

fn persistent_volume_claim(context: &Context<'_>, volume: &ir::Volume) -> Manifest {
    let claim = PersistentVolumeClaim {
        metadata: context.metadata(&volume.name),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![access_mode(volume.access).to_string()]),
            storage_class_name: volume.class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(volume.size.text.clone()))])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    };
    Manifest::from_typed("PersistentVolumeClaim", &volume.name, &claim)
}

/// `cpu`/`memory` (request, limit) and GPUs (`Resources::gpu_resource`, request =
/// limit, written out although Kubernetes would copy the limit).
/// `None` when nothing is set.
pub(crate) fn resource_requirements(resources: &ir::Resources) -> Option<ResourceRequirements> {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    if let Some((request, limit)) = &resources.cpu {
        requests.insert("cpu".to_string(), Quantity(request.to_kubernetes()));
        limits.insert("cpu".to_string(), Quantity(limit.to_kubernetes()));
    }
    if let Some((request, limit)) = &resources.memory {
        requests.insert("memory".to_string(), Quantity(request.text.clone()));
        limits.insert("memory".to_string(), Quantity(limit.text.clone()));
    }
    if let Some(gpu) = resources.gpu.filter(|g| *g > 0) {
        requests.insert(resources.gpu_resource().to_string(), Quantity(gpu.to_string()));
        limits.insert(resources.gpu_resource().to_string(), Quantity(gpu.to_string()));
    }
    if requests.is_empty() && limits.is_empty() {
        return None;
    }
    Some(ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..ResourceRequirements::default()
    })
}

/// `env { K = v }` as container env vars, in declaration order. `slot`
/// answers for target-specific references (as in `run`).
pub(crate) fn env_vars(
    context: &Context<'_>,
    env: &IndexMap<String, Value>,
    slot: &mut dyn FnMut(Slot<'_>) -> String,
) -> Vec<EnvVar> {
    env.iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: Some(args::render(context, value, slot)),
            ..EnvVar::default()
        })
        .collect()
}

/// `secrets = [NAME]`: one `secretKeyRef` env var per key of each secret (a secret's value is never rendered).
pub(crate) fn secret_env(program: &ir::Program, secrets: &[String]) -> Vec<EnvVar> {
    let mut vars = Vec::new();
    for secret_name in secrets {
        let Some(secret) = program.secrets.iter().find(|s| &s.name == secret_name) else { continue };
        for key in &secret.keys {
            vars.push(EnvVar {
                name: key.clone(),
                value: None,
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: secret.k8s_name.clone(),
                        key: key.clone(),
                        optional: None,
                    }),
                    ..EnvVarSource::default()
                }),
            });
        }
    }
    vars
}

/// `mount VOL at "/p"` → (pod volumes, container mounts): one PVC-backed
/// volume per distinct `volume`, named like its claim. A `read_only_many`
/// volume is mounted `readOnly` (the claim and the mount both): a
/// ReadOnlyMany claim mounted read-write is refused by CSI drivers that
/// enforce the mode, and the pod's own view must say what the claim allows.
pub(crate) fn pvc_mounts(program: &ir::Program, mounts: &[ir::Mount]) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut volumes: Vec<Volume> = Vec::new();
    let mut volume_mounts = Vec::new();
    for mount in mounts {
        let name = kubernetes_name(&mount.volume);
        let read_only = program
            .volumes
            .iter()
            .any(|v| v.name == mount.volume && v.access == AccessMode::ReadOnlyMany)
            .then_some(true);
        if !volumes.iter().any(|v| v.name == name) {
            volumes.push(Volume {
                name: name.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: name.clone(),
                    read_only,
                }),
                ..Volume::default()
            });
        }
        volume_mounts.push(VolumeMount { name, mount_path: mount.path.clone(), read_only, ..VolumeMount::default() });
    }
    (volumes, volume_mounts)
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::codegen::{BuildOptions, Output, build};
    use crate::source::{MemoryLoader, Origin, SourceFile, Sources};

    /// Compiles an in-memory source and builds it; panics on diagnostics.
    pub(crate) fn build_text(text: &str) -> Output {
        match try_build_text(text) {
            Ok(output) => output,
            Err(messages) => panic!("build failed: {messages:?}"),
        }
    }

    /// Compiles and builds; `Err` holds the diagnostics' codes and messages.
    pub(crate) fn try_build_text(text: &str) -> Result<Output, Vec<String>> {
        let mut sources = Sources::new();
        let main = sources.add(SourceFile::new("test.kfl", text, Origin::User));
        let checked = crate::check(&mut sources, main, &MemoryLoader::default());
        let Some(program) = checked.program() else {
            panic!("check failed: {:?}", checked.diagnostics.iter().map(|d| d.message.clone()).collect::<Vec<_>>());
        };
        build(program, &BuildOptions::default())
            .map_err(|ds| ds.iter().map(|d| format!("{} {}", d.code.as_str(), d.message)).collect())
    }

    /// The YAML of the manifest at `manifests/NAME`, parsed back as JSON-ish text lookups.
    pub(crate) fn file<'o>(output: &'o Output, name: &str) -> &'o str {
        output
            .files
            .iter()
            .find(|(path, _)| path == &format!("manifests/{name}"))
            .map(|(_, text)| text.as_str())
            .unwrap_or_else(|| {
                panic!("no manifests/{name} in {:?}", output.files.iter().map(|f| &f.0).collect::<Vec<_>>())
            })
    }

    #[test]
    fn volumes_become_claims_with_access_mode_class_and_size() {
        let output = build_text(
            "project p { image = \"python:3.12\" }\n\
             volume data { size = 10Gi, access = read_write_many, class = \"standard\" }\n\
             volume solo { size = 1.5Gi, access = read_write_once_pod }\n\
             step s { run = [\"true\"]\n mount data at \"/d\"\n mount solo at \"/s\" }\n",
        );
        let data = file(&output, "persistentvolumeclaim-data.yaml");
        assert!(data.contains("- ReadWriteMany"), "{data}");
        assert!(data.contains("storageClassName: standard"), "{data}");
        assert!(data.contains("storage: 10Gi"), "{data}");
        assert!(data.contains("kind: PersistentVolumeClaim"), "{data}");
        let solo = file(&output, "persistentvolumeclaim-solo.yaml");
        assert!(solo.contains("- ReadWriteOncePod"), "{solo}");
        assert!(solo.contains("storage: 1.5Gi"), "{solo}");
        assert!(!solo.contains("storageClassName"), "{solo}");
    }
}
