//! Reading `plan.json`: the version check in front of the format's types, which live in `kfl-plan`.
//!
//! The compiler writes the plan from the same types (`kfl_plan::format`); `tests/plan_schema.rs` reads every
//! compiled example back through them.

use std::fmt;

use serde::Deserialize;

use crate::deep_json::JsonError;

pub use kfl_plan::format::*;

/// Why `plan.json` was not read; the run started nothing.
#[derive(Debug)]
pub enum PlanError {
    /// Not JSON with a `plan_version`.
    NotAPlan(JsonError),
    /// A plan of another format version.
    Version { found: u32 },
    /// The right version, but not that version's shape.
    Format(JsonError),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::NotAPlan(e) => write!(f, "plan.json is not a kfl plan: {e}"),
            PlanError::Version { found } => write!(
                f,
                "plan.json has plan_version {found}, this runtime reads version {PLAN_VERSION}; rebuild it with this kfl"
            ),
            PlanError::Format(e) => write!(f, "plan.json does not match plan format {PLAN_VERSION}: {e}"),
        }
    }
}

impl std::error::Error for PlanError {}

/// Reads `plan.json`, refusing versions this runtime does not know.
pub fn parse(text: &str) -> Result<Plan, PlanError> {
    #[derive(Deserialize)]
    struct Version {
        plan_version: u32,
    }
    let version: Version = crate::deep_json::from_str(text).map_err(PlanError::NotAPlan)?;
    if version.plan_version != PLAN_VERSION {
        return Err(PlanError::Version { found: version.plan_version });
    }
    crate::deep_json::from_str(text).map_err(PlanError::Format)
}
