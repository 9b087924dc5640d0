//! Every Management API operation without a typed handler, answered from the operation table:
//! the path names a collection (`/api/v1/webhooks`, `/api/v1/applications/{id}/connections`) or
//! an item of one (`.../{connection_id}`), the method says what to do with it, the spec's
//! required query parameters and body fields are checked, and the answer is cut to the
//! operation's response shape ([`shape`]). Unknown paths answer the spec's `not_found_response`;
//! a known path with another method, 405.
//!
//! Collections hold JSON objects with a string `id`; a nested collection's created items also
//! live in the top-level collection of the same name when the spec has one (an item made at
//! `/a/{id}/b` is read at `/b/{b_id}`). Users (with their identities and sessions),
//! applications, APIs, organizations, roles, permissions, properties and feature flags are the
//! typed tenant's, so a path under one of them asks the tenant ([`Tenant::has_parent`]) whether
//! it exists.

use axum::Json;
use axum::extract::State as AxumState;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::Shared;
use super::body::Raw;
use super::page::PageQuery;
use super::shape;
use crate::emulator::error::ApiError;
use crate::emulator::tenant::{Tenant, random_hex, random_secret};
use crate::emulator::webhooks;
use crate::kinde;
use crate::kinde::operations::{OPERATIONS, Operation};

/// Families whose items are the typed tenant's, not the generic store's (those
/// [`Tenant::has_parent`] answers for): items made under one of them stay under it.
const TYPED: &[&str] = &[
    "users",
    "applications",
    "apis",
    "organizations",
    "roles",
    "permissions",
    "properties",
    "property_categories",
    "feature_flags",
];

/// Paths the spec spells in the singular for one item of a plural collection.
const SINGULAR: &[(&str, &str)] = &[("organization", "organizations")];

/// Id prefixes Kinde's own ids carry, from the spec's examples.
const PREFIXES: &[(&str, &str)] = &[
    ("organizations", "org_"),
    ("connections", "conn_"),
    ("directories", "directory_"),
    ("invites", "inv_"),
    ("mfa", "mfa_"),
    ("environment_variables", "env_var_"),
    ("identities", "identity_"),
    ("subscribers", "kp_"),
    ("api_keys", "key_"),
];

/// The fallback for `/api/v1/*`: the operation the table has for it, or Kinde's 404 / 405.
pub(super) async fn serve(
    AxumState(state): AxumState<Shared>,
    method: Method,
    uri: Uri,
    Raw(body): Raw,
) -> Result<Response, ApiError> {
    let path = uri.path();
    // Kinde's paths have no trailing slash; trimming one would hand `/api/v1/users/` to this
    // store instead of the typed users (an empty list, a role tokens never see).
    if path.ends_with('/') {
        return Err(ApiError::RouteNotFound);
    }
    let Some(op) = kinde::find_operation(method.as_str(), path) else {
        return Err(unknown(path));
    };
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let call = Call::new(op, path, query, &body)?;
    if call.is_typed() {
        // A typed family's own paths are its handlers'; reaching here means no handler has
        // this method, and a generic item would be a ghost the typed tenant never sees.
        return Err(unknown_method(op));
    }
    if path.starts_with(webhooks::COLLECTION) {
        if let Some(endpoint) = call.body.get("endpoint") {
            webhooks::check_endpoint(endpoint.as_str().unwrap_or(""))?;
        }
        if let Some(types) = call.body.get("event_types") {
            webhooks::check_event_types(types)?;
        }
    }
    let issuer = state.issuer().to_string();
    let answer = if method == Method::GET {
        state.read(|t| call.run_read(t, &issuer))?
    } else {
        state.update(|t| call.run_write(t, &issuer))?
    };
    Ok(respond(op, answer))
}

/// 405 (with `Allow`) when another method serves `path`; otherwise the spec's 404.
fn unknown(path: &str) -> ApiError {
    let allowed: Vec<&str> = OPERATIONS
        .iter()
        .filter(|o| kinde::find_operation(o.method, path).is_some_and(|f| f == *o))
        .map(|o| o.method)
        .collect();
    if allowed.is_empty() {
        ApiError::RouteNotFound
    } else {
        ApiError::MethodNotAllowed(allowed.join(", "))
    }
}

