//! The Markov source's analytic entropy rate: closed-form chains, a plug-in estimate from a long
//! sample, and a loud failure when the power iteration cannot converge.
use lab::data::markov::{entropy, MarkovConfig, MarkovSource};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn h2(p: f64) -> f64 {
    entropy(&[p, 1.0 - p])
}

#[test]
fn a_two_state_chain_has_its_closed_form_rate() {
    let (p, q) = (0.3, 0.1);
    let chain = MarkovSource::from_table(2, 1, vec![1.0 - p, p, q, 1.0 - q]).unwrap();
    let pi = chain.stationary().unwrap();
    assert!((pi[0] - q / (p + q)).abs() < 1e-12, "{pi:?}");
    let want = q / (p + q) * h2(p) + p / (p + q) * h2(q);
    let got = chain.entropy_rate().unwrap();
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

#[test]
fn huge_alpha_gives_nearly_uniform_rows_and_rate_log_vocab() {
    for order in [1, 2] {
        let cfg = MarkovConfig {
            vocab: 8,
            order,
            alpha: 1e6,
            ..MarkovConfig::default()
        };
        let h = MarkovSource::new(&cfg).unwrap().entropy_rate().unwrap();
        // Rows drawn from Dirichlet(1e6) differ from uniform by O(1e-3) per entry, so their
        // entropies fall short of ln 8 by O(1e-6).
        assert!((h - 8f64.ln()).abs() < 1e-4, "order {order}: {h}");
    }
}

#[test]
fn a_periodic_chain_fails_loudly() {
    // 0 -> 1 -> {0, 2} -> 1 -> ...: period 2, and the uniform start is not stationary.
    let chain =
        MarkovSource::from_table(3, 1, vec![0.0, 1.0, 0.0, 0.5, 0.0, 0.5, 0.0, 1.0, 0.0]).unwrap();
    let err = chain.entropy_rate().unwrap_err().to_string();
    assert!(err.contains("did not converge"), "{err}");
}

/// Plug-in conditional entropy of (context -> next) counts over `symbols`.
fn plug_in(chain: &MarkovSource, start: usize, symbols: &[u8]) -> (f64, f64) {
    let v = chain.vocab();
    let mut counts = vec![0u64; chain.num_contexts() * v];
    let mut c = start;
    let mut surprisal = (0.0, 0.0);
    for &x in symbols {
        counts[c * v + x as usize] += 1;
        let s = -chain.row(c)[x as usize].ln();
        surprisal = (surprisal.0 + s, surprisal.1 + s * s);
        c = chain.next_context(c, x as usize);
    }
    let n = symbols.len() as f64;
    let mut h = 0.0;
    for row in counts.chunks(v) {
        let total: u64 = row.iter().sum();
        if total > 0 {
            let p: Vec<f64> = row.iter().map(|&k| k as f64 / total as f64).collect();
            h += total as f64 / n * entropy(&p);
        }
    }
    let mean = surprisal.0 / n;
    (h, (surprisal.1 / n - mean * mean).sqrt())
}

#[test]
fn the_analytic_rate_matches_a_long_sample() {
    let cfg = MarkovConfig {
        vocab: 8,
        order: 2,
        alpha: 0.5,
        seed: 7,
        ..MarkovConfig::default()
    };
    let chain = MarkovSource::new(&cfg).unwrap();
    let truth = chain.entropy_rate().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 2_000_000;
    let (_, c) = chain.sample(&mut rng, chain.start_context(), 1000);
    let (symbols, _) = chain.sample(&mut rng, c, n);
    let (estimate, sd) = plug_in(&chain, c, &symbols);
    // Tolerance: the estimate's standard error is about sd/sqrt(n) (sd = the surprisal's
    // standard deviation, about 1 nat here: 7e-4 for n = 2e6; the chain mixes in a few steps,
    // so correlation adds little), and its bias is about -(contexts·(V-1))/(2n) = -1.1e-4
    // (Miller-Madow). 5e-3 is more than 6 standard errors plus the bias.
    let se = sd / (n as f64).sqrt();
    eprintln!("analytic {truth:.6}, plug-in {estimate:.6}, standard error {se:.2e}");
    assert!(se < 8e-4, "standard error {se}");
    assert!(
        (estimate - truth).abs() < 5e-3,
        "plug-in {estimate} vs analytic {truth} (standard error {se})"
    );
    // The estimate must also tell chains apart: the rate is far from uniform's ln 8.
    assert!(8f64.ln() - truth > 0.2, "{truth}");
}

#[test]
fn the_text_is_train_then_val_after_a_burn_in() {
    let cfg = MarkovConfig {
        vocab: 5,
        order: 1,
        train_len: 300,
        val_len: 40,
        seed: 3,
        ..MarkovConfig::default()
    };
    let chain = MarkovSource::new(&cfg).unwrap();
    let (train, val) = chain.generate(&cfg);
    let corpus = lab::data::CorpusConfig::Markov(cfg).load().unwrap();
    assert_eq!(corpus.text, format!("{train}{val}"));
    assert_eq!(corpus.val_start, Some(300));
    // Every transition in the text has positive probability under the table.
    let idx = |c: char| (c as u8 - b'a') as usize;
    for w in corpus.text.as_bytes().windows(2) {
        let (a, b) = (idx(w[0] as char), idx(w[1] as char));
        assert!(chain.row(a)[b] > 0.0);
    }
}
