//! The secret scanner: a content inspector run inside the one pass over each layer. Keywords are found by the
//! prefilter (SIMD, case-insensitive); a rule's regex runs only on the line of a hit of one of its keywords (and, for rules that
//! span two lines like PEM keys, the next line). Binary files are
//! skipped (but still matched by name), and at most `max_bytes` of each file are read.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;

use crate::layer::{ContentHit, ContentInspector};

use super::prefilter::KeywordHit;
use super::rules::{Ruleset, Window};

/// How much of a file's start decides whether it is binary.
const BINARY_PROBE: usize = 8 * 1024;
/// A window never reaches further than this from its keyword.
const WINDOW: usize = 2048;

pub struct SecretScanner {
    rules: Ruleset,
    max_bytes: u64,
}

impl SecretScanner {
    pub fn new(rules: Ruleset, max_bytes: u64) -> SecretScanner {
        SecretScanner { rules, max_bytes }
    }

    pub fn rules(&self) -> &Ruleset {
        &self.rules
    }

    /// Content-rule hits in a piece of text (file bytes, a config value, a history line).
    pub fn scan_text(&self, data: &[u8]) -> Vec<ContentHit> {
        // Each hit with where its text lies in `data`.
        let mut hits: Vec<(ContentHit, Range<usize>)> = Vec::new();
        KEYWORD_HITS.with(|keyword_hits| {
            let mut keyword_hits = keyword_hits.borrow_mut();
            self.rules.prefilter.find_all(data, &mut keyword_hits);
            self.check_rules(data, &keyword_hits, &mut hits);
        });
        keep_most_specific(hits)
    }

    /// Runs the rules of each keyword hit on the text around it; collects what they find with where it lies.
    fn check_rules(
        &self,
        data: &[u8],
        keyword_hits: &[KeywordHit],
        hits: &mut Vec<(ContentHit, Range<usize>)>,
    ) {
        if keyword_hits.is_empty() {
            return;
        }
        let mut scanned_until = vec![0usize; self.rules.content.len()];
        let mut line_cursor = (0usize, 1u32);
        for m in keyword_hits {
            // Only line windows need the line start; a word never holds a newline, so a word window finds its
            // start without it (one backward search less per hit).
            let mut line = None;
            let end = line_end(data, m.end);
            for &rule_index in &self.rules.keyword_rules[m.keyword] {
                let rule = &self.rules.content[rule_index];
                let start = match rule.window {
                    Window::Line => *line.get_or_insert_with(|| line_start(data, m.start)),
                    Window::Word => word_start(data, m.start, m.start.saturating_sub(WINDOW)),
                };
                if scanned_until[rule_index] > start {
                    continue; // an earlier hit's window already reached past this one
                }
                let end = if rule.next_line {
                    next_line_end(data, end)
                } else {
                    end
                };
                scanned_until[rule_index] = end;
                let window = &data[start..end];
                // Most keyword lines hold no secret: a plain match test (no capture slots to allocate and fill)
                // settles them at about half the cost.
                if !rule.regex.is_match(window) {
                    continue;
                }
                for caps in rule.regex.captures_iter(window) {
                    let Some(found) = caps.get(1).or_else(|| caps.get(0)) else {
                        continue;
                    };
                    let text = String::from_utf8_lossy(found.as_bytes()).into_owned();
                    let mixed = text.bytes().any(|b| b.is_ascii_digit())
                        && text.bytes().any(|b| b.is_ascii_alphabetic());
                    if is_placeholder(&text)
                        || rule.entropy.is_some_and(|min| entropy(&text) < min)
                        || (rule.mixed && !mixed)
                    {
                        continue;
                    }
                    let at = start + found.start()..start + found.end();
                    let line = line_number(data, at.start, &mut line_cursor);
                    hits.push((
                        ContentHit {
                            rule: rule_index as u32,
                            line,
                            text,
                        },
                        at,
                    ));
                }
            }
        }
    }
}

thread_local! {
    /// The keyword hits of the text being scanned: reused, so a file's scan allocates nothing for them.
    static KEYWORD_HITS: RefCell<Vec<KeywordHit>> = const { RefCell::new(Vec::new()) };
}

