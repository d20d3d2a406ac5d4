//! grng's image data (spec §6.1): scikit-learn's digits fixture and its fixed stratified split,
//! the synthetic shapes; and the grng models' logits and captured layers (§6.2, §6.12).
use crate::common::zip_eq;
use lab::data::digits::{self, Images};
use lab::data::shapes::{self, ShapesSpec};
use lab::grng::config::Activation;
use lab::grng::models::{CharLm, Classifier, Cnn, Mlp, Pooling};
use lab::nn::Tape;
use tch::{Device, Kind, Tensor};

#[test]
fn digits_fixture_loads_1797_images_scaled_to_unit_range() {
    let d = digits::embedded().unwrap();
    assert_eq!(d.len(), 1797);
    assert_eq!(d.x.len(), 1797 * 64);
    let (lo, hi) =
        d.x.iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert_eq!((lo, hi), (0.0, 1.0), "pixels / 16 span [0, 1]");
    // Every value is a multiple of 1/16 (the CSV holds integers 0..=16).
    assert!(d.x.iter().all(|v| (v * 16.0).fract() == 0.0));
    let counts = d.class_counts();
    assert_eq!(counts.iter().sum::<usize>(), 1797);
    assert!(
        counts.iter().all(|&c| (174..=183).contains(&c)),
        "{counts:?}"
    );
    // The first image of scikit-learn's load_digits() is a 0 whose first row is 0 0 5 13 9 1 0 0.
    assert_eq!(d.y[0], 0);
    let first_row: Vec<f32> = d.x[..8].iter().map(|v| v * 16.0).collect();
    assert_eq!(first_row, [0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
}

#[test]
fn digits_split_is_1437_360_stratified_and_fixed() {
    let d = digits::embedded().unwrap();
    let (train, test) = digits::stratified_split(&d.y, 10, 360, 0).unwrap();
    assert_eq!((train.len(), test.len()), (1437, 360));
    let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1797).collect::<Vec<_>>(), "a partition");
    // Each class's test share is its share of 360, rounded (floor or ceil).
    let counts = d.class_counts();
    let test_counts = d.subset(&test).class_counts();
    for (k, (&n, &t)) in zip_eq(&counts, &test_counts).enumerate() {
        let exact = n as f64 * 360.0 / 1797.0;
        assert!((t as f64 - exact).abs() < 1.0, "class {k}: {t} of {n}");
    }
    let again = digits::stratified_split(&d.y, 10, 360, 0).unwrap();
    assert_eq!(again.1, test, "same seed, same split");
    let other = digits::stratified_split(&d.y, 10, 360, 1).unwrap();
    assert_ne!(other.1, test, "the seed moves the split");
}

#[test]
fn a_bad_digits_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.csv");
    let good = vec!["1"; 64].join(",") + ",3";
    std::fs::write(
        &path,
        format!("{good}\n{good}\n{}\n", vec!["1"; 64].join(",")),
    )
    .unwrap();
    let e = digits::load(&path).unwrap_err().to_string();
    assert!(e.contains("d.csv:3") && e.contains("65"), "{e}");
    std::fs::write(&path, format!("{good}\n{}\n", good.replace(",3", ",12"))).unwrap();
    let e = digits::load(&path).unwrap_err().to_string();
    assert!(e.contains("d.csv:2") && e.contains("label"), "{e}");
    std::fs::write(&path, format!("{}\n", good.replacen('1', "17", 1))).unwrap();
    let e = digits::load(&path).unwrap_err().to_string();
    assert!(e.contains("d.csv:1") && e.contains("pixel 1"), "{e}");
    std::fs::write(&path, format!("{good}\n")).unwrap();
    let ok: Images = digits::load(&path).unwrap();
    assert_eq!((ok.len(), ok.y[0]), (1, 3));
    assert!(digits::load(&dir.path().join("missing.csv"))
        .unwrap_err()
        .to_string()
        .contains("missing.csv"));
}

fn spec(n: usize, label_noise: f64, seed: u64) -> ShapesSpec {
    ShapesSpec {
        n,
        side: 16,
        noise: 0.1,
        label_noise,
        seed,
    }
}

