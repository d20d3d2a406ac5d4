//! entropy-probe on corpora too short for the task (spec §2.6, §3.3, §3.6): exit 2 naming the
//! corpus (`data.corpus`, and its file), the key asking for the length and the minimum, no
//! panic and no run folder left. A small corpus file is refused before the folder is made
//! (`check_inputs`); a generated corpus once the task has loaded it (the folder is removed).
use crate::common::{code, lab, stderr, text};
use std::path::Path;

/// `lab entropy-probe --quiet --out out` with `sets` in `dir`: exit 2, every one of `needles`
/// in stderr, no panic, and no `out` left.
fn refused(dir: &Path, sets: &[&str], needles: &[&str]) {
    let mut args = vec!["entropy-probe", "--quiet", "--out", "out"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let o = lab(dir, &args);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{sets:?}: {}", text(&o));
    for n in needles {
        assert!(err.contains(n), "{sets:?}: no `{n}` in {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!dir.join("out").exists(), "{sets:?} left its folder");
}

/// A corpus file `name` of `n` characters cycling through a few letters, in `dir`.
fn corpus(dir: &Path, name: &str, n: usize) {
    let text: String = "abcdefg ".chars().cycle().take(n).collect();
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn theory_on_a_tiny_corpus_names_the_file_the_order_and_the_minimum() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // 30 characters: val = 3 tokens at train_frac 0.9, too few for the default order 12.
    corpus(dir, "tiny.txt", 30);
    let file = [
        "task=theory",
        "data.corpus.kind=file",
        "data.corpus.path=tiny.txt",
    ];
    refused(
        dir,
        &file,
        &[
            "data.corpus (file tiny.txt): the val split has 3 tokens",
            "fewer than the 13 that order k = 12 of theory.orders needs",
            "data.split.train_frac 0.9",
        ],
    );
    // Orders that fit the same file run.
    let o = lab(
        dir,
        &[
            &["entropy-probe", "--quiet", "--out", "fits"][..],
            &["--set", file[0], "--set", file[1], "--set", file[2]],
            &[
                "--set",
                "theory.orders=[0, 1, 2]",
                "--set",
                "theory.toys=false",
            ],
        ]
        .concat(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(dir.join("fits/theory.csv").is_file());
    // One character leaves no val split at all.
    corpus(dir, "one.txt", 1);
    let one = [
        "task=theory",
        "data.corpus.kind=file",
        "data.corpus.path=one.txt",
    ];
    refused(
        dir,
        &one,
        &["data.corpus (file one.txt): the val split has 1 tokens; it needs at least 2"],
    );
    // A generated corpus is checked once loaded, and its folder removed.
    let markov = [
        "task=theory",
        "data.corpus.kind=markov",
        "data.corpus.train_len=50",
        "data.corpus.val_len=5",
    ];
    refused(
        dir,
        &markov,
        &[
            "data.corpus (markov): the val split has 5 tokens",
            "theory.orders",
        ],
    );
}

#[test]
fn train_and_text_on_a_tiny_corpus_name_the_key_that_does_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // 400 characters: train 360 and val 40 tokens.
    corpus(dir, "small.txt", 400);
    let base = [
        "task=train",
        "train.steps=2",
        "data.corpus.kind=file",
        "data.corpus.path=small.txt",
        "data.split.train_tokens=null",
    ];
    let with = |more: &[&'static str]| [&base[..], more].concat();
    let split = "data.corpus (file small.txt): the val split has 40 tokens";
    refused(
        dir,
        &with(&[]),
        &[
            split,
            "the 65 that one window of train.seq_len + 1 = 65 needs",
        ],
    );
    // seq_len fits, but gpt-tiny's block of 64 (the scoring window) does not.
    let short_seq = ["train.seq_len=8"];
    refused(
        dir,
        &with(&short_seq),
        &[split, "one scoring window of model.block_size + 1 = 65"],
    );
    let small_model = ["train.seq_len=8", "model.block_size=32"];
    refused(
        dir,
        &with(&small_model),
        &[
            split,
            "the 288 that eval.prompt_len + max(eval.final_len, eval.sample_len) needs",
        ],
    );
    let short_eval = [
        "train.seq_len=8",
        "model.block_size=32",
        "eval.prompt_len=4",
        "eval.sample_len=8",
        "eval.final_len=8",
        "controller.probe.prompt_len=4",
        "controller.probe.len=400",
    ];
    refused(
        dir,
        &with(&short_eval),
        &[
            "data.corpus (file small.txt): the train split has 360 tokens",
            "the 405 that controller.probe.prompt_len + controller.probe.len + 1 needs",
        ],
    );

    // text: a one-character reference leaves no held-out part.
    corpus(dir, "one.txt", 1);
    std::fs::write(dir.join("samples.txt"), "abc abc\nbca\n").unwrap();
    let text_task = [
        "task=text",
        "text.samples=samples.txt",
        "data.corpus.kind=file",
        "data.corpus.path=one.txt",
    ];
    refused(
        dir,
        &text_task,
        &[
            "data.corpus (file one.txt): 1 characters leave an empty train or held-out part",
            "at data.split.train_frac 0.9, which needs at least 2",
        ],
    );
    // A reference of 10 characters is enough.
    corpus(dir, "ten.txt", 10);
    let o = lab(
        dir,
        &[
            "entropy-probe",
            "--quiet",
            "--out",
            "ten",
            "--set",
            "task=text",
            "--set",
            "text.samples=samples.txt",
            "--set",
            "data.corpus.kind=file",
            "--set",
            "data.corpus.path=ten.txt",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
}
