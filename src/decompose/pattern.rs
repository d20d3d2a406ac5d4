//! Coordinate patterns Ω (spec §1.3) from the config: YAML `pairs`, a pairs file (`.npy` of
//! any integer dtype or header-less `.csv`, shape (m, 2)) or a symmetric 0/1 mask `.npy` of
//! shape (n, n). Every source becomes the same set of unordered pairs i < j, checked entry by
//! entry; nothing is densified to an (m, n, n) basis.
use super::config::PatternSpec;
use crate::error::usage;
use anyhow::Result;
use ndarray::Array2;
use ndarray_npy::{ReadNpyError, ReadNpyExt, ReadableElement};
use std::collections::{HashMap, HashSet};
use std::num::IntErrorKind;
use std::path::Path;

/// Unordered off-diagonal pairs (i < j).
pub type PairSet = HashSet<(usize, usize)>;

/// The validated pair set of a `pattern` / `complement-pattern` spec.
pub fn load(spec: &PatternSpec, n: usize) -> Result<PairSet> {
    match (&spec.pairs, &spec.pairs_file, &spec.mask_file) {
        (Some(p), None, None) => from_yaml(p, n),
        (None, Some(f), None) => non_empty(f, pair_set(&read_pairs(f)?, n, &row_label(f))?),
        (None, None, Some(f)) => non_empty(f, from_mask(f, n)?),
        _ => Err(usage(
            "give exactly one of subspace.pairs, subspace.pairs_file and subspace.mask_file",
        )),
    }
}

/// The number of pairs, for the memory estimate (0 when a file is unreadable: the run
/// reports that file's problem when it builds L).
pub fn count(spec: &PatternSpec, n: usize) -> usize {
    match &spec.pairs {
        Some(p) => p.len(),
        None => load(spec, n).map_or(0, |s| s.len()),
    }
}

/// YAML `pairs` (an empty list is allowed: L = {0}, or Ω = every off-diagonal pair).
pub fn from_yaml(pairs: &[[usize; 2]], n: usize) -> Result<PairSet> {
    let rows: Vec<(usize, [i128; 2])> = pairs
        .iter()
        .enumerate()
        .map(|(k, &[a, b])| (k, [wide(a), wide(b)]))
        .collect();
    pair_set(&rows, n, &|k| format!("subspace pair {k}"))
}

/// Indices are read as i128, which holds every value of every integer dtype (u64 and i64
/// alike), so a message quotes the index as written.
fn wide(v: usize) -> i128 {
    v as i128
}

fn row_label(path: &Path) -> impl Fn(usize) -> String + '_ {
    let csv = is_csv(path);
    move |k| {
        if csv {
            format!("{}: line {k}", path.display())
        } else {
            format!("{}: row {k}", path.display())
        }
    }
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

fn non_empty(path: &Path, set: PairSet) -> Result<PairSet> {
    if set.is_empty() {
        return Err(usage(format!(
            "{}: the pattern is empty (no pairs); for L = {{0}} give `pairs: []`, for every \
             off-diagonal pair `kind: offdiag`",
            path.display()
        )));
    }
    Ok(set)
}

/// Checked set of unordered off-diagonal pairs; `label(k)` names row k in messages.
fn pair_set(
    rows: &[(usize, [i128; 2])],
    n: usize,
    label: &dyn Fn(usize) -> String,
) -> Result<PairSet> {
    let mut first: HashMap<(usize, usize), usize> = HashMap::with_capacity(rows.len());
    for &(k, [a, b]) in rows {
        let in_range = |v: i128| usize::try_from(v).ok().filter(|&v| v < n);
        let (Some(i), Some(j)) = (in_range(a), in_range(b)) else {
            return Err(usage(format!(
                "{} = [{a}, {b}] is out of range for n = {n} (indices are 0-based, 0..={})",
                label(k),
                n.saturating_sub(1)
            )));
        };
        if i == j {
            return Err(usage(format!(
                "{} = [{i}, {i}] is diagonal: a pattern lists off-diagonal pairs only (in \
                 `pattern` L would hold the PSD matrix e{i} e{i}^T, so L is degenerate and no \
                 decomposition exists, spec section 1.4; B's diagonal is always free)",
                label(k)
            )));
        }
        if let Some(k0) = first.insert((i.min(j), i.max(j)), k) {
            return Err(usage(format!(
                "{} = [{a}, {b}] is listed twice: {} holds the same pair ((i, j) and (j, i) are one pair)",
                label(k),
                label(k0)
            )));
        }
    }
    Ok(first.into_keys().collect())
}

/// The rows of a pairs file, numbered as its messages name them (`.npy` row k from 0, `.csv`
/// line k from 1).
fn read_pairs(path: &Path) -> Result<Vec<(usize, [i128; 2])>> {
    if is_csv(path) {
        return read_pairs_csv(path);
    }
    let arr = read_ints(path, "a pairs file of shape (m, 2)", |v| v)?;
    if arr.ncols() != 2 {
        return Err(usage(format!(
            "{}: a pairs file needs shape (m, 2), got ({}, {})",
            path.display(),
            arr.nrows(),
            arr.ncols()
        )));
    }
    Ok(arr
        .rows()
        .into_iter()
        .enumerate()
        .map(|(k, r)| (k, [r[0], r[1]]))
        .collect())
}

