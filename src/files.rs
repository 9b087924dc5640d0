//! The one way cargo-kinde writes a file for the user: `.env`, `kinde.toml`, token and JWKS
//! caches, emulator state, everything `init` scaffolds.
//!
//! A write never goes through a symlink and never leaves a half-written file: the new contents go
//! to a temporary file created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`) beside the target,
//! with mode 0600 when it holds secrets, are synced, and the temporary file is renamed over the
//! target. A target that is a symlink is refused with an error naming it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Who may read the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only its owner (mode 0600): files holding secrets (`.env`, caches, emulator state).
    Private,
    /// The mode an existing file had, or the umask's default for a new one (`kinde.toml`, CI
    /// workflows, `.gitignore`).
    Shared,
}

/// Write `contents` to `path` atomically with the given access. The parent directory must exist.
pub fn write(path: &Path, contents: &[u8], access: Access) -> Result<(), Error> {
    refuse_symlink(path)?;
    let dir = parent_of(path);
    let previous_mode = existing_mode(path);
    let (temp_path, mut file) = create_temp(&dir, path, access)?;
    let result = (|| {
        file.write_all(contents)?;
        if access == Access::Shared {
            keep_mode(&file, previous_mode)?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&temp_path, path)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&temp_path);
        return Err(Error::file("write", path, source));
    }
    sync_dir(&dir);
    Ok(())
}

/// Write `contents` to `path` only if nothing is there, else fail with an error of kind
/// `AlreadyExists` naming it. The file appears whole or not at all, and one created between a
/// check and the write is never replaced: the temporary file is hard-linked to `path`, which
/// the kernel refuses when `path` exists.
pub fn write_new(path: &Path, contents: &[u8], access: Access) -> Result<(), Error> {
    let dir = parent_of(path);
    let (temp_path, mut file) = create_temp(&dir, path, access)?;
    let result = (|| {
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::hard_link(&temp_path, path)
    })();
    let _ = fs::remove_file(&temp_path);
    result.map_err(|source| Error::file("write", path, source))?;
    sync_dir(&dir);
    Ok(())
}

/// Write a file only its owner can read (mode 0600).
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    write(path, contents, Access::Private)
}

/// Create `dir` and its parents; the last component is created only-owner (mode 0700) when new.
pub fn create_private_dir(dir: &Path) -> Result<(), Error> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::file("create directory", parent, e))?;
    }
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(Error::file("create directory", dir, e)),
    }
}

/// Read a file of a cache rooted at `root` (`path` is inside it): `None` when it is missing, is a
/// link or is larger than `limit`; an error when `root` or the file's directory is not private to
/// the current user ([`check_private_dir`]): what such a directory holds is not trusted.
pub fn read_cached(root: &Path, path: &Path, limit: usize) -> Result<Option<Vec<u8>>, Error> {
    check_private_dir(root)?;
    check_private_dir(&parent_of(path))?;
    let is_file = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if !is_file {
        return Ok(None);
    }
    let Ok(file) = fs::File::open(path) else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    use std::io::Read;
    if file.take(limit as u64 + 1).read_to_end(&mut bytes).is_err() || bytes.len() > limit {
        return Ok(None);
    }
    Ok(Some(bytes))
}

/// Write a file of a cache rooted at `root` (`path` is inside it): `root` and the file's directory
/// are created private (0700) first, the root before anything under it so it never takes the
/// umask's mode, both are checked, and the file is written 0600.
pub fn write_cached(root: &Path, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    create_private_dir(root)?;
    let dir = parent_of(path);
    create_private_dir(&dir)?;
    check_private_dir(root)?;
    check_private_dir(&dir)?;
    write_private(path, bytes)
}

