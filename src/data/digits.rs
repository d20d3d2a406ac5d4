//! scikit-learn's 8×8 handwritten digits (grng spec §6.1): 1797 images, 64 pixels in 0..=16
//! and a label 0..=9 per CSV line, no header. The committed fixture
//! `data/grng/digits.csv.gz` is embedded in the binary; [`load`] reads a user's file in the same
//! format (plain or gzip'd). Pixels are scaled by 1/16 to [0, 1].
//!
//! [`stratified_split`] gives the fixed train/test split (1437/360 with seed 0): per class, a
//! seeded shuffle of its indices, and the class's share of the test size (largest remainders
//! fill the last places), so every class is split in the same proportion.
use crate::error::usage;
use anyhow::{Context, Result};
use flate2::read::GzDecoder;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::io::Read;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// The committed fixture (scikit-learn 1.9.1, sha256 09f66e6d…, see data/grng/README.md).
pub const EMBEDDED: &[u8] = include_bytes!("../../data/grng/digits.csv.gz");
pub const PIXELS: usize = 64;
pub const CLASSES: usize = 10;
/// Test images of the fixed split (spec §6.1: 1437 train / 360 test).
pub const TEST_SIZE: usize = 360;

/// Images as rows of `d` features (row-major pixels) and their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    /// `n · d` values.
    pub x: Vec<f32>,
    pub y: Vec<i64>,
    pub d: usize,
    pub classes: usize,
}

impl Images {
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The images at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Images {
        let mut x = Vec::with_capacity(idx.len() * self.d);
        for &i in idx {
            x.extend_from_slice(&self.x[i * self.d..(i + 1) * self.d]);
        }
        Images {
            x,
            y: idx.iter().map(|&i| self.y[i]).collect(),
            d: self.d,
            classes: self.classes,
        }
    }

    /// Features `(N, d)` f32 and labels `(N,)` i64 on `device`.
    pub fn tensors(&self, device: Device) -> (Tensor, Tensor) {
        let x = Tensor::from_slice(&self.x)
            .view([self.len() as i64, self.d as i64])
            .to_kind(Kind::Float)
            .to_device(device);
        (x, Tensor::from_slice(&self.y).to_device(device))
    }

    /// Images per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &y in &self.y {
            counts[y as usize] += 1;
        }
        counts
    }
}

/// The embedded fixture.
pub fn embedded() -> Result<Images> {
    parse(
        &gunzip(EMBEDDED, "embedded digits.csv.gz")?,
        "embedded digits.csv.gz",
    )
}

/// Most bytes a digits CSV may hold, as read or decompressed: 64 MiB, some 200 times the
/// fixture's 1797 rows. A device such as /dev/zero or a gzip bomb is refused instead of filling
/// memory.
pub const MAX_BYTES: u64 = 1 << 26;

/// A digits CSV at `path` (gzip'd when it starts with the gzip magic bytes): a regular file
/// (a FIFO would block the read, a device never end it) of at most [`MAX_BYTES`].
pub fn load(path: &Path) -> Result<Images> {
    let name = path.display().to_string();
    let cant = |why: String| usage(format!("cannot read the digits file {name}: {why}"));
    let meta = std::fs::metadata(path).map_err(|e| cant(e.to_string()))?;
    if !meta.is_file() {
        return Err(cant("not a regular file".into()));
    }
    if meta.len() > MAX_BYTES {
        let len = meta.len();
        return Err(cant(format!(
            "{len} bytes, over the {MAX_BYTES} a digits file may have"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| cant(e.to_string()))?;
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip(&bytes, &name)?
    } else {
        String::from_utf8(bytes).map_err(|e| usage(format!("{name}: not UTF-8 text ({e})")))?
    };
    parse(&text, &name)
}

fn gunzip(bytes: &[u8], name: &str) -> Result<String> {
    let mut text = String::new();
    GzDecoder::new(bytes)
        .take(MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| usage(format!("{name}: not a readable gzip'd text file ({e})")))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(usage(format!(
            "{name}: decompresses to more than the {MAX_BYTES} bytes a digits file may have"
        )));
    }
    Ok(text)
}

/// Parse the CSV text (module doc); errors name `name:line`.
pub fn parse(text: &str, name: &str) -> Result<Images> {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{name}:{}", i + 1);
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != PIXELS + 1 {
            return Err(usage(format!(
                "{}: expected {} comma-separated values (64 pixels and a label), got {}",
                at(),
                PIXELS + 1,
                cells.len()
            )));
        }
        for (j, cell) in cells[..PIXELS].iter().enumerate() {
            let v: f64 = cell
                .parse()
                .ok()
                .filter(|v: &f64| (0.0..=16.0).contains(v))
                .ok_or_else(|| {
                    usage(format!(
                        "{}: pixel {} is `{cell}`, not a number in 0..=16",
                        at(),
                        j + 1
                    ))
                })?;
            x.push((v / 16.0) as f32);
        }
        let label = cells[PIXELS];
        let class = label
            .parse::<f64>()
            .ok()
            .filter(|v| v.fract() == 0.0 && (0.0..CLASSES as f64).contains(v))
            .ok_or_else(|| usage(format!("{}: label `{label}` is not a digit 0..=9", at())))?;
        y.push(class as i64);
    }
    if y.is_empty() {
        return Err(usage(format!("{name}: no images")));
    }
    Ok(Images {
        x,
        y,
        d: PIXELS,
        classes: CLASSES,
    })
}

/// (train, test) indices: a stratified split with `n_test` test images (module doc).
pub fn stratified_split(
    labels: &[i64],
    classes: usize,
    n_test: usize,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let n = labels.len();
    anyhow::ensure!(
        n_test < n,
        "a test split of {n_test} needs more than {n} images"
    );
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &y) in labels.iter().enumerate() {
        by_class
            .get_mut(y as usize)
            .with_context(|| format!("label {y} out of range"))?
            .push(i);
    }
    // Each class's exact share, floored; the largest remainders take the places left.
    let share = |k: usize| by_class[k].len() as f64 * n_test as f64 / n as f64;
    let mut take: Vec<usize> = (0..classes).map(|k| share(k).floor() as usize).collect();
    let mut order: Vec<usize> = (0..classes).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (share(a).fract(), share(b).fract());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let left = n_test - take.iter().sum::<usize>();
    for &k in order.iter().take(left) {
        take[k] += 1;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (k, idx) in by_class.iter_mut().enumerate() {
        idx.shuffle(&mut rng);
        test.extend_from_slice(&idx[..take[k]]);
        train.extend_from_slice(&idx[take[k]..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}
