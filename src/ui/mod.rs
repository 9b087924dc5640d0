//! All output: results on stdout, messages on stderr, colour by `--color` / `NO_COLOR`, and
//! prompts only when a person is there to answer.

#[cfg(feature = "cli")]
pub mod browser;
#[cfg(feature = "cli")]
pub mod prompt;

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use anstyle::{AnsiColor, Style};

use crate::error::Error;

/// Output settings for the process.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `--json`.
    pub json: bool,
    /// -1 for `-q`, 0 normal, 1+ for `-v`.
    pub verbosity: i8,
    /// Colour choice for stdout and stderr.
    pub color: anstream::ColorChoice,
    /// Whether prompts may be shown.
    pub interactive: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            json: false,
            verbosity: 0,
            color: anstream::ColorChoice::Never,
            interactive: false,
        }
    }
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Set the output settings once, at start-up. Later calls are ignored.
pub fn init(settings: Settings) {
    let _ = SETTINGS.set(settings);
}

/// The current settings.
pub fn settings() -> Settings {
    SETTINGS.get().copied().unwrap_or_default()
}

/// `--quiet`: only errors, and the data a command exists to print (a token, a URL).
pub fn quiet() -> bool {
    settings().verbosity < 0
}

/// A number of seconds in words, each unit apart from its number: `1 day 2 h 3 min 4 s`.
pub fn duration(secs: u64) -> String {
    if secs == 0 {
        return "0 s".to_string();
    }
    let days = secs / 86_400;
    let parts = [
        (days, if days == 1 { "day" } else { "days" }),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "min"),
        (secs % 60, "s"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a person can answer prompts: a terminal on stdin and stderr, no `--no-input`, not CI.
pub fn detect_interactive(no_input: bool) -> bool {
    !no_input && !in_ci() && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Whether `CI` is set to something other than empty, `0` or `false`, as CI services do.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Styles used in human output.
pub mod style {
    use super::*;
    /// Success marks.
    pub const OK: Style = AnsiColor::Green.on_default().bold();
    /// Failure marks.
    pub const BAD: Style = AnsiColor::Red.on_default().bold();
    /// Warnings.
    pub const WARN: Style = AnsiColor::Yellow.on_default().bold();
    /// Headings and keys.
    pub const BOLD: Style = Style::new().bold();
    /// Secondary text.
    pub const DIM: Style = Style::new().dimmed();
}

/// Paint `text` with `style`.
pub fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

fn stdout() -> anstream::AutoStream<std::io::Stdout> {
    anstream::AutoStream::new(std::io::stdout(), settings().color)
}

fn stderr() -> anstream::AutoStream<std::io::Stderr> {
    anstream::AutoStream::new(std::io::stderr(), settings().color)
}

/// Print a result line on stdout.
pub fn result(text: &str) {
    let _ = writeln!(stdout(), "{text}");
}

/// Print a JSON document on stdout: pretty on a terminal, one line when piped.
pub fn json(value: &serde_json::Value) {
    let text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    let _ = writeln!(std::io::stdout(), "{}", text.unwrap_or_default());
}

/// Print a command's report (any serialisable type) as JSON on stdout, as [`json`] does.
pub fn report<T: serde::Serialize>(report: &T) {
    match serde_json::to_value(report) {
        Ok(value) => json(&value),
        Err(e) => debug(&format!("the report could not be serialised: {e}")),
    }
}

/// Show a command's report: as JSON with `--json`, else as `human` renders it.
pub fn show<T: serde::Serialize>(report: &T, human: impl FnOnce(&T)) {
    if settings().json {
        self::report(report);
    } else {
        human(report);
    }
}

/// The verdict of a command whose report says something failed: an `error:` line on stderr,
/// left out with `--json` (the report on stdout already says it, and stays one document).
pub fn failed(message: String) {
    if !settings().json {
        error(&Error::Check { message });
    }
}

/// A progress or status message on stderr (hidden by `-q`).
pub fn status(text: &str) {
    if settings().verbosity >= 0 {
        let _ = writeln!(stderr(), "{text}");
    }
}

/// Rewrite the current stderr line (a terminal's progress line); an empty text clears it.
pub fn progress(text: &str) {
    let width = 80;
    let shown: String = text.chars().take(width).collect();
    let _ = write!(stderr(), "\r\x1b[2K{shown}");
    let _ = stderr().flush();
}

/// A progress line shown on a terminal's stderr while something is slow: nothing for the first
/// second, then `⠋ text (3 s)` redrawn until the value is dropped, which clears the line.
pub struct Spinner {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Start a [`Spinner`] for `text`; it does nothing unless stderr is a terminal (and not `--quiet`).
pub fn spinner(text: &str) -> Spinner {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    if quiet() || !std::io::stderr().is_terminal() {
        return Spinner { stop, thread: None };
    }
    let text = text.to_string();
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
        let started = std::time::Instant::now();
        let mut drawn = false;
        let mut frame = 0;
        // Parked, not slept: dropping the spinner wakes the thread at once.
        std::thread::park_timeout(std::time::Duration::from_secs(1));
        while !flag.load(Ordering::Relaxed) {
            progress(&format!(
                "{} {text} ({} s)",
                FRAMES[frame % FRAMES.len()],
                started.elapsed().as_secs()
            ));
            drawn = true;
            frame += 1;
            std::thread::park_timeout(std::time::Duration::from_millis(100));
        }
        if drawn {
            progress("");
        }
    });
    Spinner {
        stop,
        thread: Some(thread),
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// A warning on stderr (hidden by `-q`).
pub fn warn(text: &str) {
    if settings().verbosity >= 0 {
        let _ = writeln!(stderr(), "{} {text}", paint(style::WARN, "warning:"));
    }
}

/// A debug line on stderr, shown with `-v`. Never pass secrets here.
pub fn debug(text: &str) {
    if settings().verbosity >= 1 {
        let _ = writeln!(stderr(), "{} {text}", paint(style::DIM, "debug:"));
    }
}

/// An error as `--json` shows it, `{kind, message, hint, exit_code}`, made safe like every text
/// shown ([`crate::net::server_text`]): the one shape for errors alone and errors inside a report.
pub fn error_json(err: &Error) -> serde_json::Value {
    let mut value = err.to_json();
    for field in ["message", "hint"] {
        if let Some(text) = value.get(field).and_then(serde_json::Value::as_str) {
            value[field] = serde_json::Value::String(crate::net::server_text(text));
        }
    }
    value
}

/// Report a fatal error: JSON on stdout with `--json`, else `error: ...` and `help: ...` on stderr.
/// Messages may quote a server (each source makes that safe with `net::server_text`); it is
/// applied once more here, the last step before the terminal, so no path can forget it.
pub fn error(err: &Error) {
    if settings().json {
        json(&serde_json::json!({ "error": error_json(err) }));
        return;
    }
    let message = crate::net::server_text(&err.to_string());
    let hint = err.hint().map(crate::net::server_text);
    let mut out = stderr();
    let _ = writeln!(out, "{} {message}", paint(style::BAD, "error:"));
    if let Some(hint) = hint {
        let _ = writeln!(out, "{} {hint}", paint(style::BOLD, "help:"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_words() {
        assert_eq!(duration(86_400), "1 day");
        assert_eq!(duration(2 * 86_400 + 3600 + 61), "2 days 1 h 1 min 1 s");
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(0), "0 s");
    }
}
