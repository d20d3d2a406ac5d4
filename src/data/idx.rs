//! MNIST-format image sets from files the user already has (nothing is downloaded): an
//! `idx3-ubyte` image file and an `idx1-ubyte` label file (MNIST, Fashion-MNIST). Also the
//! shared [`ImageSet`] that [`super::cifar`] returns.
//!
//! Format (big-endian): magic `00 00 08 03` (unsigned bytes, 3 dimensions), then N, H, W as u32,
//! then N·H·W pixel bytes row by row; labels: magic `00 00 08 01`, N, then N label bytes 0–9.
//! Gzip-compressed files (`*.gz`, as distributed) are refused with a message to `gunzip` them:
//! the project has no gzip decoder among its dependencies. Every error names the file and the
//! byte offset (or record) where the problem is.
use anyhow::{bail, Context, Result};
use std::path::Path;
use tch::{Kind, Tensor};

/// Classes of MNIST-style labels (0–9).
pub const CLASSES: u8 = 10;

/// Images and labels as a training loop uses them: tensors on the CPU.
#[derive(Debug)]
pub struct ImageSet {
    /// `(N, C, H, W)` f32 in [0, 1] (pixel byte / 255).
    pub images: Tensor,
    /// `(N,)` i64 class indices in `0..classes`.
    pub labels: Tensor,
    pub classes: i64,
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.labels.numel()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Build from pixel bytes (N·C·H·W, channel-major per image) and label bytes.
    pub fn from_bytes(pixels: &[u8], shape: [i64; 4], labels: &[u8], classes: u8) -> ImageSet {
        let images = Tensor::from_slice(pixels)
            .view(shape)
            .to_kind(Kind::Float)
            .divide_scalar(255.0);
        let labels: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
        ImageSet {
            images,
            labels: Tensor::from_slice(&labels),
            classes: i64::from(classes),
        }
    }
}

/// Read a whole file; a gzip file is refused with what to do instead.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let bytes = crate::input::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        bail!(
            "{} is gzip-compressed (bytes 1f 8b at byte offset 0); decompress it first \
             (`gunzip -k {}`) and pass the uncompressed file",
            path.display(),
            path.display()
        );
    }
    Ok(bytes)
}

/// The label bytes must all be below `classes` (`first_offset`: byte offset of label 0,
/// `stride`: bytes per record).
pub(crate) fn check_labels(
    path: &Path,
    labels: &[u8],
    classes: u8,
    first_offset: usize,
    stride: usize,
) -> Result<()> {
    if let Some(i) = labels.iter().position(|&l| l >= classes) {
        bail!(
            "{}: label {} of record {i} (byte offset {}) is out of range 0..={}",
            path.display(),
            labels[i],
            first_offset + i * stride,
            classes - 1
        );
    }
    Ok(())
}

/// An idx file of unsigned bytes with `ndims` dimensions: its dimensions and data bytes.
fn read_idx(path: &Path, ndims: u8, what: &str) -> Result<(Vec<usize>, Vec<u8>)> {
    let mut bytes = read_bytes(path)?;
    let name = path.display();
    let header = 4 + 4 * ndims as usize;
    let want_magic = 0x0800 + u32::from(ndims);
    if bytes.len() < 4 {
        bail!(
            "{name}: truncated at byte offset {}: no idx magic number",
            bytes.len()
        );
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != want_magic {
        bail!(
            "{name}: bad magic 0x{magic:08x} at byte offset 0 (an {what} file starts with \
             0x{want_magic:08x})"
        );
    }
    if bytes.len() < header {
        bail!(
            "{name}: truncated at byte offset {}: the idx header has {header} bytes",
            bytes.len()
        );
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    // Checked: a crafted header (e.g. 2^16 × 2^24 × 2^24) would wrap to a size the file
    // matches, and the tensor view of its bytes would then fail.
    let Some(want) = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) else {
        bail!(
            "{name}: the header's dimensions {dims:?} (from byte offset 4) multiply to more \
             bytes than any file holds (the file is damaged or not an {what} file)"
        );
    };
    let record: usize = dims[1..].iter().product();
    let have = bytes.len() - header;
    if have < want {
        bail!(
            "{name}: truncated at byte offset {}: the header promises {} records of {record} \
             bytes from byte offset {header}, record {} is incomplete",
            bytes.len(),
            dims[0],
            have / record.max(1)
        );
    }
    if have > want {
        bail!(
            "{name}: {} unexpected bytes after the last of {} records (from byte offset {})",
            have - want,
            dims[0],
            header + want
        );
    }
    bytes.drain(..header);
    Ok((dims, bytes))
}

/// Images `(N, 1, H, W)` and labels of an idx3-ubyte / idx1-ubyte pair (module doc).
pub fn load(images: &Path, labels: &Path) -> Result<ImageSet> {
    let (dims, pixels) = read_idx(images, 3, "idx3-ubyte image")?;
    let (ldims, label_bytes) = read_idx(labels, 1, "idx1-ubyte label")?;
    if dims[0] != ldims[0] {
        bail!(
            "{} holds {} images but {} holds {} labels (the counts at byte offset 4 differ)",
            images.display(),
            dims[0],
            labels.display(),
            ldims[0]
        );
    }
    check_labels(labels, &label_bytes, CLASSES, 8, 1)?;
    let shape = [dims[0] as i64, 1, dims[1] as i64, dims[2] as i64];
    Ok(ImageSet::from_bytes(&pixels, shape, &label_bytes, CLASSES))
}
