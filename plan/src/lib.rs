//! The plan format's shared vocabulary: facts the compiler checks and the runtime executes, written once.
//!
//! The compiler (`kfl-compiler`) writes `plan.json` and the runtime (`kfl-runtime`) reads it; neither
//! depends on the other, so a grammar both must agree on lives here.

pub mod cron;
