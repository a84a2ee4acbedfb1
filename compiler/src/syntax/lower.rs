//! pest pairs → AST in one pass; the only place that sees `Pair`.

use kfl_grammar::Rule;
use pest::iterators::{Pair, Pairs};

use super::trivia::{self, Comment};
use crate::ast::*;
use crate::diagnostics::{Code, Diagnostic, Label};
use crate::source::{FileId, Span};

pub(super) struct Lowerer<'a> {
    file: FileId,
    src: &'a str,
    /// Where the parsed text starts in `src` (non-zero when recovering per declaration).
    offset: usize,
    comments: &'a [Comment],
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Lowerer<'a> {
    pub fn new(file: FileId, src: &'a str, offset: usize, comments: &'a [Comment]) -> Lowerer<'a> {
        Lowerer { file, src, offset, comments, diagnostics: Vec::new() }
    }

    /// The pair's span without the whitespace and comments pest lets a
    /// sequence swallow at its end.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let start = s.start() + self.offset;
        let mut end = s.end() + self.offset;
        loop {
            let trimmed = start + self.src[start..end].trim_end().len();
            // `>=`: a `//` comment's end includes the `\r` of a CRLF line.
            // Comments are sorted by start; only the last one starting before `trimmed` can end there.
            let before = self.comments.partition_point(|c| c.start < trimmed);
            let comment =
                before.checked_sub(1).map(|i| &self.comments[i]).filter(|c| c.start >= start && c.end >= trimmed);
            match comment {
                Some(c) => end = c.start,
                _ => {
                    end = trimmed;
                    break;
                }
            }
        }
        Span::new(self.file, start, end)
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().into(), span: self.span(&pair) }
    }

    pub fn items(&mut self, file: Pair<'_, Rule>) -> Vec<Item> {
        file.into_inner().filter(|p| p.as_rule() != Rule::EOI).map(|p| self.item(p)).collect()
    }

    fn item(&mut self, pair: Pair<'_, Rule>) -> Item {
        let span = self.span(&pair);
        let doc = trivia::doc_before(self.src, self.comments, span.start as usize)
            .map(|(text, start, end)| Doc { text, span: Span::new(self.file, start, end) });
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        let keyword = inner.next().map(|k| self.span(&k)).unwrap_or(span);
        let kind = match rule {
            Rule::import_decl => {
                let target = inner.next().map(|t| self.import_target(t));
                // `as` keyword, then the alias.
                let alias = inner.find(|p| p.as_rule() == Rule::ident).map(|p| self.ident(p));
                ItemKind::Import(Import {
                    target: target.unwrap_or(ImportTarget::File { path: String::new(), span }),
                    alias,
                })
            }
            Rule::param_decl => {
                let name = self.ident(next(&mut inner));
                let ty = self.type_expr(next(&mut inner));
                let default = inner.next().map(|e| self.expr(e));
                ItemKind::Param(Param { name, ty, default })
            }
            Rule::project_decl
            | Rule::secret_decl
            | Rule::volume_decl
            | Rule::dataset_decl
            | Rule::notebook_decl
            | Rule::tune_decl
            | Rule::model_decl
            | Rule::serve_decl
            | Rule::monitor_decl => {
                let kind = match rule {
                    Rule::project_decl => BlockKind::Project,
                    Rule::secret_decl => BlockKind::Secret,
                    Rule::volume_decl => BlockKind::Volume,
                    Rule::dataset_decl => BlockKind::Dataset,
                    Rule::notebook_decl => BlockKind::Notebook,
                    Rule::tune_decl => BlockKind::Tune,
                    Rule::model_decl => BlockKind::Model,
                    Rule::serve_decl => BlockKind::Serve,
                    _ => BlockKind::Monitor,
                };
                let name = self.ident(next(&mut inner));
                let body = self.block(next(&mut inner));
                ItemKind::Block(BlockDecl { kind, keyword, name, body })
            }
            Rule::component_decl | Rule::step_decl | Rule::train_decl => {
                let kind = match rule {
                    Rule::component_decl => StageKind::Component,
                    Rule::step_decl => StageKind::Step,
                    _ => StageKind::Train,
                };
                let name = self.ident(next(&mut inner));
                let mut inputs = None;
                let mut outputs = None;
                let mut body = None;
                for part in inner {
                    match part.as_rule() {
                        Rule::inputs => inputs = Some(self.each_of(part.into_inner(), Rule::input, Self::input)),
                        Rule::outputs => outputs = Some(self.each_of(part.into_inner(), Rule::output, Self::output)),
                        _ => body = Some(self.block(part)),
                    }
                }
                let body = body.unwrap_or(Block { entries: Vec::new(), span });
                ItemKind::Stage(StageDecl { kind, keyword, name, inputs, outputs, body })
            }
            Rule::step_call => {
                let name = self.ident(next(&mut inner));
                let component = next(&mut inner).into_inner().map(|p| self.ident(p)).collect();
                let args_pair = next(&mut inner);
                let args_span = self.span(&args_pair);
                let args = self.each_of(args_pair.into_inner(), Rule::arg, Self::arg);
                ItemKind::StepCall(StepCall { keyword, name, component, args, args_span })
            }
            Rule::for_decl => {
                let var = self.ident(next(&mut inner));
                let _in = inner.next();
                let iterable = self.expr(next(&mut inner));
                let items = inner.map(|p| self.item(p)).collect();
                ItemKind::For(ForBlock { keyword, var, iterable, items })
            }
            other => unreachable_rule(other),
        };
        Item { doc, kind, span }
    }

    fn import_target(&mut self, pair: Pair<'_, Rule>) -> ImportTarget {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::std_path => {
                let path: Vec<Ident> = pair.into_inner().map(|p| self.ident(p)).collect();
                ImportTarget::Std { path, span }
            }
            _ => {
                let lit = self.string(pair);
                let path = lit.as_plain().unwrap_or_default();
                if lit.as_plain().is_none() {
                    self.diagnostics.push(
                        Diagnostic::error(Code::SyntaxError, "an import path cannot interpolate", Label::bare(span))
                            .with_help("write the path as a plain string: `import \"lib/common.kfl\" as common`"),
                    );
                }
                ImportTarget::File { path, span }
            }
        }
    }

    fn input(&mut self, pair: Pair<'_, Rule>) -> Input {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(next(&mut inner));
        let ty = self.type_expr(next(&mut inner));
        let default = inner.next().map(|e| self.expr(e));
        Input { name, ty, default, span }
    }

    fn output(&mut self, pair: Pair<'_, Rule>) -> Output {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(next(&mut inner));
        let ty = self.type_expr(next(&mut inner));
        Output { name, ty, span }
    }

    fn type_expr(&mut self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(next(&mut inner));
        let arg = inner.next().map(|a| Box::new(self.type_expr(a)));
        TypeExpr { name, arg, span }
    }

    /// A `block` or `object`: entries, checking that two entries on one line
    /// are separated by a comma.
    /// Lowers each pair of `rule` among `pairs` into a `Vec` of exactly that many elements: `collect` starts
    /// any vector at four, and most of these lists have one or two elements (at 10,000 stages the slack was
    /// megabytes).
    fn each_of<'i, T>(
        &mut self,
        pairs: Pairs<'i, Rule>,
        rule: Rule,
        mut lower: impl FnMut(&mut Self, Pair<'i, Rule>) -> T,
    ) -> Vec<T> {
        let mut out = Vec::with_capacity(pairs.clone().filter(|p| p.as_rule() == rule).count());
        for pair in pairs {
            if pair.as_rule() == rule {
                out.push(lower(self, pair));
            }
        }
        out
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Block {
        let span = self.span(&pair);
        let parts = pair.into_inner();
        let mut entries: Vec<Entry> = Vec::with_capacity(parts.clone().filter(|p| p.as_rule() != Rule::comma).count());
        let mut separated = true;
        for part in parts {
            if part.as_rule() == Rule::comma {
                separated = true;
                continue;
            }
            let entry = self.entry(part);
            if let Some(previous) = entries.last() {
                let gap = &self.src[previous.span().end as usize..entry.span().start as usize];
                if !separated && !gap.contains('\n') {
                    let at = Span { file: self.file, start: previous.span().end, end: previous.span().end };
                    self.diagnostics.push(
                        Diagnostic::error(
                            Code::SyntaxError,
                            "expected `,` or a newline between entries",
                            Label::new(at, "add `,` here"),
                        )
                        .with_label(Label::new(entry.span(), "the next entry starts on the same line"))
                        .with_help("entries inside `{}` are separated by newlines or commas"),
                    );
                }
            }
            separated = false;
            entries.push(entry);
        }
        Block { entries, span }
    }

    fn entry(&mut self, pair: Pair<'_, Rule>) -> Entry {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::fields_entry => {
                let mut inner = pair.into_inner();
                let key = self.key(next(&mut inner));
                let fields: Vec<Field> = self.each_of(inner, Rule::field, Self::field);
                if fields.is_empty() {
                    // `resources {}` — an empty object, not an empty field list.
                    let object_span = Span { file: self.file, start: key.span.end, end: span.end };
                    let value = Expr {
                        kind: ExprKind::Object(Block { entries: Vec::new(), span: object_span }),
                        span: object_span,
                    };
                    return Entry::Property(Property { key, value, block_form: true, span });
                }
                Entry::Fields(Fields { key, fields, span })
            }
            Rule::property => {
                let mut inner = pair.into_inner();
                let key = self.key(next(&mut inner));
                let value_pair = next(&mut inner);
                let block_form = value_pair.as_rule() == Rule::object;
                let value = self.expr_or_object(value_pair);
                Entry::Property(Property { key, value, block_form, span })
            }
            Rule::mount_entry => {
                let mut inner = pair.into_inner();
                let keyword = self.span(&next(&mut inner));
                let volume = self.expr(next(&mut inner));
                let _at = inner.next();
                let path = self.expr(next(&mut inner));
                Entry::Mount(Mount { keyword, volume, path, span })
            }
            Rule::rule_entry => {
                let mut inner = pair.into_inner();
                let keyword = self.span(&next(&mut inner));
                let name = self.ident(next(&mut inner));
                let body = self.block(next(&mut inner));
                Entry::Rule(MonitorRule { keyword, name, body, span })
            }
            other => unreachable_rule(other),
        }
    }

    fn field(&mut self, pair: Pair<'_, Rule>) -> Field {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let key = self.key(next(&mut inner));
        let ty = self.type_expr(next(&mut inner));
        Field { key, ty, span }
    }

    fn key(&mut self, pair: Pair<'_, Rule>) -> Key {
        let span = self.span(&pair);
        let pairs = pair.into_inner();
        let mut segments = Vec::with_capacity(pairs.len());
        segments.extend(pairs.map(|segment| {
            let segment_span = self.span(&segment);
            match segment.as_rule() {
                Rule::quoted_key => {
                    let text = segment.into_inner().next().map(|t| t.as_str().to_string()).unwrap_or_default();
                    KeySegment { text: text.into(), quoted: true, span: segment_span }
                }
                _ => KeySegment { text: segment.as_str().into(), quoted: false, span: segment_span },
            }
        }));
        Key { segments, span }
    }

    fn expr_or_object(&mut self, pair: Pair<'_, Rule>) -> Expr {
        if pair.as_rule() == Rule::object {
            let span = self.span(&pair);
            Expr { kind: ExprKind::Object(self.block(pair)), span }
        } else {
            self.expr(pair)
        }
    }

    /// `expr = operand (infix operand)*`, folded by precedence climbing.
    pub fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let mut parts = pair.into_inner();
        // Most expressions are one operand: no operator vectors needed.
        if parts.len() == 1
            && let Some(only) = parts.next()
        {
            return self.postfixed(only);
        }
        let mut operands: Vec<Expr> = Vec::new();
        let mut operators: Vec<(BinaryOp, Span)> = Vec::new();
        let mut prefixes: Vec<(UnaryOp, Span)> = Vec::new();
        let mut current: Option<Expr> = None;
        for part in parts {
            let rule = part.as_rule();
            if let Some(op) = binary_op(rule) {
                let operand = self.finish_operand(current.take(), &mut prefixes);
                operands.extend(operand);
                operators.push((op, self.span(&part)));
                continue;
            }
            match rule {
                Rule::op_not => prefixes.push((UnaryOp::Not, self.span(&part))),
                Rule::op_neg => prefixes.push((UnaryOp::Neg, self.span(&part))),
                _ => current = Some(self.postfixed(part)),
            }
        }
        operands.extend(self.finish_operand(current.take(), &mut prefixes));
        self.fold(operands, operators)
    }

    /// A primary followed by its members and calls (`search.best.model`, `f(x)`).
    fn postfixed(&mut self, pair: Pair<'_, Rule>) -> Expr {
        if pair.as_rule() != Rule::postfixed {
            return self.primary(pair);
        }
        let mut parts = pair.into_inner();
        let Some(first) = parts.next() else {
            return Expr { kind: ExprKind::Bool(false), span: Span::default() };
        };
        let mut current = self.primary(first);
        for part in parts {
            current = match part.as_rule() {
                Rule::member => match part.into_inner().next().map(|m| self.ident(m)) {
                    Some(member) => {
                        let span = current.span.to(member.span);
                        Expr { kind: ExprKind::Member(Box::new(current), member), span }
                    }
                    None => current,
                },
                _ => {
                    let args_span = self.span(&part);
                    let args = self.each_of(part.into_inner(), Rule::arg, Self::arg);
                    let span = current.span.to(args_span);
                    Expr { kind: ExprKind::Call(Box::new(current), args), span }
                }
            };
        }
        current
    }

    fn finish_operand(&mut self, operand: Option<Expr>, prefixes: &mut Vec<(UnaryOp, Span)>) -> Option<Expr> {
        let mut expr = operand?;
        while let Some((op, span)) = prefixes.pop() {
            let whole = span.to(expr.span);
            expr = Expr { kind: ExprKind::Unary(op, Box::new(expr)), span: whole };
        }
        Some(expr)
    }

    fn fold(&mut self, operands: Vec<Expr>, operators: Vec<(BinaryOp, Span)>) -> Expr {
        let mut operands = operands.into_iter();
        let Some(first) = operands.next() else {
            // The grammar guarantees an operand; keep a harmless placeholder.
            return Expr { kind: ExprKind::Bool(false), span: Span::default() };
        };
        let rest: Vec<((BinaryOp, Span), Expr)> = operators.into_iter().zip(operands).collect();
        let mut rest = rest.into_iter().peekable();
        self.climb(first, &mut rest, 0)
    }

    fn climb(
        &mut self,
        mut lhs: Expr,
        rest: &mut std::iter::Peekable<std::vec::IntoIter<((BinaryOp, Span), Expr)>>,
        min_precedence: u8,
    ) -> Expr {
        while let Some(((op, op_span), _)) = rest.peek().map(|(o, e)| (*o, e.span)) {
            if op.precedence() < min_precedence {
                break;
            }
            let Some((_, mut rhs)) = rest.next() else { break };
            while let Some(((next_op, _), _)) = rest.peek() {
                if next_op.precedence() > op.precedence() {
                    rhs = self.climb(rhs, rest, op.precedence() + 1);
                } else {
                    break;
                }
            }
            if op.is_non_associative()
                && let ExprKind::Binary(prev, _, _) = &lhs.kind
                && prev.precedence() == op.precedence()
            {
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::SyntaxError,
                        format!("`{}` cannot be chained", op.symbol()),
                        Label::new(op_span, "second operator here"),
                    )
                    .with_help("add parentheses, or join two comparisons with `&&`"),
                );
            }
            let span = lhs.span.to(rhs.span);
            lhs = Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span };
        }
        lhs
    }

    fn primary(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::if_expr => {
                let mut parts = pair.into_inner().filter(|p| p.as_rule() == Rule::expr);
                let cond = self.expr(next(&mut parts));
                let then = self.expr(next(&mut parts));
                let otherwise = self.expr(next(&mut parts));
                ExprKind::If(Box::new(cond), Box::new(then), Box::new(otherwise))
            }
            Rule::number => ExprKind::Number(Box::new(self.number(pair))),
            Rule::string | Rule::raw_string => ExprKind::String(self.string(pair)),
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::list => ExprKind::List(self.each_of(pair.into_inner(), Rule::expr, Self::expr)),
            Rule::object => ExprKind::Object(self.block(pair)),
            Rule::paren => ExprKind::Paren(Box::new(self.expr(next(&mut pair.into_inner())))),
            Rule::ident => ExprKind::Name(self.ident(pair)),
            other => unreachable_rule(other),
        };
        Expr { kind, span }
    }

    fn number(&mut self, pair: Pair<'_, Rule>) -> NumberLit {
        let mut text = String::new();
        let mut is_float = false;
        let mut unit = None;
        let mut unit_span = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::mantissa => {
                    is_float |= part.as_str().contains('.');
                    text.push_str(part.as_str());
                }
                Rule::exponent => {
                    is_float = true;
                    text.push_str(part.as_str());
                }
                _ => {
                    unit_span = Some(self.span(&part));
                    unit = Some(part.as_str().to_string());
                }
            }
        }
        NumberLit { text, is_float, unit, unit_span }
    }

    fn string(&mut self, pair: Pair<'_, Rule>) -> StringLit {
        if pair.as_rule() == Rule::raw_string {
            let text = pair.into_inner().next().map(|t| t.as_str().to_string()).unwrap_or_default();
            return StringLit { parts: vec![StringPart::Text(text)], raw: true };
        }
        let mut parts: Vec<StringPart> = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::interpolation => {
                    let expr = self.expr(next(&mut part.into_inner()));
                    parts.push(StringPart::Interpolation(expr));
                }
                rule => {
                    let text = match rule {
                        Rule::escape => match part.as_str() {
                            "\\n" => "\n",
                            "\\t" => "\t",
                            "\\\"" => "\"",
                            "\\\\" => "\\",
                            _ => "$",
                        },
                        _ => part.as_str(),
                    };
                    if let Some(StringPart::Text(last)) = parts.last_mut() {
                        last.push_str(text);
                    } else {
                        parts.push(StringPart::Text(text.to_string()));
                    }
                }
            }
        }
        parts.shrink_to_fit();
        StringLit { parts, raw: false }
    }

    fn arg(&mut self, pair: Pair<'_, Rule>) -> Arg {
        let span = self.span(&pair);
        let mut name = None;
        let mut value = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident => name = Some(self.ident(part)),
                _ => value = Some(self.expr(part)),
            }
        }
        let value = value.unwrap_or(Expr { kind: ExprKind::Bool(false), span });
        Arg { name, value, span }
    }
}

