//! Configuration: `kinde.toml`, its profiles, `.env` and the environment, layered as
//! defaults < kinde.toml < profile < .env < .env.<profile> < environment < flags, each value
//! remembering where it came from.

pub mod app;
pub mod dotenv;
pub mod env;
pub mod file;
pub mod flags;
pub mod locate;
#[cfg(feature = "cli")]
pub mod record;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::Spanned;

use crate::error::Error;
use crate::secret::Secret;
use crate::urls::Issuer;
use env::{DotEnv, EnvReader};
use file::{File, Layer};
use locate::locate;

/// The file name looked for in the workspace root and its ancestors.
pub const FILE_NAME: &str = "kinde.toml";

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// `kinde.toml` (or a profile in it), at a line and column.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The profile, when the value came from `[profiles.NAME]`.
        profile: Option<String>,
    },
    /// A `.env` file.
    DotEnv {
        /// The file.
        path: PathBuf,
        /// The variable.
        var: String,
    },
    /// The process environment.
    Env(String),
    /// A command-line flag.
    Flag(String),
    /// The embedded emulator (`--emulator`).
    Emulator,
    /// Typed at a prompt.
    Prompt,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File {
                path,
                line,
                column,
                profile: None,
            } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Source::File {
                path,
                line,
                column,
                profile: Some(p),
            } => {
                write!(f, "{}:{line}:{column} (profile {p})", path.display())
            }
            Source::DotEnv { path, var } => write!(f, "{} ({var})", path.display()),
            Source::Env(var) => write!(f, "environment ({var})"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Emulator => f.write_str("embedded emulator"),
            Source::Prompt => f.write_str("prompt"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub source: Source,
}

impl<T> Setting<T> {
    /// A value from `source`.
    pub fn new(value: T, source: Source) -> Self {
        Setting { value, source }
    }
}

/// An API as `kinde.toml` declares it.
#[derive(Debug, Clone, Serialize)]
pub struct Api {
    /// Display name.
    pub name: String,
    /// Audience.
    pub audience: String,
    /// Scopes it defines.
    pub scopes: Vec<String>,
    /// Applications to authorise: `app`, `management` or client ids.
    pub authorize: Vec<String>,
}

/// A permission as `kinde.toml` declares it (`[[permissions]]`).
#[derive(Debug, Clone)]
pub struct Permission {
    /// Kinde's key.
    pub key: String,
    /// Display name (the key when the file gives none).
    pub name: String,
    /// Description; `None` leaves the tenant's as it is.
    pub description: Option<String>,
    /// Where its `key` is.
    pub source: Source,
}

/// A role as `kinde.toml` declares it (`[[roles]]`).
#[derive(Debug, Clone)]
pub struct Role {
    /// Kinde's key.
    pub key: String,
    /// Display name (the key when the file gives none).
    pub name: String,
    /// Description; `None` leaves the tenant's as it is.
    pub description: Option<String>,
    /// Permission keys, each with where it is written (for errors about it).
    pub permissions: Vec<Setting<String>>,
    /// Whether it is the default role for new organization members.
    pub is_default: bool,
    /// Where its `key` is.
    pub source: Source,
}

/// User sign-in settings.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Audiences requested.
    pub audiences: Vec<String>,
    /// `prompt` parameter.
    pub prompt: String,
    /// Loopback callback port (0: any free port).
    pub port: u16,
}

impl Default for Login {
    fn default() -> Self {
        Login {
            scopes: vec!["openid".into(), "email".into(), "offline".into()],
            audiences: Vec::new(),
            prompt: "login".into(),
            port: 53180,
        }
    }
}

