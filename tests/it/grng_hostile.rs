//! Hostile input to `lab grng`: sizes that used to abort the process (allocation failure) or
//! wrap to an empty budget, a target accuracy that can never be reached, an idx header whose
//! dimensions overflow, a digits file that is a device or a gzip bomb, a fortunes file that is
//! not UTF-8 or a fortunes text too short to split (refused before a study starts), a
//! checkpoint whose trainer.json is not an object or has impossible counters, resuming under
//! another seed, a batch or probe set larger than the training set, and keys the task does not
//! read are exit-2 usage errors naming the key or file, with no run folder left; a non-finite
//! evaluation loss is recorded as divergence, like a step's.
use crate::common::*;
use std::path::Path;

/// `sets` on configs/grng/smoke.yaml (`smoke`) or the defaults: exit 2, each of `needles` in
/// stderr, no panic or abort, no `out` folder.
fn refused(dir: &Path, smoke: bool, sets: &[&str], needles: &[&str]) {
    let o = match smoke {
        true => grng_smoke(dir, "out", sets),
        false => grng(dir, "out", sets),
    };
    assert_refused(&o, &format!("{sets:?}"), needles, &dir.join("out"));
}

#[test]
fn grng_huge_sizes_are_usage_errors_not_aborts() {
    let tmp = tempfile::tempdir().unwrap();
    let lm = "task=charlm-grammar";
    let entries = "activation entries at once";
    let cases: [(&[&str], &[&str]); 6] = [
        (&[lm, "train.batch=100000000000"], &["train.batch", entries]),
        (
            &[lm, "train.probe_size=100000000000"],
            &["train.probe_size", entries],
        ),
        (
            &[
                lm,
                "train.batch=1",
                "train.probe_size=1",
                "data.seq_len=5000",
            ],
            &["data.seq_len", "(one evaluation chunk)", entries],
        ),
        (
            &[lm, "data.grammar_len=100000000000000"],
            &["data.grammar_len", "must be at most 1073741824 characters"],
        ),
        (
            &["data.shapes_train=100000000000000"],
            &["data.shapes_train", "must be at most 1048576 images"],
        ),
        (
            &["data.shapes_test=100000000000000"],
            &["data.shapes_test", "must be at most 1048576 images"],
        ),
    ];
    for (sets, needles) in cases {
        refused(tmp.path(), true, sets, needles);
    }
    let toy = "task=twolayer-toy";
    let sizes = "within the toy's sizes";
    refused(tmp.path(), false, &[toy, "toy.n=100000"], &["toy.n", sizes]);
    refused(
        tmp.path(),
        false,
        &[toy, "toy.width=100000000000"],
        &["toy.width", sizes, "n 16 x width 100000000000 x d 8"],
    );
    refused(
        tmp.path(),
        false,
        &[toy, "toy.targets=teacher", "toy.teacher_width=100000000000"],
        &["toy.teacher_width", sizes],
    );
}

