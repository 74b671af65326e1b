//! The architecture, checked on the source: crates depend one way (data ← models ← trainer ←
//! infer ← report ← bench, serve ← the binary), the web server does not build the ONNX
//! exporter, no two modules of a crate import each other in a circle, library crates do not
//! print, cargo features are read only where backends and the exporter are chosen, and only the
//! run directory's module (`trainer/src/run/dir.rs`) spells the names of a run directory's
//! files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::visit::{self, Visit};

fn repo() -> PathBuf {
    mnist_data::repo_root()
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

/// A `#[cfg(..)]` predicate that holds only when compiling tests: `test`, `all(.., test, ..)`,
/// `any(..)` of such predicates. `not(..)` and anything else may hold in a normal build.
fn test_only_predicate(tokens: &[TokenTree]) -> bool {
    // A comma-separated list of predicates.
    let split = |stream: TokenStream| -> Vec<Vec<TokenTree>> {
        let mut out = vec![Vec::new()];
        for t in stream {
            match &t {
                TokenTree::Punct(p) if p.as_char() == ',' => out.push(Vec::new()),
                _ => out.last_mut().unwrap().push(t),
            }
        }
        out.retain(|p| !p.is_empty());
        out
    };
    match tokens {
        [TokenTree::Ident(i)] => i == "test",
        [TokenTree::Ident(i), TokenTree::Group(g)] if g.delimiter() == Delimiter::Parenthesis => {
            let list = split(g.stream());
            match i.to_string().as_str() {
                "all" => list.iter().any(|p| test_only_predicate(p)),
                "any" => !list.is_empty() && list.iter().all(|p| test_only_predicate(p)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether an item with these attributes exists only in test builds (`#[cfg(test)]`, `#[test]`).
fn test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| match &a.meta {
        syn::Meta::Path(p) => p.is_ident("test"),
        syn::Meta::List(l) if l.path.is_ident("cfg") => {
            test_only_predicate(&l.tokens.clone().into_iter().collect::<Vec<_>>())
        }
        _ => false,
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

/// What a file's code outside test-only items uses, invokes and spells. The whole file is
/// parsed (`syn`), so a `#[cfg(test)]` item anywhere in it hides only itself. Macro bodies and
/// attribute arguments (`format!(..)`, `#[error(..)]`) are token streams to syn: their paths,
/// nested macro calls and string literals are read from the tokens.
#[derive(Debug, Default)]
struct Scan {
    /// `crate::`, `super::` and `self::` paths, resolved to segments from the crate root.
    paths: Vec<Vec<String>>,
    /// The name (last path segment) of every macro invoked.
    macros: Vec<String>,
    /// The value of every string literal (doc comments are not literals).
    literals: Vec<String>,
    /// The module the visitor is in: the file's module, then any inline `mod x { .. }`.
    module: Vec<String>,
}

impl Scan {
    /// Scans `source`, the file of module `module` (`a::b`; "" for the crate root).
    fn of(source: &str, module: &str) -> Result<Self, syn::Error> {
        let file = syn::parse_file(source)?;
        let mut scan = Scan {
            module: module
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            ..Scan::default()
        };
        scan.visit_file(&file);
        Ok(scan)
    }

    fn file(path: &Path, module: &str) -> Self {
        let text = std::fs::read_to_string(path).unwrap();
        Self::of(&text, module).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Records a path, given as its segments, if it starts at `crate`, `super` or `self`.
    fn path(&mut self, segments: &[String]) {
        let keywords = ["crate", "self", "super"];
        if segments.iter().all(|s| keywords.contains(&s.as_str())) {
            return; // `self.x`, `pub(super)`: no module named
        }
        let resolved = match segments.first().map(String::as_str) {
            Some("crate") => segments[1..].to_vec(),
            Some("self") => [&self.module[..], &segments[1..]].concat(),
            Some("super") => {
                let up = segments.iter().take_while(|s| *s == "super").count();
                let Some(base) = self.module.len().checked_sub(up) else {
                    return; // above the crate root: not this crate's module
                };
                [&self.module[..base], &segments[up..]].concat()
            }
            _ => return,
        };
        if !resolved.is_empty() {
            self.paths.push(resolved);
        }
    }

    /// Paths, macro calls and string literals in a token stream.
    fn tokens(&mut self, stream: TokenStream) {
        let tokens: Vec<TokenTree> = stream.into_iter().collect();
        // `name!(..)`, `name![..]`, `name! {..}` follow at `at`; not `a != b`.
        let bang_at = |at: usize| {
            matches!(
                (tokens.get(at), tokens.get(at + 1)),
                (Some(TokenTree::Punct(p)), Some(TokenTree::Group(_))) if p.as_char() == '!'
            )
        };
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Literal(l) => {
                    if let syn::Lit::Str(s) = syn::Lit::new(l.clone()) {
                        self.literals.push(s.value());
                    }
                }
                TokenTree::Ident(ident) => {
                    // `a::b::c`: the path's segments, as far as it goes.
                    let mut segments = vec![ident.to_string()];
                    let mut next = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(segment)),
                    ) = (tokens.get(next), tokens.get(next + 1), tokens.get(next + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segments.push(segment.to_string());
                        next += 3;
                    }
                    self.path(&segments);
                    if bang_at(next) {
                        self.macros.push(segments.pop().unwrap());
                    }
                    i = next - 1; // the path's last identifier
                }
                TokenTree::Punct(_) => {}
            }
            i += 1;
        }
    }
}

/// Every path a `use` tree names, as segments (`a::{b, c::D}` → `a::b`, `a::c::D`; `self` in a
/// group names the group's prefix; a glob is `*`).
fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let with = |prefix: &[String], last: &syn::Ident| match last == "self" {
        true => prefix.to_vec(),
        false => [prefix, &[last.to_string()]].concat(),
    };
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => out.push(with(prefix, &n.ident)),
        syn::UseTree::Rename(r) => out.push(with(prefix, &r.ident)),
        syn::UseTree::Glob(_) => out.push([&prefix[..], &["*".to_string()]].concat()),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                use_paths(tree, prefix, out);
            }
        }
    }
}

impl<'ast> Visit<'ast> for Scan {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !test_only(item_attrs(item)) {
            visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs: &[syn::Attribute] = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => &[],
        };
        if !test_only(attrs) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_trait_item(&mut self, item: &'ast syn::TraitItem) {
        let attrs: &[syn::Attribute] = match item {
            syn::TraitItem::Const(i) => &i.attrs,
            syn::TraitItem::Fn(i) => &i.attrs,
            syn::TraitItem::Type(i) => &i.attrs,
            syn::TraitItem::Macro(i) => &i.attrs,
            _ => &[],
        };
        if !test_only(attrs) {
            visit::visit_trait_item(self, item);
        }
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        let attrs: &[syn::Attribute] = match stmt {
            syn::Stmt::Local(l) => &l.attrs,
            syn::Stmt::Macro(m) => &m.attrs,
            _ => &[],
        };
        if !test_only(attrs) {
            visit::visit_stmt(self, stmt);
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.module.push(item.ident.to_string());
        visit::visit_item_mod(self, item);
        self.module.pop();
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        use_paths(&item.tree, &mut Vec::new(), &mut paths);
        for path in paths {
            self.path(&path);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.path(&segments);
        }
        visit::visit_path(self, path);
    }

    // `pub(crate)`, `pub(super)`, `pub(in crate::a)` say who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if let Some(last) = mac.path.segments.last() {
            self.macros.push(last.ident.to_string());
        }
        self.visit_path(&mac.path);
        self.tokens(mac.tokens.clone());
    }

    fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
        // Doc comments are prose: they may name files and show code.
        if !attr.path().is_ident("doc") {
            visit::visit_attribute(self, attr);
        }
    }

    fn visit_meta_list(&mut self, list: &'ast syn::MetaList) {
        self.tokens(list.tokens.clone());
    }

    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.literals.push(lit.value());
    }
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

