//! Splits and windows: sizes, seeded determinism, targets = inputs shifted by one, offsets in
//! range, sequential evaluation covering every target once.
use lab::data::{batch, random_batch, EvalBatches, SplitConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind};

fn to_vec(t: &tch::Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(t.flatten(0, -1)).unwrap()
}

#[test]
fn a_two_way_split_is_floor_ninety_percent() {
    for n in [10usize, 1001, 111_540, 1_115_394] {
        let tokens: Vec<u32> = (0..n as u32).collect();
        let s = SplitConfig::default().split_tokens(&tokens);
        assert_eq!(s.train.len(), (0.9 * n as f64).floor() as usize, "n = {n}");
        assert_eq!(s.train.len() + s.val.len(), n);
        assert!(s.test.is_empty());
    }
    // nanoGPT's numbers for Tiny Shakespeare's 1,115,394 chars.
    let s = SplitConfig::default().split_tokens(&vec![0; 1_115_394]);
    assert_eq!((s.train.len(), s.val.len()), (1_003_854, 111_540));
}

#[test]
fn random_windows_are_seeded_shifted_and_in_range() {
    let tokens: Vec<u32> = (0..500).map(|i| (i * 7 % 101) as u32).collect();
    let (b, t) = (16, 20);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (x, y) = random_batch(&tokens, b, t, &mut rng, Device::Cpu).unwrap();
    assert_eq!(x.size(), vec![b as i64, t as i64]);
    assert_eq!((x.kind(), y.kind()), (Kind::Int64, Kind::Int64));
    let mut again = ChaCha8Rng::seed_from_u64(5);
    let (x2, y2) = random_batch(&tokens, b, t, &mut again, Device::Cpu).unwrap();
    assert_eq!((to_vec(&x), to_vec(&y)), (to_vec(&x2), to_vec(&y2)));
    let (x3, _) = random_batch(&tokens, b, t, &mut again, Device::Cpu).unwrap();
    assert_ne!(to_vec(&x), to_vec(&x3), "the RNG moves on");

    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let offsets = batch::window_offsets(tokens.len(), b, t, &mut rng).unwrap();
    let (xs, ys) = (to_vec(&x), to_vec(&y));
    for (row, &o) in offsets.iter().enumerate() {
        let want: Vec<i64> = tokens[o..o + t + 1].iter().map(|&v| v as i64).collect();
        assert_eq!(&xs[row * t..(row + 1) * t], &want[..t]);
        assert_eq!(&ys[row * t..(row + 1) * t], &want[1..]);
    }
    // Over many draws, the offsets reach both ends of 0..=N-T-1 and never pass it.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let short = 25;
    let all = batch::window_offsets(short, 4000, t, &mut rng).unwrap();
    assert_eq!(all.iter().max(), Some(&(short - t - 1)));
    assert_eq!(all.iter().min(), Some(&0));
}

#[test]
fn too_short_streams_are_refused_with_sizes() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let err = random_batch(&[1, 2, 3], 2, 3, &mut rng, Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 tokens") && err.contains("= 4"), "{err}");
    assert!(random_batch(&[1, 2, 3, 4], 2, 3, &mut rng, Device::Cpu).is_ok());
    assert!(EvalBatches::new(&[1, 2], 1, 2, Device::Cpu).is_err());
}

#[test]
fn evaluation_windows_cover_every_target_once_in_order() {
    let tokens: Vec<u32> = (0..103).collect();
    let (b, t) = (4, 10);
    let eval = EvalBatches::new(&tokens, b, t, Device::Cpu).unwrap();
    assert_eq!(eval.num_windows(), 10);
    assert_eq!(eval.num_targets(), 100);
    let batches: Vec<_> = eval.collect();
    assert_eq!(
        batches.iter().map(|(x, _)| x.size()[0]).collect::<Vec<_>>(),
        vec![4, 4, 2]
    );
    let targets: Vec<i64> = batches.iter().flat_map(|(_, y)| to_vec(y)).collect();
    assert_eq!(targets, (1..=100).collect::<Vec<i64>>());
    let inputs: Vec<i64> = batches.iter().flat_map(|(x, _)| to_vec(x)).collect();
    assert_eq!(inputs, (0..100).collect::<Vec<i64>>());
}
