//! The `kinde.toml` file: its serde model and the diagnostics that point at a line and column.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::Error;

/// One layer of `kinde.toml`: the top level, or one `[profiles.NAME]` table with the same shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// `[tenant]`
    pub tenant: Option<TenantSection>,
    /// `[management]`
    pub management: Option<ManagementSection>,
    /// `[app]`
    pub app: Option<AppSection>,
    /// `[[apis]]`
    pub apis: Option<Vec<ApiSection>>,
    /// `[login]`
    pub login: Option<Spanned<LoginSection>>,
    /// `[[smoke]]`
    pub smoke: Option<Vec<Spanned<SmokeSection>>>,
    /// `[smoke_suite]` (not `[smoke]`: TOML cannot have a table and the `[[smoke]]` array under
    /// one name).
    pub smoke_suite: Option<SmokeSuiteSection>,
    /// `[tokens.NAME]`
    pub tokens: Option<BTreeMap<String, TokenSection>>,
    /// `[[protect]]`
    pub protect: Option<Vec<Spanned<ProtectSection>>>,
    /// `[profiles.NAME]`: only allowed at the top level.
    pub profiles: Option<BTreeMap<String, Spanned<Layer>>>,
    // Roles and permissions (issue 13).
    /// `[[permissions]]`
    pub permissions: Option<Vec<PermissionSection>>,
    /// `[[roles]]`
    pub roles: Option<Vec<RoleSection>>,
    /// `[[feature_flags]]`
    pub feature_flags: Option<Vec<Spanned<FeatureFlagSection>>>,
    /// `[[organizations]]`
    pub organizations: Option<Vec<Spanned<OrganizationSection>>>,
}

/// `[tenant]`: where the Kinde business lives.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    /// The Kinde domain, e.g. `https://acme.kinde.com`.
    pub domain: Option<Spanned<String>>,
    /// A custom domain for user sign-in, e.g. `https://auth.acme.com`.
    pub custom_domain: Option<Spanned<String>>,
}

/// `[management]`: the M2M application authorised for the Kinde Management API.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagementSection {
    /// Its client id.
    pub client_id: Option<Spanned<String>>,
    /// Present only so the error can say where secrets belong.
    pub client_secret: Option<Spanned<toml::Value>>,
}

/// `[app]`: the application users sign in to.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    /// Its client id.
    pub client_id: Option<Spanned<String>>,
    /// Present only so the error can say where secrets belong.
    pub client_secret: Option<Spanned<toml::Value>>,
    /// Allowed callback (redirect) URLs.
    pub callback_urls: Option<Vec<Spanned<String>>>,
    /// Allowed logout redirect URLs.
    pub logout_urls: Option<Vec<Spanned<String>>>,
    /// Its name in Kinde: with `type` and no client id, `register` creates the app.
    pub name: Option<Spanned<String>>,
    /// `regular` or `spa`: the type the app is created with.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
}

/// `[[apis]]`: an API registered in Kinde with its audience.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Display name (1-64 characters).
    pub name: Spanned<String>,
    /// Audience (1-64 characters, immutable once created).
    pub audience: Spanned<String>,
    /// Scopes the API defines.
    #[serde(default)]
    pub scopes: Vec<Spanned<String>>,
    /// Applications to authorise: `app`, `management`, or client ids.
    #[serde(default)]
    pub authorize: Vec<Spanned<String>>,
}

/// `[[permissions]]`: a permission of the business, matched by its key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSection {
    /// Kinde's permission key, used in code and in tokens' `permissions`.
    pub key: Spanned<String>,
    /// Display name (defaults to the key).
    #[serde(default)]
    pub name: Option<String>,
    /// What it allows (left as it is in the tenant when unset).
    #[serde(default)]
    pub description: Option<String>,
}

/// `[[roles]]`: a role of the business, matched by its key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSection {
    /// Kinde's role key.
    pub key: Spanned<String>,
    /// Display name (defaults to the key).
    #[serde(default)]
    pub name: Option<String>,
    /// What it is for (left as it is in the tenant when unset).
    #[serde(default)]
    pub description: Option<String>,
    /// Permission keys the role grants: declared in `[[permissions]]` or in the tenant.
    #[serde(default)]
    pub permissions: Vec<Spanned<String>>,
    /// Given to new organization members (Kinde's `is_default_role`).
    #[serde(default, rename = "default")]
    pub is_default: bool,
}