/// The modules (of `modules`) that the file of `module` uses: for each `crate::`, `super::` or
/// `self::` path, the longest prefix of it that is a module. Only edges to other modules; a
/// module using its own children is structure, not a cycle.
fn edges(scan: &Scan, module: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    scan.paths
        .iter()
        .filter_map(|path| {
            (1..=path.len())
                .rev()
                .map(|n| path[..n].join("::"))
                .find(|prefix| modules.contains(prefix))
        })
        .filter(|u| *u != module && !u.starts_with(&format!("{module}::")))
        .collect()
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
        let scan = Scan::file(file, &module);
        graph.insert(module.clone(), edges(&scan, &module, &modules));
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

/// The library crates, each with the workspace crates it may depend on: only crates below it,
/// so no two crates depend on each other, however indirectly. `bench` and `serve` are side by
/// side: neither uses the other.
const LAYERS: [(&str, &[&str]); 7] = [
    ("data", &[]),
    ("models", &["data"]),
    ("trainer", &["data", "models"]),
    ("infer", &["data", "models", "trainer"]),
    ("report", &["data", "models", "trainer", "infer"]),
    ("bench", &["data", "models", "trainer", "infer", "report"]),
    ("serve", &["data", "models", "trainer", "infer", "report"]),
];
const CRATES: [&str; 7] = [
    "data", "models", "trainer", "infer", "report", "bench", "serve",
];

#[test]
fn no_module_imports_another_in_a_circle() {
    let mut srcs: Vec<PathBuf> = CRATES
        .iter()
        .map(|c| repo().join("crates").join(c).join("src"))
        .collect();
    srcs.push(repo().join("src"));
    let mut graphs = BTreeMap::new();
    for src in srcs {
        let graph = module_graph(&src);
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{}: modules import each other in a circle: {}",
                src.display(),
                cycle.join(" → ")
            );
        }
        graphs.insert(src, graph);
    }
    // The graphs have the edges the code has: the check can fail.
    let trainer = &graphs[&repo().join("crates/trainer/src")];
    let train = &trainer["training::train"];
    assert!(
        train.contains("run::plan") && train.contains("backend"),
        "trainer's training::train → {train:?}"
    );
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
}

