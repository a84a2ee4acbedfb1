//! `kfl graph`: the stage DAG as Graphviz dot or Mermaid.

use std::path::PathBuf;

use kfl_compiler::ir::graph::{EdgeKind, Graph, NodeKind};

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
            Format::Dot => dot(&program.graph),
            Format::Mermaid => mermaid(&program.graph),
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

fn dot(graph: &Graph) -> String {
    let mut out = String::from("digraph pipeline {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    for name in &graph.order {
        if let Some(node) = graph.node(name) {
            let (shape, kind) = shape(node.kind);
            out.push_str(&format!("  \"{name}\" [shape={shape}, label=\"{name}\\n({kind})\"];\n"));
        }
    }
    for edge in &graph.edges {
        let style = if edge.kind == EdgeKind::After { " [style=dashed, label=\"after\"]" } else { "" };
        out.push_str(&format!("  \"{}\" -> \"{}\"{style};\n", edge.from, edge.to));
    }
    out.push_str("}\n");
    out
}

fn mermaid(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for name in &graph.order {
        if let Some(node) = graph.node(name) {
            let (_, kind) = shape(node.kind);
            let (open, close) = match node.kind {
                NodeKind::Tune => ("{{", "}}"),
                NodeKind::Model => ("[(", ")]"),
                NodeKind::Serve => ("([", "])"),
                _ => ("[", "]"),
            };
            out.push_str(&format!("  {name}{open}\"{name} ({kind})\"{close}\n"));
        }
    }
    for edge in &graph.edges {
        let arrow = if edge.kind == EdgeKind::After { "-.->|after|" } else { "-->" };
        out.push_str(&format!("  {} {arrow} {}\n", edge.from, edge.to));
    }
    out
}
