//! A decoder-only pre-LN Transformer (nanoGPT's layout): token + learned position embeddings,
//! `n_layer` blocks of `x + attn(ln_1 x)` then `x + mlp(ln_2 x)` with a GELU MLP, a final
//! LayerNorm and a (tied or untied) linear head. Parameter names: `wte`, `wpe`,
//! `h.<i>.{ln_1, attn.qkv, attn.proj, ln_2, mlp.fc, mlp.proj}`, `ln_f`, `head` (untied only).
//! The `llama` variant swaps in RMSNorm, a SwiGLU MLP (`mlp.fc` makes gate and value, `d_ff`
//! each) and rotary positions instead of `wpe`.
use super::attention::{causal_bias, key_bias, padded_bias, Mask, Rope, SelfAttention};
use super::layers::{dropout, Embedding, Linear, Norm};
use super::model::{check_prompt, Cache, CacheState, Input, LanguageModel, Tape};
use super::rotary::Rotary;
use super::{ModelConfig, Variant};
use anyhow::{bail, Result};
use tch::nn::{Path, VarStore};
use tch::{Device, Kind, Tensor};

#[derive(Debug)]
struct Block {
    ln_1: Norm,
    attn: SelfAttention,
    ln_2: Norm,
    fc: Linear,
    proj: Linear,
    swiglu: bool,
    dropout: f64,
}

impl Block {
    fn new(p: &Path, cfg: &ModelConfig) -> Self {
        let d = cfg.d_model;
        let resid_std = cfg.init_std / (2.0 * cfg.n_layer as f64).sqrt();
        let swiglu = cfg.variant == Variant::Llama;
        Block {
            ln_1: norm(&(p / "ln_1"), cfg),
            attn: SelfAttention::new(&(p / "attn"), d, cfg.n_head, cfg),
            ln_2: norm(&(p / "ln_2"), cfg),
            fc: Linear::new(
                &(p / "mlp" / "fc"),
                d,
                if swiglu { 2 * cfg.d_ff } else { cfg.d_ff },
                cfg.linear_bias,
                cfg.init_std,
            ),
            proj: Linear::new(
                &(p / "mlp" / "proj"),
                cfg.d_ff,
                d,
                cfg.linear_bias,
                resid_std,
            ),
            swiglu,
            dropout: cfg.dropout,
        }
    }

    fn mlp(&self, x: &Tensor, train: bool, tape: &mut Tape) -> Tensor {
        let h = self.fc.forward(&self.ln_2.forward(x), tape); // (B, T, d_ff or 2 d_ff)
        let h = if self.swiglu {
            let half = h.size()[2] / 2;
            h.narrow(2, 0, half).silu() * h.narrow(2, half, half) // (B, T, d_ff)
        } else {
            h.gelu("none")
        };
        dropout(self.proj.forward(&h, tape), self.dropout, train) // (B, T, C)
    }

    /// `(B, T, C)` → `(B, T, C)`, plus this layer's keys and values `(B, H, T, hd)`.
    fn forward(
        &self,
        x: &Tensor,
        mask: &Mask,
        rope: Option<&Rope>,
        train: bool,
        tape: &mut Tape,
    ) -> (Tensor, Tensor, Tensor) {
        let (a, k, v) = self
            .attn
            .forward(&self.ln_1.forward(x), mask, rope, train, tape);
        let x = x + a;
        let x = &x + self.mlp(&x, train, tape);
        (x, k, v)
    }
}

/// Per layer keys and values `(B, H, capacity, hd)`, the additive key mask `(B, 1, 1,
/// capacity)` (0 on real keys) and each row's next position id `(B)`.
pub struct KvCache {
    keys: Vec<Tensor>,
    values: Vec<Tensor>,
    bias: Tensor,
    next_pos: Tensor,
}

/// Where position information enters: a learned table added to the token embeddings, or
/// rotary angles applied to queries and keys.
enum Positions {
    Learned(Embedding),
    Rotary(Rotary),
}

fn norm(p: &Path, cfg: &ModelConfig) -> Norm {
    match cfg.variant {
        Variant::Gpt => Norm::layer(p, cfg.d_model, cfg.ln_bias),
        Variant::Llama => Norm::rms(p, cfg.d_model),
    }
}

