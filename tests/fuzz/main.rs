//! Property-based fuzzing of the parsers that read what a user or a server controls: the
//! `kinde.toml` loader, the `.env` parser and writer, and `verify`'s token parser.
//!
//! `cargo test` runs a few hundred cases of each; `cargo xtask fuzz` runs many more in release
//! (`PROPTEST_CASES`), and prints how many. A failure prints the smallest input proptest found.

use std::collections::BTreeMap;

use proptest::prelude::*;

use cargo_kinde::config::dotenv;
use cargo_kinde::config::{Config, LoadOptions};
use cargo_kinde::jwt::jwks::{Jwks, KeySource};
use cargo_kinde::jwt::verify::{Expectations, IssuerKeys, verify};

/// A value placed only where a secret belongs; it must never come back in an error.
const MARKER: &str = "S3CRET-do-not-print-7Qx";

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Lines that look like kinde.toml, broken in the ways people break it, with the marker only
/// ever inside a `client_secret` value (single line, multi-line string, array, table).
fn toml_line() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "domain",
        "client_id",
        "name",
        "audience",
        "callback_urls",
        "logout_urls",
        "port",
        "scopes",
        "authorize",
        "expect_status",
        "method",
        "path",
        "token",
        "defaults",
    ]);
    let value = prop_oneof![
        "[ -~]{0,20}".prop_map(|s| format!("\"{s}\"")),
        "[ -~]{0,20}",
        Just("https://acme.kinde.com".to_string()),
        Just("[\"a\", \"b\"".to_string()),
        Just("'''".to_string()),
        Just("\"\"\"".to_string()),
        (0u32..70000).prop_map(|n| n.to_string()),
    ];
    prop_oneof![
        prop::sample::select(vec![
            "[tenant]",
            "[management]",
            "[app]",
            "[login]",
            "[[apis]]",
            "[[smoke]]",
            "[[protect]]",
            "[tokens.x]",
            "[profiles.staging]",
            "[profiles.staging.tenant]",
            "[smoke]",
            "[",
            "[[",
            "]",
        ])
        .prop_map(String::from),
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        Just(format!("client_secret = \"{MARKER}\"")),
        Just(format!("client_secret = '''\n{MARKER}\nbroken = \"")),
        Just(format!("client_secret = [\n  \"{MARKER}\",\n  oops\n]")),
        Just(format!("client_secret = {{ value = \"{MARKER}\", x = }}")),
        Just(format!(
            "[management.client_secret]\nv = \"{MARKER}\"\nbad line"
        )),
        "[ -~\n\t]{0,40}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// The loader never panics, and an error never shows a secret's value.
    #[test]
    fn config_loader(lines in prop::collection::vec(toml_line(), 0..14)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kinde.toml");
        std::fs::write(&path, lines.join("\n")).unwrap();
        let options = LoadOptions {
            config_path: Some(path),
            manifest_path: None,
            profile: None,
            cwd: dir.path().to_path_buf(),
        };
        let env: BTreeMap<String, String> = BTreeMap::new();
        if let Err(e) = Config::load(&options, &env) {
            let shown = format!("{e} {}", e.hint().unwrap_or_default());
            prop_assert!(!shown.contains(MARKER), "a secret in the error: {shown}");
        }
    }

    /// The `.env` parser never panics on any text.
    #[test]
    fn dotenv_parser(text in any::<String>()) {
        let _ = dotenv::parse(&text);
    }

    /// Whatever value the writer is given, the parser (and dotenvy) read back exactly that value,
    /// and the other lines of the file stay.
    #[test]
    fn dotenv_round_trip(value in "[^\u{0}]{0,40}", other in "[A-Z_]{1,8}=[a-z0-9]{0,8}") {
        let existing = format!("# keep me\n{other}\n");
        let text = dotenv::merge(&existing, &[("KINDE_CLIENT_SECRET", value.clone())]);
        prop_assert!(text.starts_with(&existing), "other lines kept: {text:?}");
        let parsed = dotenv::parse(&text).map_err(|e| TestCaseError::fail(format!("{e:?} in {text:?}")))?;
        let read: BTreeMap<_, _> = parsed.into_iter().collect();
        prop_assert_eq!(read.get("KINDE_CLIENT_SECRET"), Some(&value), "text: {:?}", text);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

struct Signed {
    key: cargo_kinde::emulator::keys::SigningKey,
    token: String,
}

fn signed() -> &'static Signed {
    static SIGNED: std::sync::OnceLock<Signed> = std::sync::OnceLock::new();
    SIGNED.get_or_init(|| {
        let key = cargo_kinde::emulator::keys::SigningKey::generate().unwrap();
        let token = key.sign_jwt(&serde_json::json!({
            "iss": "https://acme.kinde.com",
            "aud": ["https://api.acme.test"],
            "exp": 4_000_000_000u64,
            "iat": 1_700_000_000u64,
            "scp": ["read:orders"],
        }));
        Signed { key, token }
    })
}

fn check(token: &str) -> bool {
    let s = signed();
    let expect = Expectations {
        issuers: vec!["https://acme.kinde.com".into()],
        audiences: vec!["https://api.acme.test".into()],
        scopes: Vec::new(),
        azp: None,
        leeway: 0,
        now: 1_800_000_000,
    };
    let mut keys = IssuerKeys::new().with(
        "https://acme.kinde.com",
        KeySource::fixed(Jwks {
            keys: vec![s.key.jwk()],
        }),
    );
    runtime()
        .block_on(verify(token, &expect, &mut keys))
        .map(|r| r.valid)
        .unwrap_or(false)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// The token parser never panics, whatever the text.
    #[test]
    fn token_parser(text in any::<String>()) {
        let _ = cargo_kinde::jwt::decode(&text);
        prop_assert!(!check(&text) || text == signed().token);
    }

    /// Changing any character of the signed header or payload makes the token invalid.
    #[test]
    fn tampered_tokens_are_refused(at in any::<prop::sample::Index>(), c in "[A-Za-z0-9_\\-.=]") {
        let s = signed();
        prop_assert!(check(&s.token), "the untouched token verifies");
        let signed_part = s.token.rfind('.').unwrap();
        let i = at.index(signed_part);
        let mut bytes = s.token.clone().into_bytes();
        let replacement = c.as_bytes()[0];
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        let tampered = String::from_utf8(bytes).unwrap();
        prop_assert!(!check(&tampered), "accepted a tampered token: {tampered}");
    }

    /// Tokens signed with the right key but with any header and claims never panic the checks,
    /// and `alg` other than RS256 is never accepted.
    #[test]
    fn arbitrary_headers_and_claims(alg in prop::sample::select(vec!["RS256", "none", "HS256", "RS512", "ES256", ""]),
                                    claims in prop::collection::btree_map("[a-z]{1,5}", any::<i64>().prop_map(serde_json::Value::from), 0..6)) {
        let s = signed();
        let header = serde_json::json!({"alg": alg, "typ": "JWT", "kid": s.key.kid()});
        let token = cargo_kinde::jwt::encode(&header, &serde_json::to_value(&claims).unwrap(), |m| s.key.sign(m));
        let valid = check(&token);
        prop_assert!(!valid || alg == "RS256");
    }
}
