//! The emulated Kinde business: applications, APIs, users and signing keys, kept in memory and,
//! with `--state FILE`, on disk across restarts.
//!
//! Fields this version does not know (a newer cargo-kinde's, or a hand edit) are kept in each
//! entity's `extra` map and written back unchanged: flattening them in keeps a state file
//! round-trip lossless in both directions, where a version field with refusal would make an older
//! binary unable to open a newer file at all.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::kinde;

/// The tenant as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    /// Signing keys, newest (active) first, as base64 PKCS#8.
    pub keys: Vec<String>,
    /// Applications (M2M and user-facing).
    pub applications: Vec<Application>,
    /// Registered APIs, the Kinde Management API among them.
    pub apis: Vec<Api>,
    /// Users, oldest first (the order the Management API lists them in). A delete rebuilds
    /// the index ([`Tenant::reindex`]); creates only extend it.
    pub users: Vec<User>,
    /// What the generic Management API handler keeps (webhooks, connections, organizations
    /// until their typed handlers exist, ...): JSON objects by collection path.
    #[serde(default, skip_serializing_if = "Collections::is_empty")]
    pub collections: Collections,
    // Organizations, roles, permissions, feature flags and properties (issue 12). Missing in
    // state files written before them: `Tenant::load` then adds the default organization.
    /// Organizations with their members, the default organization first.
    #[serde(default)]
    pub organizations: Vec<Organization>,
    /// Roles, defined once for the business.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Permissions, defined once for the business.
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Feature flags with their environment, organization and user overrides.
    #[serde(default)]
    pub feature_flags: Vec<FeatureFlag>,
    /// Property definitions with their values.
    #[serde(default)]
    pub properties: Vec<Property>,
    /// Property categories.
    #[serde(default)]
    pub property_categories: Vec<PropertyCategory>,
    /// Token customisation per application (client id), which Kinde sets in its dashboard
    /// only: set here through a state file or `State::update`.
    #[serde(default)]
    pub token_settings: BTreeMap<String, TokenSettings>,
    /// The environment's logos by type (`light`, `dark`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment_logos: BTreeMap<String, Logo>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
    /// Users by id and by lower-case email, kept in step by [`Tenant::reindex`].
    #[serde(skip)]
    index: UserIndex,
}

/// Fields of a stored entity that this version does not know, written back unchanged.
pub type Extra = BTreeMap<String, Value>;

/// The generic handler's state: items by collection path (e.g. `/api/v1/webhooks`,
/// `/api/v1/applications/{id}/connections`), and single objects by path (e.g. `/api/v1/business`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Collections {
    /// Items of each collection, oldest first; each has a string `id`.
    #[serde(default)]
    pub items: BTreeMap<String, Vec<Value>>,
    /// Objects that are one per path (settings).
    #[serde(default)]
    pub singles: BTreeMap<String, Value>,
}

impl Collections {
    /// Nothing stored (then the state file does not mention it).
    pub fn is_empty(&self) -> bool {
        self.items.values().all(Vec::is_empty) && self.singles.is_empty()
    }
}

/// Positions in `users` by id, by lower-case email (the user's and its email identities'), by
/// username and phone, and by identity id, so a look-up or a page is not a scan.
#[derive(Debug, Clone, Default)]
struct UserIndex {
    by_id: HashMap<String, usize>,
    by_email: HashMap<String, usize>,
    /// `username:<name>` and `phone:<number>`, lower case.
    by_login: HashMap<String, usize>,
    by_identity: HashMap<String, usize>,
    /// How many users (from the front) are indexed.
    indexed: usize,
}

impl UserIndex {
    /// Index `user` at `at`; an entry already there stays unless `replace` (a user changed in
    /// place takes its keys; a duplicate in a loaded file does not steal the first one's).
    fn add(&mut self, at: usize, user: &User, replace: bool) {
        let put = |map: &mut HashMap<String, usize>, key: String| {
            if replace {
                map.insert(key, at);
            } else {
                map.entry(key).or_insert(at);
            }
        };
        put(&mut self.by_id, user.id.clone());
        put(&mut self.by_email, user.email.to_lowercase());
        for identity in &user.identities {
            put(&mut self.by_identity, identity.id.clone());
            match identity.login_key() {
                Some(Login::Email(email)) => put(&mut self.by_email, email),
                Some(Login::Other(key)) => put(&mut self.by_login, key),
                None => {}
            }
        }
    }

    /// Drop the entries of `identity` (and of the address `email`, when given) that point at
    /// `at`: the user no longer has them.
    fn forget(&mut self, at: usize, identity: Option<&Identity>, email: Option<&str>) {
        let drop = |map: &mut HashMap<String, usize>, key: &str| {
            if map.get(key) == Some(&at) {
                map.remove(key);
            }
        };
        if let Some(identity) = identity {
            drop(&mut self.by_identity, &identity.id);
            match identity.login_key() {
                Some(Login::Email(email)) => drop(&mut self.by_email, &email),
                Some(Login::Other(key)) => drop(&mut self.by_login, &key),
                None => {}
            }
        }
        if let Some(email) = email {
            drop(&mut self.by_email, &email.to_lowercase());
        }
    }
}

/// What an identity signs in with, as the index keys it.
enum Login {
    /// A lower-case email address.
    Email(String),
    /// `username:<name>` or `phone:<number>`, lower case.
    Other(String),
}

