//! Printing declarations, their signatures and bodies, and the entries of bodies and objects.

use super::expr::{key_text, quote, type_text};
use super::{Align, Blanks, MAX_WIDTH, Node, Printer, advance, assemble, bracketed, render_lines, width};
use crate::ast::*;

impl Printer<'_> {
    pub(super) fn file(&mut self, file: &File) -> String {
        let bounds = (0, self.comments.src().len());
        let chunks =
            self.sequence(&file.items, bounds, "", |item| item.span, |printer, item| printer.item_node(item, 0));
        let text = render_lines(&assemble(chunks, Blanks::BetweenItems), 0);
        if text.is_empty() { text } else { text + "\n" }
    }

    fn item_node(&mut self, item: &Item, indent: usize) -> (Node, Option<u8>) {
        let text = self.item(item, indent);
        let tag = match item.kind {
            ItemKind::Import(_) => Some(super::IMPORT),
            ItemKind::Param(_) => Some(1),
            ItemKind::StepCall(_) => Some(2),
            _ => None,
        };
        let tag = tag.filter(|_| !text.contains('\n'));
        (Node::plain(text), tag)
    }

    fn item(&mut self, item: &Item, indent: usize) -> String {
        let column = indent * 2;
        match &item.kind {
            ItemKind::Import(import) => {
                let mut text = String::from("import ");
                match &import.target {
                    ImportTarget::File { path, .. } => text.push_str(&quote(path)),
                    ImportTarget::Std { path, span } => {
                        // `std_path` is one token, so its source text is already canonical.
                        let written = self.comments.src().get(span.range());
                        let joined = path.iter().map(|ident| ident.name.as_str()).collect::<Vec<_>>().join(".");
                        text.push_str(written.unwrap_or(&joined));
                    }
                }
                if let Some(alias) = &import.alias {
                    text.push_str(" as ");
                    text.push_str(&alias.name);
                }
                text
            }
            ItemKind::Param(param) => {
                let mut text = format!("param {}: {}", param.name.name, type_text(&param.ty));
                if let Some(default) = &param.default {
                    text.push_str(" = ");
                    let value = self.expr(default, column + width(&text), indent);
                    text.push_str(&value);
                }
                text
            }
            ItemKind::Block(block) => {
                let body = self.body(&block.body, indent);
                format!("{} {} {body}", block.kind.keyword(), block.name.name)
            }
            ItemKind::Stage(stage) => self.stage(stage, indent),
            ItemKind::StepCall(call) => {
                let component: Vec<&str> = call.component.iter().map(|ident| ident.name.as_str()).collect();
                let head = format!("step {} = {}", call.name.name, component.join("."));
                let bounds = (call.args_span.start as usize, call.args_span.end as usize);
                let args = self.args(&call.args, bounds, column + width(&head), indent);
                head + &args
            }
            ItemKind::For(for_block) => {
                let mut text = format!("for {} in ", for_block.var.name);
                let iterable = self.expr(&for_block.iterable, column + width(&text), indent);
                text.push_str(&iterable);
                let iterable_span = for_block.iterable.span;
                let iterable_end = self.comments.trim_end(iterable_span.start as usize, iterable_span.end as usize);
                let bounds = (iterable_end, item.span.end as usize);
                if for_block.items.is_empty() && !self.comments.any_within(bounds.0, bounds.1) {
                    return text + " {}";
                }
                let chunks = self.sequence(
                    &for_block.items,
                    bounds,
                    "",
                    |inner| inner.span,
                    |printer, inner| printer.item_node(inner, indent + 1),
                );
                text + " " + &bracketed("{", &assemble(chunks, Blanks::BetweenItems), indent, "}")
            }
        }
    }

    fn stage(&mut self, stage: &StageDecl, indent: usize) -> String {
        let column = indent * 2;
        let head = format!("{} {}", stage.kind.keyword(), stage.name.name);
        let outputs = match &stage.outputs {
            Some(outputs) => {
                let outputs: Vec<String> =
                    outputs.iter().map(|output| format!("{}: {}", output.name.name, type_text(&output.ty))).collect();
                format!(" -> ({})", outputs.join(", "))
            }
            None => String::new(),
        };
        let inputs = match stage.inputs.as_deref() {
            None => String::new(),
            Some([]) => "()".to_string(),
            Some(inputs) => self.inputs(inputs, stage, column + width(&head), width(&outputs) + 2, indent),
        };
        let body = self.body(&stage.body, indent);
        format!("{head}{inputs}{outputs} {body}")
    }

    /// `(a: int = 1, …)`: one line when written on one line or when the whole
    /// header fits, else one input per line.
    fn inputs(&mut self, inputs: &[Input], stage: &StageDecl, column: usize, after: usize, indent: usize) -> String {
        let Some(last) = inputs.last() else { return "()".to_string() };
        let lo = stage.name.span.end as usize;
        let last_end = self.comments.trim_end(last.span.start as usize, last.span.end as usize);
        let hi = self.comments.closing_after(last_end, b')').unwrap_or(last_end);
        if !self.comments.any_within(lo, hi) {
            let flat: Option<Vec<String>> = inputs
                .iter()
                .map(|input| {
                    let head = format!("{}: {}", input.name.name, type_text(&input.ty));
                    match &input.default {
                        Some(default) => self.flat(default, false).map(|value| format!("{head} = {value}")),
                        None => Some(head),
                    }
                })
                .collect();
            if let Some(flat) = flat {
                let flat = format!("({})", flat.join(", "));
                if column + width(&flat) + after <= MAX_WIDTH {
                    return flat;
                }
            }
        }
        let chunks = self.sequence(
            inputs,
            (lo, hi),
            ",",
            |input| input.span,
            |printer, input| {
                let mut text = format!("{}: {}", input.name.name, type_text(&input.ty));
                if let Some(default) = &input.default {
                    text.push_str(" = ");
                    let value = printer.expr(default, (indent + 1) * 2 + width(&text), indent + 1);
                    text.push_str(&value);
                }
                (Node::plain(text), None)
            },
        );
        bracketed("(", &assemble(chunks, Blanks::AsWritten), indent, ")")
    }

    /// A declaration body: always one entry per line.
    fn body(&mut self, block: &Block, indent: usize) -> String {
        let (lo, hi) = (block.span.start as usize, block.span.end as usize);
        if block.entries.is_empty() && !self.comments.any_within(lo, hi) {
            return "{}".to_string();
        }
        self.entries_block(block, indent)
    }

    /// `{`, one entry per line, `}` at `indent`.
    pub(super) fn entries_block(&mut self, block: &Block, indent: usize) -> String {
        let bounds = (block.span.start as usize, block.span.end as usize);
        let chunks = self.sequence(&block.entries, bounds, "", Entry::span, |printer, entry| {
            (printer.entry(entry, indent + 1), None)
        });
        bracketed("{", &assemble(chunks, Blanks::AsWritten), indent, "}")
    }

    fn entry(&mut self, entry: &Entry, indent: usize) -> Node {
        let column = indent * 2;
        match entry {
            Entry::Property(property) => {
                let key = key_text(&property.key);
                match (&property.value.kind, property.block_form) {
                    (ExprKind::Object(block), true) => {
                        let value = self.object(block, column + width(&key) + 1, indent);
                        Node::aligned(key, " ", value, Align::Property)
                    }
                    _ => {
                        let value = self.expr(&property.value, column + width(&key) + 3, indent);
                        Node::aligned(key, " = ", value, Align::Property)
                    }
                }
            }
            Entry::Fields(fields) => {
                let key = key_text(&fields.key);
                let value = self.fields(fields, column + width(&key) + 1, indent);
                Node::aligned(key, " ", value, Align::Property)
            }
            Entry::Mount(mount) => {
                let volume = self.expr(&mount.volume, column + 6, indent);
                let mut text = format!("mount {volume} at ");
                let path = self.expr(&mount.path, advance(column, &text), indent);
                text.push_str(&path);
                Node { align: Align::Transparent, ..Node::plain(text) }
            }
            Entry::Rule(rule) => {
                let head = format!("rule {}", rule.name.name);
                let body = self.object(&rule.body, column + width(&head) + 1, indent);
                Node::aligned(head, " ", body, Align::Rule)
            }
        }
    }

    /// The `{ name: type, … }` of a `metrics`-style entry.
    fn fields(&mut self, fields: &Fields, column: usize, indent: usize) -> String {
        let (lo, hi) = (fields.key.span.end as usize, fields.span.end as usize);
        let flat = format!("{{ {} }}", fields.fields.iter().map(field_text).collect::<Vec<_>>().join(", "));
        if !self.comments.any_within(lo, hi) && !self.spans_lines(lo, hi) && column + width(&flat) <= MAX_WIDTH {
            return flat;
        }
        let chunks = self.sequence(
            &fields.fields,
            (lo, hi),
            "",
            |field| field.span,
            |_, field| (Node::plain(field_text(field)), None),
        );
        bracketed("{", &assemble(chunks, Blanks::AsWritten), indent, "}")
    }

    /// Whether the source from `lo` to `hi` holds a line break.
    pub(super) fn spans_lines(&self, lo: usize, hi: usize) -> bool {
        self.comments.src().get(lo..hi).is_some_and(|text| text.contains('\n'))
    }
}

pub(super) fn field_text(field: &Field) -> String {
    format!("{}: {}", key_text(&field.key), type_text(&field.ty))
}