/// Refuse a directory another local user could have put files in: one not owned by the current
/// user, or writable by its group or by others (ssh refuses such a `~/.ssh` for the same reason).
/// Caches live in such directories; a key set or token planted there would be trusted. A missing
/// directory (or a path that is no directory) passes: [`create_private_dir`] makes it private or
/// fails naming it.
pub fn check_private_dir(dir: &Path) -> Result<(), Error> {
    // No directory there (missing, a file, a path through a file, not even stat-able): nothing can
    // be read from it, and creating it fails with an error naming it; nothing to trust or refuse.
    let Some(meta) = fs::metadata(dir).ok().filter(fs::Metadata::is_dir) else {
        return Ok(());
    };
    match unsafe_dir_reason(&meta) {
        None => Ok(()),
        Some(reason) => Err(Error::unsafe_path(
            dir,
            format!("{reason}; cargo-kinde keeps tokens and keys there and will not trust it"),
        )
        .with_hint(format!(
            "remove it (`rm -r {0}`) so it is created again, owned by you with mode 0700, or make it yours: `chown \"$(id -u)\" {0} && chmod 700 {0}`",
            dir.display()
        ))),
    }
}

#[cfg(unix)]
fn unsafe_dir_reason(meta: &fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions, cannot fail and touches no memory of ours.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        Some(format!(
            "is owned by another user (uid {}, you are {me})",
            meta.uid()
        ))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "is writable by other users (mode {:o})",
            meta.mode() & 0o7777
        ))
    } else {
        None
    }
}

#[cfg(not(unix))]
fn unsafe_dir_reason(_meta: &fs::Metadata) -> Option<String> {
    // Windows keeps a user's cache under their profile, which ACLs already make private.
    None
}

/// Refuse a path whose last component is a symlink: writing through it would change a file
/// somewhere else, perhaps outside the repository.
pub fn refuse_symlink(path: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::unsafe_path(
            path,
            "is a symbolic link; cargo-kinde never writes through a link",
        )
        .with_hint(format!(
            "replace the link with a regular file (e.g. `cp --remove-destination \"$(readlink -f {0})\" {0}`) or remove it",
            path.display()
        ))),
        _ => Ok(()),
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new temporary file beside `target`, created exclusively and without following links, so a
/// link planted at a predictable name cannot redirect the write.
/// Whether [`write`] could replace `path`: not a symlink, and its directory takes the temporary
/// file the write starts with (created and removed here). For a check before an action whose
/// result must then be written, such as an app created in Kinde whose client id goes to `.env`.
pub fn probe_write(path: &Path) -> Result<(), Error> {
    refuse_symlink(path)?;
    let (temp, file) = create_temp(&parent_of(path), path, Access::Private)?;
    drop(file);
    let _ = fs::remove_file(temp);
    Ok(())
}

fn create_temp(dir: &Path, target: &Path, access: Access) -> Result<(PathBuf, fs::File), Error> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let mut last_error = None;
    for attempt in 0..16u32 {
        let temp = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            unique_suffix(attempt)
        ));
        match open_exclusive(&temp, access) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(Error::file("write", target, e)),
        }
    }
    Err(Error::file(
        "write",
        target,
        last_error.unwrap_or_else(|| std::io::Error::other("no free temporary file name")),
    ))
}

fn unique_suffix(attempt: u32) -> String {
    let mut bytes = [0u8; 6];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // The time still differs between attempts; exclusivity is what makes the write safe.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        bytes[..4].copy_from_slice(&nanos.to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}{attempt}")
}

#[cfg(unix)]
fn open_exclusive(path: &Path, access: Access) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        // `create_new` already refuses an existing link; O_NOFOLLOW says so to the kernel too.
        .custom_flags(libc::O_NOFOLLOW)
        .mode(match access {
            Access::Private => 0o600,
            Access::Shared => 0o666,
        })
        .open(path)
}

