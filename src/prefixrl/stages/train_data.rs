//! The train stage's data: the training set D with each problem's prefixed variants, and the
//! two pure functions a step is built from: [`draw_slots`] (which problems, which prefixed
//! variant, §2.5) and [`form_groups`] (advantage groups keyed by (problem id, prefix id),
//! §2.5, §7.10 item 1: a prefixed variant is never pooled with its unprefixed problem or with
//! another variant).
use crate::error::usage;
use crate::prefixrl::jsonl::{PrefixRecord, TraceRecord};
use crate::prefixrl::task::Problem;
use anyhow::Result;
use rand::seq::index::sample as sample_indices;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// D (first `train.n_problems` problems with a trace) and, per problem, its prefixed variants
/// in `prefix_id` order (empty for methods that train unprefixed).
pub struct TrainData {
    pub problems: Vec<(Problem, TraceRecord)>,
    pub variants: Vec<Vec<PrefixRecord>>,
}

impl TrainData {
    /// Attach `prefixes` (any order; those of problems outside D are ignored) to D.
    pub fn new(problems: Vec<(Problem, TraceRecord)>, prefixes: Vec<PrefixRecord>) -> Self {
        let mut by_id: HashMap<String, Vec<PrefixRecord>> = HashMap::new();
        for p in prefixes {
            by_id.entry(p.problem_id.clone()).or_default().push(p);
        }
        let variants = problems
            .iter()
            .map(|(p, _)| {
                let mut v = by_id.remove(&p.id).unwrap_or_default();
                v.sort_by_key(|r| r.prefix_id);
                v
            })
            .collect();
        TrainData { problems, variants }
    }

    /// Prefixed variants per problem (the input of [`draw_slots`]).
    pub fn variant_counts(&self) -> Vec<usize> {
        self.variants.iter().map(Vec::len).collect()
    }

    /// The advantage-group key of a slot.
    pub fn key(&self, slot: Slot) -> GroupKey {
        GroupKey {
            problem_id: self.problems[slot.problem].0.id.clone(),
            prefix_id: slot
                .variant
                .map(|v| self.variants[slot.problem][v].prefix_id),
        }
    }

    /// The prefix record of a prefixed slot.
    pub fn prefix(&self, slot: Slot) -> Option<&PrefixRecord> {
        slot.variant.map(|v| &self.variants[slot.problem][v])
    }
}

/// One batch slot: problem `problem` of D, unprefixed (`None`) or its variant `variant`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub problem: usize,
    pub variant: Option<usize>,
}

/// An advantage group: (problem id, prefix id), `None` = the unprefixed problem.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub problem_id: String,
    pub prefix_id: Option<u32>,
}

/// `batch` distinct problems of D (without replacement, §2.6), each prefixed with probability
/// `alpha` when it has variants, the variant then uniform (§2.5). `variants[i]`: how many
/// prefixed variants problem `i` has. One coin per slot whatever `alpha`, so the problems drawn
/// do not depend on it.
pub fn draw_slots(
    variants: &[usize],
    batch: usize,
    alpha: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Slot>> {
    if batch > variants.len() {
        return Err(usage(format!(
            "rl.batch_problems = {batch} exceeds the training set ({} problems with a trace); \
             lower rl.batch_problems or raise train.n_problems / data.pool_size",
            variants.len()
        )));
    }
    let picked = sample_indices(rng, variants.len(), batch).into_vec();
    Ok(picked
        .into_iter()
        .map(|problem| {
            let coin: f64 = rng.gen();
            let variant = (variants[problem] > 0 && coin < alpha)
                .then(|| rng.gen_range(0..variants[problem]));
            Slot { problem, variant }
        })
        .collect())
}

/// Rows with equal keys form one group; groups in order of first appearance, rows in order.
pub fn form_groups(row_keys: &[GroupKey]) -> Vec<Vec<usize>> {
    let mut index: HashMap<&GroupKey, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (row, key) in row_keys.iter().enumerate() {
        let g = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(row);
    }
    groups
}

/// Per-row advantages from per-row rewards and the groups of [`form_groups`] (§2.8).
pub fn row_advantages(
    rewards: &[f64],
    groups: &[Vec<usize>],
    kind: crate::prefixrl::algo::AdvantageKind,
    eps: f64,
) -> (Vec<f64>, crate::prefixrl::algo::GroupStats) {
    let grouped: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| g.iter().map(|&r| rewards[r]).collect())
        .collect();
    let adv = crate::prefixrl::algo::advantages(&grouped, kind, eps);
    let stats = crate::prefixrl::algo::group_stats(&grouped, &adv);
    let mut out = vec![0.0; rewards.len()];
    for (g, a) in groups.iter().zip(&adv) {
        for (&r, &v) in g.iter().zip(a) {
            out[r] = v;
        }
    }
    (out, stats)
}
