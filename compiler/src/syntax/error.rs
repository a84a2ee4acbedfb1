//! pest errors → E0001 diagnostics with "expected X, found Y" built from rule names.

use kfl_grammar::{Rule, describe};
use pest::error::{Error, ErrorVariant, InputLocation};

use crate::diagnostics::{Code, Diagnostic, Label};
use crate::source::{FileId, Span};

pub(super) fn syntax_error(file: FileId, src: &str, offset: usize, error: &Error<Rule>) -> Diagnostic {
    let position = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    } + offset;
    let position = position.min(src.len());
    let found = found_token(src, position);
    let mut span = Span::new(file, position, position + found.len());
    let (message, help) = match &error.variant {
        ErrorVariant::ParsingError { positives, negatives: _ } => {
            let mut expected: Vec<&str> = Vec::new();
            for rule in positives {
                let name = describe(*rule);
                if !expected.contains(&name) {
                    expected.push(name);
                }
            }
            let found_text = describe_found(&found);
            let unknown_escape = positives.contains(&Rule::escape) && src[position..].starts_with('\\');
            let message = if unknown_escape {
                let escape: String = src[position..].chars().take(2).collect();
                span = Span::new(file, position, position + escape.len());
                format!("unknown escape `{escape}` in a string")
            } else if expected.is_empty() {
                format!("unexpected {found_text}")
            } else {
                format!("expected {}, found {found_text}", join_alternatives(&expected))
            };
            (message, hint(src, position, &found, positives))
        }
        ErrorVariant::CustomError { message } => (message.clone(), None),
    };
    Diagnostic::error(Code::SyntaxError, message, Label::new(span, "here")).with_optional_help(help)
}

/// E0001 for nesting deeper than the parser goes (see [`super::trivia::MAX_NESTING`]).
pub(super) fn too_deep(file: FileId, src: &str, offset: usize) -> Diagnostic {
    let width = src[offset..].chars().next().map_or(0, char::len_utf8);
    Diagnostic::error(
        Code::SyntaxError,
        format!("this nests more than {} levels deep", super::trivia::MAX_NESTING),
        Label::new(Span::new(file, offset, offset + width), "too deep here"),
    )
    .with_help(format!(
        "brackets, strings, `-`/`!`, `if`s and the operators of one expression (`a + b + …` nests one level per \
         `+`) together may nest {} levels; split the value into params or smaller values",
        super::trivia::MAX_NESTING
    ))
}

fn join_alternatives(items: &[&str]) -> String {
    const MAX: usize = 6;
    let shown = &items[..items.len().min(MAX)];
    match shown {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => {
            let more = if items.len() > MAX { ", …" } else { "" };
            format!("{}{more} or {last}", init.join(", "))
        }
    }
}

/// The token at `position`: a word, a number, or one character.
fn found_token(src: &str, position: usize) -> String {
    let rest = &src[position..];
    let Some(first) = rest.chars().next() else { return String::new() };
    if first.is_ascii_alphanumeric() || first == '_' {
        rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
    } else {
        first.to_string()
    }
}

/// The most characters of a found word a message quotes: a message must not echo a long run of a file
/// (a credentials file behind a `.kfl` symlink) that the quoted source line cuts; a word this long is not code.
const MAX_FOUND_CHARS: usize = 40;

fn describe_found(found: &str) -> String {
    match found {
        "" => "end of file".to_string(),
        "\n" => "end of line".to_string(),
        "\r" => "end of line".to_string(),
        other if other.chars().count() > MAX_FOUND_CHARS => {
            let head: String = other.chars().take(MAX_FOUND_CHARS - 1).collect();
            format!("`{}…`", head.escape_debug())
        }
        other => format!("`{}`", other.escape_debug()),
    }
}

/// A help line for the common mistakes we can recognise.
fn hint(src: &str, position: usize, found: &str, positives: &[Rule]) -> Option<String> {
    if kfl_grammar::RESERVED.contains(&found) {
        return Some(format!("`{found}` is reserved and cannot be used as a name"));
    }
    let before = &src[..position];
    if before.ends_with('\\') || found == "\\" {
        return Some(
            "the escapes are `\\n`, `\\t`, `\\\"`, `\\\\` and `\\${`; use a raw string `r\"…\"` for backslashes".into(),
        );
    }
    if found == "\n" && positives.iter().any(|r| matches!(r, Rule::string_text | Rule::escape | Rule::interpolation)) {
        return Some("strings cannot span lines; close the string with `\"`".into());
    }
    let closer = |rule: Rule| positives.contains(&rule);
    match found {
        "}" if !closer(Rule::block) && positives.iter().all(|r| !matches!(r, Rule::entry | Rule::property))
            || closer(Rule::EOI) =>
        {
            return Some("this `}` has no matching `{`".into());
        }
        "]" if !closer(Rule::close_bracket) => return Some("this `]` has no matching `[`".into()),
        ")" if !closer(Rule::close_paren) => return Some("this `)` has no matching `(`".into()),
        _ => {}
    }
    if positives.contains(&Rule::comma)
        && (positives.contains(&Rule::close_bracket) || positives.contains(&Rule::close_paren))
    {
        return Some("separate items with `,`, and close the list".into());
    }
    if found.is_empty() {
        return Some("the file ends inside a declaration; is a `}` or `)` missing?".into());
    }
    if positives.iter().any(|r| matches!(r, Rule::ident)) && found.starts_with(|c: char| c.is_ascii_digit()) {
        return Some("names start with a letter or `_`".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::source::FileId;

    #[test]
    fn a_long_found_word_is_quoted_cut() {
        let secret = "k".repeat(300);
        let (_, diagnostics) = super::super::parse(FileId(0), &format!("{secret} = 1\n"));
        let message = &diagnostics[0].message;
        assert!(message.contains(&format!("`{}…`", &secret[..super::MAX_FOUND_CHARS - 1])), "{message}");
        assert!(!message.contains(&secret[..super::MAX_FOUND_CHARS]), "{message}");
        // A word of ordinary length is quoted whole.
        let (_, diagnostics) = super::super::parse(FileId(0), "aws_secret_access_key = 1\n");
        assert!(diagnostics[0].message.contains("`aws_secret_access_key`"), "{}", diagnostics[0].message);
    }
}
