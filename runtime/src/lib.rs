//! kfl-runtime: executes a compiled `plan.json` on one machine; it never sees the AST or the IR.

pub mod plan;
pub mod serving;
