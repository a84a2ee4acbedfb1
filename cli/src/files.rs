//! File-system access for the compiler: reading `.kfl` files, finding them under folders, and the import loader.

use std::path::{Path, PathBuf};

use kfl_compiler::source::{Loader, Origin, SourceFile, Sources, join_relative};

/// Loads imports relative to the importing file, from disk.
pub struct DiskLoader;

impl Loader for DiskLoader {
    fn load(&self, from: &str, relative: &str) -> Result<(String, String), String> {
        let name = join_relative(from, relative);
        read_source(Path::new(&name)).map(|text| (name.clone(), text)).map_err(|why| format!("`{name}`: {why}"))
    }
}

/// The most of a `.kfl` file kfl reads: far above any real program (the 50 MB benchmark file stays below),
/// and a bound on what `/dev/zero` or a huge file linked as `x.kfl` can make kfl hold.
pub const MAX_SOURCE_BYTES: u64 = 64 * 1024 * 1024;

/// The text of a `.kfl` file, read only when it is a regular file (a FIFO would block forever, a device
/// never end) of at most [`MAX_SOURCE_BYTES`], and UTF-8 text without NUL bytes. The reasons never quote the
/// content: a `.kfl` link to someone's credentials must not print them.
pub fn read_source(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let before = std::fs::metadata(path).map_err(|e| describe_io(&e))?;
    if !before.is_file() {
        return Err(format!("is {}, not a regular file: kfl reads only .kfl text files", describe_kind(&before)));
    }
    let file = std::fs::File::open(path).map_err(|e| describe_io(&e))?;
    let opened = file.metadata().map_err(|e| describe_io(&e))?;
    if !opened.is_file() || opened.ino() != before.ino() || opened.dev() != before.dev() {
        return Err("changed while kfl opened it; try again".to_string());
    }
    let too_large = || format!("larger than {} MiB: kfl reads .kfl files up to that size", MAX_SOURCE_BYTES >> 20);
    if opened.len() > MAX_SOURCE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(opened.len() as usize);
    file.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| describe_io(&e))?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(too_large());
    }
    if bytes.contains(&0) {
        return Err("holds NUL bytes, so it is not .kfl text (a binary file?)".to_string());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!("not UTF-8 text (invalid byte at offset {}): .kfl files are UTF-8", e.utf8_error().valid_up_to())
    })
}

/// What kind of file `meta` (not followed through a link) describes, for messages: "a FIFO".
pub fn describe_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_file() {
        "a file"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
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
    let text = read_source(path).map_err(|why| format!("{}: {why}", path.display()))?;
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
