//! kfl-runtime: executes a compiled `plan.json` on one machine; it never sees the AST or the IR.

pub mod builtin;
mod deep_json;
pub mod plan;
pub mod process_tree;
pub mod registry;
pub mod run;
pub mod search;
pub mod serving;
pub mod value;
