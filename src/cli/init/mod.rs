//! `cargo kinde init`: scaffold kinde.toml, .env (secrets, 0600), .env.example and .gitignore,
//! optionally an xtask crate and a CI workflow; asking on a terminal for what flags, the
//! environment and an existing .env do not give.

use std::path::{Path, PathBuf};

use clap::{ArgGroup, Args, ValueEnum};
use serde::Serialize;

mod ask;
mod questions;

use super::GlobalArgs;
#[cfg(feature = "emulator")]
use crate::config::Setting;
use crate::config::env::{self, EnvReader, ProcessEnv};
use crate::config::{Config, LoadOptions};
use crate::error::{Error, exit};
use crate::scaffold::ci::Source;
use crate::scaffold::{self, Extras, Outcome};
use crate::ui::{self, paint, style};

/// CI systems a workflow can be written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Ci {
    /// GitHub Actions: .github/workflows/kinde-smoke.yml.
    Github,
    /// GitLab CI: .gitlab-ci.yml.
    Gitlab,
}

/// Arguments of `cargo kinde init`.
#[derive(Debug, Args)]
// Where cargo-kinde comes from matters only to an xtask or a CI file: clap refuses a source
// without one of them, and more than one source.
#[command(group(ArgGroup::new("writes_cargo_kinde").args(["xtask", "ci"]).multiple(true)))]
#[command(group(ArgGroup::new("cargo_kinde_source").args(["cargo_kinde_version", "cargo_kinde_git", "cargo_kinde_path"])))]
pub struct InitArgs {
    /// Kinde domain, e.g. https://acme.kinde.com [env: KINDE_DOMAIN].
    #[arg(long)]
    pub domain: Option<String>,
    /// The management M2M app's client id [env: KINDE_MANAGEMENT_CLIENT_ID]; its secret only
    /// from KINDE_MANAGEMENT_CLIENT_SECRET, .env or the prompt (never a flag: shell history).
    #[arg(long)]
    pub management_client_id: Option<String>,
    /// The user-facing app's client id [env: KINDE_CLIENT_ID].
    #[arg(long)]
    pub app_client_id: Option<String>,
    /// Allowed callback URL (repeatable; default http://localhost:3000/api/auth/kinde_callback).
    #[arg(long = "callback-url", value_name = "URL")]
    pub callback_urls: Vec<String>,
    /// Allowed logout URL (repeatable; default http://localhost:3000).
    #[arg(long = "logout-url", value_name = "URL")]
    pub logout_urls: Vec<String>,
    /// An API to register, NAME=AUDIENCE (repeatable).
    #[arg(long = "api", value_name = "NAME=AUDIENCE")]
    pub apis: Vec<String>,
    /// Also add an xtask crate so `cargo xtask kinde smoke` runs the version in Cargo.lock.
    #[arg(long)]
    pub xtask: bool,
    /// Also write a CI pipeline that runs `cargo kinde smoke` and keeps its JUnit report.
    #[arg(long, value_enum)]
    pub ci: Option<Ci>,
    /// Overwrite files that differ without asking.
    #[arg(long)]
    pub force: bool,
    /// The cargo-kinde version the xtask depends on, or CI installs (default: this one's).
    #[arg(long, value_name = "VERSION", requires = "writes_cargo_kinde")]
    pub cargo_kinde_version: Option<String>,
    /// Take cargo-kinde from this git repository instead of crates.io (xtask dependency or CI
    /// install).
    #[arg(long, value_name = "URL", requires = "writes_cargo_kinde")]
    pub cargo_kinde_git: Option<String>,
    /// The commit, tag or branch of --cargo-kinde-git.
    #[arg(long, value_name = "REV", requires = "cargo_kinde_git")]
    pub cargo_kinde_rev: Option<String>,
    /// Take cargo-kinde from this directory (a checkout, e.g. vendored in the repository).
    #[arg(long, value_name = "DIR", requires = "writes_cargo_kinde")]
    pub cargo_kinde_path: Option<PathBuf>,
}

const DEFAULT_CALLBACK: &str = "http://localhost:3000/api/auth/kinde_callback";
const DEFAULT_LOGOUT: &str = "http://localhost:3000";
const EMULATOR_STATE: &str = ".kinde/emulator.json";

