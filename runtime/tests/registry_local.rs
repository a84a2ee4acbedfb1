//! The local registry through its public API: registration, auto-increment, conflicts, state changes, lookups.

use std::path::Path;

use indexmap::IndexMap;
use kfl_runtime::registry::{
    ArtifactSource, Lineage, ModelFormat, ModelState, ModelStore, PropertyValue, Registration, Registry, RegistryError,
};

fn artifact(dir: &Path, name: &str, content: &str) -> ArtifactSource {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).expect("mkdir");
    std::fs::write(path.join("model.pkl"), content).expect("write");
    ArtifactSource::Path(path)
}

fn full_request(dir: &Path) -> Registration {
    Registration {
        version: None,
        format: ModelFormat { name: Some("sklearn".into()), version: Some("1".into()) },
        description: Some("iris classifier".into()),
        labels: IndexMap::from([("team".to_string(), "ml".to_string()), ("env".to_string(), "dev".to_string())]),
        params: IndexMap::from([
            ("max_depth".to_string(), PropertyValue::Int(4)),
            ("lr".to_string(), PropertyValue::Double(0.1)),
        ]),
        metrics: IndexMap::from([("accuracy".to_string(), 0.96)]),
        lineage: Lineage {
            run_id: Some("run-1".into()),
            stage: Some("register".into()),
            input_hashes: IndexMap::from([
                ("data".to_string(), "11".repeat(32)),
                ("code".to_string(), "22".repeat(32)),
            ]),
        },
        ..Registration::new("iris", artifact(dir, "out", "weights-1"))
    }
}

#[test]
fn registration_round_trips_every_field() {
    let project = tempfile::tempdir().expect("tempdir");
    let mut registry = Registry::open(project.path()).expect("open");
    let request = full_request(project.path());
    let stored = registry.register(&request).expect("register");
    assert_eq!((stored.model.as_str(), stored.version.as_str(), stored.state), ("iris", "1", ModelState::Live));
    assert_eq!(stored.labels, request.labels);
    assert_eq!(stored.params, request.params);
    assert_eq!(stored.metrics, request.metrics);
    assert_eq!(stored.lineage, request.lineage);
    assert_eq!(stored.description.as_deref(), Some("iris classifier"));
    assert_eq!(stored.artifact.format, request.format);
    let digest = stored.artifact.digest.clone().expect("digest");
    let path = stored.artifact.path.clone().expect("local path");
    assert!(path.ends_with(format!(".kfl/models/sha256/{digest}")), "{}", path.display());
    assert_eq!(std::fs::read_to_string(path.join("model.pkl")).expect("stored copy"), "weights-1");
    assert!(stored.artifact.uri.starts_with("file:///") && stored.artifact.uri.ends_with(&digest));

    drop(registry);
    let reopened = Registry::open(project.path()).expect("reopen");
    assert_eq!(reopened.version("iris", Some("1")).expect("read back"), stored);
    let models = reopened.list_models().expect("list");
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].name, "iris");
    assert_eq!(models[0].version_count, 1);
    assert_eq!(models[0].latest_version.as_deref(), Some("1"));
    assert_eq!(models[0].description.as_deref(), Some("iris classifier"));
}

#[test]
fn versions_count_up_per_model_and_explicit_ones_must_be_new() {
    let project = tempfile::tempdir().expect("tempdir");
    let mut registry = Registry::open(project.path()).expect("open");
    let dir = project.path();
    let iris = |n: &str| Registration::new("iris", artifact(dir, n, n));
    assert_eq!(registry.register(&iris("a")).expect("1").version, "1");
    assert_eq!(registry.register(&iris("b")).expect("2").version, "2");
    let explicit = Registration { version: Some("v3-rc".into()), ..iris("c") };
    assert_eq!(registry.register(&explicit).expect("explicit").version, "v3-rc");
    assert_eq!(registry.register(&iris("d")).expect("3").version, "3");
    // Another model has its own sequence.
    let other = Registration::new("wine", artifact(dir, "e", "e"));
    assert_eq!(registry.register(&other).expect("wine 1").version, "1");

    let taken = Registration { version: Some("2".into()), ..iris("f") };
    let err = registry.register(&taken).expect_err("conflict");
    assert!(matches!(&err, RegistryError::VersionExists { model, version } if model == "iris" && version == "2"));
    assert!(err.to_string().contains("already has a version `2`"), "{err}");

    let names: Vec<String> = registry.versions("iris").expect("versions").into_iter().map(|v| v.version).collect();
    assert_eq!(names, ["1", "2", "v3-rc", "3"]);
    assert_eq!(registry.version("iris", None).expect("latest").version, "3");
    let models: Vec<String> = registry.list_models().expect("list").into_iter().map(|m| m.name).collect();
    assert_eq!(models, ["iris", "wine"]);
}

