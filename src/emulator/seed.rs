//! `cargo kinde emulator --seed FILE`: a TOML description of the tenant a test starts from
//! (users, organizations, memberships, roles, permissions, feature flags, applications, APIs and
//! their authorisations), and the baseline `POST /_emulator/reset` returns to.
//!
//! The seed is built on top of the default tenant ([`Tenant::seed`]): the signing keys, the
//! management M2M app cargo-kinde uses and the default organization always exist. A seed that
//! lists users replaces the default sample users; one that lists applications replaces the
//! default web app. Everything is checked before the emulator listens: unknown fields, empty or
//! duplicate keys, codes, emails, handles, memberships, scopes and authorisations, references
//! to what the seed does not define, flag values of the wrong type, malformed emails, allowed
//! domains and callback URLs. Every problem is reported at once, each with the file, line and column of the
//! entry at fault and how to fix it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::redirect;
use super::tenant::{
    Api, ApiScope, Application, Authorization, Extra, FeatureFlag, Organization, Permission, Role,
    Tenant, TokenSettings, User, random_hex, random_secret, random_uuid,
};
use crate::error::Error;

/// A parsed seed file, ready to build tenants from.
#[derive(Clone, Default)]
pub struct Seed {
    /// Where it came from (for errors); `None` for the default tenant.
    path: Option<PathBuf>,
    /// Its text, to turn byte spans into lines and columns.
    text: String,
    file: SeedFile,
}

