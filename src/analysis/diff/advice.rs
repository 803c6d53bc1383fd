//! The advice delta of a diff: findings that appeared (in B only), were resolved (in A only) or whose reclaimable
//! bytes changed. Findings match by rule and a layer-independent key: keys naming a layer pair
//! (`same-run-delete:4>5`, `chown-rewrite:1>2`) are matched by the instructions of those layers instead of their
//! positions, so a layer added below does not turn every finding above it into a resolved one and a new one.

use std::collections::HashMap;

use serde::Serialize;

use super::{Masks, delta};
use crate::analysis::advice::{Advice, Rule, Severity};

#[derive(Debug, Clone, Default, Serialize)]
pub struct AdviceChanges {
    /// In B, not in A.
    pub appeared: Vec<Advice>,
    /// In A, not in B.
    pub resolved: Vec<Advice>,
    /// In both, with other reclaimable bytes.
    pub changed: Vec<AdviceChange>,
}

/// A finding both images have, whose bytes differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdviceChange {
    pub id: Rule,
    /// The finding's key in A and in B (they differ when the layers moved).
    pub a_key: String,
    pub b_key: String,
    /// B's severity.
    pub severity: Severity,
    pub message: String,
    pub a_bytes: u64,
    pub b_bytes: u64,
    /// `b_bytes - a_bytes`.
    pub delta_bytes: i64,
}

/// A key that does not depend on layer positions: `id:N>M` becomes `id:<instruction N> > <instruction M>`.
fn match_key(a: &Advice) -> String {
    let pair = a
        .key
        .split_once(':')
        .and_then(|(id, rest)| Some((id, rest.split_once('>')?)))
        .and_then(|(id, (x, y))| Some((id, x.parse::<u32>().ok()?, y.parse::<u32>().ok()?)));
    let Some((id, x, y)) = pair else {
        return a.key.clone();
    };
    let instruction = |index: u32| {
        a.layers
            .iter()
            .find(|l| l.index == index)
            .map_or("", |l| l.instruction.as_str())
    };
    format!("{id}:{} > {}", instruction(x), instruction(y))
}

/// Masks every image-derived string of a finding with both images' redactors.
fn masked(a: &Advice, masks: &Masks<'_>) -> Advice {
    let mut a = a.clone();
    a.message = masks.apply(&a.message);
    a.fix = masks.apply(&a.fix);
    for l in &mut a.layers {
        l.instruction = masks.apply(&l.instruction);
    }
    for p in &mut a.paths {
        p.path = masks.apply(&p.path);
        if let Some(kept) = &mut p.same_as {
            *kept = masks.apply(kept);
        }
    }
    a
}

/// Compares A's advice with B's. A key held by several findings on one side pairs them in order.
pub(super) fn advice(a: &[Advice], b: &[Advice], masks: &Masks<'_>) -> AdviceChanges {
    // Matched on masked text, so that a secret masked in one image only cannot split a pair.
    let a: Vec<Advice> = a.iter().map(|x| masked(x, masks)).collect();
    let b: Vec<Advice> = b.iter().map(|x| masked(x, masks)).collect();
    // Per key, A's findings still unmatched (as indices, last first so that `pop` pairs them in order).
    let mut in_a: HashMap<(Rule, String), Vec<usize>> = HashMap::new();
    for (i, x) in a.iter().enumerate().rev() {
        in_a.entry((x.id, match_key(x))).or_default().push(i);
    }
    let mut matched = vec![false; a.len()];
    let mut out = AdviceChanges::default();
    for y in &b {
        let Some(i) = in_a.get_mut(&(y.id, match_key(y))).and_then(Vec::pop) else {
            out.appeared.push(y.clone());
            continue;
        };
        matched[i] = true;
        let x = &a[i];
        if x.reclaimable_bytes != y.reclaimable_bytes {
            out.changed.push(AdviceChange {
                id: y.id,
                a_key: x.key.clone(),
                b_key: y.key.clone(),
                severity: y.severity,
                message: y.message.clone(),
                a_bytes: x.reclaimable_bytes,
                b_bytes: y.reclaimable_bytes,
                delta_bytes: delta(x.reclaimable_bytes, y.reclaimable_bytes),
            });
        }
    }
    // What A has left, in A's order (most severe first).
    out.resolved = a
        .into_iter()
        .zip(matched)
        .filter(|(_, m)| !m)
        .map(|(x, _)| x)
        .collect();
    out.changed.sort_by(|x, y| {
        y.delta_bytes
            .unsigned_abs()
            .cmp(&x.delta_bytes.unsigned_abs())
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::advice::{AdviceLayer, AdvicePath};
    use crate::secrets::Redactor;

    fn finding(key: &str, layers: &[(u32, &str)], bytes: u64) -> Advice {
        let id = match key.split(':').next() {
            Some("same-run-delete") => Rule::SameRunDelete,
            Some("package-cache") => Rule::PackageCache,
            _ => Rule::RunsAsRoot,
        };
        Advice {
            id,
            key: key.into(),
            severity: Severity::for_bytes(bytes),
            message: format!("{bytes} bytes"),
            reclaimable_bytes: bytes,
            layers: layers
                .iter()
                .map(|&(index, i)| AdviceLayer {
                    index,
                    instruction: i.into(),
                })
                .collect(),
            paths: vec![AdvicePath {
                path: "/x".into(),
                bytes,
                same_as: None,
            }],
            path_count: 1,
            fix: String::new(),
            secrets: Vec::new(),
        }
    }

    #[test]
    fn findings_match_by_instructions_not_layer_positions() {
        let none = Redactor::default();
        let masks = Masks(&none, &none);
        let a = [
            finding(
                "same-run-delete:1>2",
                &[(1, "RUN make"), (2, "RUN rm x")],
                500,
            ),
            finding(
                "same-run-delete:1>3",
                &[(1, "RUN make"), (3, "RUN rm y")],
                70,
            ),
            finding("package-cache:apt", &[(1, "RUN make")], 9000),
            finding("runs-as-root", &[], 0),
        ];
        // B: a layer added at the bottom moves everything up by one; the apt cache grew, the second delete
        // went, a new one came.
        let b = [
            finding(
                "same-run-delete:2>3",
                &[(2, "RUN make"), (3, "RUN rm x")],
                500,
            ),
            finding(
                "same-run-delete:2>5",
                &[(2, "RUN make"), (5, "RUN rm z")],
                40,
            ),
            finding("package-cache:apt", &[(2, "RUN make")], 12000),
            finding("runs-as-root", &[], 0),
        ];
        let d = advice(&a, &b, &masks);
        let keys = |v: &[Advice]| v.iter().map(|x| x.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&d.appeared), ["same-run-delete:2>5"]);
        assert_eq!(keys(&d.resolved), ["same-run-delete:1>3"]);
        assert_eq!(
            d.changed,
            [AdviceChange {
                id: Rule::PackageCache,
                a_key: "package-cache:apt".into(),
                b_key: "package-cache:apt".into(),
                severity: Severity::Info,
                message: "12000 bytes".into(),
                a_bytes: 9000,
                b_bytes: 12000,
                delta_bytes: 3000,
            }]
        );
    }
}
