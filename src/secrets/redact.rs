//! Redaction for every output: a few leading characters of a secret, the rest masked.
//!
//! A [`Redactor`] masks the secrets a scan found wherever they appear (instructions, history, paths, link
//! targets, tags, labels, a viewed file's bytes), and the build-argument values of history text that
//! [`arg_value_is_secret`] calls secret. Escaped forms of each secret are masked too, so masking works on text
//! before and after [`crate::escape`].

use std::borrow::Cow;

use aho_corasick::AhoCorasick;

/// `glpat-AXPX6LYbMJGeCI8m6XEH` -> `glpa**********************`: at most 4 characters shown, fewer for short
/// secrets, nothing for very short ones. Redacting a redacted value changes nothing.
pub fn redact(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let shown = match chars.len() {
        0..=7 => 0,
        8..=15 => 2,
        _ => 4,
    };
    let masked = (chars.len() - shown).clamp(3, 24);
    let mut out: String = chars[..shown].iter().collect();
    out.push_str(&"*".repeat(masked));
    out
}

/// Words that, as a whole segment of a build argument's name (`DB_PASSWORD`, `npmToken`, `api-key`), say its
/// value is a secret. `KEYBOARD_LAYOUT`, `AUTHOR_NAME` hold no such segment.
const SECRET_NAME_WORDS: [&str; 22] = [
    "TOKEN",
    "TOKENS",
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWORDS",
    "PASSWD",
    "PASS",
    "PASSPHRASE",
    "PWD",
    "KEY",
    "APIKEY",
    "ACCESSKEY",
    "PRIVATEKEY",
    "AUTH",
    "AUTHTOKEN",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "PAT",
    "CERT",
    "COOKIE",
];

/// The segments of an identifier: split at `_`, `-`, `.` and lower-to-upper case changes, upper-cased.
fn name_segments(name: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            segments.push(std::mem::take(&mut current));
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower {
            segments.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_uppercase());
    }
    segments.push(current);
    segments.retain(|s| !s.is_empty());
    segments
}

/// Values that cannot be a secret whatever the name says: empty, a number, a boolean.
fn plainly_not_secret(value: &str) -> bool {
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'');
    v.is_empty()
        || v.parse::<f64>().is_ok()
        || ["true", "false", "yes", "no", "on", "off"]
            .iter()
            .any(|b| v.eq_ignore_ascii_case(b))
}

/// A random-looking token: 20 or more characters without spaces, letters mixed with digits, not a hexadecimal
/// digest or UUID (commit ids and image digests are common, harmless build arguments), and Shannon entropy of
/// at least 3.9 bits per character.
fn high_entropy_token(value: &str) -> bool {
    let hex = value
        .strip_prefix("sha256:")
        .unwrap_or(value)
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'-');
    value.chars().count() >= 20
        && !value.chars().any(char::is_whitespace)
        && value.bytes().any(|b| b.is_ascii_digit())
        && value.bytes().any(|b| b.is_ascii_alphabetic())
        && !hex
        && super::scanner::entropy(value) >= 3.9
}

/// Whether a build argument's value is masked in history text. It is when the name has a secret word as a
/// segment (`TOKEN`, `SECRET`, `PASSWORD`, `PASSWD`, `PASS`, `KEY`, `APIKEY`, `AUTH`, `CREDENTIALS`, ... see
/// [`SECRET_NAME_WORDS`]) and the value is not plainly harmless (empty, a number, a boolean); or when the value
/// is a high-entropy token whatever the name. Values that a content rule finds are masked by the
/// [`Redactor`] like every other found secret.
pub fn arg_value_is_secret(name: &str, value: &str) -> bool {
    let secret_name = name_segments(name)
        .iter()
        .any(|s| SECRET_NAME_WORDS.contains(&s.as_str()));
    (secret_name && !plainly_not_secret(value)) || high_entropy_token(value.trim())
}

fn masked_arg(key: &str, value: &str) -> String {
    if arg_value_is_secret(key, value) {
        format!("{key}={}", redact(value))
    } else {
        format!("{key}={value}")
    }
}

