//! Tests of [`super`]: the study block, its axes, cells and names.
use super::*;

fn grid(text: &str) -> Mapping {
    serde_yaml_ng::from_str(text).unwrap()
}

#[test]
fn product_has_readable_unique_names() {
    let axes = axes(&grid("matrix.n: [8, 12]\nalgo: [smac, 'a/b']")).unwrap();
    let cells = cells(&axes);
    let names: Vec<_> = cells.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "matrix.n=8,algo=smac",
            "matrix.n=8,algo=a_b",
            "matrix.n=12,algo=smac",
            "matrix.n=12,algo=a_b"
        ]
    );
    assert_eq!(cells[3].settings[0].value, serde_json::json!(12));
}

#[test]
fn colliding_names_get_suffixes_and_empty_grid_is_one_cell() {
    let axes = axes(&grid("x: ['a/b', 'a_b']")).unwrap();
    let names: Vec<_> = cells(&axes).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["x=a_b", "x=a_b-2"]);
    assert_eq!(cells(&[])[0].name, "default");
}

#[test]
fn bad_grids_are_usage_errors() {
    assert!(axes(&grid("x: []")).is_err());
    assert!(axes(&grid("x: 3")).is_err());
    assert!(axes(&grid("seed: [1, 2]")).is_err());
    assert!(axes(&grid("a..b: [1]")).is_err());
}

#[test]
fn a_value_listed_twice_is_a_usage_error_naming_it() {
    for text in ["x: [8, 12, 8]", "x: [8, 8.0]", "x: [a, b, a]"] {
        let e = axes(&grid(text)).unwrap_err().to_string();
        assert!(
            e.contains("`study.grid.x`") && e.contains("twice"),
            "{text}: {e}"
        );
    }
    assert!(
        axes(&grid("x: [8, 12, '8']")).is_ok(),
        "a string is another value"
    );
}

#[test]
fn run_count_multiplies_without_overflow() {
    let axes = axes(&grid("x: [1, 2, 3]\ny: [1, 2]")).unwrap();
    assert_eq!(run_count(&axes, 5), Some(30));
    let wide = Axis {
        key: "z".into(),
        values: vec![serde_json::json!(0); 1 << 20],
        merges: Vec::new(),
    };
    assert_eq!(
        run_count(&[wide.clone(), wide.clone(), wide.clone(), wide], 1 << 4),
        None
    );
}

#[test]
fn nested_grid_mappings_are_key_paths() {
    let axes = axes(&grid("matrix: {n: [8, 12], condition: [10]}\nalgo: [a]")).unwrap();
    let keys: Vec<_> = axes.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["matrix.n", "matrix.condition", "algo"]);
    assert!(super::axes(&grid("study: {x: [1]}")).is_err());
}

#[test]
fn block_is_removed_and_typed() {
    let mut v: Value = serde_yaml_ng::from_str("seed: 1\nstudy: {seeds: [0, 1]}").unwrap();
    let block = take_block(&mut v).unwrap().unwrap();
    assert_eq!(block.seeds, Some(vec![0, 1]));
    assert!(v.get("study").is_none());
    let mut bad: Value = serde_yaml_ng::from_str("study: {sedes: [0]}").unwrap();
    assert!(take_block(&mut bad).is_err());
    // `study: null` (`--set study=null`) is no study, and leaves no key behind.
    let mut none: Value = serde_yaml_ng::from_str("seed: 1\nstudy: null").unwrap();
    assert!(take_block(&mut none).unwrap().is_none());
    assert!(none.get("study").is_none());
}

#[test]
fn cases_set_several_keys_together_and_name_the_cell() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ppo.yaml");
    std::fs::write(&file, "epochs: 4\nalgo: {kind: ppo, clip_coef: 0.2}\n").unwrap();
    let text = format!(
        "task: {{cart: {{env.id: CartPole-v1, total_steps: 200}}, pend: {{env.id: P, total_steps: 500}}}}\n\
         algo: {{ppo: '{}'}}",
        file.display()
    );
    let axes = case_axes(&grid(&text)).unwrap();
    let cells = cells(&axes);
    let names: Vec<_> = cells.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["task=cart,algo=ppo", "task=pend,algo=ppo"]);
    let pend = &cells[1].settings[0];
    assert_eq!(pend.key, "task");
    assert_eq!(
        pend.merge,
        Some(serde_json::json!({"env": {"id": "P"}, "total_steps": 500}))
    );
    let ppo = cells[0].settings[1].merge.as_ref().unwrap();
    assert_eq!(ppo["algo"]["kind"], "ppo");
    assert_eq!(ppo["epochs"], 4);
}

#[test]
fn bad_cases_are_usage_errors() {
    assert!(case_axes(&grid("algo: [ppo]")).is_err());
    assert!(case_axes(&grid("algo: {}")).is_err());
    assert!(case_axes(&grid("algo: {ppo: 3}")).is_err());
    assert!(case_axes(&grid("algo: {ppo: {a..b: 1}}")).is_err());
    let missing = case_axes(&grid("algo: {ppo: no/such/file.yaml}")).unwrap_err();
    assert!(
        format!("{missing}").contains("no/such/file.yaml"),
        "{missing}"
    );
}