/// 405 naming the other methods the table has for `op`'s path (the typed handlers serve them).
fn unknown_method(op: &'static Operation) -> ApiError {
    let allowed: Vec<&str> = OPERATIONS
        .iter()
        .filter(|o| o.path == op.path && o.method != op.method)
        .map(|o| o.method)
        .collect();
    if allowed.is_empty() {
        ApiError::RouteNotFound
    } else {
        ApiError::MethodNotAllowed(allowed.join(", "))
    }
}

/// What the answer holds before it is cut to the response's shape.
enum Answer {
    /// One object (an item, a setting, or nothing: `{}`).
    One(Value),
    /// A page of a collection.
    Page(Vec<Value>, Option<String>),
}

fn respond(op: &'static Operation, answer: Answer) -> Response {
    let status = StatusCode::from_u16(op.status).unwrap_or(StatusCode::OK);
    let Some(shape) = shape::of(op) else {
        return if status == StatusCode::NO_CONTENT {
            status.into_response()
        } else {
            (
                status,
                Json(serde_json::json!({"code": "OK", "message": "Success"})),
            )
                .into_response()
        };
    };
    let mut data = Map::new();
    let (item, page) = match answer {
        Answer::One(item) => (Some(item), None),
        Answer::Page(items, next) => (None, Some((items, next))),
    };
    if let Some(Value::Object(fields)) = &item {
        data.extend(fields.clone());
    }
    let mut page = page;
    for (name, sub) in shape::properties(shape) {
        match shape::kind(sub) {
            "a" => {
                if let Some((items, _)) = page.as_mut() {
                    data.insert(name.clone(), Value::Array(std::mem::take(items)));
                } else if let Some(item) = &item
                    && !data.contains_key(name)
                    && sub
                        .get("i")
                        .is_some_and(|i| shape::properties(i).any(|(n, _)| n == "id"))
                {
                    // An item answered as a list of one (`GET /subscribers/{id}`).
                    data.insert(name.clone(), Value::Array(vec![item.clone()]));
                }
            }
            "o" if !data.contains_key(name) && name != "errors" => {
                if let Some(item) = &item {
                    data.insert(name.clone(), item.clone());
                }
            }
            _ => {}
        }
    }
    if let Some((_, Some(next))) = page {
        data.insert("next_token".into(), Value::String(next));
    }
    // The envelope's `code` is "OK" where the answer has a `message`; elsewhere `code` is the
    // item's own (an organization's code).
    if shape::properties(shape).any(|(n, _)| n == "message") {
        data.insert("code".into(), Value::String("OK".into()));
        data.insert("message".into(), Value::String("Success".into()));
    }
    if shape::properties(shape).any(|(n, _)| n == "has_more") {
        data.entry("has_more").or_insert(Value::Bool(false));
    }
    let body = shape::fill(shape, &Value::Object(data)).unwrap_or_else(|| shape::default(shape));
    (status, Json(body)).into_response()
}

/// One entry of a bulk change: (id, fields, whether it is removed).
type BulkEntry = (String, Map<String, Value>, bool);

/// Where a call points.
enum Target {
    /// The collection at `key`.
    Collection { key: String },
    /// Item `id` of the collection at `key`; `param` is the path parameter naming it.
    Item {
        key: String,
        id: String,
        param: &'static str,
    },
}

/// One request, checked against the operation's required parts.
struct Call {
    op: &'static Operation,
    target: Target,
    /// Path parameters under the target: (collection key, id), outermost first.
    parents: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Map<String, Value>,
}

