//! Type checking: every declaration against its schema and the type rules; builds the typed `ir::Program` as it goes.

mod decls;
pub(crate) mod expr;
mod katib_limits;
mod names;
pub use names::serve_name_problem;
mod patch_schema;
mod project;
pub(crate) mod props;
mod scheduling;
pub mod schema;
mod task_status;
mod tune;
pub mod units;
pub mod uris;

use std::collections::BTreeSet;

use indexmap::IndexMap;

use crate::ast::{self, ItemKind};
use crate::diagnostics::Diagnostics;
use crate::ir::{self, Ty};
use crate::resolve::{DeclKind, Module, Resolved};
use crate::source::Span;

/// A stage's interface, known before bodies are checked so references can be typed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sig {
    /// (name, type, has a default)
    pub inputs: Vec<(String, Ty, bool)>,
    pub outputs: Vec<(String, Ty)>,
    pub metrics: Vec<(String, Ty)>,
}

pub(crate) struct Checker<'a> {
    pub module: &'a Module,
    pub resolved: &'a Resolved,
    /// Lowered components of already-checked imported modules, by module index.
    pub imported_components: &'a [IndexMap<String, ir::Stage>],
    pub diags: &'a mut Diagnostics,
    pub sigs: IndexMap<String, Sig>,
    pub param_types: IndexMap<String, Ty>,
    pub used: BTreeSet<String>,
    /// trial stage → its tune
    pub trial_of: IndexMap<String, String>,
    /// tune → its trial stage
    pub tune_trials: IndexMap<String, String>,
    /// References to stages seen while checking the current declaration.
    pub pending_dependencies: Vec<(String, Span)>,
    pub graph: ir::graph::Graph,
    pub project_image: Option<String>,
    /// Whether the module is a `std.*` one (its components without `image` run the launcher image).
    pub stdlib: bool,
    /// `project.artifacts_secret`'s secret and the property's span, until the secrets are lowered.
    artifacts_secret: Option<(String, Span)>,
    /// The project's `gpu_resource`, the default of every declaration with `gpu`.
    pub project_gpu_resource: Option<String>,
    pub components: IndexMap<String, ir::Stage>,
    /// `for` block (top-level item index) → its loop variable and element type.
    pub loop_vars: IndexMap<usize, (String, Ty)>,
    /// Dependencies of trial templates, inherited by their tunes.
    pub trial_dependencies: IndexMap<String, Vec<(String, Span)>>,
    /// How params are bound (`-p`, and whether every param needs a value).
    pub bind_options: &'a ir::bind::BindOptions,
    /// The params' bound values (the main file's; an imported file's params stay references).
    pub bindings: ir::bind::Bindings,
    /// Whether the property being checked takes a param's bound value or keeps the reference.
    pub binding: schema::Binding,
    /// Params some run-time value still refers to (they stay pipeline inputs).
    pub run_time_params: BTreeSet<String>,
    /// How many stages the module can lower to (`stage_count`): `Program::stages` never grows past it.
    pub stage_bound: usize,
}

/// What becomes of the checked file's syntax tree while it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Kept whole in [`Resolved`] (the language server's queries read it).
    Keep,
    /// Each top-level declaration is freed as soon as it is lowered, so a large file's syntax tree and its
    /// program are never whole side by side (`kfl check`, `kfl build`, `kfl run`: bench/memory.sh). Only the
    /// checked file's declarations go: its doc, declaration table and imported modules stay.
    Free,
}

/// Checks every module (imports first) and returns the main module's program.
pub fn check(
    resolved: &mut Resolved,
    sources: &crate::source::Sources,
    diagnostics: &mut Diagnostics,
    bind_options: &ir::bind::BindOptions,
    syntax: Syntax,
) -> Option<ir::Program> {
    // Modules are pushed in load order (main first); check in reverse so
    // imported components are lowered before their users.
    let mut components: Vec<IndexMap<String, ir::Stage>> = vec![IndexMap::new(); resolved.modules.len()];
    let mut program = None;
    for index in (0..resolved.modules.len()).rev() {
        // Taken out last, once every import is checked: nothing reads the checked file's items after its own
        // checker (an import cycle back to it was refused, but its module may still be listed as an import).
        let owned = match syntax {
            Syntax::Free if index == 0 => Some(std::mem::take(&mut resolved.modules[0].ast.items)),
            _ => None,
        };
        let resolved: &Resolved = resolved;
        let module = &resolved.modules[index];
        let items = match owned {
            Some(items) => Items::Owned(items),
            None => Items::Borrowed(&module.ast.items),
        };
        let mut checker = Checker::new(module, resolved, &components, diagnostics, bind_options);
        checker.stdlib = sources.get(module.file).origin == crate::source::Origin::Stdlib;
        let result = checker.run(sources, items);
        components[index] = std::mem::take(&mut checker.components);
        if index == 0 {
            program = Some(result);
        }
    }
    program
}

