//! Prompts on a real pseudo-terminal: a missing credential is asked for (the secret hidden) and
//! saved to `.env` on request.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::World;

/// A child process on a pseudo-terminal, with expect-style helpers.
pub struct Terminal {
    child: Child,
    master: File,
    pub seen: String,
    /// Where in the (ANSI-stripped) output the last expected text ended: each `expect` looks
    /// only at what came after, so a prompt shown twice is waited for twice.
    cursor: usize,
}

impl Terminal {
    pub fn spawn(mut cmd: Command) -> Terminal {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two descriptors into valid out-pointers; null name/termios/winsize
        // are allowed.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty failed");
        // SAFETY: both descriptors were just returned by openpty and are owned here alone.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec: a new session whose
        // controlling terminal is the pty on stdin, as a terminal emulator would do.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on a pty");
        let master = File::from(master);
        // SAFETY: F_SETFL with O_NONBLOCK on a descriptor we own.
        unsafe {
            use std::os::fd::AsRawFd;
            let fd = master.as_raw_fd();
            libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
            );
        }
        Terminal {
            child,
            master,
            seen: String::new(),
            cursor: 0,
        }
    }

    /// Read until `text` has appeared after the previous match, or panic after 60 s.
    pub fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut buf = [0u8; 4096];
        loop {
            let plain = strip_ansi(&self.seen);
            if let Some(at) = plain.get(self.cursor..).and_then(|rest| rest.find(text)) {
                self.cursor += at + text.len();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?}; saw:\n{plain}"
            );
            match self.master.read(&mut buf) {
                Ok(n @ 1..) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Type a secret at a hidden prompt. The prompt turns echo off with `TCSAFLUSH`, which
    /// discards anything typed before: wait until echo is off (a person sees the prompt, the test
    /// only its text, which is printed first), then type.
    pub fn send_secret(&mut self, text: &str) {
        use std::os::fd::AsRawFd;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // SAFETY: tcgetattr fills a zeroed termios for a descriptor we own; a pty's master
            // reports the terminal's modes as the child set them.
            let echo = unsafe {
                let mut modes: libc::termios = std::mem::zeroed();
                libc::tcgetattr(self.master.as_raw_fd(), &mut modes) == 0
                    && modes.c_lflag & libc::ECHO != 0
            };
            if !echo {
                break;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the command exited ({status}) before asking for the secret; saw:\n{}",
                    strip_ansi(&self.seen)
                );
            }
            assert!(
                Instant::now() < deadline,
                "echo never went off for the secret; saw:\n{}",
                strip_ansi(&self.seen)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        self.send_line(text);
    }

    pub fn send_line(&mut self, text: &str) {
        self.master
            .write_all(format!("{text}\r").as_bytes())
            .unwrap();
    }

    /// Wait for exit, collecting the rest of the output; returns the exit code.
    pub fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut buf = [0u8; 4096];
        loop {
            if let Ok(n @ 1..) = self.master.read(&mut buf) {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                continue;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), strip_ansi(&self.seen));
            }
            assert!(
                Instant::now() < deadline,
                "the command did not exit; saw:\n{}",
                strip_ansi(&self.seen)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Terminal output without colour and cursor escape sequences.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn command(w: &World) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("cargo-kinde"));
    cmd.arg("kinde").current_dir(w.dir.path()).env_clear();
    for var in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd.env("TERM", "xterm")
        .env("CARGO_KINDE_CACHE_DIR", w.cache.path())
        .env("KINDE_DOMAIN", w.issuer());
    cmd
}

