//! Numbers the README states that a command can check: the README's own example command for
//! Table 2 example II takes the K of its Table 2 row.
use crate::common::*;

#[test]
fn readme_table2_ii_command_takes_the_k_of_its_table() {
    let readme = read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let line = readme
        .lines()
        .find(|l| l.starts_with("lab decompose --config configs/decompose/table2-ii.yaml"))
        .expect("the README's table2-ii example line");
    let row = readme
        .lines()
        .find(|l| l.starts_with("| II") && l.contains("| dual Newton-CG"))
        .expect("Table 2's row for example II");
    let k: usize = row
        .split('|')
        .nth(3)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let command = line.split('#').next().unwrap();
    let mut args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "{}/configs/decompose/table2-ii.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    for a in args.iter_mut() {
        if a.ends_with("table2-ii.yaml") {
            *a = &config;
        }
    }
    args.extend(["--out", "r", "--quiet"]);
    let out = lab(tmp.path(), &args);
    assert!(out.status.success(), "{}", text(&out));
    let iterations = json(&tmp.path().join("r/summary.json"))["iterations"]
        .as_u64()
        .unwrap();
    // The README's K counts loop iterations as the authors' code does: Newton steps + 1.
    assert_eq!(
        iterations as usize + 1,
        k,
        "`{command}` vs the table row {row}"
    );
}
