//! `cargo kinde emulator --seed FILE` and `POST /_emulator/reset`: the template's tenant through
//! the Management API and in tokens, bad seeds refused before listening, reset back to the seed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cargo_kinde::emulator::Options;
use cargo_kinde::emulator::seed::Seed;
use serde_json::{Value, json};

use crate::World;

const CALLBACK: &str = "http://localhost:3000/api/auth/kinde_callback";

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/emulator-seed.toml")
}

fn seeded(state_file: Option<PathBuf>) -> World {
    World::with(Options {
        seed: Some(Seed::load(&template()).unwrap()),
        state_file,
        auto_login: true,
        ..Options::default()
    })
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// `METHOD path` with a bearer token: (status, JSON body or null).
fn call(w: &World, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    block_on(async {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", w.issuer()))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    })
}

fn reset(w: &World) -> u16 {
    call(
        w,
        "",
        "POST",
        "/_emulator/reset",
        Some(serde_json::json!({})),
    )
    .0
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Sign `email` in through the web app (auto-login) with `extra` parameters: the access
/// token's claims.
fn sign_in(w: &World, email: &str, extra: &[(&str, &str)]) -> Value {
    claims(
        sign_in_tokens(w, email, extra)["access_token"]
            .as_str()
            .unwrap(),
    )
}

/// [`sign_in`]'s token response.
fn sign_in_tokens(w: &World, email: &str, extra: &[(&str, &str)]) -> Value {
    let app = w.web_app();
    let mut url = url::Url::parse(&format!("{}/oauth2/auth", w.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &app.id)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email offline")
        .append_pair("state", "abcdefgh12")
        .append_pair("login_hint", email);
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    let (status, location) = crate::http::get_no_redirect(url.as_str());
    assert_eq!(status, 303, "{url}");
    let back = url::Url::parse(&location.unwrap()).unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code: {back}"));
    let (status, body) = crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", &app.id),
            ("client_secret", &app.client_secret.unwrap()),
        ],
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn refresh(w: &World, refresh_token: &str) -> (u16, Value) {
    let app = w.web_app();
    crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &app.id),
            ("client_secret", &app.client_secret.unwrap()),
        ],
        None,
    )
}

fn sorted(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

fn emails(w: &World, token: &str) -> Vec<String> {
    let (status, users) = call(w, token, "GET", "/api/v1/users?page_size=100", None);
    assert_eq!(status, 200, "{users}");
    sorted(&Value::Array(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].clone())
            .collect(),
    ))
}

#[test]
fn the_template_seeds_what_the_management_api_and_tokens_show() {
    let w = seeded(None);
    let token = w.token();
    // The template's users replace the sample ones.
    assert_eq!(emails(&w, &token), ["alice@acme.test", "bob@acme.test"]);
    let (_, orgs) = call(&w, &token, "GET", "/api/v1/organizations", None);
    let codes: Vec<&str> = orgs["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"org_acme") && codes.contains(&"org_globex"),
        "{orgs}"
    );
    let (_, roles) = call(&w, &token, "GET", "/api/v1/roles", None);
    let keys: Vec<&str> = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["admin", "viewer"], "{roles}");

    // Bob in Acme: the viewer role's permission plus his direct one; his own theme.
    let bob = sign_in(&w, "bob@acme.test", &[("org_code", "org_acme")]);
    assert_eq!(bob["org_code"], "org_acme");
    assert_eq!(
        sorted(&bob["permissions"]),
        ["read:orders", "write:orders"],
        "{bob}"
    );
    assert_eq!(bob["feature_flags"]["theme"]["v"], "blue", "{bob}");
    assert_eq!(bob["feature_flags"]["max_orders"]["v"], 20, "{bob}");
    // Alice in Acme: admin; the organization's theme.
    let alice = sign_in(&w, "alice@acme.test", &[("org_code", "org_acme")]);
    assert_eq!(
        sorted(&alice["permissions"]),
        ["read:orders", "write:orders"]
    );
    assert_eq!(alice["feature_flags"]["theme"]["v"], "dark", "{alice}");

    // The seeded M2M app, with the client id the seed gave it, gets a token for its API.
    let worker = w
        .emulator
        .state()
        .read(|t| t.application("0123456789abcdef0123456789abcdef").cloned())
        .expect("the seeded client id");
    let (status, body) = crate::http::post_form(
        &format!("{}/oauth2/token", w.issuer()),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &worker.id),
            ("client_secret", &worker.client_secret.unwrap()),
            ("audience", "https://orders.acme.test"),
        ],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let m2m = claims(body["access_token"].as_str().unwrap());
    assert_eq!(m2m["aud"], json!(["https://orders.acme.test"]), "{m2m}");
}

