//! The emulated Kinde business: applications, APIs, users and signing keys, kept in memory and,
//! with `--state FILE`, on disk across restarts.

use std::path::Path;

use serde::{Deserialize, Serialize};

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
    /// Users.
    pub users: Vec<User>,
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
}

/// An application authorised for an API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authorization {
    /// The application's client id.
    pub client_id: String,
    /// Scopes granted to it.
    #[serde(default)]
    pub scopes: Vec<String>,
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
}

impl User {
    /// A new user with a fresh `kp_` id, created now.
    pub fn new(email: &str, first_name: &str, last_name: &str) -> User {
        User {
            id: format!("kp_{}", random_hex(16)),
            email: email.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            created_on: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
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
        };
        let web = Application {
            id: random_hex(16),
            name: "Web app".into(),
            kind: "reg".into(),
            client_secret: Some(random_secret()),
            redirect_urls: vec!["http://localhost:3000/api/auth/kinde_callback".into()],
            logout_urls: vec!["http://localhost:3000".into()],
        };
        let scopes: Vec<ApiScope> = kinde::all_scopes()
            .into_iter()
            .map(|key| ApiScope {
                id: format!("api_scope_{}", random_hex(16)),
                key: key.into(),
                description: String::new(),
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
            }],
            scopes,
        };
        let users = SEED_USERS
            .iter()
            .map(|(email, first, last)| User::new(email, first, last))
            .collect();
        let sample_scope = ApiScope {
            id: format!("api_scope_{}", random_hex(16)),
            key: super::sample::SAMPLE_SCOPE.into(),
            description: "Read the sample API".into(),
        };
        let sample_api = Api {
            id: random_hex(16),
            name: "Sample API".into(),
            audience: Some(super::sample::SAMPLE_AUDIENCE.into()),
            is_management_api: false,
            applications: vec![Authorization {
                client_id: management.id.clone(),
                scopes: vec![sample_scope.key.clone()],
            }],
            scopes: vec![sample_scope],
        };
        Tenant {
            keys: vec![key],
            applications: vec![management, web],
            apis: vec![management_api, sample_api],
            users,
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

    /// Read a tenant saved by [`Tenant::save`].
    pub fn load(path: &Path) -> Result<Option<Tenant>, Error> {
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
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::input(format!(
                "{}: not an emulator state file ({e})",
                path.display()
            ))
            .with_hint("delete it to start from a fresh tenant, or pass another --state FILE")
        })
    }

    /// Save to `path` (mode 0600: it holds client secrets and private keys).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text =
            serde_json::to_vec_pretty(self).map_err(|e| Error::file("write", path, e.into()))?;
        crate::files::write_private(path, &text).map_err(|e| e.context("saving the emulator state"))
    }
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
}
