//! The keyword prefilter: finds every occurrence of every rule keyword, ignoring ASCII case, at SIMD speed.
//!
//! Text is lowercased a cache-sized chunk at a time into a scratch buffer, then searched for the (lowercase)
//! keywords with Teddy, the packed multi-substring searcher of the `aho-corasick` crate (which cannot ignore case
//! itself). Teddy fingerprints the first bytes of each keyword, up to four: keywords shorter than four bytes get a
//! group (one Teddy) of their own so the others keep four-byte fingerprints, and a large group uses "fat" Teddy
//! (16 buckets) so frequent words do not share buckets. A few passes over a chunk that sits in the L1 cache cost
//! several times less than one pass of a byte-at-a-time automaton. A group Teddy cannot serve (no SIMD on this
//! CPU, more keywords than it takes) falls back to an Aho-Corasick DFA over the same lowercased chunk, so results
//! never depend on the CPU.

use std::cell::RefCell;

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// Bytes lowercased and searched at a time: small enough to stay in the L1 cache across the group passes.
const CHUNK: usize = 8 * 1024;
/// Keywords per Teddy (its limit).
const GROUP: usize = 64;
/// Above this many keywords a group uses fat Teddy (twice the buckets, half the bytes per step): measured faster
/// for the built-in rules' 48 long keywords than two slim groups (docs/PERFORMANCE.md).
const FAT_ABOVE: usize = 16;

/// One occurrence of a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeywordHit {
    pub start: usize,
    pub end: usize,
    /// Index into the keyword list the prefilter was built from.
    pub keyword: usize,
}

enum Engine {
    Teddy(packed::Searcher),
    Automaton(AhoCorasick),
}

struct Group {
    engine: Engine,
    /// Pattern number in this group -> keyword index.
    keywords: Vec<usize>,
}

pub struct Prefilter {
    groups: Vec<Group>,
    /// Longest keyword: chunks overlap by one less, so no occurrence is cut in two.
    longest: usize,
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Prefilter {
    /// Builds the prefilter for keywords (matched ignoring ASCII case; empty keywords are refused).
    pub fn new(keywords: &[String]) -> Result<Prefilter, String> {
        let mut order: Vec<(Vec<u8>, usize)> = keywords
            .iter()
            .enumerate()
            .map(|(i, k)| (k.to_ascii_lowercase().into_bytes(), i))
            .collect();
        if let Some((_, i)) = order.iter().find(|(k, _)| k.is_empty()) {
            return Err(format!("keyword {i} is empty"));
        }
        // Short keywords make Teddy fingerprint fewer bytes: they get groups of their own. Sorting by name puts
        // keywords with a common prefix in one group (Teddy buckets them together).
        order.sort_by(|a, b| (a.0.len().min(4), &a.0).cmp(&(b.0.len().min(4), &b.0)));
        let mut groups = Vec::new();
        let mut rest = &order[..];
        while let Some((first, _)) = rest.first() {
            let class = first.len().min(4);
            let same = rest
                .iter()
                .take(GROUP)
                .take_while(|(k, _)| k.len().min(4) == class)
                .count();
            let (group, tail) = rest.split_at(same);
            groups.push(Group::new(group)?);
            rest = tail;
        }
        Ok(Prefilter {
            groups,
            longest: order.iter().map(|(k, _)| k.len()).max().unwrap_or(1),
        })
    }

    /// Every keyword occurrence in `data`, by start position. Occurrences of different keywords may overlap
    /// (`client_secret` and `secret`); within a group the longest one starting at a position is reported.
    pub fn find_all(&self, data: &[u8], hits: &mut Vec<KeywordHit>) {
        hits.clear();
        if self.groups.is_empty() {
            return;
        }
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let mut start = 0;
            while start < data.len() {
                let end = (start + CHUNK).min(data.len());
                let reach = (end + self.longest - 1).min(data.len());
                scratch.clear();
                scratch.extend(data[start..reach].iter().map(u8::to_ascii_lowercase));
                for group in &self.groups {
                    group.find(&scratch, end - start, |s, e, keyword| {
                        hits.push(KeywordHit {
                            start: start + s,
                            end: start + e,
                            keyword,
                        })
                    });
                }
                start = end;
            }
        });
        if self.groups.len() > 1 {
            hits.sort_unstable();
        }
    }
}