impl Call {
    fn new(
        op: &'static Operation,
        path: &str,
        query: Vec<(String, String)>,
        body: &[u8],
    ) -> Result<Call, ApiError> {
        for name in op.query {
            if !query.iter().any(|(k, v)| k == name && !v.is_empty()) {
                return Err(ApiError::bad_request(
                    "MISSING_PARAMETER",
                    format!("The {name} query parameter is required"),
                ));
            }
        }
        let body = read_body(op, body)?;
        let template: Vec<&'static str> = op.path.split('/').collect();
        let segments: Vec<String> = path.split('/').map(String::from).collect();
        let is_param = |s: &str| s.starts_with('{') && s.ends_with('}');
        let mut parents = Vec::new();
        for (at, part) in template.iter().enumerate() {
            if is_param(part) && at + 1 < template.len() {
                parents.push((collection_key(&segments[..at]), segments[at].clone()));
            }
        }
        let last = template.len() - 1;
        let target = if is_param(template[last]) {
            Target::Item {
                key: collection_key(&segments[..last]),
                id: segments[last].clone(),
                param: template[last].trim_matches(|c| c == '{' || c == '}'),
            }
        } else if let Some((name, id)) = query
            .iter()
            .find(|(k, _)| (k == "code" || k == "id") && op.query.contains(&k.as_str()))
        {
            // `GET /api/v1/organization?code=...`: an item named in the query.
            Target::Item {
                key: collection_key(&segments),
                id: id.clone(),
                param: if name == "code" { "org_code" } else { "id" },
            }
        } else {
            Target::Collection {
                key: collection_key(&segments),
            }
        };
        Ok(Call {
            op,
            target,
            parents,
            query,
            body,
        })
    }

    /// Whether the call points at a typed family's own collection or item (`/api/v1/roles`,
    /// `/api/v1/users/{id}`, `/api/v1/user`), which only the typed handlers serve.
    fn is_typed(&self) -> bool {
        let key = match &self.target {
            Target::Collection { key } | Target::Item { key, .. } => key,
        };
        key == "/api/v1/user" || (is_top_level(key) && TYPED.contains(&family(key)))
    }

    /// Each parent named in the path exists: a typed one (a user, an organization, a role) at
    /// any depth, in the typed tenant; a generic one where it lives at the top level.
    fn check_parents(&self, tenant: &Tenant) -> Result<(), ApiError> {
        for (key, id) in &self.parents {
            let known = match tenant.has_parent(family(key), id) {
                Some(found) => found,
                None => !is_top_level(key) || find(tenant, key, id).is_some(),
            };
            if !known {
                return Err(not_found(key, id));
            }
        }
        Ok(())
    }

    fn run_read(&self, tenant: &Tenant, issuer: &str) -> Result<Answer, ApiError> {
        self.check_parents(tenant)?;
        match &self.target {
            Target::Item { key, id, .. } => {
                if let Some(found) = find(tenant, key, id) {
                    return Ok(Answer::One(found.clone()));
                }
                if is_listed(self.op) {
                    // A list under an item: `GET /users/{id}/sessions` has no item route.
                    return self.page(tenant, key);
                }
                Err(not_found(key, id))
            }
            Target::Collection { key } => {
                if is_listed(self.op) {
                    self.page(tenant, key)
                } else {
                    Ok(Answer::One(single(tenant, key, issuer)))
                }
            }
        }
    }

