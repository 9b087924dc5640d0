//! Properties and property categories, and the property values of users and organizations.

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::body::{Body, Nothing, Success, success};
use super::params::{Path, Query};
use super::roles::NewId;
use crate::emulator::error::ApiError;
use crate::emulator::tenant::{Extra, Property, PropertyCategory, Tenant, random_hex};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/properties",
            get(list_properties).post(create_property),
        )
        .route(
            "/api/v1/properties/{property_id}",
            put(update_property).delete(delete_property),
        )
        .route(
            "/api/v1/property_categories",
            get(list_categories).post(create_category),
        )
        .route(
            "/api/v1/property_categories/{category_id}",
            put(update_category),
        )
        .route(
            "/api/v1/organizations/{org_code}/properties",
            get(org_values).patch(set_org_values),
        )
        .route(
            "/api/v1/organizations/{org_code}/properties/{key}",
            put(set_org_value),
        )
        .route(
            "/api/v1/users/{user_id}/properties",
            get(user_values).patch(set_user_values),
        )
        .route(
            "/api/v1/users/{user_id}/properties/{key}",
            put(set_user_value),
        )
}

fn no_property(id: &str) -> ApiError {
    ApiError::bad_request("PROPERTY_INVALID", format!("No property {id}"))
}

fn check_context(context: &str) -> Result<(), ApiError> {
    match context {
        "usr" | "org" | "app" => Ok(()),
        other => Err(ApiError::bad_request(
            "INVALID_CONTEXT",
            format!("context must be usr, org or app, not {other:?}"),
        )),
    }
}

/// A page of a list paged by `starting_after` / `ending_before` (ids), as these two lists are.
#[derive(Deserialize)]
struct CursorQuery {
    page_size: Option<usize>,
    starting_after: Option<String>,
    ending_before: Option<String>,
    context: Option<String>,
}

impl CursorQuery {
    /// The page of `items` (with ids by `id`), and whether more follow.
    fn cut<T>(&self, items: Vec<T>, id: impl Fn(&T) -> &str) -> Result<(Vec<T>, bool), ApiError> {
        let size = self.page_size.unwrap_or(10).clamp(1, 500);
        let find = |wanted: &str| {
            items
                .iter()
                .position(|i| id(i) == wanted)
                .ok_or_else(|| ApiError::bad_request("INVALID_CURSOR", format!("No item {wanted}")))
        };
        let (start, end) = match (&self.starting_after, &self.ending_before) {
            (Some(after), _) => {
                let start = find(after)? + 1;
                (start, (start + size).min(items.len()))
            }
            (None, Some(before)) => {
                let end = find(before)?;
                (end.saturating_sub(size), end)
            }
            (None, None) => (0, size.min(items.len())),
        };
        let more = end < items.len();
        Ok((
            items.into_iter().skip(start).take(end - start).collect(),
            more,
        ))
    }
}

#[derive(Serialize)]
struct PropertyBody {
    id: String,
    key: String,
    name: String,
    is_private: bool,
    description: String,
    is_kinde_property: bool,
}

#[derive(Serialize)]
struct PropertyList {
    properties: Vec<PropertyBody>,
    has_more: bool,
}

async fn list_properties(
    AxumState(state): AxumState<Shared>,
    Query(query): Query<CursorQuery>,
) -> Result<Json<Success<PropertyList>>, ApiError> {
    let all: Vec<PropertyBody> = state.read(|t| {
        t.properties
            .iter()
            .filter(|p| query.context.as_ref().is_none_or(|c| *c == p.context))
            .map(|p| PropertyBody {
                id: p.id.clone(),
                key: p.key.clone(),
                name: p.name.clone(),
                is_private: p.is_private,
                description: p.description.clone(),
                is_kinde_property: p.is_kinde_property,
            })
            .collect()
    });
    let (properties, has_more) = query.cut(all, |p| &p.id)?;
    Ok(success(PropertyList {
        properties,
        has_more,
    }))
}

#[derive(Deserialize)]
struct PropertyFields {
    name: Option<String>,
    description: Option<String>,
    key: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    context: Option<String>,
    is_private: Option<bool>,
    category_id: Option<String>,
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        ApiError::bad_request(
            format!("{}_REQUIRED", field.to_uppercase()),
            format!("{field} is required"),
        )
    })
}

fn check_category(t: &Tenant, id: &str) -> Result<(), ApiError> {
    if t.property_categories.iter().any(|c| c.id == id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "CATEGORY_INVALID",
            format!("No property category {id}"),
        ))
    }
}

