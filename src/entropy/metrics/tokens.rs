//! Diversity and repetition on token-id samples (spec §4.3): distinct-n, seq-rep-n, terminal
//! loops, longest repeat, and the top-k n-gram share of §4.4.
use super::{mean, FxMap, FxSet};

/// `distinct_n`, corpus level: distinct n-grams across all samples / all n-grams.
pub fn distinct_n(samples: &[Vec<u32>], n: usize) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let mut seen = FxSet::default();
    let mut total = 0usize;
    for s in samples {
        for g in s.windows(n) {
            seen.insert(g);
            total += 1;
        }
    }
    (total > 0).then(|| seen.len() as f64 / total as f64)
}

/// `seq_rep_n`: per sample `1 − |unique n-grams| / |n-grams|`, averaged over the samples that
/// have at least one n-gram.
pub fn seq_rep_n(samples: &[Vec<u32>], n: usize) -> Option<f64> {
    let mut unique = FxSet::default();
    let per: Vec<f64> = samples
        .iter()
        .filter(|s| n > 0 && s.len() >= n)
        .map(|s| {
            unique.clear();
            unique.extend(s.windows(n));
            1.0 - unique.len() as f64 / (s.len() - n + 1) as f64
        })
        .collect();
    mean(&per)
}

/// The smallest period `P` in `1..=64` such that the sample's last `3·P` tokens satisfy
/// `s[i] = s[i − P]` (a terminal loop), read literally: each of those positions is compared
/// with the one a period earlier, so the sample ends in four copies of its last `P` tokens and
/// needs at least `4·P` of them (the spec's examples "xyzabcabcabcabc" and "aaaa" are exactly
/// four copies; P = 64 fits the final evaluation's 256-token samples).
pub fn terminal_loop(s: &[u32]) -> Option<usize> {
    (1..=64).find(|&p| s.len() >= 4 * p && (s.len() - 3 * p..s.len()).all(|i| s[i] == s[i - p]))
}

/// Fraction of samples ending in a loop (None without samples), and the mean period over
/// those that do (None when none does).
pub fn loops(samples: &[Vec<u32>]) -> (Option<f64>, Option<f64>) {
    let periods: Vec<f64> = samples
        .iter()
        .filter_map(|s| terminal_loop(s).map(|p| p as f64))
        .collect();
    let frac = (!samples.is_empty()).then(|| periods.len() as f64 / samples.len() as f64);
    (frac, mean(&periods))
}

/// Length of the longest substring occurring at least twice (overlaps allowed: "banana" → 3).
/// The O(L²) dynamic programme up to 512 tokens, a suffix array with its LCP array beyond.
pub fn longest_repeat(s: &[u32]) -> usize {
    if s.len() <= 512 {
        longest_repeat_dp(s)
    } else {
        longest_repeat_sa(s)
    }
}

/// Mean `longest_repeat` over the samples (None without samples).
pub fn mean_longest_repeat(samples: &[Vec<u32>]) -> Option<f64> {
    let per: Vec<f64> = samples.iter().map(|s| longest_repeat(s) as f64).collect();
    mean(&per)
}

/// Longest common suffix of prefixes `s[..i]`, `s[..j]` for every pair `i < j`, row by row.
pub fn longest_repeat_dp(s: &[u32]) -> usize {
    let l = s.len();
    let (mut prev, mut cur) = (vec![0usize; l + 1], vec![0usize; l + 1]);
    let mut best = 0;
    for i in 1..=l {
        cur.iter_mut().for_each(|c| *c = 0);
        for j in (i + 1)..=l {
            if s[i - 1] == s[j - 1] {
                cur[j] = prev[j - 1] + 1;
                best = best.max(cur[j]);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    best
}

/// The largest LCP of neighbouring suffixes in suffix-array order (prefix doubling, Kasai).
pub fn longest_repeat_sa(s: &[u32]) -> usize {
    let n = s.len();
    if n < 2 {
        return 0;
    }
    let mut sa: Vec<usize> = (0..n).collect();
    let mut rank: Vec<usize> = s.iter().map(|&x| x as usize).collect();
    let mut tmp = vec![0usize; n];
    let mut k = 1;
    loop {
        let key = |i: usize, r: &[usize]| (r[i], if i + k < n { r[i + k] + 1 } else { 0 });
        sa.sort_unstable_by_key(|&i| key(i, &rank));
        tmp[sa[0]] = 0;
        for w in 1..n {
            let bump = key(sa[w], &rank) != key(sa[w - 1], &rank);
            tmp[sa[w]] = tmp[sa[w - 1]] + usize::from(bump);
        }
        std::mem::swap(&mut rank, &mut tmp);
        if rank[sa[n - 1]] == n - 1 || k >= n {
            break;
        }
        k *= 2;
    }
    // Kasai: lcp of suffix i with its predecessor in sa order.
    let (mut h, mut best) = (0usize, 0usize);
    for i in 0..n {
        if rank[i] == 0 {
            h = 0;
            continue;
        }
        let j = sa[rank[i] - 1];
        while i + h < n && j + h < n && s[i + h] == s[j + h] {
            h += 1;
        }
        best = best.max(h);
        h = h.saturating_sub(1);
    }
    best
}

/// Counts of every n-gram over the sequences.
pub(crate) fn ngram_counts(seqs: &[Vec<u32>], n: usize) -> FxMap<&[u32], usize> {
    let mut c = FxMap::default();
    if n == 0 {
        return c;
    }
    for s in seqs {
        for g in s.windows(n) {
            *c.entry(g).or_insert(0) += 1;
        }
    }
    c
}

/// Share of all n-gram occurrences taken by the `k` most frequent n-grams (None without any).
pub fn top_share(seqs: &[Vec<u32>], n: usize, k: usize) -> Option<f64> {
    let mut counts: Vec<usize> = ngram_counts(seqs, n).into_values().collect();
    let total: usize = counts.iter().sum();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    (total > 0).then(|| counts.iter().take(k).sum::<usize>() as f64 / total as f64)
}
