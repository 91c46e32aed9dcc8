//! Text from outside (hostnames, log lines, etcd keys and member names,
//! serde errors quoting input) made safe to show: [`printable`] escapes
//! control characters, so a terminal never receives an escape sequence the
//! tool did not write; [`cap`] bounds the length of a note or error, so one
//! huge input line never becomes a huge "one-line" message.
//!
//! [`Printable`] is the same escape as a writer: every table and markdown
//! output goes through it (JSON escapes control characters itself).

use std::fmt::Write as _;
use std::io::{self, Write};

/// Longest note or per-input error kept in a report (characters).
pub const MAX_NOTE_CHARS: usize = 200;

/// Longest error line printed on stderr (characters).
pub const MAX_ERROR_CHARS: usize = 1000;

/// True for the characters a terminal may act on: C0 controls other than
/// newline and tab, DEL, and the C1 controls (U+0080..U+009F; U+009B is a
/// one-character CSI on some terminals).
fn is_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c)
}

/// `s` with every control character written as `\x1b` / `\u{9b}`.
pub fn printable(s: &str) -> String {
    if !s.chars().any(is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_char(&mut out, c);
    }
    out
}

fn push_char(out: &mut String, c: char) {
    if !is_control(c) {
        out.push(c);
    } else if (c as u32) < 0x80 {
        let _ = write!(out, "\\x{:02x}", c as u32);
    } else {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
}

/// `s` with the characters XML 1.0 forbids made visible: control
/// characters as by [`printable`], and the non-characters U+FFFE and
/// U+FFFF as `\u{fffe}`. For text that is already markup (an SVG).
pub fn xml_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_xml_char(&mut out, c);
    }
    out
}

fn push_xml_char(out: &mut String, c: char) {
    if matches!(c, '\u{fffe}' | '\u{ffff}') {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    } else {
        push_char(out, c);
    }
}

/// `s` for XML or HTML, in text or a quoted attribute: [`xml_chars`],
/// then `&`, `<`, `>`, `"` and `'` as entities. A `]]>` or a `</script>`
/// from the data is then only text.
pub fn markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => push_xml_char(&mut out, c),
        }
    }
    out
}

/// `s` as a Prometheus label value (between its double quotes): control
/// characters escaped as by [`printable`], then the three escapes the
/// exposition format knows: `\\`, `\"` and `\n`.
pub fn prometheus_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in printable(s).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// One line of at most `max` characters: control characters (newlines
/// too) escaped, and `…` ending a text that was cut.
pub fn cap(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push('…');
            return out;
        }
        if c == '\n' {
            out.push_str("\\n");
        } else {
            push_char(&mut out, c);
        }
    }
    out
}

/// An error chain for stderr: one line, control characters escaped, at
/// most [`MAX_ERROR_CHARS`] characters (the start and the end, which holds
/// the root cause, are kept).
pub fn error_line(s: &str) -> String {
    let line = cap(s, usize::MAX);
    let chars = line.chars().count();
    if chars <= MAX_ERROR_CHARS {
        return line;
    }
    let head: String = line.chars().take(MAX_ERROR_CHARS * 7 / 10).collect();
    let tail: String = line
        .chars()
        .skip(chars - MAX_ERROR_CHARS * 3 / 10)
        .collect();
    format!("{head} … {tail}")
}

/// A writer that escapes control characters as [`printable`] does, byte
/// by byte (a C1 control is the UTF-8 pair `C2 80..9F`, possibly split
/// across writes).
pub struct Printable<W: Write> {
    inner: W,
    /// A `C2` byte held until the next one says whether it starts a C1
    /// control.
    pending_c2: bool,
}

impl<W: Write> Printable<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Printable {
            inner,
            pending_c2: false,
        }
    }

    /// Writes a held `C2` byte, then flushes.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Printable<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len() + 8);
        for &b in buf {
            if self.pending_c2 {
                self.pending_c2 = false;
                if (0x80..=0x9f).contains(&b) {
                    let _ = write!(out, "\\u{{{b:x}}}");
                    continue;
                }
                out.push(0xc2);
            }
            match b {
                0xc2 => self.pending_c2 = true,
                b'\n' | b'\t' => out.push(b),
                0..=0x1f | 0x7f => {
                    let _ = write!(out, "\\x{b:02x}");
                }
                _ => out.push(b),
            }
        }
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending_c2 {
            self.pending_c2 = false;
            self.inner.write_all(&[0xc2])?;
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn control_characters_are_escaped_and_text_kept() {
        for (input, want) in [
            ("host\u{1b}[2J", "host\\x1b[2J"),
            ("bell\u{7}", "bell\\x07"),
            ("csi\u{9b}31m", "csi\\u{9b}31m"),
            ("del\u{7f}", "del\\x7f"),
            ("cr\rover", "cr\\x0dover"),
            ("tab\tand\nnewline é ü 日本", "tab\tand\nnewline é ü 日本"),
        ] {
            assert_eq!(printable(input), want);
            let mut w = Printable::new(Vec::new());
            w.write_all(input.as_bytes()).unwrap();
            assert_eq!(String::from_utf8(w.finish().unwrap()).unwrap(), want);
        }
    }

    #[test]
    fn caps_are_one_line_and_bounded() {
        assert_eq!(cap("short", 200), "short");
        assert_eq!(cap("a\nb", 200), "a\\nb");
        let long = "x".repeat(300);
        assert_eq!(cap(&long, 200).chars().count(), 201);
        assert!(cap(&long, 200).ends_with('…'));
        let huge = format!("start {} root cause", "y".repeat(100_000));
        let line = error_line(&huge);
        assert!(line.chars().count() <= MAX_ERROR_CHARS + 3);
        assert!(line.starts_with("start ") && line.ends_with("root cause"));
    }

    #[test]
    fn markup_and_label_escapes() {
        assert_eq!(
            markup("a<b>&\"'\u{0}\u{1b}\u{ffff}\n"),
            "a&lt;b&gt;&amp;&quot;&#39;\\x00\\x1b\\u{ffff}\n"
        );
        assert_eq!(
            prometheus_label("a\\b\"c\nd\u{0}\r"),
            "a\\\\b\\\"c\\nd\\\\x00\\\\x0d"
        );
    }

    proptest! {
        /// Whatever the input and however writes split it, the writer's
        /// output equals `printable`, and has no control byte but newline
        /// and tab.
        #[test]
        fn writer_and_string_agree(s in "\\PC{0,40}|[\\x00-\\x1f\\x7f-\\u{a0}a]{0,40}", split in 0usize..40) {
            let bytes = s.as_bytes();
            let at = split.min(bytes.len());
            let mut w = Printable::new(Vec::new());
            w.write_all(&bytes[..at]).unwrap();
            w.write_all(&bytes[at..]).unwrap();
            let out = String::from_utf8(w.finish().unwrap()).unwrap();
            prop_assert_eq!(&out, &printable(&s));
            prop_assert!(!out.chars().any(is_control));
        }
    }
}
