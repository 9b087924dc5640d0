//! Orders API: an example service protected by Kinde, as a Rust team would write it.
//!
//! Every route takes a Kinde access token (`Authorization: Bearer ...`), verified against the
//! tenant's JWKS ([`Verifier`]), and checks the organization in the path and a permission:
//!
//! | route | permission |
//! |---|---|
//! | `GET /orgs/{org_code}/orders` | `read:orders` |
//! | `POST /orgs/{org_code}/orders` | `create:orders` |
//!
//! A missing or invalid token is answered 401, a valid one for another organization or without
//! the permission 403 (with RFC 6750's `WWW-Authenticate` header). Users hold permissions
//! through the token's `permissions` for its `org_code`; M2M applications through their scopes
//! (see [`Caller::require`]). The tests in `tests/` drive it with `cargo_kinde::testing`.

mod auth;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

pub use auth::{AuthError, Caller, Claims, Verifier};

/// The permission `GET /orgs/{org_code}/orders` requires.
pub const READ_ORDERS: &str = "read:orders";
/// The permission `POST /orgs/{org_code}/orders` requires.
pub const CREATE_ORDERS: &str = "create:orders";

/// Where the service finds Kinde, and which API it is.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Kinde issuer, e.g. `https://acme.kinde.com` (no trailing slash): `iss` must equal it.
    pub issuer: String,
    /// This API's audience as registered in Kinde: `aud` must hold it.
    pub audience: String,
    /// Where the signing keys are: Kinde serves them at `<issuer>/.well-known/jwks`.
    pub jwks_url: String,
    /// The least time between two fetches of the JWKS for a `kid` it did not hold (so tokens
    /// naming made-up keys cannot make the service hammer Kinde).
    pub jwks_refetch_interval: Duration,
    /// How long a fetched key set is trusted: the first request after it is older fetches the
    /// JWKS again (within the refetch interval's limit) and replaces it, so a key removed from
    /// the JWKS stops verifying.
    pub jwks_max_age: Duration,
}

impl Config {
    /// The configuration for `issuer` (a trailing `/` is dropped) and `audience`, with Kinde's
    /// JWKS URL, a one-minute refetch interval and a ten-minute maximum age of the key set.
    pub fn new(issuer: &str, audience: &str) -> Config {
        let issuer = issuer.trim_end_matches('/').to_string();
        Config {
            jwks_url: format!("{issuer}/.well-known/jwks"),
            issuer,
            audience: audience.to_string(),
            jwks_refetch_interval: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(600),
        }
    }
}

/// An order, as stored and returned.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    /// Unique in this process.
    pub id: u64,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub quantity: u32,
    /// The user id, or the M2M application's client id, that placed it.
    pub created_by: String,
}

/// The body of `POST /orgs/{org_code}/orders`.
#[derive(Debug, Deserialize)]
pub struct NewOrder {
    /// What to order.
    pub item: String,
    /// How many.
    pub quantity: u32,
}

/// The service's state: the verifier and each organization's orders (in memory).
#[derive(Clone)]
struct AppState {
    verifier: Arc<Verifier>,
    orders: Arc<Mutex<HashMap<String, Vec<Order>>>>,
    next_id: Arc<AtomicU64>,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Arc<Verifier> {
        state.verifier.clone()
    }
}

/// The service, to serve with `axum::serve`.
pub fn app(config: Config) -> Router {
    let state = AppState {
        verifier: Arc::new(Verifier::new(&config)),
        orders: Arc::default(),
        next_id: Arc::new(AtomicU64::new(1)),
    };
    Router::new()
        .route(
            "/orgs/{org_code}/orders",
            get(list_orders).post(create_order),
        )
        .with_state(state)
}

/// `GET /orgs/{org_code}/orders`: the organization's orders.
async fn list_orders(
    caller: Caller,
    State(state): State<AppState>,
    Path(org_code): Path<String>,
) -> Result<Json<Vec<Order>>, AuthError> {
    caller.require(&org_code, READ_ORDERS)?;
    let orders = state.orders.lock().await;
    Ok(Json(orders.get(&org_code).cloned().unwrap_or_default()))
}

/// `POST /orgs/{org_code}/orders`: place an order (201 with it).
async fn create_order(
    caller: Caller,
    State(state): State<AppState>,
    Path(org_code): Path<String>,
    Json(new): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), AuthError> {
    caller.require(&org_code, CREATE_ORDERS)?;
    let order = Order {
        id: state.next_id.fetch_add(1, Ordering::Relaxed),
        item: new.item,
        quantity: new.quantity,
        created_by: caller.id().unwrap_or_default().to_string(),
    };
    let mut orders = state.orders.lock().await;
    orders.entry(org_code).or_default().push(order.clone());
    Ok((StatusCode::CREATED, Json(order)))
}