fn binary_op(rule: Rule) -> Option<BinaryOp> {
    Some(match rule {
        Rule::op_or => BinaryOp::Or,
        Rule::op_and => BinaryOp::And,
        Rule::op_eq => BinaryOp::Eq,
        Rule::op_ne => BinaryOp::Ne,
        Rule::op_lt => BinaryOp::Lt,
        Rule::op_le => BinaryOp::Le,
        Rule::op_gt => BinaryOp::Gt,
        Rule::op_ge => BinaryOp::Ge,
        Rule::op_range => BinaryOp::Range,
        Rule::op_add => BinaryOp::Add,
        Rule::op_sub => BinaryOp::Sub,
        Rule::op_mul => BinaryOp::Mul,
        Rule::op_div => BinaryOp::Div,
        _ => return None,
    })
}

/// The grammar guarantees the child exists; a missing one is a grammar/lowering mismatch.
fn next<'i>(pairs: &mut impl Iterator<Item = Pair<'i, Rule>>) -> Pair<'i, Rule> {
    match pairs.next() {
        Some(pair) => pair,
        None => panic!("kfl.pest and syntax/lower.rs disagree: a required child is missing"),
    }
}

fn unreachable_rule(rule: Rule) -> ! {
    panic!("kfl.pest and syntax/lower.rs disagree: unexpected rule {rule:?}")
}
