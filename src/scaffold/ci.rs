//! The CI files `init --ci` writes, and where cargo-kinde comes from in them and in the xtask.

use std::path::PathBuf;

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

/// CI systems `init` writes a pipeline for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    /// GitHub Actions: `.github/workflows/kinde-smoke.yml`.
    Github,
    /// GitLab CI: `.gitlab-ci.yml`.
    Gitlab,
}

impl Ci {
    /// Every CI system, for tests that render each variant.
    pub const ALL: [Ci; 2] = [Ci::Github, Ci::Gitlab];

    /// Where its file goes, relative to the workspace root.
    pub fn path(self) -> &'static str {
        match self {
            Ci::Github => ".github/workflows/kinde-smoke.yml",
            Ci::Gitlab => ".gitlab-ci.yml",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Ci::Github => templates::GITHUB_WORKFLOW,
            Ci::Gitlab => templates::GITLAB_CI,
        }
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

/// The pipeline file for `ci`: the smoke job (through the xtask when there is one, else with
/// cargo-kinde installed from `source`), its JUnit report kept and shown, and a commented deploy
/// job gated on it.
pub fn render(ci: Ci, xtask: bool, source: &Source) -> Result<(&'static str, String), Error> {
    let actions: std::collections::BTreeMap<&str, &str> = GITHUB_ACTIONS.iter().copied().collect();
    let context = minijinja::context! {
        actions => actions,
        xtask => xtask,
        kinde => if xtask { "cargo xtask kinde" } else { "cargo kinde" },
        install => source.install_args(),
    };
    Ok((ci.path(), templates::render(ci.template(), context)?))
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
            let (_, text) = render(ci, false, &Source::released()).unwrap();
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
