//! Keeping the tenant in its `--state` file off the request path: a snapshot plus a journal.
//!
//! The state file (`FILE`) is a snapshot of the whole tenant, the same JSON earlier versions
//! wrote, so their files load unchanged. Beside it, `FILE.journal` holds one JSON line per user
//! change made since that snapshot (`{"seq":N,"user":{"user":{...},"organizations":[...]}}`, the
//! user with its memberships, or `{"seq":N,"deleted_user":"kp_.."}`).
//!
//! Why a journal, and not a copy-on-write tenant: users are the one collection that grows to
//! thousands and changes per request, and their handlers ([`super::State::update_users`]) say
//! which users they touched, so a change costs a clone of those users under the lock and one
//! short line on disk, whatever the tenant's size. Persistent data structures would make a whole
//! snapshot cheap but change the type of every public collection other code pushes to. Changes
//! made through the generic [`super::State::update`] (applications, APIs, keys, collections:
//! few and rare) cannot say what they touched, so they ask for a full snapshot, as before.
//!
//! A background task waits for a change, lets more gather for [`DEBOUNCE`], then appends the
//! gathered lines with one `fsync`. A snapshot (compaction) is written instead when a change
//! asked for one, when the journal has grown past [`COMPACT_FACTOR`] x the snapshot (so its cost
//! is spread over at least that many bytes of changes: O(1) per change, amortised), and on stop.
//! The snapshot records the last journal `seq` it includes (`journal_seq`), so a crash between
//! writing it and removing the journal replays nothing twice. A killed emulator loses at most
//! the last [`DEBOUNCE`]; the snapshot goes through `crate::files::write_private` (never
//! half-written), and a journal's torn last line is skipped on load with a warning.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

use super::State;
use super::tenant::{Member, Tenant, User};
use crate::error::Error;

/// How long writes gather before one save: the most a crash (not a stop) can lose.
pub(super) const DEBOUNCE: Duration = Duration::from_millis(250);

/// The journal is compacted into a new snapshot once it is this many times the snapshot's size.
const COMPACT_FACTOR: u64 = 2;

/// Below this the journal is never compacted early: a small tenant's snapshot is tiny.
const COMPACT_FLOOR: u64 = 1 << 20;

/// The key of the snapshot's last included journal sequence number.
const JOURNAL_SEQ: &str = "journal_seq";

/// One change as a journal line.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    seq: u64,
    #[serde(flatten)]
    change: Change,
}

/// What a journal line changes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Change {
    /// The user as it now is, added or replacing the one with its id.
    User(UserEntry),
    /// The user with this id is gone.
    DeletedUser(String),
}

/// A user and the organizations it belongs to: a sign-up or a create joins the default
/// organization (with its default roles), which the journal must keep with the user.
#[derive(Debug, Serialize, Deserialize)]
struct UserEntry {
    user: User,
    #[serde(default)]
    organizations: Vec<Membership>,
}

/// One membership of a journaled user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Membership {
    /// The organization's code.
    pub(super) org: String,
    /// The membership as it now is.
    pub(super) member: Member,
}

/// Changes waiting for the next save.
#[derive(Debug, Default)]
struct Pending {
    /// Journal lines not yet on disk, in `seq` order.
    records: Vec<Record>,
    /// A change the journal cannot express happened: write a snapshot.
    snapshot: bool,
    /// The last `seq` given out.
    seq: u64,
}

/// The dirty flag, the pending changes and the wake-up of the background saver.
#[derive(Debug)]
pub(super) struct Saver {
    path: PathBuf,
    dirty: AtomicBool,
    wake: Notify,
    saves: AtomicU64,
    snapshots: AtomicU64,
    pending: Mutex<Pending>,
    /// Bytes in the journal file, and in the snapshot it follows.
    journal_bytes: AtomicU64,
    snapshot_bytes: AtomicU64,
}

impl Saver {
    /// A saver for `path` whose snapshot and journal were loaded as `loaded` says.
    pub(super) fn new(path: PathBuf, loaded: &Loaded) -> Saver {
        Saver {
            path,
            dirty: AtomicBool::new(false),
            wake: Notify::new(),
            saves: AtomicU64::new(0),
            snapshots: AtomicU64::new(0),
            pending: Mutex::new(Pending {
                seq: loaded.seq,
                ..Pending::default()
            }),
            journal_bytes: AtomicU64::new(loaded.journal_bytes),
            snapshot_bytes: AtomicU64::new(loaded.snapshot_bytes),
        }
    }

