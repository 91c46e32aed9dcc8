//! etcd's MVCC records as stored in bbolt, decoded without allocating: the
//! `key` bucket's revision keys (`main` and `sub` revision, big-endian,
//! joined by `_`, with a trailing `t` on tombstones), its values
//! (`mvccpb.KeyValue`), the `lease` bucket's values (`leasepb.Lease`) and
//! the `meta` bucket's numbers. Only the fields `snapshot analyze` needs
//! are read; every read is bounds-checked, so arbitrary bytes give `None`,
//! never a panic.

/// A revision key of the `key` bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevKey {
    /// Main revision (one per transaction).
    pub main: i64,
    /// Sub revision (the change's index within the transaction).
    pub sub: i64,
    /// The key was deleted at this revision.
    pub tombstone: bool,
}

/// Length of a revision key without the tombstone mark, bytes.
const REV_BYTES: usize = 17;

impl RevKey {
    /// Parses `main(8) '_' sub(8)` with an optional trailing `t`.
    pub fn parse(b: &[u8]) -> Option<RevKey> {
        let tombstone = match b.len() {
            REV_BYTES => false,
            18 if b[REV_BYTES] == b't' => true,
            _ => return None,
        };
        if b[8] != b'_' {
            return None;
        }
        Some(RevKey {
            main: i64::from_be_bytes(b[..8].try_into().ok()?),
            sub: i64::from_be_bytes(b[9..REV_BYTES].try_into().ok()?),
            tombstone,
        })
    }
}

/// The fields of an `mvccpb.KeyValue` that the analysis needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyValue<'a> {
    /// The user key.
    pub key: &'a [u8],
    /// Revision of the key's creation.
    pub create_revision: i64,
    /// Revision of this change.
    pub mod_revision: i64,
    /// Changes since creation (1 for a new key).
    pub version: i64,
    /// Length of the value, bytes.
    pub value_len: usize,
    /// Lease the key is attached to (0: none).
    pub lease: i64,
}

/// Reads a protobuf varint at `*pos`, advancing it.
fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// A protobuf field: number and either an integer or a byte slice.
enum Field<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

/// Walks the fields of a protobuf message, calling `f(number, field)`;
/// `None` when the bytes are not a well-formed message.
fn fields<'a>(b: &'a [u8], mut f: impl FnMut(u64, Field<'a>)) -> Option<()> {
    let mut pos = 0;
    while pos < b.len() {
        let tag = varint(b, &mut pos)?;
        match tag & 7 {
            0 => f(tag >> 3, Field::Int(varint(b, &mut pos)?)),
            2 => {
                let len = usize::try_from(varint(b, &mut pos)?).ok()?;
                let bytes = b.get(pos..pos.checked_add(len)?)?;
                pos += len;
                f(tag >> 3, Field::Bytes(bytes));
            }
            1 => pos = pos.checked_add(8).filter(|&p| p <= b.len())?,
            5 => pos = pos.checked_add(4).filter(|&p| p <= b.len())?,
            _ => return None,
        }
    }
    Some(())
}

impl<'a> KeyValue<'a> {
    /// Decodes an `mvccpb.KeyValue` (fields 1-6; others are skipped).
    pub fn decode(b: &'a [u8]) -> Option<KeyValue<'a>> {
        let mut kv = KeyValue::default();
        fields(b, |n, field| match (n, field) {
            (1, Field::Bytes(k)) => kv.key = k,
            (2, Field::Int(v)) => kv.create_revision = v as i64,
            (3, Field::Int(v)) => kv.mod_revision = v as i64,
            (4, Field::Int(v)) => kv.version = v as i64,
            (5, Field::Bytes(v)) => kv.value_len = v.len(),
            (6, Field::Int(v)) => kv.lease = v as i64,
            _ => {}
        })?;
        Some(kv)
    }
}

/// The `ID` and `TTL` of a `leasepb.Lease`, seconds.
pub fn decode_lease(b: &[u8]) -> Option<(i64, i64)> {
    let (mut id, mut ttl) = (0, 0);
    fields(b, |n, field| match (n, field) {
        (1, Field::Int(v)) => id = v as i64,
        (2, Field::Int(v)) => ttl = v as i64,
        _ => {}
    })?;
    Some((id, ttl))
}

/// A big-endian `u64` value of the `meta` bucket (`consistent_index`, `term`).
pub fn meta_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Encodes a KeyValue the way protobuf does (for the round trip).
    fn encode(
        key: &[u8],
        create: u64,
        modr: u64,
        version: u64,
        value: &[u8],
        lease: u64,
    ) -> Vec<u8> {
        fn put_varint(out: &mut Vec<u8>, mut v: u64) {
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        let mut out = Vec::new();
        for (n, bytes) in [(1u64, key), (5, value)] {
            put_varint(&mut out, n << 3 | 2);
            put_varint(&mut out, bytes.len() as u64);
            out.extend_from_slice(bytes);
        }
        for (n, v) in [(2u64, create), (3, modr), (4, version), (6, lease)] {
            if v != 0 {
                put_varint(&mut out, n << 3);
                put_varint(&mut out, v);
            }
        }
        out
    }

    #[test]
    fn revision_keys_parse_with_and_without_tombstone() {
        let mut b = 5i64.to_be_bytes().to_vec();
        b.push(b'_');
        b.extend(2i64.to_be_bytes());
        let r = RevKey::parse(&b).unwrap();
        assert_eq!((r.main, r.sub, r.tombstone), (5, 2, false));
        b.push(b't');
        assert!(RevKey::parse(&b).unwrap().tombstone);
        b.pop();
        b[8] = b'-';
        assert_eq!(RevKey::parse(&b), None);
        assert_eq!(RevKey::parse(b"short"), None);
    }

    #[test]
    fn meta_numbers_are_big_endian() {
        assert_eq!(meta_u64(&42u64.to_be_bytes()), Some(42));
        assert_eq!(meta_u64(b"abc"), None);
    }

    proptest! {
        #[test]
        fn keyvalue_round_trips(key in proptest::collection::vec(any::<u8>(), 0..64),
                                value in proptest::collection::vec(any::<u8>(), 0..300),
                                create in 0u64..1 << 40, modr in 0u64..1 << 40,
                                version in 0u64..1 << 20, lease in any::<u64>()) {
            let b = encode(&key, create, modr, version, &value, lease);
            let kv = KeyValue::decode(&b).unwrap();
            prop_assert_eq!(kv.key, &key[..]);
            prop_assert_eq!(kv.value_len, value.len());
            prop_assert_eq!((kv.create_revision, kv.mod_revision, kv.version, kv.lease),
                            (create as i64, modr as i64, version as i64, lease as i64));
        }

        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = KeyValue::decode(&b);
            let _ = decode_lease(&b);
            let _ = RevKey::parse(&b);
            let _ = meta_u64(&b);
        }
    }
}
