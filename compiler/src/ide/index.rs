//! The name index: every declaration and reference of a module, and the symbol each one stands for.
//!
//! Scoping follows `typeck::expr::Checker::path`: a stage's own inputs and
//! outputs first, then built-ins (`model_dir`, serving metrics), the loop
//! variable, file declarations and import aliases.

use crate::ast::{self, BlockKind, Entry, ExprKind, ItemKind, StageKind, StringPart};
use crate::ide::Analysis;
use crate::resolve::{DeclKind, Module};
use crate::source::{FileId, Span};
use crate::typeck::schema::{self, EnumSet, Nested, PropertySpec, Shape};

/// What a name in the source stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Symbol {
    /// A file-scope declaration (param, stage, dataset, component, …) of `file`.
    Decl { file: FileId, name: String },
    /// An input, output or metric of the stage or component `stage` declared in `file`.
    Field { file: FileId, stage: String, name: String },
    /// An import alias of `file`.
    Import { file: FileId, name: String },
    /// The variable of the `for` block that is top-level item `item` of `file`.
    LoopVar { file: FileId, item: usize, name: String },
    /// A whole file, named by an `import`.
    File { file: FileId },
    /// A property key of a declaration body.
    Property { owner: Owner, name: String },
    /// An enum value such as `torch` after `framework =`.
    EnumValue { set: EnumSet, value: String },
    /// `model_dir`, `port` in `serve`; serving metrics in `monitor` rules.
    Builtin { name: String },
}

impl Symbol {
    /// The name as written in the source.
    pub fn name(&self) -> String {
        match self {
            Symbol::Decl { name, .. }
            | Symbol::Field { name, .. }
            | Symbol::Import { name, .. }
            | Symbol::LoopVar { name, .. }
            | Symbol::Property { name, .. }
            | Symbol::Builtin { name } => name.clone(),
            Symbol::EnumValue { value, .. } => value.clone(),
            Symbol::File { .. } => String::new(),
        }
    }
}

/// The body a property key belongs to; picks its schema table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Block(BlockKind),
    Stage(StageKind),
    Rule,
    Nested(Nested),
}

impl Owner {
    pub fn tables(self) -> &'static [&'static [PropertySpec]] {
        match self {
            Owner::Block(kind) => match kind {
                BlockKind::Project => schema::PROJECT_SPECS,
                BlockKind::Secret => &[schema::SECRET],
                BlockKind::Volume => &[schema::VOLUME],
                BlockKind::Dataset => &[schema::DATASET],
                BlockKind::Notebook => schema::NOTEBOOK_SPECS,
                BlockKind::Tune => &[schema::TUNE],
                BlockKind::Model => &[schema::MODEL],
                BlockKind::Serve => schema::SERVE_SPECS,
                BlockKind::Monitor => &[schema::MONITOR],
            },
            Owner::Stage(StageKind::Train) => schema::TRAIN_SPECS,
            Owner::Stage(_) => schema::STEP_SPECS,
            Owner::Rule => &[schema::RULE],
            Owner::Nested(Nested::Resources) => &[schema::RESOURCES],
            Owner::Nested(Nested::Transformer) => &[schema::TRANSFORMER],
            Owner::Nested(Nested::Local) => &[schema::LOCAL],
        }
    }

    /// What the body is called in hover text.
    pub fn name(self) -> &'static str {
        match self {
            Owner::Block(kind) => kind.keyword(),
            Owner::Stage(kind) => kind.keyword(),
            Owner::Rule => "rule",
            Owner::Nested(Nested::Resources) => "resources",
            Owner::Nested(Nested::Transformer) => "transformer",
            Owner::Nested(Nested::Local) => "local",
        }
    }

    pub fn spec(self, name: &str) -> Option<&'static PropertySpec> {
        self.tables().iter().flat_map(|t| t.iter()).find(|s| s.name == name)
    }
}

/// One name in the source and what it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub span: Span,
    pub symbol: Symbol,
    /// Whether this is where the symbol is declared.
    pub declaration: bool,
}

