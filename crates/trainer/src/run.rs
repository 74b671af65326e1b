//! `mnist train`: a run directory per run, trained by burn's Learner, resumable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::module::Module;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{Learner, SupervisedTraining};
use mnist_data::{MnistBatch, MnistLoader, Split};
use mnist_models::Model;

use crate::Error;
use crate::backend::Backend;
use crate::config::{RunConfig, TrainerKind};
use crate::fsutil::atomic_write;
use crate::metrics;
use crate::progress::{EpochPrinter, EpochRecord};

pub const CONFIG_FILE: &str = "config.toml";
pub const FINAL_MODEL: &str = "model.bpk";
/// Batch size for validation: any size gives the same numbers; larger is faster.
pub const EVAL_BATCH: usize = 500;

/// What `mnist train` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct TrainRequest {
    pub config: PathBuf,
    /// Run name; defaults to the config file's stem.
    pub name: Option<String>,
    pub resume: bool,
    pub force: bool,
}

/// The outcome of a finished run.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    pub run_dir: PathBuf,
    pub epochs: Vec<EpochRecord>,
}

/// Checks everything that can be checked before training starts, prepares the run directory,
/// trains, and writes the final model and `metrics.csv`.
pub fn train(request: &TrainRequest, backend: &Backend) -> Result<TrainOutcome, Error> {
    let config = RunConfig::load(&request.config)?;
    let name = match &request.name {
        Some(n) => n.clone(),
        None => request
            .config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(Error::Config {
            path: request.config.clone(),
            why: format!("`{name}` cannot name a run directory; pass --name NAME"),
        });
    }
    let run_dir = config.artifacts.join(&name);
    let resume_from = prepare_run_dir(&run_dir, &config, request, &backend.device)?;
    // Load the data before writing anything, so a bad data path costs nothing.
    let data = mnist_data::load(Some(&config.data))?;
    std::fs::create_dir_all(&run_dir).map_err(|e| Error::io(&run_dir, "cannot create", e))?;
    check_free_space(&run_dir, &config)?;
    atomic_write(&run_dir.join(CONFIG_FILE), config.to_toml().as_bytes())?;
    crate::report::RunInfo::new(backend).save(&run_dir)?;

    println!("backend    {}", backend.describe());
    println!("run        {}", run_dir.display());
    println!(
        "data       {} ({} train, {} test)",
        data.path.display(),
        data.train.len(),
        data.test.len()
    );
    if resume_from > 0 {
        println!("resuming   after epoch {resume_from} of {}", config.epochs);
    }
    let (train, test) = (Arc::new(data.train), Arc::new(data.test));
    // Both trainers take the same inputs and leave the same files behind.
    let trainer = match config.trainer {
        TrainerKind::Learner => train_with_learner,
        TrainerKind::Scratch => crate::scratch::train_scratch,
    };
    let (epochs, model) = trainer(
        &config,
        &run_dir,
        train.clone(),
        test.clone(),
        resume_from,
        backend,
    )?;
    let iterations = metrics::read_iterations(&run_dir, config.epochs)?;
    metrics::write_metrics(&run_dir, &epochs, &iterations)?;
    crate::report::write_outputs(&run_dir, &config, &model, &train, &test, &backend.device)?;
    Ok(TrainOutcome { run_dir, epochs })
}

