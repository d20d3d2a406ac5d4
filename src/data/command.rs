//! `lab corpus prepare kjv [--out PATH]` and `lab corpus info [KIND] [--config FILE] [--set K=V]`.
use super::corpus::{CorpusConfig, TextStats};
use super::{kjv, markov};
use crate::config::{self, Loaded, Source};
use crate::error::usage;
use anyhow::Result;
use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};

/// `lab corpus prepare KIND`: only `kjv` needs preparing.
pub fn prepare(kind: &str, out: Option<&Path>) -> Result<()> {
    if kind != "kjv" {
        return Err(usage(format!(
            "lab corpus prepare: `{kind}` needs no preparing (only `kjv` does)"
        )));
    }
    let out = out.map_or_else(|| PathBuf::from(kjv::DEFAULT_PATH), Path::to_path_buf);
    println!("{}", kjv::prepare(&out)?);
    Ok(())
}

/// `lab corpus info`: the corpus section is KIND with its defaults, or read from `--config` (a
/// corpus section, or a config with a `corpus:` or `data: {corpus: ...}` section), KIND
/// replacing its kind, then `--set` keys of the section (e.g. `--set vocab=16`).
pub fn info(kind: Option<&str>, config_file: Option<&Path>, sets: &[String]) -> Result<()> {
    let loaded = section(kind, config_file, sets)?;
    let cfg: CorpusConfig = loaded.typed()?;
    loaded.validate(&cfg)?;
    let corpus = cfg.load()?;
    print!("{}", describe(&cfg, &TextStats::of(&corpus.text)));
    if let CorpusConfig::Markov(m) = &cfg {
        let h = markov::MarkovSource::new(m)?.entropy_rate()?;
        println!("train/val chars: {}/{}", m.train_len, m.val_len);
        println!(
            "entropy rate:   {h:.6} nats/symbol ({:.6} bits)",
            h / 2f64.ln()
        );
    }
    Ok(())
}

/// The lines `lab corpus info` prints for every kind.
pub fn describe(cfg: &CorpusConfig, s: &TextStats) -> String {
    format!(
        "corpus:         {}\nbytes:          {}\nchars:          {}\ndistinct chars: {}\n\
         lines:          {}\nsha256:         {}\n",
        cfg.kind(),
        s.bytes,
        s.chars,
        s.distinct,
        s.lines,
        s.sha256
    )
}

fn section(kind: Option<&str>, file: Option<&Path>, sets: &[String]) -> Result<Loaded> {
    let mut user = None;
    let mut value = Value::Mapping(Mapping::new());
    if let Some(path) = file {
        let text = crate::config::read_config(path)?;
        let whole = crate::config::parse_yaml(&text)
            .map_err(|e| usage(format!("{}: invalid YAML: {e}", path.display())))?;
        value = whole
            .get("corpus")
            .or_else(|| whole.get("data").and_then(|d| d.get("corpus")))
            .cloned()
            .unwrap_or(whole);
        user = Some(Source {
            name: path.display().to_string(),
            text,
        });
    }
    if let Some(kind) = kind {
        config::set_path(&mut value, "kind", Value::from(kind)).map_err(usage)?;
    } else if value.get("kind").is_none() {
        return Err(usage(
            "lab corpus info: give a corpus kind (kjv, fortunes, markov, grammar, file) or \
             --config FILE",
        ));
    }
    for s in sets {
        config::apply_set(&mut value, s)?;
    }
    Ok(Loaded {
        value,
        default: Source {
            name: "the corpus section".into(),
            text: String::new(),
        },
        user,
        sets: sets.to_vec(),
        layers: Default::default(),
    })
}
