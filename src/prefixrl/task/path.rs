//! Shortest paths in a random directed graph (spec §7.1, secondary task `path`).
//!
//! Nodes are single letters (`a`–`z`, `A`–`Z`). Text: the prompt lists the edges as two-letter
//! pairs, sorted, then the source and the target: `ab,ac,bd,da>ad|`; a solution is the walk
//! from source to target, nodes separated by `,`, ended by `;`: `a,b,d;`. The difficulty (level)
//! is the shortest-path length in edges; the oracle is the BFS path (neighbours visited in
//! sorted order).
use super::{Problem, Task, Verdict};
use crate::config::Checker;
use crate::error::usage;
use anyhow::Result;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};

const NAMES: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The `task:` keys of `kind: path`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathConfig {
    /// Nodes per graph (at most 52).
    pub nodes: usize,
    /// Out-edges per node (distinct targets, no self loops).
    pub out_degree: usize,
    /// Graphs the generator tries before giving up on a pair at the asked distance.
    pub max_tries: u32,
}

impl Default for PathConfig {
    fn default() -> Self {
        PathConfig {
            nodes: 12,
            out_degree: 2,
            max_tries: 1000,
        }
    }
}

impl PathConfig {
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        let key = |k: &str| format!("{at}.{k}");
        c.check(
            &key("nodes"),
            (2..=NAMES.len()).contains(&self.nodes),
            format!("must be in [2, {}], got {}", NAMES.len(), self.nodes),
        );
        c.relation(
            &key("out_degree"),
            &[&key("nodes")],
            self.out_degree >= 1 && self.out_degree < self.nodes.max(1),
            format!(
                "must be in [1, nodes - 1] (nodes = {}), got {}",
                self.nodes, self.out_degree
            ),
        );
        c.check(&key("max_tries"), self.max_tries >= 1, "must be >= 1");
    }
}

/// A graph as read from a prompt: sorted edges, source, target.
struct Graph {
    edges: BTreeSet<(char, char)>,
    source: char,
    target: char,
}

impl Graph {
    fn parse(prompt: &str) -> Option<Graph> {
        let (list, rest) = prompt.split_once('>')?;
        let mut ends = rest.strip_suffix('|')?.chars();
        let (source, target) = (ends.next()?, ends.next()?);
        if ends.next().is_some() {
            return None;
        }
        let mut edges = BTreeSet::new();
        for pair in list.split(',').filter(|p| !p.is_empty()) {
            let mut cs = pair.chars();
            edges.insert((cs.next()?, cs.next()?));
            if cs.next().is_some() {
                return None;
            }
        }
        Some(Graph {
            edges,
            source,
            target,
        })
    }

    fn prompt(&self) -> String {
        let list: Vec<String> = self.edges.iter().map(|(u, v)| format!("{u}{v}")).collect();
        format!("{}>{}{}|", list.join(","), self.source, self.target)
    }

    /// A shortest path from `from` to `to` by BFS (neighbours in sorted order), if any.
    fn bfs(&self, from: char, to: char) -> Option<Vec<char>> {
        let mut parent = std::collections::BTreeMap::from([(from, from)]);
        let mut queue = VecDeque::from([from]);
        while let Some(u) = queue.pop_front() {
            if u == to {
                let mut path = vec![to];
                while *path.last()? != from {
                    path.push(parent[path.last()?]);
                }
                path.reverse();
                return Some(path);
            }
            for &(_, v) in self.edges.range((u, char::MIN)..=(u, char::MAX)) {
                if let std::collections::btree_map::Entry::Vacant(e) = parent.entry(v) {
                    e.insert(u);
                    queue.push_back(v);
                }
            }
        }
        None
    }
}

/// The path task (module doc).
pub struct PathTask {
    cfg: PathConfig,
}

impl PathTask {
    pub fn new(cfg: PathConfig) -> PathTask {
        PathTask { cfg }
    }

