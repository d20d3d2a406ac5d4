//! L split along the index components of its basis (spec §1.5 stage 4 at any n): indices i and
//! j are joined when some basis element touches both. Every element then lives on one block
//! J × J of a component J, so L = ⊕_J L_J, and (ND) holds for L iff it holds for every L_J:
//! a PSD P ∈ L has PSD principal blocks P_JJ ∈ L_J, and a PD certificate of each L_J, put on
//! its diagonal block with the identity on untouched indices, is PD and orthogonal to L.
//! The phase-I solve then runs on each |J| × |J| block instead of n × n.
use super::subspace::{Basis, SymSparse};
use anyhow::Result;
use ndarray::Array2;

/// One component: its indices (ascending) and the basis elements living there, re-indexed.
pub struct Part {
    pub idx: Vec<usize>,
    pub basis: Basis,
}

/// The components of `l`, smallest first. Empty for L = {0}.
pub fn split(l: &Basis) -> Result<Vec<Part>> {
    let n = l.n;
    let mut parent: Vec<usize> = (0..n).collect();
    for d in &l.elems {
        if let Some(&(i0, _, _)) = d.first() {
            for &(i, j, _) in d {
                union(&mut parent, i0, i);
                union(&mut parent, i0, j);
            }
        }
    }
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n];
    let touched = touched(l);
    for i in (0..n).filter(|&i| touched[i]) {
        let r = find(&mut parent, i);
        members[r].push(i);
    }
    let mut elems: Vec<Vec<SymSparse>> = vec![Vec::new(); n];
    let mut pos = vec![usize::MAX; n];
    for list in &members {
        for (k, &i) in list.iter().enumerate() {
            pos[i] = k;
        }
    }
    for d in &l.elems {
        if let Some(&(i0, _, _)) = d.first() {
            let r = find(&mut parent, i0);
            elems[r].push(d.iter().map(|&(i, j, v)| (pos[i], pos[j], v)).collect());
        }
    }
    let mut parts = Vec::new();
    for (r, idx) in members.into_iter().enumerate() {
        if idx.is_empty() {
            continue;
        }
        // Elements of different components are orthogonal, so the global basis being
        // independent makes each component's independent: nothing is dropped here.
        let basis = Basis::new(idx.len(), std::mem::take(&mut elems[r]), false)?;
        parts.push(Part { idx, basis });
    }
    parts.sort_by_key(|p| p.idx.len());
    Ok(parts)
}

/// `x` (a |J| × |J| matrix of part `p`) placed at the indices of `p` in `out`.
pub fn place(out: &mut Array2<f64>, p: &Part, x: &Array2<f64>) {
    for (a, &i) in p.idx.iter().enumerate() {
        for (b, &j) in p.idx.iter().enumerate() {
            out[[i, j]] = x[[a, b]];
        }
    }
}

fn touched(l: &Basis) -> Vec<bool> {
    let mut t = vec![false; l.n];
    for &(i, j, _) in l.elems.iter().flatten() {
        t[i] = true;
        t[j] = true;
    }
    t
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb)] = ra.min(rb);
    }
}