/// Masks the secret values (see [`arg_value_is_secret`]) of the `|N KEY=value ...` build-argument prefix of a
/// history `created_by`, and of an `ARG NAME=value` step.
pub fn redact_created_by(created_by: &str) -> String {
    let trimmed = created_by.trim_start();
    let (prefix, rest) = match trimmed.strip_prefix("RUN ") {
        Some(r) => ("RUN ", r.trim_start()),
        None => ("", trimmed),
    };
    let Some(after_bar) = rest.strip_prefix('|') else {
        return redact_arg_instruction(created_by);
    };
    let digits: String = after_bar.chars().take_while(char::is_ascii_digit).collect();
    let Ok(count) = digits.parse::<usize>() else {
        return created_by.to_string();
    };
    let mut tail = after_bar[digits.len()..].trim_start();
    let mut args = Vec::new();
    for _ in 0..count {
        let Some((key, value_and_rest)) = tail.split_once('=') else {
            break;
        };
        if key.contains(' ') {
            break;
        }
        // A value ends at the next ` KEY=` or at the shell; values with spaces are judged whole.
        let end = next_arg_start(value_and_rest).unwrap_or(value_and_rest.len());
        args.push(masked_arg(key, value_and_rest[..end].trim_end()));
        tail = value_and_rest[end..].trim_start();
    }
    format!("{prefix}|{count} {} {tail}", args.join(" "))
}

fn next_arg_start(s: &str) -> Option<usize> {
    let shells = ["/bin/sh ", "/bin/bash ", "cmd "];
    let mut best = shells
        .iter()
        .filter_map(|sh| s.find(&format!(" {sh}")).map(|i| i + 1))
        .min();
    // ` KEY=` with an identifier key.
    for (i, _) in s.match_indices(' ') {
        let word: String = s[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() && s[i + 1 + word.len()..].starts_with('=') {
            best = Some(best.map_or(i + 1, |b| b.min(i + 1)));
            break;
        }
    }
    best
}

/// `ARG TOKEN=value` (as cleaned) -> `ARG TOKEN=val***` when the value is secret.
fn redact_arg_instruction(text: &str) -> String {
    let marker = "ARG ";
    let Some(pos) = text.find(marker) else {
        return text.to_string();
    };
    let decl = &text[pos + marker.len()..];
    let Some((key, value)) = decl.split_once('=') else {
        return text.to_string();
    };
    if key.contains(' ') {
        return text.to_string();
    }
    format!(
        "{}{marker}{}",
        &text[..pos],
        masked_arg(key, value.trim_end())
    )
}

/// Masks every known secret in the text shown to a person or written to a report, and secret build-argument
/// values in history text. What every view applies to every image-derived string; see
/// [`crate::analysis::Analysis::redactor`].
pub struct Redactor {
    finder: Option<AhoCorasick>,
    replacements: Vec<String>,
    /// `--show-secrets`: nothing is masked.
    reveal: bool,
}

impl Default for Redactor {
    /// No known secret: masks secret build-argument values only.
    fn default() -> Redactor {
        Redactor::new(std::iter::empty())
    }
}

impl Redactor {
    /// Masks these secrets (and each one's escaped forms) and secret build-argument values.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut list = std::collections::BTreeSet::new();
        for secret in secrets.into_iter().filter(|s| s.len() >= 4) {
            list.insert(crate::escape::escape(&secret).into_owned());
            list.insert(crate::escape::escape_bytes(secret.as_bytes()));
            list.insert(secret);
        }
        let list: Vec<String> = list.into_iter().collect();
        let replacements = list.iter().map(|s| redact(s)).collect();
        Redactor {
            finder: AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(&list)
                .ok(),
            replacements,
            reveal: false,
        }
    }

    /// Masks nothing (`--show-secrets`).
    pub fn reveal() -> Redactor {
        Redactor {
            reveal: true,
            ..Redactor::default()
        }
    }

    /// Whether this redactor masks nothing.
    pub fn reveals(&self) -> bool {
        self.reveal
    }

    /// The text with known secrets masked and secret build-argument values redacted.
    pub fn apply(&self, text: &str) -> String {
        self.mask(text).into_owned()
    }

    /// [`Redactor::apply`], borrowing the text when there is nothing to mask (the common case).
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.reveal {
            return Cow::Borrowed(text);
        }
        let masked = match &self.finder {
            Some(f) if f.is_match(text) => Cow::Owned(f.replace_all(text, &self.replacements)),
            _ => Cow::Borrowed(text),
        };
        // Only `|N KEY=value` prefixes and `ARG NAME=value` steps carry build arguments.
        if !masked.contains('|') && !masked.contains("ARG ") {
            return masked;
        }
        Cow::Owned(redact_created_by(&masked))
    }

    /// A file's bytes as a viewer may show them: the body of every PEM private key block masked (the scan's
    /// match covers only a key's first line), then every known secret masked (build-argument masking does not
    /// apply to file content). Borrowed when there is nothing to mask.
    pub fn mask_bytes<'a>(&self, data: &'a [u8]) -> Cow<'a, [u8]> {
        if self.reveal {
            return Cow::Borrowed(data);
        }
        let data = match mask_private_key_blocks(data) {
            Some(masked) => Cow::Owned(masked),
            None => Cow::Borrowed(data),
        };
        match &self.finder {
            Some(f) if f.is_match(data.as_ref()) => {
                Cow::Owned(f.replace_all_bytes(&data, &self.replacements))
            }
            _ => data,
        }
    }
}