#[test]
fn archive_and_live_versions_for_serving() {
    let project = tempfile::tempdir().expect("tempdir");
    let mut registry = Registry::open(project.path()).expect("open");
    for n in ["a", "b", "c"] {
        registry.register(&Registration::new("iris", artifact(project.path(), n, n))).expect("register");
    }
    let live = registry.live_versions("iris").expect("live");
    assert_eq!(live.current.map(|v| v.version).as_deref(), Some("3"));
    assert_eq!(live.previous.map(|v| v.version).as_deref(), Some("2"));

    let archived = registry.archive("iris", "2").expect("archive");
    assert_eq!(archived.state, ModelState::Archived);
    assert!(archived.update_time_ms >= archived.create_time_ms);
    let live = registry.live_versions("iris").expect("live");
    assert_eq!(live.current.map(|v| v.version).as_deref(), Some("3"));
    assert_eq!(live.previous.map(|v| v.version).as_deref(), Some("1"));

    registry.archive("iris", "3").expect("archive 3");
    registry.set_state("iris", "2", ModelState::Live).expect("restore 2");
    let live = registry.live_versions("iris").expect("live");
    assert_eq!(live.current.map(|v| v.version).as_deref(), Some("2"));
    assert_eq!(live.previous.map(|v| v.version).as_deref(), Some("1"));
    // The latest version is the newest created, whatever its state.
    assert_eq!(registry.version("iris", None).expect("latest").state, ModelState::Archived);
}

#[test]
fn unknown_models_and_versions_are_told_apart() {
    let project = tempfile::tempdir().expect("tempdir");
    let mut registry = Registry::open(project.path()).expect("open");
    registry.register(&Registration::new("iris", artifact(project.path(), "a", "a"))).expect("register");
    assert!(matches!(registry.version("wine", None), Err(RegistryError::ModelNotFound { .. })));
    assert!(matches!(registry.versions("wine"), Err(RegistryError::ModelNotFound { .. })));
    assert!(matches!(registry.version("iris", Some("9")), Err(RegistryError::VersionNotFound { .. })));
    let err = registry.archive("iris", "9").expect_err("unknown version");
    assert_eq!(err.to_string(), "model `iris` has no version `9`");
    assert!(matches!(registry.archive("wine", "1"), Err(RegistryError::ModelNotFound { .. })));
}

#[test]
fn identical_artifacts_share_one_stored_copy() {
    let project = tempfile::tempdir().expect("tempdir");
    let mut registry = Registry::open(project.path()).expect("open");
    let first = registry.register(&Registration::new("iris", artifact(project.path(), "a", "same"))).expect("1");
    let second = registry.register(&Registration::new("iris", artifact(project.path(), "b", "same"))).expect("2");
    let third = registry.register(&Registration::new("wine", artifact(project.path(), "c", "other"))).expect("3");
    assert_eq!(first.artifact.digest, second.artifact.digest);
    assert_eq!(first.artifact.path, second.artifact.path);
    assert_ne!(first.artifact.digest, third.artifact.digest);
    let stored = std::fs::read_dir(project.path().join(".kfl/models/sha256")).expect("list").count();
    assert_eq!(stored, 2);
}

#[test]
fn uri_artifacts_are_recorded_as_given_and_failed_copies_register_nothing() {
    let project = tempfile::tempdir().expect("tempdir");
    let mut registry = Registry::open(project.path()).expect("open");
    let remote = Registration::new("bert", ArtifactSource::Uri("s3://models/bert/1".into()));
    let stored = registry.register(&remote).expect("register uri");
    assert_eq!(stored.artifact.uri, "s3://models/bert/1");
    assert_eq!((stored.artifact.digest, stored.artifact.path), (None, None));

    let missing = Registration::new("iris", ArtifactSource::Path(project.path().join("no-such-dir")));
    let err = registry.register(&missing).expect_err("missing artifact");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
    assert!(matches!(registry.versions("iris"), Err(RegistryError::ModelNotFound { .. })));
}