/// An application. Its `id` is its client id, as in Kinde.
#[derive(Clone, Serialize, Deserialize)]
pub struct Application {
    /// Client id (32 hex).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `m2m`, `reg` (back-end web), `spa` or `native`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Client secret (M2M and back-end apps).
    pub client_secret: Option<String>,
    /// Allowed callback URLs.
    #[serde(default)]
    pub redirect_urls: Vec<String>,
    /// Allowed logout URLs.
    #[serde(default)]
    pub logout_urls: Vec<String>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// A registered API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Api {
    /// Id (32 hex).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Audience; `None` for the Management API, whose audience is `<issuer>/api`.
    pub audience: Option<String>,
    /// Whether this is the Kinde Management API.
    #[serde(default)]
    pub is_management_api: bool,
    /// Scopes the API defines.
    #[serde(default)]
    pub scopes: Vec<ApiScope>,
    /// Applications authorised for it, with the scopes granted to each.
    #[serde(default)]
    pub applications: Vec<Authorization>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A scope an API defines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiScope {
    /// `api_scope_` + 32 hex.
    pub id: String,
    /// The scope, e.g. `read:orders`.
    pub key: String,
    /// What it allows.
    #[serde(default)]
    pub description: String,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An application authorised for an API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authorization {
    /// The application's client id.
    pub client_id: String,
    /// Scopes granted to it.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// `kp_` + 32 hex.
    pub id: String,
    /// Email.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Creation time, RFC 3339.
    pub created_on: String,
    /// Suspended: signs in to no organization, and its refresh tokens are revoked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_suspended: bool,
    /// The ways it signs in, oldest first: its email (the primary one is `email`), username,
    /// phone, and any added later. Missing in state files from before identities: loading gives
    /// such a user its email identity.
    #[serde(default)]
    pub identities: Vec<Identity>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One way a user signs in (Kinde's identity).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    /// `identity_` + 32 hex.
    pub id: String,
    /// `email`, `username`, `phone`, `enterprise` or `social`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The value: the address, the username, the number.
    pub name: String,
    /// The primary identity of its type (the primary email is the user's email).
    #[serde(default)]
    pub is_primary: bool,
    /// Confirmed (the emulator sends no verification, so true unless created unverified).
    #[serde(default)]
    pub is_confirmed: bool,
    /// Creation time, RFC 3339.
    pub created_on: String,
    /// The social or enterprise connection it signs in through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// A phone identity's country, e.g. `au`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_country_id: Option<String>,
    /// The last sign-in with it, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_on: Option<String>,
    /// Sign-ins with it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_logins: u64,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Identity {
    /// A new identity of `kind` with value `name`, created now.
    pub fn new(kind: &str, name: &str) -> Identity {
        Identity {
            id: format!("identity_{}", random_hex(16)),
            kind: kind.into(),
            name: name.into(),
            is_primary: false,
            is_confirmed: true,
            created_on: now_rfc3339(),
            connection_id: None,
            phone_country_id: None,
            last_login_on: None,
            total_logins: 0,
            extra: Extra::new(),
        }
    }

    /// The key that makes it unique in the business: emails, usernames and phone numbers are
    /// one user's each; social and enterprise identities are their connection's affair.
    fn login_key(&self) -> Option<Login> {
        let value = self.name.to_lowercase();
        match self.kind.as_str() {
            "email" => Some(Login::Email(value)),
            "username" | "phone" => Some(Login::Other(format!("{}:{value}", self.kind))),
            _ => None,
        }
    }
}

impl User {
    /// A new user with a fresh `kp_` id, created now.
    pub fn new(email: &str, first_name: &str, last_name: &str) -> User {
        let mut user = User {
            id: format!("kp_{}", random_hex(16)),
            email: email.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            created_on: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            is_suspended: false,
            identities: Vec::new(),
            extra: Extra::new(),
        };
        user.give_email_identity();
        user
    }

    /// A user from before identities has one: its email, primary.
    fn give_email_identity(&mut self) {
        if self.identities.is_empty() && !self.email.is_empty() {
            let mut identity = Identity::new("email", &self.email);
            identity.is_primary = true;
            self.identities.push(identity);
        }
    }

    /// Whether `email` (any case) is its email or one of its email identities.
    pub fn has_email(&self, email: &str) -> bool {
        self.email.eq_ignore_ascii_case(email)
            || self
                .identities
                .iter()
                .any(|i| i.kind == "email" && i.name.eq_ignore_ascii_case(email))
    }

    /// The identity with id `id`.
    pub fn identity(&self, id: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.id == id)
    }

    /// The value of its primary identity of `kind` (its first of that kind when none is).
    pub fn primary(&self, kind: &str) -> Option<&str> {
        let mut of_kind = self.identities.iter().filter(|i| i.kind == kind);
        let first = of_kind.clone().next();
        of_kind
            .find(|i| i.is_primary)
            .or(first)
            .map(|i| i.name.as_str())
    }
}

impl Api {
    /// The audience, the Management API's computed from the issuer.
    pub fn audience(&self, issuer: &str) -> String {
        match (&self.audience, self.is_management_api) {
            (Some(a), _) => a.clone(),
            (None, true) => format!("{issuer}/api"),
            (None, false) => String::new(),
        }
    }

    /// The authorisation of `client_id`, if any.
    pub fn authorization(&self, client_id: &str) -> Option<&Authorization> {
        self.applications.iter().find(|a| a.client_id == client_id)
    }
}

/// `n` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The system RNG failing is not recoverable in any useful way; fall back to zeros is worse.
    aws_lc_rs::rand::fill(&mut buf).unwrap_or_else(|_| std::process::abort());
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A client secret: 48 alphanumerics, as Kinde's are 40-60.
pub fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut buf = [0u8; 48];
    aws_lc_rs::rand::fill(&mut buf).unwrap_or_else(|_| std::process::abort());
    buf.iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// A version-4 UUID (for `jti`).
pub fn random_uuid() -> String {
    let h = random_hex(16);
    let mut b = h.into_bytes();
    b[12] = b'4';
    b[16] = b"89ab"[usize::from(b[16]) % 4];
    let h = String::from_utf8(b).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Names of the seeded users.
const SEED_USERS: &[(&str, &str, &str)] = &[
    ("alice@example.com", "Alice", "Adams"),
    ("bob@example.com", "Bob", "Baker"),
    ("carol@example.com", "Carol", "Chen"),
    ("dave@example.com", "Dave", "Diaz"),
    ("erin@example.com", "Erin", "Evans"),
];

impl Tenant {
    /// A new tenant: one signing key, a management M2M app authorised for the Management API
    /// with every scope and for the sample API, a back-end web app, and a few users.
    pub fn seed(key: String) -> Tenant {
        let management = Application {
            id: random_hex(16),
            name: "cargo-kinde management".into(),
            kind: "m2m".into(),
            client_secret: Some(random_secret()),
            redirect_urls: Vec::new(),
            logout_urls: Vec::new(),
            extra: Extra::new(),
        };
        let web = Application {
            id: random_hex(16),
            name: "Web app".into(),
            kind: "reg".into(),
            client_secret: Some(random_secret()),
            redirect_urls: vec!["http://localhost:3000/api/auth/kinde_callback".into()],
            logout_urls: vec!["http://localhost:3000".into()],
            extra: Extra::new(),
        };
        let scopes: Vec<ApiScope> = kinde::all_scopes()
            .into_iter()
            .map(|key| ApiScope {
                id: format!("api_scope_{}", random_hex(16)),
                key: key.into(),
                description: String::new(),
                extra: Extra::new(),
            })
            .collect();
        let management_api = Api {
            id: random_hex(16),
            name: "Kinde Management API".into(),
            audience: None,
            is_management_api: true,
            applications: vec![Authorization {
                client_id: management.id.clone(),
                scopes: scopes.iter().map(|s| s.key.clone()).collect(),
                extra: Extra::new(),
            }],
            scopes,
            extra: Extra::new(),
        };
        let users = SEED_USERS
            .iter()
            .map(|(email, first, last)| User::new(email, first, last))
            .collect();
        let sample_scope = ApiScope {
            id: format!("api_scope_{}", random_hex(16)),
            key: super::sample::SAMPLE_SCOPE.into(),
            description: "Read the sample API".into(),
            extra: Extra::new(),
        };
        let sample_api = Api {
            id: random_hex(16),
            name: "Sample API".into(),
            audience: Some(super::sample::SAMPLE_AUDIENCE.into()),
            is_management_api: false,
            applications: vec![Authorization {
                client_id: management.id.clone(),
                scopes: vec![sample_scope.key.clone()],
                extra: Extra::new(),
            }],
            scopes: vec![sample_scope],
            extra: Extra::new(),
        };
        let mut tenant = Tenant {
            keys: vec![key],
            applications: vec![management, web],
            apis: vec![management_api, sample_api],
            users,
            collections: Collections::default(),
            organizations: Vec::new(),
            roles: Vec::new(),
            permissions: Vec::new(),
            feature_flags: Vec::new(),
            properties: Vec::new(),
            property_categories: Vec::new(),
            token_settings: BTreeMap::new(),
            environment_logos: BTreeMap::new(),
            extra: Extra::new(),
            index: UserIndex::default(),
        };
        tenant.ensure_default_organization();
        tenant.reindex();
        tenant
    }

    /// Bring the user index up to date after `users` changed: users appended since the last
    /// call are indexed; anything else (a shorter list, or a different user where the last
    /// indexed one was) rebuilds it.
    pub fn reindex(&mut self) {
        let last = self.index.indexed.checked_sub(1);
        let still_there = last.is_none_or(|at| {
            self.users
                .get(at)
                .is_some_and(|u| self.index.by_id.get(&u.id) == Some(&at))
        });
        if !still_there {
            self.index = UserIndex::default();
        }
        for (at, user) in self.users.iter().enumerate().skip(self.index.indexed) {
            self.index.add(at, user, false);
        }
        self.index.indexed = self.users.len();
    }

    /// A copy with no users (and so an empty index).
    pub fn without_users(&self) -> Tenant {
        Tenant {
            keys: self.keys.clone(),
            applications: self.applications.clone(),
            apis: self.apis.clone(),
            users: Vec::new(),
            collections: self.collections.clone(),
            organizations: self.organizations.clone(),
            roles: self.roles.clone(),
            permissions: self.permissions.clone(),
            feature_flags: self.feature_flags.clone(),
            properties: self.properties.clone(),
            property_categories: self.property_categories.clone(),
            token_settings: self.token_settings.clone(),
            environment_logos: self.environment_logos.clone(),
            extra: self.extra.clone(),
            index: UserIndex::default(),
        }
    }

    /// The user with id `id`.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.indexed(self.index.by_id.get(id), |u| u.id == id)
    }

    /// The user whose email is `email`, ignoring case (Kinde's emails are case-insensitive).
    /// Its email identities count: a user signs in with any of them.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.indexed(self.index.by_email.get(&email.to_lowercase()), |u| {
            u.has_email(email)
        })
    }

    /// The user with the `username` or `phone` identity `value`, ignoring case.
    pub fn user_by_login(&self, kind: &str, value: &str) -> Option<&User> {
        let key = format!("{kind}:{}", value.to_lowercase());
        self.indexed(self.index.by_login.get(&key), |u| {
            u.identities
                .iter()
                .any(|i| i.kind == kind && i.name.eq_ignore_ascii_case(value))
        })
    }

    /// The user holding the identity `id`, and where it is in `users`.
    pub fn user_by_identity(&self, id: &str) -> Option<(usize, &User)> {
        let user = self.indexed(self.index.by_identity.get(id), |u| u.identity(id).is_some())?;
        Some((self.user_position(&user.id)?, user))
    }

    /// Add `identity` to the user at `at` (a position from [`Tenant::user_position`]).
    pub fn add_identity(&mut self, at: usize, identity: Identity) {
        if let Some(user) = self.users.get_mut(at) {
            user.identities.push(identity);
            self.index.add(at, &self.users[at], true);
        }
    }

    /// Take identity `id` from the user at `at`. A primary email taken, the user's email
    /// becomes its next email identity's (made primary), or none.
    pub fn remove_identity(&mut self, at: usize, id: &str) -> Option<Identity> {
        let user = self.users.get_mut(at)?;
        let gone = user
            .identities
            .remove(user.identities.iter().position(|i| i.id == id)?);
        let mut old_email = None;
        if gone.kind == "email" && user.email.eq_ignore_ascii_case(&gone.name) {
            old_email = Some(std::mem::take(&mut user.email));
            if let Some(next) = user.identities.iter_mut().find(|i| i.kind == "email") {
                next.is_primary = true;
                user.email = next.name.clone();
            }
        }
        self.index.forget(at, Some(&gone), old_email.as_deref());
        self.index.add(at, &self.users[at], true);
        Some(gone)
    }

    /// Make identity `id` of the user at `at` the primary of its type; a primary email is the
    /// user's email.
    pub fn make_primary(&mut self, at: usize, id: &str) {
        let Some(user) = self.users.get_mut(at) else {
            return;
        };
        let Some(kind) = user.identity(id).map(|i| i.kind.clone()) else {
            return;
        };
        for identity in user.identities.iter_mut().filter(|i| i.kind == kind) {
            identity.is_primary = identity.id == id;
        }
        if kind == "email"
            && let Some(identity) = user.identity(id)
        {
            user.email = identity.name.clone();
        }
    }

    /// Change the email of the user at `at`: its primary email identity takes the new address
    /// (one is made if it has none), and the old address no longer finds it.
    pub fn change_email(&mut self, at: usize, email: &str) {
        let Some(user) = self.users.get_mut(at) else {
            return;
        };
        // One of its own addresses already: that one becomes primary.
        if let Some(id) = user
            .identities
            .iter()
            .find(|i| i.kind == "email" && i.name.eq_ignore_ascii_case(email))
            .map(|i| i.id.clone())
        {
            self.make_primary(at, &id);
            return;
        }
        let old = std::mem::replace(&mut user.email, email.to_string());
        let primary = user
            .identities
            .iter()
            .position(|i| i.kind == "email" && i.name.eq_ignore_ascii_case(&old));
        let old_identity = primary.map(|p| user.identities[p].clone());
        match primary {
            Some(p) => user.identities[p].name = email.to_string(),
            None => {
                let mut identity = Identity::new("email", email);
                identity.is_primary = !user.identities.iter().any(|i| i.kind == "email");
                user.identities.push(identity);
            }
        }
        self.index.forget(at, old_identity.as_ref(), Some(&old));
        self.index.add(at, &self.users[at], true);
    }

    /// Note a sign-in of the user at `at` with its email identity `email` (its primary one when
    /// not found): one more login, and its time.
    pub fn record_login(&mut self, at: usize, email: Option<&str>) {
        let Some(user) = self.users.get_mut(at) else {
            return;
        };
        let primary = user.email.clone();
        let wanted = email.unwrap_or(&primary);
        let found = user
            .identities
            .iter()
            .position(|i| i.kind == "email" && i.name.eq_ignore_ascii_case(wanted))
            .or_else(|| user.identities.iter().position(|i| i.is_primary))
            .or(if user.identities.is_empty() {
                None
            } else {
                Some(0)
            });
        if let Some(identity) = found.map(|at| &mut user.identities[at]) {
            identity.total_logins += 1;
            identity.last_login_on = Some(now_rfc3339());
        }
    }

    /// The user at an indexed position if it still is the one sought; a scan when the index
    /// is behind (a change made outside [`Tenant::reindex`]'s reach).
    fn indexed(&self, at: Option<&usize>, is: impl Fn(&User) -> bool) -> Option<&User> {
        match at.and_then(|at| self.users.get(*at)) {
            Some(user) if is(user) => Some(user),
            _ if self.index.indexed == self.users.len() && at.is_none() => None,
            _ => self.users.iter().find(|u| is(u)),
        }
    }

    /// The application with client id `id`.
    pub fn application(&self, id: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.id == id)
    }

    /// The application with client id `id`, to change it.
    pub fn application_mut(&mut self, id: &str) -> Option<&mut Application> {
        self.applications.iter_mut().find(|a| a.id == id)
    }

    /// The API with id `id`.
    pub fn api(&self, id: &str) -> Option<&Api> {
        self.apis.iter().find(|a| a.id == id)
    }

    /// The API with id `id`, to change it.
    pub fn api_mut(&mut self, id: &str) -> Option<&mut Api> {
        self.apis.iter_mut().find(|a| a.id == id)
    }

    /// The API whose audience is `audience`.
    pub fn api_by_audience(&self, issuer: &str, audience: &str) -> Option<&Api> {
        self.apis.iter().find(|a| a.audience(issuer) == audience)
    }

    /// The seeded management M2M app (the first M2M app authorised for the Management API).
    pub fn management_app(&self) -> Option<&Application> {
        let api = self.apis.iter().find(|a| a.is_management_api)?;
        api.applications.iter().find_map(|auth| {
            self.application(&auth.client_id)
                .filter(|a| a.kind == "m2m")
        })
    }

    /// The first user-facing application.
    pub fn user_app(&self) -> Option<&Application> {
        self.applications.iter().find(|a| a.kind != "m2m")
    }

    /// Read a tenant saved with `--state`: the snapshot at `path` with its journal's changes
    /// applied (a torn last journal line is skipped; the emulator reports it when it starts).
    pub fn load(path: &Path) -> Result<Option<Tenant>, Error> {
        Ok(super::persist::load(path)?.map(|loaded| loaded.tenant))
    }

    /// Read the snapshot at `path` alone (no journal).
    pub(super) fn load_snapshot(path: &Path) -> Result<Option<Tenant>, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::input(format!(
                    "cannot read emulator state {}: {e}",
                    path.display()
                )));
            }
        };
        let mut tenant: Tenant = serde_json::from_str(&text).map_err(|e| {
            Error::input(format!(
                "{}: not an emulator state file ({e})",
                path.display()
            ))
            .with_hint("delete it to start from a fresh tenant, or pass another --state FILE")
        })?;
        tenant.check_unique().map_err(|duplicate| {
            Error::input(format!("{}: {duplicate}", path.display())).with_hint(
                "remove or rename one of the two, or delete the file to start from a fresh tenant",
            )
        })?;
        tenant.ensure_default_organization();
        tenant.give_email_identities();
        tenant.reindex();
        Ok(Some(tenant))
    }

    /// Apply users as a journal left them: `latest` holds each changed id's last state
    /// (`None`: deleted), `order` the ids in the order first seen. Existing users change in
    /// place, new ones are appended in that order; one pass and one re-index, however many.
    pub(super) fn apply_users(
        &mut self,
        order: Vec<String>,
        mut latest: HashMap<String, Option<User>>,
    ) {
        let mut gone = std::collections::HashSet::new();
        for (at, user) in self.users.iter_mut().enumerate() {
            match latest.remove(&user.id) {
                Some(Some(now)) => *user = now,
                Some(None) => {
                    gone.insert(at);
                }
                None => {}
            }
        }
        if !gone.is_empty() {
            let mut at = 0;
            self.users.retain(|_| {
                at += 1;
                !gone.contains(&(at - 1))
            });
        }
        for id in order {
            if let Some(Some(user)) = latest.remove(&id) {
                self.users.push(user);
            }
        }
        // Journal lines from before identities hold users without them.
        self.give_email_identities();
        self.index = UserIndex::default();
        self.reindex();
    }

    /// Make the memberships of each user in `changed` exactly the journaled ones (none for a
    /// deleted user): kept in place where they were, added at the end where new. O(members of
    /// all organizations + changes), once per load.
    pub(super) fn apply_memberships(
        &mut self,
        mut changed: HashMap<String, Vec<super::persist::Membership>>,
    ) {
        let mut by_org: HashMap<String, HashMap<String, Member>> = HashMap::new();
        let mut order: HashMap<String, Vec<String>> = HashMap::new();
        for (user, memberships) in &mut changed {
            for m in memberships.drain(..) {
                order.entry(m.org.clone()).or_default().push(user.clone());
                by_org
                    .entry(m.org)
                    .or_default()
                    .insert(user.clone(), m.member);
            }
        }
        for org in &mut self.organizations {
            let mut wanted = by_org.remove(&org.code).unwrap_or_default();
            org.members.retain_mut(|member| {
                if !changed.contains_key(&member.user_id) {
                    return true;
                }
                match wanted.remove(&member.user_id) {
                    Some(now) => {
                        *member = now;
                        true
                    }
                    None => false,
                }
            });
            for user in order.remove(&org.code).unwrap_or_default() {
                if let Some(member) = wanted.remove(&user) {
                    org.members.push(member);
                }
            }
        }
    }

    /// Remove the user at `at` in `users` with what only it had: its memberships and its flag
    /// overrides (Kinde deletes them with the user).
    pub fn remove_user(&mut self, at: usize) {
        let user = self.users.remove(at);
        for org in &mut self.organizations {
            org.members.retain(|m| m.user_id != user.id);
        }
        for flag in &mut self.feature_flags {
            flag.user_values.remove(&user.id);
        }
    }

    /// Bring the index up to date for users changed in place (an email edit), which
    /// [`Tenant::reindex`] cannot see: O(changed), not O(users).
    pub(super) fn reindex_users(&mut self, ids: &[String]) {
        for id in ids {
            if let Some(&at) = self.index.by_id.get(id)
                && let Some(user) = self.users.get(at).filter(|u| &u.id == id)
            {
                self.index.add(at, user, true);
            }
        }
    }

    /// Give every user from before identities its email identity (once, on load).
    pub(super) fn give_email_identities(&mut self) {
        for user in &mut self.users {
            user.give_email_identity();
        }
    }

    /// Where the user with id `id` is in `users`.
    pub(super) fn user_position(&self, id: &str) -> Option<usize> {
        let at = *self.index.by_id.get(id)?;
        self.users
            .get(at)
            .filter(|u| u.id == id)
            .map(|_| at)
            .or_else(|| self.users.iter().position(|u| u.id == id))
    }

    /// Refuse what Kinde can never hold: two users, applications or APIs with one id, or two
    /// users with one email. Look-ups would silently pick the first.
    pub(crate) fn check_unique(&self) -> Result<(), String> {
        first_duplicate("user id", self.users.iter().map(|u| u.id.clone()))?;
        first_duplicate(
            "user email",
            self.users.iter().map(|u| u.email.to_lowercase()),
        )?;
        first_duplicate(
            "application id",
            self.applications.iter().map(|a| a.id.clone()),
        )?;
        first_duplicate("API id", self.apis.iter().map(|a| a.id.clone()))?;
        first_duplicate(
            "organization code",
            self.organizations.iter().map(|o| o.code.clone()),
        )
    }

    /// Save to `path` as a whole snapshot (mode 0600: it holds client secrets and private
    /// keys), with no journal after it.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        super::persist::write_snapshot(path, self, 0)?;
        match std::fs::remove_file(super::persist::journal_path(path)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::file("remove", super::persist::journal_path(path), e))
            }
            _ => Ok(()),
        }
    }
}

