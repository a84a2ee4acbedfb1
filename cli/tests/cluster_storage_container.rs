//! `kfl apply` of a project serving from the Model Registry against the fake Kubernetes API (`launch/fake_cluster.rs`): refused, with nothing sent, unless a ClusterStorageContainer supports its `model-registry://` URIs (KServe ships none); `--dry-run=server` says so too.

#[path = "launch/fake_cluster.rs"]
mod fake_cluster;

use std::process::{Command, Output};

use serde_json::{Value, json};

const PROGRAM: &str = r#"project shop {
  image     = "python:3.12"
  namespace = "ml"
  registry  = "http://model-registry-service.kubeflow:8080"
}

model clf {
  uri     = "s3://models/clf"
  format  = "sklearn"
  version = "3"
}

serve api {
  model   = clf
  runtime = sklearn
}
"#;

const STORAGE_CONTAINERS: &str = "/apis/serving.kserve.io/v1alpha1/clusterstoragecontainers";

/// A cluster that serves Roles and RoleBindings (discovery), has the namespace `ml`, and these storage containers
/// (`None`: no ClusterStorageContainer CRD).
fn cluster(prefixes: Option<&[&str]>) -> fake_cluster::Cluster {
    let mut cluster = fake_cluster::Cluster::default();
    let verbs = json!(["create", "delete", "get", "list", "patch", "update", "watch"]);
    cluster.objects.insert(
        "/api/v1".into(),
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
            {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": verbs}
        ]}),
    );
    cluster.objects.insert(
        "/apis/rbac.authorization.k8s.io/v1".into(),
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "rbac.authorization.k8s.io/v1", "resources": [
            {"name": "roles", "singularName": "role", "namespaced": true, "kind": "Role", "verbs": verbs},
            {"name": "rolebindings", "singularName": "rolebinding", "namespaced": true, "kind": "RoleBinding", "verbs": verbs}
        ]}),
    );
    cluster.objects.insert(
        "/api/v1/namespaces/ml".into(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}}),
    );
    if let Some(prefixes) = prefixes {
        let items: Vec<Value> = prefixes
            .iter()
            .map(|prefix| json!({
                "apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainer",
                "metadata": {"name": prefix.trim_end_matches("://")},
                "spec": {"container": {"name": "storage-initializer", "image": "i"}, "supportedUriFormats": [{"prefix": prefix}]}
            }))
            .collect();
        cluster.objects.insert(
            STORAGE_CONTAINERS.into(),
            json!({"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainerList", "metadata": {}, "items": items}),
        );
    }
    cluster
}

fn apply(prefixes: Option<&[&str]>, extra: &[&str]) -> (Output, fake_cluster::Shared) {
    let dir = tempfile::tempdir().expect("a scratch directory");
    std::fs::write(dir.path().join("shop.kfl"), PROGRAM).expect("write the program");
    let (url, shared) = fake_cluster::start(cluster(prefixes));
    let output = Command::new(env!("CARGO_BIN_EXE_kfl"))
        .args([&["apply", "shop.kfl"][..], extra].concat())
        .current_dir(dir.path())
        .env("KUBECONFIG", fake_cluster::kubeconfig(dir.path(), &url))
        .env("NO_COLOR", "1")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .expect("kfl runs");
    (output, shared)
}

/// The paths of the objects applied (PATCH), with the kind of each body.
fn patches(shared: &fake_cluster::Shared) -> Vec<(String, String)> {
    let cluster = shared.lock().expect("lock");
    let patched = cluster.seen.iter().filter(|s| s.method == "PATCH");
    patched.map(|s| (s.path.clone(), s.body.as_ref().map(|b| b["kind"].to_string()).unwrap_or_default())).collect()
}

#[test]
fn without_a_storage_container_for_model_registry_uris_nothing_is_applied() {
    for (prefixes, why) in [
        (None, "the cluster has no ClusterStorageContainer resource"),
        (Some(&["hf://"][..]), "no ClusterStorageContainer on the cluster supports it"),
    ] {
        for extra in [&[][..], &["--dry-run=server"][..]] {
            let (output, shared) = apply(prefixes, extra);
            let text = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{extra:?}: {text}");
            assert!(text.contains("KServe cannot fetch `model-registry://clf/3`"), "{text}");
            assert!(text.contains(why), "{text}");
            assert!(
                text.contains("kubeflow/model-registry manifests/kustomize/options/csi/clusterstoragecontainer.yaml"),
                "{text}"
            );
            assert!(text.contains("nothing was applied"), "{text}");
            assert_eq!(patches(&shared), [], "{extra:?}: nothing sent");
        }
    }
}

#[test]
fn with_the_model_registrys_storage_container_the_project_is_applied() {
    let (output, shared) = apply(Some(&["hf://", "model-registry://"]), &[]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("`model-registry://clf/3` is fetched by ClusterStorageContainer/model-registry"), "{text}");
    assert!(text.contains("Role/shop-launcher (namespace ml) created"), "{text}");
    let applied = patches(&shared);
    let kinds: Vec<&str> = applied.iter().map(|(_, kind)| kind.as_str()).collect();
    assert_eq!(kinds, ["\"Role\"", "\"RoleBinding\""], "{applied:?}");
    assert!(applied[0].0.ends_with("/namespaces/ml/roles/shop-launcher"), "{applied:?}");
}
