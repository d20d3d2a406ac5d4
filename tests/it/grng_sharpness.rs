//! `sharpness_top_eig` (spec §6.3): power iteration on Hessian-vector products against the
//! dense Hessian of softmax regression, H = (1/N) Σ_n (diag p_n − p_n p_nᵀ) ⊗ x̃_n x̃_nᵀ
//! (x̃ = [x; 1]), whose top eigenvalue comes from `linalg_eigvalsh`; and the epochs.csv column.
use crate::common::*;
use lab::grng::models::Classifier;
use lab::grng::sharpness::top_eig;
use lab::nn::Tape;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Softmax regression in f64: logits = x Wᵀ + b.
struct Softmax {
    vs: VarStore,
    w: Tensor,
    b: Tensor,
}

impl Classifier for Softmax {
    fn forward(&self, x: &Tensor, _tape: &mut Tape) -> anyhow::Result<Tensor> {
        Ok(x.matmul(&self.w.tr()) + &self.b)
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
}

/// The dense Hessian's largest eigenvalue, from the closed form above.
fn dense_top(model: &Softmax, x: &Tensor, n: i64, d: i64, c: i64) -> f64 {
    let p = tch::no_grad(|| {
        model
            .forward(x, &mut Tape::off())
            .unwrap()
            .softmax(-1, Kind::Double)
    });
    let xt = Tensor::cat(
        &[
            x.shallow_clone(),
            Tensor::ones([n, 1], tch::kind::FLOAT_CPU).to_kind(Kind::Double),
        ],
        1,
    );
    let mut h = Tensor::zeros([c * (d + 1), c * (d + 1)], (Kind::Double, Device::Cpu));
    for i in 0..n {
        let pi = p.get(i); // (C,)
        let a = pi.diag(0) - pi.outer(&pi); // (C, C)
        let xi = xt.get(i);
        h += a.kron(&xi.outer(&xi)) / n as f64;
    }
    h.linalg_eigvalsh("L").max().double_value(&[])
}

#[test]
fn power_iteration_finds_the_dense_hessians_top_eigenvalue() {
    let _g = torch_lock();
    tch::manual_seed(7);
    let (n, d, c) = (24, 3, 4);
    let mut vs = VarStore::new(Device::Cpu);
    let w = vs.root().var_copy(
        "w",
        &(Tensor::randn([c, d], (Kind::Double, Device::Cpu)) * 0.7),
    );
    let b = vs.root().var_copy(
        "b",
        &(Tensor::randn([c], (Kind::Double, Device::Cpu)) * 0.3),
    );
    vs.double(); // the variables in f64, in place (w and b share their storage)
    let model = Softmax { vs, w, b };
    let x = Tensor::randn([n, d], (Kind::Double, Device::Cpu)) * 1.5;
    let y = Tensor::randint(c, [n], (Kind::Int64, Device::Cpu));
    let want = dense_top(&model, &x, n, d, c);
    assert!(want > 1e-3, "{want}");
    let many = top_eig(&model, &x, &y, 300).unwrap().unwrap();
    assert!(
        (many - want).abs() < 1e-8 * want,
        "300 iterations: {many} vs dense {want}"
    );
    // The Hessian is PSD: every Rayleigh quotient lies in [0, λ_max].
    let twenty = top_eig(&model, &x, &y, 20).unwrap().unwrap();
    assert!(
        twenty <= want * (1.0 + 1e-12) && twenty > 0.5 * want,
        "{twenty} vs {want}"
    );
    // Labels do not enter the softmax-regression Hessian; the estimate is deterministic.
    let y2 = (&y + 1).remainder(c);
    let again = top_eig(&model, &x, &y2, 300).unwrap().unwrap();
    assert!((again - want).abs() < 1e-8 * want);
    assert_eq!(top_eig(&model, &x, &y, 20).unwrap().unwrap(), twenty);
}

#[test]
fn epochs_csv_fills_sharpness_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        "train.sharpness_top_eig=true",
        "train.steps=20",
        "assert=null",
    ];
    let o = grng_smoke(dir.path(), "s", &sets);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (h, rows) = read_csv(&dir.path().join("s/epochs.csv"));
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let v: f64 = row[col(&h, "sharpness_top_eig")].parse().unwrap();
        assert!(v.is_finite() && v > 0.0, "{v}");
    }
}