    /// A random graph: `nodes` random names, each with `out_degree` random distinct successors.
    fn random_graph(&self, rng: &mut ChaCha8Rng) -> (Vec<char>, BTreeSet<(char, char)>) {
        let mut names: Vec<char> = NAMES.chars().collect();
        names.shuffle(rng);
        names.truncate(self.cfg.nodes);
        let mut edges = BTreeSet::new();
        for &u in &names {
            let others: Vec<char> = names.iter().copied().filter(|&v| v != u).collect();
            for &v in others.choose_multiple(rng, self.cfg.out_degree) {
                edges.insert((u, v));
            }
        }
        (names, edges)
    }
}

impl Task for PathTask {
    fn name(&self) -> &'static str {
        "path"
    }

    fn alphabet(&self) -> Option<Vec<char>> {
        Some(NAMES.chars().chain(",;>|".chars()).collect())
    }

    fn sample(&self, rng: &mut ChaCha8Rng, level: u32, id: String) -> Result<Problem> {
        if level < 1 {
            return Err(usage("path: difficulty (path length) must be >= 1"));
        }
        for _ in 0..self.cfg.max_tries {
            let (names, edges) = self.random_graph(rng);
            let source = names[rng.gen_range(0..names.len())];
            let mut graph = Graph {
                edges,
                source,
                target: source,
            };
            // Targets at exactly `level` hops, in a random order.
            let mut targets: Vec<char> = names.iter().copied().filter(|&t| t != source).collect();
            targets.shuffle(rng);
            for t in targets {
                let Some(path) = graph.bfs(source, t) else {
                    continue;
                };
                if path.len() == level as usize + 1 {
                    graph.target = t;
                    let oracle: Vec<String> = path.iter().map(char::to_string).collect();
                    return Ok(Problem {
                        id,
                        task: "path".into(),
                        difficulty: level,
                        prompt: graph.prompt(),
                        meta: serde_json::json!({"nodes": names.len(), "source": source.to_string(),
                                                 "target": t.to_string()}),
                        oracle: Some(format!("{};", oracle.join(","))),
                    });
                }
            }
        }
        Err(usage(format!(
            "path: no source–target pair at distance {level} in task.max_tries ({}) graphs of \
             task.nodes ({}) nodes with task.out_degree ({}); lower the level or the out-degree, \
             or add nodes",
            self.cfg.max_tries, self.cfg.nodes, self.cfg.out_degree
        )))
    }

    fn check(&mut self, p: &Problem, solution: &str, ended: bool) -> Verdict {
        let Some(graph) = Graph::parse(&p.prompt) else {
            return Verdict::error("problem");
        };
        if solution.is_empty() {
            return Verdict::fail("empty");
        }
        if !ended {
            return Verdict::fail("no_eos");
        }
        let Some(body) = solution.strip_suffix(';') else {
            return Verdict::fail("format");
        };
        let mut walk = Vec::new();
        for node in body.split(',') {
            let mut cs = node.chars();
            match (cs.next(), cs.next()) {
                (Some(v), None) if NAMES.contains(v) => walk.push(v),
                _ => return Verdict::fail("format"),
            }
        }
        if walk.first() != Some(&graph.source) || walk.last() != Some(&graph.target) {
            return Verdict::fail("endpoints");
        }
        if walk
            .windows(2)
            .any(|w| !graph.edges.contains(&(w[0], w[1])))
        {
            return Verdict::fail("path");
        }
        Verdict::pass()
    }

    /// The BFS path of the problem's graph (recomputed from the prompt).
    fn oracle(&self, p: &Problem) -> Option<String> {
        let graph = Graph::parse(&p.prompt)?;
        let path: Vec<String> = graph
            .bfs(graph.source, graph.target)?
            .iter()
            .map(char::to_string)
            .collect();
        Some(format!("{};", path.join(",")))
    }

    fn step_delimiter(&self) -> Option<char> {
        Some(',')
    }
}
