//! The standard library: `.kfl` modules from `stdlib/`, embedded in the binary and reached with `import std.NAME`.

/// Module name → source text.
pub const MODULES: &[(&str, &str)] =
    &[("data", include_str!("../../stdlib/data.kfl")), ("eval", include_str!("../../stdlib/eval.kfl"))];

pub fn module(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}
