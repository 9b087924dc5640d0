//! The environment layer: `.env` below the process environment, read by Kinde's own variable
//! names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Config, Setting, Source, Warning, dotenv};
use crate::error::Error;
use crate::secret::Secret;
use crate::urls::Issuer;

/// The Kinde domain (first match wins).
pub const DOMAIN: &[&str] = &["KINDE_DOMAIN", "KINDE_ISSUER_URL"];
/// The management M2M app's client id.
pub const MANAGEMENT_CLIENT_ID: &[&str] = &["KINDE_MANAGEMENT_CLIENT_ID", "KINDE_M2M_CLIENT_ID"];
/// The management M2M app's client secret.
pub const MANAGEMENT_CLIENT_SECRET: &[&str] =
    &["KINDE_MANAGEMENT_CLIENT_SECRET", "KINDE_M2M_CLIENT_SECRET"];
/// The user-facing app's client id.
pub const CLIENT_ID: &[&str] = &["KINDE_CLIENT_ID"];
/// The user-facing app's client secret (back-end apps).
pub const CLIENT_SECRET: &[&str] = &["KINDE_CLIENT_SECRET"];
/// Audiences, space-separated.
pub const AUDIENCE: &[&str] = &["KINDE_AUDIENCE"];
/// The profile to use.
pub const PROFILE: &str = "KINDE_PROFILE";

/// Reads variables: the process environment, or a fixed map in tests.
pub trait EnvReader {
    /// The value of `name`, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvReader for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl EnvReader for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.trim().is_empty()).cloned()
    }
}

/// The `.env` files of a project root, read once: `.env`, then `.env.<profile>` over it.
pub(super) struct DotEnv {
    /// Each file read, lowest first: `.env`, then the profile's.
    files: Vec<(PathBuf, BTreeMap<String, String>)>,
}

impl DotEnv {
    /// Read `root/.env` and, for a profile, `root/.env.<profile>` (absent files are fine; a line
    /// that does not parse is an error).
    pub(super) fn read(root: &Path, profile: Option<&str>) -> Result<DotEnv, Error> {
        let mut files = Vec::new();
        let names = std::iter::once(".env".to_string()).chain(profile.and_then(profile_file_name));
        for name in names {
            let path = root.join(name);
            // Later lines win, as when a shell sources the file.
            if let Some(pairs) = dotenv::read(&path)? {
                files.push((path, pairs.into_iter().collect()));
            }
        }
        Ok(DotEnv { files })
    }

    /// `.env`, if there is one.
    pub(super) fn path(&self) -> Option<&Path> {
        self.files
            .iter()
            .map(|(path, _)| path.as_path())
            .find(|path| path.file_name().is_some_and(|n| n == ".env"))
    }

    /// `.env.<profile>`, if there is one.
    pub(super) fn profile_path(&self) -> Option<&Path> {
        self.files
            .iter()
            .map(|(path, _)| path.as_path())
            .find(|path| path.file_name().is_some_and(|n| n != ".env"))
    }
}

/// The file holding a profile's secrets: `.env.<profile>`, for a name [`check_profile_name`]
/// accepts.
pub fn profile_file_name(profile: &str) -> Option<String> {
    check_profile_name(profile)
        .is_ok()
        .then(|| format!(".env.{profile}"))
}

/// Whether `name` can be a profile: it names the file `.env.<name>`, so only ASCII letters,
/// digits, `-` and `_` (a `.` makes `.env.a.b` ambiguous, a `/` or `..` makes it a path), and not
/// `example` (`.env.example` is the committed template, never secrets). The error says what is
/// wrong with the name and suggests one that works.
pub fn check_profile_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain && name != "example" {
        return Ok(());
    }
    let suggestion: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let suggestion = suggestion.trim_matches('-');
    let suggestion = if suggestion.is_empty() || suggestion == "example" {
        "staging"
    } else {
        suggestion
    };
    let why = if name == "example" {
        "`.env.example` is the committed template, so it cannot hold the profile's secrets"
    } else {
        "a profile's secrets file is `.env.<profile>`, so its name may hold only ASCII letters, digits, `-` and `_`"
    };
    Err(format!(
        "profile name `{}` is not allowed: {why}; rename it, e.g. `{suggestion}`",
        name.escape_debug()
    ))
}

