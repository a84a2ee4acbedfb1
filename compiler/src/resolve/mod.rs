//! Name resolution: loads imports (files and `std.*`), detects import cycles, and builds each file's declaration table.

pub mod suggest;

use indexmap::IndexMap;

use crate::ast::{self, BlockKind, ImportTarget, ItemKind, StageKind};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Label};
use crate::source::{FileId, Loader, Origin, SourceFile, Sources, Span};
use crate::stdlib;

/// What kind of thing a file-scope name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeclKind {
    Param,
    Secret,
    Volume,
    Dataset,
    Notebook,
    Component,
    Step,
    Train,
    Tune,
    Model,
    Serve,
    Monitor,
    Import,
    Project,
}

impl DeclKind {
    pub fn keyword(self) -> &'static str {
        match self {
            DeclKind::Param => "param",
            DeclKind::Secret => "secret",
            DeclKind::Volume => "volume",
            DeclKind::Dataset => "dataset",
            DeclKind::Notebook => "notebook",
            DeclKind::Component => "component",
            DeclKind::Step => "step",
            DeclKind::Train => "train",
            DeclKind::Tune => "tune",
            DeclKind::Model => "model",
            DeclKind::Serve => "serve",
            DeclKind::Monitor => "monitor",
            DeclKind::Import => "import",
            DeclKind::Project => "project",
        }
    }

    /// Stages are nodes of the pipeline DAG.
    pub fn is_stage(self) -> bool {
        matches!(
            self,
            DeclKind::Step | DeclKind::Train | DeclKind::Tune | DeclKind::Model | DeclKind::Serve | DeclKind::Monitor
        )
    }
}

/// One declaration of a file scope.
#[derive(Clone, Debug)]
pub struct Decl {
    pub kind: DeclKind,
    pub name_span: Span,
    /// Index of the top-level item, and of the item inside a `for` block.
    pub item: usize,
    pub inner: Option<usize>,
    /// The `for` block (by top-level item index) that holds this declaration.
    pub loop_item: Option<usize>,
}

/// One parsed file and what its imports resolved to.
#[derive(Debug)]
pub struct Module {
    pub file: FileId,
    pub ast: ast::File,
    /// Import alias → index of the imported module in [`Resolved::modules`].
    pub imports: IndexMap<String, (usize, Span)>,
    pub decls: IndexMap<String, Decl>,
    /// Whether the file was imported (so it may omit `project`).
    pub imported: bool,
}

#[derive(Debug, Default)]
pub struct Resolved {
    pub modules: Vec<Module>,
}

/// Parses `main` and everything it imports, reporting parse errors,
/// missing imports (E0105), import cycles (E0105) and duplicate names (E0102).
pub fn resolve(sources: &mut Sources, main: FileId, loader: &dyn Loader, diagnostics: &mut Diagnostics) -> Resolved {
    resolve_as(sources, main, loader, diagnostics, Options::default())
}

/// How the language server resolves: see [`crate::Incremental`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'c> {
    /// Treat `main` as a module some other file imports (it may omit `project`).
    pub imported: bool,
    /// Reuse the parse of `main`'s unchanged declarations.
    pub cache: Option<&'c crate::syntax::ParseCache>,
}

/// Like [`resolve`], with [`Options`].
pub fn resolve_as(
    sources: &mut Sources,
    main: FileId,
    loader: &dyn Loader,
    diagnostics: &mut Diagnostics,
    options: Options<'_>,
) -> Resolved {
    let mut resolved = Resolved::default();
    let mut stack = Vec::new();
    let text = sources.get(main).text.clone();
    let parsed = match options.cache {
        Some(cache) => crate::syntax::parse_cached(main, &text, cache),
        None => crate::syntax::parse(main, &text),
    };
    load(sources, main, parsed, loader, diagnostics, &mut resolved, &mut stack, options.imported);
    resolved
}

