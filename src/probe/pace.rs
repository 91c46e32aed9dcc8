//! Paced probes (the network rtt probe, the disk's paced probe) share one
//! rule for when an operation's latency clock starts, so that a writer
//! held up by the path counts the wait and its own wake-up lateness does
//! not.

/// When a ping's latency clock starts: `scheduled` if the writer was still
/// busy with earlier pings then (`writer_free` after `scheduled`: the path
/// held it up), otherwise when the writer woke (`woke`, its own lateness
/// excluded).
/// Generic over the clock: tokio's for the network, std's for the disk.
pub fn clock_start<I: Ord + Copy>(scheduled: I, writer_free: I, woke: I) -> I {
    if writer_free > scheduled {
        scheduled
    } else {
        woke.max(scheduled)
    }
}
