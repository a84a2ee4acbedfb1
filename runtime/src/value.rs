//! Values known at run time, and the evaluation of the plan's expressions (`when`, bindings, computed arguments).

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

/// Where an expression's references get their values.
pub trait Scope {
    fn param(&self, name: &str) -> Option<Value>;
    fn dataset(&self, name: &str, uri: &str) -> Value;
    /// Another stage's output; `fan_in`: the list over all iterations of a `for` stage.
    fn output(&self, stage: &str, output: &str, fan_in: bool) -> Result<Value, String>;
    fn best(&self, tune: &str, field: &str) -> Result<Value, String>;
    /// An input or output of the stage being evaluated.
    fn local(&self, name: &str) -> Result<Value, String>;
    fn loop_var(&self, name: &str) -> Result<Value, String>;
    fn builtin(&self, name: &str) -> Result<Value, String>;
}

/// Evaluates an expression; the error says which reference or operation failed.
pub fn eval(expr: &Expression, scope: &dyn Scope) -> Result<Value, String> {
    Ok(match expr {
        Expression::Constant { value } => Value::from(value),
        Expression::Param { name } => scope.param(name).ok_or_else(|| format!("param `{name}` has no value"))?,
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
                _ => return Err(format!("cannot apply `{op:?}` to {}", value.describe())),
            }
        }
        Expression::Binary { op, lhs, rhs } => binary(*op, lhs, rhs, scope)?,
        Expression::If { cond, then, otherwise } => match eval(cond, scope)? {
            Value::Bool(true) => eval(then, scope)?,
            Value::Bool(false) => eval(otherwise, scope)?,
            other => return Err(format!("`if` condition is {}, not a bool", other.describe())),
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
            fields.iter().map(|(key, value)| Ok((key.clone(), eval(value, scope)?))).collect::<Result<_, String>>()?,
        ),
        Expression::Call { name, .. } => return Err(format!("`{name}(…)` has no value at run time")),
    })
}

fn range(from: &Value, to: &Value) -> Result<Value, String> {
    match (from, to) {
        (Value::Int(a), Value::Int(b)) if b.saturating_sub(*a) <= 1_000_000 => {
            Ok(Value::List((*a..=*b).map(Value::Int).collect()))
        }
        (Value::Int(_), Value::Int(_)) => Err("range has more than 1,000,000 items".into()),
        _ => Err(format!("a range needs two ints, got {} and {}", from.describe(), to.describe())),
    }
}

fn binary(op: BinaryOpName, lhs: &Expression, rhs: &Expression, scope: &dyn Scope) -> Result<Value, String> {
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
                    x.partial_cmp(&y).ok_or_else(|| "cannot compare NaN".to_string())?
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
fn unreachable_logic() -> Result<Value, String> {
    Err("internal: logical operator evaluated twice".into())
}

fn arithmetic(op: BinaryOpName, a: &Value, b: &Value) -> Result<Value, String> {
    use BinaryOpName as Op;
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        let result = match op {
            Op::Add => x.checked_add(*y),
            Op::Sub => x.checked_sub(*y),
            Op::Mul => x.checked_mul(*y),
            _ => x.checked_div(*y),
        };
        return result.map(Value::Int).ok_or_else(|| format!("integer overflow or division by zero in {x} {op:?} {y}"));
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

fn numbers(a: &Value, b: &Value, op: BinaryOpName) -> Result<(f64, f64), String> {
    match (a.number(), b.number()) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => Err(format!("cannot apply `{op:?}` to {} and {}", a.describe(), b.describe())),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a.number(), b.number()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn as_bool(value: Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(format!("expected a bool, got {}", other.describe())),
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
        fn output(&self, stage: &str, _: &str, _: bool) -> Result<Value, String> {
            Err(format!("`{stage}` did not run"))
        }
        fn best(&self, _: &str, _: &str) -> Result<Value, String> {
            Err("no best".into())
        }
        fn local(&self, _: &str) -> Result<Value, String> {
            Ok(Value::Int(3))
        }
        fn loop_var(&self, _: &str) -> Result<Value, String> {
            Ok(Value::Int(2))
        }
        fn builtin(&self, _: &str) -> Result<Value, String> {
            Err("no builtins".into())
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
        assert_eq!(eval(&and, &Empty), Err("`s` did not run".into()));
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
