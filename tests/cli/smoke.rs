use predicates::prelude::*;

use crate::{World, json, stderr, stdout};

const REGISTERED: &str = r#"
[app]
callback_urls = ["https://app.acme.example/callback"]

[[apis]]
name = "Acme API"
audience = "https://api.acme.example"
scopes = ["read:orders"]
authorize = ["app", "management"]
"#;

fn smoke(w: &World) -> assert_cmd::Command {
    let mut cmd = w.cmd();
    cmd.env("KINDE_CLIENT_ID", w.web_app_id()).arg("smoke");
    cmd
}

#[test]
fn the_default_suite_passes_against_a_registered_tenant() {
    let w = World::new();
    w.write("kinde.toml", REGISTERED);
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .assert()
        .success();
    let out = smoke(&w).output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for name in [
        "discovery document",
        "JWKS",
        "M2M token",
        "get users",
        "API https://api.acme.example registered",
        "callback URL https://app.acme.example/callback registered",
    ] {
        assert!(
            text.contains(&format!("✓ {name} (")),
            "{name} should pass:\n{text}"
        );
    }
    assert!(text.contains("6 passed, 0 failed, 0 skipped"), "{text}");
}

#[test]
fn the_default_suite_fails_with_the_fix_when_not_registered() {
    let w = World::new();
    w.write("kinde.toml", REGISTERED);
    let out = smoke(&w).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("✗ API https://api.acme.example registered"),
        "{text}"
    );
    assert!(text.contains("run `cargo kinde register`"), "{text}");
    assert!(text.contains("4 passed, 2 failed"), "{text}");
    assert!(stderr(&out).contains("2 smoke check(s) failed"));
}

const CHECKS: &str = r#"
[tokens.sample]
audience = ["urn:cargo-kinde:sample-api"]

[[smoke]]
name = "users pass"
path = "/api/v1/users"
tags = ["pass"]
[[smoke.assert]]
pointer = "/users"
length = 5
[[smoke.assert]]
pointer = "/users/0/email"
matches = "^alice@"
[[smoke.assert]]
pointer = "/code"
equals = "OK"
[[smoke.assert]]
pointer = "/next_token"
exists = false

[[smoke]]
name = "wrong length"
path = "/api/v1/users"
tags = ["fail"]
[[smoke.assert]]
pointer = "/users"
length = 3

[[smoke]]
name = "wrong equals"
path = "/api/v1/users"
tags = ["fail"]
[[smoke.assert]]
pointer = "/code"
equals = "NOPE"

[[smoke]]
name = "wrong status"
path = "/api/v1/users"
token = "none"
tags = ["fail"]

[[smoke]]
name = "sample API with its token"
url = "{issuer}/sample/protected"
token = "sample"
tags = ["pass"]
[[smoke.assert]]
pointer = "/message"
matches = "protected"
"#;

#[test]
fn each_assertion_kind_passes_and_fails_with_its_reason() {
    let w = World::new();
    w.write("kinde.toml", CHECKS);
    let out = smoke(&w).args(["--tag", "pass"]).output().unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("2 passed, 0 failed"),
        "{}",
        stdout(&out)
    );
    let out = smoke(&w)
        .args(["--tag", "fail", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!(doc["failed"], 3);
    let detail = |name: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(detail("wrong length"), "`/users` has length 5, expected 3");
    assert_eq!(
        detail("wrong equals"),
        "`/code` is \"OK\", expected \"NOPE\""
    );
    assert_eq!(detail("wrong status"), "status 401, expected 200");
    let failed = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "wrong status")
        .unwrap();
    assert_eq!(
        failed["request"],
        format!("GET {}/api/v1/users", w.issuer())
    );
    assert!(failed["body"].as_str().unwrap().contains("UNAUTHORIZED"));
}

#[test]
fn probes_catch_the_vulnerable_route_and_pass_the_protected_one() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[[protect]]\nname = \"good\"\nurl = \"{issuer}/sample/protected\"\naudience = \"urn:cargo-kinde:sample-api\"\n\n[[protect]]\nname = \"bad\"\nurl = \"{issuer}/sample/vulnerable\"\naudience = \"urn:cargo-kinde:sample-api\"\n",
    );
    let out = smoke(&w).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    let status = |name: &str| {
        let check = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"));
        (
            check["status"].as_str().unwrap().to_string(),
            check["detail"].as_str().unwrap().to_string(),
        )
    };
    for probe in [
        "no token",
        "a tampered signature",
        "alg: none",
        "HS256 signed with the public key",
        "an expired token",
        "a token for another audience",
    ] {
        let (good, detail) = status(&format!("good: refuses {probe}"));
        assert_eq!(good, "pass", "protected route, {probe}: {detail}");
    }
    assert_eq!(status("bad: refuses no token").0, "pass");
    let holes = [
        ("a tampered signature", "signatures are not verified"),
        ("alg: none", "alg: none"),
        ("HS256 signed with the public key", "algorithm confusion"),
        ("an expired token", "`exp` is not checked"),
        ("a token for another audience", "`aud` is not checked"),
    ];
    for (probe, hole) in holes {
        let (bad, detail) = status(&format!("bad: refuses {probe}"));
        assert_eq!(bad, "fail", "vulnerable route, {probe}");
        assert!(
            detail.contains("answered 200 instead of 401 or 403") && detail.contains(hole),
            "{detail}"
        );
    }
    assert_eq!(doc["failed"], 5);
}

