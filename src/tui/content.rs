//! The file viewer's content: a file's bytes shown as text (lines indexed once, so scrolling a large file only
//! formats the rows on screen) or, for binary data, as a hexdump.

/// What the viewer shows.
#[derive(Debug, Clone)]
pub enum Content {
    Loading,
    Text { bytes: Vec<u8>, starts: Vec<usize> },
    Binary { bytes: Vec<u8> },
    Error(String),
}

const HEX_WIDTH: usize = 16;

impl Content {
    /// Text when the first 8 KiB hold no NUL byte and the whole is UTF-8; a hexdump otherwise.
    pub fn from_bytes(bytes: Vec<u8>) -> Content {
        let head = &bytes[..bytes.len().min(8192)];
        if memchr::memchr(0, head).is_some() || std::str::from_utf8(&bytes).is_err() {
            return Content::Binary { bytes };
        }
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', &bytes).map(|i| i + 1));
        if starts.last() == Some(&bytes.len()) && starts.len() > 1 {
            starts.pop();
        }
        Content::Text { bytes, starts }
    }

    pub fn line_count(&self) -> usize {
        match self {
            Content::Text { starts, .. } => starts.len(),
            Content::Binary { bytes } => bytes.len().div_ceil(HEX_WIDTH).max(1),
            Content::Loading | Content::Error(_) => 1,
        }
    }

    pub fn size(&self) -> Option<usize> {
        match self {
            Content::Text { bytes, .. } | Content::Binary { bytes } => Some(bytes.len()),
            _ => None,
        }
    }

    /// Display line `i` (tabs expanded, control characters escaped).
    pub fn line(&self, i: usize) -> String {
        match self {
            Content::Loading => "reading…".into(),
            Content::Error(e) => e.clone(),
            Content::Text { bytes, starts } => {
                let Some(&start) = starts.get(i) else {
                    return String::new();
                };
                let end = starts.get(i + 1).copied().unwrap_or(bytes.len());
                let raw = String::from_utf8_lossy(&bytes[start..end]);
                let raw = raw.trim_end_matches(['\n', '\r']);
                let mut out = String::with_capacity(raw.len());
                for c in raw.chars() {
                    match c {
                        '\t' => {
                            let pad = 4 - out.chars().count() % 4;
                            out.extend(std::iter::repeat_n(' ', pad));
                        }
                        c if crate::escape::is_unsafe(c) => {
                            out.push_str(&crate::escape::escape(c.encode_utf8(&mut [0; 4])))
                        }
                        c => out.push(c),
                    }
                }
                out
            }
            Content::Binary { bytes } => hex_line(bytes, i * HEX_WIDTH),
        }
    }
}

/// `00000010  2f 62 69 6e 2f 73 68 00  ...  |/bin/sh.|`
fn hex_line(bytes: &[u8], offset: usize) -> String {
    let chunk = &bytes[offset.min(bytes.len())..(offset + HEX_WIDTH).min(bytes.len())];
    let mut out = format!("{offset:08x} ");
    for i in 0..HEX_WIDTH {
        if i == 8 {
            out.push(' ');
        }
        match chunk.get(i) {
            Some(b) => out.push_str(&format!(" {b:02x}")),
            None => out.push_str("   "),
        }
    }
    out.push_str("  |");
    out.extend(chunk.iter().map(|b| {
        if b.is_ascii_graphic() || *b == b' ' {
            *b as char
        } else {
            '.'
        }
    }));
    out.push('|');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_split_into_lines_with_tabs_expanded() {
        let c = Content::from_bytes(b"port=9090\n\tworkers=4\n".to_vec());
        assert!(matches!(c, Content::Text { .. }));
        assert_eq!(c.line_count(), 2);
        assert_eq!(c.line(0), "port=9090");
        assert_eq!(c.line(1), "    workers=4");
        assert_eq!(c.line(5), "");
    }

    #[test]
    fn binary_is_a_hexdump() {
        let c = Content::from_bytes(b"/bin/sh\0\x01\x02abcdefghijklmnop".to_vec());
        assert_eq!(c.line_count(), 2);
        assert_eq!(
            c.line(0),
            "00000000  2f 62 69 6e 2f 73 68 00  01 02 61 62 63 64 65 66  |/bin/sh...abcdef|"
        );
        assert!(c.line(1).starts_with("00000010  67 68"));
    }

    #[test]
    fn escape_sequences_in_text_are_not_sent_to_the_terminal() {
        let c = Content::from_bytes(b"a\x1b[2Jb".to_vec());
        assert_eq!(c.line(0), "a\\x1b[2Jb");
    }
}
