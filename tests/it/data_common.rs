//! Corpora for the data tests. The KJV file and the fortunes package come from the set-up
//! (`make data-kjv`, run by `make setup`): when they are missing the tests fail and say so.
use lab::data::{kjv, CorpusConfig};
use std::path::{Path, PathBuf};

pub fn kjv_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(kjv::DEFAULT_PATH)
}

/// The prepared KJV text; panics with the fix when it is absent.
pub fn kjv_text() -> String {
    let path = kjv_path();
    assert!(
        path.is_file(),
        "{} is missing: run `make data-kjv` (make setup does) to produce it",
        path.display()
    );
    std::fs::read_to_string(&path).expect("the KJV file is UTF-8")
}

/// The fortunes corpus; panics with the fix when the package is not installed.
pub fn fortunes_text() -> String {
    let cfg: CorpusConfig = serde_yaml_ng::from_str("kind: fortunes").unwrap();
    match cfg.load() {
        Ok(c) => c.text,
        Err(e) => panic!("{e:#} (`make data-kjv` installs it)"),
    }
}

/// A Markov corpus of the smoke size (vocab 16, 20,000 + 2,000 symbols).
pub fn markov_text() -> String {
    let cfg: CorpusConfig =
        serde_yaml_ng::from_str("{kind: markov, vocab: 16, train_len: 20000, val_len: 2000}")
            .unwrap();
    cfg.load().unwrap().text
}
