//! Shapes, prefixes and tallies of slow requests, on real lines of each
//! etcd version and on any text.

use super::*;
use proptest::prelude::*;

#[test]
fn range_shapes_from_apply_lines() {
    let cases = [
        (
            r#"key:"/registry/pods/" range_end:"/registry/pods0" "#,
            RequestShape::UnpaginatedRange,
            "/registry/pods/",
        ),
        (
            r#"key:"/registry/pods/" range_end:"/registry/pods0" limit:500 "#,
            RequestShape::PaginatedRange,
            "/registry/pods/",
        ),
        (
            r#"key:"/registry/pods/" range_end:"/registry/pods0" count_only:true "#,
            RequestShape::CountOnly,
            "/registry/pods/",
        ),
        (
            r#"key:"/registry/events/default/" range_end:"/registry/events/default0" keys_only:true "#,
            RequestShape::KeysOnly,
            "/registry/events/default/",
        ),
        (
            r#"key:"/registry/pods/default/web-1" serializable:true "#,
            RequestShape::Get,
            "/registry/pods/default/",
        ),
        (
            r#"key:"/app/a" range_end:"/app/b" "#,
            RequestShape::UnpaginatedRange,
            "/app/",
        ),
        (
            r#"key:"a\"b\000\377" range_end:"c" "#,
            RequestShape::UnpaginatedRange,
            "a\\\"b\\0\u{fffd}",
        ),
    ];
    for (text, shape, prefix) in cases {
        let r = from_apply(text, Some("range_response_count:20000 size:21012345")).unwrap();
        assert_eq!((r.shape, r.prefix.as_str()), (shape, prefix), "{text}");
        assert_eq!(r.response_bytes, Some(21_012_345));
    }
}