#[test]
fn junit_is_valid_xml_with_the_right_counts() {
    let w = World::new();
    w.write("kinde.toml", CHECKS);
    let report = w.path("report.xml");
    let out = smoke(&w)
        .args(["--format", "junit", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("2 passed, 3 failed, 0 skipped"),
        "{}",
        stderr(&out)
    );
    let xml = std::fs::read_to_string(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    assert_eq!(suites.attribute("tests"), Some("5"));
    assert_eq!(suites.attribute("failures"), Some("3"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 5);
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 3);
    assert!(
        failures
            .iter()
            .any(|f| f.attribute("message") == Some("status 401, expected 200"))
    );
}

#[test]
fn only_tag_and_list_select_checks() {
    let w = World::new();
    w.write("kinde.toml", CHECKS);
    let out = smoke(&w).arg("--list").output().unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out).lines().count(), 5);
    assert_eq!(w.count("GET /api/v1/users"), 0, "--list runs nothing");
    smoke(&w)
        .args(["--only", "users pass"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 passed, 0 failed"));
    smoke(&w)
        .args(["--only", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such check"))
        .stderr(predicate::str::contains("users pass"));
    smoke(&w)
        .args(["--tag", "nothing"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no checks to run"));
}

#[test]
fn fail_fast_skips_the_rest_and_timeouts_fail_a_check() {
    let w = World::new();
    w.write("kinde.toml", CHECKS);
    let out = smoke(&w)
        .args(["--tag", "fail", "--fail-fast", "--jobs", "1", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!(
        (doc["failed"].as_u64(), doc["skipped"].as_u64()),
        (Some(1), Some(2)),
        "{doc}"
    );
    w.inject("latency:3000@/api/v1/users");
    let out = smoke(&w)
        .args(["--only", "users pass", "--timeout", "0.3"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "no answer in time is a network failure"
    );
    assert!(
        stdout(&out).contains("timed out after 0.3 s"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn latency_limits_fail_slow_checks() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[[smoke]]\nname = \"slow\"\npath = \"/api/v1/users\"\nmax_latency_ms = 50\n",
    );
    w.inject("latency:200@/api/v1/users");
    smoke(&w)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("more than max_latency_ms = 50"));
}

#[test]
fn bad_checks_in_kinde_toml_are_config_errors() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[[smoke]]\nname = \"x\"\npath = \"/api/v1/users\"\ntoken = \"mystery\"\n",
    );
    smoke(&w)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "kinde.toml:1:1: smoke check `x`: `token` `mystery`",
        ))
        .stderr(predicate::str::contains("[tokens.mystery]"));
    // `method` is typed when the file is read, pointing at the value.
    w.write(
        "kinde.toml",
        "[[smoke]]\nname = \"x\"\npath = \"/a\"\nmethod = \"FETCH\"\n",
    );
    smoke(&w).assert().code(2).stderr(predicate::str::contains(
        "kinde.toml:4:10: `method` `FETCH` is not an HTTP method",
    ));
    w.write(
        "kinde.toml",
        "[[protect]]\nurl = \"https://api.example/x\"\nmethod = \"get\"\n",
    );
    smoke(&w).arg("--list").assert().success();
    w.write("kinde.toml", "[[smoke]]\nname = \"x\"\n");
    smoke(&w)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs `path`"));
    w.write("kinde.toml", "[[smoke]]\nname = \"x\"\npath = \"/a\"\n[[smoke.assert]]\npointer = \"/a\"\nmatches = \"(\"\n");
    smoke(&w)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a regular expression"));
}

#[test]
fn refused_credentials_are_an_auth_error_after_the_human_report() {
    let w = World::new();
    smoke(&w)
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", "wrong")
        .assert()
        .code(4)
        .stdout(predicate::str::contains("2 passed, 2 failed"))
        .stderr(predicate::str::contains("invalid_client"))
        .stderr(predicate::str::contains("KINDE_MANAGEMENT_CLIENT_SECRET"));
}

#[test]
fn smoke_emulator_registers_kinde_toml_and_passes() {
    // The README's main job, with the repository's own kinde.toml.
    let w = World::new();
    let root_toml =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/kinde.toml")).unwrap();
    w.write("kinde.toml", &root_toml);
    let out = w.bare().args(["smoke", "--emulator"]).output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("registered kinde.toml in the embedded emulator"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("9 passed, 0 failed, 0 skipped"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn one_m2m_token_per_run_even_when_it_cannot_be_cached() {
    // A read-only cache (a CI sandbox) and a token endpoint that fails every second request: the
    // checks use the token fetched before they start; they used to fetch another one, and the
    // probes were reported skipped when it failed.
    let w = World::new();
    w.write(
        "kinde.toml",
        "[[protect]]\nname = \"api\"\nurl = \"{issuer}/sample/protected\"\n",
    );
    w.write("not-a-directory", "");
    let mut fault = cargo_kinde::emulator::faults::Fault::new(
        "/oauth2/token",
        cargo_kinde::emulator::faults::FaultKind::Status { status: 503 },
    );
    fault.share = Some(0.5);
    w.emulator.state().inject(fault);
    let out = smoke(&w)
        .env("CARGO_KINDE_CACHE_DIR", w.path("not-a-directory"))
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("could not cache the token"),
        "{}",
        stderr(&out)
    );
    let doc = json(&out);
    assert_eq!(
        (doc["passed"].as_u64(), doc["skipped"].as_u64()),
        (Some(5), Some(1)),
        "{doc}"
    );
    let skipped = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "skip")
        .unwrap();
    assert_eq!(skipped["name"], "api: refuses a token for another audience");
    assert_eq!(w.count("POST /oauth2/token"), 1);
}

#[test]
fn a_report_that_cannot_be_written_is_a_file_error() {
    let w = World::new();
    w.write("kinde.toml", CHECKS);
    w.write("file", "");
    smoke(&w)
        .args(["--only", "users pass", "--output"])
        .arg(w.path("file").join("report.txt"))
        .assert()
        .code(5);
}

#[test]
fn reports_never_show_the_token_or_raw_escapes_from_an_echoing_server() {
    use crate::fake::{Answer, ESCAPES, has_raw_escapes, serve};
    const SECRET: &str = "SmokeFakeSecret0123456789abcdefghijKLMN";
    const TOKEN: &str = "smoke-fake-access-token-0123456789abcdef";
    let w = World::new();
    let fake = serve(|seen| match seen.path.as_str() {
        "/oauth2/token" => Answer::json(
            200,
            serde_json::json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}),
        ),
        // No document: the client falls back to Kinde's paths (the smoke check reports it).
        "/.well-known/openid-configuration" => Answer::text(404, "no discovery"),
        _ => Answer::text(500, format!("{} {}{ESCAPES}", seen.method, seen.head)),
    });
    for format in ["human", "json", "junit"] {
        let report = w.path(&format!("report.{format}"));
        let out = w
            .bare()
            .env("KINDE_DOMAIN", &fake.url)
            .env("KINDE_MANAGEMENT_CLIENT_ID", "fakeclient")
            .env("KINDE_MANAGEMENT_CLIENT_SECRET", SECRET)
            .args(["--color", "always", "smoke", "--format", format])
            .output()
            .unwrap();
        let with_file = w
            .bare()
            .env("KINDE_DOMAIN", &fake.url)
            .env("KINDE_MANAGEMENT_CLIENT_ID", "fakeclient")
            .env("KINDE_MANAGEMENT_CLIENT_SECRET", SECRET)
            .args(["smoke", "--format", format, "-o"])
            .arg(&report)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let all = format!(
            "{}{}{}{}{}",
            stdout(&out),
            stderr(&out),
            stdout(&with_file),
            stderr(&with_file),
            std::fs::read_to_string(&report).unwrap()
        );
        assert!(
            all.contains("GET ") && all.contains("Bearer ***"),
            "the echo is reported: {all}"
        );
        assert!(!all.contains(SECRET) && !all.contains(TOKEN), "{all}");
        assert!(!has_raw_escapes(&all), "{all:?}");
    }
}

/// The failure messages of a JUnit report, which must be valid XML.
fn junit_failures(path: &std::path::Path) -> Vec<String> {
    let xml = std::fs::read_to_string(path).expect("the JUnit report is written");
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("failure"))
        .map(|n| {
            format!(
                "{} {}",
                n.attribute("message").unwrap_or(""),
                n.text().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn refused_credentials_still_write_the_report_with_the_reason_and_exit_4() {
    // CI uploads the report as an artifact: it must exist when the token is refused.
    let w = World::new();
    let report = w.path("j.xml");
    let out = smoke(&w)
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", "wrong")
        .args(["--format", "junit", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid_client"), "{}", stderr(&out));
    let failures = junit_failures(&report);
    assert_eq!(failures.len(), 2, "M2M token and get users: {failures:?}");
    for failure in &failures {
        assert!(
            failure
                .to_lowercase()
                .contains("could not get the m2m token")
                && failure.contains("invalid_client"),
            "{failure}"
        );
    }
    for args in [&["--format", "json"][..], &["--json"]] {
        let out = smoke(&w)
            .env("KINDE_MANAGEMENT_CLIENT_SECRET", "wrong")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
        let doc = json(&out);
        assert_eq!(
            (doc["passed"].as_u64(), doc["failed"].as_u64()),
            (Some(2), Some(2)),
            "{doc}"
        );
        assert_eq!(doc["checks"][2]["cause"], "refused", "{doc}");
    }
}

/// A host that accepts connections and never answers.
fn silent_host() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().flatten() {
            open.push(stream);
        }
    });
    url
}

#[test]
fn a_host_that_never_answers_is_bounded_by_the_timeouts_and_still_reported() {
    let w = World::new();
    let host = silent_host();
    let run = |args: &[&str]| {
        let started = std::time::Instant::now();
        let out = w
            .bare()
            .env("KINDE_DOMAIN", &host)
            .env("KINDE_MANAGEMENT_CLIENT_ID", "someone")
            .env("KINDE_MANAGEMENT_CLIENT_SECRET", "something")
            .arg("smoke")
            .args(args)
            .output()
            .unwrap();
        // A bound, not a benchmark: it took 30 s and more before.
        assert!(
            started.elapsed().as_secs() < 15,
            "{args:?} took {:?}",
            started.elapsed()
        );
        out
    };
    let report = w.path("j.xml");
    let out = run(&[
        "--timeout",
        "2",
        "--total-timeout",
        "5",
        "--format",
        "junit",
        "-o",
        report.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "nothing answered: {}",
        stderr(&out)
    );
    let failures = junit_failures(&report);
    assert_eq!(failures.len(), 4, "{failures:?}");
    assert!(
        failures.iter().all(|f| f.contains("timed out after 2 s")),
        "{failures:?}"
    );
    // The total limit alone bounds the token request and every check.
    let out = run(&[
        "--timeout",
        "60",
        "--total-timeout",
        "3",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["failed"], 4, "{doc}");
    for check in doc["checks"].as_array().unwrap() {
        let detail = check["detail"].as_str().unwrap();
        assert!(
            detail.contains("did not finish within the total timeout (3 s, --total-timeout)"),
            "{detail}"
        );
        assert_eq!(check["cause"], "network");
    }
}

#[test]
fn exit_3_when_nothing_answered_and_1_when_an_answer_was_wrong() {
    let w = World::new();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    w.write(
        "kinde.toml",
        &format!(
            "[[smoke]]\nname = \"down\"\nurl = \"http://127.0.0.1:{closed}/health\"\ntoken = \"none\"\n\n[[smoke]]\nname = \"wrong status\"\npath = \"/api/v1/users\"\ntoken = \"none\"\n"
        ),
    );
    let out = smoke(&w)
        .args(["--only", "down", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert_eq!(json(&out)["checks"][0]["cause"], "network");
    let out = smoke(&w).arg("--json").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "one answer was wrong: {}",
        stdout(&out)
    );
    assert_eq!(json(&out)["checks"][1]["cause"], "check");
}

#[test]
fn reports_for_others_mask_emails_and_names_unless_show_pii() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[[smoke]]\nname = \"users\"\npath = \"/api/v1/users?page_size=1\"\n[[smoke.assert]]\npointer = \"/users\"\nlength = 3\n",
    );
    let report = w.path("j.xml");
    let junit = |extra: &[&str]| {
        let out = smoke(&w)
            .args(["--format", "junit", "-o"])
            .arg(&report)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        junit_failures(&report).join("\n")
    };
    let masked = junit(&[]);
    assert!(masked.contains("a***@example.com"), "{masked}");
    assert!(
        !masked.contains("alice@example.com") && !masked.contains("Alice"),
        "{masked}"
    );
    assert!(masked.contains("\"first_name\":\"***\""), "{masked}");
    let shown = junit(&["--show-pii"]);
    assert!(
        shown.contains("alice@example.com") && shown.contains("Alice"),
        "{shown}"
    );
    let out = smoke(&w).arg("--json").output().unwrap();
    assert!(
        !stdout(&out).contains("alice@example.com"),
        "{}",
        stdout(&out)
    );
    // Plain output in a CI log (CI=true) or a pipe is read by others too: masked, unless asked.
    for ci in ["true", ""] {
        let out = smoke(&w).env("CI", ci).output().unwrap();
        let text = stdout(&out);
        assert!(text.contains("a***@example.com"), "CI={ci:?}: {text}");
        assert!(
            !text.contains("alice@example.com") && !text.contains("\"Alice\""),
            "CI={ci:?}: {text}"
        );
    }
    let out = smoke(&w).arg("--show-pii").output().unwrap();
    assert!(
        stdout(&out).contains("alice@example.com"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_quoted_expect_status_says_what_is_accepted_where() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[[smoke]]\nname = \"x\"\npath = \"/a\"\nexpect_status = \"200\"\n",
    );
    smoke(&w)
        .arg("--list")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "kinde.toml:4:17: `expect_status` \"200\" is a string: write the number without quotes, expect_status = 200",
        ))
        .stderr(predicate::str::contains("untagged").not());
    w.write(
        "kinde.toml",
        "[[smoke]]\nname = \"x\"\npath = \"/a\"\nexpect_status = [200, \"2xx\"]\n",
    );
    smoke(&w).arg("--list").assert().code(2).stderr(predicate::str::contains(
        "`expect_status` \"2xx\" is not a status: write a number from 100 to 599, expect_status = 200, or a list of them, expect_status = [200, 204]",
    ));
}

#[test]
fn smoke_emulator_without_kinde_toml_says_what_it_runs() {
    let w = World::new();
    let out = w.bare().args(["smoke", "--emulator"]).output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no kinde.toml: default suite against the emulator's tenant"),
        "{err}"
    );
    assert!(!err.contains("registered"), "{err}");
}

#[test]
fn missing_secret_still_writes_the_report_and_following_the_hint_passes() {
    let w = World::new();
    let report = w.path("j.xml");
    let out = smoke(&w)
        .env_remove("KINDE_MANAGEMENT_CLIENT_SECRET")
        .args(["--format", "junit", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let failures = junit_failures(&report);
    assert_eq!(failures.len(), 2, "M2M token and get users: {failures:?}");
    for failure in &failures {
        assert!(
            failure.contains("KINDE_MANAGEMENT_CLIENT_SECRET"),
            "{failure}"
        );
    }
    let err = stderr(&out);
    assert!(err.contains("2 passed, 2 failed"), "{err}");
    let hint = err
        .lines()
        .find(|l| l.starts_with("help: "))
        .unwrap_or_else(|| panic!("a hint: {err}"));
    assert!(hint.contains(".env next to kinde.toml"), "{hint}");
    let out = smoke(&w)
        .env_remove("KINDE_MANAGEMENT_CLIENT_SECRET")
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    assert_eq!(doc["error"]["exit_code"], 2, "{doc}");
    assert_eq!(doc["checks"][2]["cause"], "setup", "{doc}");
    // The hint followed: the secret in .env next to kinde.toml.
    w.write("kinde.toml", "");
    w.write(
        ".env",
        &format!("KINDE_MANAGEMENT_CLIENT_SECRET={}\n", w.management_secret()),
    );
    let out = smoke(&w)
        .env_remove("KINDE_MANAGEMENT_CLIENT_SECRET")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn a_failure_before_the_checks_is_a_failed_setup_check_in_the_report() {
    let w = World::new();
    // The emulator has no such application: registering kinde.toml in it fails.
    w.write(
        "kinde.toml",
        "[[apis]]\nname = \"Orders\"\naudience = \"https://orders.example\"\nauthorize = [\"no0such0app\"]\n",
    );
    let report = w.path("j.xml");
    let out = w
        .bare()
        .args(["smoke", "--emulator", "--format", "junit", "-o"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let failures = junit_failures(&report);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("cannot register kinde.toml in the emulator")
            && failures[0].contains("no0such0app"),
        "{failures:?}"
    );
    assert!(
        stderr(&out).contains("error: cannot register kinde.toml"),
        "{}",
        stderr(&out)
    );
    let out = w
        .bare()
        .args(["smoke", "--emulator", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    assert_eq!(doc["failed"], 1, "{doc}");
    assert_eq!(doc["checks"][0]["name"], "setup");
    assert_eq!(doc["checks"][0]["cause"], "setup");
    assert_eq!(doc["error"]["kind"], "input");
    // A configuration that does not load is reported the same way.
    w.write(
        "kinde.toml",
        "[[smoke]]\nname = \"x\"\npath = \"/a\"\nexpect_status = \"200\"\n",
    );
    let out = smoke(&w)
        .args(["--format", "json", "-o"])
        .arg(w.path("r.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("r.json")).unwrap()).unwrap();
    assert_eq!(written["checks"][0]["name"], "setup");
    assert!(
        written["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("expect_status"),
        "{written}"
    );
}

/// The keys of a JSON object, sorted.
fn keys(value: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

#[test]
fn json_is_one_document_on_stdout_in_every_mode() {
    let w = World::new();
    w.write("kinde.toml", CHECKS);
    let out = smoke(&w).args(["--list", "--json"]).output().unwrap();
    assert!(out.status.success());
    let doc = json(&out);
    assert_eq!(keys(&doc), ["checks", "warnings"]);
    assert_eq!(doc["checks"].as_array().unwrap().len(), 5);
    assert_eq!(keys(&doc["checks"][0]), ["name", "tags"]);
    assert_eq!(doc["checks"][0]["name"], "users pass");
    let report = w.path("j.xml");
    let out = smoke(&w)
        .args(["--tag", "pass", "--format", "junit", "--json", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(
        keys(&doc),
        [
            "checks",
            "duration_ms",
            "failed",
            "output",
            "passed",
            "skipped",
            "warnings"
        ]
    );
    assert_eq!(doc["output"], report.display().to_string());
    assert_eq!(
        keys(&doc["checks"][0]),
        [
            "body",
            "detail",
            "duration_ms",
            "http_status",
            "name",
            "request",
            "status",
            "tags"
        ]
    );
    roxmltree::Document::parse(&std::fs::read_to_string(&report).unwrap()).expect("XML");
    // An error is one document too, with the error inside.
    let out = smoke(&w)
        .args(["--json", "--only", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    assert_eq!(
        keys(&doc),
        [
            "checks",
            "duration_ms",
            "error",
            "failed",
            "passed",
            "skipped",
            "warnings"
        ]
    );
    assert_eq!(
        keys(&doc["error"]),
        ["exit_code", "hint", "kind", "message"]
    );
    assert_eq!(doc["error"]["exit_code"], 2);
    assert_eq!(doc["checks"][0]["name"], "setup");
    let out = smoke(&w)
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", "wrong")
        .args(["--json", "--tag", "pass"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let doc = json(&out);
    assert_eq!(doc["error"]["exit_code"], 4, "{doc}");
    assert!(doc["checks"].is_array());
}

#[test]
fn json_with_a_text_report_on_stdout_is_refused_and_the_hint_works() {
    let w = World::new();
    w.write("kinde.toml", CHECKS);
    for format in ["junit", "human"] {
        let out = smoke(&w)
            .args(["--tag", "pass", "--json", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let doc = json(&out);
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(message.contains("needs a file"), "{message}");
        let hint = doc["error"]["hint"].as_str().unwrap();
        assert!(hint.contains("--output FILE"), "{hint}");
        // Followed: the report in the file, the JSON on stdout.
        let file = w.path(&format!("smoke.{format}"));
        let out = smoke(&w)
            .args(["--tag", "pass", "--json", "--format", format, "--output"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(json(&out)["passed"], 2);
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .contains("users pass")
        );
    }
}

#[test]
fn quiet_prints_nothing_on_success_and_only_the_failures_otherwise() {
    let w = World::new();
    w.write("kinde.toml", CHECKS);
    let out = smoke(&w)
        .args(["--tag", "pass", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!((stdout(&out), stderr(&out)), (String::new(), String::new()));
    let out = smoke(&w).arg("--quiet").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("✗ wrong status"), "{text}");
    assert!(!text.contains("✓"), "only the failures: {text}");
    assert!(text.contains("2 passed, 3 failed"), "{text}");
    assert_eq!(
        stderr(&out).trim(),
        "error: 3 smoke check(s) failed",
        "no status lines, no warnings"
    );
}

#[test]
fn custom_checks_without_smoke_suite_warn_once_and_the_fix_brings_the_defaults_back() {
    let w = World::new();
    let mine = "[[smoke]]\nname = \"mine\"\npath = \"/api/v1/users\"\n";
    w.write("kinde.toml", mine);
    let out = smoke(&w).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("no [smoke_suite]").count(), 1, "{err}");
    assert!(err.contains("`defaults = true`"), "{err}");
    assert!(stdout(&out).contains("1 passed"), "{}", stdout(&out));
    let doc = json(&smoke(&w).arg("--json").output().unwrap());
    assert!(
        doc["warnings"][0]
            .as_str()
            .unwrap()
            .contains("[smoke_suite]"),
        "{doc}"
    );
    // Followed: the default suite runs with the custom check, and the warning is gone.
    w.write(
        "kinde.toml",
        &format!("[smoke_suite]\ndefaults = true\n{mine}"),
    );
    let out = smoke(&w).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("✓ discovery document") && text.contains("✓ mine"),
        "{text}"
    );
    assert!(text.contains("5 passed"), "{text}");
}

#[test]
fn flags_that_cannot_work_together_are_refused() {
    let w = World::new();
    w.write("kinde.toml", CHECKS);
    for (args, says) in [
        (
            &["--list", "--output", "x.xml"][..],
            "'--list' cannot be used with '--output <FILE>'",
        ),
        (
            &["--list", "--format", "json"],
            "'--list' cannot be used with '--format <FORMAT>'",
        ),
        (
            &["--list", "--jobs", "2"],
            "'--list' cannot be used with '--jobs <N>'",
        ),
        (
            &["--list", "--fail-fast"],
            "'--list' cannot be used with '--fail-fast'",
        ),
        (
            &["--list", "--show-pii"],
            "'--list' cannot be used with '--show-pii'",
        ),
        (
            &["--list", "--timeout", "3"],
            "'--list' cannot be used with '--timeout <SECS>'",
        ),
        (&["--jobs", "0"], "invalid value '0' for '--jobs <N>'"),
        (
            &["--timeout", "0"],
            "`0` is not a positive number of seconds",
        ),
        (
            &["--total-timeout=-1"],
            "`-1` is not a positive number of seconds",
        ),
    ] {
        smoke(&w)
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    assert_eq!(w.count("GET /api/v1/users"), 0, "nothing ran");
    // What works together does: --list with a selection, --emulator with a profile's checks.
    smoke(&w)
        .args(["--list", "--tag", "fail"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrong status"));
    let v = World::new();
    v.write(
        "kinde.toml",
        "[smoke_suite]\ndefaults = false\n[profiles.staging.tenant]\ndomain = \"https://staging.example.com\"\n[[profiles.staging.smoke]]\nname = \"staging users\"\npath = \"/api/v1/users\"\n",
    );
    v.bare()
        .args(["smoke", "--emulator", "--profile", "staging"])
        .assert()
        .success()
        .stdout(predicate::str::contains("✓ staging users"))
        .stdout(predicate::str::contains("1 passed, 0 failed"));
}

#[test]
fn each_hint_of_smoke_works_when_followed() {
    let w = World::new();
    w.write("kinde.toml", CHECKS);
    // --only with an unknown name lists the checks: one of them runs.
    let out = smoke(&w).args(["--only", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let listed = err
        .lines()
        .find_map(|l| l.strip_prefix("help: checks: "))
        .unwrap_or_else(|| panic!("{err}"));
    let first = listed.split(", ").next().unwrap();
    smoke(&w)
        .args(["--only", first])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 passed"));
    // A selection that matches nothing points at --list, which shows the tags to use.
    smoke(&w)
        .args(["--tag", "nothing"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`cargo kinde smoke --list`"));
    let out = smoke(&w).arg("--list").output().unwrap();
    assert!(stdout(&out).contains("[pass]"), "{}", stdout(&out));
    smoke(&w).args(["--tag", "pass"]).assert().success();
    // No checks at all: the hint's [smoke_suite] defaults = true runs the default suite.
    w.write("kinde.toml", "[smoke_suite]\ndefaults = false\n");
    smoke(&w).assert().code(2).stderr(predicate::str::contains(
        "`defaults = true` under [smoke_suite]",
    ));
    w.write("kinde.toml", "[smoke_suite]\ndefaults = true\n");
    smoke(&w)
        .assert()
        .success()
        .stdout(predicate::str::contains("4 passed, 0 failed"));
    // A refused secret names the variables to fix: fixed, the run passes.
    let out = smoke(&w)
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", "wrong")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("help: check the client id"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("KINDE_MANAGEMENT_CLIENT_SECRET"));
    smoke(&w).assert().success();
    // An unregistered API says to run `cargo kinde register`: after it, the check passes.
    w.write("kinde.toml", REGISTERED);
    smoke(&w)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("run `cargo kinde register`"));
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .assert()
        .success();
    smoke(&w).assert().success();
}

/// The review's finding 7: the registered-resource checks call the Management API with the run's
/// one M2M token; refused or missing, they fail with its reason instead of asking again, and a
/// missing secret is named as the secret (the client id is set).
#[test]
fn registered_checks_reuse_the_runs_token_and_fail_with_its_reason() {
    let w = World::new();
    w.write("kinde.toml", REGISTERED);
    w.cmd()
        .env("KINDE_CLIENT_ID", w.web_app_id())
        .args(["register", "--yes"])
        .assert()
        .success();
    // No cache to fall back on: every token the run asks for is a request.
    w.write("not-a-directory", "");
    let before = w.count("POST /oauth2/token");
    let out = smoke(&w)
        .env("CARGO_KINDE_CACHE_DIR", w.path("not-a-directory"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("6 passed"), "{}", stdout(&out));
    assert_eq!(
        w.count("POST /oauth2/token") - before,
        1,
        "one token for the run"
    );
    let registered = |doc: &serde_json::Value| -> Vec<serde_json::Value> {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"].as_str().unwrap().ends_with(" registered"))
            .cloned()
            .collect()
    };
    let before = w.count("POST /oauth2/token");
    let out = smoke(&w)
        .env("CARGO_KINDE_CACHE_DIR", w.path("not-a-directory"))
        .env("KINDE_MANAGEMENT_CLIENT_SECRET", "wrong")
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(
        w.count("POST /oauth2/token") - before,
        1,
        "asked once, refused once"
    );
    let doc = json(&out);
    let checks = registered(&doc);
    assert_eq!(checks.len(), 2, "{doc}");
    for c in &checks {
        assert_eq!(c["status"], "fail", "{c}");
        let detail = c["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("could not get the M2M token") && detail.contains("invalid_client"),
            "{c}"
        );
    }
    let out = smoke(&w)
        .env_remove("KINDE_MANAGEMENT_CLIENT_SECRET")
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let doc = json(&out);
    for c in registered(&doc) {
        let detail = c["detail"].as_str().unwrap();
        assert!(
            detail.contains(
                "missing the management app's client secret (KINDE_MANAGEMENT_CLIENT_SECRET)"
            ) && !detail.contains("client id"),
            "{c}"
        );
    }
    assert!(
        stdout(&out).contains("set it in the environment"),
        "{}",
        stdout(&out)
    );
}

/// A service other than the issuer that refuses every request with 401 and keeps the bearer
/// tokens it was sent; its base URL.
fn recording_service() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::http::{HeaderMap, StatusCode};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let kept = kept.clone();
        async move {
            if let Some(token) = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
            {
                kept.lock().unwrap().push(token.to_string());
            }
            StatusCode::UNAUTHORIZED
        }
    });
    (format!("http://{}", crate::serve(app)), seen)
}

/// The `aud` of each token (its payload read without any check): a forgery keeps the claims of
/// the token it was made from.
fn audiences(tokens: &[String]) -> Vec<String> {
    use base64::Engine;
    tokens
        .iter()
        .filter_map(|t| t.split('.').nth(1))
        .filter_map(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .filter_map(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
        .map(|claims| claims["aud"].to_string())
        .collect()
}

const PROTECTED_ELSEWHERE: &str = r#"
[[apis]]
name = "Acme API"
audience = "https://api.acme.example"
authorize = ["management"]

[[apis]]
name = "Billing"
audience = "https://billing.acme.example"
authorize = ["management"]

[[protect]]
name = "with audience"
url = "SERVICE/orders"
audience = "https://api.acme.example"

[[protect]]
name = "without audience"
url = "SERVICE/orders"
"#;

#[test]
fn protect_probes_of_another_service_never_send_the_management_api_token() {
    let w = World::new();
    let (service, seen) = recording_service();
    w.write(
        "kinde.toml",
        &PROTECTED_ELSEWHERE.replace("SERVICE", &service),
    );
    w.cmd().args(["register", "--yes"]).assert().success();
    let out = smoke(&w).arg("--json").output().unwrap();
    let doc = json(&out);
    // The emulator mints what the M2M app has no token for: every probe runs but one.
    for who in ["with audience", "without audience"] {
        for probe in [
            "no token",
            "a tampered signature",
            "alg: none",
            "HS256 signed with the public key",
            "an expired token",
        ] {
            let (status, detail) =
                crate::smoke_openapi::check(&doc, &format!("{who}: refuses {probe}"));
            assert_eq!(status, "pass", "{who}, {probe}: {detail}");
        }
    }
    let (status, detail) =
        crate::smoke_openapi::check(&doc, "with audience: refuses a token for another audience");
    assert_eq!(status, "pass", "{detail}");
    let (status, detail) = crate::smoke_openapi::check(
        &doc,
        "without audience: refuses a token for another audience",
    );
    assert_eq!(status, "skip", "{detail}");
    assert!(detail.contains("set `audience`"), "{detail}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 9, "9 probes send a token");
    let management = format!("{}/api", w.issuer());
    for aud in audiences(&seen) {
        assert!(
            !aud.contains(&management),
            "the Management API token was sent: {aud}"
        );
    }
}

#[test]
fn against_a_tenant_the_other_audience_probe_sends_another_apis_token() {
    let w = World::new();
    let (service, seen) = recording_service();
    w.write(
        "kinde.toml",
        &PROTECTED_ELSEWHERE.replace("SERVICE", &service),
    );
    w.cmd().args(["register", "--yes"]).assert().success();
    // A tenant answers 404 where the emulator mints.
    let tenant = crate::smoke_openapi::without_minting(&w.issuer());
    let out = smoke(&w)
        .env("KINDE_DOMAIN", &tenant)
        .arg("--json")
        .output()
        .unwrap();
    let doc = json(&out);
    let (status, detail) =
        crate::smoke_openapi::check(&doc, "with audience: refuses a token for another audience");
    assert_eq!(status, "pass", "{detail}");
    for probe in [
        "a tampered signature",
        "alg: none",
        "HS256 signed with the public key",
    ] {
        let (status, detail) =
            crate::smoke_openapi::check(&doc, &format!("with audience: refuses {probe}"));
        assert_eq!(status, "pass", "{probe}: {detail}");
        // Nothing to forge from without the API's token: never the Management API's.
        let (status, detail) =
            crate::smoke_openapi::check(&doc, &format!("without audience: refuses {probe}"));
        assert_eq!(status, "skip", "{probe}: {detail}");
        assert!(
            detail.contains("the Management API token is never sent"),
            "{detail}"
        );
    }
    let seen = seen.lock().unwrap().clone();
    let audiences = audiences(&seen);
    assert!(
        audiences
            .iter()
            .any(|a| a.contains("https://billing.acme.example")),
        "{audiences:?}"
    );
    for aud in &audiences {
        assert!(
            !aud.contains("/api\""),
            "the Management API token was sent: {aud}"
        );
    }
}

#[test]
fn a_protect_entry_for_the_management_apis_audience_sends_nothing_made_from_its_token() {
    let w = World::new();
    let (service, seen) = recording_service();
    w.write(
        "kinde.toml",
        &format!(
            "[[protect]]\nname = \"admin\"\nurl = \"{service}/admin\"\naudience = \"{}/api\"\n",
            w.issuer()
        ),
    );
    let out = smoke(&w).arg("--json").output().unwrap();
    let doc = json(&out);
    for probe in [
        "a tampered signature",
        "alg: none",
        "HS256 signed with the public key",
    ] {
        let (status, detail) =
            crate::smoke_openapi::check(&doc, &format!("admin: refuses {probe}"));
        assert_eq!(status, "skip", "{probe}: {detail}");
        assert!(detail.contains("Management API's"), "{detail}");
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "only the no-token probe sends a request, without a token"
    );
}

#[test]
fn a_check_sending_the_management_api_token_to_another_service_is_warned_about() {
    let w = World::new();
    w.write(
        "kinde.toml",
        "[[smoke]]\nname = \"staging\"\nurl = \"https://staging.acme.example/orders\"\n\n\
         [[smoke]]\nname = \"public\"\nurl = \"https://staging.acme.example/health\"\ntoken = \"none\"\n\n\
         [[smoke]]\nname = \"users\"\nurl = \"{issuer}/api/v1/users\"\n",
    );
    // A real tenant's domain: listing needs no request.
    let out = w
        .bare()
        .env("KINDE_DOMAIN", "https://acme.kinde.com")
        .args(["smoke", "--list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("check `staging` sends the Management API token (the default `token = \"m2m\"`) to staging.acme.example"),
        "{err}"
    );
    assert!(
        !err.contains("`public`") && !err.contains("`users`"),
        "{err}"
    );
    // Against the emulator the tokens are its own: no warning.
    let out = smoke(&w).arg("--list").output().unwrap();
    assert!(
        !stderr(&out).contains("sends the Management API token"),
        "{}",
        stderr(&out)
    );
}
