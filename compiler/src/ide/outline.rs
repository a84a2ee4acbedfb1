//! The outline of a file (document symbols) and semantic highlighting tokens.

use crate::ast::{self, Entry, ItemKind, TypeExpr};
use crate::ide::Analysis;
use crate::ide::index::{Symbol, occurrences};
use crate::resolve::DeclKind;
use crate::source::{FileId, Origin, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutlineKind {
    Import,
    Param,
    Declaration(DeclKind),
    Loop,
    Input,
    Output,
    Metric,
    Rule,
}

/// One entry of a file's outline; `range` covers the whole declaration, `selection` its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outline {
    pub name: String,
    pub kind: OutlineKind,
    pub detail: Option<String>,
    pub range: Span,
    pub selection: Span,
    pub children: Vec<Outline>,
}

/// The declarations of `file`, with stage inputs, outputs and metrics, and the contents of `for` blocks.
pub fn outline(analysis: Analysis<'_>, file: FileId) -> Vec<Outline> {
    let Some(module) = analysis.module(file) else { return Vec::new() };
    let source = analysis.sources.get(file);
    module.ast.items.iter().filter_map(|item| item_outline(item, source)).collect()
}

fn item_outline(item: &ast::Item, source: &crate::source::SourceFile) -> Option<Outline> {
    let leaf = |name: &ast::Ident, kind, detail: Option<String>, range| Outline {
        name: name.name.to_string(),
        kind,
        detail,
        range,
        selection: name.span,
        children: Vec::new(),
    };
    Some(match &item.kind {
        ItemKind::Import(import) => {
            let (path, span) = match &import.target {
                ast::ImportTarget::File { path, span } => (path.clone(), *span),
                ast::ImportTarget::Std { path, span } => {
                    (path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join("."), *span)
                }
            };
            let name = import.alias.as_ref().map_or(path.clone(), |a| a.name.to_string());
            Outline {
                name,
                kind: OutlineKind::Import,
                detail: Some(path),
                range: item.span,
                selection: span,
                children: Vec::new(),
            }
        }
        ItemKind::Param(param) => {
            leaf(&param.name, OutlineKind::Param, Some(source.slice(param.ty.span).to_string()), item.span)
        }
        ItemKind::Block(block) => {
            let kind = match block.kind {
                ast::BlockKind::Project => DeclKind::Project,
                ast::BlockKind::Secret => DeclKind::Secret,
                ast::BlockKind::Volume => DeclKind::Volume,
                ast::BlockKind::Dataset => DeclKind::Dataset,
                ast::BlockKind::Notebook => DeclKind::Notebook,
                ast::BlockKind::Tune => DeclKind::Tune,
                ast::BlockKind::Model => DeclKind::Model,
                ast::BlockKind::Serve => DeclKind::Serve,
                ast::BlockKind::Monitor => DeclKind::Monitor,
            };
            let mut outline = leaf(&block.name, OutlineKind::Declaration(kind), Some(kind.keyword().into()), item.span);
            for entry in &block.body.entries {
                if let Entry::Rule(rule) = entry {
                    outline.children.push(leaf(&rule.name, OutlineKind::Rule, None, rule.span));
                }
            }
            outline
        }
        ItemKind::Stage(stage) => {
            let kind = match stage.kind {
                ast::StageKind::Component => DeclKind::Component,
                ast::StageKind::Step => DeclKind::Step,
                ast::StageKind::Train => DeclKind::Train,
            };
            let mut outline = leaf(&stage.name, OutlineKind::Declaration(kind), Some(kind.keyword().into()), item.span);
            let ty = |t: &TypeExpr| Some(source.slice(t.span).to_string());
            for input in stage.inputs.iter().flatten() {
                outline.children.push(leaf(&input.name, OutlineKind::Input, ty(&input.ty), input.span));
            }
            for output in stage.outputs.iter().flatten() {
                outline.children.push(leaf(&output.name, OutlineKind::Output, ty(&output.ty), output.span));
            }
            for entry in &stage.body.entries {
                if let Entry::Fields(fields) = entry {
                    for field in &fields.fields {
                        let name = ast::Ident { name: field.key.joined().into(), span: field.key.span };
                        outline.children.push(leaf(&name, OutlineKind::Metric, ty(&field.ty), field.span));
                    }
                }
            }
            outline
        }
        ItemKind::StepCall(call) => {
            let component = call.component.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".");
            leaf(&call.name, OutlineKind::Declaration(DeclKind::Step), Some(format!("= {component}(…)")), item.span)
        }
        ItemKind::For(block) => {
            let mut outline = leaf(
                &block.var,
                OutlineKind::Loop,
                Some(format!("in {}", source.slice(block.iterable.span))),
                item.span,
            );
            outline.name = format!("for {}", block.var.name);
            outline.children = block.items.iter().filter_map(|i| item_outline(i, source)).collect();
            outline
        }
    })
}

/// Token classes, named after the LSP's standard semantic token types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SemanticKind {
    Keyword,
    Type,
    /// Stages, components and tunes.
    Function,
    /// Datasets, volumes, secrets, models, services, notebooks, monitors.
    Struct,
    /// Params and loop variables.
    Variable,
    /// Stage inputs, outputs and metrics.
    Parameter,
    Property,
    EnumMember,
    Namespace,
}

