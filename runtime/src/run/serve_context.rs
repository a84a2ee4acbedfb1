//! The context a `serve` runs in outside its plan (project, registry, retrain settings) and the LIVE versions of
//! its model that it finds in the registry, read by the serve stage, `kfl serve` and retraining alike.

use std::path::PathBuf;

use super::serve_error::ServeSetupError;
use crate::plan::{Plan, Spec};
use crate::registry;
use crate::serving::ModelVersion;

/// Everything outside the plan a serve needs.
#[derive(Clone, Debug)]
pub struct ServeContext {
    pub project_dir: PathBuf,
    /// The `.kfl` file (relative to `project_dir`), rerun by `then = retrain`.
    pub file: String,
    pub kfl_exe: PathBuf,
    /// A Model Registry server instead of `.kfl/registry.db`.
    pub registry: Option<String>,
    /// The `-p NAME=VALUE` overrides of this run or serve, given again to every retrain run.
    pub params: Vec<(String, String)>,
    /// Router port; 0 picks a free one.
    pub port: u16,
}

pub(super) fn live_versions(model: &str, context: &ServeContext) -> Result<registry::LiveVersions, ServeSetupError> {
    let store = registry::open_store(&context.project_dir, context.registry.as_deref())
        .map_err(ServeSetupError::OpenRegistry)?;
    store.live_versions(model).map_err(|source| ServeSetupError::LiveVersions { model: model.to_string(), source })
}

pub(super) fn no_live_version(model: &str) -> ServeSetupError {
    ServeSetupError::NoLiveVersion { model: model.to_string() }
}

pub(super) fn local_version(v: &registry::ModelVersionRecord) -> Result<ModelVersion, ServeSetupError> {
    let model_dir = v.artifact.path.clone().ok_or_else(|| ServeSetupError::NotLocal {
        model: v.model.clone(),
        version: v.version.clone(),
        uri: v.artifact.uri.clone(),
    })?;
    Ok(ModelVersion { version: v.version.clone(), model_dir })
}

/// The registry's newest LIVE version of the model the `serve` stage `name` serves.
pub(super) fn newest_live_version(
    plan: &Plan,
    name: &str,
    context: &ServeContext,
) -> Result<ModelVersion, ServeSetupError> {
    let model = plan
        .stages
        .iter()
        .find_map(|stage| match &stage.spec {
            Spec::Serve(serve) if stage.name == name => Some(serve.model.as_str()),
            _ => None,
        })
        .ok_or_else(|| ServeSetupError::NoServeStage { name: name.to_string() })?;
    let current = live_versions(model, context)?.current.ok_or_else(|| no_live_version(model))?;
    local_version(&current)
}
