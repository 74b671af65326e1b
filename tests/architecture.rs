//! The architecture, checked on the source: crates depend one way (data ← models ← trainer ←
//! report ← the binary), no two modules of a crate import each other in a circle, library crates
//! do not print, and only `rundir.rs` spells the names of a run directory's files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The code of a file without comments (line comments and doc comments), and without test
/// modules (`#[cfg(test)]` to the end of the file, where this project keeps them).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal (a URL) is not a comment; none of ours has one.
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A file's module path inside its crate: `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`, the crate
/// root → "".
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|p| p != "mod")
        .collect();
    match parts.as_slice() {
        [one] if one == "lib" || one == "main" => String::new(),
        _ => parts.join("::"),
    }
}

/// The first path segments after `prefix` in `code` (`crate::a::X`, `crate::{a, b::Y}` → a, b).
fn targets(code: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for part in code.split(prefix).skip(1) {
        if let Some(group) = part.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            out.push(ident(&item));
        } else {
            out.push(ident(part));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Module → modules it uses, for the crate whose sources are in `src`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources(src);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(src, file);
        if module.is_empty() {
            continue; // the crate root declares and re-exports; it is not a node
        }
        let code = code(file);
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p).to_string();
        let mut uses = BTreeSet::new();
        for t in targets(&code, "crate::") {
            uses.insert(t);
        }
        for t in targets(&code, "super::") {
            uses.insert(if parent.is_empty() {
                t
            } else {
                format!("{parent}::{t}")
            });
        }
        // Only edges to other modules; a module using its own children is structure, not a cycle.
        let uses: BTreeSet<String> = uses
            .into_iter()
            .filter(|u| modules.contains(u) && *u != module)
            .filter(|u| !u.starts_with(&format!("{module}::")))
            .collect();
        graph.insert(module, uses);
    }
    graph
}

/// A cycle of the graph, if it has one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

const CRATES: [&str; 5] = ["data", "models", "trainer", "report", "serve"];

#[test]
fn no_module_imports_another_in_a_circle() {
    let mut srcs: Vec<PathBuf> = CRATES
        .iter()
        .map(|c| repo().join("crates").join(c).join("src"))
        .collect();
    srcs.push(repo().join("src"));
    for src in srcs {
        let graph = module_graph(&src);
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{}: modules import each other in a circle: {}",
                src.display(),
                cycle.join(" → ")
            );
        }
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
    .collect();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(
        targets("use crate::{a, b::{C, D}, e};\nuse crate::f::G;", "crate::"),
        ["a", "b", "e", "f"]
    );
}

/// The workspace crates a crate's Cargo.toml depends on (normal dependencies only).
fn project_dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| {
            d.keys()
                .filter(|k| k.starts_with("mnist-"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn crates_depend_one_way() {
    // Each crate may use only the crates before it: data ← models ← trainer ← report ← serve ←
    // mnist.
    let order = [
        "mnist-data",
        "mnist-models",
        "mnist-trainer",
        "mnist-report",
    ];
    for (i, name) in CRATES.iter().enumerate() {
        let deps = project_dependencies(&repo().join("crates").join(name).join("Cargo.toml"));
        for dep in &deps {
            let j = order.iter().position(|o| o == dep).unwrap();
            assert!(j < i, "{} depends on {dep}, which comes after it", order[i]);
        }
    }
    let binary = project_dependencies(&repo().join("Cargo.toml"));
    assert!(binary.contains("mnist-serve") && binary.contains("mnist-trainer"));
}

#[test]
fn library_crates_do_not_print() {
    for name in CRATES {
        for file in sources(&repo().join("crates").join(name).join("src")) {
            let code = code(&file);
            for mac in ["println!", "eprintln!", "print!", "eprint!", "dbg!"] {
                assert!(
                    !code.contains(mac),
                    "{} uses {mac}: report to an observer or return the text",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn only_rundir_spells_the_run_directory_file_names() {
    // Whole string literals that are a run-directory name, and pieces of the names built there.
    let names = [
        "config.toml",
        "run.toml",
        "model.bpk",
        "epochs.csv",
        "metrics.csv",
        "test_batches.csv",
        "confusion.csv",
        "report.html",
        "checkpoint",
        "samples.png",
        "predictions.png",
        "training_curves.png",
        "epochs.png",
        "confusion.png",
        "weights.png",
        "hidden_units.png",
        "nll_vs_updates.png",
    ];
    let pieces = ["-{epoch}.bpk", "epoch-{", "confusion-", "model-", "optim-"];
    let owner = repo().join("crates/trainer/src/rundir.rs");
    let mut files = sources(&repo().join("src"));
    for name in CRATES {
        files.extend(sources(&repo().join("crates").join(name).join("src")));
    }
    let literals = |file: &Path| -> Vec<String> {
        // Escaped quotes and quote characters do not delimit literals.
        let code = code(file).replace("\\\"", "").replace("'\"'", "");
        code.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    for file in files.iter().filter(|f| **f != owner) {
        for literal in literals(file) {
            let whole = names
                .iter()
                .any(|n| literal == *n || literal.ends_with(&format!("/{n}")));
            let piece = pieces.iter().any(|p| literal.contains(p));
            assert!(
                !whole && !piece,
                "{} spells a run-directory name: \"{literal}\"",
                file.display()
            );
        }
    }
    // The check can fail: the owner itself spells them.
    let owned = literals(&owner);
    for name in ["config.toml", "metrics.csv", "samples.png", "checkpoint"] {
        assert!(
            owned.iter().any(|l| l == name),
            "rundir.rs does not spell {name}"
        );
    }
}