#[cfg(not(unix))]
fn open_exclusive(path: &Path, _access: Access) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn existing_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn existing_mode(_path: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn keep_mode(file: &fs::File, mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match mode {
        Some(mode) => file.set_permissions(fs::Permissions::from_mode(mode & 0o7777)),
        None => Ok(()),
    }
}

#[cfg(not(unix))]
fn keep_mode(_file: &fs::File, _mode: Option<u32>) -> std::io::Result<()> {
    Ok(())
}

/// Make the rename durable; a failure here loses nothing already written, so it is ignored.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_leaves_nothing_and_fails_where_a_write_would() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env");
        probe_write(&env).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "no file left");
        assert!(probe_write(&dir.path().join("missing/.env")).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("elsewhere"), &env).unwrap();
            assert!(probe_write(&env).is_err(), "never through a symlink");
        }
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_files_are_0600_even_over_a_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        fs::write(&path, "OLD=1\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        }
        write_private(&path, b"NEW=2\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "NEW=2\n");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn shared_files_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.sh");
        fs::write(&path, "echo\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o750)).unwrap();
        write(&path, b"echo hi\n", Access::Shared).unwrap();
        assert_eq!(mode(&path), 0o750);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_target_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, "precious\n").unwrap();
        let link = dir.path().join(".env");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let err = write_private(&link, b"KINDE_DOMAIN=x\n").unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::INPUT);
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read_to_string(&outside).unwrap(), "precious\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_temp_link_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, "precious\n").unwrap();
        // Plant links at every name an old, predictable writer would have used.
        for name in [".env.tmp", &format!(".env.{}.tmp", std::process::id())] {
            std::os::unix::fs::symlink(&outside, dir.path().join(name)).unwrap();
        }
        write_private(&dir.path().join(".env"), b"A=1\n").unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "precious\n");
        assert_eq!(
            fs::read_to_string(dir.path().join(".env")).unwrap(),
            "A=1\n"
        );
    }

    /// The temporary name is unguessable, so a test cannot plant a link at it; this checks the
    /// open itself: at a path where a link stands, it fails and the link's target is untouched.
    #[cfg(unix)]
    #[test]
    fn the_temporary_file_is_never_opened_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, "precious\n").unwrap();
        let planted = dir.path().join(".env.tmp");
        std::os::unix::fs::symlink(&outside, &planted).unwrap();
        for access in [Access::Private, Access::Shared] {
            let err = open_exclusive(&planted, access).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists, "{err}");
        }
        // A dangling link too: creating its target through it would also be a write elsewhere.
        let dangling = dir.path().join(".dangling.tmp");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(open_exclusive(&dangling, Access::Private).is_err());
        assert!(!dir.path().join("nowhere").exists());
        assert_eq!(fs::read_to_string(&outside).unwrap(), "precious\n");
    }

    #[test]
    fn write_new_never_replaces_a_file_or_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kinde.toml");
        write_new(&path, b"first\n", Access::Shared).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "first\n");
        let err = write_new(&path, b"second\n", Access::Shared).unwrap_err();
        assert!(
            matches!(&err, Error::File { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
            "{err:?}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "first\n");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.toml");
            std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
            assert!(write_new(&link, b"x", Access::Shared).is_err());
            assert!(!dir.path().join("nowhere").exists());
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 2, "no temporary file is left behind");
    }

    #[test]
    fn a_missing_directory_is_a_file_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("x.json");
        let err = write_private(&path, b"{}").unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::LOCAL);
        assert!(err.to_string().contains("x.json"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn dirs_others_can_write_are_unsafe_and_missing_ones_are_fine() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        check_private_dir(&cache).unwrap();
        create_private_dir(&cache).unwrap();
        check_private_dir(&cache).unwrap();
        for bad in [0o770, 0o707, 0o722] {
            fs::set_permissions(&cache, fs::Permissions::from_mode(bad)).unwrap();
            let err = check_private_dir(&cache).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::exit::INPUT, "{err}");
            assert!(err.to_string().contains("writable by other users"), "{err}");
            assert!(err.hint().unwrap().contains("chmod 700"), "{err:?}");
        }
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o755)).unwrap();
        check_private_dir(&cache).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn private_dirs_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("a").join("cache");
        create_private_dir(&cache).unwrap();
        assert_eq!(mode(&cache), 0o700);
        create_private_dir(&cache).unwrap();
    }
}
