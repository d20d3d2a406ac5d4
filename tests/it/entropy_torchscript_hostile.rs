//! `task: probe` of a TorchScript module that misbehaves: logits that are NaN, +inf or -inf for
//! every token, of an int, bool or sparse kind, a module that fails on some inputs, a context
//! too long to allocate. Each is an exit-2 error naming the module (and the run folder is gone),
//! never a panic, a NaN row or a silent cast. The modules are traced here with tch (ids (2, 5)
//! int64 in), so the tests need no Python; float16 and float64 logits are accepted.
use crate::common::*;
use crate::entropy_probe_unread::lab_sections;
use std::path::{Path, PathBuf};
use tch::{CModule, Device, Kind, Tensor};

/// Trace `f` (ids `(B, T)` int64 → output) into `dir/name.pt`.
fn traced(dir: &Path, name: &str, f: impl Fn(&Tensor) -> Tensor) -> PathBuf {
    let _guard = torch_lock();
    let ids = Tensor::zeros([2, 5], (Kind::Int64, Device::Cpu));
    let module = tch::no_grad(|| {
        CModule::create_by_tracing(name, "forward", &[ids], &mut |x| vec![f(&x[0])])
    })
    .unwrap();
    let path = dir.join(format!("{name}.pt"));
    module.save(&path).unwrap();
    path
}

/// Float logits `(B, T, 16)` from ids `(B, T)`: the id (as float) at every token, times `scale`.
fn logits(ids: &Tensor, scale: f64) -> Tensor {
    ids.to_kind(Kind::Float).unsqueeze(-1).repeat([1, 1, 16]) * scale
}

/// A probe of `module` (vocabulary: the smoke corpus's 16 chars) into `dir/out`.
fn probe(dir: &Path, module: &Path, extra: &[&str], out: &str) -> std::process::Output {
    let vocab = dir.join("vocab.json");
    let letters: Vec<String> = ('a'..='p').map(String::from).collect();
    std::fs::write(&vocab, serde_json::to_string(&letters).unwrap()).unwrap();
    let sets = [
        "task=probe".to_string(),
        format!("checkpoint.torchscript={}", module.display()),
        format!("checkpoint.vocab={}", vocab.display()),
        "eval.samples=2".into(),
        "eval.final_samples=2".into(),
        "eval.greedy_samples=1".into(),
        "eval.final_len=20".into(),
    ];
    let mut sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    sets.extend_from_slice(extra);
    lab_sections(dir, &["data", "eval"], &sets, Some(out))
}

/// A probe of `module` (its output folder named after it) is exit 2 naming the option and the
/// module, with each of `needles` in stderr, and leaves no folder.
fn refused(dir: &Path, module: &Path, needles: &[&str]) {
    let name = module.file_stem().unwrap().to_str().unwrap();
    let o = probe(dir, module, &[], name);
    let all = [&["checkpoint.torchscript", name][..], needles].concat();
    assert_refused(&o, name, &all, &dir.join(name));
}

#[test]
fn non_finite_logits_are_refused_naming_the_module_not_written_as_a_row() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let nan = traced(d, "nan", |x| logits(x, f64::NAN));
    let inf = traced(d, "posinf", |x| logits(x, 0.0) + f64::INFINITY);
    let none = traced(d, "allneginf", |x| logits(x, 0.0) - f64::INFINITY);
    // NaN only where an id is below 5 (the square root of a negative): mid-run, not at load.
    let some = traced(d, "somenan", |x| {
        (x - 5)
            .to_kind(Kind::Float)
            .sqrt()
            .unsqueeze(-1)
            .repeat([1, 1, 16])
    });
    for (module, what) in [
        (&nan, "NaN or +inf"),
        (&inf, "NaN or +inf"),
        (&none, "-inf for every token"),
        (&some, "NaN or +inf"),
    ] {
        refused(d, module, &[what, "finite logits"]);
    }
}

#[test]
fn logits_that_are_not_dense_floats_are_refused_and_half_and_double_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let int = traced(d, "int", |x| x.unsqueeze(-1).repeat([1, 1, 16]));
    let boolean = traced(d, "bool", |x| x.unsqueeze(-1).repeat([1, 1, 16]).gt(3));
    let sparse = traced(d, "sparse", |x| {
        logits(x, 1.0).to_sparse(None, None::<i64>, None)
    });
    for (module, what) in [
        (&int, "dtype Int64"),
        (&boolean, "dtype Bool"),
        (&sparse, "a sparse tensor"),
    ] {
        refused(d, module, &[what, "dense float logits"]);
    }
    let mut rows = Vec::new();
    for (name, kind) in [
        ("f16", Kind::Half),
        ("f32", Kind::Float),
        ("f64", Kind::Double),
    ] {
        let module = traced(d, name, |x| {
            (logits(x, 0.0) + Tensor::from_slice(&[0.5f32; 16])).to_kind(kind)
        });
        let o = probe(d, &module, &[], name);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        let (header, row) = read_csv(&d.join(name).join("metrics.csv"));
        rows.push(row[0][col(&header, "tf_entropy_val")].clone());
    }
    let h: Vec<f64> = rows.iter().map(|c| c.parse().unwrap()).collect();
    // Uniform logits: ln 16 whatever the float kind they came in.
    for v in h {
        assert!((v - 16f64.ln()).abs() < 1e-6, "{rows:?}");
    }
}

#[test]
fn a_module_that_fails_says_why_in_its_own_words() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Traced at (2, 5) with the shape baked into a reshape: any other shape fails in it.
    let fixed = traced(d, "fixed", |x| logits(&x.reshape([2, 5]), 1.0));
    let o = probe(d, &fixed, &[], "fixed");
    let needles = [
        "fixed.pt failed on ids of shape",
        "is invalid for input of size",
    ];
    assert_refused(&o, "fixed", &needles, &d.join("fixed"));
}

#[test]
fn a_fixed_width_context_too_long_to_allocate_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let module = traced(d, "plain", |x| logits(x, 1.0));
    for context in ["1000000000000", "268435457"] {
        let sets = [
            format!("checkpoint.context={context}"),
            "checkpoint.fixed_width=true".into(),
        ];
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let out = format!("c{context}");
        let o = probe(d, &module, &sets, &out);
        let needles = ["checkpoint.context", "checkpoint.fixed_width", context];
        assert_refused(&o, context, &needles, &d.join(&out));
    }
}

#[test]
fn a_word_vocabulary_that_makes_the_corpus_one_token_is_named_with_the_split_it_left() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let module = traced(d, "two", |x| {
        x.to_kind(Kind::Float).unsqueeze(-1).repeat([1, 1, 2])
    });
    let (corpus, vocab) = (d.join("nospace.txt"), d.join("words.json"));
    std::fs::write(&corpus, "abababababab").unwrap();
    std::fs::write(&vocab, r#"["abababababab", "<unk>"]"#).unwrap();
    let sets = [
        "task=probe".to_string(),
        format!("checkpoint.torchscript={}", module.display()),
        format!("checkpoint.vocab={}", vocab.display()),
        format!("data.corpus={{kind: file, path: {}}}", corpus.display()),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let o = lab_sections(d, &["data", "eval"], &sets, Some("one"));
    let needles = [
        "checkpoint.vocab",
        "words.json, a word vocabulary, 1 tokens in all",
        "the val split has",
    ];
    assert_refused(&o, "one-token corpus", &needles, &d.join("one"));
}
