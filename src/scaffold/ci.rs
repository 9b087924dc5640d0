//! The CI files `init --ci` writes, and where cargo-kinde comes from in them and in the xtask.

use std::path::{Path, PathBuf};

use super::templates;
use crate::error::Error;

/// The GitHub actions the workflow uses, each at a major that runs on a supported runtime
/// (node24; node20 is removed from runners on 2026-09-23). The one place to bump them.
/// checkout v7 and upload-artifact v7 declare `using: node24`; rust-cache v2 (2.9.x) too;
/// dtolnay/rust-toolchain is a composite action (no node runtime), its `stable` branch the
/// toolchain; action-junit-report v6 declares node24.
pub const GITHUB_ACTIONS: &[(&str, &str)] = &[
    ("checkout", "actions/checkout@v7"),
    ("rust_toolchain", "dtolnay/rust-toolchain@stable"),
    ("rust_cache", "Swatinem/rust-cache@v2"),
    ("upload_artifact", "actions/upload-artifact@v7"),
    ("junit_report", "mikepenz/action-junit-report@v6"),
];

/// Whether this version of cargo-kinde is on crates.io: until it is, `init` says that the
/// default source (the release) cannot be installed yet. Set it when publishing.
pub const PUBLISHED: bool = false;

/// CI systems `init` writes a pipeline for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    /// GitHub Actions: `.github/workflows/kinde-smoke.yml`.
    Github,
    /// GitLab CI: `.gitlab/kinde-smoke.yml`, included from `.gitlab-ci.yml`.
    Gitlab,
}

/// The file GitLab reads, which includes [`GITLAB_JOB`] (the user's own jobs stay in it).
pub const GITLAB_CI: &str = ".gitlab-ci.yml";
/// The smoke job's own file, so `init` never has to rewrite the user's `.gitlab-ci.yml`.
pub const GITLAB_JOB: &str = ".gitlab/kinde-smoke.yml";

impl Ci {
    /// Every CI system, for tests that render each variant.
    pub const ALL: [Ci; 2] = [Ci::Github, Ci::Gitlab];

    /// Where its file goes, relative to the repository's top level (the only place the CI
    /// service reads it from).
    pub fn path(self) -> &'static str {
        match self {
            Ci::Github => ".github/workflows/kinde-smoke.yml",
            Ci::Gitlab => GITLAB_JOB,
        }
    }

    fn template(self) -> &'static str {
        match self {
            Ci::Github => templates::GITHUB_WORKFLOW,
            Ci::Gitlab => templates::GITLAB_CI,
        }
    }
}

/// What the pipeline depends on besides the CI system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// Run smoke through the workspace's xtask (else install cargo-kinde from `source`).
    pub xtask: bool,
    /// Where cargo-kinde comes from.
    pub source: Source,
    /// The tenant is cargo-kinde's emulator: smoke starts it in the job (`--emulator`), so the
    /// job needs no secrets (nothing listens at kinde.toml's loopback domain in CI).
    pub emulator: bool,
    /// The cargo workspace's directory inside the repository, `/`-separated; empty at the top.
    pub dir: String,
    /// The branch whose pushes run the job (the repository's default branch).
    pub branch: String,
}

impl Pipeline {
    /// A pipeline at the repository's top level on `main`, against a real tenant.
    pub fn new(xtask: bool, source: Source) -> Pipeline {
        Pipeline {
            xtask,
            source,
            emulator: false,
            dir: String::new(),
            branch: "main".into(),
        }
    }

    /// `name` inside the workspace directory, relative to the repository's top level.
    fn in_dir(&self, name: &str) -> String {
        if self.dir.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.dir)
        }
    }
}

/// Where the repository's top level is and which branch is its default, as git says; `None`
/// outside a git work tree (the CI file is then written at the workspace root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The top level of the work tree.
    pub top: PathBuf,
    /// `origin`'s default branch, else `init.defaultBranch`, else `main`.
    pub default_branch: String,
}

impl Repository {
    /// The git repository `dir` is in, if any (git missing counts as none).
    pub fn of(dir: &Path) -> Option<Repository> {
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
        let default_branch = git(&["symbolic-ref", "--short", "refs/remotes/origin/HEAD"])
            .map(|r| r.strip_prefix("origin/").unwrap_or(&r).to_string())
            .or_else(|| git(&["config", "init.defaultBranch"]))
            .unwrap_or_else(|| "main".into());
        Some(Repository {
            top,
            default_branch,
        })
    }

    /// `workspace` relative to the top level, `/`-separated (empty when it is the top), or
    /// `None` when it is not inside it.
    pub fn dir_of(&self, workspace: &Path) -> Option<String> {
        let top = self.top.canonicalize().ok()?;
        let workspace = workspace.canonicalize().ok()?;
        let inside = workspace.strip_prefix(&top).ok()?;
        let parts: Option<Vec<&str>> = inside
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect();
        Some(parts?.join("/"))
    }
}

/// Where cargo-kinde comes from: the xtask's dependency, or what CI installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A version from crates.io.
    Version(String),
    /// A git repository, at a revision (commit, tag or branch) or its default branch.
    Git {
        /// The repository URL.
        url: String,
        /// `rev` of the dependency, `--rev` of `cargo install`.
        rev: Option<String>,
    },
    /// A local directory (a checkout of cargo-kinde, e.g. vendored in the repository).
    Path(PathBuf),
}

impl Source {
    /// This build's own version, from crates.io.
    pub fn released() -> Source {
        Source::Version(env!("CARGO_PKG_VERSION").into())
    }

