//! Typed Management API operations for what cargo-kinde reads and changes. Request bodies and
//! response fields follow Kinde's OpenAPI spec (a test checks them against its schemas).

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::Client;
use crate::error::Error;

// Roles and permissions (issue 13).
pub mod flags;
pub mod orgs;
pub mod roles;

pub mod applications;

/// A user, as listed.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// `kp_...`.
    pub id: String,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
}

/// An application, as listed (the secret is never read).
#[derive(Debug, Clone, Deserialize)]
pub struct Application {
    /// Id, equal to its client id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `m2m`, `reg`, `spa`, `device`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl Application {
    /// Its type as Kinde's admin UI and docs name it (`reg` is a "Back-end web" app).
    pub fn kind_name(&self) -> &str {
        match self.kind.as_str() {
            "reg" => "Back-end web",
            "spa" => "Front-end and mobile",
            "m2m" => "Machine to machine (M2M)",
            "device" => "Device and IoT",
            other => other,
        }
    }

    /// Whether it has a client secret to keep (back-end web and M2M apps; front-end, mobile and
    /// device apps use PKCE and have none).
    pub fn has_secret(&self) -> bool {
        matches!(self.kind.as_str(), "reg" | "m2m")
    }
}

/// An API scope.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiScope {
    /// `api_scope_...`.
    pub id: String,
    /// e.g. `read:orders`.
    pub key: String,
}

/// An API, as listed.
#[derive(Debug, Clone, Deserialize)]
pub struct Api {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Audience.
    #[serde(default)]
    pub audience: String,
    /// Whether it is the Kinde Management API.
    #[serde(default)]
    pub is_management_api: bool,
    /// Its scopes.
    #[serde(default)]
    pub scopes: Vec<ApiScope>,
}

/// An application's authorisation state for an API, from `GET /apis/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiApplication {
    /// Client id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Whether it is authorised; Kinde may list only authorised apps, or all with this flag.
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// Which URL list of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UrlKind {
    /// Allowed callback (redirect) URLs.
    Callback,
    /// Allowed logout redirect URLs.
    Logout,
}

impl UrlKind {
    fn path(self, app: &str) -> String {
        match self {
            UrlKind::Callback => format!("/api/v1/applications/{app}/auth_redirect_urls"),
            UrlKind::Logout => format!("/api/v1/applications/{app}/auth_logout_urls"),
        }
    }

    fn key(self) -> &'static str {
        match self {
            UrlKind::Callback => "redirect_urls",
            UrlKind::Logout => "logout_urls",
        }
    }

    /// `callback URL` or `logout URL`.
    pub fn label(self) -> &'static str {
        match self {
            UrlKind::Callback => "callback URL",
            UrlKind::Logout => "logout URL",
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(value)
        .map_err(|e| Error::network(format!("unexpected {what} from the Management API: {e}")))
}

fn field(value: &Value, pointer: &str, what: &str) -> Result<String, Error> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| {
            Error::network(format!(
                "the Management API's answer to {what} has no `{pointer}`"
            ))
        })
}

/// The body of `PATCH /apis/{id}/applications`.
pub fn authorize_body(changes: &[(String, bool)]) -> Value {
    let applications: Vec<Value> = changes
        .iter()
        .map(|(id, authorize)| {
            if *authorize {
                json!({"id": id})
            } else {
                json!({"id": id, "operation": "delete"})
            }
        })
        .collect();
    json!({ "applications": applications })
}

impl Client {
    /// Every user (`GET /api/v1/users`, all pages).
    pub async fn users(&self, page_size: u32) -> Result<Vec<User>, Error> {
        let items = self
            .list_all(
                "/api/v1/users",
                "users",
                &[("page_size".into(), page_size.to_string())],
            )
            .await?;
        parse(Value::Array(items), "users")
    }

    /// One user (`GET /api/v1/user?id=`).
    pub async fn user(&self, id: &str) -> Result<Value, Error> {
        self.call(
            Method::GET,
            "/api/v1/user",
            &[("id".into(), id.into())],
            None,
        )
        .await
    }

    /// Create a user with an email identity; returns its id.
    pub async fn create_user(
        &self,
        email: &str,
        given_name: &str,
        family_name: &str,
    ) -> Result<String, Error> {
        let body = json!({
            "profile": {"given_name": given_name, "family_name": family_name},
            "identities": [{"type": "email", "details": {"email": email}}],
        });
        let answer = self
            .call(Method::POST, "/api/v1/user", &[], Some(&body))
            .await?;
        field(&answer, "/id", "create user")
    }

    /// Every application.
    pub async fn applications(&self) -> Result<Vec<Application>, Error> {
        let items = self
            .list_all("/api/v1/applications", "applications", &[])
            .await?;
        parse(Value::Array(items), "applications")
    }