/// `data` with the lines between each `-----BEGIN ... PRIVATE KEY...-----` and its `-----END` line written as
/// `*` (line breaks kept); `None` when there is no such block.
fn mask_private_key_blocks(data: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut from = 0;
    while let Some(begin) = memchr::memmem::find(&data[from..], b"-----BEGIN ").map(|i| from + i) {
        let header_end = memchr::memchr(b'\n', &data[begin..]).map_or(data.len(), |i| begin + i);
        from = header_end;
        if memchr::memmem::find(&data[begin..header_end], b"PRIVATE KEY").is_none() {
            continue;
        }
        let end = memchr::memmem::find(&data[header_end..], b"-----END ")
            .map_or(data.len(), |i| header_end + i);
        let masked = out.get_or_insert_with(|| data.to_vec());
        for b in &mut masked[header_end..end] {
            if !matches!(*b, b'\n' | b'\r') {
                *b = b'*';
            }
        }
        from = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_a_short_prefix() {
        assert_eq!(
            redact("glpat-AXPX6LYbMJGeCI8m6XEH"),
            format!("glpa{}", "*".repeat(22))
        );
        assert_eq!(redact("hunter2"), "*******");
        assert_eq!(redact("abcdefgh"), "ab******");
        assert!(!redact("sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ").contains("1cQS"));
    }

    #[test]
    fn secret_build_args_in_history_are_masked() {
        let raw = "|1 GITLAB_TOKEN=glpat-AXPX6LYbMJGeCI8m6XEH /bin/sh -c make";
        let out = redact_created_by(raw);
        assert!(out.starts_with("|1 GITLAB_TOKEN=glpa*"), "{out}");
        assert!(out.ends_with("/bin/sh -c make"), "{out}");
        assert!(!out.contains("AXPX6"));
        let pass = redact_created_by("RUN |2 DB_PASSWORD=hunter2 B=two /bin/sh -c x # buildkit");
        assert!(
            pass.contains("|2 DB_PASSWORD=******* B=two /bin/sh"),
            "{pass}"
        );
        let random = redact_created_by("|1 OPAQUE=Zx9Vb7Nm1Qw5Er8Ty2Ui4Op6 /bin/sh -c x");
        assert!(!random.contains("Zx9Vb7"), "{random}");
        assert_eq!(
            redact_created_by("/bin/sh -c echo hi"),
            "/bin/sh -c echo hi"
        );
    }

    #[test]
    fn build_args_are_masked_by_value_not_by_a_name_fragment() {
        let raw = "|4 KEYBOARD_LAYOUT=us AUTHOR_NAME=Jane Doe PASSWORD_MIN_LENGTH=12 \
                   GIT_COMMIT=3f2a9c1e5b7d4f60a8e2c9b1d3f5a7c9e1b3d5f7 /bin/sh -c make";
        assert_eq!(redact_created_by(raw), raw);
        for (name, value) in [
            ("KEYBOARD_LAYOUT", "us"),
            ("AUTHOR_NAME", "Jane Doe"),
            ("PASSWORD_MIN_LENGTH", "12"),
            ("USE_AUTH", "true"),
            (
                "IMAGE_DIGEST",
                "sha256:3f2a9c1e5b7d4f60a8e2c9b1d3f5a7c9e1b3d5f73f2a9c1e5b7d4f60a8e2c9b1",
            ),
        ] {
            assert!(!arg_value_is_secret(name, value), "{name}={value}");
        }
        for (name, value) in [
            ("DB_PASSWORD", "hunter2"),
            ("npmToken", "abc"),
            ("api-key", "x1"),
            ("SSH_PRIVATE_KEY", "-----BEGIN"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "q8Zt3Vx0Lm5Rk9Wp2Yh7Nc4Bd6Fg1Js8Qa0Ue3Ti",
            ),
            ("ANYTHING", "glpat-AXPX6LYbMJGeCI8m6XEH"),
        ] {
            assert!(arg_value_is_secret(name, value), "{name}={value}");
        }
    }

    #[test]
    fn arg_instructions_with_secret_values_are_masked() {
        let out =
            redact_created_by("/bin/sh -c #(nop)  ARG GITLAB_TOKEN=glpat-AXPX6LYbMJGeCI8m6XEH");
        assert!(!out.contains("AXPX6"), "{out}");
        assert_eq!(redact_created_by("ARG VERSION=1.2.3"), "ARG VERSION=1.2.3");
        assert_eq!(
            redact_created_by("ARG KEYBOARD_LAYOUT=us"),
            "ARG KEYBOARD_LAYOUT=us"
        );
    }

    #[test]
    fn redaction_is_idempotent() {
        for s in [
            "ab",
            "hunter2",
            "abcdefgh",
            "glpat-AXPX6LYbMJGeCI8m6XEH",
            &"x".repeat(60),
        ] {
            assert_eq!(redact(&redact(s)), redact(s));
        }
    }

    #[test]
    fn escaped_forms_and_file_bytes_are_masked_and_reveal_masks_nothing() {
        let secret = "Zx9\x1bVb7Nm1Qw5".to_string();
        let r = Redactor::new([secret.clone()]);
        let escaped = crate::escape::escape(&secret).into_owned();
        assert!(
            !r.apply(&escaped).contains("Vb7Nm1"),
            "{}",
            r.apply(&escaped)
        );
        let bytes = format!("line 1\nkey: {secret}\n").into_bytes();
        let masked = r.mask_bytes(&bytes);
        assert!(!String::from_utf8_lossy(&masked).contains("Vb7Nm1"));
        assert!(matches!(r.mask_bytes(b"nothing here"), Cow::Borrowed(_)));
        let shown = Redactor::reveal();
        assert_eq!(
            shown.apply("|1 TOKEN=abc /bin/sh -c x"),
            "|1 TOKEN=abc /bin/sh -c x"
        );
    }

    #[test]
    fn a_viewed_private_key_shows_no_key_material() {
        let key = b"x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nq8Zt3Vx0Lm5Rk9Wp\n-----END RSA PRIVATE KEY-----\ny\n";
        let r = Redactor::new(["-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA".to_string()]);
        let shown = r.mask_bytes(key);
        assert_eq!(
            String::from_utf8_lossy(&shown),
            "x\n-----BEGIN RSA PRIVATE KEY-----\n****************\n****************\n-----END RSA PRIVATE KEY-----\ny\n"
        );
        let cert = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert!(matches!(r.mask_bytes(cert), Cow::Borrowed(_)));
        assert_eq!(Redactor::reveal().mask_bytes(key).as_ref(), key.as_slice());
    }

    #[test]
    fn redactor_masks_known_secrets_anywhere() {
        let r = Redactor::new(["sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ".to_string()]);
        let out = r.apply("RUN printf 'KEY=sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ' > .env");
        assert!(!out.contains("1cQSDw"), "{out}");
        assert!(out.contains("sk_l****"));
    }
}
