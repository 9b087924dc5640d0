//! `cargo kinde init`: scaffold kinde.toml, .env (secrets, 0600), .env.example and .gitignore,
//! optionally an xtask crate and a CI workflow; asking on a terminal for what flags, the
//! environment and an existing .env do not give.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::json;

use super::GlobalArgs;
use crate::config::env::ProcessEnv;
use crate::config::{Config, Setting};
use crate::error::{Error, exit};
use crate::oauth::{self, ClientCredentials};
use crate::scaffold::{self, ApiValue, Extras, Outcome, Values, XtaskDependency};
use crate::secret::Secret;
use crate::ui::{self, paint, style};
use crate::urls::Issuer;

/// CI systems a workflow can be written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Ci {
    /// GitHub Actions.
    Github,
}

/// Arguments of `cargo kinde init`.
#[derive(Debug, Args)]
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
    /// Also write a CI workflow that runs `cargo kinde smoke`.
    #[arg(long, value_enum)]
    pub ci: Option<Ci>,
    /// Overwrite files that differ without asking.
    #[arg(long)]
    pub force: bool,
    /// The xtask's dependency on cargo-kinde as a path (for developing cargo-kinde itself).
    #[arg(long, hide = true, value_name = "PATH")]
    pub xtask_path: Option<PathBuf>,
}

const DEFAULT_CALLBACK: &str = "http://localhost:3000/api/auth/kinde_callback";
const DEFAULT_LOGOUT: &str = "http://localhost:3000";
const EMULATOR_STATE: &str = ".kinde/emulator.json";

