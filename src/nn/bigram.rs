//! The neural bigram: a `(V, V)` table `table.weight` whose row `a` holds the next-token logits
//! after token `a` (zero-initialised: the uniform distribution). It has no linear layer to
//! capture and needs no decoding state beyond the last token.
use super::model::{check_prompt, Cache, CacheState, Input, LanguageModel, Tape};
use super::ModelConfig;
use anyhow::{bail, Result};
use tch::nn::{Init, VarStore};
use tch::{Device, Tensor};

pub struct Bigram {
    cfg: ModelConfig,
    vs: VarStore,
    table: Tensor,
}

impl Bigram {
    pub fn new(cfg: &ModelConfig, vocab: i64, device: Device) -> Self {
        let mut vs = VarStore::new(device);
        vs.set_kind(cfg.dtype.kind());
        let table = (vs.root() / "table").var("weight", &[vocab, vocab], Init::Const(0.0));
        let mut cfg = cfg.clone();
        cfg.vocab_size = Some(vocab);
        Bigram { cfg, vs, table }
    }

    fn lookup(&self, ids: &Tensor) -> Tensor {
        Tensor::embedding(&self.table, ids, -1, false, false)
    }
}

impl LanguageModel for Bigram {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn vocab_size(&self) -> i64 {
        self.table.size()[0]
    }
    fn block_size(&self) -> Option<i64> {
        None
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn forward_tape(&self, input: &Input, _train: bool, _tape: &mut Tape) -> Result<Tensor> {
        input.shape()?;
        Ok(self.lookup(input.tokens)) // (B, T, V)
    }

    fn prefill(
        &self,
        tokens: &Tensor,
        pad_mask: Option<&Tensor>,
        max_new: i64,
    ) -> Result<(Tensor, Cache)> {
        check_prompt(tokens, pad_mask, max_new)?;
        let t = tokens.size()[1];
        let logits = tch::no_grad(|| self.lookup(&tokens.select(1, t - 1))); // (B, V)
        Ok((
            logits,
            Cache {
                inner: CacheState::Stateless,
                len: t,
                capacity: t + max_new,
            },
        ))
    }

    fn step(&self, cache: &mut Cache, tokens: &Tensor) -> Result<Tensor> {
        if cache.len >= cache.capacity {
            bail!("the decoding state is full ({} tokens)", cache.capacity);
        }
        cache.len += 1;
        Ok(tch::no_grad(|| self.lookup(&tokens.view([-1]))))
    }
}
