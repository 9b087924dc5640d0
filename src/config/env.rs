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

/// The `.env` in a project root, read once.
pub(super) struct DotEnv {
    path: PathBuf,
    values: Option<BTreeMap<String, String>>,
}

impl DotEnv {
    /// Read `root/.env` (absent is fine; a line that does not parse is an error).
    pub(super) fn read(root: &Path) -> Result<DotEnv, Error> {
        let path = root.join(".env");
        // Later lines win, as when a shell sources the file.
        let values = dotenv::read(&path)?.map(|pairs| pairs.into_iter().collect());
        Ok(DotEnv { path, values })
    }

    /// The file, if there is one.
    pub(super) fn path(&self) -> Option<&Path> {
        self.values.as_ref().map(|_| self.path.as_path())
    }
}

/// `.env` then the process environment, the latter winning.
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
        let map = self.dotenv.values.as_ref()?;
        for name in names {
            if let Some(v) = map.var(name) {
                return Some((
                    v,
                    Source::DotEnv {
                        path: self.dotenv.path.clone(),
                        var: (*name).to_string(),
                    },
                ));
            }
        }
        None
    }
}

impl Config {
    /// The configuration the environment alone gives: `root/.env` below `process_env`, with no
    /// `kinde.toml` (what `init` starts from, before there is one).
    pub fn from_environment(root: PathBuf, process_env: &dyn EnvReader) -> Result<Config, Error> {
        let dotenv = DotEnv::read(&root)?;
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
            if let Some(Setting {
                source:
                    Source::File {
                        profile: Some(profile),
                        ..
                    },
                ..
            }) = &self.domain
            {
                self.warnings.push(Warning::EnvOverridesProfileDomain {
                    source: source.clone(),
                    profile: profile.clone(),
                });
            }
            let issuer = Issuer::parse(&value).map_err(|e| {
                Error::input(format!("{source}: {e}"))
                    .with_hint("set KINDE_DOMAIN to your Kinde domain, e.g. https://acme.kinde.com")
            })?;
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
