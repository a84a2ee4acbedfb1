//! Types of kfl values, and the unit-carrying value kinds.

use std::fmt;

/// The type of a value or expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "of")]
pub enum Ty {
    Int,
    Float,
    Bool,
    String,
    Duration,
    Quantity,
    Cpu,
    Percent,
    Dataset,
    Model,
    Artifact,
    /// The final status of the stages an `always` stage waits for: KFP's `PipelineTaskFinalStatus`, handed
    /// to the process as its JSON text. Only an `always` step's input has it, and nothing else produces it.
    TaskStatus,
    List(Box<Ty>),
    Range(Box<Ty>),
    Object,
    /// A bare identifier checked against an enum (framework, runtime, …).
    Enum(String),
    /// A reference to a `model` declaration (distinct from the `Model` artifact).
    ModelDecl,
    ServeDecl,
    VolumeDecl,
    SecretDecl,
    /// A stage as a whole (for `after`, `trial`).
    Stage,
    /// A call such as `maximize(x)`: checked where it stands.
    Call(String),
    /// An error was already reported; accept anything so it does not cascade.
    Error,
}

impl Ty {
    pub fn is_error(&self) -> bool {
        matches!(self, Ty::Error)
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
    }

    pub fn is_artifact(&self) -> bool {
        matches!(self, Ty::Dataset | Ty::Model | Ty::Artifact)
    }

    /// Unit-carrying scalars: arithmetic works on two of the same kind.
    pub fn is_unit(&self) -> bool {
        matches!(self, Ty::Duration | Ty::Quantity | Ty::Cpu | Ty::Percent)
    }

    /// Scalars, unit values and artifacts can be interpolated and used in `run`.
    pub fn is_interpolable(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Bool | Ty::String | Ty::Error | Ty::Enum(_) | Ty::TaskStatus)
            || self.is_unit()
            || self.is_artifact()
    }

    /// Whether a value of `self` may stand where `expected` is wanted:
    /// equal types, `int` → `float`, and `Dataset`/`Model` → `Artifact`.
    pub fn fits(&self, expected: &Ty) -> bool {
        match (self, expected) {
            (Ty::Error, _) | (_, Ty::Error) => true,
            (Ty::Int, Ty::Float) => true,
            (Ty::Int, Ty::Cpu) => true,
            (Ty::Float, Ty::Cpu) => true,
            (Ty::Dataset | Ty::Model, Ty::Artifact) => true,
            (Ty::List(a), Ty::List(b)) | (Ty::Range(a), Ty::Range(b)) => a.fits(b),
            (a, b) => a == b,
        }
    }

    /// Parses a type name as written in a signature or `param`.
    pub fn from_name(name: &str, arg: Option<Ty>) -> Option<Ty> {
        Some(match (name, arg) {
            ("int", None) => Ty::Int,
            ("float", None) => Ty::Float,
            ("bool", None) => Ty::Bool,
            ("string", None) => Ty::String,
            ("duration", None) => Ty::Duration,
            ("quantity", None) => Ty::Quantity,
            ("cpu", None) => Ty::Cpu,
            ("percent", None) => Ty::Percent,
            ("Dataset", None) => Ty::Dataset,
            ("Model", None) => Ty::Model,
            ("Artifact", None) => Ty::Artifact,
            (kfl_plan::format::TASK_STATUS, None) => Ty::TaskStatus,
            ("list", Some(inner)) => Ty::List(Box::new(inner)),
            _ => return None,
        })
    }

    pub const NAMES: &'static [&'static str] = &[
        "int",
        "float",
        "bool",
        "string",
        "duration",
        "quantity",
        "cpu",
        "percent",
        "Dataset",
        "Model",
        "Artifact",
        "TaskStatus",
        "list",
    ];
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Int => f.write_str("int"),
            Ty::Float => f.write_str("float"),
            Ty::Bool => f.write_str("bool"),
            Ty::String => f.write_str("string"),
            Ty::Duration => f.write_str("duration"),
            Ty::Quantity => f.write_str("quantity"),
            Ty::Cpu => f.write_str("cpu"),
            Ty::Percent => f.write_str("percent"),
            Ty::Dataset => f.write_str("Dataset"),
            Ty::Model => f.write_str("Model"),
            Ty::Artifact => f.write_str("Artifact"),
            Ty::TaskStatus => f.write_str(kfl_plan::format::TASK_STATUS),
            Ty::List(inner) => write!(f, "list[{inner}]"),
            Ty::Range(inner) => write!(f, "range[{inner}]"),
            Ty::Object => f.write_str("object"),
            Ty::Enum(name) => write!(f, "{name}"),
            Ty::ModelDecl => f.write_str("model declaration"),
            Ty::ServeDecl => f.write_str("serve declaration"),
            Ty::VolumeDecl => f.write_str("volume"),
            Ty::SecretDecl => f.write_str("secret"),
            Ty::Stage => f.write_str("stage"),
            Ty::Call(name) => write!(f, "`{name}(…)`"),
            Ty::Error => f.write_str("{unknown}"),
        }
    }
}