/// `[[feature_flags]]`: a feature flag defined in Kinde.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureFlagSection {
    /// The key code and tokens use; Kinde's identity of a flag.
    pub key: Spanned<String>,
    /// Display name (default: the key).
    pub name: Option<Spanned<String>>,
    /// What it is for.
    pub description: Option<String>,
    /// Its value type, fixed at creation.
    #[serde(rename = "type")]
    pub kind: Spanned<FlagKind>,
    /// The default value, of `kind`.
    pub default: Spanned<toml::Value>,
    /// The most specific level allowed to override it (default `user`), fixed at creation.
    pub override_level: Option<Spanned<OverrideLevel>>,
}

/// A feature flag's value type, as `kinde.toml` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// `true` / `false` (Kinde: `bool`).
    Boolean,
    /// Text (Kinde: `str`).
    String,
    /// A 32-bit signed integer (Kinde: `int`).
    Integer,
}

impl FlagKind {
    /// Kinde's name for the type (`bool`, `str`, `int`).
    pub fn code(self) -> &'static str {
        match self {
            FlagKind::Boolean => "bool",
            FlagKind::String => "str",
            FlagKind::Integer => "int",
        }
    }

    /// The `kinde.toml` name of Kinde's type `code`, or `code` itself when Kinde has a type
    /// `kinde.toml` cannot declare (JSON flags, made in the admin only).
    pub fn name_of(code: &str) -> &str {
        match code {
            "bool" => "boolean",
            "str" => "string",
            "int" => "integer",
            other => other,
        }
    }
}

/// Which levels may override a flag: up to and including this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideLevel {
    /// The environment only (Kinde: `env`).
    Environment,
    /// The environment and organizations (Kinde: `org`).
    Organization,
    /// The environment, organizations and users (Kinde: `usr`).
    User,
}

impl OverrideLevel {
    /// Kinde's code (`env`, `org`, `usr`).
    pub fn code(self) -> &'static str {
        match self {
            OverrideLevel::Environment => "env",
            OverrideLevel::Organization => "org",
            OverrideLevel::User => "usr",
        }
    }
}

/// `[[organizations]]`: an organization the configuration owns, matched by `external_id`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationSection {
    /// The stable handle `register` matches it by (Kinde generates org codes).
    pub external_id: Spanned<String>,
    /// Display name.
    pub name: Spanned<String>,
    /// `[organizations.feature_flags]`: flag key to this organization's override.
    #[serde(default)]
    pub feature_flags: BTreeMap<String, Spanned<toml::Value>>,
}

/// `[login]`: user sign-in settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSection {
    /// Scopes to request.
    pub scopes: Option<Vec<String>>,
    /// Audiences to request.
    pub audiences: Option<Vec<String>>,
    /// `login`, `create` or `none`.
    pub prompt: Option<Spanned<String>>,
    /// Loopback callback port.
    pub port: Option<u16>,
}

/// `[smoke_suite]`: what `cargo kinde smoke` runs besides the `[[smoke]]` checks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeSuiteSection {
    /// Run the default suite: `true` also with `[[smoke]]` / `[[protect]]` checks, `false` never;
    /// unset, it runs only when there are none.
    pub defaults: Option<bool>,
}

/// `[[smoke]]`: one endpoint check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeSection {
    /// Name shown in reports.
    pub name: String,
    /// HTTP method, `GET` by default.
    #[serde(default)]
    pub method: HttpMethod,
    /// A Management API path (`/api/v1/users`) or an absolute URL of your own API.
    #[serde(default)]
    pub path: Option<String>,
    /// An absolute URL (the same as an absolute `path`).
    #[serde(default)]
    pub url: Option<String>,
    /// Which token: `m2m` (default), `user`, `none`, or a `[tokens.NAME]`.
    #[serde(default)]
    pub token: TokenChoice,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body, written as TOML (a table or array), or a string sent as is.
    #[serde(default)]
    pub body: Option<toml::Value>,
    /// Expected status, or a list of accepted ones; 200 by default.
    #[serde(default)]
    pub expect_status: Option<StatusSpec>,
    /// JSON assertions on the response body.
    #[serde(default, rename = "assert")]
    pub asserts: Vec<AssertSection>,
    /// Fail when the response takes longer than this.
    #[serde(default)]
    pub max_latency_ms: Option<u64>,
    /// Tags for `--tag`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Also run the API protection probes against this URL.
    #[serde(default)]
    pub protect: bool,
}

