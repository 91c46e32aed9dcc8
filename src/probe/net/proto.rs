//! The wire protocol between `etcd-doctor net` and `etcd-doctor agent`,
//! version 1. It exists so that one tiny, bounded format carries the three
//! tests over plain TCP, and so that an agent can refuse anything it did not
//! agree to before a single test byte flows.
//!
//! All integers are big-endian. A connection carries exactly one test.
//!
//! ```text
//! request (client -> agent), 24 bytes + token:
//!    0  4  magic           "EDNP"
//!    4  1  version         1
//!    5  1  test            1 echo | 2 sink | 3 source | 4 echo+loss
//!    6  2  token length N  1..=256
//!    8  4  message size    bytes per echo message (echo; ignored otherwise)
//!   12  8  byte budget     most bytes the agent may echo / accept / send
//!   20  4  time budget     milliseconds the test may last
//!   24  N  token           the agent's shared secret
//!
//! reply (agent -> client), 24 bytes:
//!    0  4  magic           "EDNP"
//!    4  1  version         the agent's protocol version
//!    5  1  status          0 ok | 1 malformed | 2 unsupported version |
//!                          3 bad token | 4 busy | 5 out of range
//!    6  2  reserved        0
//!    8  4  granted message size (bytes)
//!   12  8  granted byte budget  (bytes, <= requested and <= the agent's cap)
//!   20  4  granted time budget  (ms, <= requested and <= the agent's cap)
//! ```
//!
//! The reply is shorter than any valid request, and carries no text: the
//! client maps the status to its message. A connection whose first four
//! bytes are not the magic is closed without a reply. After an `ok` reply:
//!
//! - **echo**: the client sends messages of exactly the granted size (its
//!   first 8 bytes a sequence number the agent ignores); the agent writes
//!   each one back unchanged, so it never sends more than it received. The
//!   test ends when the client half-closes, or when the next message would
//!   exceed the byte budget, or at the time budget.
//! - **echo+loss**: echo, and when the client half-closes the agent sends
//!   a 24-byte [`LossTrailer`]: what its socket sent (bytes, bytes sent
//!   again, retransmitted segments, spurious ones), so the client learns
//!   the loss on the path back. An agent of an earlier build answers
//!   `malformed`; the client then runs plain echo.
//! - **sink** (client -> agent): the client sends up to the byte budget and
//!   half-closes; the agent reads and discards, then sends a 16-byte
//!   [`Trailer`]: bytes it received, and microseconds from its reply to the
//!   last byte it read. It stops reading at the byte or time budget.
//! - **source** (agent -> client): the agent sends until the byte budget or
//!   the time budget, whichever comes first, then closes.
//!
//! Both sides bound every wait: a peer that stops talking ends the test.

use std::fmt;

use thiserror::Error;

/// First four bytes of every request and reply.
pub const MAGIC: [u8; 4] = *b"EDNP";
/// The protocol version this build speaks.
pub const VERSION: u8 = 1;
/// Fixed part of a request, bytes (the token follows).
pub const REQUEST_HEADER_BYTES: usize = 24;
/// Size of a reply, bytes.
pub const REPLY_BYTES: usize = 24;
// A reply is never longer than the shortest valid request (a 1-byte
// token): answering cannot amplify.
const _: () = assert!(REPLY_BYTES <= REQUEST_HEADER_BYTES + 1);

/// Size of a sink test's trailer, bytes.
pub const TRAILER_BYTES: usize = 16;
/// Size of an echo+loss test's trailer, bytes.
pub const LOSS_TRAILER_BYTES: usize = 24;
/// Longest token accepted, bytes.
pub const MAX_TOKEN_BYTES: usize = 256;
/// Smallest echo message: room for the 8-byte sequence number.
pub const MIN_MESSAGE_BYTES: u32 = 8;

/// Which test a connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKind {
    /// Ping-pong: every message is echoed back.
    Echo,
    /// Ping-pong, then the agent's socket's loss account.
    EchoLoss,
    /// Bulk transfer client -> agent.
    Sink,
    /// Bulk transfer agent -> client.
    Source,
}

impl TestKind {
    fn code(self) -> u8 {
        match self {
            TestKind::Echo => 1,
            TestKind::Sink => 2,
            TestKind::Source => 3,
            TestKind::EchoLoss => 4,
        }
    }