#[test]
fn missing_credentials_are_asked_for_hidden_and_saved_to_dotenv() {
    let w = World::new();
    w.write(".gitignore", "target\n.env\n");
    let secret = w.management_secret();
    let mut term = Terminal::spawn({
        let mut cmd = command(&w);
        cmd.arg("token");
        cmd
    });
    term.expect("Management (M2M) app client id");
    term.send_line(&w.management_id());
    term.expect("Management (M2M) app client secret");
    term.send_secret(&secret);
    term.expect("Save to");
    term.send_line("y");
    let (code, seen) = term.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(!seen.contains(&secret), "the secret was echoed: {seen}");
    assert!(
        seen.contains("saved KINDE_MANAGEMENT_CLIENT_ID, KINDE_MANAGEMENT_CLIENT_SECRET"),
        "{seen}"
    );
    assert!(seen.contains("eyJ"), "the token is printed: {seen}");
    assert!(!seen.contains("not in .gitignore"), "{seen}");
    let dotenv = w.path(".env");
    assert_eq!(crate::mode(&dotenv), 0o600);
    let text = std::fs::read_to_string(&dotenv).unwrap();
    assert!(
        text.contains(&format!("KINDE_MANAGEMENT_CLIENT_SECRET={secret}\n")),
        "{text}"
    );
    // The next run needs no prompt: the values come from .env.
    let out = command(&w)
        .args(["--no-input", "token", "--no-cache"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A secret with quotes, `#`, `$`, spaces and a backslash is saved so it reads back unchanged,
/// next to the user's own lines.
#[test]
fn an_awkward_secret_is_saved_quoted_and_read_back() {
    use cargo_kinde::emulator::tenant::{Application, Authorization, random_hex};
    let w = World::new();
    w.write(".env", "# mine\nDATABASE_URL=postgres://me@localhost/db\n");
    let (id, secret) = (random_hex(16), r#"it's "q" #1 $HOME \x"#.to_string());
    let app = Application {
        id: id.clone(),
        name: "awkward".into(),
        kind: "m2m".into(),
        client_secret: Some(secret.clone()),
        redirect_urls: vec![],
        logout_urls: vec![],
        extra: Default::default(),
    };
    w.emulator.state().update(|t| {
        t.applications.push(app);
        let api = t.apis.iter_mut().find(|a| a.is_management_api).unwrap();
        api.applications.push(Authorization {
            client_id: id.clone(),
            scopes: vec!["read:users".into()],
            extra: Default::default(),
        });
    });
    let mut term = Terminal::spawn({
        let mut cmd = command(&w);
        cmd.env("KINDE_MANAGEMENT_CLIENT_ID", &id).arg("token");
        cmd
    });
    term.expect("Management (M2M) app client secret");
    term.send_secret(&secret);
    term.expect("Save to");
    term.send_line("y");
    let (code, seen) = term.finish();
    assert!(
        !seen.contains(&secret[..]),
        "the secret was shown on the terminal"
    );
    assert_eq!(code, 0, "{seen}");
    let text = std::fs::read_to_string(w.path(".env")).unwrap();
    assert!(
        text.starts_with("# mine\nDATABASE_URL=postgres://me@localhost/db\n"),
        "{text}"
    );
    let out = command(&w)
        .args(["--no-input", "token", "--no-cache"])
        .env("KINDE_MANAGEMENT_CLIENT_ID", &id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn declining_to_save_writes_nothing() {
    let w = World::new();
    let mut term = Terminal::spawn({
        let mut cmd = command(&w);
        cmd.env("KINDE_MANAGEMENT_CLIENT_ID", w.management_id())
            .arg("token");
        cmd
    });
    term.expect("Management (M2M) app client secret");
    term.send_secret(&w.management_secret());
    term.expect("Save to");
    term.send_line("n");
    let (code, seen) = term.finish();
    assert!(
        !seen.contains(&w.management_secret()),
        "the secret was shown on the terminal"
    );
    assert_eq!(code, 0, "{seen}");
    assert!(!w.path(".env").exists());
    assert!(
        !seen.contains("client id"),
        "only the missing value is asked for: {seen}"
    );
}

#[test]
fn no_prompt_under_no_input_even_on_a_terminal() {
    let w = World::new();
    let term = Terminal::spawn({
        let mut cmd = command(&w);
        cmd.args(["--no-input", "token"]);
        cmd
    });
    let (code, seen) = term.finish();
    assert_eq!(code, 2, "{seen}");
    assert!(seen.contains("KINDE_MANAGEMENT_CLIENT_SECRET"), "{seen}");
}

#[test]
fn smoke_shows_progress_on_a_terminal_only() {
    let w = World::new();
    let mut cmd = command(&w);
    cmd.args(["smoke", "--emulator"]);
    let mut term = Terminal::spawn(cmd);
    term.expect("[4/4] ");
    let (code, seen) = term.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("4 passed, 0 failed"), "{seen}");
    let piped = w.bare().args(["smoke", "--emulator"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&piped.stderr).contains("[1/4]"),
        "no progress line without a terminal"
    );
}
