//! `init`: embedded templates rendered into the user's repository. Every file is computed before
//! anything is written, so an interrupted `init` leaves nothing half-done; existing files are
//! edited in place (keeping comments) or left alone unless the user agrees or passes `--force`.

pub mod ci;
pub mod templates;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::secret::Secret;

/// An API to register.
#[derive(Debug, Clone, Serialize)]
pub struct ApiValue {
    /// Name.
    pub name: String,
    /// Audience.
    pub audience: String,
}

impl ApiValue {
    /// `NAME=AUDIENCE`, as `init --api` takes it, checked by Kinde's rules.
    pub fn parse(text: &str) -> Result<ApiValue, Error> {
        let (name, audience) = text.split_once('=').ok_or_else(|| {
            Error::input(format!(
                "--api `{text}`: expected NAME=AUDIENCE, e.g. --api 'Orders API=https://api.acme.com'"
            ))
        })?;
        ApiValue::new(name, audience).map_err(|e| Error::input(format!("--api `{text}`: {e}")))
    }

    /// A name and an audience as typed (surrounding spaces dropped), checked by Kinde's rules;
    /// the error says which field is wrong.
    pub fn new(name: &str, audience: &str) -> Result<ApiValue, String> {
        let (name, audience) = (name.trim(), audience.trim());
        for (value, key) in [(name, "name"), (audience, "audience")] {
            crate::config::check_api_field(key, value).map_err(|e| e.to_string())?;
        }
        Ok(ApiValue {
            name: name.into(),
            audience: audience.into(),
        })
    }
}

/// Everything `init` asks for.
#[derive(Debug, Clone, Serialize)]
pub struct Values {
    /// Kinde domain.
    pub domain: String,
    /// Management M2M client id.
    pub management_client_id: String,
    /// Its secret (goes to `.env` only).
    #[serde(skip)]
    pub management_client_secret: Option<Secret>,
    /// The user-facing app's client id.
    pub app_client_id: String,
    /// Its secret, for back-end apps (goes to `.env` only).
    #[serde(skip)]
    pub app_client_secret: Option<Secret>,
    /// Callback URLs.
    pub callback_urls: Vec<String>,
    /// Logout URLs.
    pub logout_urls: Vec<String>,
    /// APIs.
    pub apis: Vec<ApiValue>,
    /// `[login] port`.
    pub login_port: u16,
}

/// What else to write.
#[derive(Debug, Clone)]
pub struct Extras {
    /// An `xtask` crate running cargo-kinde from the workspace's lock file.
    pub xtask: bool,
    /// Where cargo-kinde comes from: the xtask's dependency, or what CI installs without one.
    pub source: ci::Source,
    /// A CI pipeline running the smoke tests.
    pub ci: Option<ci::Ci>,
    /// Lines `.gitignore` must have besides `.env` (e.g. the emulator's state directory).
    pub ignore: Vec<String>,
    /// The tenant is cargo-kinde's emulator: the pipeline starts one instead of asking for
    /// secrets.
    pub emulator: bool,
    /// The git repository the workspace is in: the pipeline goes to its top level.
    pub repository: Option<ci::Repository>,
}

impl Default for Extras {
    fn default() -> Self {
        Extras {
            xtask: false,
            source: ci::Source::released(),
            ci: None,
            ignore: Vec::new(),
            emulator: false,
            repository: None,
        }
    }
}

/// One file `init` would write.
#[derive(Debug, Clone)]
pub struct Change {
    /// Relative to the workspace root.
    pub path: PathBuf,
    /// The current contents, if the file exists.
    pub old: Option<String>,
    /// The new contents.
    pub new: String,
    /// Written mode 0600 and never shown in diffs (it holds secrets).
    pub private: bool,
    /// Only appends to the file (never loses anything): no confirmation needed.
    pub append_only: bool,
}

impl Change {
    /// Whether writing it changes anything.
    pub fn changes(&self) -> bool {
        self.old.as_deref() != Some(self.new.as_str())
    }

