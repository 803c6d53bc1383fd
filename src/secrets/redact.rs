//! Redaction for every output: a few leading characters of a secret, the rest masked. Found secrets are masked
//! wherever they appear (instructions, history), and build-argument values in history are masked whatever they
//! hold: a build arg is a secret too.

use aho_corasick::AhoCorasick;

/// `glpat-AXPX6LYbMJGeCI8m6XEH` -> `glpa**********************`: at most 4 characters shown, fewer for short
/// secrets, nothing for very short ones.
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

/// Masks the values of the `|N KEY=value ...` build-argument prefix of a history `created_by`.
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
        // A value ends at the next ` KEY=` or at the shell; values with spaces are masked whole.
        let end = next_arg_start(value_and_rest).unwrap_or(value_and_rest.len());
        args.push(format!(
            "{key}={}",
            redact(value_and_rest[..end].trim_end())
        ));
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

/// `ARG TOKEN=value` (as cleaned) -> `ARG TOKEN=val***` when the name suggests a secret.
fn redact_arg_instruction(text: &str) -> String {
    let marker = "ARG ";
    let Some(pos) = text.find(marker) else {
        return text.to_string();
    };
    let decl = &text[pos + marker.len()..];
    let Some((key, value)) = decl.split_once('=') else {
        return text.to_string();
    };
    let lower = key.to_ascii_lowercase();
    let sensitive = ["token", "secret", "pass", "key", "credential", "auth"]
        .iter()
        .any(|w| lower.contains(w));
    if !sensitive || key.contains(' ') {
        return text.to_string();
    }
    let value = value.trim_end();
    format!("{}{marker}{key}={}", &text[..pos], redact(value))
}

/// Replaces every occurrence of known secrets in a text with their redacted form.
pub struct Redactor {
    finder: Option<AhoCorasick>,
    replacements: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut list: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        list.dedup();
        let replacements = list.iter().map(|s| redact(s)).collect();
        Redactor {
            finder: AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(&list)
                .ok(),
            replacements,
        }
    }

    /// The text with known secrets masked and build arguments redacted.
    pub fn apply(&self, text: &str) -> String {
        let masked = match &self.finder {
            Some(f) => f.replace_all(text, &self.replacements),
            None => text.to_string(),
        };
        redact_created_by(&masked)
    }
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
    fn build_args_in_history_are_masked() {
        let raw = "|1 GITLAB_TOKEN=glpat-AXPX6LYbMJGeCI8m6XEH /bin/sh -c make";
        let out = redact_created_by(raw);
        assert!(out.starts_with("|1 GITLAB_TOKEN=glpa*"), "{out}");
        assert!(out.ends_with("/bin/sh -c make"), "{out}");
        assert!(!out.contains("AXPX6"));
        let two = redact_created_by("RUN |2 A=one B=two words /bin/sh -c x # buildkit");
        assert!(
            two.contains("A=*** B=") && !two.contains("two words"),
            "{two}"
        );
        assert_eq!(
            redact_created_by("/bin/sh -c echo hi"),
            "/bin/sh -c echo hi"
        );
    }

    #[test]
    fn arg_instructions_with_secret_names_are_masked() {
        let out =
            redact_created_by("/bin/sh -c #(nop)  ARG GITLAB_TOKEN=glpat-AXPX6LYbMJGeCI8m6XEH");
        assert!(!out.contains("AXPX6"), "{out}");
        assert_eq!(redact_created_by("ARG VERSION=1.2.3"), "ARG VERSION=1.2.3");
    }

    #[test]
    fn redactor_masks_known_secrets_anywhere() {
        let r = Redactor::new(["sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ".to_string()]);
        let out = r.apply("RUN printf 'KEY=sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ' > .env");
        assert!(!out.contains("1cQSDw"), "{out}");
        assert!(out.contains("sk_l****"));
    }
}
