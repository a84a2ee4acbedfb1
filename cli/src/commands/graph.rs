//! `kfl graph`: the stage DAG as Graphviz dot or Mermaid.

use std::path::PathBuf;

use kfl_compiler::ast::BinaryOp;
use kfl_compiler::ir::graph::{EdgeKind, NodeKind};
use kfl_compiler::ir::{BinaryOpName, Expr, Program, Ref, TemplatePart, UnaryOpName, Value};

use crate::Status;

/// Print the stage DAG of a file.
///
/// Example: `kfl graph examples/iris/iris.kfl --format mermaid`
#[derive(clap::Args, Debug)]
pub struct Args {
    file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    Dot,
    Mermaid,
}

pub fn run(args: Args) -> Status {
    let (_, checked) = match super::check_one(&args.file, &kfl_compiler::ir::bind::BindOptions::default()) {
        Ok(checked) => checked,
        Err(status) => return status,
    };
    let Some(program) = checked.program() else { return Status::UserErrors };
    print!(
        "{}",
        match args.format {
            Format::Dot => dot(program),
            Format::Mermaid => mermaid(program),
        }
    );
    Status::Ok
}

fn shape(kind: NodeKind) -> (&'static str, &'static str) {
    match kind {
        NodeKind::Step => ("box", "step"),
        NodeKind::Train => ("box3d", "train"),
        NodeKind::Tune => ("hexagon", "tune"),
        NodeKind::Model => ("cylinder", "model"),
        NodeKind::Serve => ("component", "serve"),
        NodeKind::Monitor => ("note", "monitor"),
    }
}

fn dot(program: &Program) -> String {
    let graph = &program.graph;
    let mut out = String::from("digraph pipeline {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    let node = |name: &str, indent: &str| {
        let Some(node) = graph.node(name) else { return String::new() };
        let (shape, kind) = shape(node.kind);
        let gate = gate(program, name).map(|g| format!("\\n{}", dot_escape(&g))).unwrap_or_default();
        format!("{indent}\"{name}\" [shape={shape}, label=\"{name}\\n({kind}){gate}\"];\n")
    };
    let loops = loops(program);
    // A `for` block is a dashed cluster labelled with its header: the stages in it run once per item.
    for (i, (header, stages)) in loops.iter().enumerate() {
        out.push_str(&format!(
            "  subgraph \"cluster_for_{i}\" {{\n    label=\"{}\";\n    style=dashed;\n",
            dot_escape(header)
        ));
        for name in stages {
            out.push_str(&node(name, "    "));
        }
        out.push_str("  }\n");
    }
    for name in graph.order.iter().filter(|n| !loops.iter().any(|(_, s)| s.contains(&n.as_str()))) {
        out.push_str(&node(name, "  "));
    }
    for edge in &graph.edges {
        let style = if edge.kind == EdgeKind::After { " [style=dashed, label=\"after\"]" } else { "" };
        out.push_str(&format!("  \"{}\" -> \"{}\"{style};\n", edge.from, edge.to));
    }
    out.push_str("}\n");
    out
}

fn mermaid(program: &Program) -> String {
    let graph = &program.graph;
    let mut out = String::from("flowchart LR\n");
    let node = |name: &str, indent: &str| {
        let Some(node) = graph.node(name) else { return String::new() };
        let (_, kind) = shape(node.kind);
        let (open, close) = match node.kind {
            NodeKind::Tune => ("{{", "}}"),
            NodeKind::Model => ("[(", ")]"),
            NodeKind::Serve => ("([", "])"),
            _ => ("[", "]"),
        };
        let gate = gate(program, name).map(|g| format!("<br/>{}", mermaid_escape(&g))).unwrap_or_default();
        format!("{indent}{name}{open}\"{name} ({kind}){gate}\"{close}\n")
    };
    let loops = loops(program);
    for (i, (header, stages)) in loops.iter().enumerate() {
        out.push_str(&format!("  subgraph for_{i} [\"{}\"]\n", mermaid_escape(header)));
        for name in stages {
            out.push_str(&node(name, "    "));
        }
        out.push_str("  end\n");
    }
    for name in graph.order.iter().filter(|n| !loops.iter().any(|(_, s)| s.contains(&n.as_str()))) {
        out.push_str(&node(name, "  "));
    }
    for edge in &graph.edges {
        let arrow = if edge.kind == EdgeKind::After { "-.->|after|" } else { "-->" };
        out.push_str(&format!("  {} {arrow} {}\n", edge.from, edge.to));
    }
    out
}

/// Text inside a dot double-quoted label.
fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Text inside a Mermaid quoted label: Mermaid's entity codes for what its parser or HTML would read.
fn mermaid_escape(text: &str) -> String {
    text.replace('#', "#35;").replace('&', "#amp;").replace('<', "#lt;").replace('>', "#gt;").replace('"', "#quot;")
}

