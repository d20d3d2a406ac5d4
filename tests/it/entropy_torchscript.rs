//! `task: probe` of a TorchScript module (spec §7.1 (b)). The committed fixture
//! (scripts/gen_torchscript_fixture.py) is a bigram LM whose logits after token a are a fixed
//! vector Z shifted cyclically by a, with its vocabulary listed in reverse order: every
//! next-token entropy is H(softmax(Z)) and greedy decoding steps to the next module id, so the
//! entropy columns, top-1 mass, greedy loop and distinct-4 have closed forms, and the greedy
//! text checks lab's id mapping. A lab GPT traced to TorchScript gives the native probe's row.
use crate::common::*;
use crate::entropy_probe_unread::lab_sections;
use crate::entropy_train::run_single;
use std::path::{Path, PathBuf};

const Z: [f64; 16] = [
    1.0, 2.5, 0.5, 0.0, -0.5, -1.0, -1.5, -2.0, -2.5, -3.0, -3.5, -4.0, -4.5, -5.0, -5.5, -6.0,
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/entropy")
        .join(name)
}

fn ts_sets(module: &Path, vocab: &Path) -> Vec<String> {
    vec![
        "task=probe".into(),
        format!("checkpoint.torchscript={}", module.display()),
        format!("checkpoint.vocab={}", vocab.display()),
    ]
}

fn probe(dir: &Path, sets: &[String], out: &str) -> std::process::Output {
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    lab_sections(dir, &["data", "eval"], &sets, Some(out))
}

fn cell(header: &[String], row: &[String], name: &str) -> f64 {
    row[col(header, name)]
        .parse()
        .unwrap_or_else(|_| panic!("`{name}` = {:?}", row[col(header, name)]))
}

#[test]
fn shift_bigram_metrics_have_their_closed_forms() {
    let dir = tempfile::tempdir().unwrap();
    let mut sets = ts_sets(
        &fixture("shift_bigram.pt"),
        &fixture("shift_bigram_vocab.json"),
    );
    sets.extend(["eval.final_len=80".into(), "eval.final_samples=6".into()]);
    sets.extend(["eval.samples=6".into(), "eval.greedy_samples=3".into()]);
    let o = probe(dir.path(), &sets, "ts");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (header, rows) = read_csv(&dir.path().join("ts/metrics.csv"));
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let lse = Z.iter().map(|z| z.exp()).sum::<f64>().ln();
    let p: Vec<f64> = Z.iter().map(|z| (z - lse).exp()).collect();
    let h0: f64 = -p.iter().map(|q| q * q.ln()).sum::<f64>();
    for name in [
        "tf_entropy_val",
        "tf_entropy_train",
        "fr_entropy_t1",
        "fr_entropy_greedy",
    ] {
        let v = cell(&header, row, name);
        assert!((v - h0).abs() < 1e-5, "{name} = {v}, H(softmax(Z)) = {h0}");
    }
    let top1 = cell(&header, row, "top1_mass_fr");
    assert!(
        (top1 - p[1]).abs() < 1e-5,
        "top1_mass_fr {top1} vs {}",
        p[1]
    );
    // 6 x 80 sampled tokens: the mean -ln p of the sampled token is h0 within 4 standard errors.
    let var = p.iter().map(|q| q * (q.ln() + h0).powi(2)).sum::<f64>();
    let nll = cell(&header, row, "fr_nll_t1");
    assert!(
        (nll - h0).abs() < 4.0 * (var / 480.0).sqrt(),
        "fr_nll_t1 {nll}"
    );
    // Greedy: the 16-cycle, so every sample loops with period 16 and all greedy samples
    // together hold the 16 4-grams of the cycle among 3 x 77.
    assert_eq!(cell(&header, row, "loop_frac_greedy"), 1.0);
    assert_eq!(cell(&header, row, "loop_period_greedy"), 16.0);
    let d4 = cell(&header, row, "distinct_4_greedy");
    assert!((d4 - 16.0 / 231.0).abs() < 1e-12, "distinct_4_greedy {d4}");
    // The greedy text follows the module's ids: after char c comes the next entry of the list.
    let vocab: Vec<String> =
        serde_json::from_str(&read(&fixture("shift_bigram_vocab.json"))).unwrap();
    let next = |c: char| {
        let i = vocab.iter().position(|v| v.starts_with(c)).unwrap();
        vocab[(i + 1) % 16].chars().next().unwrap()
    };
    let samples = read(&dir.path().join("ts/samples/eval_0.jsonl"));
    let greedy: Vec<serde_json::Value> = samples
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["decoding"] == "greedy")
        .collect();
    assert_eq!(greedy.len(), 3);
    for g in &greedy {
        let prompt = g["prompt"].as_str().unwrap();
        let text = format!(
            "{}{}",
            prompt.chars().last().unwrap(),
            g["continuation"].as_str().unwrap()
        );
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(chars.len(), 81);
        for w in chars.windows(2) {
            assert_eq!(w[1], next(w[0]), "greedy step in {text}");
        }
    }
    let s = json(&dir.path().join("ts/summary.json"));
    assert_eq!(s["arch"], "torchscript");
}

