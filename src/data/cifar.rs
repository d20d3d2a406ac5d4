//! CIFAR-10 from the "binary version" files the user already has (nothing is downloaded):
//! `data_batch_1.bin` … `data_batch_5.bin` (train) and `test_batch.bin` (test), extracted from
//! `cifar-10-binary.tar.gz`. Each record is 1 label byte (0–9) then 3072 pixel bytes: the red,
//! green and blue 32×32 planes row by row, i.e. already `(C, H, W)`. Returns an
//! [`ImageSet`] with images `(N, 3, 32, 32)` f32 in [0, 1] and labels `(N,)` i64; errors name
//! the file, the record and its byte offset.
use super::idx::{check_labels, read_bytes, ImageSet, CLASSES};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// Image side.
pub const SIDE: usize = 32;
/// Bytes per record: label + 3 planes.
pub const RECORD: usize = 1 + 3 * SIDE * SIDE;

/// The five training batches in `dir`.
pub fn train_files(dir: &Path) -> Vec<PathBuf> {
    (1..=5)
        .map(|i| dir.join(format!("data_batch_{i}.bin")))
        .collect()
}

/// The test batch in `dir`.
pub fn test_files(dir: &Path) -> Vec<PathBuf> {
    vec![dir.join("test_batch.bin")]
}

/// Records of one file appended to `pixels` and `labels`.
fn read_file(path: &Path, pixels: &mut Vec<u8>, labels: &mut Vec<u8>) -> Result<()> {
    let bytes = read_bytes(path)?;
    let name = path.display();
    if bytes.is_empty() {
        bail!("{name}: empty file, no CIFAR-10 records");
    }
    if bytes.len() % RECORD != 0 {
        let r = bytes.len() / RECORD;
        bail!(
            "{name}: truncated: record {r} (from byte offset {}) is incomplete, the file ends \
             at byte offset {} (a record is {RECORD} bytes)",
            r * RECORD,
            bytes.len()
        );
    }
    let first = labels.len();
    for rec in bytes.chunks_exact(RECORD) {
        labels.push(rec[0]);
        pixels.extend_from_slice(&rec[1..]);
    }
    check_labels(path, &labels[first..], CLASSES, 0, RECORD)
}

/// All records of `files`, in order.
pub fn load(files: &[PathBuf]) -> Result<ImageSet> {
    if files.is_empty() {
        bail!("no CIFAR-10 batch files given");
    }
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for f in files {
        read_file(f, &mut pixels, &mut labels)?;
    }
    let (n, side) = (labels.len() as i64, SIDE as i64);
    Ok(ImageSet::from_bytes(
        &pixels,
        [n, 3, side, side],
        &labels,
        CLASSES,
    ))
}
