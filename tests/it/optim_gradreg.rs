//! Double backprop for the gradient-regularized loss (grng spec §6.5 test 1, §7): ∇L + ρH∇L on a
//! 2-layer tanh MLP against central finite differences (f64), and the start-up probe on a model
//! whose fused attention kernel has no double backward.
use crate::common::zip_eq;
use crate::nn_common::{model, nano, V};
use lab::nn::{named_parameters, Attention, Dtype, Input};
use lab::optim::gradreg::{gr_gradient, probe_double_backward};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use tch::{Kind, Tensor};

const SHAPES: [&[i64]; 4] = [&[12, 5], &[12], &[4, 12], &[4]]; // W1, b1, W2, b2: 124 parameters
const N: i64 = 16;
const FD_EPS: f64 = 1e-5;

struct Problem {
    x: Tensor,       // (N, 5)
    y: Tensor,       // (N,) i64
    theta: Vec<f64>, // all parameters, flattened in SHAPES order
}

fn problem(seed: u64) -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = |n: i64, scale: f64| -> Vec<f64> {
        (0..n)
            .map(|_| scale * rng.sample::<f64, _>(StandardNormal))
            .collect()
    };
    let x = Tensor::from_slice(&normal(N * 5, 1.0)).view([N, 5]);
    let theta = normal(SHAPES.iter().map(|s| s.iter().product::<i64>()).sum(), 0.7);
    let y: Vec<i64> = (0..N).map(|i| (i * 7 + 3) % 4).collect();
    Problem {
        x,
        y: Tensor::from_slice(&y),
        theta,
    }
}

/// Leaf parameter tensors (requires_grad) holding `theta`.
fn params(theta: &[f64]) -> Vec<Tensor> {
    let mut at = 0;
    SHAPES
        .iter()
        .map(|shape| {
            let n = shape.iter().product::<i64>() as usize;
            let t = Tensor::from_slice(&theta[at..at + n])
                .view(*shape)
                .set_requires_grad(true);
            at += n;
            t
        })
        .collect()
}

/// Mean cross-entropy of `tanh(x W1ᵀ + b1) W2ᵀ + b2` (aten's cross_entropy keeps f64; tch's
/// `cross_entropy_for_logits` would compute in f32).
fn loss(p: &Problem, params: &[Tensor]) -> Tensor {
    let hidden = p.x.linear(&params[0], Some(&params[1])).tanh(); // (N, 12)
    let logits = hidden.linear(&params[2], Some(&params[3])); // (N, 4)
    logits.cross_entropy_loss::<Tensor>(&p.y, None, tch::Reduction::Mean, -100, 0.0)
}

fn flat(ts: &[Tensor]) -> Vec<f64> {
    let parts: Vec<Tensor> = ts.iter().map(|t| t.detach().flatten(0, -1)).collect();
    Vec::<f64>::try_from(&Tensor::cat(&parts, 0)).unwrap()
}

/// ∇L(θ), flattened.
fn grad_at(p: &Problem, theta: &[f64]) -> Vec<f64> {
    let ps = params(theta);
    flat(&Tensor::run_backward(&[loss(p, &ps)], &ps, false, false))
}

fn axpy(a: f64, x: &[f64], y: &[f64]) -> Vec<f64> {
    zip_eq(x, y).map(|(x, y)| a * x + y).collect()
}

fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = zip_eq(a, b).map(|(a, b)| (a - b).powi(2)).sum();
    let scale: f64 = b.iter().map(|b| b * b).sum();
    (diff / scale).sqrt()
}

