//! The run directories a stage reads (`inputs.data`, `inputs.base`, `inputs.traces`,
//! `inputs.prefixes`), checked like `--resume`: the directory exists, its meta.json says a
//! completed `lab prefixrl` run, and it holds the artifact. `inputs.data` may also name a
//! directory of the user's own problem files without meta.json ([`own_problems`]). Errors name
//! the key and the stage to run first. Under `stage: all` every artifact lives in the run's own
//! directory and a stage whose artifact is there already is skipped.
use super::config::{InputsSection, PrefixMode, PrefixrlConfig, Stage, TraceSource};
use crate::error::usage;
use crate::run::Run;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// What one stage writes and a later one reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    /// gen-data: problems.jsonl (pretraining, hard pool, held-out and OOD problems).
    Problems,
    /// pretrain: the base model's checkpoint directory.
    Base,
    /// collect: traces.jsonl.
    Traces,
    /// make-prefixes: prefixes.jsonl.
    Prefixes,
}

impl Artifact {
    /// The config key naming the run that holds it.
    pub fn key(self) -> &'static str {
        match self {
            Artifact::Problems => "inputs.data",
            Artifact::Base => "inputs.base",
            Artifact::Traces => "inputs.traces",
            Artifact::Prefixes => "inputs.prefixes",
        }
    }

    /// Its file (or, for `Base`, directory) name inside the run directory.
    pub fn file(self) -> &'static str {
        match self {
            Artifact::Problems => "problems.jsonl",
            Artifact::Base => "base",
            Artifact::Traces => "traces.jsonl",
            Artifact::Prefixes => "prefixes.jsonl",
        }
    }

    /// The stage that writes it.
    /// Files the producing stage writes beside [`Artifact::file`] that later stages read too
    /// (gen-data's other splits), adopted with it under `stage: all`.
    pub fn companions(self) -> &'static [&'static str] {
        match self {
            Artifact::Problems => &["pretrain.jsonl", "heldout.jsonl", "ood.jsonl", "easy.jsonl"],
            Artifact::Base | Artifact::Traces | Artifact::Prefixes => &[],
        }
    }

    pub fn producer(self) -> Stage {
        match self {
            Artifact::Problems => Stage::GenData,
            Artifact::Base => Stage::Pretrain,
            Artifact::Traces => Stage::Collect,
            Artifact::Prefixes => Stage::MakePrefixes,
        }
    }

    /// The run directory the config names for it.
    pub fn configured(self, inputs: &InputsSection) -> Option<&Path> {
        match self {
            Artifact::Problems => inputs.data.as_deref(),
            Artifact::Base => inputs.base.as_deref(),
            Artifact::Traces => inputs.traces.as_deref(),
            Artifact::Prefixes => inputs.prefixes.as_deref(),
        }
    }

    /// "run `lab prefixrl --config … --set stage=pretrain` first and set inputs.base to its run
    /// directory".
    pub fn what_to_run(self) -> String {
        format!(
            "run `lab prefixrl --config … --set stage={}` first and set {} to its run directory",
            self.producer().name(),
            self.key()
        )
    }
}

/// The artifacts `stage` reads from earlier runs under `cfg` (none for `toy` and `all`).
pub fn needs(stage: Stage, cfg: &PrefixrlConfig) -> Vec<Artifact> {
    use Artifact::*;
    let mut v = match stage {
        Stage::GenData | Stage::Toy | Stage::All => vec![],
        Stage::Pretrain => vec![Problems],
        Stage::Calibrate | Stage::Eval => vec![Problems, Base],
        Stage::Collect => match cfg.traces.source {
            TraceSource::Base => vec![Problems, Base],
            _ => vec![Problems],
        },
        Stage::MakePrefixes => match cfg.prefix.mode {
            PrefixMode::Calibrated => vec![Problems, Base, Traces],
            _ => vec![Traces],
        },
        // Every method trains on D = the problems with a trace (§2.6), so reads traces.jsonl.
        Stage::Train => vec![Problems, Base, Traces],
    };
    if stage == Stage::Train && cfg.rl.method.uses_prefixes() {
        v.push(Prefixes);
    }
    v
}

