//! A small scanner over raw text: finds comments (for docs and `fmt`) and top-level declaration starts (for error recovery).

/// One comment in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub start: usize,
    pub end: usize,
    pub kind: CommentKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentKind {
    /// `// …` (also `////…`, which is not a doc line)
    Line,
    /// `/// …`
    Doc,
    /// `/* … */`
    Block,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    Code { braces: u32 },
    Str,
}

/// How deep brackets, strings, prefix operators, `if`s and operator chains may nest. The parser, the checker
/// and the trees' drops recurse once (or more) per level, so without a bound a file of 5,000 `[` or a flat
/// `1 + 1 + …` of 4,000 terms (a tree 4,000 levels deep) overflows the stack; no real program comes near this.
pub const MAX_NESTING: u32 = 256;

/// Everything the scanner learns in one pass.
#[derive(Debug, Default)]
pub struct Trivia {
    pub comments: Vec<Comment>,
    /// Byte offsets of lines whose first token starts a top-level declaration.
    pub declaration_starts: Vec<usize>,
    /// Where nesting first goes deeper than [`MAX_NESTING`] (an upper bound of the parse depth), once per
    /// declaration: none of these declarations may reach the parser.
    pub too_deep: Vec<usize>,
}

/// An upper bound of how deep the expression at the scanner's position is nested.
#[derive(Debug)]
struct Nesting {
    /// Per open bracket, brace, parenthesis, string and `${` (and the level outside them all): the infix
    /// operators and `.` members of the expression being scanned at that level. A chain of n operators is a
    /// tree n levels deep, whatever the precedences, so each counts as a level.
    operators: Vec<u32>,
    /// The sum of `operators`.
    chained: u32,
    /// The current run of `!` (each a prefix operator at most; `-` counts as an operator).
    prefixes: u32,
    /// `if`s whose `else` has not come yet.
    ifs: u32,
}

impl Default for Nesting {
    fn default() -> Self {
        Nesting { operators: vec![0], chained: 0, prefixes: 0, ifs: 0 }
    }
}

impl Nesting {
    fn depth(&self) -> u32 {
        let open = u32::try_from(self.operators.len() - 1).unwrap_or(u32::MAX);
        open.saturating_add(self.chained).saturating_add(self.prefixes).saturating_add(self.ifs)
    }

    fn open(&mut self) {
        self.operators.push(0);
        self.prefixes = 0;
    }

    fn close(&mut self) {
        if self.operators.len() > 1 {
            self.chained -= self.operators.pop().unwrap_or(0);
        }
        self.prefixes = 0;
    }

    fn operator(&mut self) {
        if let Some(last) = self.operators.last_mut() {
            *last += 1;
            self.chained += 1;
        }
        self.prefixes = 0;
    }

    /// A `,` or an assignment's `=`: the next expression at this level starts.
    fn next_expression(&mut self) {
        if let Some(last) = self.operators.last_mut() {
            self.chained -= std::mem::take(last);
        }
        self.prefixes = 0;
    }
}

