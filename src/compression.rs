//! Compression detection by magic bytes (never by file name) and the matching streaming decoders.

use std::io::{self, BufRead, BufReader, Read};

use serde::Serialize;

/// How a blob or archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Recognises gzip (`1f 8b`) and zstd (`28 b5 2f fd`) frames; anything else is taken as uncompressed.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Peeks at the start of `reader` and wraps it in the decoder its magic bytes call for.
/// Gzip streams may hold several members (pigz, concatenated layers); zstd may hold several frames.
pub fn decoder<'a, R: Read + Send + 'a>(
    reader: R,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let mut buffered = BufReader::with_capacity(256 * 1024, reader);
    let head = buffered.fill_buf()?;
    let compression = Compression::sniff(head);
    let decoded: Box<dyn Read + Send + 'a> = match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
    };
    Ok((compression, decoded))
}

/// True when `block` (the first 512 bytes of a stream) is a tar header: a ustar/GNU magic, or the all-zero
/// end-of-archive block of an empty tar.
pub fn looks_like_tar(block: &[u8]) -> bool {
    if block.len() < 512 {
        return false;
    }
    let magic = &block[257..263];
    magic == b"ustar\0" || magic == b"ustar " || block[..512].iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn sniffs_gzip_and_zstd_magic() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"ustar"), Compression::None);
        assert_eq!(Compression::sniff(b""), Compression::None);
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let mut data = Vec::new();
        for part in [b"hello ".as_slice(), b"world"] {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(part).unwrap();
            data.extend(enc.finish().unwrap());
        }
        let (kind, mut r) = decoder(&data[..]).unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(kind, Compression::Gzip);
        assert_eq!(out, "hello world");
    }

    #[test]
    fn zstd_is_decoded() {
        let data = zstd::encode_all(&b"layer bytes"[..], 3).unwrap();
        let (kind, mut r) = decoder(&data[..]).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(kind, Compression::Zstd);
        assert_eq!(out, b"layer bytes");
    }

    #[test]
    fn tar_detection_needs_a_full_header() {
        assert!(!looks_like_tar(b"{\"json\": true}"));
        assert!(looks_like_tar(&[0u8; 512]));
        let mut block = [0u8; 512];
        block[257..263].copy_from_slice(b"ustar\0");
        assert!(looks_like_tar(&block));
    }
}
