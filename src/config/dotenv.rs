//! `.env` files: one reader (dotenvy's grammar, errors naming the line but never its text) and
//! one editor that merges keys into an existing file, keeping every other line and comment where
//! it stands. Values are written so dotenvy reads back exactly what was written.

use std::path::Path;

use crate::error::Error;

/// The `.env` at `path` as ordered (name, value) pairs; `None` when there is no such file.
/// A line that does not parse is an error naming the file and line (not its text: it may hold a
/// secret).
pub fn read(path: &Path) -> Result<Option<Vec<(String, String)>>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::file("read", path, e)),
    };
    parse(&text).map(Some).map_err(|(line, reason)| {
        Error::input(format!("{}:{line}: {reason}", path.display()))
            .with_hint("each line of .env is NAME=value; quote values with spaces or #")
    })
}

/// Parse `.env` text with dotenvy: (name, value) pairs in file order, or the 1-based line that
/// does not parse and why.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    // dotenvy lets a quote run on until the next quote character, lines later; when a line that
    // sets another variable comes first, that line (perhaps a secret) would become part of this
    // value, and be shown wherever this value is.
    if let Some(entry) = entries(text).iter().find(|e| e.unclosed) {
        return Err((
            entry.line,
            "the quote opened on this line is not closed before the next variable".into(),
        ));
    }
    let mut pairs = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok(pair) => pairs.push(pair),
            Err(e) => return Err((failing_line(text).unwrap_or(1), describe(&e))),
        }
    }
    Ok(pairs)
}

/// The 1-based number of the first entry of a `.env` that does not parse on its own (dotenvy's
/// error gives a position within the entry, not the line).
fn failing_line(text: &str) -> Option<usize> {
    entries(text)
        .iter()
        .find(|entry| dotenvy::from_read_iter(entry.text.as_bytes()).any(|item| item.is_err()))
        .map(|entry| entry.line)
}

