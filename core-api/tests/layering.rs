//! Core's modules depend downwards only: routes → services → infrastructure
//! (state, cache, push lanes, rate limits…) → repositories → models, and no
//! two modules import each other, even through others. Read from the source:
//! every `crate::`, `super::`, `self::` path and every `use child::` of a
//! module, outside its unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// The layers, top to bottom. A module belongs to the layer of the longest
/// prefix it starts with; it may import its own layer and the ones below,
/// never above.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "routes",
        &[
            "main", "startup", "api", "internal", "spec", "extract", "auth",
        ],
    ),
    ("services", &["services"]),
    (
        "infrastructure",
        &[
            "auth::jwt",
            "auth::replay",
            "state",
            "fanout",
            "offline_push",
            "group_commit",
            "send_queue",
            "receipt_queue",
            "rate_limit",
            "cache",
            "tms",
            "oss",
            "metrics",
            "telemetry",
            "config",
            "clock",
            "error",
        ],
    ),
    ("repositories", &["repositories"]),
    ("models", &["models"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `services/fanout/mod.rs` → `services::fanout`; `lib.rs` → the root.
fn module_of(file: &Path) -> Module {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Module = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The source without its unit tests (`#[cfg(test)] mod tests`).
fn without_tests(text: &str) -> &str {
    let mut at = 0;
    while let Some(found) = text[at..].find("#[cfg(test)]") {
        let start = at + found;
        let rest = text[start + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod tests") {
            return &text[..start];
        }
        at = start + 1;
    }
    text
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands `a::b::{c, d::{e, f}}` into every full path it names.
fn expand(path: &str) -> Vec<Vec<String>> {
    let path = path.trim();
    let Some(open) = path.find('{') else {
        return vec![path
            .split(" as ")
            .next()
            .unwrap_or_default()
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()];
    };
    let prefix: Vec<String> = path[..open]
        .split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
    let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    let mut out = Vec::new();
    for part in parts.into_iter().filter(|p| !p.trim().is_empty()) {
        for tail in expand(part) {
            let mut full = prefix.clone();
            full.extend(tail.into_iter().filter(|s| s != "self"));
            out.push(full);
        }
    }
    out
}

/// The path text after `at`: identifiers, `::` and one brace group.
fn path_at(text: &str, at: usize) -> &str {
    let bytes = text.as_bytes();
    let mut end = at;
    let mut depth = 0;
    while end < bytes.len() {
        let c = bytes[end] as char;
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            ':' => {}
            c if is_ident(c) => {}
            _ => break,
        }
        end += 1;
        if depth == 0 && c == '}' {
            break;
        }
    }
    &text[at..end]
}

/// Every module path a file names, relative to the crate root.
fn imports(module: &Module, text: &str) -> Vec<Vec<String>> {
    let parent: Module = module[..module.len().saturating_sub(1)].to_vec();
    let mut out = Vec::new();
    for (keyword, base) in [
        ("crate::", Vec::new()),
        ("super::", parent.clone()),
        ("self::", module.clone()),
    ] {
        let mut from = 0;
        while let Some(found) = text[from..].find(keyword) {
            let at = from + found;
            from = at + keyword.len();
            if at > 0 && is_ident(text[..at].chars().last().unwrap_or(' ')) {
                continue;
            }
            for tail in expand(path_at(text, from)) {
                let mut full = base.clone();
                full.extend(tail);
                out.push(full);
            }
        }
    }
    // `use child::Item;` names the module's own child (2018 paths)
    let own = module.clone();
    for line in text.lines().map(str::trim) {
        let Some(rest) = line
            .strip_prefix("use ")
            .or_else(|| line.strip_prefix("pub use "))
        else {
            continue;
        };
        let first = rest.split("::").next().unwrap_or_default();
        if ["crate", "super", "self", "std", "core", "alloc"].contains(&first) {
            continue;
        }
        for tail in expand(rest.trim_end_matches(';')) {
            let mut full = own.clone();
            full.extend(tail);
            out.push(full);
        }
    }
    out
}

/// The longest prefix of `path` that is a module.
fn resolve(path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| modules.contains(m))
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let parsed: Vec<(Module, String)> = files
        .iter()
        .map(|f| (module_of(f), std::fs::read_to_string(f).expect("readable")))
        .filter(|(m, _)| m.last().is_none_or(|last| last != "tests"))
        .collect();
    let modules: BTreeSet<Module> = parsed.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = BTreeMap::new();
    for (module, text) in &parsed {
        let deps: BTreeSet<Module> = imports(module, without_tests(text))
            .iter()
            .filter_map(|p| resolve(p, &modules))
            .filter(|m| m != module && !m.is_empty())
            .collect();
        graph.insert(module.clone(), deps);
    }
    graph
}

fn name(m: &Module) -> String {
    m.join("::")
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a Module) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let Some((w, _)) = self.graph.get_key_value(w) else {
                    continue;
                };
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(name(w));
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

/// The layer of the longest prefix that names the module (`auth::jwt`
/// before `auth`).
fn layer_of(m: &Module) -> Option<usize> {
    let full = name(m);
    LAYERS
        .iter()
        .enumerate()
        .flat_map(|(layer, (_, prefixes))| prefixes.iter().map(move |p| (layer, *p)))
        .filter(|(_, p)| full == *p || full.starts_with(&format!("{p}::")))
        .max_by_key(|(_, p)| p.len())
        .map(|(layer, _)| layer)
}

#[test]
fn core_modules_form_no_import_cycle() {
    let graph = graph();
    assert!(graph.len() > 40, "only {} modules read", graph.len());
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles: {found:?}");
}

#[test]
fn every_module_imports_only_its_layer_and_those_below() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (module, deps) in &graph {
        if module.is_empty() {
            continue; // lib.rs declares the modules
        }
        let Some(layer) = layer_of(module) else {
            wrong.push(format!("{} belongs to no layer", name(module)));
            continue;
        };
        for dep in deps {
            if let Some(dep_layer) = layer_of(dep) {
                if dep_layer < layer {
                    wrong.push(format!(
                        "{} ({}) imports {} ({})",
                        name(module),
                        LAYERS[layer].0,
                        name(dep),
                        LAYERS[dep_layer].0
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_reader_sees_paths_groups_and_children() {
    let paths = expand("a::{b, c::{d, e as f}, self}");
    assert_eq!(
        paths,
        [
            vec!["a", "b"],
            vec!["a", "c", "d"],
            vec!["a", "c", "e"],
            vec!["a"]
        ]
    );
    let module: Module = vec!["fanout".into()];
    let text = "use crate::cache::Cache;\nuse send::Sender;\nfn f() { super::x(); }";
    let found = imports(&module, text);
    assert!(found.contains(&vec!["cache".to_string(), "Cache".into()]));
    assert!(found.contains(&vec!["fanout".to_string(), "send".into(), "Sender".into()]));
    let mut graph = BTreeMap::new();
    let (a, b): (Module, Module) = (vec!["a".into()], vec!["b".into()]);
    graph.insert(a.clone(), BTreeSet::from([b.clone()]));
    graph.insert(b.clone(), BTreeSet::from([a.clone()]));
    assert_eq!(cycles(&graph), [vec!["a".to_string(), "b".into()]]);
}
