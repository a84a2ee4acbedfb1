//! `SpaceError` and `SamplerError`: why a search space or a sampler's settings are refused, naming the parameter or setting.

use std::fmt;

use super::space::ParamType;

/// A search space the samplers cannot work in. Nothing was proposed.
#[derive(Debug, Clone, PartialEq)]
pub enum SpaceError {
    Empty,
    SearchedTwice { name: String },
    Param { name: String, problem: ParamProblem },
}

/// What is wrong with one parameter's distribution.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamProblem {
    NotFinite {
        field: &'static str,
        value: f64,
    },
    /// The distribution cannot produce values of the parameter's type.
    WrongType {
        distribution: &'static str,
        ty: ParamType,
    },
    /// The arguments break the distribution's rule (`needs`), e.g. `low < high`.
    Arguments {
        distribution: &'static str,
        needs: &'static str,
        got: String,
    },
    IntStepNotWhole,
    TooManySteps {
        low: f64,
        high: f64,
        q: f64,
    },
    EmptyChoice,
    ChoiceWrongType {
        value: String,
        ty: ParamType,
    },
    ChoiceTwice {
        value: String,
    },
}

/// Why no sampler was built for a tune: its algorithm, a setting, or its space. Nothing was proposed.
#[derive(Debug, Clone, PartialEq)]
pub enum SamplerError {
    Space(SpaceError),
    UnknownAlgorithm {
        name: String,
    },
    /// A name in the algorithm table that this runtime has no sampler for.
    NoSampler {
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
        algorithm: &'static str,
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

fn type_name(ty: ParamType) -> &'static str {
    match ty {
        ParamType::Int => "int",
        ParamType::Float => "float",
        ParamType::String => "string",
    }
}

impl fmt::Display for SpaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpaceError::Empty => f.write_str("the search space has no parameters"),
            SpaceError::SearchedTwice { name } => write!(f, "parameter `{name}` is searched twice"),
            SpaceError::Param { name, problem } => write!(f, "parameter `{name}`: {problem}"),
        }
    }
}

impl fmt::Display for ParamProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamProblem::NotFinite { field, value } => write!(f, "{field} must be a finite number, not {value}"),
            ParamProblem::WrongType { distribution, ty } => {
                write!(f, "`{distribution}` does not fit a {} parameter", type_name(*ty))
            }
            ParamProblem::Arguments { distribution, needs, got } => {
                write!(f, "{distribution} needs {needs}, got {got}")
            }
            ParamProblem::IntStepNotWhole => f.write_str("quniform of an int parameter needs whole low, high and q"),
            ParamProblem::TooManySteps { low, high, q } => {
                write!(f, "quniform({low}, {high}, {q}) has more than a billion steps")
            }
            ParamProblem::EmptyChoice => f.write_str("choice needs at least one value"),
            ParamProblem::ChoiceWrongType { value, ty } => {
                write!(f, "choice value `{value}` does not fit a {} parameter", type_name(*ty))
            }
            ParamProblem::ChoiceTwice { value } => write!(f, "choice value `{value}` is listed twice"),
        }
    }
}

impl fmt::Display for SamplerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SamplerError::Space(e) => e.fmt(f),
            SamplerError::UnknownAlgorithm { name } => write!(f, "unknown search algorithm `{name}`"),
            SamplerError::NoSampler { name } => write!(f, "search algorithm `{name}` has no sampler"),
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

impl std::error::Error for SpaceError {}
impl std::error::Error for SamplerError {}

impl From<SpaceError> for SamplerError {
    fn from(e: SpaceError) -> Self {
        SamplerError::Space(e)
    }
}