/// An organization. Its members hold their roles and direct permissions, since Kinde assigns
/// both per membership.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Organization {
    /// `org_` + 11 lower-case hex, assigned by Kinde.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Whether this is the business's default organization (exactly one is).
    #[serde(default)]
    pub is_default: bool,
    /// The caller's own identifier, not the code.
    #[serde(default)]
    pub external_id: Option<String>,
    /// A unique handle.
    #[serde(default)]
    pub handle: Option<String>,
    /// Whether a user signing in with this org's code joins it.
    #[serde(default)]
    pub is_auto_membership_enabled: bool,
    /// Suspended: sign-in to it fails.
    #[serde(default)]
    pub is_suspended: bool,
    /// When it was suspended, RFC 3339.
    #[serde(default)]
    pub suspended_on: Option<String>,
    /// Email domains allowed to join by signing up (Kinde's "Allowed domains"): with
    /// auto-membership on, a user from another domain cannot join with this org's code; empty
    /// means any domain.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Kinde's "Auto-add users from allowed domains" (`is_auto_join_domain_list`): a user who
    /// signs up with an email in [`Organization::allowed_domains`] becomes a member.
    #[serde(default)]
    pub is_auto_join_domain_list: bool,
    /// Creation time, RFC 3339.
    pub created_on: String,
    /// Members, in the order they joined.
    #[serde(default)]
    pub members: Vec<Member>,
    /// Its logos by type (`light`, `dark`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub logos: BTreeMap<String, Logo>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An uploaded logo: the image as stored and served.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Logo {
    /// The uploaded file's name.
    pub file_name: String,
    /// Its image type, e.g. `image/png`.
    pub content_type: String,
    /// The image.
    pub data: Blob,
    /// A digest of the image, put in its URL (`cache=`) so a new logo is a new URL.
    pub cache: String,
    /// When it was uploaded, RFC 3339.
    pub uploaded_on: String,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Logo {
    /// A logo of `data`, uploaded now.
    pub fn new(file_name: &str, content_type: &str, data: Vec<u8>) -> Logo {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
        Logo {
            file_name: file_name.into(),
            content_type: content_type.into(),
            cache: digest.as_ref()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            data: Blob(data.into()),
            uploaded_on: now_rfc3339(),
            extra: Extra::new(),
        }
    }
}

