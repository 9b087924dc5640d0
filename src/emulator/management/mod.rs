//! The Management API: Kinde's paths, bodies, status codes and error shapes, one file per
//! resource family. Every request needs an M2M token for `<issuer>/api` carrying the scope the
//! generated operation table (`crate::kinde::operations`) names for it ([`auth`]).

mod apis;
mod applications;
mod auth;
pub(super) mod body;
mod generic;
mod identities;
mod logos;
mod multipart;
mod page;
mod params;
mod shape;
mod users;
// Organizations, roles, permissions, feature flags, properties (issue 12).
mod flags;
mod orgs;
mod permissions;
mod properties;
mod roles;

use std::sync::Arc;

use axum::Router;

use super::State;

pub(super) use applications::ORG_CODE;

/// The state every handler gets.
type Shared = Arc<State>;

/// What the Management API links to and anyone may fetch: the logo images.
pub(super) fn public_routes() -> Router<Shared> {
    logos::public_routes()
}

/// Every Management API route, behind the token and scope check.
pub(super) fn routes(state: Shared) -> Router<Shared> {
    Router::new()
        .merge(users::routes())
        .merge(identities::routes())
        .merge(applications::routes())
        .merge(apis::routes())
        .merge(orgs::routes())
        .merge(logos::routes())
        .merge(roles::routes())
        .merge(permissions::routes())
        .merge(flags::routes())
        .merge(properties::routes())
        // Last, so every explicit route above wins: the operation table answers the rest,
        // including another method on an explicit path.
        .route("/api/v1/{*rest}", axum::routing::any(generic::serve))
        .method_not_allowed_fallback(generic::serve)
        // Inner to the token check: only authorised writes are recorded.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::record,
        ))
        .route_layer(axum::middleware::from_fn_with_state(state, auth::authorize))
        .layer(axum::extract::DefaultBodyLimit::max(super::MAX_BODY))
}