/// The HTTP method of a check, read in any case (`get`, `GET`) and checked when the file is read,
/// so a typo is a `kinde.toml:LINE:COL` error rather than a silent `GET`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum HttpMethod {
    /// `GET` (the default).
    #[default]
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `HEAD`.
    Head,
    /// `OPTIONS`.
    Options,
}

impl HttpMethod {
    /// Every method, with its name as sent on the wire.
    pub const ALL: [(HttpMethod, &'static str); 7] = [
        (HttpMethod::Get, "GET"),
        (HttpMethod::Post, "POST"),
        (HttpMethod::Put, "PUT"),
        (HttpMethod::Patch, "PATCH"),
        (HttpMethod::Delete, "DELETE"),
        (HttpMethod::Head, "HEAD"),
        (HttpMethod::Options, "OPTIONS"),
    ];

    /// The method's name as sent on the wire (`GET`).
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("GET", |(_, name)| name)
    }
}

impl TryFrom<String> for HttpMethod {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let upper = text.to_ascii_uppercase();
        Self::ALL
            .iter()
            .find(|(_, name)| *name == upper)
            .map(|(m, _)| *m)
            .ok_or_else(|| {
                format!("`method` `{text}` is not an HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)")
            })
    }
}

/// Which token a smoke check sends: `m2m` (the default), `user`, `none`, or the name of a
/// `[tokens.NAME]` table (whether that table exists is checked when the file is loaded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
pub enum TokenChoice {
    /// No `Authorization` header.
    None,
    /// The management M2M app's token for the Management API.
    #[default]
    M2m,
    /// A user token from `cargo kinde login`.
    User,
    /// A `[tokens.NAME]` M2M token.
    Named(String),
}

impl From<String> for TokenChoice {
    fn from(text: String) -> Self {
        match text.as_str() {
            "m2m" => TokenChoice::M2m,
            "none" => TokenChoice::None,
            "user" => TokenChoice::User,
            _ => TokenChoice::Named(text),
        }
    }
}

impl std::fmt::Display for TokenChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenChoice::None => f.write_str("none"),
            TokenChoice::M2m => f.write_str("m2m"),
            TokenChoice::User => f.write_str("user"),
            TokenChoice::Named(name) => write!(f, "[tokens.{name}]"),
        }
    }
}

/// One accepted status or several: `expect_status = 201` or `expect_status = [200, 204]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(try_from = "toml::Value")]
pub enum StatusSpec {
    /// Exactly this status.
    One(u16),
    /// Any of these.
    Any(Vec<u16>),
}

impl TryFrom<toml::Value> for StatusSpec {
    type Error = String;

    /// Read by hand rather than as an untagged enum, whose error ("did not match any variant")
    /// says nothing of what is accepted.
    fn try_from(value: toml::Value) -> Result<Self, Self::Error> {
        const ACCEPTED: &str = "a number from 100 to 599, expect_status = 200, or a list of them, expect_status = [200, 204]";
        let status = |v: &toml::Value| match v {
            toml::Value::Integer(n) => u16::try_from(*n)
                .ok()
                .filter(|s| (100..=599).contains(s))
                .ok_or_else(|| {
                    format!("`expect_status` {n} is not an HTTP status: write {ACCEPTED}")
                }),
            toml::Value::String(text) => Err(match text.trim().parse::<u16>() {
                Ok(n) => format!(
                    "`expect_status` \"{text}\" is a string: write the number without quotes, expect_status = {n} (or a list, expect_status = [{n}, 204])"
                ),
                Err(_) => format!("`expect_status` \"{text}\" is not a status: write {ACCEPTED}"),
            }),
            other => Err(format!(
                "`expect_status` is a {}: write {ACCEPTED}",
                other.type_str()
            )),
        };
        match &value {
            toml::Value::Array(list) if list.is_empty() => {
                Err(format!("`expect_status` is an empty list: use {ACCEPTED}"))
            }
            toml::Value::Array(list) => list
                .iter()
                .map(status)
                .collect::<Result<_, _>>()
                .map(StatusSpec::Any),
            one => status(one).map(StatusSpec::One),
        }
    }
}