/// `--profile NAME` as clap parses it: refused at once when [`check_profile_name`] refuses it.
pub fn parse_profile(name: &str) -> Result<String, String> {
    check_profile_name(name).map(|()| name.to_string())
}

/// `.env` files then the process environment, the latter winning.
struct Layered<'a> {
    dotenv: &'a DotEnv,
    process: &'a dyn EnvReader,
}

impl Layered<'_> {
    fn get(&self, names: &[&str]) -> Option<(String, Source)> {
        for name in names {
            if let Some(v) = self.process.var(name) {
                return Some((v, Source::Env((*name).to_string())));
            }
        }
        // The profile's file first: it comes after `.env`.
        for (path, map) in self.dotenv.files.iter().rev() {
            for name in names {
                if let Some(v) = map.var(name) {
                    return Some((
                        v,
                        Source::DotEnv {
                            path: path.clone(),
                            var: (*name).to_string(),
                        },
                    ));
                }
            }
        }
        None
    }
}

impl Config {
    /// The configuration the environment alone gives: `root/.env` below `process_env`, with no
    /// `kinde.toml` (what `init` starts from, before there is one).
    pub fn from_environment(root: PathBuf, process_env: &dyn EnvReader) -> Result<Config, Error> {
        let dotenv = DotEnv::read(&root, None)?;
        let mut config = Config::empty(root);
        config.dotenv = dotenv.path().map(Path::to_path_buf);
        config.apply_env(&dotenv, process_env)?;
        Ok(config)
    }

    /// Lay `.env` and the process environment over what the file layers set.
    pub(super) fn apply_env(
        &mut self,
        dotenv: &DotEnv,
        process_env: &dyn EnvReader,
    ) -> Result<(), Error> {
        let env = Layered {
            dotenv,
            process: process_env,
        };
        if let Some((value, source)) = env.get(DOMAIN) {
            let issuer = Issuer::parse(&value).map_err(|e| {
                Error::input(format!("{source}: {e}"))
                    .with_hint("set KINDE_DOMAIN to your Kinde domain, e.g. https://acme.kinde.com")
            })?;
            if let Some(warning) = self.domain_overridden(&issuer, &source, dotenv) {
                self.warnings.push(warning);
            }
            self.domain = Some(Setting::new(issuer, source));
        }
        if let Some((value, source)) = env.get(MANAGEMENT_CLIENT_ID) {
            self.management_client_id = Some(Setting::new(value, source));
        }
        if let Some((value, source)) = env.get(MANAGEMENT_CLIENT_SECRET) {
            self.management_client_secret = Some(Setting::new(Secret::new(value), source));
        }
        if let Some((value, source)) = env.get(CLIENT_ID) {
            self.app_client_id = Some(Setting::new(value, source));
        }
        if let Some((value, source)) = env.get(CLIENT_SECRET) {
            self.app_client_secret = Some(Setting::new(Secret::new(value), source));
        }
        if let Some((value, source)) = env.get(AUDIENCE) {
            let audiences = value.split_whitespace().map(String::from).collect();
            self.audience = Some(Setting::new(audiences, source));
        }
        Ok(())
    }
}

impl Config {
    /// The warning due when `source` sets the domain to `issuer` over another one `kinde.toml`
    /// set: `register` would otherwise change a tenant the file does not name, and only the plan
    /// header would say so. A profile's own `.env.<profile>` is where its domain may be, so it
    /// overrides silently.
    fn domain_overridden(
        &self,
        issuer: &Issuer,
        source: &Source,
        dotenv: &DotEnv,
    ) -> Option<Warning> {
        let Setting {
            value,
            source: Source::File { path, profile, .. },
        } = self.domain.as_ref()?
        else {
            return None;
        };
        if value == issuer {
            return None;
        }
        if let Source::DotEnv { path: from, .. } = source
            && Some(from.as_path()) == dotenv.profile_path()
        {
            return None;
        }
        Some(match profile {
            Some(profile) => Warning::EnvOverridesProfileDomain {
                source: source.clone(),
                profile: profile.clone(),
            },
            None => Warning::EnvOverridesFileDomain {
                source: source.clone(),
                file: path.clone(),
                domain: value.to_string(),
            },
        })
    }
}
