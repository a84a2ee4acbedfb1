//! `k8s { … }` patches checked against the embedded upstream schema of the object they patch (E0402).
//!
//! The schemas in `compiler/schemas/*.json` are the structural part of the
//! pinned upstream CRDs (TrainJob, Notebook, InferenceService) and of Katib's
//! OpenAPI for Experiment, extracted by `compiler/schemas/extract.py`. Each is
//! parsed on first use only, so files without patches pay nothing.

use std::sync::OnceLock;

use serde_json::Value as Json;

use crate::diagnostics::{Code, Diagnostic, Label};
use crate::ir::{Patch, Value};
use crate::resolve::suggest;
use crate::typeck::Checker;

/// The Kubernetes object a declaration's `k8s` block patches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchTarget {
    TrainJob,
    Experiment,
    InferenceService,
    Notebook,
}

impl PatchTarget {
    fn kind(self) -> &'static str {
        match self {
            PatchTarget::TrainJob => "TrainJob",
            PatchTarget::Experiment => "Experiment",
            PatchTarget::InferenceService => "InferenceService",
            PatchTarget::Notebook => "Notebook",
        }
    }

    fn schema(self) -> &'static Json {
        static TRAINJOB: OnceLock<Json> = OnceLock::new();
        static EXPERIMENT: OnceLock<Json> = OnceLock::new();
        static INFERENCESERVICE: OnceLock<Json> = OnceLock::new();
        static NOTEBOOK: OnceLock<Json> = OnceLock::new();
        let (cell, text) = match self {
            PatchTarget::TrainJob => (&TRAINJOB, include_str!("../../schemas/trainjob.json")),
            PatchTarget::Experiment => (&EXPERIMENT, include_str!("../../schemas/experiment.json")),
            PatchTarget::InferenceService => (&INFERENCESERVICE, include_str!("../../schemas/inferenceservice.json")),
            PatchTarget::Notebook => (&NOTEBOOK, include_str!("../../schemas/notebook.json")),
        };
        cell.get_or_init(|| serde_json::from_str(text).unwrap_or(Json::Null))
    }
}

impl Checker<'_> {
    /// Reports every patch whose path or value does not fit `target`'s schema.
    pub(crate) fn check_patches(&mut self, patches: &[Patch], target: PatchTarget) {
        for patch in patches {
            if let Err(problem) = check_path(target.schema(), &patch.path, &patch.value) {
                let span = match problem.kind {
                    Problem::WrongType { .. } => patch.span,
                    Problem::UnknownField { .. } => {
                        patch.path_spans.get(problem.segment).copied().unwrap_or(patch.span)
                    }
                };
                let kind = target.kind();
                let kind = if kind.starts_with(['A', 'E', 'I', 'O', 'U']) {
                    format!("an {kind}")
                } else {
                    format!("a {kind}")
                };
                let path = patch.path[..=problem.segment.min(patch.path.len().saturating_sub(1))].join(".");
                let (message, help) = match problem.kind {
                    Problem::UnknownField { candidates } => {
                        let names: Vec<&str> = candidates.iter().map(String::as_str).collect();
                        let field = &patch.path[problem.segment];
                        let help = suggest::help(field, &names).unwrap_or_else(|| {
                            let mut shown: Vec<&str> = names.clone();
                            shown.truncate(12);
                            format!("fields here: {}", shown.join(", "))
                        });
                        (format!("`{path}` is not a field of {kind}"), help)
                    }
                    Problem::WrongType { expected } => {
                        (format!("`{path}` is {expected} in {kind}"), format!("give {expected} value"))
                    }
                };
                self.diags.push(
                    Diagnostic::error(Code::PatchDoesNotFit, message, Label::new(span, "does not fit the schema"))
                        .with_help(help),
                );
            }
        }
    }
}

struct PathProblem {
    segment: usize,
    kind: Problem,
}

enum Problem {
    UnknownField { candidates: Vec<String> },
    WrongType { expected: &'static str },
}

/// The node and what `allOf`/`anyOf`/`oneOf` add to it.
fn alternatives(node: &Json) -> Vec<&Json> {
    let mut out = vec![node];
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Json::Array(items)) = node.get(key) {
            for item in items {
                out.extend(alternatives(item));
            }
        }
    }
    out
}

