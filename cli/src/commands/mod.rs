//! One module per subcommand.

pub mod build;
pub mod check;
pub mod explain;
pub mod fmt;
pub mod graph;

use kfl_compiler::diagnostics::render::Style;

/// Graphical diagnostics on a terminal, plain text otherwise or with `NO_COLOR`.
pub fn text_style() -> Style {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if std::io::stderr().is_terminal() && !no_color { Style::Fancy } else { Style::Plain }
}
