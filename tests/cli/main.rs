//! Integration tests: the `cargo-kinde` binary against an emulator started in-process, one per
//! test, on 127.0.0.1 with a free port.

mod account;
mod api;
mod browser;
mod cache;
mod config;
mod cors;
mod device;
mod discovery;
mod doctor;
mod dotenv;
mod emulator;
mod export;
mod fake;
mod grants;
mod help;
mod identities;
mod init;
mod json;
mod links;
mod login;
mod logos;
mod orgs;
mod register;
mod register_apps;
mod register_check;
mod register_flags;
mod register_orgs;
mod register_roles;
mod secrets;
mod seed;
mod sign_in_state;
mod smoke;
mod smoke_openapi;
mod spec;
mod token;
#[cfg(unix)]
pub mod tty;
mod validation;
mod verify;
mod webhooks;

use std::path::Path;

use assert_cmd::Command;
use cargo_kinde::emulator::{Emulator, Options};
use tempfile::TempDir;

/// A test's world: an emulator, a project directory and a private token cache.
pub struct World {
    pub emulator: Emulator,
    pub dir: TempDir,
    pub cache: TempDir,
}

impl World {
    #[allow(clippy::new_without_default)]
    pub fn new() -> World {
        Self::with(Options::default())
    }

    pub fn with(options: Options) -> World {
        World {
            emulator: Emulator::spawn(options).expect("emulator starts"),
            dir: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    pub fn issuer(&self) -> String {
        self.emulator.issuer().to_string()
    }

    pub fn management_id(&self) -> String {
        self.emulator
            .state()
            .tenant()
            .management_app()
            .unwrap()
            .id
            .clone()
    }

    pub fn management_secret(&self) -> String {
        let tenant = self.emulator.state().tenant();
        tenant
            .management_app()
            .unwrap()
            .client_secret
            .clone()
            .unwrap()
    }

    /// `cargo-kinde kinde` in the project directory, with no ambient configuration.
    pub fn bare(&self) -> Command {
        Command::from_std(self.std_bare())
    }

    /// [`World::bare`] as a `std::process::Command` (for tests that stream its output).
    pub fn std_bare(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"));
        cmd.arg("kinde").current_dir(self.dir.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("KINDE_") || key == "NO_COLOR" || key == "CLICOLOR_FORCE" {
                cmd.env_remove(key);
            }
        }
        cmd.env("CARGO_KINDE_CACHE_DIR", self.cache.path())
            .env("CI", "true")
            .env("CARGO_KINDE_RETRY_DELAY_MS", "5");
        cmd
    }

    /// [`World::bare`] pointed at the emulator with the management app's credentials.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// [`World::cmd`] as a `std::process::Command`.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = self.std_bare();
        cmd.env("KINDE_DOMAIN", self.issuer())
            .env("KINDE_MANAGEMENT_CLIENT_ID", self.management_id())
            .env("KINDE_MANAGEMENT_CLIENT_SECRET", self.management_secret());
        cmd
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// A fresh M2M token from the emulator.
    pub fn token(&self) -> String {
        let out = self.cmd().args(["token", "--no-cache"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// The seeded user-facing (back-end web) app, as it is now.
    pub fn web_app(&self) -> cargo_kinde::emulator::tenant::Application {
        self.emulator.state().tenant().user_app().unwrap().clone()
    }

    pub fn web_app_id(&self) -> String {
        self.web_app().id
    }

    /// Add an M2M app authorised for the Management API with only `scopes`; returns (id, secret).
    pub fn limited_m2m_app(&self, scopes: &[&str]) -> (String, String) {
        use cargo_kinde::emulator::tenant::{
            Application, Authorization, random_hex, random_secret,
        };
        let (id, secret) = (random_hex(16), random_secret());
        let app = Application {
            id: id.clone(),
            name: "limited".into(),
            kind: "m2m".into(),
            client_secret: Some(secret.clone()),
            redirect_urls: vec![],
            logout_urls: vec![],
            extra: Default::default(),
        };
        self.emulator.state().update(|t| {
            t.applications.push(app);
            let api = t.apis.iter_mut().find(|a| a.is_management_api).unwrap();
            api.applications.push(Authorization {
                client_id: id.clone(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                extra: Default::default(),
            });
        });
        (id, secret)
    }

    pub fn inject(&self, spec: &str) {
        self.emulator
            .state()
            .inject(cargo_kinde::emulator::faults::Fault::parse(spec).unwrap());
    }

    pub fn count(&self, route: &str) -> u64 {
        self.emulator.state().count(route)
    }
}

/// Serve `app` on 127.0.0.1:0 from a thread of its own, for the rest of the test; its address.
pub fn serve(app: axum::Router) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(out)))
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Plain HTTP from tests (the test plays a browser or a third-party client).
pub mod http {
    use serde_json::Value;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// GET with an optional `Authorization` header: (status, JSON body or null).
    pub fn get_json(url: &str, authorization: Option<&str>) -> (u16, Value) {
        block_on(async {
            let mut req = reqwest::Client::new().get(url);
            if let Some(value) = authorization {
                req = req.header("authorization", value);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json().await.unwrap_or(Value::Null))
        })
    }

    /// POST a form, optionally with HTTP Basic credentials: (status, JSON body or null).
    pub fn post_form(
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> (u16, Value) {
        block_on(async {
            let mut req = reqwest::Client::new().post(url).form(form);
            if let Some((user, pass)) = basic {
                req = req.basic_auth(user, Some(pass));
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json().await.unwrap_or(Value::Null))
        })
    }

    /// Any request, with an optional bearer token and body (its content type given), without
    /// following redirects: (status, Content-Type, body bytes).
    pub fn raw(
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> (u16, Option<String>, Vec<u8>) {
        block_on(async {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let mut req = client.request(method.parse().unwrap(), url);
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            if let Some((content_type, bytes)) = body {
                req = req.header("content-type", content_type).body(bytes);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let content_type = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, content_type, res.bytes().await.unwrap().to_vec())
        })
    }

    /// GET as a browser holding `cookie`, without following redirects: (status, Location,
    /// body bytes).
    pub fn get_with_cookie(url: &str, cookie: &str) -> (u16, Option<String>, Vec<u8>) {
        block_on(async {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let res = client
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let location = res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            (
                res.status().as_u16(),
                location,
                res.bytes().await.unwrap().to_vec(),
            )
        })
    }

    /// GET without following redirects: (status, Location).
    pub fn get_no_redirect(url: &str) -> (u16, Option<String>) {
        block_on(async {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let res = client.get(url).send().await.unwrap();
            let location = res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            (res.status().as_u16(), location)
        })
    }
}