/// Bytes shared rather than copied when the tenant is (a snapshot, a catalog copy), stored as
/// base64 in the state file.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob(pub std::sync::Arc<[u8]>);

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(|bytes| Blob(bytes.into()))
            .map_err(serde::de::Error::custom)
    }
}

impl Organization {
    /// A new, non-default organization with a fresh code, created now.
    pub fn new(name: &str) -> Organization {
        Organization {
            code: format!("org_{}", &random_hex(6)[..11]),
            name: name.into(),
            is_default: false,
            external_id: None,
            handle: None,
            is_auto_membership_enabled: false,
            is_suspended: false,
            suspended_on: None,
            allowed_domains: Vec::new(),
            is_auto_join_domain_list: false,
            created_on: now_rfc3339(),
            members: Vec::new(),
            logos: BTreeMap::new(),
            extra: Extra::new(),
        }
    }

    /// Whether `email`'s domain is one of [`Organization::allowed_domains`], in any case. An
    /// entry may be written as a URL, as the spec's example does (`https://acme.com`): its host
    /// counts. Only the domain itself matches, not its subdomains (Kinde does not say they do).
    pub fn lists_domain_of(&self, email: &str) -> bool {
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        self.allowed_domains.iter().any(|entry| {
            let entry = entry.trim();
            let host = entry.split_once("://").map_or(entry, |(_, rest)| rest);
            let host = host.split(['/', ':']).next().unwrap_or(host);
            !host.is_empty() && host.eq_ignore_ascii_case(domain)
        })
    }

