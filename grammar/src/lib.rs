//! The kfl grammar: a pest parser derived from `kfl.pest`, human names for its rules, and the keyword list.

use pest_derive::Parser;

/// The parser generated from `kfl.pest`.
#[derive(Parser)]
#[grammar = "kfl.pest"]
pub struct KflParser;

/// Contextual keywords of the language, in the order of the `keyword` rule.
///
/// Only `true`, `false`, `if`, `then` and `else` are reserved; the others are
/// keywords only where they start a declaration or statement. Editors
/// highlight each of these; a tidy test checks the list against `kfl.pest`.
pub const KEYWORDS: &[&str] = &[
    "import",
    "as",
    "project",
    "param",
    "secret",
    "volume",
    "dataset",
    "notebook",
    "component",
    "step",
    "train",
    "tune",
    "model",
    "serve",
    "monitor",
    "for",
    "in",
    "mount",
    "at",
    "rule",
    "if",
    "then",
    "else",
];

/// Keywords that start a top-level declaration (the `item` rule), used to
/// resynchronise after a syntax error.
pub const DECLARATION_KEYWORDS: &[&str] = &[
    "import",
    "project",
    "param",
    "secret",
    "volume",
    "dataset",
    "notebook",
    "component",
    "step",
    "train",
    "tune",
    "model",
    "serve",
    "monitor",
    "for",
];

/// Words that can never be identifiers.
pub const RESERVED: &[&str] = &["true", "false", "if", "then", "else"];

/// The grammar source, for tools (tidy tests, editors) that check against it.
pub const GRAMMAR_SOURCE: &str = include_str!("../kfl.pest");

/// A human name for a rule, used in "expected X, found Y" messages.
///
/// The match is exhaustive on purpose: adding a rule forces giving it a name.
pub fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::WHITESPACE => "whitespace",
        Rule::block_comment | Rule::line_comment => "a comment",
        Rule::file | Rule::item_chunk => "a declaration",
        Rule::item => "a declaration",
        Rule::import_decl => "`import`",
        Rule::std_path => "a standard library path such as `std.data`",
        Rule::project_decl => "`project`",
        Rule::param_decl => "`param`",
        Rule::secret_decl => "`secret`",
        Rule::volume_decl => "`volume`",
        Rule::dataset_decl => "`dataset`",
        Rule::notebook_decl => "`notebook`",
        Rule::component_decl => "`component`",
        Rule::step_call | Rule::step_decl => "`step`",
        Rule::train_decl => "`train`",
        Rule::tune_decl => "`tune`",
        Rule::model_decl => "`model`",
        Rule::serve_decl => "`serve`",
        Rule::monitor_decl => "`monitor`",
        Rule::for_decl => "`for`",
        Rule::qualified_name => "a component name",
        Rule::inputs => "an input list `(name: type, …)`",
        Rule::input => "an input `name: type`",
        Rule::outputs => "an output list `-> (name: type, …)`",
        Rule::output => "an output `name: type`",
        Rule::type_expr => "a type",
        Rule::block | Rule::object => "`{`",
        Rule::comma => "`,`",
        Rule::close_paren => "`)`",
        Rule::close_bracket => "`]`",
        Rule::entry => "a property",
        Rule::fields_entry => "a field list",
        Rule::field => "a field `name: type`",
        Rule::property => "a property `name = value`",
        Rule::mount_entry => "`mount VOLUME at \"/path\"`",
        Rule::rule_entry => "`rule NAME { … }`",
        Rule::key | Rule::key_segment | Rule::bare_key => "a property name",
        Rule::quoted_key | Rule::quoted_key_text => "a quoted key",
        Rule::expr | Rule::operand | Rule::postfixed | Rule::primary => "an expression",
        Rule::infix => "an operator",
        Rule::op_or => "`||`",
        Rule::op_and => "`&&`",
        Rule::op_eq => "`==`",
        Rule::op_ne => "`!=`",
        Rule::op_le => "`<=`",
        Rule::op_ge => "`>=`",
        Rule::op_lt => "`<`",
        Rule::op_gt => "`>`",
        Rule::op_range => "`..`",
        Rule::op_add => "`+`",
        Rule::op_sub => "`-`",
        Rule::op_mul => "`*`",
        Rule::op_div => "`/`",
        Rule::prefix => "a prefix operator",
        Rule::op_not => "`!`",
        Rule::op_neg => "`-`",
        Rule::postfix => "`.` or `(`",
        Rule::member => "`.NAME`",
        Rule::call_args => "`(`",
        Rule::arg => "an argument",
        Rule::if_expr => "`if … then … else …`",
        Rule::paren => "`(`",
        Rule::list => "`[`",
        Rule::boolean => "`true` or `false`",
        Rule::number | Rule::mantissa => "a number",
        Rule::exponent => "an exponent",
        Rule::unit => "a unit",
        Rule::string | Rule::string_part => "a string",
        Rule::string_text => "string text",
        Rule::escape => "an escape (`\\n`, `\\t`, `\\\"`, `\\\\`, `\\${`)",
        Rule::interpolation => "`${`",
        Rule::raw_string | Rule::raw_text => "a raw string",
        Rule::ident_char => "a letter, digit or `_`",
        Rule::reserved => "a reserved word",
        Rule::ident => "a name",
        Rule::keyword => "a keyword",
        Rule::kw_import => "`import`",
        Rule::kw_as => "`as`",
        Rule::kw_project => "`project`",
        Rule::kw_param => "`param`",
        Rule::kw_secret => "`secret`",
        Rule::kw_volume => "`volume`",
        Rule::kw_dataset => "`dataset`",
        Rule::kw_notebook => "`notebook`",
        Rule::kw_component => "`component`",
        Rule::kw_step => "`step`",
        Rule::kw_train => "`train`",
        Rule::kw_tune => "`tune`",
        Rule::kw_model => "`model`",
        Rule::kw_serve => "`serve`",
        Rule::kw_monitor => "`monitor`",
        Rule::kw_for => "`for`",
        Rule::kw_in => "`in`",
        Rule::kw_mount => "`mount`",
        Rule::kw_at => "`at`",
        Rule::kw_rule => "`rule`",
        Rule::kw_if => "`if`",
        Rule::kw_then => "`then`",
        Rule::kw_else => "`else`",
    }
}
