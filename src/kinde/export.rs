//! `cargo kinde export`: a tenant read through the Management API ([`read`]) and written as a
//! `kinde.toml` ([`render`]) that `register` plans no change for, so a team can adopt a tenant
//! that was configured by hand.
//!
//! Reading never asks for a secret (no application secret is read) and rendering is a pure
//! function of what was read, so the output's shape is tested without a server. Values go
//! through `toml_edit`'s encoder (quotes, escapes, bare or quoted keys); the layout (one comment
//! per section, entries sorted by key) is written here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::Client;
use super::plan::READS_AT_ONCE;
use super::resources::{Application, UrlKind};
use crate::config::usable_key;
use crate::error::Error;

/// Every Management API operation [`read`] calls, as the spec names them (method, path): all
/// reads. Their scopes (`x-scope`) are what the management app needs to export.
pub const OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/api/v1/applications"),
    ("GET", "/api/v1/applications/{app_id}/auth_redirect_urls"),
    ("GET", "/api/v1/applications/{app_id}/auth_logout_urls"),
    ("GET", "/api/v1/apis"),
    ("GET", "/api/v1/apis/{api_id}"),
    ("GET", "/api/v1/apis/{api_id}/scopes"),
    ("GET", "/api/v1/permissions"),
    ("GET", "/api/v1/roles"),
    ("GET", "/api/v1/roles/{role_id}/permissions"),
    ("GET", "/api/v1/environment/feature_flags"),
    ("GET", "/api/v1/organizations"),
    ("GET", "/api/v1/organizations/{org_code}/feature_flags"),
];

/// Page size for the list reads (Kinde's default is 10; the emulator allows up to 500).
const PAGE_SIZE: &str = "100";

/// What was read from the tenant, ready to render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The issuer it was read from.
    pub issuer: String,
    /// The management (M2M) app the export ran as.
    pub management_app: String,
    /// The application written as `[app]`, if one was chosen.
    pub app: Option<ChosenApp>,
    /// Every application of the tenant (names for comments; never a secret).
    pub applications: Vec<AppSummary>,
    /// APIs other than the Kinde Management API, by audience.
    pub apis: Vec<ExportedApi>,
    /// Permissions, by key.
    pub permissions: Vec<ExportedPermission>,
    /// Roles, by key.
    pub roles: Vec<ExportedRole>,
    /// Feature flags with a value of their type, by key.
    pub flags: Vec<ExportedFlag>,
    /// Flags left out, with why (a type kinde.toml cannot declare, a value that does not parse).
    pub skipped_flags: Vec<(String, String)>,
    /// Organizations with an external id, by external id.
    pub organizations: Vec<ExportedOrganization>,
    /// Organizations without an external id (code, name): kinde.toml cannot name them.
    pub unnamed_organizations: Vec<(String, String)>,
}

/// An application as the export names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppSummary {
    /// Client id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kinde's type: `reg`, `spa`, `m2m`, `device`.
    pub kind: String,
}

/// Why an application became `[app]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppReason {
    /// Its client id is configured (`[app] client_id` or `KINDE_CLIENT_ID`).
    Configured,
    /// It is the tenant's only application that is not machine-to-machine.
    OnlyOne,
}

/// The application written as `[app]`, with its URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenApp {
    /// The application.
    pub app: AppSummary,
    /// Why it was chosen.
    pub reason: AppReason,
    /// Allowed callback URLs, sorted.
    pub callback_urls: Vec<String>,
    /// Allowed logout URLs, sorted.
    pub logout_urls: Vec<String>,
}

/// An API with its scopes and the applications authorised for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportedApi {
    /// Name.
    pub name: String,
    /// Audience.
    pub audience: String,
    /// Scope keys, sorted.
    pub scopes: Vec<String>,
    /// Client ids of the authorised applications.
    pub authorized: Vec<String>,
}

/// A permission.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ExportedPermission {
    /// Key.
    pub key: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// A role with the keys of its permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportedRole {
    /// Key.
    pub key: String,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Permission keys, sorted.
    pub permissions: Vec<String>,
    /// Kinde's `is_default_role`.
    pub default: bool,
}

