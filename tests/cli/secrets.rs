//! No secret appears in any output of any command, `-v` and `--json` included.

use crate::{World, stderr, stdout};

#[test]
fn no_command_prints_a_client_secret() {
    let w = World::new();
    let secret = w.management_secret();
    let app_secret = w.web_app().client_secret.unwrap();
    let token = w.token();
    w.write("kinde.toml", "[app]\ncallback_urls = [\"https://app.example/cb\"]\n[[apis]]\nname = \"A\"\naudience = \"https://a.example\"\nauthorize = [\"app\"]\n");
    let app_path = format!("/api/v1/applications/{}", w.web_app_id());
    let runs: Vec<Vec<&str>> = vec![
        vec!["-vv", "api", "get", &app_path],
        vec!["-v", "--json", "api", "get", "/api/v1/applications"],
        vec!["-v", "register", "--dry-run"],
        vec!["-v", "--json", "register", "--yes"],
        vec!["-v", "smoke"],
        vec!["-v", "smoke", "--format", "junit"],
        vec!["-v", "token"],
        vec!["-vv", "--json", "token"],
        vec!["-v", "token", "--decode", "--verify"],
        vec!["-v", "token", "--audience", "https://nope.example"],
        vec!["-v", "config"],
        vec!["-v", "--json", "config"],
        vec!["-v", "verify", &token],
        vec!["-v", "--json", "verify", &token],
    ];
    for args in runs {
        let out = w
            .cmd()
            .env("KINDE_CLIENT_SECRET", &app_secret)
            .args(&args)
            .output()
            .unwrap();
        for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(stream);
            assert!(
                !text.contains(&secret),
                "management secret in {name} of {args:?}"
            );
            assert!(
                !text.contains(&app_secret),
                "app secret in {name} of {args:?}"
            );
        }
    }
    // A wrong secret is not echoed back either.
    let out = w
        .cmd()
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", "WrongSecretValue123")
        .args(["-vv", "token"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("WrongSecretValue123"));
    // Nor does the token cache directory hold anything but tokens keyed by digest.
    for entry in std::fs::read_dir(w.cache.path().join("tokens")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&secret),
            "{} holds the secret",
            path.display()
        );
    }
}

/// A syntax error inside a multi-line secret (an array, a `'''` string, a table under the key)
/// names the file and line but never shows it; nor does a `.env` quote left open fold the next
/// line's secret into another value.
#[test]
fn malformed_config_never_shows_a_secret() {
    let w = World::new();
    let secret = "hunter2-from-a-broken-file";
    let toml_cases = [
        (
            format!(
                "[management]\nclient_id = \"abc\"\nclient_secret = [\n  \"{secret}\" \"x\",\n]\n"
            ),
            "kinde.toml:4:",
        ),
        (
            format!(
                "[management]\nclient_id = \"abc\"\nclient_secret = \"\"\"\n{secret}\\q\n\"\"\"\n"
            ),
            "kinde.toml:4:",
        ),
        (
            format!("[management]\nclient_secret = '''\n{secret}\n''' x\n"),
            "kinde.toml:4:",
        ),
        (
            format!("[management.client_secret]\nvalue = \"{secret}\" x\n"),
            "kinde.toml:2:",
        ),
        (
            format!("[management]\nclient_secret = {{\n  value = \"{secret}\" x }}\n"),
            "kinde.toml:3:",
        ),
    ];
    let check = |args: &[&str], place: &str| {
        let out = w.bare().args(args).output().unwrap();
        let (so, se) = (stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {se}");
        assert!(
            se.contains(place) || so.contains(place),
            "{args:?}: {place} not in {so}{se}"
        );
        assert!(
            !so.contains(secret) && !se.contains(secret),
            "{args:?} showed the secret:\n{so}\n{se}"
        );
    };
    for (text, place) in &toml_cases {
        w.write("kinde.toml", text);
        for args in [&["config"][..], &["--json", "config"], &["-vv", "token"]] {
            check(args, place);
        }
    }
    std::fs::remove_file(w.path("kinde.toml")).unwrap();
    for env in [
        format!("KINDE_MANAGEMENT_CLIENT_ID=\"abc\nKINDE_MANAGEMENT_CLIENT_SECRET={secret}\"\n"),
        format!("KINDE_MANAGEMENT_CLIENT_ID=\"abc\nKINDE_MANAGEMENT_CLIENT_SECRET={secret}\n"),
    ] {
        w.write(".env", &env);
        for args in [&["config"][..], &["--json", "config"], &["-vv", "token"]] {
            check(args, ".env:1:");
        }
    }
}
