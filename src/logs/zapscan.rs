//! The fast path of zap JSON decoding: one pass over the line that checks
//! it as strictly as serde_json does and notes where each top-level
//! field's value lies, without building a value or allocating.
//!
//! Half the lines of a busy member's log are catalogued and decoded, and
//! serde_json's generic visitor (a `Value` per kept field, a key compare
//! per field) was most of `logs`' time. This pass gives up on anything it
//! is not sure to judge exactly as serde_json would (a `\u` escape, an
//! escaped key, nesting deeper than [`MAX_DEPTH`], more than [`MAX_FIELDS`]
//! fields, any syntax error), and the caller then decodes the line with
//! serde_json: both paths accept the same lines and give the same fields
//! (a proptest in `zap` compares them).

use std::borrow::Cow;

/// Top-level fields kept (of those wanted); a line with more goes to
/// serde_json.
pub const MAX_FIELDS: usize = 32;
/// Nesting followed; a deeper line goes to serde_json (its limit is 128).
pub const MAX_DEPTH: usize = 64;

/// A field's value as the decoders read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// A string, unescaped.
    Str(Cow<'a, str>),
    /// A number, as its digits.
    Num(Cow<'a, str>),
    /// `true`, `false`, `null`, an array or an object.
    Other,
}

impl<'a> Val<'a> {
    /// A string as it is, a number as its digits; `None` for the rest.
    pub fn into_text(self) -> Option<Cow<'a, str>> {
        match self {
            Val::Str(s) | Val::Num(s) => Some(s),
            Val::Other => None,
        }
    }
}

#[derive(Clone, Copy, Default)]
enum Kind {
    #[default]
    Other,
    Str,
    EscapedStr,
    Int,
    Number,
}

/// One field: where its key and value are in the line.
#[derive(Clone, Copy, Default)]
struct Slot {
    key: (u32, u32),
    val: (u32, u32),
    kind: Kind,
}

/// The top-level fields of a zap line that passed the check.
#[cfg_attr(test, derive(Clone))]
pub struct Fields<'a> {
    line: &'a str,
    slots: [Slot; MAX_FIELDS],
    len: usize,
}

impl<'a> Fields<'a> {
    /// Reads the fields of `line` whose key `keep` may want (all are
    /// checked; a field kept but not wanted is only a slot) with `read`,
    /// or gives `None` when this pass cannot vouch for the line (decode
    /// it with serde_json then). The fields are handed to
    /// `read` where they were gathered: returning them (640 bytes) by
    /// value cost two `memcpy`s per decoded line, 3 % of `logs`'
    /// instructions (callgrind).
    pub fn scan_with<R>(
        line: &'a str,
        keep: impl Fn(&[u8]) -> bool,
        read: impl FnOnce(&Fields<'a>) -> R,
    ) -> Option<R> {
        u32::try_from(line.len()).ok()?;
        let mut f = Fields {
            line,
            slots: [Slot::default(); MAX_FIELDS],
            len: 0,
        };
        let mut c = Cur {
            b: line.as_bytes(),
            i: 0,
        };
        c.eat_ws(b'{')?;
        if c.eat_ws(b'}').is_none() {
            loop {
                c.ws();
                let key = c.string()?;
                if key.2 {
                    return None;
                }
                c.eat_ws(b':')?;
                c.ws();
                let start = c.i;
                let kind = match c.b.get(c.i) {
                    Some(b'"') => c.string_value()?,
                    _ => c.value(1)?,
                };
                if keep(&c.b[key.0..key.1]) {
                    let (val_start, val_end) = match kind {
                        // The body, without its quotes.
                        Kind::Str | Kind::EscapedStr => (start + 1, c.i - 1),
                        _ => (start, c.i),
                    };
                    *f.slots.get_mut(f.len)? = Slot {
                        key: (key.0 as u32, key.1 as u32),
                        val: (val_start as u32, val_end as u32),
                        kind,
                    };
                    f.len += 1;
                }
                if c.eat_ws(b',').is_some() {
                    continue;
                }
                c.eat_ws(b'}')?;
                break;
            }
        }
        c.ws();
        (c.i == line.len()).then(|| read(&f))
    }

    /// The value of the last field named `name` (serde's map keeps the
    /// last of a repeated key).
    pub fn get(&self, name: &str) -> Option<Val<'a>> {
        // Bytes, lengths first: slicing the `str` checked char boundaries
        // at every slot (get was 7 % of `logs`' instructions, callgrind).
        let (line, name) = (self.line.as_bytes(), name.as_bytes());
        let s = self.slots[..self.len].iter().rev().find(|s| {
            let (start, end) = (s.key.0 as usize, s.key.1 as usize);
            end - start == name.len() && line.get(start..end) == Some(name)
        })?;
        let text = &self.line[s.val.0 as usize..s.val.1 as usize];
        Some(match s.kind {
            Kind::Str => Val::Str(Cow::Borrowed(text)),
            Kind::EscapedStr => Val::Str(Cow::Owned(unescape(text))),
            Kind::Int => Val::Num(Cow::Borrowed(text)),
            Kind::Number => Val::Num(Cow::Owned(
                serde_number(text.as_bytes()).map_or_else(String::new, |n| n.to_string()),
            )),
            Kind::Other => Val::Other,
        })
    }
}

