//! Completion: declaration keywords, the properties of the current block, enum values after `prop =`, members after `.`.

use crate::ast::{ItemKind, StageKind};
use crate::ide::index::{Owner, decl_item, field_owner, stage_fields, tune_trial};
use crate::ide::scan::{Context, Header, context, is_ident_char};
use crate::ide::{Analysis, DECLARATIONS};
use crate::resolve::{DeclKind, Module};
use crate::source::{FileId, Span};
use crate::typeck::schema::{self, Shape};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    Keyword,
    Property,
    EnumValue,
    /// A file-scope declaration of the given kind.
    Declaration(DeclKind),
    /// A stage input, output or metric.
    Field,
    /// An import alias.
    Module,
    /// A call such as `maximize(…)`, `tpe(…)`, `loguniform(…)`.
    Function,
    /// `true`, `false`, `auto`, `best`, built-ins.
    Value,
}

/// One completion item. `replace` is the span of the partial word under the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
    pub documentation: Option<String>,
    pub insert_text: String,
    pub replace: Span,
}

/// What may be typed at byte `offset` of `file`. The file's text is read as is, so
/// completion works while the file does not parse; names come from the last check.
pub fn complete(analysis: Analysis<'_>, file: FileId, offset: usize) -> Vec<Completion> {
    let text = analysis.text(file);
    let Some(context) = context(text, offset) else { return Vec::new() };
    let replace = Span::new(file, context.word_start, offset.min(text.len()));
    let module = analysis.module(file);
    let mut out = Completer { analysis, module, replace, out: Vec::new() };
    out.run(&context);
    let mut items = out.out;
    let prefix = text.get(context.word_start..offset).unwrap_or("");
    items.retain(|c| c.label.starts_with(prefix));
    let mut seen = std::collections::BTreeSet::new();
    items.retain(|c| seen.insert(c.label.clone()));
    items
}

/// Where the cursor is, for the properties and names it may see.
enum Place {
    TopLevel,
    Body(Owner),
    Space,
    /// Free keys (`env`, `labels`, `k8s`) or an expression's braces.
    Free,
}

struct Completer<'a> {
    analysis: Analysis<'a>,
    module: Option<&'a Module>,
    replace: Span,
    out: Vec<Completion>,
}

impl<'a> Completer<'a> {
    fn add(&mut self, label: &str, kind: CompletionKind, detail: Option<String>, documentation: Option<String>) {
        self.add_with(label, kind, detail, documentation, label.to_string());
    }

    fn add_with(
        &mut self,
        label: &str,
        kind: CompletionKind,
        detail: Option<String>,
        documentation: Option<String>,
        insert_text: String,
    ) {
        let replace = self.replace;
        self.out.push(Completion { label: label.to_string(), kind, detail, documentation, insert_text, replace });
    }

    fn run(&mut self, context: &Context) {
        let place = place(&context.blocks);
        let before = context.statement_before_word();
        let stage = enclosing_stage(&context.blocks);
        if let Some(path) = before.strip_suffix('.') {
            let path: String = path.chars().rev().take_while(|c| is_ident_char(*c) || *c == '.').collect();
            let path: String = path.chars().rev().collect();
            self.members(&path);
            return;
        }
        let trimmed = before.trim_start();
        if !context.nested
            && let Some(key) = trimmed.trim_end().strip_suffix('=').map(str::trim_end)
            && key.chars().all(is_ident_char)
            && !key.is_empty()
        {
            self.value(key, &place, stage);
            return;
        }
        if trimmed.is_empty() && !context.nested {
            match place {
                Place::TopLevel => self.keywords(),
                Place::Body(owner) => self.properties(owner),
                Place::Space => self.trial_inputs(&context.blocks),
                Place::Free => {}
            }
            return;
        }
        self.names(stage, &place);
    }

    fn keywords(&mut self) {
        for (keyword, doc) in DECLARATIONS {
            let insert = format!("{keyword} ");
            self.add_with(keyword, CompletionKind::Keyword, Some("declaration".into()), Some(doc.to_string()), insert);
        }
    }

    fn properties(&mut self, owner: Owner) {
        for spec in owner.tables().iter().flat_map(|t| t.iter()) {
            let insert = match spec.shape {
                Shape::Nested(_) | Shape::Fields | Shape::Space | Shape::FreeObject | Shape::K8sPatch => {
                    format!("{} ", spec.name)
                }
                _ => format!("{} = ", spec.name),
            };
            let mut detail = schema::shape_name(spec.shape).replace("\\|", "|");
            if spec.required {
                detail.push_str(" · required");
            }
            if let Some(default) = spec.default {
                detail.push_str(&format!(" · default {default}"));
            }
            self.add_with(spec.name, CompletionKind::Property, Some(detail), Some(spec.doc.to_string()), insert);
        }
        let extra: &[(&str, &str)] = match owner {
            Owner::Stage(_) | Owner::Block(crate::ast::BlockKind::Notebook) => {
                &[("mount", "`mount VOLUME at \"/path\"`: mount a volume into the container.")]
            }
            Owner::Block(crate::ast::BlockKind::Monitor) => &[("rule", "`rule NAME { when = …, then = … }`")],
            _ => &[],
        };
        for (keyword, doc) in extra {
            self.add_with(keyword, CompletionKind::Keyword, None, Some(doc.to_string()), format!("{keyword} "));
        }
    }