    /// Note that the tenant changed in a way only a snapshot records.
    pub(super) fn mark_snapshot(&self) {
        self.lock().snapshot = true;
        self.mark_dirty();
    }

    /// Journal these users as they now are in `tenant` (a missing one as deleted). Called under
    /// the tenant's write lock, so journal order is the order of the changes.
    pub(super) fn record_users(&self, tenant: &Tenant, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        {
            let mut pending = self.lock();
            for id in ids {
                pending.seq += 1;
                let change = match tenant.user(id) {
                    Some(user) => Change::User(UserEntry {
                        user: user.clone(),
                        organizations: tenant
                            .organizations
                            .iter()
                            .filter_map(|o| {
                                o.member(id).map(|m| Membership {
                                    org: o.code.clone(),
                                    member: m.clone(),
                                })
                            })
                            .collect(),
                    }),
                    None => Change::DeletedUser(id.clone()),
                };
                let seq = pending.seq;
                pending.records.push(Record { seq, change });
            }
        }
        self.mark_dirty();
    }

    fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::SeqCst);
        // A stored permit wakes the task even when it is busy saving right now.
        self.wake.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many times the state was saved (journal appends and snapshots) since start, the
    /// seed's first snapshot not included.
    pub(super) fn saves(&self) -> u64 {
        self.saves.load(Ordering::SeqCst)
    }

    /// How many of those saves wrote a whole snapshot.
    pub(super) fn snapshots(&self) -> u64 {
        self.snapshots.load(Ordering::SeqCst)
    }

    fn journal_path(&self) -> PathBuf {
        journal_path(&self.path)
    }
}

/// Where the journal of the state file `path` is: `FILE.journal`.
pub(super) fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// The background saver of `state`, until `stop` fires; then a last flush into a fresh
/// snapshot, whose result it returns. A failed save in between keeps its changes pending, so
/// the next round retries them.
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
        let _ = flush(&state, false).await;
    }
    flush(&state, true).await
}

/// What one save writes.
enum Work {
    /// Journal lines to append.
    Append(Vec<Record>),
    /// A whole snapshot including every change up to `seq`.
    Snapshot(Box<Tenant>, u64),
}

