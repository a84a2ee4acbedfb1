//! The stage DAG (petgraph): data and `after` edges, topological order, and cycle errors naming the whole cycle.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostics::{Code, Diagnostic, Label};
use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Step,
    Train,
    Tune,
    Model,
    Serve,
    Monitor,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// `to` reads an output of `from` (or its model, or its service).
    Data,
    /// `to` lists `from` in `after`.
    After,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// Where the reference that made the edge is written.
    #[serde(skip)]
    pub span: Span,
}

/// The pipeline DAG. Nodes are in source order; `order` is a topological
/// order with ties broken by source order.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub order: Vec<String>,
    /// Node name → index in `nodes`, so building stays linear in file size.
    #[serde(skip)]
    index: indexmap::IndexMap<String, usize>,
    /// Edges already added (lookups only; output order comes from `edges`).
    #[serde(skip)]
    seen_edges: std::collections::HashSet<(String, String, EdgeKind)>,
    /// Node name → indices into `edges` of the edges that end there.
    #[serde(skip)]
    incoming: indexmap::IndexMap<String, Vec<usize>>,
}

impl Graph {
    pub fn add_node(&mut self, name: &str, kind: NodeKind, span: Span) {
        if !self.index.contains_key(name) {
            self.index.insert(name.to_string(), self.nodes.len());
            self.nodes.push(Node { name: name.to_string(), kind, span });
        }
    }

    pub fn add_edge(&mut self, from: &str, to: &str, kind: EdgeKind, span: Span) {
        if from != to && self.seen_edges.insert((from.to_string(), to.to_string(), kind)) {
            self.incoming.entry(to.to_string()).or_default().push(self.edges.len());
            self.edges.push(Edge { from: from.to_string(), to: to.to_string(), kind, span });
        }
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.index.get(name).map(|i| &self.nodes[*i])
    }

    /// The edges into `name`, in the order they were added.
    pub fn dependencies(&self, name: &str) -> impl Iterator<Item = &Edge> {
        self.incoming.get(name).into_iter().flatten().map(|i| &self.edges[*i])
    }

    /// Computes `order`, or returns one E0301 per cycle.
    pub fn sort(&mut self) -> Vec<Diagnostic> {
        let mut graph: DiGraph<usize, usize> = DiGraph::new();
        let indices: Vec<NodeIndex> = (0..self.nodes.len()).map(|i| graph.add_node(i)).collect();
        let position = |name: &str| self.index.get(name).copied();
        for (edge_index, edge) in self.edges.iter().enumerate() {
            if let (Some(from), Some(to)) = (position(&edge.from), position(&edge.to)) {
                graph.add_edge(indices[from], indices[to], edge_index);
            }
        }
        let mut diagnostics = Vec::new();
        for component in tarjan_scc(&graph) {
            if component.len() < 2 {
                continue;
            }
            let mut members: Vec<usize> = component.iter().map(|i| graph[*i]).collect();
            members.sort_unstable();
            diagnostics.push(self.cycle_error(&members));
        }
        if !diagnostics.is_empty() {
            return diagnostics;
        }
        // Kahn's algorithm, always taking the earliest node in source order,
        // so the order is deterministic and reads like the file.
        let mut indegree = vec![0usize; self.nodes.len()];
        for edge in graph.edge_indices() {
            if let Some((_, to)) = graph.edge_endpoints(edge) {
                indegree[graph[to]] += 1;
            }
        }
        let mut ready: std::collections::BTreeSet<usize> =
            (0..self.nodes.len()).filter(|i| indegree[*i] == 0).collect();
        let mut order = Vec::with_capacity(self.nodes.len());
        while let Some(next) = ready.pop_first() {
            order.push(self.nodes[next].name.clone());
            for neighbor in graph.neighbors(indices[next]) {
                let n = graph[neighbor];
                indegree[n] -= 1;
                if indegree[n] == 0 {
                    ready.insert(n);
                }
            }
        }
        self.order = order;
        diagnostics
    }

    fn cycle_error(&self, members: &[usize]) -> Diagnostic {
        // Walk the cycle from its first member in source order to name it in order.
        let names: Vec<&str> = members.iter().map(|m| self.nodes[*m].name.as_str()).collect();
        let mut path = vec![names[0]];
        let mut current = names[0];
        let mut edges = Vec::new();
        while path.len() <= names.len() {
            let Some(edge) = self
                .edges
                .iter()
                .filter(|e| e.from == current && names.contains(&e.to.as_str()))
                .min_by_key(|e| (e.to != names[0] && path.contains(&e.to.as_str()), e.span))
            else {
                break;
            };
            edges.push(edge);
            current = &edge.to;
            if current == names[0] {
                break;
            }
            path.push(current);
        }
        let mut cycle: Vec<String> = path.iter().map(|n| format!("`{n}`")).collect();
        cycle.push(format!("`{}`", names[0]));
        let first = edges.first().map_or(self.nodes[members[0]].span, |e| e.span);
        let mut diagnostic = Diagnostic::error(
            Code::DependencyCycle,
            format!("dependency cycle: {}", cycle.join(" → ")),
            Label::new(
                first,
                format!(
                    "`{}` depends on `{}` here",
                    edges.first().map_or("", |e| &e.to),
                    edges.first().map_or("", |e| &e.from)
                ),
            ),
        )
        .with_help(if edges.iter().any(|e| e.kind == EdgeKind::After) {
            "stages must form a DAG: remove one of these references or `after` entries"
        } else {
            "stages must form a DAG: remove one of these references, or split a stage in two"
        });
        for edge in edges.iter().skip(1) {
            diagnostic =
                diagnostic.with_label(Label::new(edge.span, format!("`{}` depends on `{}` here", edge.to, edge.from)));
        }
        diagnostic
    }
}
