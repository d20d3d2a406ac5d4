//! Tasks on data files the user already has (nothing is downloaded): CIFAR-10's binary batches
//! (`data.cifar_dir`, task cnn-cifar10) and MNIST's idx files (`data.mnist_dir`, tasks mlp-mnist
//! and cnn-mnist; Fashion-MNIST has the same names and format). A missing key, folder or file,
//! or a file of the wrong shape, is a usage error (exit 2) saying what is needed.
use super::config::{GrngConfig, TaskId};
use super::tasks::TaskData;
use crate::data::cifar;
use crate::data::digits::{self, Images};
use crate::data::idx::{self, ImageSet};
use crate::error::usage;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// MNIST's files in `data.mnist_dir`, as distributed but gunzipped: train images and labels,
/// then test images and labels.
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// CIFAR-10's train and test batches from `data.cifar_dir` (`data::cifar`), flattened to
/// `(N, 3·32·32)` rows.
pub fn cifar10(cfg: &GrngConfig) -> Result<TaskData> {
    let (train, test) = cifar10_files(cfg)?;
    let load =
        |files: &[PathBuf]| cifar::load(files).map_err(|e| usage(format!("data.cifar_dir: {e:#}")));
    Ok(TaskData::Images {
        train: flat(load(&train)?)?,
        test: flat(load(&test)?)?,
    })
}

/// The train and test batch files of `data.cifar_dir`, all present.
fn cifar10_files(cfg: &GrngConfig) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let Some(dir) = &cfg.data.cifar_dir else {
        return Err(usage(
            "task cnn-cifar10 needs data.cifar_dir: the folder extracted from \
             cifar-10-binary.tar.gz (data_batch_1.bin ... data_batch_5.bin, test_batch.bin); \
             nothing is downloaded",
        ));
    };
    let (train, test) = (cifar::train_files(dir), cifar::test_files(dir));
    if let Some(missing) = train.iter().chain(&test).find(|f| !f.is_file()) {
        return Err(usage(format!(
            "data.cifar_dir: {} is missing (the folder must hold data_batch_1.bin ... \
             data_batch_5.bin and test_batch.bin from cifar-10-binary.tar.gz)",
            missing.display()
        )));
    }
    Ok((train, test))
}

/// MNIST's 60k/10k split from the idx files in `data.mnist_dir` (`data::idx`), flattened to
/// `(N, 28·28)` rows (the models of mlp-mnist and cnn-mnist are built for 28×28 images).
pub fn mnist(cfg: &GrngConfig) -> Result<TaskData> {
    let paths = mnist_files(cfg)?;
    let load = |images: &Path, labels: &Path| -> Result<ImageSet> {
        let set = idx::load(images, labels).map_err(|e| usage(format!("data.mnist_dir: {e:#}")))?;
        if set.is_empty() {
            return Err(usage(format!(
                "data.mnist_dir: {} holds no images (its header says 0 records); a run needs at \
                 least one to train or test on",
                images.display()
            )));
        }
        let size = set.images.size();
        if size[2..] != [28, 28] {
            return Err(usage(format!(
                "data.mnist_dir: {} holds {}×{} images; tasks mlp-mnist and cnn-mnist are built \
                 for MNIST's 28×28",
                images.display(),
                size[2],
                size[3]
            )));
        }
        Ok(set)
    };
    Ok(TaskData::Images {
        train: flat(load(&paths[0], &paths[1])?)?,
        test: flat(load(&paths[2], &paths[3])?)?,
    })
}

/// The four [`MNIST_FILES`] in `data.mnist_dir`, all present (a gzipped one gets a hint).
fn mnist_files(cfg: &GrngConfig) -> Result<Vec<PathBuf>> {
    let task = cfg.task.name();
    let Some(dir) = &cfg.data.mnist_dir else {
        return Err(usage(format!(
            "task {task} needs data.mnist_dir: a folder holding MNIST's (or Fashion-MNIST's) \
             {}, uncompressed (gunzip the .gz files); nothing is downloaded",
            MNIST_FILES.join(", ")
        )));
    };
    let paths: Vec<PathBuf> = MNIST_FILES.iter().map(|f| dir.join(f)).collect();
    if let Some(missing) = paths.iter().find(|f| !f.is_file()) {
        let mut gz = missing.as_os_str().to_owned();
        gz.push(".gz");
        let gz = PathBuf::from(gz);
        let hint = match gz.is_file() {
            true => format!(" (found {}: gunzip -k it)", gz.display()),
            false => String::new(),
        };
        return Err(usage(format!(
            "data.mnist_dir: {} is missing{hint}; the folder must hold {}",
            missing.display(),
            MNIST_FILES.join(", ")
        )));
    }
    Ok(paths)
}

