//! Keys only some `rl.method`s read, refused (naming the key and the method) where the method
//! would ignore them: `rl.alpha` (prefixrl, hint), `sft.*` (sft-rl), `offpolicy.is_clip` and
//! `offpolicy.is_level` (offpolicy-is) and `offpolicy.luffy_gamma` (luffy). Only a value other
//! than the embedded default counts as set, so a study that switches `rl.method` without
//! touching them, or a config copied whole from `--print-config`, still loads.
use super::config::{Method, PrefixrlConfig};
use crate::config::Checker;
use serde::{de::DeserializeOwned, Serialize};

pub(super) fn check(cfg: &PrefixrlConfig, c: &mut Checker) {
    check_alpha_read(cfg, c);
    let m = cfg.rl.method;
    let sft = m == Method::SftRl;
    for key in ["epochs", "lr", "batch"] {
        if !sft && !is_default("sft", key, &cfg.sft) {
            refuse(c, &format!("sft.{key}"), "sft-rl", m);
        }
    }
    for key in ["is_clip", "is_level"] {
        if m != Method::OffpolicyIs && !is_default("offpolicy", key, &cfg.offpolicy) {
            refuse(c, &format!("offpolicy.{key}"), "offpolicy-is", m);
        }
    }
    if m != Method::Luffy && !is_default("offpolicy", "luffy_gamma", &cfg.offpolicy) {
        refuse(c, "offpolicy.luffy_gamma", "luffy", m);
    }
}

fn method_name(m: Method) -> String {
    serde_yaml_ng::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn refuse(c: &mut Checker, key: &str, reader: &str, m: Method) {
    c.relation(
        key,
        &["rl.method"],
        false,
        format!(
            "is read only by rl.method {reader}, but rl.method is {}, which would ignore it: \
             leave it at its default (remove it), or set it only where rl.method is {reader} \
             (in a study, in those cells)",
            method_name(m)
        ),
    );
}

/// Whether `section`'s `key` in `value` (a section of the config) is the embedded default's.
/// Both sides go through the section's type, so `1e-4` and `0.0001` compare equal.
fn is_default<T: Serialize + DeserializeOwned>(section: &str, key: &str, value: &T) -> bool {
    let Some(default) = default_section::<T>(section) else {
        return true;
    };
    let (Ok(a), Ok(b)) = (
        serde_yaml_ng::to_value(value),
        serde_yaml_ng::to_value(&default),
    ) else {
        return true;
    };
    a.get(key) == b.get(key)
}

/// The embedded default config's `section`, read as `T`.
fn default_section<T: DeserializeOwned>(section: &str) -> Option<T> {
    use crate::experiment::Experiment;
    let all: serde_yaml_ng::Value = serde_yaml_ng::from_str(PrefixrlConfig::DEFAULT_YAML).ok()?;
    serde_yaml_ng::from_value(all.get(section)?.clone()).ok()
}

/// `rl.alpha` is read only by `prefixrl` and `hint`: under another method no batch slot is
/// prefixed, as with alpha 0. A value other than 0 or the embedded default is refused there
/// (a study cell that sets it beside such a method was a silent copy of the alpha-0 run), so
/// a study that switches `rl.method` without touching it, or a config copied whole from
/// `--print-config`, still loads.
fn check_alpha_read(cfg: &PrefixrlConfig, c: &mut Checker) {
    let r = &cfg.rl;
    if r.method.uses_prefixes() || r.alpha == 0.0 {
        return;
    }
    let Some(default) = default_alpha() else {
        return;
    };
    let method = method_name(r.method);
    c.relation(
        "rl.alpha",
        &["rl.method"],
        r.alpha == default,
        format!(
            "is read only by rl.method prefixrl and hint, but rl.method is {method}, which \
             prefixes no batch slot (as alpha 0): leave it at its default {default} or 0, or \
             set it only where rl.method is prefixrl or hint (in a study, in those cells), \
             got {}",
            r.alpha
        ),
    );
}

/// `rl.alpha` of the embedded default config.
fn default_alpha() -> Option<f64> {
    use crate::experiment::Experiment;
    let all: serde_yaml_ng::Value = serde_yaml_ng::from_str(PrefixrlConfig::DEFAULT_YAML).ok()?;
    all.get("rl")?.get("alpha")?.as_f64()
}
