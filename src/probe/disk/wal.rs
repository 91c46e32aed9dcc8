//! The WAL probe: what etcd's write-ahead log does. Records are framed as
//! etcd frames them (an 8-byte little-endian length whose high byte, when
//! the record needs padding, is `0x80 | pad`; the record; zero padding to
//! an 8-byte boundary), each record carrying a rolling CRC-32C. A proposal
//! round appends a batch of records with one write and one fdatasync, into
//! a segment preallocated with fallocate; a full segment is replaced by a
//! freshly cut one. The measured latency is the fdatasync.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::engine::{Engine, WriteAt};
use super::error::DiskError;
use super::plan::WalParams;
use super::runner::{OpSample, Workload};
use super::scratch::{preallocate, Scratch};

pub use super::framing::{encode_frame_size, framed_len, ALIGN_BYTES, CRC_BYTES, LEN_PREFIX_BYTES};

/// Appends one framed record to `out`: length prefix, CRC-32C (rolling
/// from `prev_crc`, as etcd chains record CRCs), payload, padding. Returns
/// the new rolling CRC.
#[inline]
pub fn frame_record(out: &mut Vec<u8>, payload: &[u8], prev_crc: u32) -> u32 {
    let crc = crc32c::crc32c_append(prev_crc, payload);
    let (len_field, pad) = encode_frame_size(CRC_BYTES + payload.len());
    out.extend_from_slice(&len_field.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&[0u8; ALIGN_BYTES][..pad]);
    crc
}

/// The WAL workload.
pub struct WalWorkload<'s> {
    scratch: &'s Scratch,
    params: WalParams,
    segment: File,
    path: PathBuf,
    segments: u64,
    offset: u64,
    crc: u32,
    payload: Vec<u8>,
    batch: Vec<u8>,
}

impl<'s> WalWorkload<'s> {
    /// Cuts the first segment in `scratch`.
    pub fn new(scratch: &'s Scratch, params: WalParams) -> Result<WalWorkload<'s>, DiskError> {
        let (segment, path) = cut_segment(scratch, &params, 0)?;
        let mut payload = vec![0u8; params.record_bytes];
        fastrand::fill(&mut payload);
        Ok(WalWorkload {
            scratch,
            params,
            segment,
            path,
            segments: 1,
            offset: 0,
            crc: 0,
            payload,
            batch: Vec::with_capacity(params.records_per_batch * framed_len(params.record_bytes)),
        })
    }

    /// The segment being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Cuts a new segment, then removes the full one (etcd keeps a few old
    /// segments until they are purged; one is enough to measure).
    fn cut(&mut self) -> Result<(), DiskError> {
        let (segment, path) = cut_segment(self.scratch, &self.params, self.segments)?;
        self.scratch.remove_file(&self.path)?;
        self.segment = segment;
        self.path = path;
        self.segments += 1;
        self.offset = 0;
        Ok(())
    }
}

/// A new preallocated segment named like etcd's (`seq-index.wal`).
fn cut_segment(
    scratch: &Scratch,
    params: &WalParams,
    seq: u64,
) -> Result<(File, PathBuf), DiskError> {
    let (file, path) = scratch.create_file(&format!("{seq:016x}-{:016x}.wal", 0))?;
    preallocate(&file, &path, params.segment_bytes)?;
    Ok((file, path))
}

impl Workload for WalWorkload<'_> {
    fn op(&mut self, engine: &mut dyn Engine) -> Result<OpSample, DiskError> {
        self.batch.clear();
        for _ in 0..self.params.records_per_batch {
            self.crc = frame_record(&mut self.batch, &self.payload, self.crc);
        }
        if self.offset + self.batch.len() as u64 > self.params.segment_bytes {
            self.cut()?;
        }
        let write = WriteAt {
            buf: &self.batch,
            offset: self.offset,
        };
        let t = engine
            .write_then_sync(&self.segment, &[write])
            .map_err(|f| DiskError::io(&self.path, f.op, f.source))?;
        self.offset += self.batch.len() as u64;
        Ok(OpSample {
            latency: t.sync,
            write_latency: None,
            bytes: self.batch.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads frames back the way etcd's decoder does.
    fn decode(mut buf: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let len_field = u64::from_le_bytes(buf[..8].try_into().unwrap());
            let pad = if len_field >> 63 == 1 {
                ((len_field >> 56) & 0x7) as usize
            } else {
                0
            };
            let body_len = (len_field & !(0xffu64 << 56)) as usize;
            let body = &buf[8..8 + body_len];
            assert!(buf[8 + body_len..8 + body_len + pad]
                .iter()
                .all(|&b| b == 0));
            let crc = u32::from_le_bytes(body[..4].try_into().unwrap());
            out.push((crc, body[4..].to_vec()));
            buf = &buf[8 + body_len + pad..];
        }
        out
    }

    #[test]
    fn frame_size_encodes_padding_in_the_high_byte() {
        assert_eq!(encode_frame_size(8), (8, 0));
        assert_eq!(encode_frame_size(16), (16, 0));
        let (field, pad) = encode_frame_size(13);
        assert_eq!(pad, 3);
        assert_eq!(field, 13 | (0x83u64 << 56));
        let (field, pad) = encode_frame_size(1);
        assert_eq!(pad, 7);
        assert_eq!(field >> 56, 0x87);
    }

    #[test]
    fn frames_are_aligned_and_decode_back() {
        let mut buf = Vec::new();
        let mut crc = 0;
        let payloads: Vec<Vec<u8>> = (0..20).map(|n| vec![n as u8; n * 3]).collect();
        for p in &payloads {
            let before = buf.len();
            crc = frame_record(&mut buf, p, crc);
            assert_eq!(buf.len() - before, framed_len(p.len()));
            assert_eq!(buf.len() % ALIGN_BYTES, 0);
        }
        let decoded = decode(&buf);
        assert_eq!(decoded.len(), payloads.len());
        let mut rolling = 0;
        for ((crc, body), p) in decoded.iter().zip(&payloads) {
            assert_eq!(body, p);
            rolling = crc32c::crc32c_append(rolling, p);
            assert_eq!(*crc, rolling, "CRC chains over every record");
        }
        assert_eq!(rolling, crc);
    }

    #[test]
    fn crc_detects_a_flipped_byte() {
        let mut buf = Vec::new();
        let crc = frame_record(&mut buf, b"etcd wal record", 0);
        buf[14] ^= 1;
        let (_, body) = &decode(&buf)[0];
        assert_ne!(crc32c::crc32c(body), crc);
    }
}
