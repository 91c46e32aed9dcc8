//! What one TCP socket lost, from the kernel's own account of it
//! (`getsockopt(TCP_INFO)`, as `ss -ti` shows it). The rtt probe reads it
//! on its own socket (segments this host sent to the peer) and the agent
//! on its end (segments the peer sent back), so a lossy path is named by
//! direction. The namespace-wide counters of [`super::nic`] mix every
//! connection of the host; these are the probe's alone.
//!
//! Loss is counted in bytes the kernel sent beyond the bytes the program
//! wrote: a retransmission after a drop on the wire, and also a send a
//! local filter refused (an `iptables OUTPUT` drop never counts as a
//! retransmission, yet the bytes go out again). Both ends know exactly
//! what they wrote, so no in-flight data blurs the count.
//!
//! `struct tcp_info` grows with kernel versions; the fields are read at
//! their fixed offsets from linux/tcp.h, each only when the kernel filled
//! that far (`bytes_sent` and `bytes_retrans` since 4.19, `dsack_dups`
//! since 5.0).

use std::os::fd::AsRawFd;

pub use super::result::SocketLoss;

// Offsets in struct tcp_info (linux/tcp.h).
const TOTAL_RETRANS: usize = 100;
const BYTES_SENT: usize = 200;
const DSACK_DUPS: usize = 216;
const INFO_BYTES: usize = 232;

/// The sending account of `socket`, whose program wrote `written` bytes
/// to it; `None` when the kernel gives no `tcp_info` or one too old to
/// carry `bytes_sent`.
pub fn read(socket: &impl AsRawFd, written: u64) -> Option<SocketLoss> {
    let mut buf = [0u8; INFO_BYTES];
    let mut len = INFO_BYTES as libc::socklen_t;
    // SAFETY: `buf` is writable for `len` bytes and outlives the call; the
    // kernel writes at most `len` bytes and stores the count in `len`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_TCP,
            libc::TCP_INFO,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    parse(&buf[..(len as usize).min(INFO_BYTES)], written)
}

/// The account from the bytes of a `struct tcp_info` as the kernel filled
/// them (native byte order).
fn parse(info: &[u8], written: u64) -> Option<SocketLoss> {
    let u32_at = |at: usize| {
        info.get(at..at + 4)
            .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
    };
    let u64_at = |at: usize| {
        info.get(at..at + 8)
            .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
    };
    let bytes_sent = u64_at(BYTES_SENT)?;
    Some(SocketLoss {
        bytes_sent,
        resent_bytes: bytes_sent.saturating_sub(written),
        retransmits: u32_at(TOTAL_RETRANS)?,
        spurious_retransmits: u32_at(DSACK_DUPS).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn fields_are_read_at_their_offsets_and_only_when_filled() {
        let mut info = [0u8; INFO_BYTES];
        info[TOTAL_RETRANS..TOTAL_RETRANS + 4].copy_from_slice(&26u32.to_ne_bytes());
        info[BYTES_SENT..BYTES_SENT + 8].copy_from_slice(&42_325u64.to_ne_bytes());
        info[DSACK_DUPS..DSACK_DUPS + 4].copy_from_slice(&1u32.to_ne_bytes());
        assert_eq!(
            parse(&info, 39_526),
            Some(SocketLoss {
                bytes_sent: 42_325,
                resent_bytes: 2_799,
                retransmits: 26,
                spurious_retransmits: 1
            })
        );
        // More written than sent (not yet flushed): nothing resent.
        assert_eq!(parse(&info, 50_000).unwrap().resent_bytes, 0);
        // A 4.19 kernel: no dsack_dups.
        let old = parse(&info[..DSACK_DUPS], 0).unwrap();
        assert_eq!(old.spurious_retransmits, 0);
        // Older: no bytes_sent, no account.
        assert_eq!(parse(&info[..BYTES_SENT], 0), None);
        assert_eq!(parse(&[], 0), None);
    }

    #[test]
    fn a_loopback_socket_reports_what_it_sent_and_lost_nothing() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(&[7u8; 1000]).unwrap();
        let mut buf = [0u8; 1000];
        server.read_exact(&mut buf).unwrap();
        server.write_all(&buf).unwrap();
        client.read_exact(&mut buf).unwrap();
        let l = read(&client, 1000).expect("tcp_info on a 4.19+ kernel");
        assert_eq!(l.bytes_sent, 1000);
        assert_eq!((l.resent_bytes, l.retransmits), (0, 0));
        assert!(read(&std::fs::File::open("/dev/null").unwrap(), 0).is_none());
    }
}
