//! Entry paths: normalising the raw bytes a tar header carries, and showing them safely.
//!
//! Paths are kept as bytes (names need not be UTF-8). Normalisation resolves `.`/`..` lexically and never climbs
//! above the root, so `../../etc/passwd` becomes `etc/passwd`: nothing is ever written anywhere, but what we show
//! must name the path the container would see.

/// Splits a raw tar path into normalised components: no empty, `.` or `..` parts.
pub fn components(raw: &[u8]) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts
}

/// The normalised relative form of a raw path (`./a//b/../c` -> `a/c`); empty for the root.
pub fn normalize(raw: &[u8]) -> Vec<u8> {
    components(raw).join(&b'/')
}

/// Shows a path component or path: valid UTF-8 as is, invalid bytes and control characters as `\xNN`
/// (see [`crate::escape`]).
pub fn display(bytes: &[u8]) -> String {
    crate::escape::escape_bytes(bytes)
}

/// The absolute display form of a normalised relative path: `a/b` -> `/a/b`, `` -> `/`.
pub fn display_absolute(rel: &[u8]) -> String {
    let mut s = String::from("/");
    s.push_str(&display(rel));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_dot_never_climbs_above_root() {
        assert_eq!(normalize(b"../../etc/passwd"), b"etc/passwd");
        assert_eq!(normalize(b"./a//b/../c/"), b"a/c");
        assert_eq!(normalize(b"/"), b"");
        assert_eq!(normalize(b"./"), b"");
    }

    #[test]
    fn non_utf8_and_control_bytes_are_escaped() {
        assert_eq!(display(b"caf\xc3\xa9 x"), "café x");
        assert_eq!(display(b"bad\xffname"), "bad\\xffname");
        assert_eq!(display(b"line\nbreak"), "line\\x0abreak");
        assert_eq!(display(b"-rf"), "-rf");
        assert_eq!(display_absolute(b"a/b"), "/a/b");
    }
}
