//! etcd's WAL record framing, as sizes: what the WAL plan needs to know
//! how many bytes a batch of records takes, and what the WAL probe writes.

/// Bytes of the length prefix of every frame.
pub const LEN_PREFIX_BYTES: usize = 8;
/// Bytes of the CRC at the start of every record body.
pub const CRC_BYTES: usize = 4;
/// Frames are aligned to this many bytes.
pub const ALIGN_BYTES: usize = 8;

/// etcd's `encodeFrameSize`: the length field for a record of `body_len`
/// bytes and the padding that follows it. Padding is recorded in the top
/// byte as `0x80 | pad` so readers can strip it.
pub fn encode_frame_size(body_len: usize) -> (u64, usize) {
    let pad = (ALIGN_BYTES - body_len % ALIGN_BYTES) % ALIGN_BYTES;
    let mut len_field = body_len as u64;
    if pad != 0 {
        len_field |= (0x80 | pad as u64) << 56;
    }
    (len_field, pad)
}

/// Bytes a record with `payload_len` payload bytes takes once framed.
pub fn framed_len(payload_len: usize) -> usize {
    let body = CRC_BYTES + payload_len;
    LEN_PREFIX_BYTES + body + encode_frame_size(body).1
}
