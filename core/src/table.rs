//! A fixed-size table of per-source records that spoofed sources cannot grow.
//!
//! A UDP server hears from any address anyone cares to forge, so state kept per source
//! must have a size chosen in advance, not one chosen by the traffic. This table has a
//! fixed number of slots, grouped in sets of [`WAYS`] like a CPU cache: a key lives only
//! in the set its hash picks, and a new key takes that set's free slot or evicts the
//! entry seen least recently there. Memory is allocated once, on first use, and never
//! again; a lookup touches one set.
//!
//! The hash is keyed with a seed the driver passes in (the core has no randomness of its
//! own), so a sender who does not know the seed cannot aim forged keys at one set to
//! evict a chosen entry: to evict it at all they must flood the whole table.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use crate::time::Instant;

/// Slots per set. Four ways keep a lookup within one or two cache lines while making it
/// unlikely that a few busy sources which happen to share a set evict each other.
pub(crate) const WAYS: usize = 4;

/// A fixed number of `K → V` records, least recently seen evicted first within a set.
#[derive(Debug, Clone)]
pub(crate) struct BoundedTable<K, V> {
    /// `sets * WAYS` slots, empty until the first insert.
    slots: Vec<Option<Slot<K, V>>>,
    sets: usize,
    seed: u64,
    len: usize,
    evictions: u64,
}

#[derive(Debug, Clone)]
struct Slot<K, V> {
    key: K,
    /// When the key was last looked up: the eviction order.
    seen: Instant,
    value: V,
}

impl<K: Hash + Eq + Copy, V> BoundedTable<K, V> {
    /// A table of `capacity` slots (rounded up to a whole number of sets, at least one).
    /// Nothing is allocated until the first insert.
    pub(crate) fn new(capacity: usize, seed: u64) -> Self {
        BoundedTable {
            slots: Vec::new(),
            sets: capacity.div_ceil(WAYS).max(1),
            seed,
            len: 0,
            evictions: 0,
        }
    }

    /// The most records the table holds.
    pub(crate) fn capacity(&self) -> usize {
        self.sets * WAYS
    }

    /// Records held now.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Records evicted to make room for new keys, so far.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    /// The record for `key`, marked as seen `now`; a new key gets `fresh()` in its set's
    /// free slot, or in place of the set's least recently seen record. The flag says
    /// whether the record is new.
    pub(crate) fn get_or_insert(
        &mut self,
        key: K,
        now: Instant,
        fresh: impl FnOnce() -> V,
    ) -> (&mut V, bool) {
        if self.slots.is_empty() {
            self.slots.resize_with(self.capacity(), || None);
        }
        let start = self.set_of(&key) * WAYS;
        let set = &mut self.slots[start..start + WAYS];
        let mut victim = 0;
        let mut found = None;
        for (i, slot) in set.iter().enumerate() {
            match slot {
                Some(s) if s.key == key => {
                    found = Some(i);
                    break;
                }
                // A free slot is always the best place for a new key.
                None => victim = i,
                Some(s) => {
                    if set[victim].as_ref().is_some_and(|v| s.seen < v.seen) {
                        victim = i;
                    }
                }
            }
        }
        if let Some(i) = found {
            let slot = set[i].as_mut().expect("found a full slot");
            slot.seen = now;
            return (&mut slot.value, false);
        }
        match set[victim] {
            Some(_) => self.evictions += 1,
            None => self.len += 1,
        }
        let slot = set[victim].insert(Slot {
            key,
            seen: now,
            value: fresh(),
        });
        (&mut slot.value, true)
    }

    /// The record for `key`, if the table holds one (not marked as seen).
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if self.slots.is_empty() {
            return None;
        }
        let start = self.set_of(key) * WAYS;
        self.slots[start..start + WAYS]
            .iter_mut()
            .flatten()
            .find(|s| s.key == *key)
            .map(|s| &mut s.value)
    }

    fn set_of(&self, key: &K) -> usize {
        let mut hasher = DefaultHasher::new();
        self.seed.hash(&mut hasher);
        key.hash(&mut hasher);
        (hasher.finish() % self.sets as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_set_evicts_its_least_recently_seen_key() {
        // One set: every key competes for the same four slots.
        let mut table = BoundedTable::new(WAYS, 7);
        let at = Instant::from_millis;
        for k in 0..WAYS as u32 {
            assert!(table.get_or_insert(k, at(u64::from(k)), || k).1);
        }
        // Key 0 is seen again, so key 1 is now the least recently seen.
        assert!(!table.get_or_insert(0, at(10), || 99).1);
        assert!(table.get_or_insert(100, at(11), || 100).1);
        assert!(table.get_mut(&1).is_none(), "the oldest key was evicted");
        assert_eq!(table.get_mut(&0).copied(), Some(0));
        assert_eq!((table.len(), table.evictions()), (WAYS, 1));
    }
}