pub struct Gpt {
    cfg: ModelConfig,
    vs: VarStore,
    wte: Embedding,
    positions: Positions,
    blocks: Vec<Block>,
    ln_f: Norm,
    head: Linear,
    /// `(block, block)` causal bias for the explicit path.
    causal: Tensor,
}

impl Gpt {
    /// `cfg` must be validated and carry the vocabulary size.
    pub fn new(cfg: &ModelConfig, vocab: i64, device: Device) -> Self {
        let mut vs = VarStore::new(device);
        vs.set_kind(cfg.dtype.kind());
        let root = vs.root();
        let d = cfg.d_model;
        let wte = Embedding::new(&(&root / "wte"), vocab, d, cfg.init_std);
        let positions = match cfg.variant {
            Variant::Gpt => Positions::Learned(Embedding::new(
                &(&root / "wpe"),
                cfg.block_size,
                d,
                cfg.init_std,
            )),
            Variant::Llama => {
                let head_dim = d / cfg.n_head;
                Positions::Rotary(Rotary::new(
                    cfg.block_size,
                    head_dim,
                    cfg.dtype.kind(),
                    device,
                ))
            }
        };
        let blocks = (0..cfg.n_layer)
            .map(|i| Block::new(&(&root / "h" / i), cfg))
            .collect();
        let ln_f = norm(&(&root / "ln_f"), cfg);
        let head = if cfg.tied_head {
            Linear::tied("head", "wte.weight", &wte.weight)
        } else {
            Linear::new(&(&root / "head"), d, vocab, false, cfg.init_std)
        };
        let causal = causal_bias(cfg.block_size, cfg.dtype.kind(), device);
        let mut cfg = cfg.clone();
        cfg.vocab_size = Some(vocab);
        Gpt {
            cfg,
            vs,
            wte,
            positions,
            blocks,
            ln_f,
            head,
            causal,
        }
    }

    /// Token embeddings `(B, T, C)` for ids `(B, T)` at position ids `(B or 1, T)`, with
    /// learned positions added, or the rotary angles to apply inside attention.
    fn embed(&self, ids: &Tensor, pos: &Tensor) -> (Tensor, Option<Rope>) {
        let x = self.wte.forward(ids); // (B, T, C)
        match &self.positions {
            Positions::Learned(wpe) => (x + wpe.forward(pos), None),
            Positions::Rotary(r) => (x, Some(r.at(pos))),
        }
    }

    /// The full pass; `kv` collects each layer's keys and values when given.
    fn run(
        &self,
        input: &Input,
        train: bool,
        tape: &mut Tape,
        mut kv: Option<&mut Vec<(Tensor, Tensor)>>,
    ) -> Result<Tensor> {
        let (_, t) = input.shape()?;
        let block = self.cfg.block_size;
        let pos = input.position_ids(); // (B or 1, T)
        if t > block || input.positions.is_some() {
            // Only then can a position fall outside the table (padding may make T > block).
            let (lo, hi) = (pos.min().int64_value(&[]), pos.max().int64_value(&[]));
            if lo < 0 || hi >= block {
                bail!("position ids must be in [0, {block}) (block_size), got [{lo}, {hi}]");
            }
        }
        let (x, rope) = self.embed(input.tokens, &pos); // (B, T, C)
        let mut x = dropout(x, self.cfg.dropout, train);
        let kind = self.cfg.dtype.kind();
        let mask = match input.pad_mask {
            None if t <= block => Mask::Causal(self.causal.narrow(0, 0, t).narrow(1, 0, t)),
            None => Mask::Causal(causal_bias(t, kind, input.tokens.device())),
            Some(m) => Mask::Bias(padded_bias(m, kind)),
        };
        for block in &self.blocks {
            let (y, k, v) = block.forward(&x, &mask, rope.as_ref(), train, tape);
            if let Some(kv) = kv.as_deref_mut() {
                kv.push((k, v));
            }
            x = y;
        }
        Ok(self.head.forward(&self.ln_f.forward(&x), tape)) // (B, T, V)
    }
}