/// `[[smoke.assert]]`: a JSON Pointer into the response and what must hold there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertSection {
    /// JSON Pointer (RFC 6901), e.g. `/users/0/email`; `""` is the whole body.
    pub pointer: String,
    /// The value must equal this.
    #[serde(default)]
    pub equals: Option<toml::Value>,
    /// The value must exist (`true`) or be absent (`false`).
    #[serde(default)]
    pub exists: Option<bool>,
    /// The value (a string, or a number's text) must match this regular expression.
    #[serde(default)]
    pub matches: Option<String>,
    /// The array (or string, or object) must have exactly this length.
    #[serde(default)]
    pub length: Option<usize>,
    /// ... at least this length.
    #[serde(default)]
    pub min_length: Option<usize>,
}

/// `[tokens.NAME]`: an M2M token with its own audiences and scopes, for `token = "NAME"`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSection {
    /// Audiences to request.
    #[serde(default)]
    pub audience: Vec<String>,
    /// Scopes to request.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// `[[protect]]`: an endpoint of your API that must refuse bad tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectSection {
    /// Name shown in reports (default: the URL).
    #[serde(default)]
    pub name: Option<String>,
    /// The absolute URL.
    pub url: String,
    /// HTTP method, `GET` by default.
    #[serde(default)]
    pub method: HttpMethod,
    /// The API's audience: forged tokens are made for it, and a token for another audience must
    /// be refused.
    #[serde(default)]
    pub audience: Option<String>,
    /// Tags for `--tag`.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A parsed `kinde.toml`, kept with its text so later checks can point into it.
#[derive(Debug)]
pub struct File {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Its contents.
    pub layer: Layer,
}