/// The file's shape. Unknown fields are refused: a typo must not silently seed nothing.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    permissions: Vec<SeedPermission>,
    #[serde(default)]
    roles: Vec<SeedRole>,
    #[serde(default)]
    organizations: Vec<SeedOrganization>,
    #[serde(default)]
    users: Vec<SeedUser>,
    #[serde(default)]
    memberships: Vec<SeedMembership>,
    #[serde(default)]
    feature_flags: Vec<SeedFlag>,
    #[serde(default)]
    applications: Vec<SeedApplication>,
    #[serde(default)]
    apis: Vec<SeedApi>,
    #[serde(default)]
    authorizations: Vec<SeedAuthorization>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedPermission {
    key: Spanned<String>,
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedRole {
    key: Spanned<String>,
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// Permission keys.
    #[serde(default)]
    permissions: Vec<Spanned<String>>,
    /// Given to every new user (Kinde's "default role").
    #[serde(default)]
    is_default_role: bool,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedOrganization {
    code: Spanned<String>,
    name: String,
    #[serde(default)]
    external_id: Option<Spanned<String>>,
    #[serde(default)]
    handle: Option<Spanned<String>>,
    #[serde(default)]
    is_auto_membership_enabled: bool,
    /// Email domains that may join (Kinde's "Allowed domains"), each as `acme.com`.
    #[serde(default)]
    allowed_domains: Vec<Spanned<String>>,
    /// Kinde's "Auto-add users from allowed domains".
    #[serde(default)]
    is_auto_join_domain_list: bool,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUser {
    email: Spanned<String>,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedMembership {
    /// The user's email.
    user: Spanned<String>,
    /// The organization's code.
    organization: Spanned<String>,
    /// Role keys held in that organization.
    #[serde(default)]
    roles: Vec<Spanned<String>>,
    /// Permission keys given directly.
    #[serde(default)]
    permissions: Vec<Spanned<String>>,
}

/// A flag value as TOML writes it: `true`, `3` or `"dark"`; checked against the flag's type
/// when built, so a wrong one is reported at its place.
type FlagValue = toml::Value;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFlag {
    key: Spanned<String>,
    name: String,
    #[serde(default)]
    description: String,
    /// `str`, `int` or `bool`.
    #[serde(rename = "type")]
    kind: Spanned<String>,
    /// `env`, `org` or `usr` (Kinde's default: `usr`).
    #[serde(default)]
    allow_override_level: Option<Spanned<String>>,
    default: Spanned<FlagValue>,
    #[serde(default)]
    environment: Option<Spanned<FlagValue>>,
    /// Overrides by organization code.
    #[serde(default)]
    organizations: BTreeMap<String, Spanned<FlagValue>>,
    /// Overrides by user email.
    #[serde(default)]
    users: BTreeMap<String, Spanned<FlagValue>>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedApplication {
    name: Spanned<String>,
    /// `reg`, `spa`, `m2m` or `device`.
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    client_id: Option<Spanned<String>>,
    #[serde(default)]
    client_secret: Option<Spanned<String>>,
    #[serde(default)]
    callback_urls: Vec<Spanned<String>>,
    #[serde(default)]
    logout_urls: Vec<Spanned<String>>,
    /// Token customisation and lifetimes (Kinde's dashboard "Tokens" page for the app).
    #[serde(default)]
    tokens: Option<SeedTokens>,
}

/// `[applications.tokens]`: the claims Kinde adds only when toggled on, and lifetimes in seconds.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedTokens {
    /// Access token `roles`.
    #[serde(default)]
    roles: bool,
    /// Access token `org_name`.
    #[serde(default)]
    org_name: bool,
    /// ID token `organizations`.
    #[serde(default)]
    organizations: bool,
    #[serde(default)]
    access_token_lifetime: Option<Spanned<u64>>,
    #[serde(default)]
    refresh_token_lifetime: Option<Spanned<u64>>,
    #[serde(default)]
    id_token_lifetime: Option<Spanned<u64>>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedApi {
    name: String,
    audience: Spanned<String>,
    /// Scope keys the API defines.
    #[serde(default)]
    scopes: Vec<Spanned<String>>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedAuthorization {
    /// The application's name.
    application: Spanned<String>,
    /// The API's audience.
    api: Spanned<String>,
    /// Scopes of that API granted to the application.
    #[serde(default)]
    scopes: Vec<Spanned<String>>,
}

impl std::fmt::Debug for Seed {
    // The file may hold client secrets: only where it came from is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seed")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Seed {
    /// Read and check `path`: a TOML syntax error or an unknown field is an input error naming
    /// `path:line:column`; past those, every rule is checked and every problem found is reported
    /// at once, each at its place with how to fix it.
    pub fn load(path: &Path) -> Result<Seed, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file("read", path, e))?;
        let file: SeedFile = toml::from_str(&text).map_err(|e| {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            let message = e.message().trim_end().to_string();
            // The emulator's sign-in page picks a user; there is nothing to check a password with.
            let hint = if message.contains("unknown field `password`") {
                "seeded users have no password: the emulator's sign-in page lists them (or `login_hint` picks one); remove the line"
            } else if message.contains("unknown field") {
                "remove or rename the field: the message lists the ones this entry takes (templates/emulator-seed.toml shows each)"
            } else {
                HINT
            };
            Error::input(format!(
                "{}: {message}{}",
                position(path, &text, at),
                excerpt(&text, at)
            ))
            .with_hint(hint)
        })?;
        let seed = Seed {
            path: Some(path.to_path_buf()),
            text,
            file,
        };
        // Built once with a placeholder key, so every rule is checked before the emulator starts.
        seed.build(vec![String::new()], None)?;
        Ok(seed)
    }

    /// The tenant this seed describes, signed with `keys` (newest first). Ids and secrets the
    /// seed leaves out are generated, except that those `previous` holds for the same thing
    /// (an application by client id or by name and type, a user by email, a role or permission
    /// by key, an API by audience, the default organization) are kept: a reset changes no id a
    /// test or an `.env` already holds.
    pub fn build(&self, keys: Vec<String>, previous: Option<&Tenant>) -> Result<Tenant, Error> {
        let mut p = Problems::new(self);
        let mut t = Tenant::seed(keys.first().cloned().unwrap_or_default());
        t.keys = keys;
        let f = &self.file;

        p.first_twice(
            "permission key",
            f.permissions.iter().map(|p| &p.key),
            "give each [[permissions]] entry its own key",
        );
        for perm in &f.permissions {
            if perm.key.get_ref().trim().is_empty() {
                p.add(
                    &perm.key,
                    "a permission's key may not be empty",
                    "write a key such as `read:orders`",
                );
            }
            t.permissions.push(Permission {
                id: random_uuid(),
                key: perm.key.get_ref().clone(),
                name: perm.name.clone(),
                description: perm.description.clone(),
                extra: Extra::new(),
            });
        }
        let permission_id = |p: &mut Problems, t: &Tenant, key: &Spanned<String>, who: &str| {
            let found = t
                .permissions
                .iter()
                .find(|perm| &perm.key == key.get_ref())
                .map(|perm| perm.id.clone());
            if found.is_none() {
                p.add(
                    key,
                    format!(
                        "{who} names permission `{}`, which no [[permissions]] entry defines",
                        key.get_ref()
                    ),
                    define_or_pick(
                        "[[permissions]]",
                        "key",
                        key.get_ref(),
                        t.permissions.iter().map(|perm| perm.key.as_str()),
                    ),
                );
            }
            found
        };

        p.first_twice(
            "role key",
            f.roles.iter().map(|r| &r.key),
            "give each [[roles]] entry its own key",
        );
        for r in &f.roles {
            if r.key.get_ref().trim().is_empty() {
                p.add(
                    &r.key,
                    "a role's key may not be empty",
                    "write a key such as `admin`",
                );
            }
            let who = format!("role `{}`", r.key.get_ref());
            let permissions = r
                .permissions
                .iter()
                .filter_map(|k| permission_id(&mut p, &t, k, &who))
                .collect();
            t.roles.push(Role {
                id: random_uuid(),
                key: r.key.get_ref().clone(),
                name: r.name.clone(),
                description: r.description.clone(),
                is_default_role: r.is_default_role,
                permissions,
                extra: Extra::new(),
            });
        }

        p.first_twice(
            "organization code",
            f.organizations.iter().map(|o| &o.code),
            "give each [[organizations]] entry its own code",
        );
        p.first_twice(
            "organization handle",
            f.organizations.iter().filter_map(|o| o.handle.as_ref()),
            "a handle names one organization: give each its own, or leave it out",
        );
        p.first_twice(
            "organization external_id",
            f.organizations
                .iter()
                .filter_map(|o| o.external_id.as_ref()),
            "an external_id names one organization: give each its own, or leave it out",
        );
        for o in &f.organizations {
            if o.code.get_ref().trim().is_empty() {
                p.add(
                    &o.code,
                    "an organization's code may not be empty",
                    "write a code such as `org_acme`",
                );
            } else if t
                .organization(o.code.get_ref())
                .is_some_and(|d| d.is_default)
            {
                p.add(
                    &o.code,
                    format!(
                        "organization code `{}` is the default organization's",
                        o.code.get_ref()
                    ),
                    "the default organization always exists: give this one another code",
                );
            }
            let mut org = Organization::new(&o.name);
            org.code = o.code.get_ref().clone();
            org.external_id = o.external_id.as_ref().map(|e| e.get_ref().clone());
            org.handle = o.handle.as_ref().map(|h| h.get_ref().clone());
            org.is_auto_membership_enabled = o.is_auto_membership_enabled;
            for domain in &o.allowed_domains {
                if !is_bare_domain(domain.get_ref()) {
                    p.add(
                        domain,
                        format!(
                            "allowed domain `{}` of organization {} is not a domain",
                            domain.get_ref(),
                            o.code.get_ref()
                        ),
                        "write the domain alone, as `acme.com` (not `https://www.acme.com` or an address)",
                    );
                }
            }
            org.allowed_domains = o
                .allowed_domains
                .iter()
                .map(|d| d.get_ref().clone())
                .collect();
            org.is_auto_join_domain_list = o.is_auto_join_domain_list;
            t.organizations.push(org);
        }

        // Emails ignore case in Kinde, so `A@x` and `a@x` are one user.
        let lower: Vec<Spanned<String>> = f
            .users
            .iter()
            .map(|u| Spanned::new(u.email.span(), u.email.get_ref().to_lowercase()))
            .collect();
        p.first_twice(
            "user email",
            lower.iter(),
            "emails ignore case: keep one [[users]] entry per address",
        );
        if !f.users.is_empty() {
            t.users.clear();
            for org in &mut t.organizations {
                org.members.clear();
            }
            for u in &f.users {
                if let Err(why) = check_email(u.email.get_ref()) {
                    p.add(
                        &u.email,
                        format!("`{}` is not an email address: {why}", u.email.get_ref()),
                        "write an address such as `alice@acme.test`",
                    );
                }
                let user = User::new(u.email.get_ref(), &u.first_name, &u.last_name);
                let id = user.id.clone();
                t.users.push(user);
                // As a user created through the API: a member of the default organization.
                t.join_default_organization(&id);
            }
        }
        t.reindex();
        let user_id = |p: &mut Problems, t: &Tenant, email: &Spanned<String>, who: &str| {
            let found = t.user_by_email(email.get_ref()).map(|u| u.id.clone());
            if found.is_none() {
                p.add(
                    email,
                    format!(
                        "{who} names user `{}`, which no [[users]] entry defines",
                        email.get_ref()
                    ),
                    define_or_pick(
                        "[[users]]",
                        "email",
                        email.get_ref(),
                        t.users.iter().map(|u| u.email.as_str()),
                    ),
                );
            }
            found
        };

        let pairs: Vec<Spanned<String>> = f
            .memberships
            .iter()
            .map(|m| {
                Spanned::new(
                    m.user.span(),
                    format!(
                        "{} in {}",
                        m.user.get_ref().to_lowercase(),
                        m.organization.get_ref()
                    ),
                )
            })
            .collect();
        p.first_twice(
            "membership",
            pairs.iter(),
            "list the roles and permissions of one user in one organization in a single [[memberships]] entry",
        );
        for m in &f.memberships {
            let user = user_id(&mut p, &t, &m.user, "a membership");
            let code = m.organization.get_ref();
            let who = format!("the membership of {} in {code}", m.user.get_ref());
            if t.organization(code).is_none() {
                p.add(
                    &m.organization,
                    format!(
                        "the membership of {} names organization `{code}`, which no [[organizations]] entry defines",
                        m.user.get_ref()
                    ),
                    define_or_pick(
                        "[[organizations]]",
                        "code",
                        code,
                        t.organizations.iter().map(|o| o.code.as_str()),
                    ),
                );
            }
            let mut roles = Vec::new();
            for key in &m.roles {
                match t.roles.iter().find(|r| &r.key == key.get_ref()) {
                    Some(role) => roles.push(role.id.clone()),
                    None => p.add(
                        key,
                        format!(
                            "{who} names role `{}`, which no [[roles]] entry defines",
                            key.get_ref()
                        ),
                        define_or_pick(
                            "[[roles]]",
                            "key",
                            key.get_ref(),
                            t.roles.iter().map(|r| r.key.as_str()),
                        ),
                    ),
                }
            }
            let permissions = m
                .permissions
                .iter()
                .filter_map(|k| permission_id(&mut p, &t, k, &who))
                .collect();
            let (Some(user), Some(org)) = (user, t.organization_mut(code)) else {
                continue;
            };
            org.join(&user);
            if let Some(member) = org.member_mut(&user) {
                extend_unique(&mut member.roles, roles);
                extend_unique(&mut member.permissions, permissions);
            }
        }

        p.first_twice(
            "feature flag key",
            f.feature_flags.iter().map(|f| &f.key),
            "give each [[feature_flags]] entry its own key",
        );
        for s in &f.feature_flags {
            let kind = s.kind.get_ref().as_str();
            if !["str", "int", "bool"].contains(&kind) {
                p.add(
                    &s.kind,
                    format!("type must be str, int or bool, not `{kind}`"),
                    "write type = \"str\", \"int\" or \"bool\"",
                );
                continue;
            }
            let level = match &s.allow_override_level {
                Some(level) if !["env", "org", "usr"].contains(&level.get_ref().as_str()) => {
                    p.add(
                        level,
                        format!(
                            "allow_override_level must be env, org or usr, not `{}`",
                            level.get_ref()
                        ),
                        "write env (environment only), org (and organizations) or usr (and users, Kinde's default)",
                    );
                    "usr".to_string()
                }
                Some(level) => level.get_ref().clone(),
                None => "usr".into(),
            };
            let mut value = |v: &Spanned<FlagValue>| {
                let fits = flag_value(kind, v.get_ref());
                if fits.is_none() {
                    p.add(
                        v,
                        format!(
                            "`{}` is not a value of flag `{}` (type {kind}: {})",
                            v.get_ref(),
                            s.key.get_ref(),
                            expected(kind)
                        ),
                        format!("write {}, or change the flag's type", expected(kind)),
                    );
                }
                fits.unwrap_or_default()
            };
            let mut flag = FeatureFlag {
                key: s.key.get_ref().clone(),
                name: s.name.clone(),
                description: s.description.clone(),
                kind: kind.into(),
                allow_override_level: level.clone(),
                default_value: value(&s.default),
                environment_value: s.environment.as_ref().map(&mut value),
                organization_values: BTreeMap::new(),
                user_values: BTreeMap::new(),
                extra: Extra::new(),
            };
            let organization_values: Vec<(String, String)> = s
                .organizations
                .iter()
                .map(|(code, v)| (code.clone(), value(v)))
                .collect();
            let user_values: Vec<(&String, &Spanned<FlagValue>, String)> = s
                .users
                .iter()
                .map(|(email, v)| (email, v, value(v)))
                .collect();
            if level == "env" && !s.organizations.is_empty()
                || level != "usr" && !s.users.is_empty()
            {
                p.add(
                    &s.key,
                    format!("flag `{}` allows overrides down to `{level}` only, yet has overrides below it", s.key.get_ref()),
                    "remove the overrides below that level, or lower allow_override_level",
                );
            }
            for ((code, v), (_, stored)) in s.organizations.iter().zip(organization_values) {
                if t.organization(code).is_none() {
                    p.add(
                        v,
                        format!("flag `{}` overrides organization `{code}`, which no [[organizations]] entry defines", s.key.get_ref()),
                        define_or_pick(
                            "[[organizations]]",
                            "code",
                            code,
                            t.organizations.iter().map(|o| o.code.as_str()),
                        ),
                    );
                }
                flag.organization_values.insert(code.clone(), stored);
            }
            let mut seen: HashMap<String, &String> = HashMap::new();
            for (email, v, stored) in user_values {
                if let Some(first) = seen.insert(email.to_lowercase(), email) {
                    p.add(
                        v,
                        format!(
                            "flag `{}` overrides user `{email}` twice (also as `{first}`; emails ignore case)",
                            s.key.get_ref()
                        ),
                        "keep one of the two overrides",
                    );
                }
                let Some(user) = t.user_by_email(email) else {
                    p.add(
                        v,
                        format!(
                            "flag `{}` overrides user `{email}`, which no [[users]] entry defines",
                            s.key.get_ref()
                        ),
                        define_or_pick(
                            "[[users]]",
                            "email",
                            email,
                            t.users.iter().map(|u| u.email.as_str()),
                        ),
                    );
                    continue;
                };
                flag.user_values.insert(user.id.clone(), stored);
            }
            t.feature_flags.push(flag);
        }

        let explicit: Vec<Spanned<String>> = f
            .applications
            .iter()
            .filter_map(|a| a.client_id.clone())
            .collect();
        p.first_twice(
            "application client_id",
            explicit.iter(),
            "give each application its own client_id, or leave it out to have one generated",
        );
        p.first_twice(
            "application name",
            f.applications.iter().map(|a| &a.name),
            "give each [[applications]] entry its own name ([[authorizations]] name them)",
        );
        if !f.applications.is_empty() {
            let management = t.management_app().map(|a| a.id.clone());
            t.applications
                .retain(|a| Some(&a.id) == management.as_ref());
        }
        for a in &f.applications {
            let kind = a.kind.get_ref().clone();
            if !["reg", "spa", "m2m", "device"].contains(&kind.as_str()) {
                p.add(
                    &a.kind,
                    format!("type must be reg, spa, m2m or device, not `{kind}`"),
                    "write reg (back-end web), spa (front-end), m2m (machine to machine) or device",
                );
            }
            let public = matches!(kind.as_str(), "spa" | "device");
            if let (true, Some(secret)) = (public, &a.client_secret) {
                p.add(
                    secret,
                    format!("a `{kind}` application is a public client and has no client_secret"),
                    "remove client_secret, or make the application a `reg` one",
                );
            }
            for url in a.callback_urls.iter().chain(&a.logout_urls) {
                if let Err(why) = redirect::check(url.get_ref()) {
                    p.add(
                        url,
                        format!("application `{}`: {why}", a.name.get_ref()),
                        "use an https URL, http on localhost or 127.0.0.1, or an app's own scheme (myapp://callback)",
                    );
                }
            }
            let id = match &a.client_id {
                Some(id)
                    if id.get_ref().trim().is_empty() || t.application(id.get_ref()).is_some() =>
                {
                    p.add(
                        id,
                        format!("client_id `{}` is empty or taken", id.get_ref()),
                        "pick another client_id, or leave it out to have one generated",
                    );
                    random_hex(16)
                }
                Some(id) => id.get_ref().clone(),
                None => random_hex(16),
            };
            let client_secret = match &a.client_secret {
                Some(secret) => Some(secret.get_ref().clone()),
                None => (!public).then(random_secret),
            };
            t.applications.push(Application {
                id,
                name: a.name.get_ref().clone(),
                kind,
                client_secret,
                redirect_urls: a
                    .callback_urls
                    .iter()
                    .map(|u| u.get_ref().clone())
                    .collect(),
                logout_urls: a.logout_urls.iter().map(|u| u.get_ref().clone()).collect(),
                extra: Extra::new(),
            });
        }

        p.first_twice(
            "API audience",
            f.apis.iter().map(|a| &a.audience),
            "give each [[apis]] entry its own audience",
        );
        for a in &f.apis {
            if a.audience.get_ref().trim().is_empty()
                || t.apis
                    .iter()
                    .any(|api| api.audience.as_ref() == Some(a.audience.get_ref()))
            {
                p.add(
                    &a.audience,
                    format!(
                        "audience `{}` is empty or already the sample API's",
                        a.audience.get_ref()
                    ),
                    "write another audience, e.g. https://orders.acme.test",
                );
            }
            p.first_twice(
                &format!("scope of API {}", a.audience.get_ref()),
                a.scopes.iter(),
                "list each scope once",
            );
            t.apis.push(Api {
                id: random_hex(16),
                name: a.name.clone(),
                audience: Some(a.audience.get_ref().clone()),
                is_management_api: false,
                scopes: a
                    .scopes
                    .iter()
                    .map(|key| ApiScope {
                        id: format!("api_scope_{}", random_hex(16)),
                        key: key.get_ref().clone(),
                        description: String::new(),
                        extra: Extra::new(),
                    })
                    .collect(),
                applications: Vec::new(),
                extra: Extra::new(),
            });
        }

        let grants: Vec<Spanned<String>> = f
            .authorizations
            .iter()
            .map(|z| {
                Spanned::new(
                    z.application.span(),
                    format!("{} for {}", z.application.get_ref(), z.api.get_ref()),
                )
            })
            .collect();
        p.first_twice(
            "authorization",
            grants.iter(),
            "list every scope of one application for one API in a single [[authorizations]] entry",
        );
        for z in &f.authorizations {
            let app = t
                .applications
                .iter()
                .find(|a| &a.name == z.application.get_ref())
                .map(|a| a.id.clone());
            if app.is_none() {
                p.add(
                    &z.application,
                    format!("an authorization names application `{}`, which no [[applications]] entry defines", z.application.get_ref()),
                    define_or_pick(
                        "[[applications]]",
                        "name",
                        z.application.get_ref(),
                        t.applications.iter().map(|a| a.name.as_str()),
                    ),
                );
            }
            let audience = z.api.get_ref();
            let known: Vec<String> = t.apis.iter().filter_map(|a| a.audience.clone()).collect();
            let Some(api) = t
                .apis
                .iter_mut()
                .find(|a| a.audience.as_ref() == Some(audience))
            else {
                p.add(
                    &z.api,
                    format!("the authorization of `{}` names API `{audience}`, which no [[apis]] entry has as audience", z.application.get_ref()),
                    define_or_pick("[[apis]]", "audience", audience, known.iter().map(String::as_str)),
                );
                continue;
            };
            for scope in &z.scopes {
                if !api.scopes.iter().any(|s| &s.key == scope.get_ref()) {
                    p.add(
                        scope,
                        format!("the authorization of `{}` for {audience} names scope `{}`, which that API does not define", z.application.get_ref(), scope.get_ref()),
                        define_or_pick(
                            "the API's `scopes`",
                            "",
                            scope.get_ref(),
                            api.scopes.iter().map(|s| s.key.as_str()),
                        ),
                    );
                }
            }
            let Some(app) = app else { continue };
            let scopes: Vec<String> = z.scopes.iter().map(|s| s.get_ref().clone()).collect();
            match api.applications.iter_mut().find(|x| x.client_id == app) {
                Some(existing) => extend_unique(&mut existing.scopes, scopes),
                None => api.applications.push(Authorization {
                    client_id: app,
                    scopes,
                    extra: Extra::new(),
                }),
            }
        }

        if let Some(previous) = previous {
            keep_ids(&mut t, previous, f);
        }
        // After keep_ids, which may give an application its earlier client id; what the seed
        // says wins over what the earlier tenant had.
        for a in &f.applications {
            let Some(tokens) = &a.tokens else { continue };
            let lifetime = |l: &Option<Spanned<u64>>| l.as_ref().map(|l| *l.get_ref());
            let (access, refresh) = (
                lifetime(&tokens.access_token_lifetime),
                lifetime(&tokens.refresh_token_lifetime),
            );
            // Kinde: the refresh lifetime must be longer than the access lifetime.
            if let (Some(at), Some(access), Some(refresh)) =
                (&tokens.refresh_token_lifetime, access, refresh)
                && refresh <= access
            {
                p.add(
                    at,
                    "refresh_token_lifetime must be longer than access_token_lifetime",
                    format!("write a refresh_token_lifetime above {access} seconds"),
                );
            }
            for at in [
                &tokens.access_token_lifetime,
                &tokens.refresh_token_lifetime,
                &tokens.id_token_lifetime,
            ]
            .into_iter()
            .flatten()
            {
                if *at.get_ref() == 0 {
                    p.add(
                        at,
                        "a token lifetime is at least 1 second",
                        "write a number of seconds, e.g. 3600, or leave it out for Kinde's default",
                    );
                }
            }
            let Some(id) = t
                .applications
                .iter()
                .find(|app| &app.name == a.name.get_ref())
                .map(|app| app.id.clone())
            else {
                continue;
            };
            t.token_settings.insert(
                id,
                TokenSettings {
                    roles: tokens.roles,
                    org_name: tokens.org_name,
                    organizations: tokens.organizations,
                    access_token_lifetime: access,
                    refresh_token_lifetime: refresh,
                    id_token_lifetime: lifetime(&tokens.id_token_lifetime),
                    extra: Extra::new(),
                },
            );
        }
        p.into_result()?;
        t.reindex();
        // The tenant's own rules last, so a seed can never hold what a state file may not.
        t.check_unique().map_err(|duplicate| {
            Error::input(format!("{}: {duplicate}", self.name())).with_hint(HINT)
        })?;
        Ok(t)
    }

    fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "the default tenant".into(), |p| p.display().to_string())
    }

    /// `file:line:column` of byte `at`, or the tenant's name without a file.
    fn place(&self, at: usize) -> String {
        match &self.path {
            Some(path) => position(path, &self.text, at),
            None => self.name(),
        }
    }
}

/// Whether `domain` is written as Kinde's dashboard asks (`domain.com`): labels of letters,
/// digits and `-` joined by dots, with no scheme, path, port or `@`.
fn is_bare_domain(domain: &str) -> bool {
    domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
        })
}

