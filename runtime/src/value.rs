//! Values known at run time, and the evaluation of the plan's expressions (`when`, bindings, computed arguments).

use std::fmt;
use std::path::PathBuf;

use crate::plan::{BinaryOpName, Constant, Expression, UnaryOpName};

/// A value a stage receives or produces while the plan runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// A value with a unit (duration, quantity, cpu, percent): its number in base units and its source text.
    Unit {
        value: f64,
        text: String,
    },
    /// An artifact: a path the process reads (relative paths are relative to the `.kfl` file's folder).
    Path(PathBuf),
    List(Vec<Value>),
    /// A JSON object (`{ k = v }`), fields in source order. It renders as JSON once, however deep: a nested object
    /// is an object inside it, never a string of JSON quoted again at each level.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The text substituted into a command line: scalars as written, paths as paths, lists as a JSON array of
    /// texts (as KFP passes lists), objects as JSON.
    pub fn text(&self) -> String {
        match self {
            Value::Int(n) => n.to_string(),
            Value::Float(x) => format_float(*x),
            Value::Bool(b) => b.to_string(),
            Value::Str(s) => s.clone(),
            Value::Unit { text, .. } => text.clone(),
            Value::Path(p) => p.display().to_string(),
            Value::List(_) | Value::Object(_) => self.json().to_string(),
        }
    }

    /// The value as JSON (numbers stay numbers), for run records and list arguments.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Value::Int(n) => (*n).into(),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or_else(|| format_float(*x).into(), Into::into),
            Value::Bool(b) => (*b).into(),
            Value::List(items) => items.iter().map(Value::json).collect(),
            Value::Object(fields) => {
                serde_json::Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.json())).collect())
            }
            other => other.text().into(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::Float(x) => Some(*x),
            Value::Unit { value, .. } => Some(*value),
            _ => None,
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Value::Int(_) => "an int",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a bool",
            Value::Str(_) => "a string",
            Value::Unit { .. } => "a value with a unit",
            Value::Path(_) => "an artifact path",
            Value::List(_) => "a list",
            Value::Object(_) => "an object",
        }
    }
}

/// Shortest text that reads back as the same float; `2.0` keeps its point (as the compiler writes floats).
pub fn format_float(x: f64) -> String {
    let text = format!("{x}");
    if text.contains(['.', 'e', 'E']) || !x.is_finite() { text } else { format!("{text}.0") }
}

impl From<&Constant> for Value {
    fn from(constant: &Constant) -> Self {
        match constant {
            Constant::Int { value, .. } => Value::Int(*value),
            Constant::Float { value, .. } => Value::Float(*value),
            Constant::Bool { value, .. } => Value::Bool(*value),
            Constant::String { value, .. } | Constant::Enum { value, .. } => Value::Str(value.clone()),
            Constant::Duration { value, text } | Constant::Cpu { value, text } => {
                Value::Unit { value: *value as f64, text: text.clone() }
            }
            Constant::Quantity { value, text } | Constant::Percent { value, text } => {
                Value::Unit { value: *value, text: text.clone() }
            }
            Constant::List { items } => Value::List(items.iter().map(Value::from).collect()),
            Constant::Range { from, to } => {
                range(&Value::from(&**from), &Value::from(&**to)).unwrap_or(Value::List(vec![]))
            }
            Constant::Object { fields } => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect())
            }
        }
    }
}

