//! No secret appears in any output of any command, `-v` and `--json` included.

use crate::World;

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