fn read_pairs_csv(path: &Path) -> Result<Vec<(usize, [i128; 2])>> {
    let text = crate::input::read_to_string(path).map_err(|e| {
        usage(format!(
            "{}: cannot read the pairs file: {e}",
            path.display()
        ))
    })?;
    // A UTF-8 BOM (as some editors save) was read into the first index and refused with an
    // invisible character in the message; the matrix CSV reader skips it too.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut rows = Vec::new();
    for (k, line) in text.lines().enumerate().map(|(k, l)| (k + 1, l.trim())) {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 2 {
            return Err(usage(format!(
                "{}: line {k} has {} column(s); a pairs file has two (i,j), no header",
                path.display(),
                fields.len()
            )));
        }
        let mut pair = [0i128; 2];
        for (c, f) in fields.iter().enumerate() {
            pair[c] = f.parse().map_err(|e: std::num::ParseIntError| {
                let why = match e.kind() {
                    IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "is out of range",
                    _ => "is not an integer index",
                };
                usage(format!(
                    "{}: line {k}, column {}: `{f}` {why}",
                    path.display(),
                    c + 1
                ))
            })?;
        }
        rows.push((k, pair));
    }
    Ok(rows)
}

/// A 2-D `.npy` of any integer dtype (or bool, as 0/1), each value through `to` (from i128,
/// which holds them all).
fn read_ints<T>(path: &Path, what: &str, to: fn(i128) -> T) -> Result<Array2<T>> {
    let bytes = crate::input::read(path)
        .map_err(|e| usage(format!("{}: cannot read {what}: {e}", path.display())))?;
    super::npy::check(path, what, &bytes)?;
    let bad = |e: ReadNpyError| {
        let why = match e {
            ReadNpyError::WrongDescriptor(d) => {
                format!("dtype {d} is not an integer (or bool) dtype")
            }
            ReadNpyError::WrongNdim(_, got) => format!("it is {got}-D, not 2-D"),
            e => e.to_string(),
        };
        usage(format!("{}: not {what}: {why}", path.display()))
    };
    macro_rules! try_types {
        ($($t:ty),*) => {$(
            match try_read::<$t>(&bytes) {
                Err(ReadNpyError::WrongDescriptor(_)) => {}
                Err(e) => return Err(bad(e)),
                Ok(a) => return Ok(a.mapv(|v| to(i128::from(v)))),
            }
        )*};
    }
    try_types!(i64, i32, i16, i8, u64, u32, u16, u8);
    match try_read::<bool>(&bytes) {
        Ok(a) => Ok(a.mapv(|v| to(i128::from(v)))),
        Err(e) => Err(bad(e)),
    }
}

fn try_read<T: ReadableElement>(bytes: &[u8]) -> Result<Array2<T>, ReadNpyError> {
    Array2::<T>::read_npy(bytes)
}

/// Pairs i < j of a symmetric 0/1 mask with a zero diagonal.
fn from_mask(path: &Path, n: usize) -> Result<PairSet> {
    let p = path.display();
    // i64 keeps an n×n mask at 8 bytes an entry; a value past i64 reads as i64::MAX, which
    // is refused as neither 0 nor 1 all the same.
    let mask = read_ints(path, "a boolean or 0/1 mask of shape (n, n)", |v| {
        i64::try_from(v).unwrap_or(i64::MAX)
    })?;
    if mask.dim() != (n, n) {
        let (r, c) = mask.dim();
        return Err(usage(format!("{p}: the mask is {r}x{c} but A is {n}x{n}")));
    }
    if let Some(((i, j), v)) = mask.indexed_iter().find(|(_, &v)| v != 0 && v != 1) {
        let v = if *v == i64::MAX {
            format!(">= {v}")
        } else {
            v.to_string()
        };
        return Err(usage(format!(
            "{p}: entry ({i}, {j}) = {v}; a mask holds 0/1 or bool"
        )));
    }
    if let Some(i) = (0..n).find(|&i| mask[[i, i]] != 0) {
        return Err(usage(format!(
            "{p}: diagonal entry ({i}, {i}) is set: a pattern lists off-diagonal pairs only (in \
             `pattern` L would hold the PSD matrix e{i} e{i}^T, so L is degenerate and no \
             decomposition exists, spec section 1.4; B's diagonal is always free)"
        )));
    }
    let mut set = PairSet::new();
    for i in 0..n {
        for j in i + 1..n {
            let (u, l) = (mask[[i, j]], mask[[j, i]]);
            if u != l {
                return Err(usage(format!(
                    "{p}: the mask is not symmetric: entry ({i}, {j}) = {u} but ({j}, {i}) = {l}"
                )));
            }
            if u == 1 {
                set.insert((i, j));
            }
        }
    }
    Ok(set)
}