    fn from_code(code: u8) -> Option<TestKind> {
        match code {
            1 => Some(TestKind::Echo),
            2 => Some(TestKind::Sink),
            3 => Some(TestKind::Source),
            4 => Some(TestKind::EchoLoss),
            _ => None,
        }
    }

    /// Lower-case name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::Echo => "echo",
            TestKind::Sink => "sink",
            TestKind::Source => "source",
            TestKind::EchoLoss => "echo+loss",
        }
    }
}

/// The budget of one test: requested by the client, granted by the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes per echo message (echo only; 0 otherwise).
    pub message_bytes: u32,
    /// Most bytes the agent echoes, accepts or sends.
    pub max_bytes: u64,
    /// Longest the test may last, milliseconds.
    pub max_duration_ms: u32,
}

/// A client's request, without its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Which test to run.
    pub test: TestKind,
    /// What the client asks for.
    pub budget: Budget,
}

/// The fixed part of a request as the agent decodes it, before it reads
/// the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// A version-1 request whose token of `token_bytes` follows.
    Valid {
        /// The request.
        request: Request,
        /// Length of the token that follows.
        token_bytes: usize,
    },
    /// The magic matched but the version is not ours.
    UnsupportedVersion(u8),
    /// The magic matched but a field is invalid (test kind, token length).
    Malformed,
}

/// Bytes that are not this protocol at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("not an etcd-doctor agent protocol message (bad magic)")]
pub struct BadMagic;

/// The agent's answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The test starts.
    Ok,
    /// A field of the request is invalid.
    Malformed,
    /// The agent speaks another protocol version.
    UnsupportedVersion,
    /// The token does not match.
    BadToken,
    /// The agent already runs as many tests as it allows.
    Busy,
    /// The request cannot be served within the agent's caps (e.g. a
    /// message size beyond them).
    OutOfRange,
}

impl Status {
    fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Malformed => 1,
            Status::UnsupportedVersion => 2,
            Status::BadToken => 3,
            Status::Busy => 4,
            Status::OutOfRange => 5,
        }
    }

    fn from_code(code: u8) -> Option<Status> {
        Some(match code {
            0 => Status::Ok,
            1 => Status::Malformed,
            2 => Status::UnsupportedVersion,
            3 => Status::BadToken,
            4 => Status::Busy,
            5 => Status::OutOfRange,
            _ => return None,
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Malformed => "malformed request",
            Status::UnsupportedVersion => "unsupported protocol version",
            Status::BadToken => "wrong token",
            Status::Busy => "busy: too many clients",
            Status::OutOfRange => "request beyond the agent's limits",
        })
    }
}

/// The agent's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The agent's protocol version.
    pub version: u8,
    /// Whether the test starts.
    pub status: Status,
    /// What the agent granted (zeros unless `status` is ok).
    pub granted: Budget,
}

/// A reply that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReplyError {
    /// The peer is not an etcd-doctor agent.
    #[error("the peer is not an etcd-doctor agent (bad reply magic)")]
    BadMagic,
    /// An unknown status code.
    #[error("the agent replied with unknown status {0}")]
    UnknownStatus(u8),
}

/// What a sink test's agent received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// Bytes the agent read.
    pub bytes: u64,
    /// Microseconds from the agent's reply to the last byte it read.
    pub elapsed_us: u64,
}

/// What the agent's socket of an echo+loss test sent (see
/// [`super::tcpinfo::SocketLoss`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossTrailer {
    /// Bytes the agent's socket sent, retransmissions included.
    pub bytes_sent: u64,
    /// Bytes it sent beyond what the agent wrote.
    pub resent_bytes: u64,
    /// Retransmitted segments.
    pub retransmits: u32,
    /// Retransmissions the client reported as duplicates.
    pub spurious_retransmits: u32,
}

/// Encodes an echo+loss trailer.
pub fn encode_loss_trailer(t: &LossTrailer) -> [u8; LOSS_TRAILER_BYTES] {
    let mut out = [0u8; LOSS_TRAILER_BYTES];
    out[0..8].copy_from_slice(&t.bytes_sent.to_be_bytes());
    out[8..16].copy_from_slice(&t.resent_bytes.to_be_bytes());
    out[16..20].copy_from_slice(&t.retransmits.to_be_bytes());
    out[20..24].copy_from_slice(&t.spurious_retransmits.to_be_bytes());
    out
}