/// The effective configuration of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `kinde.toml` read, if any.
    pub file: Option<PathBuf>,
    /// The project root: where `kinde.toml` and `.env` live.
    pub root: PathBuf,
    /// The `.env` read, if any.
    pub dotenv: Option<PathBuf>,
    /// The profile's `.env.<profile>` read, if any (it wins over `.env`).
    pub profile_dotenv: Option<PathBuf>,
    /// The selected profile.
    pub profile: Option<String>,
    /// The Kinde domain (issuer of M2M tokens).
    pub domain: Option<Setting<Issuer>>,
    /// A custom domain for user sign-in.
    pub custom_domain: Option<Setting<Issuer>>,
    /// Management M2M client id.
    pub management_client_id: Option<Setting<String>>,
    /// Management M2M client secret.
    pub management_client_secret: Option<Setting<Secret>>,
    /// User-facing app client id.
    pub app_client_id: Option<Setting<String>>,
    /// User-facing app client secret.
    pub app_client_secret: Option<Setting<Secret>>,
    /// `KINDE_AUDIENCE`.
    pub audience: Option<Setting<Vec<String>>>,
    /// Callback URLs.
    pub callback_urls: Vec<Setting<String>>,
    /// Logout URLs.
    pub logout_urls: Vec<Setting<String>>,
    /// Whether kinde.toml has `[app] callback_urls` (even `[]`): only then does `register
    /// --prune` remove callback URLs it does not list.
    pub callback_urls_declared: bool,
    /// Whether kinde.toml has `[app] logout_urls` (even `[]`), as for callback URLs.
    pub logout_urls_declared: bool,
    /// APIs.
    pub apis: Vec<Api>,
    /// Login settings.
    pub login: Login,
    /// Whether kinde.toml has a `[login]` section (then `register` also registers the loopback
    /// callback of `[login] port`).
    pub login_configured: bool,
    /// Where `[login]` came from (`None`: defaults).
    pub login_source: Option<Source>,
    /// Where `[[apis]]` came from.
    pub apis_source: Option<Source>,
    /// Smoke checks.
    pub smoke: Vec<file::SmokeSection>,
    /// `[smoke_suite] defaults`: whether the default smoke suite runs (`None`: only when there
    /// are no `[[smoke]]` / `[[protect]]` checks).
    pub smoke_defaults: Option<bool>,
    /// Named token configurations.
    pub tokens: BTreeMap<String, file::TokenSection>,
    /// Protection probes.
    pub protect: Vec<file::ProtectSection>,
    /// What loading noticed but did not refuse; the caller shows them.
    pub warnings: Vec<Warning>,
    // Roles and permissions (issue 13): `None` when the file has no such section, so `register`
    // neither reads nor prunes them.
    /// `[[permissions]]`.
    pub permissions: Option<Vec<Permission>>,
    /// `[[roles]]`.
    pub roles: Option<Vec<Role>>,
    /// `[[feature_flags]]` (`None`: the file has none, so flags are not managed).
    pub feature_flags: Option<Vec<flags::FeatureFlag>>,
    /// `[[organizations]]` (`None`: the file has none, so organizations are not managed).
    pub organizations: Option<Vec<flags::Organization>>,
    /// `[app] name` and `type`: the app to create when no client id is configured.
    pub app_spec: Option<app::AppSpec>,
}

/// Something worth telling the user about a configuration that loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The environment or `.env` sets the domain a selected profile also sets.
    EnvOverridesProfileDomain {
        /// The variable that wins.
        source: Source,
        /// The profile whose domain is not used.
        profile: String,
    },
    /// The environment or `.env` sets a domain other than the one `kinde.toml` sets.
    EnvOverridesFileDomain {
        /// The variable that wins.
        source: Source,
        /// The `kinde.toml` whose domain is not used.
        file: PathBuf,
        /// The domain it sets.
        domain: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::EnvOverridesProfileDomain { source, profile } => write!(
                f,
                "{source} overrides the domain of profile `{profile}` (the environment and .env come after profiles); unset it to use the profile's"
            ),
            Warning::EnvOverridesFileDomain {
                source,
                file,
                domain,
            } => write!(
                f,
                "{source} overrides the domain {domain} of {} (the environment and .env come after kinde.toml): commands such as `register` use the value from {source}; unset it to use kinde.toml's",
                file.display()
            ),
        }
    }
}

