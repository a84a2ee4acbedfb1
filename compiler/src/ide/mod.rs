//! Editor queries over a checked file: what a name is, where it is declared and used, what may be typed next.
//!
//! Everything here is pure: the language server (`kfl lsp`) owns the
//! documents, converts byte offsets to editor positions and speaks the
//! protocol. Queries take an [`Analysis`] — the sources and the result of
//! [`crate::check`] — and byte offsets into one of its files.

mod completion;
mod hover;
mod index;
mod navigate;
mod outline;
mod scan;

pub use completion::{Completion, CompletionKind, complete};
pub use hover::{Hover, hover};
pub use index::{Occurrence, Symbol, occurrences, symbol_at};
pub use navigate::{Rename, definition, references, rename};
pub use outline::{Outline, OutlineKind, SemanticKind, SemanticToken, outline, semantic_tokens};

use crate::Checked;
use crate::resolve::Module;
use crate::source::{FileId, Sources};

/// One checked file and everything it loaded.
#[derive(Clone, Copy, Debug)]
pub struct Analysis<'a> {
    pub sources: &'a Sources,
    pub checked: &'a Checked,
}

impl<'a> Analysis<'a> {
    pub fn new(sources: &'a Sources, checked: &'a Checked) -> Analysis<'a> {
        Analysis { sources, checked }
    }

    /// The parsed module of `file`, when the check loaded it.
    pub fn module(&self, file: FileId) -> Option<&'a Module> {
        self.checked.modules.modules.iter().find(|m| m.file == file)
    }

    /// The module at `index` in load order (the checked file is 0).
    pub fn module_at(&self, index: usize) -> Option<&'a Module> {
        self.checked.modules.modules.get(index)
    }

    pub fn text(&self, file: FileId) -> &'a str {
        &self.sources.get(file).text
    }
}

/// Whether `name` can be written as a kfl identifier (for rename).
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
}

/// Words the grammar reserves (`reserved` in `kfl.pest`); a name cannot be one.
pub const KEYWORDS: &[&str] = &["true", "false", "if", "then", "else"];

/// Declaration keywords offered at the top level, with a one-line summary.
pub const DECLARATIONS: &[(&str, &str)] = &[
    ("project", "The project: namespace, default image, registry, labels."),
    (
        "import",
        "Import components from another file (`import \"lib/x.kfl\"`) or the standard library (`import std.data`).",
    ),
    ("param", "A pipeline parameter: `param NAME: TYPE = DEFAULT`."),
    ("secret", "A Kubernetes Secret exposed to stages as environment variables."),
    ("volume", "A PersistentVolumeClaim stages and notebooks can mount."),
    ("dataset", "An input data set by URI."),
    ("notebook", "A Kubeflow notebook server."),
    ("component", "A reusable stage template, instantiated with `step NAME = COMPONENT(…)`."),
    ("step", "A container stage of the pipeline."),
    ("train", "A distributed training stage (a Kubeflow TrainJob)."),
    ("tune", "A hyperparameter search over a trial stage (a Katib Experiment)."),
    ("model", "A model version registered in the Model Registry."),
    ("serve", "An inference service (KServe InferenceService)."),
    ("monitor", "Rules over a service's metrics: alert or retrain."),
    ("for", "Fan-out: `for x in LIST { … }` declares stages per element."),
];

#[cfg(test)]
mod tests;
