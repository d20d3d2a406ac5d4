//! The K-FAC family's update on one flat buffer of the layers' parameters (`update::FlatUpdate`)
//! against the per-parameter form it replaces when the layers' parameters share their group
//! settings. Models and batches: `kfac_fixture`.
use crate::kfac_fixture::{batch, groups, Mlp};
use lab::optim::kfac::{Kfac, KfacConfig};
use lab::optim::stepper::Stepper;
use lab::optim::ParamGroup;

const D: i64 = 4;
const H: i64 = 5;
const C: i64 = 3;

/// `groups` with the second layer's parameters moved to a group `kfac2` whose weight decay
/// differs, so the stepper updates every parameter on its own.
fn split_groups(m: &Mlp, wd: f64) -> Vec<ParamGroup> {
    let mut gs = groups(m, D, C, wd);
    let kfac = gs.iter_mut().find(|g| g.name == "kfac").unwrap();
    let (l2, l1): (Vec<_>, Vec<_>) = kfac
        .params
        .drain(..)
        .partition(|(n, _)| n.starts_with("l2."));
    assert!(!l1.is_empty() && !l2.is_empty());
    kfac.params = l1;
    let flags = kfac.flags;
    // Right after `kfac`: the parameters keep their order (the gradient norm sums in it).
    let at = gs.iter().position(|g| g.name == "kfac").unwrap() + 1;
    gs.insert(
        at,
        ParamGroup {
            name: "kfac2".into(),
            params: l2,
            lr_mult: 1.0,
            weight_decay: wd * 2.0,
            flags,
        },
    );
    gs
}

/// With the decay not yet on (`wd_after_steps` past the run), the flat update and the
/// per-parameter one give the same parameters and momenta, bit for bit, for K-FAC (eigen) and
/// RING (Newton, lazy shifts), with momentum and the KL clip on.
#[test]
fn flat_update_equals_the_per_parameter_update() {
    for base in [KfacConfig::kfac(), KfacConfig::ring()] {
        let cfg = KfacConfig {
            t_stat: 2,
            t_inv: 3,
            lr: 0.1,
            wd_after_steps: Some(1000),
            ..base
        };
        let a = Mlp::new(D, H, C, 41);
        let b = a.twin(D, H, C);
        let mut s_a = Kfac::new(groups(&a, D, C, cfg.weight_decay), cfg.clone()).unwrap();
        let mut s_b = Kfac::new(split_groups(&b, cfg.weight_decay), cfg.clone()).unwrap();
        for k in 0..8 {
            s_a.step(&mut batch(&a, k, 8, D, C)).unwrap();
            s_b.step(&mut batch(&b, k, 8, D, C)).unwrap();
        }
        assert_eq!(a.values(), b.values(), "{}", cfg.name());
        let (sa, sb) = (s_a.state_dict().unwrap(), s_b.state_dict().unwrap());
        let momenta: Vec<_> = sa
            .tensors
            .iter()
            .filter(|(k, _)| k.starts_with("momentum/"))
            .collect();
        assert!(momenta.len() >= 4, "{} momenta", momenta.len());
        for (k, t) in momenta {
            let other = sb.tensors.iter().find(|(n, _)| n == k).unwrap();
            assert!(t.equal(&other.1), "{k}");
            assert!(
                t.abs().sum(tch::Kind::Double).double_value(&[]) > 0.0,
                "{k} is zero"
            );
        }
    }
}
