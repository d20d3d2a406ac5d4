//! Text from a small probabilistic grammar (a CI-sized language-modelling corpus with real
//! structure: agreement-free English-like sentences, one per line).
//!
//! ```text
//! S  -> NP VP "."            (0.8)  |  NP VP "and" NP VP "."   (0.2)
//! NP -> Det N (0.5) | Det Adj N (0.3) | Name (0.2)
//! VP -> V NP (0.6)  | V (0.2)         | V NP PP (0.2)
//! PP -> P NP
//! ```
//! Each word list below is chosen from uniformly. Sentences are written with single spaces,
//! the first letter upper-case, and generated until the text has at least `len` characters.
//! All choices come from a `ChaCha8Rng` seeded with `seed`.
use crate::config::{Checker, Validate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrammarConfig {
    /// Minimum length of the text in characters.
    #[serde(default = "d_len")]
    pub len: usize,
    #[serde(default)]
    pub seed: u64,
}

fn d_len() -> usize {
    100_000
}

impl Default for GrammarConfig {
    fn default() -> Self {
        GrammarConfig {
            len: d_len(),
            seed: 0,
        }
    }
}

impl Validate for GrammarConfig {
    fn validate(&self, c: &mut Checker) {
        self.validate_at(c, "corpus");
    }
}

impl GrammarConfig {
    /// Range checks, with key paths under `at` (the section's path in the whole config).
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        c.at_least(&format!("{at}.len"), self.len, 1);
        let max = super::MAX_GENERATED_CHARS;
        c.check(
            &format!("{at}.len"),
            self.len <= max,
            format!("must be at most {max} characters, got {}", self.len),
        );
    }
}

const DET: &[&str] = &["the", "a", "every", "some", "this", "that"];
const ADJ: &[&str] = &[
    "small", "old", "red", "quiet", "happy", "clever", "dark", "tall",
];
const NOUN: &[&str] = &[
    "cat", "dog", "bird", "child", "teacher", "farmer", "river", "house", "tree", "book", "king",
    "stone",
];
const NAME: &[&str] = &["alice", "bob", "carol", "dave", "eve"];
const VERB: &[&str] = &[
    "sees", "likes", "follows", "finds", "watches", "helps", "sleeps", "runs", "sings",
];
const PREP: &[&str] = &["near", "under", "with", "behind", "beside"];

/// Generate the text of `cfg` (module doc).
pub fn generate(cfg: &GrammarConfig) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut text = String::with_capacity(cfg.len + 80);
    while text.len() < cfg.len {
        let mut words = Vec::new();
        clause(&mut rng, &mut words);
        if rng.gen::<f64>() < 0.2 {
            words.push("and");
            clause(&mut rng, &mut words);
        }
        let sentence = words.join(" ");
        let mut chars = sentence.chars();
        if let Some(first) = chars.next() {
            text.extend(first.to_uppercase());
            text.push_str(chars.as_str());
        }
        text.push_str(".\n");
    }
    text
}

fn pick(rng: &mut ChaCha8Rng, words: &[&'static str]) -> &'static str {
    words.choose(rng).copied().unwrap_or("")
}

fn clause(rng: &mut ChaCha8Rng, out: &mut Vec<&'static str>) {
    noun_phrase(rng, out);
    out.push(pick(rng, VERB));
    let u: f64 = rng.gen();
    if u < 0.6 {
        noun_phrase(rng, out);
    } else if u >= 0.8 {
        noun_phrase(rng, out);
        out.push(pick(rng, PREP));
        noun_phrase(rng, out);
    }
}

fn noun_phrase(rng: &mut ChaCha8Rng, out: &mut Vec<&'static str>) {
    let u: f64 = rng.gen();
    if u < 0.2 {
        out.push(pick(rng, NAME));
        return;
    }
    out.push(pick(rng, DET));
    if u >= 0.7 {
        out.push(pick(rng, ADJ));
    }
    out.push(pick(rng, NOUN));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_seeded_long_enough_and_made_of_grammar_words() {
        let cfg = GrammarConfig { len: 2000, seed: 3 };
        let text = generate(&cfg);
        assert_eq!(text, generate(&cfg));
        assert_ne!(text, generate(&GrammarConfig { seed: 4, ..cfg }));
        assert!(text.len() >= 2000 && text.len() < 2200, "{}", text.len());
        let vocab: Vec<&str> = [DET, ADJ, NOUN, NAME, VERB, PREP, &["and"]].concat();
        for line in text.lines() {
            let body = line.strip_suffix('.').expect("sentences end in a period");
            let lower = body.to_lowercase();
            for w in lower.split(' ') {
                assert!(vocab.contains(&w), "{w:?} in {line:?}");
            }
            assert!(line.starts_with(|c: char| c.is_uppercase()), "{line}");
        }
    }
}
