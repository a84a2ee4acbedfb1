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
