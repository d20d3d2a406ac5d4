//! Task `cnn-cifar10` (configs/grng/cifar10-gpu.yaml) on small files in CIFAR-10's binary
//! format: it trains, and a missing `data.cifar_dir` or file exits 2 naming what is needed.
use crate::common::*;
use std::path::Path;

/// `records` CIFAR-10 records (label byte + 3072 pixel bytes) with a fixed pattern.
fn write_batch(path: &Path, records: usize, salt: usize) {
    let mut bytes = Vec::new();
    for r in 0..records {
        bytes.push(((r + salt) % 10) as u8);
        bytes.extend((0..3072).map(|i| ((i * 7 + r * 13 + salt) % 256) as u8));
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn cifar_task_trains_on_binary_files_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cifar");
    std::fs::create_dir(&data).unwrap();
    for i in 1..=5 {
        write_batch(&data.join(format!("data_batch_{i}.bin")), 8, i);
    }
    write_batch(&data.join("test_batch.bin"), 6, 0);
    let cifar_dir = format!("data.cifar_dir={}", data.display());
    let run =
        |out: &str, extra: &[&str]| grng(dir.path(), out, &[&["task=cnn-cifar10"], extra].concat());
    let o = run(
        "ok",
        &[
            &cifar_dir,
            "train.steps=3",
            "train.batch=8",
            "train.probe_size=8",
            "train.epochs=1",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (h, rows) = read_csv(&dir.path().join("ok/steps.csv"));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][col(&h, "model")], "cnn");
    let (h, rows) = read_csv(&dir.path().join("ok/epochs.csv"));
    let acc: f64 = rows[0][col(&h, "test_acc")].parse().unwrap();
    assert!((0.0..=1.0).contains(&acc));

    let o = run("no-key", &["train.steps=1"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains("needs data.cifar_dir"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_file(data.join("test_batch.bin")).unwrap();
    let o = run("no-file", &[&cifar_dir, "train.steps=1"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains("test_batch.bin is missing"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("no-file").exists(), "nothing written");
}
