//! Printing expressions: one-line forms, and lists, arguments and objects that break over lines.

use super::items::field_text;
use super::{Blanks, MAX_WIDTH, Node, Printer, advance, assemble, bracketed, indentation, width};
use crate::ast::*;

impl Printer<'_> {
    /// Prints `expr` starting at `column`; lists, arguments and objects inside
    /// may take several lines, indented from `indent`.
    pub(super) fn expr(&mut self, expr: &Expr, column: usize, indent: usize) -> String {
        match &expr.kind {
            ExprKind::Number(_) | ExprKind::String(_) | ExprKind::Bool(_) | ExprKind::Name(_) => {
                self.flat(expr, true).unwrap_or_default()
            }
            ExprKind::List(elements) => self.list(elements, expr.span, column, indent),
            ExprKind::Object(block) => self.object(block, column, indent),
            ExprKind::Member(base, member) => {
                let base = self.expr(base, column, indent);
                format!("{base}.{}", member.name)
            }
            ExprKind::Call(callee, args) => {
                let callee_text = self.expr(callee, column, indent);
                let bounds = (callee.span.end as usize, expr.span.end as usize);
                let args = self.args(args, bounds, advance(column, &callee_text), indent);
                callee_text + &args
            }
            ExprKind::Unary(op, operand) => {
                let symbol = unary_symbol(*op);
                symbol.to_string() + &self.expr(operand, column + 1, indent)
            }
            ExprKind::Binary(op, lhs, rhs) => {
                let mut text = self.expr(lhs, column, indent);
                text.push_str(&binary_separator(*op));
                let rhs = self.expr(rhs, advance(column, &text), indent);
                text + &rhs
            }
            ExprKind::If(condition, then, otherwise) => {
                let mut text = String::from("if ");
                for (part, next) in [(condition, " then "), (then, " else "), (otherwise, "")] {
                    let printed = self.expr(part, advance(column, &text), indent);
                    text.push_str(&printed);
                    text.push_str(next);
                }
                text
            }
            ExprKind::Paren(inner) => format!("({})", self.expr(inner, column + 1, indent)),
        }
    }

    /// `[a, b]` on one line when it fits; else, for a list of scalars (a `run` command), as many elements per
    /// line as fit, so a command still reads as one; else one element per line. Both with a trailing comma.
    fn list(&mut self, elements: &[Expr], span: crate::source::Span, column: usize, indent: usize) -> String {
        let (lo, hi) = (span.start as usize, span.end as usize);
        if !self.comments.any_within(lo, hi) {
            let flat: Option<Vec<String>> = elements.iter().map(|element| self.flat(element, false)).collect();
            if let Some(flat) = flat {
                let one_line = format!("[{}]", flat.join(", "));
                if column + width(&one_line) <= MAX_WIDTH {
                    return one_line;
                }
                let scalars =
                    elements.iter().all(|e| !matches!(e.unparen().kind, ExprKind::List(_) | ExprKind::Object(_)));
                if scalars {
                    return filled(&flat, indent);
                }
            }
        }
        let chunks = self.sequence(
            elements,
            (lo, hi),
            ",",
            |element| element.span,
            |printer, element| (Node::plain(printer.expr(element, (indent + 1) * 2, indent + 1)), None),
        );
        bracketed("[", &assemble(chunks, Blanks::AsWritten), indent, "]")
    }

    /// `(a, b = 1)` for the arguments in `lo..hi`, by the same rule as lists.
    pub(super) fn args(&mut self, args: &[Arg], (lo, hi): (usize, usize), column: usize, indent: usize) -> String {
        if !self.comments.any_within(lo, hi) {
            let flat: Option<Vec<String>> = args.iter().map(|arg| self.flat_arg(arg, false)).collect();
            if let Some(flat) = flat {
                let flat = format!("({})", flat.join(", "));
                if column + width(&flat) <= MAX_WIDTH {
                    return flat;
                }
            }
        }
        let chunks = self.sequence(
            args,
            (lo, hi),
            ",",
            |arg| arg.span,
            |printer, arg| {
                let mut text = arg.name.as_ref().map(|name| format!("{} = ", name.name)).unwrap_or_default();
                let value = printer.expr(&arg.value, (indent + 1) * 2 + width(&text), indent + 1);
                text.push_str(&value);
                (Node::plain(text), None)
            },
        );
        bracketed("(", &assemble(chunks, Blanks::AsWritten), indent, ")")
    }

    /// An object value, block-form value or rule body: `{ a = 1 }` when it was
    /// written on one line, holds no comment and fits; else one entry per line.
    pub(super) fn object(&mut self, block: &Block, column: usize, indent: usize) -> String {
        let (lo, hi) = (block.span.start as usize, block.span.end as usize);
        let has_comments = self.comments.any_within(lo, hi);
        if block.entries.is_empty() && !has_comments {
            return "{}".to_string();
        }
        if !has_comments
            && !self.spans_lines(lo, hi)
            && let Some(flat) = self.flat_block(block, false)
            && column + width(&flat) <= MAX_WIDTH
        {
            return flat;
        }
        self.entries_block(block, indent)
    }

    /// The one-line form, or `None` when something inside must take several
    /// lines. With `force` (inside `${…}`, where a line break cannot go),
    /// always one line; comments inside are then hoisted by the caller.
    pub(super) fn flat(&self, expr: &Expr, force: bool) -> Option<String> {
        let (lo, hi) = (expr.span.start as usize, expr.span.end as usize);
        Some(match &expr.kind {
            ExprKind::Number(number) => format!("{}{}", number.text, number.unit.as_deref().unwrap_or("")),
            ExprKind::String(string) => self.string(string),
            ExprKind::Bool(value) => value.to_string(),
            ExprKind::Name(name) => name.name.to_string(),
            ExprKind::List(elements) => {
                if !force && self.comments.any_within(lo, hi) {
                    return None;
                }
                let elements: Option<Vec<String>> = elements.iter().map(|element| self.flat(element, force)).collect();
                format!("[{}]", elements?.join(", "))
            }
            ExprKind::Object(block) => {
                if !force && (self.comments.any_within(lo, hi) || self.spans_lines(lo, hi)) {
                    return None;
                }
                self.flat_block(block, force)?
            }
            ExprKind::Member(base, member) => format!("{}.{}", self.flat(base, force)?, member.name),
            ExprKind::Call(callee, args) => {
                if !force && self.comments.any_within(callee.span.end as usize, hi) {
                    return None;
                }
                let args: Option<Vec<String>> = args.iter().map(|arg| self.flat_arg(arg, force)).collect();
                format!("{}({})", self.flat(callee, force)?, args?.join(", "))
            }
            ExprKind::Unary(op, operand) => format!("{}{}", unary_symbol(*op), self.flat(operand, force)?),
            ExprKind::Binary(op, lhs, rhs) => {
                format!("{}{}{}", self.flat(lhs, force)?, binary_separator(*op), self.flat(rhs, force)?)
            }
            ExprKind::If(condition, then, otherwise) => format!(
                "if {} then {} else {}",
                self.flat(condition, force)?,
                self.flat(then, force)?,
                self.flat(otherwise, force)?
            ),
            ExprKind::Paren(inner) => format!("({})", self.flat(inner, force)?),
        })
    }

    fn flat_arg(&self, arg: &Arg, force: bool) -> Option<String> {
        let value = self.flat(&arg.value, force)?;
        Some(match &arg.name {
            Some(name) => format!("{} = {value}", name.name),
            None => value,
        })
    }

    fn flat_block(&self, block: &Block, force: bool) -> Option<String> {
        if block.entries.is_empty() {
            return Some("{}".to_string());
        }
        let entries: Option<Vec<String>> = block.entries.iter().map(|entry| self.flat_entry(entry, force)).collect();
        Some(format!("{{ {} }}", entries?.join(", ")))
    }

    fn flat_entry(&self, entry: &Entry, force: bool) -> Option<String> {
        Some(match entry {
            Entry::Property(property) => {
                let key = key_text(&property.key);
                match (&property.value.kind, property.block_form) {
                    (ExprKind::Object(_), true) => format!("{key} {}", self.flat(&property.value, force)?),
                    _ => format!("{key} = {}", self.flat(&property.value, force)?),
                }
            }
            Entry::Fields(fields) => {
                let texts: Vec<String> = fields.fields.iter().map(field_text).collect();
                format!("{} {{ {} }}", key_text(&fields.key), texts.join(", "))
            }
            Entry::Mount(mount) => {
                format!("mount {} at {}", self.flat(&mount.volume, force)?, self.flat(&mount.path, force)?)
            }
            Entry::Rule(rule) => format!("rule {} {}", rule.name.name, self.flat_block(&rule.body, force)?),
        })
    }

    /// A string literal, re-escaped; interpolations are always one line.
    fn string(&self, string: &StringLit) -> String {
        let mut out = String::new();
        if string.raw {
            // Raw text has no escapes and cannot hold `"` or a newline.
            out.push_str("r\"");
            for part in &string.parts {
                if let StringPart::Text(text) = part {
                    out.push_str(text);
                }
            }
            out.push('"');
            return out;
        }
        out.push('"');
        for part in &string.parts {
            match part {
                StringPart::Text(text) => out.push_str(&escape(text)),
                StringPart::Interpolation(inner) => {
                    out.push_str("${");
                    out.push_str(&self.flat(inner, true).unwrap_or_default());
                    out.push('}');
                }
            }
        }
        out.push('"');
        out
    }
}