/// Run `init`.
pub async fn run(global: &GlobalArgs, args: InitArgs) -> Result<u8, Error> {
    // init writes kinde.toml where every command finds it by default; --config would be
    // silently ignored (a global flag clap cannot refuse for one subcommand).
    if let Some(config) = &global.config {
        return Err(Error::input(format!(
            "--config {}: init writes kinde.toml at the workspace root, where the other commands find it",
            config.display()
        ))
        .with_hint("leave out --config; pass --manifest-path path/to/Cargo.toml to pick the workspace"));
    }
    let root = workspace(global.manifest_path.as_deref())?;
    let interactive = ui::settings().interactive;
    #[cfg(feature = "emulator")]
    let use_emulator = global.emulator;
    #[cfg(not(feature = "emulator"))]
    let use_emulator = false;
    // kinde.toml < .env < environment < the emulator's tenant < flags: a rerun starts from what
    // is there, and what it is told lands in the files.
    #[cfg_attr(not(feature = "emulator"), allow(unused_mut))]
    let mut config = existing_config(&root, global.profile.as_deref())?;
    #[cfg(feature = "emulator")]
    if use_emulator {
        use_emulator_tenant(&root, &mut config)?;
    }
    for warning in &config.warnings {
        ui::warn(&warning.to_string());
    }
    // The domain init starts from decides whether the local emulator's CA is trusted, as for
    // every other command (a domain typed at the prompt is checked without it).
    let domain = (args
        .domain
        .as_deref()
        .and_then(|d| crate::urls::Issuer::parse(d).ok()))
    .or_else(|| config.domain.as_ref().map(|d| d.value.clone()));
    let http = super::context::http_for(domain.as_ref().map(|d| d.as_str()))?;
    let values = ask::values(&http, &args, config, interactive).await?;
    let ci = args.ci.map(|ci| match ci {
        Ci::Github => scaffold::ci::Ci::Github,
        Ci::Gitlab => scaffold::ci::Ci::Gitlab,
    });
    // The domain `init --emulator` writes: a rerun without --emulator keeps the emulator's
    // tenant, which CI can have only by starting it in the job.
    #[cfg(feature = "emulator")]
    let emulator_domain = format!("http://127.0.0.1:{}", super::emulator::DEFAULT_PORT);
    #[cfg(not(feature = "emulator"))]
    let emulator_domain = String::new();
    let emulator = use_emulator || values.domain.trim_end_matches('/') == emulator_domain;
    if ci.is_some()
        && !emulator
        && crate::urls::Issuer::parse(&values.domain).is_ok_and(|i| i.is_loopback())
    {
        ui::warn(&format!(
            "the domain {} is on this machine: nothing answers there in CI (use your Kinde domain, or `cargo kinde --emulator init --ci ...` for a job that starts the emulator)",
            values.domain
        ));
    }
    let extras = Extras {
        xtask: args.xtask,
        source: source(&args, &root)?,
        ci,
        ignore: if use_emulator {
            vec![".kinde/".into()]
        } else {
            Vec::new()
        },
        emulator,
        repository: ci.and_then(|_| scaffold::ci::Repository::of(&root)),
    };
    if (args.xtask || ci.is_some())
        && extras.source == Source::released()
        && !scaffold::ci::PUBLISHED
    {
        ui::warn(&format!(
            "cargo-kinde {} is not on crates.io yet: the {} fails until it is; pass --cargo-kinde-git URL (with --cargo-kinde-rev) or --cargo-kinde-path DIR to take it from source",
            env!("CARGO_PKG_VERSION"),
            if args.xtask {
                "xtask's dependency"
            } else {
                "CI's `cargo install`"
            }
        ));
    }
    let (changes, notes) = scaffold::plan(&root, &values, &extras)?;
    for note in &notes {
        ui::warn(note);
    }
    let force = args.force;
    let outcomes = scaffold::write(&root, &changes, |change| {
        if force {
            return Ok(true);
        }
        if !interactive {
            return Ok(false);
        }
        ui::status(&format!(
            "{} differs from what init would write:",
            change.path.display()
        ));
        ui::status(&change.diff());
        ui::prompt::confirm(&format!("Overwrite {}?", change.path.display()), false)
    })?;
    report(&root, &outcomes, use_emulator);
    if outcomes.iter().any(|(_, o)| *o == Outcome::Skipped) && !interactive {
        ui::warn(
            "files that differ were left alone: review the diff with an interactive `cargo kinde init`, or pass --force",
        );
    }
    Ok(exit::OK)
}

