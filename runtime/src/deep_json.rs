//! Reads the JSON kfl writes for itself (`plan.json`, run records, cache entries) at any depth the compiler emits.
//!
//! A plan is as deep as the program's deepest expression (two JSON levels per level of a list constant), and a
//! run record holds loop items and scalar outputs of the same depth. serde_json's default limit of 128 refused
//! such plans although `kfl build` accepted them, so documents are first measured by an iterative scan and
//! refused past [`kfl_plan::MAX_JSON_DEPTH`], then deserialized without serde_json's limit on a thread whose
//! stack holds that depth.

use std::fmt;

use serde::de::DeserializeOwned;

/// Why a document was not read; nothing of it was kept.
#[derive(Debug)]
pub enum JsonError {
    /// Deeper than [`kfl_plan::MAX_JSON_DEPTH`]: refused before parsing.
    TooDeep { depth: usize },
    /// The reader thread for a deep document could not be started.
    Thread(std::io::Error),
    /// Not JSON, or not the expected shape.
    Syntax(serde_json::Error),
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::TooDeep { depth } => write!(
                f,
                "it nests {depth} levels deep; kfl reads at most {} (no program kfl compiles comes near this)",
                kfl_plan::MAX_JSON_DEPTH
            ),
            JsonError::Thread(e) => write!(f, "cannot start a thread to read it: {e}"),
            JsonError::Syntax(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for JsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JsonError::TooDeep { .. } => None,
            JsonError::Thread(e) => Some(e),
            JsonError::Syntax(e) => Some(e),
        }
    }
}

/// Up to this depth serde_json's own limit holds and the caller's stack is enough (serde_json's default).
const SHALLOW: usize = 128;

/// The reader thread's stack: four times what a debug build needs at the bound (between 2 and 4 MiB for a
/// document `MAX_JSON_DEPTH` deep, measured with `tests::the_deepest_document_reads_in_a_debug_build`).
/// Untouched stack pages are never allocated.
const STACK: usize = 16 << 20;

/// Deserializes `text`; the error says why it is not a `T` (or that it nests too deep).
pub fn from_str<T: DeserializeOwned + Send>(text: &str) -> Result<T, JsonError> {
    let depth = depth(text.as_bytes());
    if depth > kfl_plan::MAX_JSON_DEPTH {
        return Err(JsonError::TooDeep { depth });
    }
    if depth <= SHALLOW {
        return serde_json::from_str(text).map_err(JsonError::Syntax);
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("kfl-json".into())
            .stack_size(STACK)
            .spawn_scoped(scope, || unbounded(text))
            .map_err(JsonError::Thread)?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn unbounded<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let value = T::deserialize(&mut deserializer).map_err(JsonError::Syntax)?;
    deserializer.end().map_err(JsonError::Syntax)?;
    Ok(value)
}

/// The deepest nesting of arrays and objects in `bytes`, brackets inside strings excluded; malformed JSON gets
/// some number and fails later, in serde_json.
fn depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Constant, Expression};

    fn nested_list(levels: usize) -> String {
        // `levels` JSON levels: each list constant is an object holding an array.
        let lists = levels / 2;
        format!(
            "{}{{\"type\":\"int\",\"value\":1,\"text\":\"1\"}}{}",
            "{\"type\":\"list\",\"items\":[".repeat(lists),
            "]}".repeat(lists)
        )
    }

    #[test]
    fn depth_counts_arrays_and_objects_but_not_brackets_in_strings() {
        assert_eq!(depth(br#"{"a":[1,{"b":"[[[{"}],"c\"[":[]}"#), 3);
        assert_eq!(depth(b"1"), 0);
        assert_eq!(depth(nested_list(600).as_bytes()), 601);
    }

    #[test]
    fn the_deepest_document_reads_in_a_debug_build() {
        // Half the levels are `!` expressions, half a list constant inside them: both internally tagged enums.
        let nots = kfl_plan::MAX_JSON_DEPTH / 2;
        let text = format!(
            "{}{{\"kind\":\"constant\",\"value\":{}}}{}",
            "{\"kind\":\"unary\",\"op\":\"not\",\"operand\":".repeat(nots),
            nested_list(kfl_plan::MAX_JSON_DEPTH - nots - 2),
            "}".repeat(nots)
        );
        assert_eq!(depth(text.as_bytes()), kfl_plan::MAX_JSON_DEPTH);
        let mut at: Expression = from_str(&text).expect("the deepest document");
        for _ in 0..nots {
            let Expression::Unary { operand, .. } = at else { panic!("{at:?}") };
            at = *operand;
        }
        let Expression::Constant { value } = at else { panic!("{at:?}") };
        let (mut lists, mut item) = (0, &value);
        while let Constant::List { items } = item {
            lists += 1;
            item = &items[0];
        }
        assert_eq!(lists, (kfl_plan::MAX_JSON_DEPTH - nots - 2) / 2);
    }

    #[test]
    fn a_deeper_document_is_refused_with_its_depth() {
        let error = from_str::<Constant>(&nested_list(kfl_plan::MAX_JSON_DEPTH + 2)).expect_err("too deep");
        assert!(matches!(error, JsonError::TooDeep { depth: 1027 }), "{error}");
        assert!(error.to_string().contains("1027 levels deep"), "{error}");
        let error = from_str::<Constant>(&format!("[{}", "[".repeat(5000))).expect_err("too deep");
        assert!(matches!(error, JsonError::TooDeep { depth: 5001 }), "{error}");
    }

    #[test]
    fn trailing_text_and_bad_documents_are_errors() {
        let deep = nested_list(300);
        assert!(from_str::<Constant>(&format!("{deep} x")).is_err());
        assert!(from_str::<Constant>(&deep[..deep.len() - 1]).is_err());
    }
}
