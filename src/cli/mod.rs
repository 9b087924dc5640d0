//! The command line: global flags, subcommands, and the mapping of outcomes to exit codes.

mod api;
mod completions;
mod config;
mod context;
mod doctor;
#[cfg(feature = "emulator")]
mod emulator;
mod examples;
mod export;
mod init;
#[cfg(feature = "jq")]
mod jq;
mod login;
mod logout;
mod register;
mod smoke;
mod token;
mod verify;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::{Error, exit};
use crate::ui;

/// Configure, register and smoke-test Kinde auth from cargo.
#[derive(Debug, Parser)]
#[command(
    name = "cargo-kinde",
    bin_name = "cargo kinde",
    version,
    propagate_version = true
)]
#[command(about = "Configure, register and smoke-test Kinde auth from cargo")]
#[command(
    after_help = "Exit codes: 0 ok, 1 a check failed, 2 bad input or config, 3 network or server error, 4 refused by Kinde, 5 local file or runtime failure, 130 cancelled."
)]
pub struct Cli {
    /// Flags every subcommand accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Flags every subcommand accepts, listed apart from each command's own (gh's INHERITED FLAGS).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Read this kinde.toml instead of searching the workspace.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Apply [profiles.NAME] from kinde.toml [env: KINDE_PROFILE].
    #[arg(long, global = true, value_name = "NAME", value_parser = crate::config::env::parse_profile)]
    pub profile: Option<String>,
    /// Print results (and errors) as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail on stderr (requests, cache hits); never secrets.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors, and what the command exists to print (a token, a URL). (No `-q`: `cargo kinde
    /// api` uses it for query parameters.)
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Colour output.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    /// Never prompt; fail with a message naming the flag or variable instead (implied by CI=true).
    #[arg(long, global = true)]
    pub no_input: bool,
    /// Cargo.toml of the workspace whose root holds kinde.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Run against an embedded emulator started for this command: no Kinde account needed.
    #[cfg(feature = "emulator")]
    #[arg(long, global = true)]
    pub emulator: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Get an access token: M2M, a user's (--user), or one the emulator mints (--as).
    #[command(after_help = examples::TOKEN)]
    Token(token::TokenArgs),
    /// Verify a JWT against the issuer's JWKS: signature, issuer, audience, lifetime, scopes.
    #[command(after_help = examples::VERIFY)]
    Verify(verify::VerifyArgs),
    /// Make the tenant match kinde.toml: the app and its URLs, APIs, roles, permissions, flags,
    /// organizations (--check: drift).
    #[command(after_help = examples::REGISTER)]
    Register(register::RegisterArgs),
    /// Call any Management API endpoint with the cached M2M token.
    #[command(after_help = examples::API)]
    Api(api::ApiArgs),
    /// Scaffold kinde.toml, .env, .env.example and .gitignore (and an xtask crate, a CI workflow).
    #[command(after_help = examples::INIT)]
    Init(init::InitArgs),
    /// Sign a user in through the browser (Authorization Code + PKCE) and print the access token.
    #[command(after_help = examples::LOGIN)]
    Login(login::LoginArgs),
    /// Forget this tenant's cached tokens (and with --everywhere, the Kinde session).
    #[command(after_help = examples::LOGOUT)]
    Logout(logout::LogoutArgs),
    /// Run endpoint smoke tests and API protection probes (exit 1 when one fails).
    #[command(after_help = examples::SMOKE)]
    Smoke(smoke::SmokeArgs),
    /// Show the effective configuration and where each value came from (secrets redacted).
    #[command(after_help = examples::CONFIG)]
    Config(config::ConfigArgs),
    /// Check the set-up end to end and say how to fix what is wrong (exit 1 when a check fails).
    #[command(after_help = examples::DOCTOR)]
    Doctor(doctor::DoctorArgs),
    /// Run a local Kinde (OIDC, sign-in, Management API) with a seeded tenant: no account needed.
    #[cfg(feature = "emulator")]
    #[command(after_help = examples::EMULATOR)]
    Emulator(emulator::EmulatorArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell).
    #[command(after_help = examples::COMPLETIONS)]
    Completions(completions::CompletionsArgs),
    /// Write the tenant as a kinde.toml (apps' URLs, APIs, roles, permissions, flags, organizations).
    #[command(after_help = examples::EXPORT)]
    Export(export::ExportArgs),
}

