//! `cargo_kinde::testing` as a service's tests use it: every token is verified with
//! `jsonwebtoken` against the JWKS the emulator serves, as a service would, and every claim is
//! checked; each forgery fails verification for its own reason and no other.

use std::path::Path;
use std::process::Command;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use cargo_kinde::testing::{Forgery, Kinde};

const AUDIENCE: &str = "https://api.acme.test";

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn jwks(kinde: &Kinde, http: &reqwest::Client) -> Result<JwkSet> {
    Ok(http
        .get(kinde.jwks_url())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// What a careful service checks: RS256 by a served key (by `kid`), `exp`, `nbf`, `iss`, `aud`.
fn rules(kinde: &Kinde, audience: &str) -> Validation {
    let mut rules = Validation::new(Algorithm::RS256);
    rules.set_audience(&[audience]);
    rules.set_issuer(&[kinde.issuer()]);
    rules.validate_nbf = true;
    rules.leeway = 0;
    rules
}

fn verify_with(
    jwks: &JwkSet,
    token: &str,
    rules: &Validation,
) -> std::result::Result<Value, jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(token)?;
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| jwks.find(kid))
        .ok_or_else(|| jsonwebtoken::errors::Error::from(ErrorKind::InvalidKeyFormat))?;
    let key = DecodingKey::from_jwk(jwk)?;
    Ok(jsonwebtoken::decode::<Value>(token, &key, rules)?.claims)
}

