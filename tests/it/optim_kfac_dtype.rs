//! `precondition_dtype` of the K-FAC family: the per-step products U = G⁻¹ v A⁻¹ run in the
//! parameters' kind (`model`, default) or in f64, on f64 inverses either way; and RING's route
//! through the Newton inverses' eigenbases equals forming X.
use super::grng_newton::{rel, spd};
use crate::kfac_fixture::{batch, groups_of, Mlp};
use lab::optim::curvature::NewtonOptions;
use lab::optim::kfac::{Kfac, KfacConfig, NewtonInv, NewtonStats, PrecondDtype};
use lab::optim::stepper::{Objective, Stepper};
use lab::optim::Captured;
use tch::{Device, Kind, Tensor};

const D: i64 = 4;
const H: i64 = 5;
const C: i64 = 3;
const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

/// Statistics every 2 steps, inverses every 3, momentum, decay and KL clip on.
fn schedule(cfg: KfacConfig, dtype: PrecondDtype) -> KfacConfig {
    KfacConfig {
        t_stat: 2,
        t_inv: 3,
        wd_after_steps: Some(2),
        lr: 0.1,
        precondition_dtype: dtype,
        ..cfg
    }
}

fn variants() -> [KfacConfig; 4] {
    let newton = KfacConfig {
        inverse: lab::optim::kfac::InverseMethod::Newton,
        ..KfacConfig::kfac()
    };
    [
        KfacConfig::kfac(),
        newton,
        KfacConfig::reng(),
        KfacConfig::ring(),
    ]
}

/// An [`Mlp`] batch in the model's kind.
struct Cast<'a>(crate::kfac_fixture::Batch<'a>, Kind);

impl Objective for Cast<'_> {
    fn forward(&mut self, capture: bool) -> anyhow::Result<(Tensor, Vec<Captured>)> {
        self.0.x = self.0.x.to_kind(self.1);
        self.0.forward(capture)
    }
    fn targets(&self) -> &Tensor {
        self.0.targets()
    }
}

/// Parameter values after each of `steps` steps of `cfg` on a fresh model of `kind`.
fn trajectory(cfg: KfacConfig, kind: Kind, steps: u64) -> Vec<Vec<(String, Vec<f64>)>> {
    let mut m = Mlp::new(D, H, C, 41);
    if kind == Kind::Float {
        m.vs.float();
    }
    let groups = groups_of(&m, &mut Cast(batch(&m, 0, 2, D, C), kind), cfg.weight_decay);
    let mut s = Kfac::new(groups, cfg).unwrap();
    (0..steps)
        .map(|k| {
            let r = s.step(&mut Cast(batch(&m, k, 8, D, C), kind)).unwrap();
            assert!(!r.nonfinite_skipped, "step {k}");
            m.values()
        })
        .collect()
}

/// Largest |a − b| / (1 + |b|) over all parameters of all steps.
fn max_rel(a: &[Vec<(String, Vec<f64>)>], b: &[Vec<(String, Vec<f64>)>]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut worst = 0.0_f64;
    for (sa, sb) in a.iter().zip(b) {
        assert_eq!(sa.len(), sb.len());
        for ((na, va), (nb, vb)) in sa.iter().zip(sb) {
            assert_eq!((na, va.len()), (nb, vb.len()));
            for (x, y) in va.iter().zip(vb) {
                worst = worst.max((x - y).abs() / (1.0 + y.abs()));
            }
        }
    }
    worst
}

#[test]
fn an_f64_model_takes_identical_steps_with_either_setting() {
    for cfg in variants() {
        let name = cfg.name();
        let model = trajectory(schedule(cfg.clone(), PrecondDtype::Model), Kind::Double, 8);
        let f64s = trajectory(schedule(cfg, PrecondDtype::F64), Kind::Double, 8);
        assert_eq!(model, f64s, "{name}");
    }
}

/// On an f32 model the two settings differ (f32 against f64 products) but only at f32's
/// precision, over steps that include refreshes and RING's moving damping.
#[test]
fn an_f32_model_preconditions_in_f32_within_f32_precision_of_f64() {
    for cfg in variants() {
        let name = cfg.name();
        let model = trajectory(schedule(cfg.clone(), PrecondDtype::Model), Kind::Float, 8);
        let f64s = trajectory(schedule(cfg, PrecondDtype::F64), Kind::Float, 8);
        let diff = max_rel(&model, &f64s);
        assert!(diff > 0.0, "{name}: the f32 products changed nothing");
        assert!(diff < 1e-4, "{name}: {diff}");
    }
}

#[test]
fn newton_inverses_through_their_eigenbases_equal_the_formed_x() {
    let (a, g) = (spd(7, 1), spd(5, 2));
    let opts = NewtonOptions::default();
    let inv = NewtonInv::refresh(&a, &g, 1e-2, None, &opts, &mut NewtonStats::default()).unwrap();
    let shifted = inv
        .at_damping(3e-2, &a, &g, &opts, &mut NewtonStats::default())
        .unwrap()
        .unwrap();
    tch::manual_seed(3);
    let v = Tensor::randn([5, 7], F64);
    for n in [&inv, &shifted] {
        let formed = n.xg().matmul(&v.matmul(&n.xa()));
        for route in [false, true] {
            let err = rel(&n.precondition(&v, route), &formed);
            assert!(err < 1e-12, "route {route}: {err}");
            // f32 gradients get f32 products on the cast inverses.
            let u32 = n.precondition(&v.to_kind(Kind::Float), route);
            assert_eq!(u32.kind(), Kind::Float);
            let err = rel(&u32.to_kind(Kind::Double), &formed);
            assert!(err < 1e-5 && err > 0.0, "route {route}, f32: {err}");
        }
    }
}

#[test]
fn the_key_takes_model_or_f64_and_names_itself_otherwise() {
    let c: KfacConfig = serde_yaml_ng::from_str("precondition_dtype: f64\n").unwrap();
    assert_eq!(c.precondition_dtype, PrecondDtype::F64);
    assert_eq!(KfacConfig::ring().precondition_dtype, PrecondDtype::Model);
    let err = serde_yaml_ng::from_str::<KfacConfig>("precondition_dtype: f16\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("precondition_dtype") || err.contains("f16"),
        "{err}"
    );
    assert!(err.contains("model") && err.contains("f64"), "{err}");
}