/// Refuses to overwrite a run without `--force`; for `--resume`, checks the run's own config and
/// returns the last complete checkpoint's epoch (0 = from the start).
fn prepare_run_dir(
    run_dir: &Path,
    config: &RunConfig,
    request: &TrainRequest,
    device: &burn::prelude::Device,
) -> Result<usize, Error> {
    let exists = run_dir.exists();
    if request.resume {
        if !exists {
            return Err(Error::run(
                run_dir,
                "no such run to resume; start it without --resume",
            ));
        }
        let stored = RunConfig::load(&run_dir.join(CONFIG_FILE))?;
        if &stored != config {
            return Err(Error::run(
                run_dir,
                format!(
                    "{} differs from this run's {CONFIG_FILE}; --resume continues a run with its own \
                     configuration (pass the same file, or start a new run with --name)",
                    request.config.display()
                ),
            ));
        }
        return Ok(last_loadable_checkpoint(run_dir, config, device));
    }
    if exists {
        if !request.force {
            return Err(Error::RunExists(run_dir.to_path_buf()));
        }
        let is_run = run_dir.join(CONFIG_FILE).exists()
            || std::fs::read_dir(run_dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !is_run {
            return Err(Error::run(
                run_dir,
                format!(
                    "has no {CONFIG_FILE}, so it is not a run directory; --force will not delete it"
                ),
            ));
        }
        std::fs::remove_dir_all(run_dir).map_err(|e| Error::io(run_dir, "cannot remove", e))?;
    }
    Ok(0)
}

/// The last complete checkpoint whose files load into the run's model and optimizer; a damaged
/// one (a crash mid-write, a full disk, a file from another run) is reported and skipped, so a
/// resume never hands burn a file it would panic on.
fn last_loadable_checkpoint(
    run_dir: &Path,
    config: &RunConfig,
    device: &burn::prelude::Device,
) -> usize {
    for epoch in checkpoint_epochs(run_dir, config.trainer).into_iter().rev() {
        let model = run_dir
            .join("checkpoint")
            .join(format!("model-{epoch}.bpk"));
        let loaded = Model::new(&config.model, config.seed, device)
            .try_load_file(&model)
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", model.display()));
        let loaded = loaded.and_then(|()| match config.trainer {
            TrainerKind::Learner => {
                let optim = run_dir
                    .join("checkpoint")
                    .join(format!("optim-{epoch}.bpk"));
                config
                    .optimizer
                    .init()
                    .load(&optim)
                    .map(|_| ())
                    .map_err(|e| format!("{}: {e}", optim.display()))
            }
            TrainerKind::Scratch => Ok(()),
        });
        match loaded {
            Ok(()) => return epoch,
            Err(why) => eprintln!(
                "warning: checkpoint of epoch {epoch} cannot be loaded ({why}); trying the one before"
            ),
        }
    }
    0
}

/// Free space the run needs: every epoch's checkpoint (weights, and for the Learner two Adam
/// moments and a copy in flight), plus logs and figures.
fn space_needed(config: &RunConfig) -> u64 {
    let params = match config.model {
        mnist_models::ModelConfig::Linear => 785 * 10,
        mnist_models::ModelConfig::Mlp { hidden, .. } => 784 * hidden + hidden + hidden * 10 + 10,
    } as u64;
    let per_epoch = params * 4 * 4;
    config.epochs as u64 * per_epoch + 32 * 1024 * 1024
}

/// Refuses to start when the run directory's file system is too full for the run.
fn check_free_space(dir: &Path, config: &RunConfig) -> Result<(), Error> {
    let needed = space_needed(config);
    if let Some(free) = crate::sys::free_bytes(dir)
        && free < needed
    {
        return Err(Error::run(
            dir,
            format!(
                "only {:.1} MB free, the run needs about {:.1} MB (a checkpoint per epoch, logs, figures)",
                free as f64 / 1e6,
                needed as f64 / 1e6
            ),
        ));
    }
    Ok(())
}

/// `run_dir/checkpoint/<kind>-<epoch>.bpk`, creating the folder.
pub fn checkpoint_path(run_dir: &Path, kind: &str, epoch: usize) -> Result<PathBuf, Error> {
    let dir = run_dir.join("checkpoint");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "cannot create", e))?;
    Ok(dir.join(format!("{kind}-{epoch}.bpk")))
}

/// The files a complete checkpoint of an epoch has: the Learner also saves optimizer and
/// scheduler state; plain SGD by hand has none.
fn checkpoint_kinds(trainer: TrainerKind) -> &'static [&'static str] {
    match trainer {
        TrainerKind::Learner => &["model", "optim", "scheduler"],
        TrainerKind::Scratch => &["model"],
    }
}