#[test]
fn fields_are_read_after_the_key_only() {
    // A key may hold text that looks like a later field; gogoproto writes
    // the fields after the key, so only what follows its quote counts.
    let cases = [
        (
            r#"key:"/registry/x/ count_only:true" range_end:"/registry/x0" "#,
            RequestShape::UnpaginatedRange,
        ),
        (
            r#"key:"/registry/x/ limit:5 keys_only:true" range_end:"/registry/x0" "#,
            RequestShape::UnpaginatedRange,
        ),
        (r#"key:"/registry/x/ range_end:\"/z\"" "#, RequestShape::Get),
        (
            r#"key:"/registry/x/ limit:5" range_end:"/registry/x0" limit:7 "#,
            RequestShape::PaginatedRange,
        ),
    ];
    for (text, shape) in cases {
        assert_eq!(from_apply(text, None).unwrap().shape, shape, "{text}");
        let stats = from_stats("/etcdserverpb.KV/Range", text, None).unwrap();
        assert_eq!(stats.shape, shape, "{text}");
    }
}

#[test]
fn txns_and_writes() {
    let txn = r#"compare:<target:MOD key:"/registry/pods/a/b" mod_revision:5 > success:<request_range:<key:"/registry/pods/a/b" > > failure:<>"#;
    assert_eq!(from_apply(txn, None).unwrap().shape, RequestShape::ReadTxn);
    let write =
        r#"header:<ID:7587 > put:<key:"/registry/leases/kube-node-lease/n1" value_size:512 >"#;
    let w = from_apply(write, Some("size:6")).unwrap();
    assert_eq!(
        (w.shape, w.prefix.as_str()),
        (RequestShape::Write, "/registry/leases/kube-node-lease/")
    );
    let s = from_stats(
        "/etcdserverpb.KV/Range",
        r#"key:"/registry/pods/" range_end:"/registry/pods0" count_only:true "#,
        Some("12"),
    )
    .unwrap();
    assert_eq!(
        (s.shape, s.response_bytes, s.line),
        (RequestShape::CountOnly, Some(12), RequestLine::RequestStats)
    );
    assert!(from_stats("/etcdserverpb.Lease/LeaseGrant", "TTL:5 ", None).is_none());
    assert!(from_apply("garbage", None).is_none());
}

/// A count-only range as each version logs it: real lines, written by
/// etcd 3.4.23 (Debian, capnslog), 3.5.1 (PyPI) and 3.6.17 (built from
/// its Go modules) for `etcdctl get /registry/events/ --prefix
/// --count-only -w fields` over three keys, each server started with
/// the apply warning at 1ns so that a fast count is logged.
#[test]
fn count_only_ranges_in_real_lines_of_each_version() {
    let lines = [
        (
            "3.4",
            r#"2026-12-06 02:52:27.776115 W | etcdserver: read-only range request "key:\"/registry/events/\" range_end:\"/registry/events0\" count_only:true " with result "range_response_count:0 size:6" took too long (120.677µs) to execute"#,
            0.120_677,
        ),
        (
            "3.5",
            r#"{"level":"warn","ts":"2026-12-06T02:52:29.007Z","caller":"etcdserver/util.go:166","msg":"apply request took too long","took":"182.216µs","expected-duration":"1ns","prefix":"read-only range ","request":"key:\"/registry/events/\" range_end:\"/registry/events0\" count_only:true ","response":"range_response_count:0 size:6"}"#,
            0.182_216,
        ),
        (
            "3.6",
            r#"{"level":"warn","ts":"2026-12-06T02:52:29.948512Z","caller":"txn/util.go:93","msg":"apply request took too long","took":"70.988µs","expected-duration":"1ns","prefix":"read-only range ","request":"key:\"/registry/events/\" range_end:\"/registry/events0\" count_only:true ","response":"range_response_count:0 size:6"}"#,
            0.070_988,
        ),
    ];
    for (version, line, ms) in lines {
        let parsed = crate::logs::capnslog::parse(line)
            .or_else(|| crate::logs::zap::parse(line))
            .unwrap_or_else(|| panic!("{version}: not parsed"));
        let e = parsed
            .event
            .unwrap_or_else(|| panic!("{version}: no event"));
        assert_eq!(e.kind, crate::logs::EventKind::ExpensiveRead, "{version}");
        let d = e.duration_ms.unwrap();
        assert!((d - ms).abs() < 1e-9, "{version}: {d}");
        let r = e.request.unwrap_or_else(|| panic!("{version}: no request"));
        assert_eq!(
            (r.shape, r.prefix.as_str(), r.response_bytes),
            (RequestShape::CountOnly, "/registry/events/", Some(6)),
            "{version}"
        );
    }
}

#[test]
fn etcd_3_4_text_lines_unquote_the_request() {
    let write = r#"request "header:<ID:7587 > put:<key:\"/registry/leases/kube-node-lease/n1\" value_size:512 >" with result "size:6" took too long (1.2s) to execute"#;
    let w = from_text(write).unwrap();
    assert_eq!(
        (w.shape, w.prefix.as_str(), w.response_bytes),
        (
            RequestShape::Write,
            "/registry/leases/kube-node-lease/",
            Some(6)
        )
    );
    // An escaped byte in the key: octal in the text format, its
    // backslash doubled by %q.
    let odd = r#"read-only range request "key:\"/app/a\\000\" range_end:\"/app/b\" limit:5 " with result "error:context canceled" took too long (2s) to execute"#;
    let r = from_text(odd).unwrap();
    assert_eq!(
        (r.shape, r.prefix.as_str(), r.response_bytes),
        (RequestShape::PaginatedRange, "/app/", None)
    );
    assert!(from_text("read-only range request \"key:\\\"/a").is_none());
    assert!(from_text("no request here").is_none());
}

#[test]
fn a_group_is_counted_from_the_line_that_saw_more() {
    let mut t = RequestTally::default();
    let r = |line| Request {
        shape: RequestShape::UnpaginatedRange,
        prefix: "/registry/pods/".into(),
        response_bytes: Some(10),
        line,
    };
    for _ in 0..3 {
        t.add(r(RequestLine::Apply), 200.0);
    }
    t.add(r(RequestLine::RequestStats), 400.0);
    let mut later = RequestTally::default();
    later.add(r(RequestLine::Apply), 900.0);
    t.merge(later);
    let g = &t.finish().unwrap().groups[0];
    assert_eq!(
        (g.requests, g.total_ms, g.worst_ms, g.response_bytes),
        (4, 1500.0, 900.0, 40)
    );
    assert_eq!(g.line, RequestLine::Apply);
    assert!(RequestTally::default().finish().is_none());
}

#[test]
fn groups_are_bounded() {
    let mut t = RequestTally::default();
    for i in 0..1000 {
        t.add(from_apply(&format!("key:\"/x{i}/k\" "), None).unwrap(), 1.0);
    }
    let r = t.finish().unwrap();
    assert_eq!(r.groups.len(), MAX_REQUEST_GROUPS);
    assert_eq!(r.other_lines, 1000 - MAX_REQUEST_GROUPS as u64);
}

#[test]
fn order_is_by_time_then_key_and_merges_keep_the_least_keys() {
    let req = |shape, prefix: &str| Request {
        shape,
        prefix: prefix.into(),
        response_bytes: None,
        line: RequestLine::Apply,
    };
    // Ties in time come out in (shape, prefix) order, whatever the order
    // of the lines.
    let mut t = RequestTally::default();
    for p in ["/c/", "/a/", "/b/"] {
        t.add(req(RequestShape::Get, p), 5.0);
    }
    t.add(req(RequestShape::UnpaginatedRange, "/z/"), 5.0);
    t.add(req(RequestShape::Write, "/0/"), 9.0);
    let got: Vec<_> = t.finish().unwrap().groups;
    let got: Vec<_> = got.iter().map(|g| (g.shape, g.prefix.as_str())).collect();
    assert_eq!(
        got,
        [
            (RequestShape::Write, "/0/"),
            (RequestShape::UnpaginatedRange, "/z/"),
            (RequestShape::Get, "/a/"),
            (RequestShape::Get, "/b/"),
            (RequestShape::Get, "/c/"),
        ]
    );
    // Past the cap, the least keys are kept, whichever part saw them.
    let mut full = RequestTally::default();
    for i in 0..MAX_REQUEST_GROUPS - 2 {
        full.add(req(RequestShape::Get, &format!("/f{i:04}/")), 1.0);
    }
    let mut later = RequestTally::default();
    for p in ["/q/", "/m/", "/x/", "/n/"] {
        later.add(req(RequestShape::Get, p), 1.0);
    }
    full.merge(later);
    let r = full.finish().unwrap();
    let kept: Vec<_> = r.groups.iter().map(|g| g.prefix.as_str()).collect();
    assert!(kept.contains(&"/m/") && kept.contains(&"/n/"), "{kept:?}");
    assert!(!kept.contains(&"/q/") && !kept.contains(&"/x/"));
    assert_eq!(r.other_lines, 2);
}

/// `lines` tallied in one pass, or in parts cut at `cuts` and merged.
fn tally_of(lines: &[(u16, bool, f64)], cuts: &[usize]) -> Option<RequestsReport> {
    let mut whole = RequestTally::default();
    for range in crate::logs::chunk::parts(lines.len(), cuts) {
        let mut part = RequestTally::default();
        for &(key, stats, ms) in &lines[range] {
            let r = Request {
                shape: if key % 3 == 0 {
                    RequestShape::Get
                } else {
                    RequestShape::UnpaginatedRange
                },
                prefix: format!("/p{key}/"),
                response_bytes: Some(u64::from(key)),
                line: if stats {
                    RequestLine::RequestStats
                } else {
                    RequestLine::Apply
                },
            };
            part.add(r, ms);
        }
        whole.merge(part);
    }
    whole.finish()
}

#[test]
fn the_first_groups_seen_do_not_decide_what_is_kept() {
    // 600 groups, the greatest keys first: one pass and any split keep
    // the 256 least, counted in full.
    let lines: Vec<(u16, bool, f64)> = (0..1_200u16)
        .map(|i| (999 - i % 600, i % 2 == 0, 1.5))
        .collect();
    let one = tally_of(&lines, &[]).unwrap();
    assert_eq!(one.groups.len(), MAX_REQUEST_GROUPS);
    assert_eq!(one, tally_of(&lines, &[7, 300, 601, 1_000]).unwrap());
    // Each group's two lines are of one kind, 1.5 ms each.
    assert!(one
        .groups
        .iter()
        .all(|g| g.requests == 2 && g.total_ms == 3.0));
    assert_eq!(one.other_lines, 1_200 - 2 * MAX_REQUEST_GROUPS as u64);
    let mut keys: Vec<(RequestShape, String)> = (400..1_000u16)
        .map(|k| {
            let shape = tally_of(&[(k, false, 0.0)], &[]).unwrap().groups[0].shape;
            (shape, format!("/p{k}/"))
        })
        .collect();
    keys.sort();
    keys.truncate(MAX_REQUEST_GROUPS);
    let mut kept: Vec<_> = one
        .groups
        .iter()
        .map(|g| (g.shape, g.prefix.clone()))
        .collect();
    kept.sort();
    assert_eq!(kept, keys);
}

proptest! {
    /// Past the bound and with any durations, parts tallied apart and
    /// merged give exactly what one pass gives (a log read by several
    /// threads in chunks).
    #[test]
    fn any_split_merges_to_one_pass(
        lines in proptest::collection::vec((0u16..1_200, any::<bool>(), 0.0f64..5_000.0), 0..2_500),
        cuts in proptest::collection::vec(0usize..2_500, 0..6),
    ) {
        let one = tally_of(&lines, &[]);
        prop_assert_eq!(&one, &tally_of(&lines, &cuts));
        if let Some(r) = one {
            prop_assert!(r.groups.len() <= MAX_REQUEST_GROUPS);
            let kept: u64 = r.groups.iter().map(|g| g.requests).sum();
            prop_assert!(kept + r.other_lines <= lines.len() as u64);
        }
    }

    #[test]
    fn any_text_never_panics(req in "\\PC{0,200}", resp in "\\PC{0,40}") {
        let _ = from_apply(&req, Some(&resp));
        let _ = from_stats("/etcdserverpb.KV/Range", &req, Some(&resp));
        let _ = from_text(&req);
        let _ = from_text(&format!("request \"{req}\" with result \"{resp}\""));
    }

    #[test]
    fn escaped_keys_never_panic(key in "([a-z/]|\\\\[0-7]{0,3}|\\\\x[0-9a-f]{0,2}|\\\\.){0,30}") {
        let text = format!("key:\"{key}\" range_end:\"{key}\" limit:9");
        if let Some(r) = from_apply(&text, None) {
            prop_assert!(r.prefix.chars().count() <= MAX_PREFIX_CHARS);
        }
    }

    /// The ASCII fast path writes what the char-by-char escape writes.
    #[test]
    fn printable_is_the_escape(
        bytes in proptest::collection::vec(
            prop_oneof![4 => 0x20u8..0x7f, 1 => any::<u8>()],
            0..300,
        ),
    ) {
        prop_assert_eq!(printable(&bytes), escaped(&bytes));
    }
}
