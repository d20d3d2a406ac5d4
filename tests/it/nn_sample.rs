//! Decoding rules (issue 10): top-k and top-p stay inside their sets, temperature → 0 is
//! greedy, inverse-CDF sampling follows the probabilities, bad options are refused.
use crate::nn_common::*;
use lab::nn::sample::inverse_cdf;
use lab::nn::{self, Decoding, GenerateOptions};
use tch::{Device, Kind, Tensor};

fn opts(max_new: i64, decoding: Decoding) -> GenerateOptions {
    GenerateOptions::new(max_new, decoding)
}

#[test]
fn top_k_and_top_p_stay_inside_their_sets() {
    let mut r = rng(26);
    let z = Tensor::randn([500, 30], (Kind::Double, Device::Cpu)) * 2.0;
    let d = Decoding {
        temperature: 1.0,
        top_k: Some(3),
        top_p: None,
    };
    let c = d.choose(&z, &mut r);
    let (_, best) = z.topk(3, -1, true, true);
    let inside = best.eq_tensor(&c.tokens.unsqueeze(1)).any_dim(1, false);
    assert!(
        bool::try_from(inside.all()).unwrap(),
        "top-k sampled outside the 3 best"
    );
    let firsts = best
        .select(1, 0)
        .eq_tensor(&c.tokens)
        .sum(Kind::Int64)
        .int64_value(&[]);
    assert!(
        firsts < 490,
        "top-3 should not always pick the best ({firsts})"
    );
    let d = Decoding {
        temperature: 1.0,
        top_k: None,
        top_p: Some(0.5),
    };
    let c = d.choose(&z, &mut r);
    let probs = z.softmax(-1, Kind::Double);
    let chosen = probs.gather(1, &c.tokens.unsqueeze(1), false); // (B, 1)
    let above = probs.gt_tensor(&chosen).to_kind(Kind::Double) * &probs;
    let mass_above = above.sum_dim_intlist(1, false, Kind::Double);
    assert!(
        mass_above.max().double_value(&[]) < 0.5,
        "top-p sampled outside the nucleus"
    );
}

#[test]
fn temperature_to_zero_is_greedy() {
    // Unseeded logits (torch's global generator is shared by parallel tests), so give every row
    // a margin of at least 1 between its top logit and the rest: at T = 1e-4 the runner-up then
    // has probability < e^-10000, whereas a near tie in some row failed this test once in CI.
    let z = Tensor::randn([200, 30], (Kind::Double, Device::Cpu));
    let z = &z + z.argmax(-1, false).one_hot(30).to_kind(Kind::Double);
    let d = Decoding {
        temperature: 1e-4,
        top_k: None,
        top_p: None,
    };
    let c = d.choose(&z, &mut rng(27));
    assert!(c.tokens.equal(&z.argmax(-1, false)));
    let g = Decoding::greedy().choose(&z, &mut rng(27));
    assert!(g.tokens.equal(&c.tokens));
}

/// A temperature so small that logits / T overflows (1e-310 is subnormal) still samples the
/// argmax with log-probability 0, as T → 0 should; dividing first made every logit ±∞ and the
/// probabilities NaN, so the tokens were garbage.
#[test]
fn a_vanishing_temperature_samples_the_argmax_not_garbage() {
    let z = Tensor::from_slice(&[1.0, 3.0, -2.0, 0.5, 2.0, -1.0]).view([2, 3]);
    for t in [1e-310, 1e-30] {
        let d = Decoding {
            temperature: t,
            top_k: None,
            top_p: Some(0.9),
        };
        let c = d.choose(&z, &mut rng(5));
        assert_eq!(
            Vec::<i64>::try_from(&c.tokens).unwrap(),
            vec![1, 1],
            "T = {t}"
        );
        let lp = Vec::<f64>::try_from(&c.sample_logprobs).unwrap();
        assert_eq!(lp, vec![0.0, 0.0], "T = {t}");
    }
}

#[test]
fn inverse_cdf_follows_the_probabilities_and_skips_zeros() {
    let probs = Tensor::from_slice(&[0.1, 0.0, 0.2, 0.3, 0.4, 0.0])
        .view([1, 6])
        .repeat([20_000, 1]);
    let idx = Vec::<i64>::try_from(inverse_cdf(&probs, &mut rng(28))).unwrap();
    let mut freq = [0f64; 6];
    for i in idx {
        freq[i as usize] += 1.0 / 20_000.0;
    }
    for (k, want) in [0.1, 0.0, 0.2, 0.3, 0.4, 0.0].iter().enumerate() {
        assert!(
            (freq[k] - want).abs() < 0.012,
            "token {k}: {} vs {want}",
            freq[k]
        );
    }
    assert_eq!(freq[1] + freq[5], 0.0);
}

#[test]
fn bad_decoding_options_are_refused() {
    let m = model(&small("bigram"), 30);
    let bad = [
        Decoding {
            temperature: -1.0,
            top_k: None,
            top_p: None,
        },
        Decoding {
            temperature: f64::NAN,
            top_k: None,
            top_p: None,
        },
        Decoding {
            temperature: 1.0,
            top_k: Some(0),
            top_p: None,
        },
        Decoding {
            temperature: 1.0,
            top_k: None,
            top_p: Some(0.0),
        },
        Decoding {
            temperature: 1.0,
            top_k: None,
            top_p: Some(1.5),
        },
    ];
    for d in bad {
        assert!(d.validate().is_err(), "{d:?}");
        assert!(nn::generate(m.as_ref(), &[vec![1]], &opts(2, d), &mut rng(0)).is_err());
    }
    let mut o = opts(2, Decoding::default());
    o.stop_tokens = vec![V];
    let err = nn::generate(m.as_ref(), &[vec![1]], &o, &mut rng(0)).unwrap_err();
    assert!(err.to_string().contains("outside the vocabulary"), "{err}");
    let yaml = "temperature: 0.5\ntop_k: 5";
    let d: Decoding = serde_yaml_ng::from_str(yaml).unwrap();
    assert_eq!((d.temperature, d.top_k, d.top_p), (0.5, Some(5), None));
    assert!(serde_yaml_ng::from_str::<Decoding>("topk: 5").is_err());
}
