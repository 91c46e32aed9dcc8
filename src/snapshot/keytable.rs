//! The user keys `snapshot analyze` meets, with a value per key: the hash
//! table on its hot path (one lookup per revision of a 1 GiB file). Each
//! distinct key is copied once into one growing arena, never allocated on
//! its own; the table keeps each key's hash, so a lookup compares the hash
//! first and then bytes of the compact arena (not a page of the mapping
//! read long before, a cache and TLB miss), and growing the table never
//! reads a key again.

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use hashbrown::hash_table::{Entry, HashTable};

/// FxHash (rustc's): a fast non-cryptographic hash for keys read from a
/// file we already checked; one multiply per 8 bytes.
#[derive(Default)]
pub struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn finish(&self) -> u64 {
        // Fx's multiply carries a difference only upward: keys that differ
        // in their last bytes (`/registry/pods/ns/name-000123`) differ only
        // in the high bits of the sum, while hashbrown takes the bucket from
        // the low bits, so a flat keyspace piled into a few buckets (55 % of
        // the analysis's time on a 1 GiB file). A SplitMix64 finish folds
        // every bit into the low ones: two multiplies per key.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// A std `HashMap` with [`Fx`].
pub type FxMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Fx>>;

/// One key: where its bytes are in the arena (bbolt keys are at most
/// 32 KiB), its value.
struct Slot<V> {
    start: usize,
    len: u32,
    value: V,
}

/// Keys (byte strings) to values, the keys copied into one arena, the
/// slots kept in the order their keys first came. The hash table holds
/// only each key's hash and slot number: growing it reads no slot, and
/// the report walks slots and arena front to back (in hash order, each
/// key was a cache miss: 25 % of the time on a file of 9 million keys).
pub struct KeyTable<V> {
    arena: Vec<u8>,
    slots: Vec<Slot<V>>,
    /// A 32-bit hash and a slot number: 8 bytes a key.
    index: HashTable<(u32, u32)>,
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable {
            arena: Vec::new(),
            slots: Vec::new(),
            index: HashTable::new(),
        }
    }
}

impl<V: Default> KeyTable<V> {
    /// The value of `key`, inserted as `V::default()` when new and the
    /// table holds fewer than `max` keys; `None` for a new key past that.
    pub fn get_within(&mut self, key: &[u8], max: usize) -> Option<&mut V> {
        let full = BuildHasherDefault::<Fx>::default().hash_one(key);
        let hash = (full >> 32) as u32 ^ full as u32;
        let len = u32::try_from(key.len()).ok()?;
        let (arena, slots) = (&mut self.arena, &mut self.slots);
        let entry = self.index.entry(
            widen(hash),
            |&(h, i)| {
                h == hash
                    && slots
                        .get(i as usize)
                        .is_some_and(|s| arena[s.start..s.start + s.len as usize] == *key)
            },
            |&(h, _)| widen(h),
        );
        let i = match entry {
            Entry::Occupied(e) => e.get().1,
            Entry::Vacant(_) if slots.len() >= max => return None,
            Entry::Vacant(e) => {
                let i = u32::try_from(slots.len()).ok()?;
                slots.push(Slot {
                    start: arena.len(),
                    len,
                    value: V::default(),
                });
                arena.extend_from_slice(key);
                e.insert((hash, i));
                i
            }
        };
        Some(&mut slots[i as usize].value)
    }
}

/// A 32-bit hash as the table's 64. hashbrown takes the bucket from the
/// low bits and a 7-bit tag from the top ones: the low half is the hash,
/// the top half the hash times an odd constant, whose top bits depend on
/// every bit of it. (The hash's own top bits would be the bucket's too in
/// a table of 2^26 slots: keys near each other would share most of their
/// tag, and each shared tag costs a key compare.)
fn widen(hash: u32) -> u64 {
    u64::from(hash.wrapping_mul(0x9e37_79b9)) << 32 | u64::from(hash)
}

impl<V> KeyTable<V> {
    /// Every key and its value, in the order the keys first came.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.slots
            .iter()
            .map(|s| (&self.arena[s.start..s.start + s.len as usize], &s.value))
    }

    /// Every value, in the order the keys first came.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().map(|s| &s.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn fx_hash_spreads_keys() {
        let h = |k: &[u8]| {
            let mut f = Fx::default();
            f.write(k);
            f.finish()
        };
        assert_ne!(h(b"/registry/pods/a"), h(b"/registry/pods/b"));
        assert_ne!(h(b"12345678a"), h(b"12345678b"));
    }

    /// Keys that differ only in their last characters, as a flat
    /// keyspace's names do, land in different buckets: their hashes' low
    /// bits (hashbrown's bucket index) differ, not only the high ones.
    #[test]
    fn fx_hash_spreads_key_suffixes_over_low_bits() {
        let low = |k: &[u8]| {
            let mut f = Fx::default();
            f.write(k);
            f.finish() & 0xffff
        };
        for prefix in ["/registry/pods/default/object-", "/registry/a/"] {
            let buckets: std::collections::HashSet<u64> = (0..4096)
                .map(|i| low(format!("{prefix}{i:010}").as_bytes()))
                .collect();
            // 4096 keys over 65536 buckets: a uniform hash leaves ~4000 distinct.
            assert!(buckets.len() > 3900, "{prefix}: {} buckets", buckets.len());
        }
    }

    proptest! {
        /// The table counts like a std HashMap, whatever the keys (empty,
        /// prefixes of each other, repeated).
        #[test]
        fn counts_like_a_hashmap(keys in proptest::collection::vec(
            proptest::collection::vec(0u8..4, 0..6), 0..300)) {
            let mut table = KeyTable::<u64>::default();
            let mut map = HashMap::<Vec<u8>, u64>::new();
            for k in &keys {
                *table.get_within(k, usize::MAX).unwrap() += 1;
                *map.entry(k.clone()).or_default() += 1;
            }
            let got: HashMap<Vec<u8>, u64> = table.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
            prop_assert_eq!(got, map);
            // In the order the keys first came.
            let mut first: Vec<&Vec<u8>> = Vec::new();
            for k in &keys {
                if !first.contains(&k) {
                    first.push(k);
                }
            }
            let order: Vec<&[u8]> = table.iter().map(|(k, _)| k).collect();
            prop_assert_eq!(order, first.iter().map(|k| k.as_slice()).collect::<Vec<_>>());
            prop_assert_eq!(table.values().sum::<u64>(), keys.len() as u64);
        }

        /// Past `max` keys the table takes no new one and still counts the
        /// keys it holds: the first `max` distinct keys to come.
        #[test]
        fn holds_the_first_max_keys(keys in proptest::collection::vec(
            proptest::collection::vec(0u8..4, 0..4), 0..200), max in 0usize..20) {
            let mut table = KeyTable::<u64>::default();
            let mut first: Vec<&Vec<u8>> = Vec::new();
            for k in &keys {
                let held = first.contains(&k);
                if !held && first.len() < max {
                    first.push(k);
                }
                let got = table.get_within(k, max).map(|v| *v += 1);
                prop_assert_eq!(got.is_some(), first.contains(&k));
            }
            prop_assert_eq!(table.iter().count(), first.len());
            for (k, v) in table.iter() {
                prop_assert_eq!(*v, keys.iter().filter(|x| x.as_slice() == k).count() as u64);
            }
        }
    }
}