/// The module edges of `source` as the file of module `module`, among `modules`.
fn edges_of(source: &str, module: &str, modules: &[&str]) -> Vec<String> {
    let modules = modules.iter().map(|m| m.to_string()).collect();
    let scan = Scan::of(source, module).unwrap();
    edges(&scan, module, &modules).into_iter().collect()
}

#[test]
fn the_graph_sees_every_path_to_a_module() {
    let modules = ["a", "b", "b::c", "e", "f", "g", "h", "k", "m", "m::n", "x"];
    // Groups, nested groups, `self` in a group, globs, expression and type paths, paths inside
    // macro calls and attributes.
    let source = r#"
        use crate::{a, b::{c::C, D}, e::{self}};
        use crate::f::*;
        fn run(x: crate::g::T) -> String {
            crate::h::go();
            format!("{}", crate::k::NAME)
        }
        #[derive(Debug)]
        #[error(transparent, crate::m::n::E)]
        struct S;
    "#;
    assert_eq!(
        edges_of(source, "x", &modules),
        ["a", "b", "b::c", "e", "f", "g", "h", "k", "m::n"]
    );
    // `super::` from a file and from an inline module; a module's own children and itself are
    // not edges; `pub(super)` is visibility, not use.
    let source = "
        use super::n::Y;
        use self::w::W;
        pub(super) fn f() {}
        mod inner { use super::super::super::e::Z; }
    ";
    let modules = ["b", "e", "m", "m::n", "m::z", "m::z::w"];
    assert_eq!(edges_of(source, "m::z", &modules), ["e", "m::n"]);
    assert_eq!(edges_of("use super::b::X;", "x", &modules), ["b"]);
}

