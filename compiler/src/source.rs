//! Source files, file ids, byte spans and the line index used only when rendering.

use std::sync::Arc;

/// Identifies one file in a [`Sources`] map. Stdlib modules get ids too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
pub struct FileId(pub u32);

/// A byte range in one file. Line and column are computed only when rendering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: to_u32(start), end: to_u32(end) }
    }

    /// The smallest span covering both (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.end == self.start
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// A span starting where this one starts and `offset` bytes further on.
    pub fn shifted(self, offset: usize) -> Span {
        Span { file: self.file, start: self.start + to_u32(offset), end: self.end + to_u32(offset) }
    }
}

fn to_u32(n: usize) -> u32 {
    // Files over 4 GiB are refused by the CLI before they reach us.
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Where a file came from: the user's tree or the embedded standard library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    User,
    Stdlib,
}

/// One loaded source file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The name shown to users: a path relative to where `kfl` was run, or `<stdlib/data.kfl>`.
    pub name: String,
    pub text: Arc<str>,
    pub origin: Origin,
    line_starts: Vec<u32>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>, origin: Origin) -> SourceFile {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| to_u32(i + 1)));
        SourceFile { name: name.into(), text, origin, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        };
        let start = self.line_starts[line] as usize;
        let end = (offset as usize).min(self.text.len());
        let column = self.text.get(start..end).map_or(end - start, |s| s.chars().count());
        (line + 1, column + 1)
    }

    /// 0-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&u32::try_from(offset).unwrap_or(u32::MAX)) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// Byte offset where 0-based `line` starts (the file's length past the last line).
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line).map_or(self.text.len(), |s| *s as usize)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }
}

/// Every file of one compilation, indexed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(to_u32(self.files.len() - 1))
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn find(&self, name: &str) -> Option<FileId> {
        self.files.iter().position(|f| f.name == name).map(|i| FileId(to_u32(i)))
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(to_u32(i)), f))
    }
}

/// How the compiler reaches imported files without doing I/O itself.
///
/// The CLI implements it over the file system; tests and the language
/// server implement it over memory.
pub trait Loader {
    /// Loads `relative` as seen from the file named `from` (both as given
    /// in [`SourceFile::name`]). Returns the new file's display name and
    /// text, or a message saying why it cannot be read.
    fn load(&self, from: &str, relative: &str) -> Result<(String, String), String>;
}

/// A loader that knows only the files it is given, by display name.
#[derive(Debug, Default)]
pub struct MemoryLoader {
    pub files: Vec<(String, String)>,
}

impl Loader for MemoryLoader {
    fn load(&self, from: &str, relative: &str) -> Result<(String, String), String> {
        let name = join_relative(from, relative);
        self.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, t)| (n.clone(), t.clone()))
            .ok_or_else(|| format!("no such file `{name}`"))
    }
}

/// Joins `relative` to the folder of `from` and normalises `.` and `..`,
/// purely on strings (the compiler never asks the file system).
pub fn join_relative(from: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for segment in relative.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") && !parts.is_empty() {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based() {
        let file = SourceFile::new("a.kfl", "ab\ncd", Origin::User);
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(3), (2, 1));
        assert_eq!(file.line_col(4), (2, 2));
    }

    #[test]
    fn relative_paths_join_on_strings() {
        assert_eq!(join_relative("cv.kfl", "lib/common.kfl"), "lib/common.kfl");
        assert_eq!(join_relative("a/b/cv.kfl", "../lib/c.kfl"), "a/lib/c.kfl");
        assert_eq!(join_relative("cv.kfl", "../x.kfl"), "../x.kfl");
    }
}