/// Where cargo-kinde comes from, as the flags say. A directory is kept relative to the workspace
/// root when it is inside it (CI checks out the repository elsewhere).
fn source(args: &InitArgs, root: &Path) -> Result<Source, Error> {
    let checked = |flag: &str, value: &str| {
        if value.is_empty() || value.starts_with('-') || value.chars().any(char::is_control) {
            Err(Error::input(format!(
                "{flag} `{value}` is not a usable value"
            )))
        } else {
            Ok(value.to_string())
        }
    };
    if let Some(version) = &args.cargo_kinde_version {
        let version = checked("--cargo-kinde-version", version)?;
        // What `cargo install --version` and a Cargo.toml dependency accept: a bad one would
        // otherwise break the workspace's `cargo metadata` (and every later `init`).
        if let Err(e) = semver::VersionReq::parse(&version) {
            return Err(Error::input(format!(
                "--cargo-kinde-version `{version}` is not a version requirement: {e}"
            ))
            .with_hint(format!(
                "pass a version such as {} (or a requirement such as ^{0})",
                env!("CARGO_PKG_VERSION")
            )));
        }
        return Ok(Source::Version(version));
    }
    if let Some(url) = &args.cargo_kinde_git {
        let rev = args
            .cargo_kinde_rev
            .as_deref()
            .map(|rev| checked("--cargo-kinde-rev", rev))
            .transpose()?;
        return Ok(Source::Git {
            url: checked("--cargo-kinde-git", url)?,
            rev,
        });
    }
    if let Some(dir) = &args.cargo_kinde_path {
        checked("--cargo-kinde-path", &dir.display().to_string())?;
        // Canonical, both: `..` and symlinks resolved, so only a directory really inside the
        // workspace counts as inside.
        // A directory that does not exist fails the Cargo.toml check below (bad input, exit 2).
        let absolute = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        let root = root
            .canonicalize()
            .map_err(|e| Error::file("resolve", root, e))?;
        if !absolute.join("Cargo.toml").is_file() {
            return Err(Error::input(format!(
                "--cargo-kinde-path {}: no Cargo.toml there",
                dir.display()
            ))
            .with_hint("pass the directory of cargo-kinde's Cargo.toml"));
        }
        return Ok(Source::Path(match absolute.strip_prefix(&root) {
            Ok(inside) => inside.to_path_buf(),
            Err(_) => {
                if args.ci.is_some() {
                    ui::warn(&format!(
                        "--cargo-kinde-path {} is outside the workspace: the CI file installs from it, and CI checks out only the repository",
                        absolute.display()
                    ));
                }
                absolute
            }
        }));
    }
    Ok(Source::released())
}

/// What `init --json` prints.
#[derive(Debug, Serialize)]
struct Report<'a> {
    /// The workspace root the files were written in.
    root: &'a Path,
    /// Each file and what happened to it.
    files: Vec<FileReport<'a>>,
    /// Commands to run next.
    next: Vec<String>,
}

/// One file of [`Report`].
#[derive(Debug, Serialize)]
struct FileReport<'a> {
    path: &'a Path,
    outcome: Outcome,
}

fn report(root: &Path, outcomes: &[(PathBuf, Outcome)], emulator: bool) {
    // --quiet: only errors (init exists to write files, not to print).
    if ui::settings().verbosity < 0 && !ui::settings().json {
        return;
    }
    let mut next = vec![
        "cargo kinde register --dry-run".to_string(),
        "cargo kinde register".to_string(),
        "cargo kinde smoke".to_string(),
    ];
    let emulator_command = format!("cargo kinde emulator --state {EMULATOR_STATE}");
    if emulator {
        next.insert(0, emulator_command.clone());
    }
    let report = Report {
        root,
        files: outcomes
            .iter()
            .map(|(path, outcome)| FileReport {
                path,
                outcome: *outcome,
            })
            .collect(),
        next,
    };
    ui::show(&report, |report| {
        for file in &report.files {
            let (mark, word) = match file.outcome {
                Outcome::Created => (paint(style::OK, "+"), "created"),
                Outcome::Updated => (paint(style::OK, "~"), "updated"),
                Outcome::Unchanged => (paint(style::DIM, "="), "unchanged"),
                Outcome::Skipped => (
                    paint(style::WARN, "!"),
                    "differs; left alone (--force overwrites)",
                ),
            };
            ui::result(&format!("{mark} {} {word}", file.path.display()));
        }
        ui::result(&paint(style::BOLD, "next:"));
        for command in &report.next {
            if *command == emulator_command {
                ui::result(&format!("  {command}   (in another terminal)"));
            } else {
                ui::result(&format!("  {command}"));
            }
        }
    });
}

