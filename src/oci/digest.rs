//! Content digests (`sha256:<hex>`): the algorithm, the hex validated for it, the blob path they name.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// A digest algorithm layerscope knows. Only [`Algorithm::Sha256`] is verified; a digest with another one is
/// refused wherever it must be checked (see [`Digest::verifiable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// How many lowercase hex digits an encoded digest of this algorithm has.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("malformed digest {0:?}: expected algorithm:hex")]
    Malformed(String),
    #[error("digest {0:?}: unsupported algorithm (sha256 and sha512 are known)")]
    UnknownAlgorithm(String),
    #[error("malformed digest {0:?}: expected {1} lowercase hex digits")]
    BadHex(String, usize),
}

/// `algorithm:hex`, with the hex checked for the algorithm's length and alphabet, so it is safe as a path part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    text: String,
    split: usize,
}

impl Digest {
    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest::from_parts(Algorithm::Sha256, &hex::encode(sha2::Sha256::digest(data)))
    }

    fn from_parts(algorithm: Algorithm, hex: &str) -> Digest {
        let name = algorithm.name();
        Digest {
            text: format!("{name}:{hex}"),
            split: name.len(),
        }
    }

    /// A bare hex string (an image or layer ID in an engine store) read as a digest of `algorithm`.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Digest, DigestError> {
        format!("{}:{hex}", algorithm.name()).parse()
    }

    pub fn algorithm(&self) -> Algorithm {
        match &self.text[..self.split] {
            "sha512" => Algorithm::Sha512,
            _ => Algorithm::Sha256,
        }
    }

    /// The encoded part, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.text[self.split + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Where an OCI layout keeps the blob: `blobs/<algorithm>/<hex>`.
    pub fn blob_path(&self) -> String {
        format!("blobs/{}/{}", &self.text[..self.split], self.hex())
    }

    /// Whether layerscope can check content against this digest (only sha256 is computed).
    pub fn verifiable(&self) -> bool {
        self.algorithm() == Algorithm::Sha256
    }

    /// Whether `data` hashes to this digest; `None` when the algorithm is not one layerscope computes.
    pub fn matches(&self, data: &[u8]) -> Option<bool> {
        self.verifiable()
            .then(|| hex::encode(sha2::Sha256::digest(data)) == self.hex())
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Digest, DigestError> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::Malformed(s.to_string()))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            "" => return Err(DigestError::Malformed(s.to_string())),
            _ => return Err(DigestError::UnknownAlgorithm(s.to_string())),
        };
        let len = algorithm.hex_len();
        if hex.len() != len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::BadHex(s.to_string(), len));
        }
        Ok(Digest::from_parts(algorithm, hex))
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;

    fn try_from(s: String) -> Result<Digest, DigestError> {
        s.parse()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_knows_its_algorithm_hex_and_blob_path() {
        let hex = "ab".repeat(32);
        let d: Digest = format!("sha256:{hex}").parse().unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert_eq!(d.hex(), hex);
        assert_eq!(d.blob_path(), format!("blobs/sha256/{hex}"));
        assert_eq!(d.to_string(), format!("sha256:{hex}"));
        let long: Digest = format!("sha512:{}", "0".repeat(128)).parse().unwrap();
        assert_eq!(long.algorithm(), Algorithm::Sha512);
        assert!(!long.verifiable());
        assert_eq!(long.matches(b""), None);
    }

    #[test]
    fn malformed_digests_are_refused() {
        let ok = "a".repeat(64);
        for bad in [
            "nocolon".to_string(),
            ":abc".to_string(),
            "sha256:../../etc/passwd".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", &ok[1..]),
            format!("sha256:{ok}0"),
            format!("sha512:{ok}"),
            format!("sha256:{}/x", &ok[2..]),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
        assert!(matches!(
            format!("blake3:{ok}").parse::<Digest>(),
            Err(DigestError::UnknownAlgorithm(_))
        ));
    }

    #[test]
    fn content_is_checked_against_sha256() {
        let d = Digest::sha256_of(b"hello");
        assert_eq!(d.matches(b"hello"), Some(true));
        assert_eq!(d.matches(b"hellO"), Some(false));
        assert_eq!(Digest::from_hex(Algorithm::Sha256, d.hex()), Ok(d));
    }
}
