//! The questions `init` asks about the tenant and the app, each answer checked live: the domain,
//! the application users sign in to, and the callback and logout URLs.

use super::DEFAULT_CALLBACK;
use crate::error::Error;
use crate::kinde::resources::Application;
use crate::oauth::{self, ClientCredentials};
use crate::secret::Secret;
use crate::ui::{self, paint, style};
use crate::urls::Issuer;

/// The domain must parse and, on a terminal, answer like a Kinde issuer.
pub(super) async fn check_domain(
    http: &reqwest::Client,
    text: &str,
    live: bool,
) -> Result<Issuer, Error> {
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

/// The app users sign in to, and what the tenant says it is when it was looked up.
pub(super) struct AppChoice {
    /// Its client id.
    pub(super) id: String,
    /// Its name and type in words, when found in the tenant.
    pub(super) described: Option<(String, String)>,
    /// Whether it has a client secret (a back-end app).
    pub(super) has_secret: bool,
}

impl AppChoice {
    pub(super) fn found(app: &Application) -> AppChoice {
        AppChoice {
            id: app.id.clone(),
            described: Some((app.name.clone(), app.kind_name().to_string())),
            has_secret: app.has_secret(),
        }
    }

    /// An id not looked up: whether it has a secret is unknown, so none is asked for.
    pub(super) fn typed(id: String) -> AppChoice {
        AppChoice {
            id,
            described: None,
            has_secret: false,
        }
    }
}

/// The tenant's applications, listed with the management app's token.
pub(super) async fn list_apps(
    http: &reqwest::Client,
    issuer: &Issuer,
    m2m_id: &str,
    m2m_secret: Option<&Secret>,
) -> Result<Vec<Application>, Error> {
    let secret = m2m_secret.ok_or_else(|| Error::input("no management client secret"))?;
    let credentials = ClientCredentials {
        issuer: issuer.clone(),
        client_id: m2m_id.into(),
        client_secret: secret.clone(),
        audiences: Vec::new(),
        scopes: Vec::new(),
    };
    crate::kinde::client::Client::new(http.clone(), credentials, None)
        .with_observer(|event| ui::status(&event.to_string()))
        .applications()
        .await
}

/// Pick one of the tenant's apps users can sign in to (typed when it has none).
pub(super) fn pick_app(apps: &[Application], label: &str) -> Result<AppChoice, Error> {
    let apps: Vec<&Application> = apps.iter().filter(|a| a.kind != "m2m").collect();
    if apps.is_empty() {
        return Ok(AppChoice::typed(ui::prompt::text(
            "Application client id (Settings > Applications > <app> > App keys)",
        )?));
    }
    let labels: Vec<String> = apps
        .iter()
        .map(|a| format!("{} ({} app, {})", a.name, a.kind_name(), a.id))
        .collect();
    let choice = ui::prompt::select(label, &labels)?;
    Ok(AppChoice::found(apps[choice]))
}

/// Offer to keep a domain that did not answer; `None`: the user types another.
pub(super) fn keep_unreachable(text: &str) -> Result<Option<Issuer>, Error> {
    let choices = [
        "Type another domain".to_string(),
        "Use it anyway: the credentials and the app are not checked now, and register, smoke, token and login fail until it answers".to_string(),
    ];
    if ui::prompt::select("The domain did not answer", &choices)? == 0 {
        return Ok(None);
    }
    Issuer::parse(text).map(Some).map_err(Error::input)
}

/// An error and its hint on one line, for a warning before asking again.
pub(super) fn explain(e: &Error) -> String {
    format!(
        "{e}{}",
        e.hint().map(|h| format!(" ({h})")).unwrap_or_default()
    )
}

pub(super) fn ask_callbacks() -> Result<Vec<String>, Error> {
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

pub(super) fn ask_url(label: &str, default: &str) -> Result<String, Error> {
    loop {
        let url = ui::prompt::text_or(label, default)?;
        match crate::urls::check_redirect_url(&url) {
            Ok(()) => return Ok(url),
            Err(reason) => ui::warn(&reason),
        }
    }
}
