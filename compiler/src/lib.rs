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
    /// such as the language server that look at the syntax.
    pub modules: resolve::Resolved,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The program, when the file has no errors.
    pub fn program(&self) -> Option<&ir::Program> {
        if self.has_errors() { None } else { self.program.as_ref() }
    }
}

/// Checks `main` (already in `sources`), loading imports through `loader`.
/// Imported files are added to `sources` so diagnostics can point into them.
pub fn check(sources: &mut Sources, main: FileId, loader: &dyn Loader) -> Checked {
    check_as(sources, main, loader, false)
}

/// Checks `main` as a module other files import (it may omit `project`): how
/// the language server checks an open library file on its own.
pub fn check_library(sources: &mut Sources, main: FileId, loader: &dyn Loader) -> Checked {
    check_as(sources, main, loader, true)
}

fn check_as(sources: &mut Sources, main: FileId, loader: &dyn Loader, imported: bool) -> Checked {
    let mut diagnostics = Diagnostics::new();
    let resolved = resolve::resolve_as(sources, main, loader, &mut diagnostics, imported);
    let program = typeck::check(&resolved, sources, &mut diagnostics);
    Checked { program, diagnostics: diagnostics.into_sorted(), modules: resolved }
}
