//! The one way a string that comes from an image (a tag, a platform, a history `created_by`, a label, an env
//! value, a path, or an error message quoting any of them) becomes safe to show on a terminal or in a log.
//!
//! Control characters (C0 including CR, LF, TAB and ESC; DEL; C1) and the Unicode format characters that
//! reorder or hide text (bidi overrides and isolates, zero-width joiners and marks, the BOM) are written as
//! `\xNN` (bytes below 0x100) or `\u{NNNN}`. Nothing else changes, so escaping twice is the same as once, and
//! text that needs no escaping is borrowed, not copied. Machine outputs (JSON, SARIF) carry strings as they are
//! (their own encoding escapes them); only what a person reads goes through here.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'                  // Arabic letter mark
            | '\u{200b}'..='\u{200f}'   // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}'   // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}'   // bidi isolates
            | '\u{feff}'                // BOM / zero-width no-break space
            | '\u{fff9}'..='\u{fffb}' // interlinear annotations
        )
}

/// Writes one unsafe character in its escaped form.
fn push_escaped(out: &mut String, c: char) {
    let code = c as u32;
    if code < 0x100 {
        let _ = write!(out, "\\x{code:02x}");
    } else {
        let _ = write!(out, "\\u{{{code:04x}}}");
    }
}

/// `text` with every unsafe character escaped; borrowed when there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(is_unsafe) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Raw bytes (names need not be UTF-8) shown safely: valid UTF-8 as [`escape`] shows it, invalid bytes as
/// `\xNN`, and backslashes doubled so that the shown form names exactly one byte string.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if is_unsafe(c) {
                push_escaped(&mut out, c);
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_escaped() {
        assert_eq!(
            escape("clear\x1b[2J\x1b]0;pwned\x07"),
            "clear\\x1b[2J\\x1b]0;pwned\\x07"
        );
        assert_eq!(escape("a\r\nPASS"), "a\\x0d\\x0aPASS");
        assert_eq!(escape("tab\there"), "tab\\x09here");
        assert_eq!(escape("c1\u{9b}31m"), "c1\\x9b31m");
        assert_eq!(escape("del\x7f"), "del\\x7f");
    }

    #[test]
    fn text_reordering_characters_are_escaped() {
        assert_eq!(escape("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(escape("a\u{2066}b\u{2069}"), "a\\u{2066}b\\u{2069}");
        assert_eq!(escape("zw\u{200b}j"), "zw\\u{200b}j");
    }

    #[test]
    fn plain_text_is_borrowed_and_escaping_is_idempotent() {
        assert!(matches!(
            escape("RUN apt-get install -y café ✓"),
            Cow::Borrowed(_)
        ));
        let once = escape("x\x1b[1m\u{202e}y").into_owned();
        assert_eq!(escape(&once), once);
    }

    #[test]
    fn bytes_show_invalid_utf8_and_backslashes_unambiguously() {
        assert_eq!(escape_bytes(b"caf\xc3\xa9 x"), "café x");
        assert_eq!(escape_bytes(b"bad\xffname"), "bad\\xffname");
        assert_eq!(escape_bytes(b"line\nbreak"), "line\\x0abreak");
        assert_eq!(escape_bytes(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape_bytes("rlo\u{202e}".as_bytes()), "rlo\\u{202e}");
    }
}