    fn page(&self, tenant: &Tenant, key: &str) -> Result<Answer, ApiError> {
        let param = |name: &str| {
            self.query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let window = PageQuery::new(param("page_size"), param("next_token")).window()?;
        let items: Vec<Value> = listed(tenant, key).cloned().collect();
        if items.is_empty() {
            // Kinde's global lists (event types, timezones) come whole: they take no paging.
            return Ok(Answer::Page(builtin(key), None));
        }
        let (page, next) = window.cut(items);
        Ok(Answer::Page(page, next))
    }

    fn run_write(&self, tenant: &mut Tenant, issuer: &str) -> Result<Answer, ApiError> {
        self.check_parents(tenant)?;
        let method = self.op.method;
        match &self.target {
            Target::Collection { key } => match method {
                "POST" if creates(self.op) => self.create(tenant, key),
                "POST" => self.act(tenant, key),
                "DELETE" => {
                    tenant.collections.items.remove(key);
                    tenant.collections.singles.remove(key);
                    Ok(Answer::One(Value::Object(Map::new())))
                }
                // Links changed in bulk: `{"permissions": [{"id": .., "operation": "delete"}]}`.
                _ if self.bulk().is_some() => {
                    for (id, fields, remove) in self.bulk().unwrap_or_default() {
                        if remove {
                            if let Some((at, index)) = position(tenant, key, &id)
                                && let Some(items) = tenant.collections.items.get_mut(&at)
                            {
                                items.remove(index);
                            }
                        } else {
                            upsert(
                                tenant,
                                key,
                                &id,
                                item_param(self.op.path).unwrap_or("id"),
                                fields,
                            );
                        }
                    }
                    Ok(Answer::One(Value::Object(Map::new())))
                }
                // PUT / PATCH on a collection path changes the setting kept at that path.
                _ => {
                    let mut current = single(tenant, key, issuer);
                    merge(&mut current, &self.fields());
                    tenant
                        .collections
                        .singles
                        .insert(key.clone(), current.clone());
                    Ok(Answer::One(current))
                }
            },
            Target::Item { key, id, param } => match method {
                "DELETE" => {
                    let (at_key, index) =
                        position(tenant, key, id).ok_or_else(|| not_found(key, id))?;
                    let removed = tenant
                        .collections
                        .items
                        .get_mut(&at_key)
                        .map(|items| items.remove(index))
                        .unwrap_or_default();
                    Ok(Answer::One(removed))
                }
                "PATCH" if is_top_level(key) && find(tenant, key, id).is_none() => {
                    Err(not_found(key, id))
                }
                // POST on an item path links it (`/applications/{id}/connections/{cid}`); PUT
                // and PATCH change it, made if new (`/users/{id}/properties/{key}`).
                _ => {
                    let mut fields = self.fields();
                    if method == "PUT" && key.ends_with("/api_keys") {
                        // Rotating a key: a new secret, shown once.
                        fields.insert("key".into(), Value::String(api_key_secret()));
                    }
                    let item = upsert(tenant, key, id, param, fields);
                    Ok(Answer::One(item))
                }
            },
        }
    }

    /// The entries of a body that names items by id in a list called as the collection is
    /// (`{"users": [{"id": ..}]}`): (id, fields, whether `operation` is `delete`).
    fn bulk(&self) -> Option<Vec<BulkEntry>> {
        let family = match &self.target {
            Target::Collection { key } => family(key),
            Target::Item { .. } => return None,
        };
        let Some(Value::Array(entries)) = self.body.get(family) else {
            return None;
        };
        entries
            .iter()
            .map(|entry| {
                let mut fields = entry.as_object()?.clone();
                let id = fields.remove("id")?.as_str()?.to_string();
                let remove = fields
                    .remove("operation")
                    .and_then(|o| o.as_str().map(|o| o == "delete"));
                Some((id, fields, remove.unwrap_or(false)))
            })
            .collect()
    }

    /// The body and the non-paging query parameters, as an item's fields.
    fn fields(&self) -> Map<String, Value> {
        let mut fields = self.body.clone();
        for (k, v) in &self.query {
            if !matches!(k.as_str(), "page_size" | "next_token") {
                fields.entry(k.clone()).or_insert(Value::String(v.clone()));
            }
        }
        fields.retain(|k, _| !k.starts_with('_'));
        fields
    }

    /// `POST` to a collection: a new item with a fresh id, or, when the body names an existing
    /// one (`{"role_id": ...}`, `{"users": [{"id": ...}]}`), links to it.
    fn create(&self, tenant: &mut Tenant, key: &str) -> Result<Answer, ApiError> {
        let param = item_param(self.op.path);
        let family = family(key);
        // Several at once: `POST /organizations/{code}/users` with `{"users":[{"id":..}]}`.
        if let Some(entries) = self.bulk() {
            for (id, fields, _) in entries {
                upsert(tenant, key, &id, param.unwrap_or("id"), fields);
            }
            return Ok(Answer::One(Value::Object(Map::new())));
        }
        let mut fields = self.fields();
        let named = param.and_then(|p| {
            let by_name = self.body.get(p).and_then(Value::as_str);
            let by_kind = if p.ends_with("_key") {
                self.body.get("key").and_then(Value::as_str)
            } else if p.ends_with("_code") {
                self.body.get("code").and_then(Value::as_str)
            } else {
                None
            };
            by_name.or(by_kind).map(String::from)
        });
        if let Some(id) = named {
            if find(tenant, key, &id).is_some() && !is_top_level(key) {
                return Ok(Answer::One(
                    find(tenant, key, &id).cloned().unwrap_or_default(),
                ));
            }
            if is_top_level(key) && find(tenant, key, &id).is_some() {
                return Err(ApiError::bad_request(
                    format!("{}_ALREADY_EXISTS", singular(family).to_uppercase()),
                    format!("{id} already exists"),
                ));
            }
            let item = upsert(tenant, key, &id, param.unwrap_or("id"), fields);
            return Ok(Answer::One(item));
        }
        let id = new_id(family);
        if family == "api_keys" {
            fields.insert("key".into(), Value::String(api_key_secret()));
            fields.insert("status".into(), Value::String("active".into()));
        }
        let at = match global_of(key) {
            Some(global) => {
                fields.insert("_parent".into(), Value::String(key.to_string()));
                global
            }
            None => key.to_string(),
        };
        let item = stamp(fields, &id, param.unwrap_or("id"));
        tenant
            .collections
            .items
            .entry(at)
            .or_default()
            .push(item.clone());
        Ok(Answer::One(item))
    }

    /// A `POST` that acts rather than creates (verify a key, refresh claims, record usage).
    fn act(&self, tenant: &mut Tenant, key: &str) -> Result<Answer, ApiError> {
        if key == "/api/v1/api_keys/verify" {
            let given = self
                .body
                .get("api_key")
                .and_then(Value::as_str)
                .unwrap_or("");
            let found = tenant
                .collections
                .items
                .get_mut("/api/v1/api_keys")
                .and_then(|keys| {
                    keys.iter_mut()
                        .find(|k| k.get("key").and_then(Value::as_str) == Some(given))
                });
            let answer = match found {
                Some(item) => {
                    let count = item
                        .get("verification_count")
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                        + 1;
                    item["verification_count"] = Value::from(count);
                    item["last_verified_on"] = Value::String(now());
                    serde_json::json!({
                        "is_valid": item.get("status").and_then(Value::as_str) == Some("active"),
                        "key_id": item["id"],
                        "status": item["status"],
                        "scopes": item.get("scopes").cloned().unwrap_or(Value::Array(vec![])),
                        "verification_count": count,
                        "last_verified_on": item["last_verified_on"],
                    })
                }
                None => serde_json::json!({"is_valid": false, "verification_count": 0}),
            };
            return Ok(Answer::One(answer));
        }
        Ok(Answer::One(Value::Object(self.fields())))
    }
}

/// The body as a JSON object; Kinde's 400 when it is required and absent, not an object,
/// missing a field the spec requires, or breaking the operation's request schema ([`shape::check`]
/// names the field).
fn read_body(op: &'static Operation, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let invalid = |message: String| ApiError::bad_request("INVALID_REQUEST_BODY", message);
    if body.iter().all(u8::is_ascii_whitespace) {
        if op.body || !op.body_required.is_empty() {
            return Err(invalid("A JSON request body is required".into()));
        }
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| invalid("The request body must be a JSON object".into()))?;
    let Value::Object(map) = &value else {
        return Err(invalid("The request body must be a JSON object".into()));
    };
    if let Some(missing) = op
        .body_required
        .iter()
        .find(|name| map.get(**name).is_none_or(Value::is_null))
    {
        return Err(invalid(format!("The request body needs `{missing}`")));
    }
    if let Some(schema) = shape::request_of(op) {
        shape::check(schema, &value, "").map_err(invalid)?;
    }
    let Value::Object(mut map) = value else {
        return Err(invalid("The request body must be a JSON object".into()));
    };
    // An optional field sent as null is as good as absent, and is not kept.
    map.retain(|_, v| !v.is_null());
    Ok(map)
}

/// The store key of a collection path, singular spellings made plural.
fn collection_key(segments: &[String]) -> String {
    let mut parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    if let Some(family) = parts.get_mut(3)
        && let Some((_, plural)) = SINGULAR.iter().find(|(s, _)| s == family)
    {
        *family = plural;
    }
    parts.join("/")
}

/// `/api/v1/<family>`: a collection at the top level.
fn is_top_level(key: &str) -> bool {
    key.split('/').count() == 4
}

/// The last segment of a collection key.
fn family(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

fn singular(family: &str) -> String {
    if let Some(stem) = family.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        family.strip_suffix('s').unwrap_or(family).to_string()
    }
}

fn not_found(key: &str, id: &str) -> ApiError {
    let what = singular(family(key));
    ApiError::bad_request(
        format!("{}_NOT_FOUND", what.to_uppercase()),
        format!("No {} with id {id}", what.replace('_', " ")),
    )
}

/// Whether an operation answers with a list (its shape has an array of objects).
fn is_listed(op: &'static Operation) -> bool {
    shape::of(op).is_some_and(|s| {
        shape::properties(s).any(|(_, p)| {
            shape::kind(p) == "a" && p.get("i").is_some_and(|i| shape::kind(i) == "o")
        })
    })
}

/// Whether a `POST` to a collection path makes items: the spec has an item path under it.
fn creates(op: &'static Operation) -> bool {
    item_param(op.path).is_some()
        || OPERATIONS
            .iter()
            .any(|o| o.method == "GET" && o.path == op.path && is_listed(o))
}

/// The parameter naming one item under `path`, when the spec has such a path.
fn item_param(path: &str) -> Option<&'static str> {
    let singular_path = SINGULAR.iter().find_map(|(s, p)| {
        path.strip_prefix(&format!("/api/v1/{p}"))
            .map(|rest| format!("/api/v1/{s}{rest}"))
    });
    OPERATIONS.iter().find_map(|o| {
        let rest = o
            .path
            .strip_prefix(path)
            .or_else(|| {
                singular_path
                    .as_deref()
                    .and_then(|p| o.path.strip_prefix(p))
            })?
            .strip_prefix("/{")?;
        rest.strip_suffix('}').filter(|name| !name.contains('/'))
    })
}