/// What is wrong with a seed, each problem at its place with how to fix it, reported together so
/// one run shows everything to fix.
struct Problems<'a> {
    seed: &'a Seed,
    found: Vec<Problem>,
}

struct Problem {
    /// Byte offset in the file.
    at: usize,
    message: String,
    fix: String,
}

/// At most this many problems are listed; the count says how many more there are.
const MAX_LISTED: usize = 20;

impl<'a> Problems<'a> {
    fn new(seed: &'a Seed) -> Problems<'a> {
        Problems {
            seed,
            found: Vec::new(),
        }
    }

    fn add<T>(&mut self, at: &Spanned<T>, message: impl Into<String>, fix: impl Into<String>) {
        self.found.push(Problem {
            at: at.span().start,
            message: message.into(),
            fix: fix.into(),
        });
    }

    /// A problem at the second place of each value met twice, naming the first's line.
    fn first_twice<'v>(
        &mut self,
        what: &str,
        values: impl Iterator<Item = &'v Spanned<String>>,
        fix: &str,
    ) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for value in values {
            if let Some(first) = seen.insert(value.get_ref(), value.span().start) {
                let line = self
                    .seed
                    .text
                    .get(..first)
                    .map_or(0, |b| b.matches('\n').count() + 1);
                self.add(
                    value,
                    format!(
                        "duplicate {what} `{}` (first at line {line})",
                        value.get_ref()
                    ),
                    fix,
                );
            }
        }
    }

    /// `Ok` when nothing was found; otherwise one input error: a single problem with the line
    /// it is on and its fix as the hint, or every problem in file order, each with its fix.
    fn into_result(mut self) -> Result<(), Error> {
        self.found.sort_by_key(|p| p.at);
        let seed = self.seed;
        match self.found.as_slice() {
            [] => Ok(()),
            [one] => Err(Error::input(format!(
                "{}: {}{}",
                seed.place(one.at),
                one.message,
                excerpt(&seed.text, one.at)
            ))
            .with_hint(one.fix.clone())),
            all => {
                let mut message = format!("{}: {} problems", seed.name(), all.len());
                for p in all.iter().take(MAX_LISTED) {
                    message.push_str(&format!(
                        "\n{}: {}\n  fix: {}",
                        seed.place(p.at),
                        p.message,
                        p.fix
                    ));
                }
                if all.len() > MAX_LISTED {
                    message.push_str(&format!("\n… and {} more", all.len() - MAX_LISTED));
                }
                Err(Error::input(message).with_hint(HINT))
            }
        }
    }
}

