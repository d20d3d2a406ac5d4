//! Checkpoint directories: round trip of weights, optimizer, RNG position, tokenizer and step;
//! refusal to overwrite; load errors that name the file and the parameter.
use super::optim_adamw::{set_grads, store, values};
use crate::common::zip_eq;
use lab::nn::checkpoint::{self, Extra};
use lab::optim::{AdamW, AdamWConfig, Optimizer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::VarStore;

fn model(scale: f64) -> VarStore {
    store(&[
        ("blk.w", &[2, 3], (0..6).map(|i| scale * i as f64).collect()),
        ("blk.b", &[3], vec![scale; 3]),
    ])
}

fn trained() -> (VarStore, AdamW) {
    let vs = model(1.0);
    let mut opt = AdamW::new(&vs, &AdamWConfig::default()).unwrap();
    for k in 0..2 {
        set_grads(
            &vs,
            &[("blk.w", vec![0.3 + k as f64; 6]), ("blk.b", vec![-0.2; 3])],
        );
        opt.step().unwrap();
        opt.zero_grad();
    }
    (vs, opt)
}

#[test]
fn round_trip_restores_everything_and_refuses_to_overwrite() {
    let root = tempfile::tempdir().unwrap();
    let (vs, opt) = trained();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    rng.set_stream(7);
    let _: Vec<u32> = (0..13).map(|_| rng.gen()).collect();
    let tokenizer = r#"{"kind":"char","vocab":["a","b"]}"#;
    let dir = root.path().join(checkpoint::dir_name(2));
    let extra = Extra {
        step: 2,
        rng: &rng,
        tokenizer,
        metadata: serde_json::json!({"arch": "t"}),
    };
    checkpoint::save(&dir, &vs, &opt, &extra).unwrap();
    assert_eq!(
        checkpoint::list(root.path()).unwrap(),
        std::slice::from_ref(&dir)
    );
    let e = format!(
        "{:#}",
        checkpoint::save(&dir, &vs, &opt, &extra).unwrap_err()
    );
    assert!(e.contains("exists already"), "{e}");
    let leftovers: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temp directory left behind");

    let vs2 = model(5.0);
    let mut opt2 = AdamW::new(&vs2, &AdamWConfig::default()).unwrap();
    let r = checkpoint::load(&dir, &vs2, &mut opt2).unwrap();
    assert_eq!((r.step, r.tokenizer.as_str()), (2, tokenizer));
    assert_eq!(r.metadata["arch"], "t");
    assert_eq!(opt2.steps_done(), 2);
    let mut restored = r.rng;
    assert_eq!(restored.get_word_pos(), rng.get_word_pos());
    assert_eq!(restored.gen::<u64>(), rng.gen::<u64>());
    for n in ["blk.w", "blk.b"] {
        assert_eq!(values(&vs2, n), values(&vs, n));
    }
    let (a, b) = (opt.state_dict().unwrap(), opt2.state_dict().unwrap());
    assert_eq!(a.header, b.header);
    for ((ka, ta), (kb, tb)) in zip_eq(&a.tensors, &b.tensors) {
        assert_eq!(
            (ka, Vec::<f64>::try_from(ta.flatten(0, -1)).unwrap()),
            (kb, Vec::<f64>::try_from(tb.flatten(0, -1)).unwrap())
        );
    }
}

#[test]
fn loading_into_a_different_model_names_the_file_and_parameter() {
    let root = tempfile::tempdir().unwrap();
    let (vs, opt) = trained();
    let rng = ChaCha8Rng::seed_from_u64(1);
    let dir = root.path().join("ck");
    let extra = Extra {
        step: 2,
        rng: &rng,
        tokenizer: "{}",
        metadata: serde_json::Value::Null,
    };
    checkpoint::save(&dir, &vs, &opt, &extra).unwrap();

    let reshaped = store(&[
        ("blk.w", &[3, 2], vec![0.0; 6]),
        ("blk.b", &[3], vec![0.0; 3]),
    ]);
    let mut o = AdamW::new(&reshaped, &AdamWConfig::default()).unwrap();
    let e = format!(
        "{:#}",
        checkpoint::load(&dir, &reshaped, &mut o).unwrap_err()
    );
    assert!(
        e.contains("model.safetensors") && e.contains("`blk.w`"),
        "{e}"
    );

    let renamed = store(&[
        ("blk.w", &[2, 3], vec![0.0; 6]),
        ("blk.bias", &[3], vec![0.0; 3]),
    ]);
    let mut o = AdamW::new(&renamed, &AdamWConfig::default()).unwrap();
    let e = format!(
        "{:#}",
        checkpoint::load(&dir, &renamed, &mut o).unwrap_err()
    );
    assert!(e.contains("blk.b") && e.contains("not a parameter"), "{e}");

    let mut f32s = model(1.0);
    f32s.set_kind(tch::Kind::Float);
    let mut o = AdamW::new(&f32s, &AdamWConfig::default()).unwrap();
    let e = format!("{:#}", checkpoint::load(&dir, &f32s, &mut o).unwrap_err());
    assert!(e.contains("Double") && e.contains("Float"), "{e}");
}

#[test]
fn torch_step_seeds_differ_by_step_and_repeat_by_seed() {
    assert_eq!(checkpoint::step_seed(1, 5), checkpoint::step_seed(1, 5));
    assert_ne!(checkpoint::step_seed(1, 5), checkpoint::step_seed(1, 6));
    assert_ne!(checkpoint::step_seed(1, 5), checkpoint::step_seed(2, 5));
    assert!(checkpoint::step_seed(u64::MAX, u64::MAX) >= 0);
    checkpoint::seed_torch_for_step(9, 3);
    let a = tch::Tensor::rand([4], (tch::Kind::Double, tch::Device::Cpu));
    checkpoint::seed_torch_for_step(9, 3);
    let b = tch::Tensor::rand([4], (tch::Kind::Double, tch::Device::Cpu));
    assert_eq!(
        Vec::<f64>::try_from(a).unwrap(),
        Vec::<f64>::try_from(b).unwrap()
    );
}
