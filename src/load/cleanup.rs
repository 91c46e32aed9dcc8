//! Cleaning up after a run without touching data another client wrote.
//!
//! The run proves its prefix empty before the first write, but another
//! client may write under it during the run. So the clean-up does not
//! delete the prefix: it lists the keys under it (keys only, a page at a
//! time) and deletes, in transactions, only the keys of the run's own shape
//! ([`is_ours`]: the prefix, an 8-byte key index inside the key space, zero
//! padding to `--key-size`). Every other key is left where it is, counted
//! and named in the report. A late write (a request still in flight when
//! the first pass ran) is caught by a second pass.

use etcd_client::{Client, GetOptions, SortOrder, SortTarget, Txn, TxnOp, TxnOpResponse};

use super::plan::LoadPlan;
use crate::cluster::conn::{ConnPlan, Target};
use crate::cluster::{dial, RequestError};

/// Keys listed per range request.
const PAGE_KEYS: i64 = 1000;

/// Deletes per transaction (etcd's `--max-txn-ops` defaults to 128).
const DELETES_PER_TXN: usize = 100;

/// Foreign keys named in the report.
pub const FOREIGN_EXAMPLES: usize = 3;

/// Longest foreign key name shown, characters.
const FOREIGN_KEY_CHARS: usize = 100;

/// Passes over the prefix: the first deletes, the next ones catch writes
/// that landed meanwhile.
const PASSES: usize = 3;

/// What the clean-up did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Keys of the run deleted.
    pub deleted: u64,
    /// The cluster's revision after the last deletion (0: none answered).
    pub revision: i64,
    /// Keys under the prefix the run did not write, left in place.
    pub foreign: u64,
    /// The first few of them, escaped and cut.
    pub foreign_examples: Vec<String>,
}

/// True when `key` has the shape of a key `plan` writes
/// ([`LoadPlan::key`] of an index [`LoadPlan::draw_key`] can return).
pub fn is_ours(plan: &LoadPlan, key: &[u8]) -> bool {
    let prefix = plan.prefix.as_bytes();
    if key.len() != prefix.len() + plan.key_bytes || !key.starts_with(prefix) {
        return false;
    }
    let rest = &key[prefix.len()..];
    let Some((index, padding)) = rest.split_first_chunk::<8>() else {
        return false;
    };
    let index = u64::from_be_bytes(*index);
    let in_space = match plan.key_space {
        Some(n) => index < n,
        None => index >> 63 == 0,
    };
    in_space && padding.iter().all(|&b| b == 0)
}

/// Deletes the run's keys under `plan.prefix` through `client`, leaving
/// and counting every other key.
pub async fn clean(
    conn: &ConnPlan,
    target: &Target,
    client: Client,
    plan: &LoadPlan,
) -> Result<Cleanup, RequestError> {
    let mut out = Cleanup::default();
    for _ in 0..PASSES {
        let (found, foreign) = pass(conn, target, client.clone(), plan, &mut out).await?;
        out.foreign = foreign.0;
        out.foreign_examples = foreign.1;
        if found == 0 {
            break;
        }
    }
    Ok(out)
}

/// Foreign keys seen in one pass: their count and the first names.
type Foreign = (u64, Vec<String>);

/// One pass over the prefix: deletes the run's keys found, returns how
/// many there were and the foreign keys.
async fn pass(
    conn: &ConnPlan,
    target: &Target,
    mut client: Client,
    plan: &LoadPlan,
    out: &mut Cleanup,
) -> Result<(u64, Foreign), RequestError> {
    let end = crate::keyspace::prefix_end(plan.prefix.as_bytes());
    let mut start = plan.prefix.as_bytes().to_vec();
    let mut found = 0;
    let mut foreign: Foreign = (0, Vec::new());
    loop {
        let opts = GetOptions::new()
            .with_range(end.clone())
            .with_keys_only()
            .with_limit(PAGE_KEYS)
            .with_sort(SortTarget::Key, SortOrder::Ascend);
        let page = dial::request(conn, target, client.get(start.clone(), Some(opts))).await?;
        if let Some(h) = page.header() {
            out.revision = out.revision.max(h.revision());
        }
        let mut ours = Vec::new();
        for kv in page.kvs() {
            if is_ours(plan, kv.key()) {
                ours.push(kv.key().to_vec());
            } else {
                foreign.0 += 1;
                if foreign.1.len() < FOREIGN_EXAMPLES {
                    let name = String::from_utf8_lossy(kv.key());
                    foreign.1.push(crate::text::cap(&name, FOREIGN_KEY_CHARS));
                }
            }
        }
        found += ours.len() as u64;
        for chunk in ours.chunks(DELETES_PER_TXN) {
            let ops: Vec<TxnOp> = chunk
                .iter()
                .map(|k| TxnOp::delete(k.clone(), None))
                .collect();
            let resp = dial::request(conn, target, client.txn(Txn::new().and_then(ops))).await?;
            if let Some(h) = resp.header() {
                out.revision = out.revision.max(h.revision());
            }
            for r in resp.op_responses() {
                if let TxnOpResponse::Delete(d) = r {
                    out.deleted += d.deleted().max(0) as u64;
                }
            }
        }
        match page.kvs().last() {
            Some(last) if page.more() => {
                start = last.key().to_vec();
                start.push(0);
            }
            _ => return Ok((found, foreign)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::plan::{LoadRequest, Preset};
    use proptest::prelude::*;
    use std::time::Duration;

    fn plan(key_space: Option<u64>) -> LoadPlan {
        LoadPlan::new(LoadRequest {
            preset: Preset::S,
            rate: None,
            clients: None,
            conns: None,
            duration: None,
            key_size: Some(16),
            value_size: None,
            mix: None,
            key_space,
            max_duration: Duration::from_secs(600),
            prefix: "/p/".into(),
            scrape_interval: Duration::from_secs(5),
        })
        .unwrap()
    }

    #[test]
    fn only_keys_of_the_runs_shape_are_ours() {
        let p = plan(Some(1000));
        assert!(is_ours(&p, &p.key(0)));
        assert!(is_ours(&p, &p.key(999)));
        for foreign in [
            p.key(1000),
            b"/p/foreign".to_vec(),
            b"/p/".to_vec(),
            [p.key(1), vec![0]].concat(),
            {
                let mut k = p.key(5);
                *k.last_mut().unwrap() = 1;
                k
            },
            b"/q/\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0".to_vec(),
        ] {
            assert!(!is_ours(&p, &foreign), "{foreign:?}");
        }
        let random = plan(None);
        assert!(is_ours(&random, &random.key(u64::MAX >> 1)));
        assert!(!is_ours(&random, &random.key(u64::MAX)));
    }

    proptest! {
        /// Every key the plan can draw is ours; a foreign suffix never is.
        #[test]
        fn drawn_keys_are_ours(seed in any::<u64>(), space in proptest::option::of(1u64..1_000_000),
                               junk in "[a-z]{1,20}") {
            let p = plan(space);
            let mut rng = fastrand::Rng::with_seed(seed);
            prop_assert!(is_ours(&p, &p.key(p.draw_key(&mut rng))));
            let foreign = format!("/p/{}", junk);
            prop_assert!(!is_ours(&p, foreign.as_bytes()));
        }
    }
}