    /// Values after `key =`.
    fn value(&mut self, key: &str, place: &Place, stage: Option<&str>) {
        let spec = match place {
            Place::Body(owner) => owner.spec(key),
            _ => None,
        };
        let Some(spec) = spec else {
            self.names(stage, place);
            return;
        };
        let decls_of = |kinds: &[DeclKind]| -> Vec<(String, DeclKind)> {
            self.module
                .map(|m| {
                    m.decls.iter().filter(|(_, d)| kinds.contains(&d.kind)).map(|(n, d)| (n.clone(), d.kind)).collect()
                })
                .unwrap_or_default()
        };
        match spec.shape {
            Shape::Enum(set) => {
                for value in set.values() {
                    self.add(value, CompletionKind::EnumValue, Some(set.name().to_string()), None);
                }
            }
            Shape::Bool => {
                for value in ["true", "false"] {
                    self.add(value, CompletionKind::Value, Some("bool".into()), None);
                }
            }
            Shape::IntOrAuto => self.add("auto", CompletionKind::Value, Some("let the runtime decide".into()), None),
            Shape::Trial | Shape::Stages | Shape::ModelDecl | Shape::ServeDecl | Shape::Secrets | Shape::Secret => {
                let kinds: &[DeclKind] = match spec.shape {
                    Shape::Trial => &[DeclKind::Step, DeclKind::Train],
                    Shape::ModelDecl => &[DeclKind::Model],
                    Shape::ServeDecl => &[DeclKind::Serve],
                    Shape::Secrets | Shape::Secret => &[DeclKind::Secret],
                    _ => &[DeclKind::Step, DeclKind::Train, DeclKind::Tune, DeclKind::Model, DeclKind::Serve],
                };
                for (name, kind) in decls_of(kinds) {
                    self.add(&name, CompletionKind::Declaration(kind), Some(kind.keyword().to_string()), None);
                }
            }
            Shape::Algorithm => {
                for name in schema::SearchAlgorithm::NAMES {
                    self.add_with(name, CompletionKind::Function, Some("algorithm".into()), None, format!("{name}()"));
                }
            }
            Shape::Objective => {
                for name in schema::OBJECTIVES {
                    self.add_with(name, CompletionKind::Function, Some("objective".into()), None, format!("{name}("));
                }
            }
            Shape::Autoscale => {
                for name in crate::ir::AutoscaleMetric::NAMES {
                    self.add_with(name, CompletionKind::Function, Some("autoscale".into()), None, format!("{name}("));
                }
            }
            Shape::EarlyStop => {
                for name in schema::EarlyStopAlgorithm::NAMES {
                    self.add_with(name, CompletionKind::Function, Some("early stop".into()), None, format!("{name}("));
                }
            }
            _ => self.names(stage, place),
        }
    }

    /// Members after `path.`: a stage's outputs, a tune's `best`, a module's components.
    fn members(&mut self, path: &str) {
        let Some(module) = self.module else { return };
        let parts: Vec<&str> = path.split('.').collect();
        let analysis = self.analysis;
        match parts.as_slice() {
            [head] if module.imports.contains_key(*head) => {
                let Some(imported) = module.imports.get(*head).and_then(|(i, _)| analysis.module_at(*i)) else {
                    return;
                };
                for (name, decl) in &imported.decls {
                    if decl.kind == DeclKind::Component {
                        let doc = decl_item(imported, name).and_then(|i| i.doc.as_ref()).map(|d| d.text.clone());
                        self.add(name, CompletionKind::Declaration(DeclKind::Component), Some("component".into()), doc);
                    }
                }
            }
            [head] => match module.decls.get(*head).map(|d| d.kind) {
                Some(DeclKind::Tune) => {
                    self.add("best", CompletionKind::Value, Some("the best trial".into()), None);
                }
                Some(DeclKind::Step | DeclKind::Train) => {
                    if let Some((owner_module, stage)) = field_owner(analysis, module, head) {
                        self.outputs(owner_module, stage, false);
                    }
                }
                _ => {}
            },
            [head, "best"] => {
                if let Some((owner_module, stage)) = tune_trial(analysis, module, head) {
                    self.outputs(owner_module, stage, true);
                }
            }
            _ => {}
        }
    }