/// A feature flag value of one of the types kinde.toml declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagValue {
    /// `boolean`.
    Boolean(bool),
    /// `string`.
    String(String),
    /// `integer`.
    Integer(i64),
}

impl FlagValue {
    /// Kinde's wire value (`"true"`, `"3"`, `"dark"`) read as a value of Kinde's `kind`
    /// (`bool`, `int`, `str`); `Err` says why it cannot be.
    pub fn parse(kind: &str, value: &str) -> Result<FlagValue, String> {
        match kind {
            "bool" => match value {
                "true" => Ok(FlagValue::Boolean(true)),
                "false" => Ok(FlagValue::Boolean(false)),
                _ => Err(format!("boolean value `{value}` is neither true nor false")),
            },
            "int" => value
                .parse()
                .map(FlagValue::Integer)
                .map_err(|_| format!("integer value `{value}` is not a whole number")),
            "str" => Ok(FlagValue::String(value.to_string())),
            other => Err(format!(
                "type `{other}` cannot be declared in kinde.toml (boolean, string or integer)"
            )),
        }
    }

    /// The `type` kinde.toml writes for it.
    pub fn type_name(&self) -> &'static str {
        match self {
            FlagValue::Boolean(_) => "boolean",
            FlagValue::String(_) => "string",
            FlagValue::Integer(_) => "integer",
        }
    }

    fn toml(&self) -> toml_edit::Value {
        match self {
            FlagValue::Boolean(b) => (*b).into(),
            FlagValue::String(s) => s.as_str().into(),
            FlagValue::Integer(n) => (*n).into(),
        }
    }
}

/// A feature flag, with the value the environment resolves it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFlag {
    /// Key.
    pub key: String,
    /// The environment's value (its override, else the flag's default).
    pub default: FlagValue,
}

/// An organization named by its external id, with the flag values it overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportedOrganization {
    /// External id (the handle kinde.toml matches organizations by).
    pub external_id: String,
    /// Name.
    pub name: String,
    /// Kinde's org code (a comment: codes are generated, never declared).
    pub code: String,
    /// Flag key → value, where the organization's value differs from the environment's.
    pub feature_flags: BTreeMap<String, FlagValue>,
}

/// How many entries each section of the export has (what `--json` reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sections {
    /// `[app]` written (1) or not (0).
    pub app: usize,
    /// `[app] callback_urls`.
    pub callback_urls: usize,
    /// `[app] logout_urls`.
    pub logout_urls: usize,
    /// `[[apis]]`.
    pub apis: usize,
    /// `[[permissions]]`.
    pub permissions: usize,
    /// `[[roles]]`.
    pub roles: usize,
    /// `[[feature_flags]]`.
    pub feature_flags: usize,
    /// `[[organizations]]`.
    pub organizations: usize,
}

impl Snapshot {
    /// The number of entries of each section.
    pub fn sections(&self) -> Sections {
        Sections {
            app: usize::from(self.app.is_some()),
            callback_urls: self.app.as_ref().map_or(0, |a| a.callback_urls.len()),
            logout_urls: self.app.as_ref().map_or(0, |a| a.logout_urls.len()),
            apis: self.apis.len(),
            // Keys kinde.toml refuses are written as comments, not entries.
            permissions: self
                .permissions
                .iter()
                .filter(|p| usable_key(&p.key))
                .count(),
            roles: self.roles.iter().filter(|r| usable_key(&r.key)).count(),
            feature_flags: self.flags.len(),
            organizations: self.organizations.len(),
        }
    }