/// Decodes an echo+loss trailer.
pub fn decode_loss_trailer(buf: &[u8; LOSS_TRAILER_BYTES]) -> LossTrailer {
    let be_u32 = |b: &[u8]| u32::from_be_bytes(b.try_into().expect("4 bytes"));
    LossTrailer {
        bytes_sent: be_u64(&buf[0..8]),
        resent_bytes: be_u64(&buf[8..16]),
        retransmits: be_u32(&buf[16..20]),
        spurious_retransmits: be_u32(&buf[20..24]),
    }
}

/// Encodes a request with its token. The token must be 1..=256 bytes
/// (checked by the plan; longer tokens are cut by the length field).
pub fn encode_request(request: &Request, token: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(REQUEST_HEADER_BYTES + token.len());
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(request.test.code());
    out.extend_from_slice(&(token.len() as u16).to_be_bytes());
    out.extend_from_slice(&budget_bytes(&request.budget));
    out.extend_from_slice(token);
    out
}

/// Decodes the fixed part of a request.
pub fn decode_header(buf: &[u8; REQUEST_HEADER_BYTES]) -> Result<Header, BadMagic> {
    if buf[0..4] != MAGIC {
        return Err(BadMagic);
    }
    if buf[4] != VERSION {
        return Ok(Header::UnsupportedVersion(buf[4]));
    }
    let token_bytes = usize::from(u16::from_be_bytes([buf[6], buf[7]]));
    let Some(test) = TestKind::from_code(buf[5]) else {
        return Ok(Header::Malformed);
    };
    if token_bytes == 0 || token_bytes > MAX_TOKEN_BYTES {
        return Ok(Header::Malformed);
    }
    Ok(Header::Valid {
        request: Request {
            test,
            budget: decode_budget(&buf[8..24]),
        },
        token_bytes,
    })
}

/// Encodes a reply.
pub fn encode_reply(reply: &Reply) -> [u8; REPLY_BYTES] {
    let mut out = [0u8; REPLY_BYTES];
    out[0..4].copy_from_slice(&MAGIC);
    out[4] = reply.version;
    out[5] = reply.status.code();
    out[8..24].copy_from_slice(&budget_bytes(&reply.granted));
    out
}

/// Decodes a reply.
pub fn decode_reply(buf: &[u8; REPLY_BYTES]) -> Result<Reply, ReplyError> {
    if buf[0..4] != MAGIC {
        return Err(ReplyError::BadMagic);
    }
    Ok(Reply {
        version: buf[4],
        status: Status::from_code(buf[5]).ok_or(ReplyError::UnknownStatus(buf[5]))?,
        granted: decode_budget(&buf[8..24]),
    })
}

/// Encodes a sink trailer.
pub fn encode_trailer(t: &Trailer) -> [u8; TRAILER_BYTES] {
    let mut out = [0u8; TRAILER_BYTES];
    out[0..8].copy_from_slice(&t.bytes.to_be_bytes());
    out[8..16].copy_from_slice(&t.elapsed_us.to_be_bytes());
    out
}

/// Decodes a sink trailer.
pub fn decode_trailer(buf: &[u8; TRAILER_BYTES]) -> Trailer {
    Trailer {
        bytes: be_u64(&buf[0..8]),
        elapsed_us: be_u64(&buf[8..16]),
    }
}

fn budget_bytes(b: &Budget) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[0..4].copy_from_slice(&b.message_bytes.to_be_bytes());
    out[4..12].copy_from_slice(&b.max_bytes.to_be_bytes());
    out[12..16].copy_from_slice(&b.max_duration_ms.to_be_bytes());
    out
}

fn decode_budget(buf: &[u8]) -> Budget {
    Budget {
        message_bytes: u32::from_be_bytes(buf[0..4].try_into().expect("4 bytes")),
        max_bytes: be_u64(&buf[4..12]),
        max_duration_ms: u32::from_be_bytes(buf[12..16].try_into().expect("4 bytes")),
    }
}

