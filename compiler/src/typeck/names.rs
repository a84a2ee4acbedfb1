//! Kubernetes name rules for declaration names (E0401) and unused-declaration warnings (W0001).

use std::collections::BTreeSet;

use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir;
use crate::resolve::DeclKind;
use crate::source::Span;
use crate::typeck::Checker;

/// What is wrong with an identifier as the name of a declaration that becomes `target` (a
/// Kubernetes object whose name is at most `limit` characters), and a suggested replacement.
fn declaration_name_problem(name: &str, limit: usize, target: &str, needs_letter: bool) -> Option<(String, String)> {
    let kubernetes = name.replace('_', "-");
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        Some(("declaration names are lower case".to_string(), name.to_ascii_lowercase()))
    } else if name.starts_with('_') || name.ends_with('_') {
        Some((
            "a name cannot start or end with `_` (it becomes `-` in Kubernetes)".to_string(),
            name.trim_matches('_').to_string(),
        ))
    } else if needs_letter && !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some((format!("{target} name must start with a letter"), format!("x{name}")))
    } else if kubernetes.len() > limit {
        Some((
            format!("`{kubernetes}` is {} characters; {target} name is at most {limit}", kubernetes.len()),
            name.chars().take(limit).collect::<String>().trim_end_matches('_').to_string(),
        ))
    } else {
        None
    }
}

/// Why `name` cannot be the name of a `serve` declaration, for commands that take one on the
/// command line (`kfl serve status NAME`): the grammar's identifier rule, then E0401's.
pub fn serve_name_problem(name: &str) -> Option<String> {
    let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier {
        return Some(format!(
            "`{name}` is not a declaration name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    let (limit, target) = SERVE_NAME;
    declaration_name_problem(name, limit, target, true)
        .map(|(message, _)| format!("`{name}` is not a valid name: {message}"))
}

/// The longest name and the object a `serve` declaration becomes.
const SERVE_NAME: (usize, &str) = (63, "an InferenceService");

impl Checker<'_> {
    /// Every declaration name must become a valid Kubernetes name for its target.
    pub(super) fn check_names(&mut self, program: &ir::Program) {
        let decls: Vec<(String, DeclKind, Span)> =
            self.module.decls.iter().map(|(n, d)| (n.clone(), d.kind, d.name_span)).collect();
        for (name, kind, span) in decls {
            let (limit, target, needs_letter) = match kind {
                DeclKind::Tune => (40, "a Katib Experiment", true),
                DeclKind::Train => (63, "a TrainJob", true),
                DeclKind::Notebook => (63, "a Notebook", true),
                DeclKind::Serve => (SERVE_NAME.0, SERVE_NAME.1, true),
                DeclKind::Monitor if program.monitors.iter().any(|m| m.name == name && m.schedule.is_some()) => {
                    (52, "a CronJob", false)
                }
                DeclKind::Param | DeclKind::Import | DeclKind::Project => continue,
                _ => (63, "a Kubernetes object", false),
            };
            self.check_declaration_name(&name, span, limit, target, needs_letter);
        }
    }

    fn check_declaration_name(&mut self, name: &str, span: Span, limit: usize, target: &str, needs_letter: bool) {
        if let Some((message, suggestion)) = declaration_name_problem(name, limit, target, needs_letter) {
            self.diags.push(
                Diagnostic::error(
                    Code::InvalidKubernetesName,
                    format!("`{name}` is not a valid name: {message}"),
                    Label::new(span, format!("becomes {target}")),
                )
                .with_help(format!("rename it, e.g. `{suggestion}`")),
            );
        }
    }

    /// A DNS-1123 label (namespace, Secret name).
    pub(super) fn check_dns_label(&mut self, value: &str, span: Span, what: &str, limit: usize) {
        let valid = !value.is_empty()
            && value.len() <= limit
            && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            self.diags.push(
                Diagnostic::error(Code::InvalidKubernetesName, format!("`{value}` is not a valid {what}"), Label::new(span, "invalid Kubernetes name"))
                    .with_help(format!("use lower-case letters, digits and `-`, starting and ending with a letter or digit, at most {limit} characters")),
            );
        }
    }

    /// W0001 for params, datasets, volumes and secrets nobody refers to, and
    /// components never instantiated in a file that has a `project`.
    /// `instantiated`: the local components some step call instantiates.
    pub(super) fn warn_unused(&mut self, program: &ir::Program, instantiated: &BTreeSet<String>) {
        let has_project = program.project.is_some();
        let unused: Vec<(String, DeclKind, Span)> = self
            .module
            .decls
            .iter()
            // A declaration misplaced inside `for` was already reported (E0106).
            .filter(|(_, decl)| decl.loop_item.is_none() || decl.kind.is_stage())
            .filter(|(name, decl)| match decl.kind {
                DeclKind::Param | DeclKind::Dataset | DeclKind::Volume | DeclKind::Secret => !self.used.contains(*name),
                DeclKind::Component => has_project && !instantiated.contains(name.as_str()),
                _ => false,
            })
            .map(|(n, d)| (n.clone(), d.kind, d.name_span))
            .collect();
        for (name, kind, span) in unused {
            let help = match kind {
                DeclKind::Component => format!("instantiate it with `step NAME = {name}(…)`, or remove it"),
                DeclKind::Param => format!("use it as a default (`x: int = {name}`) or in a `run`, or remove it"),
                _ => "refer to it, or remove it".to_string(),
            };
            self.diags.push(
                Diagnostic::warning(
                    Code::UnusedDeclaration,
                    format!("{} `{name}` is never used", kind.keyword()),
                    Label::new(span, "unused"),
                )
                .with_help(help),
            );
        }
    }
}
