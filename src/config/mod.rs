//! Configuration: `kinde.toml`, its profiles, `.env` and the environment, layered as
//! defaults < kinde.toml < profile < .env < environment < flags, each value remembering where it
//! came from.

pub mod file;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::Spanned;

use crate::error::Error;
use crate::secret::Secret;
use crate::urls::Issuer;
use file::{File, Layer};

/// The file name looked for in the workspace root and its ancestors.
pub const FILE_NAME: &str = "kinde.toml";

/// Environment variables read, with Kinde's own names (first match wins).
pub mod env {
    /// The Kinde domain.
    pub const DOMAIN: &[&str] = &["KINDE_DOMAIN", "KINDE_ISSUER_URL"];
    /// The management M2M app's client id.
    pub const MANAGEMENT_CLIENT_ID: &[&str] =
        &["KINDE_MANAGEMENT_CLIENT_ID", "KINDE_M2M_CLIENT_ID"];
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
}

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
    /// Named token configurations.
    pub tokens: BTreeMap<String, file::TokenSection>,
    /// Protection probes.
    pub protect: Vec<file::ProtectSection>,
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

impl Config {
    /// Find, read and layer the configuration.
    pub fn load(options: &LoadOptions, process_env: &dyn EnvReader) -> Result<Config, Error> {
        let (file_path, root) = locate(options)?;
        let file = file_path.as_deref().map(File::read).transpose()?;
        let dotenv_path = root.join(".env");
        let dotenv = read_dotenv(&dotenv_path)?;
        let profile = options
            .profile
            .clone()
            .or_else(|| process_env.var(env::PROFILE));
        let mut config = Config::empty(root);
        config.file = file_path;
        config.dotenv = dotenv.as_ref().map(|_| dotenv_path.clone());
        config.profile = profile.clone();
        if let Some(file) = &file {
            config.apply_layer(file, &file.layer, None)?;
            if let Some(name) = &profile {
                let profiles = file.layer.profiles.as_ref();
                let layer = profiles
                    .and_then(|p| p.get(name))
                    .ok_or_else(|| unknown_profile(name, file))?;
                config.apply_layer(file, layer.get_ref(), Some(name))?;
            }
        } else if let Some(name) = &profile {
            return Err(Error::input(format!(
                "profile `{name}` was asked for, but no {FILE_NAME} was found"
            ))
            .with_hint(format!(
                "create {FILE_NAME} with [profiles.{name}], or drop --profile / KINDE_PROFILE"
            )));
        }
        let layered = Layered {
            dotenv: dotenv.as_ref().map(|m| (dotenv_path.as_path(), m)),
            process: process_env,
        };
        config.apply_env(&layered)?;
        Ok(config)
    }

    /// A configuration with nothing set, rooted at `root`.
    pub fn empty(root: PathBuf) -> Config {
        Config {
            file: None,
            root,
            dotenv: None,
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
            apis: Vec::new(),
            login: Login::default(),
            login_configured: false,
            login_source: None,
            apis_source: None,
            smoke: Vec::new(),
            tokens: BTreeMap::new(),
            protect: Vec::new(),
        }
    }