impl LanguageModel for Gpt {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn vocab_size(&self) -> i64 {
        self.wte.weight.size()[0]
    }
    fn block_size(&self) -> Option<i64> {
        Some(self.cfg.block_size)
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn forward_tape(&self, input: &Input, train: bool, tape: &mut Tape) -> Result<Tensor> {
        self.run(input, train, tape, None)
    }

    fn prefill(
        &self,
        tokens: &Tensor,
        pad_mask: Option<&Tensor>,
        max_new: i64,
    ) -> Result<(Tensor, Cache)> {
        check_prompt(tokens, pad_mask, max_new)?;
        let (b, t) = tokens.size2()?;
        let longest = match pad_mask {
            Some(m) => m
                .sum_dim_intlist(1, false, Kind::Int64)
                .max()
                .int64_value(&[]),
            None => t,
        };
        let block = self.cfg.block_size;
        if longest + max_new > block {
            bail!(
                "a prompt of {longest} tokens plus {max_new} more positions exceeds block_size \
                 {block} (no sliding window)"
            );
        }
        tch::no_grad(|| {
            let mut input = Input::new(tokens);
            input.pad_mask = pad_mask;
            let mut kv = Vec::with_capacity(self.blocks.len());
            let logits = self.run(&input, false, &mut Tape::off(), Some(&mut kv))?; // (B, T, V)
            let (keys, values) = kv
                .into_iter()
                .map(|(k, v)| {
                    let (_, h, _, hd) = k.size4().expect("(B, H, T, hd)");
                    let room = Tensor::zeros([b, h, max_new, hd], (k.kind(), k.device()));
                    (
                        Tensor::cat(&[k, room.shallow_clone()], 2),
                        Tensor::cat(&[v, room], 2),
                    )
                })
                .unzip();
            let real = match pad_mask {
                Some(m) => m.shallow_clone(),
                None => Tensor::ones([b, t], (Kind::Bool, tokens.device())),
            };
            let room = Tensor::zeros([b, max_new], (Kind::Bool, tokens.device()));
            let allowed =
                Tensor::cat(&[real.shallow_clone(), room], 1).view([b, 1, 1, t + max_new]);
            let next_pos = real.sum_dim_intlist(1, false, Kind::Int64); // (B)
            let cache = KvCache {
                keys,
                values,
                bias: key_bias(&allowed, self.cfg.dtype.kind()),
                next_pos,
            };
            let last = logits.select(1, t - 1); // (B, V)
            Ok((
                last,
                Cache {
                    inner: CacheState::Gpt(cache),
                    len: t,
                    capacity: t + max_new,
                },
            ))
        })
    }

    fn step(&self, cache: &mut Cache, tokens: &Tensor) -> Result<Tensor> {
        let len = cache.len;
        if len >= cache.capacity {
            bail!("the KV cache is full ({} tokens)", cache.capacity);
        }
        let CacheState::Gpt(kv) = &mut cache.inner else {
            bail!("a GPT was given another model's cache");
        };
        let logits = tch::no_grad(|| {
            let pos = kv.next_pos.unsqueeze(1); // (B, 1)
            let ids = tokens.view([-1, 1]); // (B, 1)
            let (mut x, rope) = self.embed(&ids, &pos); // (B, 1, C)
            let _ = kv.bias.narrow(3, len, 1).fill_(0.0);
            let bias = kv.bias.narrow(3, 0, len + 1); // (B, 1, 1, len + 1)
            for (i, block) in self.blocks.iter().enumerate() {
                let a = block.attn.step(
                    &block.ln_1.forward(&x),
                    &mut kv.keys[i],
                    &mut kv.values[i],
                    len,
                    &bias,
                    rope.as_ref(),
                );
                x += a;
                x = &x + block.mlp(&x, false, &mut Tape::off());
            }
            let logits = self.head.forward(&self.ln_f.forward(&x), &mut Tape::off()); // (B, 1, V)
            kv.next_pos += 1;
            logits.squeeze_dim(1)
        });
        cache.len += 1;
        Ok(logits)
    }
}
