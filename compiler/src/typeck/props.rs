//! Declaration bodies against their schema: unknown, duplicate and missing properties, and each property's shape.

use indexmap::IndexMap;

use crate::ast::{self, Entry, ExprKind};
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::Ty;
use crate::ir::{AutoscaleMetric, Patch, Ref, Resources, Value};
use crate::resolve::{DeclKind, suggest};
use crate::source::Span;
use crate::typeck::Checker;
use crate::typeck::expr::{Scope, article};
use crate::typeck::schema::{self, EnumSet, PropertySpec, Shape};

/// The checked properties of one block, by name, with where each was written.
#[derive(Debug, Default)]
pub(crate) struct Props {
    pub values: IndexMap<String, (Value, Span)>,
    pub fields: Vec<(String, Ty, Span)>,
    pub mounts: Vec<(ast::Mount, Option<String>)>,
    pub rules: Vec<ast::MonitorRule>,
    pub patches: Vec<Patch>,
    /// The schema's default of every omitted property that has one.
    pub defaults: IndexMap<&'static str, Value>,
}

impl Props {
    /// The value as written, without the schema's default.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).map(|(v, _)| v)
    }

    /// The value as written, else the schema's default.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.get(name).or_else(|| self.defaults.get(name))
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.value(name).and_then(|v| v.as_str().map(str::to_string))
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_int).or_else(|| self.defaults.get(name).and_then(Value::as_int))
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        let boolean = |v: &Value| match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        };
        self.get(name).and_then(boolean).or_else(|| self.defaults.get(name).and_then(boolean))
    }

    pub fn object(&self, name: &str) -> IndexMap<String, Value> {
        match self.get(name) {
            Some(Value::Object(map)) => map.clone(),
            _ => IndexMap::new(),
        }
    }

    pub fn list(&self, name: &str) -> Option<Vec<Value>> {
        match self.get(name) {
            Some(Value::List(items)) => Some(items.clone()),
            _ => None,
        }
    }

    pub fn names(&self, name: &str) -> Vec<String> {
        self.list(name)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| match v {
                Value::Ref(Ref::Stage { name } | Ref::Secret { name } | Ref::Model { name } | Ref::Serve { name }) => {
                    Some(name.clone())
                }
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Where a block stands, for statements that are only valid in some places.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Allow {
    pub mounts: bool,
    pub rules: bool,
}

impl Checker<'_> {
    /// Checks a body against `specs`; `owner` names the block in messages.
    pub(crate) fn props(
        &mut self,
        block: &ast::Block,
        specs: &[&[PropertySpec]],
        owner: &str,
        owner_span: Span,
        scope: &Scope,
        allow: Allow,
    ) -> Props {
        let mut props = Props::default();
        let mut seen: IndexMap<String, Span> = IndexMap::new();
        for entry in &block.entries {
            match entry {
                Entry::Property(property) => {
                    let name = property.key.joined();
                    let Some(spec) = find(specs, &name) else {
                        self.unknown_property(&property.key, &name, specs, owner);
                        continue;
                    };
                    if let Some(previous) = seen.get(&name) {
                        self.set_twice(&name, property.key.span, *previous);
                        continue;
                    }
                    seen.insert(name.clone(), property.key.span);
                    if spec.shape == Shape::Fields {
                        self.diags.push(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                format!("`{name}` declares fields"),
                                Label::new(property.span, "assigned here"),
                            )
                            .with_help(format!("write `{name} {{ accuracy: float }}`")),
                        );
                        continue;
                    }
                    if spec.shape == Shape::K8sPatch {
                        self.patch(&property.value, Vec::new(), &mut props.patches);
                        continue;
                    }
                    let outer = std::mem::replace(&mut self.binding, spec.binding);
                    let value = self.shape(spec, &property.value, scope);
                    self.binding = outer;
                    if let Some(value) = value {
                        props.values.insert(name, (value, property.value.span));
                    }
                }
                Entry::Fields(fields) => {
                    let name = fields.key.joined();
                    match find(specs, &name) {
                        Some(spec) if spec.shape == Shape::Fields => {
                            if let Some(previous) = seen.get(&name) {
                                self.set_twice(&name, fields.key.span, *previous);
                                continue;
                            }
                            seen.insert(name, fields.key.span);
                            for field in &fields.fields {
                                let ty = self.type_expr(&field.ty);
                                let field_name = field.key.joined();
                                if let Some((_, _, first)) = props.fields.iter().find(|(n, _, _)| *n == field_name) {
                                    self.set_twice(&field_name, field.key.span, *first);
                                    continue;
                                }
                                if !(ty.is_numeric() || ty.is_error()) {
                                    self.diags.push(
                                        Diagnostic::error(
                                            Code::TypeMismatch,
                                            format!("metric `{field_name}` must be a number, found {}", article(&ty)),
                                            Label::new(field.ty.span, "here"),
                                        )
                                        .with_help("metrics are `float` or `int`"),
                                    );
                                }
                                props.fields.push((field_name, ty, field.key.span));
                            }
                        }
                        Some(_) => {
                            self.diags.push(
                                Diagnostic::error(
                                    Code::TypeMismatch,
                                    format!("`{name}` takes a value, not field declarations"),
                                    Label::new(fields.span, "here"),
                                )
                                .with_help(format!("write `{name} = …` or `{name} {{ key = value }}`")),
                            );
                        }
                        None => self.unknown_property(&fields.key, &name, specs, owner),
                    }
                }
                Entry::Mount(mount) => {
                    if !allow.mounts {
                        self.not_allowed(
                            mount.keyword,
                            "`mount`",
                            owner,
                            "mount volumes in stages, notebooks and serves",
                        );
                        continue;
                    }
                    let (ty, value) = self.expr(&mount.volume, scope, None);
                    let volume = match value {
                        Value::Ref(Ref::Volume { name }) => Some(name),
                        _ => {
                            if !ty.is_error() {
                                self.diags.push(
                                    Diagnostic::error(
                                        Code::TypeMismatch,
                                        format!("expected a volume, found {}", article(&ty)),
                                        Label::new(mount.volume.span, "not a volume"),
                                    )
                                    .with_help("declare it with `volume NAME { size = 10Gi }`"),
                                );
                            }
                            None
                        }
                    };
                    let (path_ty, path) = self.expr(&mount.path, scope, Some(&Ty::String));
                    match path {
                        Value::String(p) if p.starts_with('/') => {}
                        Value::String(_) => {
                            self.diags.push(
                                Diagnostic::error(
                                    Code::OutOfRange,
                                    "a mount path must be absolute",
                                    Label::new(mount.path.span, "relative path"),
                                )
                                .with_help("start the path with `/`, e.g. `\"/data\"`"),
                            );
                        }
                        _ => {
                            self.expect_ty(
                                mount.path.span,
                                &Ty::String,
                                &path_ty,
                                "a mount path is a string such as `\"/data\"`",
                            );
                        }
                    }
                    props.mounts.push((mount.clone(), volume));
                }
                Entry::Rule(rule) => {
                    if !allow.rules {
                        self.not_allowed(rule.keyword, "`rule`", owner, "rules stand in `monitor` blocks");
                        continue;
                    }
                    props.rules.push(rule.clone());
                }
            }
        }
        for spec in specs.iter().flat_map(|t| t.iter()) {
            if !seen.contains_key(spec.name)
                && let Some(default) = spec.default.and_then(schema::DefaultValue::value)
            {
                props.defaults.insert(spec.name, default);
            }
        }
        for table in specs {
            for spec in table.iter().filter(|s| s.required) {
                if !seen.contains_key(spec.name) {
                    self.diags.push(
                        Diagnostic::error(
                            Code::MissingProperty,
                            format!("{owner} is missing `{}`", spec.name),
                            Label::new(owner_span, format!("needs `{}`", spec.name)),
                        )
                        .with_help(format!(
                            "add `{} = …` ({})",
                            spec.name,
                            lower_first(spec.doc.trim_end_matches('.'))
                        )),
                    );
                }
            }
        }
        props
    }

    fn unknown_property(&mut self, key: &ast::Key, name: &str, specs: &[&[PropertySpec]], owner: &str) {
        let names: Vec<&str> = specs.iter().flat_map(|t| t.iter().map(|s| s.name)).collect();
        let help = suggest::help(name, &names).unwrap_or_else(|| {
            format!("{owner} accepts: {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
        });
        self.diags.push(
            Diagnostic::error(
                Code::UnknownProperty,
                format!("unknown property `{name}` in {owner}"),
                Label::new(key.span, "unknown property"),
            )
            .with_help(help),
        );
    }

    pub(crate) fn set_twice(&mut self, name: &str, span: Span, previous: Span) {
        self.diags.push(
            Diagnostic::error(
                Code::DuplicateDeclaration,
                format!("`{name}` is set twice"),
                Label::new(span, "set again here"),
            )
            .with_label(Label::new(previous, "first set here"))
            .with_help("remove one of the two"),
        );
    }

    pub(crate) fn not_allowed(&mut self, span: Span, what: &str, owner: &str, help: &str) {
        self.diags.push(
            Diagnostic::error(
                Code::NotAllowedHere,
                format!("{what} is not allowed in {owner}"),
                Label::new(span, "not allowed here"),
            )
            .with_help(help.to_string()),
        );
    }

    /// Checks one value against its property's shape.
    fn shape(&mut self, spec: &PropertySpec, e: &ast::Expr, scope: &Scope) -> Option<Value> {
        let name = spec.name;
        Some(match spec.shape {
            Shape::Int { min } => {
                let (ty, value) = self.expr(e, scope, Some(&Ty::Int));
                self.expect_ty(e.span, &Ty::Int, &ty, format_args!("`{name}` is a whole number"));
                if let Some(n) = value.as_int().filter(|n| *n < min) {
                    self.out_of_range(
                        e.span,
                        &format!("`{name}` must be at least {min}, found {n}"),
                        &format!("use a value ≥ {min}"),
                    );
                }
                value
            }
            Shape::Float => self.typed(e, scope, &Ty::Float, name)?,
            Shape::Bool => self.typed(e, scope, &Ty::Bool, name)?,
            Shape::String => self.typed(e, scope, &Ty::String, name)?,
            Shape::Duration => self.typed(e, scope, &Ty::Duration, name)?,
            Shape::Quantity => self.typed(e, scope, &Ty::Quantity, name)?,
            Shape::Cpu => self.typed(e, scope, &Ty::Cpu, name)?,
            Shape::Percent => {
                let value = self.typed(e, scope, &Ty::Percent, name)?;
                if let Value::Percent(p) = value
                    && !(0.0..=100.0).contains(&p)
                {
                    self.out_of_range(
                        e.span,
                        &format!("`{name}` must be between 0% and 100%, found {p}%"),
                        "use a percentage from 0% to 100%",
                    );
                }
                value
            }
            Shape::Enum(set) => self.enum_value(e, set, name)?,
            Shape::CpuOrRange => self.request_limit(e, scope, &Ty::Cpu, name)?,
            Shape::QuantityOrRange => self.request_limit(e, scope, &Ty::Quantity, name)?,
            Shape::IntOrAuto => {
                if matches!(&e.kind, ExprKind::Name(n) if n.name == "auto") {
                    Value::Enum("auto".into())
                } else {
                    let (ty, value) = self.expr(e, scope, Some(&Ty::Int));
                    self.expect_ty(e.span, &Ty::Int, &ty, format_args!("`{name}` is a whole number or `auto`"));
                    if let Some(n) = value.as_int().filter(|n| *n < 1) {
                        self.out_of_range(
                            e.span,
                            &format!("`{name}` must be at least 1, found {n}"),
                            "use a value ≥ 1, or `auto`",
                        );
                    }
                    value
                }
            }
            Shape::Replicas => {
                let (ty, value) = self.expr(e, scope, Some(&Ty::Range(Box::new(Ty::Int))));
                let (lo, hi) = match &value {
                    Value::Range(lo, hi) => (lo.as_int(), hi.as_int()),
                    other => (other.as_int(), other.as_int()),
                };
                if !(ty.fits(&Ty::Int) || ty.fits(&Ty::Range(Box::new(Ty::Int)))) {
                    self.mismatch(e.span, &Ty::Int, &ty, "`replicas` is `N` or `lo..hi`");
                } else if let (Some(lo), Some(hi)) = (lo, hi)
                    && (lo < 0 || lo > hi)
                {
                    let (message, help) = if lo < 0 {
                        (format!("`replicas` cannot start below 0, found {lo}"), "use `0..N` to allow scaling to zero")
                    } else {
                        (
                            format!("`replicas = {lo}..{hi}`: the minimum {lo} is above the maximum {hi}"),
                            "write the smaller bound first, e.g. `1..3`",
                        )
                    };
                    self.out_of_range(e.span, &message, help);
                }
                value
            }
            Shape::Run => {
                // A command line mixes strings, numbers and artifacts: type each element alone.
                let ExprKind::List(items) = &e.kind else {
                    let (ty, value) = self.expr(e, scope, None);
                    if !ty.is_error() {
                        self.mismatch(
                            e.span,
                            &Ty::List(Box::new(Ty::String)),
                            &ty,
                            format_args!("`{name}` is a list: `[\"python3\", \"train.py\"]`"),
                        );
                    }
                    return Some(value);
                };
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    let (item_ty, value) = self.expr(item, scope, None);
                    // A fan-in list (`list[float]`) is passed as one JSON argument, as KFP does.
                    let fits = match &item_ty {
                        Ty::List(inner) => inner.is_interpolable(),
                        other => other.is_interpolable(),
                    };
                    if !fits {
                        self.diags.push(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                format!("{} cannot be a command-line argument", article(&item_ty)),
                                Label::new(item.span, "here"),
                            )
                            .with_help("arguments are scalars, unit values, artifacts and lists of them"),
                        );
                    }
                    values.push(value);
                }
                Value::List(values)
            }
            Shape::Strings => self.typed(e, scope, &Ty::List(Box::new(Ty::String)), name)?,
            Shape::Stages | Shape::Secrets => self.name_list(e, scope, spec.shape, name)?,
            Shape::FreeObject | Shape::K8sPatch => {
                let (ty, value) = self.expr(e, scope, Some(&Ty::Object));
                self.expect_ty(
                    e.span,
                    &Ty::Object,
                    &ty,
                    format_args!("`{name}` is an object: `{name} {{ KEY = value }}`"),
                );
                if let ExprKind::Object(block) = &e.kind {
                    self.free_entries(block, name, &value);
                }
                value
            }
            Shape::Nested(nested) => {
                let ExprKind::Object(block) = &e.kind else {
                    let (ty, _) = self.expr(e, scope, None);
                    self.mismatch(e.span, &Ty::Object, &ty, format_args!("`{name}` is a block: `{name} {{ … }}`"));
                    return None;
                };
                let props = self.props(
                    block,
                    &[schema::nested(nested)],
                    &format!("`{name}`"),
                    e.span,
                    scope,
                    Allow { mounts: false, rules: false },
                );
                Value::Object(props.values.into_iter().map(|(k, (v, _))| (k, v)).collect())
            }
            Shape::Fields => return None,
            Shape::Trial | Shape::Objective | Shape::Algorithm | Shape::EarlyStop | Shape::Space => {
                // Checked by `tune.rs`, which knows the trial.
                return None;
            }
            Shape::Autoscale => self.autoscale(e, scope)?,
            Shape::Labels => self.labels_shape(e, scope, name)?,
            Shape::Tolerations => self.tolerations_shape(e, scope, name)?,
            Shape::ModelDecl | Shape::ServeDecl | Shape::Secret => {
                let (want, kind, help) = schema::named_declaration(spec.shape);
                let (ty, value) = self.expr(e, scope, Some(&want));
                if !ty.fits(&want) {
                    self.diags.push(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            format!("`{name}` must name a `{kind}` declaration, found {}", article(&ty)),
                            Label::new(e.span, format!("this is {}", article(&ty))),
                        )
                        .with_help(help),
                    );
                }
                value
            }
            Shape::Artifact => {
                let (ty, value) = self.expr(e, scope, Some(&Ty::Artifact));
                if !ty.fits(&Ty::Artifact) {
                    self.mismatch(e.span, &Ty::Model, &ty, "`artifact` is a stage output such as `train.model`");
                }
                value
            }
            Shape::Condition => self.typed(e, scope, &Ty::Bool, name)?,
            Shape::Cron => {
                let value = self.typed(e, scope, &Ty::String, name)?;
                if let Value::String(text) = &value
                    && let Err(problem) = kfl_plan::cron::Cron::parse(text)
                {
                    self.out_of_range(
                        e.span,
                        &format!("`{text}` is not a cron schedule: {problem}"),
                        "five fields: minute hour day-of-month month day-of-week, e.g. `\"0 3 * * 1\"`",
                    );
                }
                value
            }
        })
    }

    fn typed(&mut self, e: &ast::Expr, scope: &Scope, want: &Ty, name: &str) -> Option<Value> {
        let (ty, value) = self.expr(e, scope, Some(want));
        self.expect_ty(e.span, want, &ty, format_args!("`{name}` takes {}", article(want)));
        Some(value)
    }

    pub(crate) fn out_of_range(&mut self, span: Span, message: &str, help: &str) {
        self.diags.push(
            Diagnostic::error(Code::OutOfRange, message.to_string(), Label::new(span, "out of range"))
                .with_help(help.to_string()),
        );
    }

    pub(crate) fn enum_value(&mut self, e: &ast::Expr, set: EnumSet, name: &str) -> Option<Value> {
        let values = set.values();
        match &e.kind {
            ExprKind::Name(ident) if values.contains(&ident.name.as_str()) => Some(Value::Enum(ident.name.to_string())),
            ExprKind::Name(ident) => {
                let help = set
                    .refusal(&ident.name)
                    .map(str::to_string)
                    .or_else(|| suggest::help(&ident.name, values))
                    .unwrap_or_else(|| format!("{}s are: {}", set.name(), values.join(", ")));
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("`{}` is not a {}", ident.name, set.name()),
                        Label::new(e.span, format!("unknown {}", set.name())),
                    )
                    .with_help(help),
                );
                None
            }
            ExprKind::String(lit) => {
                let text = lit.as_plain().unwrap_or_default();
                let help = if values.contains(&text.as_str()) {
                    format!("write `{name} = {text}` without quotes")
                } else {
                    format!("{}s are: {}", set.name(), values.join(", "))
                };
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("expected a {}, found a string", set.name()),
                        Label::new(e.span, "a string"),
                    )
                    .with_help(help),
                );
                None
            }
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("expected a {}", set.name()),
                        Label::new(e.span, "here"),
                    )
                    .with_help(format!("{}s are: {}", set.name(), values.join(", "))),
                );
                None
            }
        }
    }

    fn request_limit(&mut self, e: &ast::Expr, scope: &Scope, unit: &Ty, name: &str) -> Option<Value> {
        let (ty, value) = self.expr(e, scope, Some(&Ty::Range(Box::new(unit.clone()))));
        if let ExprKind::Binary(crate::ast::BinaryOp::Range, ..) = &e.unparen().kind {
            if let Value::Range(lo, hi) = &value {
                let order = match (lo.as_ref(), hi.as_ref()) {
                    (Value::Cpu(a), Value::Cpu(b)) => Some(a.millis <= b.millis),
                    (Value::Quantity(a), Value::Quantity(b)) => Some(a.bytes <= b.bytes),
                    _ => None,
                };
                if order == Some(false) {
                    self.out_of_range(
                        e.span,
                        &format!("`{name}` request is larger than its limit"),
                        "write `request..limit` with request ≤ limit",
                    );
                }
            }
            self.expect_ty(
                e.span,
                &Ty::Range(Box::new(unit.clone())),
                &ty,
                format_args!("`{name}` is one value or `request..limit`"),
            );
        } else {
            let help = match unit {
                Ty::Cpu => "cpu is a number of cores (`2`, `0.5`) or millicores (`500m`)",
                _ => "memory takes a unit: `512Mi`, `4Gi`",
            };
            self.expect_ty(e.span, unit, &ty, help);
        }
        Some(value)
    }

    fn name_list(&mut self, e: &ast::Expr, scope: &Scope, shape: Shape, name: &str) -> Option<Value> {
        let ExprKind::List(items) = &e.kind else {
            let (ty, _) = self.expr(e, scope, None);
            self.mismatch(
                e.span,
                &Ty::List(Box::new(Ty::Stage)),
                &ty,
                format_args!("`{name}` is a list: `{name} = [a, b]`"),
            );
            return None;
        };
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let (ty, value) = self.expr(item, scope, None);
            let ok = match shape {
                Shape::Secrets => ty == Ty::SecretDecl,
                _ => matches!(&value, Value::Ref(Ref::Stage { .. } | Ref::Model { .. } | Ref::Serve { .. })),
            };
            if !ok && !ty.is_error() {
                let what = if shape == Shape::Secrets { "a secret" } else { "a stage" };
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("expected {what}, found {}", article(&ty)),
                        Label::new(item.span, "here"),
                    )
                    .with_help(format!("`{name}` lists names of declarations")),
                );
                continue;
            }
            values.push(value);
        }
        Some(Value::List(values))
    }

    /// Free-form keys may use upper case, `.`, `-` and `/`; values are scalars.
    /// Entries of a free object (`env`, `labels`) are `KEY = value`, and no value is a secret declaration: its
    /// keys reach a process only through `secrets = [NAME]` (a `secretKeyRef` on the cluster, the variable
    /// of the same name locally), never as text.
    fn free_entries(&mut self, block: &ast::Block, owner: &str, value: &Value) {
        for entry in &block.entries {
            if let (Entry::Property(property), Value::Object(map)) = (entry, value)
                && let Some(Value::Ref(Ref::Secret { name })) = map.get(property.key.joined().as_str())
            {
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("`{owner}` values are text; `{name}` is a secret declaration, not its value"),
                        Label::new(property.value.span, "a secret"),
                    )
                    .with_help(format!(
                        "remove this entry and add `secrets = [{name}]`: each of its keys becomes an environment \
                         variable (a `secretKeyRef` on the cluster, read from your environment by `kfl run`)"
                    )),
                );
            }
            if !matches!(entry, Entry::Property(_)) {
                self.diags.push(
                    Diagnostic::error(
                        Code::NotAllowedHere,
                        format!("only `KEY = value` entries are allowed in `{owner}`"),
                        Label::new(entry.span(), "here"),
                    )
                    .with_help("write `KEY = value`"),
                );
            }
        }
    }

    fn patch(&mut self, e: &ast::Expr, prefix: Vec<(String, Span)>, out: &mut Vec<Patch>) {
        let ExprKind::Object(block) = &e.kind else {
            let scope = Scope::default();
            let (ty, value) = self.expr(e, &scope, None);
            if prefix.is_empty() {
                self.mismatch(e.span, &Ty::Object, &ty, "`k8s` is a block of `path = value` entries");
                return;
            }
            let (path, path_spans) = prefix.into_iter().unzip();
            out.push(Patch { path, value, span: e.span, path_spans });
            return;
        };
        for entry in &block.entries {
            match entry {
                Entry::Property(property) => {
                    let mut path = prefix.clone();
                    path.extend(property.key.segments.iter().map(|s| (s.text.to_string(), s.span)));
                    self.patch(&property.value, path, out);
                }
                other => {
                    let what = match other {
                        Entry::Mount(_) => "`mount`",
                        Entry::Rule(_) => "`rule`",
                        _ => "a field list",
                    };
                    self.diags.push(
                        Diagnostic::error(
                            Code::PatchDoesNotFit,
                            format!("{what} cannot stand in a `k8s` patch"),
                            Label::new(other.span(), "not a `path = value` entry"),
                        )
                        .with_help(format!(
                            "a `k8s` patch holds `path = value` entries only; move {what} out of the `k8s` block"
                        )),
                    )
                }
            }
        }
    }

    fn autoscale(&mut self, e: &ast::Expr, scope: &Scope) -> Option<Value> {
        let (callee, args) = self.call_parts(e, AutoscaleMetric::NAMES, "autoscale")?;
        // `call_parts` accepted only these names.
        let metric = AutoscaleMetric::from_name(&callee)?;
        let [arg] = args else {
            self.diags.push(
                Diagnostic::error(
                    Code::InvalidArgument,
                    format!("`{callee}(…)` takes one target"),
                    Label::new(e.span, "here"),
                )
                .with_help(format!("e.g. `{callee}({})`", if metric.is_utilisation() { "80%" } else { "8" })),
            );
            return None;
        };
        let want = if metric.is_utilisation() { Ty::Percent } else { Ty::Int };
        let (ty, value) = self.expr(&arg.value, scope, Some(&want));
        self.expect_ty(arg.value.span, &want, &ty, format_args!("`{callee}` takes {}", article(&want)));
        if value.as_f64().is_some_and(|v| v <= 0.0) {
            self.out_of_range(arg.value.span, "an autoscaling target must be positive", "use a target above zero");
        }
        Some(Value::Call(Box::new(crate::ir::Call { name: callee, args: IndexMap::new(), positional: vec![value] })))
    }

    /// Splits `name(args)` and checks `name` is one of `allowed`.
    pub(crate) fn call_parts<'e>(
        &mut self,
        e: &'e ast::Expr,
        allowed: &[&str],
        what: &str,
    ) -> Option<(String, &'e [ast::Arg])> {
        let (callee, args) = match &e.kind {
            ExprKind::Call(callee, args) => (callee, args.as_slice()),
            ExprKind::Name(ident) if allowed.contains(&ident.name.as_str()) => {
                self.diags.push(
                    Diagnostic::error(
                        Code::InvalidArgument,
                        format!("`{}` needs arguments", ident.name),
                        Label::new(e.span, "here"),
                    )
                    .with_help(format!("write `{}(…)`", ident.name)),
                );
                return None;
            }
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("`{what}` takes a call such as `{}(…)`", allowed[0]),
                        Label::new(e.span, "here"),
                    )
                    .with_help(format!(
                        "one of: {}",
                        allowed.iter().map(|a| format!("`{a}(…)`")).collect::<Vec<_>>().join(", ")
                    )),
                );
                return None;
            }
        };
        let Some(name) = callee.as_path().filter(|p| p.len() == 1).map(|p| p[0].name.clone()) else {
            self.diags.push(Diagnostic::error(
                Code::InvalidArgument,
                format!("unknown {what}"),
                Label::new(callee.span, "here"),
            ));
            return None;
        };
        if !allowed.contains(&name.as_str()) {
            self.diags.push(
                Diagnostic::error(
                    Code::InvalidArgument,
                    format!("unknown {what} `{name}`"),
                    Label::new(callee.span, "here"),
                )
                .with_help(suggest::help(&name, allowed).unwrap_or_else(|| format!("one of: {}", allowed.join(", ")))),
            );
            return None;
        }
        Some((name.to_string(), args))
    }

    /// Resolves `cpu`/`memory`/`gpu`, set directly or in `resources` (E0102 when both).
    pub(crate) fn resources(&mut self, props: &Props) -> Resources {
        let nested = match props.get("resources") {
            Some(Value::Object(map)) => map.clone(),
            _ => IndexMap::new(),
        };
        let resources_span = props.values.get("resources").map(|(_, s)| *s);
        let pick = |key: &str, checker: &mut Self| -> Option<Value> {
            let direct = props.values.get(key);
            match (direct, nested.get(key), resources_span) {
                (Some((_, span)), Some(_), Some(nested_span)) => {
                    checker.diags.push(
                        Diagnostic::error(
                            Code::DuplicateDeclaration,
                            format!("`{key}` is set both directly and in `resources`"),
                            Label::new(*span, "set here"),
                        )
                        .with_label(Label::new(nested_span, "and in `resources` here"))
                        .with_help("keep one of the two"),
                    );
                    None
                }
                (Some((v, _)), _, _) => Some(v.clone()),
                (None, Some(v), _) => Some(v.clone()),
                _ => None,
            }
        };
        let cpu = pick("cpu", self).and_then(|v| {
            pair(&v, |v| match v {
                Value::Cpu(c) => Some(*c),
                _ => None,
            })
        });
        let memory = pick("memory", self).and_then(|v| {
            pair(&v, |v| match v {
                Value::Quantity(q) => Some(q.clone()),
                _ => None,
            })
        });
        let gpu = pick("gpu", self).and_then(|v| v.as_int());
        Resources { cpu, memory, gpu, gpu_resource: None }
    }

    pub(crate) fn mount_list(&mut self, props: &Props) -> Vec<crate::ir::Mount> {
        props
            .mounts
            .iter()
            .filter_map(|(mount, volume)| {
                let path = match &mount.path.kind {
                    ExprKind::String(lit) => lit.as_plain()?,
                    _ => return None,
                };
                Some(crate::ir::Mount { volume: volume.clone()?, path })
            })
            .collect()
    }

    pub(crate) fn type_expr(&mut self, ty: &ast::TypeExpr) -> Ty {
        let arg = ty.arg.as_ref().map(|a| self.type_expr(a));
        match Ty::from_name(&ty.name.name, arg) {
            Some(t) => t,
            None => {
                let help = suggest::help(&ty.name.name, Ty::NAMES)
                    .unwrap_or_else(|| format!("types are: {}", Ty::NAMES.join(", ")));
                let message = if ty.name.name == "list" {
                    "`list` needs an element type: `list[float]`".to_string()
                } else {
                    format!("unknown type `{}`", ty.name.name)
                };
                self.diags
                    .push(Diagnostic::error(Code::UnknownName, message, Label::new(ty.span, "here")).with_help(help));
                Ty::Error
            }
        }
    }

    /// Records that the declaration being checked depends on stage `name`.
    pub(crate) fn note_dependency(&mut self, name: &str, span: Span) {
        if let Some(decl) = self.module.decls.get(name)
            && (decl.kind.is_stage() || decl.kind == DeclKind::Model || decl.kind == DeclKind::Serve)
        {
            self.pending_dependencies.push((name.to_string(), span));
        }
    }
}

fn find<'s>(specs: &[&'s [PropertySpec]], name: &str) -> Option<&'s PropertySpec> {
    specs.iter().flat_map(|t| t.iter()).find(|s| s.name == name)
}

/// `(request, limit)` from one value or a range.
fn pair<T: Clone>(value: &Value, extract: impl Fn(&Value) -> Option<T>) -> Option<(T, T)> {
    match value {
        Value::Range(lo, hi) => Some((extract(lo)?, extract(hi)?)),
        other => {
            let v = extract(other)?;
            Some((v.clone(), v))
        }
    }
}

/// "Command and arguments" → "command and arguments", for use mid-sentence.
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
