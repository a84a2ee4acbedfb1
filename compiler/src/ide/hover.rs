//! Hover text: a declaration's signature, doc comment and resolved default; a property's meaning and allowed values.

use crate::ast::{self, ExprKind, ItemKind};
use crate::ide::Analysis;
use crate::ide::index::{Owner, Symbol, decl_item, symbol_at};
use crate::resolve::DeclKind;
use crate::source::{FileId, Span};
use crate::typeck::schema::{self, Shape, shape_name};

/// Markdown shown for the name at `range`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hover {
    pub range: Span,
    pub markdown: String,
}

pub fn hover(analysis: Analysis<'_>, file: FileId, offset: usize) -> Option<Hover> {
    let occurrence = symbol_at(analysis, file, offset)?;
    let markdown = match &occurrence.symbol {
        Symbol::Decl { file, name } => declaration(analysis, *file, name)?,
        Symbol::Field { file, stage, name } => field(analysis, *file, stage, name)?,
        Symbol::Import { file, name } => {
            let module = analysis.module(*file)?;
            let (index, _) = module.imports.get(name)?;
            let imported = analysis.module_at(*index)?;
            let target = &analysis.sources.get(imported.file).name;
            with_doc(format!("```kfl\nimport {name}\n```\nimports `{target}`"), imported.ast.doc.as_ref())
        }
        Symbol::File { file } => {
            let module = analysis.module(*file)?;
            let names: Vec<String> = module
                .decls
                .iter()
                .filter(|(_, d)| d.kind == DeclKind::Component)
                .map(|(n, _)| format!("`{n}`"))
                .collect();
            let mut text = format!("module `{}`", analysis.sources.get(*file).name);
            if !names.is_empty() {
                text.push_str(&format!("\n\ncomponents: {}", names.join(", ")));
            }
            with_doc(text, module.ast.doc.as_ref())
        }
        Symbol::LoopVar { file, item, name } => {
            let module = analysis.module(*file)?;
            let ItemKind::For(block) = &module.ast.items.get(*item)?.kind else { return None };
            let iterable = analysis.sources.get(*file).slice(block.iterable.span);
            format!("```kfl\nfor {name} in {iterable}\n```\nloop variable: one element per fanned-out stage")
        }
        Symbol::Property { owner, name } => property(*owner, name)?,
        Symbol::EnumValue { set, value } => {
            let values: Vec<String> = set.values().iter().map(|v| format!("`{v}`")).collect();
            let known = if set.values().contains(&value.as_str()) { "" } else { " (not a known value)" };
            format!("`{value}` — a {} value{known}\n\none of: {}", set.name(), values.join(", "))
        }
        Symbol::Builtin { name } => builtin(name)?,
    };
    Some(Hover { range: occurrence.span, markdown })
}

fn with_doc(mut text: String, doc: Option<&ast::Doc>) -> String {
    if let Some(doc) = doc {
        text.push_str("\n\n---\n\n");
        text.push_str(&doc.text);
    }
    text
}

fn declaration(analysis: Analysis<'_>, file: FileId, name: &str) -> Option<String> {
    let module = analysis.module(file)?;
    let item = decl_item(module, name)?;
    let source = analysis.sources.get(file);
    let main = analysis.checked.modules.modules.first().map(|m| m.file) == Some(file);
    let program = analysis.checked.program.as_ref().filter(|_| main);
    let mut text = match &item.kind {
        ItemKind::Param(param) => {
            let ty = program
                .and_then(|p| p.params.iter().find(|p| p.name == name))
                .map(|p| p.ty.to_string())
                .unwrap_or_else(|| source.slice(param.ty.span).to_string());
            let mut text = format!("```kfl\nparam {name}: {ty}");
            if let Some(default) = &param.default {
                text.push_str(&format!(" = {}", source.slice(default.span)));
            }
            text.push_str("\n```");
            if let Some(resolved) = param.default.as_ref().and_then(|d| resolved_default(analysis, file, d)) {
                text.push_str(&format!("\ndefault resolves to {resolved}"));
            }
            text
        }
        ItemKind::Block(block) => {
            let mut text = format!("```kfl\n{} {name}\n```", block.kind.keyword());
            for key in ["uri", "size", "framework", "runtime", "trial", "objective", "model", "service", "artifact"] {
                if let Some(p) = block.body.properties().find(|p| p.key.simple() == Some(key)) {
                    text.push_str(&format!("\n`{key} = {}`", source.slice(p.value.span)));
                }
            }
            text
        }
        ItemKind::Stage(stage) => {
            let header = source.slice(Span { file, start: stage.keyword.start, end: stage.body.span.start });
            let mut text = format!("```kfl\n{}\n```", header.trim_end());
            if let Some(framework) = stage.body.properties().find(|p| p.key.simple() == Some("framework")) {
                text.push_str(&format!("\nframework `{}`", source.slice(framework.value.span)));
            }
            text
        }
        ItemKind::StepCall(call) => {
            let header = source.slice(Span { file, start: call.keyword.start, end: call.args_span.end });
            format!("```kfl\n{header}\n```")
        }
        ItemKind::Import(_) | ItemKind::For(_) => return None,
    };
    if !main {
        text.push_str(&format!("\n\ndeclared in `{}`", source.name));
    }
    Some(with_doc(text, item.doc.as_ref()))
}

