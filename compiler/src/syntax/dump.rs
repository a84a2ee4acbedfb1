//! A span-free, indented text dump of the AST, for syntax snapshots and for checking that `fmt` keeps meaning.
//!
//! Two files that differ only in layout, comments other than docs, or spans
//! dump to the same text. Everything that `fmt` must keep is in the dump:
//! docs, `key { … }` versus `key = { … }`, quoted key segments, raw strings,
//! number text with its unit, and the user's parentheses.

use std::fmt::Write as _;

use crate::ast::*;

/// Dumps `file` one node per line, two spaces of indentation per level.
pub fn dump(file: &File) -> String {
    let mut dumper = Dumper { out: String::new() };
    dumper.line(0, "file");
    if let Some(doc) = &file.doc {
        dumper.doc(1, doc);
    }
    for item in &file.items {
        dumper.item(1, item);
    }
    dumper.out
}

struct Dumper {
    out: String,
}

impl Dumper {
    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn doc(&mut self, depth: usize, doc: &Doc) {
        self.line(depth, &format!("doc {:?}", doc.text));
    }

    fn item(&mut self, depth: usize, item: &Item) {
        match &item.kind {
            ItemKind::Import(import) => {
                let mut text = match &import.target {
                    ImportTarget::File { path, .. } => format!("import file {path:?}"),
                    ImportTarget::Std { path, .. } => format!("import std {}", idents(path)),
                };
                if let Some(alias) = &import.alias {
                    let _ = write!(text, " as {}", alias.name);
                }
                self.line(depth, &text);
            }
            ItemKind::Param(param) => {
                self.line(depth, &format!("param {}: {}", param.name.name, type_expr(&param.ty)));
                if let Some(default) = &param.default {
                    self.expr(depth + 1, "default", default);
                }
            }
            ItemKind::Block(block) => {
                self.line(depth, &format!("{} {}", block.kind.keyword(), block.name.name));
                self.block(depth + 1, &block.body);
            }
            ItemKind::Stage(stage) => {
                self.line(depth, &format!("{} {}", stage.kind.keyword(), stage.name.name));
                match &stage.inputs {
                    None => self.line(depth + 1, "no inputs"),
                    Some(inputs) => {
                        self.line(depth + 1, "inputs");
                        for input in inputs {
                            self.line(depth + 2, &format!("input {}: {}", input.name.name, type_expr(&input.ty)));
                            if let Some(default) = &input.default {
                                self.expr(depth + 3, "default", default);
                            }
                        }
                    }
                }
                match &stage.outputs {
                    None => self.line(depth + 1, "no outputs"),
                    Some(outputs) => {
                        self.line(depth + 1, "outputs");
                        for output in outputs {
                            self.line(depth + 2, &format!("output {}: {}", output.name.name, type_expr(&output.ty)));
                        }
                    }
                }
                self.line(depth + 1, "body");
                self.block(depth + 2, &stage.body);
            }
            ItemKind::StepCall(call) => {
                self.line(depth, &format!("step-call {} = {}", call.name.name, idents(&call.component)));
                self.args(depth + 1, &call.args);
            }
            ItemKind::For(for_block) => {
                self.line(depth, &format!("for {}", for_block.var.name));
                self.expr(depth + 1, "in", &for_block.iterable);
                for inner in &for_block.items {
                    self.item(depth + 1, inner);
                }
            }
        }
        // The doc follows the item line so that the item stays the first thing read.
        if let Some(doc) = &item.doc {
            self.doc(depth + 1, doc);
        }
    }

    fn block(&mut self, depth: usize, block: &Block) {
        for entry in &block.entries {
            self.entry(depth, entry);
        }
    }

    fn entry(&mut self, depth: usize, entry: &Entry) {
        match entry {
            Entry::Property(property) => {
                let form = if property.block_form { "block" } else { "=" };
                self.line(depth, &format!("property {} ({form})", key(&property.key)));
                self.expr(depth + 1, "value", &property.value);
            }
            Entry::Fields(fields) => {
                self.line(depth, &format!("fields {}", key(&fields.key)));
                for field in &fields.fields {
                    self.line(depth + 1, &format!("field {}: {}", key(&field.key), type_expr(&field.ty)));
                }
            }
            Entry::Mount(mount) => {
                self.line(depth, "mount");
                self.expr(depth + 1, "volume", &mount.volume);
                self.expr(depth + 1, "at", &mount.path);
            }
            Entry::Rule(rule) => {
                self.line(depth, &format!("rule {}", rule.name.name));
                self.block(depth + 1, &rule.body);
            }
        }
    }

    fn args(&mut self, depth: usize, args: &[Arg]) {
        for arg in args {
            let label = match &arg.name {
                Some(name) => format!("arg {name}", name = name.name),
                None => "arg".to_string(),
            };
            self.expr(depth, &label, &arg.value);
        }
    }

