//! Layering and diagnostics of the loader.

use super::*;

fn load(toml: &str, env: &[(&str, &str)], profile: Option<&str>) -> Result<Config, Error> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(FILE_NAME), toml).unwrap();
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let options = LoadOptions {
        profile: profile.map(String::from),
        cwd: dir.path().into(),
        ..Default::default()
    };
    Config::load(&options, &env)
}

#[test]
fn layers_file_profile_and_env() {
    let toml = "[tenant]\ndomain = \"acme.kinde.com\"\n[management]\nclient_id = \"m1\"\n[profiles.staging.tenant]\ndomain = \"https://acme-staging.kinde.com\"\n";
    let c = load(toml, &[], None).unwrap();
    assert_eq!(c.issuer().unwrap().as_str(), "https://acme.kinde.com");
    assert!(matches!(
        c.domain.unwrap().source,
        Source::File {
            line: 2,
            column: 10,
            ..
        }
    ));
    let c = load(toml, &[], Some("staging")).unwrap();
    assert_eq!(
        c.issuer().unwrap().as_str(),
        "https://acme-staging.kinde.com"
    );
    assert_eq!(c.management_client_id.unwrap().value, "m1");
    let c = load(toml, &[("KINDE_DOMAIN", "env.kinde.com")], Some("staging")).unwrap();
    assert_eq!(c.issuer().unwrap().as_str(), "https://env.kinde.com");
    assert_eq!(c.domain.unwrap().source, Source::Env("KINDE_DOMAIN".into()));
}

#[test]
fn unknown_profile_lists_known_ones() {
    let err = load(
        "[profiles.staging.tenant]\ndomain = \"a.kinde.com\"\n",
        &[],
        Some("prod"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no profile `prod`"));
    assert!(err.hint().unwrap().contains("staging"));
}

#[test]
fn bad_callback_url_points_at_it() {
    let err = load(
        "[app]\ncallback_urls = [\"https://ok.com/cb\", \"http://evil.com/cb\"]\n",
        &[],
        None,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("kinde.toml:2:39: "), "{msg}");
    assert!(msg.contains("plain http"), "{msg}");
}

#[test]
fn environment_alone_is_enough() {
    let dir = tempfile::tempdir().unwrap();
    let env: BTreeMap<String, String> = [
        ("KINDE_DOMAIN", "https://a.kinde.com"),
        ("KINDE_MANAGEMENT_CLIENT_SECRET", "s"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let options = LoadOptions {
        cwd: dir.path().into(),
        ..Default::default()
    };
    let c = Config::load(&options, &env).unwrap();
    assert!(c.file.is_none());
    assert_eq!(c.management_client_secret.unwrap().value.expose(), "s");
}

#[test]
fn dotenv_is_below_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "KINDE_DOMAIN=dotenv.kinde.com\nKINDE_CLIENT_ID=fromfile\n",
    )
    .unwrap();
    let env: BTreeMap<String, String> =
        [("KINDE_DOMAIN".to_string(), "env.kinde.com".to_string())].into();
    let options = LoadOptions {
        cwd: dir.path().into(),
        ..Default::default()
    };
    let c = Config::load(&options, &env).unwrap();
    assert_eq!(c.issuer().unwrap().as_str(), "https://env.kinde.com");
    assert_eq!(c.app_client_id.unwrap().value, "fromfile");
}

#[test]
fn implied_audiences_include_management_api() {
    let c = load("[tenant]\ndomain = \"a.kinde.com\"\n[[apis]]\nname = \"A\"\naudience = \"https://api.a.com\"\n", &[], None).unwrap();
    assert_eq!(
        c.implied_audiences(),
        vec!["https://api.a.com", "https://a.kinde.com/api"]
    );
}

#[test]
fn roles_and_permissions_are_read_with_defaults_and_their_places() {
    let toml = "[[permissions]]\nkey = \"read:x\"\n\n[[roles]]\nkey = \"admin\"\ndescription = \"d\"\npermissions = [\"read:x\", \"other\", \"read:x\"]\ndefault = true\n";
    let c = load(toml, &[], None).unwrap();
    let permissions = c.permissions.unwrap();
    assert_eq!(
        permissions[0].name, "read:x",
        "the name defaults to the key"
    );
    assert_eq!(permissions[0].description, None);
    let role = &c.roles.unwrap()[0];
    assert_eq!((role.name.as_str(), role.is_default), ("admin", true));
    let keys: Vec<&str> = role.permissions.iter().map(|p| p.value.as_str()).collect();
    assert_eq!(keys, ["read:x", "other"], "a repeat is asked for once");
    assert!(
        role.permissions[1]
            .source
            .to_string()
            .ends_with("kinde.toml:7:26"),
        "{}",
        role.permissions[1].source
    );
    let none = load("[tenant]\ndomain = \"a.kinde.com\"\n", &[], None).unwrap();
    assert!(none.roles.is_none() && none.permissions.is_none());
}

#[test]
fn bad_role_and_permission_keys_are_located() {
    for (toml, at, says) in [
        (
            "[[roles]]\nkey = \"\"\n",
            ":2:7: ",
            "role `key` must be non-empty",
        ),
        (
            "[[permissions]]\nkey = \"read x\"\n",
            ":2:7: ",
            "permission `key` must be non-empty, without spaces",
        ),
        (
            "[[roles]]\nkey = \"a\"\npermissions = [\"p q\"]\n",
            ":3:16: ",
            "a role's permission `key`",
        ),
        (
            "[[permissions]]\nkey = \"p\"\n[[permissions]]\nkey = \"p\"\n",
            ":4:7: ",
            "permission `p` is declared twice (first on line 2)",
        ),
        ("[[roles]]\nname = \"x\"\n", ":1:1: ", "missing field `key`"),
        (
            "[[roles]]\nkey = \"a\"\ndefault = \"yes\"\n",
            ":3:11: ",
            "invalid type",
        ),
    ] {
        let err = load(toml, &[], None).unwrap_err().to_string();
        assert!(err.contains(at) && err.contains(says), "{toml}: {err}");
    }
}