    /// The Kinde domain, or an error saying how to set it.
    pub fn issuer(&self) -> Result<&Issuer, Error> {
        self.domain.as_ref().map(|s| &s.value).ok_or_else(|| {
            Error::input("no Kinde domain is configured")
                .with_hint("set `domain` under [tenant] in kinde.toml, or KINDE_DOMAIN=https://<your_subdomain>.kinde.com in the environment or .env")
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
            }
            if let Some(urls) = &app.logout_urls {
                self.logout_urls = redirect_urls_at(file, urls, &src)?;
            }
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
        Ok(())
    }

    fn apply_env(&mut self, env: &Layered<'_>) -> Result<(), Error> {
        if let Some((value, source)) = env.get(env::DOMAIN) {
            if let Some(Setting {
                source:
                    Source::File {
                        profile: Some(profile),
                        ..
                    },
                ..
            }) = &self.domain
            {
                crate::ui::warn(&format!(
                    "{source} overrides the domain of profile `{profile}` (the environment and .env come after profiles); unset it to use the profile's"
                ));
            }
            let issuer = Issuer::parse(&value).map_err(|e| {
                Error::input(format!("{source}: {e}"))
                    .with_hint("set KINDE_DOMAIN to your Kinde domain, e.g. https://acme.kinde.com")
            })?;
            self.domain = Some(Setting::new(issuer, source));
        }
        if let Some((value, source)) = env.get(env::MANAGEMENT_CLIENT_ID) {
            self.management_client_id = Some(Setting::new(value, source));
        }
        if let Some((value, source)) = env.get(env::MANAGEMENT_CLIENT_SECRET) {
            self.management_client_secret = Some(Setting::new(Secret::new(value), source));
        }
        if let Some((value, source)) = env.get(env::CLIENT_ID) {
            self.app_client_id = Some(Setting::new(value, source));
        }
        if let Some((value, source)) = env.get(env::CLIENT_SECRET) {
            self.app_client_secret = Some(Setting::new(Secret::new(value), source));
        }
        if let Some((value, source)) = env.get(env::AUDIENCE) {
            let audiences = value.split_whitespace().map(String::from).collect();
            self.audience = Some(Setting::new(audiences, source));
        }
        Ok(())
    }

    /// Every effective value with its source, secrets redacted: what `cargo kinde config` shows.
    pub fn entries(&self) -> Vec<(String, String, String)> {
        let mut rows = Vec::new();
        let mut row =
            |key: &str, value: String, source: String| rows.push((key.to_string(), value, source));
        fn opt<T: fmt::Display>(s: &Option<Setting<T>>) -> (String, String) {
            s.as_ref().map_or(("(not set)".into(), String::new()), |s| {
                (s.value.to_string(), s.source.to_string())
            })
        }
        let (v, s) = opt(&self.domain);
        row("tenant.domain", v, s);
        let (v, s) = opt(&self.custom_domain);
        row("tenant.custom_domain", v, s);
        let (v, s) = opt(&self.management_client_id);
        row("management.client_id", v, s);
        let (v, s) = opt(&self.management_client_secret);
        row("management.client_secret", v, s);
        let (v, s) = opt(&self.app_client_id);
        row("app.client_id", v, s);
        let (v, s) = opt(&self.app_client_secret);
        row("app.client_secret", v, s);
        if let Some(a) = &self.audience {
            row("audience", a.value.join(" "), a.source.to_string());
        }
        for (i, url) in self.callback_urls.iter().enumerate() {
            row(
                &format!("app.callback_urls[{i}]"),
                url.value.clone(),
                url.source.to_string(),
            );
        }
        for (i, url) in self.logout_urls.iter().enumerate() {
            row(
                &format!("app.logout_urls[{i}]"),
                url.value.clone(),
                url.source.to_string(),
            );
        }
        let apis_source = self
            .apis_source
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        for (i, api) in self.apis.iter().enumerate() {
            let scopes = if api.scopes.is_empty() {
                String::new()
            } else {
                format!(" scopes: {}", api.scopes.join(" "))
            };
            row(
                &format!("apis[{i}]"),
                format!("{} ({}){scopes}", api.name, api.audience),
                apis_source.clone(),
            );
        }
        let login_source = self
            .login_source
            .as_ref()
            .map_or_else(|| "default".to_string(), ToString::to_string);
        row(
            "login.scopes",
            self.login.scopes.join(" "),
            login_source.clone(),
        );
        row(
            "login.audiences",
            self.login.audiences.join(" "),
            login_source.clone(),
        );
        row(
            "login.prompt",
            self.login.prompt.clone(),
            login_source.clone(),
        );
        row("login.port", self.login.port.to_string(), login_source);
        rows
    }
}

/// `.env` then the process environment, the latter winning.
struct Layered<'a> {
    dotenv: Option<(&'a Path, &'a BTreeMap<String, String>)>,
    process: &'a dyn EnvReader,
}

impl Layered<'_> {
    fn get(&self, names: &[&str]) -> Option<(String, Source)> {
        for name in names {
            if let Some(v) = self.process.var(name) {
                return Some((v, Source::Env((*name).to_string())));
            }
        }
        let (path, map) = self.dotenv?;
        for name in names {
            if let Some(v) = map.var(name) {
                return Some((
                    v,
                    Source::DotEnv {
                        path: path.to_path_buf(),
                        var: (*name).to_string(),
                    },
                ));
            }
        }
        None
    }
}

