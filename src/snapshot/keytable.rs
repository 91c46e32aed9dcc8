//! The user keys `snapshot analyze` meets, with a value per key: the hash
//! table on its hot path (one lookup per revision of a 1 GiB file). Each
//! distinct key is copied once into one growing arena, never allocated on
//! its own; a slot keeps the key's hash, so a lookup compares the hash
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

/// One key: its hash, where its bytes are in the arena, its value.
struct Slot<V> {
    hash: u64,
    start: usize,
    len: usize,
    value: V,
}

/// Keys (byte strings) to values, the keys copied into one arena.
pub struct KeyTable<V> {
    arena: Vec<u8>,
    slots: HashTable<Slot<V>>,
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable {
            arena: Vec::new(),
            slots: HashTable::new(),
        }
    }
}

impl<V: Default> KeyTable<V> {
    /// The value of `key`, inserted as `V::default()` when new.
    pub fn get_or_default(&mut self, key: &[u8]) -> &mut V {
        let hash = BuildHasherDefault::<Fx>::default().hash_one(key);
        let arena = &mut self.arena;
        let entry = self.slots.entry(
            hash,
            |s| s.hash == hash && arena[s.start..s.start + s.len] == *key,
            |s| s.hash,
        );
        match entry {
            Entry::Occupied(e) => &mut e.into_mut().value,
            Entry::Vacant(e) => {
                let start = arena.len();
                arena.extend_from_slice(key);
                let slot = Slot {
                    hash,
                    start,
                    len: key.len(),
                    value: V::default(),
                };
                &mut e.insert(slot).into_mut().value
            }
        }
    }
}

impl<V> KeyTable<V> {
    /// Every key and its value, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.slots
            .iter()
            .map(|s| (&self.arena[s.start..s.start + s.len], &s.value))
    }

    /// Every value, in no order.
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
                *table.get_or_default(k) += 1;
                *map.entry(k.clone()).or_default() += 1;
            }
            let got: HashMap<Vec<u8>, u64> = table.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
            prop_assert_eq!(got, map);
            prop_assert_eq!(table.values().sum::<u64>(), keys.len() as u64);
        }
    }
}
