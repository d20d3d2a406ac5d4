//! Character tokenizer: id i < n is the i-th char of the sorted set of the corpus's chars; the
//! specials follow.
use super::Specials;
use crate::error::usage;
use anyhow::{bail, Result};
use std::collections::{BTreeSet, HashMap};

#[derive(Clone, Debug)]
pub struct CharTokenizer {
    chars: Vec<char>,
    index: HashMap<char, u32>,
    specials: Specials,
}

impl CharTokenizer {
    pub fn from_corpus(corpus: &str, specials: Vec<String>) -> CharTokenizer {
        let set: BTreeSet<char> = corpus.chars().collect();
        Self::assemble(set.into_iter().collect(), specials)
    }

    /// From a saved vocabulary; the chars must be sorted and distinct.
    pub fn from_parts(chars: Vec<char>, specials: Vec<String>) -> Result<CharTokenizer> {
        if chars.windows(2).any(|w| w[0] >= w[1]) {
            bail!("char tokenizer: the saved chars are not sorted and distinct");
        }
        Ok(Self::assemble(chars, specials))
    }

    fn assemble(chars: Vec<char>, names: Vec<String>) -> CharTokenizer {
        let index = chars
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect();
        let first = chars.len() as u32;
        CharTokenizer {
            chars,
            index,
            specials: Specials { names, first },
        }
    }

    pub fn chars(&self) -> &[char] {
        &self.chars
    }
    pub fn specials(&self) -> &[String] {
        &self.specials.names
    }
    pub fn vocab_size(&self) -> usize {
        self.chars.len() + self.specials.names.len()
    }
    pub fn special(&self, name: &str) -> Option<u32> {
        self.specials.id(name)
    }

    /// An error names the first char not in the vocabulary and where it is.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len());
        for (i, c) in text.chars().enumerate() {
            match self.index.get(&c) {
                Some(&id) => out.push(id),
                None => {
                    return Err(usage(format!(
                        "char tokenizer: {c:?} (U+{:04X}) at char {i} is not in the \
                         vocabulary of {} chars",
                        c as u32,
                        self.chars.len()
                    )))
                }
            }
        }
        Ok(out)
    }

    /// Ids must be in range (checked by the caller).
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut out = String::with_capacity(ids.len());
        for &id in ids {
            match self.chars.get(id as usize) {
                Some(&c) => out.push(c),
                None => out.push_str(self.specials.name(id).unwrap_or("")),
            }
        }
        out
    }
}