impl<'a> Checker<'a> {
    fn new(
        module: &'a Module,
        resolved: &'a Resolved,
        imported_components: &'a [IndexMap<String, ir::Stage>],
        diags: &'a mut Diagnostics,
        bind_options: &'a ir::bind::BindOptions,
    ) -> Checker<'a> {
        Checker {
            module,
            resolved,
            imported_components,
            diags,
            sigs: IndexMap::new(),
            param_types: IndexMap::new(),
            used: BTreeSet::new(),
            trial_of: IndexMap::new(),
            tune_trials: IndexMap::new(),
            pending_dependencies: Vec::new(),
            graph: ir::graph::Graph::default(),
            project_image: None,
            stdlib: false,
            artifacts_secret: None,
            project_gpu_resource: None,
            components: IndexMap::new(),
            loop_vars: IndexMap::new(),
            trial_dependencies: IndexMap::new(),
            bind_options,
            bindings: ir::bind::Bindings::default(),
            binding: schema::Binding::Run,
            run_time_params: BTreeSet::new(),
            stage_bound: 0,
        }
    }

    fn run(&mut self, sources: &crate::source::Sources, items: Items<'_>) -> ir::Program {
        let file = &self.module.ast;
        self.collect_signatures(items.as_slice());
        self.stage_bound = stage_count(items.as_slice());
        let mut program = ir::Program {
            file: sources.get(self.module.file).name.clone(),
            doc: file.doc.as_ref().map(|d| d.text.clone()),
            project: None,
            params: Vec::new(),
            secrets: Vec::new(),
            volumes: Vec::new(),
            datasets: Vec::new(),
            notebooks: Vec::new(),
            stages: Vec::new(),
            tunes: Vec::new(),
            models: Vec::new(),
            serves: Vec::new(),
            monitors: Vec::new(),
            loops: Vec::new(),
            graph: ir::graph::Graph::default(),
            bindings: ir::bind::Bindings::default(),
            lookup: std::sync::OnceLock::new(),
        };
        // Params first: every other declaration may read their bound values.
        for (index, item) in items.as_slice().iter().enumerate() {
            if matches!(item.kind, ItemKind::Param(_)) {
                self.item(item, index, None, &mut program);
            }
        }
        if !self.module.imported {
            self.bindings = ir::bind::Bindings::new(&program.params, self.bind_options, self.diags);
        }
        self.check_project(&mut program, items.as_slice());
        // Components first so step calls can instantiate them.
        for item in items.as_slice() {
            if let ItemKind::Stage(stage) = &item.kind
                && stage.kind == ast::StageKind::Component
                && let Some(lowered) = self.stage(stage, None)
            {
                self.components.insert(stage.name.name.to_string(), lowered);
            }
        }
        let instantiated = instantiated_components(items.as_slice());
        match items {
            Items::Borrowed(items) => {
                for (index, item) in items.iter().enumerate() {
                    if !matches!(item.kind, ItemKind::Param(_)) {
                        self.item(item, index, None, &mut program);
                    }
                }
            }
            Items::Owned(items) => {
                // Each declaration's syntax tree is dropped at the end of its turn, once its IR exists.
                for (index, item) in items.into_iter().enumerate() {
                    if !matches!(item.kind, ItemKind::Param(_)) {
                        self.item(&item, index, None, &mut program);
                    }
                }
            }
        }
        for param in &mut program.params {
            param.read_at_run_time = self.run_time_params.contains(&param.name);
        }
        self.apply_project_scheduling(&mut program);
        self.resolve_artifacts_secret(&mut program);
        program.bindings = std::mem::take(&mut self.bindings);
        self.inherit_trial_dependencies();
        self.check_names(&program);
        self.warn_unused(&program, &instantiated);
        let mut graph = std::mem::take(&mut self.graph);
        let cycles = graph.sort();
        self.diags.extend(cycles);
        program.graph = graph;
        program
    }

    /// Inputs, outputs and metrics of every step, train and component, and the types of params.
    fn collect_signatures(&mut self, file_items: &[ast::Item]) {
        let mut items: Vec<&ast::Item> = Vec::new();
        for item in file_items {
            match &item.kind {
                ItemKind::For(block) => items.extend(block.items.iter()),
                _ => items.push(item),
            }
        }
        for item in items {
            match &item.kind {
                ItemKind::Param(param) => {
                    let before = self.diags.len();
                    let ty = self.type_expr(&param.ty);
                    // Reported again when the param itself is checked.
                    self.diags.truncate(before);
                    self.param_types.insert(param.name.name.to_string(), ty);
                }
                ItemKind::Stage(stage) => {
                    let sig = self.stage_sig(stage);
                    self.sigs.entry(stage.name.name.to_string()).or_insert(sig);
                }
                ItemKind::StepCall(call) => {
                    if let Some(sig) = self.component_sig(&call.component, file_items) {
                        self.sigs.entry(call.name.name.to_string()).or_insert(sig);
                    }
                }
                ItemKind::Block(block) if block.kind == ast::BlockKind::Tune => {
                    let trial = block
                        .body
                        .properties()
                        .find(|p| p.key.joined() == "trial")
                        .and_then(|p| p.value.as_path())
                        .filter(|p| p.len() == 1)
                        .map(|p| p[0].name.clone());
                    if let Some(trial) = trial
                        && self
                            .module
                            .decls
                            .get(trial.as_str())
                            .is_some_and(|d| matches!(d.kind, DeclKind::Step | DeclKind::Train))
                    {
                        self.trial_of.entry(trial.to_string()).or_insert(block.name.name.to_string());
                        self.tune_trials.insert(block.name.name.to_string(), trial.to_string());
                    }
                }
                _ => {}
            }
        }
    }

    fn stage_sig(&mut self, stage: &ast::StageDecl) -> Sig {
        let before = self.diags.len();
        let inputs = stage
            .inputs
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|i| (i.name.name.to_string(), self.type_expr(&i.ty), i.default.is_some()))
            .collect();
        let outputs = stage
            .outputs
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|o| (o.name.name.to_string(), self.type_expr(&o.ty)))
            .collect();
        let mut metrics = Vec::new();
        for entry in &stage.body.entries {
            if let ast::Entry::Fields(fields) = entry
                && fields.key.joined() == "metrics"
            {
                metrics.extend(fields.fields.iter().map(|f| (f.key.joined(), self.type_expr(&f.ty))));
            }
        }
        // Type errors in signatures are reported when the stage is checked.
        self.diags.truncate(before);
        Sig { inputs, outputs, metrics }
    }

    /// The signature of `component` or `alias.component`; `file_items` are this module's items.
    fn component_sig(&mut self, path: &[ast::Ident], file_items: &[ast::Item]) -> Option<Sig> {
        let (module, items, name) = match path {
            [name] => (self.module, file_items, name.name.as_str()),
            [alias, name] => {
                let (index, _) = self.module.imports.get(alias.name.as_str())?;
                let module = &self.resolved.modules[*index];
                (module, module.ast.items.as_slice(), name.name.as_str())
            }
            _ => return None,
        };
        let decl = module.decls.get(name).filter(|d| d.kind == DeclKind::Component)?;
        // `get`: an import cycle's way back to the checked file finds its items already taken (`Syntax::Free`).
        let ItemKind::Stage(stage) = &items.get(decl.item)?.kind else { return None };
        Some(self.stage_sig(stage))
    }
}