#[test]
fn the_templates_allowed_domains_decide_who_joins_initech() {
    let w = seeded(None);
    // A sign-up at initech.test naming no organization is auto-added to Initech.
    let ivy = sign_in(&w, "ivy@initech.test", &[]);
    assert_eq!(ivy["org_code"], "org_initech", "{ivy}");
    // Anyone else signing up goes to the default organization.
    let otto = sign_in(&w, "otto@other.test", &[]);
    assert_ne!(otto["org_code"], "org_initech", "{otto}");
    // With Initech's code, another domain is refused; Globex, with no domains listed, lets in.
    let mut url = url::Url::parse(&format!("{}/oauth2/auth", w.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &w.web_app().id)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("login_hint", "otto@other.test")
        .append_pair("org_code", "org_initech");
    let (status, location) = crate::http::get_no_redirect(url.as_str());
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(location.contains("error=access_denied"), "{location}");
    let otto = sign_in(&w, "otto@other.test", &[("org_code", "org_globex")]);
    assert_eq!(otto["org_code"], "org_globex", "{otto}");
}

#[test]
fn reset_goes_back_to_the_seed_keeping_keys_ids_and_secrets() {
    let w = seeded(None);
    let token = w.token();
    let before = w.emulator.state().tenant();
    let (_, jwks) = crate::http::get_json(&format!("{}/.well-known/jwks.json", w.issuer()), None);
    let signed_in = sign_in_tokens(&w, "alice@acme.test", &[]);
    // Refresh tokens rotate: the one a refresh returns is the one that stays usable.
    let (status, refreshed) = refresh(&w, signed_in["refresh_token"].as_str().unwrap());
    assert_eq!(status, 200, "{refreshed}");
    let refresh_token = refreshed["refresh_token"].as_str().unwrap();
    let (status, made) = call(
        &w,
        &token,
        "POST",
        "/api/v1/user",
        Some(json!({"identities": [{"type": "email", "details": {"email": "new@acme.test"}}]})),
    );
    assert!(status < 300, "{made}");
    let bob = before.user_by_email("bob@acme.test").unwrap().id.clone();
    let (status, _) = call(
        &w,
        &token,
        "DELETE",
        &format!("/api/v1/user?id={bob}"),
        None,
    );
    assert!(status < 300);
    assert_eq!(emails(&w, &token), ["alice@acme.test", "new@acme.test"]);

    assert_eq!(reset(&w), 204);
    // Sign-ins end: a refresh token from before is refused.
    let (status, refused) = refresh(&w, refresh_token);
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The token issued before the reset still works: same keys, same management app.
    assert_eq!(emails(&w, &token), ["alice@acme.test", "bob@acme.test"]);
    let after = w.emulator.state().tenant();
    assert_eq!(after.user_by_email("bob@acme.test").unwrap().id, bob);
    let (_, jwks_after) =
        crate::http::get_json(&format!("{}/.well-known/jwks.json", w.issuer()), None);
    assert_eq!(jwks, jwks_after);
    assert_eq!(
        w.web_app().client_secret,
        before.user_app().unwrap().client_secret
    );
    assert_eq!(
        after.management_app().unwrap().client_secret,
        before.management_app().unwrap().client_secret
    );
    // A fresh M2M token with the credentials of before, and a sign-in with the restored user.
    w.token();
    let bob_again = sign_in(&w, "bob@acme.test", &[("org_code", "org_acme")]);
    assert_eq!(bob_again["sub"], bob.as_str());
}

#[test]
fn reset_without_a_seed_goes_back_to_the_default_tenant() {
    let w = World::new();
    let token = w.token();
    let (status, _) = call(
        &w,
        &token,
        "POST",
        "/api/v1/user",
        Some(json!({"identities": [{"type": "email", "details": {"email": "zed@example.com"}}]})),
    );
    assert!(status < 300);
    assert!(emails(&w, &token).contains(&"zed@example.com".to_string()));
    assert_eq!(reset(&w), 204);
    let now = emails(&w, &token);
    assert!(!now.contains(&"zed@example.com".to_string()), "{now:?}");
    assert_eq!(now.len(), 5, "the five sample users: {now:?}");
}

#[test]
fn a_reset_is_saved_with_state_and_an_existing_state_wins_over_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    {
        let w = seeded(Some(state.clone()));
        w.emulator
            .state()
            .update(|t| t.users.retain(|u| u.email != "bob@acme.test"));
    }
    // The state file wins at start: Bob stays deleted ...
    let w = seeded(Some(state.clone()));
    let bob = |w: &World| {
        w.emulator
            .state()
            .read(|t| t.user_by_email("bob@acme.test").is_some())
    };
    assert!(!bob(&w));
    // ... until a reset, which is saved.
    assert_eq!(reset(&w), 204);
    assert!(bob(&w));
    drop(w);
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("bob@acme.test"));
}

