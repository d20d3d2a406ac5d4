//! GRU / LSTM language models: embedding → one recurrent layer → linear head. Names:
//! `emb.weight`, `rnn.*` (tch's flat weights), `head.{weight, bias}`. With a pad mask the
//! sequence runs one step at a time and pad steps leave the state unchanged, so left padding
//! does not change a row's logits; without one the whole sequence is one fused call.
use super::layers::{Embedding, Linear};
use super::model::{check_prompt, Cache, CacheState, Input, LanguageModel, Tape};
use super::{ModelConfig, ModelKind};
use anyhow::{bail, Result};
use tch::nn::{self, VarStore, RNN};
use tch::{Device, Tensor};

enum Cell {
    Gru(nn::GRU),
    Lstm(nn::LSTM),
}

/// The recurrent state: `h` `(1, B, H)` and, for an LSTM, `c`.
struct State(Tensor, Option<Tensor>);

pub struct RnnLm {
    cfg: ModelConfig,
    vs: VarStore,
    emb: Embedding,
    cell: Cell,
    head: Linear,
    vocab: i64,
}

impl RnnLm {
    pub fn new(cfg: &ModelConfig, vocab: i64, device: Device) -> Self {
        let mut vs = VarStore::new(device);
        vs.set_kind(cfg.dtype.kind());
        let root = vs.root();
        let emb = Embedding::new(&(&root / "emb"), vocab, cfg.embedding, 1.0);
        let rc = nn::RNNConfig::default(); // batch_first, uniform(±1/√H) init like PyTorch
        let rc = nn::RNNConfig {
            w_ih_init: nn::Init::Uniform {
                lo: -1.0 / (cfg.hidden as f64).sqrt(),
                up: 1.0 / (cfg.hidden as f64).sqrt(),
            },
            w_hh_init: nn::Init::Uniform {
                lo: -1.0 / (cfg.hidden as f64).sqrt(),
                up: 1.0 / (cfg.hidden as f64).sqrt(),
            },
            ..rc
        };
        let cell = match cfg.kind {
            ModelKind::Lstm => Cell::Lstm(nn::lstm(&root / "rnn", cfg.embedding, cfg.hidden, rc)),
            _ => Cell::Gru(nn::gru(&root / "rnn", cfg.embedding, cfg.hidden, rc)),
        };
        let head = Linear::new(
            &(&root / "head"),
            cfg.hidden,
            vocab,
            true,
            1.0 / (cfg.hidden as f64).sqrt(),
        );
        let mut cfg = cfg.clone();
        cfg.vocab_size = Some(vocab);
        RnnLm {
            cfg,
            vs,
            emb,
            cell,
            head,
            vocab,
        }
    }

    fn zero_state(&self, b: i64) -> State {
        match &self.cell {
            Cell::Gru(g) => State(g.zero_state(b).0, None),
            Cell::Lstm(l) => {
                let s = l.zero_state(b);
                State(s.h(), Some(s.c()))
            }
        }
    }

    /// `x` `(B, T, E)` from `state` → outputs `(B, T, H)` and the final state.
    fn seq(&self, x: &Tensor, state: &State) -> (Tensor, State) {
        match (&self.cell, state) {
            (Cell::Gru(g), State(h, _)) => {
                let (out, s) = g.seq_init(x, &nn::GRUState(h.shallow_clone()));
                (out, State(s.0, None))
            }
            (Cell::Lstm(l), State(h, c)) => {
                let c = c.as_ref().expect("LSTM cell state").shallow_clone();
                let (out, s) = l.seq_init(x, &nn::LSTMState((h.shallow_clone(), c)));
                (out, State(s.h(), Some(s.c())))
            }
        }
    }

    /// One step per column, keeping the old state where `mask` `(B, T)` is false.
    fn masked_seq(&self, x: &Tensor, mask: &Tensor, mut state: State) -> (Tensor, State) {
        let t = x.size()[1];
        let mut outs = Vec::with_capacity(t as usize);
        for i in 0..t {
            let (out, next) = self.seq(&x.narrow(1, i, 1), &state); // (B, 1, H)
            let keep = mask.narrow(1, i, 1).transpose(0, 1).unsqueeze(-1); // (1, B, 1)
            let h = next.0.where_self(&keep, &state.0);
            let c = next.1.zip(state.1).map(|(n, o)| n.where_self(&keep, &o));
            state = State(h, c);
            outs.push(out);
        }
        (Tensor::cat(&outs, 1), state)
    }

    fn logits(
        &self,
        tokens: &Tensor,
        mask: Option<&Tensor>,
        state: State,
        tape: &mut Tape,
    ) -> (Tensor, State) {
        let x = self.emb.forward(tokens); // (B, T, E)
        let (out, state) = match mask {
            Some(m) => self.masked_seq(&x, m, state),
            None => self.seq(&x, &state),
        }; // (B, T, H)
        (self.head.forward(&out, tape), state) // (B, T, V)
    }
}

impl LanguageModel for RnnLm {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn vocab_size(&self) -> i64 {
        self.vocab
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

    /// Position ids are ignored: an RNN counts positions by its state.
    fn forward_tape(&self, input: &Input, _train: bool, tape: &mut Tape) -> Result<Tensor> {
        let (b, _) = input.shape()?;
        Ok(self
            .logits(input.tokens, input.pad_mask, self.zero_state(b), tape)
            .0)
    }

    fn prefill(
        &self,
        tokens: &Tensor,
        pad_mask: Option<&Tensor>,
        max_new: i64,
    ) -> Result<(Tensor, Cache)> {
        check_prompt(tokens, pad_mask, max_new)?;
        let (b, t) = tokens.size2()?;
        tch::no_grad(|| {
            let (logits, State(h, c)) =
                self.logits(tokens, pad_mask, self.zero_state(b), &mut Tape::off());
            let inner = match c {
                Some(c) => CacheState::Lstm(h, c),
                None => CacheState::Gru(h),
            };
            Ok((
                logits.select(1, t - 1),
                Cache {
                    inner,
                    len: t,
                    capacity: t + max_new,
                },
            ))
        })
    }

    fn step(&self, cache: &mut Cache, tokens: &Tensor) -> Result<Tensor> {
        if cache.len >= cache.capacity {
            bail!("the decoding state is full ({} tokens)", cache.capacity);
        }
        let state = match &cache.inner {
            CacheState::Gru(h) => State(h.shallow_clone(), None),
            CacheState::Lstm(h, c) => State(h.shallow_clone(), Some(c.shallow_clone())),
            _ => bail!("an RNN was given another model's cache"),
        };
        let ids = tokens.view([-1, 1]); // (B, 1)
        let (logits, State(h, c)) =
            tch::no_grad(|| self.logits(&ids, None, state, &mut Tape::off()));
        cache.inner = match c {
            Some(c) => CacheState::Lstm(h, c),
            None => CacheState::Gru(h),
        };
        cache.len += 1;
        Ok(logits.squeeze_dim(1)) // (B, V)
    }
}
