//! Roles and permissions of the business (`/api/v1/roles`, `/api/v1/permissions`), as the
//! reconciler reads and changes them. Lists are read with Kinde's largest page (500) so a big
//! tenant takes few requests.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{field, parse};
use crate::error::Error;
use crate::kinde::client::Client;

/// Kinde's largest `page_size` for list endpoints.
const PAGE_SIZE: &str = "500";

/// A permission, as listed.
#[derive(Debug, Clone, Deserialize)]
pub struct Permission {
    /// Id.
    pub id: String,
    /// Key.
    pub key: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Description (`None` when Kinde sends none).
    #[serde(default)]
    pub description: Option<String>,
}

/// A role, as listed.
#[derive(Debug, Clone, Deserialize)]
pub struct Role {
    /// Id.
    pub id: String,
    /// Key.
    pub key: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Given to new organization members.
    #[serde(default)]
    pub is_default_role: bool,
}

/// The fields of a role to create or update.
#[derive(Debug, Clone, Copy)]
pub struct RoleFields<'a> {
    /// Key.
    pub key: &'a str,
    /// Name.
    pub name: &'a str,
    /// Description; `None` (or empty) sends none, since Kinde cannot clear one.
    pub description: Option<&'a str>,
    /// `is_default_role`.
    pub is_default: bool,
}

impl RoleFields<'_> {
    fn body(&self) -> Value {
        let mut body = json!({
            "key": self.key,
            "name": self.name,
            "is_default_role": self.is_default,
        });
        if let Some(description) = self.description.filter(|d| !d.is_empty()) {
            body["description"] = json!(description);
        }
        body
    }
}

fn page() -> Vec<(String, String)> {
    vec![("page_size".into(), PAGE_SIZE.into())]
}

impl Client {
    /// Every permission (`GET /api/v1/permissions`, all pages).
    pub async fn permissions(&self) -> Result<Vec<Permission>, Error> {
        let items = self
            .list_all("/api/v1/permissions", "permissions", &page())
            .await?;
        parse(Value::Array(items), "permissions")
    }

    /// Every role (`GET /api/v1/roles`, all pages).
    pub async fn roles(&self) -> Result<Vec<Role>, Error> {
        let items = self.list_all("/api/v1/roles", "roles", &page()).await?;
        parse(Value::Array(items), "roles")
    }

    /// A role's permissions (`GET /api/v1/roles/{role_id}/permissions`, all pages).
    pub async fn role_permissions(&self, role: &str) -> Result<Vec<Permission>, Error> {
        let path = format!("/api/v1/roles/{role}/permissions");
        let items = self.list_all(&path, "permissions", &page()).await?;
        parse(Value::Array(items), "role permissions")
    }

    /// Create a permission (`POST /api/v1/permissions`). Kinde answers without its id, so a
    /// caller that needs it lists the permissions afterwards.
    pub async fn create_permission(
        &self,
        key: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<(), Error> {
        let mut body = json!({"key": key, "name": name});
        if let Some(description) = description {
            body["description"] = json!(description);
        }
        self.call(Method::POST, "/api/v1/permissions", &[], Some(&body))
            .await
            .map(drop)
    }

    /// Update a permission's name and description (`PATCH /api/v1/permissions/{id}`).
    pub async fn update_permission(
        &self,
        id: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<(), Error> {
        let mut body = json!({"name": name});
        if let Some(description) = description {
            body["description"] = json!(description);
        }
        let path = format!("/api/v1/permissions/{id}");
        self.call(Method::PATCH, &path, &[], Some(&body))
            .await
            .map(drop)
    }

    /// Delete a permission (Kinde takes it from roles and users too).
    pub async fn delete_permission(&self, id: &str) -> Result<(), Error> {
        let path = format!("/api/v1/permissions/{id}");
        self.call(Method::DELETE, &path, &[], None).await.map(drop)
    }

    /// Create a role (`POST /api/v1/roles`); returns its id.
    pub async fn create_role(&self, role: RoleFields<'_>) -> Result<String, Error> {
        let answer = self
            .call(Method::POST, "/api/v1/roles", &[], Some(&role.body()))
            .await?;
        field(&answer, "/role/id", "create role")
    }

    /// Update a role (`PATCH /api/v1/roles/{id}`: Kinde requires `name` and `key`).
    pub async fn update_role(&self, id: &str, role: RoleFields<'_>) -> Result<(), Error> {
        let path = format!("/api/v1/roles/{id}");
        self.call(Method::PATCH, &path, &[], Some(&role.body()))
            .await
            .map(drop)
    }

    /// Delete a role (Kinde takes it from every member who held it).
    pub async fn delete_role(&self, id: &str) -> Result<(), Error> {
        let path = format!("/api/v1/roles/{id}");
        self.call(Method::DELETE, &path, &[], None).await.map(drop)
    }

    /// Add (`true`) or remove (`false`) permissions of a role in one request
    /// (`PATCH /api/v1/roles/{role_id}/permissions`).
    pub async fn change_role_permissions(
        &self,
        role: &str,
        permission_ids: &[String],
        add: bool,
    ) -> Result<(), Error> {
        let permissions: Vec<Value> = permission_ids
            .iter()
            .map(|id| {
                if add {
                    json!({"id": id})
                } else {
                    json!({"id": id, "operation": "delete"})
                }
            })
            .collect();
        let path = format!("/api/v1/roles/{role}/permissions");
        self.call(
            Method::PATCH,
            &path,
            &[],
            Some(&json!({"permissions": permissions})),
        )
        .await
        .map(drop)
    }
}
