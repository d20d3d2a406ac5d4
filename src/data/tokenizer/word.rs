//! Word tokenizer. Splitting ([`split_words`]): a word is a maximal run of alphanumeric chars
//! (`char::is_alphanumeric`, case kept); every other non-whitespace char (punctuation, `_`,
//! symbols) is a word of its own; whitespace only separates. Vocabulary: the `top_k` most
//! frequent words of the corpus, by count (ties: the smaller string in byte order first), then
//! `<unk>` for every other word, then the specials.
//!
//! Decoding joins the words with single spaces, so `decode(encode(t))` is `t` with its
//! whitespace normalised (and a space around punctuation); re-encoding that gives the same ids.
use super::Specials;
use anyhow::{bail, Result};
use std::collections::HashMap;

/// The unknown-word token (always present, id `top_k`, or fewer if the corpus has fewer words).
pub const UNK: &str = "<unk>";

#[derive(Clone, Debug)]
pub struct WordTokenizer {
    words: Vec<String>,
    index: HashMap<String, u32>,
    /// `<unk>` then the configured specials.
    specials: Specials,
}

/// The words of `text` (module doc).
pub fn split_words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            out.push(&text[s..i]);
        }
        if !c.is_whitespace() {
            out.push(&text[i..i + c.len_utf8()]);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

impl WordTokenizer {
    pub fn from_corpus(corpus: &str, top_k: usize, specials: Vec<String>) -> WordTokenizer {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for w in split_words(corpus) {
            *counts.entry(w).or_default() += 1;
        }
        let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let words = ranked
            .into_iter()
            .take(top_k)
            .map(|(w, _)| w.to_string())
            .collect();
        Self::assemble(words, specials)
    }

    /// From a saved vocabulary (words in id order, the specials without `<unk>`).
    pub fn from_parts(words: Vec<String>, specials: Vec<String>) -> Result<WordTokenizer> {
        let t = Self::assemble(words, specials);
        if t.index.len() != t.words.len() {
            bail!("word tokenizer: the saved words are not distinct");
        }
        Ok(t)
    }

    fn assemble(words: Vec<String>, specials: Vec<String>) -> WordTokenizer {
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        let mut names = vec![UNK.to_string()];
        names.extend(specials);
        let first = words.len() as u32;
        WordTokenizer {
            words,
            index,
            specials: Specials { names, first },
        }
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }
    /// The configured specials (without `<unk>`).
    pub fn specials(&self) -> &[String] {
        &self.specials.names[1..]
    }
    pub fn vocab_size(&self) -> usize {
        self.words.len() + self.specials.names.len()
    }
    pub fn special(&self, name: &str) -> Option<u32> {
        self.specials.id(name)
    }
    pub fn unk(&self) -> u32 {
        self.specials.first
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        split_words(text)
            .into_iter()
            .map(|w| self.index.get(w).copied().unwrap_or(self.unk()))
            .collect()
    }

    /// Ids must be in range (checked by the caller).
    pub fn decode(&self, ids: &[u32]) -> String {
        let words: Vec<&str> = ids
            .iter()
            .map(|&id| match self.words.get(id as usize) {
                Some(w) => w.as_str(),
                None => self.specials.name(id).unwrap_or(""),
            })
            .collect();
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_whitespace_and_punctuation() {
        assert_eq!(
            split_words("Don't  panic,\tcafé_42!\n"),
            vec!["Don", "'", "t", "panic", ",", "café", "_", "42", "!"]
        );
        assert!(split_words(" \n\t").is_empty());
    }

    #[test]
    fn top_k_breaks_ties_by_string() {
        let t = WordTokenizer::from_corpus("b a c b a d", 3, vec![]);
        assert_eq!(t.words(), ["a", "b", "c"]);
        assert_eq!(t.encode("d b"), vec![t.unk(), 1]);
        assert_eq!(t.unk(), 3);
    }
}
