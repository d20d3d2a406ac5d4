//! Tokenizers on the real corpora: exact round trips, `<unk>`, specials, JSON save -> load
//! giving identical encodings, and deterministic BPE training.
use crate::data_common::{fortunes_text, kjv_text, markov_text};
use lab::data::{Tokenizer, TokenizerConfig};

fn cfg(yaml: &str) -> TokenizerConfig {
    serde_yaml_ng::from_str(yaml).unwrap()
}

fn reloaded(tok: &Tokenizer) -> Tokenizer {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    tok.save(&path).unwrap();
    Tokenizer::load(&path).unwrap()
}

/// decode(encode(text)) == text, and a saved and reloaded copy encodes the same.
fn assert_round_trip(tok: &Tokenizer, text: &str) -> Vec<u32> {
    let ids = tok.encode(text).unwrap();
    assert!(ids.iter().all(|&i| (i as usize) < tok.vocab_size()));
    assert!(
        tok.decode(&ids).unwrap() == text,
        "{} round trip",
        tok.kind()
    );
    let copy = reloaded(tok);
    assert_eq!(copy.vocab_size(), tok.vocab_size());
    assert!(copy.encode(text).unwrap() == ids, "{} reloaded", tok.kind());
    ids
}

const SPECIALS: &str = "specials: ['<bos>', '<eos>', '<pad>']";

#[test]
fn char_tokens_round_trip_on_every_corpus() {
    for (name, text, distinct) in [
        ("kjv", kjv_text(), Some(63)),
        ("fortunes", fortunes_text(), None),
        ("markov", markov_text(), Some(16)),
    ] {
        let tok = Tokenizer::build(&cfg(&format!("{{kind: char, {SPECIALS}}}")), &text).unwrap();
        if let Some(d) = distinct {
            assert_eq!(tok.vocab_size(), d + 3, "{name}");
        }
        let ids = assert_round_trip(&tok, &text);
        assert_eq!(ids.len(), text.chars().count(), "{name}");
        let n = tok.vocab_size() as u32;
        assert_eq!(
            (tok.bos(), tok.eos(), tok.pad()),
            (Some(n - 3), Some(n - 2), Some(n - 1))
        );
        assert_eq!(
            tok.decode(&[ids[0], n - 2]).unwrap(),
            format!("{}<eos>", &text[..1])
        );
    }
}

#[test]
fn char_ids_follow_sorted_chars_and_unknown_chars_are_named() {
    let tok = Tokenizer::build(&cfg("kind: char"), "banana\n").unwrap();
    assert_eq!(tok.encode("\nabn").unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(tok.bos(), None);
    let err = tok.encode("bad").unwrap_err().to_string();
    assert!(err.contains("'d'") && err.contains("char 2"), "{err}");
    assert!(tok.decode(&[9]).is_err());
}

#[test]
fn word_tokens_round_trip_without_unk_on_every_corpus() {
    for text in [kjv_text(), fortunes_text()] {
        let tok = Tokenizer::build(&cfg("{kind: word, top_k: 1000000}"), &text).unwrap();
        let ids = tok.encode(&text).unwrap();
        let unk = tok.special("<unk>").unwrap();
        assert!(!ids.contains(&unk));
        let decoded = tok.decode(&ids).unwrap();
        assert!(tok.encode(&decoded).unwrap() == ids);
        assert!(reloaded(&tok).encode(&text).unwrap() == ids);
    }
}

#[test]
fn rare_words_become_unk() {
    let text = kjv_text();
    let tok =
        Tokenizer::build(&cfg("{kind: word, top_k: 50, specials: ['<eos>']}"), &text).unwrap();
    assert_eq!(tok.vocab_size(), 52);
    assert_eq!(tok.special("<unk>"), Some(50));
    assert_eq!(tok.eos(), Some(51));
    let ids = tok.encode("the LORD said unto Moses xyzzy").unwrap();
    assert_eq!(ids.len(), 6);
    assert_eq!(ids[5], 50, "an unseen word is <unk>");
    assert!(
        ids[..4].iter().all(|&i| i < 50),
        "frequent KJV words are known: {ids:?}"
    );
    assert_eq!(tok.decode(&ids[..3]).unwrap(), "the LORD said");
    assert_eq!(tok.decode(&ids[5..]).unwrap(), "<unk>");
    let all = tok.encode(&text).unwrap();
    let unk_share = all.iter().filter(|&&i| i == 50).count() as f64 / all.len() as f64;
    assert!(unk_share > 0.1 && unk_share < 0.9, "{unk_share}");
    assert!(reloaded(&tok).encode(&text).unwrap() == all);
}

#[test]
fn bytes_round_trip_including_non_ascii() {
    let text = fortunes_text();
    assert!(!text.is_ascii(), "fortunes has non-ASCII chars");
    let tok = Tokenizer::build(&cfg(&format!("{{kind: bytes, {SPECIALS}}}")), &text).unwrap();
    assert_eq!(tok.vocab_size(), 259);
    let ids = assert_round_trip(&tok, &text);
    assert_eq!(ids.len(), text.len());
    assert_round_trip(&tok, &markov_text());
    assert_eq!(tok.encode("é").unwrap(), vec![0xc3, 0xa9]);
    assert_eq!(tok.decode(&[104, 256, 0xff]).unwrap(), "h<bos>\u{fffd}");
}

#[test]
fn bpe_training_is_deterministic_and_round_trips_on_every_corpus() {
    let train = fortunes_text();
    let c = cfg(&format!("{{kind: bpe, vocab_size: 800, {SPECIALS}}}"));
    let tok = Tokenizer::build(&c, &train).unwrap();
    let again = Tokenizer::build(&c, &train).unwrap();
    assert_eq!(tok.to_json().unwrap(), again.to_json().unwrap());
    assert_eq!(tok.vocab_size(), 800);
    assert_eq!(
        (tok.bos(), tok.eos(), tok.pad()),
        (Some(0), Some(1), Some(2))
    );
    let ids = assert_round_trip(&tok, &train);
    assert!(
        ids.len() * 2 < train.len(),
        "{} ids for {} bytes",
        ids.len(),
        train.len()
    );
    for text in [kjv_text(), markov_text()] {
        assert_round_trip(&tok, &text);
    }
    // Text is read literally: `<eos>` in the input is not the special.
    let literal = tok.encode("a<eos>").unwrap();
    assert!(!literal.contains(&1) && tok.decode(&literal).unwrap() == "a<eos>");
    assert_eq!(tok.decode(&[1]).unwrap(), "<eos>");
    // Another vocab size trains another tokenizer.
    let small = Tokenizer::build(&cfg("{kind: bpe, vocab_size: 300}"), &train).unwrap();
    assert_eq!(small.vocab_size(), 300);
    assert!(small.encode(&train).unwrap().len() > ids.len());
}

#[test]
fn bad_tokenizer_configs_are_refused() {
    let err = Tokenizer::build(&cfg("{kind: bpe, vocab_size: 100}"), "abc")
        .unwrap_err()
        .to_string();
    assert!(err.contains("vocab_size"), "{err}");
    let err = Tokenizer::build(&cfg("{kind: char, specials: ['<eos>', '<eos>']}"), "abc")
        .unwrap_err()
        .to_string();
    assert!(err.contains("twice"), "{err}");
    assert!(serde_yaml_ng::from_str::<TokenizerConfig>("{kind: char, top_k: 3}").is_err());
    assert!(Tokenizer::from_json(
        "{\"kind\": \"char\", \"chars\": [\"b\", \"a\"], \"specials\": []}"
    )
    .is_err());
}
