//! The `model` stage run locally: the artifact (usually a tune's best model) is registered in the project's
//! registry (`.kfl/registry.db`, or a Model Registry server with `--registry`), with its params, metrics and
//! lineage; `when` decides whether it is registered at all.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::cache::Hashes;
use super::prepare::{PrepareError, substitute};
use super::record::{OutputRecord, StageState};
use super::{Engine, scope_of};
use crate::plan::{Expression, ModelSource, Spec};
use crate::registry::{self, ArtifactSource, Lineage, ModelFormat, PropertyValue, Registration, RegistryError};
use crate::value::{EvalError, Value, eval};

/// A registered (or already registered) version: the stage's outputs and what to tell the user.
type Registered = (IndexMap<String, OutputRecord>, String);

/// Why a `model` stage registered nothing; the stage fails, and the registry is as it was.
#[derive(Debug)]
enum RegisterError {
    NotAModel,
    When(EvalError),
    WhenNotBool { found: String },
    Description(PrepareError),
    Label { name: String, source: PrepareError },
    Artifact(EvalError),
    ArtifactNotPath { found: String },
    OpenRegistry(RegistryError),
    Register(RegistryError),
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegisterError::NotAModel => f.write_str("not a model stage"),
            RegisterError::When(e) => write!(f, "`when`: {e}"),
            RegisterError::WhenNotBool { found } => write!(f, "`when` gave {found}, not a bool"),
            RegisterError::Description(e) => write!(f, "description: {e}"),
            RegisterError::Label { name, source } => write!(f, "label `{name}`: {source}"),
            RegisterError::Artifact(e) => write!(f, "artifact: {e}"),
            RegisterError::ArtifactNotPath { found } => write!(f, "the artifact is {found}, not a path"),
            RegisterError::OpenRegistry(e) => write!(f, "cannot open the registry: {e}"),
            RegisterError::Register(e) => write!(f, "registration failed: {e}"),
        }
    }
}

