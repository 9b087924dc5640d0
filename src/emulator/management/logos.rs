//! Logos of organizations and of the environment: uploaded as `multipart/form-data` with a
//! `logo` file (an image of a type Kinde takes, under its 1 MB limit), stored in the tenant,
//! listed, shown as URLs in the organization and the environment, served from those URLs on the
//! emulator, and deleted.
//!
//! URL forms follow the spec's examples: the organization's `logo` is
//! `<issuer>/logo?org_code=<code>&cache=<digest>` (`/logo_dark` for the dark one), and a listed
//! logo's relative `path` is `/logo?p_org_code=<code>`; the environment's drop the org code.

use std::collections::BTreeMap;

use axum::body::Body as HttpBody;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::body::{Nothing, Raw, Success, success};
use super::multipart;
use super::params::{Path, Query};
use crate::emulator::error::ApiError;
use crate::emulator::tenant::{Logo, Organization, Tenant};

/// Kinde's limit: "Logos must be under 1MB".
pub(super) const MAX_LOGO: usize = 1024 * 1024;

/// The image types Kinde's docs name for logos: PNG, JPEG, GIF, and SVG ("works best").
const IMAGE_TYPES: [(&str, &str); 4] = [
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/gif", "gif"),
    ("image/svg+xml", "svg"),
];

/// The Management API's logo routes (behind the token check).
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/organizations/{org_code}/logos", get(org_logos))
        .route(
            "/api/v1/organizations/{org_code}/logos/{type}",
            axum::routing::post(add_org_logo).delete(delete_org_logo),
        )
        .route("/api/v1/environment/logos", get(environment_logos))
        .route(
            "/api/v1/environment/logos/{type}",
            axum::routing::put(add_environment_logo).delete(delete_environment_logo),
        )
}

/// The logo images themselves, public as Kinde's are (pages and emails embed them).
pub(crate) fn public_routes() -> Router<Shared> {
    Router::new()
        .route("/logo", get(serve_light))
        .route("/logo_dark", get(serve_dark))
}

/// The URL of the `kind` logo of the organization `code` (the environment's without one).
pub(super) fn url(issuer: &str, code: Option<&str>, kind: &str, logo: &Logo) -> String {
    let route = if kind == "dark" { "logo_dark" } else { "logo" };
    match code {
        Some(code) => format!("{issuer}/{route}?org_code={code}&cache={}", logo.cache),
        None => format!("{issuer}/{route}?cache={}", logo.cache),
    }
}

/// `light` or `dark`, the spec's `{type}`, or Kinde's 400.
fn kind(given: &str) -> Result<&'static str, ApiError> {
    match given {
        "light" => Ok("light"),
        "dark" => Ok("dark"),
        _ => Err(ApiError::bad_request(
            "INVALID_LOGO_TYPE",
            format!("The logo type must be light or dark, not {given}"),
        )),
    }
}

/// One listed logo.
#[derive(Serialize)]
struct Listed {
    #[serde(rename = "type")]
    kind: String,
    file_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
}

#[derive(Serialize)]
struct LogoList {
    logos: Vec<Listed>,
}

fn listed(logos: &BTreeMap<String, Logo>, code: Option<&str>) -> Vec<Listed> {
    // Light first, as a page shows them.
    let mut out: Vec<Listed> = logos
        .iter()
        .map(|(kind, logo)| Listed {
            kind: kind.clone(),
            file_name: logo.file_name.clone(),
            path: code.map(|code| {
                let route = if kind == "dark" { "logo_dark" } else { "logo" };
                format!("/{route}?p_org_code={code}")
            }),
        })
        .collect();
    out.sort_by_key(|l| l.kind != "light");
    out
}

async fn org_logos(
    AxumState(state): AxumState<Shared>,
    Path(code): Path<String>,
) -> Result<Json<Success<LogoList>>, ApiError> {
    let logos =
        state.read(|t| super::orgs::find(t, &code).map(|o| listed(&o.logos, Some(&code))))?;
    Ok(success(LogoList { logos }))
}