/// Why an expression has no value at run time: the reference or the operation that failed, by name. Evaluation
/// writes nothing, so nothing needs keeping; the caller says which stage, input or `when` it was evaluating.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalError {
    UnboundParam {
        name: String,
    },
    UnknownStage {
        stage: String,
    },
    UnknownTune {
        tune: String,
    },
    NoIteration {
        stage: String,
        iteration: usize,
    },
    /// The stage ended in `state` (skipped, failed, …) without producing `output`.
    NotProduced {
        stage: String,
        state: &'static str,
        output: String,
    },
    NoOutput {
        stage: String,
        output: String,
    },
    NoBestTrial {
        tune: String,
    },
    NoBestField {
        tune: String,
        field: String,
    },
    /// An input or output of the stage itself, read before the stage runs.
    LocalBeforeRun {
        name: String,
    },
    LoopVarOutsideLoop {
        name: String,
    },
    /// A built-in (`request`, `response`, …) that only `serve` rules give a value.
    ServeOnly {
        name: String,
    },
    /// A call the compiler keeps for the cluster (e.g. `secret(…)`) that has no local value.
    NoRuntimeValue {
        call: String,
    },
    UnaryOperand {
        op: UnaryOpName,
        operand: &'static str,
    },
    BinaryOperands {
        op: BinaryOpName,
        lhs: &'static str,
        rhs: &'static str,
    },
    NotBool {
        what: &'static str,
        found: &'static str,
    },
    RangeTooLong {
        from: i64,
        to: i64,
    },
    RangeNotInts {
        from: &'static str,
        to: &'static str,
    },
    IntOverflow {
        lhs: i64,
        op: BinaryOpName,
        rhs: i64,
    },
    NanComparison,
    /// A logical operator reached the arithmetic path: a bug in kfl, not in the program.
    Internal,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::UnboundParam { name } => write!(f, "param `{name}` has no value"),
            EvalError::UnknownStage { stage } => write!(f, "no stage `{stage}` in the plan"),
            EvalError::UnknownTune { tune } => write!(f, "no tune `{tune}` in the plan"),
            EvalError::NoIteration { stage, iteration } => write!(f, "`{stage}` has no iteration {iteration}"),
            EvalError::NotProduced { stage, state, output } => {
                write!(f, "`{stage}` {state} and has no output `{output}`")
            }
            EvalError::NoOutput { stage, output } => write!(f, "`{stage}` has no output `{output}`"),
            EvalError::NoBestTrial { tune } => write!(f, "tune `{tune}` has no best trial"),
            EvalError::NoBestField { tune, field } => write!(f, "the best trial of `{tune}` has no `{field}`"),
            EvalError::LocalBeforeRun { name } => write!(f, "`{name}` has no value before the stage runs"),
            EvalError::LoopVarOutsideLoop { name } => write!(f, "loop variable `{name}` used outside its loop"),
            EvalError::ServeOnly { name } => write!(f, "`{name}` only has a value in `serve`"),
            EvalError::NoRuntimeValue { call } => write!(f, "`{call}(…)` has no value at run time"),
            EvalError::UnaryOperand { op, operand } => write!(f, "cannot apply `{op:?}` to {operand}"),
            EvalError::BinaryOperands { op, lhs, rhs } => write!(f, "cannot apply `{op:?}` to {lhs} and {rhs}"),
            EvalError::NotBool { what, found } => write!(f, "{what} is {found}, not a bool"),
            EvalError::RangeTooLong { from, to } => {
                write!(f, "range {from}..{to} has more than {MAX_RANGE_ITEMS} items")
            }
            EvalError::RangeNotInts { from, to } => write!(f, "a range needs two ints, got {from} and {to}"),
            EvalError::IntOverflow { lhs, op, rhs } => {
                write!(f, "integer overflow or division by zero in {lhs} {op:?} {rhs}")
            }
            EvalError::NanComparison => f.write_str("cannot compare NaN"),
            EvalError::Internal => f.write_str("internal: logical operator evaluated twice"),
        }
    }
}

impl std::error::Error for EvalError {}

/// The most items a range expands to at run time (a `for` over more is refused, not allocated).
const MAX_RANGE_ITEMS: i64 = 1_000_000;

/// Where an expression's references get their values.
pub trait Scope {
    fn param(&self, name: &str) -> Option<Value>;
    fn dataset(&self, name: &str, uri: &str) -> Value;
    /// Another stage's output; `fan_in`: the list over all iterations of a `for` stage.
    fn output(&self, stage: &str, output: &str, fan_in: bool) -> Result<Value, EvalError>;
    fn best(&self, tune: &str, field: &str) -> Result<Value, EvalError>;
    /// An input or output of the stage being evaluated.
    fn local(&self, name: &str) -> Result<Value, EvalError>;
    fn loop_var(&self, name: &str) -> Result<Value, EvalError>;
    fn builtin(&self, name: &str) -> Result<Value, EvalError>;
}

