//! Incremental decoding and generation (issue 10; prefixrl §7.10 test 4): the cache matches
//! full recomputation, left padding changes neither logits nor samples, prompts come back
//! unchanged, stop tokens end rows.
use crate::nn_common::*;
use lab::nn::{self, Decoding, GenerateOptions, Input, ModelConfig};
use tch::{Device, Kind, Tensor};

fn prompts() -> Vec<Vec<i64>> {
    vec![vec![3, 1, 4], vec![1, 5, 9, 2, 6, 5], vec![7]]
}

/// Feed 100 tokens through `step` and compare each step's logits with a full forward pass
/// over the whole left-padded sequence.
#[test]
fn cache_steps_match_full_recomputation_over_100_steps() {
    for (name, cfg) in all_small() {
        let m = model(&cfg, 11);
        let (ids, mask) = nn::left_pad(&prompts(), 0, Device::Cpu).unwrap();
        let steps = 100;
        let feed = random_ids(&mut rng(12), 3, steps);
        let (first, mut cache) = m.prefill(&ids, Some(&mask), steps).unwrap();
        let all_ids = Tensor::cat(&[ids.shallow_clone(), feed.shallow_clone()], 1);
        let all_mask = Tensor::cat(
            &[mask.shallow_clone(), feed.ones_like().to_kind(Kind::Bool)],
            1,
        );
        let full = logits(m.as_ref(), &Input::new(&all_ids).with_pad_mask(&all_mask)); // (B, P+100, V)
        let p = ids.size()[1];
        let mut worst = max_abs(&first, &full.select(1, p - 1));
        for s in 0..steps {
            let step = m.step(&mut cache, &feed.select(1, s)).unwrap();
            worst = worst.max(max_abs(&step, &full.select(1, p + s)));
        }
        assert!(worst <= 1e-5, "{name}: cache vs full differ by {worst}");
        assert!(
            m.step(&mut cache, &feed.select(1, 0)).is_err(),
            "{name}: a full cache must refuse"
        );
    }
}

fn opts(max_new: i64, decoding: Decoding) -> GenerateOptions {
    GenerateOptions::new(max_new, decoding)
}

#[test]
fn left_padded_prompts_give_the_same_samples() {
    for (name, cfg) in all_small() {
        let m = model(&cfg, 13);
        let o = opts(20, Decoding::default());
        let alone = nn::generate(m.as_ref(), &[vec![3, 1, 4]], &o, &mut rng(14)).unwrap();
        // The same single row with 4 explicit pads in front (pad ids deliberately nonzero).
        let ids = Tensor::from_slice(&[9i64, 8, 7, 6, 3, 1, 4]).view([1, 7]);
        let mask = Tensor::from_slice(&[false, false, false, false, true, true, true]).view([1, 7]);
        let padded = nn::generate_padded(m.as_ref(), &ids, Some(&mask), &o, &mut rng(14)).unwrap();
        assert_eq!(
            alone.generated().unwrap(),
            padded.generated().unwrap(),
            "{name}"
        );
        let d = max_abs(&alone.model_logprobs, &padded.model_logprobs);
        assert!(d <= 1e-5, "{name}: log-probs differ by {d}");
        // In a batch: row 0 padded next to a longer prompt, vs next to one of its own length.
        let a = nn::generate(
            m.as_ref(),
            &[vec![3, 1, 4], vec![2, 2, 2]],
            &o,
            &mut rng(15),
        )
        .unwrap();
        let b = nn::generate(
            m.as_ref(),
            &[vec![3, 1, 4], vec![5, 6, 7, 8, 9]],
            &o,
            &mut rng(15),
        )
        .unwrap();
        assert_eq!(
            a.generated().unwrap()[0],
            b.generated().unwrap()[0],
            "{name}: batch"
        );
    }
}