    /// One application.
    pub async fn application(&self, id: &str) -> Result<Application, Error> {
        let answer = self
            .call(
                Method::GET,
                &format!("/api/v1/applications/{id}"),
                &[],
                None,
            )
            .await?;
        parse(
            answer.get("application").cloned().unwrap_or(Value::Null),
            "application",
        )
    }

    /// An application's callback or logout URLs.
    pub async fn urls(&self, kind: UrlKind, app: &str) -> Result<Vec<String>, Error> {
        let answer = self.call(Method::GET, &kind.path(app), &[], None).await?;
        parse(
            answer.get(kind.key()).cloned().unwrap_or(json!([])),
            kind.label(),
        )
    }

    /// Add URLs to an application's list.
    pub async fn add_urls(&self, kind: UrlKind, app: &str, urls: &[String]) -> Result<(), Error> {
        self.send_urls(Method::POST, kind, app, urls).await
    }

    /// Replace an application's list.
    pub async fn replace_urls(
        &self,
        kind: UrlKind,
        app: &str,
        urls: &[String],
    ) -> Result<(), Error> {
        self.send_urls(Method::PUT, kind, app, urls).await
    }

    async fn send_urls(
        &self,
        method: Method,
        kind: UrlKind,
        app: &str,
        urls: &[String],
    ) -> Result<(), Error> {
        self.call(method, &kind.path(app), &[], Some(&json!({ "urls": urls })))
            .await
            .map(drop)
    }

    /// Remove URLs from an application's list.
    pub async fn delete_urls(
        &self,
        kind: UrlKind,
        app: &str,
        urls: &[String],
    ) -> Result<(), Error> {
        self.call(
            Method::DELETE,
            &kind.path(app),
            &[("urls".into(), urls.join(","))],
            None,
        )
        .await
        .map(drop)
    }

    /// Every API.
    pub async fn apis(&self) -> Result<Vec<Api>, Error> {
        let answer = self
            .call(
                Method::GET,
                "/api/v1/apis",
                &[("expand".into(), "scopes".into())],
                None,
            )
            .await?;
        parse(answer.get("apis").cloned().unwrap_or(json!([])), "APIs")
    }

    /// Register an API; returns its id.
    pub async fn create_api(&self, name: &str, audience: &str) -> Result<String, Error> {
        let answer = self
            .call(
                Method::POST,
                "/api/v1/apis",
                &[],
                Some(&json!({"name": name, "audience": audience})),
            )
            .await?;
        field(&answer, "/api/id", "create API")
    }

    /// The applications of an API, with their authorisation.
    pub async fn api_applications(&self, api: &str) -> Result<Vec<ApiApplication>, Error> {
        let answer = self
            .call(Method::GET, &format!("/api/v1/apis/{api}"), &[], None)
            .await?;
        parse(
            answer
                .pointer("/api/applications")
                .cloned()
                .unwrap_or(json!([])),
            "API applications",
        )
    }

    /// Delete an API.
    pub async fn delete_api(&self, api: &str) -> Result<(), Error> {
        self.call(Method::DELETE, &format!("/api/v1/apis/{api}"), &[], None)
            .await
            .map(drop)
    }

    /// Authorise (`true`) or de-authorise (`false`) applications for an API.
    pub async fn authorize(&self, api: &str, changes: &[(String, bool)]) -> Result<(), Error> {
        let path = format!("/api/v1/apis/{api}/applications");
        self.call(Method::PATCH, &path, &[], Some(&authorize_body(changes)))
            .await
            .map(drop)
    }

    /// An API's scopes.
    pub async fn api_scopes(&self, api: &str) -> Result<Vec<ApiScope>, Error> {
        let answer = self
            .call(
                Method::GET,
                &format!("/api/v1/apis/{api}/scopes"),
                &[],
                None,
            )
            .await?;
        parse(
            answer.get("scopes").cloned().unwrap_or(json!([])),
            "API scopes",
        )
    }

    /// Create a scope on an API; returns its id.
    pub async fn create_api_scope(&self, api: &str, key: &str) -> Result<String, Error> {
        let path = format!("/api/v1/apis/{api}/scopes");
        let answer = self
            .call(Method::POST, &path, &[], Some(&json!({"key": key})))
            .await?;
        field(&answer, "/scope/id", "create API scope")
    }

    /// Grant an API scope to an authorised application.
    pub async fn grant_api_scope(&self, api: &str, app: &str, scope_id: &str) -> Result<(), Error> {
        let path = format!("/api/v1/apis/{api}/applications/{app}/scopes/{scope_id}");
        self.call(Method::POST, &path, &[], None).await.map(drop)
    }
}