impl Group {
    fn new(keywords: &[(Vec<u8>, usize)]) -> Result<Group, String> {
        let patterns = keywords.iter().map(|(k, _)| k);
        let teddy = |fat: Option<bool>| {
            packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostLongest)
                .only_teddy_fat(fat)
                .builder()
                .extend(patterns.clone())
                .build()
        };
        // Fat Teddy needs AVX2; without it, whatever Teddy the CPU allows.
        let teddy = (keywords.len() > FAT_ABOVE)
            .then(|| teddy(Some(true)))
            .flatten()
            .or_else(|| teddy(None));
        let engine = match teddy {
            Some(searcher) => Engine::Teddy(searcher),
            None => Engine::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(patterns)
                    .map_err(|e| format!("keywords: {e}"))?,
            ),
        };
        Ok(Group {
            engine,
            keywords: keywords.iter().map(|(_, i)| *i).collect(),
        })
    }

    /// Reports matches in `haystack` that start before `limit` (later ones belong to the next chunk).
    fn find(&self, haystack: &[u8], limit: usize, mut report: impl FnMut(usize, usize, usize)) {
        match &self.engine {
            Engine::Teddy(s) => {
                for m in s.find_iter(haystack) {
                    if m.start() >= limit {
                        break;
                    }
                    report(m.start(), m.end(), self.keywords[m.pattern().as_usize()]);
                }
            }
            Engine::Automaton(ac) => {
                for m in ac.find_iter(haystack) {
                    if m.start() >= limit {
                        break;
                    }
                    report(m.start(), m.end(), self.keywords[m.pattern().as_usize()]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// The same occurrences as a straightforward case-insensitive search for each keyword on its own.
    fn naive(words: &[String], data: &[u8]) -> Vec<(usize, usize)> {
        let lower = data.to_ascii_lowercase();
        let mut out = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let w = w.to_ascii_lowercase();
            for p in memchr::memmem::find_iter(&lower, w.as_bytes()) {
                out.push((p, i));
            }
        }
        out.sort();
        out
    }

    fn found(p: &Prefilter, data: &[u8]) -> Vec<(usize, usize)> {
        let mut hits = Vec::new();
        p.find_all(data, &mut hits);
        hits.iter().map(|h| (h.start, h.keyword)).collect()
    }

    #[test]
    fn finds_keywords_ignoring_case_across_chunk_boundaries() {
        let words = keywords(&["password", "ghp_", "://", "AKIA", "x"]);
        let p = Prefilter::new(&words).unwrap();
        let mut data = vec![b'.'; 3 * CHUNK];
        for at in [0, CHUNK - 3, CHUNK - 1, 2 * CHUNK - 8, 3 * CHUNK - 8] {
            data[at..at + 8].copy_from_slice(b"PassWord");
        }
        data[CHUNK - 2..CHUNK + 2].copy_from_slice(b"GHP_");
        data[100..103].copy_from_slice(b"://");
        data[200..204].copy_from_slice(b"akia");
        data[300] = b'X';
        assert_eq!(found(&p, &data), naive(&words, &data));
    }

    #[test]
    fn many_keywords_of_every_length_agree_with_a_plain_search() {
        // More keywords than one group holds, some sharing prefixes, some one or two bytes long.
        let mut list: Vec<String> = (0..70).map(|i| format!("kw{i:02}_{}", i % 7)).collect();
        list.extend(keywords(&["a!", "zq", "k", "secret", "client_secret"]));
        let p = Prefilter::new(&list).unwrap();
        assert!(p.groups.len() > 3);
        let mut data = Vec::new();
        for i in 0..5000u32 {
            data.extend_from_slice(format!("line {i} KW{:02}_{} zq ", i % 80, i % 7).as_bytes());
            if i % 13 == 0 {
                data.extend_from_slice(b"CLIENT_SECRET=1 a!\n");
            }
        }
        let got = found(&p, &data);
        // Leftmost-longest within a group may hide a keyword inside a longer one of the same group; every
        // occurrence found is real, and every real one not inside another found occurrence is found.
        let want = naive(&list, &data);
        for hit in &got {
            assert!(want.contains(hit), "{hit:?} is not an occurrence");
        }
        let mut hits = Vec::new();
        p.find_all(&data, &mut hits);
        for &(pos, kw) in &want {
            let covered = hits
                .iter()
                .any(|h| h.start <= pos && pos + list[kw].len() <= h.end);
            assert!(covered, "missed {} at {pos}", list[kw]);
        }
    }

    #[test]
    fn empty_input_and_empty_keywords() {
        let p = Prefilter::new(&keywords(&["token"])).unwrap();
        assert!(found(&p, b"").is_empty());
        assert!(Prefilter::new(&keywords(&["ok", ""])).is_err());
    }
}
