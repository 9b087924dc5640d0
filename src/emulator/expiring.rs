//! Sign-in state kept by id (pending sign-ins, codes, refresh grants, sessions): each entry
//! expires at its own second, and a map holds a fixed number at most, the oldest going first,
//! so a client looping on `/oauth2/auth` cannot grow the emulator's memory without limit.
//!
//! Entries are also queued in the order they came; each insert first drops from the front of
//! that queue what has expired and, while the queue is full, the oldest. Taking an entry out
//! leaves its place in the queue until it reaches the front, so the queue (and with it the map)
//! never holds more than the cap, and every operation is O(1) amortised.

use std::collections::{HashMap, VecDeque};

/// Entries by id, each with its expiry (seconds since the epoch), at most `cap` of them.
#[derive(Debug)]
pub(super) struct Expiring<V> {
    entries: HashMap<String, Entry<V>>,
    /// Ids in the order they were inserted, with their insertion number and expiry.
    order: VecDeque<(String, u64, u64)>,
    cap: usize,
    inserted: u64,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    expires_at: u64,
    /// Which insertion this is: a queue place left by an earlier entry of the same id never
    /// removes a later one.
    number: u64,
}

impl<V> Expiring<V> {
    /// An empty map holding at most `cap` entries (at least one).
    pub(super) fn new(cap: usize) -> Expiring<V> {
        Expiring {
            entries: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
            inserted: 0,
        }
    }

    /// Keep `value` under `id` until `expires_at`, first dropping what expired by `now` and,
    /// while full, the oldest entries.
    pub(super) fn insert(&mut self, id: String, value: V, expires_at: u64, now: u64) {
        while let Some((_, _, at)) = self.order.front() {
            if *at > now && self.order.len() < self.cap {
                break;
            }
            if let Some((old, number, _)) = self.order.pop_front()
                && self.entries.get(&old).is_some_and(|e| e.number == number)
            {
                self.entries.remove(&old);
            }
        }
        self.inserted += 1;
        let number = self.inserted;
        self.order.push_back((id.clone(), number, expires_at));
        self.entries.insert(
            id,
            Entry {
                value,
                expires_at,
                number,
            },
        );
    }

    /// Take out the entry `id` if it is there and has not expired at `now` (an expired one goes
    /// too: it is used once at most either way).
    pub(super) fn take(&mut self, id: &str, now: u64) -> Option<V> {
        self.entries
            .remove(id)
            .filter(|e| e.expires_at > now)
            .map(|e| e.value)
    }

    /// The entry `id`, if there and not expired at `now`.
    pub(super) fn get(&self, id: &str, now: u64) -> Option<&V> {
        self.entries
            .get(id)
            .filter(|e| e.expires_at > now)
            .map(|e| &e.value)
    }

    /// The entry `id`, to change it, if there and not expired at `now`.
    pub(super) fn get_mut(&mut self, id: &str, now: u64) -> Option<&mut V> {
        self.entries
            .get_mut(id)
            .filter(|e| e.expires_at > now)
            .map(|e| &mut e.value)
    }

    /// Remove the entry `id` whatever its expiry.
    pub(super) fn remove(&mut self, id: &str) {
        self.entries.remove(id);
    }

    /// Keep only the entries `keep` says yes to.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.entries.retain(|_, e| keep(&e.value));
    }

    /// Every entry's value, to change it.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.values_mut().map(|e| &mut e.value)
    }

    /// Every entry's value.
    pub(super) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.values().map(|e| &e.value)
    }

    /// Every entry's id and value.
    pub(super) fn entries(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(id, e)| (id.as_str(), &e.value))
    }

    /// How many entries are held (expired ones included until an insert drops them).
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_are_used_once() {
        let mut map = Expiring::new(10);
        map.insert("a".into(), 1, 100, 0);
        assert_eq!(map.get("a", 99), Some(&1));
        assert_eq!(map.get("a", 100), None);
        assert_eq!(map.take("a", 100), None, "expired");
        assert_eq!(map.len(), 0, "an expired entry taken is gone too");
        map.insert("b".into(), 2, 100, 0);
        assert_eq!(map.take("b", 50), Some(2));
        assert_eq!(map.take("b", 50), None, "used once");
    }

    #[test]
    fn a_full_map_drops_its_oldest_and_an_insert_drops_the_expired() {
        let mut map = Expiring::new(3);
        for (n, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
            map.insert(id.into(), n, 1_000, 0);
        }
        assert_eq!(map.len(), 3);
        assert_eq!(map.get("a", 0), None, "the oldest went");
        assert_eq!(map.get("d", 0), Some(&3));
        // Everything held expired by 1000: the next insert leaves only itself.
        map.insert("e".into(), 4, 2_000, 1_000);
        assert_eq!(map.len(), 1);
        assert_eq!(map.get("e", 1_000), Some(&4));
    }

    #[test]
    fn a_million_inserts_taken_at_once_stay_within_the_cap() {
        let mut map = Expiring::new(100);
        for n in 0..1_000_000u64 {
            let id = n.to_string();
            map.insert(id.clone(), n, u64::MAX, 0);
            if n % 2 == 0 {
                map.take(&id, 0);
            }
        }
        assert!(map.len() <= 100 && map.order.len() <= 100);
        // The newest untaken one is there.
        assert_eq!(map.get("999999", 0), Some(&999_999));
    }

    #[test]
    fn a_stale_place_never_removes_a_later_entry_of_the_same_id() {
        let mut map = Expiring::new(2);
        map.insert("a".into(), 1, 10, 0);
        map.remove("a");
        map.insert("a".into(), 2, 1_000, 0);
        // The first "a"'s place expires and is dropped; the second "a" stays.
        map.insert("b".into(), 3, 1_000, 20);
        assert_eq!(map.get("a", 20), Some(&2));
    }
}
