//! The values `init` writes: from flags, the environment and `.env` (and the emulator's tenant),
//! and, on a terminal, asked for with each answer checked live.

use super::questions::{
    AppChoice, ask_callbacks, ask_url, check_domain, explain, keep_unreachable, list_apps, pick_app,
};
use super::{DEFAULT_CALLBACK, DEFAULT_LOGOUT, InitArgs};
use crate::config::{Config, Setting, Source};
use crate::error::{Error, exit};
use crate::oauth::{self, ClientCredentials};
use crate::scaffold::{ApiValue, Values};
use crate::ui::{self, paint, style};

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
    let mut apis: Vec<ApiValue> = config
        .apis
        .iter()
        .map(|a| ApiValue {
            name: a.name.clone(),
            audience: a.audience.clone(),
        })
        .collect();
    for api in &args.apis {
        let api = ApiValue::parse(api)?;
        if !apis.iter().any(|a| a.audience == api.audience) {
            apis.push(api);
        }
    }
    let asked_for_apis = apis.is_empty();
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
    // Ask (on a terminal) for what is missing, checking each answer live. `live` turns off when
    // the user keeps a domain that does not answer: nothing else can be checked then.
    // `init --emulator` takes its values from the emulator's state file, and the emulator is
    // not running yet: nothing to check against.
    let from_emulator = args.domain.is_none()
        && matches!(
            config.domain.as_ref().map(|d| &d.source),
            Some(Source::Emulator)
        );
    let mut live = interactive && !from_emulator;
    let issuer = loop {
        let text = match domain.take() {
            Some(d) => d,
            None => ui::prompt::text("Kinde domain (e.g. https://acme.kinde.com)")?,
        };
        match check_domain(http, &text, live).await {
            Ok(issuer) => break issuer,
            Err(e) if interactive && e.exit_code() == exit::NETWORK => {
                ui::warn(&explain(&e));
                if let Some(issuer) = keep_unreachable(&text)? {
                    live = false;
                    break issuer;
                }
            }
            Err(e) if interactive => ui::warn(&explain(&e)),
            Err(e) => return Err(e),
        }
    };
    // After a refused secret the id is offered again as typed: usually only the secret was wrong.
    let mut typed_id: Option<String> = None;
    loop {
        const LABEL: &str =
            "Management (M2M) app client id (Settings > Applications > <M2M app> > App keys)";
        let id = match (m2m_id.take(), &typed_id) {
            (Some(id), _) => id,
            (None, Some(previous)) => ui::prompt::text_or(LABEL, previous)?,
            (None, None) => ui::prompt::text(LABEL)?,
        };
        let secret = match m2m_secret.take() {
            Some(s) => s,
            None => ui::prompt::secret("Management (M2M) app client secret")?,
        };
        if !live {
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
            Err(e) => {
                ui::warn(&explain(&e));
                typed_id = Some(id);
            }
        }
    }
    let (m2m_id, m2m_secret) = (m2m_id.unwrap_or_default(), m2m_secret);
    // The tenant's applications, when the management app can list them: to pick the app from,
    // or to check the one given. Not tried after the user kept an unreachable domain.
    let tenant_apps = if !live && (interactive || from_emulator) {
        Err(Error::network(format!("{issuer} did not answer")))
    } else {
        list_apps(http, &issuer, &m2m_id, m2m_secret.as_ref()).await
    };
    let app = match (app_id.take(), &tenant_apps) {
        (None, Ok(apps)) if interactive => pick_app(apps, "Application your users sign in to")?,
        (None, _) => AppChoice::typed(ui::prompt::text(
            "Application client id (Settings > Applications > <app> > App keys)",
        )?),
        (Some(id), Ok(apps)) => match apps.iter().find(|a| a.id == id) {
            Some(app) => AppChoice::found(app),
            None if interactive => {
                ui::warn(&format!(
                    "the app client id `{id}` is not an application of {issuer}"
                ));
                pick_app(apps, "Pick the application your users sign in to")?
            }
            None => {
                return Err(Error::input(format!(
                    "the app client id `{id}` (--app-client-id, KINDE_CLIENT_ID or [app] in kinde.toml) is not an application of {issuer}"
                ))
                .with_hint(format!(
                    "use one of: {}",
                    apps.iter()
                        .filter(|a| a.kind != "m2m")
                        .map(|a| format!("{} ({}, {})", a.name, a.kind_name(), a.id))
                        .collect::<Vec<_>>()
                        .join("; ")
                )));
            }
        },
        (Some(id), Err(_)) if from_emulator => AppChoice::typed(id),
        (Some(id), Err(e)) => {
            ui::warn(&format!(
                "the app client id `{id}` was not checked against the tenant: {}",
                explain(e)
            ));
            AppChoice::typed(id)
        }
    };
    if let Some((name, kind)) = &app.described {
        ui::status(&format!(
            "{} the app is `{name}`, a {kind} app",
            paint(style::OK, "✓")
        ));
    }
    // A back-end app signs users in with its secret: asked for (hidden) and kept in .env.
    let app_secret = match app_secret {
        Some(secret) => Some(secret),
        None if interactive && app.has_secret => Some(ui::prompt::secret(
            "The app's client secret, for your back-end (Settings > Applications > <app> > App keys; saved in .env)",
        )?),
        None => None,
    };
    // Flags replace what kinde.toml has; without them its URLs stay and are not asked again.
    let from_config = |urls: &[Setting<String>]| urls.iter().map(|u| u.value.clone()).collect();
    let mut callback_urls = if args.callback_urls.is_empty() {
        from_config(&config.callback_urls)
    } else {
        args.callback_urls.clone()
    };
    let mut logout_urls = if args.logout_urls.is_empty() {
        from_config(&config.logout_urls)
    } else {
        args.logout_urls.clone()
    };
    if interactive && callback_urls.is_empty() {
        callback_urls = ask_callbacks()?;
    }
    if interactive && logout_urls.is_empty() {
        logout_urls = vec![ask_url("Logout URL", DEFAULT_LOGOUT)?];
    }
    if interactive && asked_for_apis {
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
        app_client_id: app.id,
        app_client_secret: app_secret,
        callback_urls,
        logout_urls,
        apis,
        login_port: 53180,
    })
}
