//! Countdown with a scratchpad (spec §7.1): combine all `n` numbers with `+ - *` (and `/`,
//! exact only, if enabled) into the target; every intermediate result in `[0, vmax]`.
//!
//! Text (§7.1): prompt `7,12,3,25,9,4>323|`, solution `12*25=300;300+9=309;...;` (every step
//! `a op b=c;`, subtraction and division written larger first). Numbers are plain decimals
//! without leading zeros.
use super::{Problem, Task, Verdict};
use crate::config::Checker;
use crate::error::usage;
use anyhow::Result;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The `task:` keys of `kind: countdown` (defaults: §7.1's calibration start).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CountdownConfig {
    /// Numbers are drawn uniformly from `[lo, hi]`.
    pub lo: u64,
    pub hi: u64,
    /// Every intermediate result must lie in `[0, vmax]`.
    pub vmax: u64,
    /// The generator rejects targets below `tmin`.
    pub tmin: u64,
    /// The operations allowed, from `+-*/`.
    pub ops: String,
    /// Draws the generator tries before giving up on `tmin`.
    pub max_tries: u32,
}

impl Default for CountdownConfig {
    fn default() -> Self {
        CountdownConfig {
            lo: 2,
            hi: 25,
            vmax: 999,
            tmin: 100,
            ops: "+-*".into(),
            max_tries: 10_000,
        }
    }
}

impl CountdownConfig {
    pub fn validate_at(&self, c: &mut Checker, at: &str) {
        let key = |k: &str| format!("{at}.{k}");
        c.relation(
            &key("hi"),
            &[&key("lo")],
            self.hi >= self.lo,
            format!("must be >= lo ({}), got {}", self.lo, self.hi),
        );
        c.relation(
            &key("vmax"),
            &[&key("hi")],
            self.vmax >= self.hi,
            format!("must be >= hi ({}), got {}", self.hi, self.vmax),
        );
        c.relation(
            &key("tmin"),
            &[&key("vmax")],
            self.tmin <= self.vmax,
            format!("must be <= vmax ({}), got {}", self.vmax, self.tmin),
        );
        c.check(
            &key("vmax"),
            self.vmax <= 1 << 31,
            format!("must be <= 2^31, got {}", self.vmax),
        );
        let ops: Vec<char> = self.ops.chars().collect();
        c.check(
            &key("ops"),
            !ops.is_empty()
                && ops.iter().all(|o| "+-*/".contains(*o))
                && (1..ops.len()).all(|i| !ops[..i].contains(&ops[i])),
            format!(
                "must be distinct characters from `+-*/`, got `{}`",
                self.ops
            ),
        );
        c.check(&key("max_tries"), self.max_tries >= 1, "must be >= 1");
    }
}

/// The countdown task (module doc).
pub struct Countdown {
    cfg: CountdownConfig,
}

/// `a op b` if it is a valid step: defined (division exact, by non-zero), in `[0, vmax]`.
fn apply(a: u64, op: char, b: u64, vmax: u64) -> Option<u64> {
    let c = match op {
        '+' => a.checked_add(b)?,
        '-' => a.checked_sub(b)?,
        '*' => a.checked_mul(b)?,
        '/' if b != 0 && a.is_multiple_of(b) => a / b,
        _ => return None,
    };
    (c <= vmax).then_some(c)
}

/// The prompt's numbers and target: `7,12,3>323|`.
fn parse_prompt(prompt: &str) -> Option<(Vec<u64>, u64)> {
    let (numbers, rest) = prompt.split_once('>')?;
    let target = number(rest.strip_suffix('|')?)?;
    let numbers = numbers.split(',').map(number).collect::<Option<Vec<_>>>()?;
    Some((numbers, target))
}

/// A plain non-negative decimal (no sign, no leading zeros, at most 18 digits).
fn number(s: &str) -> Option<u64> {
    let plain = !s.is_empty()
        && s.len() <= 18
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    plain.then(|| s.parse().ok()).flatten()
}

/// One step `a op b=c` (without its `;`), `c` possibly negative; None: not of that form.
fn parse_step(step: &str) -> Option<(u64, char, u64, i128)> {
    let (lhs, c) = step.split_once('=')?;
    let at = lhs.find(|ch: char| "+-*/".contains(ch))?;
    let op = lhs[at..].chars().next()?;
    let (a, b) = (number(&lhs[..at])?, number(&lhs[at + 1..])?);
    let c = match c.strip_prefix('-') {
        Some(neg) => -i128::from(number(neg)?),
        None => i128::from(number(c)?),
    };
    Some((a, op, b, c))
}

impl Countdown {
    pub fn new(cfg: CountdownConfig) -> Countdown {
        Countdown { cfg }
    }

    pub fn config(&self) -> &CountdownConfig {
        &self.cfg
    }

    /// The prompt text of `numbers` and `target`.
    pub fn prompt(numbers: &[u64], target: u64) -> String {
        let list: Vec<String> = numbers.iter().map(u64::to_string).collect();
        format!("{}>{target}|", list.join(","))
    }

