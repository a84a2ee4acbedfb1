//! Built-in steps behind `kfl builtin …`: the work of the `std.data` and `std.eval` components, in Rust.
//!
//! Each builtin reads a CSV table, writes its artifacts and scalar outputs as files (scalars as text, the way
//! the runtime reads every scalar output back), and returns a summary the command line prints. Randomness is
//! seeded and portable (`seeded`), so the same seed gives the same rows on every machine and release.

pub mod csv_table;
pub mod describe;
pub mod metrics;
pub mod output;
pub mod sample;
pub mod seeded;
pub mod split;

use std::fmt;

/// Why a builtin failed: a missing or unreadable file, a bad table, a bad option. The message names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinError(pub String);

impl fmt::Display for BuiltinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuiltinError {}

impl BuiltinError {
    pub fn new(message: impl Into<String>) -> BuiltinError {
        BuiltinError(message.into())
    }
}
