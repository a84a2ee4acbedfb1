//! The binding stage: every param's value, from its default or `-p NAME=VALUE`, parsed and type-checked once.
//!
//! `kfl build`, `kfl run` and the language server check a file with the same
//! [`BindOptions`]; the checker binds the params before any other declaration
//! and substitutes the bound values into every property the schema marks as
//! bound at build time (`schema::Binding::Build`: a namespace, `nodes`,
//! resources, `retries`, `replicas`, a dataset's `uri`, …), where it then
//! checks ranges and lowers them exactly as it does literals. Run-time
//! properties (`run`, `env`, `when`, …) keep the reference, which the
//! pipeline passes as a pipeline input. Back ends read [`Bindings`] and never
//! parse a `-p` value themselves, so they cannot fail on one.

use indexmap::IndexMap;

use crate::diagnostics::{Code, Diagnostic, Diagnostics, Label};
use crate::ir::Ty;
use crate::ir::{Param, Value};
use crate::source::Span;

/// How a file's params are bound.
#[derive(Clone, Debug, Default)]
pub struct BindOptions {
    /// `-p NAME=VALUE` overrides, as written on the command line.
    pub params: Vec<(String, String)>,
    /// Every param must have a value (`kfl build`, `kfl run`); `kfl check` and the
    /// language server leave a param without a default unbound.
    pub require_all: bool,
}

/// Param values after defaults and `-p` overrides, in declaration order.
#[derive(Clone, Debug, Default)]
pub struct Bindings {
    values: IndexMap<String, Value>,
    /// Params whose value came from `-p`, for diagnostics that name the override.
    overridden: IndexMap<String, String>,
}

impl Bindings {
    /// Binds `params` (already checked, defaults constant) with `options`; every bad `-p` value is a diagnostic.
    pub fn new(params: &[Param], options: &BindOptions, diagnostics: &mut Diagnostics) -> Bindings {
        let mut bindings = Bindings::default();
        for param in params {
            if let Some(default) = &param.default {
                bindings.values.insert(param.name.clone(), default.clone());
            }
        }
        for (name, text) in &options.params {
            let Some(param) = params.iter().find(|p| &p.name == name) else {
                let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                diagnostics.push(
                    Diagnostic::error(
                        Code::UnknownName,
                        format!("`-p {name}=…`: no param `{name}`"),
                        Label::bare(Span::default()),
                    )
                    .with_optional_help(crate::resolve::suggest::help(name, &known)),
                );
                continue;
            };
            match parse_param(&param.ty, text) {
                Some(value) => {
                    bindings.values.insert(name.clone(), value);
                    bindings.overridden.insert(name.clone(), text.clone());
                }
                None => diagnostics.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("`-p {name}={text}`: not a valid {}", param.ty),
                        Label::new(param.span, format!("declared as {}", param.ty)),
                    )
                    .with_help(format!("give a {} value", param.ty)),
                ),
            }
        }
        if options.require_all {
            for param in params.iter().filter(|p| !bindings.values.contains_key(&p.name)) {
                diagnostics.push(
                    Diagnostic::error(
                        Code::MissingProperty,
                        format!("param `{}` has no default and no `-p` value", param.name),
                        Label::new(param.span, "no value"),
                    )
                    .with_help(format!("pass `-p {}=VALUE`", param.name)),
                );
            }
        }
        bindings
    }

    /// The bound value of a param; `None` for a param without a default that no `-p` set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Every bound param, in declaration order.
    pub fn values(&self) -> &IndexMap<String, Value> {
        &self.values
    }

    /// `-p NAME=TEXT` when the param's value came from the command line.
    pub fn override_text(&self, name: &str) -> Option<&str> {
        self.overridden.get(name).map(String::as_str)
    }
}

/// A param value from its `-p` text, read as the param's type.
fn parse_param(ty: &Ty, text: &str) -> Option<Value> {
    Some(match ty {
        Ty::Int => Value::Int(text.trim().parse().ok()?),
        Ty::Float => Value::Float(text.trim().parse().ok()?),
        Ty::Bool => Value::Bool(text.trim().parse().ok()?),
        Ty::String => Value::String(text.to_string()),
        Ty::Duration | Ty::Quantity | Ty::Cpu | Ty::Percent => {
            // The unit rules of a literal in the source, through the same parser.
            let (ast, _) = crate::syntax::parse(crate::source::FileId(0), &format!("param x: int = {}", text.trim()));
            let crate::ast::ItemKind::Param(param) = &ast.items.first()?.kind else { return None };
            let crate::ast::ExprKind::Number(lit) = &param.default.as_ref()?.kind else { return None };
            crate::typeck::units::read_number(lit, Some(ty)).ok()?.1
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_values_read_as_in_the_source() {
        assert_eq!(parse_param(&Ty::Percent, "30%"), Some(Value::Percent(30.0)));
        assert_eq!(parse_param(&Ty::Int, " 4"), Some(Value::Int(4)));
        assert_eq!(parse_param(&Ty::Int, "four"), None);
        assert!(matches!(parse_param(&Ty::Quantity, "8Gi"), Some(Value::Quantity(q)) if q.text == "8Gi"));
        assert_eq!(parse_param(&Ty::Quantity, "8 apples"), None);
    }
}
