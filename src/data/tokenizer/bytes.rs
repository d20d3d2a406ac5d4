//! Byte tokenizer: ids 0–255 are the UTF-8 bytes of the text; the specials follow (256, ...).
use super::Specials;

#[derive(Clone, Debug)]
pub struct BytesTokenizer {
    specials: Specials,
}

impl BytesTokenizer {
    pub fn new(names: Vec<String>) -> BytesTokenizer {
        BytesTokenizer {
            specials: Specials { names, first: 256 },
        }
    }

    pub fn specials(&self) -> &[String] {
        &self.specials.names
    }
    pub fn vocab_size(&self) -> usize {
        256 + self.specials.names.len()
    }
    pub fn special(&self, name: &str) -> Option<u32> {
        self.specials.id(name)
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        text.bytes().map(u32::from).collect()
    }

    /// The bytes of `ids` as text, specials by name; byte sequences that are not UTF-8 (a model
    /// can sample them) become U+FFFD, as `String::from_utf8_lossy` writes them.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut out = String::new();
        let mut run: Vec<u8> = Vec::new();
        for &id in ids {
            if let Ok(b) = u8::try_from(id) {
                run.push(b);
                continue;
            }
            out.push_str(&String::from_utf8_lossy(&run));
            run.clear();
            out.push_str(self.specials.name(id).unwrap_or(""));
        }
        out.push_str(&String::from_utf8_lossy(&run));
        out
    }
}
