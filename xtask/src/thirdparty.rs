//! A third-party OpenID provider nobody here wrote (axa-group's `oauth2-mock-server`, from npm)
//! against the built `cargo-kinde`: `token` by client credentials and `verify` against the
//! provider's JWKS, both found through its discovery document, and `login` with PKCE through its
//! authorization endpoint. Proves cargo-kinde follows the standards, not only its own emulator.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{root, run_step};

/// The provider as a child process, stopped when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Provider {
    fn start(work: &Path) -> Result<Provider, String> {
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(work)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the provider: {e}"))?;
        let stdout = child.stdout.take().ok_or("no provider stdout")?;
        let mut issuer = String::new();
        BufReader::new(stdout)
            .read_line(&mut issuer)
            .map_err(|e| format!("provider: {e}"))?;
        let issuer = issuer.trim().trim_end_matches('/').to_string();
        if !issuer.starts_with("http://127.0.0.1:") && !issuer.starts_with("http://localhost:") {
            let _ = child.kill();
            return Err(format!("the provider printed `{issuer}`, not its issuer"));
        }
        Ok(Provider { child, issuer })
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(binary: &Path) -> Result<(), String> {
    let work = root().join("target/thirdparty");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    for file in ["package.json", "provider.mjs"] {
        std::fs::copy(root().join("xtask/thirdparty").join(file), work.join(file))
            .map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    if !work.join("node_modules/oauth2-mock-server").is_dir() {
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&work);
        run_step("npm install oauth2-mock-server", npm)?;
    }
    let provider = Provider::start(&work)?;
    eprintln!("==> third-party OpenID provider at {}", provider.issuer);
    let project = project_dir(&provider.issuer)?;
    let kinde = |args: &[&str]| -> Command {
        let mut cmd = Command::new(binary);
        cmd.arg("kinde")
            .args(args)
            .current_dir(&project)
            .env("CARGO_KINDE_CACHE_DIR", project.join("cache"))
            .env_remove("KINDE_DOMAIN")
            .env_remove("KINDE_PROFILE")
            .env_remove("KINDE_MANAGEMENT_CLIENT_ID")
            .env_remove("KINDE_MANAGEMENT_CLIENT_SECRET")
            .env_remove("KINDE_CLIENT_ID")
            .env_remove("KINDE_CLIENT_SECRET");
        cmd
    };
    let out = kinde(&["token", "--no-cache"])
        .output()
        .map_err(|e| format!("cannot run cargo-kinde token: {e}"))?;
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || token.split('.').count() != 3 {
        return Err(format!(
            "third party: `token` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    eprintln!("    token: a client-credentials token from the provider's token_endpoint");
    let mut verify = kinde(&["verify", "--json", &token]);
    verify.stdout(Stdio::piped());
    let out = verify
        .output()
        .map_err(|e| format!("cannot run cargo-kinde verify: {e}"))?;
    let report = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !report.contains("\"valid\":true") {
        return Err(format!(
            "third party: `verify` did not accept the provider's token ({}): {report} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    eprintln!("    verify: valid against the provider's jwks_uri");
    login(
        kinde(&["login", "--no-browser", "--port", "0", "--timeout", "30"]),
        &provider.issuer,
    )?;
    eprintln!("    login: Authorization Code + PKCE through the provider's authorization_endpoint");
    drop(provider);
    let _ = std::fs::remove_dir_all(&project);
    Ok(())
}

/// A project directory with only a `.env` naming the provider (no kinde.toml).
fn project_dir(issuer: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("cargo-kinde-thirdparty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // oauth2-mock-server accepts any client; the secret only has to be sent.
    std::fs::write(
        dir.join(".env"),
        format!(
            "KINDE_DOMAIN={issuer}\nKINDE_MANAGEMENT_CLIENT_ID=peer-m2m\nKINDE_MANAGEMENT_CLIENT_SECRET=peer-m2m-secret-0123456789\nKINDE_CLIENT_ID=peer-app\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Run `login --no-browser`, act as the browser: open the printed URL (the provider answers with a
/// redirect to the loopback callback, carrying the code), follow it, and wait for the token.
fn login(mut cmd: Command, issuer: &str) -> Result<(), String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo-kinde login: {e}"))?;
    let stderr = child.stderr.take().ok_or("no login stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if line.trim().starts_with(issuer) {
                    break line.trim().to_string();
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            _ => {
                let _ = child.kill();
                return Err(format!(
                    "third party: `login` printed no sign-in URL:\n{seen}"
                ));
            }
        }
    };
    let callback = curl(&["-s", "-o", "/dev/null", "-w", "%{redirect_url}", &url])?;
    if !callback.starts_with("http://127.0.0.1:") {
        let _ = child.kill();
        return Err(format!(
            "third party: the provider redirected to `{callback}`"
        ));
    }
    curl(&["-s", "-o", "/dev/null", &callback])?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("third party: `login` did not finish within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut token = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut token);
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    if !status.success() || token.trim().split('.').count() != 3 {
        return Err(format!(
            "third party: `login` failed ({status}): {}",
            rest.join("\n")
        ));
    }
    Ok(())
}

fn curl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["--max-time", "10"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    if !out.status.success() {
        return Err(format!("curl {args:?} failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