    /// A uniformly random valid-step solver (and the generator's merge, §7.1): merge a random
    /// pair that has a valid op with a random valid op until one number is left. Returns the
    /// steps and that number; None when some multiset on the way has no valid step.
    pub fn random_walk(&self, numbers: &[u64], rng: &mut ChaCha8Rng) -> Option<(String, u64)> {
        let ops: Vec<char> = self.cfg.ops.chars().collect();
        let mut pool = numbers.to_vec();
        let mut trace = String::new();
        while pool.len() > 1 {
            // (i, j, valid steps (larger, op, smaller, result) of that pair)
            let mut pairs = Vec::new();
            for i in 0..pool.len() {
                for j in i + 1..pool.len() {
                    let (hi, lo) = (pool[i].max(pool[j]), pool[i].min(pool[j]));
                    let steps: Vec<(u64, char, u64, u64)> = ops
                        .iter()
                        .filter_map(|&op| apply(hi, op, lo, self.cfg.vmax).map(|c| (hi, op, lo, c)))
                        .collect();
                    if !steps.is_empty() {
                        pairs.push((i, j, steps));
                    }
                }
            }
            if pairs.is_empty() {
                return None;
            }
            let (i, j, steps) = &pairs[rng.gen_range(0..pairs.len())];
            let (mut a, op, mut b, c) = steps[rng.gen_range(0..steps.len())];
            if matches!(op, '+' | '*') && rng.gen_bool(0.5) {
                std::mem::swap(&mut a, &mut b);
            }
            trace.push_str(&format!("{a}{op}{b}={c};"));
            pool.remove(*j);
            pool.remove(*i);
            pool.push(c);
        }
        pool.first().map(|&t| (trace, t))
    }

    /// Score `solution` against `numbers` and `target` (§7.1 checker).
    pub fn score(&self, numbers: &[u64], target: u64, solution: &str, ended: bool) -> Verdict {
        if solution.is_empty() {
            return Verdict::fail("empty");
        }
        let mut pool = numbers.to_vec();
        let mut rest = solution;
        while let Some((step, after)) = rest.split_once(';') {
            rest = after;
            let Some((a, op, b, c)) = parse_step(step) else {
                return Verdict::fail("format");
            };
            if !self.cfg.ops.contains(op) {
                return Verdict::fail("op");
            }
            let Some(ia) = pool.iter().position(|&x| x == a) else {
                return Verdict::fail("unavailable");
            };
            pool.swap_remove(ia);
            let Some(ib) = pool.iter().position(|&x| x == b) else {
                return Verdict::fail("unavailable");
            };
            pool.swap_remove(ib);
            let exact = match op {
                '-' => i128::from(a) - i128::from(b),
                '/' if b == 0 || !a.is_multiple_of(b) => return Verdict::fail("arithmetic"),
                _ => match apply(a, op, b, u64::MAX) {
                    Some(v) => i128::from(v),
                    None => return Verdict::fail("range"),
                },
            };
            if exact != c {
                return Verdict::fail("arithmetic");
            }
            if exact < 0 || exact > i128::from(self.cfg.vmax) {
                return Verdict::fail("range");
            }
            pool.push(exact as u64);
        }
        if !ended {
            Verdict::fail("no_eos")
        } else if !rest.is_empty() {
            Verdict::fail("format")
        } else if pool.len() != 1 {
            Verdict::fail("unused")
        } else if pool[0] != target {
            Verdict::fail("target")
        } else {
            Verdict::pass()
        }
    }
}

impl Task for Countdown {
    fn name(&self) -> &'static str {
        "countdown"
    }

    /// `0-9 + - * / = , ; > |` (§7.2: 19 chars, 22 ids with the specials).
    fn alphabet(&self) -> Option<Vec<char>> {
        Some("0123456789+-*/=,;>|".chars().collect())
    }

    fn sample(&self, rng: &mut ChaCha8Rng, level: u32, id: String) -> Result<Problem> {
        if level < 2 {
            return Err(usage(format!(
                "countdown: difficulty {level} is below 2 numbers"
            )));
        }
        let cfg = &self.cfg;
        for _ in 0..cfg.max_tries {
            let numbers: Vec<u64> = (0..level).map(|_| rng.gen_range(cfg.lo..=cfg.hi)).collect();
            let Some((trace, target)) = self.random_walk(&numbers, rng) else {
                continue;
            };
            if target < cfg.tmin {
                continue;
            }
            return Ok(Problem {
                id,
                task: "countdown".into(),
                difficulty: level,
                prompt: Self::prompt(&numbers, target),
                meta: serde_json::json!({"numbers": numbers, "target": target}),
                oracle: Some(trace),
            });
        }
        Err(usage(format!(
            "countdown: no instance of {level} numbers reached a target >= task.tmin ({}) in \
             task.max_tries ({}) draws; lower task.tmin, or raise task.hi, task.vmax or \
             task.max_tries, or allow more task.ops",
            cfg.tmin, cfg.max_tries
        )))
    }

    fn check(&mut self, p: &Problem, solution: &str, ended: bool) -> Verdict {
        match parse_prompt(&p.prompt) {
            Some((numbers, target)) => self.score(&numbers, target, solution, ended),
            None => Verdict::error("problem"),
        }
    }

    fn oracle(&self, p: &Problem) -> Option<String> {
        p.oracle.clone()
    }

    fn step_delimiter(&self) -> Option<char> {
        Some(';')
    }
}
