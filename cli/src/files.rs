//! File-system access for the compiler: reading `.kfl` files, finding them under folders, and the import loader.

use std::path::{Path, PathBuf};

use kfl_compiler::source::{Loader, Origin, SourceFile, Sources, join_relative};

/// Loads imports relative to the importing file, from disk.
pub struct DiskLoader;

impl Loader for DiskLoader {
    fn load(&self, from: &str, relative: &str) -> Result<(String, String), String> {
        let name = join_relative(from, relative);
        std::fs::read_to_string(&name)
            .map(|text| (name.clone(), text))
            .map_err(|e| format!("`{name}`: {}", describe_io(&e)))
    }
}

pub fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".to_string(),
        _ => error.to_string(),
    }
}

/// Every `.kfl` file named, or found under a named folder (sorted). Files
/// under a `lib/` folder of a directory walk are left out: they are imported
/// modules, checked through the files that import them.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    collect_with(paths, true)
}

/// Like [`collect`], but including `lib/` folders (for `fmt`).
pub fn collect_all(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    collect_with(paths, false)
}

fn collect_with(paths: &[PathBuf], skip_lib: bool) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out, skip_lib).map_err(|e| format!("{}: {}", path.display(), describe_io(&e)))?;
        } else if path.exists() {
            out.push(path.clone());
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, skip_lib: bool) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name.starts_with('.') || (skip_lib && name == "lib") || name == "target" || name == "node_modules" {
                continue;
            }
            walk(&path, out, skip_lib)?;
        } else if name.ends_with(".kfl") {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads one file into a fresh source map.
pub fn read(path: &Path) -> Result<(Sources, kfl_compiler::source::FileId), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {}", path.display(), describe_io(&e)))?;
    if u32::try_from(text.len()).is_err() {
        return Err(format!("{}: file larger than 4 GiB", path.display()));
    }
    let mut sources = Sources::new();
    let name = display_name(path);
    let id = sources.add(SourceFile::new(name, text, Origin::User));
    Ok((sources, id))
}

/// The path as given, with `./` removed and `/` separators.
pub fn display_name(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").unwrap_or(&text).to_string()
}