/// Every name occurrence of `file`, in source order.
pub fn occurrences(analysis: Analysis<'_>, file: FileId) -> Vec<Occurrence> {
    let Some(index) = analysis.checked.modules.modules.iter().position(|m| m.file == file) else { return Vec::new() };
    let mut walker = Walker { analysis, module: &analysis.checked.modules.modules[index], out: Vec::new() };
    let items = &walker.module.ast.items;
    for (position, item) in items.iter().enumerate() {
        walker.item(item, position, &Scope::default());
    }
    let mut out = walker.out;
    out.sort_by_key(|o| (o.span.start, o.span.end));
    out.dedup_by(|a, b| a.span == b.span);
    out
}

/// The occurrence under byte `offset` of `file` (a cursor just after a name counts).
pub fn symbol_at(analysis: Analysis<'_>, file: FileId, offset: usize) -> Option<Occurrence> {
    let offset = u32::try_from(offset).ok()?;
    occurrences(analysis, file)
        .into_iter()
        .filter(|o| o.span.start <= offset && offset <= o.span.end)
        .min_by_key(|o| (o.span.end - o.span.start, u32::from(o.span.end == offset)))
}

/// The stage or component whose inputs and outputs `name` (declared in `module`) exposes:
/// itself, or for `step NAME = COMPONENT(…)` the component.
pub(crate) fn field_owner<'a>(
    analysis: Analysis<'a>,
    module: &'a Module,
    name: &str,
) -> Option<(&'a Module, &'a ast::StageDecl)> {
    let item = decl_item(module, name)?;
    match &item.kind {
        ItemKind::Stage(stage) => Some((module, stage)),
        ItemKind::StepCall(call) => {
            let (target, component) = component_target(analysis, module, &call.component)?;
            match &decl_item(target, &component.name)?.kind {
                ItemKind::Stage(stage) if stage.kind == StageKind::Component => Some((target, stage)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The stage searched by the tune `name`: the owner of `NAME.best.FIELD`.
pub(crate) fn tune_trial<'a>(
    analysis: Analysis<'a>,
    module: &'a Module,
    name: &str,
) -> Option<(&'a Module, &'a ast::StageDecl)> {
    let ItemKind::Block(block) = &decl_item(module, name)?.kind else { return None };
    let trial = block.body.properties().find(|p| p.key.joined() == "trial")?;
    let path = trial.value.as_path()?;
    let [head] = path.as_slice() else { return None };
    field_owner(analysis, module, &head.name)
}

/// The item declaring `name` in `module` (looking inside `for` blocks).
pub(crate) fn decl_item<'a>(module: &'a Module, name: &str) -> Option<&'a ast::Item> {
    let decl = module.decls.get(name)?;
    let item = module.ast.items.get(decl.item)?;
    match (decl.inner, &item.kind) {
        (Some(inner), ItemKind::For(block)) => block.items.get(inner),
        _ => Some(item),
    }
}

/// The module and name a component path (`split` or `common.split`) points at.
fn component_target<'a, 'p>(
    analysis: Analysis<'a>,
    module: &'a Module,
    path: &'p [ast::Ident],
) -> Option<(&'a Module, &'p ast::Ident)> {
    match path {
        [name] => Some((module, name)),
        [alias, name] => {
            let (index, _) = module.imports.get(alias.name.as_str())?;
            Some((analysis.module_at(*index)?, name))
        }
        _ => None,
    }
}

/// Names of a stage's inputs, outputs and metrics, with their declaring spans.
pub(crate) fn stage_fields(stage: &ast::StageDecl) -> Vec<(&str, Span)> {
    let mut fields: Vec<(&str, Span)> = Vec::new();
    fields.extend(stage.inputs.iter().flatten().map(|i| (i.name.name.as_str(), i.name.span)));
    fields.extend(stage.outputs.iter().flatten().map(|o| (o.name.name.as_str(), o.name.span)));
    for entry in &stage.body.entries {
        if let Entry::Fields(fields_entry) = entry
            && fields_entry.key.joined() == "metrics"
        {
            fields.extend(fields_entry.fields.iter().filter_map(|f| Some((f.key.simple()?, f.key.span))));
        }
    }
    fields
}

#[derive(Clone, Default)]
struct Scope {
    /// The enclosing stage (file, name) and its field names.
    stage: Option<(FileId, String, Vec<String>)>,
    builtins: Vec<&'static str>,
    loop_var: Option<(usize, String)>,
}

struct Walker<'a> {
    analysis: Analysis<'a>,
    module: &'a Module,
    out: Vec<Occurrence>,
}

impl<'a> Walker<'a> {
    fn push(&mut self, span: Span, symbol: Symbol, declaration: bool) {
        self.out.push(Occurrence { span, symbol, declaration });
    }

    fn decl(&mut self, name: &ast::Ident) {
        let symbol = Symbol::Decl { file: self.module.file, name: name.name.to_string() };
        self.push(name.span, symbol, true);
    }

    fn item(&mut self, item: &'a ast::Item, position: usize, scope: &Scope) {
        let file = self.module.file;
        match &item.kind {
            ItemKind::Import(import) => {
                let alias = match (&import.alias, &import.target) {
                    (Some(alias), _) => {
                        self.push(alias.span, Symbol::Import { file, name: alias.name.to_string() }, true);
                        Some(alias.name.to_string())
                    }
                    (None, ast::ImportTarget::Std { path, .. }) => path.last().map(|i| i.name.to_string()),
                    (None, ast::ImportTarget::File { path, .. }) => {
                        Some(path.rsplit('/').next().unwrap_or(path).trim_end_matches(".kfl").replace('-', "_"))
                    }
                };
                let target_span = match &import.target {
                    ast::ImportTarget::File { span, .. } | ast::ImportTarget::Std { span, .. } => *span,
                };
                let imported = alias
                    .and_then(|a| self.module.imports.get(&a))
                    .and_then(|(index, _)| self.analysis.module_at(*index));
                if let Some(imported) = imported {
                    self.push(target_span, Symbol::File { file: imported.file }, false);
                }
            }
            ItemKind::Param(param) => {
                self.decl(&param.name);
                if let Some(default) = &param.default {
                    self.expr(default, scope);
                }
            }
            ItemKind::Block(block) => {
                if block.kind != BlockKind::Project {
                    self.decl(&block.name);
                }
                let mut inner = scope.clone();
                if block.kind == BlockKind::Serve {
                    inner.builtins = schema::ServeBuiltin::NAMES.to_vec();
                }
                let trial = match block.kind {
                    BlockKind::Tune => tune_trial(self.analysis, self.module, &block.name.name),
                    _ => None,
                };
                self.block(&block.body, Owner::Block(block.kind), &inner, trial);
            }
            ItemKind::Stage(stage) => self.stage(stage, scope),
            ItemKind::StepCall(call) => {
                self.decl(&call.name);
                let target = component_target(self.analysis, self.module, &call.component);
                if let [alias, _] = call.component.as_slice() {
                    self.push(alias.span, Symbol::Import { file, name: alias.name.to_string() }, false);
                }
                if let Some((target, name)) = target {
                    let symbol = Symbol::Decl { file: target.file, name: name.name.to_string() };
                    self.push(name.span, symbol, false);
                }
                for arg in &call.args {
                    if let (Some(arg_name), Some((target, component))) = (&arg.name, target) {
                        let symbol = Symbol::Field {
                            file: target.file,
                            stage: component.name.to_string(),
                            name: arg_name.name.to_string(),
                        };
                        self.push(arg_name.span, symbol, false);
                    }
                    self.expr(&arg.value, scope);
                }
            }
            ItemKind::For(block) => {
                self.push(
                    block.var.span,
                    Symbol::LoopVar { file, item: position, name: block.var.name.to_string() },
                    true,
                );
                self.expr(&block.iterable, scope);
                let mut inner = scope.clone();
                inner.loop_var = Some((position, block.var.name.to_string()));
                for nested in &block.items {
                    self.item(nested, position, &inner);
                }
            }
        }
    }

    fn stage(&mut self, stage: &'a ast::StageDecl, scope: &Scope) {
        let file = self.module.file;
        self.decl(&stage.name);
        let field =
            |name: &ast::Ident| Symbol::Field { file, stage: stage.name.name.to_string(), name: name.name.to_string() };
        for input in stage.inputs.iter().flatten() {
            self.push(input.name.span, field(&input.name), true);
            if let Some(default) = &input.default {
                self.expr(default, scope);
            }
        }
        for output in stage.outputs.iter().flatten() {
            self.push(output.name.span, field(&output.name), true);
        }
        let names = stage_fields(stage).into_iter().map(|(n, _)| n.to_string()).collect();
        let mut inner = scope.clone();
        inner.stage = Some((file, stage.name.name.to_string(), names));
        for entry in &stage.body.entries {
            if let Entry::Fields(fields) = entry
                && fields.key.joined() == "metrics"
            {
                for f in &fields.fields {
                    if let Some(name) = f.key.simple() {
                        let symbol = Symbol::Field { file, stage: stage.name.name.to_string(), name: name.to_string() };
                        self.push(f.key.span, symbol, true);
                    }
                }
            }
        }
        self.block(&stage.body, Owner::Stage(stage.kind), &inner, None);
    }

    /// A declaration body; `trial` is the stage a `tune` searches (for `space` keys and `objective`).
    fn block(
        &mut self,
        body: &'a ast::Block,
        owner: Owner,
        scope: &Scope,
        trial: Option<(&'a Module, &'a ast::StageDecl)>,
    ) {
        for entry in &body.entries {
            match entry {
                Entry::Property(property) => self.property(property, owner, scope, trial),
                Entry::Fields(fields) => {
                    if let Some(name) = fields.key.simple() {
                        self.push(fields.key.span, Symbol::Property { owner, name: name.to_string() }, false);
                    }
                }
                Entry::Mount(mount) => {
                    self.expr(&mount.volume, scope);
                    self.expr(&mount.path, scope);
                }
                Entry::Rule(rule) => {
                    let mut inner = scope.clone();
                    inner.builtins = schema::ServingMetric::NAMES.to_vec();
                    self.block(&rule.body, Owner::Rule, &inner, None);
                }
            }
        }
    }

    fn property(
        &mut self,
        property: &'a ast::Property,
        owner: Owner,
        scope: &Scope,
        trial: Option<(&'a Module, &'a ast::StageDecl)>,
    ) {
        let spec = property.key.simple().and_then(|name| owner.spec(name));
        let Some(spec) = spec else {
            self.expr(&property.value, scope);
            return;
        };
        self.push(property.key.span, Symbol::Property { owner, name: spec.name.to_string() }, false);
        let value = property.value.unparen();
        let trial_field = |name: &str| {
            trial.map(|(module, stage)| Symbol::Field {
                file: module.file,
                stage: stage.name.name.to_string(),
                name: name.to_string(),
            })
        };
        match (spec.shape, &value.kind) {
            (Shape::Enum(set), ExprKind::Name(name)) => {
                self.push(name.span, Symbol::EnumValue { set, value: name.name.to_string() }, false);
            }
            (Shape::IntOrAuto, ExprKind::Name(name)) if name.name == "auto" => {}
            (Shape::Nested(nested), ExprKind::Object(block)) => self.block(block, Owner::Nested(nested), scope, None),
            (Shape::Space, ExprKind::Object(block)) => {
                for entry in block.properties() {
                    if let Some(symbol) = entry.key.simple().and_then(trial_field) {
                        self.push(entry.key.span, symbol, false);
                    }
                    self.call_args(&entry.value, scope);
                }
            }
            (Shape::Objective, ExprKind::Call(_, args)) => {
                for arg in args {
                    if let ExprKind::Name(name) = &arg.value.kind
                        && let Some(symbol) = trial_field(&name.name)
                    {
                        self.push(name.span, symbol, false);
                    } else {
                        self.expr(&arg.value, scope);
                    }
                }
            }
            (Shape::Algorithm | Shape::EarlyStop | Shape::Autoscale, _) => self.call_args(value, scope),
            (Shape::Tolerations, ExprKind::List(items)) => {
                for item in items {
                    let ExprKind::Call(_, args) = &item.kind else { continue };
                    for arg in args {
                        let set = match arg.name.as_ref().map(|n| n.name.as_str()) {
                            Some("operator") => EnumSet::TolerationOperator,
                            Some("effect") => EnumSet::TaintEffect,
                            _ => {
                                self.expr(&arg.value, scope);
                                continue;
                            }
                        };
                        if let ExprKind::Name(name) = &arg.value.kind {
                            self.push(name.span, Symbol::EnumValue { set, value: name.name.to_string() }, false);
                        }
                    }
                }
            }
            _ => self.expr(value, scope),
        }
    }

    /// The arguments of `name(args)`, whose callee is a keyword of its property, not a reference.
    fn call_args(&mut self, e: &'a ast::Expr, scope: &Scope) {
        match &e.unparen().kind {
            ExprKind::Call(_, args) => {
                for arg in args {
                    self.expr(&arg.value, scope);
                }
            }
            _ => self.expr(e, scope),
        }
    }

    fn expr(&mut self, e: &'a ast::Expr, scope: &Scope) {
        match &e.kind {
            ExprKind::Number(_) | ExprKind::Bool(_) => {}
            ExprKind::String(lit) => {
                for part in &lit.parts {
                    if let StringPart::Interpolation(inner) = part {
                        self.expr(inner, scope);
                    }
                }
            }
            ExprKind::List(items) => items.iter().for_each(|i| self.expr(i, scope)),
            ExprKind::Object(block) => block.properties().for_each(|p| self.expr(&p.value, scope)),
            ExprKind::Name(_) | ExprKind::Member(..) => match e.as_path() {
                Some(path) => self.path(&path, scope),
                None => {
                    if let ExprKind::Member(base, _) = &e.kind {
                        self.expr(base, scope);
                    }
                }
            },
            ExprKind::Call(_, args) => args.iter().for_each(|a| self.expr(&a.value, scope)),
            ExprKind::Unary(_, operand) => self.expr(operand, scope),
            ExprKind::Binary(_, lhs, rhs) => {
                self.expr(lhs, scope);
                self.expr(rhs, scope);
            }
            ExprKind::If(cond, then, otherwise) => {
                self.expr(cond, scope);
                self.expr(then, scope);
                self.expr(otherwise, scope);
            }
            ExprKind::Paren(inner) => self.expr(inner, scope),
        }
    }

    fn path(&mut self, path: &[&ast::Ident], scope: &Scope) {
        let file = self.module.file;
        let head = path[0];
        let name = head.name.as_str();
        if let Some((stage_file, stage, names)) = &scope.stage
            && names.iter().any(|n| n == name)
        {
            let symbol = Symbol::Field { file: *stage_file, stage: stage.clone(), name: name.to_string() };
            self.push(head.span, symbol, false);
            return;
        }
        if scope.builtins.contains(&name) {
            self.push(head.span, Symbol::Builtin { name: name.to_string() }, false);
            return;
        }
        if let Some((item, var)) = &scope.loop_var
            && var == name
        {
            self.push(head.span, Symbol::LoopVar { file, item: *item, name: name.to_string() }, false);
            return;
        }
        if let Some(decl) = self.module.decls.get(name) {
            self.push(head.span, Symbol::Decl { file, name: name.to_string() }, false);
            let owner = match (decl.kind, path.get(1)) {
                (DeclKind::Step | DeclKind::Train, Some(_)) => {
                    field_owner(self.analysis, self.module, name).zip(path.get(1).copied())
                }
                (DeclKind::Tune, Some(best)) if best.name == "best" => {
                    tune_trial(self.analysis, self.module, name).zip(path.get(2).copied())
                }
                _ => None,
            };
            if let Some(((module, stage), field)) = owner
                && stage_fields(stage).iter().any(|(n, _)| *n == field.name)
            {
                let symbol = Symbol::Field {
                    file: module.file,
                    stage: stage.name.name.to_string(),
                    name: field.name.to_string(),
                };
                self.push(field.span, symbol, false);
            }
            return;
        }
        if let Some((index, _)) = self.module.imports.get(name) {
            self.push(head.span, Symbol::Import { file, name: name.to_string() }, false);
            if let (Some(member), Some(imported)) = (path.get(1), self.analysis.module_at(*index))
                && imported.decls.contains_key(member.name.as_str())
            {
                self.push(member.span, Symbol::Decl { file: imported.file, name: member.name.to_string() }, false);
            }
        }
    }
}
