//! What every command starts from: the effective configuration, the HTTP client and, with
//! `--emulator`, an embedded emulator the configuration points at.

use crate::cli::GlobalArgs;
use crate::config::env::ProcessEnv;
use crate::config::{Config, LoadOptions, Setting, Source, dotenv};
use crate::error::Error;
use crate::secret::Secret;
use crate::ui;

/// A loaded configuration and the resources commands share.
pub struct Context {
    /// The effective configuration.
    pub config: Config,
    /// The process's HTTP client, built on first use: building it loads the system's root
    /// certificates, which costs more than a whole cached `token` run.
    http: std::sync::OnceLock<reqwest::Client>,
    /// The embedded emulator, kept alive for the command's duration.
    #[cfg(feature = "emulator")]
    _emulator: Option<crate::emulator::Emulator>,
}

impl Context {
    /// Load the configuration for `global`.
    pub fn load(global: &GlobalArgs) -> Result<Context, Error> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::input(format!("cannot read the current directory: {e}")))?;
        let options = LoadOptions {
            config_path: global.config.clone(),
            manifest_path: global.manifest_path.clone(),
            profile: global.profile.clone(),
            cwd,
        };
        #[allow(unused_mut)]
        let mut config = Config::load(&options, &ProcessEnv)?;
        if let Some(file) = &config.file {
            ui::debug(&format!("config: {}", file.display()));
        }
        for warning in &config.warnings {
            ui::warn(&warning.to_string());
        }
        #[cfg(feature = "emulator")]
        let emulator = if global.emulator {
            Some(point_at_emulator(&mut config)?)
        } else {
            None
        };
        Ok(Context {
            config,
            http: std::sync::OnceLock::new(),
            #[cfg(feature = "emulator")]
            _emulator: emulator,
        })
    }

    /// The management M2M app's client id and secret, asking on a terminal for what is missing.
    pub fn management_credentials(&mut self) -> Result<(String, Secret), Error> {
        let interactive = ui::settings().interactive;
        let missing_id = self.config.management_client_id.is_none();
        let missing_secret = self.config.management_client_secret.is_none();
        if (missing_id || missing_secret) && !interactive {
            let mut missing = Vec::new();
            if missing_id {
                missing.push("the management app's client id (KINDE_MANAGEMENT_CLIENT_ID, or `client_id` under [management] in kinde.toml)");
            }
            if missing_secret {
                missing.push(if missing_id {
                    "its client secret (KINDE_MANAGEMENT_CLIENT_SECRET)"
                } else {
                    "the management app's client secret (KINDE_MANAGEMENT_CLIENT_SECRET)"
                });
            }
            let them = if missing.len() == 1 { "it" } else { "them" };
            return Err(Error::input(format!("missing {}", missing.join(" and ")))
                .with_hint(format!("set {them} in the environment or in .env next to kinde.toml (Settings > Applications > <M2M app> > App keys), or run in a terminal without --no-input / CI=true to be asked")));
        }
        let mut to_save: Vec<(&str, String)> = Vec::new();
        if missing_id {
            let id = ui::prompt::text("Management (M2M) app client id")?;
            if id.is_empty() {
                return Err(Error::input("no client id was entered"));
            }
            to_save.push(("KINDE_MANAGEMENT_CLIENT_ID", id.clone()));
            self.config.management_client_id = Some(Setting::new(id, Source::Prompt));
        }
        if missing_secret {
            let secret = ui::prompt::secret("Management (M2M) app client secret")?;
            if secret.expose().is_empty() {
                return Err(Error::input("no client secret was entered"));
            }
            to_save.push((
                "KINDE_MANAGEMENT_CLIENT_SECRET",
                secret.expose().to_string(),
            ));
            self.config.management_client_secret = Some(Setting::new(secret, Source::Prompt));
        }
        if !to_save.is_empty() {
            offer_to_save(&self.config, &to_save)?;
        }
        match (
            &self.config.management_client_id,
            &self.config.management_client_secret,
        ) {
            (Some(id), Some(secret)) => Ok((id.value.clone(), secret.value.clone())),
            _ => Err(Error::input("missing the management app's credentials")),
        }
    }
}

