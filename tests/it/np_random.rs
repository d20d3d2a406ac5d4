//! `lab::rl::np_random` against NumPy 2.4 (tests/fixtures/numpy/, scripts/gen_gym_resets.py):
//! SeedSequence words, PCG64 state and raw outputs, `random()`, `uniform()` and
//! `standard_normal()` draws must all be bit-identical, and a saved state must continue the
//! stream exactly where NumPy's does.
use crate::common::zip_eq;
use lab::rl::np_random::{NpRng, Pcg64, SeedSequence};
use lab::rl::NpRngState;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/numpy/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn num<T: std::str::FromStr>(text: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| panic!("bad number `{text}`"))
}

/// Header fields and columns (draw index, then one column per header entry).
fn columns(name: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = fixture(name);
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .skip(1)
        .map(String::from)
        .collect();
    let mut cols = vec![Vec::new(); header.len()];
    for (i, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(num::<usize>(fields[0]), i, "{name}: row order");
        for (c, f) in zip_eq(&mut cols, &fields[1..]) {
            c.push(num(f));
        }
    }
    (header, cols)
}

/// `key=value` from a header entry like `seed=42;low=-0.05;high=0.05`.
fn field(entry: &str, key: &str) -> String {
    entry
        .split(';')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in `{entry}`"))
        .to_string()
}

#[test]
fn seed_sequence_and_pcg64_match_numpy() {
    let text = fixture("seeds.csv");
    let mut rows = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let seed: u64 = num(f[0]);
        let words: Vec<u64> = f[1..5].iter().map(|w| num(w)).collect();
        let seq = SeedSequence::from_u128(seed as u128);
        assert_eq!(
            seq.generate_state_u64(4),
            words,
            "seed {seed}: SeedSequence"
        );
        let mut pcg = Pcg64::from_seed_sequence(&seq);
        assert_eq!(
            (pcg.state, pcg.inc),
            (num(f[5]), num(f[6])),
            "seed {seed}: PCG64 state after seeding"
        );
        for (k, raw) in f[7..11].iter().enumerate() {
            assert_eq!(
                pcg.next_u64(),
                num::<u64>(raw),
                "seed {seed}: raw output {k}"
            );
        }
        let mut rng = NpRng::from_seed(seed);
        for _ in 0..1000 {
            rng.random();
        }
        let want = NpRngState {
            state: f[11].to_string(),
            inc: f[12].to_string(),
        };
        assert_eq!(rng.save(), want, "seed {seed}: state after 1000 draws");
        rows += 1;
    }
    assert_eq!(rows, 8, "seeds.csv rows");
}

#[test]
fn random_draws_are_numpys() {
    let (header, cols) = columns("random.csv");
    assert_eq!(header.len(), 4);
    for (h, col) in zip_eq(&header, &cols) {
        let mut rng = NpRng::from_seed(num(&field(h, "seed")));
        for (i, &want) in col.iter().enumerate() {
            assert_eq!(rng.random(), want, "{h}: draw {i}");
        }
        assert_eq!(col.len(), 1000);
    }
}

#[test]
fn uniform_draws_are_numpys() {
    let (header, cols) = columns("uniform.csv");
    assert_eq!(header.len(), 4);
    for (h, col) in zip_eq(&header, &cols) {
        let mut rng = NpRng::from_seed(num(&field(h, "seed")));
        let (low, high): (f64, f64) = (num(&field(h, "low")), num(&field(h, "high")));
        let got = rng.uniform_n(low, high, col.len());
        for (i, (g, w)) in zip_eq(&got, col).enumerate() {
            assert_eq!(g, w, "{h}: draw {i}");
            assert!(low <= *g && *g < high, "{h}: draw {i} outside [low, high)");
        }
    }
}

/// Normal draws are exact too: NumPy's ziggurat tables are data (src/rl/np_ziggurat.rs) and
/// the wedge and tail use the same libm `exp` and `log1p`.
#[test]
fn standard_normal_draws_are_numpys() {
    let (header, cols) = columns("normal.csv");
    assert_eq!(header.len(), 3);
    for (h, col) in zip_eq(&header, &cols) {
        let mut rng = NpRng::from_seed(num(&field(h, "seed")));
        for (i, &want) in col.iter().enumerate() {
            assert_eq!(rng.standard_normal(), want, "{h}: draw {i}");
        }
    }
}

/// The rarely taken tail path (|x| ≥ r ≈ 3.654; about 250 in 10⁶ draws) and the stream
/// position after 10⁶ draws, which would drift with any miscounted rejection.
#[test]
fn normal_tail_and_long_stream_are_numpys() {
    let text = fixture("normal_tail.csv");
    let mut rng = NpRng::from_seed(7);
    let (mut index, mut tails, mut last) = (0usize, 0, f64::NAN);
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        match f[0] {
            "tail" | "last" => {
                let at: usize = num(f[1]);
                while index < at {
                    let x = rng.standard_normal();
                    assert!(
                        x.abs() < 3.654_152_885_361_009,
                        "draw {index}: {x} is a tail draw NumPy did not make"
                    );
                    index += 1;
                }
                last = rng.standard_normal();
                index += 1;
                assert_eq!(last, num::<f64>(f[2]), "draw {at}");
                tails += (f[0] == "tail") as usize;
            }
            "state" => {
                let want = NpRngState {
                    state: f[1].to_string(),
                    inc: f[2].to_string(),
                };
                assert_eq!(rng.save(), want, "state after {index} draws");
            }
            other => panic!("unknown row {other}"),
        }
    }
    assert_eq!(index, 1_000_000);
    assert!(tails > 100, "only {tails} tail draws checked");
    assert!(last.is_finite());
}

/// Save/restore mid-stream continues with NumPy's next draws (what checkpoints rely on).
#[test]
fn a_restored_generator_continues_numpys_stream() {
    let (header, cols) = columns("normal.csv");
    let mut rng = NpRng::from_seed(num(&field(&header[1], "seed")));
    for _ in 0..500 {
        rng.standard_normal();
    }
    let saved = serde_json::to_string(&rng.save()).expect("json");
    let mut back = serde_json::from_str::<NpRngState>(&saved)
        .expect("parse")
        .restore()
        .expect("restore");
    for (i, want) in cols[1].iter().enumerate().skip(500) {
        assert_eq!(back.standard_normal(), *want, "draw {i} after restore");
    }
}

/// Large-sample sanity of the normal draws (moments of 10⁵ draws), independent of NumPy.
#[test]
fn standard_normal_has_unit_moments() {
    let mut rng = NpRng::from_seed(2026);
    let n = 100_000;
    let xs: Vec<f64> = (0..n).map(|_| rng.standard_normal()).collect();
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
    assert!(mean.abs() < 0.02, "mean {mean}");
    assert!((var - 1.0).abs() < 0.02, "variance {var}");
    let beyond_2 = xs.iter().filter(|x| x.abs() > 2.0).count() as f64 / n as f64;
    assert!((beyond_2 - 0.0455).abs() < 0.004, "P(|x| > 2) = {beyond_2}");
}