/// One finding per secret: rules are listed specific-first, so of the hits whose texts overlap in the data (two
/// rules matching one secret), or that repeat a text on the same line, the lowest rule number is kept. Hits are
/// compared only with the kept hits of their own line, through an ordered map of their (disjoint) ranges, so
/// the cost grows with the number of hits, not its square.
fn keep_most_specific(mut hits: Vec<(ContentHit, Range<usize>)>) -> Vec<ContentHit> {
    hits.sort_by_key(|(h, at)| (h.line, h.rule, at.start));
    let mut kept: Vec<ContentHit> = Vec::with_capacity(hits.len());
    let mut line = None;
    let mut ranges: BTreeMap<usize, usize> = BTreeMap::new();
    let mut texts: HashSet<String> = HashSet::new();
    for (hit, at) in hits {
        if line != Some(hit.line) {
            line = Some(hit.line);
            ranges.clear();
            texts.clear();
        }
        // Kept ranges never overlap one another, so only the last one starting before this end can overlap it.
        let overlaps = ranges
            .range(..at.end.max(at.start + 1))
            .next_back()
            .is_some_and(|(_, &end)| end > at.start);
        if overlaps || texts.contains(&hit.text) {
            continue;
        }
        ranges.insert(at.start, at.end);
        texts.insert(hit.text.clone());
        kept.push(hit);
    }
    kept
}

fn line_start(data: &[u8], pos: usize) -> usize {
    let floor = pos.saturating_sub(WINDOW);
    memchr::memrchr(b'\n', &data[floor..pos]).map_or(floor, |i| floor + i + 1)
}

/// The start of the word holding `pos` (letters, digits, `_ . + -`), not before `floor`.
fn word_start(data: &[u8], pos: usize, floor: usize) -> usize {
    let is_word = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-');
    data[floor..pos]
        .iter()
        .rposition(|b| !is_word(b))
        .map_or(floor, |i| floor + i + 1)
}

fn line_end(data: &[u8], pos: usize) -> usize {
    let ceil = (pos + WINDOW).min(data.len());
    memchr::memchr(b'\n', &data[pos..ceil]).map_or(ceil, |i| pos + i)
}

/// The end of the line after the line ending at `end`.
fn next_line_end(data: &[u8], end: usize) -> usize {
    if end >= data.len() {
        return end;
    }
    line_end(data, end + 1)
}

/// 1-based line of `pos`; the cursor makes nearby positions cheap (hits come in keyword order, and a rule's
/// window may start a little before the previous hit: count back from the cursor rather than from the start).
fn line_number(data: &[u8], pos: usize, cursor: &mut (usize, u32)) -> u32 {
    if pos < cursor.0 {
        let newlines = memchr::memchr_iter(b'\n', &data[pos..cursor.0]).count() as u32;
        *cursor = (pos, cursor.1 - newlines);
        return cursor.1;
    }
    let newlines = memchr::memchr_iter(b'\n', &data[cursor.0..pos]).count() as u32;
    *cursor = (pos, cursor.1 + newlines);
    cursor.1
}