#[allow(clippy::too_many_arguments)] // one recursive walk; a struct for its state would only rename them
fn load(
    sources: &mut Sources,
    file: FileId,
    (ast, syntax_errors): (ast::File, Vec<Diagnostic>),
    loader: &dyn Loader,
    diagnostics: &mut Diagnostics,
    resolved: &mut Resolved,
    stack: &mut Vec<FileId>,
    imported: bool,
) -> usize {
    diagnostics.extend(syntax_errors);
    let decls = declarations(&ast, diagnostics);
    let index = resolved.modules.len();
    resolved.modules.push(Module { file, ast, imports: IndexMap::new(), decls, imported });
    stack.push(file);

    let imports: Vec<(ImportTarget, Option<ast::Ident>, Span)> = resolved.modules[index]
        .ast
        .items
        .iter()
        .filter_map(|item| match &item.kind {
            ItemKind::Import(import) => Some((import.target.clone(), import.alias.clone(), item.span)),
            _ => None,
        })
        .collect();
    for (target, alias, item_span) in imports {
        let (loaded, alias_name, alias_span, target_span) = match &target {
            ImportTarget::Std { path, span } => {
                let module_name: Vec<&str> = path.iter().skip(1).map(|i| i.name.as_str()).collect();
                let is_std = path.first().is_some_and(|p| p.name == "std");
                let module_name = module_name.join(".");
                let loaded = match stdlib::module(&module_name) {
                    Some(text) if is_std => {
                        Ok((format!("<stdlib/{module_name}.kfl>"), text.to_string(), Origin::Stdlib))
                    }
                    _ => Err(format!("no standard library module `std.{module_name}`")),
                };
                let default_alias = path.last().map(|i| i.name.to_string()).unwrap_or_default();
                (loaded, default_alias, *span, *span)
            }
            ImportTarget::File { path, span } => {
                let from = sources.get(file).name.clone();
                let loaded = if path.ends_with(".kfl") {
                    loader.load(&from, path).map(|(name, text)| (name, text, Origin::User))
                } else {
                    Err("imports name `.kfl` files".to_string())
                };
                let stem = path.rsplit('/').next().unwrap_or(path).trim_end_matches(".kfl").replace('-', "_");
                (loaded, stem, *span, *span)
            }
        };
        let (alias_name, alias_span) = match &alias {
            Some(alias) => (alias.name.to_string(), alias.span),
            None => (alias_name, alias_span),
        };
        match loaded {
            Err(reason) => {
                let help = match &target {
                    ImportTarget::Std { .. } => {
                        let names: Vec<&str> = stdlib::MODULES.iter().map(|(n, _)| *n).collect();
                        let wanted = alias_name.as_str();
                        Some(match suggest::did_you_mean(wanted, names.iter().copied()) {
                            Some(s) => format!("did you mean `std.{s}`?"),
                            None => format!(
                                "the standard library has: {}",
                                names.iter().map(|n| format!("`std.{n}`")).collect::<Vec<_>>().join(", ")
                            ),
                        })
                    }
                    ImportTarget::File { .. } => Some("import paths are relative to the importing file".to_string()),
                };
                diagnostics.push(
                    Diagnostic::error(
                        Code::ImportFailed,
                        format!("cannot import: {reason}"),
                        Label::new(target_span, "imported here"),
                    )
                    .with_optional_help(help),
                );
            }
            Ok((name, text, origin)) => {
                let existing = sources.find(&name);
                let imported_file = match existing {
                    Some(id) => id,
                    None => sources.add(SourceFile::new(name.clone(), text, origin)),
                };
                if stack.contains(&imported_file) {
                    let chain: Vec<String> = stack
                        .iter()
                        .skip_while(|f| **f != imported_file)
                        .map(|f| sources.get(*f).name.clone())
                        .chain(std::iter::once(name.clone()))
                        .collect();
                    diagnostics.push(
                        Diagnostic::error(
                            Code::ImportFailed,
                            format!("import cycle: {}", chain.join(" → ")),
                            Label::new(target_span, "this import closes the cycle"),
                        )
                        .with_help("move the shared components into a file that neither imports"),
                    );
                    continue;
                }
                let module = match resolved.modules.iter().position(|m| m.file == imported_file) {
                    Some(existing) => existing,
                    None => {
                        let parsed = crate::syntax::parse(imported_file, &sources.get(imported_file).text.clone());
                        load(sources, imported_file, parsed, loader, diagnostics, resolved, stack, true)
                    }
                };
                let module_ref = &mut resolved.modules[index];
                if let Some((_, previous)) = module_ref.imports.get(&alias_name) {
                    diagnostics.push(
                        Diagnostic::error(
                            Code::DuplicateDeclaration,
                            format!("`{alias_name}` is imported twice"),
                            Label::new(alias_span, "second import"),
                        )
                        .with_label(Label::new(*previous, "first import"))
                        .with_help("give one of them another name with `as`"),
                    );
                } else if let Some(decl) = module_ref.decls.get(&alias_name) {
                    diagnostics.push(
                        Diagnostic::error(
                            Code::DuplicateDeclaration,
                            format!("the import alias `{alias_name}` is also declared in this file"),
                            Label::new(alias_span, "import alias"),
                        )
                        .with_label(Label::new(decl.name_span, "declared here"))
                        .with_help("choose another alias with `as`"),
                    );
                } else {
                    module_ref.imports.insert(alias_name.to_string(), (module, item_span));
                }
            }
        }
    }
    stack.pop();
    index
}