#[test]
fn bad_modules_and_vocabularies_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let module = fixture("shift_bigram.pt");
    let vocab = fixture("shift_bigram_vocab.json");
    let write = |name: &str, body: &str| {
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let not_ts = write("not_ts.pt", "this is not a TorchScript archive");
    let letters: Vec<String> = ('a'..='q').map(String::from).collect();
    let wide = write("wide.json", &serde_json::to_string(&letters).unwrap());
    let narrow = write(
        "narrow.json",
        r#"["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","x"]"#,
    );
    let dup = write("dup.json", r#"["a","a"]"#);
    let words = write("words.json", r#"["the","and"]"#);
    let cases: Vec<(PathBuf, PathBuf, &str, &str)> = vec![
        (
            d.join("missing.pt"),
            vocab.clone(),
            "missing.pt",
            "does not exist",
        ),
        (
            not_ts.clone(),
            vocab.clone(),
            "not_ts.pt",
            "not a TorchScript file",
        ),
        (
            module.clone(),
            d.join("missing.json"),
            "missing.json",
            "checkpoint.vocab",
        ),
        (
            module.clone(),
            wide.clone(),
            "shift_bigram.pt",
            "vocabulary has 17 tokens",
        ),
        (
            module.clone(),
            narrow.clone(),
            "narrow.json",
            "does not cover",
        ),
        (module.clone(), dup.clone(), "dup.json", "listed twice"),
        (module.clone(), words.clone(), "words.json", "<unk>"),
    ];
    for (i, (m, v, names, why)) in cases.iter().enumerate() {
        let out = format!("bad{i}");
        let o = probe(d, &ts_sets(m, v), &out);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "case {i}: {}", text(&o));
        assert!(err.contains(names) && err.contains(why), "case {i}: {err}");
        assert!(err.contains("checkpoint."), "case {i} names the key: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            !d.join(&out).join("metrics.csv").exists(),
            "case {i}: nothing half-written"
        );
    }
    // A probe needs its vocabulary, and one kind of checkpoint.
    let o = lab_sections(
        d,
        &["data", "eval"],
        &[
            "task=probe",
            &format!("checkpoint.torchscript={}", module.display()),
        ],
        None,
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("checkpoint.vocab"), "{}", stderr(&o));
    let mut both = ts_sets(&module, &vocab);
    both.push("checkpoint.path=somewhere".into());
    let o = probe(d, &both, "both");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("not both"), "{}", stderr(&o));
}

/// A lab GPT traced to TorchScript (tch bakes the shape (4, block size) into the trace, so
/// `fixed_batch` and `fixed_width`) and probed with the run's own tokenizer.json gives the native probe's row (same prompts, stream and samples).
#[test]
fn a_traced_lab_gpt_gives_the_native_probe_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // One evaluation (the final one), so both probes sample evaluation stream 0.
    let run = run_single(d, &["eval.every=60"], "trained");
    let module = d.join("gpt.pt");
    trace_gpt(&run, &module);
    let native = run_single(
        d,
        &["task=probe", &format!("checkpoint.path={}", run.display())],
        "native",
    );
    let mut sets = ts_sets(&module, &run.join("tokenizer.json"));
    sets.extend([
        "checkpoint.context=32".into(),
        "checkpoint.fixed_width=true".into(),
    ]);
    sets.push("checkpoint.fixed_batch=4".into());
    let o = probe(d, &sets, "ts");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (h1, r1) = read_csv(&native.join("metrics.csv"));
    let (h2, r2) = read_csv(&d.join("ts/metrics.csv"));
    assert_eq!(h1, h2);
    let mut compared = 0;
    for (j, name) in h1.iter().enumerate() {
        let (a, b) = (&r1[0][j], &r2[0][j]);
        if name == "wall_s" || name == "step" || (a.is_empty() && b.is_empty()) {
            continue;
        }
        let (x, y): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
        let tol = 1e-5 * x.abs().max(y.abs()).max(1.0);
        assert!(
            (x - y).abs() <= tol,
            "`{name}`: native {x} vs TorchScript {y}"
        );
        compared += 1;
    }
    assert!(compared >= 40, "only {compared} columns compared");
    let strip = |p: PathBuf| -> Vec<String> {
        read(&p)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!("{}|{}", v["prompt"], v["continuation"])
            })
            .collect()
    };
    assert_eq!(
        strip(native.join("samples/eval_60.jsonl")),
        strip(d.join("ts/samples/eval_0.jsonl")),
        "the same samples"
    );
}

/// Trace the trained run's GPT (ids (4, 32) -> logits (4, 32, V)) into `out`.
fn trace_gpt(run: &Path, out: &Path) {
    let _guard = torch_lock();
    let cfg: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read(&run.join("config.yaml"))).unwrap();
    let model_cfg: lab::nn::ModelConfig = serde_yaml_ng::from_value(cfg["model"].clone()).unwrap();
    let mut model = lab::nn::build(&model_cfg, 16, tch::Device::Cpu).unwrap();
    lab::nn::checkpoint::load_weights(&run.join("model.safetensors"), model.var_store()).unwrap();
    model.var_store_mut().freeze(); // traced weights are constants
    let ids = tch::Tensor::zeros([4, 32], (tch::Kind::Int64, tch::Device::Cpu));
    let module = tch::no_grad(|| {
        tch::CModule::create_by_tracing("lab_gpt", "forward", &[ids], &mut |x| {
            vec![model.forward(&lab::nn::Input::new(&x[0]), false).unwrap()]
        })
    })
    .unwrap();
    module.save(out).unwrap();
}
