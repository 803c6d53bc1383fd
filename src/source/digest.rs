//! Content digests as the registry code meets them (`sha256:<64 hex>`): checked once where they enter, and
//! computed over bytes and streams. The one place to repoint at a shared OCI `Digest` type.

use sha2::{Digest as _, Sha256};

/// A digest reference part or descriptor digest, checked: `sha256` with 64 lowercase hex digits (the only
/// algorithm registries serve), or another registered algorithm whose hex this client cannot verify.
pub(crate) fn check(text: &str) -> Result<(), String> {
    let Some((alg, hex)) = text.split_once(':') else {
        return Err(format!("malformed digest {text:?}: expected ALGORITHM:HEX"));
    };
    let hex_ok = |len: usize| {
        hex.len() == len
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match alg {
        "sha256" if hex_ok(64) => Ok(()),
        "sha512" if hex_ok(128) => Ok(()),
        _ => Err(format!(
            "malformed or unsupported digest {text:?}: expected sha256:<64 hex digits>"
        )),
    }
}

/// Whether this client computes the digest's algorithm (and so verifies content against it).
pub(crate) fn verifiable(digest: &str) -> bool {
    digest.starts_with("sha256:")
}

pub(crate) fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_where_they_enter() {
        let hex = "a".repeat(64);
        assert!(check(&format!("sha256:{hex}")).is_ok());
        assert!(check(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(check("sha256:abc").is_err());
        assert!(check("sha256:../../etc/passwd").is_err());
        assert!(check(&format!("md5:{hex}")).is_err());
        assert!(check("nocolon").is_err());
    }
}