/// The top-level collection a nested one's new items also belong to (`identities`).
fn global_of(key: &str) -> Option<String> {
    let family = family(key);
    if is_top_level(key) || TYPED.contains(&family) {
        return None;
    }
    let top = format!("/api/v1/{family}");
    OPERATIONS
        .iter()
        .any(|o| o.path.starts_with(&format!("{top}/{{")))
        .then_some(top)
}

/// Items listed at `key`: its own, and those made under it that live at the top level.
fn listed<'t>(tenant: &'t Tenant, key: &str) -> impl Iterator<Item = &'t Value> {
    let own = tenant.collections.items.get(key).into_iter().flatten();
    let global = global_of(key)
        .and_then(|g| tenant.collections.items.get(&g))
        .into_iter()
        .flatten()
        .filter(move |v| v.get("_parent").and_then(Value::as_str) == Some(key));
    own.chain(global)
}

/// Where item `id` of `key` is stored: (the collection it is in, its index).
fn position(tenant: &Tenant, key: &str, id: &str) -> Option<(String, usize)> {
    let is = |v: &Value| v.get("id").and_then(Value::as_str) == Some(id);
    if let Some(at) = tenant
        .collections
        .items
        .get(key)
        .and_then(|items| items.iter().position(is))
    {
        return Some((key.to_string(), at));
    }
    let global = global_of(key)?;
    let at = tenant
        .collections
        .items
        .get(&global)?
        .iter()
        .position(|v| is(v) && v.get("_parent").and_then(Value::as_str) == Some(key))?;
    Some((global, at))
}

