//! A `cargo kinde emulator` child process for tasks that measure or check against it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running emulator, stopped when dropped, with the tenant's `.env`.
pub struct Emulator {
    child: Child,
    /// The issuer URL it printed.
    pub issuer: String,
    env: String,
}

impl Emulator {
    /// Start `bin kinde emulator --http --port 0 --env-file ENV_FILE EXTRA...` and wait until it
    /// listens (plain HTTP: curl and newman in `bench` are not given the emulator's CA).
    pub fn start(bin: &Path, env_file: &Path, extra: &[&str]) -> Result<Emulator, String> {
        Self::spawn(
            Command::new(bin).arg("kinde").arg("emulator").arg("--http"),
            env_file,
            extra,
        )
    }

    /// [`Emulator::start`] serving HTTPS, its CA kept under `cache` (`CARGO_KINDE_CACHE_DIR`).
    pub fn start_tls(
        bin: &Path,
        env_file: &Path,
        cache: &Path,
        extra: &[&str],
    ) -> Result<Emulator, String> {
        Self::spawn(
            Command::new(bin)
                .env("CARGO_KINDE_CACHE_DIR", cache)
                .args(["kinde", "emulator"]),
            env_file,
            extra,
        )
    }

    fn spawn(command: &mut Command, env_file: &Path, extra: &[&str]) -> Result<Emulator, String> {
        let mut child = command
            .args(["--port", "0", "--env-file"])
            .arg(env_file)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the emulator: {e}"))?;
        let stdout = child.stdout.take().ok_or("no emulator stdout")?;
        let mut issuer = String::new();
        let read = BufReader::new(stdout).read_line(&mut issuer);
        let mut emulator = Emulator {
            child,
            issuer: issuer.trim().to_string(),
            env: String::new(),
        };
        read.map_err(|e| format!("emulator: {e}"))?;
        if !emulator.issuer.starts_with("http://127.0.0.1:")
            && !emulator.issuer.starts_with("https://127.0.0.1:")
        {
            return Err(format!(
                "the emulator did not print its issuer (got `{}`)",
                emulator.issuer
            ));
        }
        emulator.env = std::fs::read_to_string(env_file)
            .map_err(|e| format!("cannot read {}: {e}", env_file.display()))?;
        Ok(emulator)
    }

    /// Every variable of the tenant's `.env`, to run a program "from the env file".
    pub fn vars(&self) -> Vec<(String, String)> {
        self.env
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A variable of the tenant's `.env` (empty when absent).
    pub fn var(&self, name: &str) -> String {
        self.env
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
