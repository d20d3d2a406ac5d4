//! MNIST idx and CIFAR-10 binary loaders on small files written here: round trip of pixels and
//! labels, and every error case named with its file and byte offset.
use lab::data::{cifar, idx};
use std::path::{Path, PathBuf};
use tch::Kind;

fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = magic.to_be_bytes().to_vec();
    dims.iter().for_each(|d| b.extend(d.to_be_bytes()));
    b.extend_from_slice(data);
    b
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn err(r: anyhow::Result<idx::ImageSet>) -> String {
    format!("{:#}", r.unwrap_err())
}

/// Three 2×3 images with distinct bytes (0 and 255 included) and labels 0, 9, 4.
fn mnist_files(dir: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let pixels: Vec<u8> = (0..18u32).map(|i| (i * 15) as u8).collect();
    let images = write(dir, "img", &idx_bytes(0x803, &[3, 2, 3], &pixels));
    let labels = write(dir, "lab", &idx_bytes(0x801, &[3], &[0, 9, 4]));
    (images, labels, pixels)
}

#[test]
fn idx_round_trip_gives_nchw_floats_in_unit_range_and_i64_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels, pixels) = mnist_files(dir.path());
    let set = idx::load(&images, &labels).unwrap();
    assert_eq!(set.images.size(), [3, 1, 2, 3]);
    assert_eq!(
        (set.images.kind(), set.labels.kind()),
        (Kind::Float, Kind::Int64)
    );
    assert_eq!((set.len(), set.classes), (3, 10));
    let got = Vec::<f32>::try_from(set.images.flatten(0, -1)).unwrap();
    let want: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    assert_eq!(got, want);
    assert_eq!((got[17], got[0], got[1]), (1.0, 0.0, 15.0 / 255.0));
    assert_eq!(Vec::<i64>::try_from(&set.labels).unwrap(), [0, 9, 4]);
}

#[test]
fn idx_errors_name_the_file_and_the_byte_offset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (images, labels, pixels) = mnist_files(d);
    // Bad magic: a label file given as images.
    let e = err(idx::load(&labels, &labels));
    assert!(
        e.contains("lab") && e.contains("bad magic 0x00000801 at byte offset 0"),
        "{e}"
    );
    // Truncated: the last byte of image 2 is missing.
    let short = write(d, "short", &idx_bytes(0x803, &[3, 2, 3], &pixels[..17]));
    let e = err(idx::load(&short, &labels));
    assert!(
        e.contains("short") && e.contains("truncated at byte offset 33") && e.contains("record 2"),
        "{e}"
    );
    let tiny = write(d, "tiny", &[0, 0, 8, 3, 0, 0]);
    assert!(err(idx::load(&tiny, &labels)).contains("truncated at byte offset 6"));
    // Extra bytes after the last record.
    let long = write(d, "long", &idx_bytes(0x801, &[3], &[0, 1, 2, 3]));
    let e = err(idx::load(&images, &long));
    assert!(
        e.contains("long") && e.contains("1 unexpected bytes") && e.contains("byte offset 11"),
        "{e}"
    );
    // Label out of range: record 1, byte offset 8 + 1.
    let bad = write(d, "bad", &idx_bytes(0x801, &[3], &[0, 10, 4]));
    let e = err(idx::load(&images, &bad));
    assert!(
        e.contains("bad")
            && e.contains("label 10 of record 1 (byte offset 9)")
            && e.contains("0..=9"),
        "{e}"
    );
    // Count mismatch.
    let two = write(d, "two", &idx_bytes(0x801, &[2], &[0, 1]));
    let e = err(idx::load(&images, &two));
    assert!(
        e.contains("img")
            && e.contains("holds 3 images")
            && e.contains("two")
            && e.contains("2 labels"),
        "{e}"
    );
    // Gzip and missing files.
    let gz = write(d, "img.gz", &[0x1f, 0x8b, 8, 0, 0, 0]);
    let e = err(idx::load(&gz, &labels));
    assert!(
        e.contains("img.gz") && e.contains("gzip") && e.contains("gunzip"),
        "{e}"
    );
    let e = err(idx::load(&d.join("nope"), &labels));
    assert!(e.contains("nope"), "{e}");
}

/// A CIFAR record: label then the 3 planes, pixel (c, i, j) = (7r + 3c + i + 5j) mod 256.
fn record(r: usize, label: u8) -> Vec<u8> {
    let mut rec = vec![label];
    for c in 0..3 {
        for i in 0..32 {
            for j in 0..32 {
                rec.push(((7 * r + 3 * c + i + 5 * j) % 256) as u8);
            }
        }
    }
    rec
}

#[test]
fn cifar_round_trip_over_several_files_keeps_order_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = write(
        d,
        "data_batch_1.bin",
        &[record(0, 3), record(1, 9)].concat(),
    );
    let b = write(d, "data_batch_2.bin", &record(2, 0));
    let set = cifar::load(&[a, b]).unwrap();
    assert_eq!(set.images.size(), [3, 3, 32, 32]);
    assert_eq!(Vec::<i64>::try_from(&set.labels).unwrap(), [3, 9, 0]);
    let got = Vec::<f32>::try_from(set.images.flatten(0, -1)).unwrap();
    let want: Vec<f32> = (0..3)
        .flat_map(|r| record(r, 0)[1..].to_vec())
        .map(|p| p as f32 / 255.0)
        .collect();
    assert_eq!(got, want);
    // Spot check the layout: record 1, green plane, row 2, column 3.
    let v = set.images.double_value(&[1, 1, 2, 3]);
    assert!((v - ((7 + 3 + 2 + 15) as f64 / 255.0)).abs() < 1e-7);
    assert_eq!(cifar::train_files(d)[4], d.join("data_batch_5.bin"));
    assert_eq!(cifar::test_files(d), [d.join("test_batch.bin")]);
}

#[test]
fn cifar_errors_name_the_file_record_and_byte_offset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let two = [record(0, 1), record(1, 2)].concat();
    let short = write(d, "short.bin", &two[..two.len() - 5]);
    let e = err(cifar::load(&[short]));
    assert!(
        e.contains("short.bin") && e.contains("record 1 (from byte offset 3073) is incomplete"),
        "{e}"
    );
    let bad = write(d, "bad.bin", &[record(0, 1), record(1, 10)].concat());
    let e = err(cifar::load(&[bad]));
    assert!(
        e.contains("bad.bin") && e.contains("label 10 of record 1 (byte offset 3073)"),
        "{e}"
    );
    let empty = write(d, "empty.bin", &[]);
    assert!(err(cifar::load(&[empty])).contains("empty.bin"));
    let good = write(d, "good.bin", &record(0, 1));
    let e = err(cifar::load(&[good, d.join("missing.bin")]));
    assert!(e.contains("missing.bin"), "{e}");
    assert!(err(cifar::load(&[])).contains("no CIFAR-10"));
}
