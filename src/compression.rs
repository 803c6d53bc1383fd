//! Compression detection by magic bytes (never by file name) and the matching streaming decoders, each bounded
//! in how far it may expand its input.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::limits::{EXPANSION_FLOOR, Limit, LimitExceeded};

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
///
/// The decoded stream fails (with a [`LimitExceeded`] inside the I/O error) once it has produced more than
/// `max_ratio` times the compressed bytes read, counting at least [`EXPANSION_FLOOR`] of them: a few kilobytes
/// of zstd can claim terabytes of zeros, and nothing else would stop reading them.
#[allow(clippy::disallowed_methods)] // the one place decoders are made
pub fn decoder<'a, R: Read + Send + 'a>(
    reader: R,
    max_ratio: u64,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let consumed = Arc::new(AtomicU64::new(0));
    let counted = Counted {
        inner: reader,
        count: consumed.clone(),
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, counted);
    let head = buffered.fill_buf()?;
    let compression = Compression::sniff(head);
    let decoded: Box<dyn Read + Send + 'a> = match compression {
        Compression::None => return Ok((compression, Box::new(buffered))),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
    };
    let bounded = Expansion {
        inner: decoded,
        compression,
        consumed,
        produced: 0,
        max_ratio,
    };
    Ok((compression, Box::new(bounded)))
}

/// Counts the bytes read through it (the decoder's input), for [`Expansion`] on the other side.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A decoder's output, failing once it outgrows its input by more than the ratio.
struct Expansion<'a> {
    inner: Box<dyn Read + Send + 'a>,
    compression: Compression,
    consumed: Arc<AtomicU64>,
    produced: u64,
    max_ratio: u64,
}

impl Read for Expansion<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        // The input is counted as the buffer below the decoder fills, a little ahead of what the decoder used:
        // the measured ratio errs low, never high.
        let consumed = self.consumed.load(Ordering::Relaxed);
        if self.produced > self.max_ratio.saturating_mul(consumed.max(EXPANSION_FLOOR)) {
            return Err(LimitExceeded::new(
                Limit::ExpansionRatio,
                format!(
                    "{} data expanded {} bytes to more than {} bytes",
                    self.compression.name(),
                    consumed,
                    self.produced
                ),
                format!("{} times (at least 1 MiB counted)", self.max_ratio),
            )
            .into_io());
        }
        Ok(n)
    }
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
        let (kind, mut r) = decoder(&data[..], 2000).unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(kind, Compression::Gzip);
        assert_eq!(out, "hello world");
    }

    #[test]
    fn zstd_is_decoded() {
        let data = zstd::encode_all(&b"layer bytes"[..], 3).unwrap();
        let (kind, mut r) = decoder(&data[..], 2000).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(kind, Compression::Zstd);
        assert_eq!(out, b"layer bytes");
    }

    /// 64 MiB of zeros in a few kilobytes of zstd: at 2 times (of at least 1 MiB) it stops past 2 MiB, with
    /// an error that names the flag; at the default it reads through.
    #[test]
    fn a_zstd_bomb_stops_at_the_ratio() {
        let zeros = vec![0u8; 64 << 20];
        let bomb = zstd::encode_all(&zeros[..], 19).unwrap();
        assert!(bomb.len() < 64 * 1024);
        let (_, mut r) = decoder(&bomb[..], 2).unwrap();
        let mut out = Vec::new();
        let error = r.read_to_end(&mut out).unwrap_err();
        assert!(
            out.len() <= (2 << 20) + (1 << 20),
            "read {} bytes",
            out.len()
        );
        let limit = LimitExceeded::from_io(&error).unwrap();
        assert_eq!(limit.limit, Limit::ExpansionRatio);
        assert!(
            error.to_string().contains("--max-expansion-ratio"),
            "{error}"
        );
        let (_, mut r) = decoder(&bomb[..], 2000).unwrap();
        assert_eq!(io::copy(&mut r, &mut io::sink()).unwrap(), 64 << 20);
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