    /// Whether `email` may join by signing in with this organization's code, as far as its
    /// domain goes: any when no domain is listed.
    pub fn admits_domain_of(&self, email: &str) -> bool {
        self.allowed_domains.is_empty() || self.lists_domain_of(email)
    }

    /// The membership of `user_id`.
    pub fn member(&self, user_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.user_id == user_id)
    }

    /// The membership of `user_id`, to change it.
    pub fn member_mut(&mut self, user_id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.user_id == user_id)
    }

    /// Add `user_id` if not a member yet; whether it was added.
    pub fn join(&mut self, user_id: &str) -> bool {
        if self.member(user_id).is_some() {
            return false;
        }
        self.members.push(Member {
            user_id: user_id.into(),
            joined_on: now_rfc3339(),
            roles: Vec::new(),
            permissions: Vec::new(),
            extra: Extra::new(),
        });
        true
    }
}

/// A user's membership of an organization.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    /// The user's id.
    pub user_id: String,
    /// When the user joined, RFC 3339.
    pub joined_on: String,
    /// Role ids held in this organization.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Permission ids given directly (on top of the roles').
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    /// Id (a UUID, as Kinde's examples).
    pub id: String,
    /// Key used in code and in tokens.
    pub key: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Given to every new user.
    #[serde(default)]
    pub is_default_role: bool,
    /// Permission ids the role grants.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A permission.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Permission {
    /// Id (a UUID).
    pub id: String,
    /// Key used in code and in tokens' `permissions`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// What it allows.
    #[serde(default)]
    pub description: String,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A feature flag, its value at each level as the API sends it (a string).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureFlag {
    /// Key used in code and in tokens.
    pub key: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// `str`, `int` or `bool`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The most specific level allowed to override: `env`, `org` or `usr`.
    pub allow_override_level: String,
    /// The business default.
    pub default_value: String,
    /// The environment's override.
    #[serde(default)]
    pub environment_value: Option<String>,
    /// Overrides by organization code.
    #[serde(default)]
    pub organization_values: BTreeMap<String, String>,
    /// Overrides by user id (they count in every org the user belongs to).
    #[serde(default)]
    pub user_values: BTreeMap<String, String>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

impl FeatureFlag {
    /// The value in effect for `org` and `user`: the user's override, else the organization's,
    /// else the environment's, else the default (Kinde's cascade, most specific wins). Only
    /// levels the flag allows count.
    pub fn value_for(&self, org: Option<&str>, user: Option<&str>) -> &str {
        let allows = |level: &str| match self.allow_override_level.as_str() {
            "env" => level == "env",
            "org" => level != "usr",
            _ => true,
        };
        user.filter(|_| allows("usr"))
            .and_then(|u| self.user_values.get(u))
            .or_else(|| {
                org.filter(|_| allows("org"))
                    .and_then(|o| self.organization_values.get(o))
            })
            .or(self.environment_value.as_ref())
            .unwrap_or(&self.default_value)
    }
}

/// A property definition and its values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Property {
    /// `prop_` + 32 hex.
    pub id: String,
    /// Key (fixed once created).
    pub key: String,
    /// Display name.
    pub name: String,
    /// What it holds.
    #[serde(default)]
    pub description: String,
    /// `single_line_text` or `multi_line_text`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `usr`, `org` or `app`.
    pub context: String,
    /// Private properties never go into tokens.
    #[serde(default)]
    pub is_private: bool,
    /// The category's id.
    #[serde(default)]
    pub category_id: String,
    /// Kinde's built-in property (`kp_` key), which cannot be edited or deleted.
    #[serde(default)]
    pub is_kinde_property: bool,
    /// Values by owner: user id, org code or client id, as `context` says.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A property category.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PropertyCategory {
    /// `cat_` + 32 hex.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `usr`, `org` or `app`.
    pub context: String,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An application's token customisation (Kinde's dashboard toggles), all off by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenSettings {
    /// Access token `roles` ("Roles (array)").
    #[serde(default)]
    pub roles: bool,
    /// Access token `org_name`.
    #[serde(default)]
    pub org_name: bool,
    /// ID token `organizations` ("Organizations (array)").
    #[serde(default)]
    pub organizations: bool,
    /// Access token lifetime in seconds (the emulator's `--access-token-ttl` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime: Option<u64>,
    /// Refresh token lifetime in seconds (Kinde's 1,296,000 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifetime: Option<u64>,
    /// ID token lifetime in seconds (Kinde's 3600 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_lifetime: Option<u64>,
    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Tenant {
    /// Give the tenant Kinde's default organization, with every user a member, when it has none
    /// (a new tenant, or a state file from before organizations).
    fn ensure_default_organization(&mut self) {
        if self.organizations.iter().any(|o| o.is_default) {
            return;
        }
        let mut default = Organization::new("Default Organization");
        default.is_default = true;
        for user in &self.users {
            default.join(&user.id);
        }
        self.organizations.insert(0, default);
    }

    /// The organization whose code is `code`.
    pub fn organization(&self, code: &str) -> Option<&Organization> {
        self.organizations.iter().find(|o| o.code == code)
    }

    /// The organization whose code is `code`, to change it.
    pub fn organization_mut(&mut self, code: &str) -> Option<&mut Organization> {
        self.organizations.iter_mut().find(|o| o.code == code)
    }

    /// Put a new user where Kinde does when no organization is named: the default one.
    pub fn join_default_organization(&mut self, user_id: &str) {
        if let Some(default) = self.organizations.iter_mut().find(|o| o.is_default) {
            default.join(user_id);
        }
    }

    /// The organizations `user_id` belongs to, in the tenant's order.
    pub fn organizations_of<'a>(
        &'a self,
        user_id: &'a str,
    ) -> impl Iterator<Item = &'a Organization> + 'a {
        self.organizations
            .iter()
            .filter(move |o| o.member(user_id).is_some())
    }

    /// The role with id `id`.
    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// The permission with id `id`.
    pub fn permission(&self, id: &str) -> Option<&Permission> {
        self.permissions.iter().find(|p| p.id == id)
    }

    /// The feature flag with key `key`.
    pub fn feature_flag(&self, key: &str) -> Option<&FeatureFlag> {
        self.feature_flags.iter().find(|f| f.key == key)
    }

    /// The feature flag with key `key`, to change it.
    pub fn feature_flag_mut(&mut self, key: &str) -> Option<&mut FeatureFlag> {
        self.feature_flags.iter_mut().find(|f| f.key == key)
    }

    /// Whether item `id` of a typed family (named as its Management API path segment,
    /// `organizations`, `roles`, ...) exists; `None` for a family the tenant does not type, whose
    /// items the generic handler keeps. Paths under a typed parent ask this, so a sub-resource
    /// the generic handler serves (`/organizations/{org_code}/invites`) sees the typed parent.
    pub fn has_parent(&self, family: &str, id: &str) -> Option<bool> {
        Some(match family {
            "organizations" | "organization" => self.organization(id).is_some(),
            "roles" => self.role(id).is_some(),
            "permissions" => self.permission(id).is_some(),
            "properties" => self.properties.iter().any(|p| p.id == id),
            "property_categories" => self.property_categories.iter().any(|c| c.id == id),
            "feature_flags" => self.feature_flag(id).is_some(),
            "users" => self.user(id).is_some(),
            "applications" => self.application(id).is_some(),
            "apis" => self.api(id).is_some(),
            _ => return None,
        })
    }
}

