//! Organization and environment logos: uploaded as multipart, stored, shown in the organization
//! and environment as URLs, served from the emulator, and deleted.

use cargo_kinde::emulator::Options;
use serde_json::{Value, json};

use crate::World;
use crate::http::raw;

/// A small PNG (signature, IHDR, IEND): what a logo upload sends.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x00IEND\xaeB`\x82";

const SVG: &[u8] = br#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>"#;

/// A `multipart/form-data` body with one file part: (Content-Type, body).
fn multipart(field: &str, file_name: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "cargo-kinde-test-7f3a";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn upload(
    w: &World,
    token: &str,
    method: &str,
    path: &str,
    part: (String, Vec<u8>),
) -> (u16, Value) {
    let (content_type, body) = part;
    let (status, _, bytes) = raw(
        method,
        &format!("{}{path}", w.issuer()),
        Some(token),
        Some((&content_type, body)),
    );
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn call(w: &World, token: &str, method: &str, path: &str) -> (u16, Value) {
    let (status, _, bytes) = raw(method, &format!("{}{path}", w.issuer()), Some(token), None);
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn create_org(w: &World, token: &str) -> String {
    let (status, _, bytes) = raw(
        "POST",
        &format!("{}/api/v1/organization", w.issuer()),
        Some(token),
        Some((
            "application/json",
            serde_json::to_vec(&json!({"name": "Acme"})).unwrap(),
        )),
    );
    assert_eq!(status, 200);
    let made: Value = serde_json::from_slice(&bytes).unwrap();
    made["organization"]["code"].as_str().unwrap().to_string()
}

/// GET a logo URL as a browser would (no token): (status, Content-Type, bytes).
fn fetch(url: &str) -> (u16, Option<String>, Vec<u8>) {
    raw("GET", url, None, None)
}

#[test]
fn organization_logos_are_stored_shown_served_and_deleted() {
    let spec = crate::spec::spec();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let options = || Options {
        state_file: Some(state.clone()),
        ..Options::default()
    };
    let (org, light_url) = {
        let w = World::with(options());
        let token = w.token();
        let org = create_org(&w, &token);
        let logos = format!("/api/v1/organizations/{org}/logos");
        let (status, listed) = call(&w, &token, "GET", &logos);
        assert_eq!((status, &listed["logos"]), (200, &json!([])), "{listed}");

        let (status, answer) = upload(
            &w,
            &token,
            "POST",
            &format!("{logos}/light"),
            multipart("logo", "acme.png", "image/png", PNG),
        );
        assert_eq!(status, 200, "{answer}");
        crate::spec::check_response(
            &spec,
            "POST",
            "/api/v1/organizations/{org_code}/logos/{type}",
            status,
            &answer,
        );
        let (status, answer) = upload(
            &w,
            &token,
            "POST",
            &format!("{logos}/dark"),
            multipart("logo", "acme-dark.svg", "image/svg+xml", SVG),
        );
        assert_eq!(status, 200, "{answer}");

        let (_, listed) = call(&w, &token, "GET", &logos);
        crate::spec::check_response(
            &spec,
            "GET",
            "/api/v1/organizations/{org_code}/logos",
            200,
            &listed,
        );
        let entries = listed["logos"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{listed}");
        let light = entries.iter().find(|l| l["type"] == "light").unwrap();
        assert_eq!(light["file_name"], "acme.png");
        let path = light["path"].as_str().unwrap();
        assert!(path.starts_with("/logo?"), "{path}");
        let (status, content_type, bytes) = fetch(&format!("{}{path}", w.issuer()));
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some("image/png"));
        assert_eq!(bytes, PNG);

        // The organization shows both as URLs on the emulator, which serve the bytes.
        let (_, shown) = call(
            &w,
            &token,
            "GET",
            &format!("/api/v1/organization?code={org}"),
        );
        crate::spec::check_response(&spec, "GET", "/api/v1/organization", 200, &shown);
        let light_url = shown["logo"].as_str().expect("a logo URL").to_string();
        let dark_url = shown["logo_dark"].as_str().expect("a dark logo URL");
        assert!(
            light_url.starts_with(&format!("{}/logo?", w.issuer())),
            "{light_url}"
        );
        assert!(
            light_url.contains(&format!("org_code={org}")),
            "{light_url}"
        );
        let (status, content_type, bytes) = fetch(dark_url);
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some("image/svg+xml"));
        assert_eq!(bytes, SVG);
        // An SVG is served so that a script in it cannot run on the emulator's origin.
        let (_, headers) = headers_of(dark_url);
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "content-security-policy" && v.contains("sandbox")),
            "{headers:?}"
        );

        // Deleted: gone from the list, the organization and the URL; a second delete is 204.
        let (status, _) = call(&w, &token, "DELETE", &format!("{logos}/dark"));
        assert_eq!(status, 200);
        let (status, _, _) = fetch(dark_url);
        assert_eq!(status, 404);
        let (status, _) = call(&w, &token, "DELETE", &format!("{logos}/dark"));
        assert_eq!(status, 204);
        let (_, shown) = call(
            &w,
            &token,
            "GET",
            &format!("/api/v1/organization?code={org}"),
        );
        assert!(shown["logo_dark"].is_null(), "{shown}");
        (org, light_url)
    };
    // Kept with `--state`: a restart (on another port) serves the same bytes at the same path.
    let w = World::with(options());
    let token = w.token();
    let (_, shown) = call(
        &w,
        &token,
        "GET",
        &format!("/api/v1/organization?code={org}"),
    );
    let path = |url: &str| url.split_once("/logo").unwrap().1.to_string();
    let url = shown["logo"].as_str().expect("a logo URL");
    assert_eq!(path(url), path(&light_url), "{shown}");
    let (status, _, bytes) = fetch(url);
    assert_eq!(status, 200);
    assert_eq!(bytes, PNG);
}