/// Parse the process arguments, run, and return the exit code.
pub fn main() -> ExitCode {
    main_with_args(std::env::args_os())
}

/// Run with these arguments (the first is the program name): what an xtask calls to run
/// cargo-kinde from a workspace's lock file.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args = cargo_args(args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        // `--help` and `--version` are text on stdout whatever else was asked.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::from(exit::OK);
        }
        // A command line clap refuses is still answered in JSON when JSON was asked for.
        // Parsed a second time only here, so a command line clap accepts pays for one parse.
        Err(e) if wants_json(&args) => {
            ui::init(ui::Settings {
                json: true,
                ..ui::Settings::default()
            });
            let err = usage_error(&e);
            ui::error(&err);
            return ExitCode::from(err.exit_code());
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(exit::INPUT);
        }
    };
    let g = &cli.global;
    ui::init(ui::Settings {
        json: g.json,
        verbosity: if g.quiet {
            -1
        } else {
            i8::try_from(g.verbose).unwrap_or(i8::MAX)
        },
        color: match g.color {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        },
        interactive: ui::detect_interactive(g.no_input),
    });
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            ui::error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Drop the `kinde` that cargo passes when it runs `cargo-kinde` as `cargo kinde`, so the binary
/// also works when called directly.
fn cargo_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "kinde") {
        args.remove(1);
    }
    args
}

/// Whether `--json` was given as a flag, read from clap's own (error-tolerant) parse so that a
/// command line clap refuses is still answered in JSON, and a value that merely reads `--json`
/// (an option's value, anything after `--`) is not taken for the flag.
fn wants_json(args: &[OsString]) -> bool {
    use clap::CommandFactory;
    Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(args)
        .is_ok_and(|m| m.get_flag("json"))
}

/// A clap error as an input error, built from its kind and context (never from its rendered
/// text): the message names the argument at fault, clap's suggestions are the hint.
fn usage_error(e: &clap::Error) -> Error {
    use clap::error::{ContextKind, ErrorKind};
    let get = |kind| e.get(kind).map(context_text);
    let arg = get(ContextKind::InvalidArg).unwrap_or_default();
    let value = get(ContextKind::InvalidValue).unwrap_or_default();
    let message = match e.kind() {
        ErrorKind::InvalidSubcommand => format!(
            "unrecognized subcommand `{}`",
            get(ContextKind::InvalidSubcommand).unwrap_or_default()
        ),
        ErrorKind::UnknownArgument => format!("unexpected argument `{arg}`"),
        ErrorKind::InvalidValue if value.is_empty() => format!("a value is required for `{arg}`"),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let why = std::error::Error::source(e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            format!("invalid value `{value}` for `{arg}`{why}")
        }
        ErrorKind::ArgumentConflict => match get(ContextKind::PriorArg) {
            Some(prior) => format!("`{arg}` cannot be used with `{prior}`"),
            None => format!("`{arg}` cannot be used more than once"),
        },
        ErrorKind::MissingRequiredArgument => {
            format!("the following required arguments were not provided: {arg}")
        }
        ErrorKind::MissingSubcommand => "a subcommand is required".to_string(),
        ErrorKind::NoEquals => format!("`{arg}` needs `=` before its value"),
        ErrorKind::TooManyValues => format!("unexpected value `{value}` for `{arg}`"),
        ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!("wrong number of values for `{arg}`")
        }
        ErrorKind::InvalidUtf8 => "an argument is not valid UTF-8".to_string(),
        kind => kind
            .as_str()
            .unwrap_or("the command line was not understood")
            .to_string(),
    };
    let mut hints = Vec::new();
    for kind in [
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedArg,
        ContextKind::SuggestedValue,
    ] {
        if let Some(s) = get(kind) {
            hints.push(format!("did you mean `{s}`?"));
        }
    }
    if let Some(valid) = get(ContextKind::ValidValue) {
        hints.push(format!("possible values: {valid}"));
    }
    if let Some(s) = get(ContextKind::Suggested).filter(|s| !s.trim().is_empty()) {
        hints.push(s);
    }
    let hint = if hints.is_empty() {
        "`cargo kinde --help` lists the commands and their options".to_string()
    } else {
        hints.join("; ")
    };
    Error::input(message).with_hint(hint)
}