/// A number as serde_json reads it (out of range: `None`, as serde_json
/// refuses the line).
fn serde_number(text: &[u8]) -> Option<serde_json::Number> {
    serde_json::from_slice(text).ok()
}

/// A string body with only the short escapes [`Cur::string`] lets through.
fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = memchr::memchr(b'\\', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        let Some(&c) = rest.as_bytes().get(i + 1) else {
            return out;
        };
        out.push(match c {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            // `"`, `\` and `/` stand for themselves.
            other => char::from(other),
        });
        // The escape is two ASCII bytes: `i + 2` is a boundary.
        rest = rest.get(i + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// A cursor over the line's bytes.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    /// Skips JSON whitespace. zap writes none, so the first test (any
    /// byte above a space is not whitespace) nearly always ends it.
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c > b' ' || !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return;
            }
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    /// [`Cur::ws`] then [`Cur::eat`] of `c` (not whitespace), testing
    /// for `c` first: zap writes no whitespace, so the skip is nearly
    /// always empty, and one test per separator instead of two took 4 %
    /// off `logs`' instructions (callgrind).
    #[inline(always)]
    fn eat_ws(&mut self, c: u8) -> Option<()> {
        if self.eat(c).is_some() {
            return Some(());
        }
        self.ws();
        self.eat(c)
    }

    /// A string at the cursor: the body's start and end, and whether it
    /// has escapes. Inlined: some twenty calls per decoded line, whose
    /// entry and exit were 4 % of `logs`' instructions (callgrind).
    #[inline(always)]
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            self.i += special(&self.b[self.i..]);
            match self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some((start, self.i - 1, escaped));
                }
                b'\\' => match self.b.get(self.i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                        escaped = true;
                        self.i += 2;
                    }
                    // `\u` (surrogates) and bad escapes: serde_json decides.
                    _ => return None,
                },
                // A control character: serde_json refuses it.
                _ => return None,
            }
        }
    }

    /// A string value at the cursor. Most top-level values of a zap line
    /// are strings: [`Fields::scan_with`] reads them here without a call to
    /// [`Cur::value`] (inlined; the calls were 2 % of `logs`' instructions on
    /// a log whose lines are half catalogued, callgrind).
    #[inline(always)]
    fn string_value(&mut self) -> Option<Kind> {
        Some(if self.string()?.2 {
            Kind::EscapedStr
        } else {
            Kind::Str
        })
    }

    /// A value at the cursor, checked, nested ones to [`MAX_DEPTH`].
    fn value(&mut self, depth: usize) -> Option<Kind> {
        match *self.b.get(self.i)? {
            b'"' => self.string_value(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            b'[' if depth < MAX_DEPTH => self.array(depth),
            b'{' if depth < MAX_DEPTH => self.object(depth),
            _ => None,
        }
    }

    fn word(&mut self, w: &[u8]) -> Option<Kind> {
        self.b[self.i..].starts_with(w).then(|| {
            self.i += w.len();
            Kind::Other
        })
    }

    /// A number in JSON's grammar: an integer of up to 18 digits as it is,
    /// any other (a fraction, an exponent, `-0`, more digits) checked by
    /// serde_json's own number parser, which the fields then use too.
    fn number(&mut self) -> Option<Kind> {
        let start = self.i;
        let negative = self.eat(b'-').is_some();
        let int_start = self.i;
        let int = self.digits();
        if int == 0 || (self.b[int_start] == b'0' && int > 1) {
            return None;
        }
        let mut simple = int <= 18 && !(negative && self.b[int_start] == b'0');
        if self.eat(b'.').is_some() {
            simple = false;
            (self.digits() > 0).then_some(())?;
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            simple = false;
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            (self.digits() > 0).then_some(())?;
        }
        if simple {
            return Some(Kind::Int);
        }
        serde_number(&self.b[start..self.i])?;
        Some(Kind::Number)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn array(&mut self, depth: usize) -> Option<Kind> {
        self.i += 1;
        self.ws();
        if self.eat(b']').is_some() {
            return Some(Kind::Other);
        }
        loop {
            self.ws();
            self.value(depth + 1)?;
            self.ws();
            if self.eat(b',').is_none() {
                self.eat(b']')?;
                return Some(Kind::Other);
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<Kind> {
        self.i += 1;
        self.ws();
        if self.eat(b'}').is_some() {
            return Some(Kind::Other);
        }
        loop {
            self.ws();
            self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            self.value(depth + 1)?;
            self.ws();
            if self.eat(b',').is_none() {
                self.eat(b'}')?;
                return Some(Kind::Other);
            }
        }
    }
}

/// The index of the first `"`, `\` or control byte of `b` (its length
/// when none): sixteen bytes at a time with SSE2 (every x86_64 has it),
/// the rest eight at a time.
#[cfg(target_arch = "x86_64")]
fn special(b: &[u8]) -> usize {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let mut i = 0;
    while let Some(block) = b.get(i..i + 16) {
        // SAFETY: SSE2 is part of the x86_64 baseline, and the unaligned
        // load reads the sixteen bytes of `block`, which it borrows.
        let mask = unsafe {
            let x = _mm_loadu_si128(block.as_ptr().cast());
            let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
            let slash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
            // A byte below 0x20 is its own unsigned minimum with 0x1f.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, slash), control))
        };
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    i + special_words(&b[i..])
}

/// [`special`] elsewhere.
#[cfg(not(target_arch = "x86_64"))]
fn special(b: &[u8]) -> usize {
    special_words(b)
}

/// [`special`] eight bytes at a time, in plain integer arithmetic.
fn special_words(b: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        // Each term flags its lowest true match exactly (a borrow can flag
        // only bytes above one), so the lowest flag of all is the first.
        let m = zero(x ^ (LO * u64::from(b'"')))
            | zero(x ^ (LO * u64::from(b'\\')))
            | (x.wrapping_sub(LO * 0x20) & !x & HI);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .unwrap_or(b.len() - i)
}

#[cfg(test)]
impl<'a> Fields<'a> {
    /// [`Fields::scan_with`]'s fields themselves, for tests that read
    /// them back.
    pub fn scan(line: &'a str, keep: impl Fn(&[u8]) -> bool) -> Option<Fields<'a>> {
        Fields::scan_with(line, keep, Fields::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fields_of_a_zap_line() {
        let line = r#"{"level":"warn","ts":1709294400.5,"n":-42,"msg":"a \"b\"\n\/é\t","x":[1,{"y":null}],"n":7}"#;
        let f = Fields::scan(line, |_| true).unwrap();
        assert_eq!(f.get("ts"), Some(Val::Num("1709294400.5".into())));
        assert_eq!(f.get("level"), Some(Val::Str("warn".into())));
        assert_eq!(f.get("msg"), Some(Val::Str("a \"b\"\n/é\t".into())));
        assert_eq!(f.get("x"), Some(Val::Other));
        // The last of a repeated key.
        assert_eq!(f.get("n"), Some(Val::Num("7".into())));
        assert_eq!(f.get("none"), None);
    }

    #[test]
    fn doubtful_lines_are_left_to_serde() {
        for line in [
            r#"{"a":"\u00e9"}"#,
            r#"{"a":01}"#,
            r#"{"a":1e999}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a\"":1}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":1,}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":1} x"#,
            r#"{"a":tru}"#,
            r#"{"a":"#,
        ] {
            assert!(Fields::scan(line, |_| true).is_none(), "{line}");
        }
        let deep = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(Fields::scan(&deep, |_| true).is_none());
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("\"k{i}\":1")).collect();
        assert!(Fields::scan(&format!("{{{}}}", many.join(",")), |_| true).is_none());
    }

    #[test]
    fn special_finds_the_first_stop_byte() {
        let text = b"abcdefgh\x01\"\\ijklmnop";
        for start in 0..text.len() {
            let want = text[start..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(text.len() - start);
            assert_eq!(special(&text[start..]), want, "{start}");
        }
    }

    proptest! {
        #[test]
        fn strings_read_as_serde_reads_them(body in r#"([a-zé /]|\\["\\/bfnrt])*"#) {
            let line = format!("{{\"k\":\"{body}\"}}");
            let want: serde_json::Value = serde_json::from_str(&line).unwrap();
            let f = Fields::scan(&line, |_| true).unwrap();
            prop_assert_eq!(f.get("k"), Some(Val::Str(want["k"].as_str().unwrap().into())));
        }

        #[test]
        fn special_agrees_with_a_byte_loop(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let want = b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).unwrap_or(b.len());
            prop_assert_eq!(special(&b), want);
            prop_assert_eq!(special_words(&b), want);
        }

        #[test]
        fn special_finds_one_stop_byte_anywhere(
            len in 0usize..80,
            at in 0usize..80,
            stop in prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20],
            plain in 0x20u8..=0xff,
        ) {
            let plain = if plain == b'"' || plain == b'\\' { b'a' } else { plain };
            let mut b = vec![plain; len];
            if at < len {
                b[at] = stop;
            }
            prop_assert_eq!(special(&b), at.min(len));
            prop_assert_eq!(special_words(&b), at.min(len));
        }
    }
}