/// The highest epoch with a complete checkpoint (0 if none).
pub fn last_complete_checkpoint(run_dir: &Path, trainer: TrainerKind) -> usize {
    checkpoint_epochs(run_dir, trainer)
        .into_iter()
        .max()
        .unwrap_or(0)
}

/// Epochs with a complete checkpoint, ascending.
pub fn checkpoint_epochs(run_dir: &Path, trainer: TrainerKind) -> Vec<usize> {
    let dir = run_dir.join("checkpoint");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut epochs: Vec<usize> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse()
                .ok()
        })
        .filter(|n| {
            checkpoint_kinds(trainer)
                .iter()
                .all(|kind| dir.join(format!("{kind}-{n}.bpk")).exists())
        })
        .collect();
    epochs.sort_unstable();
    epochs
}

/// The training set's loader as the config asks (batch size, workers, shuffle), serving epoch
/// `resume_from + 1` first: shared by both trainers, so both see the same order.
pub(crate) fn train_loader(
    config: &RunConfig,
    train: Arc<Split>,
    resume_from: usize,
    device: &burn::prelude::Device,
) -> MnistLoader {
    let loader = MnistLoader::new(train, config.batch_size, device)
        .starting_after_epoch(resume_from)
        .prefetch(config.num_workers);
    if config.shuffle {
        loader.shuffle(config.seed)
    } else {
        loader
    }
}

/// The epoch records a run starting after `resume_from` keeps (later epochs are redone), with
/// `epochs.csv` rewritten to match.
pub(crate) fn kept_epochs(run_dir: &Path, resume_from: usize) -> Result<Vec<EpochRecord>, Error> {
    let mut records = metrics::read_epochs(run_dir)?;
    records.retain(|r| r.epoch <= resume_from);
    metrics::write_epochs(run_dir, &records)?;
    Ok(records)
}

fn train_with_learner(
    config: &RunConfig,
    run_dir: &Path,
    train: Arc<Split>,
    test: Arc<Split>,
    resume_from: usize,
    backend: &Backend,
) -> Result<(Vec<EpochRecord>, Model), Error> {
    let device = &backend.device;
    let train_loader = train_loader(config, train, resume_from, device);
    let valid_loader = MnistLoader::new(test, EVAL_BATCH, device);
    let train_loader: Arc<dyn DataLoader<MnistBatch>> = Arc::new(train_loader);
    let valid_loader: Arc<dyn DataLoader<MnistBatch>> = Arc::new(valid_loader);

    let mut records = kept_epochs(run_dir, resume_from)?;
    let sink_dir = run_dir.to_path_buf();
    let mut sink_records = records.clone();
    let printer = EpochPrinter::new(Box::new(move |record| {
        // Persist each epoch as it ends, so a killed run keeps its history.
        sink_records.push(record.clone());
        if let Err(e) = metrics::write_epochs(&sink_dir, &sink_records) {
            eprintln!("warning: {e}");
        }
    }));
    let finished = printer.records.clone();

    let model = Model::new(&config.model, config.seed, &device.clone().autodiff());
    let mut training = SupervisedTraining::new(run_dir, train_loader, valid_loader)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .num_epochs(config.epochs)
        .with_default_checkpointers()
        .with_checkpointing_strategy(KeepLastNCheckpoints::new(usize::MAX))
        .renderer(Box::new(printer))
        .with_application_logger(None);
    if resume_from > 0 {
        training = training.checkpoint(resume_from);
    }
    let result = training.launch(Learner::new(
        model,
        config.optimizer.init(),
        config.optimizer.lr(),
    ));
    if let Some(e) = &result.error {
        return Err(Error::Training(e.to_string()));
    }
    let final_path = run_dir.join(FINAL_MODEL);
    result
        .model
        .clone()
        .save_file(&final_path)
        .map_err(|e| Error::run(&final_path, format!("cannot save the final model: {e}")))?;

    let new_records = finished.lock().map(|r| r.clone()).unwrap_or_default();
    records.extend(new_records);
    metrics::write_epochs(run_dir, &records)?;
    Ok((records, result.model))
}
