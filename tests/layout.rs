//! The host's house rule, checked over the `use` lines: `host/src` is a folder per
//! subsystem, and a folder may use only the folders after it in `ORDER` (top down:
//! tools and admin, the running server, settings, versions, the sandbox, then the
//! primitives), never one before it; and no two files use each other, directly or
//! round a circle. Two planted trees in `tests/fixtures/layout/` — one with an upward
//! import, one with a circle — must be refused, so the check itself is tested.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The folders of `host/src`, from the top down.
const ORDER: &[&str] = &[
    "dev", "tools", "admin", "server", "settings", "versions", "sandbox", "compress", "observe",
    "http", "net",
];

/// Files allowed beside the folders.
const TOP: &[&str] = &["main.rs", "lib.rs"];

/// A module path (`server::connection`) for each `.rs` file below `root`.
fn modules(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The crate paths a file names: `crate::a::b::c` in `use` lines and in code, and the
/// members of `use crate::a::{b, c::d}` groups, as module paths that exist.
fn uses(text: &str, known: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut named = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let path = path.trim_end_matches(':').to_owned();
        let after = &rest[path.len()..];
        if let Some(group) = after.strip_prefix("::{") {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for member in inner.split(',') {
                let member = member.trim().split(" as ").next().unwrap_or("").trim();
                if !member.is_empty() {
                    named.push(format!("{path}::{member}"));
                }
            }
        }
        named.push(path);
    }
    for path in named {
        // The longest prefix of the path that is a module.
        let parts: Vec<&str> = path.split("::").collect();
        for n in (1..=parts.len()).rev() {
            let candidate = parts[..n].join("::");
            if known.contains_key(&candidate) {
                found.insert(candidate);
                break;
            }
        }
    }
    found
}

/// Every breach of the rule in the tree at `root`, one line each.
fn breaches(root: &Path) -> Vec<String> {
    let known = modules(root);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_file() && !TOP.contains(&name.as_str()) {
            out.push(format!("{name}: a file beside the folders"));
        }
        if path.is_dir() && !ORDER.contains(&name.as_str()) {
            out.push(format!("{name}/: a folder the order does not name"));
        }
    }
    let rank = |module: &str| {
        let folder = module.split("::").next().unwrap_or("");
        ORDER.iter().position(|f| *f == folder)
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in &known {
        let text = std::fs::read_to_string(path).unwrap();
        let mut used = uses(&text, &known);
        used.remove(module);
        // A module's own children and parents are its own business.
        used.retain(|u| {
            !u.starts_with(&format!("{module}::")) && !module.starts_with(&format!("{u}::"))
        });
        for u in &used {
            if let (Some(from), Some(to)) = (rank(module), rank(u))
                && to < from
            {
                out.push(format!(
                    "{module} uses {u}: upward, from {} to {}",
                    ORDER[from], ORDER[to]
                ));
            }
        }
        graph.insert(module.clone(), used);
    }
    for cycle in cycles(&graph) {
        out.push(format!("a circle: {}", cycle.join(" → ")));
    }
    out
}

/// Each circle of the graph once, found by a depth-first walk.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn walk(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        out: &mut Vec<Vec<String>>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            out.push(cycle);
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            walk(next, graph, stack, done, out);
        }
        stack.pop();
        done.insert(node.to_owned());
    }
    let mut out = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        walk(node, graph, &mut Vec::new(), &mut done, &mut out);
    }
    out
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/layout")
        .join(name)
}

#[test]
fn the_host_keeps_its_house_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = breaches(&root);
    assert!(found.is_empty(), "{}", found.join("\n"));
    // Every folder says what it is for.
    for folder in ORDER {
        let first = std::fs::read_to_string(root.join(folder).join("mod.rs")).unwrap();
        assert!(
            first.starts_with("//! "),
            "{folder}/mod.rs opens without its purpose"
        );
    }
}

#[test]
fn a_planted_upward_import_is_refused() {
    let found = breaches(&fixture("upward"));
    assert!(
        found
            .iter()
            .any(|b| b.contains("net::stream uses server::shared: upward")),
        "{found:?}"
    );
}

#[test]
fn a_planted_circle_is_refused() {
    let found = breaches(&fixture("circle"));
    assert!(
        found.iter().any(|b| b.starts_with("a circle: ")),
        "{found:?}"
    );
    assert!(!found.iter().any(|b| b.contains("upward")), "{found:?}");
}
