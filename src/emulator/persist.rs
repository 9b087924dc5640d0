//! Writing the tenant to its `--state` file off the request path.
//!
//! A write request only marks the tenant dirty. A background task waits for that, lets further
//! writes gather for [`DEBOUNCE`], then copies the tenant under the read lock and serialises and
//! writes it on a blocking thread through `crate::files::write_private`. So a request never pays
//! for serialising and fsyncing the whole tenant, and a burst of writes costs one save. Stopping
//! the emulator ([`super::Running::stop`]) flushes whatever is still dirty.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use super::State;
use crate::error::Error;

/// How long writes gather before one save: the most a crash (not a stop) can lose.
pub(super) const DEBOUNCE: Duration = Duration::from_millis(250);

/// The dirty flag and the wake-up of the background saver.
#[derive(Debug)]
pub(super) struct Saver {
    path: PathBuf,
    dirty: AtomicBool,
    wake: Notify,
    saves: AtomicU64,
}

impl Saver {
    /// A saver for `path`, with nothing to save yet.
    pub(super) fn new(path: PathBuf) -> Saver {
        Saver {
            path,
            dirty: AtomicBool::new(false),
            wake: Notify::new(),
            saves: AtomicU64::new(0),
        }
    }

    /// Note that the tenant changed; the background task saves it soon.
    pub(super) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::SeqCst);
        // A stored permit wakes the task even when it is busy saving right now.
        self.wake.notify_one();
    }

    /// How many times the state file was written since start (the seed save not included).
    pub(super) fn saves(&self) -> u64 {
        self.saves.load(Ordering::SeqCst)
    }
}

/// The background saver of `state`, until `stop` fires; then a last flush, whose result it
/// returns. A failed save in between keeps the tenant dirty, so the next round retries it.
pub(super) async fn run(state: Arc<State>, mut stop: oneshot::Receiver<()>) -> Result<(), Error> {
    let Some(saver) = state.saver.as_ref() else {
        return Ok(());
    };
    loop {
        tokio::select! {
            _ = saver.wake.notified() => {}
            _ = &mut stop => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(DEBOUNCE) => {}
            _ = &mut stop => break,
        }
        let _ = flush(&state).await;
    }
    flush(&state).await
}

/// Save the tenant if it changed since the last save.
async fn flush(state: &Arc<State>) -> Result<(), Error> {
    let Some(saver) = state.saver.as_ref() else {
        return Ok(());
    };
    // Cleared before the copy is taken: a write landing after this is either in the copy or
    // marks the tenant dirty again for the next round, never lost.
    if !saver.dirty.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let state_for_save = state.clone();
    let saved = tokio::task::spawn_blocking(move || {
        let tenant = state_for_save.tenant();
        let path = state_for_save
            .saver
            .as_ref()
            .map(|s| s.path.clone())
            .unwrap_or_default();
        tenant.save(&path)
    })
    .await
    .map_err(|e| {
        Error::local(
            "the emulator state saver stopped",
            std::io::Error::other(e.to_string()),
        )
    })
    .and_then(|saved| saved);
    match &saved {
        Ok(()) => {
            saver.saves.fetch_add(1, Ordering::SeqCst);
        }
        Err(_) => saver.mark_dirty(),
    }
    saved
}

#[cfg(test)]
mod tests {
    use super::super::tenant::{Tenant, User};
    use super::super::{Options, start};
    use super::*;

    fn emails_on_disk(path: &std::path::Path) -> Vec<String> {
        Tenant::load(path)
            .unwrap()
            .unwrap()
            .users
            .into_iter()
            .map(|u| u.email)
            .collect()
    }

    #[tokio::test]
    async fn a_burst_of_writes_is_saved_once_in_the_background_and_stop_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let running = start(Options {
            state_file: Some(path.clone()),
            ..Options::default()
        })
        .await
        .unwrap();
        let state = running.state.clone();
        for i in 0..200 {
            state.update(|t| {
                t.users
                    .push(User::new(&format!("u{i}@example.com"), "U", ""))
            });
        }
        // Nothing was written on the writers' path.
        assert_eq!(state.saves(), 0);
        assert!(!emails_on_disk(&path).contains(&"u0@example.com".to_string()));
        tokio::time::sleep(DEBOUNCE * 4).await;
        assert_eq!(state.saves(), 1, "200 writes, one save");
        assert!(emails_on_disk(&path).contains(&"u199@example.com".to_string()));

        // A write just before a stop is not lost.
        state.update(|t| t.users.push(User::new("last@example.com", "L", "")));
        running.stop().await.unwrap();
        assert!(emails_on_disk(&path).contains(&"last@example.com".to_string()));
        assert_eq!(state.saves(), 2);
    }

    #[tokio::test]
    async fn without_a_state_file_nothing_is_saved() {
        let running = start(Options::default()).await.unwrap();
        running.state.update(|t| t.users.clear());
        tokio::time::sleep(DEBOUNCE * 2).await;
        assert_eq!(running.state.saves(), 0);
        running.stop().await.unwrap();
    }
}