/// The files the task reads, checked without loading the big ones (the launcher calls this for
/// every run and study cell before any folder is made): CIFAR-10's and MNIST's files are
/// present, a `data.digits_file` parses, the fortunes folder has files, all UTF-8, whose text
/// splits into windows of `data.seq_len`; each `optimizer.groups` entry takes a parameter of
/// the task's model. Usage errors naming the key.
pub fn check_inputs(cfg: &GrngConfig) -> Result<()> {
    check_files(cfg)?;
    // An optimizer group that takes no parameter of the task's model: refused here, so a
    // study stops before its first cell rather than when the bad cell starts.
    if cfg.task != TaskId::TwolayerToy {
        cfg.optimizer
            .check_groups(|| super::tasks::param_names(cfg))?;
    }
    Ok(())
}

fn check_files(cfg: &GrngConfig) -> Result<()> {
    match cfg.task {
        TaskId::CnnCifar10 => cifar10_files(cfg).map(drop),
        TaskId::MlpMnist | TaskId::CnnMnist => mnist_files(cfg).map(drop),
        TaskId::LogregDigits | TaskId::MlpDigits | TaskId::CnnDigits => {
            match &cfg.data.digits_file {
                Some(path) => match digits::load(path) {
                    // The 80/20 split needs a test image and a training image.
                    Ok(all) if all.len() < 2 => Err(usage(format!(
                        "data.digits_file: {} has {} image(s); the train/test split needs at \
                         least 2",
                        path.display(),
                        all.len()
                    ))),
                    Ok(_) => Ok(()),
                    Err(e) => Err(usage(format!("data.digits_file: {e:#}"))),
                },
                None => Ok(()),
            }
        }
        TaskId::CharlmFortunes => {
            super::tasks::corpus(cfg).check_inputs("data.fortunes_dir")?;
            // The user's text must also be long enough to split into windows (a few MB: cheap).
            check_eval_tokens(cfg, &super::tasks::text_splits(cfg)?)
        }
        // Generated text: made here only when data.eval_tokens asks for a number of tokens.
        TaskId::CharlmGrammar if cfg.data.eval_tokens.is_some_and(|n| n > 0) => {
            check_eval_tokens(cfg, &super::tasks::text_splits(cfg)?)
        }
        TaskId::CnnShapes | TaskId::ShapesSmoke | TaskId::CharlmGrammar | TaskId::TwolayerToy => {
            Ok(())
        }
    }
}

/// `data.eval_tokens` within what the val split holds in whole windows: before, a larger
/// number was cut to the split's length in silence, so a run scored fewer tokens than its
/// config said (the train split, 18 times longer, scored the full count).
fn check_eval_tokens(cfg: &GrngConfig, data: &TaskData) -> Result<()> {
    let (TaskData::Text { val, .. }, Some(asked)) = (data, cfg.data.eval_tokens) else {
        return Ok(());
    };
    let seq_len = cfg.data.seq_len;
    let most = super::source::eval_capacity(val.len(), seq_len);
    if asked <= most {
        return Ok(());
    }
    Err(usage(format!(
        "data.eval_tokens: {asked} is more than the val split of task {} holds: at most {most} \
         ({} windows of data.seq_len {seq_len} in its {} chars); write {most} or less, or 0 \
         for the whole split",
        cfg.task.name(),
        most / seq_len,
        val.len()
    )))
}

/// `(N, C, H, W)` images → the row-major `(N, C·H·W)` rows the image tasks train on.
fn flat(set: ImageSet) -> Result<Images> {
    let n = set.len();
    let x = Vec::<f32>::try_from(set.images.reshape([-1]))?;
    let y = Vec::<i64>::try_from(&set.labels)?;
    Ok(Images {
        d: x.len() / n.max(1),
        x,
        y,
        classes: set.classes as usize,
    })
}