/// Scans `src`, skipping strings (with nested `${…}`) so that `//` inside a
/// string is not a comment.
pub fn scan(src: &str) -> Trivia {
    let bytes = src.as_bytes();
    let mut trivia = Trivia::default();
    let mut stack = vec![Context::Code { braces: 0 }];
    let mut i = 0;
    let mut line_start = true;
    let mut nesting = Nesting::default();
    let mut reported_too_deep = false;
    while i < bytes.len() {
        if !reported_too_deep && nesting.depth() > MAX_NESTING {
            trivia.too_deep.push(i.saturating_sub(1));
            reported_too_deep = true;
        }
        let context = *stack.last().unwrap_or(&Context::Code { braces: 0 });
        let b = bytes[i];
        if line_start && matches!(context, Context::Code { .. }) {
            // First non-blank token of a line.
            let mut j = i;
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t' || bytes[j] == b'\r') {
                j += 1;
            }
            let at_column_zero = j == i;
            let top_level = stack.len() == 1 && context == Context::Code { braces: 0 };
            if (top_level || at_column_zero) && starts_declaration(&src[j..]) {
                trivia.declaration_starts.push(j);
                // A keyword at column 0 resynchronises after an unclosed brace. The nesting is kept unless
                // at the top level: 5,000 `for` blocks written at column 0 are still 5,000 levels deep.
                if top_level {
                    nesting = Nesting::default();
                }
                stack.truncate(1);
                stack[0] = Context::Code { braces: 0 };
                reported_too_deep = false;
            }
            line_start = false;
            if j != i {
                i = j;
                continue;
            }
        }
        match context {
            Context::Code { braces } => match b {
                b'\n' => {
                    line_start = true;
                    i += 1;
                }
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    let end = src[i..].find('\n').map_or(src.len(), |n| i + n);
                    let is_doc = src[i..].starts_with("///") && !src[i..].starts_with("////");
                    let kind = if is_doc { CommentKind::Doc } else { CommentKind::Line };
                    trivia.comments.push(Comment { start: i, end, kind });
                    i = end;
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    let end = src[i + 2..].find("*/").map_or(src.len(), |n| i + 2 + n + 2);
                    trivia.comments.push(Comment { start: i, end, kind: CommentKind::Block });
                    if src[i..end].contains('\n') {
                        // Treat text after a multi-line block comment as mid-line.
                        line_start = false;
                    }
                    i = end;
                }
                b'r' if bytes.get(i + 1) == Some(&b'"') && !prev_is_ident(bytes, i) => {
                    let end = src[i + 2..].find(['"', '\n']).map_or(src.len(), |n| i + 2 + n + 1);
                    i = end;
                }
                b'"' => {
                    stack.push(Context::Str);
                    nesting.open();
                    i += 1;
                }
                b'{' => {
                    set_top(&mut stack, Context::Code { braces: braces + 1 });
                    nesting.open();
                    i += 1;
                }
                b'}' => {
                    if braces == 0 && stack.len() > 1 {
                        stack.pop();
                    } else {
                        set_top(&mut stack, Context::Code { braces: braces.saturating_sub(1) });
                    }
                    nesting.close();
                    i += 1;
                }
                b'(' | b'[' => {
                    nesting.open();
                    i += 1;
                }
                b')' | b']' => {
                    nesting.close();
                    i += 1;
                }
                b',' => {
                    nesting.next_expression();
                    i += 1;
                }
                b'!' if bytes.get(i + 1) != Some(&b'=') => {
                    nesting.prefixes += 1;
                    i += 1;
                }
                // `->` of a signature; `-` is otherwise an infix or a prefix, counted as either.
                b'-' if bytes.get(i + 1) == Some(&b'>') => {
                    nesting.prefixes = 0;
                    i += 2;
                }
                // An assignment's `=` (the two-byte operators are taken whole below).
                b'=' if bytes.get(i + 1) != Some(&b'=') => {
                    nesting.next_expression();
                    i += 1;
                }
                b'=' | b'!' | b'<' | b'>' | b'&' | b'|' | b'.' => {
                    nesting.operator();
                    let pair =
                        matches!((b, bytes.get(i + 1)), (b'&', Some(b'&')) | (b'|', Some(b'|')) | (b'.', Some(b'.')))
                            || bytes.get(i + 1) == Some(&b'=');
                    i += if pair { 2 } else { 1 };
                }
                b'+' | b'-' | b'*' | b'/' => {
                    nesting.operator();
                    i += 1;
                }
                b' ' | b'\t' | b'\r' => {
                    i += 1;
                    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r') {
                        i += 1;
                    }
                }
                b'i' | b'e' if !prev_is_ident(bytes, i) => {
                    let word_end = bytes[i..].iter().position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
                    let word = &bytes[i..word_end.map_or(bytes.len(), |n| i + n)];
                    match word {
                        b"if" => nesting.ifs += 1,
                        b"else" => nesting.ifs = nesting.ifs.saturating_sub(1),
                        _ => {}
                    }
                    nesting.prefixes = 0;
                    i += word.len();
                }
                _ => {
                    nesting.prefixes = 0;
                    i += 1;
                    // The rest of a word or number in one step: none of its bytes opens, closes or starts
                    // anything (`if`, `else` and `r"` count only at a word's start), and the nesting cannot
                    // grow inside it, so the depth check at the loop's top has nothing new to see.
                    if b.is_ascii_alphanumeric() || b == b'_' {
                        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                            i += 1;
                        }
                    }
                }
            },
            Context::Str => match b {
                b'\\' => i += 2,
                b'"' => {
                    stack.pop();
                    nesting.close();
                    i += 1;
                }
                b'\n' => {
                    // Unterminated string: the parser reports it; resume as code.
                    stack.pop();
                    nesting.close();
                }
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    stack.push(Context::Code { braces: 0 });
                    nesting.open();
                    i += 2;
                }
                // Up to the next byte that means something inside a string.
                _ => {
                    i += 1;
                    i += bytes[i..]
                        .iter()
                        .position(|c| matches!(c, b'\\' | b'"' | b'\n' | b'$'))
                        .unwrap_or(bytes.len() - i);
                }
            },
        }
    }
    trivia
}

