//! `SamplerError`: why no sampler was built for a tune (its algorithm, a setting, or its space), naming the setting.

use std::fmt;

use kfl_plan::algorithms::SearchAlgorithm;

use super::space::SpaceError;

/// Why no sampler was built for a tune: its algorithm, a setting, or its space. Nothing was proposed.
#[derive(Debug, Clone, PartialEq)]
pub enum SamplerError {
    Space(SpaceError),
    UnknownAlgorithm {
        name: String,
    },
    UnknownSetting {
        algorithm: String,
        key: String,
    },
    /// A setting of the wrong kind (`expected`: "a whole number >= 0", "a number", "true or false").
    SettingType {
        algorithm: String,
        key: String,
        expected: &'static str,
        got: String,
    },
    /// A setting of the right kind outside what the algorithm accepts (`rule`: "must be at least 2").
    SettingRange {
        algorithm: SearchAlgorithm,
        setting: String,
        rule: &'static str,
        got: String,
    },
    MissingResource,
    ResourceNotSearched {
        resource: String,
    },
    ResourceDistribution {
        resource: String,
    },
    TooManyDimensions {
        max: usize,
        dims: usize,
    },
}

impl fmt::Display for SamplerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SamplerError::Space(e) => e.fmt(f),
            SamplerError::UnknownAlgorithm { name } => write!(f, "unknown search algorithm `{name}`"),
            SamplerError::UnknownSetting { algorithm, key } => write!(f, "{algorithm} has no setting `{key}`"),
            SamplerError::SettingType { algorithm, key, expected, got } => {
                write!(f, "{algorithm}: `{key}` must be {expected}, got {got}")
            }
            SamplerError::SettingRange { algorithm, setting, rule, got } => {
                write!(f, "{algorithm}: {setting} {rule}, got {got}")
            }
            SamplerError::MissingResource => {
                f.write_str("hyperband needs `resource`, the searched parameter that sets the budget")
            }
            SamplerError::ResourceNotSearched { resource } => {
                write!(f, "hyperband: resource `{resource}` is not a searched parameter")
            }
            SamplerError::ResourceDistribution { resource } => write!(
                f,
                "hyperband: resource `{resource}` must be a randint, quniform, uniform or loguniform parameter"
            ),
            SamplerError::TooManyDimensions { max, dims } => {
                write!(f, "sobol supports at most {max} parameters, the space has {dims}")
            }
        }
    }
}

impl std::error::Error for SamplerError {}

impl From<SpaceError> for SamplerError {
    fn from(e: SpaceError) -> Self {
        SamplerError::Space(e)
    }
}
