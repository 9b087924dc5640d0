//! Where the configuration is: `kinde.toml` in the current directory or an ancestor, or in the
//! workspace root of `--manifest-path`, or at `--config`.

use std::path::{Path, PathBuf};

use super::{FILE_NAME, LoadOptions};
use crate::error::Error;

/// Find `kinde.toml` and the project root.
pub(super) fn locate(options: &LoadOptions) -> Result<(Option<PathBuf>, PathBuf), Error> {
    if let Some(path) = &options.config_path {
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| options.cwd.clone(), Path::to_path_buf);
        return Ok((Some(path.clone()), root));
    }
    if let Some(manifest) = &options.manifest_path {
        let root = workspace_root(manifest)?;
        let candidate = root.join(FILE_NAME);
        return Ok((candidate.is_file().then_some(candidate), root));
    }
    for dir in options.cwd.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Ok((Some(candidate), dir.to_path_buf()));
        }
    }
    Ok((None, options.cwd.clone()))
}

/// The workspace root of the cargo project owning `manifest`, as `cargo locate-project
/// --workspace` reports it (cargo itself, so the library needs no cargo metadata parser).
pub fn workspace_root(manifest: &Path) -> Result<PathBuf, Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let failed = |why: String| {
        Error::input(format!(
            "cannot read the cargo workspace at {}: {why}",
            manifest.display()
        ))
        .with_hint("pass the path of a Cargo.toml with --manifest-path")
    };
    let out = std::process::Command::new(cargo)
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .map_err(|e| failed(format!("cannot run cargo: {e}")))?;
    if !out.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let workspace_manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    workspace_manifest
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| failed("cargo named no workspace manifest".into()))
}
