//! Checked values: constants with their units resolved, references to other declarations, and run-time expressions.

use indexmap::IndexMap;

use crate::ast::{BinaryOp, UnaryOp};
use crate::ir::Ty;
use crate::source::Span;

/// A value after type checking. Constants are folded; anything that depends
/// on a stage's result stays a reference or an expression evaluated at run time.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    String(String),
    Duration(Duration),
    Quantity(Quantity),
    Cpu(Cpu),
    /// A percentage, `20%` is `20.0`.
    Percent(f64),
    /// An enum value (`torch`, `read_write_once`, `v2`).
    Enum(String),
    List(Vec<Value>),
    /// Inclusive range `lo..hi`.
    Range(Box<Value>, Box<Value>),
    Object(IndexMap<String, Value>),
    /// A string with `${…}` parts.
    Template(Vec<TemplatePart>),
    Ref(Ref),
    /// A call that a property gives meaning to (`maximize(accuracy)`, `tpe(seed = 7)`).
    Call(Box<Call>),
    /// An expression over references, evaluated when its inputs are known.
    Expr(Box<Expr>),
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum TemplatePart {
    Text(String),
    Value(Value),
}

/// A duration in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Duration {
    pub millis: u64,
}

impl Duration {
    /// Whole seconds, rounded up (Kubernetes and KFP count in seconds).
    pub fn seconds(self) -> u64 {
        self.millis.div_ceil(1000)
    }
}

/// A memory or storage amount, kept as written (Kubernetes quantity syntax)
/// and in bytes for comparisons.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Quantity {
    pub text: String,
    pub bytes: f64,
}

/// CPU in millicores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Cpu {
    pub millis: u64,
}

impl Cpu {
    /// Kubernetes form: `2` for whole cores, `500m` otherwise.
    pub fn to_kubernetes(self) -> String {
        if self.millis.is_multiple_of(1000) { (self.millis / 1000).to_string() } else { format!("{}m", self.millis) }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Call {
    pub name: String,
    pub args: IndexMap<String, Value>,
    /// Positional arguments (`choice(8, 16, 32)`).
    pub positional: Vec<Value>,
}

/// What a reference points at, after name resolution.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "to")]
pub enum Ref {
    Param {
        name: String,
    },
    Dataset {
        name: String,
    },
    Volume {
        name: String,
    },
    Secret {
        name: String,
    },
    Model {
        name: String,
    },
    Serve {
        name: String,
    },
    /// A whole stage (`after = [prepare]`, `trial = classifier`).
    Stage {
        name: String,
    },
    /// `STAGE.OUTPUT`; `fan_in` when a `for` stage is read from outside its block.
    Output {
        stage: String,
        output: String,
        fan_in: bool,
    },
    /// `TUNE.best.NAME`: an output, a searched or default input, or a metric of the best trial.
    Best {
        tune: String,
        field: String,
        what: BestField,
    },
    /// An input or output of the enclosing stage (inside its body).
    Local {
        name: String,
    },
    /// The loop variable of the enclosing `for`.
    LoopVar {
        name: String,
    },
    /// `model_dir`, `port` in `serve`; serving metrics in `monitor` rules.
    Builtin {
        name: String,
    },
    /// A component through an import alias or a local component.
    Component {
        module: Option<String>,
        name: String,
    },
}

/// What `tune.best` names; the plan format's enum (`kfl-plan`).
pub use kfl_plan::BestField;

/// A run-time expression (in `when`, rule conditions, computed arguments).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "form")]
pub enum Expr {
    Unary { op: UnaryOpName, operand: Value },
    Binary { op: BinaryOpName, lhs: Value, rhs: Value },
    If { cond: Value, then: Value, otherwise: Value },
}

/// The operator names of the plan format (`kfl-plan`), made from the parser's operators.
pub use kfl_plan::{BinaryOpName, UnaryOpName};

impl From<UnaryOp> for UnaryOpName {
    fn from(op: UnaryOp) -> Self {
        match op {
            UnaryOp::Not => UnaryOpName::Not,
            UnaryOp::Neg => UnaryOpName::Neg,
        }
    }
}

impl From<BinaryOp> for BinaryOpName {
    fn from(op: BinaryOp) -> Self {
        match op {
            BinaryOp::Or => BinaryOpName::Or,
            BinaryOp::And => BinaryOpName::And,
            BinaryOp::Eq => BinaryOpName::Eq,
            BinaryOp::Ne => BinaryOpName::Ne,
            BinaryOp::Lt => BinaryOpName::Lt,
            BinaryOp::Le => BinaryOpName::Le,
            BinaryOp::Gt => BinaryOpName::Gt,
            BinaryOp::Ge => BinaryOpName::Ge,
            BinaryOp::Range => BinaryOpName::Range,
            BinaryOp::Add => BinaryOpName::Add,
            BinaryOp::Sub => BinaryOpName::Sub,
            BinaryOp::Mul => BinaryOpName::Mul,
            BinaryOp::Div => BinaryOpName::Div,
        }
    }
}

/// Back to the syntax's operator, for its symbol and precedence (`kfl graph` prints gates as source).
impl From<BinaryOpName> for BinaryOp {
    fn from(op: BinaryOpName) -> Self {
        match op {
            BinaryOpName::Or => BinaryOp::Or,
            BinaryOpName::And => BinaryOp::And,
            BinaryOpName::Eq => BinaryOp::Eq,
            BinaryOpName::Ne => BinaryOp::Ne,
            BinaryOpName::Lt => BinaryOp::Lt,
            BinaryOpName::Le => BinaryOp::Le,
            BinaryOpName::Gt => BinaryOp::Gt,
            BinaryOpName::Ge => BinaryOp::Ge,
            BinaryOpName::Range => BinaryOp::Range,
            BinaryOpName::Add => BinaryOp::Add,
            BinaryOpName::Sub => BinaryOp::Sub,
            BinaryOpName::Mul => BinaryOp::Mul,
            BinaryOpName::Div => BinaryOp::Div,
        }
    }
}

/// A value with its type and where it was written, so back ends can report
/// on the user's source.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Typed {
    pub value: Value,
    pub ty: Ty,
    #[serde(skip)]
    pub span: Span,
}

impl Value {
    /// References this value depends on, in order of appearance.
    pub fn refs(&self) -> Vec<&Ref> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs<'a>(&'a self, out: &mut Vec<&'a Ref>) {
        match self {
            Value::Ref(r) => out.push(r),
            Value::List(items) => items.iter().for_each(|v| v.collect_refs(out)),
            Value::Range(lo, hi) => {
                lo.collect_refs(out);
                hi.collect_refs(out);
            }
            Value::Object(map) => map.values().for_each(|v| v.collect_refs(out)),
            Value::Template(parts) => parts.iter().for_each(|p| {
                if let TemplatePart::Value(v) = p {
                    v.collect_refs(out);
                }
            }),
            Value::Call(call) => {
                call.args.values().for_each(|v| v.collect_refs(out));
                call.positional.iter().for_each(|v| v.collect_refs(out));
            }
            Value::Expr(expr) => match expr.as_ref() {
                Expr::Unary { operand, .. } => operand.collect_refs(out),
                Expr::Binary { lhs, rhs, .. } => {
                    lhs.collect_refs(out);
                    rhs.collect_refs(out);
                }
                Expr::If { cond, then, otherwise } => {
                    cond.collect_refs(out);
                    then.collect_refs(out);
                    otherwise.collect_refs(out);
                }
            },
            _ => {}
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::Float(x) | Value::Percent(x) => Some(*x),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Enum(s) => Some(s),
            _ => None,
        }
    }
}
