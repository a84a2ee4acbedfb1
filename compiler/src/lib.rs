//! The kfl compiler: parse → resolve → typecheck → lower to a typed model of the file; pure, no I/O.
//!
//! ```text
//! text ──syntax──▶ ast::File ──resolve──▶ Resolved (modules, imports, scopes)
//!      ──typeck──▶ ir::Program (typed, defaults applied) + ir::graph::Graph (DAG)
//! ```
//!
//! Every phase pushes into one `Diagnostics` sink and carries on, so all
//! errors of a file are reported in one run.

pub mod ast;
pub mod codegen;
pub mod diagnostics;
pub mod format;
pub mod ide;
pub mod ir;
pub mod resolve;
pub mod source;
pub mod stdlib;
pub mod syntax;
pub mod typeck;

use diagnostics::{Diagnostic, Diagnostics};
use source::{FileId, Loader, Sources};

/// The result of checking one file.
#[derive(Debug)]
pub struct Checked {
    /// The typed program; `None` only when nothing could be checked.
    pub program: Option<ir::Program>,
    /// Errors and warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// The parsed and resolved files (the checked file first), for tools
    /// such as the language server that look at the syntax. After [`check_bound`] the checked file's
    /// declarations are gone (freed as they were lowered); its doc, declaration table and imports stay.
    pub modules: resolve::Resolved,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// For the cluster back ends (`kfl build`): the cluster-only refusals (W0402) become errors, so the
    /// program is refused and nothing is written.
    pub fn for_cluster(mut self) -> Checked {
        for diagnostic in &mut self.diagnostics {
            if diagnostic.code == diagnostics::Code::ClusterOnly {
                diagnostic.severity = diagnostics::Severity::Error;
            }
        }
        self
    }

    /// The program, when the file has no errors.
    pub fn program(&self) -> Option<&ir::Program> {
        if self.has_errors() { None } else { self.program.as_ref() }
    }
}

/// Checks `main` (already in `sources`), loading imports through `loader`.
/// Imported files are added to `sources` so diagnostics can point into them.
pub fn check(sources: &mut Sources, main: FileId, loader: &dyn Loader) -> Checked {
    check_incremental(sources, main, loader, Incremental::default())
}

/// [`check`] with params bound by `-p` overrides, every param required to have a value when
/// `bind.require_all`: what `kfl build` and `kfl run` compile (see `ir::bind`), and `kfl check` with the default
/// options. The checked file's syntax tree is freed declaration by declaration as it is lowered
/// ([`typeck::Syntax::Free`]), so [`Checked::modules`] does not hold it: for commands, not editor queries.
pub fn check_bound(sources: &mut Sources, main: FileId, loader: &dyn Loader, bind: &ir::bind::BindOptions) -> Checked {
    check_with(sources, main, loader, Incremental::default(), bind, typeck::Syntax::Free)
}

/// How the language server checks a document it checks again and again.
#[derive(Clone, Copy, Debug, Default)]
pub struct Incremental<'c> {
    /// Check `main` as a module other files import (it may omit `project`),
    /// as for an open library file.
    pub library: bool,
    /// Reuse the parse of declarations unchanged since the last check with this cache.
    pub cache: Option<&'c syntax::ParseCache>,
}

/// [`check`] with the language server's [`Incremental`] options; the result is the same as
/// `check`'s for the same text (a library file aside).
pub fn check_incremental(
    sources: &mut Sources,
    main: FileId,
    loader: &dyn Loader,
    options: Incremental<'_>,
) -> Checked {
    check_with(sources, main, loader, options, &ir::bind::BindOptions::default(), typeck::Syntax::Keep)
}

fn check_with(
    sources: &mut Sources,
    main: FileId,
    loader: &dyn Loader,
    options: Incremental<'_>,
    bind: &ir::bind::BindOptions,
    syntax: typeck::Syntax,
) -> Checked {
    let mut diagnostics = Diagnostics::new();
    let options = resolve::Options { imported: options.library, cache: options.cache };
    let mut resolved = resolve::resolve_as(sources, main, loader, &mut diagnostics, options);
    let program = typeck::check(&mut resolved, sources, &mut diagnostics, bind, syntax);
    if let Some(program) = program.as_ref().filter(|_| !diagnostics.has_errors()) {
        diagnostics.extend(codegen::target_checks(program));
    }
    Checked { program, diagnostics: diagnostics.into_sorted(), modules: resolved }
}
