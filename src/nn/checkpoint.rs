//! Training checkpoints: one directory per checkpoint, written atomically.
//!
//! Layout of `<dir>`: `model.safetensors` (every VarStore variable by name),
//! `optimizer.safetensors` + `optimizer.json` (see `optim::state`), and `checkpoint.json`
//! (format, step, the run's ChaCha8 RNG as seed + stream + word position, the tokenizer as an
//! opaque JSON string, free-form metadata). [`save`] writes into a hidden sibling temp directory
//! and renames it; it refuses an existing `<dir>` (name checkpoints by step, [`dir_name`]).
//! `checkpoint.json` also records each other file's SHA-256, which [`load`] checks first.
//! [`load`] checks every name, shape and dtype and that the values are finite, that the
//! optimizer state's settings are those of the optimizer it loads into and its step is the
//! checkpoint's, and names the file and parameter or key that differ.
//!
//! Bit-exact resume needs every random stream to be a function of the step: the Rust RNG is
//! restored here; torch's generator is not saved, so reseed it before each step with
//! [`seed_torch_for_step`] (dropout, `multinomial` sampling) and an uninterrupted run and a
//! resumed one draw the same numbers.
use crate::optim::{Optimizer, StateDict};
use crate::run::write_atomic;
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// Version of `checkpoint.json`; larger numbers are refused.
pub const FORMAT_VERSION: u32 = 1;
pub const MODEL_FILE: &str = "model.safetensors";
pub const OPTIMIZER_STEM: &str = "optimizer";
pub const META_FILE: &str = "checkpoint.json";

/// A ChaCha8Rng's position: seed (hex), stream and word position (decimal, it is a u128).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RngState {
    pub seed: String,
    pub stream: u64,
    pub word_pos: String,
}

impl RngState {
    pub fn of(rng: &ChaCha8Rng) -> RngState {
        let seed = rng.get_seed().iter().map(|b| format!("{b:02x}")).collect();
        let word_pos = rng.get_word_pos().to_string();
        RngState {
            seed,
            stream: rng.get_stream(),
            word_pos,
        }
    }

    pub fn restore(&self) -> Result<ChaCha8Rng> {
        let bad = || format!("checkpoint rng seed `{}` is not 64 hex digits", self.seed);
        if self.seed.len() != 64 {
            bail!(bad());
        }
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::from_str_radix(&self.seed[2 * i..2 * i + 2], 16).with_context(bad)?;
        }
        let pos: u128 = self.word_pos.parse().context("checkpoint rng word_pos")?;
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(pos);
        Ok(rng)
    }
}

/// Contents of `checkpoint.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub format: u32,
    /// Completed training steps.
    pub step: u64,
    pub optimizer: String,
    pub rng: RngState,
    /// The tokenizer, serialized by its owner (opaque here).
    pub tokenizer: String,
    #[serde(default)]
    pub metadata: serde_json::Value,
    /// SHA-256 of each other file of the checkpoint, by name ([`verify_files`]); absent in
    /// checkpoints written before it was recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

/// What [`save`] writes besides weights and optimizer state.
pub struct Extra<'a> {
    pub step: u64,
    pub rng: &'a ChaCha8Rng,
    pub tokenizer: &'a str,
    pub metadata: serde_json::Value,
}

/// What [`load`] gives back (weights and optimizer state are loaded in place).
#[derive(Debug)]
pub struct Resumed {
    pub step: u64,
    pub rng: ChaCha8Rng,
    pub tokenizer: String,
    pub metadata: serde_json::Value,
}

/// `step-00001200`: checkpoint directory names that sort by step.
pub fn dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

/// Seed torch's global generator as a function of (run seed, step) (splitmix64 of both).
pub fn step_seed(seed: u64, step: u64) -> i64 {
    let mut z = seed ^ step.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 1) as i64
}

/// `tch::manual_seed(step_seed(seed, step))`: call before each training step.
pub fn seed_torch_for_step(seed: u64, step: u64) {
    tch::manual_seed(step_seed(seed, step));
}