/// Run `init`.
pub async fn run(global: &GlobalArgs, args: InitArgs) -> Result<u8, Error> {
    let root = workspace(global.manifest_path.as_deref())?;
    let interactive = ui::settings().interactive;
    let http = crate::net::client()?;
    #[cfg(feature = "emulator")]
    let use_emulator = global.emulator;
    #[cfg(not(feature = "emulator"))]
    let use_emulator = false;
    // Environment and .env < the emulator's tenant < flags (kinde.toml is what init writes).
    #[cfg_attr(not(feature = "emulator"), allow(unused_mut))]
    let mut config = Config::from_environment(root.clone(), &ProcessEnv)?;
    #[cfg(feature = "emulator")]
    if use_emulator {
        use_emulator_tenant(&root, &mut config)?;
    }
    for warning in &config.warnings {
        ui::warn(&warning.to_string());
    }
    let value = |s: &Option<Setting<String>>| s.as_ref().map(|s| s.value.clone());
    let mut domain = args
        .domain
        .clone()
        .or_else(|| config.domain.as_ref().map(|d| d.value.as_str().to_string()));
    let mut m2m_id = args
        .management_client_id
        .clone()
        .or_else(|| value(&config.management_client_id));
    let mut m2m_secret = config.management_client_secret.map(|s| s.value);
    let mut app_id = args
        .app_client_id
        .clone()
        .or_else(|| value(&config.app_client_id));
    let app_secret = config.app_client_secret.map(|s| s.value);

    if !interactive {
        let mut missing = Vec::new();
        if domain.is_none() {
            missing.push("the Kinde domain: --domain or KINDE_DOMAIN");
        }
        if m2m_id.is_none() {
            missing.push("the management app's client id: --management-client-id or KINDE_MANAGEMENT_CLIENT_ID");
        }
        if m2m_secret.is_none() {
            missing.push("its secret: KINDE_MANAGEMENT_CLIENT_SECRET (environment or .env)");
        }
        if app_id.is_none() {
            missing.push("the app's client id: --app-client-id or KINDE_CLIENT_ID");
        }
        if !missing.is_empty() {
            return Err(Error::input(format!("missing {} value(s):\n  - {}", missing.len(), missing.join("\n  - ")))
                .with_hint("pass them as flags / environment variables, run in a terminal to be asked, or try `cargo kinde init --emulator`"));
        }
    }
    // Ask (on a terminal) for what is missing, checking each answer live.
    let issuer = loop {
        let text = match domain.take() {
            Some(d) => d,
            None => ui::prompt::text("Kinde domain (e.g. https://acme.kinde.com)")?,
        };
        match check_domain(&http, &text, interactive).await {
            Ok(issuer) => break issuer,
            Err(e) if interactive => ui::warn(&format!(
                "{e}{}",
                e.hint().map(|h| format!(" ({h})")).unwrap_or_default()
            )),
            Err(e) => return Err(e),
        }
    };
    loop {
        let id = match m2m_id.take() {
            Some(id) => id,
            None => ui::prompt::text(
                "Management (M2M) app client id (Settings > Applications > <M2M app> > App keys)",
            )?,
        };
        let secret = match m2m_secret.take() {
            Some(s) => s,
            None => ui::prompt::secret("Management (M2M) app client secret")?,
        };
        if !interactive {
            m2m_id = Some(id);
            m2m_secret = Some(secret);
            break;
        }
        let request = ClientCredentials {
            issuer: issuer.clone(),
            client_id: id.clone(),
            client_secret: secret.clone(),
            audiences: vec![issuer.management_audience()],
            scopes: Vec::new(),
        };
        match oauth::client_credentials(&http, None, &request).await {
            Ok(_) => {
                ui::status(&format!(
                    "{} the management app can get a Management API token",
                    paint(style::OK, "✓")
                ));
                m2m_id = Some(id);
                m2m_secret = Some(secret);
                break;
            }
            Err(e) => ui::warn(&format!(
                "{e}{}",
                e.hint().map(|h| format!(" ({h})")).unwrap_or_default()
            )),
        }
    }
    let (m2m_id, m2m_secret) = (m2m_id.unwrap_or_default(), m2m_secret);
    if app_id.is_none() {
        app_id = Some(pick_app(&http, &issuer, &m2m_id, m2m_secret.as_ref()).await?);
    }
    let mut callback_urls = args.callback_urls.clone();
    let mut logout_urls = args.logout_urls.clone();
    let mut apis: Vec<ApiValue> = args
        .apis
        .iter()
        .map(|a| ApiValue::parse(a))
        .collect::<Result<_, _>>()?;
    if interactive && callback_urls.is_empty() {
        callback_urls = ask_callbacks()?;
    }
    if interactive && logout_urls.is_empty() {
        logout_urls = vec![ask_url("Logout URL", DEFAULT_LOGOUT)?];
    }
    if interactive && apis.is_empty() {
        while ui::prompt::confirm(
            if apis.is_empty() {
                "Register an API of yours (name and audience)?"
            } else {
                "Another API?"
            },
            false,
        )? {
            let name = ui::prompt::text("API name (1-64 characters)")?;
            let audience =
                ui::prompt::text("Audience (a unique id, usually its URL; cannot change later)")?;
            apis.push(ApiValue::parse(&format!("{name}={audience}"))?);
        }
    }
    if callback_urls.is_empty() {
        callback_urls.push(DEFAULT_CALLBACK.into());
    }
    if logout_urls.is_empty() {
        logout_urls.push(DEFAULT_LOGOUT.into());
    }
    for url in callback_urls.iter().chain(&logout_urls) {
        crate::urls::check_redirect_url(url)
            .map_err(|e| Error::input(format!("--callback-url / --logout-url: {e}")))?;
    }
    let values = Values {
        domain: issuer.as_str().to_string(),
        management_client_id: m2m_id,
        management_client_secret: m2m_secret,
        app_client_id: app_id.unwrap_or_default(),
        app_client_secret: app_secret,
        callback_urls,
        logout_urls,
        apis,
        login_port: 53180,
    };
    let dependency = match &args.xtask_path {
        Some(path) => XtaskDependency::Path(path.clone()),
        None => XtaskDependency::Version(env!("CARGO_PKG_VERSION").into()),
    };
    let extras = Extras {
        xtask: args.xtask.then_some(dependency),
        github: args.ci == Some(Ci::Github),
        ignore: if use_emulator {
            vec![".kinde/".into()]
        } else {
            Vec::new()
        },
    };
    let changes = scaffold::plan(&root, &values, &extras)?;
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

fn report(root: &Path, outcomes: &[(PathBuf, Outcome)], emulator: bool) {
    let mut next = vec![
        "cargo kinde register --dry-run".to_string(),
        "cargo kinde register".to_string(),
        "cargo kinde smoke".to_string(),
    ];
    if emulator {
        next.insert(
            0,
            format!("cargo kinde emulator --state {EMULATOR_STATE}   (in another terminal)"),
        );
    }
    if ui::settings().json {
        let files: Vec<_> = outcomes
            .iter()
            .map(|(p, o)| json!({"path": p, "outcome": o}))
            .collect();
        ui::json(&json!({"root": root, "files": files, "next": next}));
        return;
    }
    for (path, outcome) in outcomes {
        let (mark, word) = match outcome {
            Outcome::Created => (paint(style::OK, "+"), "created"),
            Outcome::Updated => (paint(style::OK, "~"), "updated"),
            Outcome::Unchanged => (paint(style::DIM, "="), "unchanged"),
            Outcome::Skipped => (
                paint(style::WARN, "!"),
                "differs; left alone (--force overwrites)",
            ),
        };
        ui::result(&format!("{mark} {} {word}", path.display()));
    }
    ui::result(&paint(style::BOLD, "next:"));
    for command in next {
        ui::result(&format!("  {command}"));
    }
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

/// The domain must parse and, on a terminal, answer like a Kinde issuer.
async fn check_domain(http: &reqwest::Client, text: &str, live: bool) -> Result<Issuer, Error> {
    let issuer = Issuer::parse(text).map_err(Error::input)?;
    if !live {
        return Ok(issuer);
    }
    let discovery = oauth::login::discover(http, &issuer).await?;
    if discovery.issuer.trim_end_matches('/') != issuer.as_str() {
        return Err(Error::input(format!(
            "{issuer} answers as issuer `{}`, not as itself",
            discovery.issuer
        ))
        .with_hint("use the domain shown under Settings > Details > Domain"));
    }
    ui::status(&format!(
        "{} {issuer} answers like a Kinde issuer",
        paint(style::OK, "✓")
    ));
    Ok(issuer)
}

/// The app to sign users in to: picked from the tenant's applications when the M2M token can
/// list them, typed otherwise.
async fn pick_app(
    http: &reqwest::Client,
    issuer: &Issuer,
    m2m_id: &str,
    m2m_secret: Option<&Secret>,
) -> Result<String, Error> {
    if let Some(secret) = m2m_secret {
        let credentials = ClientCredentials {
            issuer: issuer.clone(),
            client_id: m2m_id.into(),
            client_secret: secret.clone(),
            audiences: Vec::new(),
            scopes: Vec::new(),
        };
        let client = crate::kinde::client::Client::new(http.clone(), credentials, None)
            .with_observer(|event| ui::status(&event.to_string()));
        if let Ok(apps) = client.applications().await {
            let apps: Vec<_> = apps.into_iter().filter(|a| a.kind != "m2m").collect();
            if !apps.is_empty() {
                let labels: Vec<String> = apps
                    .iter()
                    .map(|a| format!("{} ({}, {})", a.name, a.kind, a.id))
                    .collect();
                let choice = ui::prompt::select("Application your users sign in to", &labels)?;
                return Ok(apps[choice].id.clone());
            }
        }
    }
    ui::prompt::text("Application client id (Settings > Applications > <app> > App keys)")
}

fn ask_callbacks() -> Result<Vec<String>, Error> {
    let choices = [
        (DEFAULT_CALLBACK, "Kinde SDK default route"),
        (
            "http://localhost:3000/auth/callback",
            "axum / leptos (port 3000)",
        ),
        (
            "http://localhost:8080/auth/callback",
            "actix-web / rocket (port 8080)",
        ),
        (
            "http://localhost:8000/auth/callback",
            "loco / rocket (port 8000)",
        ),
    ];
    let mut labels: Vec<String> = choices
        .iter()
        .map(|(url, what)| format!("{url}   ({what})"))
        .collect();
    labels.push("another URL…".into());
    let pick = ui::prompt::select("Callback URL of your app", &labels)?;
    let url = match choices.get(pick) {
        Some((url, _)) => (*url).to_string(),
        None => ask_url("Callback URL", DEFAULT_CALLBACK)?,
    };
    Ok(vec![url])
}

fn ask_url(label: &str, default: &str) -> Result<String, Error> {
    loop {
        let url = ui::prompt::text_or(label, default)?;
        match crate::urls::check_redirect_url(&url) {
            Ok(()) => return Ok(url),
            Err(reason) => ui::warn(&reason),
        }
    }
}

/// `init --emulator`: the tenant of the emulator kept in `.kinde/emulator.json` (created if
/// missing), served at the emulator's default port once `cargo kinde emulator --state` runs. Its
/// values replace the environment's.
#[cfg(feature = "emulator")]
fn use_emulator_tenant(root: &Path, config: &mut Config) -> Result<(), Error> {
    use crate::config::Source;
    use crate::emulator::tenant::Tenant;
    let path = root.join(EMULATOR_STATE);
    let tenant = match Tenant::load(&path)? {
        Some(t) => t,
        None => {
            let key = crate::emulator::keys::SigningKey::generate()?.to_stored()?;
            let tenant = Tenant::seed(key);
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