/// Find `kinde.toml` and the project root.
fn locate(options: &LoadOptions) -> Result<(Option<PathBuf>, PathBuf), Error> {
    if let Some(path) = &options.config_path {
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| options.cwd.clone(), Path::to_path_buf);
        return Ok((Some(path.clone()), root));
    }
    if let Some(manifest) = &options.manifest_path {
        let root = workspace_root(manifest)?;
        let candidate = root.join(FILE_NAME);
        return Ok((candidate.is_file().then_some(candidate), root));
    }
    for dir in options.cwd.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Ok((Some(candidate), dir.to_path_buf()));
        }
    }
    Ok((None, options.cwd.clone()))
}

/// The workspace root of the cargo project owning `manifest`.
pub fn workspace_root(manifest: &Path) -> Result<PathBuf, Error> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(manifest)
        .no_deps()
        .exec()
        .map_err(|e| {
            Error::input(format!(
                "cannot read the cargo workspace at {}: {e}",
                manifest.display()
            ))
            .with_hint("pass the path of a Cargo.toml with --manifest-path")
        })?;
    Ok(metadata.workspace_root.into_std_path_buf())
}

fn read_dotenv(path: &Path) -> Result<Option<BTreeMap<String, String>>, Error> {
    if !path.is_file() {
        return Ok(None);
    }
    let iter = dotenvy::from_path_iter(path)
        .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
    let mut map = BTreeMap::new();
    for item in iter {
        let (k, v) = item.map_err(|e| {
            let line = failing_line(path)
                .map(|n| format!(":{n}"))
                .unwrap_or_default();
            Error::input(format!("{}{line}: {}", path.display(), dotenv_error(&e)))
                .with_hint("each line of .env is NAME=value; quote values with spaces or #")
        })?;
        map.insert(k, v);
    }
    Ok(Some(map))
}

/// The 1-based number of the first line of a `.env` that does not parse on its own (dotenvy's
/// error gives a position within the line, not the line).
fn failing_line(path: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .position(|line| dotenvy::from_read_iter(line.as_bytes()).any(|item| item.is_err()))
        .map(|i| i + 1)
}

/// dotenvy's parse errors carry the offending line, which may hold a secret: say where, not what.
fn dotenv_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => {
            format!("cannot parse this line (at character {index})")
        }
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "cannot parse the file".into(),
    }
}

fn unknown_profile(name: &str, file: &File) -> Error {
    let known: Vec<&str> = file
        .layer
        .profiles
        .iter()
        .flat_map(|p| p.keys().map(String::as_str))
        .collect();
    let hint = if known.is_empty() {
        format!(
            "{} defines no profiles; add [profiles.{name}.tenant] to it",
            file.path.display()
        )
    } else {
        format!("profiles in {}: {}", file.path.display(), known.join(", "))
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

fn api_at(file: &File, api: &file::ApiSection) -> Result<Api, Error> {
    for (value, key) in [(&api.name, "name"), (&api.audience, "audience")] {
        let len = value.get_ref().chars().count();
        if !(1..=64).contains(&len) {
            return Err(Error::input(file.error_at(
                value.span(),
                &format!("API `{key}` must be 1 to 64 characters (it is {len})"),
            )));
        }
    }
    Ok(Api {
        name: api.name.get_ref().clone(),
        audience: api.audience.get_ref().clone(),
        scopes: api.scopes.iter().map(|s| s.get_ref().clone()).collect(),
        authorize: api.authorize.iter().map(|s| s.get_ref().clone()).collect(),
    })
}

/// Set `values` in the `.env` at `path`, keeping its other lines; the file is made mode 0600.
pub fn save_dotenv(path: &Path, values: &[(&str, String)]) -> Result<(), Error> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::file("read", path, e)),
    };
    let text = dotenv_with(&existing, values);
    crate::files::write_private(path, text.as_bytes())
}