#[test]
fn prompts_come_back_unchanged_and_generation_starts_after_them() {
    for (name, cfg) in all_small() {
        let m = model(&cfg, 16);
        let ps = prompts();
        let g = nn::generate(
            m.as_ref(),
            &ps,
            &opts(10, Decoding::default()),
            &mut rng(17),
        )
        .unwrap();
        let p = g.prompt_width;
        assert_eq!(p, 6);
        assert_eq!(g.prompt_lens, [3, 6, 1]);
        assert_eq!(g.tokens.size(), [3, p + 10]);
        let rows = Vec::<Vec<i64>>::try_from(&g.tokens).unwrap();
        let seqs = g.sequences().unwrap();
        for (r, prompt) in ps.iter().enumerate() {
            let start = (p as usize) - prompt.len();
            assert_eq!(
                &rows[r][start..p as usize],
                prompt.as_slice(),
                "{name} row {r}"
            );
            assert_eq!(
                &seqs[r][..prompt.len()],
                prompt.as_slice(),
                "{name} row {r}"
            );
            assert_eq!(seqs[r].len(), prompt.len() + 10);
            assert_eq!(
                &seqs[r][prompt.len()..],
                &rows[r][p as usize..],
                "{name} row {r}"
            );
        }
        let mask = Vec::<Vec<bool>>::try_from(&g.pad_mask).unwrap();
        assert_eq!(
            mask[2].iter().filter(|x| !**x).count(),
            5,
            "{name}: row 2 has 5 pads"
        );
    }
}

#[test]
fn greedy_picks_the_argmax_of_the_full_model() {
    for (name, cfg) in all_small() {
        let m = model(&cfg, 18);
        let g = nn::generate(
            m.as_ref(),
            &prompts(),
            &opts(12, Decoding::greedy()),
            &mut rng(0),
        )
        .unwrap();
        let full = logits(
            m.as_ref(),
            &Input::new(&g.tokens).with_pad_mask(&g.pad_mask),
        );
        let p = g.prompt_width;
        let want = full.narrow(1, p - 1, 12).argmax(-1, false);
        let got = g.tokens.narrow(1, p, 12);
        assert!(want.equal(&got), "{name}: greedy is not the argmax");
        assert_eq!(g.sample_logprobs.abs().max().double_value(&[]), 0.0);
        let model_lp = full
            .narrow(1, p - 1, 12)
            .log_softmax(-1, Kind::Double)
            .gather(-1, &got.unsqueeze(-1), false)
            .squeeze_dim(-1);
        assert!(
            max_abs(&model_lp, &g.model_logprobs) <= 1e-5,
            "{name}: model log-probs"
        );
    }
}

#[test]
fn sampled_log_probs_are_those_of_the_tempered_and_untempered_model() {
    let cfg = small("gpt-fused");
    let m = model(&cfg, 19);
    let d = Decoding {
        temperature: 0.7,
        top_k: None,
        top_p: None,
    };
    let g = nn::generate(m.as_ref(), &prompts(), &opts(8, d), &mut rng(20)).unwrap();
    let full = logits(
        m.as_ref(),
        &Input::new(&g.tokens).with_pad_mask(&g.pad_mask),
    );
    let p = g.prompt_width;
    let z = full.narrow(1, p - 1, 8).to_kind(Kind::Double);
    let tok = g.tokens.narrow(1, p, 8).unsqueeze(-1);
    let tempered = (&z / 0.7)
        .log_softmax(-1, Kind::Double)
        .gather(-1, &tok, false)
        .squeeze_dim(-1);
    let plain = z
        .log_softmax(-1, Kind::Double)
        .gather(-1, &tok, false)
        .squeeze_dim(-1);
    assert!(max_abs(&tempered, &g.sample_logprobs) <= 1e-5);
    assert!(max_abs(&plain, &g.model_logprobs) <= 1e-5);
    assert!(
        max_abs(&plain, &tempered) > 1e-3,
        "temperature changed nothing"
    );
}

#[test]
fn same_seed_same_samples_other_seed_others() {
    let m = model(&small("gpt-fused"), 21);
    let o = opts(30, Decoding::default());
    let run = |seed| {
        nn::generate(m.as_ref(), &prompts(), &o, &mut rng(seed))
            .unwrap()
            .generated()
            .unwrap()
    };
    tch::manual_seed(1);
    let a = run(22);
    tch::manual_seed(2); // torch's own generator plays no part
    assert_eq!(a, run(22));
    assert_ne!(a, run(23));
}