fn unary_symbol(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Not => "!",
        UnaryOp::Neg => "-",
    }
}

/// `..` binds tightly and reads as one token; every other operator is spaced.
fn binary_separator(op: BinaryOp) -> String {
    match op {
        BinaryOp::Range => "..".to_string(),
        other => format!(" {} ", other.symbol()),
    }
}

/// Escapes decoded string text so that it reads back the same.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            other => out.push(other),
        }
    }
    out
}

/// A plain string as a quoted literal (import paths).
pub(super) fn quote(text: &str) -> String {
    format!("\"{}\"", escape(text))
}

pub(super) fn key_text(key: &Key) -> String {
    let segments: Vec<String> = key
        .segments
        .iter()
        .map(|segment| if segment.quoted { format!("\"{}\"", segment.text) } else { segment.text.to_string() })
        .collect();
    segments.join(".")
}

pub(super) fn type_text(ty: &TypeExpr) -> String {
    match &ty.arg {
        Some(arg) => format!("{}[{}]", ty.name.name, type_text(arg)),
        None => ty.name.name.to_string(),
    }
}

/// `[` and the elements packed onto lines of at most [`MAX_WIDTH`] columns, each line indented one level and
/// ending in a comma, then `]`. An element wider than a line gets a line of its own.
fn filled(elements: &[String], indent: usize) -> String {
    let inner = indentation(indent + 1);
    let mut out = String::from("[\n");
    let mut line = String::new();
    for element in elements {
        if !line.is_empty() && width(&inner) + width(&line) + 1 + width(element) + 1 > MAX_WIDTH {
            out.push_str(&inner);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(element);
        line.push(',');
    }
    out.push_str(&inner);
    out.push_str(&line);
    out.push('\n');
    out.push_str(&indentation(indent));
    out.push(']');
    out
}
