//! The model registry: the `ModelStore` trait the runtime and the CLI call, with a local SQLite implementation
//! (`Registry`, `.kfl/registry.db` plus the content-addressed `.kfl/models/`) and a client for a remote Kubeflow
//! Model Registry server (`RestRegistry`).
//!
//! Example:
//! ```no_run
//! use kfl_runtime::registry::{ArtifactSource, ModelStore, Registration, Registry};
//! let mut registry = Registry::open(std::path::Path::new("."))?;
//! let version = registry.register(&Registration::new("iris", ArtifactSource::Path("out/model".into())))?;
//! println!("registered {} version {}", version.model, version.version);
//! # Ok::<(), kfl_runtime::registry::RegistryError>(())
//! ```

mod content_store;
mod custom_properties;
mod error;
mod local;
mod records;
mod remote;
mod schema;

use std::path::Path;

pub use content_store::{ContentStore, StoredArtifact};
pub use error::RegistryError;
pub use local::Registry;
pub use records::{
    ArtifactSource, Lineage, LiveVersions, ModelArtifactRecord, ModelFormat, ModelState, ModelVersionRecord,
    PropertyValue, RegisteredModelRecord, Registration,
};
pub use remote::RestRegistry;
pub use schema::SCHEMA_VERSION;

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// A model registry, local or remote. Every call blocks; async callers use `tokio::task::spawn_blocking`.
pub trait ModelStore: Send {
    /// Stores the artifact and records a new version; the version is the next number when not given.
    fn register(&mut self, request: &Registration) -> Result<ModelVersionRecord>;

    /// Every registered model, by name.
    fn list_models(&self) -> Result<Vec<RegisteredModelRecord>>;

    /// The versions of a model, oldest first.
    fn versions(&self, model: &str) -> Result<Vec<ModelVersionRecord>>;

    /// One version; the most recently created one when `version` is `None`.
    fn version(&self, model: &str, version: Option<&str>) -> Result<ModelVersionRecord>;

    /// Moves a version to LIVE or ARCHIVED and returns it as stored.
    fn set_state(&mut self, model: &str, version: &str, state: ModelState) -> Result<ModelVersionRecord>;

    fn archive(&mut self, model: &str, version: &str) -> Result<ModelVersionRecord> {
        self.set_state(model, version, ModelState::Archived)
    }

    /// The newest LIVE version and the LIVE one before it.
    fn live_versions(&self, model: &str) -> Result<LiveVersions> {
        Ok(LiveVersions::from_versions(self.versions(model)?))
    }
}

/// The local registry of `project_dir`, or the remote one at `remote_url` when given.
pub fn open_store(project_dir: &Path, remote_url: Option<&str>) -> Result<Box<dyn ModelStore>> {
    match remote_url {
        Some(url) => Ok(Box::new(RestRegistry::new(url)?.with_content_store(ContentStore::in_project(project_dir)))),
        None => Ok(Box::new(Registry::open(project_dir)?)),
    }
}

/// Checks a request before anything is written, so both stores refuse the same things.
pub(crate) fn validate(request: &Registration) -> Result<()> {
    check_name("model name", &request.model)?;
    if let Some(version) = &request.version {
        check_name("version", version)?;
    }
    for key in request.labels.keys().chain(request.params.keys()).chain(request.metrics.keys()) {
        check_name("property name", key)?;
    }
    for key in request.labels.keys() {
        if custom_properties::is_reserved(key) {
            return Err(RegistryError::Invalid {
                what: "label",
                value: key.clone(),
                reason: "the prefixes `param.`, `metric.` and `kfl.` are reserved for params, metrics and lineage",
            });
        }
    }
    for (name, value) in &request.metrics {
        if !value.is_finite() {
            return Err(RegistryError::Invalid {
                what: "metric",
                value: name.clone(),
                reason: "the value is not finite",
            });
        }
    }
    for (name, value) in &request.params {
        if matches!(value, PropertyValue::Double(d) if !d.is_finite()) {
            return Err(RegistryError::Invalid {
                what: "param",
                value: name.clone(),
                reason: "the value is not finite",
            });
        }
    }
    Ok(())
}

fn check_name(what: &'static str, value: &str) -> Result<()> {
    let reason = if value.trim().is_empty() {
        "it is empty"
    } else if value.len() > 255 {
        "it is longer than 255 bytes"
    } else if value.chars().any(char::is_control) {
        "it contains control characters"
    } else if value != value.trim() {
        "it starts or ends with whitespace"
    } else {
        return Ok(());
    };
    Err(RegistryError::Invalid { what, value: value.to_string(), reason })
}

/// The number after the highest numeric version, "1" when there is none: explicit non-numeric versions
/// (`v2-rc`) do not disturb the sequence.
pub(crate) fn next_version<'a>(existing: impl IntoIterator<Item = &'a str>) -> String {
    let highest = existing.into_iter().filter_map(|v| v.parse::<u64>().ok()).max().unwrap_or(0);
    (highest + 1).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_version_skips_non_numeric_and_counts_from_the_highest() {
        assert_eq!(next_version([]), "1");
        assert_eq!(next_version(["1", "2"]), "3");
        assert_eq!(next_version(["v1", "7", "3"]), "8");
    }

    #[test]
    fn validation_refuses_bad_names_reserved_labels_and_nan() {
        let base = Registration::new("iris", ArtifactSource::Uri("s3://b/m".into()));
        assert!(validate(&base).is_ok());
        let empty = Registration { model: " ".into(), ..base.clone() };
        assert!(matches!(validate(&empty), Err(RegistryError::Invalid { what: "model name", .. })));
        let mut labels = base.clone();
        labels.labels.insert("param.lr".into(), "x".into());
        assert!(matches!(validate(&labels), Err(RegistryError::Invalid { what: "label", .. })));
        let mut metrics = base.clone();
        metrics.metrics.insert("acc".into(), f64::NAN);
        assert!(matches!(validate(&metrics), Err(RegistryError::Invalid { what: "metric", .. })));
        let version = Registration { version: Some("a\nb".into()), ..base };
        assert!(matches!(validate(&version), Err(RegistryError::Invalid { what: "version", .. })));
    }
}