#[test]
fn stop_tokens_end_rows_and_pad_the_rest() {
    let m = model(&small("gru"), 24);
    let mut o = opts(
        40,
        Decoding {
            temperature: 2.0,
            top_k: None,
            top_p: None,
        },
    );
    o.stop_tokens = vec![4, 6];
    o.pad_id = 10;
    let g = nn::generate(m.as_ref(), &prompts(), &o, &mut rng(25)).unwrap();
    let gen = g.generated().unwrap();
    let rows = Vec::<Vec<i64>>::try_from(&g.tokens).unwrap();
    let lp = Vec::<Vec<f64>>::try_from(&g.sample_logprobs).unwrap();
    let n = (g.tokens.size()[1] - g.prompt_width) as usize;
    assert!(
        g.stopped.iter().any(|s| *s),
        "with V = 11 and 40 steps some row stops"
    );
    for r in 0..3 {
        let len = g.gen_lens[r] as usize;
        assert_eq!(gen[r].len(), len);
        let stops = gen[r].iter().filter(|t| o.stop_tokens.contains(t)).count();
        assert_eq!(stops, g.stopped[r] as usize, "row {r}: {:?}", gen[r]);
        if g.stopped[r] {
            assert!(o.stop_tokens.contains(gen[r].last().unwrap()));
        } else {
            assert_eq!(len, 40);
        }
        let tail = &rows[r][g.prompt_width as usize + len..];
        assert_eq!(tail.len(), n - len);
        assert!(
            tail.iter().all(|t| *t == 10),
            "row {r}: after stop {tail:?}"
        );
        assert!(lp[r][len..].iter().all(|x| *x == 0.0));
        assert!(lp[r][..len].iter().all(|x| *x < 0.0));
    }
}

#[test]
fn block_size_and_bad_prompts_are_refused() {
    let m = model(&ModelConfig::gpt_nano(), 29);
    // 3 prompt tokens + 30 new: the last is never fed back, so 32 positions suffice.
    let o = opts(30, Decoding::default());
    let full = nn::generate(m.as_ref(), &[vec![1, 2, 3]], &o, &mut rng(0)).unwrap();
    assert_eq!(full.gen_lens, vec![30]);
    let o = opts(31, Decoding::default());
    let err = nn::generate(m.as_ref(), &[vec![1, 2, 3]], &o, &mut rng(0)).unwrap_err();
    assert!(err.to_string().contains("block_size 32"), "{err}");
    let far = Tensor::from_slice(&[30i64, 31, 32]).view([1, 3]);
    let ids = Tensor::zeros([1, 3], (Kind::Int64, Device::Cpu));
    let err = m
        .forward(&Input::new(&ids).with_positions(&far), false)
        .unwrap_err();
    assert!(err.to_string().contains("got [30, 32]"), "{err}");
    assert!(nn::generate(
        m.as_ref(),
        &[vec![1, 2], vec![]],
        &opts(2, Decoding::default()),
        &mut rng(0)
    )
    .is_err());
    assert!(nn::generate(
        m.as_ref(),
        &[vec![1, V]],
        &opts(2, Decoding::default()),
        &mut rng(0)
    )
    .is_err());
    let long = Tensor::zeros([1, 33], (Kind::Int64, Device::Cpu));
    assert!(m.forward(&Input::new(&long), false).is_err());
    // Padding may make the prompt tensor wider than the block; only real positions count.
    let mut ids = vec![0i64; 35];
    ids.extend([1, 2, 3, 4, 5]);
    let mask: Vec<bool> = (0..40).map(|i| i >= 35).collect();
    let (ids, mask) = (
        Tensor::from_slice(&ids).view([1, 40]),
        Tensor::from_slice(&mask).view([1, 40]),
    );
    let o = opts(10, Decoding::default());
    let wide = nn::generate_padded(m.as_ref(), &ids, Some(&mask), &o, &mut rng(1)).unwrap();
    let narrow = nn::generate(m.as_ref(), &[vec![1, 2, 3, 4, 5]], &o, &mut rng(1)).unwrap();
    assert_eq!(wide.generated().unwrap(), narrow.generated().unwrap());
    let ok = nn::generate(
        m.as_ref(),
        &[vec![1, 2]],
        &opts(30, Decoding::default()),
        &mut rng(0),
    )
    .unwrap();
    assert_eq!(ok.gen_lens, [30]);
    let none = nn::generate(
        m.as_ref(),
        &[vec![1, 2]],
        &opts(0, Decoding::default()),
        &mut rng(0),
    );
    let none = none.unwrap();
    assert_eq!(
        (none.tokens.size(), none.gen_lens.clone()),
        (vec![1, 2], vec![0])
    );
    assert_eq!(none.sequences().unwrap(), [vec![1, 2]]);
}
