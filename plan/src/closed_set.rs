//! `closed_set!`: an enum over a closed set of words, each word written once for serde, the schema and the checker.
//!
//! A value from a closed set (a distribution, a protocol, a rule action) used to travel as a `String`, and every
//! reader matched on string literals written again, where a typo compiled. The macro gives each set one enum
//! whose serde names are its words (so plan.json and docs/plan.schema.json's `enum` list come from them), the
//! list of words the checker accepts (`NAMES`), and the word of a value (`name`, `Display`).

/// Declares `pub enum NAME { Variant = "word", … }` with serde, JSON-schema, `ALL`, `NAMES`, `name`,
/// `from_name` and `Display`. Variant docs are plain comments: a doc comment would turn the schema's `enum`
/// list into a `oneOf`.
macro_rules! closed_set {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        $vis enum $name {
            $(#[serde(rename = $word)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every value's word, in declaration order (what the checker accepts).
            pub const NAMES: &'static [&'static str] = &[$($word),+];

            /// The word as written in a `.kfl` file and in plan.json.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

            /// The value of a word, if it is one of [`Self::NAMES`].
            pub fn from_name(word: &str) -> Option<Self> {
                match word {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

pub(crate) use closed_set;

#[cfg(test)]
mod tests {
    use crate::algorithms::{EarlyStopAlgorithm, SearchAlgorithm};
    use crate::format::{AccessMode, AutoscaleMetric, Distribution, Framework, Protocol, RuleAction, ServeRuntime};
    use crate::format::{DeclKind, ServeBuiltin, ServingMetric};

    /// Each value's word is its serde name, its `Display` and its `from_name`, and words are distinct.
    fn words_agree<T>(all: &[T], names: &[&str], name: fn(&T) -> &'static str, from_name: fn(&str) -> Option<T>)
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + std::fmt::Display,
    {
        assert_eq!(all.len(), names.len());
        for (value, word) in all.iter().zip(names) {
            assert_eq!(name(value), *word);
            assert_eq!(value.to_string(), *word);
            assert_eq!(serde_json::to_value(value).ok(), Some(serde_json::Value::from(*word)));
            assert_eq!(serde_json::from_value::<T>(serde_json::Value::from(*word)).ok().as_ref(), Some(value));
            assert_eq!(from_name(word).as_ref(), Some(value));
        }
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a word twice in {names:?}");
        assert!(from_name("not-a-word").is_none());
        assert!(serde_json::from_value::<T>(serde_json::Value::from("not-a-word")).is_err());
    }

    #[test]
    fn every_closed_set_has_one_word_per_value() {
        words_agree(Distribution::ALL, Distribution::NAMES, |v| v.name(), Distribution::from_name);
        words_agree(Protocol::ALL, Protocol::NAMES, |v| v.name(), Protocol::from_name);
        words_agree(ServeRuntime::ALL, ServeRuntime::NAMES, |v| v.name(), ServeRuntime::from_name);
        words_agree(AutoscaleMetric::ALL, AutoscaleMetric::NAMES, |v| v.name(), AutoscaleMetric::from_name);
        words_agree(RuleAction::ALL, RuleAction::NAMES, |v| v.name(), RuleAction::from_name);
        words_agree(ServingMetric::ALL, ServingMetric::NAMES, |v| v.name(), ServingMetric::from_name);
        words_agree(ServeBuiltin::ALL, ServeBuiltin::NAMES, |v| v.name(), ServeBuiltin::from_name);
        words_agree(DeclKind::ALL, DeclKind::NAMES, |v| v.name(), DeclKind::from_name);
        words_agree(Framework::ALL, Framework::NAMES, |v| v.name(), Framework::from_name);
        words_agree(AccessMode::ALL, AccessMode::NAMES, |v| v.name(), AccessMode::from_name);
        words_agree(SearchAlgorithm::ALL, SearchAlgorithm::NAMES, |v| v.name(), SearchAlgorithm::from_name);
        words_agree(EarlyStopAlgorithm::ALL, EarlyStopAlgorithm::NAMES, |v| v.name(), EarlyStopAlgorithm::from_name);
    }

    #[test]
    fn the_schema_lists_each_closed_set_as_an_enum() {
        let schema: serde_json::Value = serde_json::from_str(&crate::schema::plan_schema()).unwrap_or_default();
        let listed = |def: &str| -> Vec<String> {
            schema["$defs"][def]["enum"]
                .as_array()
                .map(|words| words.iter().filter_map(|w| w.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        assert_eq!(listed("Distribution"), Distribution::NAMES);
        assert_eq!(listed("Protocol"), Protocol::NAMES);
        assert_eq!(listed("DeclKind"), DeclKind::NAMES);
        assert_eq!(listed("ServeRuntime"), ServeRuntime::NAMES);
        assert_eq!(listed("AutoscaleMetric"), AutoscaleMetric::NAMES);
        assert_eq!(listed("RuleAction"), RuleAction::NAMES);
        assert_eq!(listed("Framework"), Framework::NAMES);
        assert_eq!(listed("AccessMode"), AccessMode::NAMES);
        assert_eq!(listed("SearchAlgorithm"), SearchAlgorithm::NAMES);
        assert_eq!(listed("EarlyStopAlgorithm"), EarlyStopAlgorithm::NAMES);
    }
}
