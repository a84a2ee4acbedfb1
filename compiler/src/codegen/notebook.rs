//! `notebook` → Kubeflow Notebook (kubeflow.org/v1, notebook-controller v1.11); all Notebook version knowledge lives here.
//!
//! The controller wants one container named like the Notebook (it becomes
//! the StatefulSet and Service name, so the name must be an RFC 1035 label of
//! at most 63 characters), the image, resources (GPUs as `nvidia.com/gpu`)
//! and PVC-backed volumes for `mount VOL at "/p"`.

use k8s_openapi::api::core::v1::{Container, PodSpec};
use serde::Serialize;

use super::core;
use super::manifest::kubernetes_name;
use super::{Context, Manifest};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

const API_VERSION: &str = "kubeflow.org/v1";
const KIND: &str = "Notebook";
/// The Notebook name is used as a Service name (DNS-1035 label).
const MAX_NAME: usize = 63;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Notebook {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: NotebookSpec,
}

#[derive(Serialize)]
struct NotebookSpec {
    template: NotebookTemplate,
}

#[derive(Serialize)]
struct NotebookTemplate {
    spec: PodSpec,
}

pub(crate) fn manifests(context: &Context<'_>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Manifest> {
    context.program.notebooks.iter().map(|notebook| manifest(context, notebook, diagnostics)).collect()
}

fn manifest(context: &Context<'_>, notebook: &ir::Notebook, diagnostics: &mut Vec<Diagnostic>) -> Manifest {
    let name = kubernetes_name(&notebook.name);
    if name.len() > MAX_NAME || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        diagnostics.push(
            Diagnostic::error(
                Code::InvalidKubernetesName,
                format!("notebook name `{name}` is not an RFC 1035 label of at most {MAX_NAME} characters"),
                Label::new(notebook.span, "used as the Notebook's Service name"),
            )
            .with_help("start with a lower-case letter and keep the name short"),
        );
    }
    let (volumes, volume_mounts) = core::pvc_mounts(context.program, &notebook.mounts);
    let mut env = core::env_vars(context, &notebook.env, &mut |slot| format!("{slot:?}"));
    env.extend(core::secret_env(context.program, &notebook.secrets));
    let mut container = Container {
        name: name.clone(),
        image: Some(notebook.image.clone()),
        resources: core::resource_requirements(&notebook.resources),
        env: (!env.is_empty()).then_some(env),
        volume_mounts: (!volume_mounts.is_empty()).then_some(volume_mounts),
        ..Container::default()
    };
    super::scheduling::apply_container(&notebook.scheduling, &mut container);
    let mut spec = PodSpec {
        containers: vec![container],
        volumes: (!volumes.is_empty()).then_some(volumes),
        ..PodSpec::default()
    };
    super::scheduling::apply(&notebook.scheduling, &mut spec);
    // The controller copies the Notebook's labels onto its pod, where Kueue reads the queue.
    let mut metadata = context.metadata(&notebook.name);
    super::scheduling::add_queue_label(&notebook.scheduling, &mut metadata.labels);
    let object = Notebook {
        api_version: API_VERSION,
        kind: KIND,
        metadata,
        spec: NotebookSpec { template: NotebookTemplate { spec } },
    };
    let mut manifest = Manifest::from_typed(KIND, &notebook.name, &object);
    manifest.apply_patches(&notebook.patches);
    manifest
}

#[cfg(test)]
mod tests {
    use crate::codegen::core::tests::{build_text, file};

    #[test]
    fn notebook_has_container_resources_gpu_and_pvc_mount() {
        let output = build_text(
            "project p { namespace = \"ml\" }\n\
             volume workspace { size = 5Gi, access = read_write_once }\n\
             notebook explore_gpu {\n  image = \"jupyter/scipy:latest\"\n  cpu = 1\n  memory = 2Gi\n  gpu = 1\n  mount workspace at \"/home/jovyan\"\n}\n",
        );
        let yaml = file(&output, "notebook-explore-gpu.yaml");
        assert!(yaml.contains("apiVersion: kubeflow.org/v1"), "{yaml}");
        assert!(yaml.contains("- name: explore-gpu\n") || yaml.contains("name: explore-gpu"), "{yaml}");
        assert!(yaml.contains("image: jupyter/scipy:latest"), "{yaml}");
        assert!(yaml.contains("nvidia.com/gpu: '1'") || yaml.contains("nvidia.com/gpu: \"1\""), "{yaml}");
        assert!(yaml.contains("memory: 2Gi"), "{yaml}");
        assert!(yaml.contains("mountPath: /home/jovyan"), "{yaml}");
        assert!(yaml.contains("claimName: workspace"), "{yaml}");
        assert!(yaml.contains("namespace: ml"), "{yaml}");
    }
}