/// The claims as written, signature unchecked (to compare a forgery with its original).
fn payload(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn header(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `a` without the named claims equals `b` without them.
fn same_but(a: &Value, b: &Value, except: &[&str]) -> bool {
    let strip = |v: &Value| {
        let mut v = v.as_object().unwrap().clone();
        for name in except {
            v.remove(*name);
        }
        v
    };
    strip(a) == strip(b)
}

#[tokio::test]
async fn a_user_token_carries_kindes_claims_from_the_tenant_it_was_put_in() -> Result {
    let kinde = Kinde::start().await?;
    let http = reqwest::Client::new();
    let token: String = kinde
        .user("alice@example.com")
        .org("org_acme")
        .permissions(["read:orders"])
        .roles(["admin"])
        .feature_flag("beta", true)
        .feature_flag("theme", "dark")
        .feature_flag("limit", 5)
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let jwks = jwks(&kinde, &http).await?;
    let claims = verify_with(&jwks, &token, &rules(&kinde, AUDIENCE))?;

    let tenant = kinde.emulator().state().tenant();
    let user = tenant.user_by_email("alice@example.com").unwrap();
    let org = tenant
        .organization("org_acme")
        .expect("the organization was created");
    let member = org.member(&user.id).expect("alice was made a member");
    let admin = tenant.roles.iter().find(|r| r.key == "admin").unwrap();
    let read = tenant
        .permissions
        .iter()
        .find(|p| p.key == "read:orders")
        .unwrap();
    assert_eq!(member.roles, [admin.id.as_str()]);
    assert_eq!(member.permissions, [read.id.as_str()]);
    let api = tenant.api_by_audience(kinde.issuer(), AUDIENCE).unwrap();
    assert!(api.authorization(&kinde.app_id()?).is_some());

    assert_eq!(claims["iss"], kinde.issuer());
    assert_eq!(
        claims["aud"],
        json!([AUDIENCE]),
        "aud is an array, as Kinde's"
    );
    assert_eq!(claims["sub"], user.id.as_str());
    let sub = claims["sub"].as_str().unwrap();
    assert!(
        sub.len() == 35
            && sub.starts_with("kp_")
            && sub[3..].bytes().all(|b| b.is_ascii_hexdigit()),
        "Kinde's user ids are kp_ and 32 hex: {sub}"
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(claims["azp"], kinde.app_id()?.as_str());
    assert_eq!(claims["org_code"], "org_acme");
    assert_eq!(claims["permissions"], json!(["read:orders"]));
    assert_eq!(
        claims["roles"],
        json!([{"id": admin.id, "key": "admin", "name": "admin"}])
    );
    assert_eq!(
        claims["feature_flags"]["beta"],
        json!({"t": "b", "v": true})
    );
    assert_eq!(
        claims["feature_flags"]["theme"],
        json!({"t": "s", "v": "dark"})
    );
    assert_eq!(claims["feature_flags"]["limit"], json!({"t": "i", "v": 5}));
    assert_eq!(claims["scp"], json!(["openid", "profile", "email"]));
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());

    // Permissions and roles are replaced, not added to: a token lacking one is easy to get.
    let fewer = kinde
        .user("alice@example.com")
        .org("org_acme")
        .permissions(["write:orders"])
        .roles(Vec::<String>::new())
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let claims = verify_with(&jwks, &fewer, &rules(&kinde, AUDIENCE))?;
    assert_eq!(claims["permissions"], json!(["write:orders"]));
    assert_eq!(claims["roles"], json!([]));
    Ok(())
}

#[tokio::test]
async fn a_role_grants_its_permissions_and_a_user_without_an_org_gets_the_default_one() -> Result {
    let dir = tempfile::tempdir()?;
    let seed = dir.path().join("seed.toml");
    std::fs::write(
        &seed,
        r#"
[[permissions]]
key = "read:orders"
name = "Read orders"

[[permissions]]
key = "refund:orders"
name = "Refund orders"

[[roles]]
key = "support"
name = "Support"
permissions = ["refund:orders"]
"#,
    )?;
    let kinde = Kinde::builder().seed_file(&seed).start().await?;
    let http = reqwest::Client::new();
    let token = kinde
        .user("new.person@example.com")
        .permissions(["read:orders"])
        .roles(["support"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let claims = verify_with(
        &jwks(&kinde, &http).await?,
        &token,
        &rules(&kinde, AUDIENCE),
    )?;
    // The emulator's rule: the membership's roles' permissions and its direct ones.
    assert_eq!(
        claims["permissions"],
        json!(["read:orders", "refund:orders"])
    );
    let default_org = kinde.emulator().state().read(|t| {
        t.organizations
            .iter()
            .find(|o| o.is_default)
            .unwrap()
            .code
            .clone()
    });
    assert_eq!(claims["org_code"], default_org.as_str());
    assert_eq!(claims["roles"][0]["name"], "Support", "the seeded role");
    Ok(())
}

#[tokio::test]
async fn an_m2m_token_comes_from_an_app_that_really_exists_and_is_authorised() -> Result {
    let kinde = Kinde::start().await?;
    let http = reqwest::Client::new();
    let m2m: String = kinde
        .m2m("orders-worker")
        .audience(AUDIENCE)
        .scopes(["read:orders"])
        .access_token()
        .await?;
    let claims = verify_with(&jwks(&kinde, &http).await?, &m2m, &rules(&kinde, AUDIENCE))?;
    let app = kinde
        .emulator()
        .state()
        .read(|t| {
            t.applications
                .iter()
                .find(|a| a.name == "orders-worker")
                .cloned()
        })
        .expect("the M2M application was created");
    assert_eq!(app.kind, "m2m");
    assert_eq!(claims["azp"], app.id.as_str());
    assert_eq!(claims["aud"], json!([AUDIENCE]));
    assert_eq!(claims["scp"], json!(["read:orders"]));
    assert_eq!(claims["scope"], "read:orders");
    assert_eq!(claims["gty"], json!(["client_credentials"]));
    assert_eq!(claims["v"], "2");
    assert!(
        claims.get("permissions").is_none() && claims.get("roles").is_none(),
        "M2M tokens carry no user permissions or roles"
    );
    assert!(
        claims.get("sub").is_none(),
        "Kinde's M2M tokens have no sub"
    );

    // The same app gets a token over HTTP with its own credentials, as a worker would.
    let answer: Value = http
        .post(format!("{}/oauth2/token", kinde.issuer()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", app.id.as_str()),
            ("client_secret", app.client_secret.as_deref().unwrap()),
            ("audience", AUDIENCE),
            ("scope", "read:orders"),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(answer["scope"], "read:orders");

    // Asked again with another scope: the same app, granted both.
    let again = kinde
        .m2m("orders-worker")
        .audience(AUDIENCE)
        .scopes(["write:orders"])
        .access_token()
        .await?;
    assert_eq!(payload(&again)["azp"], app.id.as_str());
    assert_eq!(payload(&again)["scp"], json!(["write:orders"]));
    let apps = kinde.emulator().state().read(|t| {
        t.applications
            .iter()
            .filter(|a| a.name == "orders-worker")
            .count()
    });
    assert_eq!(apps, 1);
    // Kinde requires an audience; so does the emulator.
    let err = kinde.m2m("orders-worker").access_token().await.unwrap_err();
    assert!(err.to_string().contains("audience"), "{err}");
    Ok(())
}

#[tokio::test]
async fn each_forgery_fails_verification_for_its_own_reason_only() -> Result {
    let kinde = Kinde::start().await?;
    let http = reqwest::Client::new();
    let jwks = jwks(&kinde, &http).await?;
    let token = kinde
        .user("alice@example.com")
        .org("org_acme")
        .permissions(["read:orders"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let original = payload(&token);
    let strict = rules(&kinde, AUDIENCE);
    let kind = |forged: &str, rules: &Validation| -> Option<ErrorKind> {
        verify_with(&jwks, forged, rules)
            .err()
            .map(|e| e.into_kind())
    };
    for forgery in Forgery::ALL {
        let forged = kinde.forged(forgery, &token)?;
        let claims = payload(&forged);
        match forgery {
            Forgery::Expired => {
                assert_eq!(kind(&forged, &strict), Some(ErrorKind::ExpiredSignature));
                let mut lax = strict.clone();
                lax.validate_exp = false;
                assert!(kind(&forged, &lax).is_none(), "only exp is wrong");
                assert!(same_but(&claims, &original, &["exp", "iat"]));
            }
            Forgery::NotYetValid => {
                assert_eq!(kind(&forged, &strict), Some(ErrorKind::ImmatureSignature));
                let mut lax = strict.clone();
                lax.validate_nbf = false;
                assert!(kind(&forged, &lax).is_none(), "only nbf is wrong");
                assert!(same_but(&claims, &original, &["nbf", "iat", "exp"]));
            }
            Forgery::WrongAudience => {
                assert_eq!(kind(&forged, &strict), Some(ErrorKind::InvalidAudience));
                let other = claims["aud"][0].as_str().unwrap();
                assert_ne!(other, AUDIENCE);
                assert!(kind(&forged, &rules(&kinde, other)).is_none());
                assert!(same_but(&claims, &original, &["aud"]));
            }
            Forgery::WrongIssuer => {
                assert_eq!(kind(&forged, &strict), Some(ErrorKind::InvalidIssuer));
                let mut lax = strict.clone();
                lax.iss = None;
                assert!(kind(&forged, &lax).is_none(), "only iss is wrong");
                assert!(same_but(&claims, &original, &["iss"]));
            }
            Forgery::ForeignKey => {
                assert_eq!(kind(&forged, &strict), Some(ErrorKind::InvalidSignature));
                assert_eq!(header(&forged)["kid"], header(&token)["kid"]);
                assert_eq!(header(&forged)["alg"], "RS256");
                assert_eq!(claims, original);
            }
            Forgery::AlgNone => {
                assert!(kind(&forged, &strict).is_some());
                assert_eq!(header(&forged)["alg"], "none");
                assert!(forged.ends_with('.'), "no signature");
                assert_eq!(claims, original);
            }
            Forgery::Hs256WithPublicKey => {
                assert_eq!(kind(&forged, &strict), Some(ErrorKind::InvalidAlgorithm));
                // A verifier that takes the algorithm from the token and the PEM as the HMAC
                // key accepts it: the attack is real.
                let pem = kinde.public_key_pem()?;
                let naive = DecodingKey::from_secret(pem.as_bytes());
                let mut hs = strict.clone();
                hs.algorithms = vec![Algorithm::HS256];
                jsonwebtoken::decode::<Value>(&forged, &naive, &hs)?;
                assert_eq!(claims, original);
            }
            Forgery::TamperedPayload => {
                assert_eq!(kind(&forged, &strict), Some(ErrorKind::InvalidSignature));
                assert_eq!(
                    forged.rsplit('.').next(),
                    token.rsplit('.').next(),
                    "the original signature"
                );
                assert!(
                    claims["permissions"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("admin:everything"))
                );
            }
            Forgery::MissingPermission => {
                let verified = verify_with(&jwks, &forged, &strict)?;
                assert_eq!(verified["permissions"], json!([]));
                assert!(same_but(&claims, &original, &["permissions", "scp"]));
            }
            Forgery::OtherOrganization => {
                let verified = verify_with(&jwks, &forged, &strict)?;
                assert_ne!(verified["org_code"], "org_acme");
                assert!(verified["org_code"].as_str().unwrap().starts_with("org_"));
                assert!(same_but(&claims, &original, &["org_code"]));
            }
            other => panic!("untested forgery {other}"),
        }
        assert_eq!(
            forgery.expected_status(),
            if matches!(
                forgery,
                Forgery::MissingPermission | Forgery::OtherOrganization
            ) {
                403
            } else {
                401
            }
        );
    }

    // M2M tokens lose their scopes.
    let m2m = kinde
        .m2m("orders-worker")
        .audience(AUDIENCE)
        .scopes(["read:orders"])
        .access_token()
        .await?;
    let stripped = verify_with(
        &jwks,
        &kinde.forged(Forgery::MissingPermission, &m2m)?,
        &strict,
    )?;
    assert_eq!(stripped["scp"], json!([]));
    assert_eq!(stripped["scope"], "");
    // Only tokens this emulator issued are forged.
    let other = Kinde::start().await?;
    let foreign = other.user("bob@example.com").access_token().await?;
    let err = kinde.forged(Forgery::Expired, &foreign).unwrap_err();
    assert!(err.to_string().contains("unknown key"), "{err}");
    Ok(())
}

/// The same forgeries through this crate's own verifier (`cargo kinde verify`'s), keyed with
/// the JWKS at `jwks_url()`: each fails exactly the check it breaks, and the valid token none.
#[tokio::test]
async fn the_crates_own_verifier_names_the_check_each_forgery_breaks() -> Result {
    use cargo_kinde::jwt::jwks::{self, KeySource};
    use cargo_kinde::jwt::verify::{Expectations, IssuerKeys, Status, verify};

    let kinde = Kinde::start().await?;
    let http = reqwest::Client::new();
    let token = kinde
        .user("alice@example.com")
        .org("org_acme")
        .permissions(["read:orders"])
        .scopes(["openid", "read:orders"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let served = jwks::fetch(&http, &kinde.jwks_url()).await?;
    let expect = Expectations {
        issuers: vec![kinde.issuer().to_string()],
        audiences: vec![AUDIENCE.to_string()],
        scopes: vec!["read:orders".to_string()],
        azp: Some(kinde.app_id()?),
        leeway: 0,
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    };
    let failed = async |token: &str| -> Result<Vec<&'static str>> {
        let mut keys = IssuerKeys::new().with(kinde.issuer(), KeySource::fixed(served.clone()));
        let report = verify(token, &expect, &mut keys).await?;
        let failed: Vec<&'static str> = report
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name)
            .collect();
        assert_eq!(report.valid, failed.is_empty());
        Ok(failed)
    };
    assert_eq!(failed(&token).await?, Vec::<&str>::new(), "the valid token");
    for forgery in Forgery::ALL {
        let forged = kinde.forged(forgery, &token)?;
        let expected: &[&str] = match forgery {
            Forgery::Expired => &["expiry"],
            Forgery::NotYetValid => &["not_before", "issued_at"],
            Forgery::WrongAudience => &["audience"],
            Forgery::WrongIssuer => &["issuer"],
            Forgery::ForeignKey | Forgery::TamperedPayload => &["signature"],
            // An unsigned token is refused before its header is read.
            Forgery::AlgNone => &["format"],
            Forgery::Hs256WithPublicKey => &["algorithm"],
            Forgery::MissingPermission => &["scopes"],
            // Valid as a token: the organization is the service's own check.
            Forgery::OtherOrganization => &[],
            other => panic!("untested forgery {other}"),
        };
        assert_eq!(failed(&forged).await?, expected, "{forgery}");
    }
    Ok(())
}

#[tokio::test]
async fn reset_goes_back_to_the_seed_and_issued_tokens_stay_valid() -> Result {
    let kinde = Kinde::start().await?;
    let http = reqwest::Client::new();
    let token = kinde
        .user("zed@example.com")
        .org("org_zed")
        .permissions(["zap"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let state = kinde.emulator().state();
    assert!(state.read(|t| t.user_by_email("zed@example.com").is_some()));
    kinde.reset().await?;
    assert!(state.read(|t| t.user_by_email("zed@example.com").is_none()));
    assert!(state.read(|t| t.organization("org_zed").is_none()));
    assert!(state.read(|t| t.permissions.iter().all(|p| p.key != "zap")));
    assert!(state.read(|t| t.api_by_audience(kinde.issuer(), AUDIENCE).is_none()));
    assert!(state.read(|t| t.user_by_email("alice@example.com").is_some()));
    verify_with(
        &jwks(&kinde, &http).await?,
        &token,
        &rules(&kinde, AUDIENCE),
    )?;
    Ok(())
}

#[tokio::test]
async fn kinde_toml_is_registered_into_the_tenant_and_survives_a_reset() -> Result {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("kinde.toml"),
        r#"
[tenant]
domain = "https://acme.kinde.com"

[[apis]]
name = "Orders"
audience = "https://api.acme.test"
scopes = ["read:orders", "write:orders"]
authorize = ["app"]

[[permissions]]
key = "read:orders"

[[roles]]
key = "clerk"
permissions = ["read:orders"]

[[feature_flags]]
key = "beta"
type = "boolean"
default = false
"#,
    )?;
    let kinde = Kinde::builder()
        .kinde_toml(dir.path().join("kinde.toml"))
        .start()
        .await?;
    let check = |kinde: &Kinde| {
        kinde.emulator().state().read(|t| {
            let api = t
                .api_by_audience(kinde.issuer(), AUDIENCE)
                .expect("the API");
            let scopes: Vec<&str> = api.scopes.iter().map(|s| s.key.as_str()).collect();
            assert_eq!(scopes, ["read:orders", "write:orders"]);
            assert!(
                t.roles
                    .iter()
                    .any(|r| r.key == "clerk" && r.permissions.len() == 1)
            );
            assert_eq!(t.feature_flag("beta").unwrap().default_value, "false");
            api.authorization(&t.user_app().unwrap().id).is_some()
        })
    };
    assert!(
        check(&kinde),
        "[app] (the emulator's web app) is authorised"
    );
    let token = kinde
        .user("alice@example.com")
        .roles(["clerk"])
        .scopes(["openid", "read:orders"])
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let claims = payload(&token);
    assert_eq!(claims["permissions"], json!(["read:orders"]));
    assert_eq!(claims["scp"], json!(["openid", "read:orders"]));
    assert_eq!(
        claims["feature_flags"]["beta"],
        json!({"t": "b", "v": false})
    );
    kinde.reset().await?;
    assert!(check(&kinde), "kinde.toml is part of the seed");
    Ok(())
}

#[tokio::test]
async fn over_tls_the_service_trusts_the_ca_file() -> Result {
    let dir = tempfile::tempdir()?;
    let kinde = Kinde::builder().tls(dir.path()).start().await?;
    assert!(kinde.issuer().starts_with("https://127.0.0.1:"));
    let ca = std::fs::read(kinde.ca_file().expect("a CA file"))?;
    let http = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(&ca)?])
        .build()?;
    let token = kinde
        .user("alice@example.com")
        .audience(AUDIENCE)
        .access_token()
        .await?;
    let claims = verify_with(
        &jwks(&kinde, &http).await?,
        &token,
        &rules(&kinde, AUDIENCE),
    )?;
    assert_eq!(claims["iss"], kinde.issuer());
    Ok(())
}

#[tokio::test]
async fn a_flag_of_another_type_is_refused_and_changes_nothing() -> Result {
    let kinde = Kinde::start().await?;
    kinde
        .user("alice@example.com")
        .feature_flag("beta", true)
        .access_token()
        .await?;
    let err = kinde
        .user("alice@example.com")
        .org("org_new")
        .feature_flag("beta", "yes")
        .access_token()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`bool` flag"), "{err}");
    assert!(
        kinde
            .emulator()
            .state()
            .read(|t| t.organization("org_new").is_none())
    );
    Ok(())
}

/// The outside crate's manifest: `cargo-kinde` from this checkout as a user's service takes it
/// (`features` the dependency's feature list), with the verifier a service would use.
fn outside_manifest(root: &str, features: &str) -> String {
    format!(
        r#"[package]
name = "orders-service"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dev-dependencies]
cargo-kinde = {{ path = {root:?}, {features} }}
# A service's own verifier (the versions this checkout already builds).
jsonwebtoken = {{ version = "11", default-features = false, features = ["aws_lc_rs"] }}
reqwest = {{ version = "0.13", default-features = false, features = ["json"] }}
serde_json = "1"
tokio = {{ version = "1", features = ["macros", "rt"] }}

[profile.dev.package.aws-lc-sys]
opt-level = 3
"#
    )
}

/// A crate outside this workspace depends on this checkout the way a user's service would
/// (`default-features = false, features = ["testing"]`), runs the API exactly as the issue and
/// the README write it as its own test, and has no CLI dependency in its tree.
///
/// Slow the first time (a clean build of the emulator's dependencies, minutes on two cores);
/// it runs in the normal suite with its own target directory under `target/tmp/`, kept between
/// runs (not the workspace's `target/debug`, which the running `cargo test` holds locked), so
/// later runs rebuild only this checkout.
#[test]
fn a_crate_outside_the_workspace_uses_the_testing_feature_without_the_cli() {
    let root = env!("CARGO_MANIFEST_DIR");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("testing-outside");
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(
        path("Cargo.toml"),
        outside_manifest(root, r#"default-features = false, features = ["testing"]"#),
    )
    .unwrap();
    std::fs::create_dir_all(path("src")).unwrap();
    std::fs::write(path("src/lib.rs"), "").unwrap();
    std::fs::create_dir_all(path("tests")).unwrap();
    std::fs::write(path("tests/auth.rs"), OUTSIDE_TEST).unwrap();
    // The same dependency versions as this checkout, so nothing new is resolved or fetched.
    std::fs::copy(Path::new(root).join("Cargo.lock"), path("Cargo.lock")).unwrap();
    let cargo = || {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        // No debug info and no incremental state: this build is run once and thrown away, and
        // both cost build time the suite pays on every fresh checkout.
        cmd.current_dir(dir.path())
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_PROFILE_DEV_DEBUG", "false")
            .env("CARGO_INCREMENTAL", "0")
            .env_remove("RUSTFLAGS");
        cmd
    };
    let tree = cargo()
        .args(["tree", "--prefix", "none", "--edges", "all"])
        .output()
        .unwrap();
    let tree_text = String::from_utf8_lossy(&tree.stdout);
    assert!(
        tree.status.success(),
        "{}",
        String::from_utf8_lossy(&tree.stderr)
    );
    assert!(tree_text.contains("cargo-kinde v"), "{tree_text}");
    assert!(
        tree_text.contains("axum v"),
        "the emulator is built: {tree_text}"
    );
    for cli_only in [
        "clap",
        "dialoguer",
        "minijinja",
        "toml_edit",
        "similar v",
        "include_dir",
        "cargo_metadata",
        "jaq-",
    ] {
        assert!(
            !tree_text.lines().any(|l| l.starts_with(cli_only)),
            "{cli_only} is in the tree:\n{tree_text}"
        );
    }
    let out = cargo().args(["test", "--test", "auth"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
}

/// The outside crate's test: the API exactly as the issue writes it, the token verified as a
/// service would verify it, against `jwks_url()`.
const OUTSIDE_TEST: &str = r#"
use jsonwebtoken::{decode, decode_header, errors::ErrorKind, jwk::JwkSet, Algorithm, DecodingKey, Validation};

#[tokio::test]
async fn orders_api_tokens() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let kinde = cargo_kinde::testing::Kinde::start().await?;   // in-process, 127.0.0.1:0
    kinde.issuer();                 // issuer URL (String or &str)
    kinde.jwks_url();               // JWKS URL the service under test is configured with
    let token: String = kinde
        .user("alice@example.com")  // created if missing
        .org("org_acme")            // organization code; created if missing
        .permissions(["read:orders"])
        .roles(["admin"])
        .feature_flag("beta", true)
        .audience("https://api.acme.test")
        .access_token()
        .await?;
    let m2m: String = kinde.m2m("orders-worker").audience("https://api.acme.test")
        .scopes(["read:orders"]).access_token().await?;
    let bad: String = kinde.forged(cargo_kinde::testing::Forgery::Expired, &token)?;

    let jwks: JwkSet = reqwest::get(kinde.jwks_url()).await?.json().await?;
    let mut rules = Validation::new(Algorithm::RS256);
    rules.set_audience(&["https://api.acme.test"]);
    rules.set_issuer(&[kinde.issuer()]);
    let verify = |token: &str| {
        let kid = decode_header(token)?.kid.unwrap_or_default();
        let key = DecodingKey::from_jwk(jwks.find(&kid).ok_or(ErrorKind::InvalidKeyFormat)?)?;
        decode::<serde_json::Value>(token, &key, &rules).map(|data| data.claims)
    };
    let claims = verify(&token)?;
    assert_eq!(claims["org_code"], "org_acme");
    assert_eq!(claims["permissions"], serde_json::json!(["read:orders"]));
    assert_eq!(claims["feature_flags"]["beta"], serde_json::json!({"t": "b", "v": true}));
    assert_eq!(verify(&m2m)?["scp"], serde_json::json!(["read:orders"]));
    assert_eq!(verify(&bad).unwrap_err().into_kind(), ErrorKind::ExpiredSignature);

    kinde.reset().await?;           // back to the seed
    Ok(())
}
"#;
