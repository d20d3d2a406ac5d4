//! Whether a checkpoint's state fits the trainer built from the config it resumes under,
//! before any of it is restored: every array (actor, critic, optimiser moments, ACKTR factors,
//! normaliser statistics, env states, RNG seeds; ACKTR's factors check themselves) has the length the fresh trainer's own
//! checkpoint has, every part present in one is present in the other, and the tracker's
//! counters are those of a run at the checkpoint's iteration. A checkpoint edited by hand or
//! damaged otherwise made the run panic on an index (exit 101), or end early and call itself
//! completed.
use super::checkpoint::Checkpoint;
use anyhow::{anyhow, Result};
use serde_json::Value;

/// An error naming the first part of `saved` whose shape differs from `fresh` (a checkpoint
/// the fresh trainer writes), or a tracker whose counters cannot be those of iteration
/// `saved.iter` with `per_iter` env steps per iteration.
pub fn check(saved: &Checkpoint, fresh: &Checkpoint, per_iter: usize) -> Result<()> {
    let (mut a, mut b) = (serde_json::to_value(saved)?, serde_json::to_value(fresh)?);
    // The counters vary with the iteration: checked below, not against a fresh trainer's.
    // ACKTR's factors appear at its first update (a fresh trainer has none): its own `load`
    // checks their sizes against the actor's layers.
    for v in [&mut a, &mut b] {
        if let Some(map) = v.as_object_mut() {
            for key in ["tracker", "iter", "acktr"] {
                map.remove(key);
            }
        }
    }
    if saved.acktr.is_some() != fresh.acktr.is_some() {
        return Err(anyhow!(
            "the checkpoint's ACKTR state does not fit this run's algorithm"
        ));
    }
    if let Some(why) = mismatch(&a, &b, "") {
        return Err(anyhow!("{why}"));
    }
    saved.tracker.check_counts(saved.iter, per_iter)?;
    saved.tracker.check_values()
}

/// Where `saved` and `fresh` differ in shape: an array's length, an object's keys, a part
/// that is null in one only, or a value of another JSON type. Numbers and strings of the same
/// type always fit.
fn mismatch(saved: &Value, fresh: &Value, at: &str) -> Option<String> {
    let here = if at.is_empty() { "the checkpoint" } else { at };
    match (saved, fresh) {
        (Value::Array(s), Value::Array(f)) => {
            if s.len() != f.len() {
                return Some(format!(
                    "{here} holds {} values, this run has {}",
                    s.len(),
                    f.len()
                ));
            }
            s.iter()
                .zip(f)
                .enumerate()
                .find_map(|(i, (s, f))| mismatch(s, f, &format!("{here}[{i}]")))
        }
        (Value::Object(s), Value::Object(f)) => f
            .iter()
            .find_map(|(key, fv)| {
                let sv = s.get(key).unwrap_or(&Value::Null);
                mismatch(sv, fv, &join(at, key))
            })
            .or_else(|| {
                let extra = s.keys().find(|k| !f.contains_key(*k))?;
                Some(format!(
                    "{} is not part of this run's state",
                    join(at, extra)
                ))
            }),
        (Value::Null, Value::Null) => None,
        (Value::Null, _) => Some(format!("{here} is missing, this run has one")),
        (_, Value::Null) => Some(format!("{here} is present, this run has none")),
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_)) => None,
        _ => Some(format!("{here} is of another type than this run's")),
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_must_match_and_values_may_differ() {
        let fresh = json!({"m": [0.0, 0.0], "opt": null, "rng": {"seed": [1, 2], "pos": "7"}});
        let same = json!({"m": [1.5, -2.0], "opt": null, "rng": {"seed": [9, 9], "pos": "0"}});
        assert_eq!(mismatch(&same, &fresh, ""), None);
        let short = json!({"m": [1.5], "opt": null, "rng": {"seed": [9, 9], "pos": "0"}});
        let why = mismatch(&short, &fresh, "").unwrap();
        assert_eq!(why, "m holds 1 values, this run has 2");
        let extra = json!({"m": [1.0, 2.0], "opt": {"v": []}, "rng": {"seed": [9, 9], "pos": "0"}});
        assert_eq!(
            mismatch(&extra, &fresh, "").unwrap(),
            "opt is present, this run has none"
        );
        let typed = json!({"m": [1.0, 2.0], "opt": null, "rng": {"seed": [9, "x"], "pos": "0"}});
        assert_eq!(
            mismatch(&typed, &fresh, "").unwrap(),
            "rng.seed[1] is of another type than this run's"
        );
        let unknown =
            json!({"m": [1.0, 2.0], "opt": null, "rng": {"seed": [9, 9], "pos": "0", "x": 1}});
        assert_eq!(
            mismatch(&unknown, &fresh, "").unwrap(),
            "rng.x is not part of this run's state"
        );
    }
}