fn find<'t>(tenant: &'t Tenant, key: &str, id: &str) -> Option<&'t Value> {
    let (at, index) = position(tenant, key, id)?;
    tenant.collections.items.get(&at)?.get(index)
}

/// An item's stored form: its fields, its `id`, and the name its path parameter gives the id
/// (`code` for `{org_code}`, `key` for `{property_key}`), with a creation time.
fn stamp(mut fields: Map<String, Value>, id: &str, param: &str) -> Value {
    fields.insert("id".into(), Value::String(id.into()));
    // Some answers name the id by its parameter (`subscriber_id`).
    fields.insert(param.into(), Value::String(id.into()));
    if param.ends_with("_code") {
        fields.insert("code".into(), Value::String(id.into()));
    } else if param.ends_with("_key") {
        fields.insert("key".into(), Value::String(id.into()));
    }
    fields
        .entry("created_on")
        .or_insert_with(|| Value::String(now()));
    Value::Object(fields)
}

/// Item `id` of `key` with `fields` merged in, made if new; the item as stored.
fn upsert(
    tenant: &mut Tenant,
    key: &str,
    id: &str,
    param: &str,
    fields: Map<String, Value>,
) -> Value {
    if let Some((at, index)) = position(tenant, key, id)
        && let Some(item) = tenant
            .collections
            .items
            .get_mut(&at)
            .and_then(|items| items.get_mut(index))
    {
        merge(item, &fields);
        return item.clone();
    }
    // A linked item takes what the top-level collection of its name knows of it
    // (a connection's name and strategy).
    let mut base = tenant
        .collections
        .items
        .get(&format!("/api/v1/{}", family(key)))
        .and_then(|items| {
            items
                .iter()
                .find(|v| v.get("id").and_then(Value::as_str) == Some(id))
        })
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    base.remove("_parent");
    base.extend(fields);
    let item = stamp(base, id, param);
    tenant
        .collections
        .items
        .entry(key.to_string())
        .or_default()
        .push(item.clone());
    item
}