/// The file scope: every declared name, including those inside `for` blocks.
fn declarations(file: &ast::File, diagnostics: &mut Diagnostics) -> IndexMap<String, Decl> {
    let mut decls: IndexMap<String, Decl> = IndexMap::new();
    let mut project: Option<Span> = None;
    for (index, item) in file.items.iter().enumerate() {
        if let ItemKind::For(block) = &item.kind {
            for (inner, nested) in block.items.iter().enumerate() {
                if let Some((kind, name)) = declared(nested) {
                    add(
                        &mut decls,
                        diagnostics,
                        name,
                        Decl { kind, name_span: name.span, item: index, inner: Some(inner), loop_item: Some(index) },
                    );
                }
            }
            continue;
        }
        if let Some((kind, name)) = declared(item) {
            if kind == DeclKind::Project {
                if let Some(first) = project {
                    diagnostics.push(
                        Diagnostic::error(
                            Code::DuplicateDeclaration,
                            "a file has at most one `project`",
                            Label::new(name.span, "second project"),
                        )
                        .with_label(Label::new(first, "first project"))
                        .with_help("merge the two `project` blocks"),
                    );
                }
                project = Some(name.span);
                // The project's name is not a name you can refer to.
                continue;
            }
            if kind == DeclKind::Import {
                continue;
            }
            add(
                &mut decls,
                diagnostics,
                name,
                Decl { kind, name_span: name.span, item: index, inner: None, loop_item: None },
            );
        }
    }
    decls
}

fn add(decls: &mut IndexMap<String, Decl>, diagnostics: &mut Diagnostics, name: &ast::Ident, decl: Decl) {
    if let Some(previous) = decls.get(name.name.as_str()) {
        diagnostics.push(
            Diagnostic::error(
                Code::DuplicateDeclaration,
                format!("`{}` is declared twice", name.name),
                Label::new(name.span, format!("second {}", decl.kind.keyword())),
            )
            .with_label(Label::new(previous.name_span, format!("first declared here as a {}", previous.kind.keyword())))
            .with_help("names are unique in a file; rename one of them"),
        );
        return;
    }
    decls.insert(name.name.to_string(), decl);
}

fn declared(item: &ast::Item) -> Option<(DeclKind, &ast::Ident)> {
    let kind = match &item.kind {
        ItemKind::Import(_) => DeclKind::Import,
        ItemKind::Param(_) => DeclKind::Param,
        ItemKind::Block(block) => match block.kind {
            BlockKind::Project => DeclKind::Project,
            BlockKind::Secret => DeclKind::Secret,
            BlockKind::Volume => DeclKind::Volume,
            BlockKind::Dataset => DeclKind::Dataset,
            BlockKind::Notebook => DeclKind::Notebook,
            BlockKind::Tune => DeclKind::Tune,
            BlockKind::Model => DeclKind::Model,
            BlockKind::Serve => DeclKind::Serve,
            BlockKind::Monitor => DeclKind::Monitor,
        },
        ItemKind::Stage(stage) => match stage.kind {
            StageKind::Component => DeclKind::Component,
            StageKind::Step => DeclKind::Step,
            StageKind::Train => DeclKind::Train,
        },
        ItemKind::StepCall(_) => DeclKind::Step,
        ItemKind::For(_) => return None,
    };
    item.name().map(|name| (kind, name))
}
