//! `[app] name` and `type`: the application `register` creates when `kinde.toml` gives no client
//! id, and writing what it created back: the client id into `kinde.toml` (comments and layout
//! kept, with `toml_edit`) and the client secret into `.env` (mode 0600, other lines kept).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::{DocumentMut, Item, TableLike};

use super::file::{AppSection, File};
use super::{Config, Setting, Source};
use crate::error::Error;
use crate::secret::Secret;

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

/// Where `register` writes what it learnt of a created or adopted app.
#[derive(Debug, Clone)]
pub struct AppRecord {
    /// `kinde.toml`.
    pub toml: PathBuf,
    /// The profile whose `[app]` gets `client_id` (`None`: the top-level `[app]`).
    pub profile: Option<String>,
    /// The `.env` that gets `KINDE_CLIENT_SECRET`: the profile's when one is selected, as it
    /// wins over `.env` when read.
    pub dotenv: PathBuf,
}

/// What [`AppRecord::save`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    /// Whether a client secret went into `.env`.
    pub secret: bool,
}

impl AppRecord {
    /// Where to record the app of `config`, when it has one to create.
    pub fn for_config(config: &Config) -> Option<AppRecord> {
        let spec = config.app_spec.as_ref()?;
        let toml = config.file.clone()?;
        let dotenv = match config
            .profile
            .as_deref()
            .and_then(super::env::profile_file_name)
        {
            Some(name) => config.root.join(name),
            None => config.root.join(".env"),
        };
        Some(AppRecord {
            toml,
            profile: spec.profile.clone(),
            dotenv,
        })
    }

    /// Record the app: the secret into `.env` first, then the client id into `kinde.toml`. In
    /// this order a run stopped between the two leaves the secret kept and the app found again
    /// by name; the other order could leave a client id whose secret no file holds.
    pub fn save(&self, client_id: &str, secret: Option<&Secret>) -> Result<Saved, Error> {
        if let Some(secret) = secret {
            super::dotenv::save(
                &self.dotenv,
                &[("KINDE_CLIENT_SECRET", secret.expose().to_string())],
                "",
            )?;
        }
        let text =
            std::fs::read_to_string(&self.toml).map_err(|e| Error::file("read", &self.toml, e))?;
        let edited = with_client_id(&text, self.profile.as_deref(), client_id)
            .map_err(|why| Error::input(format!("{}: {why}", self.toml.display())))?;
        // Never write a file the next run cannot read: check the edit parses as kinde.toml.
        File::parse(&self.toml, edited.clone())?;
        crate::files::write(&self.toml, edited.as_bytes(), crate::files::Access::Shared)?;
        Ok(Saved {
            secret: secret.is_some(),
        })
    }

    /// Whether [`AppRecord::save`] can succeed, checked before the app is created so a write
    /// that would be refused (a symlinked `.env` or `kinde.toml`, a directory that takes no new
    /// file, a `kinde.toml` whose `[app]` cannot take the client id) stops the run before Kinde
    /// has an app nobody recorded.
    pub fn preflight(&self) -> Result<(), Error> {
        crate::files::probe_write(&self.dotenv)?;
        crate::files::probe_write(&self.toml)?;
        let text =
            std::fs::read_to_string(&self.toml).map_err(|e| Error::file("read", &self.toml, e))?;
        let edited = with_client_id(&text, self.profile.as_deref(), "preflight")
            .map_err(|why| Error::input(format!("{}: {why}", self.toml.display())))?;
        File::parse(&self.toml, edited).map(drop)
    }

    /// The `.env` path, for messages.
    pub fn dotenv(&self) -> &Path {
        &self.dotenv
    }
}

/// `text` (a `kinde.toml`) with `client_id` set in `[app]` (or `[profiles.NAME.app]`), every
/// other line, comment and blank kept as it was.
pub fn with_client_id(
    text: &str,
    profile: Option<&str>,
    client_id: &str,
) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("cannot be edited: {e}"))?;
    let mut table: &mut dyn TableLike = doc.as_table_mut();
    if let Some(profile) = profile {
        table = descend(table, "profiles")?;
        table = descend(table, profile)?;
    }
    let app = descend(table, "app")?;
    app.insert("client_id", Item::Value(client_id.into()));
    Ok(doc.to_string())
}

fn descend<'a>(table: &'a mut dyn TableLike, key: &str) -> Result<&'a mut dyn TableLike, String> {
    table
        .get_mut(key)
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| format!("has no [{key}] table to write the client id into"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_id_goes_into_app_keeping_comments_and_layout() {
        let text = "# Our tenant\n[tenant]\ndomain = \"https://acme.kinde.com\"  # prod\n\n[app]\n# the web app\nname = \"Acme web\"\ntype = \"regular\"\ncallback_urls = [\n  \"https://app.acme.example/callback\", # main\n]\n\n[[apis]]\nname = \"Acme API\"\n";
        let out = with_client_id(text, None, "abc123").unwrap();
        assert_eq!(
            out,
            text.replace(
                "  \"https://app.acme.example/callback\", # main\n]\n",
                "  \"https://app.acme.example/callback\", # main\n]\nclient_id = \"abc123\"\n"
            )
        );
    }

    #[test]
    fn inline_and_profile_apps_are_edited_too() {
        let out = with_client_id("app = { name = \"W\", type = \"spa\" }\n", None, "x1").unwrap();
        // toml_edit keeps the space that stood before the closing brace after the value.
        assert_eq!(
            out,
            "app = { name = \"W\", type = \"spa\" , client_id = \"x1\" }\n"
        );
        let text = "[app]\nname = \"Top\"\n\n[profiles.staging.app]\nname = \"Staging\" # s\ntype = \"spa\"\n";
        let out = with_client_id(text, Some("staging"), "s1").unwrap();
        assert!(
            out.ends_with("type = \"spa\"\nclient_id = \"s1\"\n"),
            "{out}"
        );
        assert!(out.starts_with("[app]\nname = \"Top\"\n\n"), "{out}");
        assert!(with_client_id("[tenant]\n", None, "x").is_err());
    }

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
