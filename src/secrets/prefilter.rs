//! The keyword prefilter: finds every occurrence of every rule keyword, ignoring ASCII case, at SIMD speed.
//!
//! Text is lowercased a cache-sized chunk at a time into a scratch buffer, then searched for the (lowercase)
//! keywords with Teddy, the packed multi-substring searcher of the `aho-corasick` crate (which cannot ignore case
//! itself). Teddy fingerprints the first bytes of each keyword, up to four: keywords shorter than four bytes get a
//! group (one Teddy) of their own so the others keep four-byte fingerprints, and a large group uses "fat" Teddy
//! (16 buckets) so frequent words do not share buckets, or slim Teddy (8 buckets, twice the bytes per step) on
//! text where that is measured faster (see `Tuning`); which keywords share a bucket is chosen from the byte
//! frequencies of text, so that buckets rarely fire on it (see `order_for_buckets`). A few passes over a chunk
//! that sits in the L1 cache cost several times less than one pass of a byte-at-a-time automaton. A group Teddy cannot serve (no SIMD on this
//! CPU, more keywords than it takes) falls back to an Aho-Corasick DFA over the same lowercased chunk, so results
//! never depend on the CPU.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// One searcher of a group's keywords.
struct Searcher {
    engine: Engine,
    /// Pattern number -> keyword index.
    keywords: Vec<usize>,
}

struct Group {
    fat: Searcher,
    /// The same keywords in slim Teddy (8 buckets, twice the bytes per step): for a large group, faster than
    /// fat Teddy on text where few positions look like a keyword's first bytes, slower on text where many do.
    slim: Option<Searcher>,
}