    /// Whether it replaces or edits content that exists.
    pub fn overwrites(&self) -> bool {
        self.old.is_some() && self.changes() && !self.append_only
    }

    /// A unified line diff of old and new with three lines of context. A private file (`.env`)
    /// is compared entry by entry with every value masked, whatever its lines: `NAME=***`, and
    /// `NAME=*** (changed)` where only the value differs, so a multi-line value never shows.
    pub fn diff(&self) -> String {
        let old_text = self.old.as_deref().unwrap_or("");
        let (old, new) = if self.private {
            (
                masked_entries(old_text, None),
                masked_entries(&self.new, Some(old_text)),
            )
        } else {
            (old_text.to_string(), self.new.clone())
        };
        let path = self.path.display().to_string();
        let diff = similar::TextDiff::from_lines(&old, &new);
        let old_lines: Vec<&str> = old.lines().collect();
        let new_lines: Vec<&str> = new.lines().collect();
        let mut out = format!("--- {path}\n+++ {path}\n");
        for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
            // As git's `@@ ... @@ fn name`: the table the first changed line is in, so a changed
            // `client_id` says whether it is the [management] or the [app] one.
            let section = hunk
                .iter_changes()
                .find(|c| c.tag() != similar::ChangeTag::Equal)
                .and_then(|c| match (c.new_index(), c.old_index()) {
                    (Some(i), _) => table_at(&new_lines, i),
                    (None, Some(i)) => table_at(&old_lines, i),
                    (None, None) => None,
                });
            out.push_str(&hunk.header().to_string());
            if let Some(section) = section {
                out.push(' ');
                out.push_str(section);
            }
            out.push('\n');
            for change in hunk.iter_changes() {
                let sign = match change.tag() {
                    similar::ChangeTag::Equal => ' ',
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                };
                out.push(sign);
                out.push_str(change.value());
                if !change.value().ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// The TOML table header (`[app]`, `[[apis]]`) that line `index` of `lines` is under, if any.
fn table_at<'a>(lines: &[&'a str], index: usize) -> Option<&'a str> {
    lines
        .iter()
        .take(index.saturating_add(1))
        .rev()
        .map(|line| line.trim())
        .find(|line| {
            let name = line.trim_start_matches('[');
            line.starts_with('[')
                && name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '"' || c == '_')
                && line.contains(']')
        })
        .map(|line| line.split(" #").next().unwrap_or(line).trim_end())
}

/// The entries of `.env` text as `NAME=***` lines; with `before`, a value that differs from the
/// same name's value there is marked `(changed)`. Text that does not parse is not shown at all.
fn masked_entries(text: &str, before: Option<&str>) -> String {
    let before: std::collections::BTreeMap<String, String> = before
        .and_then(|b| crate::config::dotenv::parse(b).ok())
        .map(|entries| entries.into_iter().collect())
        .unwrap_or_default();
    match crate::config::dotenv::parse(text) {
        Ok(entries) => entries
            .into_iter()
            .map(|(name, value)| match before.get(&name) {
                Some(old) if *old != value => format!("{name}=*** (changed)\n"),
                _ => format!("{name}=***\n"),
            })
            .collect(),
        Err((line, _)) => format!("(line {line} does not parse; its contents are not shown)\n"),
    }
}

fn read(root: &Path, path: &str) -> Option<String> {
    std::fs::read_to_string(root.join(path)).ok()
}

fn change(root: &Path, path: &str, new: String) -> Change {
    Change {
        path: PathBuf::from(path),
        old: read(root, path),
        new,
        private: false,
        append_only: false,
    }
}