#[test]
fn grng_a_huge_epoch_count_does_not_wrap_to_an_empty_run() {
    let tmp = tempfile::tempdir().unwrap();
    // shapes-smoke has 16 batches per epoch: 2^60 epochs x 16 wrapped to a budget of 0 steps,
    // a run that "completed" without training.
    let o = grng_smoke(
        tmp.path(),
        "out",
        &["train.epochs=1152921504606846976", "train.steps=3"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (_, rows) = read_csv(&tmp.path().join("out/steps.csv"));
    assert_eq!(rows.len(), 3, "the train.steps cap, not 0 steps");
}

#[test]
fn grng_a_target_accuracy_above_one_is_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    refused(
        tmp.path(),
        true,
        &["train.target=95"],
        &["train.target", "a fraction in (0, 1], got 95"],
    );
}

#[test]
fn grng_a_batch_or_probe_set_larger_than_the_training_set_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // shapes-smoke has 512 training images; before, 513 silently became the whole set.
    for key in ["train.batch", "train.probe_size"] {
        let set = format!("{key}=513");
        let needles =
            [set.replace('=', " is ").as_str(), "512 training examples"].map(String::from);
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        refused(tmp.path(), true, &[&set], &needles);
    }
    let o = grng_smoke(tmp.path(), "fits", &["train.batch=512", "train.steps=2"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

/// An idx file with `dims` in its header (magic 0x0800 + dims.len()) and `data` after it.
fn idx(path: &Path, dims: &[u32], data: &[u8]) {
    let magic = 0x800 + dims.len() as u32;
    let mut bytes: Vec<u8> = std::iter::once(magic)
        .chain(dims.iter().copied())
        .flat_map(|v| v.to_be_bytes())
        .collect();
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn grng_an_idx_header_whose_size_overflows_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("mnist");
    std::fs::create_dir(&data).unwrap();
    // 2^16 x 2^24 x 2^24 bytes wrapped to 0 in 64 bits, which the empty file "matched".
    let n = 1u32 << 16;
    idx(
        &data.join("train-images-idx3-ubyte"),
        &[n, 1 << 24, 1 << 24],
        &[],
    );
    idx(
        &data.join("train-labels-idx1-ubyte"),
        &[n],
        &vec![0; n as usize],
    );
    idx(
        &data.join("t10k-images-idx3-ubyte"),
        &[1, 28, 28],
        &[0; 784],
    );
    idx(&data.join("t10k-labels-idx1-ubyte"), &[1], &[0]);
    let dir = format!("data.mnist_dir={}", data.display());
    refused(
        tmp.path(),
        false,
        &["task=mlp-mnist", &dir],
        &[
            "data.mnist_dir",
            "train-images-idx3-ubyte",
            "multiply to more bytes",
        ],
    );
}

/// `lab grng --resume stopped` with its checkpoint's trainer.json replaced by `edit` of it (put
/// back after): exit 2, no `out` folder; returns stderr.
fn resume_with(dir: &Path, stopped: &Path, out: &str, edit: impl Fn(&str) -> String) -> String {
    let path = stopped.join("checkpoint/trainer.json");
    let whole = read(&path);
    std::fs::write(&path, edit(&whole)).unwrap();
    let arg = stopped.to_str().unwrap();
    let o = lab(dir, &["grng", "--quiet", "--resume", arg, "--out", out]);
    std::fs::write(&path, whole).unwrap();
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(!dir.join(out).exists(), "{out}: nothing written");
    stderr(&o)
}

#[test]
fn grng_resume_refuses_a_damaged_trainer_json_or_another_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = grng_smoke(d, "stopped", &["train.stop_after=2"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let stopped = d.join("stopped");
    let err = resume_with(d, &stopped, "r1", |_| "[1, 2]".into());
    assert!(err.contains("not a JSON object"), "{err}");
    let counters = "do not fit (epochs count from 1";
    for (from, to) in [
        ("\"epoch\": 1,", "\"epoch\": 0,"),
        ("\"epoch_start_step\": 0,", "\"epoch_start_step\": 7,"),
    ] {
        let err = resume_with(d, &stopped, "r2", |t| {
            assert!(t.contains(from), "{from} in {t}");
            t.replace(from, to)
        });
        assert!(
            err.contains("trainer.json is damaged") && err.contains(counters),
            "{err}"
        );
    }
    // Another seed would label the old seed's weights and rows as its own.
    let arg = stopped.to_str().unwrap();
    let args = [
        "grng", "--quiet", "--resume", arg, "--out", "r3", "--set", "seed=5",
    ];
    let o = lab(d, &args);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let want = "checkpoint is of seed 0, config asks for seed 5";
    assert!(stderr(&o).contains(want), "{}", stderr(&o));
    assert!(!d.join("r3").exists(), "nothing written");
}

#[test]
fn grng_a_fortunes_file_that_is_not_utf8_is_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fortunes");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a"), "plenty of text\n%\n".repeat(50)).unwrap();
    std::fs::write(dir.join("b"), b"abc\xff\xfedef\n").unwrap();
    let set = format!("data.fortunes_dir={}", dir.display());
    refused(
        tmp.path(),
        true,
        &["task=charlm-fortunes", &set],
        &[
            "data.fortunes_dir",
            "b is not UTF-8: invalid byte at offset 3",
        ],
    );
}

#[test]
fn grng_a_non_finite_evaluation_loss_is_divergence_not_a_failed_run() {
    let tmp = tempfile::tempdir().unwrap();
    // One finite SGD step of lr 1e38 leaves weights whose evaluation loss overflows: the run
    // used to stop with exit 1 ("non-finite value (inf) in column `train_loss`"), no summary.
    let sets = ["optimizer.kind=sgd", "optimizer.lr=1e38", "train.steps=1"];
    let o = grng_smoke(tmp.path(), "out", &[&sets[..], &["assert=null"]].concat());
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        stderr(&o).contains("diverged at step 1 (a non-finite evaluation loss)"),
        "{}",
        stderr(&o)
    );
    let summary = json(&tmp.path().join("out/summary.json"));
    assert_eq!(summary["diverged"], true, "{summary}");
    assert!(summary["final_test_loss"].is_null(), "{summary}");
    let (h, rows) = read_csv(&tmp.path().join("out/epochs.csv"));
    assert_eq!(rows[0][col(&h, "train_loss")], "", "an empty cell, not inf");
    // The smoke config's `assert: {finite: true}` makes it a failure naming the check.
    let o = grng_smoke(tmp.path(), "asserted", &sets);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        stderr(&o).contains("assert.finite failed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn grng_a_digits_file_that_is_a_device_or_a_gzip_bomb_is_refused() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    // /dev/zero was read until memory ran out, a FIFO blocked the read forever.
    refused(
        tmp.path(),
        false,
        &["data.digits_file=/dev/null"],
        &["data.digits_file", "/dev/null: not a regular file"],
    );
    // 64 MiB + 1 zeros in some 64 kB of gzip.
    let path = tmp.path().join("bomb.csv.gz");
    let file = std::fs::File::create(&path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let chunk = vec![b'0'; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&chunk).unwrap();
    }
    gz.write_all(b"0").unwrap();
    gz.finish().unwrap();
    let set = format!("data.digits_file={}", path.display());
    refused(
        tmp.path(),
        false,
        &[&set],
        &[
            "data.digits_file",
            "decompresses to more than the 67108864 bytes",
        ],
    );
}

#[test]
fn grng_a_study_on_fortunes_too_short_to_split_is_refused_before_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fortunes");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a"), "a short fortune\n%\n").unwrap();
    let yaml = format!(
        "torch_threads: 1\ntask: charlm-fortunes\ntrain: {{steps: 2}}\n\
         data: {{fortunes_dir: {}}}\nstudy: {{name: s, seeds: [0, 1]}}\n",
        dir.display()
    );
    let cfg = tmp.path().join("study.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let o = lab(
        tmp.path(),
        &[
            "grng",
            "--quiet",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            "out",
        ],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    let want = "the text of task charlm-fortunes is too short";
    assert!(stderr(&o).contains(want), "{}", stderr(&o));
    assert!(
        !tmp.path().join("out").exists(),
        "the study made its folder"
    );
}