    /// The outputs of a stage; with `all`, also its inputs and metrics (a tune's `best.NAME`).
    fn outputs(&mut self, module: &Module, stage: &crate::ast::StageDecl, all: bool) {
        let source = self.analysis.sources.get(module.file);
        for output in stage.outputs.iter().flatten() {
            let detail = format!("output: {}", source.slice(output.ty.span));
            self.add(&output.name.name, CompletionKind::Field, Some(detail), None);
        }
        if all {
            for (name, _) in stage_fields(stage) {
                self.add(name, CompletionKind::Field, Some("searched input or metric".into()), None);
            }
        }
    }

    fn trial_inputs(&mut self, blocks: &[Header]) {
        let Some(Header::Decl { name, .. }) = blocks.iter().find(|h| matches!(h, Header::Decl { .. })) else { return };
        let Some(module) = self.module else { return };
        if let Some((owner_module, stage)) = tune_trial(self.analysis, module, name) {
            let source = self.analysis.sources.get(owner_module.file);
            for input in stage.inputs.iter().flatten() {
                let detail = format!("input: {}", source.slice(input.ty.span));
                self.add_with(
                    &input.name.name,
                    CompletionKind::Field,
                    Some(detail),
                    None,
                    format!("{} = ", input.name.name),
                );
            }
        }
    }

    /// Names visible in an expression: the stage's own fields, built-ins, file declarations, imports.
    fn names(&mut self, stage: Option<&str>, place: &Place) {
        let Some(module) = self.module else { return };
        if let Some(stage) = stage
            && let Some(item) = decl_item(module, stage)
            && let ItemKind::Stage(decl) = &item.kind
        {
            for (name, _) in stage_fields(decl) {
                self.add(name, CompletionKind::Field, Some(format!("of {stage}")), None);
            }
        }
        if let Place::Body(Owner::Block(crate::ast::BlockKind::Serve)) = place {
            for builtin in schema::ServeBuiltin::ALL {
                let ty = schema::serve_builtin_ty(*builtin);
                self.add(builtin.name(), CompletionKind::Value, Some(ty.to_string()), None);
            }
        }
        if let Place::Body(Owner::Rule) = place {
            for metric in schema::ServingMetric::ALL {
                let ty = schema::serving_metric_ty(*metric);
                self.add(metric.name(), CompletionKind::Value, Some(ty.to_string()), None);
            }
        }
        for (name, decl) in &module.decls {
            if matches!(decl.kind, DeclKind::Component | DeclKind::Notebook | DeclKind::Monitor) {
                continue;
            }
            let doc = decl_item(module, name).and_then(|i| i.doc.as_ref()).map(|d| d.text.clone());
            self.add(name, CompletionKind::Declaration(decl.kind), Some(decl.kind.keyword().to_string()), doc);
        }
        for alias in module.imports.keys() {
            self.add(alias, CompletionKind::Module, Some("import".into()), None);
        }
        for value in ["true", "false"] {
            self.add(value, CompletionKind::Value, None, None);
        }
    }
}

fn place(blocks: &[Header]) -> Place {
    let mut place = Place::TopLevel;
    for header in blocks {
        place = match (header, &place) {
            (Header::For, Place::TopLevel) => Place::TopLevel,
            (Header::Decl { keyword, .. }, Place::TopLevel) => match owner_of(keyword) {
                Some(owner) => Place::Body(owner),
                None => Place::Free,
            },
            (Header::Rule, Place::Body(Owner::Block(crate::ast::BlockKind::Monitor))) => Place::Body(Owner::Rule),
            (Header::Key(key), Place::Body(owner)) => match owner.spec(key).map(|s| s.shape) {
                Some(Shape::Nested(nested)) => Place::Body(Owner::Nested(nested)),
                Some(Shape::Space) => Place::Space,
                _ => Place::Free,
            },
            _ => Place::Free,
        };
    }
    place
}

fn owner_of(keyword: &str) -> Option<Owner> {
    use crate::ast::BlockKind;
    Some(match keyword {
        "component" => Owner::Stage(StageKind::Component),
        "step" => Owner::Stage(StageKind::Step),
        "train" => Owner::Stage(StageKind::Train),
        "project" => Owner::Block(BlockKind::Project),
        "secret" => Owner::Block(BlockKind::Secret),
        "volume" => Owner::Block(BlockKind::Volume),
        "dataset" => Owner::Block(BlockKind::Dataset),
        "notebook" => Owner::Block(BlockKind::Notebook),
        "tune" => Owner::Block(BlockKind::Tune),
        "model" => Owner::Block(BlockKind::Model),
        "serve" => Owner::Block(BlockKind::Serve),
        "monitor" => Owner::Block(BlockKind::Monitor),
        _ => return None,
    })
}

fn enclosing_stage(blocks: &[Header]) -> Option<&str> {
    blocks.iter().find_map(|h| match h {
        Header::Decl { keyword, name } if matches!(keyword.as_str(), "component" | "step" | "train") => {
            Some(name.as_str())
        }
        _ => None,
    })
}