impl Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How to find and read the configuration.
#[derive(Debug, Default, Clone)]
pub struct LoadOptions {
    /// `--config PATH`.
    pub config_path: Option<PathBuf>,
    /// `--manifest-path PATH`: find the workspace root with cargo metadata.
    pub manifest_path: Option<PathBuf>,
    /// `--profile NAME` (else `KINDE_PROFILE`).
    pub profile: Option<String>,
    /// Where to start looking (the current directory).
    pub cwd: PathBuf,
}

impl Config {
    /// Find, read and layer the configuration.
    pub fn load(options: &LoadOptions, process_env: &dyn EnvReader) -> Result<Config, Error> {
        let (file_path, root) = locate(options)?;
        let file = file_path.as_deref().map(File::read).transpose()?;
        let profile = options
            .profile
            .clone()
            .or_else(|| process_env.var(env::PROFILE));
        if let Some(name) = &profile {
            env::check_profile_name(name).map_err(|why| {
                let given = if options.profile.is_some() { "--profile" } else { env::PROFILE };
                Error::input(format!("{given}: {why}"))
                    .with_hint(format!("give {given} a name of letters, digits, `-` and `_`, the same as its [profiles.NAME] and .env.NAME"))
            })?;
        }
        let dotenv = DotEnv::read(&root, profile.as_deref())?;
        let mut config = Config::empty(root);
        config.file = file_path;
        config.dotenv = dotenv.path().map(Path::to_path_buf);
        config.profile_dotenv = dotenv.profile_path().map(Path::to_path_buf);
        config.profile = profile.clone();
        // A profile may live only in its `.env.<profile>` (secrets and domain, nothing else).
        let has_own_dotenv = config.profile_dotenv.is_some();
        if let Some(file) = &file {
            config.apply_layer(file, &file.layer, None)?;
            if let Some(name) = &profile {
                let layer = file.layer.profiles.as_ref().and_then(|p| p.get(name));
                match layer {
                    Some(layer) => config.apply_layer(file, layer.get_ref(), Some(name))?,
                    None if has_own_dotenv => {}
                    None => return Err(unknown_profile(name, file)),
                }
            }
        } else if let (Some(name), false) = (&profile, has_own_dotenv) {
            let env_file = env::profile_file_name(name).unwrap_or_else(|| ".env.<profile>".into());
            return Err(Error::input(format!(
                "profile `{name}` was asked for, but no {FILE_NAME} or {env_file} was found"
            ))
            .with_hint(format!(
                "create {FILE_NAME} with [profiles.{name}] (or {env_file} with its variables), or drop --profile / KINDE_PROFILE"
            )));
        }
        config.apply_env(&dotenv, process_env)?;
        if let Some(file) = &file {
            app::check(&config, file)?;
        }
        Ok(config)
    }

    /// A configuration with nothing set, rooted at `root`.
    pub fn empty(root: PathBuf) -> Config {
        Config {
            file: None,
            root,
            dotenv: None,
            profile_dotenv: None,
            profile: None,
            domain: None,
            custom_domain: None,
            management_client_id: None,
            management_client_secret: None,
            app_client_id: None,
            app_client_secret: None,
            audience: None,
            callback_urls: Vec::new(),
            logout_urls: Vec::new(),
            callback_urls_declared: false,
            logout_urls_declared: false,
            apis: Vec::new(),
            login: Login::default(),
            login_configured: false,
            login_source: None,
            apis_source: None,
            smoke: Vec::new(),
            smoke_defaults: None,
            tokens: BTreeMap::new(),
            protect: Vec::new(),
            warnings: Vec::new(),
            permissions: None,
            roles: None,
            feature_flags: None,
            organizations: None,
            app_spec: None,
        }
    }

