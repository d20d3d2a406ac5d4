//! Stage `toy` (spec §4.2, §7.7 `lab prefixrl toy`): the theory toys T1–T6 in pure Rust. Writes
//! `toy.csv` (one row per measured quantity, [`columns::TOY`]) and a summary naming each test's
//! verdict; a test whose expected outcome does not hold fails the run (exit 1) after every row is
//! written, so the run never reports success its own checks contradict.
use crate::prefixrl::columns;
use crate::prefixrl::config::PrefixrlConfig;
use crate::prefixrl::toy::{self, ToyTest};
use crate::run::Run;
use anyhow::{bail, Result};
use serde::Serialize;

#[derive(Serialize)]
struct Summary {
    tests: Vec<&'static str>,
    quick: bool,
    passed: bool,
    failed: Vec<String>,
}

/// The tests `toy.tests` names (`all` or a list of T1..T6).
fn selected(cfg: &PrefixrlConfig) -> Result<Vec<ToyTest>> {
    if cfg.toy.tests.iter().any(|t| t.eq_ignore_ascii_case("all")) {
        return Ok(ToyTest::ALL.to_vec());
    }
    cfg.toy.tests.iter().map(|t| t.parse()).collect()
}

pub fn run(cfg: &PrefixrlConfig, run: &mut Run) -> Result<()> {
    let tests = selected(cfg)?;
    let mut csv = run.csv("toy.csv", columns::TOY)?;
    let mut failed = Vec::new();
    for test in &tests {
        run.check_interrupt()?;
        let results = toy::run(*test, cfg.toy.quick)?;
        for (r, cells) in results.iter().zip(toy::toy_rows(&results)) {
            csv.cells(&cells)?;
            if !r.passed {
                failed.push(format!(
                    "{} {} = {} (expected {})",
                    r.test.name(),
                    r.quantity,
                    r.value,
                    r.expected
                ));
            }
        }
        if !run.quiet {
            let ok = results.iter().all(|r| r.passed);
            eprintln!(
                "toy {}: {}",
                test.name(),
                if ok { "as expected" } else { "NOT as expected" }
            );
        }
    }
    run.write_summary(&Summary {
        tests: tests.iter().map(|t| t.name()).collect(),
        quick: cfg.toy.quick,
        passed: failed.is_empty(),
        failed: failed.clone(),
    })?;
    if !failed.is_empty() {
        bail!(
            "toy tests off their expected outcome: {}",
            failed.join("; ")
        );
    }
    Ok(())
}
