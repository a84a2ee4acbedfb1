//! Expressions: name resolution in scopes, operator typing, units, interpolation, constant folding.

use crate::ast::{self, BinaryOp, ExprKind, StringPart, UnaryOp};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::Ty;
use crate::ir::{BestField, Expr as IrExpr, Ref, TemplatePart, Value};
use crate::resolve::{DeclKind, suggest};
use crate::typeck::Checker;
use crate::typeck::schema::Binding;
use crate::typeck::units::{UnitError, read_number};

/// What names mean at one point of the file.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    /// The enclosing stage's inputs and outputs (inside a body).
    pub locals: Vec<(String, Ty)>,
    /// `model_dir`/`port` in `serve`, serving metrics in `monitor` rules.
    pub builtins: Vec<(String, Ty)>,
    pub loop_var: Option<(String, Ty)>,
    /// The `for` block (top-level item index) we are inside, for fan-in typing.
    pub loop_item: Option<usize>,
}

impl Checker<'_> {
    pub(crate) fn expr(&mut self, e: &ast::Expr, scope: &Scope, expected: Option<&Ty>) -> (Ty, Value) {
        match &e.kind {
            ExprKind::Number(lit) => match read_number(
                lit,
                match expected {
                    Some(Ty::Range(inner)) => Some(inner.as_ref()),
                    other => other,
                },
            ) {
                Ok(result) => result,
                Err(UnitError::WrongUnit { message, help }) => {
                    let span = lit.unit_span.unwrap_or(e.span);
                    self.diags
                        .push(Diagnostic::error(Code::WrongUnit, message, Label::new(span, "here")).with_help(help));
                    (Ty::Error, Value::Int(0))
                }
                Err(UnitError::OutOfRange { message }) => {
                    self.diags.push(
                        Diagnostic::error(Code::OutOfRange, message, Label::new(e.span, "literal out of range"))
                            .with_help("numbers are 64-bit integers or finite floats"),
                    );
                    (Ty::Error, Value::Int(0))
                }
            },
            ExprKind::Bool(b) => (Ty::Bool, Value::Bool(*b)),
            ExprKind::String(lit) => self.string(lit, scope),
            ExprKind::List(items) => {
                let element_expected = match expected {
                    Some(Ty::List(inner)) => Some(inner.as_ref().clone()),
                    _ => None,
                };
                let mut element_ty: Option<Ty> = element_expected.clone();
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    let (ty, value) = self.expr(item, scope, element_ty.as_ref());
                    match &element_ty {
                        None => element_ty = Some(ty),
                        Some(existing) if !ty.fits(existing) && !existing.fits(&ty) => {
                            self.mismatch(item.span, existing, &ty, "list elements have one type");
                        }
                        Some(Ty::Int) if ty == Ty::Float => element_ty = Some(Ty::Float),
                        _ => {}
                    }
                    values.push(value);
                }
                (Ty::List(Box::new(element_ty.unwrap_or(Ty::Error))), Value::List(values))
            }
            ExprKind::Object(block) => {
                let mut map = indexmap::IndexMap::new();
                for property in block.properties() {
                    let (_, value) = self.expr(&property.value, scope, None);
                    map.insert(property.key.joined(), value);
                }
                (Ty::Object, Value::Object(map))
            }
            ExprKind::Paren(inner) => self.expr(inner, scope, expected),
            ExprKind::Name(_) | ExprKind::Member(..) => match e.as_path() {
                Some(path) => self.path(&path, scope),
                None => {
                    self.diags.push(
                        Diagnostic::error(Code::TypeMismatch, "only names have members", Label::new(e.span, "here"))
                            .with_help("write a reference such as `prepare.train`"),
                    );
                    (Ty::Error, Value::Int(0))
                }
            },
            ExprKind::Call(callee, _) => {
                let name = callee.as_path().map(|p| p.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join("."));
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("`{}(…)` cannot be called here", name.unwrap_or_default()),
                        Label::new(e.span, "call"),
                    )
                    .with_help("calls give values to `objective`, `algorithm`, `early_stop`, `autoscale` and `space`; components are called with `step NAME = COMPONENT(…)`"),
                );
                (Ty::Error, Value::Int(0))
            }
            ExprKind::Unary(op, operand) => self.unary(*op, operand, e.span, scope, expected),
            ExprKind::Binary(op, lhs, rhs) => self.binary(*op, lhs, rhs, e.span, scope, expected),
            ExprKind::If(cond, then, otherwise) => {
                let (cond_ty, cond_value) = self.expr(cond, scope, Some(&Ty::Bool));
                self.expect_ty(cond.span, &Ty::Bool, &cond_ty, "`if` needs a bool condition");
                let (then_ty, then_value) = self.expr(then, scope, expected);
                let (else_ty, else_value) = self.expr(otherwise, scope, Some(&then_ty));
                let ty = if else_ty.fits(&then_ty) {
                    then_ty
                } else if then_ty.fits(&else_ty) {
                    else_ty
                } else {
                    self.mismatch(otherwise.span, &then_ty, &else_ty, "both branches of `if` have one type");
                    Ty::Error
                };
                let value = match cond_value {
                    Value::Bool(true) => then_value,
                    Value::Bool(false) => else_value,
                    cond => Value::Expr(Box::new(IrExpr::If { cond, then: then_value, otherwise: else_value })),
                };
                (ty, value)
            }
        }
    }

    fn string(&mut self, lit: &ast::StringLit, scope: &Scope) -> (Ty, Value) {
        let mut parts = Vec::with_capacity(lit.parts.len());
        let mut dynamic = false;
        for part in &lit.parts {
            match part {
                StringPart::Text(text) => parts.push(TemplatePart::Text(text.clone())),
                StringPart::Interpolation(expr) => {
                    let (ty, value) = self.expr(expr, scope, None);
                    if !ty.is_interpolable() {
                        self.diags.push(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                format!("a {ty} cannot be interpolated"),
                                Label::new(expr.span, format!("this is a {ty}")),
                            )
                            .with_help("interpolate scalars, unit values and artifacts"),
                        );
                    }
                    match constant_text(&value) {
                        Some(text) => parts.push(TemplatePart::Text(text)),
                        None => {
                            dynamic = true;
                            parts.push(TemplatePart::Value(value));
                        }
                    }
                }
            }
        }
        if !dynamic {
            let text: String = parts
                .iter()
                .map(|p| match p {
                    TemplatePart::Text(t) => t.as_str(),
                    TemplatePart::Value(_) => "",
                })
                .collect();
            return (Ty::String, Value::String(text));
        }
        (Ty::String, Value::Template(parts))
    }

    fn unary(
        &mut self,
        op: UnaryOp,
        operand: &ast::Expr,
        span: crate::source::Span,
        scope: &Scope,
        expected: Option<&Ty>,
    ) -> (Ty, Value) {
        match op {
            UnaryOp::Not => {
                let (ty, value) = self.expr(operand, scope, Some(&Ty::Bool));
                self.expect_ty(operand.span, &Ty::Bool, &ty, "`!` applies to a bool");
                let value = match value {
                    Value::Bool(b) => Value::Bool(!b),
                    other => Value::Expr(Box::new(IrExpr::Unary { op: op.into(), operand: other })),
                };
                (Ty::Bool, value)
            }
            UnaryOp::Neg => {
                let (ty, value) = self.expr(operand, scope, expected);
                if !(ty.is_numeric() || ty.is_unit() || ty.is_error()) {
                    self.diags.push(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            format!("cannot negate a {ty}"),
                            Label::new(span, "here"),
                        )
                        .with_help("`-` applies to numbers and unit values"),
                    );
                    return (Ty::Error, value);
                }
                let value = match value {
                    Value::Int(n) => Value::Int(n.wrapping_neg()),
                    Value::Float(x) => Value::Float(-x),
                    Value::Percent(x) => Value::Percent(-x),
                    other => Value::Expr(Box::new(IrExpr::Unary { op: op.into(), operand: other })),
                };
                (ty, value)
            }
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: crate::source::Span,
        scope: &Scope,
        expected: Option<&Ty>,
    ) -> (Ty, Value) {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let (lt, lv) = self.expr(lhs, scope, Some(&Ty::Bool));
                self.expect_ty(lhs.span, &Ty::Bool, &lt, "`&&` and `||` join bools");
                let (rt, rv) = self.expr(rhs, scope, Some(&Ty::Bool));
                self.expect_ty(rhs.span, &Ty::Bool, &rt, "`&&` and `||` join bools");
                let value = match (&lv, &rv, op) {
                    (Value::Bool(a), Value::Bool(b), BinaryOp::And) => Value::Bool(*a && *b),
                    (Value::Bool(a), Value::Bool(b), _) => Value::Bool(*a || *b),
                    _ => runtime(op, lv, rv),
                };
                (Ty::Bool, value)
            }
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let ((lt, lv), (rt, rv)) = self.operands(lhs, rhs, scope, None);
                let comparable = lt.fits(&rt) || rt.fits(&lt);
                let ordered =
                    matches!(op, BinaryOp::Eq | BinaryOp::Ne) || lt.is_numeric() || lt.is_unit() || lt.is_error();
                if !comparable {
                    self.diags.push(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            format!("cannot compare a {lt} with a {rt}"),
                            // One label per operand and none around the whole: a label enclosing others on
                            // the same line is drawn with theirs pushed past its end.
                            Label::new(lhs.span, format!("this is a {lt}")),
                        )
                        .with_label(Label::new(rhs.span, format!("this is a {rt}")))
                        .with_help("compare values of one type; units must match (`latency_p95 > 250ms`)"),
                    );
                } else if !ordered {
                    self.diags.push(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            format!("`{}` needs numbers or unit values, found a {lt}", op.symbol()),
                            Label::new(span, "comparison"),
                        )
                        .with_help("order comparisons apply to numbers, durations, quantities, cpu and percentages"),
                    );
                }
                (Ty::Bool, runtime(op, lv, rv))
            }
            BinaryOp::Range => {
                let element = match expected {
                    Some(Ty::Range(inner)) => Some(inner.as_ref().clone()),
                    _ => None,
                };
                let ((lt, lv), (rt, rv)) = self.operands(lhs, rhs, scope, element.as_ref());
                let ty = if lt.fits(&rt) {
                    rt
                } else if rt.fits(&lt) {
                    lt
                } else {
                    self.mismatch(rhs.span, &lt, &rt, "both ends of a range have one type");
                    Ty::Error
                };
                (Ty::Range(Box::new(ty)), Value::Range(Box::new(lv), Box::new(rv)))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                let ((lt, lv), (rt, rv)) = self.operands(lhs, rhs, scope, expected);
                if lt == Ty::String || rt == Ty::String {
                    self.diags.push(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            format!("`{}` does not apply to strings", op.symbol()),
                            Label::new(span, "here"),
                        )
                        .with_help("join strings with interpolation: `\"${a}${b}\"`"),
                    );
                    return (Ty::Error, lv);
                }
                let scaling = matches!(op, BinaryOp::Mul | BinaryOp::Div);
                let ty = match (&lt, &rt) {
                    (Ty::Error, _) | (_, Ty::Error) => Ty::Error,
                    (Ty::Int, Ty::Int) => Ty::Int,
                    (a, b) if a.is_numeric() && b.is_numeric() => Ty::Float,
                    (a, b) if a.is_unit() && a == b => a.clone(),
                    (a, b) if scaling && a.is_unit() && b.is_numeric() => a.clone(),
                    (a, b) if op == BinaryOp::Mul && a.is_numeric() && b.is_unit() => b.clone(),
                    _ => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                format!("cannot apply `{}` to a {lt} and a {rt}", op.symbol()),
                                Label::new(span, "here"),
                            )
                            .with_help("arithmetic works on numbers and on two values of the same unit"),
                        );
                        Ty::Error
                    }
                };
                (ty, fold_arithmetic(op, lv, rv))
            }
        }
    }

    /// Types two operands, letting a literal read its unit from the other side.
    fn operands(
        &mut self,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        scope: &Scope,
        expected: Option<&Ty>,
    ) -> ((Ty, Value), (Ty, Value)) {
        let lhs_is_literal = matches!(lhs.unparen().kind, ExprKind::Number(_));
        if lhs_is_literal && expected.is_none() {
            let right = self.expr(rhs, scope, None);
            let left = self.expr(lhs, scope, Some(&right.0).filter(|t| !t.is_error()));
            (left, right)
        } else {
            let left = self.expr(lhs, scope, expected);
            let hint = if left.0.is_error() { expected.cloned() } else { Some(left.0.clone()) };
            let right = self.expr(rhs, scope, hint.as_ref());
            (left, right)
        }
    }

    /// Resolves `a`, `a.b`, `a.b.c` (spec §6 "Scopes").
    pub(crate) fn path(&mut self, path: &[&ast::Ident], scope: &Scope) -> (Ty, Value) {
        let head = path[0];
        let name = head.name.as_str();
        if let Some((_, ty)) = scope.locals.iter().find(|(n, _)| n == name) {
            let ty = ty.clone();
            return self.no_members(path, ty, Value::Ref(Ref::Local { name: name.to_string() }));
        }
        if let Some((_, ty)) = scope.builtins.iter().find(|(n, _)| n == name) {
            let ty = ty.clone();
            return self.no_members(path, ty, Value::Ref(Ref::Builtin { name: name.to_string() }));
        }
        if let Some((var, ty)) = &scope.loop_var
            && var == name
        {
            let ty = ty.clone();
            return self.no_members(path, ty, Value::Ref(Ref::LoopVar { name: name.to_string() }));
        }
        let Some(decl) = self.module.decls.get(name).cloned() else {
            if self.module.imports.contains_key(name) {
                self.diags.push(
                    Diagnostic::error(
                        Code::UnknownName,
                        match path.get(1) {
                            Some(member) => {
                                format!("`{name}.{}` is not a value: `{name}` is an imported module", member.name)
                            }
                            None => format!("`{name}` is an imported module, not a value"),
                        },
                        Label::new(head.span.to(path[path.len() - 1].span), "import alias"),
                    )
                    .with_help("only components are reachable through an import, as `step NAME = alias.component(…)`"),
                );
                return (Ty::Error, Value::Int(0));
            }
            let mut candidates: Vec<&str> = self.module.decls.keys().map(String::as_str).collect();
            candidates.extend(scope.locals.iter().map(|(n, _)| n.as_str()));
            candidates.extend(scope.builtins.iter().map(|(n, _)| n.as_str()));
            if let Some((var, _)) = &scope.loop_var {
                candidates.push(var);
            }
            self.diags.push(
                Diagnostic::error(
                    Code::UnknownName,
                    format!("unknown name `{name}`"),
                    Label::new(head.span, "not found in this scope"),
                )
                .with_optional_help(suggest::help(name, &candidates)),
            );
            return (Ty::Error, Value::Int(0));
        };
        self.used.insert(name.to_string());
        match decl.kind {
            DeclKind::Param => {
                let ty = self.param_types.get(name).cloned().unwrap_or(Ty::Error);
                // A property bound at build time reads the param's value (its default or `-p`), checked and
                // lowered like a literal; elsewhere the reference stays for the run to resolve.
                let value = match self.bindings.get(name) {
                    Some(bound) if self.binding == Binding::Build => bound.clone(),
                    _ => {
                        if self.binding == Binding::Run {
                            self.run_time_params.insert(name.to_string());
                        }
                        Value::Ref(Ref::Param { name: name.to_string() })
                    }
                };
                self.no_members(path, ty, value)
            }
            DeclKind::Dataset => {
                self.no_members(path, Ty::Dataset, Value::Ref(Ref::Dataset { name: name.to_string() }))
            }
            DeclKind::Volume => {
                self.no_members(path, Ty::VolumeDecl, Value::Ref(Ref::Volume { name: name.to_string() }))
            }
            DeclKind::Secret => {
                self.no_members(path, Ty::SecretDecl, Value::Ref(Ref::Secret { name: name.to_string() }))
            }
            DeclKind::Model => {
                self.note_dependency(name, head.span);
                self.no_members(path, Ty::ModelDecl, Value::Ref(Ref::Model { name: name.to_string() }))
            }
            DeclKind::Serve => {
                self.note_dependency(name, head.span);
                self.no_members(path, Ty::ServeDecl, Value::Ref(Ref::Serve { name: name.to_string() }))
            }
            DeclKind::Step | DeclKind::Train => self.stage_path(path, &decl, scope),
            DeclKind::Tune => self.tune_path(path),
            DeclKind::Monitor | DeclKind::Notebook | DeclKind::Component | DeclKind::Project | DeclKind::Import => {
                let what = decl.kind.keyword();
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("`{name}` is a {what} and has no value here"),
                        Label::new(head.span, format!("a {what}")),
                    )
                    .with_label(Label::new(decl.name_span, "declared here"))
                    .with_help(match decl.kind {
                        DeclKind::Component => "instantiate it first: `step NAME = COMPONENT(…)`",
                        _ => "refer to stages, their outputs, params and datasets",
                    }),
                );
                (Ty::Error, Value::Int(0))
            }
        }
    }

    fn stage_path(&mut self, path: &[&ast::Ident], decl: &crate::resolve::Decl, scope: &Scope) -> (Ty, Value) {
        let stage = path[0].name.as_str();
        if let Some(tune) = self.trial_of.get(stage).cloned()
            && path.len() > 1
        {
            self.diags.push(
                Diagnostic::error(
                    Code::UnknownOutput,
                    format!("`{stage}` is the trial of `{tune}` and has no outputs of its own"),
                    Label::new(path[0].span.to(path[path.len() - 1].span), "trial template"),
                )
                .with_help(format!("use the best trial's output: `{tune}.best.{}`", path[1].name)),
            );
            return (Ty::Error, Value::Int(0));
        }
        if path.len() == 1 {
            self.note_dependency(stage, path[0].span);
            return (Ty::Stage, Value::Ref(Ref::Stage { name: stage.to_string() }));
        }
        let output = path[1];
        let Some(sig) = self.sigs.get(stage) else { return (Ty::Error, Value::Int(0)) };
        let Some((_, ty)) = sig.outputs.iter().find(|(n, _)| *n == output.name) else {
            let names: Vec<&str> = sig.outputs.iter().map(|(n, _)| n.as_str()).collect();
            let help = suggest::help(&output.name, &names).or_else(|| {
                Some(if names.is_empty() {
                    format!("`{stage}` declares no outputs; add `-> (NAME: TYPE)` to it")
                } else {
                    format!(
                        "`{stage}` declares: {}",
                        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    )
                })
            });
            self.diags.push(
                Diagnostic::error(
                    Code::UnknownOutput,
                    format!("`{stage}` has no output `{}`", output.name),
                    Label::new(output.span, "unknown output"),
                )
                .with_label(Label::new(decl.name_span, "declared here"))
                .with_optional_help(help),
            );
            return (Ty::Error, Value::Int(0));
        };
        let mut ty = ty.clone();
        let fan_in = decl.loop_item.is_some() && decl.loop_item != scope.loop_item;
        if fan_in {
            ty = Ty::List(Box::new(ty));
        }
        self.note_dependency(stage, path[0].span.to(output.span));
        let value = Value::Ref(Ref::Output { stage: stage.to_string(), output: output.name.to_string(), fan_in });
        self.no_members(&path[1..], ty, value)
    }

    fn tune_path(&mut self, path: &[&ast::Ident]) -> (Ty, Value) {
        let tune = path[0].name.as_str();
        let whole = path[0].span.to(path[path.len() - 1].span);
        if path.len() == 1 {
            self.note_dependency(tune, path[0].span);
            return (Ty::Stage, Value::Ref(Ref::Stage { name: tune.to_string() }));
        }
        if path[1].name != "best" || path.len() < 3 {
            self.diags.push(
                Diagnostic::error(
                    Code::UnknownOutput,
                    format!("a tune exposes its best trial as `{tune}.best.NAME`"),
                    Label::new(whole, "here"),
                )
                .with_help(format!("write `{tune}.best.OUTPUT`, `{tune}.best.PARAM` or `{tune}.best.METRIC`")),
            );
            return (Ty::Error, Value::Int(0));
        }
        self.note_dependency(tune, whole);
        let field = path[2];
        let Some(trial) = self.tune_trials.get(tune).cloned() else { return (Ty::Error, Value::Int(0)) };
        let Some(sig) = self.sigs.get(&trial) else { return (Ty::Error, Value::Int(0)) };
        let found = sig
            .outputs
            .iter()
            .map(|(n, t)| (n, t, BestField::Output))
            .chain(sig.inputs.iter().map(|(n, t, _)| (n, t, BestField::Param)))
            .chain(sig.metrics.iter().map(|(n, t)| (n, t, BestField::Metric)))
            .find(|(n, _, _)| **n == field.name)
            .map(|(_, t, what)| (t.clone(), what));
        match found {
            Some((ty, what)) => {
                let value = Value::Ref(Ref::Best { tune: tune.to_string(), field: field.name.to_string(), what });
                self.no_members(&path[2..], ty, value)
            }
            None => {
                let names: Vec<&str> = sig
                    .outputs
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .chain(sig.inputs.iter().map(|(n, _, _)| n.as_str()))
                    .chain(sig.metrics.iter().map(|(n, _)| n.as_str()))
                    .collect();
                self.diags.push(
                    Diagnostic::error(
                        Code::UnknownOutput,
                        format!("the trial `{trial}` has no output, input or metric `{}`", field.name),
                        Label::new(field.span, "unknown"),
                    )
                    .with_optional_help(suggest::help(&field.name, &names)),
                );
                (Ty::Error, Value::Int(0))
            }
        }
    }

    /// Reports `x.y` where `x` has no members.
    fn no_members(&mut self, path: &[&ast::Ident], ty: Ty, value: Value) -> (Ty, Value) {
        if path.len() > 1 {
            let span = path[1].span.to(path[path.len() - 1].span);
            self.diags.push(
                Diagnostic::error(
                    Code::UnknownName,
                    format!("`{}` has no member `{}`", path[0].name, path[1].name),
                    Label::new(span, "no such member"),
                )
                .with_help(format!(
                    "`{}` is a {ty}; members exist on stages (`stage.output`) and tunes (`tune.best.name`)",
                    path[0].name
                )),
            );
            return (Ty::Error, value);
        }
        (ty, value)
    }

    /// `help` is only rendered on a mismatch, so pass `format_args!` rather than `&format!`.
    pub(crate) fn expect_ty(
        &mut self,
        span: crate::source::Span,
        expected: &Ty,
        found: &Ty,
        help: impl std::fmt::Display,
    ) -> bool {
        if found.fits(expected) {
            return true;
        }
        self.mismatch(span, expected, found, help);
        false
    }

    pub(crate) fn mismatch(
        &mut self,
        span: crate::source::Span,
        expected: &Ty,
        found: &Ty,
        help: impl std::fmt::Display,
    ) {
        self.diags.push(
            Diagnostic::error(
                Code::TypeMismatch,
                format!("expected {}, found {}", article(expected), article(found)),
                Label::new(span, format!("this is {}", article(found))),
            )
            .with_help(help.to_string()),
        );
    }
}

