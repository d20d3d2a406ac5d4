//! Byte-level BPE from HuggingFace's `tokenizers` crate: no normaliser, the ByteLevel
//! pre-tokenizer (GPT-2's split regex, no prefix space) and decoder, and a BPE model trained
//! with `BpeTrainer` on the corpus's lines (each with its `\n`): all 256 byte symbols are in the
//! alphabet, `min_frequency` 0, merges until `vocab_size` ids (specials, bytes and merges
//! together) or until no pair is left. Specials are the trainer's special tokens (ids
//! 0, 1, ...). Saving writes HuggingFace's own tokenizer.json.
use anyhow::{anyhow, bail, Result};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer as HfTokenizer};

#[derive(Clone, Debug)]
pub struct BpeTokenizer {
    hf: HfTokenizer,
    specials: Vec<String>,
}

fn hf_err(what: &str) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> anyhow::Error + '_ {
    move |e| anyhow!("bpe tokenizer: {what}: {e}")
}

impl BpeTokenizer {
    /// Train on `corpus` (module doc). Deterministic for a given corpus and vocab size.
    pub fn train(corpus: &str, vocab_size: usize, specials: &[String]) -> Result<BpeTokenizer> {
        let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
            .show_progress(false)
            .vocab_size(vocab_size)
            .min_frequency(0)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .special_tokens(
                specials
                    .iter()
                    .map(|s| AddedToken::from(s.clone(), true))
                    .collect(),
            )
            .build()
            .into();
        let mut hf = HfTokenizer::new(BPE::default());
        hf.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        hf.with_decoder(Some(ByteLevelDecoder::default()));
        hf.train(&mut trainer, corpus.split_inclusive('\n'))
            .map_err(hf_err("training"))?;
        Self::wrap(hf)
    }

    /// Read HuggingFace's tokenizer.json (as written by [`BpeTokenizer::to_json`]).
    pub fn from_json(text: &str) -> Result<BpeTokenizer> {
        let hf: HfTokenizer = text.parse().map_err(hf_err("reading tokenizer.json"))?;
        Self::wrap(hf)
    }

    fn wrap(mut hf: HfTokenizer) -> Result<BpeTokenizer> {
        // Text is read literally: `<eos>` in the input is five bytes, not the special.
        hf.set_encode_special_tokens(true);
        let mut added: Vec<(u32, String)> = hf
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, t)| (id, t.content))
            .collect();
        added.sort();
        let vocab = hf.get_vocab_size(true);
        if let Some((id, name)) = added.iter().find(|(id, _)| *id as usize >= vocab) {
            bail!("bpe tokenizer: special {name} has id {id} outside the vocabulary of {vocab}");
        }
        Ok(BpeTokenizer {
            hf,
            specials: added.into_iter().map(|(_, n)| n).collect(),
        })
    }

    pub fn to_json(&self) -> Result<String> {
        self.hf
            .to_string(true)
            .map_err(hf_err("writing tokenizer.json"))
    }

    pub fn specials(&self) -> &[String] {
        &self.specials
    }
    pub fn vocab_size(&self) -> usize {
        self.hf.get_vocab_size(true)
    }
    pub fn special(&self, name: &str) -> Option<u32> {
        self.specials
            .iter()
            .any(|s| s == name)
            .then(|| self.hf.token_to_id(name))
            .flatten()
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.hf.encode(text, false).map_err(hf_err("encoding"))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Ids must be in range (checked by the caller).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.hf.decode(ids, false).map_err(hf_err("decoding"))
    }
}
