//! Teacher-forced repetition (§4.3, after Welleck et al.): with greedy predictions
//! `ŷ_t = argmax p(·|y_<t)` and targets `y_t`,
//! `rep_l = (1/T) Σ_t 1[ŷ_t ∈ {y_{t−l}, …, y_{t−1}}]`,
//! `wrep_l = (1/T) Σ_t 1[ŷ_t ∈ {y_{t−l}, …, y_{t−1}} ∧ ŷ_t ≠ y_t]`, and `hits_at_1 = (1/T) Σ_t
//! 1[ŷ_t = y_t]`.
//!
//! History convention: the window `y_{t−l}..y_{t−1}` holds only **targets of the same row**, so
//! the first positions of a row look at a shorter window (position 0 at none, and it counts in
//! T as a non-repeat); rows never see each other's tokens. An evaluation made of several
//! non-overlapping windows passes one row per window.

/// Running counts over rows for several window lengths `l` at once.
#[derive(Debug, Clone, PartialEq)]
pub struct RepTally {
    ls: Vec<usize>,
    rep: Vec<u64>,
    wrep: Vec<u64>,
    hits: u64,
    positions: u64,
}

impl RepTally {
    /// A tally for the window lengths `ls` (§4.7 logs 16 and 64).
    pub fn new(ls: &[usize]) -> RepTally {
        RepTally {
            ls: ls.to_vec(),
            rep: vec![0; ls.len()],
            wrep: vec![0; ls.len()],
            hits: 0,
            positions: 0,
        }
    }

    /// Add one row of predictions and targets (the same length: panics otherwise).
    pub fn add_row(&mut self, pred: &[u32], target: &[u32]) {
        assert_eq!(
            pred.len(),
            target.len(),
            "rep: predictions and targets differ in length"
        );
        for (t, (&p, &y)) in pred.iter().zip(target).enumerate() {
            self.positions += 1;
            self.hits += u64::from(p == y);
            for (i, &l) in self.ls.iter().enumerate() {
                if target[t.saturating_sub(l)..t].contains(&p) {
                    self.rep[i] += 1;
                    self.wrep[i] += u64::from(p != y);
                }
            }
        }
    }

    fn slot(&self, l: usize) -> Option<usize> {
        self.ls.iter().position(|&x| x == l)
    }

    fn frac(&self, n: u64) -> Option<f64> {
        (self.positions > 0).then(|| n as f64 / self.positions as f64)
    }

    /// `rep_l` (None without positions or for an `l` the tally was not made for).
    pub fn rep(&self, l: usize) -> Option<f64> {
        self.slot(l).and_then(|i| self.frac(self.rep[i]))
    }

    /// `wrep_l`.
    pub fn wrep(&self, l: usize) -> Option<f64> {
        self.slot(l).and_then(|i| self.frac(self.wrep[i]))
    }

    /// `hits_at_1`, the accuracy of the greedy prediction.
    pub fn hits_at_1(&self) -> Option<f64> {
        self.frac(self.hits)
    }

    /// Scored positions so far.
    pub fn positions(&self) -> u64 {
        self.positions
    }
}

/// `(rep_l, wrep_l)` over rows of `(predictions, targets)`.
pub fn rep_metrics(rows: &[(Vec<u32>, Vec<u32>)], l: usize) -> (Option<f64>, Option<f64>) {
    let mut tally = RepTally::new(&[l]);
    for (pred, target) in rows {
        tally.add_row(pred, target);
    }
    (tally.rep(l), tally.wrep(l))
}

/// `hits_at_1` over rows of `(predictions, targets)`.
pub fn hits_at_1(rows: &[(Vec<u32>, Vec<u32>)]) -> Option<f64> {
    let mut tally = RepTally::new(&[]);
    for (pred, target) in rows {
        tally.add_row(pred, target);
    }
    tally.hits_at_1()
}