/// A module's top-level declarations, as the checker walks them: borrowed from the module it keeps, or owned
/// and dropped one by one as they are lowered ([`Syntax::Free`]).
enum Items<'m> {
    Borrowed(&'m [ast::Item]),
    Owned(Vec<ast::Item>),
}

impl Items<'_> {
    fn as_slice(&self) -> &[ast::Item] {
        match self {
            Items::Borrowed(items) => items,
            Items::Owned(items) => items,
        }
    }
}

/// The local components some step call instantiates (`step NAME = COMPONENT(…)`, inside `for` blocks too),
/// for W0001; known before the calls' syntax trees are freed.
fn instantiated_components(items: &[ast::Item]) -> BTreeSet<String> {
    items
        .iter()
        .flat_map(|item| match &item.kind {
            ItemKind::For(block) => block.items.iter().collect::<Vec<_>>(),
            _ => vec![item],
        })
        .filter_map(|item| match &item.kind {
            ItemKind::StepCall(call) if call.component.len() == 1 => Some(call.component[0].name.to_string()),
            _ => None,
        })
        .collect()
}

/// How many stages `items` can lower to: steps, trains and step calls, inside `for` blocks too (an upper
/// bound: a stage with errors is left out).
fn stage_count(items: &[ast::Item]) -> usize {
    items
        .iter()
        .map(|item| match &item.kind {
            ItemKind::Stage(stage) if stage.kind != ast::StageKind::Component => 1,
            ItemKind::StepCall(_) => 1,
            ItemKind::For(block) => stage_count(&block.items),
            _ => 0,
        })
        .sum()
}