fn headers_of(url: &str) -> (u16, Vec<(String, String)>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let res = reqwest::get(url).await.unwrap();
            let headers = res
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            (res.status().as_u16(), headers)
        })
}

#[test]
fn a_logo_that_is_not_an_image_or_too_large_is_refused_with_kindes_error() {
    let w = World::new();
    let token = w.token();
    let org = create_org(&w, &token);
    let path = format!("/api/v1/organizations/{org}/logos/light");
    let big = {
        let mut png = PNG.to_vec();
        png.resize(1024 * 1024 + 1, 0);
        png
    };
    for (what, part) in [
        (
            "a text file",
            multipart("logo", "notes.txt", "text/plain", b"hello"),
        ),
        (
            "a file calling itself a PNG",
            multipart("logo", "fake.png", "image/png", b"GIF89a not really"),
        ),
        ("over 1 MB", multipart("logo", "big.png", "image/png", &big)),
        (
            "a field other than logo",
            multipart("file", "acme.png", "image/png", PNG),
        ),
        (
            "JSON instead of a form",
            (
                "application/json".to_string(),
                br#"{"logo":"acme.png"}"#.to_vec(),
            ),
        ),
    ] {
        let (status, body) = upload(&w, &token, "POST", &path, part);
        assert_eq!(status, 400, "{what}: {body}");
        assert!(body["errors"][0]["code"].is_string(), "{what}: {body}");
    }
    let (status, body) = upload(
        &w,
        &token,
        "POST",
        &format!("/api/v1/organizations/{org}/logos/blue"),
        multipart("logo", "acme.png", "image/png", PNG),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = upload(
        &w,
        &token,
        "POST",
        "/api/v1/organizations/org_nobody/logos/light",
        multipart("logo", "acme.png", "image/png", PNG),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], "ORGANIZATION_INVALID", "{body}");
    // Nothing was stored.
    let (_, listed) = call(
        &w,
        &token,
        "GET",
        &format!("/api/v1/organizations/{org}/logos"),
    );
    assert_eq!(listed["logos"], json!([]), "{listed}");
}

#[test]
fn environment_logos_are_stored_shown_and_served() {
    let spec = crate::spec::spec();
    let w = World::new();
    let token = w.token();
    let (status, answer) = upload(
        &w,
        &token,
        "PUT",
        "/api/v1/environment/logos/light",
        multipart("logo", "brand.png", "image/png", PNG),
    );
    assert_eq!(status, 200, "{answer}");
    let (_, listed) = call(&w, &token, "GET", "/api/v1/environment/logos");
    crate::spec::check_response(&spec, "GET", "/api/v1/environment/logos", 200, &listed);
    assert_eq!(
        listed["logos"],
        json!([{"type": "light", "file_name": "brand.png"}]),
        "{listed}"
    );
    let (_, environment) = call(&w, &token, "GET", "/api/v1/environment");
    let url = environment["environment"]["logo"]
        .as_str()
        .expect("a logo URL");
    assert!(environment["environment"]["logo_dark"].is_null());
    let (status, content_type, bytes) = fetch(url);
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(bytes, PNG);
    let (status, _) = call(&w, &token, "DELETE", "/api/v1/environment/logos/light");
    assert_eq!(status, 200);
    let (status, _, _) = fetch(url);
    assert_eq!(status, 404);
}