impl SemanticKind {
    /// In the order the server announces them in its legend.
    pub const ALL: &'static [SemanticKind] = &[
        SemanticKind::Keyword,
        SemanticKind::Type,
        SemanticKind::Function,
        SemanticKind::Struct,
        SemanticKind::Variable,
        SemanticKind::Parameter,
        SemanticKind::Property,
        SemanticKind::EnumMember,
        SemanticKind::Namespace,
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SemanticToken {
    pub span: Span,
    pub kind: SemanticKind,
    pub declaration: bool,
    /// Declared in the standard library, or built into the language.
    pub default_library: bool,
    pub readonly: bool,
}

/// Tokens for the names, keywords and types of `file`, sorted and not overlapping.
pub fn semantic_tokens(analysis: Analysis<'_>, file: FileId) -> Vec<SemanticToken> {
    let Some(module) = analysis.module(file) else { return Vec::new() };
    let mut tokens = Vec::new();
    let plain = |span, kind| SemanticToken { span, kind, declaration: false, default_library: false, readonly: false };
    for item in &module.ast.items {
        keywords(item, &mut tokens, &plain);
    }
    for occurrence in occurrences(analysis, file) {
        let (kind, readonly, default_library) = match &occurrence.symbol {
            Symbol::Decl { file: decl_file, name } => {
                let kind = analysis.module(*decl_file).and_then(|m| m.decls.get(name)).map(|d| d.kind);
                let stdlib = analysis.sources.get(*decl_file).origin == Origin::Stdlib;
                match kind {
                    Some(DeclKind::Param) => (SemanticKind::Variable, true, stdlib),
                    Some(DeclKind::Step | DeclKind::Train | DeclKind::Component | DeclKind::Tune) => {
                        (SemanticKind::Function, false, stdlib)
                    }
                    _ => (SemanticKind::Struct, false, stdlib),
                }
            }
            Symbol::Field { .. } => (SemanticKind::Parameter, false, false),
            Symbol::LoopVar { .. } => (SemanticKind::Variable, true, false),
            Symbol::Import { .. } => (SemanticKind::Namespace, false, false),
            Symbol::File { .. } => continue,
            Symbol::Property { .. } => (SemanticKind::Property, false, false),
            Symbol::EnumValue { .. } => (SemanticKind::EnumMember, true, true),
            Symbol::Builtin { .. } => (SemanticKind::Variable, true, true),
        };
        tokens.push(SemanticToken {
            span: occurrence.span,
            kind,
            declaration: occurrence.declaration,
            default_library,
            readonly,
        });
    }
    tokens.sort_by_key(|t| (t.span.start, t.span.end));
    let mut out: Vec<SemanticToken> = Vec::with_capacity(tokens.len());
    for token in tokens {
        if token.span.is_empty() || out.last().is_some_and(|last| last.span.end > token.span.start) {
            continue;
        }
        out.push(token);
    }
    out
}

fn keywords(item: &ast::Item, tokens: &mut Vec<SemanticToken>, plain: &impl Fn(Span, SemanticKind) -> SemanticToken) {
    let word = |start: Span, len: u32| Span { file: start.file, start: start.start, end: start.start + len };
    let mut types: Vec<&TypeExpr> = Vec::new();
    match &item.kind {
        ItemKind::Import(_) => tokens.push(plain(word(item.span, 6), SemanticKind::Keyword)),
        ItemKind::Param(param) => {
            tokens.push(plain(word(item.span, 5), SemanticKind::Keyword));
            types.push(&param.ty);
        }
        ItemKind::Block(block) => {
            tokens.push(plain(block.keyword, SemanticKind::Keyword));
            for entry in &block.body.entries {
                match entry {
                    Entry::Rule(rule) => tokens.push(plain(rule.keyword, SemanticKind::Keyword)),
                    Entry::Mount(mount) => tokens.push(plain(mount.keyword, SemanticKind::Keyword)),
                    _ => {}
                }
            }
        }
        ItemKind::Stage(stage) => {
            tokens.push(plain(stage.keyword, SemanticKind::Keyword));
            types.extend(stage.inputs.iter().flatten().map(|i| &i.ty));
            types.extend(stage.outputs.iter().flatten().map(|o| &o.ty));
            for entry in &stage.body.entries {
                match entry {
                    Entry::Fields(fields) => types.extend(fields.fields.iter().map(|f| &f.ty)),
                    Entry::Mount(mount) => tokens.push(plain(mount.keyword, SemanticKind::Keyword)),
                    _ => {}
                }
            }
        }
        ItemKind::StepCall(call) => tokens.push(plain(call.keyword, SemanticKind::Keyword)),
        ItemKind::For(block) => {
            tokens.push(plain(block.keyword, SemanticKind::Keyword));
            for nested in &block.items {
                keywords(nested, tokens, plain);
            }
        }
    }
    while let Some(ty) = types.pop() {
        tokens.push(plain(ty.name.span, SemanticKind::Type));
        if let Some(arg) = &ty.arg {
            types.push(arg);
        }
    }
}