/// What a default refers to: a param's own default, or the stage output it is bound to.
fn resolved_default(analysis: Analysis<'_>, file: FileId, default: &ast::Expr) -> Option<String> {
    let default = default.unparen();
    match &default.kind {
        ExprKind::Name(name) => {
            let module = analysis.module(file)?;
            let ItemKind::Param(param) = &decl_item(module, &name.name)?.kind else { return None };
            let value = param.default.as_ref()?;
            Some(format!("`{}`", analysis.sources.get(file).slice(value.span)))
        }
        ExprKind::Member(..) => {
            let occurrence = symbol_at(analysis, file, default.span.end as usize)?;
            let Symbol::Field { file: stage_file, stage, name } = &occurrence.symbol else { return None };
            let module = analysis.module(*stage_file)?;
            let ItemKind::Stage(decl) = &decl_item(module, stage)?.kind else { return None };
            let source = analysis.sources.get(*stage_file);
            let (role, ty) = if let Some(output) = decl.outputs.iter().flatten().find(|o| o.name.name == *name) {
                ("output", source.slice(output.ty.span))
            } else {
                let input = decl.inputs.iter().flatten().find(|i| i.name.name == *name)?;
                ("input", source.slice(input.ty.span))
            };
            Some(format!("`{name}: {ty}`, the {role} of {} `{stage}`", decl.kind.keyword()))
        }
        _ => None,
    }
}

fn field(analysis: Analysis<'_>, file: FileId, stage_name: &str, name: &str) -> Option<String> {
    let module = analysis.module(file)?;
    let ItemKind::Stage(stage) = &decl_item(module, stage_name)?.kind else { return None };
    let source = analysis.sources.get(file);
    let owner = format!("{} `{stage_name}`", stage.kind.keyword());
    if let Some(input) = stage.inputs.iter().flatten().find(|i| i.name.name == name) {
        let mut text = format!("```kfl\n{name}: {}", source.slice(input.ty.span));
        if let Some(default) = &input.default {
            text.push_str(&format!(" = {}", source.slice(default.span)));
        }
        text.push_str(&format!("\n```\ninput of {owner}"));
        if let Some(resolved) = input.default.as_ref().and_then(|d| resolved_default(analysis, file, d)) {
            text.push_str(&format!("; default resolves to {resolved}"));
        }
        return Some(text);
    }
    if let Some(output) = stage.outputs.iter().flatten().find(|o| o.name.name == name) {
        return Some(format!("```kfl\n{name}: {}\n```\noutput of {owner}", source.slice(output.ty.span)));
    }
    let metric = stage.body.entries.iter().find_map(|e| match e {
        ast::Entry::Fields(fields) => fields.fields.iter().find(|f| f.key.simple() == Some(name)),
        _ => None,
    })?;
    Some(format!(
        "```kfl\n{name}: {}\n```\nmetric of {owner} (printed as `{name}=VALUE`)",
        source.slice(metric.ty.span)
    ))
}

fn property(owner: Owner, name: &str) -> Option<String> {
    let spec = owner.spec(name)?;
    let mut text = format!(
        "**`{}`** — property of `{}`\n\n{}\n\ntype: {}",
        spec.name,
        owner.name(),
        spec.doc,
        shape_name(spec.shape).replace("\\|", "|")
    );
    if spec.required {
        text.push_str(" · required");
    }
    if let Some(default) = spec.default {
        text.push_str(&format!(" · default `{default}`"));
    }
    let allowed: Vec<String> = match spec.shape {
        Shape::Enum(set) => set.values().iter().map(|v| format!("`{v}`")).collect(),
        Shape::Algorithm => schema::ALGORITHMS.iter().map(|(n, _, _)| format!("`{n}()`")).collect(),
        Shape::Objective => schema::OBJECTIVES.iter().map(|n| format!("`{n}(METRIC)`")).collect(),
        Shape::Autoscale => crate::ir::AutoscaleMetric::NAMES.iter().map(|n| format!("`{n}(…)`")).collect(),
        Shape::Space => crate::ir::Distribution::NAMES.iter().map(|n| format!("`{n}(…)`")).collect(),
        _ => Vec::new(),
    };
    if !allowed.is_empty() {
        text.push_str(&format!("\n\nallowed values: {}", allowed.join(", ")));
    }
    Some(text)
}

fn builtin(name: &str) -> Option<String> {
    if let Some(builtin) = schema::ServeBuiltin::from_name(name) {
        let what = match builtin {
            schema::ServeBuiltin::ModelDir => "the folder the model is downloaded to",
            schema::ServeBuiltin::Port => "the port the predictor listens on",
        };
        return Some(format!("`{name}: {}` — built in: {what}", schema::serve_builtin_ty(builtin)));
    }
    let ty = schema::serving_metric_ty(schema::ServingMetric::from_name(name)?);
    Some(format!("`{name}: {ty}` — built in: a serving metric of the watched service"))
}