    /// The arguments of `cargo install` for it, shell-quoted.
    pub fn install_args(&self) -> String {
        match self {
            Source::Version(v) => format!("--version {}", shell_quote(v)),
            Source::Git { url, rev } => {
                let mut args = format!("--git {}", shell_quote(url));
                if let Some(rev) = rev {
                    args.push_str(&format!(" --rev {}", shell_quote(rev)));
                }
                args
            }
            Source::Path(path) => format!("--path {}", shell_quote(&path.display().to_string())),
        }
    }

    /// The dependency of the xtask's Cargo.toml, as a TOML value: a relative directory is
    /// relative to the workspace root, so one level up from `xtask/`.
    pub fn dependency(&self) -> toml_edit::Value {
        let mut table = toml_edit::InlineTable::new();
        match self {
            Source::Version(v) => return toml_edit::Value::from(v.as_str()),
            Source::Git { url, rev } => {
                table.insert("git", url.as_str().into());
                if let Some(rev) = rev {
                    table.insert("rev", rev.as_str().into());
                }
            }
            Source::Path(path) => {
                let path = if path.is_relative() {
                    std::path::Path::new("..").join(path)
                } else {
                    path.clone()
                };
                table.insert("path", path.display().to_string().into());
            }
        }
        toml_edit::Value::InlineTable(table)
    }
}

/// `text` as one shell word: unchanged when it is plainly safe, else single-quoted.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@=+,%".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The pipeline file for `ci` (its path relative to the repository's top level): the smoke job
/// (through the xtask when there is one, else with cargo-kinde installed from the source), its
/// JUnit report kept and shown, and a commented deploy job gated on it.
pub fn render(ci: Ci, pipeline: &Pipeline) -> Result<(&'static str, String), Error> {
    let actions: std::collections::BTreeMap<&str, &str> = GITHUB_ACTIONS.iter().copied().collect();
    let kinde = if pipeline.xtask {
        "cargo xtask kinde"
    } else {
        "cargo kinde"
    };
    let smoke = format!(
        "{kinde} smoke{} --format junit --output kinde-smoke.xml",
        if pipeline.emulator { " --emulator" } else { "" }
    );
    let context = minijinja::context! {
        actions => actions,
        xtask => pipeline.xtask,
        kinde => kinde,
        smoke => smoke,
        emulator => pipeline.emulator,
        install => pipeline.source.install_args(),
        dir => &pipeline.dir,
        branch => &pipeline.branch,
        // The smoke report, and the drift check's against a tenant (kinde-drift.xml).
        reports => pipeline.in_dir(if pipeline.emulator { "kinde-smoke.xml" } else { "kinde-*.xml" }),
        lock_file => pipeline.in_dir("Cargo.lock"),
        target => pipeline.in_dir("target/"),
        job_file => GITLAB_JOB,
    };
    Ok((ci.path(), templates::render(ci.template(), context)?))
}

/// What becomes of the user's `.gitlab-ci.yml` so that it includes [`GITLAB_JOB`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitlabInclude {
    /// The file to write: a new one with only the include, or the old one with the include
    /// appended (nothing of it changed).
    Write(String),
    /// It includes the job already.
    Present,
    /// It has an `include:` of its own, which a second one would break: the user adds the line.
    AddByHand(String),
}

/// How `.gitlab-ci.yml` (its text if it exists) gets the include of the smoke job.
pub fn gitlab_include(existing: Option<&str>) -> GitlabInclude {
    let entry = format!("  - local: {GITLAB_JOB}\n");
    let Some(text) = existing else {
        return GitlabInclude::Write(format!(
            "# The Kinde smoke test (`cargo kinde init --ci gitlab`) is in {GITLAB_JOB}; your own jobs go here.\ninclude:\n{entry}"
        ));
    };
    if text.contains(GITLAB_JOB) {
        return GitlabInclude::Present;
    }
    if text.lines().any(|l| l.starts_with("include:")) {
        return GitlabInclude::AddByHand(format!(
            "{GITLAB_CI} has an `include:` already: add `- local: {GITLAB_JOB}` to it"
        ));
    }
    let mut text = text.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "\n# The Kinde smoke test, written by `cargo kinde init --ci gitlab`.\ninclude:\n{entry}"
    ));
    GitlabInclude::Write(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_arguments_and_dependencies_follow_the_source() {
        assert_eq!(
            Source::Version("1.2.3".into()).install_args(),
            "--version 1.2.3"
        );
        let git = Source::Git {
            url: "https://github.com/acme/cargo-kinde".into(),
            rev: Some("v0.1.0".into()),
        };
        assert_eq!(
            git.install_args(),
            "--git https://github.com/acme/cargo-kinde --rev v0.1.0"
        );
        assert_eq!(
            git.dependency().to_string().trim(),
            r#"{ git = "https://github.com/acme/cargo-kinde", rev = "v0.1.0" }"#
        );
        let path = Source::Path("vendor/cargo kinde's".into());
        assert_eq!(path.install_args(), r"--path 'vendor/cargo kinde'\''s'");
        assert_eq!(
            Source::released().dependency().to_string().trim(),
            format!("\"{}\"", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn every_action_runs_on_a_major_in_the_one_table() {
        for ci in Ci::ALL {
            let (_, text) = render(ci, &Pipeline::new(false, Source::released())).unwrap();
            for line in text.lines().filter(|l| l.contains("uses:")) {
                let action = line.split("uses:").nth(1).unwrap_or("").trim();
                assert!(
                    GITHUB_ACTIONS.iter().any(|(_, a)| *a == action),
                    "{action} is not in GITHUB_ACTIONS"
                );
            }
        }
    }
}