#[test]
fn shapes_are_deterministic_balanced_and_flip_the_asked_fraction() {
    let a = shapes::generate(&spec(400, 0.1, 5));
    assert_eq!(
        a,
        shapes::generate(&spec(400, 0.1, 5)),
        "same seed, same data"
    );
    assert_ne!(a.images.x, shapes::generate(&spec(400, 0.1, 6)).images.x);
    assert_eq!(a.images.x.len(), 400 * 256);
    let clean_counts = Images {
        y: a.clean.clone(),
        ..a.images.clone()
    }
    .class_counts();
    assert_eq!(clean_counts, [100; 4]);
    let flipped = zip_eq(&a.images.y, &a.clean)
        .filter(|(y, c)| y != c)
        .count();
    assert_eq!(flipped, 40, "round(0.1 · 400) labels changed");
    let none = shapes::generate(&spec(400, 0.0, 5));
    assert_eq!(none.images.y, none.clean);
}

#[test]
fn shapes_of_different_classes_differ_in_ink() {
    // Without noise: discs, squares, triangles and crosses cover different areas on average
    // (areas in units of r²: disc π, square 2.56, triangle 2, cross 2.04).
    let s = shapes::generate(&ShapesSpec {
        noise: 0.0,
        ..spec(400, 0.0, 1)
    });
    let mut ink = [0.0f64; 4];
    for (i, &c) in s.clean.iter().enumerate() {
        ink[c as usize] += s.images.x[i * 256..(i + 1) * 256]
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>();
    }
    assert!(
        ink[0] > ink[2] && ink[1] > ink[2] && ink[0] > ink[3],
        "{ink:?}"
    );
    assert!(s.images.x.iter().all(|&v| v == 0.0 || v == 1.0));
}

fn captured(model: &dyn Classifier, x: &Tensor) -> (Vec<i64>, Vec<(String, i64, i64)>) {
    let mut tape = Tape::on();
    let logits = model.forward(x, &mut tape).unwrap();
    let layers = tape
        .items
        .iter()
        .map(|c| {
            let d_in = *c.input.size().last().unwrap();
            let rows = c.input.numel() as i64 / d_in;
            assert_eq!(
                c.output.numel() as i64 / c.output.size().last().unwrap(),
                rows
            );
            (c.layer.clone(), rows, d_in)
        })
        .collect();
    (logits.size(), layers)
}

fn named(v: &[(&str, i64, i64)]) -> Vec<(String, i64, i64)> {
    v.iter().map(|(n, r, d)| (n.to_string(), *r, *d)).collect()
}

#[test]
fn every_model_gives_n_by_c_logits_and_captures_its_linear_maps() {
    let _g = crate::common::torch_lock();
    tch::manual_seed(0);
    let cpu = Device::Cpu;
    let x8 = Tensor::rand([5, 64], (Kind::Float, cpu));
    let x16 = Tensor::rand([5, 256], (Kind::Float, cpu));
    let logreg = Mlp::new(&[64, 10], Activation::Tanh, cpu);
    assert_eq!(
        captured(&logreg, &x8),
        (vec![5, 10], named(&[("fc1", 5, 64)]))
    );
    let mlp = Mlp::new(&[64, 128, 64, 10], Activation::Relu, cpu);
    let want = named(&[("fc1", 5, 64), ("fc2", 5, 128), ("fc3", 5, 64)]);
    assert_eq!(captured(&mlp, &x8), (vec![5, 10], want));
    // Convolutions: N·L rows of C_in·9 patch features (L = 64 positions of 8×8).
    let cnn = Cnn::new(8, &[1, 16, 32], &[32, 10], Pooling::GlobalAvg, cpu);
    let want = named(&[("conv1", 5 * 64, 9), ("conv2", 5 * 64, 144), ("fc1", 5, 32)]);
    assert_eq!(captured(&cnn, &x8), (vec![5, 10], want));
    let cnn = Cnn::new(16, &[1, 16, 32], &[512, 64, 4], Pooling::MaxEach, cpu);
    let want = named(&[
        ("conv1", 5 * 256, 9),
        ("conv2", 5 * 64, 144),
        ("fc1", 5, 512),
        ("fc2", 5, 64),
    ]);
    assert_eq!(captured(&cnn, &x16), (vec![5, 4], want));
    let lm = CharLm::new(30, 16, cpu).unwrap();
    let ids = Tensor::randint(30, [3, 16], (Kind::Int64, cpu));
    let (shape, layers) = captured(&lm, &ids);
    assert_eq!(shape, [48, 30], "(B·T, V)");
    assert!(layers.iter().all(|(_, rows, _)| *rows == 48), "{layers:?}");
    assert!(layers.iter().any(|(n, _, _)| n == "head"), "{layers:?}");
}