#[test]
fn a_test_item_near_the_top_hides_only_itself() {
    // The text scanner this replaced stopped reading at the first `#[cfg(test)]`: everything
    // after this `use` was invisible to the rules.
    let source = r#"
        #[cfg(test)]
        use std::fmt::Write;

        pub fn shout() {
            println!("hello");
            let _ = vec![dbg!(1)];
        }

        #[cfg(test)]
        mod tests {
            #[test]
            fn t() { eprintln!("allowed in tests"); let _ = "tests.toml"; }
        }

        #[cfg(all(test, feature = "x"))]
        fn only_in_tests() { print!("allowed"); }

        #[cfg(any(test, feature = "fixtures"))]
        fn also_in_fixture_builds() { eprint!("not allowed"); }

        impl S {
            #[test]
            fn t() { eprintln!("allowed"); }
            fn f() { let _ = format!("{}/config.toml", dir); std::println!("path call"); }
        }

        pub fn later() -> &'static str { "model.bpk" }
        use crate::b::Later;
    "#;
    let scan = Scan::of(source, "a").unwrap();
    assert_eq!(prints(&scan), ["println", "dbg", "eprint", "println"]);
    for seen in ["hello", "{}/config.toml", "model.bpk"] {
        assert!(scan.literals.iter().any(|l| l == seen), "{seen}: {scan:?}");
    }
    for hidden in ["allowed in tests", "tests.toml", "allowed"] {
        assert!(
            !scan.literals.iter().any(|l| l == hidden),
            "{hidden}: {scan:?}"
        );
    }
    assert_eq!(edges_of(source, "a", &["a", "b"]), ["b"]);
    // Comments and doc comments are not code.
    let scan = Scan::of(
        "/// println!(\"x\") in config.toml\n// dbg!(1)\nfn f() {}",
        "a",
    )
    .unwrap();
    assert!(
        prints(&scan).is_empty() && scan.literals.is_empty(),
        "{scan:?}"
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
    assert_eq!(LAYERS.map(|(name, _)| name), CRATES);
    for (name, allowed) in LAYERS {
        let deps = project_dependencies(&repo().join("crates").join(name).join("Cargo.toml"));
        for dep in &deps {
            let dep = dep.strip_prefix("mnist-").unwrap();
            assert!(
                allowed.contains(&dep),
                "mnist-{name} depends on mnist-{dep}; it may use only {allowed:?}"
            );
        }
    }
    // The binary sits on top of every library crate.
    let binary = project_dependencies(&repo().join("Cargo.toml"));
    for name in CRATES.iter().filter(|c| !["models"].contains(c)) {
        assert!(
            binary.contains(&format!("mnist-{name}")),
            "the binary does not use mnist-{name}: {binary:?}"
        );
    }
}

/// The packages `cargo tree` lists for `package`'s normal dependencies, features resolved as a
/// build of that package alone resolves them.
fn dependency_tree(package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--prefix",
            "none",
            "-e",
            "normal",
            "-p",
            package,
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The web server predicts but never exports: it builds inference without the `onnx` feature,
/// so burn-onnx (and the `capture` feature of burn it turns on) is not compiled into it.
#[test]
fn the_web_server_does_not_build_the_onnx_exporter() {
    let has = |tree: &str, package: &str| {
        tree.lines()
            .any(|l| l.split_whitespace().next() == Some(package))
    };
    let serve = dependency_tree("mnist-serve");
    assert!(has(&serve, "mnist-infer") && has(&serve, "burn"), "{serve}");
    assert!(
        !has(&serve, "burn-onnx"),
        "mnist-serve depends on burn-onnx:\n{serve}"
    );
    // The check can fail: the binary, which exports, has it.
    assert!(has(&dependency_tree("mnist"), "burn-onnx"));
    // And in the manifests: only the inference crate names burn-onnx, as an optional dependency
    // behind its `onnx` feature, and only the binary turns that feature on.
    for name in CRATES {
        let text =
            std::fs::read_to_string(repo().join("crates").join(name).join("Cargo.toml")).unwrap();
        let manifest: toml::Table = toml::from_str(&text).unwrap();
        let dependency = |key: &str| manifest.get("dependencies")?.get(key).cloned();
        if name == "infer" {
            let onnx = dependency("burn-onnx").expect("infer has the exporter");
            assert_eq!(onnx.get("optional").and_then(|o| o.as_bool()), Some(true));
        } else {
            assert!(
                dependency("burn-onnx").is_none(),
                "mnist-{name} names burn-onnx"
            );
            let features = dependency("mnist-infer")
                .and_then(|d| d.get("features").cloned())
                .map(|f| f.to_string())
                .unwrap_or_default();
            assert!(!features.contains("onnx"), "mnist-{name} turns on onnx");
        }
    }
}

/// `#[cfg(feature = ..)]` is read in two places only: backend selection (`backend.rs`) and the
/// exporter's module (`infer`'s `lib.rs`); test tooling (`fixtures`) is declared at the crate
/// roots that own it.
#[test]
fn features_are_read_only_where_backends_and_the_exporter_are_chosen() {
    let allowed = [
        (
            "crates/trainer/src/backend.rs",
            &["flex", "ndarray", "wgpu"][..],
        ),
        ("crates/infer/src/lib.rs", &["onnx"][..]),
        ("crates/trainer/src/lib.rs", &["fixtures"][..]),
        ("crates/data/src/lib.rs", &["fixtures"][..]),
    ];
    let mut files = sources(&repo().join("src"));
    for name in CRATES {
        files.extend(sources(&repo().join("crates").join(name).join("src")));
    }
    let mut seen = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let relative = file
            .strip_prefix(repo())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let permitted = allowed
            .iter()
            .find(|(f, _)| *f == relative)
            .map_or(&[][..], |(_, names)| *names);
        let key = "feature = \"";
        for (i, _) in text.match_indices(key) {
            let name = text[i + key.len()..].split('"').next().unwrap();
            assert!(
                permitted.contains(&name),
                "{relative} reads the cargo feature `{name}`"
            );
            seen += 1;
        }
    }
    assert!(seen >= 5, "only {seen} feature reads seen");
}

/// The printing macros a scan saw invoked, in order.
fn prints(scan: &Scan) -> Vec<&str> {
    let printing = ["println", "eprintln", "print", "eprint", "dbg"];
    scan.macros
        .iter()
        .map(String::as_str)
        .filter(|m| printing.contains(m))
        .collect()
}

#[test]
fn library_crates_do_not_print() {
    let mut macros = 0;
    for name in CRATES {
        let src = repo().join("crates").join(name).join("src");
        for file in sources(&src) {
            let scan = Scan::file(&file, &module_of(&src, &file));
            if let Some(mac) = prints(&scan).first() {
                panic!(
                    "{} uses {mac}!: report to an observer or return the text",
                    file.display()
                );
            }
            macros += scan.macros.len();
        }
    }
    // Macro calls are seen (`format!`, `vec!`, ...): the check can fail.
    assert!(
        macros > 100,
        "only {macros} macro calls in the library crates"
    );
}

#[test]
fn only_the_run_directory_module_spells_its_file_names() {
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
        "filters.png",
        "feature_maps.png",
        "learning_rate.png",
        "learning_rate.csv",
    ];
    let pieces = ["-{epoch}.bpk", "epoch-{", "confusion-", "model-", "optim-"];
    let owner = repo().join("crates/trainer/src/run/dir.rs");
    let mut files = sources(&repo().join("src"));
    for name in CRATES {
        files.extend(sources(&repo().join("crates").join(name).join("src")));
    }
    let literals = |file: &Path| -> Vec<String> { Scan::file(file, "").literals };
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
            "run/dir.rs does not spell {name}"
        );
    }
}