    fn app_name(&self, id: &str) -> Option<&AppSummary> {
        self.applications.iter().find(|a| a.id == id)
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(value)
        .map_err(|e| Error::network(format!("unexpected {what} from the Management API: {e}")))
}

async fn list<T: serde::de::DeserializeOwned>(
    client: &Client,
    path: &str,
    key: &str,
) -> Result<Vec<T>, Error> {
    let items = client
        .list_all(path, key, &[("page_size".into(), PAGE_SIZE.into())])
        .await?;
    parse(Value::Array(items), key)
}

#[derive(Deserialize)]
struct RoleItem {
    id: String,
    key: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    is_default_role: bool,
}

#[derive(Deserialize)]
struct KeyItem {
    key: String,
}

#[derive(Deserialize)]
struct OrganizationItem {
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    external_id: Option<String>,
}

/// A flag as `GET .../feature_flags` lists it: Kinde's type and its value as text.
#[derive(Debug, Deserialize)]
struct WireFlag {
    #[serde(rename = "type")]
    kind: String,
    /// Text in the spec; read as any JSON so a number or boolean is not an error.
    #[serde(default)]
    value: Value,
}

impl WireFlag {
    fn text(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

async fn flag_values(client: &Client, path: &str) -> Result<BTreeMap<String, WireFlag>, Error> {
    let answer = client.call(reqwest::Method::GET, path, &[], None).await?;
    parse(
        answer
            .get("feature_flags")
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
        "feature flags",
    )
}

fn summary(app: &Application) -> AppSummary {
    AppSummary {
        id: app.id.clone(),
        name: app.name.clone(),
        kind: app.kind.clone(),
    }
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.is_empty())
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items.dedup();
    items
}

/// Read the tenant `client` manages. `configured_app` is the `[app]` client id when one is
/// configured: that application is exported, and must exist. Without one, the tenant's only
/// application that is not M2M is; with several, none is (the rendering lists them).
pub async fn read(client: &Client, configured_app: Option<&str>) -> Result<Snapshot, Error> {
    let (applications, apis, permissions, roles, env_flags, organizations) = tokio::try_join!(
        client.applications(),
        client.apis(),
        list::<ExportedPermission>(client, "/api/v1/permissions", "permissions"),
        list::<RoleItem>(client, "/api/v1/roles", "roles"),
        flag_values(client, "/api/v1/environment/feature_flags"),
        list::<OrganizationItem>(client, "/api/v1/organizations", "organizations"),
    )?;
    let mut snapshot = Snapshot {
        issuer: client.issuer().as_str().to_string(),
        management_app: client.client_id().to_string(),
        applications: applications.iter().map(summary).collect(),
        ..Snapshot::default()
    };
    snapshot.applications.sort_by(|a, b| a.id.cmp(&b.id));

    let chosen = match configured_app {
        Some(id) => {
            let app = applications.iter().find(|a| a.id == id).ok_or_else(|| {
                Error::input(format!(
                    "the configured app client id `{id}` is not an application of this tenant"
                ))
                .with_hint("check `client_id` under [app] in kinde.toml (or KINDE_CLIENT_ID); `cargo kinde api GET /applications` lists the tenant's applications")
            })?;
            Some((app, AppReason::Configured))
        }
        None => {
            let mut users: Vec<&Application> =
                applications.iter().filter(|a| a.kind != "m2m").collect();
            match (users.pop(), users.is_empty()) {
                (Some(only), true) => Some((only, AppReason::OnlyOne)),
                _ => None,
            }
        }
    };
    if let Some((app, reason)) = chosen {
        let (callback, logout) = tokio::try_join!(
            client.urls(UrlKind::Callback, &app.id),
            client.urls(UrlKind::Logout, &app.id),
        )?;
        snapshot.app = Some(ChosenApp {
            app: summary(app),
            reason,
            callback_urls: sorted(callback),
            logout_urls: sorted(logout),
        });
    }

    // Each API's, role's and organization's own lists are read a few at a time, as a plan reads
    // them: an export of a large tenant takes its slowest batch, not the sum of its requests.
    snapshot.apis = stream::iter(apis.into_iter().filter(|a| !a.is_management_api).map(
        |api| async move {
            let (scopes, authorized) =
                tokio::try_join!(client.api_scopes(&api.id), client.api_applications(&api.id))?;
            Ok::<_, Error>(ExportedApi {
                name: api.name,
                audience: api.audience,
                scopes: sorted(scopes.into_iter().map(|s| s.key).collect()),
                authorized: sorted(
                    authorized
                        .into_iter()
                        .filter(|a| a.is_active != Some(false))
                        .map(|a| a.id)
                        .collect(),
                ),
            })
        },
    ))
    .buffered(READS_AT_ONCE)
    .try_collect()
    .await?;
    snapshot.apis.sort_by(|a, b| a.audience.cmp(&b.audience));

    snapshot.permissions = permissions
        .into_iter()
        .map(|p| ExportedPermission {
            name: non_empty(p.name),
            description: non_empty(p.description),
            key: p.key,
        })
        .collect();
    snapshot.permissions.sort_by(|a, b| a.key.cmp(&b.key));

    snapshot.roles = stream::iter(roles.into_iter().map(|role| async move {
        let path = format!("/api/v1/roles/{}/permissions", role.id);
        let keys: Vec<KeyItem> = list(client, &path, "permissions").await?;
        Ok::<_, Error>(ExportedRole {
            key: role.key,
            name: non_empty(role.name),
            description: non_empty(role.description),
            permissions: sorted(keys.into_iter().map(|k| k.key).collect()),
            default: role.is_default_role,
        })
    }))
    .buffered(READS_AT_ONCE)
    .try_collect()
    .await?;
    snapshot.roles.sort_by(|a, b| a.key.cmp(&b.key));

    for (key, flag) in &env_flags {
        match FlagValue::parse(&flag.kind, &flag.text()) {
            Ok(default) => snapshot.flags.push(ExportedFlag {
                key: key.clone(),
                default,
            }),
            Err(why) => snapshot.skipped_flags.push((key.clone(), why)),
        }
    }

    let mut named = Vec::new();
    for org in organizations {
        match non_empty(org.external_id) {
            Some(external_id) => named.push(ExportedOrganization {
                external_id,
                name: org.name,
                code: org.code,
                feature_flags: BTreeMap::new(),
            }),
            None => snapshot.unnamed_organizations.push((org.code, org.name)),
        }
    }
    let flags = &snapshot.flags;
    snapshot.organizations = stream::iter(named.into_iter().map(|mut exported| async move {
        if flags.is_empty() {
            return Ok::<_, Error>(exported);
        }
        // Kinde answers each flag's value for the organization, inherited or its own: a value
        // that differs from the environment's is an override.
        let path = format!("/api/v1/organizations/{}/feature_flags", exported.code);
        for (key, value) in flag_values(client, &path).await? {
            let Some(flag) = flags.iter().find(|f| f.key == key) else {
                continue;
            };
            if let Ok(value) = FlagValue::parse(&value.kind, &value.text())
                && value != flag.default
            {
                exported.feature_flags.insert(key, value);
            }
        }
        Ok(exported)
    }))
    .buffered(READS_AT_ONCE)
    .try_collect()
    .await?;
    snapshot
        .organizations
        .sort_by(|a, b| a.external_id.cmp(&b.external_id));
    snapshot.unnamed_organizations.sort();
    Ok(snapshot)
}

/// A TOML string, quoted and escaped.
fn string(text: &str) -> String {
    toml_edit::Value::from(text).to_string()
}

/// A TOML key: bare when it can be, else quoted.
fn key(text: &str) -> String {
    toml_edit::Key::new(text).to_string()
}

/// Tenant text in a comment: one line, no terminal controls, secrets masked.
fn comment(text: &str) -> String {
    crate::net::server_line(text)
}

/// A list of strings, one per line when it is long or an entry has a comment.
fn array(items: &[(String, Option<String>)]) -> String {
    let one_line = items.iter().all(|(_, c)| c.is_none())
        && items.iter().map(|(s, _)| s.len() + 4).sum::<usize>() < 80;
    if one_line {
        let inner: Vec<String> = items.iter().map(|(s, _)| string(s)).collect();
        return format!("[{}]", inner.join(", "));
    }
    let mut out = String::from("[\n");
    for (item, note) in items {
        let _ = write!(out, "  {},", string(item));
        if let Some(note) = note {
            let _ = write!(out, "  # {}", comment(note));
        }
        out.push('\n');
    }
    out.push(']');
    out
}

fn plain(items: &[String]) -> String {
    array(&items.iter().map(|s| (s.clone(), None)).collect::<Vec<_>>())
}

fn kind_name(kind: &str) -> &str {
    match kind {
        "reg" => "back-end web",
        "spa" => "front-end and mobile",
        "m2m" => "machine to machine",
        "device" => "device and IoT",
        other => other,
    }
}

/// The tenant as a `kinde.toml`, with a header saying where and when (`exported_at`) it was read.
pub fn render(s: &Snapshot, exported_at: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# kinde.toml exported by `cargo kinde export` (cargo-kinde {}) from {} at {exported_at}.",
        env!("CARGO_PKG_VERSION"),
        comment(&s.issuer)
    );
    out.push_str(
        "# No secrets: client secrets stay in .env or the environment (KINDE_MANAGEMENT_CLIENT_SECRET,\n\
         # KINDE_CLIENT_SECRET). `cargo kinde register --dry-run` should now plan no change.\n\
         # Entries are sorted by key; Kinde's ids and org codes are comments, never declared.\n",
    );