/// Evaluates an expression; the error says which reference or operation failed.
pub fn eval(expr: &Expression, scope: &dyn Scope) -> Result<Value, EvalError> {
    Ok(match expr {
        Expression::Constant { value } => Value::from(value),
        Expression::Param { name } => {
            scope.param(name).ok_or_else(|| EvalError::UnboundParam { name: name.clone() })?
        }
        Expression::Dataset { name, uri } => scope.dataset(name, uri),
        Expression::Output { stage, output, fan_in } => scope.output(stage, output, *fan_in)?,
        Expression::Best { tune, field, .. } => scope.best(tune, field)?,
        Expression::Local { name } => scope.local(name)?,
        Expression::LoopVar { name } => scope.loop_var(name)?,
        Expression::Builtin { name } => scope.builtin(name)?,
        Expression::Decl { decl, name } => Value::Str(format!("{decl} {name}")),
        Expression::Unary { op, operand } => {
            let value = eval(operand, scope)?;
            match (op, &value) {
                (UnaryOpName::Not, Value::Bool(b)) => Value::Bool(!b),
                (UnaryOpName::Neg, Value::Int(n)) => Value::Int(-n),
                (UnaryOpName::Neg, Value::Float(x)) => Value::Float(-x),
                _ => return Err(EvalError::UnaryOperand { op: *op, operand: value.describe() }),
            }
        }
        Expression::Binary { op, lhs, rhs } => binary(*op, lhs, rhs, scope)?,
        Expression::If { cond, then, otherwise } => match eval(cond, scope)? {
            Value::Bool(true) => eval(then, scope)?,
            Value::Bool(false) => eval(otherwise, scope)?,
            other => return Err(EvalError::NotBool { what: "`if` condition", found: other.describe() }),
        },
        Expression::Template { parts } => {
            let mut text = String::new();
            for part in parts {
                text.push_str(&eval(part, scope)?.text());
            }
            Value::Str(text)
        }
        Expression::List { items } => Value::List(items.iter().map(|i| eval(i, scope)).collect::<Result<_, _>>()?),
        Expression::Range { from, to } => range(&eval(from, scope)?, &eval(to, scope)?)?,
        Expression::Object { fields } => Value::Object(
            fields
                .iter()
                .map(|(key, value)| Ok((key.clone(), eval(value, scope)?)))
                .collect::<Result<_, EvalError>>()?,
        ),
        Expression::Call { name, .. } => return Err(EvalError::NoRuntimeValue { call: name.clone() }),
    })
}

fn range(from: &Value, to: &Value) -> Result<Value, EvalError> {
    match (from, to) {
        (Value::Int(a), Value::Int(b)) if b.saturating_sub(*a) <= MAX_RANGE_ITEMS => {
            Ok(Value::List((*a..=*b).map(Value::Int).collect()))
        }
        (Value::Int(a), Value::Int(b)) => Err(EvalError::RangeTooLong { from: *a, to: *b }),
        _ => Err(EvalError::RangeNotInts { from: from.describe(), to: to.describe() }),
    }
}

fn binary(op: BinaryOpName, lhs: &Expression, rhs: &Expression, scope: &dyn Scope) -> Result<Value, EvalError> {
    use BinaryOpName as Op;
    // `&&` and `||` short-circuit, so a skipped branch's references are never needed.
    if matches!(op, Op::And | Op::Or) {
        let left = as_bool(eval(lhs, scope)?)?;
        if (op == Op::And && !left) || (op == Op::Or && left) {
            return Ok(Value::Bool(left));
        }
        return Ok(Value::Bool(as_bool(eval(rhs, scope)?)?));
    }
    let (a, b) = (eval(lhs, scope)?, eval(rhs, scope)?);
    match op {
        Op::Eq => Ok(Value::Bool(equal(&a, &b))),
        Op::Ne => Ok(Value::Bool(!equal(&a, &b))),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ordering = match (&a, &b) {
                (Value::Str(x), Value::Str(y)) => x.cmp(y),
                _ => {
                    let (x, y) = numbers(&a, &b, op)?;
                    x.partial_cmp(&y).ok_or(EvalError::NanComparison)?
                }
            };
            Ok(Value::Bool(match op {
                Op::Lt => ordering.is_lt(),
                Op::Le => ordering.is_le(),
                Op::Gt => ordering.is_gt(),
                _ => ordering.is_ge(),
            }))
        }
        Op::Range => range(&a, &b),
        Op::Add | Op::Sub | Op::Mul | Op::Div => arithmetic(op, &a, &b),
        Op::And | Op::Or => unreachable_logic(),
    }
}

/// `&&`/`||` return above; kept as a function so the match stays exhaustive without a panic.
fn unreachable_logic() -> Result<Value, EvalError> {
    Err(EvalError::Internal)
}

fn arithmetic(op: BinaryOpName, a: &Value, b: &Value) -> Result<Value, EvalError> {
    use BinaryOpName as Op;
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        let result = match op {
            Op::Add => x.checked_add(*y),
            Op::Sub => x.checked_sub(*y),
            Op::Mul => x.checked_mul(*y),
            _ => x.checked_div(*y),
        };
        return result.map(Value::Int).ok_or(EvalError::IntOverflow { lhs: *x, op, rhs: *y });
    }
    if let (Op::Add, Value::Str(x), Value::Str(y)) = (op, a, b) {
        return Ok(Value::Str(format!("{x}{y}")));
    }
    let (x, y) = numbers(a, b, op)?;
    Ok(Value::Float(match op {
        Op::Add => x + y,
        Op::Sub => x - y,
        Op::Mul => x * y,
        _ => x / y,
    }))
}