    /// The Kinde domain, or an error saying how to set it.
    pub fn issuer(&self) -> Result<&Issuer, Error> {
        self.domain.as_ref().map(|s| &s.value).ok_or_else(|| {
            Error::input("no Kinde domain is configured")
                .with_hint("run `cargo kinde init` (or `cargo kinde init --emulator` to try without an account), or set KINDE_DOMAIN=https://<your_subdomain>.kinde.com in the environment or .env (or `domain` under [tenant] in kinde.toml)")
        })
    }

    /// Issuers a token from this tenant may carry in `iss`: the Kinde domain and the custom domain.
    pub fn accepted_issuers(&self) -> Vec<&Issuer> {
        self.domain
            .iter()
            .chain(self.custom_domain.iter())
            .map(|s| &s.value)
            .collect()
    }

    /// The callback URLs to register: `[app] callback_urls`, plus the loopback callback of
    /// `[login] port` when `[login]` is configured (port 0 means any port: nothing to register).
    pub fn wanted_callback_urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = self.callback_urls.iter().map(|s| s.value.clone()).collect();
        if self.login_configured && self.login.port != 0 {
            let loopback = format!("http://127.0.0.1:{}/callback", self.login.port);
            if !urls.contains(&loopback) {
                urls.push(loopback);
            }
        }
        urls
    }

    /// Audiences this configuration implies: `KINDE_AUDIENCE`, `[login] audiences`, each API's
    /// audience and the Management API's.
    pub fn implied_audiences(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |a: &str| {
            if !out.iter().any(|x| x == a) {
                out.push(a.to_string());
            }
        };
        if let Some(aud) = &self.audience {
            aud.value.iter().for_each(|a| push(a));
        }
        self.login.audiences.iter().for_each(|a| push(a));
        self.apis.iter().for_each(|a| push(&a.audience));
        if let Some(domain) = &self.domain {
            push(&domain.value.management_audience());
        }
        // ID tokens are for the app itself.
        if let Some(app) = &self.app_client_id {
            push(&app.value);
        }
        out
    }

    fn apply_layer(
        &mut self,
        file: &File,
        layer: &Layer,
        profile: Option<&str>,
    ) -> Result<(), Error> {
        let src = |span: std::ops::Range<usize>| {
            let (line, column) = file.line_col(span.start);
            Source::File {
                path: file.path.clone(),
                line,
                column,
                profile: profile.map(String::from),
            }
        };
        if let Some(tenant) = &layer.tenant {
            if let Some(domain) = &tenant.domain {
                self.domain = Some(Setting::new(
                    parse_issuer_at(file, domain, "domain")?,
                    src(domain.span()),
                ));
            }
            if let Some(domain) = &tenant.custom_domain {
                let issuer = parse_issuer_at(file, domain, "custom_domain")?;
                self.custom_domain = Some(Setting::new(issuer, src(domain.span())));
            }
        }
        if let Some(id) = layer.management.as_ref().and_then(|m| m.client_id.as_ref()) {
            self.management_client_id = Some(Setting::new(client_id_at(file, id)?, src(id.span())));
        }
        if let Some(app) = &layer.app {
            if let Some(id) = &app.client_id {
                self.app_client_id = Some(Setting::new(client_id_at(file, id)?, src(id.span())));
            }
            if let Some(urls) = &app.callback_urls {
                self.callback_urls = redirect_urls_at(file, urls, &src)?;
                self.callback_urls_declared = true;
            }
            if let Some(urls) = &app.logout_urls {
                self.logout_urls = redirect_urls_at(file, urls, &src)?;
                self.logout_urls_declared = true;
            }
            app::apply_layer(self, file, app, profile, &src)?;
        }
        if let Some(apis) = &layer.apis {
            if let Some(first) = apis.first() {
                self.apis_source = Some(src(first.name.span()));
            }
            self.apis = apis
                .iter()
                .map(|api| api_at(file, api))
                .collect::<Result<_, _>>()?;
        }
        if let Some(spanned) = &layer.login {
            self.login_configured = true;
            self.login_source = Some(src(spanned.span()));
            let login = spanned.get_ref();
            if let Some(scopes) = &login.scopes {
                self.login.scopes.clone_from(scopes);
            }
            if let Some(audiences) = &login.audiences {
                self.login.audiences.clone_from(audiences);
            }
            if let Some(prompt) = &login.prompt {
                if !["login", "create", "none"].contains(&prompt.get_ref().as_str()) {
                    return Err(Error::input(file.error_at(
                        prompt.span(),
                        &format!(
                            "`prompt` is `{}`; Kinde accepts `login`, `create` or `none`",
                            prompt.get_ref()
                        ),
                    )));
                }
                self.login.prompt.clone_from(prompt.get_ref());
            }
            if let Some(port) = login.port {
                self.login.port = port;
            }
        }
        if let Some(tokens) = &layer.tokens {
            self.tokens
                .extend(tokens.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(smoke) = &layer.smoke {
            for check in smoke {
                check_smoke(
                    file,
                    check,
                    self.tokens.keys().map(String::as_str).collect(),
                )?;
            }
            self.smoke = smoke.iter().map(|c| c.get_ref().clone()).collect();
        }
        if let Some(defaults) = layer.smoke_suite.as_ref().and_then(|s| s.defaults) {
            self.smoke_defaults = Some(defaults);
        }
        if let Some(protect) = &layer.protect {
            for probe in protect {
                if !is_absolute_http(&probe.get_ref().url) {
                    return Err(Error::input(file.error_at(
                        probe.span(),
                        "`url` of a [[protect]] must be an absolute http(s) URL of your API",
                    )));
                }
            }
            self.protect = protect.iter().map(|c| c.get_ref().clone()).collect();
        }
        if let Some(permissions) = &layer.permissions {
            self.permissions = Some(permissions_at(file, permissions, &src)?);
        }
        if let Some(roles) = &layer.roles {
            self.roles = Some(roles_at(file, roles, &src)?);
        }
        if let Some(sections) = &layer.feature_flags {
            self.feature_flags = Some(flags::flags_at(file, sections)?);
        }
        if let Some(sections) = &layer.organizations {
            let declared = self.feature_flags.as_deref().unwrap_or(&[]);
            self.organizations = Some(flags::organizations_at(file, sections, declared)?);
        }
        Ok(())
    }
}

/// Whether kinde.toml accepts `text` as a role or permission key: non-empty, without spaces or
/// control characters (`export` leaves out what it would refuse).
pub(crate) fn usable_key(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A role or permission key: Kinde matches them by key, so one must be a usable identifier.
fn key_at(file: &File, key: &Spanned<String>, what: &str) -> Result<String, Error> {
    let text = key.get_ref();
    if !usable_key(text) {
        return Err(Error::input(file.error_at(
            key.span(),
            &format!("{what} `key` must be non-empty, without spaces"),
        ))
        .with_hint("keys are what code and tokens use, e.g. `read:invoices` or `admin`"));
    }
    Ok(text.clone())
}

/// The same key twice in one section: the second is the error, the first named beside it.
fn check_unique<'a>(
    file: &File,
    keys: impl Iterator<Item = &'a Spanned<String>>,
    what: &str,
) -> Result<(), Error> {
    let mut seen: BTreeMap<&str, std::ops::Range<usize>> = BTreeMap::new();
    for key in keys {
        if let Some(first) = seen.get(key.get_ref().as_str()) {
            let (line, _) = file.line_col(first.start);
            return Err(Error::input(file.error_at(
                key.span(),
                &format!(
                    "{what} `{}` is declared twice (first on line {line})",
                    key.get_ref()
                ),
            ))
            .with_hint(format!(
                "Kinde has one {what} per key: merge the two entries"
            )));
        }
        seen.insert(key.get_ref(), key.span());
    }
    Ok(())
}

fn name_or_key(name: Option<&String>, key: &str) -> String {
    name.filter(|n| !n.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| key.to_string())
}

fn permissions_at(
    file: &File,
    sections: &[file::PermissionSection],
    src: &dyn Fn(std::ops::Range<usize>) -> Source,
) -> Result<Vec<Permission>, Error> {
    check_unique(file, sections.iter().map(|p| &p.key), "permission")?;
    sections
        .iter()
        .map(|p| {
            let key = key_at(file, &p.key, "permission")?;
            Ok(Permission {
                name: name_or_key(p.name.as_ref(), &key),
                description: p.description.clone(),
                source: src(p.key.span()),
                key,
            })
        })
        .collect()
}

fn roles_at(
    file: &File,
    sections: &[file::RoleSection],
    src: &dyn Fn(std::ops::Range<usize>) -> Source,
) -> Result<Vec<Role>, Error> {
    check_unique(file, sections.iter().map(|r| &r.key), "role")?;
    sections
        .iter()
        .map(|r| {
            let key = key_at(file, &r.key, "role")?;
            let mut permissions: Vec<Setting<String>> = Vec::new();
            for permission in &r.permissions {
                let value = key_at(file, permission, "a role's permission")?;
                // Listed twice is asked for once: the set is what matters.
                if !permissions.iter().any(|p| p.value == value) {
                    permissions.push(Setting::new(value, src(permission.span())));
                }
            }
            Ok(Role {
                name: name_or_key(r.name.as_ref(), &key),
                description: r.description.clone(),
                permissions,
                is_default: r.is_default,
                source: src(r.key.span()),
                key,
            })
        })
        .collect()
}

fn unknown_profile(name: &str, file: &File) -> Error {
    let known: Vec<&str> = file
        .layer
        .profiles
        .iter()
        .flat_map(|p| p.keys().map(String::as_str))
        .collect();
    let env_file = env::profile_file_name(name).unwrap_or_else(|| ".env.<profile>".into());
    let hint = if known.is_empty() {
        format!(
            "{} defines no profiles; add [profiles.{name}.tenant] to it, or put the profile's variables in {env_file}",
            file.path.display()
        )
    } else {
        format!(
            "profiles in {}: {} (or put the profile's variables in {env_file})",
            file.path.display(),
            known.join(", ")
        )
    };
    Error::input(format!("no profile `{name}` in {}", file.path.display())).with_hint(hint)
}

fn parse_issuer_at(file: &File, value: &Spanned<String>, key: &str) -> Result<Issuer, Error> {
    Issuer::parse(value.get_ref()).map_err(|e| {
        Error::input(file.error_at(value.span(), &format!("`{key}`: {e}")))
            .with_hint("the domain is your Kinde URL, e.g. https://acme.kinde.com (Settings > Details > Domain)")
    })
}

fn client_id_at(file: &File, value: &Spanned<String>) -> Result<String, Error> {
    let id = value.get_ref().trim();
    if id.is_empty() || id.chars().any(char::is_whitespace) {
        return Err(Error::input(file.error_at(
            value.span(),
            "`client_id` must be a non-empty id without spaces",
        ))
        .with_hint("copy it from Settings > Applications > <app> > App keys"));
    }
    Ok(id.to_string())
}

fn redirect_urls_at(
    file: &File,
    urls: &[Spanned<String>],
    src: &dyn Fn(std::ops::Range<usize>) -> Source,
) -> Result<Vec<Setting<String>>, Error> {
    urls.iter()
        .map(|url| {
            crate::urls::check_redirect_url(url.get_ref())
                .map(|()| Setting::new(url.get_ref().clone(), src(url.span())))
                .map_err(|e| Error::input(file.error_at(url.span(), &e)))
        })
        .collect()
}

fn is_absolute_http(url: &str) -> bool {
    // `{issuer}` is expanded when checks run.
    let url = url.replace("{issuer}", "https://issuer.example");
    url::Url::parse(&url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// A `[[smoke]]` check that cannot run is an error at load time, pointing at the check.
fn check_smoke(
    file: &File,
    check: &Spanned<file::SmokeSection>,
    tokens: Vec<&str>,
) -> Result<(), Error> {
    let c = check.get_ref();
    let at = |message: String| {
        Error::input(file.error_at(
            check.span(),
            &format!("smoke check `{}`: {message}", c.name),
        ))
    };
    match (&c.path, &c.url) {
        (Some(_), Some(_)) => return Err(at("give `path` or `url`, not both".into())),
        (None, None) => {
            return Err(at(
                "needs `path` (a Management API path such as /api/v1/users) or `url`".into(),
            ));
        }
        (Some(p), None) if !p.starts_with('/') && !is_absolute_http(p) => {
            return Err(at(format!(
                "`path` `{p}` must start with / or be an absolute http(s) URL"
            )));
        }
        (None, Some(u)) if !is_absolute_http(u) => {
            return Err(at(format!("`url` `{u}` must be an absolute http(s) URL")));
        }
        _ => {}
    }
    // `method` and `token` are typed by serde; only a `[tokens.NAME]` needs the other tables.
    if let file::TokenChoice::Named(token) = &c.token
        && !tokens.contains(&token.as_str())
    {
        return Err(at(format!(
            "`token` `{token}` is not m2m, user, none, or a [tokens.NAME] table"
        ))
        .with_hint(format!(
            "define it: [tokens.{token}] with audience = [...] and scopes = [...]"
        )));
    }
    let statuses = match &c.expect_status {
        Some(file::StatusSpec::One(s)) => vec![*s],
        Some(file::StatusSpec::Any(list)) => list.clone(),
        None => vec![],
    };
    if let Some(bad) = statuses.iter().find(|s| !(100..=599).contains(*s)) {
        return Err(at(format!("`expect_status` {bad} is not an HTTP status")));
    }
    for assertion in &c.asserts {
        if !(assertion.pointer.is_empty() || assertion.pointer.starts_with('/')) {
            return Err(at(format!(
                "assert pointer `{}` must be empty or start with / (JSON Pointer)",
                assertion.pointer
            )));
        }
        if let Some(pattern) = &assertion.matches
            && let Err(e) = regex_lite::Regex::new(pattern)
        {
            return Err(at(format!(
                "assert `matches` `{pattern}` is not a regular expression: {e}"
            )));
        }
        let kinds = [
            assertion.equals.is_some(),
            assertion.exists.is_some(),
            assertion.matches.is_some(),
            assertion.length.is_some(),
            assertion.min_length.is_some(),
        ];
        if !kinds.contains(&true) {
            return Err(at(format!(
                "assert on `{}` says nothing: add equals, exists, matches, length or min_length",
                assertion.pointer
            )));
        }
    }
    Ok(())
}

/// Kinde's rule for an API's `name` and `audience` (`key`): 1 to 64 characters. Checked here,
/// before anything is sent, so the error can point at the value.
pub fn check_api_field(key: &str, value: &str) -> Result<(), String> {
    let len = value.chars().count();
    if (1..=64).contains(&len) {
        Ok(())
    } else {
        Err(format!(
            "API `{key}` must be 1 to 64 characters (it is {len})"
        ))
    }
}

fn api_at(file: &File, api: &file::ApiSection) -> Result<Api, Error> {
    for (value, key) in [(&api.name, "name"), (&api.audience, "audience")] {
        check_api_field(key, value.get_ref())
            .map_err(|e| Error::input(file.error_at(value.span(), &e)))?;
    }
    Ok(Api {
        name: api.name.get_ref().clone(),
        audience: api.audience.get_ref().clone(),
        scopes: api.scopes.iter().map(|s| s.get_ref().clone()).collect(),
        authorize: api.authorize.iter().map(|s| s.get_ref().clone()).collect(),
    })
}

#[cfg(test)]
mod tests;