    let _ = write!(
        out,
        "\n[tenant]\ndomain = {}\n\n\
         # The machine-to-machine app this export ran as (its secret: KINDE_MANAGEMENT_CLIENT_SECRET).\n\
         [management]\nclient_id = {}\n",
        string(&s.issuer),
        string(&s.management_app)
    );

    render_app(s, &mut out);
    render_apis(s, &mut out);
    render_permissions(s, &mut out);
    render_roles(s, &mut out);
    render_flags(s, &mut out);
    render_organizations(s, &mut out);
    out
}

fn render_app(s: &Snapshot, out: &mut String) {
    match &s.app {
        Some(chosen) => {
            let why = match chosen.reason {
                AppReason::Configured => "exported because its client id is configured",
                AppReason::OnlyOne => {
                    "the tenant's only application that is not machine to machine"
                }
            };
            let _ = write!(
                out,
                "\n# The application users sign in to: `{}` ({}),\n# {why}.\n\
                 # Where Kinde may send users after sign-in and sign-out.\n\
                 [app]\nclient_id = {}\ncallback_urls = {}\nlogout_urls = {}\n",
                comment(&chosen.app.name),
                kind_name(&chosen.app.kind),
                string(&chosen.app.id),
                plain(&chosen.callback_urls),
                plain(&chosen.logout_urls),
            );
        }
        None => {
            let users: Vec<&AppSummary> =
                s.applications.iter().filter(|a| a.kind != "m2m").collect();
            out.push_str(
                "\n# [app]: not exported. No app client id is configured and the tenant has ",
            );
            if users.is_empty() {
                out.push_str("no application users sign in to.\n");
                return;
            }
            let _ = writeln!(
                out,
                "{} applications users sign in to;\n\
                 # set `client_id` (or KINDE_CLIENT_ID) to one of them and export again to get its URLs:",
                users.len()
            );
            for app in users {
                let _ = writeln!(
                    out,
                    "#   client_id = {}  # {} ({})",
                    string(&app.id),
                    comment(&app.name),
                    kind_name(&app.kind)
                );
            }
        }
    }
}

fn render_apis(s: &Snapshot, out: &mut String) {
    if s.apis.is_empty() {
        return;
    }
    out.push_str(
        "\n# APIs with their scopes and the applications authorised for them (`app` and\n\
         # `management` name the apps above; other apps by client id).\n",
    );
    let app_id = s.app.as_ref().map(|a| a.app.id.as_str());
    for api in &s.apis {
        let mut authorize: Vec<(String, Option<String>)> = api
            .authorized
            .iter()
            .map(|id| {
                if Some(id.as_str()) == app_id {
                    ("app".to_string(), None)
                } else if *id == s.management_app {
                    ("management".to_string(), None)
                } else {
                    let note = s
                        .app_name(id)
                        .map(|a| format!("{} ({})", a.name, kind_name(&a.kind)));
                    (id.clone(), note)
                }
            })
            .collect();
        authorize.sort();
        let _ = write!(
            out,
            "[[apis]]\nname = {}\naudience = {}\nscopes = {}\nauthorize = {}\n\n",
            string(&api.name),
            string(&api.audience),
            plain(&api.scopes),
            array(&authorize),
        );
    }
    out.pop();
}

fn render_permissions(s: &Snapshot, out: &mut String) {
    if s.permissions.is_empty() {
        return;
    }
    out.push_str("\n# Permissions, by key (what roles grant and tokens carry in `permissions`).\n");
    for p in &s.permissions {
        if !usable_key(&p.key) {
            let _ = writeln!(out, "{}\n", unusable_key("permission", &p.key));
            continue;
        }
        let _ = writeln!(out, "[[permissions]]\nkey = {}", string(&p.key));
        if let Some(name) = &p.name {
            let _ = writeln!(out, "name = {}", string(name));
        }
        if let Some(description) = &p.description {
            let _ = writeln!(out, "description = {}", string(description));
        }
        out.push('\n');
    }
    out.pop();
}

/// The comment standing for a role or permission whose key kinde.toml cannot declare.
fn unusable_key(what: &str, key: &str) -> String {
    format!(
        "# {what} `{}` left out: its key is empty or has spaces, which kinde.toml cannot declare;\n# give it a key without spaces in the Kinde admin and export again (until then\n# `register --check` reports it as not in kinde.toml)",
        comment(key)
    )
}

fn render_roles(s: &Snapshot, out: &mut String) {
    if s.roles.is_empty() {
        return;
    }
    out.push_str(
        "\n# Roles, by key, with their permissions; `default`: given to new organization members.\n",
    );
    for r in &s.roles {
        if !usable_key(&r.key) {
            let _ = writeln!(out, "{}\n", unusable_key("role", &r.key));
            continue;
        }
        let _ = writeln!(out, "[[roles]]\nkey = {}", string(&r.key));
        if let Some(name) = &r.name {
            let _ = writeln!(out, "name = {}", string(name));
        }
        if let Some(description) = &r.description {
            let _ = writeln!(out, "description = {}", string(description));
        }
        let (kept, left): (Vec<String>, Vec<String>) =
            r.permissions.iter().cloned().partition(|p| usable_key(p));
        for key in &left {
            let _ = writeln!(
                out,
                "# permission `{}` of this role left out (see above)",
                comment(key)
            );
        }
        let _ = writeln!(
            out,
            "permissions = {}\ndefault = {}\n",
            plain(&kept),
            r.default
        );
    }
    out.pop();
}

fn render_flags(s: &Snapshot, out: &mut String) {
    if s.flags.is_empty() && s.skipped_flags.is_empty() {
        return;
    }
    out.push_str(
        "\n# Feature flags, by key. The Management API lists a flag's type and the environment's\n\
         # value only: `default` is that value, and name, description and override_level (Kinde's\n\
         # allow_override_level) are not readable; add them as the Kinde admin shows them.\n",
    );
    for (key, why) in &s.skipped_flags {
        let _ = writeln!(out, "# flag `{}` left out: {}", comment(key), comment(why));
    }
    for f in &s.flags {
        let _ = writeln!(
            out,
            "[[feature_flags]]\nkey = {}\ntype = {}\ndefault = {}\n",
            string(&f.key),
            string(f.default.type_name()),
            f.default.toml()
        );
    }
    out.pop();
}

fn render_organizations(s: &Snapshot, out: &mut String) {
    if s.organizations.is_empty() && s.unnamed_organizations.is_empty() {
        return;
    }
    out.push_str(
        "\n# Organizations, by external id (Kinde generates org codes, so kinde.toml matches by\n\
         # external_id), with the flag values they override. Members are data, not configuration.\n",
    );
    if !s.unnamed_organizations.is_empty() {
        out.push_str("# Without an external id, so not exported (give one to manage it here):\n");
        for (code, name) in &s.unnamed_organizations {
            let _ = writeln!(out, "#   {} {}", comment(code), comment(name));
        }
    }
    for o in &s.organizations {
        let _ = writeln!(
            out,
            "[[organizations]]  # {}\nexternal_id = {}\nname = {}",
            comment(&o.code),
            string(&o.external_id),
            string(&o.name)
        );
        if !o.feature_flags.is_empty() {
            out.push_str("[organizations.feature_flags]\n");
            for (flag, value) in &o.feature_flags {
                let _ = writeln!(out, "{} = {}", key(flag), value.toml());
            }
        }
        out.push('\n');
    }
    out.pop();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            issuer: "https://acme.kinde.com".into(),
            management_app: "m2m1".into(),
            app: Some(ChosenApp {
                app: AppSummary {
                    id: "web1".into(),
                    name: "Web".into(),
                    kind: "reg".into(),
                },
                reason: AppReason::OnlyOne,
                callback_urls: vec!["https://a.io/cb".into()],
                logout_urls: vec![],
            }),
            applications: vec![AppSummary {
                id: "other1".into(),
                name: "Worker\n[app]".into(),
                kind: "m2m".into(),
            }],
            apis: vec![ExportedApi {
                name: "Orders \"API\"".into(),
                audience: "https://orders".into(),
                scopes: vec!["read:orders".into()],
                authorized: vec!["m2m1".into(), "other1".into(), "web1".into()],
            }],
            permissions: vec![ExportedPermission {
                key: "read:orders".into(),
                name: Some("Read\norders".into()),
                description: None,
            }],
            roles: vec![ExportedRole {
                key: "admin".into(),
                name: Some("Admin".into()),
                description: Some("All of it".into()),
                permissions: vec!["read:orders".into()],
                default: true,
            }],
            flags: vec![
                ExportedFlag {
                    key: "max".into(),
                    default: FlagValue::Integer(20),
                },
                ExportedFlag {
                    key: "theme".into(),
                    default: FlagValue::String("light".into()),
                },
            ],
            skipped_flags: vec![("blob".into(), "type `json` cannot be declared".into())],
            organizations: vec![ExportedOrganization {
                external_id: "acme".into(),
                name: "Acme".into(),
                code: "org_1".into(),
                feature_flags: BTreeMap::from([
                    ("theme".into(), FlagValue::String("dark".into())),
                    ("odd key".into(), FlagValue::Boolean(true)),
                ]),
            }],
            unnamed_organizations: vec![("org_default".into(), "Default\norg".into())],
        }
    }

    /// The review's B7: a key kinde.toml refuses (Kinde's admin may allow one with a space) is
    /// a comment, and the roles granting it leave it out, so the file still loads.
    #[test]
    fn keys_kinde_toml_cannot_declare_are_comments_and_the_file_loads() {
        let mut s = snapshot();
        s.permissions.push(ExportedPermission {
            key: "we ird".into(),
            name: None,
            description: None,
        });
        s.roles[0].permissions.push("we ird".into());
        s.roles.push(ExportedRole {
            key: "bad role".into(),
            name: None,
            description: None,
            permissions: vec![],
            default: false,
        });
        let text = render(&s, "2026-01-01T00:00:00Z");
        assert!(text.contains("# permission `we ird` left out"), "{text}");
        assert!(text.contains("# role `bad role` left out"), "{text}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(crate::config::FILE_NAME), &text).unwrap();
        let options = crate::config::LoadOptions {
            cwd: dir.path().into(),
            ..Default::default()
        };
        let env = BTreeMap::<String, String>::new();
        let config =
            crate::config::Config::load(&options, &env).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let roles = config.roles.unwrap();
        assert_eq!(roles.len(), 1);
        let keys: Vec<&str> = roles[0]
            .permissions
            .iter()
            .map(|p| p.value.as_str())
            .collect();
        assert_eq!(keys, ["read:orders"]);
    }

    #[test]
    fn the_export_parses_to_the_contract_schema() {
        let text = render(&snapshot(), "2026-01-01T00:00:00Z");
        let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(doc["app"]["client_id"].as_str(), Some("web1"));
        let api = &doc["apis"][0];
        assert_eq!(api["name"].as_str(), Some("Orders \"API\""));
        let authorize: Vec<&str> = api["authorize"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(authorize, ["app", "management", "other1"]);
        assert_eq!(doc["permissions"][0]["name"].as_str(), Some("Read\norders"));
        assert!(doc["permissions"][0].get("description").is_none());
        let role = &doc["roles"][0];
        assert_eq!(role["default"].as_bool(), Some(true));
        assert_eq!(role["permissions"][0].as_str(), Some("read:orders"));
        let flags = doc["feature_flags"].as_array().unwrap();
        assert_eq!(flags[0]["type"].as_str(), Some("integer"));
        assert_eq!(flags[0]["default"].as_integer(), Some(20));
        assert_eq!(flags[1]["default"].as_str(), Some("light"));
        let org = &doc["organizations"][0];
        assert_eq!(org["external_id"].as_str(), Some("acme"));
        assert_eq!(org["feature_flags"]["theme"].as_str(), Some("dark"));
        assert_eq!(org["feature_flags"]["odd key"].as_bool(), Some(true));
        // Tenant text in comments stays on its line: it cannot open a table.
        assert!(
            !text.lines().any(|l| l.trim() == "[app]" && l != "[app]"),
            "{text}"
        );
        assert_eq!(text.matches("\n[app]\n").count(), 1, "{text}");
        assert!(text.contains("# flag `blob` left out"), "{text}");
        assert!(text.contains("org_default Default\\norg"), "{text}");
        assert!(
            text.contains("# Worker\\n[app] (machine to machine)"),
            "{text}"
        );
    }

    #[test]
    fn without_a_chosen_app_the_candidates_are_comments() {
        let mut s = snapshot();
        s.app = None;
        s.apis.clear();
        s.applications = vec![
            AppSummary {
                id: "a1".into(),
                name: "One".into(),
                kind: "reg".into(),
            },
            AppSummary {
                id: "a2".into(),
                name: "Two".into(),
                kind: "spa".into(),
            },
        ];
        let text = render(&s, "now");
        let doc: toml::Table = toml::from_str(&text).unwrap();
        assert!(doc.get("app").is_none(), "{text}");
        assert!(
            text.contains("#   client_id = \"a1\"  # One (back-end web)"),
            "{text}"
        );
        assert!(
            text.contains("#   client_id = \"a2\"  # Two (front-end and mobile)"),
            "{text}"
        );
    }

    #[test]
    fn export_only_reads_operations_of_the_spec() {
        let mut scopes: Vec<&str> = OPERATIONS
            .iter()
            .map(|(method, path)| {
                let op = crate::kinde::find_operation(method, path)
                    .unwrap_or_else(|| panic!("{method} {path} is not in the spec"));
                assert_eq!(op.method, "GET");
                op.scope
                    .unwrap_or_else(|| panic!("{method} {path} has no scope"))
            })
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        // The README lists these as what the management app needs for `export`.
        assert_eq!(
            scopes.join(" "),
            "read:api_scopes read:apis read:application_logout_uris read:applications \
             read:applications_redirect_uris read:environment_feature_flags \
             read:organization_feature_flags read:organizations read:permissions \
             read:role_permissions read:roles"
        );
    }

    #[test]
    fn flag_values_are_read_as_their_type() {
        assert_eq!(
            FlagValue::parse("bool", "true"),
            Ok(FlagValue::Boolean(true))
        );
        assert_eq!(FlagValue::parse("int", "-3"), Ok(FlagValue::Integer(-3)));
        assert_eq!(
            FlagValue::parse("str", "x"),
            Ok(FlagValue::String("x".into()))
        );
        assert!(FlagValue::parse("bool", "yes").is_err());
        assert!(FlagValue::parse("int", "1.5").is_err());
        assert!(FlagValue::parse("json", "{}").is_err());
    }

    #[test]
    fn long_lists_go_one_per_line() {
        let urls: Vec<String> = (0..5)
            .map(|i| format!("https://example.com/callback/{i}"))
            .collect();
        let text = plain(&urls);
        assert_eq!(text.lines().count(), 7, "{text}");
        let doc: toml::Table = toml::from_str(&format!("x = {text}")).unwrap();
        assert_eq!(doc["x"].as_array().unwrap().len(), 5);
    }
}