#[test]
fn the_conv_as_unfold_layer_equals_torch_conv2d() {
    let _g = crate::common::torch_lock();
    tch::manual_seed(1);
    let cpu = Device::Cpu;
    let cnn = Cnn::new(8, &[1, 16], &[16, 3], Pooling::GlobalAvg, cpu);
    let x = Tensor::rand([2, 64], (Kind::Float, cpu));
    let mut tape = Tape::on();
    let _ = cnn.forward(&x, &mut tape).unwrap();
    let conv = &tape.items[0];
    let w = cnn.var_store().variables()["conv1.weight"].view([16, 1, 3, 3]);
    let b = cnn.var_store().variables()["conv1.bias"].shallow_clone();
    let want = x
        .view([2, 1, 8, 8])
        .conv2d(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1); // (2, 16, 8, 8)
    let got = conv.output.transpose(1, 2).reshape([2, 16, 8, 8]);
    let err = (got - want).abs().max().double_value(&[]);
    assert!(err < 1e-5, "{err}");
}

#[test]
fn every_model_supports_double_backward_for_the_gradient_penalty() {
    // RENG (spec §1.6) differentiates ‖∇L‖²: every op of every model needs a second
    // derivative (im2col, max pooling, tanh, explicit attention). The penalty's gradient must
    // exist, be finite and differ from zero.
    let _g = crate::common::torch_lock();
    tch::manual_seed(2);
    let cpu = Device::Cpu;
    let x8 = Tensor::rand([6, 64], (Kind::Float, cpu));
    let x16 = Tensor::rand([6, 256], (Kind::Float, cpu));
    let ids = Tensor::randint(20, [2, 8], (Kind::Int64, cpu));
    let models: Vec<(Box<dyn Classifier>, &Tensor, i64)> = vec![
        (
            Box::new(Mlp::new(&[64, 16, 10], Activation::Tanh, cpu)),
            &x8,
            10,
        ),
        (
            Box::new(Cnn::new(8, &[1, 4, 8], &[8, 10], Pooling::GlobalAvg, cpu)),
            &x8,
            10,
        ),
        (
            Box::new(Cnn::new(
                16,
                &[1, 4, 8],
                &[128, 16, 4],
                Pooling::MaxEach,
                cpu,
            )),
            &x16,
            4,
        ),
        (Box::new(CharLm::new(20, 8, cpu).unwrap()), &ids, 20),
    ];
    for (i, (model, x, classes)) in models.iter().enumerate() {
        let logits = model.forward(x, &mut Tape::off()).unwrap();
        let y = Tensor::randint(*classes, [logits.size()[0]], (Kind::Int64, cpu));
        let loss = logits.cross_entropy_for_logits(&y);
        let params: Vec<Tensor> = model.var_store().trainable_variables();
        let g = Tensor::run_backward(&[loss], &params, true, true);
        let r = g
            .iter()
            .map(|t| t.square().sum(Kind::Float))
            .fold(Tensor::from(0f32), |a, b| a + b);
        let h = Tensor::run_backward(&[r], &params, false, false);
        let norm: f64 = h
            .iter()
            .map(|t| t.square().sum(Kind::Double).double_value(&[]))
            .sum();
        assert!(
            norm.is_finite() && norm > 0.0,
            "model {i}: ‖∇‖∇L‖²‖² = {norm}"
        );
    }
}