/// Write a checkpoint to `dir` (which must not exist yet).
pub fn save(dir: &Path, vs: &VarStore, opt: &dyn Optimizer, extra: &Extra) -> Result<()> {
    if dir.exists() {
        bail!(
            "checkpoint {} exists already; not overwriting it",
            dir.display()
        );
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    // A fresh folder of our own (create_dir fails on an existing name), so nothing of the
    // user's that happens to share the temp name is written into or removed.
    let tmp = crate::run::reserve_temp_with(dir, |t| std::fs::create_dir(t))?;
    let written = write_files(&tmp, vs, opt, extra).and_then(|()| {
        if dir.exists() {
            bail!(
                "checkpoint {} appeared while writing; not overwriting it",
                dir.display()
            );
        }
        std::fs::rename(&tmp, dir).with_context(|| format!("renaming to {}", dir.display()))
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written
}

/// Write the variables of `vs` (on the CPU, sorted by name) to the safetensors file `path`;
/// [`load_weights`] reads it back.
pub fn save_weights(path: &Path, vs: &VarStore) -> Result<()> {
    let mut vars: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.to_device(Device::Cpu).contiguous()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    crate::run::write_atomic_with(path, |tmp| Ok(Tensor::write_safetensors(&vars, tmp)?))
        .context("writing model weights")
}

fn write_files(tmp: &Path, vs: &VarStore, opt: &dyn Optimizer, extra: &Extra) -> Result<()> {
    save_weights(&tmp.join(MODEL_FILE), vs)?;
    opt.state_dict()?.save(tmp, OPTIMIZER_STEM)?;
    let meta = Meta {
        format: FORMAT_VERSION,
        step: extra.step,
        optimizer: opt.name().to_string(),
        rng: RngState::of(extra.rng),
        tokenizer: extra.tokenizer.to_string(),
        metadata: extra.metadata.clone(),
        files: file_sums(tmp)?,
    };
    write_atomic(&tmp.join(META_FILE), &serde_json::to_vec_pretty(&meta)?)
}

/// SHA-256 of every file in the checkpoint folder `dir` (weights and optimizer state).
fn file_sums(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut sums = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_file() && name != META_FILE {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            sums.insert(name.to_string(), crate::data::corpus::sha256_hex(&bytes));
        }
    }
    Ok(sums)
}

/// Each file `meta` records (weights, optimizer state) must be in `dir` with that SHA-256:
/// otherwise it was damaged, edited or swapped with another checkpoint's, and a resume from it
/// would continue other weights under this checkpoint's step, RNG and rows.
pub fn verify_files(dir: &Path, meta: &Meta) -> Result<()> {
    for (name, want) in &meta.files {
        let path = dir.join(name);
        let bytes =
            crate::input::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if crate::data::corpus::sha256_hex(&bytes) != *want {
            bail!(
                "{}: its SHA-256 is not the one {} recorded when the checkpoint was written: the \
                 file was damaged, edited or swapped with another checkpoint's",
                path.display(),
                META_FILE
            );
        }
    }
    Ok(())
}

/// Read `checkpoint.json` alone (format checked).
pub fn read_meta(dir: &Path) -> Result<Meta> {
    let path = dir.join(META_FILE);
    // A FIFO in its place would block the resume forever (input::read_result refuses it).
    let text =
        crate::input::read_result(&path).with_context(|| format!("reading {}", path.display()))?;
    let meta: Meta = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a checkpoint description", path.display()))?;
    let unknown = crate::optim::state::unknown_version("checkpoint", meta.format, FORMAT_VERSION);
    if let Some(why) = unknown {
        bail!("{}: {why}", path.display());
    }
    Ok(meta)
}

/// Load a checkpoint into `vs` and `opt` (in place) and return step, RNG and the rest.
pub fn load(dir: &Path, vs: &VarStore, opt: &mut dyn Optimizer) -> Result<Resumed> {
    let meta = read_meta(dir)?;
    verify_files(dir, &meta)?;
    load_weights(&dir.join(MODEL_FILE), vs)?;
    let state = StateDict::load(dir, OPTIMIZER_STEM)?;
    let header = dir.join(format!("{OPTIMIZER_STEM}.json"));
    if state.header.step != meta.step {
        bail!(
            "{} is at step {}, {} at step {}: the two files are of different checkpoints",
            header.display(),
            state.header.step,
            dir.join(META_FILE).display(),
            meta.step
        );
    }
    state
        .check_settings(&opt.state_dict()?.header)
        .with_context(|| format!("{}", header.display()))?;
    opt.load_state_dict(&state)
        .with_context(|| format!("loading {}", dir.join(OPTIMIZER_STEM).display()))?;
    Ok(Resumed {
        step: meta.step,
        rng: meta.rng.restore()?,
        tokenizer: meta.tokenizer,
        metadata: meta.metadata,
    })
}

/// Copy weights from a safetensors file into `vs` in place; names, shapes and dtypes must
/// match exactly and every value be finite (errors name the file and the parameter).
pub fn load_weights(path: &Path, vs: &VarStore) -> Result<()> {
    let file: BTreeMap<String, Tensor> = Tensor::read_safetensors(path)
        .with_context(|| format!("reading {}", path.display()))?
        .into_iter()
        .collect();
    fit_weights(path, &file, vs)
}

/// [`load_weights`] of tensors read from `path` (named in errors): every variable of `vs` and
/// nothing else, each of its shape and dtype, with finite values (no checkpoint is written
/// after a step whose update was not finite; NaN weights only make every later number NaN).
pub fn fit_weights(path: &Path, file: &BTreeMap<String, Tensor>, vs: &VarStore) -> Result<()> {
    let vars = vs.variables();
    let at = |what: String| format!("{}: {what}", path.display());
    if let Some(extra) = file.keys().find(|k| !vars.contains_key(*k)) {
        bail!(at(format!(
            "holds `{extra}`, which is not a parameter of this model"
        )));
    }
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in &names {
        let Some(src) = file.get(*name) else {
            bail!(at(format!("lacks parameter `{name}`")));
        };
        let dst = &vars[*name];
        if src.size() != dst.size() || src.kind() != dst.kind() {
            bail!(at(format!(
                "parameter `{name}` is {:?} {:?} there, {:?} {:?} in the model",
                src.kind(),
                src.size(),
                dst.kind(),
                dst.size()
            )));
        }
        if let Some(why) = crate::optim::state::not_finite_float(src) {
            bail!(at(format!(
                "parameter `{name}` {why}: the file is damaged or its run diverged"
            )));
        }
    }
    for name in names {
        let mut dst = vars[name].shallow_clone();
        let src = file[name].to_device(dst.device());
        tch::no_grad(|| dst.f_copy_(&src))?;
    }
    Ok(())
}

/// Checkpoint directories under `root` (those with a `checkpoint.json`), sorted by name.
pub fn list(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))? {
        let path = entry?.path();
        // Any `checkpoint.json`, also one that is not a regular file: reading it then says
        // so, where skipping it silently resumed from an earlier checkpoint or from none.
        if path.join(META_FILE).exists() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
