//! The plan format: what the compiler writes and the runtime reads, written once.
//!
//! The compiler (`kfl-compiler`) writes `plan.json` and the runtime (`kfl-runtime`) reads it; neither
//! depends on the other, so the format's types (`format`), the grammars both must agree on (`cron`) and the
//! search-algorithm table both apply (`algorithms`) live here.

pub mod algorithms;
mod closed_set;
pub mod cron;
pub mod format;
pub mod schema;

pub use format::*;

/// The deepest JSON the runtime reads (`plan.json`, run records, cache entries), in nested arrays and objects.
///
/// The parser lets an expression nest 256 levels (`kfl_compiler::syntax::trivia::MAX_NESTING`) and the plan
/// spends at most two JSON levels on each (a list constant is an object holding an array), plus its envelope:
/// the compiler asserts its deepest plan stays under this. serde_json alone stops at 128, which refused programs
/// `kfl build` accepted; the runtime reads deeper documents on a thread with a stack sized for this bound.
pub const MAX_JSON_DEPTH: usize = 1024;