#[derive(Serialize)]
struct CreatedProperty {
    property: NewId,
}

async fn create_property(
    AxumState(state): AxumState<Shared>,
    Body(body): Body<PropertyFields>,
) -> Result<(StatusCode, Json<Success<CreatedProperty>>), ApiError> {
    let key = required(body.key.filter(|k| !k.trim().is_empty()), "key")?;
    if key.starts_with("kp_") {
        return Err(ApiError::bad_request(
            "PROPERTY_KEY_RESERVED",
            "Keys starting kp_ are Kinde's own properties",
        ));
    }
    let kind = required(body.kind, "type")?;
    if kind != "single_line_text" && kind != "multi_line_text" {
        return Err(ApiError::bad_request(
            "INVALID_PROPERTY_TYPE",
            "type must be single_line_text or multi_line_text",
        ));
    }
    let context = required(body.context, "context")?;
    check_context(&context)?;
    let property = Property {
        id: format!("prop_{}", random_hex(16)),
        key,
        name: required(body.name.filter(|n| !n.trim().is_empty()), "name")?,
        description: body.description.unwrap_or_default(),
        kind,
        context,
        is_private: required(body.is_private, "is_private")?,
        category_id: required(body.category_id, "category_id")?,
        is_kinde_property: false,
        values: Default::default(),
        extra: Extra::new(),
    };
    let id = property.id.clone();
    state.update(|t| {
        check_category(t, &property.category_id)?;
        if t.properties.iter().any(|p| p.key == property.key) {
            return Err(ApiError::bad_request(
                "PROPERTY_KEY_ALREADY_EXISTS",
                format!("A property with key {} already exists", property.key),
            ));
        }
        t.properties.push(property);
        Ok(())
    })?;
    Ok((
        StatusCode::CREATED,
        success(CreatedProperty {
            property: NewId { id },
        }),
    ))
}

