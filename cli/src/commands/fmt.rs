//! `kfl fmt`: rewrite files in canonical style, or `--check` that they are.

use std::path::PathBuf;

use kfl_compiler::diagnostics::render;

use crate::Status;
use crate::files;

/// Format .kfl files in the canonical style (comments kept).
///
/// Lines wrap at 100 columns: a list, argument list or stage signature that does not fit is printed one element
/// per line. Example: `kfl fmt examples/` or `kfl fmt --check iris.kfl`
#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Do not write; exit 1 if any file is not formatted.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> Status {
    let paths = match files::collect_all(&args.paths) {
        Ok(paths) => paths,
        Err(message) => {
            eprintln!("error: {message}");
            return Status::Usage;
        }
    };
    let mut unformatted = 0;
    let mut failed = false;
    for path in &paths {
        let (sources, id) = match files::read(path) {
            Ok(read) => read,
            Err(message) => {
                eprintln!("error: {message}");
                return Status::Usage;
            }
        };
        let text = sources.get(id).text.to_string();
        match kfl_compiler::format::format(&text) {
            Err(diagnostics) => {
                failed = true;
                eprintln!("{}", render::render_all(&sources, &diagnostics, super::text_style()));
            }
            Ok(formatted) if formatted != text => {
                unformatted += 1;
                if args.check {
                    eprintln!("would reformat {}", files::display_name(path));
                } else if let Err(e) = write_atomically(path, &formatted) {
                    eprintln!("error: {}: {e}", path.display());
                    return Status::Usage;
                } else {
                    eprintln!("formatted {}", files::display_name(path));
                }
            }
            Ok(_) => {}
        }
    }
    if failed || (args.check && unformatted > 0) { Status::UserErrors } else { Status::Ok }
}

/// Write to a temporary file beside the target, then rename over it.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file.kfl");
    let temporary = dir.join(format!(".{name}.kfl-fmt.tmp"));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}
