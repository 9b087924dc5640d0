//! `[app] name` and `type`: the application `register` creates when `kinde.toml` gives no client
//! id (writing what it created back is [`super::record`]'s).

use std::fmt;
use std::ops::Range;

use serde::Serialize;

use super::file::{AppSection, File};
use super::{Config, Setting, Source};
use crate::error::Error;

/// The kind of application users sign in to, as `kinde.toml` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    /// A back-end web app (Kinde's `reg`): a confidential client with a client secret.
    Regular,
    /// A front-end, single-page or mobile app (Kinde's `spa`): PKCE, no secret.
    Spa,
}

impl AppKind {
    /// Kinde's `type` for it in the Management API.
    pub fn kinde_type(self) -> &'static str {
        match self {
            AppKind::Regular => "reg",
            AppKind::Spa => "spa",
        }
    }

    /// The kind of a Kinde `type`, when it is one `[app]` can be.
    pub fn from_kinde_type(kind: &str) -> Option<AppKind> {
        match kind {
            "reg" => Some(AppKind::Regular),
            "spa" => Some(AppKind::Spa),
            _ => None,
        }
    }

    /// Whether Kinde gives it a client secret.
    pub fn has_secret(self) -> bool {
        self == AppKind::Regular
    }

    /// Parse `kinde.toml`'s `type`, or say what it accepts.
    fn parse(text: &str) -> Result<AppKind, String> {
        match text {
            "regular" => Ok(AppKind::Regular),
            "spa" => Ok(AppKind::Spa),
            "reg" => {
                Err("`type` is `reg`: write `regular` (Kinde's `reg`, a back-end web app)".into())
            }
            "m2m" | "device" => Err(format!(
                "`type` is `{text}`: [app] is the application users sign in to, `regular` or `spa`; M2M and device apps have no sign-in (the management M2M app is created in the Kinde admin)"
            )),
            other => Err(format!(
                "`type` is `{other}`: write `regular` (back-end web, with a client secret) or `spa` (front-end, single-page, mobile or native, no secret)"
            )),
        }
    }
}

impl fmt::Display for AppKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AppKind::Regular => "regular",
            AppKind::Spa => "spa",
        })
    }
}

/// `[app] name` and `type` as the layers of `kinde.toml` set them.
#[derive(Debug, Clone)]
pub struct AppSpec {
    /// The app's name in Kinde.
    pub name: Setting<String>,
    /// Its type.
    pub kind: Option<Setting<AppKind>>,
    /// The profile whose `[app]` holds `name` (`None`: the top level); the client id is written
    /// back beside it.
    pub profile: Option<String>,
    name_span: Range<usize>,
    kind_span: Option<Range<usize>>,
}

impl AppSpec {
    /// The app `register` creates (or adopts by name): a name and a type and no client id.
    pub fn to_create(config: &Config) -> Option<(&str, AppKind)> {
        let spec = config.app_spec.as_ref()?;
        match (&config.app_client_id, &spec.kind) {
            (None, Some(kind)) => Some((spec.name.value.as_str(), kind.value)),
            _ => None,
        }
    }
}

/// Lay one layer's `[app] name` / `type` over `config`, checking `type`.
pub(super) fn apply_layer(
    config: &mut Config,
    file: &File,
    app: &AppSection,
    profile: Option<&str>,
    src: &dyn Fn(Range<usize>) -> Source,
) -> Result<(), Error> {
    let kind = app
        .kind
        .as_ref()
        .map(|kind| {
            AppKind::parse(kind.get_ref())
                .map(|k| (Setting::new(k, src(kind.span())), kind.span()))
                .map_err(|why| Error::input(file.error_at(kind.span(), &why)))
        })
        .transpose()?;
    if let Some(name) = &app.name {
        if name.get_ref().trim().is_empty() {
            return Err(Error::input(
                file.error_at(name.span(), "`name` of [app] is empty"),
            ));
        }
        let (kind, kind_span) = match (kind, &config.app_spec) {
            (Some((k, span)), _) => (Some(k), Some(span)),
            (None, Some(old)) => (old.kind.clone(), old.kind_span.clone()),
            (None, None) => (None, None),
        };
        config.app_spec = Some(AppSpec {
            name: Setting::new(name.get_ref().clone(), src(name.span())),
            kind,
            profile: profile.map(String::from),
            name_span: name.span(),
            kind_span,
        });
    } else if let Some((k, span)) = kind {
        match &mut config.app_spec {
            Some(spec) => {
                spec.kind = Some(k);
                spec.kind_span = Some(span);
            }
            None => {
                return Err(Error::input(file.error_at(
                    span,
                    "[app] has `type` but no `name`: register creates an app from both",
                ))
                .with_hint("add `name = \"...\"` under [app], or remove `type`"));
            }
        }
    }
    Ok(())
}

/// Once every layer and the environment are read: a `name` with neither a client id nor a
/// `type` cannot be matched or created.
pub(super) fn check(config: &Config, file: &File) -> Result<(), Error> {
    let Some(spec) = &config.app_spec else {
        return Ok(());
    };
    if spec.kind.is_none() && config.app_client_id.is_none() {
        return Err(Error::input(file.error_at(
            spec.name_span.clone(),
            "[app] has `name` but neither `type` nor `client_id`",
        ))
        .with_hint("add `type = \"regular\"` (or \"spa\") so `cargo kinde register` creates the app, or set `client_id` to the existing app's"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_named_as_kinde_toml_writes_them() {
        assert_eq!(AppKind::parse("regular"), Ok(AppKind::Regular));
        assert_eq!(AppKind::parse("spa"), Ok(AppKind::Spa));
        assert!(AppKind::parse("reg").unwrap_err().contains("`regular`"));
        assert!(AppKind::parse("m2m").unwrap_err().contains("Kinde admin"));
        assert!(AppKind::parse("native").unwrap_err().contains("spa"));
        assert_eq!(AppKind::Regular.kinde_type(), "reg");
        assert_eq!(AppKind::from_kinde_type("spa"), Some(AppKind::Spa));
        assert_eq!(AppKind::from_kinde_type("m2m"), None);
    }
}