/// A key the task does not read is refused, not ignored: data of another task, epochs for a
/// language model (it counts steps), the MLPs' activation for a CNN, toy keys outside the toy
/// and network keys inside it. Null takes the task's own value and is never refused.
#[test]
fn grng_keys_the_task_does_not_read_are_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (lm, toy) = ("task=charlm-grammar", "task=twolayer-toy");
    let lm_only = "tasks charlm-fortunes, charlm-grammar, but task is mlp-digits";
    let cases: [(&[&str], &[&str]); 8] = [
        (&["data.seq_len=128"], &["`data.seq_len`", lm_only]),
        (&["train.eval_every=5"], &["`train.eval_every`", lm_only]),
        (
            &["data.cifar_dir=c"],
            &["`data.cifar_dir`", "task cnn-cifar10,"],
        ),
        (
            &[lm, "train.epochs=3"],
            &["`train.epochs`", "budget is train.steps"],
        ),
        (
            &["task=cnn-digits", "model.activation=relu"],
            &["`model.activation`", "task is cnn-digits"],
        ),
        (&["toy.n=4"], &["`toy.n`", "only read by task twolayer-toy"]),
        (
            &[toy, "optimizer.lr=0.1"],
            &["`optimizer.lr`", "not read by task twolayer-toy"],
        ),
        (
            &[toy, "train.batch=8"],
            &["`train.batch`", "not read by task twolayer-toy"],
        ),
    ];
    for (sets, needles) in cases {
        refused(d, false, sets, needles);
    }
    let o = grng(d, "lm", &[lm, "train.epochs=null", "train.steps=2"]);
    assert_eq!(code(&o), 0, "null is the task's own value: {}", text(&o));
    let o = grng(d, "toy", &[toy, "toy.steps=2", "toy.width=16"]);
    assert_eq!(code(&o), 0, "the toy's own keys: {}", text(&o));
}