fn numbers(a: &Value, b: &Value, op: BinaryOpName) -> Result<(f64, f64), EvalError> {
    match (a.number(), b.number()) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => Err(EvalError::BinaryOperands { op, lhs: a.describe(), rhs: b.describe() }),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a.number(), b.number()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn as_bool(value: Value) -> Result<bool, EvalError> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(EvalError::NotBool { what: "an operand of `&&`/`||`", found: other.describe() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Empty;
    impl Scope for Empty {
        fn param(&self, _: &str) -> Option<Value> {
            Some(Value::Float(0.5))
        }
        fn dataset(&self, _: &str, uri: &str) -> Value {
            Value::Path(uri.into())
        }
        fn output(&self, stage: &str, output: &str, _: bool) -> Result<Value, EvalError> {
            Err(EvalError::NotProduced { stage: stage.into(), state: "skipped", output: output.into() })
        }
        fn best(&self, tune: &str, _: &str) -> Result<Value, EvalError> {
            Err(EvalError::NoBestTrial { tune: tune.into() })
        }
        fn local(&self, _: &str) -> Result<Value, EvalError> {
            Ok(Value::Int(3))
        }
        fn loop_var(&self, _: &str) -> Result<Value, EvalError> {
            Ok(Value::Int(2))
        }
        fn builtin(&self, name: &str) -> Result<Value, EvalError> {
            Err(EvalError::ServeOnly { name: name.into() })
        }
    }

    fn parse(json: &str) -> Expression {
        serde_json::from_str(json).expect("test expression")
    }

    #[test]
    fn comparisons_widen_ints_and_short_circuit() {
        let ge = parse(
            r#"{"kind":"binary","op":"ge","lhs":{"kind":"param","name":"p"},
                "rhs":{"kind":"constant","value":{"type":"int","value":0,"text":"0"}}}"#,
        );
        assert_eq!(eval(&ge, &Empty), Ok(Value::Bool(true)));
        // The right side would fail; `||` must not evaluate it.
        let or = parse(
            r#"{"kind":"binary","op":"or","lhs":{"kind":"constant","value":{"type":"bool","value":true,"text":"true"}},
                "rhs":{"kind":"output","stage":"s","output":"o","fan_in":false}}"#,
        );
        assert_eq!(eval(&or, &Empty), Ok(Value::Bool(true)));
        let and = parse(
            r#"{"kind":"binary","op":"and","lhs":{"kind":"constant","value":{"type":"bool","value":true,"text":"true"}},
                "rhs":{"kind":"output","stage":"s","output":"o","fan_in":false}}"#,
        );
        let error = eval(&and, &Empty).expect_err("the right side is evaluated");
        assert_eq!(error.to_string(), "`s` skipped and has no output `o`");
    }

    #[test]
    fn templates_and_lists_render_as_command_line_text() {
        let template = parse(
            r#"{"kind":"template","parts":[{"kind":"constant","value":{"type":"string","value":"fold-","text":"fold-"}},
                {"kind":"loop_var","name":"i"}]}"#,
        );
        assert_eq!(eval(&template, &Empty).map(|v| v.text()), Ok("fold-2".into()));
        let list = Value::List(vec![Value::Float(0.5), Value::Str("a".into()), Value::Int(1)]);
        assert_eq!(list.text(), r#"[0.5,"a",1]"#);
        assert_eq!(Value::Float(2.0).text(), "2.0");
    }

    #[test]
    fn objects_render_as_json_once_at_any_depth_and_inside_lists() {
        let object = parse(
            r#"{"kind":"object","fields":{"a":{"kind":"object","fields":{"b":{"kind":"param","name":"p"}}},
                "c":{"kind":"list","items":[{"kind":"object","fields":{"d":{"kind":"loop_var","name":"i"}}}]}}}"#,
        );
        assert_eq!(eval(&object, &Empty).map(|v| v.text()), Ok(r#"{"a":{"b":0.5},"c":[{"d":2}]}"#.into()));
    }

    #[test]
    fn arithmetic_follows_the_compiler() {
        assert_eq!(arithmetic(BinaryOpName::Div, &Value::Int(7), &Value::Int(2)), Ok(Value::Int(3)));
        assert_eq!(arithmetic(BinaryOpName::Mul, &Value::Int(2), &Value::Float(0.25)), Ok(Value::Float(0.5)));
        assert!(arithmetic(BinaryOpName::Div, &Value::Int(1), &Value::Int(0)).is_err());
    }
}