pub struct Prefilter {
    groups: Vec<Group>,
    /// Longest keyword: chunks overlap by one less, so no occurrence is cut in two.
    longest: usize,
    tuning: Tuning,
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
            tuning: Tuning::default(),
        })
    }

    /// Every keyword occurrence in `data`, by start position. Occurrences of different keywords may overlap
    /// (`client_secret` and `secret`); within a group the longest one starting at a position is reported.
    pub fn find_all(&self, data: &[u8], hits: &mut Vec<KeywordHit>) {
        let slim = self.groups.iter().any(|g| g.slim.is_some());
        if !slim {
            return self.find_all_with(data, hits, false);
        }
        let (use_slim, timed) = self.tuning.pick(data.len());
        let started = timed.then(std::time::Instant::now);
        self.find_all_with(data, hits, use_slim);
        if let Some(started) = started {
            self.tuning.record(use_slim, started.elapsed(), data.len());
        }
    }

    /// [`Prefilter::find_all`] with the slim searchers of the large groups, or their fat ones.
    fn find_all_with(&self, data: &[u8], hits: &mut Vec<KeywordHit>, use_slim: bool) {
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
                    let searcher = match &group.slim {
                        Some(slim) if use_slim => slim,
                        _ => &group.fat,
                    };
                    searcher.find(&scratch, end - start, |s, e, keyword| {
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

/// Files at least this long are timed to learn which of fat and slim Teddy serves the text at hand faster.
const TIMED_FROM: usize = 16 * 1024;
/// One timed file in this many runs the setup that is not the faster one so far, so the other's cost stays known.
const EXPLORE_EVERY: u64 = 32;

/// Which setup of a prefilter's large groups, fat or slim Teddy, runs faster on the text being scanned, learnt
/// while it is scanned. Both report the same hits (one keyword set, leftmost-longest either way); only the speed
/// differs, and by the text: slim Teddy looks at twice the bytes per step but sorts 48 keywords into 8 buckets,
/// so on text full of keyword-like letter sequences its buckets fire (and cost a verification) several times as
/// often (docs/PERFORMANCE.md has both on both kinds of text). Shared by the threads scanning with the prefilter;
/// a race between them costs at most one sample.
#[derive(Default)]
struct Tuning {
    /// Picoseconds per byte of each setup (fat, slim), a moving average over timed files; 0 until measured.
    cost: [AtomicU64; 2],
    timed: AtomicU64,
}

impl Tuning {
    /// The setup for a file of `len` bytes (slim or not), and whether to time it.
    fn pick(&self, len: usize) -> (bool, bool) {
        let [fat, slim] = [0, 1].map(|i| self.cost[i].load(Ordering::Relaxed));
        let faster = if fat == 0 || slim == 0 {
            fat != 0 // measure each once, fat first
        } else {
            slim < fat
        };
        if len < TIMED_FROM {
            return (faster, false);
        }
        let n = self.timed.fetch_add(1, Ordering::Relaxed);
        (faster ^ (n % EXPLORE_EVERY == EXPLORE_EVERY - 1), true)
    }

    /// Adds a timed file's cost to its setup's average. One sample counts an eighth, and at most twice the
    /// average so far: a thread descheduled while timed does not mislead the choice for long.
    fn record(&self, slim: bool, took: std::time::Duration, len: usize) {
        let sample = (took.as_nanos().saturating_mul(1000) / len.max(1) as u128).max(1);
        let sample = u64::try_from(sample).unwrap_or(u64::MAX);
        let cost = &self.cost[usize::from(slim)];
        let old = cost.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old.saturating_mul(7) + sample.min(old.saturating_mul(2))) / 8
        };
        cost.store(new.max(1), Ordering::Relaxed);
    }
}

/// The nibbles present in a set of them.
fn nibbles(set: u16) -> impl Iterator<Item = usize> {
    (0..16).filter(move |n| set & (1 << n) != 0)
}

/// How often each byte occurs in lowercased text, per 65,536 bytes (measured on 64 MB of Python, Perl, C headers
/// and documentation; never 0, so no byte is taken for impossible). Only the bucket order below uses it.
#[rustfmt::skip]
const TEXT_BYTES: [u16; 256] = [
    1, 1, 1, 1, 1, 1, 1, 1, 1, 160, 1878, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    13179, 34, 624, 278, 182, 29, 25, 585, 427, 428, 99, 41, 680, 483, 754, 436,
    606, 387, 369, 214, 194, 185, 196, 171, 186, 185, 433, 164, 440, 450, 539, 21,
    45, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 113, 111, 113, 10, 646,
    117, 2822, 699, 1640, 1525, 4642, 1136, 731, 1143, 2743, 115, 291, 2034, 1078, 2542, 2541,
    1271, 73, 2670, 2828, 3481, 1123, 370, 407, 351, 546, 66, 100, 41, 100, 22, 1,
    4, 2, 1, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 2,
    1, 1, 1, 1, 4, 1, 3, 1, 1, 2, 1, 1, 1, 1, 1, 6,
    33, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 5, 2, 1, 1, 1, 1, 1, 1,
    1, 1, 35, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1,
    8, 3, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1,
    5, 1, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
];

/// Orders a group's keywords so that Teddy's buckets fire rarely on text. Teddy puts the keyword at position `i`
/// into bucket `i % buckets` (up to renaming) and flags a position for a bucket when each of its first `mask`
/// bytes has a low nibble and a high nibble that some keyword of the bucket has at that offset; every flag costs a
/// verification. Sorted by name, unrelated prefixes share buckets; swapping keywords between buckets while the
/// expected flag rate on text falls cuts the verifications several times on real text (docs/PERFORMANCE.md).
/// Only speed depends on the order: every keyword is found whatever bucket it is in.
fn order_for_buckets(keywords: &mut [(Vec<u8>, usize)], buckets: usize) {
    let mask = keywords
        .iter()
        .map(|(k, _)| k.len())
        .min()
        .unwrap_or(0)
        .min(4);
    if keywords.len() <= buckets || mask == 0 {
        return; // a bucket per keyword
    }
    let mut rates: Vec<f64> = (0..buckets)
        .map(|b| flag_rate(keywords, b, buckets, mask))
        .collect();
    // A few sweeps of improving swaps settle it; each swap changes two buckets only.
    for _ in 0..4 {
        let mut improved = false;
        for p in 0..keywords.len() {
            for q in p + 1..keywords.len() {
                let (bp, bq) = (p % buckets, q % buckets);
                if bp == bq {
                    continue;
                }
                keywords.swap(p, q);
                let (rp, rq) = (
                    flag_rate(keywords, bp, buckets, mask),
                    flag_rate(keywords, bq, buckets, mask),
                );
                if rp + rq < (rates[bp] + rates[bq]) * (1.0 - 1e-9) {
                    (rates[bp], rates[bq]) = (rp, rq);
                    improved = true;
                } else {
                    keywords.swap(p, q);
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// The expected share of text positions Teddy flags for `bucket` (the keywords at positions `bucket`,
/// `bucket + buckets`, ...), from the byte frequencies of text, taking the `mask` offsets as independent.
fn flag_rate(keywords: &[(Vec<u8>, usize)], bucket: usize, buckets: usize, mask: usize) -> f64 {
    let mut rate = 1.0;
    for j in 0..mask {
        let (mut lo, mut hi) = (0u16, 0u16);
        for (k, _) in keywords.iter().skip(bucket).step_by(buckets) {
            lo |= 1 << (k[j] & 15);
            hi |= 1 << (k[j] >> 4);
        }
        let share: u32 = nibbles(hi)
            .flat_map(|h| nibbles(lo).map(move |l| u32::from(TEXT_BYTES[h << 4 | l])))
            .sum();
        rate *= f64::from(share) / 65536.0;
    }
    rate
}

impl Group {
    /// A group of keywords (lowercase, with their indices): fat Teddy when large, and then slim Teddy beside it.
    fn new(keywords: &[(Vec<u8>, usize)]) -> Result<Group, String> {
        let large = keywords.len() > FAT_ABOVE;
        let mut order = keywords.to_vec();
        order_for_buckets(&mut order, if large { 16 } else { 8 });
        let fat = Searcher::new(&order, large)?;
        let slim = if large {
            let mut order = keywords.to_vec();
            order_for_buckets(&mut order, 8);
            Searcher::slim(&order)
        } else {
            None
        };
        Ok(Group { fat, slim })
    }
}

impl Searcher {
    /// Slim Teddy over `keywords` in this order, if the CPU has it.
    fn slim(keywords: &[(Vec<u8>, usize)]) -> Option<Searcher> {
        let searcher = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostLongest)
            .only_teddy_fat(Some(false))
            .builder()
            .extend(keywords.iter().map(|(k, _)| k))
            .build()?;
        Some(Searcher {
            engine: Engine::Teddy(searcher),
            keywords: keywords.iter().map(|(_, i)| *i).collect(),
        })
    }

    /// Teddy over `keywords` in this order (fat if asked for and the CPU has it), else an Aho-Corasick DFA.
    fn new(keywords: &[(Vec<u8>, usize)], fat: bool) -> Result<Searcher, String> {
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
        let teddy = fat
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
        Ok(Searcher {
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

    /// Sorted by name, the built-in rules' 48 keywords of four bytes or more share Teddy's buckets with unrelated
    /// prefixes, and text sets off a verification about once in 280 bytes; ordered for the buckets, about once in
    /// 3,600 (the rates on text are in docs/PERFORMANCE.md). The keywords stay the same, only their order changes.
    #[test]
    fn bucket_order_makes_teddy_flag_text_far_less_often() {
        let builtin = "private key|akia|asia|abia|acca|secret|service_account|aiza|accountkey|sig=|ghp_|gho_|ghu_\
            |ghs_|ghr_|github_pat_|glpat-|glrt-|gldt-|glptt-|xapp-|hooks.slack.com|k_live_|k_test_|npm_|_auth\
            |pypi-ageichlwas5vcmc|\"auth\"|t3blbkfj|sk-proj-|sk-svcacct-|sk-ant-|twilio|hvs.|hvb.|atlasv1|dop_v1_\
            |client-key-data|machine|passw|token|api_key|apikey|api-key|access_key|private_key|auth_key|credential";
        let mut group: Vec<(Vec<u8>, usize)> = builtin
            .split('|')
            .enumerate()
            .map(|(i, k)| (k.as_bytes().to_vec(), i))
            .collect();
        group.sort();
        let sorted = group.clone();
        let rate = |g: &[(Vec<u8>, usize)]| (0..16).map(|b| flag_rate(g, b, 16, 4)).sum::<f64>();
        order_for_buckets(&mut group, 16);
        assert!(
            rate(&group) * 8.0 < rate(&sorted),
            "{} against {} sorted",
            rate(&group),
            rate(&sorted)
        );
        group.sort();
        assert_eq!(group, sorted);
    }

    /// Fat and slim Teddy report the same hits: which one runs is a matter of speed only.
    #[test]
    fn slim_and_fat_teddy_report_the_same_hits() {
        let list: Vec<String> = (0..40)
            .map(|i| format!("key{i:02}x"))
            .chain(keywords(&[
                "secret",
                "client_secret",
                "passw",
                "token",
                "ab",
                "://",
            ]))
            .collect();
        let p = Prefilter::new(&list).unwrap();
        if p.groups.iter().all(|g| g.slim.is_none()) {
            return; // no SIMD Teddy on this CPU: one searcher per group, nothing to compare
        }
        let mut data = Vec::new();
        for i in 0..3000u32 {
            let line = format!(
                "Key{:02}X = {i} CLIENT_SECRET ab passwd://token{i}\n",
                i % 45
            );
            data.extend_from_slice(line.as_bytes());
        }
        let (mut fat, mut slim) = (Vec::new(), Vec::new());
        p.find_all_with(&data, &mut fat, false);
        p.find_all_with(&data, &mut slim, true);
        assert!(fat.len() > 3000 * 5, "{}", fat.len());
        assert_eq!(fat, slim);
    }

    /// The tuning runs the setup measured cheaper, measures each once first, and keeps trying the other one
    /// file in `EXPLORE_EVERY`, so a change of text can change the choice.
    #[test]
    fn tuning_prefers_the_cheaper_setup_and_keeps_measuring_the_other() {
        let t = Tuning::default();
        let ms = std::time::Duration::from_millis;
        assert_eq!(t.pick(TIMED_FROM), (false, true)); // fat first
        t.record(false, ms(4), 1 << 20);
        assert_eq!(t.pick(TIMED_FROM), (true, true)); // then slim
        t.record(true, ms(2), 1 << 20);
        let picks: Vec<bool> = (0..EXPLORE_EVERY * 2)
            .map(|_| t.pick(TIMED_FROM).0)
            .collect();
        assert_eq!(picks.iter().filter(|&&slim| !slim).count(), 2);
        assert_eq!(t.pick(100), (true, false)); // short texts are not timed
        // Slim turns slower: a few samples later fat is chosen again.
        for _ in 0..8 {
            t.record(true, ms(20), 1 << 20);
        }
        assert_eq!(t.pick(100), (false, false));
    }

    #[test]
    fn empty_input_and_empty_keywords() {
        let p = Prefilter::new(&keywords(&["token"])).unwrap();
        assert!(found(&p, b"").is_empty());
        assert!(Prefilter::new(&keywords(&["ok", ""])).is_err());
    }
}
