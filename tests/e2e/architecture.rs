//! The shape of `src/`: the layer table in `src/lib.rs` is the rule, this test reads the source
//! and holds it to it. Every top-level module is in exactly one layer; a module's `crate::` paths
//! (outside its tests) name only modules of lower layers; and no file grows past the size a
//! reader can hold.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files longer than this need splitting.
const MAX_FILE_LINES: usize = 700;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The layer of each module, from the table in `lib.rs`'s doc comment: rows
/// `//! | N | \`a\`, \`b\` | … |`.
fn layers(lib: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! |") else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Some(Ok(layer)) = cells.first().map(|c| c.parse::<u32>()) else {
            continue;
        };
        for module in cells[1].split(',') {
            let name = module.trim().trim_matches('`').to_string();
            assert!(
                out.insert(name.clone(), layer).is_none(),
                "`{name}` is in two rows of the layer table"
            );
        }
    }
    out
}

/// `text` with comments, string and character literals blanked out (newlines kept, so line
/// numbers still hold).
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (c.get(i + 1) == Some(&'"') || c.get(i + 1) == Some(&'#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // A raw string: r"…", r#"…"#, …
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body_start = j + 1;
            let rest: String = c[body_start..].iter().collect();
            let end = rest.find(&close).map_or(c.len(), |p| {
                body_start + rest[..p].chars().count() + close.len()
            });
            while i < end {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '"' {
            blank(&mut out, c[i]);
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            if i < c.len() {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '\'' {
            // A character literal ('a', '\n', '\u{1F}') but not a lifetime ('a).
            let lit_end = if c.get(i + 1) == Some(&'\\') {
                (i + 2..c.len().min(i + 12)).find(|&k| c[k] == '\'')
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match lit_end {
                Some(end) => {
                    while i <= end {
                        blank(&mut out, c[i]);
                        i += 1;
                    }
                }
                None => {
                    out.push(c[i]);
                    i += 1;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// `code` without the items marked `#[cfg(test)]` (their lines blanked), and the names of
/// test modules declared as files (`#[cfg(test)] mod tests;`).
fn without_tests(code: &str) -> (String, Vec<String>) {
    let mut out: Vec<char> = code.chars().collect();
    let mut test_files = Vec::new();
    let text: String = out.iter().collect();
    let mut from = 0;
    while let Some(pos) = text[from..].find("#[cfg(test)]") {
        let start = from + pos;
        let item = start + "#[cfg(test)]".len();
        // The item ends at a `;` before any block, or where its first block closes.
        let mut depth = 0;
        let mut end = text.len();
        for (k, ch) in text[item..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = item + k + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = item + k + 1;
                    let decl = text[item..end].trim();
                    if let Some(name) = decl
                        .strip_prefix("mod ")
                        .or_else(|| decl.strip_prefix("pub mod "))
                    {
                        test_files.push(name.trim_end_matches(';').trim().to_string());
                    }
                    break;
                }
                _ => {}
            }
        }
        let (s, e) = (text[..start].chars().count(), text[..end].chars().count());
        for ch in &mut out[s..e] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
        from = end;
    }
    (out.into_iter().collect(), test_files)
}

/// The top-level modules that `code` (the file at module path `path`) names, with the line of
/// each mention: `crate::x`, `crate::{x, y::z}`, and `super::` chains that reach the crate root.
fn imports(code: &str, path: &[String]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (n, line) in code.lines().enumerate() {
        let mut rest = line;
        while let Some(p) = rest.find("crate::") {
            let before = rest[..p].chars().last();
            rest = &rest[p + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a, b::c}` may run over lines: read to the matching brace.
                let whole: String = code.lines().skip(n).collect::<Vec<_>>().join("\n");
                let at = whole.find(group).unwrap_or(0);
                let mut depth = 1;
                let mut first = true;
                let mut word = String::new();
                for ch in whole[at..].chars() {
                    if ch.is_alphanumeric() || ch == '_' {
                        if first && depth == 1 {
                            word.push(ch);
                        }
                        continue;
                    }
                    if !word.is_empty() {
                        out.push((std::mem::take(&mut word), n + 1));
                        first = false;
                    }
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        ',' if depth == 1 => first = true,
                        _ => {}
                    }
                }
                if !word.is_empty() {
                    out.push((word, n + 1));
                }
            } else {
                let name = ident(rest);
                if !name.is_empty() {
                    out.push((name, n + 1));
                }
            }
        }
        let mut rest = line;
        while let Some(p) = rest.find("super::") {
            let before = rest[..p].chars().last();
            let mut tail = &rest[p..];
            rest = &rest[p + "super::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut ups = 0;
            while let Some(t) = tail.strip_prefix("super::") {
                ups += 1;
                tail = t;
            }
            if ups >= path.len() {
                let name = ident(tail);
                if !name.is_empty() {
                    out.push((name, n + 1));
                }
            }
        }
    }
    out
}

/// Every `.rs` file under `dir` (test-module files left out), with its module path.
fn files(root: &Path) -> Vec<(PathBuf, Vec<String>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap();
                let mut parts: Vec<String> = rel
                    .iter()
                    .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod") {
                    parts.pop();
                }
                out.push((path, parts));
            }
        }
    }
    out.sort();
    out
}

/// What breaks the rule: each upward or sideways import, as `file:line: a (layer) imports b
/// (layer)`, and each module missing from the table.
fn violations(root: &Path, table: &BTreeMap<String, u32>) -> Vec<String> {
    let all = files(root);
    let mut test_files: BTreeSet<PathBuf> = BTreeSet::new();
    let mut parsed = Vec::new();
    for (path, module) in &all {
        let (code, tests) = without_tests(&code_only(&std::fs::read_to_string(path).unwrap()));
        let dir = if path
            .file_name()
            .is_some_and(|f| f == "mod.rs" || f == "lib.rs")
        {
            path.parent().unwrap().to_path_buf()
        } else {
            path.with_extension("")
        };
        for t in tests {
            test_files.insert(dir.join(format!("{t}.rs")));
            test_files.insert(dir.join(&t).join("mod.rs"));
        }
        parsed.push((path, module, code));
    }
    let mut problems = Vec::new();
    for (path, module, code) in parsed {
        if test_files.contains(path)
            || module.is_empty()
            || module[0] == "lib"
            || module[0] == "main"
        {
            continue;
        }
        let top = &module[0];
        let Some(&own) = table.get(top) else {
            problems.push(format!(
                "{}: module `{top}` is not in the layer table of src/lib.rs",
                path.display()
            ));
            continue;
        };
        for (name, line) in imports(&code, module) {
            if &name == top {
                continue;
            }
            match table.get(&name) {
                Some(&theirs) if theirs < own => {}
                Some(&theirs) => problems.push(format!(
                    "{}:{line}: `{top}` (layer {own}) imports `{name}` (layer {theirs}); a module imports only lower layers",
                    path.display()
                )),
                None => problems.push(format!(
                    "{}:{line}: `{top}` imports `{name}`, which is not in the layer table",
                    path.display()
                )),
            }
        }
    }
    problems
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let root = src();
    let table = layers(&std::fs::read_to_string(root.join("lib.rs")).unwrap());
    assert!(table.len() >= 10, "the layer table was not read: {table:?}");
    let modules: BTreeSet<String> = files(&root)
        .into_iter()
        .filter_map(|(_, m)| m.first().cloned())
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let listed: BTreeSet<String> = table.keys().cloned().collect();
    assert_eq!(
        modules, listed,
        "src/ and the layer table list different modules"
    );
    let problems = violations(&root, &table);
    assert!(
        problems.is_empty(),
        "the layers do not hold:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_finds_an_upward_import_a_sideways_one_and_ignores_tests() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("low")).unwrap();
    std::fs::write(
        root.join("lib.rs"),
        "pub mod low;\npub mod high;\npub mod side;\n",
    )
    .unwrap();
    std::fs::write(
        root.join("low/mod.rs"),
        "//! crate::high in a comment is fine\nmod inner;\nconst S: &str = \"crate::high\";\n#[cfg(test)]\nmod tests {\n    use crate::high::X;\n}\n",
    )
    .unwrap();
    std::fs::write(root.join("low/inner.rs"), "use super::super::high::Y;\n").unwrap();
    std::fs::write(root.join("high.rs"), "use crate::{low, side::Z};\n").unwrap();
    std::fs::write(root.join("side.rs"), "use crate::high as h;\n").unwrap();
    let table: BTreeMap<String, u32> = [("low", 1), ("high", 2), ("side", 2)]
        .into_iter()
        .map(|(m, l)| (m.to_string(), l))
        .collect();
    let problems = violations(root, &table);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].contains("high.rs:1: `high` (layer 2) imports `side` (layer 2)"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("inner.rs:1: `low` (layer 1) imports `high` (layer 2)"),
        "{problems:#?}"
    );
    assert!(
        problems[2].contains("side.rs:1: `side` (layer 2) imports `high`"),
        "{problems:#?}"
    );
}

#[test]
fn no_file_is_longer_than_a_reader_can_hold() {
    let long: Vec<String> = files(&src())
        .into_iter()
        .filter_map(|(path, _)| {
            let n = std::fs::read_to_string(&path).unwrap().lines().count();
            (n > MAX_FILE_LINES).then(|| format!("{} has {n} lines", path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these (at most {MAX_FILE_LINES} lines):\n{}",
        long.join("\n")
    );
}
