//! Reports: a line per check for people, JSON for tools, JUnit XML for CI servers.

use std::sync::LazyLock;

use serde::Serialize;

use super::runner::{Cause, Outcome, Status};
use crate::error::exit;

/// Pass / fail / skip counts and the total time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
    /// Wall time of the run, in milliseconds.
    pub wall_ms: u64,
}

impl Summary {
    /// Count `outcomes`.
    pub fn of(outcomes: &[Outcome], wall_ms: u64) -> Summary {
        let count = |s| outcomes.iter().filter(|o| o.status == s).count();
        Summary {
            passed: count(Status::Pass),
            failed: count(Status::Fail),
            skipped: count(Status::Skip),
            wall_ms,
        }
    }
}

/// The exit code of a run (README, "Exit codes"): 0 when nothing failed; 4 when a token was
/// refused (the credentials or an app's authorisation must be fixed before anything else means
/// much); else 2 when the run could not be set up (missing credentials); else 1 when any check got an answer and the answer was wrong; else 3, every failure being
/// the network's or the server's (nothing answered in time).
pub fn exit_code(outcomes: &[Outcome]) -> u8 {
    let causes: Vec<Cause> = outcomes
        .iter()
        .filter(|o| o.status == Status::Fail)
        .map(|o| o.cause.unwrap_or(Cause::Check))
        .collect();
    if causes.is_empty() {
        exit::OK
    } else if causes.contains(&Cause::Refused) {
        exit::AUTH
    } else if causes.contains(&Cause::Setup) {
        exit::INPUT
    } else if causes.contains(&Cause::Check) {
        exit::CHECK_FAILED
    } else {
        exit::NETWORK
    }
}

/// JSON fields that hold personal data, masked with [`mask_personal`]. `name` is among them: in a
/// body excerpt a person's `name` cannot be told from an API's, and masking too much is the safe
/// side (`--show-pii` shows everything).
pub const PERSONAL_FIELDS: &[&str] = &[
    "name",
    "first_name",
    "last_name",
    "full_name",
    "middle_name",
    "given_name",
    "family_name",
    "nickname",
    "preferred_username",
    "username",
    "phone",
    "phone_number",
    "picture",
    "birthdate",
    "address",
];