/// What the picture says about one node beyond its name and kind: its `when` gate, if any.
fn gate(program: &Program, name: &str) -> Option<String> {
    let when = match program.graph.node(name)?.kind {
        NodeKind::Step | NodeKind::Train => program.stage(name)?.when.as_ref(),
        NodeKind::Tune => program.tune(name)?.when.as_ref(),
        NodeKind::Model => program.model(name)?.when.as_ref(),
        NodeKind::Serve | NodeKind::Monitor => None,
    };
    when.map(|value| format!("when {}", source(value)))
}

/// The `for` blocks: the header as written (`for fold in 0..4`) and the stages that fan out, in the
/// graph's order.
fn loops(program: &Program) -> Vec<(String, Vec<&str>)> {
    program
        .loops
        .iter()
        .map(|l| {
            let stages = program.graph.order.iter().filter(|n| l.stages.contains(n)).map(String::as_str).collect();
            (format!("for {} in {}", l.var, source(&l.iterable)), stages)
        })
        .collect()
}

/// A value as `.kfl` source, for labels.
fn source(value: &Value) -> String {
    match value {
        Value::Int(n) => n.to_string(),
        Value::Float(x) => format!("{x:?}"),
        Value::Bool(b) => b.to_string(),
        Value::String(text) => format!("{text:?}"),
        Value::Percent(p) => format!("{p}%"),
        Value::Enum(name) => name.clone(),
        Value::List(items) => format!("[{}]", items.iter().map(source).collect::<Vec<_>>().join(", ")),
        Value::Range(lo, hi) => format!("{}..{}", source(lo), source(hi)),
        Value::Ref(reference) => match reference {
            Ref::Output { stage, output, .. } => format!("{stage}.{output}"),
            Ref::Best { tune, field, .. } => format!("{tune}.best.{field}"),
            Ref::Component { module: Some(module), name } => format!("{module}.{name}"),
            Ref::Param { name }
            | Ref::Dataset { name }
            | Ref::Volume { name }
            | Ref::Secret { name }
            | Ref::Model { name }
            | Ref::Serve { name }
            | Ref::Stage { name }
            | Ref::Local { name }
            | Ref::LoopVar { name }
            | Ref::Builtin { name }
            | Ref::Component { module: None, name } => name.clone(),
        },
        Value::Expr(expr) => match expr.as_ref() {
            Expr::Unary { op, operand } => {
                let sign = if *op == UnaryOpName::Not { "!" } else { "-" };
                format!("{sign}{}", operand_source(operand, u8::MAX))
            }
            Expr::Binary { op, lhs, rhs } => {
                let (symbol, precedence) = operator(*op);
                // Left-associative: a right operand of the same precedence needs its parentheses.
                format!("{} {symbol} {}", operand_source(lhs, precedence), operand_source(rhs, precedence + 1))
            }
            Expr::If { cond, then, otherwise } => {
                format!("if {} then {} else {}", source(cond), source(then), source(otherwise))
            }
        },
        Value::Duration(d) => match d.millis {
            ms if ms % 1000 != 0 => format!("{ms}ms"),
            ms => format!("{}s", ms / 1000),
        },
        Value::Quantity(q) => q.text.clone(),
        Value::Cpu(c) if c.millis % 1000 == 0 => (c.millis / 1000).to_string(),
        Value::Cpu(c) => format!("{}m", c.millis),
        Value::Object(fields) => format!(
            "{{ {} }}",
            fields.iter().map(|(name, value)| format!("{name} = {}", source(value))).collect::<Vec<_>>().join(", ")
        ),
        Value::Template(parts) => {
            let text: String = parts
                .iter()
                .map(|part| match part {
                    TemplatePart::Text(text) => text.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$"),
                    TemplatePart::Value(value) => format!("${{{}}}", source(value)),
                })
                .collect();
            format!("\"{text}\"")
        }
        Value::Call(call) => {
            let positional = call.positional.iter().map(source);
            let named = call.args.iter().map(|(name, value)| format!("{name} = {}", source(value)));
            format!("{}({})", call.name, positional.chain(named).collect::<Vec<_>>().join(", "))
        }
    }
}

/// An operand, parenthesised when it binds more loosely than `min` requires.
fn operand_source(value: &Value, min: u8) -> String {
    let binds = match value {
        Value::Expr(expr) => match expr.as_ref() {
            Expr::Binary { op, .. } => operator(*op).1,
            Expr::If { .. } => 0,
            Expr::Unary { .. } => u8::MAX,
        },
        _ => u8::MAX,
    };
    if binds < min { format!("({})", source(value)) } else { source(value) }
}

/// An operator's symbol and precedence (higher binds tighter), the parser's own.
fn operator(op: BinaryOpName) -> (&'static str, u8) {
    let op = BinaryOp::from(op);
    (op.symbol(), op.precedence())
}