fn check_path(schema: &Json, path: &[String], value: &Value) -> Result<(), PathProblem> {
    let mut node = schema;
    for (index, segment) in path.iter().enumerate() {
        let options = alternatives(node);
        if options.iter().any(|n| n.get("x-kubernetes-preserve-unknown-fields") == Some(&Json::Bool(true))) {
            return Ok(());
        }
        if let Some(child) = options.iter().find_map(|n| n.get("properties").and_then(|p| p.get(segment))) {
            node = child;
            continue;
        }
        if let Some(extra) = options.iter().find_map(|n| n.get("additionalProperties")) {
            match extra {
                Json::Bool(true) => return Ok(()),
                Json::Object(_) => {
                    node = extra;
                    continue;
                }
                _ => {}
            }
        }
        // A bare `type: object` (as CRDs declare `metadata`) leaves its
        // content to the API server: nothing to check against here.
        if options.iter().all(|n| n.get("properties").is_none() && n.get("items").is_none())
            && options.iter().any(|n| n.get("type").and_then(Json::as_str) == Some("object"))
        {
            return Ok(());
        }
        if segment.parse::<usize>().is_ok()
            && let Some(items) = options.iter().find_map(|n| n.get("items"))
        {
            node = items;
            continue;
        }
        let mut candidates: Vec<String> = options
            .iter()
            .filter_map(|n| n.get("properties").and_then(Json::as_object))
            .flat_map(|p| p.keys().cloned())
            .collect();
        candidates.sort();
        candidates.dedup();
        return Err(PathProblem { segment: index, kind: Problem::UnknownField { candidates } });
    }
    let options = alternatives(node);
    if options.iter().any(|n| {
        n.get("x-kubernetes-preserve-unknown-fields") == Some(&Json::Bool(true))
            || n.get("x-kubernetes-int-or-string").is_some()
    }) {
        return Ok(());
    }
    let types: Vec<&str> = options.iter().filter_map(|n| n.get("type").and_then(Json::as_str)).collect();
    if types.is_empty() || types.iter().any(|t| fits(t, value)) {
        return Ok(());
    }
    let expected = match types[0] {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a bool",
        "array" => "a list",
        _ => "an object",
    };
    Err(PathProblem { segment: path.len().saturating_sub(1), kind: Problem::WrongType { expected } })
}

fn fits(ty: &str, value: &Value) -> bool {
    match ty {
        "string" => matches!(
            value,
            Value::String(_)
                | Value::Template(_)
                | Value::Enum(_)
                | Value::Quantity(_)
                | Value::Cpu(_)
                | Value::Duration(_)
        ),
        "integer" => matches!(value, Value::Int(_)),
        "number" => matches!(value, Value::Int(_) | Value::Float(_)),
        "boolean" => matches!(value, Value::Bool(_)),
        "array" => matches!(value, Value::List(_)),
        "object" => matches!(value, Value::Object(_)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(target: PatchTarget, path: &str, value: Value) -> bool {
        let path: Vec<String> = path.split('.').map(str::to_string).collect();
        check_path(target.schema(), &path, &value).is_ok()
    }

    #[test]
    fn schemas_are_embedded_and_parse() {
        for target in
            [PatchTarget::TrainJob, PatchTarget::Experiment, PatchTarget::InferenceService, PatchTarget::Notebook]
        {
            assert!(target.schema().get("properties").is_some(), "{target:?} schema did not parse");
        }
    }

    #[test]
    fn real_paths_fit_and_typos_do_not() {
        assert!(check(PatchTarget::TrainJob, "spec.trainer.numNodes", Value::Int(2)));
        assert!(!check(PatchTarget::TrainJob, "spec.trainer.numNode", Value::Int(2)));
        assert!(!check(PatchTarget::TrainJob, "spec.trainer.numNodes", Value::String("2".into())));
        let label_path = ["metadata", "labels", "kueue.x-k8s.io/queue-name"].map(String::from);
        assert!(check_path(PatchTarget::TrainJob.schema(), &label_path, &Value::String("q".into())).is_ok());
        assert!(check(PatchTarget::InferenceService, "spec.predictor.minReplicas", Value::Int(1)));
        assert!(!check(PatchTarget::InferenceService, "spec.predictor.minReplica", Value::Int(1)));
        assert!(check(PatchTarget::Experiment, "spec.maxTrialCount", Value::Int(3)));
        assert!(!check(PatchTarget::Experiment, "spec.maxTrials", Value::Int(3)));
        assert!(check(PatchTarget::Notebook, "spec.template.spec.serviceAccountName", Value::String("sa".into())));
    }
}
