//! Input files a config names are checked before any run or study folder is made
//! (`Experiment::check_inputs`): a study whose every run would fail on the same missing, empty
//! or unreadable file is refused up front with exit 2, naming the study cell and the key, and
//! writes nothing. `--print-config` still prints such a config. So is a grng `data.eval_tokens`
//! over what the task's val split holds.
use crate::common::{code, lab, stderr, stdout, text};
use std::path::Path;

/// `lab <args> --out out` in `dir`: exit 2, stderr holds every one of `needles`, and `out` was
/// not made.
fn refused(dir: &Path, args: &[&str], needles: &[&str]) {
    let o = lab(dir, &[args, &["--out", "out"]].concat());
    assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
    for n in needles {
        assert!(
            stderr(&o).contains(n),
            "{args:?}: no `{n}` in {}",
            stderr(&o)
        );
    }
    assert!(!dir.join("out").exists(), "{args:?} made its folder");
}

#[test]
fn an_entropy_study_on_a_bad_corpus_file_is_refused_before_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("empty.txt"), "").unwrap();
    std::fs::write(dir.join("bad.txt"), b"ab\xffcd").unwrap();
    std::fs::create_dir(dir.join("folder")).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(dir.join("fifo"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let smoke = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/entropy-probe/smoke.yaml");
    let smoke = smoke.to_str().unwrap();
    let cell = "study cell `model.preset=bigram,condition=plain`: data.corpus: ";
    for (path, why) in [
        ("nosuch.txt", "corpus file nosuch.txt not found"),
        ("empty.txt", "corpus file empty.txt is empty"),
        ("bad.txt", "is not UTF-8: invalid byte at offset 2"),
        ("folder", "cannot read corpus file folder"),
        // A FIFO would block the read forever, /dev/zero fill memory.
        ("fifo", "cannot read corpus file fifo: not a regular file"),
        ("/dev/zero", "/dev/zero: not a regular file"),
    ] {
        let set = format!("data.corpus.path={path}");
        let args = [
            "entropy-probe",
            "--config",
            smoke,
            "--set",
            "data.corpus.kind=file",
            "--set",
            &set,
        ];
        refused(dir, &args, &[cell, why]);
        if path == "nosuch.txt" {
            let o = lab(dir, &[&args[..], &["--print-config"]].concat());
            assert_eq!(code(&o), 0, "{}", text(&o));
            assert!(stdout(&o).contains("path: nosuch.txt"), "{}", stdout(&o));
        }
    }
    // A wrong digest, and a single run (no study): the same check, before its folder.
    let sha = format!("data.corpus.sha256={}", "0".repeat(64));
    let args = [
        "entropy-probe",
        "--set",
        "data.corpus.kind=file",
        "--set",
        "data.corpus.path=bad.txt",
        "--set",
        &sha,
    ];
    refused(
        dir,
        &args,
        &["data.corpus: corpus file bad.txt: sha256 is "],
    );
}

#[test]
fn a_grng_study_without_its_data_files_is_refused_before_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("mnist")).unwrap();
    let mnist = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/grng/mnist.yaml");
    let args = [
        "grng",
        "--config",
        mnist.to_str().unwrap(),
        "--set",
        "data.mnist_dir=mnist",
    ];
    let missing = "data.mnist_dir: mnist/train-images-idx3-ubyte is missing";
    refused(dir, &args, &["study cell `task=mlp-mnist,", missing]);

    let fortunes = ["grng", "--set", "task=charlm-fortunes"];
    let nowhere = [&fortunes[..], &["--set", "data.fortunes_dir=nowhere"]].concat();
    refused(
        dir,
        &nowhere,
        &["data.fortunes_dir: fortunes directory nowhere"],
    );
    std::fs::write(dir.join("digits.csv"), "not,a,digits,file\n").unwrap();
    let digits = ["grng", "--set", "data.digits_file=digits.csv"];
    refused(dir, &digits, &["data.digits_file: "]);
    // One image cannot be split into train and test (it failed at run time, naming no file).
    let row = format!("{}3\n", "0,".repeat(64));
    std::fs::write(dir.join("one.csv"), row).unwrap();
    let one = ["grng", "--set", "data.digits_file=one.csv"];
    refused(
        dir,
        &one,
        &["data.digits_file: one.csv has 1 image(s); the train/test split needs at least 2"],
    );
    let cifar = ["grng", "--set", "task=cnn-cifar10"];
    refused(dir, &cifar, &["task cnn-cifar10 needs data.cifar_dir"]);
}

/// `data.eval_tokens` over what the char LM's val split holds (20000 chars of grammar: a
/// 1000-char val split, 62 windows of 16) is refused before the run, naming the largest
/// allowed; before, the run scored 992 tokens in silence. 992 itself runs.
#[test]
fn grng_eval_tokens_over_the_val_split_is_refused_before_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let lm = |tokens: &str| {
        [
            "grng",
            "--quiet",
            "--set",
            "task=charlm-grammar",
            "--set",
            "data.grammar_len=20000",
            "--set",
            "data.seq_len=16",
            "--set",
            "train.steps=2",
            "--set",
            "train.batch=4",
            "--set",
            &format!("data.eval_tokens={tokens}"),
        ]
        .map(String::from)
    };
    let over = lm("993");
    let over: Vec<&str> = over.iter().map(String::as_str).collect();
    refused(
        dir,
        &over,
        &[
            "data.eval_tokens: 993 is more than the val split of task charlm-grammar holds: at \
           most 992 (62 windows of data.seq_len 16 in its 1000 chars)",
        ],
    );
    let most = lm("992");
    let most: Vec<&str> = most.iter().map(String::as_str).collect();
    let o = lab(dir, &[&most[..], &["--out", "most"]].concat());
    assert_eq!(code(&o), 0, "{}", text(&o));
}