async fn environment_logos(AxumState(state): AxumState<Shared>) -> Json<Success<LogoList>> {
    let logos = state.read(|t| listed(&t.environment_logos, None));
    success(LogoList { logos })
}

/// The organization `code`, to change, or Kinde's 400.
fn org_mut<'a>(t: &'a mut Tenant, code: &str) -> Result<&'a mut Organization, ApiError> {
    t.organization_mut(code)
        .ok_or_else(|| super::orgs::no_org(code))
}

async fn add_org_logo(
    AxumState(state): AxumState<Shared>,
    Path((code, given)): Path<(String, String)>,
    headers: HeaderMap,
    Raw(body): Raw,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let kind = kind(&given)?;
    state.read(|t| super::orgs::find(t, &code).map(|_| ()))?;
    let logo = uploaded(&headers, &body)?;
    state.update(|t| {
        org_mut(t, &code)?.logos.insert(kind.into(), logo);
        Ok::<_, ApiError>(())
    })?;
    Ok(success(Nothing {}))
}

async fn add_environment_logo(
    AxumState(state): AxumState<Shared>,
    Path(given): Path<String>,
    headers: HeaderMap,
    Raw(body): Raw,
) -> Result<Json<Success<Nothing>>, ApiError> {
    let kind = kind(&given)?;
    let logo = uploaded(&headers, &body)?;
    state.update(|t| t.environment_logos.insert(kind.into(), logo));
    Ok(success(Nothing {}))
}