/// Now as RFC 3339 seconds.
fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The first value seen twice, as an error naming it and both positions.
fn first_duplicate(what: &str, values: impl Iterator<Item = String>) -> Result<(), String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (at, value) in values.enumerate() {
        if value.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(value.clone(), at) {
            return Err(format!(
                "duplicate {what} `{value}` (entries {first} and {at}, counting from 0)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_kindes_shapes() {
        let t = Tenant::seed("k".into());
        let m = t.management_app().unwrap();
        assert_eq!(m.id.len(), 32);
        assert!(
            m.client_secret
                .as_ref()
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert!(
            t.users
                .iter()
                .all(|u| u.id.starts_with("kp_") && u.id.len() == 35)
        );
        assert!(
            t.apis[0]
                .scopes
                .iter()
                .all(|s| s.id.starts_with("api_scope_"))
        );
        let uuid = random_uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(!format!("{m:?}").contains(m.client_secret.as_ref().unwrap()));
    }

    /// A saved seed tenant as JSON, to hand-edit.
    fn saved(dir: &Path) -> (std::path::PathBuf, Value) {
        let path = dir.join("state.json");
        Tenant::seed("k".into()).save(&path).unwrap();
        let json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        (path, json)
    }

    #[test]
    fn unknown_fields_survive_a_load_and_save() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut json) = saved(dir.path());
        json["future_setting"] = serde_json::json!({"on": true});
        json["users"][0]["phone"] = "+61 400 000 000".into();
        json["applications"][0]["token_lifetimes"] = serde_json::json!({"access": 3600});
        json["apis"][0]["is_management_api_v2"] = true.into();
        json["apis"][0]["scopes"][0]["created_on"] = "2026-01-01".into();
        json["apis"][0]["applications"][0]["granted_on"] = "2026-01-02".into();
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();

        let mut tenant = Tenant::load(&path).unwrap().unwrap();
        tenant
            .users
            .push(User::new("new@example.com", "New", "User"));
        tenant.save(&path).unwrap();

        let again: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(again["future_setting"], json["future_setting"]);
        assert_eq!(again["users"][0]["phone"], "+61 400 000 000");
        assert_eq!(
            again["applications"][0]["token_lifetimes"],
            json["applications"][0]["token_lifetimes"]
        );
        assert_eq!(again["apis"][0]["is_management_api_v2"], true);
        assert_eq!(again["apis"][0]["scopes"][0]["created_on"], "2026-01-01");
        assert_eq!(
            again["apis"][0]["applications"][0]["granted_on"],
            "2026-01-02"
        );
        assert_eq!(again["users"][5]["email"], "new@example.com");
    }

    #[test]
    fn duplicate_ids_and_emails_are_refused_on_load_naming_the_file_and_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let (path, json) = saved(dir.path());
        // (list, field copied into a second entry, the rule the error names)
        for (list, field, rule) in [
            ("users", "id", "duplicate user id"),
            ("applications", "id", "duplicate application id"),
            ("apis", "id", "duplicate API id"),
            ("users", "email", "duplicate user email"),
        ] {
            let mut json = json.clone();
            let value = json[list][0][field].as_str().unwrap().to_string();
            // The second entry is another one (index 1) given the first one's value, the
            // email in upper case: Kinde's emails ignore case.
            let mut copy = json[list][1].clone();
            copy["id"] = format!("kp_{}", random_hex(16)).into();
            copy[field] = if field == "email" {
                value.to_uppercase().into()
            } else {
                value.clone().into()
            };
            json[list].as_array_mut().unwrap().push(copy);
            std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
            let refused = Tenant::load(&path).unwrap_err().to_string();
            assert!(refused.contains(&path.display().to_string()), "{refused}");
            assert!(refused.contains(rule), "{refused}");
            assert!(refused.contains(&value.to_lowercase()), "{refused}");
        }
    }

    #[test]
    fn a_state_file_from_before_organizations_gets_a_default_org_holding_every_user() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut json) = saved(dir.path());
        let map = json.as_object_mut().unwrap();
        for field in ["organizations", "roles", "permissions", "feature_flags"] {
            map.remove(field);
        }
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let tenant = Tenant::load(&path).unwrap().unwrap();
        let defaults: Vec<_> = tenant
            .organizations
            .iter()
            .filter(|o| o.is_default)
            .collect();
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0].members.len(), tenant.users.len());
        assert!(defaults[0].code.starts_with("org_") && defaults[0].code.len() == 15);
    }

    #[test]
    fn a_state_file_from_before_identities_gives_each_user_its_email_identity() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut json) = saved(dir.path());
        for user in json["users"].as_array_mut().unwrap() {
            user.as_object_mut().unwrap().remove("identities");
        }
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let tenant = Tenant::load(&path).unwrap().unwrap();
        for user in &tenant.users {
            assert_eq!(user.identities.len(), 1, "{user:?}");
            let identity = &user.identities[0];
            assert_eq!(
                (identity.kind.as_str(), &identity.name),
                ("email", &user.email)
            );
            assert!(identity.is_primary && identity.id.starts_with("identity_"));
            let (_, found) = tenant.user_by_identity(&identity.id).unwrap();
            assert_eq!(found.id, user.id);
        }
    }

    #[test]
    fn identities_are_found_by_value_and_id_and_forgotten_when_removed() {
        let mut t = Tenant::seed("k".into());
        let alice = t.users[0].id.clone();
        let at = t.user_position(&alice).unwrap();
        let work = Identity::new("email", "Alice.Work@example.com");
        let name = Identity::new("username", "alice");
        let (work_id, name_id) = (work.id.clone(), name.id.clone());
        t.add_identity(at, work);
        t.add_identity(at, name);
        assert_eq!(t.user_by_email("alice.work@EXAMPLE.com").unwrap().id, alice);
        assert_eq!(t.user_by_login("username", "ALICE").unwrap().id, alice);
        assert_eq!(t.user_by_identity(&work_id).unwrap().1.id, alice);
        // The primary email made the work one, then the work one removed: back to the first.
        t.make_primary(at, &work_id);
        assert_eq!(t.users[at].email, "Alice.Work@example.com");
        t.remove_identity(at, &work_id).unwrap();
        assert_eq!(t.users[at].email, "alice@example.com");
        assert!(t.users[at].identities[0].is_primary);
        assert!(t.user_by_email("alice.work@example.com").is_none());
        assert!(t.user_by_identity(&work_id).is_none());
        t.remove_identity(at, &name_id).unwrap();
        assert!(t.user_by_login("username", "alice").is_none());
        // A new address for the user: the old one finds no one.
        t.change_email(at, "a@example.org");
        assert!(t.user_by_email("alice@example.com").is_none());
        assert_eq!(t.user_by_email("A@example.org").unwrap().id, alice);
        assert_eq!(t.users[at].identities.len(), 1);
    }

    #[test]
    fn a_flag_resolves_to_the_most_specific_allowed_level() {
        let mut flag = FeatureFlag {
            key: "f".into(),
            name: "F".into(),
            description: String::new(),
            kind: "str".into(),
            allow_override_level: "usr".into(),
            default_value: "default".into(),
            environment_value: None,
            organization_values: BTreeMap::new(),
            user_values: BTreeMap::new(),
            extra: Extra::new(),
        };
        assert_eq!(flag.value_for(Some("org_a"), Some("kp_u")), "default");
        flag.environment_value = Some("env".into());
        assert_eq!(flag.value_for(Some("org_a"), Some("kp_u")), "env");
        flag.organization_values
            .insert("org_a".into(), "org".into());
        assert_eq!(flag.value_for(Some("org_a"), Some("kp_u")), "org");
        assert_eq!(flag.value_for(Some("org_b"), Some("kp_u")), "env");
        flag.user_values.insert("kp_u".into(), "user".into());
        assert_eq!(flag.value_for(Some("org_a"), Some("kp_u")), "user");
        assert_eq!(flag.value_for(Some("org_b"), Some("kp_u")), "user");
        flag.allow_override_level = "org".into();
        assert_eq!(flag.value_for(Some("org_a"), Some("kp_u")), "org");
        flag.allow_override_level = "env".into();
        assert_eq!(flag.value_for(Some("org_a"), Some("kp_u")), "env");
    }

    #[test]
    fn look_ups_follow_the_index_and_survive_changes_behind_it() {
        let mut t = Tenant::seed("k".into());
        let alice = t.users[0].clone();
        assert_eq!(t.user(&alice.id).map(|u| &u.email), Some(&alice.email));
        assert_eq!(
            t.user_by_email("ALICE@example.com").map(|u| &u.id),
            Some(&alice.id)
        );
        assert!(t.user("kp_nobody").is_none());
        // Appended without reindex: found by a scan; after reindex, through the index.
        t.users.push(User::new("zed@example.com", "Zed", ""));
        assert!(t.user_by_email("zed@example.com").is_some());
        t.reindex();
        assert!(t.user_by_email("zed@example.com").is_some());
        // Replaced in one change (same length): the newcomer is found through a rebuilt index.
        let zed = t.users.pop().unwrap();
        t.users.push(User::new("yan@example.com", "Yan", ""));
        t.reindex();
        assert!(t.user(&zed.id).is_none());
        assert!(t.user_by_email("yan@example.com").is_some());
        assert_eq!(t.index.by_email.get("yan@example.com"), Some(&5));
        // Removed behind the index's back: never a wrong answer.
        t.users.remove(0);
        assert!(t.user(&alice.id).is_none());
        t.reindex();
        assert!(t.user_by_email("alice@example.com").is_none());
        assert!(t.user_by_email("bob@example.com").is_some());
    }
}
