//! `inverse: newton` of the K-FAC family (grng spec §1.4, §1.5, §2.3 step 3): its config
//! (defaults, errors, configs/grng/kinds.yaml) and its state: bitwise resume also off refresh
//! steps, a state of the other inverse method refused, the older dense form still loading.
//! Models: `kfac_fixture`; the refreshes and lazy steps themselves: `grng_newton`.
use super::grng_newton::{with, C, D, H};
use crate::kfac_fixture::{assert_resume_bitwise, batch, groups, param_diffs, plain, Mlp};
use lab::optim::kfac::{DampingScheme, InverseMethod, Kfac, KfacConfig};
use lab::optim::stepper::Stepper;

#[test]
fn newton_state_resumes_bitwise_also_off_refresh_steps() {
    // 30 = 4·7 + 2: the resume lands between refreshes, with RING's lazy X in the state.
    for cfg in [
        with(InverseMethod::Newton, KfacConfig::kfac()),
        KfacConfig::reng(),
        KfacConfig::ring(),
    ] {
        let cfg = KfacConfig {
            t_stat: 3,
            t_inv: 7,
            wd_after_steps: Some(10),
            lr: 0.1,
            ..cfg
        };
        assert_eq!(cfg.inverse, InverseMethod::Newton);
        assert_resume_bitwise(&cfg, 30, 50);
    }
}

#[test]
fn newton_config_defaults_and_errors() {
    assert_eq!(KfacConfig::kfac().inverse, InverseMethod::Eigen);
    assert_eq!(KfacConfig::ring().inverse, InverseMethod::Newton);
    assert_eq!(
        (
            KfacConfig::reng().newton_warm,
            KfacConfig::reng().newton_cold
        ),
        (5, 40)
    );
    let c: KfacConfig =
        serde_yaml_ng::from_str("inverse: newton\nnewton_warm: 3\nnewton_cold: 30\n").unwrap();
    assert_eq!(
        (c.inverse, c.newton_warm, c.newton_cold),
        (InverseMethod::Newton, 3, 30)
    );
    let bad = KfacConfig {
        damping_scheme: DampingScheme::ExactEigen,
        ..KfacConfig::ring()
    };
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("damping_scheme"), "{err}");
    let bad = KfacConfig {
        newton_cold: 0,
        ..KfacConfig::reng()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("newton_cold"));
    let kinds = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/grng/kinds.yaml"),
    )
    .unwrap();
    for line in kinds.lines().filter(|l| l.contains("gr: ")) {
        let want = if line.trim_start().starts_with("kfac:") {
            "eigen"
        } else {
            "newton"
        };
        assert!(line.contains(&format!("inverse: {want},")), "{line}");
        assert!(line.contains("newton_warm: 5, newton_cold: 40"), "{line}");
    }
}

#[test]
fn loading_a_state_of_the_other_inverse_method_is_refused() {
    let cfg = with(InverseMethod::Newton, plain(KfacConfig::kfac()));
    let m = Mlp::new(D, H, C, 34);
    let mut s = Kfac::new(groups(&m, D, C, 0.0), cfg.clone()).unwrap();
    s.step(&mut batch(&m, 0, 8, D, C)).unwrap();
    let state = s.state_dict().unwrap();
    let mut other = Kfac::new(groups(&m, D, C, 0.0), with(InverseMethod::Eigen, cfg)).unwrap();
    let err = other.load_state_dict(&state).unwrap_err().to_string();
    assert!(err.contains("inverse"), "{err}");
}

/// `slot/<weight>` of the eigenform `kfac.{a,g}_inv_{vecs,vals}` as the dense X = Q diag(λ) Qᵀ
/// under the older slot `kfac.{a,g}_inv`.
fn to_dense_form(state: &lab::optim::StateDict) -> lab::optim::StateDict {
    let find = |k: &str| {
        let t = state.tensors.iter().find(|(n, _)| n == k);
        t.map(|(_, t)| t.shallow_clone()).unwrap()
    };
    let mut tensors = Vec::new();
    for (k, t) in &state.tensors {
        if k.contains("_inv_vals/") {
            continue;
        }
        let Some((slot, w)) = k.split_once("_inv_vecs/") else {
            tensors.push((k.clone(), t.shallow_clone()));
            continue;
        };
        let vals = find(&format!("{slot}_inv_vals/{w}"));
        let x = (t * vals.unsqueeze(0)).matmul(&t.tr());
        tensors.push((format!("{slot}_inv/{w}"), x));
    }
    lab::optim::StateDict {
        header: state.header.clone(),
        tensors,
    }
}

/// RING's state holds each Newton inverse as Q and λ; a state of the older dense form (X_A,
/// X_G) still loads, and the run continues as the uninterrupted one to rounding.
#[test]
fn a_newton_state_of_the_dense_form_still_loads() {
    let cfg = KfacConfig {
        t_stat: 3,
        t_inv: 7,
        lr: 0.1,
        ..KfacConfig::ring()
    };
    let m = Mlp::new(D, H, C, 36);
    let mut s = Kfac::new(groups(&m, D, C, cfg.weight_decay), cfg.clone()).unwrap();
    for k in 0..10 {
        s.step(&mut batch(&m, k, 8, D, C)).unwrap();
    }
    let state = s.state_dict().unwrap();
    let keys: Vec<&str> = state.tensors.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        keys.iter().any(|k| k.starts_with("kfac.a_inv_vals/")),
        "{keys:?}"
    );
    let twin = m.twin(D, H, C);
    let mut resumed = Kfac::new(groups(&twin, D, C, cfg.weight_decay), cfg).unwrap();
    resumed.load_state_dict(&to_dense_form(&state)).unwrap();
    for k in 10..14 {
        s.step(&mut batch(&m, k, 8, D, C)).unwrap();
        resumed.step(&mut batch(&twin, k, 8, D, C)).unwrap();
    }
    for (n, diff) in param_diffs(&m, &twin) {
        assert!(diff < 1e-9, "{n}: {diff}");
    }
}
