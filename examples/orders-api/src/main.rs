//! Serves the orders API, configured from the environment:
//!
//! - `KINDE_ISSUER_URL` (or `KINDE_DOMAIN`, `https://` added when it has no scheme): the tenant;
//! - `KINDE_AUDIENCE`: this API's audience;
//! - `ORDERS_API_ADDR`: where to listen (default `127.0.0.1:3000`).

use std::process::ExitCode;

use orders_api::{Config, app};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("orders-api: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let config = config_from_env()?;
    let addr = std::env::var("ORDERS_API_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "orders-api: listening on http://{local} (issuer {}, audience {})",
        config.issuer, config.audience
    );
    axum::serve(listener, app(config))
        .await
        .map_err(|e| e.to_string())
}

/// The configuration the environment gives.
fn config_from_env() -> Result<Config, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let issuer = match (var("KINDE_ISSUER_URL"), var("KINDE_DOMAIN")) {
        (Some(url), _) => url,
        (None, Some(domain)) if domain.contains("://") => domain,
        (None, Some(domain)) => format!("https://{domain}"),
        (None, None) => {
            return Err(
                "set KINDE_ISSUER_URL (e.g. https://acme.kinde.com) or KINDE_DOMAIN".into(),
            );
        }
    };
    let audience = var("KINDE_AUDIENCE")
        .ok_or("set KINDE_AUDIENCE to this API's audience (e.g. https://api.acme.test)")?;
    if audience.split_whitespace().count() != 1 {
        return Err("KINDE_AUDIENCE must hold this API's one audience".into());
    }
    Ok(Config::new(issuer.trim(), audience.trim()))
}