fn be_u64(buf: &[u8]) -> u64 {
    u64::from_be_bytes(buf.try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(test: TestKind) -> Request {
        Request {
            test,
            budget: Budget {
                message_bytes: 100,
                max_bytes: 5 << 30,
                max_duration_ms: 7_500,
            },
        }
    }

    fn header(bytes: &[u8]) -> Result<Header, BadMagic> {
        decode_header(bytes[..REQUEST_HEADER_BYTES].try_into().unwrap())
    }

    #[test]
    fn request_layout_is_as_documented() {
        let bytes = encode_request(&request(TestKind::Sink), b"secret");
        assert_eq!(bytes.len(), REQUEST_HEADER_BYTES + 6);
        assert_eq!(&bytes[0..4], b"EDNP");
        assert_eq!(bytes[4], 1);
        assert_eq!(bytes[5], 2);
        assert_eq!(&bytes[6..8], &[0, 6]);
        assert_eq!(&bytes[8..12], &100u32.to_be_bytes());
        assert_eq!(&bytes[12..20], &(5u64 << 30).to_be_bytes());
        assert_eq!(&bytes[20..24], &7_500u32.to_be_bytes());
        assert_eq!(&bytes[24..], b"secret");
    }

    #[test]
    fn requests_round_trip_for_every_test() {
        for test in [
            TestKind::Echo,
            TestKind::Sink,
            TestKind::Source,
            TestKind::EchoLoss,
        ] {
            let bytes = encode_request(&request(test), b"t");
            assert_eq!(
                header(&bytes),
                Ok(Header::Valid {
                    request: request(test),
                    token_bytes: 1
                })
            );
        }
    }

    #[test]
    fn headers_are_checked_field_by_field() {
        let good = encode_request(&request(TestKind::Echo), b"tok");
        let with = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            header(&b)
        };
        assert_eq!(with(0, b'X'), Err(BadMagic));
        assert_eq!(with(4, 9), Ok(Header::UnsupportedVersion(9)));
        assert_eq!(with(5, 0), Ok(Header::Malformed));
        assert_eq!(with(5, 5), Ok(Header::Malformed));
        // Token length 0, and 257 (0x0101).
        let mut b = good.clone();
        b[6..8].copy_from_slice(&[0, 0]);
        assert_eq!(header(&b), Ok(Header::Malformed));
        b[6..8].copy_from_slice(&[1, 1]);
        assert_eq!(header(&b), Ok(Header::Malformed));
        b[6..8].copy_from_slice(&[1, 0]);
        assert!(matches!(
            header(&b),
            Ok(Header::Valid {
                token_bytes: 256,
                ..
            })
        ));
    }

    #[test]
    fn replies_round_trip() {
        let statuses = [
            Status::Ok,
            Status::Malformed,
            Status::UnsupportedVersion,
            Status::BadToken,
            Status::Busy,
            Status::OutOfRange,
        ];
        for status in statuses {
            let reply = Reply {
                version: VERSION,
                status,
                granted: request(TestKind::Echo).budget,
            };
            assert_eq!(decode_reply(&encode_reply(&reply)), Ok(reply));
        }
        let mut bad = encode_reply(&Reply {
            version: 1,
            status: Status::Ok,
            granted: request(TestKind::Echo).budget,
        });
        bad[5] = 77;
        assert_eq!(decode_reply(&bad), Err(ReplyError::UnknownStatus(77)));
        bad[0] = 0;
        assert_eq!(decode_reply(&bad), Err(ReplyError::BadMagic));
    }

    #[test]
    fn trailers_round_trip() {
        let t = Trailer {
            bytes: 123_456_789_012,
            elapsed_us: 5_000_001,
        };
        assert_eq!(decode_trailer(&encode_trailer(&t)), t);
    }

    proptest::proptest! {
        #[test]
        fn any_header_bytes_decode_without_panic(bytes in proptest::array::uniform24(proptest::num::u8::ANY)) {
            if let Ok(Header::Valid { token_bytes, request }) = decode_header(&bytes) {
                proptest::prop_assert!((1..=MAX_TOKEN_BYTES).contains(&token_bytes));
                let again = encode_request(&request, &vec![b't'; token_bytes]);
                proptest::prop_assert_eq!(&again[..8], &bytes[..8]);
            }
        }

        #[test]
        fn any_reply_or_trailer_bytes_decode_without_panic(
            reply in proptest::array::uniform24(proptest::num::u8::ANY),
            trailer in proptest::array::uniform16(proptest::num::u8::ANY),
        ) {
            if let Ok(r) = decode_reply(&reply) {
                proptest::prop_assert_eq!(decode_reply(&encode_reply(&r)), Ok(r));
            }
            let t = decode_trailer(&trailer);
            proptest::prop_assert_eq!(encode_trailer(&t), trailer);
            let mut loss = [0u8; LOSS_TRAILER_BYTES];
            loss[..16].copy_from_slice(&trailer);
            loss[16..].copy_from_slice(&reply[..8]);
            let l = decode_loss_trailer(&loss);
            proptest::prop_assert_eq!(encode_loss_trailer(&l), loss);
        }
    }
}