fn l2(v: &[f64]) -> f64 {
    v.iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[test]
fn double_backprop_matches_central_differences() {
    let p = problem(1);
    let g = grad_at(&p, &p.theta);
    let rho = 0.3;
    let ps = params(&p.theta);
    let gr = gr_gradient(&loss(&p, &ps), &ps, rho).unwrap();
    let grads = flat(&gr.grads);
    let hg: Vec<f64> = zip_eq(&grads, &g).map(|(r, g)| (r - g) / rho).collect(); // H g
                                                                                 // (∇L(θ + εg) − ∇L(θ − εg)) / 2ε = H g.
    let plus = grad_at(&p, &axpy(FD_EPS, &g, &p.theta));
    let minus = grad_at(&p, &axpy(-FD_EPS, &g, &p.theta));
    let hg_fd: Vec<f64> = zip_eq(&plus, &minus)
        .map(|(a, b)| (a - b) / (2.0 * FD_EPS))
        .collect();
    assert!(rel_err(&hg, &hg_fd) < 1e-6, "Hv: {}", rel_err(&hg, &hg_fd));
    // Central differences of φ(θ) = ½‖∇L(θ)‖², coordinate by coordinate: ∇φ = H g.
    let phi = |theta: &[f64]| 0.5 * l2(&grad_at(&p, theta)).powi(2);
    let dphi: Vec<f64> = (0..p.theta.len())
        .map(|i| {
            let (mut up, mut down) = (p.theta.clone(), p.theta.clone());
            up[i] += FD_EPS;
            down[i] -= FD_EPS;
            (phi(&up) - phi(&down)) / (2.0 * FD_EPS)
        })
        .collect();
    assert!(
        rel_err(&hg, &dphi) < 1e-6,
        "∇½‖∇L‖²: {}",
        rel_err(&hg, &dphi)
    );
    // ∇L_G = ∇L + ρ H ∇L with the finite-difference H ∇L, and the reported scalars.
    let want = axpy(rho, &hg_fd, &g);
    assert!(
        rel_err(&grads, &want) < 1e-6,
        "∇L_G: {}",
        rel_err(&grads, &want)
    );
    assert!((gr.grad_norm / l2(&g) - 1.0).abs() < 1e-12);
    assert!((gr.grad_norm_reg / l2(&grads) - 1.0).abs() < 1e-12);
    assert!((gr.penalty / (0.5 * rho * l2(&g).powi(2)) - 1.0).abs() < 1e-12);
    for (r, s) in zip_eq(&gr.grads, SHAPES) {
        assert_eq!(r.size(), s);
        assert!(!r.requires_grad(), "the returned gradients are detached");
    }
}

#[test]
fn rho_zero_is_the_plain_gradient() {
    let p = problem(2);
    let ps = params(&p.theta);
    let gr = gr_gradient(&loss(&p, &ps), &ps, 0.0).unwrap();
    let g = grad_at(&p, &p.theta);
    assert!(rel_err(&flat(&gr.grads), &g) < 1e-15);
    assert_eq!(gr.penalty, 0.0);
    assert!(
        (gr.grad_norm - gr.grad_norm_reg).abs() < 1e-15
            && (gr.grad_norm / l2(&g) - 1.0).abs() < 1e-12
    );
    let ps = params(&p.theta);
    let msg = gr_gradient(&loss(&p, &ps), &ps, -1.0)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("ρ = -1"), "{msg}");
}

#[test]
fn probe_passes_on_the_mlp() {
    let p = problem(3);
    let ps = params(&p.theta);
    probe_double_backward(&loss(&p, &ps), &ps).unwrap();
}

/// One fused causal attention head over a projection of fixed inputs (f64).
fn fused_attention_loss(w: &Tensor) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x: Vec<f64> = (0..2 * 6 * 8).map(|_| rng.sample(StandardNormal)).collect();
    let x = Tensor::from_slice(&x).view([2, 1, 6, 8]); // (B, H, T, C)
    let q = x.matmul(w); // (B, H, T, C)
    Tensor::scaled_dot_product_attention(&q, &q, &q, None::<Tensor>, 0.0, true, None, false)
        .square()
        .mean(Kind::Double)
}

#[test]
fn probe_names_the_fused_attention_op_and_the_fix() {
    // libtorch 2.13 on CPU runs the fused flash kernel, whose backward has no derivative.
    let w = Tensor::eye(8, (Kind::Double, tch::Device::Cpu)).set_requires_grad(true);
    let err =
        probe_double_backward(&fused_attention_loss(&w), std::slice::from_ref(&w)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("_scaled_dot_product_flash_attention_for_cpu_backward"),
        "{msg}"
    );
    assert!(
        msg.contains("attention: explicit") && msg.contains("cross-entropy from logits"),
        "{msg}"
    );
    assert!(
        !msg.contains("Exception raised from"),
        "no C++ backtrace: {msg}"
    );
    let err = gr_gradient(&fused_attention_loss(&w), std::slice::from_ref(&w), 0.1).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("double backprop") && msg.contains("scaled_dot_product"),
        "{msg}"
    );
}

#[test]
fn probe_refuses_a_loss_without_a_graph() {
    let w = Tensor::ones([3], (Kind::Double, tch::Device::Cpu));
    let loss = w.square().sum(Kind::Double);
    let msg = probe_double_backward(&loss, &[w]).unwrap_err().to_string();
    assert!(msg.contains("does not require grad"), "{msg}");
}

/// The probe on the project's nano GPT: CE of next tokens on a `(2, 4)` batch (f32).
fn probe_gpt(attention: Attention) -> anyhow::Result<()> {
    let m = model(&nano(attention, Dtype::F32), 5);
    let tokens = Tensor::from_slice(&[1_i64, 2, 3, 4, 5, 6, 7, 8]).view([2, 4]); // (B, T)
    let logits = m.forward(&Input::new(&tokens), false)?; // (B, T, V)
    let targets = (&tokens + 1).remainder(V).view([-1]); // (B·T,)
    let loss = logits.view([-1, V]).cross_entropy_loss::<Tensor>(
        &targets,
        None,
        tch::Reduction::Mean,
        -100,
        0.0,
    );
    let params: Vec<Tensor> = named_parameters(m.as_ref())
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    probe_double_backward(&loss, &params)
}

#[test]
fn probe_on_the_gpt_fails_fused_and_passes_explicit() {
    let msg = probe_gpt(Attention::Fused).unwrap_err().to_string();
    assert!(
        msg.contains("scaled_dot_product") && msg.contains("attention: explicit"),
        "{msg}"
    );
    probe_gpt(Attention::Explicit).unwrap();
}
