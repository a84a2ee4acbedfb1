//! `kfl launch register-model` and `kfl launch retrain` end to end, against in-process fakes of the Model Registry and the KFP API.

#[path = "launch/fake_services.rs"]
mod fake_services;

use std::process::{Command, Output};

use fake_services::Services;
use serde_json::json;

fn launch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kfl"))
        .arg("launch")
        .args(args)
        .env_remove("KFL_REGISTRY_TOKEN")
        .env_remove("KFL_KFP_TOKEN")
        .output()
        .expect("run kfl launch")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn register_args<'a>(url: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "register-model",
        "--registry",
        url,
        "--name",
        "iris-classifier",
        "--format",
        "sklearn",
        "--artifact-uri",
        "s3://bucket/search/best_model",
        "--description",
        "Iris, 150 rows",
        "--label",
        "dataset=iris",
        "--metadata",
        "pipeline_run=run-1",
        "--metadata",
        "param.epochs=30",
        "--output-uri",
        out,
    ]
}

#[test]
fn a_model_is_registered_once_per_run_and_its_storage_uri_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, shared) = fake_services::start(Services::default());
    let out = dir.path().join("uri");
    let out_arg = out.display().to_string();
    let first = launch(&register_args(&url, &out_arg));
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(std::fs::read_to_string(&out).expect("uri"), "model-registry://iris-classifier/1");
    {
        let services = shared.lock().expect("lock");
        assert_eq!(services.versions.len(), 1);
        let properties = &services.versions[0]["customProperties"];
        assert_eq!(properties["param.epochs"], json!({"metadataType": "MetadataIntValue", "int_value": "30"}));
        assert_eq!(properties["kfl.run_id"]["string_value"], "run-1");
        assert_eq!(properties["dataset"]["string_value"], "iris");
        let artifact = &services.artifacts.values().next().expect("an artifact")[0];
        assert_eq!(artifact["uri"], "s3://bucket/search/best_model");
        assert_eq!(artifact["modelFormatName"], "sklearn");
    }
    // KFP retries the task: the version this run registered is adopted, not registered again.
    std::fs::remove_file(&out).expect("remove");
    let retry = launch(&register_args(&url, &out_arg));
    assert!(retry.status.success(), "{}", stderr(&retry));
    assert!(stderr(&retry).contains("adopting it"), "{}", stderr(&retry));
    assert_eq!(shared.lock().expect("lock").versions.len(), 1);
    assert_eq!(std::fs::read_to_string(&out).expect("uri"), "model-registry://iris-classifier/1");
}

#[test]
fn a_bad_metadata_key_is_a_usage_error_and_an_unreachable_registry_a_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("uri").display().to_string();
    let mut args = register_args("http://127.0.0.1:9", &out);
    args.extend(["--metadata", "owner=me"]);
    let bad = launch(&args);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("`--metadata owner=…`"), "{}", stderr(&bad));
    let unreachable = launch(&register_args("http://127.0.0.1:9", &out));
    assert_eq!(unreachable.status.code(), Some(1), "{}", stderr(&unreachable));
    assert!(stderr(&unreachable).contains("model registry at http://127.0.0.1:9"), "{}", stderr(&unreachable));
}

#[test]
fn retrain_starts_a_run_of_the_newest_pipeline_version() {
    let mut services = Services::default();
    services.pipelines.insert("iris".into(), ("p-1".into(), vec!["v-2".into(), "v-1".into()]));
    let (url, shared) = fake_services::start(services);
    let output = launch(&[
        "retrain",
        "--pipeline",
        "iris",
        "--namespace",
        "ml-team",
        "--reason",
        "schedule:watch",
        "--kfp-url",
        &url,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "run-42");
    let services = shared.lock().expect("lock");
    let (_, list, _) = &services.seen[0];
    assert!(list.contains("namespace=ml-team"), "{list}");
    let (_, versions, _) = &services.seen[1];
    assert!(versions.starts_with("/apis/v2beta1/pipelines/p-1/versions?"), "{versions}");
    let (method, path, body) = &services.seen[2];
    assert_eq!((method.as_str(), path.as_str()), ("POST", "/apis/v2beta1/runs"));
    let body = body.as_ref().expect("a body");
    assert_eq!(body["pipeline_version_reference"], json!({"pipeline_id": "p-1", "pipeline_version_id": "v-2"}));
    assert!(body["description"].as_str().is_some_and(|d| d.contains("schedule:watch")), "{body}");
}

#[test]
fn retrain_of_an_unknown_pipeline_fails_without_starting_a_run() {
    let (url, shared) = fake_services::start(Services::default());
    let output = launch(&["retrain", "--pipeline", "iris", "--kfp-url", &url]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("no pipeline named `iris`"), "{}", stderr(&output));
    assert!(shared.lock().expect("lock").seen.iter().all(|(method, _, _)| method == "GET"));
}
