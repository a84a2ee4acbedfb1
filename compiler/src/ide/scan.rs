//! Where the cursor stands, read from the text alone: while a user types, the file often does not parse.

/// What opened one enclosing `{`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// `train NAME(…) -> (…) {`, `volume NAME {`, …
    Decl { keyword: String, name: String },
    /// `rule NAME {` inside a monitor.
    Rule,
    /// `for x in … {`
    For,
    /// `resources {` or `labels = {`: the key of an object value.
    Key(String),
    /// Anything else, such as a `{` in an expression.
    Other,
}

/// The cursor's surroundings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Context {
    /// Enclosing blocks, outermost first.
    pub blocks: Vec<Header>,
    /// The statement text before the cursor, from the last newline, `,` or brace outside parentheses.
    pub statement: String,
    /// Byte offset where the identifier under the cursor starts.
    pub word_start: usize,
    /// Whether the cursor is inside parentheses or brackets of the statement.
    pub nested: bool,
}

impl Context {
    /// The part of the identifier before the cursor.
    pub fn statement_before_word(&self) -> &str {
        let word_len =
            self.statement.chars().rev().take_while(|c| is_ident_char(*c)).map(char::len_utf8).sum::<usize>();
        &self.statement[..self.statement.len() - word_len]
    }
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Reads `text` up to `offset`, skipping comments and strings, and returns the context there.
/// Returns `None` inside a comment or a string (outside `${…}`).
pub(crate) fn context(text: &str, offset: usize) -> Option<Context> {
    let offset = offset.min(text.len());
    let before = text.get(..offset)?;
    let bytes = before.as_bytes();
    // Stack of open braces: the header, and whether it is a `${` interpolation.
    let mut blocks: Vec<(Header, bool)> = Vec::new();
    // Nesting of parentheses and brackets in the current statement.
    let mut parens: Vec<usize> = Vec::new();
    let mut statement_start = 0;
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    blocks.push((Header::Other, true));
                    in_string = false;
                    i += 1;
                    statement_start = i + 1;
                }
                b'\n' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                match before[i..].find('\n') {
                    Some(newline) => i += newline,
                    None => return None,
                }
                continue;
            }
            b'r' if bytes.get(i + 1) == Some(&b'"') && (i == 0 || !is_ident_char(bytes[i - 1] as char)) => {
                match before[i + 2..].find(['"', '\n']) {
                    Some(end) => i += 2 + end + 1,
                    None => return None,
                }
                continue;
            }
            b'"' => in_string = true,
            b'(' | b'[' => parens.push(i),
            b')' | b']' => {
                parens.pop();
            }
            b'{' => {
                let header = classify(&before[statement_start..i], &blocks);
                blocks.push((header, false));
                parens.clear();
                statement_start = i + 1;
            }
            b'}' => {
                if let Some((_, true)) = blocks.pop() {
                    in_string = true;
                } else {
                    statement_start = i + 1;
                }
            }
            b'\n' | b',' | b';' if parens.is_empty() => statement_start = i + 1,
            _ => {}
        }
        i += 1;
    }
    if in_string {
        return None;
    }
    let statement = before[statement_start..].to_string();
    let word_len = statement.chars().rev().take_while(|c| is_ident_char(*c)).map(char::len_utf8).sum::<usize>();
    Some(Context {
        blocks: blocks.into_iter().map(|(h, _)| h).collect(),
        word_start: offset - word_len,
        statement,
        nested: !parens.is_empty(),
    })
}

fn classify(header: &str, blocks: &[(Header, bool)]) -> Header {
    let words: Vec<&str> = header.split(|c: char| !is_ident_char(c)).filter(|w| !w.is_empty()).collect();
    let trimmed = header.trim();
    match words.as_slice() {
        ["for", ..] => Header::For,
        ["rule", _, ..] => Header::Rule,
        [keyword, name, ..]
            // The grammar's list also has `import`, `param` and `for`; none of them heads a `{` block that gets
            // here (`for` is matched above).
            if kfl_grammar::DECLARATION_KEYWORDS.contains(keyword)
                && blocks.iter().all(|(h, _)| *h == Header::For)
                && !trimmed.trim_start_matches(keyword).trim_start().starts_with('=') =>
        {
            Header::Decl { keyword: keyword.to_string(), name: name.to_string() }
        }
        [key] if trimmed.trim_end_matches('=').trim_end() == *key => Header::Key(key.to_string()),
        _ => Header::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_enclosing_declaration_and_nested_key() {
        let text = "train t(x: int) -> (m: Model) {\n  resources {\n    cp";
        let context = context(text, text.len()).expect("context");
        assert_eq!(
            context.blocks,
            vec![Header::Decl { keyword: "train".into(), name: "t".into() }, Header::Key("resources".into())]
        );
        assert_eq!(context.statement, "    cp");
        assert_eq!(context.word_start, text.len() - 2);
    }

    #[test]
    fn skips_strings_comments_and_closed_blocks() {
        let text = "step a {\n  run = [\"{\", r\"}\"] // {\n}\n// }\nstep b {\n  image = \"x\"\n  ";
        let context = context(text, text.len()).expect("context");
        assert_eq!(context.blocks, vec![Header::Decl { keyword: "step".into(), name: "b".into() }]);
        assert_eq!(context.statement, "  ");
    }

    #[test]
    fn interpolation_is_code_and_strings_are_not() {
        let text = "model m {\n  description = \"rows ${prepare.";
        let context = context(text, text.len()).expect("context");
        assert_eq!(context.statement, "prepare.");
        assert!(super::context("step a {\n  image = \"gh", 21).is_none());
    }

    #[test]
    fn multi_line_signatures_stay_one_statement() {
        let text = "train t(\n  a: int,\n  b: int,\n) {\n  framework = ";
        let context = context(text, text.len()).expect("context");
        assert_eq!(context.blocks, vec![Header::Decl { keyword: "train".into(), name: "t".into() }]);
        assert_eq!(context.statement_before_word(), "  framework = ");
    }
}