/// 200 when a logo was deleted, the spec's 204 "No logo found to delete" when there was none.
fn deleted(removed: bool) -> Response {
    if removed {
        success(Nothing {}).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

async fn delete_org_logo(
    AxumState(state): AxumState<Shared>,
    Path((code, given)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let kind = kind(&given)?;
    let removed =
        state.read(|t| super::orgs::find(t, &code).map(|o| o.logos.contains_key(kind)))?;
    if removed {
        state.update(|t| {
            org_mut(t, &code)?.logos.remove(kind);
            Ok::<_, ApiError>(())
        })?;
    }
    Ok(deleted(removed))
}

async fn delete_environment_logo(
    AxumState(state): AxumState<Shared>,
    Path(given): Path<String>,
) -> Result<Response, ApiError> {
    let kind = kind(&given)?;
    let removed = state.read(|t| t.environment_logos.contains_key(kind));
    if removed {
        state.update(|t| t.environment_logos.remove(kind));
    }
    Ok(deleted(removed))
}

/// The `logo` file of a multipart upload as a logo to store, or Kinde's 400 saying what is
/// wrong with it: not a form, no `logo` file, empty, over 1 MB, not an image of a type Kinde
/// takes, or not the type it declares.
fn uploaded(headers: &HeaderMap, body: &[u8]) -> Result<Logo, ApiError> {
    let invalid = |message: &str| ApiError::bad_request("INVALID_REQUEST_BODY", message);
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary)
        .ok_or_else(|| {
            invalid("A logo is uploaded as multipart/form-data with the image in a `logo` field")
        })?;
    let parts = multipart::parse(&boundary, body).map_err(|e| invalid(&e))?;
    let part = parts
        .into_iter()
        .find(|p| p.name == "logo")
        .ok_or_else(|| invalid("The form has no `logo` field"))?;
    if part.data.is_empty() {
        return Err(invalid("The `logo` file is empty"));
    }
    if part.data.len() >= MAX_LOGO {
        return Err(ApiError::bad_request(
            "FILE_TOO_LARGE",
            format!(
                "Logos must be under 1 MB; this one is {} bytes",
                part.data.len()
            ),
        ));
    }
    let wrong_type = |message: String| ApiError::bad_request("INVALID_FILE_TYPE", message);
    let (content_type, extension) = sniff(part.data)
        .ok_or_else(|| wrong_type("A logo must be a PNG, JPEG, GIF or SVG image".into()))?;
    if let Some(declared) = part.content_type.as_deref() {
        let declared = declared
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let declared = if declared == "image/jpg" {
            "image/jpeg".to_string()
        } else {
            declared
        };
        if declared != "application/octet-stream" && declared != content_type {
            return Err(wrong_type(format!(
                "The logo is declared as {declared} but is {content_type}"
            )));
        }
    }
    Ok(Logo::new(
        &file_name(part.file_name.as_deref(), extension),
        content_type,
        part.data.to_vec(),
    ))
}

/// The image type of `data` by its first bytes, with its usual extension.
fn sniff(data: &[u8]) -> Option<(&'static str, &'static str)> {
    let kind = if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if data.starts_with(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        "image/gif"
    } else {
        // An SVG is text whose first element, after an XML declaration, comments or a
        // doctype, is `<svg`.
        let head = String::from_utf8_lossy(&data[..data.len().min(1024)]).to_ascii_lowercase();
        let mut rest = head.trim_start_matches('\u{feff}').trim_start();
        while !rest.starts_with("<svg") {
            let end = if rest.starts_with("<?") {
                "?>"
            } else if rest.starts_with("<!--") {
                "-->"
            } else if rest.starts_with("<!") {
                ">"
            } else {
                return None;
            };
            let at = rest.find(end)?;
            rest = rest[at + end.len()..].trim_start();
        }
        "image/svg+xml"
    };
    IMAGE_TYPES.iter().find(|(t, _)| *t == kind).copied()
}

/// The uploaded file's own name (no directories or control characters, at most 255
/// characters), or `logo.<ext>` when it has none.
fn file_name(given: Option<&str>, extension: &str) -> String {
    let base = given
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect::<String>();
    if base.trim().is_empty() {
        format!("logo.{extension}")
    } else {
        base
    }
}

/// Which logo a `/logo` URL asks for: `org_code` (or the listed path's `p_org_code`); the
/// environment's without either. `cache` only makes a new logo a new URL.
#[derive(Deserialize)]
struct Which {
    org_code: Option<String>,
    p_org_code: Option<String>,
}

async fn serve_light(state: AxumState<Shared>, which: Query<Which>) -> Response {
    serve(state, which, "light")
}

async fn serve_dark(state: AxumState<Shared>, which: Query<Which>) -> Response {
    serve(state, which, "dark")
}

fn serve(AxumState(state): AxumState<Shared>, Query(which): Query<Which>, kind: &str) -> Response {
    let code = which
        .org_code
        .or(which.p_org_code)
        .filter(|c| !c.is_empty());
    let found = state.read(|t| match &code {
        Some(code) => t
            .organization(code)
            .and_then(|o| o.logos.get(kind))
            .cloned(),
        None => t.environment_logos.get(kind).cloned(),
    });
    let Some(logo) = found else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "LOGO_NOT_FOUND",
            format!("No {kind} logo is set"),
        )
        .into_response();
    };
    let body = HttpBody::from(axum::body::Bytes::from_owner(logo.data.0.clone()));
    (
        [
            (header::CONTENT_TYPE, logo.content_type),
            (header::CACHE_CONTROL, "no-cache".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            // An SVG may hold a script; sandboxed, it cannot run as the emulator's origin.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox".to_string(),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_first_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(("image/png", "png")));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0rest"), Some(("image/jpeg", "jpg")));
        assert_eq!(sniff(b"GIF89a..."), Some(("image/gif", "gif")));
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\n<!-- made by hand -->\n<SVG xmlns=\"x\"/>"),
            Some(("image/svg+xml", "svg"))
        );
        assert_eq!(sniff(b"  <svg/>"), Some(("image/svg+xml", "svg")));
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(sniff(b"<html><svg/></html>"), None);
        assert_eq!(sniff(b"text before <svg/>"), None);
    }

    #[test]
    fn file_names_lose_directories_and_control_characters() {
        assert_eq!(file_name(Some("C:\\logos\\acme.png"), "png"), "acme.png");
        assert_eq!(file_name(Some("../../etc/acme\n.png"), "png"), "acme.png");
        assert_eq!(file_name(Some(""), "svg"), "logo.svg");
        assert_eq!(file_name(None, "gif"), "logo.gif");
    }
}
