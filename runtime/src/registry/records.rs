//! The registry's data model: what a registration asks for and what the registry hands back, shaped like the
//! Kubeflow Model Registry's RegisteredModel / ModelVersion / ModelArtifact.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;

/// `ModelVersionState` / `RegisteredModelState` in the Model Registry API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ModelState {
    #[serde(rename = "LIVE")]
    Live,
    #[serde(rename = "ARCHIVED")]
    Archived,
}

impl ModelState {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelState::Live => "LIVE",
            ModelState::Archived => "ARCHIVED",
        }
    }

    /// Parses the wire / column spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<ModelState> {
        match text {
            "LIVE" => Some(ModelState::Live),
            "ARCHIVED" => Some(ModelState::Archived),
            _ => None,
        }
    }
}

impl std::fmt::Display for ModelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed param value; the four scalar kinds the Model Registry's `MetadataValue` carries.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum PropertyValue {
    Bool(bool),
    Int(i64),
    Double(f64),
    String(String),
}

impl std::fmt::Display for PropertyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PropertyValue::Bool(value) => write!(f, "{value}"),
            PropertyValue::Int(value) => write!(f, "{value}"),
            PropertyValue::Double(value) => write!(f, "{value}"),
            PropertyValue::String(value) => f.write_str(value),
        }
    }
}

/// `modelFormatName` / `modelFormatVersion` of a ModelArtifact (e.g. `sklearn`, `1`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ModelFormat {
    pub name: Option<String>,
    pub version: Option<String>,
}

/// Where a version came from: the run, the stage that registered it, and the content hashes of its inputs
/// (input name → sha256 hex), in the order the stage declares them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Lineage {
    pub run_id: Option<String>,
    pub stage: Option<String>,
    pub input_hashes: IndexMap<String, String>,
}

/// What is being registered: a local file or directory (copied into the content-addressed store), or a URI the
/// registry records as given (a `model` declared with `uri = "s3://…"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactSource {
    Path(PathBuf),
    Uri(String),
}

/// One registration request. `version: None` takes the next number ("1", "2", …) for the model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Registration {
    pub model: String,
    pub version: Option<String>,
    pub artifact: ArtifactSource,
    pub format: ModelFormat,
    pub description: Option<String>,
    pub labels: IndexMap<String, String>,
    pub params: IndexMap<String, PropertyValue>,
    pub metrics: IndexMap<String, f64>,
    pub lineage: Lineage,
}

impl Registration {
    /// A request with only the required parts; fill the rest with struct update syntax.
    pub fn new(model: impl Into<String>, artifact: ArtifactSource) -> Registration {
        Registration {
            model: model.into(),
            version: None,
            artifact,
            format: ModelFormat::default(),
            description: None,
            labels: IndexMap::new(),
            params: IndexMap::new(),
            metrics: IndexMap::new(),
            lineage: Lineage::default(),
        }
    }
}

/// A RegisteredModel with a summary of its versions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegisteredModelRecord {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub state: ModelState,
    pub version_count: u64,
    /// The most recently created version, whatever its state.
    pub latest_version: Option<String>,
    pub create_time_ms: i64,
    pub update_time_ms: i64,
}

/// The ModelArtifact of a version. `digest` is the sha256 of the stored tree for artifacts the registry copied;
/// `path` is where a local copy lives, when there is one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelArtifactRecord {
    pub id: String,
    pub uri: String,
    pub digest: Option<String>,
    pub path: Option<PathBuf>,
    pub format: ModelFormat,
}

/// A ModelVersion with its artifact and custom properties.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelVersionRecord {
    pub id: String,
    pub model: String,
    pub version: String,
    pub state: ModelState,
    pub description: Option<String>,
    pub labels: IndexMap<String, String>,
    pub params: IndexMap<String, PropertyValue>,
    pub metrics: IndexMap<String, f64>,
    pub lineage: Lineage,
    pub artifact: ModelArtifactRecord,
    pub create_time_ms: i64,
    pub update_time_ms: i64,
}

/// What serving needs: the newest LIVE version and the LIVE one before it (the canary's baseline).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveVersions {
    pub current: Option<ModelVersionRecord>,
    pub previous: Option<ModelVersionRecord>,
}

impl LiveVersions {
    /// Picks the two newest LIVE versions from versions listed oldest first.
    pub fn from_versions(versions: Vec<ModelVersionRecord>) -> LiveVersions {
        let mut live = versions.into_iter().rev().filter(|v| v.state == ModelState::Live);
        let current = live.next();
        let previous = live.next();
        LiveVersions { current, previous }
    }
}

/// Milliseconds since the Unix epoch, the unit of the Model Registry's `createTimeSinceEpoch`.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
