//! The library's error type and the process exit codes it maps to.
//!
//! Each variant says what kind of thing went wrong, and [`Error::exit_code`] maps the variant (never
//! its message) to one of the documented [`exit`] codes, as cargo-nextest's `ExpectedError` does.

use std::path::PathBuf;

/// Documented process exit codes (README, "Exit codes").
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// A check ran and failed: an invalid token, a failed smoke check, drift.
    pub const CHECK_FAILED: u8 = 1;
    /// Bad input: a flag, `kinde.toml`, `.env`, a missing value nobody could be asked for.
    pub const INPUT: u8 = 2;
    /// The network or the server failed: unreachable host, timeout, 5xx, an unexpected answer.
    pub const NETWORK: u8 = 3;
    /// The server understood and refused: bad credentials, an app not authorised, a missing scope.
    pub const AUTH: u8 = 4;
    /// This machine failed: a file could not be read or written, the async runtime could not start.
    pub const LOCAL: u8 = 5;
    /// The user stopped the command: a prompt answered with Ctrl-C or Esc, a sign-in interrupted.
    pub const CANCELLED: u8 = 130;
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed underlying error, kept as the `source` of an [`Error`].
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong, grouped by what the user has to do about it. Each variant carries
/// a message naming what was wrong and, where there is one, a hint saying how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the user: flags, files, values (exit 2).
    #[error("{message}")]
    Input {
        /// What was wrong, and where.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// The network or the server failed (exit 3).
    #[error("{message}")]
    Network {
        /// What failed.
        message: String,
        /// What to try.
        hint: Option<String>,
        /// The transport error underneath, if any.
        #[source]
        source: Option<Source>,
    },
    /// The server refused the request: credentials, authorisation, scopes (exit 4).
    #[error("{message}")]
    Auth {
        /// What was refused and why.
        message: String,
        /// How to get it accepted.
        hint: Option<String>,
    },
    /// A check ran and failed (exit 1).
    #[error("{message}")]
    Check {
        /// Which check failed.
        message: String,
    },
    /// A file or directory on this machine could not be read or written (exit 5).
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done: "write", "read", "create directory", ...
        action: &'static str,
        /// The file at fault.
        path: PathBuf,
        /// How to fix it.
        hint: Option<String>,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not safe to use: a symlink where a regular file was expected, a directory other
    /// users can write to, a file another user owns (exit 2: the user must fix the file system).
    #[error("{} {reason}", path.display())]
    Unsafe {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// This machine could not do what was asked: the async runtime could not start (exit 5).
    #[error("{message}: {source}")]
    Local {
        /// What could not be done.
        message: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The user stopped the command: a prompt dismissed, Ctrl-C during a sign-in (exit 130).
    #[error("{what} cancelled")]
    Cancelled {
        /// What was cancelled: "prompt", "sign-in", ...
        what: String,
    },
    /// Another error with the context it happened in ("registering kinde.toml: ..."); the exit code
    /// and hint are the inner error's.
    #[error("{context}: {source}")]
    Context {
        /// What was being done.
        context: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// A bad-input error.
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
            hint: None,
        }
    }

    /// A network or server error.
    pub fn network(message: impl Into<String>) -> Self {
        Error::Network {
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    /// A network error caused by `source` (a transport error, a body that could not be read).
    pub fn network_from(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Network {
            message: message.into(),
            hint: None,
            source: Some(Box::new(source)),
        }
    }

    /// A refusal by the server.
    pub fn auth(message: impl Into<String>) -> Self {
        Error::Auth {
            message: message.into(),
            hint: None,
        }
    }

    /// A failed check.
    pub fn check(message: impl Into<String>) -> Self {
        Error::Check {
            message: message.into(),
        }
    }

    /// A file that could not be read or written.
    pub fn file(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::File {
            action,
            path: path.into(),
            hint: None,
            source,
        }
    }

    /// A file or directory that is not safe to use.
    pub fn unsafe_path(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Unsafe {
            path: path.into(),
            reason: reason.into(),
            hint: None,
        }
    }

    /// Something this machine could not do (start the runtime, spawn a thread).
    pub fn local(message: impl Into<String>, source: std::io::Error) -> Self {
        Error::Local {
            message: message.into(),
            source,
        }
    }

    /// The user stopped `what` ("prompt", "sign-in").
    pub fn cancelled(what: impl Into<String>) -> Self {
        Error::Cancelled { what: what.into() }
    }

    /// Say what was being done when this error happened; the exit code and hint stay the same.
    #[must_use]
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// Attach a hint saying how to fix the problem (on a [`Error::Context`], to the inner error).
    #[must_use]
    pub fn with_hint(mut self, text: impl Into<String>) -> Self {
        match &mut self {
            Error::Input { hint, .. }
            | Error::Network { hint, .. }
            | Error::Auth { hint, .. }
            | Error::File { hint, .. }
            | Error::Unsafe { hint, .. } => *hint = Some(text.into()),
            Error::Context { source, .. } => {
                let inner = std::mem::replace(source.as_mut(), Error::cancelled(""));
                **source = inner.with_hint(text);
            }
            Error::Check { .. } | Error::Local { .. } | Error::Cancelled { .. } => {}
        }
        self
    }

    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Input { hint, .. }
            | Error::Network { hint, .. }
            | Error::Auth { hint, .. }
            | Error::File { hint, .. }
            | Error::Unsafe { hint, .. } => hint.as_deref(),
            Error::Context { source, .. } => source.hint(),
            Error::Check { .. } | Error::Local { .. } | Error::Cancelled { .. } => None,
        }
    }

    /// The error under any [`Error::Context`] layers: what decides the exit code and kind.
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root(),
            other => other,
        }
    }

    /// The error as `--json` prints it: `{kind, message, hint, exit_code}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind(),
            "message": self.to_string(),
            "hint": self.hint(),
            "exit_code": self.exit_code(),
        })
    }

    /// The exit code the process ends with for this error.
    pub fn exit_code(&self) -> u8 {
        match self.root() {
            Error::Input { .. } | Error::Unsafe { .. } => exit::INPUT,
            Error::Network { .. } => exit::NETWORK,
            Error::Auth { .. } => exit::AUTH,
            Error::Check { .. } => exit::CHECK_FAILED,
            Error::File { .. } | Error::Local { .. } => exit::LOCAL,
            Error::Cancelled { .. } => exit::CANCELLED,
            Error::Context { .. } => unreachable!("root() strips every context"),
        }
    }

    /// A short machine-readable name for the kind of error (used in JSON output).
    pub fn kind(&self) -> &'static str {
        match self.root() {
            Error::Input { .. } => "input",
            Error::Network { .. } => "network",
            Error::Auth { .. } => "auth",
            Error::Check { .. } => "check_failed",
            Error::File { .. } => "file",
            Error::Unsafe { .. } => "unsafe_path",
            Error::Local { .. } => "local",
            Error::Cancelled { .. } => "cancelled",
            Error::Context { .. } => unreachable!("root() strips every context"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_come_from_the_variant() {
        let io = || std::io::Error::other("disk full");
        let cases: [(Error, u8, &str); 8] = [
            (Error::input("x"), exit::INPUT, "input"),
            (Error::network("x"), exit::NETWORK, "network"),
            (Error::auth("x"), exit::AUTH, "auth"),
            (Error::check("x"), exit::CHECK_FAILED, "check_failed"),
            (Error::file("write", "/x", io()), exit::LOCAL, "file"),
            (
                Error::unsafe_path("/x", "is a symlink"),
                exit::INPUT,
                "unsafe_path",
            ),
            (Error::local("cannot start", io()), exit::LOCAL, "local"),
            (Error::cancelled("prompt"), exit::CANCELLED, "cancelled"),
        ];
        for (err, code, kind) in cases {
            assert_eq!(err.exit_code(), code, "{err}");
            assert_eq!(err.kind(), kind, "{err}");
        }
    }

    #[test]
    fn context_keeps_code_and_hint_and_names_the_cause() {
        let err = Error::auth("invalid_client")
            .with_hint("check the secret")
            .context("getting a token");
        assert_eq!(err.exit_code(), exit::AUTH);
        assert_eq!(err.hint(), Some("check the secret"));
        assert_eq!(err.to_string(), "getting a token: invalid_client");
        let err = err.with_hint("another hint");
        assert_eq!(err.hint(), Some("another hint"));
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn file_errors_name_the_path_and_keep_the_source() {
        let err = Error::file("write", "/tmp/x/.env", std::io::Error::other("disk full"));
        assert_eq!(err.to_string(), "cannot write /tmp/x/.env: disk full");
        assert!(std::error::Error::source(&err).is_some());
    }
}
