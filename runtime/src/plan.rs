//! Reading `plan.json`: the version check in front of the format's types, which live in `kfl-plan`.
//!
//! The compiler writes the plan from the same types (`kfl_plan::format`); `tests/plan_schema.rs` reads every
//! compiled example back through them.

use serde::Deserialize;

pub use kfl_plan::format::*;

/// Reads `plan.json`, refusing versions this runtime does not know.
pub fn parse(text: &str) -> Result<Plan, String> {
    #[derive(Deserialize)]
    struct Version {
        plan_version: u32,
    }
    let version: Version = crate::deep_json::from_str(text).map_err(|e| format!("plan.json is not a kfl plan: {e}"))?;
    if version.plan_version != PLAN_VERSION {
        return Err(format!(
            "plan.json has plan_version {}, this runtime reads version {PLAN_VERSION}; rebuild it with this kfl",
            version.plan_version
        ));
    }
    crate::deep_json::from_str(text).map_err(|e| format!("plan.json does not match plan format {PLAN_VERSION}: {e}"))
}