fn merge(target: &mut Value, fields: &Map<String, Value>) {
    if let Value::Object(map) = target {
        for (k, v) in fields {
            if k != "id" {
                map.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The setting kept at `key` over its built-in values.
fn single(tenant: &Tenant, key: &str, issuer: &str) -> Value {
    let mut value = match key {
        "/api/v1/environment" => serde_json::json!({
            "code": "production",
            "name": "Production",
            "is_default": true,
            "is_live": true,
            "kinde_domain": issuer,
        }),
        "/api/v1/business" => serde_json::json!({
            "code": "bus_emulator",
            "name": "Local Kinde emulator",
            "has_clickwrap": false,
            "has_kinde_branding": true,
        }),
        _ => Value::Object(Map::new()),
    };
    if let Some(Value::Object(stored)) = tenant.collections.singles.get(key) {
        merge(&mut value, stored);
    }
    if key == "/api/v1/environment" {
        for (kind, field) in [("light", "logo"), ("dark", "logo_dark")] {
            value[field] = tenant
                .environment_logos
                .get(kind)
                .map_or(Value::Null, |logo| {
                    Value::String(super::logos::url(issuer, None, kind, logo))
                });
        }
    }
    value
}

/// Kinde's global lists, a few entries each, where nothing was stored.
fn builtin(key: &str) -> Vec<Value> {
    let pairs: &[(&str, &str)] = match key {
        "/api/v1/timezones" => &[
            (
                "london_greenwich_mean_time",
                "London (Greenwich Mean Time) [+00:00]",
            ),
            (
                "new_york_eastern_standard_time",
                "New York (Eastern Standard Time) [-05:00]",
            ),
            (
                "sydney_australian_eastern_standard_time",
                "Sydney (Australian Eastern Standard Time) [+10:00]",
            ),
        ],
        "/api/v1/industries" => &[
            ("administration_and_support", "Administration and support"),
            ("software_development", "Software development"),
            ("financial_services", "Financial services"),
        ],
        "/api/v1/event_types" => {
            return webhooks::EVENT_TYPES
                .iter()
                .map(|key| {
                    serde_json::json!({
                        "id": key,
                        "code": key,
                        "name": webhooks::event_name(key),
                        "origin": "kinde",
                    })
                })
                .collect();
        }
        _ => &[],
    };
    pairs
        .iter()
        .map(|(key, name)| {
            serde_json::json!({
                "id": key,
                "key": key,
                "code": key,
                "name": name,
                "origin": "kinde",
            })
        })
        .collect()
}

fn new_id(family: &str) -> String {
    let prefix = PREFIXES
        .iter()
        .find(|(f, _)| *f == family)
        .map_or("", |(_, p)| p);
    if family == "organizations" {
        format!("{prefix}{}", random_hex(6))
    } else {
        format!("{prefix}{}", random_hex(16))
    }
}

/// A new API key's secret, shown only when made or rotated.
fn api_key_secret() -> String {
    format!("kinde_{}", random_secret())
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_collections_and_items() {
        assert_eq!(item_param("/api/v1/webhooks"), Some("webhook_id"));
        assert_eq!(item_param("/api/v1/organizations"), Some("org_code"));
        assert_eq!(item_param("/api/v1/business"), None);
        assert_eq!(
            global_of("/api/v1/users/kp_1/identities").as_deref(),
            Some("/api/v1/identities")
        );
        assert_eq!(global_of("/api/v1/organizations/org_1/users"), None);
        assert_eq!(
            collection_key(&["", "api", "v1", "organization"].map(String::from)),
            "/api/v1/organizations"
        );
        assert_eq!(singular("properties"), "property");
        assert_eq!(singular("webhooks"), "webhook");
    }
}