/// Run `cargo kinde emulator --http --port 0 ARGS` in `dir`: exit code and stderr when it
/// stops by itself, or the first stdout line and the still-running child.
fn cli(dir: &Path, args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"))
        .args(["kinde", "emulator", "--http", "--port", "0"])
        .args(args)
        .current_dir(dir)
        .env("CARGO_KINDE_CACHE_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_bad_seed_stops_the_emulator_before_it_listens_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let user = "[[users]]\nemail = \"a@x.io\"\n";
    let org = "[[organizations]]\ncode = \"org_a\"\nname = \"A\"\n";
    // (seed, position, words the message must hold)
    let cases: &[(String, &str, &[&str])] = &[
        (
            format!("{user}passwrd = \"x\"\n"),
            "bad.toml:3:1",
            &["unknown field `passwrd`"],
        ),
        (
            format!("{user}password = \"x\"\n"),
            "bad.toml:3:1",
            &["unknown field `password`", "seeded users have no password"],
        ),
        (
            format!(
                "{user}{org}[[memberships]]\nuser = \"a@x.io\"\norganization = \"org_a\"\nroles = [\"admn\"]\n"
            ),
            "bad.toml:9:10",
            &["a@x.io", "org_a", "role `admn`"],
        ),
        (
            format!("{user}{org}[[memberships]]\nuser = \"a@x.io\"\norganization = \"org_b\"\n"),
            "bad.toml:8:16",
            &["a@x.io", "organization `org_b`"],
        ),
        (
            format!("{user}[[users]]\nemail = \"A@X.io\"\n"),
            "bad.toml:4:9",
            &["duplicate user email `a@x.io`", "first at line 2"],
        ),
        (
            "[[roles]]\nkey = \"r\"\nname = \"R\"\npermissions = [\"read\"]\n".into(),
            "bad.toml:4:16",
            &["role `r`", "permission `read`", "add a [[permissions]] entry with key = \"read\""],
        ),
        (
            "[[users]]\nemail = \"alice@\"\n".into(),
            "bad.toml:2:9",
            &["`alice@` is not an email address", "alice@acme.test"],
        ),
        (
            "[[users]]\nemail = \"ann lee@x.io\"\n".into(),
            "bad.toml:2:9",
            &["not an email address: it holds a space"],
        ),
        (
            format!("{user}{org}[[memberships]]\nuser = \"a@x.io\"\norganization = \"org_a\"\n[[memberships]]\nuser = \"A@x.io\"\norganization = \"org_a\"\n"),
            "bad.toml:10:8",
            &["duplicate membership `a@x.io in org_a` (first at line 7)", "a single [[memberships]] entry"],
        ),
        (
            "[[apis]]\nname = \"A\"\naudience = \"https://a.test\"\nscopes = [\"read\", \"read\"]\n".into(),
            "bad.toml:4:19",
            &["duplicate scope of API https://a.test `read`"],
        ),
        (
            "[[applications]]\nname = \"W\"\ntype = \"reg\"\ncallback_urls = [\"javascript:alert(1)\"]\n".into(),
            "bad.toml:4:18",
            &["application `W`", "javascript", "https URL"],
        ),
        (
            format!("{org}handle = \"acme\"\n[[organizations]]\ncode = \"org_b\"\nname = \"B\"\nhandle = \"acme\"\n"),
            "bad.toml:8:10",
            &["duplicate organization handle `acme` (first at line 4)"],
        ),
        (
            format!("{user}[[feature_flags]]\nkey = \"f\"\nname = \"F\"\ntype = \"bool\"\ndefault = false\nusers = {{ \"a@x.io\" = true, \"A@X.IO\" = false }}\n"),
            "bad.toml:8:",
            &["overrides user", "twice", "emails ignore case"],
        ),
        (
            "[[feature_flags]]\nkey = \"f\"\nname = \"F\"\ntype = \"int\"\ndefault = \"ten\"\n".into(),
            "bad.toml:5:11",
            &["`\"ten\"` is not a value of flag `f` (type int", "write a whole number"],
        ),
        (
            "[[applications]]\nname = \"W\"\ntype = \"reg\"\n[applications.tokens]\nrole = true\n".into(),
            "bad.toml:5:1",
            &["unknown field `role`", "remove or rename the field"],
        ),
        (
            format!("{org}allowed_domains = [\"acme.test\", \"https://www.acme.test\"]\n"),
            "bad.toml:4:33",
            &["allowed domain `https://www.acme.test` of organization org_a is not a domain", "as `acme.com`"],
        ),
    ];
    for (text, at, words) in cases {
        std::fs::write(dir.path().join("bad.toml"), text).unwrap();
        let out = cli(dir.path(), &["--seed", "bad.toml"])
            .wait_with_output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}\n{err}");
        assert!(err.contains(at), "{at} not in: {err}");
        for word in *words {
            assert!(err.contains(word), "{word} not in: {err}");
        }
        assert!(out.stdout.is_empty(), "it never listened: {err}");
    }
}

