//! K-FAC's KL clip (grng spec §2.2 step 5): Σ⟨U, g⟩ is the quadratic form of the damped
//! Kronecker Fisher, and an active clip scales the whole step by ν. Models: `kfac_fixture`.
use crate::kfac_fixture::{batch, delta, groups, normals, plain, Mlp, F64};
use lab::optim::kfac::{DampingScheme, InverseMethod, Inverses, Kfac, KfacConfig};
use lab::optim::stepper::{mean_ce, Objective, Stepper};
use tch::Tensor;

fn spd(n: i64, seed: u64) -> Tensor {
    let m = Tensor::from_slice(&normals((n * n) as usize, seed)).view([n, n]);
    m.matmul(&m.transpose(0, 1)) + Tensor::eye(n, F64) * 0.1
}

#[test]
fn kl_clip_sum_is_the_quadratic_form_of_the_damped_kronecker_fisher() {
    let (a, g) = (spd(4, 11), spd(3, 12));
    let v = Tensor::from_slice(&normals(12, 13)).view([3, 4]);
    let inv = Inverses::compute(InverseMethod::Eigen, &a, &g).unwrap();
    let delta: f64 = 0.05;
    let pi = inv.pi();
    let (da, dg) = (pi * delta.sqrt(), delta.sqrt() / pi);
    let factored = (&g + Tensor::eye(3, F64) * dg).kron(&(&a + Tensor::eye(4, F64) * da));
    let exact = g.kron(&a) + Tensor::eye(12, F64) * delta;
    for (scheme, f) in [
        (DampingScheme::Factored, factored),
        (DampingScheme::ExactEigen, exact),
    ] {
        let u = inv.precondition(&v, delta, scheme).flatten(0, -1);
        let vv = v.flatten(0, -1);
        let ug = u.dot(&vv).double_value(&[]);
        let g_finv_g = vv.dot(&f.inverse().mv(&vv)).double_value(&[]);
        let u_f_u = u.dot(&f.mv(&u)).double_value(&[]);
        assert!((ug - g_finv_g).abs() < 1e-10 * ug.abs(), "{scheme:?}");
        assert!((ug - u_f_u).abs() < 1e-10 * ug.abs(), "{scheme:?}");
    }
}

#[test]
fn kl_clip_scales_the_direction_by_nu() {
    let (d, h, c) = (4, 5, 3);
    let m_free = Mlp::new(d, h, c, 6);
    let m_clip = m_free.twin(d, h, c);
    let cfg = KfacConfig {
        lr: 0.3,
        ..plain(KfacConfig::kfac())
    };
    let clip = KfacConfig {
        kl_clip: Some(1e-4),
        ..cfg.clone()
    };
    let before = m_free.values();
    let mut s_free = Kfac::new(groups(&m_free, d, c, 0.0), cfg).unwrap();
    s_free.step(&mut batch(&m_free, 5, 8, d, c)).unwrap();
    // Σ⟨U, g⟩ over K-FAC parameters from the unclipped update U = −Δθ/η and g at θ0.
    let g_model = m_clip.twin(d, h, c);
    let mut b = batch(&g_model, 5, 8, d, c);
    let (logits, _) = b.forward(false).unwrap();
    mean_ce(&logits, &b.y).backward();
    let vars = g_model.vs.variables();
    let names = ["l1.bias", "l1.weight", "l2.bias", "l2.weight"];
    let mut ug = 0.0;
    for name in names {
        let g = Vec::<f64>::try_from(vars[name].grad().flatten(0, -1)).unwrap();
        let u = delta(&before, &m_free.values(), name);
        assert_eq!(u.len(), g.len(), "{name}");
        ug += u.iter().zip(&g).map(|(u, g)| -u / 0.3 * g).sum::<f64>();
    }
    let mut s_clip = Kfac::new(groups(&m_clip, d, c, 0.0), clip).unwrap();
    let r = s_clip.step(&mut batch(&m_clip, 5, 8, d, c)).unwrap();
    let nu = (1e-4 / (0.09 * ug)).sqrt().min(1.0);
    assert!(nu < 0.5, "the test wants an active clip, ν = {nu}");
    let got = r.kl_clip_scale.unwrap();
    assert!((got - nu).abs() < 1e-10 * nu, "{got} vs {nu}");
    for name in names {
        let (free, clipped) = (
            delta(&before, &m_free.values(), name),
            delta(&before, &m_clip.values(), name),
        );
        assert_eq!(free.len(), clipped.len(), "{name}");
        for (f, c) in free.iter().zip(&clipped) {
            assert!((f * nu - c).abs() < 1e-12, "{name}");
        }
    }
}
