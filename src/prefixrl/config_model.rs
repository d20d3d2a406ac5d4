//! The model presets of spec §7.3 (`smoke`, `small`, `medium`): GPTs with learned positions, an
//! untied head, no dropout and explicit attention. `model: {preset: small, d_model: 96}` fills the
//! keys the section leaves out from the preset and hands the rest to [`nn::ModelConfig`], so
//! nn's own presets (`gpt-nano`, …) and keys work too.
use crate::nn::{self, ModelConfig};
use serde::{Deserialize, Deserializer};
use serde_yaml_ng::{Mapping, Value};

/// The prefixrl preset names (§7.3).
pub const PRESETS: [&str; 3] = ["smoke", "small", "medium"];

/// (d_model, n_layer, n_head, d_ff, block_size) of a §7.3 preset.
fn sizes(name: &str) -> Option<[i64; 5]> {
    match name {
        "smoke" => Some([32, 1, 2, 128, 64]),
        "small" => Some([64, 4, 4, 256, 96]),
        "medium" => Some([128, 4, 4, 512, 96]),
        _ => None,
    }
}

/// The preset's resolved config (`None` for a name that is not a §7.3 preset).
pub fn preset(name: &str) -> Option<ModelConfig> {
    let mut map = Mapping::new();
    map.insert("preset".into(), name.into());
    let value = expand(Value::Mapping(map));
    serde_yaml_ng::from_value(value).ok()
}

/// Replace a §7.3 `preset:` by its keys, keeping every key the section sets itself.
fn expand(mut value: Value) -> Value {
    let Some(map) = value.as_mapping_mut() else {
        return value;
    };
    let name = map
        .get("preset")
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some([d, l, h, ff, ctx]) = name.as_deref().and_then(sizes) else {
        return value;
    };
    map.remove("preset");
    let own_width = map.contains_key("d_model") && !map.contains_key("d_ff");
    let defaults: [(&str, Value); 10] = [
        ("kind", "gpt".into()),
        ("d_model", d.into()),
        ("n_layer", l.into()),
        ("n_head", h.into()),
        ("d_ff", ff.into()),
        ("block_size", ctx.into()),
        ("dropout", 0.0.into()),
        ("tied_head", false.into()),
        ("attention", "explicit".into()),
        ("variant", "gpt".into()),
    ];
    for (k, v) in defaults {
        // d_model without d_ff: nn's rule (d_ff = 4·d_model) applies, as for its own presets.
        if (k == "d_ff" && own_width) || map.contains_key(k) {
            continue;
        }
        map.insert(k.into(), v);
    }
    value
}

/// `deserialize_with` for the `model:` key.
pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<ModelConfig, D::Error> {
    let value = Value::deserialize(de)?;
    if let Some(name) = value.get("preset").and_then(Value::as_str) {
        if sizes(name).is_none() && !nn::config::PRESETS.contains(&name) {
            return Err(serde::de::Error::custom(format!(
                "unknown model preset `{name}`; expected one of {} (spec §7.3) or {}",
                PRESETS.join(", "),
                nn::config::PRESETS.join(", ")
            )));
        }
    }
    let value = expand(value);
    serde_yaml_ng::from_value::<nn::ModelConfig>(value).map_err(serde::de::Error::custom)
}