/// Every file `init` would write for `values` in the workspace at `root`, and what the user has
/// to do by hand (said, not written).
pub fn plan(
    root: &Path,
    values: &Values,
    extras: &Extras,
) -> Result<(Vec<Change>, Vec<String>), Error> {
    let mut notes = Vec::new();
    let context = minijinja::Value::from(minijinja::value::Serde(values));
    let mut changes = Vec::new();
    let kinde_toml = match read(root, crate::config::FILE_NAME) {
        Some(existing) => edit_kinde_toml(&existing, values)?,
        None => templates::render(templates::KINDE_TOML, context.clone())?,
    };
    changes.push(change(root, crate::config::FILE_NAME, kinde_toml));
    changes.push(Change {
        private: true,
        ..change(root, ".env", dotenv(root, values))
    });
    changes.push(change(
        root,
        ".env.example",
        templates::render(templates::ENV_EXAMPLE, context)?,
    ));
    // `.env.<profile>` files hold a profile's secrets as `.env` does.
    let mut ignore = vec![".env".to_string(), ".env.*".to_string()];
    ignore.extend(extras.ignore.iter().cloned());
    changes.push(Change {
        append_only: true,
        ..change(
            root,
            ".gitignore",
            gitignore(read(root, ".gitignore"), &ignore),
        )
    });
    if extras.xtask {
        let ctx =
            minijinja::context! { dependency => extras.source.dependency().to_string().trim() };
        changes.push(change(
            root,
            "xtask/Cargo.toml",
            templates::render(templates::XTASK_MANIFEST, ctx.clone())?,
        ));
        changes.push(change(
            root,
            "xtask/src/main.rs",
            templates::render(templates::XTASK_MAIN, ctx)?,
        ));
        // Both only add an entry to files that exist (formatting kept): asked for by --xtask.
        if let Some(manifest) = read(root, "Cargo.toml") {
            changes.push(Change {
                append_only: true,
                ..change(
                    root,
                    "Cargo.toml",
                    add_workspace_member(&manifest, "xtask")?,
                )
            });
        }
        let config = read(root, ".cargo/config.toml").unwrap_or_default();
        changes.push(Change {
            append_only: true,
            ..change(root, ".cargo/config.toml", add_alias(&config)?)
        });
    }
    if let Some(kind) = extras.ci {
        // CI services read their file only at the repository's top level, which is the
        // workspace's or above it (a monorepo): `up` leads there from the workspace.
        let dir = extras
            .repository
            .as_ref()
            .and_then(|r| r.dir_of(root))
            .unwrap_or_default();
        let up: PathBuf = dir
            .split('/')
            .filter(|p| !p.is_empty())
            .map(|_| "..")
            .collect();
        let pipeline = ci::Pipeline {
            xtask: extras.xtask,
            source: extras.source.clone(),
            emulator: extras.emulator,
            branch: extras
                .repository
                .as_ref()
                .map_or_else(|| "main".into(), |r| r.default_branch.clone()),
            dir,
        };
        let (path, text) = ci::render(kind, &pipeline)?;
        let at_top = |path: &str| up.join(path).display().to_string();
        changes.push(change(root, &at_top(path), text));
        if kind == ci::Ci::Gitlab {
            let file = at_top(ci::GITLAB_CI);
            let existing = read(root, &file);
            match ci::gitlab_include(existing.as_deref()) {
                ci::GitlabInclude::Write(text) => changes.push(Change {
                    append_only: true,
                    ..change(root, &file, text)
                }),
                ci::GitlabInclude::Present => {
                    changes.push(change(root, &file, existing.unwrap_or_default()));
                }
                ci::GitlabInclude::AddByHand(note) => notes.push(note),
            }
        }
    }
    Ok((changes, notes))
}

