//! The server's state: open documents, the last check of each, and a cache of imported files read from disk.
//!
//! A change re-checks the changed document and the open documents that
//! import it; nothing else. Imported files that are not open are read from
//! disk once and kept while their modification time stays the same.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use kfl_compiler::ide::Analysis;
use kfl_compiler::source::{FileId, Loader, Origin, SourceFile, Sources, join_relative};
use kfl_compiler::syntax::ParseCache;
use kfl_compiler::{Checked, Incremental};

/// One checked document: its source map (the document first) and the check result.
pub struct DocumentCheck {
    pub sources: Sources,
    pub checked: Checked,
    pub file: FileId,
}

impl DocumentCheck {
    pub fn analysis(&self) -> Analysis<'_> {
        Analysis::new(&self.sources, &self.checked)
    }

    pub fn source(&self) -> &SourceFile {
        self.sources.get(self.file)
    }
}

pub struct Document {
    pub text: Arc<str>,
    pub version: i32,
    pub checked: Option<DocumentCheck>,
    /// Syntax trees of this document's declarations, reused when they do not change.
    parse_cache: ParseCache,
}

/// An imported file's text as read from disk, and its modification time then.
type DiskFile = (Option<SystemTime>, Arc<str>);

#[derive(Default)]
pub struct Workspace {
    /// Where the standard library's modules are written (their files are libraries), with a trailing `/`.
    library_folder: Option<String>,
    /// Open documents by name (see `convert::name_of`).
    pub documents: BTreeMap<String, Document>,
    /// Imported files read from disk: name → (modification time, text).
    disk: RefCell<BTreeMap<String, DiskFile>>,
    /// Checks replaced by newer ones; freed after the diagnostics are out, since freeing
    /// a large file's syntax trees takes a few milliseconds the user would wait for.
    retired: Vec<DocumentCheck>,
}

impl Workspace {
    pub fn new(library_folder: Option<String>) -> Workspace {
        Workspace { library_folder, ..Workspace::default() }
    }

    pub fn open(&mut self, name: String, text: String, version: i32) {
        let document = Document { text: text.into(), version, checked: None, parse_cache: ParseCache::new() };
        self.documents.insert(name, document);
    }

    pub fn close(&mut self, name: &str) {
        self.documents.remove(name);
    }

    pub fn change(&mut self, name: &str, text: String, version: i32) -> bool {
        match self.documents.get_mut(name) {
            Some(document) => {
                document.text = text.into();
                document.version = version;
                true
            }
            None => false,
        }
    }

    /// Checks `name` and every open document that loaded it; returns the names checked, `name` first.
    pub fn recheck(&mut self, name: &str) -> Vec<String> {
        let mut names = vec![name.to_string()];
        names.extend(
            self.documents
                .iter()
                .filter(|(other, doc)| {
                    other.as_str() != name
                        && doc.checked.as_ref().is_some_and(|c| c.sources.iter().skip(1).any(|(_, f)| f.name == name))
                })
                .map(|(other, _)| other.clone()),
        );
        for name in &names {
            let Some(document) = self.documents.get(name) else { continue };
            let checked = self.check(name, document.text.clone(), &document.parse_cache);
            if let Some(document) = self.documents.get_mut(name)
                && let Some(previous) = document.checked.replace(checked)
            {
                self.retired.push(previous);
            }
        }
        names.retain(|n| self.documents.contains_key(n));
        names
    }

    fn check(&self, name: &str, text: Arc<str>, cache: &ParseCache) -> DocumentCheck {
        let mut sources = Sources::new();
        let file = sources.add(SourceFile::new(name, text, Origin::User));
        let options = Incremental { library: self.is_library(name), cache: Some(cache) };
        let checked = kfl_compiler::check_incremental(&mut sources, file, self, options);
        DocumentCheck { sources, checked, file }
    }

    /// A file in a `lib/` folder (skipped by `kfl check` on folders) or the standard library's
    /// cache folder, or one another open document imports, is checked as an imported module:
    /// it need not declare a `project`.
    fn is_library(&self, name: &str) -> bool {
        name.split('/').rev().skip(1).any(|folder| folder == "lib")
            || self.library_folder.as_ref().is_some_and(|folder| name.starts_with(folder.as_str()))
            || self.documents.iter().any(|(other, doc)| {
                other != name
                    && doc.checked.as_ref().is_some_and(|c| c.sources.iter().skip(1).any(|(_, f)| f.name == name))
            })
    }

    pub fn free_retired(&mut self) {
        self.retired.clear();
    }

    pub fn checked(&self, name: &str) -> Option<&DocumentCheck> {
        self.documents.get(name).and_then(|d| d.checked.as_ref())
    }
}

impl Loader for Workspace {
    fn load(&self, from: &str, relative: &str) -> Result<(String, String), String> {
        let name = join_relative(from, relative);
        if let Some(document) = self.documents.get(&name) {
            return Ok((name, document.text.to_string()));
        }
        let path = PathBuf::from(&name);
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if let Some((cached_time, text)) = self.disk.borrow().get(&name)
            && modified.is_some()
            && *cached_time == modified
        {
            return Ok((name, text.to_string()));
        }
        let text = crate::files::read_source(&path).map_err(|why| format!("`{name}`: {why}"))?;
        self.disk.borrow_mut().insert(name.clone(), (modified, Arc::from(text.as_str())));
        Ok((name, text))
    }
}
