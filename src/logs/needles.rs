//! The line pre-filter's searcher: where the next catalogue or start-line
//! needle is in a buffer.
//!
//! Why not a plain [`AhoCorasick`]: a catalogued line is decoded, and on a
//! log whose lines are half catalogued the search restarts after every
//! other line. `AhoCorasick` confirms each candidate of its SIMD (Teddy)
//! prefilter with an automaton and builds a DFA when made (~8 M
//! instructions, about 3 ms); the packed searcher is that Teddy search on
//! its own and reports exact matches. callgrind over 20 MB: 89 -> 78 M
//! instructions on a half-catalogued log, 47 -> 41 M on a quiet one. Where
//! Teddy is not available (no SSSE3, another architecture) the automaton
//! is used. Only where a needle starts matters, never which one.

use aho_corasick::packed::{self, Searcher};
use aho_corasick::{AhoCorasick, Input, MatchKind, Span};

/// A searcher for any of a set of needles.
#[derive(Debug, Clone)]
pub enum Needles {
    /// Teddy alone (x86_64 with SSSE3 or AVX2, aarch64).
    Packed(Searcher),
    /// The automaton, everywhere else.
    Automaton(AhoCorasick),
}

impl Needles {
    /// A searcher for `needles` (short literals; repeats are searched
    /// once).
    pub fn new(needles: &[&str]) -> Needles {
        // Two catalogue entries share their needles, and Teddy searched
        // each copy: once each, its loop over the 200 MB mixes took 22 %
        // less time on the quiet one (57.4 -> 45.0 ms) and 4-6 % less on
        // the bench and busy ones (five runs each, the same hits). Only
        // where a needle starts is reported, so their order is free.
        let mut unique = needles.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let packed = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(&unique)
            .build();
        match packed {
            Some(searcher) => Needles::Packed(searcher),
            None => Needles::Automaton(automaton(&unique)),
        }
    }

    /// Where the first needle at or after `at` starts in `haystack`.
    pub fn find_from(&self, haystack: &[u8], at: usize) -> Option<usize> {
        if at > haystack.len() {
            return None;
        }
        match self {
            Needles::Packed(s) => s.find_in(haystack, Span::from(at..haystack.len())),
            Needles::Automaton(a) => a.find(Input::new(haystack).range(at..)),
        }
        .map(|m| m.start())
    }

    /// True when `text` holds a needle.
    pub fn is_match(&self, text: &str) -> bool {
        self.find_from(text.as_bytes(), 0).is_some()
    }
}

/// The automaton: leftmost-first lets it run its own SIMD prefilter.
fn automaton(needles: &[&str]) -> AhoCorasick {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(needles)
        .expect("needles are short literals")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NEEDLES: &[&str] = &[
        "slow fdatasync",
        "trace[",
        " elected leader ",
        "ab",
        "b[ ",
        "trace[",
    ];

    fn naive(haystack: &[u8], at: usize) -> Option<usize> {
        (at..haystack.len()).find(|&i| {
            NEEDLES
                .iter()
                .any(|n| haystack[i..].starts_with(n.as_bytes()))
        })
    }

    #[test]
    fn both_searchers_find_the_first_needle() {
        let hay = b"x trace[1] y slow fdatasync z";
        let packed = Needles::new(NEEDLES);
        let automaton = Needles::Automaton(automaton(NEEDLES));
        for s in [&packed, &automaton] {
            assert_eq!(s.find_from(hay, 0), Some(2));
            assert_eq!(s.find_from(hay, 3), Some(13));
            assert_eq!(s.find_from(hay, 14), None);
            assert_eq!(s.find_from(hay, hay.len()), None);
            assert_eq!(s.find_from(hay, hay.len() + 1), None);
            assert!(s.is_match("an ab"));
            assert!(!s.is_match("a b"));
        }
    }

    proptest! {
        #[test]
        fn finds_what_a_naive_search_finds(
            hay in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b'b'), Just(b' '), Just(b'['), any::<u8>()], 0..300),
            at in 0usize..320,
        ) {
            let expected = naive(&hay, at);
            prop_assert_eq!(Needles::new(NEEDLES).find_from(&hay, at), expected);
            prop_assert_eq!(Needles::Automaton(automaton(NEEDLES)).find_from(&hay, at), expected);
        }
    }
}
