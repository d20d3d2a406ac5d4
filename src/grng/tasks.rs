//! The tasks of spec §6.2 (plus the CI-sized `shapes-smoke` and `charlm-grammar`): data, model
//! and budget. Data never depends on the run's seed (digits: the fixed seed-0 split; shapes:
//! train seed 0, test seed 1, test labels clean), so seeds differ only in initialisation and
//! batch order. `null` config keys take the values below.
use super::config::{GrngConfig, TaskId};
use super::files;
use super::models::{CharLm, Classifier, Cnn, Mlp, Pooling};
use crate::data::digits::{self, Images};
use crate::data::grammar::GrammarConfig;
use crate::data::shapes::{self, ShapesSpec};
use crate::data::{CorpusConfig, SplitConfig, Tokenizer, TokenizerConfig};
use crate::error::usage;
use crate::optim::groups::trainable_dims;
use anyhow::Result;
use tch::Device;

/// What a task trains on.
pub enum TaskData {
    Images {
        train: Images,
        test: Images,
    },
    /// Char token streams; `val` is the spec's 5 % validation block (the last 5 % is test).
    Text {
        train: Vec<u32>,
        val: Vec<u32>,
        vocab: i64,
    },
}

/// Budget and evaluation settings after the task's defaults filled the `null` keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    pub batch: usize,
    /// Image tasks: passes over the training set (an LM task has one "epoch" per evaluation).
    pub epochs: u64,
    /// Total optimizer steps.
    pub steps: u64,
    pub probe_size: usize,
    pub target: f64,
}

pub struct Task {
    pub id: TaskId,
    /// The model family for the CSVs' `model` column: logreg, mlp, cnn, charlm.
    pub model_name: &'static str,
    pub model: Box<dyn Classifier>,
    pub budget: Budget,
}

/// Per-task defaults: (batch, epochs or LM steps, probe size, target); None for the toy, which
/// trains no network here (`toy::task`).
pub(super) fn defaults(id: TaskId) -> Option<(usize, u64, usize, f64)> {
    Some(match id {
        TaskId::LogregDigits => (64, 50, 512, 0.95),
        TaskId::MlpDigits | TaskId::CnnDigits => (64, 40, 512, 0.95),
        TaskId::CnnShapes => (64, 20, 512, 0.85),
        TaskId::CnnCifar10 => (128, 30, 512, 0.7),
        TaskId::MlpMnist | TaskId::CnnMnist => (128, 5, 512, 0.97),
        TaskId::ShapesSmoke => (32, 2, 128, 0.6),
        TaskId::CharlmFortunes => (32, 1500, 32, 2.5),
        TaskId::CharlmGrammar => (16, 200, 16, 1.5),
        TaskId::TwolayerToy => return None,
    })
}

fn not_a_network() -> anyhow::Error {
    anyhow::anyhow!(
        "internal: task twolayer-toy runs from the `toy:` section, not as a network task"
    )
}

/// A freshly initialised model (draws from torch's global generator: seed it first), the
/// budget and the data of `cfg`'s task.
pub fn build(cfg: &GrngConfig, device: Device) -> Result<(Task, TaskData)> {
    let id = cfg.task;
    let (batch, budget_units, probe, target) = defaults(id).ok_or_else(not_a_network)?;
    let data = load_data(cfg)?;
    let vocab = match &data {
        TaskData::Text { vocab, .. } => *vocab,
        TaskData::Images { .. } => 0,
    };
    let (model_name, model) = model(cfg, vocab, device)?;
    let batch = cfg.train.batch.unwrap_or(batch);
    let (epochs, steps) = match &data {
        TaskData::Images { train, .. } => {
            let epochs = cfg.train.epochs.unwrap_or(budget_units);
            let per_epoch = train.len().div_ceil(batch) as u64;
            // Saturating: a huge `train.epochs` must not wrap to a budget of 0 steps.
            let all = epochs.saturating_mul(per_epoch);
            (epochs, cfg.train.steps.map_or(all, |cap| cap.min(all)))
        }
        TaskData::Text { .. } => {
            let steps = cfg.train.steps.unwrap_or(budget_units);
            (steps.div_ceil(cfg.train.eval_every), steps)
        }
    };
    if let TaskData::Images { train, .. } = &data {
        explicit_sizes_fit(cfg, train.len())?;
    }
    let budget = Budget {
        batch,
        epochs,
        steps,
        probe_size: cfg.train.probe_size.unwrap_or(probe),
        target: cfg.train.target.unwrap_or(target),
    };
    let task = Task {
        id,
        model_name,
        model,
        budget,
    };
    Ok((task, data))
}