/// `.env` text with `values` set: lines for other names are kept in place, a line for a name
/// being set is replaced where it stands, new names are appended.
pub fn dotenv_with(existing: &str, values: &[(&str, String)]) -> String {
    let quote = |value: &str| {
        let needs_quotes = value
            .chars()
            .any(|c| c.is_whitespace() || "#'\"\\$".contains(c));
        if needs_quotes {
            format!("'{value}'")
        } else {
            value.to_string()
        }
    };
    let name_of = |line: &str| {
        line.trim_start()
            .trim_start_matches("export ")
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let mut done: Vec<&str> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for line in existing.lines() {
        let name = name_of(line);
        match values.iter().find(|(k, _)| *k == name) {
            Some((k, v)) if !done.contains(k) => {
                lines.push(format!("{k}={}", quote(v)));
                done.push(k);
            }
            Some(_) => {}
            None => lines.push(line.to_string()),
        }
    }
    for (k, v) in values {
        if !done.contains(k) {
            lines.push(format!("{k}={}", quote(v)));
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// Whether `.gitignore` in `root` ignores `.env`.
pub fn gitignore_covers_dotenv(root: &Path) -> bool {
    std::fs::read_to_string(root.join(".gitignore"))
        .map(|text| {
            text.lines()
                .map(str::trim)
                .any(|l| matches!(l, ".env" | "/.env" | ".env*" | "*.env"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str, env: &[(&str, &str)], profile: Option<&str>) -> Result<Config, Error> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), toml).unwrap();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let options = LoadOptions {
            profile: profile.map(String::from),
            cwd: dir.path().into(),
            ..Default::default()
        };
        Config::load(&options, &env)
    }

    #[test]
    fn layers_file_profile_and_env() {
        let toml = "[tenant]\ndomain = \"acme.kinde.com\"\n[management]\nclient_id = \"m1\"\n[profiles.staging.tenant]\ndomain = \"https://acme-staging.kinde.com\"\n";
        let c = load(toml, &[], None).unwrap();
        assert_eq!(c.issuer().unwrap().as_str(), "https://acme.kinde.com");
        assert!(matches!(
            c.domain.unwrap().source,
            Source::File {
                line: 2,
                column: 10,
                ..
            }
        ));
        let c = load(toml, &[], Some("staging")).unwrap();
        assert_eq!(
            c.issuer().unwrap().as_str(),
            "https://acme-staging.kinde.com"
        );
        assert_eq!(c.management_client_id.unwrap().value, "m1");
        let c = load(toml, &[("KINDE_DOMAIN", "env.kinde.com")], Some("staging")).unwrap();
        assert_eq!(c.issuer().unwrap().as_str(), "https://env.kinde.com");
        assert_eq!(c.domain.unwrap().source, Source::Env("KINDE_DOMAIN".into()));
    }

    #[test]
    fn unknown_profile_lists_known_ones() {
        let err = load(
            "[profiles.staging.tenant]\ndomain = \"a.kinde.com\"\n",
            &[],
            Some("prod"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no profile `prod`"));
        assert!(err.hint().unwrap().contains("staging"));
    }

    #[test]
    fn bad_callback_url_points_at_it() {
        let err = load(
            "[app]\ncallback_urls = [\"https://ok.com/cb\", \"http://evil.com/cb\"]\n",
            &[],
            None,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("kinde.toml:2:39: "), "{msg}");
        assert!(msg.contains("plain http"), "{msg}");
    }

    #[test]
    fn environment_alone_is_enough() {
        let dir = tempfile::tempdir().unwrap();
        let env: BTreeMap<String, String> = [
            ("KINDE_DOMAIN", "https://a.kinde.com"),
            ("KINDE_MANAGEMENT_CLIENT_SECRET", "s"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let options = LoadOptions {
            cwd: dir.path().into(),
            ..Default::default()
        };
        let c = Config::load(&options, &env).unwrap();
        assert!(c.file.is_none());
        assert_eq!(c.management_client_secret.unwrap().value.expose(), "s");
    }

    #[test]
    fn dotenv_is_below_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "KINDE_DOMAIN=dotenv.kinde.com\nKINDE_CLIENT_ID=fromfile\n",
        )
        .unwrap();
        let env: BTreeMap<String, String> =
            [("KINDE_DOMAIN".to_string(), "env.kinde.com".to_string())].into();
        let options = LoadOptions {
            cwd: dir.path().into(),
            ..Default::default()
        };
        let c = Config::load(&options, &env).unwrap();
        assert_eq!(c.issuer().unwrap().as_str(), "https://env.kinde.com");
        assert_eq!(c.app_client_id.unwrap().value, "fromfile");
    }

    #[test]
    fn implied_audiences_include_management_api() {
        let c = load("[tenant]\ndomain = \"a.kinde.com\"\n[[apis]]\nname = \"A\"\naudience = \"https://api.a.com\"\n", &[], None).unwrap();
        assert_eq!(
            c.implied_audiences(),
            vec!["https://api.a.com", "https://a.kinde.com/api"]
        );
    }
}