/// A clap context value as plain text (lists joined by `, `, styles dropped).
fn context_text(value: &clap::error::ContextValue) -> String {
    use clap::error::ContextValue;
    match value {
        ContextValue::String(s) => s.clone(),
        ContextValue::Strings(list) => list.join(", "),
        ContextValue::StyledStr(s) => s.to_string(),
        ContextValue::StyledStrs(list) => list
            .iter()
            .map(ToString::to_string)
            .filter(|s| !s.trim().is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        ContextValue::Bool(b) => b.to_string(),
        ContextValue::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Run a parsed command line; `Ok` carries the exit code.
pub fn run(cli: Cli) -> Result<u8, Error> {
    // A command is one task at a time: one thread starts fastest. The emulator serves clients
    // at once, and each token is an RSA signature (about 1 ms of CPU): it gets a thread per core.
    let mut builder = tokio::runtime::Builder::new_current_thread();
    #[cfg(feature = "emulator")]
    if matches!(cli.command, Command::Emulator(_)) {
        builder = tokio::runtime::Builder::new_multi_thread();
    }
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| Error::local("cannot start the async runtime", e))?;
    runtime.block_on(async move {
        match cli.command {
            Command::Token(args) => token::run(&cli.global, args).await,
            Command::Verify(args) => verify::run(&cli.global, args).await,
            Command::Config(args) => config::run(&cli.global, &args),
            Command::Doctor(args) => doctor::run(&cli.global, args).await,
            Command::Register(args) => register::run(&cli.global, args).await,
            Command::Api(args) => api::run(&cli.global, args).await,
            Command::Smoke(args) => smoke::run(&cli.global, args).await,
            Command::Login(args) => login::run(&cli.global, args).await,
            Command::Init(args) => init::run(&cli.global, args).await,
            Command::Logout(args) => logout::run(&cli.global, args).await,
            Command::Completions(args) => completions::run(&cli.global, &args),
            Command::Export(args) => export::run(&cli.global, args).await,
            #[cfg(feature = "emulator")]
            Command::Emulator(args) => emulator::run(&cli.global, args).await,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn strips_the_cargo_subcommand_name() {
        let args = cargo_args(["cargo-kinde", "kinde", "token"].map(OsString::from));
        assert_eq!(args, ["cargo-kinde", "token"].map(OsString::from));
        let args = cargo_args(["cargo-kinde", "token"].map(OsString::from));
        assert_eq!(args, ["cargo-kinde", "token"].map(OsString::from));
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        std::iter::once("cargo-kinde")
            .chain(list.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn json_is_seen_only_as_a_flag() {
        assert!(wants_json(&args(&["--json", "tokn"])));
        assert!(wants_json(&args(&["token", "--json", "--no-such-flag"])));
        assert!(!wants_json(&args(&[
            "api",
            "GET",
            "/x",
            "-f",
            "name=--json"
        ])));
        assert!(!wants_json(&args(&["verify", "--", "--json"])));
        assert!(!wants_json(&args(&[
            "verify", "--leeway", "x", "--", "--json"
        ])));
    }

    fn refused(list: &[&str]) -> Error {
        match Cli::try_parse_from(args(list)) {
            Err(e) => usage_error(&e),
            Ok(_) => panic!("{list:?} parsed"),
        }
    }

    #[test]
    fn usage_errors_come_from_clap_kinds() {
        let e = refused(&["tokn"]);
        assert_eq!(e.to_string(), "unrecognized subcommand `tokn`");
        assert_eq!(e.hint(), Some("did you mean `token`?"));
        let e = refused(&["token", "--decod"]);
        assert_eq!(e.to_string(), "unexpected argument `--decod`");
        assert!(e.hint().is_some_and(|h| h.contains("--decode")), "{e:?}");
        let e = refused(&["token", "--user", "--verify"]);
        assert!(e.to_string().contains("cannot be used with"), "{e}");
        let e = refused(&["--color", "sometimes", "token"]);
        assert!(e.to_string().contains("`sometimes`"), "{e}");
        assert!(e.hint().is_some_and(|h| h.contains("always")), "{e:?}");
        let e = refused(&["token", "--no-browser"]);
        assert!(e.to_string().contains("--user"), "{e}");
    }
}
