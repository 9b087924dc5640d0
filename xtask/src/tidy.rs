//! `cargo xtask tidy` and its tests: rules about the code's shape that a reviewer would otherwise
//! have to remember, checked on every `cargo test` (rust-analyzer's `tidy.rs` is the model).
//!
//! - No module of `src/` imports, through any chain, a module that imports it back: data flows
//!   one way (cli → config → domain → ui), so each folder can be read and tested from below.
//! - Each module imports only modules of a lower layer ([`LAYERS`]); a new module must be given
//!   its layer here.
//! - The emulator, the oracle every test stands on, uses the client's code only for wire types
//!   and the generated operation table ([`EMULATOR_MAY_USE`]): never a client rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layer of each top-level module of `src/`: a module may import only modules of a lower layer.
pub const LAYERS: &[(&str, u8)] = &[
    ("error", 0),
    ("clock", 0),
    ("secret", 0),
    ("urls", 0),
    ("files", 1),
    ("net", 1),
    ("ui", 2),
    ("config", 3),
    ("jwt", 3),
    ("oauth", 4),
    ("scaffold", 4),
    ("kinde", 5),
    ("doctor", 6),
    ("emulator", 6),
    ("smoke", 7),
    // `cargo_kinde::testing`: the emulator and `register` for users' tests.
    ("testing", 7),
    ("cli", 8),
];

/// What `src/emulator/` may name of the client: `(module, item after it)`; `*` for any item.
pub const EMULATOR_MAY_USE: &[(&str, &str)] = &[
    ("clock", "*"),
    ("error", "*"),
    ("files", "*"),
    ("secret", "*"),
    ("jwt", "jwks"),
    ("kinde", "find_operation"),
    ("kinde", "all_scopes"),
    ("kinde", "operations"),
];

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
            uses.extend(crate_paths(&code_of(&text)));
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

/// The code of a file: no test module, no `//` comments (doc comments name modules freely).
fn code_of(text: &str) -> String {
    without_tests(text)
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Imports that go sideways or up: `(module, imported)` where the imported module's layer is not
/// lower, or a module has no layer.
pub fn layer_violations(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let layer = |m: &str| LAYERS.iter().find(|(name, _)| *name == m).map(|(_, l)| *l);
    let mut found = Vec::new();
    for (module, uses) in graph {
        let Some(own) = layer(module) else {
            found.push(format!("{module} has no layer in xtask/src/tidy.rs LAYERS"));
            continue;
        };
        for used in uses {
            match layer(used) {
                Some(l) if l < own => {}
                Some(l) => found.push(format!(
                    "{module} (layer {own}) imports {used} (layer {l}): imports go to lower layers only"
                )),
                None => found.push(format!("{used} has no layer in xtask/src/tidy.rs LAYERS")),
            }
        }
    }
    found
}

/// Names of the client in `src/emulator/` outside [`EMULATOR_MAY_USE`], as `file: module::item`:
/// every `module::item` whose module is one of the client's, reached as `crate::module::` or
/// through a `use crate::module;` (so as `module::` after a non-path character).
pub fn emulator_leaks(src: &Path) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    for file in rust_files(&src.join("emulator")) {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let code = code_of(&text);
        for (module, _) in LAYERS.iter().filter(|(m, _)| *m != "emulator") {
            let needle = format!("{module}::");
            for (at, _) in code.match_indices(&needle) {
                let before = &code[..at];
                let direct = before.ends_with("crate::");
                let named = before
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
                if !direct && !named {
                    continue; // `cargo_kinde::`, `axum::error::`, a longer name
                }
                let item: String = code[at + needle.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let allowed = EMULATOR_MAY_USE
                    .iter()
                    .any(|(m, i)| m == module && (*i == "*" || *i == item));
                if !allowed {
                    found.push(format!("{}: {module}::{item}", file.display()));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
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
    if !found.is_empty() {
        return Err(format!("module cycles in src/: {found:?}"));
    }
    let layers = layer_violations(&graph);
    if !layers.is_empty() {
        return Err(format!(
            "imports against the layers:\n  {}",
            layers.join("\n  ")
        ));
    }
    let leaks = emulator_leaks(&crate::root().join("src"))?;
    if !leaks.is_empty() {
        return Err(format!(
            "the emulator names client code:\n  {}",
            leaks.join("\n  ")
        ));
    }
    println!("no module cycles, every import goes down a layer, the emulator uses only wire types");
    Ok(())
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
        let layers = layer_violations(&graph);
        assert!(layers.is_empty(), "{layers:#?}");
    }

    #[test]
    fn the_emulator_uses_only_wire_types_of_the_client() {
        let leaks = emulator_leaks(&crate::root().join("src")).unwrap();
        assert!(
            leaks.is_empty(),
            "the emulator must implement Kinde's rules itself: {leaks:#?}"
        );
    }

    #[test]
    fn layers_and_leaks_are_found() {
        let graph: BTreeMap<String, BTreeSet<String>> = [("ui", vec!["config"]), ("new", vec![])]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into_iter().map(String::from).collect()))
            .collect();
        let found = layer_violations(&graph);
        assert_eq!(found.len(), 2, "{found:?}");
        let dir = std::env::temp_dir().join(format!("tidy-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("emulator")).unwrap();
        std::fs::write(
            dir.join("emulator/x.rs"),
            "use crate::urls::check_redirect_url;\nuse crate::jwt::jwks::Jwk;\nuse crate::kinde;\n// crate::config::x in a comment\nfn f() { crate::jwt::verify::audiences_of(); kinde::find_operation(); kinde::plan::plan(); cargo_kinde::urls::x(); }\n",
        )
        .unwrap();
        let leaks = emulator_leaks(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let names: Vec<&str> = leaks
            .iter()
            .map(|l| l.rsplit(": ").next().unwrap())
            .collect();
        assert_eq!(
            names,
            ["jwt::verify", "kinde::plan", "urls::check_redirect_url"],
            "{leaks:?}"
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
