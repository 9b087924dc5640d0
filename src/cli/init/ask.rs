//! The values `init` writes: from flags, the environment and `.env` (and the emulator's tenant),
//! and, on a terminal, asked for with each answer checked live.

use super::{DEFAULT_CALLBACK, DEFAULT_LOGOUT, InitArgs};
use crate::config::{Config, Setting};
use crate::error::Error;
use crate::oauth::{self, ClientCredentials};
use crate::scaffold::{ApiValue, Values};
use crate::secret::Secret;
use crate::ui::{self, paint, style};
use crate::urls::Issuer;

/// Everything `init` writes, from `config` (environment, `.env`, emulator) and `args`, asking on a
/// terminal for what is missing; without one, a single error lists every missing value.
pub(super) async fn values(
    http: &reqwest::Client,
    args: &InitArgs,
    config: Config,
    interactive: bool,
) -> Result<Values, Error> {
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
    // Flags are checked before anything is asked: a typo must not cost a whole session.
    let mut apis: Vec<ApiValue> = args
        .apis
        .iter()
        .map(|a| ApiValue::parse(a))
        .collect::<Result<_, _>>()?;
    for (flag, urls) in [
        ("--callback-url", &args.callback_urls),
        ("--logout-url", &args.logout_urls),
    ] {
        for url in urls {
            crate::urls::check_redirect_url(url)
                .map_err(|e| Error::input(format!("{flag}: {e}")))?;
        }
    }

    if !interactive {
        let mut missing = Vec::new();
        if domain.is_none() {
            missing.push("the Kinde domain: --domain or KINDE_DOMAIN");
        }
        if m2m_id.is_none() {
            missing.push("the management app's client id: --management-client-id or KINDE_MANAGEMENT_CLIENT_ID");
        }
        if m2m_secret.is_none() {
            missing.push("the management app's client secret: KINDE_MANAGEMENT_CLIENT_SECRET (environment or .env)");
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
        match check_domain(http, &text, interactive).await {
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
        match oauth::client_credentials(http, None, &request).await {
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
        app_id = Some(pick_app(http, &issuer, &m2m_id, m2m_secret.as_ref()).await?);
    }
    let mut callback_urls = args.callback_urls.clone();
    let mut logout_urls = args.logout_urls.clone();
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
            match ApiValue::new(&name, &audience) {
                Ok(api) => apis.push(api),
                Err(reason) => ui::warn(&format!("{reason}; this API was not added")),
            }
        }
    }
    if callback_urls.is_empty() {
        callback_urls.push(DEFAULT_CALLBACK.into());
    }
    if logout_urls.is_empty() {
        logout_urls.push(DEFAULT_LOGOUT.into());
    }
    Ok(Values {
        domain: issuer.as_str().to_string(),
        management_client_id: m2m_id,
        management_client_secret: m2m_secret,
        app_client_id: app_id.unwrap_or_default(),
        app_client_secret: app_secret,
        callback_urls,
        logout_urls,
        apis,
        login_port: 53180,
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
            "axum, leptos: port 3000",
        ),
        (
            "http://localhost:8080/auth/callback",
            "actix-web: port 8080",
        ),
        ("http://localhost:8000/auth/callback", "rocket: port 8000"),
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
