//! The shape of `src/`: top-level modules import each other without cycles, shared modules never
//! import a paper's module or the subcommand list, and no shared module names a paper.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's text without its `#[cfg(test)]` module at the end.
fn without_tests(text: &str) -> &str {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    &text[..end]
}

/// Code lines of a module's text (comment lines left out).
fn code_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect()
}

/// Top-level module → source text of all its files (their test modules left out).
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        // Each file's own test module is cut off before the files are joined (cutting the
        // joined text at the first one dropped the files read after it).
        let text = std::fs::read_to_string(&f).unwrap();
        let all = out.entry(module).or_default();
        all.push_str(without_tests(&text));
        all.push('\n');
    }
    out
}

/// The top-level modules a module's code refers to (`crate::x`, `crate::{x, y}`, `lab::x`).
fn imports(text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in code_lines(text) {
        for prefix in ["crate::", "lab::"] {
            for (i, _) in line.match_indices(prefix) {
                let rest = &line[i + prefix.len()..];
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                    None => vec![rest],
                };
                for name in names {
                    let ident: String = name
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if known.contains(&ident) {
                        out.insert(ident);
                    }
                }
            }
        }
    }
    out
}

fn graph() -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, String>) {
    let mods = modules();
    let known: BTreeSet<String> = mods.keys().cloned().collect();
    let edges = mods
        .iter()
        .map(|(m, text)| {
            let mut deps = imports(text, &known);
            deps.remove(m);
            (m.clone(), deps)
        })
        .collect();
    (edges, mods)
}

/// A cycle through the graph, if there is one (depth-first search).
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

/// Paper modules: those implementing `Experiment`.
fn papers(mods: &BTreeMap<String, String>) -> BTreeSet<String> {
    mods.iter()
        .filter(|(_, text)| text.contains("impl Experiment for"))
        .map(|(m, _)| m.clone())
        .collect()
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let e = |pairs: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert_eq!(find_cycle(&e(&[("a", "b"), ("b", "c")])), None);
    let c = find_cycle(&e(&[("a", "b"), ("b", "c"), ("c", "a")])).expect("a cycle");
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
    let known: BTreeSet<String> = ["plot", "report"].map(String::from).into();
    let found = imports("use crate::{plot::x, report};\n// crate::nothing\n", &known);
    assert_eq!(found, known);
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let (edges, mods) = graph();
    assert!(mods.len() >= 10, "found modules {:?}", mods.keys());
    assert!(
        edges["report"].contains("results"),
        "the graph sees imports"
    );
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle among src/ modules: {}", cycle.join(" → "));
    }
}

#[test]
fn shared_modules_import_no_paper_and_name_none() {
    let (edges, mods) = graph();
    let papers = papers(&mods);
    assert_eq!(
        papers,
        ["decompose", "entropy", "grng", "npg", "prefixrl"]
            .map(String::from)
            .into()
    );
    let names: Vec<&str> = lab::subcommands::PAPERS.iter().map(|p| p.name).collect();
    for (module, deps) in &edges {
        if papers.contains(module) || module == "subcommands" {
            continue;
        }
        let upward: Vec<&String> = deps
            .iter()
            .filter(|d| papers.contains(*d) || *d == "subcommands")
            .collect();
        assert!(
            upward.is_empty(),
            "shared module `{module}` imports {upward:?}"
        );
        for line in code_lines(&mods[module]) {
            for name in &names {
                assert!(
                    !line.contains(&format!("\"{name}\"")),
                    "shared module `{module}` names paper `{name}`: {line}"
                );
            }
        }
    }
}

#[test]
fn the_data_module_imports_only_lower_layers() {
    let (edges, _) = graph();
    // config and error for the config sections and messages; run for its atomic file writes;
    // input for reading the files users name (it imports nothing of the crate).
    let allowed: BTreeSet<String> = ["config", "error", "input", "run"].map(String::from).into();
    let deps = &edges["data"];
    assert!(
        deps.contains("config"),
        "the graph sees data's imports: {deps:?}"
    );
    let extra: Vec<&String> = deps.difference(&allowed).collect();
    assert!(extra.is_empty(), "data imports {extra:?}");
}
