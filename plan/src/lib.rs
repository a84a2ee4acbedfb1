//! The plan format: what the compiler writes and the runtime reads, written once.
//!
//! The compiler (`kfl-compiler`) writes `plan.json` and the runtime (`kfl-runtime`) reads it; neither
//! depends on the other, so the format's types (`format`) and the grammars both must agree on (`cron`) live here.

pub mod cron;
pub mod format;
pub mod schema;

pub use format::*;