/// An e-mail address, also URL-encoded (`%40`) as in a query string.
static EMAIL: LazyLock<Option<regex_lite::Regex>> = LazyLock::new(|| {
    regex_lite::Regex::new(
        r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*(@|%40)([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)",
    )
    .ok()
});

/// A personal JSON field with a string value, as it appears in a body excerpt.
static FIELD: LazyLock<Option<regex_lite::Regex>> = LazyLock::new(|| {
    regex_lite::Regex::new(&format!(
        r#""({})"(\s*:\s*)"(?:[^"\\]|\\.)*""#,
        PERSONAL_FIELDS.join("|")
    ))
    .ok()
});

/// `text` with e-mail addresses shown as `a***@example.com` and the string values of
/// [`PERSONAL_FIELDS`] as `"***"`: what reports written for others to read (files, JSON, JUnit)
/// carry unless `--show-pii` is given.
pub fn mask_personal(text: &str) -> String {
    let mut out = text.to_string();
    if let Some(email) = EMAIL.as_ref() {
        out = email.replace_all(&out, "${1}***${2}${3}").into_owned();
    }
    if let Some(field) = FIELD.as_ref() {
        out = field.replace_all(&out, r#""${1}"${2}"***""#).into_owned();
    }
    out
}

impl Outcome {
    /// The outcome with personal data masked in what it quotes (see [`mask_personal`]).
    pub fn masked(&self) -> Outcome {
        Outcome {
            detail: mask_personal(&self.detail),
            request: self.request.as_deref().map(mask_personal),
            body: self.body.as_deref().map(mask_personal),
            ..self.clone()
        }
    }
}

/// The human report: one line per check, failure details indented, then the summary. Checks of
/// an OpenAPI operation (`smoke --openapi`) are grouped under it (`GET /orders/{id}`), and the
/// public operations listed together before the summary.
pub fn human(
    outcomes: &[Outcome],
    summary: Summary,
    paint: &dyn Fn(Status, &str) -> String,
) -> String {
    let mut out = String::new();
    let mut group: Option<&str> = None;
    let mut public = Vec::new();
    for o in outcomes {
        if o.tags.iter().any(|t| t == PUBLIC_TAG) && o.status != Status::Fail {
            public.push(o);
            continue;
        }
        let mark = match o.status {
            Status::Pass => paint(Status::Pass, "✓"),
            Status::Fail => paint(Status::Fail, "✗"),
            Status::Skip => paint(Status::Skip, "-"),
        };
        let (indent, name) = match o.operation.as_deref() {
            Some(op) => {
                if group != Some(op) {
                    out.push_str(&format!("{op}\n"));
                    group = Some(op);
                }
                let name = o
                    .name
                    .strip_prefix(op)
                    .and_then(|n| n.strip_prefix(": "))
                    .unwrap_or(&o.name);
                ("  ", name)
            }
            None => {
                group = None;
                ("", o.name.as_str())
            }
        };
        out.push_str(&format!(
            "{indent}{mark} {name} ({} ms): {}\n",
            o.duration_ms, o.detail
        ));
        if o.status == Status::Fail {
            if let Some(request) = &o.request {
                out.push_str(&format!("{indent}    request: {request}\n"));
            }
            if let Some(status) = o.http_status {
                out.push_str(&format!("{indent}    status:  {status}\n"));
            }
            if let Some(body) = &o.body {
                out.push_str(&format!("{indent}    body:    {body}\n"));
            }
        }
    }
    if !public.is_empty() {
        out.push_str(&format!(
            "public operations (no security requirement in the document; not probed): {}\n",
            public.len()
        ));
        for o in public {
            out.push_str(&format!(
                "  {} {}: {}\n",
                paint(Status::Skip, "-"),
                o.operation.as_deref().unwrap_or(&o.name),
                o.detail
                    .strip_prefix("public: ")
                    .and_then(|d| d.strip_suffix("; not probed"))
                    .unwrap_or(&o.detail)
            ));
        }
    }
    out.push_str(&format!(
        "{} passed, {} failed, {} skipped in {} ms",
        summary.passed, summary.failed, summary.skipped, summary.wall_ms
    ));
    out
}

/// The tag of the check that reports a public operation (`smoke --openapi`).
pub const PUBLIC_TAG: &str = "public";

/// The report of a run, as `--json` / `--format json` print it.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    /// Passed checks.
    pub passed: usize,
    /// Failed checks.
    pub failed: usize,
    /// Skipped checks.
    pub skipped: usize,
    /// Wall time of the run, in milliseconds.
    pub duration_ms: u64,
    /// Every check's outcome, in order.
    pub checks: &'a [Outcome],
    /// `smoke --openapi`: the operations without a security requirement (`GET /health`), not
    /// probed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub public: Vec<String>,
    /// What the run noticed but did not fail on (an old `[[smoke]]` config without
    /// `[smoke_suite]`).
    pub warnings: Vec<String>,
    /// The file the `--format` report was written to (`--output`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Why the run stopped or what decided its exit code besides the checks (refused or missing
    /// credentials, a configuration error), as `--json` prints errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
}

impl<'a> Report<'a> {
    /// The report of `outcomes`.
    pub fn new(outcomes: &'a [Outcome], summary: Summary) -> Self {
        Report {
            passed: summary.passed,
            failed: summary.failed,
            skipped: summary.skipped,
            duration_ms: summary.wall_ms,
            checks: outcomes,
            public: outcomes
                .iter()
                .filter(|o| o.tags.iter().any(|t| t == PUBLIC_TAG))
                .filter_map(|o| o.operation.clone())
                .collect(),
            warnings: Vec::new(),
            output: None,
            error: None,
        }
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newlines are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML, as GitHub, GitLab and Jenkins read it.
pub fn junit(outcomes: &[Outcome], summary: Summary) -> String {
    junit_suite("smoke", outcomes, summary)
}

/// [`junit`] for the `cargo kinde <suite>` command (`register --check` reports drift with it):
/// the suite and class names say which command the cases come from.
pub fn junit_suite(suite: &str, outcomes: &[Outcome], summary: Summary) -> String {
    let secs = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = outcomes.len();
    out.push_str(&format!(
        "<testsuites name=\"cargo kinde {suite}\" tests=\"{total}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">\n",
        summary.failed,
        summary.skipped,
        secs(summary.wall_ms)
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{suite}\" tests=\"{total}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">\n",
        summary.failed,
        summary.skipped,
        secs(summary.wall_ms),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    ));
    for o in outcomes {
        let classname = match (&o.operation, o.tags.first()) {
            (Some(op), _) => format!("{suite}.{op}"),
            (None, Some(t)) => format!("{suite}.{t}"),
            (None, None) => suite.to_string(),
        };
        out.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
            escape(&o.name),
            escape(&classname),
            secs(o.duration_ms)
        ));
        match o.status {
            Status::Pass => out.push_str("/>\n"),
            Status::Skip => out.push_str(&format!(
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                escape(&o.detail)
            )),
            Status::Fail => {
                let mut details = o.detail.clone();
                for (label, value) in [
                    ("request", o.request.clone()),
                    ("status", o.http_status.map(|s| s.to_string())),
                    ("body", o.body.clone()),
                ] {
                    if let Some(value) = value {
                        details.push_str(&format!("\n{label}: {value}"));
                    }
                }
                out.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"{suite}\">{}</failure>\n    </testcase>\n",
                    escape(&o.detail),
                    escape(&details)
                ));
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, status: Status) -> Outcome {
        Outcome {
            name: name.into(),
            tags: vec![],
            status,
            duration_ms: 12,
            request: Some("GET https://x/?a=1&b=2".into()),
            http_status: Some(500),
            detail: "status 500, expected <200>".into(),
            body: Some("{\"e\":\"\u{1}\"}".into()),
            cause: (status == Status::Fail).then_some(Cause::Check),
            operation: None,
        }
    }

    fn failed(cause: Cause) -> Outcome {
        Outcome {
            cause: Some(cause),
            ..outcome("f", Status::Fail)
        }
    }

    #[test]
    fn the_exit_code_follows_the_causes_of_failures() {
        let pass = outcome("p", Status::Pass);
        let skip = outcome("s", Status::Skip);
        let code = |outcomes: &[Outcome]| exit_code(outcomes);
        assert_eq!(code(&[pass.clone(), skip.clone()]), exit::OK);
        assert_eq!(
            code(&[pass.clone(), failed(Cause::Network), failed(Cause::Network)]),
            exit::NETWORK,
            "nothing answered"
        );
        assert_eq!(
            code(&[failed(Cause::Network), failed(Cause::Check), skip]),
            exit::CHECK_FAILED,
            "an answer was wrong"
        );
        assert_eq!(
            code(&[failed(Cause::Check), failed(Cause::Refused), pass]),
            exit::AUTH,
            "a refused token decides"
        );
    }

    #[test]
    fn personal_data_is_masked_and_the_rest_kept() {
        let body = r#"{"users":[{"id":"kp_1","email":"alice.adams@example.com","first_name":"Alice","last_name":"O\"Neil","phone":"+44 1234"}],"code":"OK"}"#;
        let masked = mask_personal(body);
        assert_eq!(
            masked,
            r#"{"users":[{"id":"kp_1","email":"a***@example.com","first_name":"***","last_name":"***","phone":"***"}],"code":"OK"}"#
        );
        assert_eq!(
            mask_personal("GET https://x/api/v1/users?email=bob%40example.com"),
            "GET https://x/api/v1/users?email=b***%40example.com"
        );
        assert_eq!(
            mask_personal("status 500, expected 200"),
            "status 500, expected 200"
        );
        let o = Outcome {
            detail: "`/email` is \"carol@example.org\"".into(),
            ..outcome("c", Status::Fail)
        }
        .masked();
        assert_eq!(o.detail, "`/email` is \"c***@example.org\"");
    }

    #[test]
    fn junit_counts_and_escapes() {
        let outcomes = [
            outcome("a & b", Status::Pass),
            outcome("c", Status::Fail),
            outcome("d", Status::Skip),
        ];
        let xml = junit(&outcomes, Summary::of(&outcomes, 30));
        assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""));
        assert!(xml.contains("name=\"a &amp; b\""));
        assert!(xml.contains("expected &lt;200&gt;"));
        assert!(xml.contains("a=1&amp;b=2"));
        assert!(!xml.contains('\u{1}'));
        assert_eq!(xml.matches("<testcase ").count(), 3);
    }
}