/// How to fix a reference to `name` that no `section` entry defines: define it, or name one
/// that is defined (the first few, so a typo is easy to spot).
fn define_or_pick<'n>(
    section: &str,
    field: &str,
    name: &str,
    defined: impl Iterator<Item = &'n str>,
) -> String {
    let defined: Vec<String> = defined.take(8).map(|d| format!("`{d}`")).collect();
    let add = if field.is_empty() {
        format!("add `{name}` to {section}")
    } else {
        format!("add a {section} entry with {field} = \"{name}\"")
    };
    if defined.is_empty() {
        format!("{add}; there is none yet")
    } else {
        format!("{add}, or use one of {}", defined.join(", "))
    }
}

/// Why `email` is not an address Kinde could hold: one `@` between a non-empty local part and a
/// domain of non-empty dot-separated labels, no spaces or control characters, 320 bytes at most.
fn check_email(email: &str) -> Result<(), &'static str> {
    if email.len() > 320 {
        return Err("it is longer than 320 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it holds a space or a control character");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("it has no `@`");
    };
    if local.is_empty() {
        return Err("nothing comes before the `@`");
    }
    if domain.contains('@') {
        return Err("it has more than one `@`");
    }
    if domain.is_empty() || domain.split('.').any(str::is_empty) {
        return Err("the part after the `@` is not a domain");
    }
    Ok(())
}

