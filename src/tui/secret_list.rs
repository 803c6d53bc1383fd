//! The secrets as the explorer lists them: most severe first, then high confidence before low, then by layer;
//! low-confidence hits (third-party trees such as `node_modules` and vendored or test directories, weak
//! generic matches) hidden until asked for. The number it calls "the" count is the one the CI gate counts.

use crate::ci::FailOn;
use crate::secrets::{Confidence, SecretFinding};

#[derive(Debug, Clone, Default)]
pub struct SecretList {
    /// Every finding (its index in the analysis), in listing order.
    order: Vec<usize>,
    /// The findings listed now: `order` without the low-confidence ones unless they are shown.
    shown: Vec<usize>,
    /// Findings the CI gate counts (its default policy: every high-confidence finding).
    pub counted: usize,
    /// Low-confidence findings.
    pub low: usize,
    pub show_low: bool,
}

impl SecretList {
    pub fn new(findings: &[SecretFinding]) -> SecretList {
        let mut order: Vec<usize> = (0..findings.len()).collect();
        order.sort_by_key(|&i| {
            let f = &findings[i];
            (
                std::cmp::Reverse(f.severity),
                f.confidence == Confidence::Low,
                f.layer.map_or(u64::MAX, u64::from),
            )
        });
        let mut list = SecretList {
            order,
            counted: findings.iter().filter(|f| FailOn::Any.counts(f)).count(),
            low: findings
                .iter()
                .filter(|f| f.confidence == Confidence::Low)
                .count(),
            ..SecretList::default()
        };
        list.refresh(findings);
        list
    }

    fn refresh(&mut self, findings: &[SecretFinding]) {
        let show_low = self.show_low;
        self.shown = self
            .order
            .iter()
            .copied()
            .filter(|&i| show_low || findings[i].confidence != Confidence::Low)
            .collect();
    }

    /// Shows or hides the low-confidence findings.
    pub fn toggle_low(&mut self, findings: &[SecretFinding]) {
        self.show_low = !self.show_low;
        self.refresh(findings);
    }

    pub fn len(&self) -> usize {
        self.shown.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// The `k`-th finding listed.
    pub fn get<'f>(&self, k: usize, findings: &'f [SecretFinding]) -> Option<&'f SecretFinding> {
        self.shown.get(k).and_then(|&i| findings.get(i))
    }

    /// The findings listed, in order.
    pub fn iter<'f>(
        &'f self,
        findings: &'f [SecretFinding],
    ) -> impl Iterator<Item = &'f SecretFinding> + 'f {
        self.shown.iter().filter_map(|&i| findings.get(i))
    }

    /// `2` or `2 (+102 low confidence)`: the gate's count, and the hidden or shown low-confidence ones.
    pub fn summary(&self) -> String {
        match self.low {
            0 => self.counted.to_string(),
            low => format!("{} (+{low} low confidence)", self.counted),
        }
    }
}