#[test]
fn every_problem_in_a_seed_is_reported_at_once_in_file_order_with_its_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[roles]]\nkey = \"admin\"\nname = \"Admin\"\n\
         [[users]]\nemail = \"bob\"\n\
         [[memberships]]\nuser = \"ann@x.io\"\norganization = \"org_x\"\nroles = [\"admn\"]\n",
    )
    .unwrap();
    let out = cli(dir.path(), &["--seed", "bad.toml"])
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "it never listened: {err}");
    assert!(err.contains("bad.toml: 4 problems"), "{err}");
    let expected = [
        (
            "bad.toml:5:9: `bob` is not an email address",
            "fix: write an address",
        ),
        (
            "bad.toml:7:8: a membership names user `ann@x.io`",
            "fix: add a [[users]] entry with email = \"ann@x.io\"",
        ),
        (
            "bad.toml:8:16: the membership of ann@x.io names organization `org_x`",
            "or use one of `org_",
        ),
        (
            "bad.toml:9:10: the membership of ann@x.io in org_x names role `admn`",
            "or use one of `admin`",
        ),
    ];
    let mut from = 0;
    for (problem, fix) in expected {
        let at = err[from..]
            .find(problem)
            .unwrap_or_else(|| panic!("{problem} not after byte {from} of: {err}"));
        from += at;
        let next = err[from..]
            .find(fix)
            .unwrap_or_else(|| panic!("{fix} not after {problem}: {err}"));
        from += next;
    }
}

#[test]
fn the_cli_notes_that_an_existing_state_wins_over_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let seed = template();
    let seed = seed.to_str().unwrap();
    for existing in [false, true] {
        let mut child = cli(dir.path(), &["--seed", seed, "--state", "state.json"]);
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let issuer = line.trim();
        let (_, users) =
            crate::http::get_json(&format!("{issuer}/.well-known/openid-configuration"), None);
        assert!(users.is_object());
        let _ = child.kill();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        let _ = child.wait();
        assert_eq!(
            err.contains("state.json exists, so the tenant comes from it"),
            existing,
            "{err}"
        );
        // Created from the seed at the first start.
        let saved = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
        assert!(saved.contains("alice@acme.test"));
    }
}

/// The README's example, and the error it quotes for a typo in it, are what the emulator does.
#[test]
fn the_readme_seed_example_loads_and_its_quoted_error_is_exact() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("**Seeds and reset.**").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.toml");
    std::fs::write(&path, block).unwrap();
    let tenant = Seed::load(&path)
        .unwrap()
        .build(vec!["k".into()], None)
        .unwrap();
    assert!(tenant.user_by_email("alice@acme.test").is_some());
    std::fs::write(
        &path,
        block.replace(r#"roles = ["admin"]"#, r#"roles = ["admn"]"#),
    )
    .unwrap();
    let refused = Seed::load(&path).unwrap_err().to_string();
    let quoted = "tenant.toml:21:10: the membership of alice@acme.test in org_acme names role \
                  `admn`, which no [[roles]] entry defines";
    assert!(refused.contains(&format!("/{quoted}\n")), "{refused}");
    assert!(
        section.contains(&quoted.replace("role `", "role\n`")),
        "README quotes it"
    );
}