    /// One expression: `label kind detail`, then its children one level deeper.
    fn expr(&mut self, depth: usize, label: &str, expr: &Expr) {
        match &expr.kind {
            ExprKind::Number(number) => {
                let unit = number.unit.as_deref().map(|unit| format!(" unit {unit}")).unwrap_or_default();
                self.line(depth, &format!("{label}: number {}{unit}", number.text));
            }
            ExprKind::String(string) => self.string(depth, label, string),
            ExprKind::Bool(value) => self.line(depth, &format!("{label}: bool {value}")),
            ExprKind::Name(name) => self.line(depth, &format!("{label}: name {}", name.name)),
            ExprKind::List(elements) => {
                self.line(depth, &format!("{label}: list"));
                for element in elements {
                    self.expr(depth + 1, "element", element);
                }
            }
            ExprKind::Object(block) => {
                self.line(depth, &format!("{label}: object"));
                self.block(depth + 1, block);
            }
            ExprKind::Member(base, member) => {
                self.line(depth, &format!("{label}: member .{}", member.name));
                self.expr(depth + 1, "base", base);
            }
            ExprKind::Call(callee, args) => {
                self.line(depth, &format!("{label}: call"));
                self.expr(depth + 1, "callee", callee);
                self.args(depth + 1, args);
            }
            ExprKind::Unary(op, operand) => {
                let symbol = match op {
                    UnaryOp::Not => "!",
                    UnaryOp::Neg => "-",
                };
                self.line(depth, &format!("{label}: unary {symbol}"));
                self.expr(depth + 1, "operand", operand);
            }
            ExprKind::Binary(op, lhs, rhs) => {
                self.line(depth, &format!("{label}: binary {}", op.symbol()));
                self.expr(depth + 1, "lhs", lhs);
                self.expr(depth + 1, "rhs", rhs);
            }
            ExprKind::If(condition, then, otherwise) => {
                self.line(depth, &format!("{label}: if"));
                self.expr(depth + 1, "condition", condition);
                self.expr(depth + 1, "then", then);
                self.expr(depth + 1, "else", otherwise);
            }
            ExprKind::Paren(inner) => {
                self.line(depth, &format!("{label}: paren"));
                self.expr(depth + 1, "inner", inner);
            }
        }
    }

    fn string(&mut self, depth: usize, label: &str, string: &StringLit) {
        let kind = if string.raw { "raw-string" } else { "string" };
        match string.parts.as_slice() {
            [] => self.line(depth, &format!("{label}: {kind} \"\"")),
            [StringPart::Text(text)] => self.line(depth, &format!("{label}: {kind} {text:?}")),
            parts => {
                self.line(depth, &format!("{label}: {kind}"));
                for part in parts {
                    match part {
                        StringPart::Text(text) => self.line(depth + 1, &format!("text {text:?}")),
                        StringPart::Interpolation(inner) => self.expr(depth + 1, "interpolation", inner),
                    }
                }
            }
        }
    }
}

fn idents(path: &[Ident]) -> String {
    path.iter().map(|ident| ident.name.as_str()).collect::<Vec<_>>().join(".")
}

/// Quoted segments keep their quotes, so `"a.b"` and `a.b` dump differently.
fn key(key: &Key) -> String {
    let segments: Vec<String> = key
        .segments
        .iter()
        .map(|segment| if segment.quoted { format!("\"{}\"", segment.text) } else { segment.text.to_string() })
        .collect();
    segments.join(".")
}

fn type_expr(ty: &TypeExpr) -> String {
    match &ty.arg {
        Some(arg) => format!("{}[{}]", ty.name.name, type_expr(arg)),
        None => ty.name.name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;
    use crate::syntax::parse;

    fn dump_src(src: &str) -> String {
        let (file, diagnostics) = parse(FileId(0), src);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        dump(&file)
    }

    #[test]
    fn layout_and_comments_do_not_change_the_dump() {
        let a = dump_src("step a {\n  run = [\"x\", 1]  // c\n  cpu = 500m\n}\n");
        let b = dump_src("step a { run = [ \"x\" ,\n 1 ], /* c */ cpu = 500m }");
        assert_eq!(a, b);
    }

    #[test]
    fn meaningful_details_change_the_dump() {
        let pairs = [
            ("step a { l { x = 1 } }", "step a { l = { x = 1 } }"),
            ("step a { k8s { \"a\".b = 1 } }", "step a { k8s { a.b = 1 } }"),
            ("step a { run = r\"x\" }", "step a { run = \"x\" }"),
            ("step a { cpu = 500m }", "step a { cpu = 500 }"),
            ("step a { x = (1 + 2) }", "step a { x = 1 + 2 }"),
            ("step a { x = 1.0 }", "step a { x = 1 }"),
            ("/// doc\nstep a {}", "step a {}"),
        ];
        for (left, right) in pairs {
            assert_ne!(dump_src(left), dump_src(right), "{left} vs {right}");
        }
    }

    #[test]
    fn dump_reads_like_a_tree() {
        let text = dump_src("/// Doc.\nparam p: list[int] = [1, -x.y]\n");
        let expected = "file\n  param p: list[int]\n    default: list\n      element: number 1\n      element: unary -\n        operand: member .y\n          base: name x\n    doc \"Doc.\"\n";
        assert_eq!(text, expected);
    }
}