/// Name, description, privacy and category may change; the key never does.
async fn update_property(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<PropertyFields>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let name = required(body.name.filter(|n| !n.trim().is_empty()), "name")?;
    let is_private = required(body.is_private, "is_private")?;
    let category_id = required(body.category_id, "category_id")?;
    state.update(|t| {
        check_category(t, &category_id)?;
        let property = t
            .properties
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| no_property(&id))?;
        if property.is_kinde_property {
            return Err(ApiError::bad_request(
                "PROPERTY_READ_ONLY",
                "Kinde's own properties cannot be edited",
            ));
        }
        property.name = name;
        property.is_private = is_private;
        property.category_id = category_id;
        if let Some(description) = body.description {
            property.description = description;
        }
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

async fn delete_property(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let property = t
            .properties
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| no_property(&id))?;
        if property.is_kinde_property {
            return Err(ApiError::bad_request(
                "PROPERTY_READ_ONLY",
                "Kinde's own properties cannot be deleted",
            ));
        }
        t.properties.retain(|p| p.id != id);
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

#[derive(Serialize)]
struct CategoryBody {
    id: String,
    name: String,
}

#[derive(Serialize)]
struct CategoryList {
    categories: Vec<CategoryBody>,
    has_more: bool,
}

async fn list_categories(
    AxumState(state): AxumState<Shared>,
    Query(query): Query<CursorQuery>,
) -> Result<Json<Success<CategoryList>>, ApiError> {
    let all: Vec<CategoryBody> = state.read(|t| {
        t.property_categories
            .iter()
            .filter(|c| query.context.as_ref().is_none_or(|x| *x == c.context))
            .map(|c| CategoryBody {
                id: c.id.clone(),
                name: c.name.clone(),
            })
            .collect()
    });
    let (categories, has_more) = query.cut(all, |c| &c.id)?;
    Ok(success(CategoryList {
        categories,
        has_more,
    }))
}

#[derive(Deserialize)]
struct CategoryFields {
    name: Option<String>,
    context: Option<String>,
}

#[derive(Serialize)]
struct CreatedCategory {
    category: NewId,
}

async fn create_category(
    AxumState(state): AxumState<Shared>,
    Body(body): Body<CategoryFields>,
) -> Result<(StatusCode, Json<Success<CreatedCategory>>), ApiError> {
    let context = required(body.context, "context")?;
    check_context(&context)?;
    let category = PropertyCategory {
        id: format!("cat_{}", random_hex(16)),
        name: required(body.name.filter(|n| !n.trim().is_empty()), "name")?,
        context,
        extra: Extra::new(),
    };
    let id = category.id.clone();
    state.update(|t| t.property_categories.push(category));
    Ok((
        StatusCode::CREATED,
        success(CreatedCategory {
            category: NewId { id },
        }),
    ))
}

async fn update_category(
    AxumState(state): AxumState<Shared>,
    Path(id): Path<String>,
    Body(body): Body<CategoryFields>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    state.update(|t| {
        let category = t
            .property_categories
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| {
                ApiError::bad_request("CATEGORY_INVALID", format!("No property category {id}"))
            })?;
        if let Some(name) = body.name.filter(|n| !n.trim().is_empty()) {
            category.name = name;
        }
        Ok(())
    })?;
    Ok(success(Nothing {}))
}

/// One property's value for an owner.
#[derive(Serialize)]
struct ValueBody {
    id: String,
    name: String,
    description: Option<String>,
    key: String,
    value: Option<String>,
}

#[derive(Serialize)]
struct ValueList {
    properties: Vec<ValueBody>,
}

/// Every property of `context`, with `owner`'s value or null.
fn values_of(t: &Tenant, context: &str, owner: &str) -> ValueList {
    ValueList {
        properties: t
            .properties
            .iter()
            .filter(|p| p.context == context)
            .map(|p| ValueBody {
                id: p.id.clone(),
                name: p.name.clone(),
                description: Some(p.description.clone()),
                key: p.key.clone(),
                value: p.values.get(owner).cloned(),
            })
            .collect(),
    }
}

/// Set `owner`'s values of `context` properties by key, all or none.
fn set_values(
    t: &mut Tenant,
    context: &str,
    owner: &str,
    values: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), ApiError> {
    let mut resolved = Vec::with_capacity(values.len());
    for (key, value) in values {
        let at = t
            .properties
            .iter()
            .position(|p| p.key == *key && p.context == context)
            .ok_or_else(|| no_property(key))?;
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        resolved.push((at, text));
    }
    for (at, text) in resolved {
        t.properties[at].values.insert(owner.to_string(), text);
    }
    Ok(())
}

#[derive(Deserialize)]
struct Values {
    properties: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct OneValue {
    value: Option<String>,
}

fn check_user(t: &Tenant, id: &str) -> Result<(), ApiError> {
    t.user(id)
        .map(|_| ())
        .ok_or_else(|| ApiError::bad_request("USER_INVALID", format!("No user with id {id}")))
}

async fn org_values(
    AxumState(state): AxumState<Shared>,
    Path(code): Path<String>,
) -> Result<Json<Success<ValueList>>, ApiError> {
    let values = state.read(|t| {
        super::orgs::find(t, &code)?;
        Ok::<_, ApiError>(values_of(t, "org", &code))
    })?;
    Ok(success(values))
}

async fn set_org_values(
    AxumState(state): AxumState<Shared>,
    Path(code): Path<String>,
    Body(body): Body<Values>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let values = required(body.properties, "properties")?;
    state.update(|t| {
        super::orgs::find(t, &code)?;
        set_values(t, "org", &code, &values)
    })?;
    Ok(success(Nothing {}))
}

async fn set_org_value(
    AxumState(state): AxumState<Shared>,
    Path((code, key)): Path<(String, String)>,
    Query(query): Query<OneValue>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let value = required(query.value, "value")?;
    let values = serde_json::Map::from_iter([(key, serde_json::Value::String(value))]);
    state.update(|t| {
        super::orgs::find(t, &code)?;
        set_values(t, "org", &code, &values)
    })?;
    Ok(success(Nothing {}))
}

async fn user_values(
    AxumState(state): AxumState<Shared>,
    Path(user_id): Path<String>,
) -> Result<Json<Success<ValueList>>, ApiError> {
    let values = state.read(|t| {
        check_user(t, &user_id)?;
        Ok::<_, ApiError>(values_of(t, "usr", &user_id))
    })?;
    Ok(success(values))
}

async fn set_user_values(
    AxumState(state): AxumState<Shared>,
    Path(user_id): Path<String>,
    Body(body): Body<Values>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let values = required(body.properties, "properties")?;
    state.update(|t| {
        check_user(t, &user_id)?;
        set_values(t, "usr", &user_id, &values)
    })?;
    Ok(success(Nothing {}))
}

async fn set_user_value(
    AxumState(state): AxumState<Shared>,
    Path((user_id, key)): Path<(String, String)>,
    Query(query): Query<OneValue>,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let value = required(query.value, "value")?;
    let values = serde_json::Map::from_iter([(key, serde_json::Value::String(value))]);
    state.update(|t| {
        check_user(t, &user_id)?;
        set_values(t, "usr", &user_id, &values)
    })?;
    Ok(success(Nothing {}))
}
