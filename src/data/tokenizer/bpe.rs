//! Byte-level BPE from HuggingFace's `tokenizers` crate: no normaliser, the ByteLevel
//! pre-tokenizer (GPT-2's split regex, no prefix space) and decoder, and a BPE model trained
//! with `BpeTrainer` on the corpus's lines (each with its `\n`): all 256 byte symbols are in the
//! alphabet, `min_frequency` 0, merges until `vocab_size` ids (specials, bytes and merges
//! together) or until no pair is left. Specials are the trainer's special tokens (ids
//! 0, 1, ...). Encoding also goes line by line. Saving writes HuggingFace's own tokenizer.json
//! (Python's `tokenizers` reads it; encoding a multi-line string in one piece there can differ
//! from ours where a run of whitespace spans a line end, and decodes to the same text).
use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer as HfTokenizer};

#[derive(Clone, Debug)]
pub struct BpeTokenizer {
    hf: HfTokenizer,
    specials: Vec<String>,
    /// The bytes of every id (specials: their names), for decoding.
    bytes: Vec<Vec<u8>>,
}

/// GPT-2's byte -> char map of the ByteLevel pre-tokenizer: printable Latin-1 bytes
/// (`!`..=`~`, `¡`..=`¬`, `®`..=`ÿ`) stand for themselves, the others for U+0100 onwards.
fn byte_chars() -> Vec<(char, u8)> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut next = 256u32;
    (0..=255u8)
        .map(|b| {
            if printable(b) {
                (char::from(b), b)
            } else {
                next += 1;
                (char::from_u32(next - 1).unwrap_or('?'), b)
            }
        })
        .collect()
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
        let to_byte: HashMap<char, u8> = byte_chars().into_iter().collect();
        let mut bytes = Vec::with_capacity(vocab);
        for id in 0..vocab as u32 {
            let Some(token) = hf.id_to_token(id) else {
                bail!("bpe tokenizer: no token has id {id} (vocabulary of {vocab})");
            };
            if added.iter().any(|(a, _)| *a == id) {
                bytes.push(token.into_bytes());
                continue;
            }
            let decoded: Option<Vec<u8>> =
                token.chars().map(|c| to_byte.get(&c).copied()).collect();
            match decoded {
                Some(b) => bytes.push(b),
                None => bail!("bpe tokenizer: token {token:?} is not byte-level"),
            }
        }
        Ok(BpeTokenizer {
            hf,
            specials: added.into_iter().map(|(_, n)| n).collect(),
            bytes,
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
    /// (Cached: HuggingFace's count builds the whole vocabulary map.)
    pub fn vocab_size(&self) -> usize {
        self.bytes.len()
    }
    pub fn special(&self, name: &str) -> Option<u32> {
        self.specials
            .iter()
            .any(|s| s == name)
            .then(|| self.hf.token_to_id(name))
            .flatten()
    }

    /// Line by line (each line with its `\n`), as training saw the text; HuggingFace's
    /// encoder slows down more than linearly on one long string.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let encodings = self
            .hf
            .encode_batch(lines, false)
            .map_err(hf_err("encoding"))?;
        Ok(encodings
            .iter()
            .flat_map(|e| e.get_ids().iter().copied())
            .collect())
    }

    /// The ids' bytes, as HuggingFace's ByteLevel decoder gives them (not-UTF-8 sequences
    /// become U+FFFD). Ids must be in range (checked by the caller).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| self.bytes[id as usize].iter().copied())
            .collect();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_by_table_matches_huggingface() {
        let text = "Caf\u{e9} \u{2014} naïve  text\n\twith tabs, 1234 and <eos>!\n\n  end";
        let corpus = text.repeat(20);
        let tok = BpeTokenizer::train(&corpus, 300, &["<eos>".into()]).unwrap();
        let chars: std::collections::HashSet<char> = byte_chars().iter().map(|p| p.0).collect();
        assert_eq!(chars, ByteLevel::alphabet().into_iter().collect());
        let mut ids = tok.encode(text).unwrap();
        ids.push(0);
        let ours = tok.decode(&ids).unwrap();
        assert_eq!(ours, tok.hf.decode(&ids, false).unwrap());
        assert_eq!(ours, format!("{text}<eos>"));
    }
}
