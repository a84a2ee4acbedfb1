//! The stage DAG (petgraph): data and `after` edges, topological order, and cycle errors naming the whole cycle.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostics::{Code, Diagnostic, Label};
use crate::source::Span;

/// What a node of the graph is: the plan format's stage kind (`kfl-plan`).
pub use kfl_plan::StageKind as NodeKind;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    #[serde(skip)]
    pub span: Span,
}

/// Why one node waits for another; the plan format's enum (`kfl-plan`).
pub use kfl_plan::EdgeKind;

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
    /// Edges already added (lookups only; output order comes from `edges`). Freed by [`Graph::sort`], once the
    /// checker has added every edge (a copy of every edge's names, alive through a large build otherwise), and
    /// rebuilt from `edges` should one be added after.
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
        if self.seen_edges.len() < self.edges.len() {
            self.seen_edges = self.edges.iter().map(|e| (e.from.clone(), e.to.clone(), e.kind)).collect();
        }
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
        self.seen_edges = std::collections::HashSet::new();
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

    /// One E0301 for a strongly connected set of stages, short whatever the cycle's length: the
    /// header names the cycle, one label points at the edge to cut, a note lists the other edges.
    ///
    /// The edge pointed at is one whose removal leaves these stages acyclic (in a plain cycle, every
    /// edge), so the fix it suggests works. Among those, a reference to a stage declared further down
    /// comes first, then the latest in the file: in a file whose stages are declared in data order every
    /// edge points up and no cycle can form, so the edge that closed the cycle (the one just added) is
    /// necessarily one that points down. When no single edge breaks every cycle of the set, the latest
    /// edge of the cycle named.
    fn cycle_error(&self, members: &[usize]) -> Diagnostic {
        let names: Vec<&str> = members.iter().map(|m| self.nodes[*m].name.as_str()).collect();
        let set: std::collections::HashSet<&str> = names.iter().copied().collect();
        let inside: Vec<&Edge> =
            self.edges.iter().filter(|e| set.contains(e.from.as_str()) && set.contains(e.to.as_str())).collect();
        let mut preferred = inside.clone();
        let declared = |name: &str| self.index.get(name).copied().unwrap_or(0);
        preferred.sort_by_key(|e| std::cmp::Reverse((declared(&e.to) < declared(&e.from), e.span)));
        // Each try is linear in the set; bounded so a huge tangle stays linear too.
        let cut = preferred.iter().take(32).find(|cut| is_acyclic_without(&names, &inside, cut)).copied();
        let cycle = match cut {
            Some(cut) => cycle_through(&inside, cut),
            None => {
                let cycle = cycle_through(&inside, preferred[0]);
                let latest = cycle.iter().max_by_key(|e| e.span).copied().unwrap_or(preferred[0]);
                cycle_through(&inside, latest)
            }
        };
        // `cycle` ends with the edge to cut; the stages read in data order from the one that edge feeds.
        let Some(cut) = cycle.last().copied() else {
            let member = &self.nodes[members[0]];
            return Diagnostic::error(
                Code::DependencyCycle,
                "dependency cycle",
                Label::new(member.span, "this stage is part of a dependency cycle"),
            );
        };
        let stages: Vec<String> =
            std::iter::once(cut).chain(cycle.iter().copied()).map(|e| format!("`{}`", e.to)).collect();
        let what = match cut.kind {
            EdgeKind::After => "this `after` entry",
            EdgeKind::Data => "this reference",
        };
        let mut diagnostic = Diagnostic::error(
            Code::DependencyCycle,
            format!("dependency cycle: {}", stages.join(" → ")),
            Label::new(cut.span, format!("`{}` depends on `{}` here, which closes the cycle", cut.to, cut.from)),
        )
        .with_help(format!("stages must form a DAG: remove {what}, or another edge of the cycle"));
        let others: Vec<String> =
            cycle[..cycle.len() - 1].iter().map(|e| format!("`{}` depends on `{}`", e.to, e.from)).collect();
        if !others.is_empty() {
            diagnostic = diagnostic.with_note(format!("the rest of the cycle: {}", others.join(", ")));
        }
        diagnostic
    }
}

/// Whether `names` with their edges `inside`, less `cut`, have no cycle (Kahn's algorithm).
fn is_acyclic_without(names: &[&str], inside: &[&Edge], cut: &Edge) -> bool {
    let positions: std::collections::HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let position = |name: &str| positions.get(name).copied();
    let mut indegree = vec![0usize; names.len()];
    let mut outgoing = vec![Vec::new(); names.len()];
    for edge in inside.iter().filter(|e| !std::ptr::eq(**e, cut)) {
        if let (Some(from), Some(to)) = (position(&edge.from), position(&edge.to)) {
            indegree[to] += 1;
            outgoing[from].push(to);
        }
    }
    let mut ready: Vec<usize> = (0..names.len()).filter(|i| indegree[*i] == 0).collect();
    let mut seen = 0;
    while let Some(next) = ready.pop() {
        seen += 1;
        for &to in &outgoing[next] {
            indegree[to] -= 1;
            if indegree[to] == 0 {
                ready.push(to);
            }
        }
    }
    seen == names.len()
}

/// A shortest cycle through `cut` (breadth-first from the stage it feeds back to where it starts),
/// as its edges in data order, ending with `cut`. Empty when `cut` is on no cycle.
fn cycle_through<'e>(inside: &[&'e Edge], cut: &'e Edge) -> Vec<&'e Edge> {
    let mut outgoing: std::collections::HashMap<&str, Vec<&'e Edge>> = std::collections::HashMap::new();
    for edge in inside {
        outgoing.entry(edge.from.as_str()).or_default().push(edge);
    }
    let mut reached: std::collections::HashMap<&str, Option<&'e Edge>> = std::collections::HashMap::new();
    reached.insert(cut.to.as_str(), None);
    let mut queue = std::collections::VecDeque::from([cut.to.as_str()]);
    while let Some(stage) = queue.pop_front() {
        if stage == cut.from {
            let mut path = vec![cut];
            let mut at = stage;
            while let Some(Some(edge)) = reached.get(at) {
                path.push(edge);
                at = edge.from.as_str();
            }
            path.reverse();
            // `path` now starts at the stage `cut` feeds and ends with `cut`.
            return path;
        }
        // Earliest edges first, so the cycle named does not depend on hash order.
        for edge in outgoing.get(stage).into_iter().flatten() {
            if !reached.contains_key(edge.to.as_str()) {
                reached.insert(edge.to.as_str(), Some(edge));
                queue.push_back(edge.to.as_str());
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edge_is_added_once_before_and_after_sorting() {
        let mut graph = Graph::default();
        for name in ["a", "b"] {
            graph.add_node(name, NodeKind::Step, Span::default());
        }
        graph.add_edge("a", "b", EdgeKind::Data, Span::default());
        graph.add_edge("a", "b", EdgeKind::Data, Span::default());
        assert!(graph.sort().is_empty());
        assert_eq!(graph.order, ["a", "b"]);
        graph.add_edge("a", "b", EdgeKind::Data, Span::default());
        graph.add_edge("a", "b", EdgeKind::After, Span::default());
        assert_eq!(graph.edges.len(), 2);
        assert_eq!(graph.dependencies("b").count(), 2);
    }
}