/// Save what changed since the last save: journal lines, or a snapshot when one is due (or
/// `compact`, at stop, and there is a journal to fold in).
async fn flush(state: &Arc<State>, compact: bool) -> Result<(), Error> {
    let Some(saver) = state.saver.as_ref() else {
        return Ok(());
    };
    // Cleared before the changes are taken: a change landing after this is either taken now
    // or marks the saver dirty again for the next round, never lost.
    let dirty = saver.dirty.swap(false, Ordering::SeqCst);
    let journal = saver.journal_bytes.load(Ordering::SeqCst);
    let grown =
        journal > COMPACT_FLOOR.max(COMPACT_FACTOR * saver.snapshot_bytes.load(Ordering::SeqCst));
    let fold_journal = compact && journal > 0;
    if !dirty && !fold_journal {
        return Ok(());
    }
    // Taken under the tenant's read lock so the snapshot and the `seq` it covers agree (writers
    // hold the write lock while they add records).
    let work = state.read(|tenant| {
        let mut pending = saver.lock();
        if pending.snapshot || grown || compact {
            pending.snapshot = false;
            pending.records.clear();
            Work::Snapshot(Box::new(tenant.clone()), pending.seq)
        } else {
            Work::Append(std::mem::take(&mut pending.records))
        }
    });
    let state_for_save = state.clone();
    let saved = tokio::task::spawn_blocking(move || {
        let Some(saver) = state_for_save.saver.as_ref() else {
            return Ok(());
        };
        match work {
            Work::Append(records) if records.is_empty() => Ok(()),
            Work::Append(records) => match append(&saver.journal_path(), &records) {
                Ok(bytes) => {
                    saver.journal_bytes.fetch_add(bytes, Ordering::SeqCst);
                    Ok(())
                }
                Err(e) => {
                    // Put them back in front of newer ones, so the next round writes them.
                    let mut pending = saver.lock();
                    let newer = std::mem::replace(&mut pending.records, records);
                    pending.records.extend(newer);
                    Err(e)
                }
            },
            Work::Snapshot(tenant, seq) => match write_snapshot(&saver.path, &tenant, seq) {
                Ok(bytes) => {
                    saver.snapshot_bytes.store(bytes, Ordering::SeqCst);
                    saver.journal_bytes.store(0, Ordering::SeqCst);
                    saver.snapshots.fetch_add(1, Ordering::SeqCst);
                    // Whatever it held is in the snapshot (`seq` says so even if this fails).
                    let _ = std::fs::remove_file(saver.journal_path());
                    Ok(())
                }
                Err(e) => {
                    saver.lock().snapshot = true;
                    Err(e)
                }
            },
        }
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

/// Append `records` as lines to the journal at `path` (created 0600, never through a symlink)
/// and sync them; the bytes written.
fn append(path: &Path, records: &[Record]) -> Result<u64, Error> {
    let mut text = Vec::new();
    for record in records {
        serde_json::to_writer(&mut text, record)
            .map_err(|e| Error::file("write", path, e.into()))?;
        text.push(b'\n');
    }
    crate::files::refuse_symlink(path)?;
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| Error::file("open", path, e))?;
    file.write_all(&text)
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::file("write", path, e))?;
    Ok(text.len() as u64)
}

/// The snapshot's JSON: the tenant and the last journal `seq` it includes.
#[derive(Serialize)]
struct Snapshot<'a> {
    #[serde(flatten)]
    tenant: &'a Tenant,
    #[serde(skip_serializing_if = "is_zero")]
    journal_seq: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Write the snapshot of `tenant` covering the journal up to `seq`; the bytes written.
pub(super) fn write_snapshot(path: &Path, tenant: &Tenant, seq: u64) -> Result<u64, Error> {
    let text = serde_json::to_vec_pretty(&Snapshot {
        tenant,
        journal_seq: seq,
    })
    .map_err(|e| Error::file("write", path, e.into()))?;
    crate::files::write_private(path, &text).map_err(|e| e.context("saving the emulator state"))?;
    Ok(text.len() as u64)
}

/// A tenant read from its snapshot and journal.
#[derive(Debug)]
pub(super) struct Loaded {
    /// The tenant with the journal's changes applied.
    pub(super) tenant: Tenant,
    /// The last journal `seq` in it.
    pub(super) seq: u64,
    /// Sizes on disk, to know when to compact.
    pub(super) snapshot_bytes: u64,
    pub(super) journal_bytes: u64,
    /// What was skipped, for the person who runs the emulator.
    pub(super) warnings: Vec<String>,
}

impl Loaded {
    /// A tenant that has only a snapshot (just seeded, or no state file).
    pub(super) fn fresh(tenant: Tenant) -> Loaded {
        Loaded {
            tenant,
            seq: 0,
            snapshot_bytes: 0,
            journal_bytes: 0,
            warnings: Vec::new(),
        }
    }
}

/// Read the snapshot at `path` and apply its journal; `None` when there is no snapshot.
pub(super) fn load(path: &Path) -> Result<Option<Loaded>, Error> {
    let Some(mut tenant) = Tenant::load_snapshot(path)? else {
        return Ok(None);
    };
    let snapshot_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    // Written by `write_snapshot`, read back as a field this version's `Tenant` does not have.
    let since = tenant
        .extra
        .remove(JOURNAL_SEQ)
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let journal = journal_path(path);
    let text = match std::fs::read(&journal) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::file("read", &journal, e)),
    };
    let mut warnings = Vec::new();
    let mut seq = since;
    let mut latest: HashMap<String, Option<User>> = HashMap::new();
    let mut memberships: HashMap<String, Vec<Membership>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    for (at, line) in lines.iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = match serde_json::from_slice::<Record>(line) {
            Ok(record) => record,
            Err(e) => {
                // Only the last line can be torn by a crash; one in the middle is damage, and
                // what follows it may depend on it, so the journal is read up to there.
                let last = lines[at + 1..]
                    .iter()
                    .all(|l| l.iter().all(u8::is_ascii_whitespace));
                warnings.push(format!(
                    "{}: line {} is {} ({e}); the changes {} were not loaded",
                    journal.display(),
                    at + 1,
                    if last { "incomplete" } else { "damaged" },
                    if last { "on it" } else { "from it on" },
                ));
                break;
            }
        };
        if record.seq <= since {
            continue;
        }
        seq = seq.max(record.seq);
        let (id, user, orgs) = match record.change {
            Change::User(entry) => (entry.user.id.clone(), Some(entry.user), entry.organizations),
            Change::DeletedUser(id) => (id, None, Vec::new()),
        };
        memberships.insert(id.clone(), orgs);
        if !latest.contains_key(&id) {
            order.push(id.clone());
        }
        latest.insert(id, user);
    }
    if !latest.is_empty() {
        tenant.apply_users(order, latest);
        tenant.apply_memberships(memberships);
    }
    Ok(Some(Loaded {
        tenant,
        seq,
        snapshot_bytes,
        journal_bytes: text.len() as u64,
        warnings,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tenant::{Tenant, User};
    use super::super::{Options, start};
    use super::*;

    fn emails_on_disk(path: &Path) -> Vec<String> {
        load(path)
            .unwrap()
            .unwrap()
            .tenant
            .users
            .into_iter()
            .map(|u| u.email)
            .collect()
    }

    fn with_state(path: &Path) -> Options {
        Options {
            state_file: Some(path.to_path_buf()),
            ..Options::default()
        }
    }

    /// Wait until `done`, polling; a minute without it fails the test.
    async fn until(done: impl Fn() -> bool) {
        for _ in 0..6000 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("still not done after a minute");
    }

    fn add_user(state: &State, email: &str) {
        state.update_users(|t, touched| {
            let user = User::new(email, "U", "");
            touched.push(user.id.clone());
            t.users.push(user);
        });
    }

    #[tokio::test]
    async fn a_burst_of_writes_is_saved_once_in_the_background_and_stop_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let running = start(with_state(&path)).await.unwrap();
        let state = running.state.clone();
        for i in 0..200 {
            add_user(&state, &format!("u{i}@example.com"));
        }
        // Nothing was written on the writers' path.
        assert_eq!(state.saves(), 0);
        assert!(!emails_on_disk(&path).contains(&"u0@example.com".to_string()));
        tokio::time::sleep(DEBOUNCE * 4).await;
        assert_eq!(state.saves(), 1, "200 writes, one save");
        assert_eq!(state.snapshots(), 0, "user changes go to the journal");
        assert!(emails_on_disk(&path).contains(&"u199@example.com".to_string()));
        let journal = std::fs::read_to_string(journal_path(&path)).unwrap();
        assert_eq!(journal.lines().count(), 200);

        // A write just before a stop is not lost, and the stop folds the journal in.
        add_user(&state, "last@example.com");
        running.stop().await.unwrap();
        assert!(emails_on_disk(&path).contains(&"last@example.com".to_string()));
        assert_eq!(state.saves(), 2);
        assert!(!journal_path(&path).exists());
        let snapshot = Tenant::load_snapshot(&path).unwrap().unwrap();
        assert_eq!(snapshot.users.len(), 5 + 201);
    }

    #[tokio::test]
    async fn a_change_the_journal_cannot_express_writes_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let running = start(with_state(&path)).await.unwrap();
        running
            .state
            .update(|t| t.applications[1].name = "Renamed".into());
        tokio::time::sleep(DEBOUNCE * 3).await;
        assert_eq!(running.state.snapshots(), 1);
        let snapshot = Tenant::load_snapshot(&path).unwrap().unwrap();
        assert_eq!(snapshot.applications[1].name, "Renamed");
        running.stop().await.unwrap();
    }

    #[tokio::test]
    async fn a_restart_sees_every_create_update_and_delete_from_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let running = start(with_state(&path)).await.unwrap();
        let state = running.state.clone();
        for i in 0..50 {
            add_user(&state, &format!("u{i}@example.com"));
        }
        let (first, second) = state.read(|t| (t.users[5].id.clone(), t.users[6].id.clone()));
        state.update_users(|t, touched| {
            let at = t.users.iter().position(|u| u.id == first).unwrap();
            t.users[at].first_name = "Changed".into();
            touched.push(first.clone());
            t.users.retain(|u| u.id != second);
            touched.push(second.clone());
        });
        tokio::time::sleep(DEBOUNCE * 3).await;
        let expected: Vec<String> = state.read(|t| t.users.iter().map(|u| u.id.clone()).collect());
        // A kill: the saver never gets to its last snapshot.
        std::mem::forget(running);

        let loaded = load(&path).unwrap().unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let ids: Vec<String> = loaded.tenant.users.iter().map(|u| u.id.clone()).collect();
        assert_eq!(ids, expected, "same users, same order");
        assert_eq!(loaded.tenant.user(&first).unwrap().first_name, "Changed");
        assert!(loaded.tenant.user(&second).is_none());
        assert!(loaded.tenant.user_by_email("u49@example.com").is_some());
        assert_eq!(loaded.seq, 52);
    }

    #[tokio::test]
    async fn memberships_of_journaled_users_survive_a_restart_and_a_delete_leaves_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let running = start(with_state(&path)).await.unwrap();
        let state = running.state.clone();
        let (kept, gone) = state.update_users(|t, touched| {
            let kept = User::new("kept@example.com", "K", "");
            let gone = User::new("gone@example.com", "G", "");
            let ids = (kept.id.clone(), gone.id.clone());
            for user in [kept, gone] {
                touched.push(user.id.clone());
                t.join_default_organization(&user.id);
                t.users.push(user);
            }
            let default = t.organizations.iter_mut().find(|o| o.is_default).unwrap();
            default
                .member_mut(&ids.0)
                .unwrap()
                .roles
                .push("role_x".into());
            ids
        });
        state.update_users(|t, touched| {
            let at = t.user_position(&gone).unwrap();
            t.remove_user(at);
            touched.push(gone.clone());
        });
        tokio::time::sleep(DEBOUNCE * 3).await;
        assert_eq!(state.snapshots(), 0, "only the journal was written");
        std::mem::forget(running);

        let loaded = load(&path).unwrap().unwrap();
        let default = loaded
            .tenant
            .organizations
            .iter()
            .find(|o| o.is_default)
            .unwrap();
        let member = default
            .member(&kept)
            .expect("the created user is still a member");
        assert_eq!(member.roles, vec!["role_x".to_string()]);
        assert!(
            default.member(&gone).is_none(),
            "a deleted user's membership is gone"
        );
        assert!(loaded.tenant.user(&gone).is_none());
    }

    #[tokio::test]
    async fn a_journal_cut_mid_line_loads_up_to_the_cut_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let running = start(with_state(&path)).await.unwrap();
        for i in 0..10 {
            add_user(&running.state, &format!("u{i}@example.com"));
        }
        tokio::time::sleep(DEBOUNCE * 3).await;
        std::mem::forget(running);
        let journal = journal_path(&path);
        let text = std::fs::read(&journal).unwrap();
        // Cut inside the last line, as a crash during the append would.
        std::fs::write(&journal, &text[..text.len() - 20]).unwrap();

        let loaded = load(&path).unwrap().unwrap();
        let emails: Vec<&str> = loaded
            .tenant
            .users
            .iter()
            .map(|u| u.email.as_str())
            .collect();
        assert!(emails.contains(&"u8@example.com"));
        assert!(!emails.contains(&"u9@example.com"));
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(
            loaded.warnings[0].contains("line 10 is incomplete"),
            "{:?}",
            loaded.warnings
        );

        // The emulator starts from it, says so, and the next snapshot keeps the prefix.
        let running = start(with_state(&path)).await.unwrap();
        assert_eq!(running.state.warnings(), loaded.warnings.as_slice());
        add_user(&running.state, "after@example.com");
        running.stop().await.unwrap();
        let again = load(&path).unwrap().unwrap();
        assert!(again.warnings.is_empty());
        let emails: Vec<&str> = again
            .tenant
            .users
            .iter()
            .map(|u| u.email.as_str())
            .collect();
        assert!(emails.contains(&"u8@example.com") && emails.contains(&"after@example.com"));
    }

    #[tokio::test]
    async fn compaction_keeps_everything_and_a_stale_journal_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let running = start(with_state(&path)).await.unwrap();
        let state = running.state.clone();
        for i in 0..30 {
            add_user(&state, &format!("u{i}@example.com"));
        }
        tokio::time::sleep(DEBOUNCE * 3).await;
        let stale = std::fs::read(journal_path(&path)).unwrap();
        // A snapshot forced by a generic change folds the journal in and removes it.
        let renamed = state.read(|t| t.users[7].id.clone());
        state.update(|t| t.users[7].first_name = "After".into());
        tokio::time::sleep(DEBOUNCE * 3).await;
        assert_eq!(state.snapshots(), 1);
        assert!(!journal_path(&path).exists());
        let expected: Vec<String> =
            state.read(|t| t.users.iter().map(|u| u.email.clone()).collect());
        std::mem::forget(running);
        assert_eq!(emails_on_disk(&path), expected);

        // A crash after the snapshot but before the journal's removal leaves the old journal:
        // its lines are in the snapshot already and must not undo later changes.
        std::fs::write(journal_path(&path), &stale).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        assert_eq!(loaded.tenant.user(&renamed).unwrap().first_name, "After");
        assert_eq!(loaded.tenant.users.len(), expected.len());
    }

    #[tokio::test]
    async fn a_journal_grown_past_its_limit_is_compacted_into_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let running = start(with_state(&path)).await.unwrap();
        let state = running.state.clone();
        // About 170 bytes a line: past the 1 MiB floor in one round.
        for i in 0..8000 {
            add_user(&state, &format!("u{i}@example.com"));
        }
        // Waited for, not timed: a loaded machine takes longer to write a few MB.
        let journal_len = || std::fs::metadata(journal_path(&path)).map_or(0, |m| m.len());
        until(|| state.saves() >= 1).await;
        assert_eq!(state.snapshots(), 0, "the first round appends");
        assert!(journal_len() > COMPACT_FLOOR);
        add_user(&state, "next@example.com");
        until(|| state.saves() >= 2).await;
        assert_eq!(
            state.snapshots(),
            1,
            "the round after the journal outgrew its limit"
        );
        assert!(!journal_path(&path).exists());
        let snapshot = Tenant::load_snapshot(&path).unwrap().unwrap();
        assert_eq!(snapshot.users.len(), 5 + 8001);
        std::mem::forget(running);
    }

    #[tokio::test]
    async fn an_earlier_versions_state_file_loads_and_keeps_its_unknown_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        // What the previous version wrote: `Tenant::save`'s pretty JSON, no journal, no seq.
        let mut json = serde_json::to_value(Tenant::seed(
            super::super::keys::SigningKey::generate()
                .unwrap()
                .to_stored()
                .unwrap(),
        ))
        .unwrap();
        json["future_setting"] = serde_json::json!({"on": true});
        json["users"][0]["phone"] = "+61 400 000 000".into();
        std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();

        let running = start(with_state(&path)).await.unwrap();
        assert!(running.state.warnings().is_empty());
        assert_eq!(running.state.read(|t| t.users.len()), 5);
        add_user(&running.state, "new@example.com");
        running.stop().await.unwrap();
        let again: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(again["future_setting"], json["future_setting"]);
        assert_eq!(again["users"][0]["phone"], "+61 400 000 000");
        assert_eq!(again["users"][5]["email"], "new@example.com");
    }

    #[tokio::test]
    async fn a_user_whose_email_changed_in_place_is_found_by_the_new_email() {
        let running = start(Options::default()).await.unwrap();
        let state = running.state.clone();
        let id = state.read(|t| t.users[1].id.clone());
        state.update_users(|t, touched| {
            let at = t.user_position(&id).unwrap();
            t.users[at].email = "Renamed@example.com".into();
            touched.push(id.clone());
        });
        let found = state.read(|t| t.user_by_email("renamed@example.com").map(|u| u.id.clone()));
        assert_eq!(found, Some(id));
        running.stop().await.unwrap();
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