/// The path of `art` for a single-stage run: `key` must name a completed prefixrl run that
/// holds it.
pub fn resolve(inputs: &InputsSection, art: Artifact) -> Result<PathBuf> {
    let dir = art
        .configured(inputs)
        .ok_or_else(|| usage(format!("{} is not set: {}", art.key(), art.what_to_run())))?;
    if !(art == Artifact::Problems && own_problems(dir)) {
        check_run(art.key(), dir, true)?;
    }
    let path = dir.join(art.file());
    if !path.exists() {
        return Err(usage(format!(
            "{}: {} has no {}: {}",
            art.key(),
            dir.display(),
            art.file(),
            art.what_to_run()
        )));
    }
    Ok(path)
}

/// Whether `dir` is a directory of problem files the user wrote (§8 "bring your own problems",
/// the only source for task kind `external`): no meta.json, but a problems.jsonl. The layout
/// (docs/prefixrl.md): `problems.jsonl`, the hard pool (collect, calibrate, train);
/// `pretrain.jsonl`, oracle-solved problems (pretrain); `heldout.jsonl` and `ood.jsonl`
/// (train's evaluations, eval); `easy.jsonl`, optional (easy_pass1); §7.2 problem lines each.
pub fn own_problems(dir: &Path) -> bool {
    dir.is_dir() && !dir.join("meta.json").exists() && dir.join(Artifact::Problems.file()).is_file()
}

/// Check that `dir` (named by config key `key`) is a `lab prefixrl` run directory; with
/// `completed`, also that it finished.
pub fn check_run(key: &str, dir: &Path, completed: bool) -> Result<()> {
    let meta_path = dir.join("meta.json");
    if !dir.is_dir() {
        return Err(usage(format!(
            "{key}: {} is not a directory",
            dir.display()
        )));
    }
    let text = std::fs::read_to_string(&meta_path).map_err(|e| {
        let own = if key == Artifact::Problems.key() {
            " nor a directory of your own problem files (it has no problems.jsonl; \
             docs/prefixrl.md, \"Your own task\")"
        } else {
            ""
        };
        usage(format!(
            "{key}: {} is not a lab run directory (cannot read {}: {e}){own}",
            dir.display(),
            meta_path.display()
        ))
    })?;
    let meta: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "{key}: {} is not valid JSON: {e}",
            meta_path.display()
        ))
    })?;
    let field = |name: &str| meta.get(name).and_then(|v| v.as_str()).unwrap_or("?");
    if field("subcommand") != "prefixrl" {
        return Err(usage(format!(
            "{key}: {} is a `lab {}` run, not a `lab prefixrl` one",
            dir.display(),
            field("subcommand")
        )));
    }
    let own = meta.get("pid").and_then(|p| p.as_u64()) == Some(u64::from(std::process::id()))
        && field("host") == crate::run::this_host();
    if own && field("status") == "running" {
        // With --force the old run was moved aside and this is the new run's folder.
        return Err(usage(format!(
            "{key}: {} is this run's own output folder (--out/--name): a stage reads the \
             output of another, earlier run; point {key} at that run, or pick another --out",
            dir.display()
        )));
    }
    if completed && field("status") != "completed" {
        return Err(usage(format!(
            "{key}: {} did not complete (meta.json status: {}); run that stage again",
            dir.display(),
            field("status")
        )));
    }
    Ok(())
}

/// Where `art` lives in a `stage: all` run: its own directory.
pub fn local(run: &Run, art: Artifact) -> PathBuf {
    run.path(art.file())
}

/// Where a stage of `cfg` reads `art`: the run directory itself under `stage: all` (an earlier
/// stage of the same run wrote it), else the checked `inputs.*` run.
pub fn path(cfg: &PrefixrlConfig, run: &Run, art: Artifact) -> Result<PathBuf> {
    if cfg.stage != Stage::All {
        return resolve(&cfg.inputs, art);
    }
    let p = local(run, art);
    if !p.exists() {
        return Err(usage(format!(
            "{} is missing from this run's directory: stage {} writes it",
            art.file(),
            art.producer().name()
        )));
    }
    Ok(p)
}

