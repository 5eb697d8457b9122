//! The SQL layer's modules depend one way. Each top-level module of `src` is a layer, and a
//! module may use its own layer and the layers before it in [`LAYERS`], never one after; and no
//! two files may reach each other through any chain of `crate::` paths. `make lint` and
//! `make test` run this, so a cycle fails the build the day it appears.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first.
const LAYERS: &[&str] = &[
    "common", "rewrite", "storage", "pgcompat", "catalog", "exec", "dml", "keypath", "ddl",
    "session",
];

/// A source file's module path (`storage::scan`; `exec` for `exec/mod.rs`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `source` without comments and string literals, so that only code is read.
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// The paths after each `crate::` in `code`, brace groups expanded one level
/// (`crate::storage::{scan, write::X}` gives `storage::scan` and `storage::write::X`).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (start, _) in code.match_indices("crate::") {
        let rest = &code[start + "crate::".len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let prefix: Vec<String> = rest[..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if rest[end..].starts_with('{') {
            let group = &rest[end + 1..rest[end..].find('}').map_or(rest.len(), |i| end + i)];
            for item in group.split(',') {
                let mut path = prefix.clone();
                path.extend(
                    item.trim()
                        .split("::")
                        .map(|s| s.trim().trim_start_matches('{').to_string())
                        .filter(|s| !s.is_empty()),
                );
                paths.push(path);
            }
        } else {
            paths.push(prefix);
        }
    }
    paths
}

/// What is wrong with the modules under `src`: uses of a later layer, and groups of modules that
/// reach each other (one cycle each, as module paths).
fn layering_faults(src: &Path) -> (Vec<String>, Vec<String>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut wrong_way = Vec::new();
    for file in &files {
        let from = module_of(src, file);
        if from.is_empty() {
            continue; // lib.rs declares and re-exports the layers.
        }
        let source = std::fs::read_to_string(file).expect("a readable source file");
        for path in crate_paths(&code_only(&source)) {
            // The longest module the path names.
            let Some(to) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|prefix| modules.contains(prefix))
            else {
                continue;
            };
            if to == from {
                continue;
            }
            let layer = |module: &[String]| LAYERS.iter().position(|l| *l == module[0]);
            match (layer(&from), layer(&to)) {
                (Some(f), Some(t)) if t > f => {
                    wrong_way.push(format!("{} uses {}", from.join("::"), to.join("::")));
                }
                (None, _) | (_, None) => panic!(
                    "{} or {} is in no layer: add its top-level module to LAYERS",
                    from.join("::"),
                    to.join("::")
                ),
                _ => {}
            }
            edges.entry(from.clone()).or_default().insert(to);
        }
    }
    let cycles = cycles(&edges)
        .iter()
        .map(|cycle| {
            cycle
                .iter()
                .map(|m| m.join("::"))
                .collect::<Vec<_>>()
                .join(" -> ")
        })
        .collect();
    (wrong_way, cycles)
}

#[test]
fn modules_depend_one_way() {
    let (wrong_way, cycles) = layering_faults(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        wrong_way.is_empty(),
        "modules that use a later layer (the order is {LAYERS:?}):\n{}",
        wrong_way.join("\n")
    );
    assert!(
        cycles.is_empty(),
        "modules that reach each other:\n{}",
        cycles.join("\n")
    );
}

/// The check itself: a planted cycle and a planted use of a later layer are both found, and
/// paths in comments and strings are not read as uses.
#[test]
fn a_cycle_and_a_use_of_a_later_layer_are_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    let write = |path: &str, text: &str| {
        let path = src.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("a directory");
        std::fs::write(path, text).expect("a written file");
    };
    write("lib.rs", "mod common;\nmod storage;\nmod session;\n");
    write("common/mod.rs", "pub(crate) mod a;\npub(crate) mod b;\n");
    write(
        "common/a.rs",
        "use crate::common::b::B;\n// crate::session::S in a comment\n",
    );
    write(
        "common/b.rs",
        "pub(crate) use crate::common::a;\nconst S: &str = \"crate::session\";\n",
    );
    write("storage/mod.rs", "use crate::{common::a, session::S};\n");
    write("session/mod.rs", "use crate::common::a;\n");
    let (wrong_way, cycles) = layering_faults(src);
    assert_eq!(wrong_way, vec!["storage uses session".to_string()]);
    assert_eq!(cycles, vec!["common::a -> common::b".to_string()]);
}

/// One cycle through each strongly connected group of modules (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct Walk<'g> {
        edges: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'g [String], usize>,
        low: BTreeMap<&'g [String], usize>,
        stack: Vec<&'g [String]>,
        groups: Vec<Vec<Vec<String>>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, node: &'g [String]) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            for next in self.edges.get(node).into_iter().flatten() {
                if !self.index.contains_key(next.as_slice()) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next.as_slice()]);
                    self.low.insert(node, low);
                } else if self.stack.contains(&next.as_slice()) {
                    let low = self.low[node].min(self.index[next.as_slice()]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut group = Vec::new();
                while let Some(member) = self.stack.pop() {
                    group.push(member.to_vec());
                    if member == node {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.reverse();
                    self.groups.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        groups: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node.as_slice()) {
            walk.visit(node);
        }
    }
    walk.groups
}