fn set_top(stack: &mut [Context], context: Context) {
    if let Some(top) = stack.last_mut() {
        *top = context;
    }
}

fn prev_is_ident(bytes: &[u8], i: usize) -> bool {
    i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
}

fn starts_declaration(line: &str) -> bool {
    kfl_grammar::DECLARATION_KEYWORDS.iter().any(|keyword| {
        line.strip_prefix(keyword).is_some_and(|rest| {
            // `step prepare`, `import "x"`, `for i in`: keyword, blank, then a name or string.
            let mut chars = rest.chars();
            matches!(chars.next(), Some(' ' | '\t'))
                && rest.trim_start().starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '"')
        })
    })
}

/// The `///` block that ends right before `offset` (only blanks, and no
/// blank line, in between), as (text, start, end).
pub fn doc_before(src: &str, comments: &[Comment], offset: usize) -> Option<(String, usize, usize)> {
    let idx = comments.partition_point(|c| c.end <= offset);
    let mut lines = Vec::new();
    let mut cursor = offset;
    let mut start = offset;
    let mut end = offset;
    for comment in comments[..idx].iter().rev() {
        let gap = &src[comment.end..cursor];
        // Test the cheap, early-exiting conditions first: the gap before the
        // first declaration can be most of the file.
        if comment.kind != CommentKind::Doc || !gap.trim().is_empty() || gap.matches('\n').count() != 1 {
            break;
        }
        if lines.is_empty() {
            end = comment.end;
        }
        lines.push(doc_line(&src[comment.start..comment.end]));
        cursor = comment.start;
        start = comment.start;
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some((lines.join("\n"), start, end))
}

/// The text of a `///` line without the slashes and one leading space.
fn doc_line(comment: &str) -> String {
    let text = comment.trim_start_matches("///");
    text.strip_prefix(' ').unwrap_or(text).trim_end().to_string()
}

/// The file's own doc: the first `///` block, if it is followed by a blank
/// line (or `before_import` says it stands above the first import).
pub fn file_doc(
    src: &str,
    comments: &[Comment],
    first_item: Option<usize>,
    before_import: bool,
) -> Option<(String, usize, usize)> {
    let first = comments.first()?;
    if first.kind != CommentKind::Doc || !src[..first.start].trim().is_empty() {
        return None;
    }
    let mut lines = vec![doc_line(&src[first.start..first.end])];
    let mut end = first.end;
    for comment in &comments[1..] {
        let gap = &src[end..comment.start];
        if comment.kind != CommentKind::Doc || !gap.trim().is_empty() || gap.matches('\n').count() != 1 {
            break;
        }
        lines.push(doc_line(&src[comment.start..comment.end]));
        end = comment.end;
    }
    let after = first_item.unwrap_or(src.len());
    if after < end {
        return None;
    }
    let gap = &src[end..after];
    let blank_line_follows = gap.matches('\n').count() >= 2 || first_item.is_none();
    (blank_line_follows || before_import).then(|| (lines.join("\n"), first.start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_inside_strings_are_not_comments() {
        let trivia = scan("a = \"http://x ${f(\"//y\")}\" // real\n");
        assert_eq!(trivia.comments.len(), 1);
        assert_eq!(trivia.comments[0].kind, CommentKind::Line);
    }

    #[test]
    fn declarations_are_found_at_depth_zero_or_column_zero() {
        let src = "step a {\n  run = [\"x\"\n}\nstep b {\n}\nfor i in xs {\n  step c {}\n}\n";
        let starts = scan(src).declaration_starts;
        let names: Vec<&str> = starts.iter().map(|&s| &src[s..s + 6]).collect();
        assert_eq!(names, ["step a", "step b", "for i "]);
    }

    #[test]
    fn doc_blocks_attach_without_blank_lines() {
        let src = "/// one\n/// two\nstep a {}\n";
        let trivia = scan(src);
        let doc = doc_before(src, &trivia.comments, src.find("step").unwrap());
        assert_eq!(doc.map(|d| d.0), Some("one\ntwo".to_string()));
        let src = "/// one\n\nstep a {}\n";
        let trivia = scan(src);
        assert_eq!(doc_before(src, &trivia.comments, src.find("step").unwrap()), None);
    }
}