/// Shannon entropy in bits per character.
pub fn entropy(text: &str) -> f64 {
    let mut counts = [0u32; 256];
    let bytes = text.as_bytes();
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Values that stand for a secret rather than being one.
fn is_placeholder(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    const MARKERS: [&str; 16] = [
        "${",
        "$(",
        "{{",
        "<",
        "%s",
        "changeme",
        "change_me",
        "example",
        "placeholder",
        "your_",
        "your-",
        "xxxx",
        "****",
        "dummy",
        "redacted",
        "replace_me",
    ];
    const WORDS: [&str; 20] = [
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "token",
        "user",
        "username",
        "changeit",
        "admin",
        "root",
        "test",
        "foo",
        "bar",
        "xxx",
        "mypassword",
        "yourpassword",
        "pass123",
        "password123",
        "s3cr3t",
    ];
    MARKERS.iter().any(|m| lower.contains(m))
        || WORDS.contains(&lower.as_str())
        || lower.bytes().all(|b| b == lower.as_bytes()[0])
}

fn is_binary(data: &[u8]) -> bool {
    memchr::memchr(0, &data[..data.len().min(BINARY_PROBE)]).is_some()
}

impl ContentInspector for SecretScanner {
    fn wants(&self, _path: &[u8], size: u64) -> Option<u64> {
        (size > 0).then_some(self.max_bytes)
    }

    fn probe_len(&self) -> u64 {
        BINARY_PROBE as u64
    }

    fn wants_rest(&self, head: &[u8]) -> bool {
        !is_binary(head)
    }

    fn inspect(&self, path: &[u8], data: &[u8], hits: &mut Vec<ContentHit>) {
        let before = hits.len();
        if !is_binary(data) {
            hits.extend(self.scan_text(data));
        }
        if hits.len() > before {
            return; // the content rules already name this file's secrets
        }
        let candidate =
            globset::Candidate::new(std::path::Path::new(std::ffi::OsStr::from_bytes(path)));
        if !self.rules.file_globs.is_match_candidate(&candidate) {
            return; // the common case: one set lookup for every rule
        }
        let mut rules: Vec<usize> = self
            .rules
            .file_globs
            .matches_candidate(&candidate)
            .into_iter()
            .map(|glob| self.rules.file_glob_rules[glob])
            .collect();
        rules.sort_unstable();
        rules.dedup();
        // The first rule (in rule order) whose globs match and whose content marker, if any, is present.
        for i in rules {
            let rule = &self.rules.files[i];
            if let Some(needle) = &rule.content
                && memchr::memmem::find(data, needle).is_none()
            {
                continue;
            }
            let credential = rule.format.as_ref().is_some_and(|f| f.is_match(data));
            hits.push(ContentHit {
                rule: self.rules.file_rule_number(i, !credential),
                line: 0,
                text: format!("/{}", String::from_utf8_lossy(path)),
            });
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner() -> SecretScanner {
        SecretScanner::new(Ruleset::builtin().unwrap(), 1 << 20)
    }

    fn ids(s: &SecretScanner, data: &str) -> Vec<(String, u32)> {
        s.scan_text(data.as_bytes())
            .iter()
            .map(|h| (s.rules().info(h.rule).unwrap().id.to_string(), h.line))
            .collect()
    }

    #[test]
    fn lines_are_counted_and_the_specific_rule_wins() {
        let s = scanner();
        let text = "a=1\nb=2\nSTRIPE_SECRET_KEY=sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ\n";
        assert_eq!(ids(&s, text), vec![("stripe-secret-key".to_string(), 3)]);
    }

    #[test]
    fn database_urls_are_not_reported_twice() {
        let s = scanner();
        let found = ids(
            &s,
            "DATABASE_URL=postgres://app:S3cr3tPassw0rd@db.internal:5432/app",
        );
        assert_eq!(found, vec![("database-url".to_string(), 1)]);
    }

    #[test]
    fn binary_files_are_matched_by_name_only() {
        let s = scanner();
        let mut hits = Vec::new();
        s.inspect(
            b"app/server.p12",
            b"\x30\x82\x00\x00ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8",
            &mut hits,
        );
        assert_eq!(hits.len(), 1);
        assert_eq!(s.rules().info(hits[0].rule).unwrap().id, "keystore-file");
    }

    #[test]
    fn content_findings_take_precedence_over_the_file_rule() {
        let s = scanner();
        let mut hits = Vec::new();
        s.inspect(
            b"home/ci/.ssh/id_rsa",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n",
            &mut hits,
        );
        assert_eq!(hits.len(), 1);
        assert_eq!(
            s.rules().info(hits[0].rule).unwrap().id,
            "private-key-openssh"
        );
        hits.clear();
        s.inspect(b"home/ci/.ssh/id_rsa", b"not really a key", &mut hits);
        assert_eq!(
            s.rules().info(hits[0].rule).unwrap().id,
            "ssh-private-key-file"
        );
    }

    /// Every kept hit used to be compared with every other kept hit: one key on each of the 127,000 lines of a
    /// 4 MiB file costs 16 times a 1 MiB file's quadratic work, minutes in a debug build. Each hit now meets only
    /// its own line's: a few seconds at most, even on busy shared cores. The bound is absolute and generous, not a ratio: ratios of timings
    /// are noise when the test threads share two cores.
    #[test]
    fn one_key_on_every_line_scans_in_linear_time() {
        let s = scanner();
        let line = "sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ\n";
        let lines = (4 << 20) / line.len();
        let text = line.repeat(lines);
        let start = std::time::Instant::now();
        let hits = s.scan_text(text.as_bytes());
        let took = start.elapsed();
        assert_eq!(hits.len(), lines);
        assert!(hits.iter().enumerate().all(|(i, h)| h.line == i as u32 + 1));
        assert!(
            took < std::time::Duration::from_secs(30),
            "{lines} lines took {took:?}"
        );
    }

    #[test]
    fn the_same_secret_twice_on_a_line_is_one_finding_but_two_lines_are_two() {
        let s = scanner();
        let key = "sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ";
        let found = ids(&s, &format!("a={key} b={key}\nc={key}\n"));
        assert_eq!(
            found,
            vec![
                ("stripe-secret-key".to_string(), 1),
                ("stripe-secret-key".to_string(), 2)
            ]
        );
    }

    #[test]
    fn entropy_separates_words_from_keys() {
        assert!(entropy("aaaaaaaa") < 0.1);
        assert!(entropy("q9Wf3Lk8Zp2Rt6Yx") > 3.5);
    }
}