/// The model of `cfg`'s task, freshly initialised (torch's global generator), and its family
/// name; `vocab` is the text tasks' vocabulary size (the image tasks ignore it).
fn model(
    cfg: &GrngConfig,
    vocab: i64,
    device: Device,
) -> Result<(&'static str, Box<dyn Classifier>)> {
    let act = cfg.model.activation;
    let built: (&'static str, Box<dyn Classifier>) = match cfg.task {
        TaskId::LogregDigits => ("logreg", Box::new(Mlp::new(&[64, 10], act, device))),
        TaskId::MlpDigits => ("mlp", Box::new(Mlp::new(&[64, 128, 64, 10], act, device))),
        TaskId::ShapesSmoke => ("mlp", Box::new(Mlp::new(&[256, 32, 4], act, device))),
        TaskId::CnnDigits => {
            let cnn = Cnn::new(8, &[1, 16, 32], &[32, 10], Pooling::GlobalAvg, device);
            ("cnn", Box::new(cnn))
        }
        TaskId::CnnShapes => {
            let cnn = Cnn::new(16, &[1, 16, 32], &[512, 64, 4], Pooling::MaxEach, device);
            ("cnn", Box::new(cnn))
        }
        TaskId::CnnCifar10 => {
            // 32 → 16 → 8 → 4 after each pool: 64·4·4 = 1024 features.
            let cnn = Cnn::new(
                32,
                &[3, 32, 64, 64],
                &[1024, 128, 10],
                Pooling::MaxEach,
                device,
            );
            ("cnn", Box::new(cnn))
        }
        TaskId::MlpMnist => ("mlp", Box::new(Mlp::new(&[784, 256, 128, 10], act, device))),
        TaskId::CnnMnist => {
            // 28 → 14 → 7 after each pool: 32·7·7 = 1568 features.
            let cnn = Cnn::new(28, &[1, 16, 32], &[1568, 128, 10], Pooling::MaxEach, device);
            ("cnn", Box::new(cnn))
        }
        TaskId::CharlmFortunes | TaskId::CharlmGrammar => {
            let lm = CharLm::new(vocab, cfg.data.seq_len as i64, device)?;
            ("charlm", Box::new(lm))
        }
        TaskId::TwolayerToy => return Err(not_a_network()),
    };
    Ok(built)
}

/// The trainable parameters (name, rank) of `cfg`'s model, built on the CPU without loading
/// the task's data: the text tasks' vocabulary size names no parameter (the head is tied to
/// `wte.weight`), so a stand-in size does. For `files::check_inputs`.
pub(super) fn param_names(cfg: &GrngConfig) -> Result<Vec<(String, usize)>> {
    crate::torch::load()?;
    let (_, model) = model(cfg, 2, Device::Cpu)?;
    Ok(trainable_dims(model.var_store()))
}

/// An image task's `train.batch` or `train.probe_size` above its training set would silently
/// become the whole set: refused when the config sets it (a task's defaults are capped).
fn explicit_sizes_fit(cfg: &GrngConfig, n_train: usize) -> Result<()> {
    for (key, size) in [
        ("train.batch", cfg.train.batch),
        ("train.probe_size", cfg.train.probe_size),
    ] {
        if let Some(size) = size.filter(|&s| s > n_train) {
            return Err(usage(format!(
                "{key} is {size}, but task {} has {n_train} training examples: set it to at \
                 most {n_train} (or leave it out for the task's default)",
                cfg.task.name()
            )));
        }
    }
    Ok(())
}

fn load_data(cfg: &GrngConfig) -> Result<TaskData> {
    let d = &cfg.data;
    let shapes = |n_train: usize, n_test: usize, noise: f64| {
        let spec = |n, label_noise, seed| ShapesSpec {
            n,
            side: 16,
            noise: d.shapes_noise,
            label_noise,
            seed,
        };
        let train = shapes::generate(&spec(
            d.shapes_train.unwrap_or(n_train),
            d.shapes_label_noise.unwrap_or(noise),
            0,
        ));
        let test = shapes::generate(&spec(d.shapes_test.unwrap_or(n_test), 0.0, 1));
        TaskData::Images {
            train: train.images,
            test: test.images,
        }
    };
    Ok(match cfg.task {
        TaskId::LogregDigits | TaskId::MlpDigits | TaskId::CnnDigits => {
            let all = match &d.digits_file {
                Some(path) => digits::load(path)?,
                None => digits::embedded()?,
            };
            // The spec's 360 of 1797; a user's file keeps the same 20 % share.
            let n_test = match all.len() {
                1797 => digits::TEST_SIZE,
                n => ((n as f64 * 0.2).round() as usize).max(1),
            };
            let (train, test) = digits::stratified_split(&all.y, all.classes, n_test, 0)?;
            TaskData::Images {
                train: all.subset(&train),
                test: all.subset(&test),
            }
        }
        TaskId::CnnShapes => shapes(8000, 2000, 0.1),
        TaskId::CnnCifar10 => files::cifar10(cfg)?,
        TaskId::MlpMnist | TaskId::CnnMnist => files::mnist(cfg)?,
        TaskId::ShapesSmoke => shapes(512, 128, 0.0),
        TaskId::CharlmFortunes | TaskId::CharlmGrammar => text_splits(cfg)?,
        TaskId::TwolayerToy => return Err(not_a_network()),
    })
}

pub(super) fn corpus(cfg: &GrngConfig) -> CorpusConfig {
    match cfg.task {
        TaskId::CharlmFortunes => CorpusConfig::Fortunes {
            dir: cfg.data.fortunes_dir.clone(),
        },
        _ => CorpusConfig::Grammar(GrammarConfig {
            len: cfg.data.grammar_len,
            seed: 0,
        }),
    }
}

/// Char tokens split 90/5/5 in contiguous blocks (spec §6.1); a usage error when a split is
/// shorter than one window of `data.seq_len` + 1 chars.
pub(super) fn text_splits(cfg: &GrngConfig) -> Result<TaskData> {
    let corpus = corpus(cfg).load()?;
    let tok = Tokenizer::build(&TokenizerConfig::Char { specials: vec![] }, &corpus.text)?;
    let split = SplitConfig {
        train_frac: 0.9,
        val_frac: Some(0.05),
        train_tokens: None,
    };
    let s = split.split_corpus(&corpus, &tok)?;
    let need = cfg.data.seq_len + 1;
    if s.train.len() < need || s.val.len() < need {
        return Err(usage(format!(
            "the text of task {} is too short: train {} / val {} chars for data.seq_len {}",
            cfg.task.name(),
            s.train.len(),
            s.val.len(),
            cfg.data.seq_len
        )));
    }
    Ok(TaskData::Text {
        train: s.train,
        val: s.val,
        vocab: tok.vocab_size() as i64,
    })
}