const HINT: &str = "fix the seed file; templates/emulator-seed.toml and the README's \"Seeds and reset\" show every field";

/// `path:line:column` of byte `at` in `text` (both counted from 1, the column in characters).
fn position(path: &Path, text: &str, at: usize) -> String {
    let before = text.get(..at.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{}:{line}:{column}", path.display())
}

/// The line holding byte `at`, with a caret under it, as a new line to append to a message;
/// nothing for a line that mentions a secret (a `client_secret` is never shown).
fn excerpt(text: &str, at: usize) -> String {
    let before = text.get(..at.min(text.len())).unwrap_or(text);
    let number = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    let line = text.lines().nth(number - 1).unwrap_or("");
    if line.to_ascii_lowercase().contains("secret") || line.trim().is_empty() {
        return String::new();
    }
    let gutter = " ".repeat(number.to_string().len());
    format!(
        "\n{gutter} |\n{number} | {line}\n{gutter} | {}^",
        " ".repeat(column)
    )
}

/// A flag value as the tenant stores it, if it fits the flag's type.
fn flag_value(kind: &str, value: &FlagValue) -> Option<String> {
    match (kind, value) {
        ("bool", toml::Value::Boolean(b)) => Some(b.to_string()),
        ("int", toml::Value::Integer(n)) => i32::try_from(*n).ok().map(|n| n.to_string()),
        ("str", toml::Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// What a value of type `kind` looks like in the seed.
fn expected(kind: &str) -> &'static str {
    match kind {
        "bool" => "true or false",
        "int" => "a whole number that fits 32 bits",
        _ => "a quoted string",
    }
}

fn extend_unique(into: &mut Vec<String>, more: Vec<String>) {
    for item in more {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

/// Give what `t` generated the ids (and secrets) `previous` holds for the same things, and
/// rewrite every reference to them.
fn keep_ids(t: &mut Tenant, previous: &Tenant, f: &SeedFile) {
    let mut renamed: HashMap<String, String> = HashMap::new();
    let explicit_ids: Vec<&String> = f
        .applications
        .iter()
        .filter_map(|a| a.client_id.as_ref().map(|c| c.get_ref()))
        .collect();
    let explicit_secrets: Vec<&String> = f
        .applications
        .iter()
        .filter(|a| a.client_secret.is_some())
        .map(|a| a.name.get_ref())
        .collect();
    let management = t.management_app().map(|a| a.id.clone());
    let previous_management = previous.management_app().map(|a| a.id.clone());
    for app in &mut t.applications {
        let old = if explicit_ids.contains(&&app.id) {
            previous.application(&app.id)
        } else if Some(&app.id) == management.as_ref() {
            previous_management
                .as_deref()
                .and_then(|id| previous.application(id))
        } else {
            previous.applications.iter().find(|p| {
                p.name == app.name
                    && p.kind == app.kind
                    && Some(&p.id) != previous_management.as_ref()
            })
        };
        let Some(old) = old else { continue };
        if !explicit_ids.contains(&&app.id) && unclaimed(&renamed, &old.id) {
            renamed.insert(app.id.clone(), old.id.clone());
            app.id = old.id.clone();
        }
        if !explicit_secrets.contains(&&app.name) && app.client_secret.is_some() {
            app.client_secret = old.client_secret.clone();
        }
    }
    for user in &mut t.users {
        if let Some(old) = previous.user_by_email(&user.email) {
            renamed.insert(user.id.clone(), old.id.clone());
            user.id = old.id.clone();
            user.created_on = old.created_on.clone();
        }
    }
    for role in &mut t.roles {
        if let Some(old) = previous.roles.iter().find(|r| r.key == role.key) {
            renamed.insert(role.id.clone(), old.id.clone());
            role.id = old.id.clone();
        }
    }
    for permission in &mut t.permissions {
        if let Some(old) = previous
            .permissions
            .iter()
            .find(|p| p.key == permission.key)
        {
            renamed.insert(permission.id.clone(), old.id.clone());
            permission.id = old.id.clone();
        }
    }
    for api in &mut t.apis {
        let old = previous
            .apis
            .iter()
            .find(|p| p.is_management_api == api.is_management_api && p.audience == api.audience);
        if let Some(old) = old {
            api.id = old.id.clone();
            for scope in &mut api.scopes {
                if let Some(kept) = old.scopes.iter().find(|o| o.key == scope.key) {
                    scope.id = kept.id.clone();
                }
            }
        }
    }
    if let (Some(new), Some(old)) = (
        t.organizations.iter_mut().find(|o| o.is_default),
        previous.organizations.iter().find(|o| o.is_default),
    ) {
        new.code = old.code.clone();
    }
    let rename = |id: &mut String| {
        if let Some(kept) = renamed.get(id) {
            *id = kept.clone();
        }
    };
    for api in &mut t.apis {
        api.applications
            .iter_mut()
            .for_each(|a| rename(&mut a.client_id));
    }
    // Token settings the earlier tenant had for applications still there stay, unless the seed
    // sets them (`Seed::build` applies those after this).
    for (client_id, settings) in &previous.token_settings {
        if t.application(client_id).is_some() {
            t.token_settings.insert(client_id.clone(), settings.clone());
        }
    }
    for org in &mut t.organizations {
        for member in &mut org.members {
            rename(&mut member.user_id);
            member.roles.iter_mut().for_each(rename);
            member.permissions.iter_mut().for_each(rename);
        }
    }
    for role in &mut t.roles {
        role.permissions.iter_mut().for_each(rename);
    }
    for flag in &mut t.feature_flags {
        flag.user_values = std::mem::take(&mut flag.user_values)
            .into_iter()
            .map(|(mut id, v)| {
                rename(&mut id);
                (id, v)
            })
            .collect();
    }
}

/// Whether no application was already given `id` in this pass (two seeded apps never take one
/// previous id).
fn unclaimed(renamed: &HashMap<String, String>, id: &str) -> bool {
    !renamed.values().any(|v| v == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(text: &str) -> Result<Seed, Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.toml");
        std::fs::write(&path, text).unwrap();
        Seed::load(&path)
    }

    #[test]
    fn a_rebuild_keeps_the_ids_and_secrets_it_generated() {
        let s = seed(
            "[[users]]\nemail = \"a@x.io\"\n[[roles]]\nkey = \"r\"\nname = \"R\"\n\
             [[organizations]]\ncode = \"org_a\"\nname = \"A\"\n\
             [[memberships]]\nuser = \"a@x.io\"\norganization = \"org_a\"\nroles = [\"r\"]\n\
             [[applications]]\nname = \"W\"\ntype = \"reg\"\n",
        )
        .unwrap();
        let first = s.build(vec!["k".into()], None).unwrap();
        let again = s.build(vec!["k".into()], Some(&first)).unwrap();
        let app = |t: &Tenant, name: &str| {
            let a = t.applications.iter().find(|a| a.name == name).unwrap();
            (a.id.clone(), a.client_secret.clone())
        };
        assert_eq!(app(&first, "W"), app(&again, "W"));
        assert_eq!(
            first.management_app().unwrap().client_secret,
            again.management_app().unwrap().client_secret
        );
        assert_eq!(first.users[0].id, again.users[0].id);
        let member = again
            .organization("org_a")
            .unwrap()
            .member(&again.users[0].id)
            .unwrap();
        assert_eq!(member.roles, vec![again.roles[0].id.clone()]);
        assert_eq!(first.roles[0].id, again.roles[0].id);
        // The management app is authorised under its kept id.
        let m = again.management_app().unwrap().id.clone();
        assert!(again.apis[0].authorization(&m).is_some());
        assert_eq!(first.apis[0].scopes[0].id, again.apis[0].scopes[0].id);
        // Dashboard-only token settings of an application still there are kept.
        let mut customised = again.clone();
        customised
            .token_settings
            .insert(m.clone(), Default::default());
        customised
            .token_settings
            .insert("gone".into(), Default::default());
        let third = s.build(vec!["k".into()], Some(&customised)).unwrap();
        assert_eq!(third.token_settings.keys().collect::<Vec<_>>(), [&m]);
    }

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let p = Path::new("s.toml");
        assert_eq!(position(p, "ab\ncdé\nx", 0), "s.toml:1:1");
        assert_eq!(position(p, "ab\ncdé\nx", 8), "s.toml:3:1");
        assert_eq!(position(p, "ab\ncdé\nx", 7), "s.toml:2:4");
    }

    #[test]
    fn a_flag_value_of_the_wrong_type_is_refused_at_its_line() {
        let e =
            seed("[[feature_flags]]\nkey = \"f\"\nname = \"F\"\ntype = \"int\"\ndefault = \"x\"\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("seed.toml:5:11"), "{e}");
    }
}