/// `kinde.toml` with the values set, keeping the user's comments, order and other keys.
pub fn edit_kinde_toml(existing: &str, values: &Values) -> Result<String, Error> {
    use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};
    let mut doc: DocumentMut = existing.parse().map_err(|e| {
        Error::input(format!("kinde.toml is not valid TOML: {e}"))
            .with_hint("fix it, or move it away and run init again")
    })?;
    for table in ["tenant", "management", "app"] {
        if doc.get(table).is_none() {
            doc[table] = Item::Table(Table::new());
        }
    }
    // Each key is replaced only when its value differs, keeping the comment after it.
    let mut set = |table: &str, key: &str, new: toml_edit::Value| {
        let current = doc
            .get(table)
            .and_then(|t| t.get(key))
            .and_then(Item::as_value);
        let mut new = new;
        match current {
            Some(old) if same_value(old, &new) => return,
            Some(old) => *new.decor_mut() = old.decor().clone(),
            None => {}
        }
        doc[table][key] = Item::Value(new);
    };
    set("tenant", "domain", values.domain.as_str().into());
    set(
        "management",
        "client_id",
        values.management_client_id.as_str().into(),
    );
    set("app", "client_id", values.app_client_id.as_str().into());
    for (key, urls) in [
        ("callback_urls", &values.callback_urls),
        ("logout_urls", &values.logout_urls),
    ] {
        let urls: Array = urls.iter().map(String::as_str).collect();
        set("app", key, urls.into());
    }
    let known: Vec<String> = doc
        .get("apis")
        .and_then(Item::as_array_of_tables)
        .map(|apis| {
            apis.iter()
                .filter_map(|t| t.get("audience").and_then(Item::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for api in values.apis.iter().filter(|a| !known.contains(&a.audience)) {
        let mut table = Table::new();
        table["name"] = value(api.name.as_str());
        table["audience"] = value(api.audience.as_str());
        table["scopes"] = value(Array::new());
        table["authorize"] = value(["app", "management"].into_iter().collect::<Array>());
        match doc.get_mut("apis").and_then(Item::as_array_of_tables_mut) {
            Some(apis) => apis.push(table),
            None => {
                let mut apis = ArrayOfTables::new();
                apis.push(table);
                doc["apis"] = Item::ArrayOfTables(apis);
            }
        }
    }
    Ok(doc.to_string())
}

/// Whether two TOML values are equal whatever their formatting (quotes, spacing, comments).
fn same_value(a: &toml_edit::Value, b: &toml_edit::Value) -> bool {
    match (a, b) {
        (toml_edit::Value::Array(a), toml_edit::Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(a, b)| same_value(a, b))
        }
        _ => a.as_str().is_some() && a.as_str() == b.as_str(),
    }
}

/// `.env` with the values set, other lines kept.
fn dotenv(root: &Path, values: &Values) -> String {
    let mut set: Vec<(&str, String)> = vec![
        ("KINDE_DOMAIN", values.domain.clone()),
        (
            "KINDE_MANAGEMENT_CLIENT_ID",
            values.management_client_id.clone(),
        ),
        ("KINDE_CLIENT_ID", values.app_client_id.clone()),
    ];
    if let Some(secret) = &values.management_client_secret {
        set.push((
            "KINDE_MANAGEMENT_CLIENT_SECRET",
            secret.expose().to_string(),
        ));
    }
    if let Some(secret) = &values.app_client_secret {
        set.push(("KINDE_CLIENT_SECRET", secret.expose().to_string()));
    }
    crate::config::dotenv::merge(&read(root, ".env").unwrap_or_default(), &set)
}

/// `.gitignore` with `lines` appended where missing (never duplicated). Appending `.env.*` would
/// hide files a `!` line un-ignores before it (in .gitignore the last matching line wins), so
/// those lines, and `!.env.example` (init writes it to be committed), follow it again.
pub fn gitignore(existing: Option<String>, lines: &[String]) -> String {
    let mut text = existing.unwrap_or_default();
    let has = |text: &str, line: &str| {
        text.lines()
            .any(|l| l.trim() == line || l.trim() == format!("/{line}"))
    };
    let mut missing: Vec<String> = lines.iter().filter(|l| !has(&text, l)).cloned().collect();
    let wildcard = lines.iter().any(|l| l == ".env.*");
    if missing.iter().any(|l| l == ".env.*") {
        let mut negations = vec!["!.env.example".to_string()];
        for line in text.lines().map(str::trim) {
            let name = line.strip_prefix('!').map(|n| n.trim_start_matches('/'));
            if name.is_some_and(|n| n.starts_with(".env.")) && !negations.iter().any(|n| n == line)
            {
                negations.push(line.to_string());
            }
        }
        missing.extend(negations);
    } else if wildcard && !has(&text, "!.env.example") {
        missing.push("!.env.example".into());
    }
    if missing.is_empty() {
        return text;
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# Kinde secrets and local state (cargo kinde init)\n");
    for line in missing {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// The workspace manifest with `member` added, formatting kept.
pub fn add_workspace_member(manifest: &str, member: &str) -> Result<String, Error> {
    use toml_edit::{Array, DocumentMut, Item, value};
    let mut doc: DocumentMut = manifest
        .parse()
        .map_err(|e| Error::input(format!("Cargo.toml is not valid TOML: {e}")))?;
    let has_package = doc.get("package").is_some();
    let members = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("members"))
        .and_then(Item::as_array_mut);
    match members {
        Some(members) => {
            if !members.iter().any(|m| m.as_str() == Some(member)) {
                members.push(member);
            }
        }
        None => {
            let mut list = Array::new();
            if has_package {
                list.push(".");
            }
            list.push(member);
            if doc.get("workspace").is_none() {
                doc["workspace"] = Item::Table(toml_edit::Table::new());
            }
            doc["workspace"]["members"] = value(list);
        }
    }
    Ok(doc.to_string())
}

/// `.cargo/config.toml` with the `xtask` alias, everything else kept.
fn add_alias(config: &str) -> Result<String, Error> {
    use toml_edit::{DocumentMut, value};
    let mut doc: DocumentMut = config
        .parse()
        .map_err(|e| Error::input(format!(".cargo/config.toml is not valid TOML: {e}")))?;
    if doc.get("alias").is_none() {
        doc["alias"] = toml_edit::Item::Table(toml_edit::Table::new());
    }
    if doc.get("alias").and_then(|a| a.get("xtask")).is_none() {
        doc["alias"]["xtask"] = value("run --package xtask --");
    }
    Ok(doc.to_string())
}

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Created.
    Created,
    /// Edited or replaced.
    Updated,
    /// Already as wanted.
    Unchanged,
    /// Left alone: it differs and the change was not confirmed.
    Skipped,
}

/// Write the changes `approve` accepts (it sees only those that would overwrite something).
pub fn write(
    root: &Path,
    changes: &[Change],
    mut approve: impl FnMut(&Change) -> Result<bool, Error>,
) -> Result<Vec<(PathBuf, Outcome)>, Error> {
    // Decide everything first: a refusal or Ctrl-C at a prompt leaves every file as it was.
    let mut decided = Vec::new();
    for change in changes {
        let outcome = if !change.changes() {
            Outcome::Unchanged
        } else if change.overwrites() && !approve(change)? {
            Outcome::Skipped
        } else if change.old.is_some() {
            Outcome::Updated
        } else {
            Outcome::Created
        };
        decided.push((change, outcome));
    }
    let mut done = Vec::new();
    for (change, outcome) in decided {
        if matches!(outcome, Outcome::Created | Outcome::Updated) {
            write_file(&root.join(&change.path), &change.new, change.private)?;
        }
        done.push((change.path.clone(), outcome));
    }
    Ok(done)
}

fn write_file(path: &Path, text: &str, private: bool) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::file("create directory", dir, e))?;
    }
    let access = if private {
        crate::files::Access::Private
    } else {
        crate::files::Access::Shared
    };
    crate::files::write(path, text.as_bytes(), access)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            domain: "https://acme.kinde.com".into(),
            management_client_id: "m2m".into(),
            management_client_secret: Some(Secret::new("s3cret")),
            app_client_id: "app".into(),
            app_client_secret: None,
            callback_urls: vec!["http://localhost:3000/api/auth/kinde_callback".into()],
            logout_urls: vec!["http://localhost:3000".into()],
            apis: vec![ApiValue {
                name: "Acme API".into(),
                audience: "https://api.acme.com".into(),
            }],
            login_port: 53180,
        }
    }

    #[test]
    fn the_rendered_kinde_toml_is_valid_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let changes = plan(dir.path(), &values(), &Extras::default()).unwrap().0;
        let toml = &changes[0].new;
        assert!(!toml.contains("s3cret"));
        let file = crate::config::file::File::parse(Path::new("kinde.toml"), toml.clone()).unwrap();
        assert_eq!(
            file.layer.apis.unwrap()[0].audience.get_ref(),
            "https://api.acme.com"
        );
        assert!(
            !changes[2].new.contains("s3cret"),
            ".env.example has no secret"
        );
        assert!(
            changes[1]
                .new
                .contains("KINDE_MANAGEMENT_CLIENT_SECRET=s3cret")
        );
        assert!(
            changes[1]
                .diff()
                .contains("KINDE_MANAGEMENT_CLIENT_SECRET=***")
        );
    }

    #[test]
    fn edits_keep_comments_and_other_keys() {
        let existing =
            "# my notes\n[tenant]\ndomain = \"https://old.kinde.com\" # old\n\n[custom]\nx = 1\n";
        let edited = edit_kinde_toml(existing, &values()).unwrap();
        assert!(edited.starts_with("# my notes\n"), "{edited}");
        assert!(
            edited.contains("domain = \"https://acme.kinde.com\" # old"),
            "{edited}"
        );
        assert!(
            edited.contains("\n[management]\nclient_id = \"m2m\""),
            "{edited}"
        );
        assert!(edited.contains("[custom]\nx = 1"));
        assert!(edited.contains("audience = \"https://api.acme.com\""));
        assert_eq!(
            edit_kinde_toml(&edited, &values()).unwrap(),
            edited,
            "a second edit changes nothing"
        );
    }

    #[test]
    fn workspace_members_and_gitignore_are_added_once() {
        let manifest = "[package]\nname = \"app\" # mine\nversion = \"0.1.0\"\n";
        let once = add_workspace_member(manifest, "xtask").unwrap();
        assert!(once.contains("name = \"app\" # mine"));
        assert!(once.contains("members = [\".\", \"xtask\"]"));
        assert_eq!(add_workspace_member(&once, "xtask").unwrap(), once);
        let ignore = gitignore(Some("target".into()), &[".env".into()]);
        assert_eq!(
            ignore,
            "target\n# Kinde secrets and local state (cargo kinde init)\n.env\n"
        );
        assert_eq!(gitignore(Some(ignore.clone()), &[".env".into()]), ignore);
    }

    #[test]
    fn env_star_is_ignored_and_the_files_un_ignored_before_it_stay_so() {
        let lines = [".env".to_string(), ".env.*".to_string()];
        let mine = "target\n!.env.sample\n.env\n";
        let ignore = gitignore(Some(mine.into()), &lines);
        assert_eq!(
            ignore,
            "target\n!.env.sample\n.env\n# Kinde secrets and local state (cargo kinde init)\n.env.*\n!.env.example\n!.env.sample\n"
        );
        assert_eq!(gitignore(Some(ignore.clone()), &lines), ignore, "once");
        // `.env.*` already there without the exception: only the exception is added, after it.
        assert_eq!(
            gitignore(Some(".env\n.env.*\n".into()), &lines),
            ".env\n.env.*\n# Kinde secrets and local state (cargo kinde init)\n!.env.example\n"
        );
    }

    #[test]
    fn the_diff_is_a_unified_diff_with_context_and_masked_secrets() {
        let change = Change {
            path: PathBuf::from(".env"),
            old: Some("A=1\nB=2\nC=3\nD=4\nSECRET=old\n".into()),
            new: "A=1\nB=2\nC=3\nD=4\nSECRET=new\nE=5\n".into(),
            private: true,
            append_only: false,
        };
        let diff = change.diff();
        assert!(diff.starts_with("--- .env\n+++ .env\n"), "{diff}");
        assert!(
            diff.contains("@@ -2,4 +2,5 @@\n B=***\n C=***\n D=***\n-SECRET=***\n+SECRET=*** (changed)\n+E=***\n"),
            "context lines around the change, and a changed value shows: {diff}"
        );
        assert!(!diff.contains("old") && !diff.contains("new"), "{diff}");
        // A multi-line value never shows, on either side, whatever its lines look like.
        let multi = Change {
            path: PathBuf::from(".env"),
            old: Some("KEY=\"-----BEGIN KEY-----\nMIIEsecretline2\nB=looks-like-an-entry\n-----END KEY-----\"\n".into()),
            new: "KEY=\"-----BEGIN KEY-----\nMIIEsecretline2\nB=looks-like-an-entry\n-----END KEY-----\"\nKINDE_DOMAIN=x\n".into(),
            private: true,
            append_only: false,
        };
        let diff = multi.diff();
        assert!(diff.contains(" KEY=***\n+KINDE_DOMAIN=***\n"), "{diff}");
        for leaked in ["MIIE", "looks-like", "END KEY"] {
            assert!(!diff.contains(leaked), "{leaked} in {diff}");
        }
        let toml = Change {
            path: PathBuf::from("kinde.toml"),
            old: Some("a = 1\nb = 2\n".into()),
            new: "a = 1\nb = 3\n".into(),
            private: false,
            append_only: false,
        };
        let diff = toml.diff();
        assert!(diff.contains(" a = 1\n-b = 2\n+b = 3\n"), "{diff}");
    }

    #[test]
    fn api_names_with_quotes_are_escaped_in_kinde_toml() {
        let dir = tempfile::tempdir().unwrap();
        let mut values = values();
        values.apis = vec![ApiValue::parse(r#"Orders "v2" \ #1=https://api.acme.com"#).unwrap()];
        let changes = plan(dir.path(), &values, &Extras::default()).unwrap().0;
        let file =
            crate::config::file::File::parse(Path::new("kinde.toml"), changes[0].new.clone())
                .unwrap();
        assert_eq!(
            file.layer.apis.unwrap()[0].name.get_ref(),
            r#"Orders "v2" \ #1"#
        );
        assert!(ApiValue::parse(&format!("{}=aud", "x".repeat(65))).is_err());
    }

    #[test]
    fn kinde_toml_diffs_name_the_table_of_each_change_and_show_an_added_api_whole() {
        let dir = tempfile::tempdir().unwrap();
        let first = plan(dir.path(), &values(), &Extras::default()).unwrap().0[0]
            .new
            .clone();
        let mut changed = values();
        changed.management_client_id = "m2m-new".into();
        changed.apis.push(ApiValue {
            name: "Billing API".into(),
            audience: "https://billing.acme.com".into(),
        });
        let change = Change {
            path: PathBuf::from("kinde.toml"),
            old: Some(first.clone()),
            new: edit_kinde_toml(&first, &changed).unwrap(),
            private: false,
            append_only: false,
        };
        let diff = change.diff();
        assert!(
            diff.contains(" @@ [management]\n")
                && diff.contains("-client_id = \"m2m\"\n+client_id = \"m2m-new\"\n"),
            "{diff}"
        );
        assert!(
            diff.contains(
                "\n+[[apis]]\n+name = \"Billing API\"\n+audience = \"https://billing.acme.com\"\n"
            ),
            "{diff}"
        );
        // A change deep in a table still names it, however far its header is.
        let urls = Change {
            new: first.replace(
                "logout_urls = [\"http://localhost:3000\"]",
                "logout_urls = [\"http://localhost:4000\"]",
            ),
            ..change
        };
        assert!(urls.diff().contains(" @@ [app]\n"), "{}", urls.diff());
    }
}