impl Engine<'_> {
    /// Registers a ready `model` stage; the state and message it settles with.
    pub(super) fn run_model(&mut self, s: usize) -> (StageState, String) {
        match self.register(s) {
            Ok(Some((outputs, message))) => {
                self.record.stages[s].instances[0].outputs = outputs;
                (StageState::Succeeded, message)
            }
            Ok(None) => (StageState::Skipped, "`when` is false: not registered".into()),
            Err(error) => (StageState::Failed, error.to_string()),
        }
    }

    fn register(&mut self, s: usize) -> Result<Option<Registered>, RegisterError> {
        let stage = &self.plan.stages[s];
        let Spec::Model(model) = &stage.spec else { return Err(RegisterError::NotAModel) };
        let scope = scope_of(self.plan, &self.record, &self.index, s, 0, None);
        if let Some(when) = &model.when {
            match eval(when, &scope).map_err(RegisterError::When)? {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(None),
                other => return Err(RegisterError::WhenNotBool { found: other.text() }),
            }
        }
        let mut hashes = Hashes::default();
        let project_dir = self.opts.project_dir.clone();
        let no_outputs = IndexMap::new();
        let mut text = |part| substitute(part, &scope, &no_outputs, &mut hashes, &project_dir).map(|s| s.text);
        let description = model.description.as_ref().map(&mut text).transpose().map_err(RegisterError::Description)?;
        let mut labels = IndexMap::new();
        for (name, part) in &model.labels {
            labels.insert(
                name.clone(),
                text(part).map_err(|source| RegisterError::Label { name: name.clone(), source })?,
            );
        }
        let (artifact, origin) = match &model.source {
            ModelSource::Uri { uri } => (ArtifactSource::Uri(uri.clone()), None),
            ModelSource::Artifact { artifact } => match eval(artifact, &scope).map_err(RegisterError::Artifact)? {
                Value::Path(path) => (ArtifactSource::Path(project_dir.join(&path)), origin_of(artifact)),
                Value::Str(uri) => (ArtifactSource::Uri(uri), origin_of(artifact)),
                other => return Err(RegisterError::ArtifactNotPath { found: other.text() }),
            },
        };
        // Params and metrics come from the stage that produced the artifact: for a tune, its best trial.
        let mut params = IndexMap::new();
        let mut metrics = IndexMap::new();
        let mut input_hashes = IndexMap::new();
        let producer =
            origin.as_ref().and_then(|o| self.index.get(o)).and_then(|&o| self.record.stages[o].instances.first());
        if let Some(instance) = producer {
            metrics = instance.metrics.clone();
            for (name, output) in &instance.outputs {
                match output {
                    OutputRecord::Scalar { value, .. } if !instance.metrics.contains_key(name) => {
                        if let Some(param) = property(value) {
                            params.insert(name.clone(), param);
                        }
                    }
                    OutputRecord::Artifact { sha256, .. } => {
                        input_hashes.insert(name.clone(), sha256.clone());
                    }
                    OutputRecord::Scalar { .. } => {}
                }
            }
        }
        let request = Registration {
            version: model.version.clone(),
            format: ModelFormat { name: model.format.clone(), version: None },
            description,
            labels,
            params,
            metrics,
            lineage: Lineage { run_id: Some(self.record.run_id.clone()), stage: origin.clone(), input_hashes },
            ..Registration::new(stage.name.clone(), artifact)
        };
        let mut store = registry::open_store(&self.opts.project_dir, self.opts.registry.as_deref())
            .map_err(RegisterError::OpenRegistry)?;
        // Rerunning an unchanged pipeline must not pile up identical versions: same content as the newest LIVE
        // version (and no explicit version asked for) reuses it.
        let same = match (&request.artifact, &request.version) {
            (ArtifactSource::Path(path), None) => {
                let stored = registry::ContentStore::in_project(&self.opts.project_dir).put(path).ok();
                let newest = store.version(&stage.name, None).ok();
                newest.filter(|v| {
                    v.state == registry::ModelState::Live
                        && stored.as_ref().is_some_and(|s| v.artifact.digest.as_deref() == Some(s.digest.as_str()))
                })
            }
            _ => None,
        };
        let reused = same.is_some();
        let version = match same {
            Some(version) => version,
            None => store.register(&request).map_err(RegisterError::Register)?,
        };
        let mut outputs = IndexMap::new();
        let scalar = |text: &str| OutputRecord::Scalar { ty: "string".into(), value: text.into(), text: text.into() };
        outputs.insert("version".to_string(), scalar(&version.version));
        outputs.insert("uri".to_string(), scalar(&version.artifact.uri));
        if let Some(path) = &version.artifact.path {
            let path = path.strip_prefix(&self.opts.project_dir).map_or_else(|_| path.clone(), PathBuf::from);
            let sha256 = version.artifact.digest.clone().unwrap_or_default();
            outputs
                .insert("model_dir".to_string(), OutputRecord::Artifact { path: path.display().to_string(), sha256 });
        }
        let where_ = if self.opts.registry.is_some() { "the remote registry" } else { ".kfl/registry.db" };
        let message = if reused {
            format!("`{}` version {} in {where_} already holds this artifact", stage.name, version.version)
        } else {
            format!("registered `{}` version {} in {where_}", stage.name, version.version)
        };
        Ok(Some((outputs, message)))
    }
}

/// The stage an artifact expression reads from (`search.best.model` → `search`).
fn origin_of(expr: &Expression) -> Option<String> {
    match expr {
        Expression::Best { tune, .. } => Some(tune.clone()),
        Expression::Output { stage, .. } => Some(stage.clone()),
        _ => None,
    }
}

fn property(value: &serde_json::Value) -> Option<PropertyValue> {
    Some(match value {
        serde_json::Value::Bool(b) => PropertyValue::Bool(*b),
        serde_json::Value::Number(n) if n.is_i64() => PropertyValue::Int(n.as_i64()?),
        serde_json::Value::Number(n) => PropertyValue::Double(n.as_f64()?),
        serde_json::Value::String(s) => PropertyValue::String(s.clone()),
        _ => return None,
    })
}
