//! The orders API against a local Kinde (`cargo_kinde::testing`): the service is configured with
//! the emulator's issuer and JWKS URL, as it would be with `https://<business>.kinde.com`, and
//! every token it gets is a real Kinde-shaped token, or one forged from it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cargo_kinde::emulator::faults::{Fault, FaultKind};
use cargo_kinde::testing::{Forgery, Kinde};
use orders_api::Config;
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const AUDIENCE: &str = "https://api.acme.test";

/// The service on 127.0.0.1:0, configured as `main.rs` configures it from the environment;
/// its base URL.
async fn serve(config: Config) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, orders_api::app(config)).await });
    Ok(url)
}

/// The service pointed at `kinde` as it would be at `https://<business>.kinde.com`.
async fn serve_for(kinde: &Kinde) -> Result<String> {
    serve(Config {
        issuer: kinde.issuer().to_string(), // what `iss` must be
        audience: AUDIENCE.to_string(),     // what `aud` must hold
        jwks_url: kinde.jwks_url(),         // where the signing keys are
        jwks_refetch_interval: Duration::from_secs(60),
        jwks_max_age: Duration::from_secs(600),
    })
    .await
}

/// The `WWW-Authenticate` header of `response`, or "" without one.
fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_member_with_the_permissions_reads_and_places_orders() -> Result {
    let kinde = Kinde::start().await?;
    let service = serve_for(&kinde).await?;
    let token = kinde
        .user("alice@example.com")
        .org("org_acme")
        .permissions(["read:orders", "create:orders"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let http = reqwest::Client::new();
    let orders = format!("{service}/orgs/org_acme/orders");

    let listed = http.get(&orders).bearer_auth(&token).send().await?;
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(listed.json::<Value>().await?, json!([]));

    let placed = http
        .post(&orders)
        .bearer_auth(&token)
        .json(&json!({"item": "anvil", "quantity": 2}))
        .send()
        .await?;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order: Value = placed.json().await?;
    let alice = cargo_kinde::jwt::decode(&token)?.claims["sub"].clone();
    assert_eq!(order["created_by"], alice, "recorded as the token's user");

    let listed: Value = http
        .get(&orders)
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(listed, json!([order]));
    Ok(())
}

#[tokio::test]
async fn a_member_without_the_permission_gets_403_insufficient_scope() -> Result {
    let kinde = Kinde::start().await?;
    let service = serve_for(&kinde).await?;
    let reader = kinde
        .user("bob@example.com")
        .org("org_acme")
        .permissions(["read:orders"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let http = reqwest::Client::new();
    let orders = format!("{service}/orgs/org_acme/orders");
    assert_eq!(
        http.get(&orders)
            .bearer_auth(&reader)
            .send()
            .await?
            .status(),
        StatusCode::OK,
        "the control: reading is allowed"
    );

    let refused = http
        .post(&orders)
        .bearer_auth(&reader)
        .json(&json!({"item": "anvil", "quantity": 1}))
        .send()
        .await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&refused),
        r#"Bearer realm="orders-api", error="insufficient_scope", scope="create:orders""#
    );
    assert_eq!(
        refused.json::<Value>().await?["error"],
        "insufficient_scope"
    );

    // The `scp` a user's app asked for is not a permission.
    let asked = kinde
        .user("bob@example.com")
        .org("org_acme")
        .permissions(Vec::<String>::new())
        .scopes(["openid", "read:orders"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let refused = http.get(&orders).bearer_auth(&asked).send().await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&refused),
        r#"Bearer realm="orders-api", error="insufficient_scope", scope="read:orders""#
    );
    Ok(())
}

#[tokio::test]
async fn a_member_of_another_organization_gets_403() -> Result {
    let kinde = Kinde::start().await?;
    let service = serve_for(&kinde).await?;
    let http = reqwest::Client::new();
    let acme = kinde
        .user("alice@example.com")
        .org("org_acme")
        .permissions(["read:orders", "create:orders"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let placed = http
        .post(format!("{service}/orgs/org_acme/orders"))
        .bearer_auth(&acme)
        .json(&json!({"item": "secret plans", "quantity": 1}))
        .send()
        .await?;
    assert_eq!(placed.status(), StatusCode::CREATED);

    // Mallory holds the same permissions, in her own organization.
    let globex = kinde
        .user("mallory@example.com")
        .org("org_globex")
        .permissions(["read:orders", "create:orders"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let own = http
        .get(format!("{service}/orgs/org_globex/orders"))
        .bearer_auth(&globex)
        .send()
        .await?;
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(own.json::<Value>().await?, json!([]));

    let refused = http
        .get(format!("{service}/orgs/org_acme/orders"))
        .bearer_auth(&globex)
        .send()
        .await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&refused),
        r#"Bearer realm="orders-api", error="insufficient_scope""#
    );
    assert!(!refused.text().await?.contains("secret plans"));
    Ok(())
}

#[tokio::test]
async fn no_token_gets_401_with_a_bearer_challenge() -> Result {
    let kinde = Kinde::start().await?;
    let service = serve_for(&kinde).await?;
    let http = reqwest::Client::new();
    let orders = format!("{service}/orgs/org_acme/orders");

    let refused = http.get(&orders).send().await?;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // RFC 6750 3.1: no error code when the request carries no credentials.
    assert_eq!(challenge(&refused), r#"Bearer realm="orders-api""#);

    let refused = http
        .post(&orders)
        .json(&json!({"item": "anvil", "quantity": 1}))
        .send()
        .await?;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let basic = http
        .get(&orders)
        .basic_auth("alice", Some("hunter2"))
        .send()
        .await?;
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&basic),
        r#"Bearer realm="orders-api", error="invalid_token""#
    );
    Ok(())
}

#[tokio::test]
async fn every_forgery_gets_its_expected_status() -> Result {
    let kinde = Kinde::start().await?;
    let service = serve_for(&kinde).await?;
    let token = kinde
        .user("alice@example.com")
        .org("org_acme")
        .permissions(["read:orders"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let http = reqwest::Client::new();
    let orders = format!("{service}/orgs/org_acme/orders");
    assert_eq!(
        http.get(&orders).bearer_auth(&token).send().await?.status(),
        StatusCode::OK,
        "the control: the token forged from is accepted"
    );

    for forgery in Forgery::ALL {
        let bad: String = kinde.forged(forgery, &token)?;
        let response = http.get(&orders).bearer_auth(&bad).send().await?;
        assert_eq!(
            response.status().as_u16(),
            forgery.expected_status(),
            "{forgery}"
        );
        let error = match forgery.expected_status() {
            401 => "invalid_token",
            _ => "insufficient_scope",
        };
        assert!(
            challenge(&response).contains(&format!("error=\"{error}\"")),
            "{forgery}: {}",
            challenge(&response)
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_m2m_app_acts_through_its_granted_scopes_in_every_organization() -> Result {
    let kinde = Kinde::start().await?;
    let service = serve_for(&kinde).await?;
    let m2m: String = kinde
        .m2m("orders-worker")
        .audience(AUDIENCE)
        .scopes(["read:orders"])
        .access_token()
        .await?;
    let http = reqwest::Client::new();

    // A global M2M app (no org_code) is a back-office job: every organization, by scope.
    for org in ["org_acme", "org_globex"] {
        let listed = http
            .get(format!("{service}/orgs/{org}/orders"))
            .bearer_auth(&m2m)
            .send()
            .await?;
        assert_eq!(listed.status(), StatusCode::OK, "{org}");
    }
    let refused = http
        .post(format!("{service}/orgs/org_acme/orders"))
        .bearer_auth(&m2m)
        .json(&json!({"item": "anvil", "quantity": 1}))
        .send()
        .await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&refused),
        r#"Bearer realm="orders-api", error="insufficient_scope", scope="create:orders""#
    );

    // Asking for no scope gets every granted one in `scope`, with `scp` empty, as Kinde does.
    let unasked = kinde
        .m2m("orders-worker")
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let claims = cargo_kinde::jwt::decode(&unasked)?.claims;
    assert_eq!(
        (&claims["scp"], &claims["scope"]),
        (&json!([]), &json!("read:orders"))
    );
    let listed = http
        .get(format!("{service}/orgs/org_acme/orders"))
        .bearer_auth(&unasked)
        .send()
        .await?;
    assert_eq!(listed.status(), StatusCode::OK);

    // Forged from an M2M token, each is refused the same way (OtherOrganization gives it an
    // org_code, so it is an org-scoped app's token for another organization).
    let orders = format!("{service}/orgs/org_acme/orders");
    for forgery in Forgery::ALL {
        let bad = kinde.forged(forgery, &m2m)?;
        let status = http.get(&orders).bearer_auth(&bad).send().await?.status();
        assert_eq!(status.as_u16(), forgery.expected_status(), "{forgery}");
    }
    Ok(())
}

/// Alice, allowed to read org_acme's orders.
async fn reader(kinde: &Kinde) -> Result<String> {
    Ok(kinde
        .user("alice@example.com")
        .org("org_acme")
        .permissions(["read:orders"])
        .audience(AUDIENCE)
        .access_token()
        .await?)
}

#[tokio::test]
async fn a_rotated_key_is_fetched_and_unknown_keys_do_not_refetch_within_the_interval() -> Result {
    let kinde = Kinde::start().await?;
    let jwks_fetches = || kinde.emulator().state().count("GET /.well-known/jwks");
    let http = reqwest::Client::new();
    let eager = serve(Config {
        jwks_refetch_interval: Duration::ZERO,
        ..Config::new(kinde.issuer(), AUDIENCE)
    })
    .await?;
    let patient = serve(Config {
        jwks_refetch_interval: Duration::from_secs(24 * 3600),
        ..Config::new(kinde.issuer(), AUDIENCE)
    })
    .await?;

    let before = reader(&kinde).await?;
    for service in [&eager, &patient] {
        let url = format!("{service}/orgs/org_acme/orders");
        let status = http.get(&url).bearer_auth(&before).send().await?.status();
        assert_eq!(status, StatusCode::OK);
        let status = http.get(&url).bearer_auth(&before).send().await?.status();
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(jwks_fetches(), 2, "one fetch per service, then cached");

    kinde.emulator().state().rotate_key()?;
    let after = reader(&kinde).await?;
    let url = format!("{eager}/orgs/org_acme/orders");
    let status = http.get(&url).bearer_auth(&after).send().await?.status();
    assert_eq!(status, StatusCode::OK, "the new kid was fetched");
    assert_eq!(jwks_fetches(), 3);

    let url = format!("{patient}/orgs/org_acme/orders");
    let refused = http.get(&url).bearer_auth(&after).send().await?;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(jwks_fetches(), 3, "not fetched again within the interval");
    let status = http.get(&url).bearer_auth(&before).send().await?.status();
    assert_eq!(status, StatusCode::OK, "cached keys still verify");
    Ok(())
}

#[tokio::test]
async fn an_unreachable_jwks_is_503_not_401() -> Result {
    let kinde = Kinde::start().await?;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let jwks_url = format!("http://{}/.well-known/jwks", closed.local_addr()?);
    drop(closed);
    let service = serve(Config {
        jwks_url,
        ..Config::new(kinde.issuer(), AUDIENCE)
    })
    .await?;
    let token = reader(&kinde).await?;
    let http = reqwest::Client::new();
    for attempt in ["first", "second"] {
        let response = http
            .get(format!("{service}/orgs/org_acme/orders"))
            .bearer_auth(&token)
            .send()
            .await?;
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{attempt}"
        );
    }
    Ok(())
}

/// `token` with its header replaced by one naming a `kid` no JWKS holds.
fn naming_an_unknown_key(token: &str) -> String {
    // {"alg":"RS256","kid":"not-in-the-jwks"}, base64url
    let header = "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vdC1pbi10aGUtandrcyJ9";
    let (_, rest) = token.split_once('.').unwrap_or_default();
    format!("{header}.{rest}")
}

#[tokio::test]
async fn while_the_jwks_fails_tokens_get_503_until_a_fetch_succeeds() -> Result {
    let kinde = Kinde::start().await?;
    let state = kinde.emulator().state();
    let jwks_fetches = || state.count("GET /.well-known/jwks");
    let outage = Fault::new("/.well-known/jwks", FaultKind::Status { status: 503 });
    let http = reqwest::Client::new();
    let token = reader(&kinde).await?;
    let status = |service: &str, token: &str| {
        let request = http
            .get(format!("{service}/orgs/org_acme/orders"))
            .bearer_auth(token);
        async move { Ok::<_, reqwest::Error>(request.send().await?.status()) }
    };
    let patient = serve(Config {
        jwks_refetch_interval: Duration::from_secs(24 * 3600),
        ..Config::new(kinde.issuer(), AUDIENCE)
    })
    .await?;
    let eager = serve(Config {
        jwks_refetch_interval: Duration::ZERO,
        ..Config::new(kinde.issuer(), AUDIENCE)
    })
    .await?;

    state.inject(outage.clone());
    for attempt in ["first", "second"] {
        let refused = status(&patient, &token).await?;
        assert_eq!(
            refused,
            StatusCode::SERVICE_UNAVAILABLE,
            "{attempt}, not 401"
        );
    }
    assert_eq!(jwks_fetches(), 1, "fetched once within the interval");
    state.clear_faults();
    let refused = status(&patient, &token).await?;
    assert_eq!(
        refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "the interval holds"
    );
    assert_eq!(jwks_fetches(), 1);

    // With no interval, each request tries again; once one fetch succeeds, tokens verify, and
    // a key the JWKS does not hold is the token's fault again: 401.
    state.inject(outage);
    for attempt in ["first", "second"] {
        let refused = status(&eager, &token).await?;
        assert_eq!(refused, StatusCode::SERVICE_UNAVAILABLE, "{attempt}");
    }
    assert_eq!(jwks_fetches(), 3);
    state.clear_faults();
    assert_eq!(status(&eager, &token).await?, StatusCode::OK);
    let unknown = naming_an_unknown_key(&token);
    assert_eq!(status(&eager, &unknown).await?, StatusCode::UNAUTHORIZED);
    assert_eq!(jwks_fetches(), 5);
    Ok(())
}

/// A JWKS this test controls, served on 127.0.0.1:0: its URL, and the set to change (`None`:
/// answered 503).
async fn serve_jwks(set: Value) -> Result<(String, Arc<Mutex<Option<Value>>>)> {
    let served = Arc::new(Mutex::new(Some(set)));
    let shared = served.clone();
    let jwks = move || async move {
        let set = shared.lock().unwrap().clone();
        set.map(axum::Json).ok_or(StatusCode::SERVICE_UNAVAILABLE)
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/.well-known/jwks", listener.local_addr()?);
    let router = axum::Router::new().route("/.well-known/jwks", axum::routing::get(jwks));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((url, served))
}

#[tokio::test]
async fn a_key_removed_from_the_jwks_is_refused_once_the_key_set_is_too_old() -> Result {
    let kinde = Kinde::start().await?;
    let http = reqwest::Client::new();
    let emulator_jwks = || async {
        let response = http.get(kinde.jwks_url()).send().await?;
        response.json::<Value>().await
    };
    // The emulator keeps a rotated-out key in its JWKS, so this test serves its own copy.
    let (jwks_url, served) = serve_jwks(emulator_jwks().await?).await?;
    let service = serve(Config {
        jwks_url,
        jwks_refetch_interval: Duration::ZERO,
        jwks_max_age: Duration::ZERO,
        ..Config::new(kinde.issuer(), AUDIENCE)
    })
    .await?;
    let url = format!("{service}/orgs/org_acme/orders");
    let status = |token: &str| {
        let request = http.get(&url).bearer_auth(token);
        async move { Ok::<_, reqwest::Error>(request.send().await?.status()) }
    };

    let old = reader(&kinde).await?;
    assert_eq!(status(&old).await?, StatusCode::OK);
    let kid = kinde.emulator().state().rotate_key()?;
    let new = reader(&kinde).await?;
    let mut set = emulator_jwks().await?;
    assert_eq!(set["keys"].as_array().map(Vec::len), Some(2), "both keys");
    *served.lock().unwrap() = Some(set.clone());
    assert_eq!(status(&new).await?, StatusCode::OK);
    assert_eq!(status(&old).await?, StatusCode::OK);

    // The old key is withdrawn (compromised, say): the service drops it on its next fetch.
    set["keys"]
        .as_array_mut()
        .ok_or("no keys")?
        .retain(|key| key["kid"] == kid);
    *served.lock().unwrap() = Some(set);
    assert_eq!(status(&old).await?, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&new).await?, StatusCode::OK);

    // While the JWKS cannot be fetched, the set fetched last still verifies.
    *served.lock().unwrap() = None;
    assert_eq!(status(&new).await?, StatusCode::OK);
    assert_eq!(status(&old).await?, StatusCode::SERVICE_UNAVAILABLE);
    Ok(())
}

/// The repository README walks through this file: the code it quotes must be this file's.
#[test]
fn the_readme_quotes_this_file_as_it_is() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../../README.md")).unwrap();
    let this = std::fs::read_to_string(root.join("tests/orders.rs")).unwrap();
    let start = readme
        .find("### The example service")
        .expect("the README's section");
    let section = &readme[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let blocks: Vec<&str> = section
        .split("```rust\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .collect();
    assert_eq!(blocks.len(), 2, "the helpers and the forgery test");
    for block in blocks {
        assert!(this.contains(block), "not in tests/orders.rs:\n{block}");
    }
}