/// The artifacts `all` can take from other runs.
pub const ARTIFACTS: [Artifact; 4] = [
    Artifact::Problems,
    Artifact::Base,
    Artifact::Traces,
    Artifact::Prefixes,
];

/// `stage: all`, before any stage: copy into the run directory each artifact an `inputs.*` key
/// names (a completed prefixrl run that must hold it) and each one the `inputs.resume` run holds
/// (any status: it is being continued), so the stages that made them are skipped. The stage's
/// own record comes along ([`take_record`]), and from the resumed run calibrate's output too:
/// a continued run keeps what its skipped stages wrote.
pub fn adopt(inputs: &InputsSection, run: &Run) -> Result<()> {
    if let Some(dir) = &inputs.resume {
        check_run("inputs.resume", dir, false)?;
    }
    for art in ARTIFACTS {
        let from = match (art.configured(inputs), &inputs.resume) {
            (Some(_), _) => Some(resolve(inputs, art)?),
            (None, Some(dir)) => Some(dir.join(art.file())).filter(|p| p.exists()),
            (None, None) => None,
        };
        if let Some(from) = from {
            copy_tree(&from, &local(run, art))?;
            for file in art.companions() {
                let beside = from.with_file_name(file);
                if beside.exists() {
                    copy_tree(&beside, &run.path(file))?;
                }
            }
            let source = from.parent().unwrap_or(Path::new("."));
            take_record(source, art.producer(), run)?;
        }
    }
    if let Some(dir) = &inputs.resume {
        let calibration = dir.join(CALIBRATION);
        if calibration.is_file() {
            copy_tree(&calibration, &run.path(CALIBRATION))?;
            take_record(dir, Stage::Calibrate, run)?;
        }
    }
    Ok(())
}

/// Calibrate's output (read by no later stage).
pub const CALIBRATION: &str = "calibration.csv";

/// The CSV a stage writes beside its output (pretrain.csv, collect.csv), if any.
pub fn stage_csv(stage: Stage) -> Option<&'static str> {
    match stage {
        Stage::Pretrain => Some("pretrain.csv"),
        Stage::Collect => Some("collect.csv"),
        _ => None,
    }
}

/// Copy what `stage` recorded in run directory `source` besides its output into `run`: its CSV
/// ([`stage_csv`]) and its summary.json section (`gen_data`, `pretrain`, …).
/// A damaged record is refused (exit 2 naming the file): a CSV with another header than the
/// stage writes, a summary.json that is not a JSON object (its sections were dropped silently).
fn take_record(source: &Path, stage: Stage, run: &Run) -> Result<()> {
    let damaged = |path: &Path, what: &str| {
        usage(format!(
            "{}: {what}; the run's record of stage {} is damaged: repair or remove the file, \
             or run that stage again",
            path.display(),
            stage.name()
        ))
    };
    if let Some(csv) = stage_csv(stage) {
        let from = source.join(csv);
        if from.is_file() {
            let text = std::fs::read_to_string(&from).unwrap_or_default();
            let header = text.lines().next().unwrap_or("");
            if header != stage_columns(stage).join(",") {
                return Err(damaged(
                    &from,
                    "its header is not the columns the stage writes",
                ));
            }
            copy_tree(&from, &run.path(csv))?;
        }
    }
    let key = stage.name().replace('-', "_");
    let path = source.join("summary.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let summary = serde_json::from_str::<serde_json::Value>(&text).ok();
    let Some(summary) = summary.filter(|v| v.is_object()) else {
        return Err(damaged(&path, "not a JSON object"));
    };
    match summary.get(&key) {
        Some(section) => super::stages::load::update_summary(run, &key, section.clone()),
        None => Ok(()),
    }
}

/// The columns of [`stage_csv`]'s file.
fn stage_columns(stage: Stage) -> &'static [&'static str] {
    match stage {
        Stage::Pretrain => super::stages::pretrain::COLUMNS,
        Stage::Collect => super::stages::collect::COLUMNS,
        _ => &[],
    }
}

/// Copy a file, or a directory recursively.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    use anyhow::Context;
    if from.is_dir() {
        std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
        for entry in
            std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?
        {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}