/// The entries of `.env` text that parse, each read on its own: (name, value) in file order. Unlike
/// [`parse`], a line that does not parse is skipped, not an error: this is for looking into a file
/// that [`merge`] will keep such lines in.
pub fn parse_lenient(text: &str) -> Vec<(String, String)> {
    entries(text)
        .iter()
        .filter(|entry| entry.name.is_some())
        .flat_map(|entry| {
            dotenvy::from_read_iter(entry.text.as_bytes())
                .filter_map(Result::ok)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// dotenvy's parse errors carry the offending line, which may hold a secret: say where, not what.
fn describe(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => {
            format!("cannot parse this line (at character {index})")
        }
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "cannot parse the file".into(),
    }
}

/// `value` as dotenvy reads it back unchanged: bare when it has nothing dotenvy treats specially,
/// else in double quotes with `\`, `"`, `$` and newlines escaped (single quotes cannot hold `'`,
/// and dotenvy's line splitter treats a `\` before the closing `'` as an escape).
pub fn quote(value: &str) -> String {
    let bare = value
        .chars()
        .all(|c| !c.is_whitespace() && !c.is_control() && !"#'\"\\$".contains(c));
    if bare {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' | '"' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One entry of a `.env`: a (possibly multi-line, when a quote spans lines) run of text.
struct Entry<'a> {
    /// 1-based line it starts on.
    line: usize,
    /// Its text, line ends included.
    text: &'a str,
    /// The name it sets, if it is a `NAME=...` entry.
    name: Option<&'a str>,
    /// A quote opened in it is not closed before the end of the file or a line setting a variable.
    unclosed: bool,
}

/// Split `.env` text into entries the way dotenvy groups lines: a quote left open continues on
/// the next line, but not onto a line that sets a variable. A quote not closed before such a line
/// or the end does not swallow the rest of the file: its line stands alone (it is kept as it is,
/// and reported by [`parse`]).
fn entries(text: &str) -> Vec<Entry<'_>> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = Vec::new();
    let mut offsets = Vec::with_capacity(lines.len() + 1);
    let mut at = 0;
    for line in &lines {
        offsets.push(at);
        at += line.len();
    }
    offsets.push(at);
    let mut i = 0;
    while i < lines.len() {
        let mut open = open_quote(None, lines[i]);
        let mut end = i + 1;
        // A PEM block's base64 lines may look like `NAME=`; inside one, only its quote ends it.
        let pem = lines[i].contains("-----BEGIN");
        while open.is_some() && end < lines.len() && (pem || !sets_variable(lines[end])) {
            open = open_quote(open, lines[end]);
            end += 1;
        }
        let unclosed = open.is_some();
        if unclosed {
            end = i + 1;
        }
        let chunk = &text[offsets[i]..offsets[end]];
        out.push(Entry {
            line: i + 1,
            text: chunk,
            name: name_of(chunk),
            unclosed,
        });
        i = end;
    }
    out
}

/// The quote still open at the end of `line`, given the one open at its start (dotenvy's rules:
/// a backslash escapes the next character, also inside quotes; `#` after a space ends the line).
fn open_quote(mut open: Option<char>, line: &str) -> Option<char> {
    if open.is_none() && line.trim_start().starts_with('#') {
        return None;
    }
    let mut after_space = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (open, c) {
            (_, '\\') => {
                chars.next();
            }
            (None, '#') if after_space => return None,
            (None, '"' | '\'') => open = Some(c),
            (Some(q), c) if c == q => open = None,
            _ => {}
        }
        after_space = open.is_none() && c.is_whitespace() && c != '\n';
    }
    open
}

/// Whether `line` sets a variable (`NAME=` or `export NAME=`, any name dotenvy reads): a quote
/// left open never runs on into it, so a forgotten quote cannot fold the next variable (perhaps a
/// secret) into the value before it. Multi-line values other than PEM blocks must not hold such
/// lines; the open quote is then reported at its line instead.
fn sets_variable(line: &str) -> bool {
    name_of(line).is_some()
}

/// The name an entry sets: `NAME=` or `export NAME=`, as dotenvy reads names.
fn name_of(entry: &str) -> Option<&str> {
    let rest = entry.trim_start();
    let rest = match rest.strip_prefix("export") {
        Some(after) if after.starts_with([' ', '\t']) => after.trim_start(),
        _ => rest,
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(end);
    let starts_well = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    (starts_well && after.trim_start_matches([' ', '\t']).starts_with('=')).then_some(name)
}

/// `.env` text with `values` set: every other line (comments, blank lines, lines that do not
/// parse) is kept as it is, an entry for a name being set is replaced where it stands (later
/// entries for the same name are dropped, as they would win), new names are appended.
pub fn merge(existing: &str, values: &[(&str, String)]) -> String {
    let mut done: Vec<&str> = Vec::new();
    let mut out = String::with_capacity(existing.len());
    for entry in entries(existing) {
        match entry
            .name
            .and_then(|name| values.iter().find(|(k, _)| *k == name))
        {
            Some((k, v)) if !done.contains(k) => {
                // A file that is `source`d keeps exporting what it exported.
                let export = if entry.text.trim_start().starts_with("export ") {
                    "export "
                } else {
                    ""
                };
                out.push_str(&format!("{export}{k}={}\n", quote(v)));
                done.push(k);
            }
            Some(_) => {}
            None => out.push_str(entry.text),
        }
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for (k, v) in values {
        if !done.contains(k) {
            out.push_str(&format!("{k}={}\n", quote(v)));
            done.push(k);
        }
    }
    out
}

/// `.env` text without the entries `drop` picks, every other line kept as it is. `drop` sees a
/// variable's name and value (as dotenvy reads it), or `None` and the raw text for a comment,
/// a blank line or a line that does not parse. Returns the text and the names of the variables
/// dropped, in file order.
pub fn remove(
    existing: &str,
    drop: impl Fn(Option<(&str, &str)>, &str) -> bool,
) -> (String, Vec<String>) {
    let mut out = String::with_capacity(existing.len());
    let mut removed = Vec::new();
    for entry in entries(existing) {
        let parsed = entry
            .name
            .and_then(|_| parse_lenient(entry.text).into_iter().next());
        let variable = parsed.as_ref().map(|(n, v)| (n.as_str(), v.as_str()));
        if drop(variable, entry.text) {
            if let Some((name, _)) = variable {
                removed.push(name.to_string());
            }
        } else {
            out.push_str(entry.text);
        }
    }
    (out, removed)
}

/// Set `values` in the `.env` at `path`, keeping its other lines; the file is made mode 0600.
/// `fresh` is the text to start from when there is no file yet. Returns the names whose earlier
/// value in the file was replaced by another (names only: the values may be secrets).
pub fn save(path: &Path, values: &[(&str, String)], fresh: &str) -> Result<Vec<String>, Error> {
    save_removing(path, values, fresh, |_, _| false).map(|(replaced, _)| replaced)
}

/// [`save`], also dropping the entries `drop` picks (see [`remove`]) in the same write: the
/// names replaced, and the names removed.
pub fn save_removing(
    path: &Path,
    values: &[(&str, String)],
    fresh: &str,
    drop: impl Fn(Option<(&str, &str)>, &str) -> bool,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let (existing, before) = match std::fs::read_to_string(path) {
        Ok(text) => {
            let before = parse_lenient(&text);
            (text, before)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (fresh.to_string(), Vec::new()),
        Err(e) => return Err(Error::file("read", path, e)),
    };
    let replaced = values
        .iter()
        .filter(|(name, value)| before.iter().any(|(n, old)| n == name && old != value))
        .map(|(name, _)| (*name).to_string())
        .collect();
    let (kept, removed) = remove(&existing, |variable, text| {
        // What is being set is never dropped, whatever `drop` says.
        !variable.is_some_and(|(name, _)| values.iter().any(|(k, _)| *k == name))
            && drop(variable, text)
    });
    crate::files::write_private(path, merge(&kept, values).as_bytes())?;
    Ok((replaced, removed))
}

/// Whether `.gitignore` in `root` ignores `.env`.
pub fn gitignore_covers(root: &Path) -> bool {
    ignores(root, ".env", true)
}

/// Whether the `.gitignore` in `dir` has a line ignoring the file `name` (`here`: the file is in
/// `dir` itself, so an anchored `/name` counts too). Only the usual shapes are recognised (`name`,
/// `/name`, `**/name`, `prefix*`, `*suffix`); one missed only costs a redundant line.
fn ignores(dir: &Path, name: &str, here: bool) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join(".gitignore")) else {
        return false;
    };
    text.lines().map(str::trim).any(|line| {
        line == name
            || (here && line.strip_prefix('/') == Some(name))
            || line.strip_prefix("**/") == Some(name)
            || line
                .strip_suffix('*')
                .is_some_and(|p| !p.contains(['*', '/']) && name.starts_with(p))
            || line
                .strip_prefix('*')
                .is_some_and(|s| !s.contains(['*', '/']) && name.ends_with(s))
    })
}

/// Where a line ignoring the `.env` file at `path` must go, when that file is inside a git work
/// tree and no `.gitignore` from its directory up to the work tree's root ignores it: the
/// `.gitignore` beside it, and the line (its file name). `None` outside git or when ignored.
pub fn gitignore_needed(path: &Path) -> Option<(std::path::PathBuf, String)> {
    let name = path.file_name()?.to_str()?.to_string();
    let dir = std::path::absolute(path).ok()?.parent()?.to_path_buf();
    let mut covered = false;
    for (depth, ancestor) in dir.ancestors().enumerate() {
        covered = covered || ignores(ancestor, &name, depth == 0);
        if ancestor.join(".git").exists() {
            // Named as the user named the file: `.env` gets `.gitignore`, not an absolute path.
            return (!covered).then(|| (path.with_file_name(".gitignore"), name));
        }
    }
    None
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_open_quote_never_takes_in_the_next_variable_whatever_its_name() {
        for next in [
            "SECRET=hunter2value\"",
            "DbPassword=hunter2value",
            "kinde_management_client_secret=hunter2value'",
        ] {
            let text = format!("KINDE_MANAGEMENT_CLIENT_ID=\"abc\n{next}\n");
            let err = parse(&text).unwrap_err();
            assert_eq!(err.0, 1, "{next}: the open quote is reported at its line");
        }
        // A PEM block keeps its base64 lines, even one that looks like `NAME=`.
        let pem = "KEY=\"-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC=\n-----END KEY-----\"\nNEXT=1\n";
        let read = parse(pem).unwrap();
        assert!(
            read[0].1.contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC="),
            "{read:?}"
        );
        assert_eq!(read[1], ("NEXT".into(), "1".into()));
    }

    #[test]
    fn a_replaced_export_stays_exported() {
        let text = merge(
            "export KINDE_DOMAIN=old # note\nOTHER=1\n",
            &[("KINDE_DOMAIN", "new".into())],
        );
        assert_eq!(text, "export KINDE_DOMAIN=new\nOTHER=1\n");
        let read: Vec<(String, String)> = parse(&text).unwrap();
        assert_eq!(read[0], ("KINDE_DOMAIN".into(), "new".into()));
    }
    use super::*;

    const AWKWARD: &[&str] = &[
        "",
        "plain",
        "it's",
        "say \"hi\"",
        "a # not a comment",
        "#start",
        "  spaced  ",
        "$HOME and ${HOME}",
        "back\\slash",
        "ends with \\",
        "\\'",
        "'quoted'",
        "line one\nline two",
        "tab\there",
        "mixed 'single' \"double\" $x \\ # end",
        "ünïcødé ✓",
        "https://acme.kinde.com/path?a=1&b=2",
    ];

    #[test]
    fn awkward_values_round_trip_through_dotenvy() {
        let values: Vec<(String, String)> = AWKWARD
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("KEY_{i}"), (*v).to_string()))
            .collect();
        let set: Vec<(&str, String)> = values
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let text = merge("# mine\nOTHER=1\n", &set);
        let read = parse(&text).unwrap_or_else(|(line, e)| panic!("line {line}: {e}\n{text}"));
        let mut expected = vec![("OTHER".to_string(), "1".to_string())];
        expected.extend(values.clone());
        assert_eq!(read, expected, "{text}");
        // And dotenvy itself, as Kinde's SDKs and other tools read it.
        let direct: Vec<(String, String)> = dotenvy::from_read_iter(text.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(direct, expected);
        // Setting the same values again changes nothing.
        assert_eq!(merge(&text, &set), text);
    }

    #[test]
    fn merge_keeps_other_lines_and_replaces_in_place() {
        let existing = "# header\nDATABASE_URL=postgres://x\n\nexport KINDE_DOMAIN=old # note\nBAD LINE secret=zzz\nMULTI=\"a\nb\"\nKINDE_DOMAIN=dup\nLAST=1";
        let merged = merge(
            existing,
            &[
                ("KINDE_DOMAIN", "https://new.kinde.com".into()),
                ("MULTI", "one".into()),
                ("NEW", "v".into()),
            ],
        );
        assert_eq!(
            merged,
            "# header\nDATABASE_URL=postgres://x\n\nexport KINDE_DOMAIN=https://new.kinde.com\nBAD LINE secret=zzz\nMULTI=one\nLAST=1\nNEW=v\n"
        );
    }

    #[test]
    fn remove_drops_only_what_is_picked_and_keeps_every_other_line() {
        let existing = "# header\nCA=/x/ca.pem\n\nexport CA2=\"/x/ca.pem\"\nMULTI=\"a\nb\"\nBAD LINE\nCA=/mine.pem\n# gone\nLAST=1";
        let (kept, removed) = remove(existing, |variable, text| match variable {
            Some((_, value)) => value == "/x/ca.pem",
            None => text == "# gone\n",
        });
        assert_eq!(
            kept,
            "# header\n\nMULTI=\"a\nb\"\nBAD LINE\nCA=/mine.pem\nLAST=1"
        );
        assert_eq!(removed, ["CA", "CA2"]);
    }

    #[test]
    fn a_file_in_a_work_tree_needs_ignoring_once() {
        let repo = tempfile::tempdir().unwrap();
        let sub = repo.path().join("app");
        std::fs::create_dir_all(&sub).unwrap();
        let env = sub.join(".env");
        assert_eq!(gitignore_needed(&env), None, "not in a work tree");
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        assert_eq!(
            gitignore_needed(&env),
            Some((sub.join(".gitignore"), ".env".into()))
        );
        for (dir, line) in [
            (repo.path(), ".env"),
            (repo.path(), "*.env"),
            (repo.path(), "**/.env"),
            (sub.as_path(), "/.env"),
            (sub.as_path(), ".env*"),
        ] {
            std::fs::write(dir.join(".gitignore"), format!("target\n{line}\n")).unwrap();
            assert_eq!(gitignore_needed(&env), None, "{line} in {}", dir.display());
            std::fs::remove_file(dir.join(".gitignore")).unwrap();
        }
        std::fs::write(repo.path().join(".gitignore"), "/.env\n").unwrap();
        assert!(
            gitignore_needed(&env).is_some(),
            "an anchored line in the root ignores only the root's .env"
        );
    }

    #[test]
    fn lenient_parsing_skips_what_does_not_parse() {
        assert_eq!(
            parse_lenient("A=1\nnot a line\n# c\nexport B='two'\n"),
            vec![("A".into(), "1".into()), ("B".into(), "two".into())]
        );
    }

    #[test]
    fn a_quote_left_open_never_takes_in_the_next_variable() {
        let text = "KINDE_MANAGEMENT_CLIENT_ID=\"abc\nKINDE_MANAGEMENT_CLIENT_SECRET=s3cr3t\"\n";
        let (line, reason) = parse(text).unwrap_err();
        assert_eq!(line, 1);
        assert!(!reason.contains("s3cr3t"), "{reason}");
        assert_eq!(
            merge(text, &[("KINDE_MANAGEMENT_CLIENT_ID", "x".into())]),
            "KINDE_MANAGEMENT_CLIENT_ID=x\nKINDE_MANAGEMENT_CLIENT_SECRET=s3cr3t\"\n",
            "the secret's line is kept, not replaced with the id"
        );
        // A quoted value may still span lines that set nothing.
        assert_eq!(
            parse("KEY=\"-----BEGIN-----\nMIIBxy==\nIDAQAB=\n-----END-----\"\nB=1\n").unwrap(),
            vec![
                (
                    "KEY".into(),
                    "-----BEGIN-----\nMIIBxy==\nIDAQAB=\n-----END-----".into()
                ),
                ("B".into(), "1".into())
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_does_not_swallow_the_file() {
        let existing = "A=\"open\nB=2\n";
        assert_eq!(merge(existing, &[("A", "x".into())]), "A=x\nB=2\n");
        assert_eq!(parse(existing).unwrap_err().0, 1);
        assert_eq!(parse("A=1\nB=2 3\n").unwrap_err().0, 2);
    }
}
