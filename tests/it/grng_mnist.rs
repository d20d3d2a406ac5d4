//! Tasks `mlp-mnist` and `cnn-mnist` on small files in MNIST's idx format (issue 13, item 2:
//! loaders for users who have the files): both train, the MLP learns a separable pattern, and
//! a missing key, a missing or still-gzipped file and images of another size exit 2 naming
//! what is needed, writing nothing.
use crate::common::*;
use std::path::Path;

/// `n` images of `side`×`side` whose class `k = i % 10` lights row band `k` (rows 2k, 2k+1)
/// over a fixed low-level texture, and their labels, as `<prefix>-images-idx3-ubyte` and
/// `<prefix>-labels-idx1-ubyte`.
fn write_set(dir: &Path, prefix: &str, n: u32, side: u32) {
    let mut images = [0x803u32, n, side, side]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<u8>>();
    let mut labels = [0x801u32, n]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect::<Vec<u8>>();
    for i in 0..n {
        let k = i % 10;
        labels.push(k as u8);
        for r in 0..side {
            for c in 0..side {
                let lit = r / 2 == k;
                images.push(if lit {
                    255
                } else {
                    ((r * 7 + c * 13 + i) % 40) as u8
                });
            }
        }
    }
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
}

fn run(dir: &Path, out: &str, task: &str, extra: &[&str]) -> std::process::Output {
    let task = format!("task={task}");
    grng(dir, out, &[&[task.as_str()], extra].concat())
}

#[test]
fn mnist_tasks_train_on_idx_files_and_name_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("mnist");
    std::fs::create_dir(&data).unwrap();
    write_set(&data, "train", 200, 28);
    write_set(&data, "t10k", 50, 28);
    let key = format!("data.mnist_dir={}", data.display());
    let small = ["train.batch=20", "train.probe_size=20"];
    for (task, model, epochs) in [("mlp-mnist", "mlp", "6"), ("cnn-mnist", "cnn", "1")] {
        let epochs = format!("train.epochs={epochs}");
        let mut sets = vec![key.as_str(), epochs.as_str(), "optimizer.lr=0.01"];
        sets.extend(small);
        let o = run(tmp.path(), task, task, &sets);
        assert_eq!(code(&o), 0, "{task}: {}", text(&o));
        let (h, rows) = read_csv(&tmp.path().join(format!("{task}/steps.csv")));
        assert_eq!(rows[0][col(&h, "model")], model, "{task}");
        assert_eq!(rows[0][col(&h, "task")], task);
        let summary = json(&tmp.path().join(format!("{task}/summary.json")));
        let acc = summary["final_test_acc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{task}: {acc}");
        if task == "mlp-mnist" {
            // One lit row band per class: an MLP separates the 10 classes in 60 steps.
            assert!(acc >= 0.9, "mlp-mnist learned only {acc}");
        }
    }

    let o = run(tmp.path(), "no-key", "cnn-mnist", &small);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        stderr(&o).contains("task cnn-mnist needs data.mnist_dir"),
        "{}",
        stderr(&o)
    );

    let labels = data.join("t10k-labels-idx1-ubyte");
    let gz = data.join("t10k-labels-idx1-ubyte.gz");
    std::fs::rename(&labels, &gz).unwrap();
    let o = run(tmp.path(), "gz", "mlp-mnist", &[&key]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    for want in [
        "t10k-labels-idx1-ubyte is missing",
        "t10k-labels-idx1-ubyte.gz: gunzip -k",
    ] {
        assert!(stderr(&o).contains(want), "{want}: {}", stderr(&o));
    }
    std::fs::rename(&gz, &labels).unwrap();

    write_set(&data, "t10k", 50, 8);
    let o = run(tmp.path(), "small-images", "mlp-mnist", &[&key]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(stderr(&o).contains("holds 8×8 images"), "{}", stderr(&o));
    // A set with no records (header N = 0), train or test, names the file (0 train images
    // completed with 0 steps; 0 test images ended in a NaN accuracy).
    for (prefix, out) in [("train", "no-train"), ("t10k", "no-test")] {
        write_set(&data, "t10k", 50, 28);
        write_set(&data, "train", 200, 28);
        write_set(&data, prefix, 0, 28);
        let o = run(tmp.path(), out, "mlp-mnist", &[&key]);
        assert_eq!(code(&o), 2, "{out}: {}", text(&o));
        let want = format!("{prefix}-images-idx3-ubyte holds no images");
        assert!(stderr(&o).contains(&want), "{want}: {}", stderr(&o));
    }
    for out in ["no-key", "gz", "small-images", "no-train", "no-test"] {
        assert!(!tmp.path().join(out).exists(), "{out}: nothing written");
    }
}
