//! Writing back what `register` created or adopted for `[app]`: the client id into `kinde.toml`
//! (comments and layout kept, with `toml_edit`) and the client secret into `.env` (mode 0600,
//! other lines kept). CLI only (feature `cli`): the library never edits a user's files.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, TableLike};

use super::Config;
use super::file::File;
use crate::error::Error;
use crate::secret::Secret;

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
}
