//! Every config the project ships (configs/<subcommand>/*.yaml, except the kinds catalogues)
//! passes its subcommand's validation, every study cell included (`--print-config` checks
//! each cell), so a reproduction target never starts on a config that cannot run.
use crate::common::{code, lab, stderr};
use std::path::Path;

#[test]
fn every_shipped_config_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut subs: Vec<_> = std::fs::read_dir(root.join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for dir in subs {
        let sub = dir.file_name().unwrap().to_str().unwrap().to_string();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .filter(|p| p.file_name().is_some_and(|n| n != "kinds.yaml"))
            .collect();
        files.sort();
        for f in files {
            let out = lab(
                root,
                &[&sub, "--config", f.to_str().unwrap(), "--print-config"],
            );
            assert_eq!(code(&out), 0, "{}: {}", f.display(), stderr(&out));
            checked += 1;
        }
    }
    // Five subcommands, each with at least default + smoke.
    assert!(checked >= 10, "only {checked} configs found");
}
