//! The vocabulary file of a TorchScript probe (spec §7.1 (b)): which string each of the
//! module's ids stands for, as lab's own [`Tokenizer`] plus the map from lab's ids to the
//! module's.
//!
//! - a JSON list of strings, id i = entry i: a **character** vocabulary when every entry is one
//!   character (lab's char tokenizer, which numbers them sorted), else a **word** vocabulary
//!   (lab's word tokenizer: words split as in `data.tokenizer: word`; the list must hold
//!   `<unk>`, the id of every word outside it);
//! - a JSON object: a HuggingFace byte-level BPE `tokenizer.json` (GPT-2 style) read offline
//!   with the `tokenizers` crate, or the `tokenizer.json` of a lab run; ids are the file's.
use crate::data::tokenizer::{CharTokenizer, WordTokenizer};
use crate::data::Tokenizer;
use crate::error::usage;
use anyhow::Result;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// lab's unknown-word token (the word tokenizer's).
const UNK: &str = "<unk>";

/// A tokenizer and, when lab numbers the tokens otherwise, the module's id of each lab id.
pub struct Vocabulary {
    pub tokenizer: Tokenizer,
    pub to_module: Option<Vec<i64>>,
}

pub fn load(path: &Path) -> Result<Vocabulary> {
    let bad = |why: String| usage(format!("checkpoint.vocab: {}: {why}", path.display()));
    let text = crate::input::read_to_string(path).map_err(|e| {
        bad(format!(
            "{e}; give a JSON list of the module's token strings (id order) or a \
             HuggingFace tokenizer.json"
        ))
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON ({e})")))?;
    match value {
        Value::Array(items) => {
            let mut tokens = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::String(s) if !s.is_empty() => tokens.push(s),
                    other => {
                        return Err(bad(format!("entry {i} is {other}, not a non-empty string")))
                    }
                }
            }
            from_list(tokens).map_err(bad)
        }
        Value::Object(_) => {
            let tokenizer = Tokenizer::from_json(&text).map_err(|e| {
                bad(format!(
                    "{e:#}; a JSON object must be a HuggingFace byte-level BPE tokenizer.json \
                     or a lab tokenizer.json"
                ))
            })?;
            Ok(Vocabulary {
                tokenizer,
                to_module: None,
            })
        }
        _ => Err(bad(
            "neither a JSON list of token strings nor a tokenizer.json".into(),
        )),
    }
}

/// Tokens in the module's id order (module doc).
pub fn from_list(tokens: Vec<String>) -> std::result::Result<Vocabulary, String> {
    if tokens.is_empty() {
        return Err("the vocabulary is empty".into());
    }
    let mut module_id: HashMap<&str, i64> = HashMap::new();
    for (i, t) in tokens.iter().enumerate() {
        if let Some(j) = module_id.insert(t.as_str(), i as i64) {
            return Err(format!("{t:?} is listed twice (ids {j} and {i})"));
        }
    }
    let one_char = |t: &String| t.chars().count() == 1;
    let (tokenizer, lab_order): (Tokenizer, Vec<String>) = if tokens.iter().all(one_char) {
        let mut chars: Vec<char> = tokens.iter().filter_map(|t| t.chars().next()).collect();
        chars.sort_unstable();
        let tok = CharTokenizer::from_parts(chars, Vec::new()).map_err(|e| e.to_string())?;
        let order = tok.chars().iter().map(char::to_string).collect();
        (Tokenizer::Char(tok), order)
    } else {
        if !module_id.contains_key(UNK) {
            return Err(format!(
                "a word vocabulary (entries longer than one character) needs an `{UNK}` entry \
                 for the words outside it; a character vocabulary has one character per entry"
            ));
        }
        let words: Vec<String> = tokens.iter().filter(|t| *t != UNK).cloned().collect();
        let tok = WordTokenizer::from_parts(words, Vec::new()).map_err(|e| e.to_string())?;
        let mut order = tok.words().to_vec();
        order.push(UNK.to_string());
        (Tokenizer::Word(tok), order)
    };
    let to_module: Vec<i64> = lab_order.iter().map(|t| module_id[t.as_str()]).collect();
    let identity = to_module.iter().enumerate().all(|(i, &m)| m == i as i64);
    Ok(Vocabulary {
        tokenizer,
        to_module: (!identity).then_some(to_module),
    })
}
