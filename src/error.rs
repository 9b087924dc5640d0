//! The library's error type and the process exit codes it maps to.

/// Documented process exit codes (README, "Exit codes").
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// A check ran and failed: an invalid token, a failed smoke check.
    pub const CHECK_FAILED: u8 = 1;
    /// Bad input: a flag, `kinde.toml`, `.env`, a missing value nobody could be asked for.
    pub const INPUT: u8 = 2;
    /// The network or the server failed: unreachable host, timeout, 5xx, an unexpected answer.
    pub const NETWORK: u8 = 3;
    /// The server understood and refused: bad credentials, an app not authorised, a missing scope.
    pub const AUTH: u8 = 4;
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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
        }
    }

    /// A refusal by the server.
    pub fn auth(message: impl Into<String>) -> Self {
        Error::Auth {
            message: message.into(),
            hint: None,
        }
    }

    /// Attach a hint saying how to fix the problem.
    #[must_use]
    pub fn with_hint(mut self, text: impl Into<String>) -> Self {
        match &mut self {
            Error::Input { hint, .. } | Error::Network { hint, .. } | Error::Auth { hint, .. } => {
                *hint = Some(text.into());
            }
            Error::Check { .. } => {}
        }
        self
    }

    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Input { hint, .. } | Error::Network { hint, .. } | Error::Auth { hint, .. } => {
                hint.as_deref()
            }
            Error::Check { .. } => None,
        }
    }

    /// The exit code the process ends with for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input { .. } => exit::INPUT,
            Error::Network { .. } => exit::NETWORK,
            Error::Auth { .. } => exit::AUTH,
            Error::Check { .. } => exit::CHECK_FAILED,
        }
    }

    /// A short machine-readable name for the kind of error (used in JSON output).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Input { .. } => "input",
            Error::Network { .. } => "network",
            Error::Auth { .. } => "auth",
            Error::Check { .. } => "check_failed",
        }
    }
}
