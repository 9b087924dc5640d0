//! Creating an application and reading its client secret back (`[app]` created by `register`).

use reqwest::Method;
use serde_json::{Value, json};

use super::field;
use crate::error::Error;
use crate::kinde::client::Client;
use crate::secret::Secret;

/// A newly created application: its client id, and its secret when its type has one.
#[derive(Debug, Clone)]
pub struct CreatedApplication {
    /// Client id (equal to the application id).
    pub client_id: String,
    /// Client secret, registered for masking as soon as it is read.
    pub client_secret: Option<Secret>,
}

fn secret_of(answer: &Value) -> Option<Secret> {
    answer
        .pointer("/application/client_secret")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(Secret::new)
}

impl Client {
    /// Create an application of Kinde `type` `kind` (`reg`, `spa`, `m2m`, `device`).
    pub async fn create_application(
        &self,
        name: &str,
        kind: &str,
    ) -> Result<CreatedApplication, Error> {
        let answer = self
            .call(
                Method::POST,
                "/api/v1/applications",
                &[],
                Some(&json!({"name": name, "type": kind})),
            )
            .await?;
        // The secret is taken first: `Secret::new` registers it for masking, so it stays hidden
        // even in the error about a missing id.
        let client_secret = secret_of(&answer);
        let client_id = answer
            .pointer("/application/client_id")
            .and_then(Value::as_str)
            .map(String::from)
            .map_or_else(
                || field(&answer, "/application/id", "create application"),
                Ok,
            )?;
        Ok(CreatedApplication {
            client_id,
            client_secret,
        })
    }

    /// An application's client secret as `GET /applications/{id}` answers it. Kinde's spec lists
    /// it there; whether Kinde fills it in is not established, so `None` is an answer too.
    pub async fn application_secret(&self, id: &str) -> Result<Option<Secret>, Error> {
        let answer = self
            .call(
                Method::GET,
                &format!("/api/v1/applications/{id}"),
                &[],
                None,
            )
            .await?;
        Ok(secret_of(&answer))
    }
}
