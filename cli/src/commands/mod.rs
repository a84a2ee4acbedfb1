//! One module per subcommand.

pub mod build;
pub mod builtin;
pub mod check;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod models;
pub mod run;
pub mod runs;
pub mod serve;
pub mod stage;
pub mod tune;

use kfl_compiler::diagnostics::render::Style;

/// Graphical diagnostics on a terminal, plain text otherwise or with `NO_COLOR`.
pub fn text_style() -> Style {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if std::io::stderr().is_terminal() && !no_color { Style::Fancy } else { Style::Plain }
}

/// Reads and checks one file for the commands that need a checked program
/// (`build`, `run`, `graph`), its params bound by `bind` (`-p` values). On errors, prints every diagnostic and
/// returns the exit status to use; otherwise prints the warnings, if any.
pub fn check_one(
    path: &std::path::Path,
    bind: &kfl_compiler::ir::bind::BindOptions,
) -> Result<(kfl_compiler::source::Sources, kfl_compiler::Checked), crate::Status> {
    check_one_for(path, bind, false)
}

/// `check_one`; with `cluster`, for a cluster back end: cluster-only refusals (W0402) are errors.
pub fn check_one_for(
    path: &std::path::Path,
    bind: &kfl_compiler::ir::bind::BindOptions,
    cluster: bool,
) -> Result<(kfl_compiler::source::Sources, kfl_compiler::Checked), crate::Status> {
    use kfl_compiler::diagnostics::render;
    let (mut sources, id) = match crate::files::read(path) {
        Ok(read) => read,
        Err(message) => {
            eprintln!("error: {message}");
            return Err(crate::Status::Usage);
        }
    };
    let checked = kfl_compiler::check_bound(&mut sources, id, &crate::files::DiskLoader, bind);
    let checked = if cluster { checked.for_cluster() } else { checked };
    if !checked.diagnostics.is_empty() {
        eprintln!("{}", render::render_all(&sources, &checked.diagnostics, text_style()));
    }
    if checked.has_errors() {
        return Err(crate::Status::UserErrors);
    }
    Ok((sources, checked))
}