/// An HTTP client for `issuer`, trusting the local emulator's CA when `issuer` is that emulator
/// (an `https` loopback URL): what every command that talks to a Kinde domain builds, `init` and
/// `doctor` included. The CA is read only from its private directory (one planted elsewhere is
/// never trusted).
pub fn http_for(issuer: Option<&str>) -> Result<reqwest::Client, Error> {
    let local_ca = issuer
        .filter(|issuer| crate::net::is_local_https(issuer))
        .and_then(|_| crate::net::emulator_tls_dir())
        .and_then(|dir| {
            let file = dir.join(crate::net::EMULATOR_CA_FILE);
            crate::files::read_cached(&dir, &file, 64 * 1024)
                .ok()
                .flatten()
        });
    crate::net::client_for(local_ca.as_deref())
}

impl Context {
    /// The process's HTTP client, built the first time a command is about to make a request.
    pub fn http(&self) -> Result<&reqwest::Client, Error> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        let issuer = self.config.issuer().ok().map(|i| i.as_str().to_string());
        let client = http_for(issuer.as_deref())?;
        Ok(self.http.get_or_init(|| client))
    }

    /// A Management API client with the management app's credentials and the token cache.
    pub fn management_client(&mut self) -> Result<crate::kinde::client::Client, Error> {
        let issuer = self.config.issuer()?.clone();
        let (client_id, client_secret) = self.management_credentials()?;
        let credentials = crate::oauth::ClientCredentials {
            issuer,
            client_id,
            client_secret,
            audiences: Vec::new(),
            scopes: Vec::new(),
        };
        let cache = crate::oauth::cache::TokenCache::open_if_any()?;
        let mut client =
            crate::kinde::client::Client::new(self.http()?.clone(), credentials, cache)
                .with_observer(|event| crate::ui::status(&event.to_string()));
        if let Some(ms) = std::env::var(RETRY_DELAY_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            let policy = crate::kinde::client::RetryPolicy {
                base_delay: std::time::Duration::from_millis(ms),
                ..Default::default()
            };
            client = client.with_retry(policy);
        }
        Ok(client)
    }
}

/// Overrides the first retry delay in milliseconds (tests keep backoff short).
pub const RETRY_DELAY_ENV: &str = "CARGO_KINDE_RETRY_DELAY_MS";

fn offer_to_save(config: &Config, values: &[(&str, String)]) -> Result<(), Error> {
    let path = config.root.join(".env");
    if !ui::prompt::confirm(&format!("Save to {} (mode 0600)?", path.display()), true)? {
        return Ok(());
    }
    dotenv::save(&path, values, "")?;
    ui::status(&format!(
        "saved {} to {}",
        values
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(", "),
        path.display()
    ));
    if !dotenv::gitignore_covers(&config.root) {
        ui::warn(&format!(
            "{} is not in .gitignore: add a line `.env` so the secret is never committed",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(feature = "emulator")]
fn point_at_emulator(config: &mut Config) -> Result<crate::emulator::Emulator, Error> {
    let emulator = crate::emulator::Emulator::spawn(crate::emulator::Options::default())?;
    ui::status(&format!("embedded emulator at {}", emulator.issuer()));
    let tenant = emulator.state().tenant();
    let issuer = crate::urls::Issuer::parse(emulator.issuer()).map_err(Error::input)?;
    config.domain = Some(Setting::new(issuer, Source::Emulator));
    config.custom_domain = None;
    if let Some(app) = tenant.management_app() {
        config.management_client_id = Some(Setting::new(app.id.clone(), Source::Emulator));
        config.management_client_secret = app
            .client_secret
            .clone()
            .map(|s| Setting::new(Secret::new(s), Source::Emulator));
    }
    if let Some(app) = tenant.user_app() {
        config.app_client_id = Some(Setting::new(app.id.clone(), Source::Emulator));
        config.app_client_secret = app
            .client_secret
            .clone()
            .map(|s| Setting::new(Secret::new(s), Source::Emulator));
    }
    Ok(emulator)
}