impl File {
    /// Read and parse `path`.
    pub fn read(path: &Path) -> Result<File, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input(format!("cannot read {}: {e}", path.display())).with_hint(
                "pass an existing file with --config, or remove the flag to search for kinde.toml",
            )
        })?;
        Self::parse(path, text)
    }

    /// Parse `text` as the contents of `path`.
    pub fn parse(path: &Path, text: String) -> Result<File, Error> {
        let layer: Layer = toml::from_str(&text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            // A file that does not parse may have a secret's value running on into later lines
            // in ways no scan can tell (a string closed by the next key's quotes, say): after any
            // secret-looking line, the error is located but no line is shown.
            let (line, column) = line_col(&text, span.start);
            // A comment that names a secret (`# KINDE_CLIENT_SECRET goes in .env`) hides only
            // itself: it cannot run on into the line of the error.
            let hidden = secret_scan(&text)
                .iter()
                .take(line)
                .enumerate()
                .any(|(i, &(secret, comment))| secret && (!comment || i + 1 == line));
            let located = if hidden {
                format!(
                    "{}:{line}:{column}: {} (the line is not shown: a secret's value may run into it)",
                    path.display(),
                    e.message()
                )
            } else {
                locate(path, &text, span, e.message())
            };
            Error::input(located)
                .with_hint("see the kinde.toml reference in the README for every key and its type")
        })?;
        let file = File {
            path: path.to_path_buf(),
            text,
            layer,
        };
        file.reject_secrets_and_nesting()?;
        Ok(file)
    }

    /// An error message pointing at `span` in this file.
    pub fn error_at(&self, span: Range<usize>, message: &str) -> String {
        locate(&self.path, &self.text, span, message)
    }

    /// `(line, column)`, both 1-based, of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(&self.text, offset)
    }

    fn reject_secrets_and_nesting(&self) -> Result<(), Error> {
        let mut layers: Vec<(&Layer, Option<&str>)> = vec![(&self.layer, None)];
        if let Some(profiles) = &self.layer.profiles {
            for (name, layer) in profiles {
                if let Err(why) = super::env::check_profile_name(name) {
                    return Err(Error::input(self.error_at(layer.span(), &why))
                        .with_hint("rename the table to [profiles.NEW-NAME], and its .env file to .env.NEW-NAME"));
                }
                if layer.get_ref().profiles.is_some() {
                    return Err(Error::input(self.error_at(
                        layer.span(),
                        &format!("profile `{name}` contains `profiles`: profiles cannot be nested"),
                    )));
                }
                layers.push((layer.get_ref(), Some(name)));
            }
        }
        for (layer, _) in layers {
            let secrets = [
                (
                    layer
                        .management
                        .as_ref()
                        .and_then(|m| m.client_secret.as_ref()),
                    "KINDE_MANAGEMENT_CLIENT_SECRET",
                ),
                (
                    layer.app.as_ref().and_then(|a| a.client_secret.as_ref()),
                    "KINDE_CLIENT_SECRET",
                ),
            ];
            for (secret, var) in secrets {
                if let Some(secret) = secret {
                    // Only the position: the usual source excerpt would print the secret itself.
                    let (line, column) = self.line_col(secret.span().start);
                    return Err(Error::input(format!(
                        "{}:{line}:{column}: `client_secret` does not belong in kinde.toml: it is committed, and secrets must not be",
                        self.path.display()
                    ))
                    .with_hint(format!(
                        "delete the line, put {var}=... in .env (which .gitignore lists) or the environment, and rotate the secret if this file was ever committed"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

/// `path:line:col: message`, then the line with a caret under the span, like rustc; a line that
/// may hold a secret (see [`secret_lines`]) is located, never shown.
pub fn locate(path: &Path, text: &str, span: Range<usize>, message: &str) -> String {
    let (line, column) = line_col(text, span.start);
    if secret_lines(text).get(line - 1).copied().unwrap_or(true) {
        return format!(
            "{}:{line}:{column}: {message} (the line is not shown: it may hold a secret)",
            path.display()
        );
    }
    let source_line = text.lines().nth(line - 1).unwrap_or("");
    let width = text
        .get(span.clone())
        .map_or(1, |s| s.lines().next().unwrap_or("").chars().count().max(1));
    let gutter = line.to_string().len();
    format!(
        "{}:{line}:{column}: {message}\n{:gutter$} |\n{line} | {source_line}\n{:gutter$} | {}{}",
        path.display(),
        "",
        "",
        " ".repeat(column - 1),
        "^".repeat(width),
    )
}

/// Words that make a key (or a table, or a line) hold a secret: `client_secret`, `KINDE_*_SECRET`,
/// an access or refresh `token`, a `password`.
const SECRET_WORDS: [&str; 3] = ["secret", "token", "password"];

fn mentions_secret(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// For each line of TOML `text`, whether it may hold a secret: it mentions one, it is in a table
/// named for one (`[management.client_secret]`), or it is part of the value of a key named for
/// one, however many lines that value spans (an array, an inline table, a `"""` / `'''` string).
/// A scan by hand, not a parser: it must work on text that does not parse, which is exactly when
/// an excerpt is shown. A value never closed makes every following line secret.
pub fn secret_lines(text: &str) -> Vec<bool> {
    secret_scan(text)
        .into_iter()
        .map(|(secret, _)| secret)
        .collect()
}

/// For each line, [`secret_lines`]'s answer and whether the line is only a comment (outside any
/// value): a comment can show a secret on its own line, but cannot run into the next.
fn secret_scan(text: &str) -> Vec<(bool, bool)> {
    let mut scan = Scan::default();
    let mut table_secret = false;
    let mut value_secret = false;
    text.lines()
        .map(|line| {
            let continued = scan.open();
            let comment = !continued && line.trim_start().starts_with('#');
            if continued {
                value_secret |= mentions_secret(line);
                scan.feed(line);
            } else {
                let trimmed = line.trim_start();
                if trimmed.starts_with('[') {
                    let header = trimmed.split(']').next().unwrap_or(trimmed);
                    table_secret = mentions_secret(header);
                    value_secret = false;
                } else {
                    let key = trimmed.split('=').next().unwrap_or("");
                    value_secret = table_secret || mentions_secret(key) || mentions_secret(line);
                    // A comment opens no value, whatever quotes or brackets it holds.
                    if let Some((_, value)) = trimmed.split_once('=').filter(|_| !comment) {
                        scan.feed(value);
                    }
                }
            }
            (
                table_secret || value_secret || mentions_secret(line),
                comment,
            )
        })
        .collect()
}

/// Where a TOML value scan stands at the end of a line: open brackets and an open multi-line
/// string carry over to the next line.
#[derive(Default)]
struct Scan {
    depth: usize,
    multiline: Option<&'static str>,
}

impl Scan {
    fn open(&self) -> bool {
        self.depth > 0 || self.multiline.is_some()
    }

    fn feed(&mut self, line: &str) {
        let mut rest = line;
        while !rest.is_empty() {
            if let Some(delim) = self.multiline {
                match find_unescaped(rest, delim, delim == "\"\"\"") {
                    Some(end) => {
                        rest = &rest[end + delim.len()..];
                        self.multiline = None;
                    }
                    None => return,
                }
                continue;
            }
            for delim in ["\"\"\"", "'''"] {
                if let Some(after) = rest.strip_prefix(delim) {
                    // The first delimiter opens the string; what follows is its content.
                    self.multiline = Some(delim);
                    rest = after;
                    break;
                }
            }
            if self.multiline.is_some() {
                continue;
            }
            let Some(c) = rest.chars().next() else { break };
            rest = &rest[c.len_utf8()..];
            match c {
                '#' => return,
                '"' | '\'' => {
                    // A one-line string: skip to its end (or the line's, if it never closes).
                    let quote = if c == '"' { "\"" } else { "'" };
                    rest = find_unescaped(rest, quote, c == '"').map_or("", |end| &rest[end + 1..]);
                }
                '[' | '{' => self.depth += 1,
                ']' | '}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
    }
}

/// The byte offset of `delim` in `text`, skipping backslash escapes when `escapes`.
fn find_unescaped(text: &str, delim: &str, escapes: bool) -> Option<usize> {
    let mut i = 0;
    while i < text.len() {
        if escapes && text[i..].starts_with('\\') {
            i += 1 + text[i + 1..].chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if text[i..].starts_with(delim) {
            return Some(i);
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_line_and_column() {
        let text = "[tenant]\ndomain = 42\n";
        let err = File::parse(Path::new("kinde.toml"), text.into()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("kinde.toml:2:10: "), "{msg}");
        assert!(msg.contains("2 | domain = 42"), "{msg}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = "[tenant]\ndomian = \"x\"\n";
        let msg = File::parse(Path::new("k.toml"), text.into())
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("k.toml:2:1: "), "{msg}");
        assert!(msg.contains("domian"), "{msg}");
    }

    #[test]
    fn secrets_are_refused_with_the_variable_to_use() {
        let text = "[management]\nclient_id = \"abc\"\nclient_secret = \"s3cr3t\"\n";
        let err = File::parse(Path::new("kinde.toml"), text.into()).unwrap_err();
        assert!(err.to_string().starts_with("kinde.toml:3:17: "), "{err}");
        assert!(
            err.hint()
                .unwrap()
                .contains("KINDE_MANAGEMENT_CLIENT_SECRET")
        );
    }

    #[test]
    fn lines_in_a_secret_span_are_never_shown() {
        let shapes = [
            "[management]\nclient_id = \"abc\"\nclient_secret = [\n  \"hunter2\" \"x\",\n]\n",
            "[management]\nclient_secret = \"\"\"\nhun\\qter2\n\"\"\"\n",
            "[management]\nclient_secret = '''\nhunter2\n''' x\n",
            "[management.client_secret]\nvalue = \"hunter2\" x\n",
            "[management]\nclient_secret = {\n  value = \"hunter2\" x }\n",
            "[app]\nrefresh_token = [\"a\",\n \"hunter2\" x]\n",
        ];
        for text in shapes {
            let err = File::parse(Path::new("kinde.toml"), text.into()).unwrap_err();
            let msg = err.to_string();
            assert!(
                !msg.contains("hunter2") && !msg.contains("hun\\q"),
                "{msg}\n{text}"
            );
            assert!(msg.starts_with("kinde.toml:"), "{msg}");
        }
    }

    #[test]
    fn a_comment_naming_a_secret_does_not_hide_a_later_error() {
        // The comment init writes: it names the secret's variable, holds none, opens nothing.
        let text =
            "# KINDE_CLIENT_SECRET = \"goes in .env [\n[[roles]]\nkey = \"admin\"\nname = 3\n";
        let err = File::parse(Path::new("kinde.toml"), text.into()).unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("the line is not shown"), "{msg}");
        assert!(msg.contains("name = 3"), "{msg}");
        // A secret's value still hides every line after it.
        let text = "[management]\nclient_secret = \"\"\"\nx\n\"\"\"\n[[roles]]\nname = 3\n";
        let msg = File::parse(Path::new("kinde.toml"), text.into())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("the line is not shown"), "{msg}");
    }

    #[test]
    fn secret_spans_end_where_the_value_ends() {
        let text = "[management]\nclient_secret = [\n \"a\", # ]\n \"]\",\n]\nclient_id = \"x\"\n[tenant]\ndomain = \"\"\"\nd\"\"\"\n";
        assert_eq!(
            secret_lines(text),
            [false, true, true, true, true, false, false, false, false]
        );
    }

    #[test]
    fn profiles_cannot_nest() {
        let text = "[profiles.a.profiles.b.tenant]\ndomain = \"x\"\n";
        let err = File::parse(Path::new("kinde.toml"), text.into()).unwrap_err();
        assert!(err.to_string().contains("cannot be nested"), "{err}");
    }
}
