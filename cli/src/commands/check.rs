//! `kfl check`: type-check files and folders, print every diagnostic.

use std::io::Write;
use std::path::PathBuf;

use kfl_compiler::diagnostics::render;
use kfl_compiler::ir::bind::BindOptions;

use crate::Status;
use crate::files;

/// Check .kfl files for errors without building anything.
///
/// Example: `kfl check examples/` or `kfl check iris.kfl --format json`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or folders (searched for `*.kfl`, skipping `lib/` folders of imported modules).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// `human` (graphical on a terminal, plain otherwise) or `json` (one object per line).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat warnings as errors: `--deny warnings`.
    #[arg(long, value_name = "warnings")]
    deny: Option<Deny>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deny {
    Warnings,
}

pub fn run(args: Args) -> Status {
    let paths = match files::collect(&args.paths) {
        Ok(paths) => paths,
        Err(message) => {
            eprintln!("error: {message}");
            return Status::Usage;
        }
    };
    if paths.is_empty() {
        eprintln!(
            "error: no .kfl files found under {}",
            args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
        return Status::Usage;
    }
    let style = super::text_style();
    let mut errors = 0;
    let mut warnings = 0;
    let mut stdout = std::io::stdout().lock();
    let mut stderr = anstream::stderr().lock();
    for (index, path) in paths.iter().enumerate() {
        let (mut sources, id) = match files::read(path) {
            Ok(read) => read,
            Err(message) => {
                eprintln!("error: {message}");
                return Status::Usage;
            }
        };
        // `check_bound` with no `-p` value and no param required is `check`, less the checked file's syntax
        // tree, freed as it is lowered (a large file's peak memory: bench/memory.sh).
        let checked = kfl_compiler::check_bound(&mut sources, id, &files::DiskLoader, &BindOptions::default());
        for diagnostic in &checked.diagnostics {
            if diagnostic.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
            match args.format {
                Format::Json => {
                    let _ = writeln!(stdout, "{}", render::render_json(&sources, diagnostic));
                }
                Format::Human => {
                    let _ = writeln!(stderr, "{}", render::render_text(&sources, diagnostic, style));
                }
            }
        }
        if index + 1 == paths.len() {
            // The process ends right after the last file: freeing its syntax
            // trees node by node would only cost time (~5% on large files).
            std::mem::forget((checked, sources));
        }
    }
    let failed = errors > 0 || (args.deny == Some(Deny::Warnings) && warnings > 0);
    if args.format == Format::Human {
        let files = if paths.len() == 1 { "1 file".to_string() } else { format!("{} files", paths.len()) };
        let _ = writeln!(
            stderr,
            "checked {files}: {errors} error{}, {warnings} warning{}",
            plural(errors),
            plural(warnings)
        );
    }
    if failed { Status::UserErrors } else { Status::Ok }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