/// `a float`, `an int`, `a list[int]`.
/// `ty` with its indefinite article ("an int", "a string"), written only when displayed: help texts are built
/// with `format_args!` for every checked value and displayed only for the few that fail.
pub(crate) fn article(ty: &Ty) -> Article<'_> {
    Article(ty)
}

pub(crate) struct Article<'a>(&'a Ty);

impl std::fmt::Display for Article<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.to_string();
        let vowel = text.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']);
        write!(f, "{} {text}", if vowel { "an" } else { "a" })
    }
}

fn runtime(op: BinaryOp, lhs: Value, rhs: Value) -> Value {
    Value::Expr(Box::new(IrExpr::Binary { op: op.into(), lhs, rhs }))
}

fn fold_arithmetic(op: BinaryOp, lhs: Value, rhs: Value) -> Value {
    let folded = match (&lhs, &rhs) {
        (Value::Int(a), Value::Int(b)) => match op {
            BinaryOp::Add => a.checked_add(*b).map(Value::Int),
            BinaryOp::Sub => a.checked_sub(*b).map(Value::Int),
            BinaryOp::Mul => a.checked_mul(*b).map(Value::Int),
            BinaryOp::Div => a.checked_div(*b).map(Value::Int),
            _ => None,
        },
        (a, b) => match (a.as_f64(), b.as_f64(), a, b) {
            (Some(x), Some(y), Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                let r = match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    _ => x / y,
                };
                r.is_finite().then_some(Value::Float(r))
            }
            _ => None,
        },
    };
    folded.unwrap_or_else(|| runtime(op, lhs, rhs))
}

/// The text of a constant interpolated into a string.
fn constant_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Int(n) => n.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) | Value::Enum(s) => s.clone(),
        Value::Quantity(q) => q.text.clone(),
        Value::Cpu(c) => c.to_kubernetes(),
        _ => return None,
    })
}
