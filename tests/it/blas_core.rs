//! OpenBLAS's kernel set (`device::fit_blas_core`): a generic pre-AVX fallback on a CPU with AVX
//! is replaced by the best core the CPU supports, OpenBLAS's own good detection and the user's
//! `OPENBLAS_CORETYPE` are kept, and `meta.json` says which happened.
use crate::common::*;
use lab::device::blas::{core_for, core_level, cpu_level, refit, IsaLevel};
use std::path::Path;
use std::process::Command;

#[test]
fn core_names_map_to_the_instruction_sets_their_kernels_need() {
    assert_eq!(core_level("Prescott"), Some(IsaLevel::PreAvx));
    assert_eq!(core_level("NEHALEM"), Some(IsaLevel::PreAvx));
    assert_eq!(core_level("Sandybridge"), Some(IsaLevel::Avx));
    assert_eq!(core_level("Haswell"), Some(IsaLevel::Avx2));
    assert_eq!(core_level("Zen"), Some(IsaLevel::Avx2));
    assert_eq!(core_level("SkylakeX"), Some(IsaLevel::Avx512));
    assert_eq!(core_level("Cooperlake"), Some(IsaLevel::Avx512Bf16));
    assert_eq!(core_level("NeoverseN1"), None);
    // The chosen core needs no more than the level it is chosen for.
    for level in [
        IsaLevel::Avx,
        IsaLevel::Avx2,
        IsaLevel::Avx512,
        IsaLevel::Avx512Bf16,
    ] {
        let core = core_for(level).expect("a core for every AVX level");
        assert_eq!(core_level(core), Some(level), "{core}");
    }
    assert_eq!(core_for(IsaLevel::PreAvx), None);
}

#[test]
fn only_a_pre_avx_fallback_on_an_avx_cpu_is_replaced_and_never_a_forced_core() {
    assert_eq!(
        refit("Prescott", IsaLevel::Avx512Bf16, false),
        Some("Cooperlake")
    );
    assert_eq!(refit("Prescott", IsaLevel::Avx2, false), Some("Haswell"));
    assert_eq!(refit("Prescott", IsaLevel::PreAvx, false), None);
    assert_eq!(refit("Prescott", IsaLevel::Avx512, true), None);
    // A detection OpenBLAS made (right or not) above the fallback is its own business.
    assert_eq!(refit("Haswell", IsaLevel::Avx512Bf16, false), None);
    assert_eq!(refit("Zen", IsaLevel::Avx512, false), None);
    assert_eq!(refit("SomeFutureCore", IsaLevel::Avx512, false), None);
}

/// meta.json of a decompose smoke run whose environment has only `env` of OpenBLAS's and lab's
/// core variables (the test process's own are removed).
fn decompose_meta(dir: &Path, out: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/decompose/smoke.yaml");
    let o = Command::new(LAB)
        .args(["decompose", "--config", cfg.to_str().unwrap()])
        .args(["--out", out, "--quiet"])
        .current_dir(dir)
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("LAB_OPENBLAS_RESTART")
        .envs(env.iter().copied())
        .output()
        .expect("the lab binary runs");
    assert_eq!(code(&o), 0, "{}", text(&o));
    json(&dir.join(out).join("meta.json"))
}

#[test]
fn a_run_uses_kernels_for_its_cpu_and_meta_says_who_chose_them() {
    let dir = tempfile::tempdir().unwrap();
    let m = decompose_meta(dir.path(), "auto", &[]);
    let core = &m["blas"]["core"];
    let active = core["active"].as_str().expect("blas.core.active");
    let detected = core["detected"].as_str().expect("blas.core.detected");
    assert!(
        m["blas"]["config"].as_str().unwrap().contains(active),
        "{m}"
    );
    let expected = if refit(detected, cpu_level(), false).is_some() {
        "lab"
    } else {
        "openblas"
    };
    assert_eq!(core["chosen_by"], expected, "{m}");
    if cpu_level() > IsaLevel::PreAvx {
        assert_ne!(core_level(active), Some(IsaLevel::PreAvx), "{m}");
    }
    // The test process itself was fitted the same way before its first BLAS call.
    let here = lab::device::blas().expect("one BLAS answers");
    assert_eq!(here.core.active, active);
}

#[test]
fn the_users_openblas_coretype_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    // Prescott's SSE3 kernels run on every x86-64 CPU.
    let m = decompose_meta(dir.path(), "forced", &[("OPENBLAS_CORETYPE", "Prescott")]);
    let core = &m["blas"]["core"];
    assert_eq!(core["active"], "Prescott", "{m}");
    assert_eq!(core["chosen_by"], "environment", "{m}");
}

/// A child of a restarted process inherits lab's choice without another restart; a marker whose
/// core is not the one `OPENBLAS_CORETYPE` names is not lab's and is not believed.
#[test]
fn a_restart_marker_counts_only_with_the_core_it_names() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (coretype, marker, by)) in [
        ("Prescott", "Katmai:Prescott", "lab"),
        ("Prescott", "Katmai:Haswell", "environment"),
    ]
    .into_iter()
    .enumerate()
    {
        let env = [
            ("OPENBLAS_CORETYPE", coretype),
            ("LAB_OPENBLAS_RESTART", marker),
        ];
        let m = decompose_meta(dir.path(), &format!("m{i}"), &env);
        assert_eq!(m["blas"]["core"]["chosen_by"], by, "{m}");
        assert_eq!(m["blas"]["core"]["active"], "Prescott", "{m}");
        let detected = if by == "lab" { "Katmai" } else { "Prescott" };
        assert_eq!(m["blas"]["core"]["detected"], detected, "{m}");
    }
}