/// The configuration in `root` as other commands load it, without a profile: init writes the
/// top-level tables of `root/kinde.toml` and `.env`, where a profile's values do not belong.
fn existing_config(root: &Path, profile: Option<&str>) -> Result<Config, Error> {
    /// The process environment without `KINDE_PROFILE`.
    struct WithoutProfile;
    impl EnvReader for WithoutProfile {
        fn var(&self, name: &str) -> Option<String> {
            (name != env::PROFILE)
                .then(|| ProcessEnv.var(name))
                .flatten()
        }
    }
    if let Some(name) = profile
        .map(String::from)
        .or_else(|| ProcessEnv.var(env::PROFILE))
    {
        ui::warn(&format!(
            "init writes kinde.toml's top-level tables and .env; profile `{name}` is not used (edit [profiles.{name}] by hand)"
        ));
    }
    let file = root.join(crate::config::FILE_NAME);
    if !file.is_file() {
        return Config::from_environment(root.to_path_buf(), &ProcessEnv);
    }
    let options = LoadOptions {
        config_path: Some(file),
        manifest_path: None,
        profile: None,
        cwd: root.to_path_buf(),
    };
    Config::load(&options, &WithoutProfile)
}

fn workspace(manifest: Option<&Path>) -> Result<PathBuf, Error> {
    let mut command = cargo_metadata::MetadataCommand::new();
    command.no_deps();
    if let Some(manifest) = manifest {
        command.manifest_path(manifest);
    }
    command.exec().map(|m| m.workspace_root.into_std_path_buf()).map_err(|e| {
        Error::input(format!("not in a cargo workspace: {}", e.to_string().lines().next().unwrap_or("")))
            .with_hint("run `cargo kinde init` inside your project, or pass --manifest-path path/to/Cargo.toml")
    })
}

/// `init --emulator`: the tenant of the emulator kept in `.kinde/emulator.json` (created if
/// missing), served at the emulator's default port once `cargo kinde emulator --state` runs. Its
/// values replace the environment's.
#[cfg(feature = "emulator")]
fn use_emulator_tenant(root: &Path, config: &mut Config) -> Result<(), Error> {
    use crate::config::Source;
    use crate::emulator::tenant::Tenant;
    use crate::secret::Secret;
    use crate::urls::Issuer;
    let path = root.join(EMULATOR_STATE);
    let tenant = match Tenant::load(&path)? {
        Some(t) => t,
        None => {
            let key = crate::emulator::keys::SigningKey::generate()?.to_stored()?;
            let tenant = Tenant::seed(key);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::file("create directory", dir, e))?;
            }
            tenant.save(&path)?;
            ui::status(&format!("created an emulator tenant in {EMULATOR_STATE}"));
            tenant
        }
    };
    fn set<T>(slot: &mut Option<Setting<T>>, value: Option<T>) {
        if let Some(value) = value {
            *slot = Some(Setting::new(value, Source::Emulator));
        }
    }
    let issuer = Issuer::parse(&format!(
        "http://127.0.0.1:{}",
        super::emulator::DEFAULT_PORT
    ))
    .map_err(Error::input)?;
    set(&mut config.domain, Some(issuer));
    let m2m = tenant.management_app();
    let app = tenant.user_app();
    set(&mut config.management_client_id, m2m.map(|a| a.id.clone()));
    let secret = |a: Option<&crate::emulator::tenant::Application>| {
        a.and_then(|a| a.client_secret.clone()).map(Secret::new)
    };
    set(&mut config.management_client_secret, secret(m2m));
    set(&mut config.app_client_id, app.map(|a| a.id.clone()));
    set(&mut config.app_client_secret, secret(app));
    Ok(())
}
