//! Organizations: the list (with each one's `external_id`), create, rename, and feature-flag
//! overrides.

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::client::Client;
use super::flags::{FlagValue, segment};
use super::{field, parse};
use crate::error::Error;

/// An organization as `GET /api/v1/organizations` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrganizationItem {
    /// `org_...`, assigned by Kinde.
    pub code: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// The caller's own identifier.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Whether it is the business's default organization.
    #[serde(default)]
    pub is_default: bool,
}

/// How many organizations' flags are read at once: enough that 100 organizations plan in well
/// under a second, few enough to stay inside Kinde's rate limits (the client retries 429s).
const CONCURRENT_READS: usize = 8;

impl Client {
    /// Every organization (largest pages Kinde allows: one request up to 500 organizations).
    pub async fn organizations(&self) -> Result<Vec<OrganizationItem>, Error> {
        let items = self
            .list_all(
                "/api/v1/organizations",
                "organizations",
                &[("page_size".into(), "500".into())],
            )
            .await?;
        parse(Value::Array(items), "organizations")
    }

    /// An organization's flag values (`GET /api/v1/organizations/{code}/feature_flags`): its
    /// override where it has one, else the environment's value.
    pub async fn organization_flags(
        &self,
        code: &str,
    ) -> Result<BTreeMap<String, FlagValue>, Error> {
        let path = format!("/api/v1/organizations/{}/feature_flags", segment(code));
        let answer = self.call(Method::GET, &path, &[], None).await?;
        parse(
            answer.get("feature_flags").cloned().unwrap_or(json!({})),
            "organization feature flags",
        )
    }

    /// [`Client::organization_flags`] of each of `codes`, read concurrently, in `codes`' order.
    pub async fn organizations_flags(
        &self,
        codes: &[String],
    ) -> Result<Vec<BTreeMap<String, FlagValue>>, Error> {
        futures_util::stream::iter(codes.iter().map(|code| self.organization_flags(code)))
            .buffered(CONCURRENT_READS)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// Create an organization; returns its code.
    pub async fn create_organization(
        &self,
        name: &str,
        external_id: &str,
    ) -> Result<String, Error> {
        let body = json!({"name": name, "external_id": external_id});
        let answer = self
            .call(Method::POST, "/api/v1/organization", &[], Some(&body))
            .await?;
        field(&answer, "/organization/code", "create organization")
    }

    /// Rename an organization.
    pub async fn rename_organization(&self, code: &str, name: &str) -> Result<(), Error> {
        let path = format!("/api/v1/organization/{}", segment(code));
        self.call(Method::PATCH, &path, &[], Some(&json!({"name": name})))
            .await
            .map(drop)
    }

    /// Set an organization's override of a flag.
    pub async fn set_organization_flag(
        &self,
        code: &str,
        key: &str,
        value: &str,
    ) -> Result<(), Error> {
        let path = format!(
            "/api/v1/organizations/{}/feature_flags/{}",
            segment(code),
            segment(key)
        );
        let query = [("value".to_string(), value.to_string())];
        self.call(Method::PATCH, &path, &query, None)
            .await
            .map(drop)
    }

    /// Remove an organization's override of a flag.
    pub async fn delete_organization_flag(&self, code: &str, key: &str) -> Result<(), Error> {
        let path = format!(
            "/api/v1/organizations/{}/feature_flags/{}",
            segment(code),
            segment(key)
        );
        self.call(Method::DELETE, &path, &[], None).await.map(drop)
    }
}
