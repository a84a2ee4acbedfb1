//! `when` conditions as the CEL strings the SDK writes in `triggerPolicy.condition`.

use super::*;

impl Builder<'_, '_> {
    /// The condition as the SDK writes it: CEL over
    /// `inputs.parameter_values['pipelinechannel--…']`, integers cast with `int()`.
    pub(super) fn cel(&mut self, scope: usize, value: &Value) -> String {
        self.cel_operand(scope, value, false).0
    }

    pub(super) fn cel_operand(&mut self, scope: usize, value: &Value, float_peer: bool) -> (String, bool) {
        match value {
            Value::Expr(expr) => match expr.as_ref() {
                Expr::Unary { op: UnaryOpName::Not, operand } => (format!("!({})", self.cel(scope, operand)), false),
                Expr::Unary { op: UnaryOpName::Neg, operand } => {
                    let (text, float) = self.cel_operand(scope, operand, float_peer);
                    (format!("-{text}"), float)
                }
                Expr::Binary { op, lhs, rhs } => {
                    let symbol = match op {
                        BinaryOpName::Or => "||",
                        BinaryOpName::And => "&&",
                        BinaryOpName::Eq => "==",
                        BinaryOpName::Ne => "!=",
                        BinaryOpName::Lt => "<",
                        BinaryOpName::Le => "<=",
                        BinaryOpName::Gt => ">",
                        BinaryOpName::Ge => ">=",
                        BinaryOpName::Add | BinaryOpName::Range => "+",
                        BinaryOpName::Sub => "-",
                        BinaryOpName::Mul => "*",
                        BinaryOpName::Div => "/",
                    };
                    if matches!(op, BinaryOpName::And | BinaryOpName::Or) {
                        return (format!("({}) {symbol} ({})", self.cel(scope, lhs), self.cel(scope, rhs)), false);
                    }
                    let lhs_float = self.is_float(lhs);
                    let rhs_float = self.is_float(rhs);
                    let float = float_peer || lhs_float || rhs_float;
                    let (left, _) = self.cel_operand(scope, lhs, float);
                    let (right, _) = self.cel_operand(scope, rhs, float);
                    let text = if matches!(lhs, Value::Expr(_)) { format!("({left})") } else { left };
                    let right = if matches!(rhs, Value::Expr(_)) { format!("({right})") } else { right };
                    (format!("{text} {symbol} {right}"), float)
                }
                Expr::If { cond, then, otherwise } => {
                    let c = self.cel(scope, cond);
                    let (t, _) = self.cel_operand(scope, then, float_peer);
                    let (o, _) = self.cel_operand(scope, otherwise, float_peer);
                    (format!("({c}) ? ({t}) : ({o})"), float_peer)
                }
            },
            Value::Ref(reference) => {
                let Some(source) = self.source_of(reference, scope) else { return ("null".into(), false) };
                let io = source.io().clone();
                let name = match self.reach(scope, &source) {
                    Bound::Parameter(ParameterBinding::ComponentInputParameter(name)) => name,
                    _ => source.channel(),
                };
                let access = format!("inputs.parameter_values['{name}']");
                match io {
                    Io::Parameter("NUMBER_INTEGER") if !float_peer => (format!("int({access})"), false),
                    Io::Parameter("NUMBER_DOUBLE") => (access, true),
                    _ => (access, false),
                }
            }
            Value::Int(n) if float_peer => (format_float(*n as f64), true),
            Value::Int(n) => (n.to_string(), false),
            Value::Float(x) => (format_float(*x), true),
            Value::Percent(p) => (format_float(p / 100.0), true),
            Value::Bool(b) => (b.to_string(), false),
            Value::Duration(d) => ((d.millis as f64 / 1000.0).to_string(), true),
            other => (format!("'{}'", scalar_text(other).unwrap_or_default().replace('\'', "\\'")), false),
        }
    }

    pub(super) fn is_float(&self, value: &Value) -> bool {
        match value {
            Value::Float(_) | Value::Percent(_) => true,
            Value::Ref(Ref::Output { stage, output, .. }) => {
                self.outputs.get(stage).and_then(|m| m.get(output)) == Some(&Io::Parameter("NUMBER_DOUBLE"))
            }
            Value::Ref(Ref::Best { tune, field, .. }) => {
                self.outputs.get(tune).and_then(|m| m.get(&best_key(field))) == Some(&Io::Parameter("NUMBER_DOUBLE"))
            }
            Value::Ref(Ref::Param { name }) => self.program.params.iter().any(|p| &p.name == name && p.ty == Ty::Float),
            _ => false,
        }
    }
}
