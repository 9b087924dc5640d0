//! `cargo xtask tidy` and its tests: rules about the code's shape that a reviewer would otherwise
//! have to remember, checked on every `cargo test` (rust-analyzer's `tidy.rs` is the model).
//!
//! - No module of `src/` imports, through any chain, a module that imports it back: data flows
//!   one way (cli → config → domain → ui), so each folder can be read and tested from below.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level modules of `src/` and the top-level modules each one names as `crate::NAME`,
/// outside its `#[cfg(test)]` code.
pub fn module_graph(src: &Path) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let mut graph = BTreeMap::new();
    let entries = std::fs::read_dir(src).map_err(|e| format!("{}: {e}", src.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = match path.file_stem().and_then(|s| s.to_str()) {
            Some(n) if path.is_dir() => n.to_string(),
            Some(n) if path.extension().is_some_and(|e| e == "rs") => n.to_string(),
            _ => continue,
        };
        if name == "lib" || name == "main" {
            continue;
        }
        let mut uses = BTreeSet::new();
        for file in rust_files(&path) {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            uses.extend(crate_paths(without_tests(&text)));
        }
        uses.remove(&name);
        graph.insert(name, uses);
    }
    Ok(graph)
}

/// Every cycle's modules, each cycle once (strongly connected components of more than one).
pub fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(node) = todo.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let closure: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|k| (k, reaches(k))).collect();
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for (node, reachable) in &closure {
        let mut component: Vec<String> = reachable
            .iter()
            .filter(|other| {
                *other != *node && closure.get(other).is_some_and(|r| r.contains(*node))
            })
            .cloned()
            .collect();
        if !component.is_empty() {
            component.push((*node).clone());
            component.sort();
            found.insert(component);
        }
    }
    found.into_iter().collect()
}

fn rust_files(path: &Path) -> Vec<std::path::PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        files.extend(rust_files(&entry.path()));
    }
    files.retain(|f| f.extension().is_some_and(|e| e == "rs"));
    files
}

/// The text before a file's `#[cfg(test)]` module (test code may reach anywhere).
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at])
}

/// The first segment after each `crate::`, including each name of `crate::{a, b::c}`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 || c != '{' {
                    item.push(c);
                }
            }
            names.insert(ident(item.trim()));
        } else {
            names.insert(ident(rest));
        }
    }
    names.retain(|n| !n.is_empty() && n.chars().next().is_some_and(|c| c.is_ascii_lowercase()));
    names
}

/// `cargo xtask tidy`: print the module graph and fail on a cycle.
pub fn run() -> Result<(), String> {
    let graph = module_graph(&crate::root().join("src"))?;
    for (module, uses) in &graph {
        let list: Vec<&str> = uses.iter().map(String::as_str).collect();
        println!("{module:>10} → {}", list.join(", "));
    }
    let found = cycles(&graph);
    if found.is_empty() {
        println!("no module cycles");
        Ok(())
    } else {
        Err(format!("module cycles in src/: {found:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn src_has_no_module_cycles() {
        let graph = module_graph(&crate::root().join("src")).unwrap();
        assert!(
            graph.contains_key("cli") && graph.contains_key("config"),
            "{graph:?}"
        );
        let found = cycles(&graph);
        assert!(
            found.is_empty(),
            "modules of src/ that import each other: {found:?}"
        );
    }

    #[test]
    fn finds_paths_and_cycles() {
        let names =
            crate_paths("use crate::a::B;\nuse crate::{b, c::{D, E}};\nlet x = crate::d::f();");
        assert_eq!(names, ["a", "b", "c", "d"].map(String::from).into());
        let graph: BTreeMap<String, BTreeSet<String>> = [
            ("a", vec!["b"]),
            ("b", vec!["c"]),
            ("c", vec!["a"]),
            ("d", vec!["a"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into_iter().map(String::from).collect()))
        .collect();
        assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
        assert_eq!(
            without_tests("code\n#[cfg(test)]\nmod tests { crate::x }"),
            "code\n"
        );
    }
}
