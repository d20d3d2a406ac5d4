//! A TorchScript module behind the [`LanguageModel`] trait, so the evaluation of `measure.rs`
//! (teacher forcing, sampling, every §4 metric) runs on it unchanged (spec §7.1 (b)).
//!
//! The module maps int64 ids `(B, T)` to float logits `(B, T, |V|)` and keeps no state: each
//! decoding step recomputes the whole prefix, cropped to the last `context` tokens (a sliding
//! window beyond them, as the native GPT does past its block size). With `fixed_width` every
//! call is made at exactly `context` positions, right-padded with id 0: a causal model's
//! logits at a position never see the positions after it, so a module traced at one length
//! still serves shorter inputs. With `fixed_batch` every call has exactly that many rows
//! (batches are cut into chunks, the last padded with rows of id 0), for a module traced at
//! one batch size.
//!
//! Ids: lab's tokenizer numbers a vocabulary its own way (a char tokenizer sorts its chars);
//! `to_module[lab id]` is the module's id of the same token and `from_module[lab id]` picks the
//! module's logit column of it, so lab only ever sees its own ids.
use crate::error::usage;
use crate::nn::model::CacheState;
use crate::nn::{Cache, Input, LanguageModel, ModelConfig, Tape};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tch::nn::VarStore;
use tch::{CModule, Device, Kind, Tensor};

pub struct TorchScriptLm {
    module: CModule,
    path: PathBuf,
    /// Empty; it only carries the device.
    vs: VarStore,
    config: ModelConfig,
    vocab: i64,
    context: i64,
    fixed_width: bool,
    fixed_batch: Option<i64>,
    /// `(|V|)` i64 on the device: the module's id of each lab id; None = the same ids.
    to_module: Option<Tensor>,
    /// The ids fed so far while decoding `(B, T)` (the module keeps no cache).
    history: Mutex<Option<Tensor>>,
}

/// How to run a loaded module.
pub struct Shape {
    pub vocab: i64,
    pub context: i64,
    pub fixed_width: bool,
    /// Every call with exactly this many rows (zero rows pad the last chunk).
    pub fixed_batch: Option<i64>,
}

/// `checkpoint.torchscript` must be a regular file: checked before anything else is read, so
/// that `/dev/zero` or a missing path is named first (and never opened).
pub fn check_file(path: &Path) -> Result<()> {
    if !path.is_file() {
        let what = match path.exists() {
            true => "is not a regular file",
            false => "does not exist",
        };
        return Err(usage(format!(
            "checkpoint.torchscript: {} {what} (export your model with \
             torch.jit.trace(model, ids).save(PATH))",
            path.display()
        )));
    }
    Ok(())
}

impl TorchScriptLm {
    /// Load `path` on `device`; `to_module` maps lab ids to the module's (a permutation).
    pub fn load(
        path: &Path,
        device: Device,
        shape: Shape,
        to_module: Option<Vec<i64>>,
    ) -> Result<TorchScriptLm> {
        check_file(path)?;
        let mut module = CModule::load_on_device(path, device).map_err(|e| {
            usage(format!(
                "checkpoint.torchscript: {} is not a TorchScript file ({}); save one with \
                 torch.jit.trace(model, ids).save(PATH) or torch.jit.script",
                path.display(),
                first_line(&e.to_string())
            ))
        })?;
        module.set_eval();
        let lm = TorchScriptLm {
            module,
            path: path.to_path_buf(),
            vs: VarStore::new(device),
            config: ModelConfig::bigram(),
            vocab: shape.vocab,
            context: shape.context,
            fixed_width: shape.fixed_width,
            fixed_batch: shape.fixed_batch,
            to_module: to_module.map(|m| Tensor::from_slice(&m).to_device(device)),
            history: Mutex::new(None),
        };
        lm.check_shape()?;
        Ok(lm)
    }

    /// One call on a small batch: the logits must be `(B, T, |V|)`.
    fn check_shape(&self) -> Result<()> {
        let t = if self.fixed_width {
            self.context
        } else {
            self.context.min(3)
        };
        let ids = self.zeros(2, t)?;
        let size = self.call(&ids)?.size();
        if size != [2, t, self.vocab] {
            let what = if size.len() == 3 && size[..2] == [2, t] {
                format!(
                    "|V| = {} logits per position but the vocabulary has {} tokens: \
                     use the vocabulary file the module was trained with",
                    size[2], self.vocab
                )
            } else {
                "logits of another shape: the module must map int64 ids (B, T) to float \
                 logits (B, T, |V|)"
                    .to_string()
            };
            return Err(usage(format!(
                "checkpoint.torchscript: {} gives {size:?} for ids of shape [2, {t}], {what}",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// The module on module ids `(B, W)` in chunks of `fixed_batch` rows when set.
    fn call(&self, ids: &Tensor) -> Result<Tensor> {
        let Some(n) = self.fixed_batch else {
            return self.call_rows(ids);
        };
        let b = ids.size()[0];
        let mut outs = Vec::new();
        for start in (0..b).step_by(n as usize) {
            let rows = ids.narrow(0, start, n.min(b - start)); // (<= n, W)
            let pad = n - rows.size()[0];
            let full = match pad > 0 {
                true => Tensor::cat(
                    &[rows, ids.narrow(0, 0, 1).zeros_like().repeat([pad, 1])],
                    0,
                ),
                false => rows,
            }; // (n, W)
            outs.push(self.call_rows(&full)?.narrow(0, 0, n - pad));
        }
        Ok(Tensor::cat(&outs, 0)) // (B, W, V')
    }

    /// The module on module ids `(B, W)`, padded to `context` when `fixed_width`; float
    /// logits `(B, W, V')` (V' as the module gives it).
    fn call_rows(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, w) = ids.size2()?;
        let input = match self.fixed_width && w < self.context {
            true => {
                let pad = self.zeros(b, self.context - w)?;
                Tensor::cat(&[ids.shallow_clone(), pad], 1) // (B, context)
            }
            false => ids.shallow_clone(),
        };
        let out = tch::no_grad(|| self.module.forward_ts(&[&input])).map_err(|e| {
            let hint = "; a module traced at one shape (rows, length) needs \
                        checkpoint.fixed_batch: rows, and checkpoint.fixed_width: true with \
                        checkpoint.context: length";
            usage(format!(
                "checkpoint.torchscript: {} failed on ids of shape [{b}, {}]: {}{hint}",
                self.path.display(),
                input.size()[1],
                gist(&e.to_string())
            ))
        })?;
        self.check_tensor(&out, &input)?;
        if out.dim() != 3 || out.size()[..2] != [b, input.size()[1]] {
            return Err(usage(format!(
                "checkpoint.torchscript: {} gives {:?} for ids of shape {:?}; expected \
                 logits (B, T, |V|)",
                self.path.display(),
                out.size(),
                input.size()
            )));
        }
        Ok(out.f_narrow(1, 0, w)?.f_to_kind(Kind::Float)?) // (B, W, V')
    }

    /// `(rows, len)` ids 0 on the device; a size beyond memory is the context's fault.
    fn zeros(&self, rows: i64, len: i64) -> Result<Tensor> {
        Tensor::f_zeros([rows, len], (Kind::Int64, self.vs.device())).map_err(|e| {
            usage(format!(
                "checkpoint.context = {}: cannot allocate ids of shape [{rows}, {len}] ({}); \
                 give the context the module was made for",
                self.context,
                first_line(&e.to_string())
            ))
        })
    }

    /// The module's output must be a dense float tensor on the probe's device: an int, bool
    /// or complex tensor is not logits (a cast would score it silently), and a sparse or
    /// meta tensor cannot be read.
    fn check_tensor(&self, out: &Tensor, input: &Tensor) -> Result<()> {
        let dense = !out.is_sparse() && !out.is_mkldnn();
        let device = self.vs.device();
        let why = match out.f_kind() {
            _ if !dense => "a sparse tensor".to_string(),
            _ if out.device() != device => {
                format!("a tensor not on {device:?}, the probe's device")
            }
            Ok(Kind::Half | Kind::BFloat16 | Kind::Float | Kind::Double) => return Ok(()),
            Ok(kind) => format!("a tensor of dtype {kind:?}"),
            Err(e) => format!(
                "a tensor of a dtype lab cannot read ({})",
                first_line(&e.to_string())
            ),
        };
        Err(usage(format!(
            "checkpoint.torchscript: {} gives {why} for ids of shape {:?}; the module must \
             return dense float logits (float32, float16, bfloat16 or float64) on the device \
             it runs on",
            self.path.display(),
            input.size()
        )))
    }

    /// Logits the metrics can use: no NaN or +inf anywhere and, per position, some token
    /// that is not -inf (-inf alone rules a token out, as a mask does).
    fn check_finite(&self, logits: &Tensor, ids: &[i64]) -> Result<()> {
        let (what, bad) = match logits.f_isnan()?.f_logical_or(&logits.f_isposinf()?)? {
            bad if bad.f_any()?.f_int64_value(&[])? != 0 => ("NaN or +inf", bad),
            _ => (
                "-inf for every token",
                logits.f_amax([-1], false)?.f_isneginf()?,
            ),
        };
        if bad.f_any()?.f_int64_value(&[])? == 0 {
            return Ok(());
        }
        let at: Vec<i64> = Vec::try_from(bad.f_nonzero()?.f_select(0, 0)?)?;
        let index = match (logits.dim(), at.len()) {
            (3, 3) => "[row, position, module id]",
            (3, _) => "[row, position]",
            (_, 2) => "[row, module id] at the last position",
            _ => "[row] at the last position",
        };
        Err(usage(format!(
            "checkpoint.torchscript: {} gives {what} (first at {index} = {at:?}) for ids of \
             shape {ids:?}; the probe needs finite logits, -inf only for ruled-out tokens: fix \
             or re-export the module",
            self.path.display()
        )))
    }

    /// Logits `(B, T, |V|)` in lab's id order for lab ids `(B, T)`, T <= context; with
    /// `last` those of the last position only, `(B, |V|)`. Checked finite (module ids in an
    /// error) where they are used.
    fn logits(&self, tokens: &Tensor, last: bool) -> Result<Tensor> {
        let (b, t) = tokens.size2()?;
        let ids = match &self.to_module {
            Some(m) => m.index_select(0, &tokens.view([-1])).view([b, t]),
            None => tokens.shallow_clone(),
        };
        let out = self.call(&ids)?; // (B, T, V')
        if out.size()[2] != self.vocab {
            return Err(usage(format!(
                "checkpoint.torchscript: {} gives {} logits per position, the vocabulary \
                 has {}",
                self.path.display(),
                out.size()[2],
                self.vocab
            )));
        }
        let out = match last {
            true => out.select(1, -1), // (B, V')
            false => out,
        };
        self.check_finite(&out, &[b, t])?;
        Ok(match &self.to_module {
            Some(m) => out.index_select(-1, m), // lab column j = module column to_module[j]
            None => out,
        })
    }

    /// The last `context` columns of `(B, T)` ids.
    fn crop(&self, ids: &Tensor) -> Tensor {
        let t = ids.size()[1];
        let keep = t.min(self.context);
        ids.narrow(1, t - keep, keep)
    }
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s)
}

/// A libtorch error in a line: its first; for an exception raised inside the module (after
/// the interpreter's traceback) also its last, the exception itself.
fn gist(s: &str) -> String {
    let s = s.split("\nException raised from").next().unwrap_or(s);
    let first = first_line(s);
    match s.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(last) if s.contains("Traceback") && last != first => {
            format!("{} ... {}", first.trim(), last.trim())
        }
        _ => first.trim().to_string(),
    }
}

impl LanguageModel for TorchScriptLm {
    fn config(&self) -> &ModelConfig {
        &self.config
    }
    fn vocab_size(&self) -> i64 {
        self.vocab
    }
    fn block_size(&self) -> Option<i64> {
        Some(self.context)
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    /// Callers keep within the context: teacher forcing scores windows of `context` ids and
    /// generation crops to the last `context`.
    fn forward_tape(&self, input: &Input, _train: bool, _tape: &mut Tape) -> Result<Tensor> {
        let (_, t) = input.shape()?;
        if input.pad_mask.is_some() || input.positions.is_some() {
            return Err(usage(
                "a TorchScript module takes ids only (no padding mask or positions)",
            ));
        }
        if t > self.context {
            return Err(usage(format!(
                "{t} positions exceed checkpoint.context = {}",
                self.context
            )));
        }
        self.logits(input.tokens, false)
    }

    fn prefill(
        &self,
        tokens: &Tensor,
        pad_mask: Option<&Tensor>,
        max_new: i64,
    ) -> Result<(Tensor, Cache)> {
        crate::nn::model::check_prompt(tokens, pad_mask, max_new)?;
        if pad_mask.is_some_and(|m| m.all().int64_value(&[]) == 0) {
            return Err(usage(
                "a TorchScript module decodes prompts of one length only (no padding)",
            ));
        }
        let t = tokens.size()[1];
        let logits = self.logits(&self.crop(tokens), true)?; // (B, V)
        *self
            .history
            .lock()
            .map_err(|_| usage("decoding state poisoned"))? = Some(tokens.shallow_clone());
        let cache = Cache {
            inner: CacheState::Stateless,
            len: t,
            capacity: t + max_new,
        };
        Ok((logits, cache))
    }

    /// Append `tokens` `(B)` and run the module on the last `context` ids.
    fn step(&self, cache: &mut Cache, tokens: &Tensor) -> Result<Tensor> {
        let mut guard = self
            .history
            .lock()
            .map_err(|_| usage("decoding state poisoned"))?;
        let Some(prev) = guard.take() else {
            return Err(usage("step before prefill"));
        };
        let ids = Tensor::cat(&[prev, tokens.view([-1, 1])], 1); // (B, T + 1)
        let logits = self.logits(&self.crop(&ids), true)?; // (B, V)
        *guard = Some(ids);
        cache.len += 1;
        Ok(logits)
    }
}
