//! `mnist train`: one run directory per run, trained by burn's Learner or by hand, resumable.

use std::path::Path;
use std::sync::Arc;

use mnist_data::Split;
use mnist_models::Model;

use crate::Error;
use crate::backend::Backend;
use crate::run::config::Validation;
use crate::run::dir::{CheckpointPart, Outcome, RunDir, RunInfo, StopRecord, Weights};
use crate::run::metrics::EpochRecord;
use crate::run::plan::{Plan, Trainer};
use crate::run::snapshots::Snapshotter;
use crate::training::evaluate::evaluate_split;
use crate::training::observer::{Observer, RunStart};
use crate::training::session::{Recorder, Session, steps_per_epoch};
use crate::training::stop::{REASON, StopFlag};
use crate::training::stopping::Patience;
use crate::training::threads::{self, on_compute_pool};

/// What `mnist train` was asked to do.
#[derive(Clone, Debug)]
pub struct TrainRequest {
    pub plan: Plan,
    /// The run directory's name under the plan's artifacts folder.
    pub name: String,
    pub resume: bool,
    pub force: bool,
}

/// A finished run, with what explaining it needs (so nothing is loaded twice).
pub struct TrainOutcome {
    pub run: RunDir,
    pub plan: Plan,
    pub epochs: Vec<EpochRecord>,
    /// How training ended, as `run.toml` records it.
    pub outcome: Outcome,
    pub model: Model,
    /// The images trained on (without the hold-out, where there is one).
    pub train: Arc<Split>,
    pub test: Arc<Split>,
}

/// The run name a config file gives when `--name` is not passed: its file name without `.toml`.
pub fn run_name(config: &Path, name: Option<&str>) -> Result<String, Error> {
    let name = match name {
        Some(n) => n.to_string(),
        None => config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    check_run_name(&name).map_err(|why| Error::Config {
        path: config.to_path_buf(),
        why: format!("{why}; pass --name NAME"),
    })?;
    Ok(name)
}

/// Longest run name, in bytes: a folder name and a URL segment with room to spare.
pub const MAX_RUN_NAME: usize = 128;

/// Whether `name` can name a run directory: one plain folder name (no separators, not `.` or
/// `..`, no control characters), not hidden (the runs table lists no hidden folders), at most
/// [`MAX_RUN_NAME`] bytes. The command line and the web app use this one rule.
pub fn check_run_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
        && name.len() <= MAX_RUN_NAME;
    if plain {
        Ok(())
    } else {
        Err(format!(
            "`{}` cannot name a run directory (a plain folder name of up to {MAX_RUN_NAME} \
             bytes, not starting with `.`, without `/`, `\\` or control characters)",
            name.escape_debug()
        ))
    }
}

/// Checks everything that can be checked before training starts, prepares the run directory,
/// and trains; the records and weights are on disk when it returns.
///
/// The run's lock is held from the first check to the end. An existing run is left exactly as it
/// was until the new one has loaded its data and passed every check; only then does `--force`
/// clear it.
pub fn train(
    request: &TrainRequest,
    backend: &Backend,
    observer: Observer,
) -> Result<TrainOutcome, Error> {
    train_until(request, backend, observer, &StopFlag::new())
}

/// [`train`], stopping at the next clean point once `stop` is requested: then the run keeps the
/// checkpoints of the epochs done, `run.toml` says it was stopped, and the answer is
/// [`Error::Stopped`].
pub fn train_until(
    request: &TrainRequest,
    backend: &Backend,
    observer: Observer,
    stop: &StopFlag,
) -> Result<TrainOutcome, Error> {
    let plan = &request.plan;
    let run = RunDir::new(plan.artifacts().join(&request.name));
    if !request.force && !request.resume && !run.is_vacant() {
        return Err(busy_or_exists(&run));
    }
    // Something that is not a run is not ours to lock, let alone to clear.
    run.refuse_foreign()?;
    let lock = run.lock()?;
    let checked = (|| -> Result<_, Error> {
        let resume_from = prepare(&run, request, backend, &observer)?;
        let config_text = run.plan_text(plan)?;
        let data = mnist_data::load(Some(plan.data()))?;
        let (train, valid) = plan.split_training(data.train, &data.path)?;
        check_free_space(&run, plan, request.force)?;
        Ok((
            resume_from,
            config_text,
            (data.path, data.test),
            train,
            valid,
        ))
    })();
    let (resume_from, config_text, (data_path, test), train, valid) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            lock.abandon();
            return Err(e);
        }
    };
    // Only now is the run touched: replaced whole, or rid of what a killed writer left.
    if request.force {
        run.clear(&lock)?;
    } else {
        run.remove_stale_temporaries(&lock);
    }
    run.write(&run.config_file(), config_text.as_bytes())?;
    run.write_info(&RunInfo::new(backend))?;

    // Small steps run on one thread (`threads::ONE_THREAD_BELOW`); where step size decides,
    // the run says how many it got.
    let step_threads = threads::training_threads(plan, backend);
    let training = match threads::step_multiply_adds(plan, backend) {
        Some(_) => format!(
            "{}; {}",
            plan.describe_training(),
            threads::counted(step_threads, "compute thread")
        ),
        None => plan.describe_training(),
    };
    observer.started(&RunStart {
        backend: backend.describe(),
        run_dir: run.path().to_path_buf(),
        data: data_path,
        train_images: train.len(),
        test_images: test.len(),
        validation: plan.describe_validation(),
        training,
        resumed_after: resume_from,
        epochs: plan.epochs(),
        model_name: plan.model().short_name(),
        model: plan.model_summary(),
    });
    if plan.early_stopping().is_some() && plan.validation() == Validation::Test {
        observer.warning(
            "early stopping watches the test set, so the test accuracy it keeps is optimistic; \
             validation = { holdout = N } keeps the test set for the end",
        );
    }
    let test = Arc::new(test);
    let (train, valid) = (
        Arc::new(train),
        valid.map_or_else(|| test.clone(), Arc::new),
    );
    let recorder = Recorder::new(run.clone(), resume_from, plan.epochs(), observer)?;
    let snapshots = Snapshotter::start(
        run.snapshots(),
        &plan.model(),
        plan.epochs(),
        steps_per_epoch(plan, train.len()),
        resume_from,
    )?;
    let session = Session {
        plan,
        run: &run,
        train: train.clone(),
        valid: valid.clone(),
        resume_from,
        backend,
        recorder,
        stop: stop.clone(),
        snapshots,
    };
    let trained = match plan.trainer().clone() {
        Trainer::Learner {
            model,
            optimizer,
            scheduler,
        } => threads::on_threads(step_threads, || {
            crate::training::learner::train(session, model, optimizer, scheduler)
        }),
        Trainer::Scratch { lr } => on_compute_pool(|| crate::training::scratch::train(session, lr))
            .map(|(epochs, model)| (epochs, model, None)),
    };
    let (epochs, model, patience) = match trained {
        Ok(trained) => trained,
        Err(Error::Stopped {
            run: path,
            after_epoch,
            epochs,
        }) => {
            let mut info = RunInfo::new(backend);
            info.stopped = Some(StopRecord {
                after_epoch,
                reason: REASON.to_string(),
            });
            run.write_info(&info)?;
            return Err(Error::Stopped {
                run: path,
                after_epoch,
                epochs,
            });
        }
        Err(e) => return Err(e),
    };
    let outcome = outcome(plan, &epochs, &model, patience.as_ref(), &test, backend);
    let mut info = RunInfo::new(backend);
    info.outcome = Some(outcome.clone());
    run.write_info(&info)?;
    drop(lock);
    Ok(TrainOutcome {
        run,
        plan: plan.clone(),
        epochs,
        outcome,
        model,
        train,
        test,
    })
}

/// How training ended and what `model.bpk` scores on the test set: evaluated here, once, where
/// the run validated on a hold-out; the chosen epoch's validation numbers otherwise (the same
/// weights on the same images).
fn outcome(
    plan: &Plan,
    epochs: &[EpochRecord],
    model: &Model,
    patience: Option<&Patience>,
    test: &Arc<Split>,
    backend: &Backend,
) -> Outcome {
    let last = epochs.last().map_or(0, |e| e.epoch);
    let stopped = match patience {
        Some(p) if last < plan.epochs() => p.why_stopped(),
        _ => format!("completed all {} epochs", plan.epochs()),
    };
    let (model_epoch, model_chosen) = match patience.and_then(Patience::best_epoch) {
        Some(best) => (
            best,
            format!(
                "the best epoch by {}",
                crate::run::plan::describe_stopping(patience.expect("has a best").config())
            ),
        ),
        None => (last, "the last epoch".to_string()),
    };
    let (test_loss, test_accuracy) = match plan.validation() {
        Validation::Holdout(_) => {
            let eval = evaluate_split(model, test.clone(), &backend.device);
            (eval.loss, eval.accuracy())
        }
        Validation::Test => epochs
            .iter()
            .find(|e| e.epoch == model_epoch)
            .map_or((f64::NAN, f64::NAN), |e| (e.valid_loss, e.valid_acc)),
    };
    Outcome {
        validated_on: plan.describe_validation(),
        epochs_trained: last,
        stopped,
        model_epoch,
        model_chosen,
        test_loss,
        test_accuracy,
    }
}

/// Why a run that exists cannot be started without `--force`: it is being trained, or it is
/// simply there.
fn busy_or_exists(run: &RunDir) -> Error {
    if run.is_training() {
        run.busy()
    } else {
        Error::RunExists(run.path().to_path_buf())
    }
}

/// For `--resume`, checks the run's own config and returns the epoch to continue after (0 = from
/// the start); otherwise 0. Changes nothing on disk.
fn prepare(
    run: &RunDir,
    request: &TrainRequest,
    backend: &Backend,
    observer: &Observer,
) -> Result<usize, Error> {
    if !request.resume {
        return Ok(0);
    }
    if !run.has_config() {
        return Err(Error::run(
            run.path(),
            "no such run to resume; start it without --resume",
        ));
    }
    if run.plan()? != request.plan {
        return Err(Error::run(
            run.path(),
            "the config differs from this run's own config.toml; --resume continues a run \
             with its own configuration (pass the same file, or start a new run with --name)",
        ));
    }
    let from = resume_point(run, &request.plan, backend, observer)?;
    if let Some(config) = request.plan.early_stopping() {
        let mut done = run.epochs()?;
        done.retain(|e| e.epoch <= from);
        let patience = Patience::after(config, &done);
        if patience.exhausted() {
            return Err(Error::run(
                run.path(),
                format!(
                    "nothing to resume: {} at epoch {from}; start it over with --force",
                    patience.why_stopped()
                ),
            ));
        }
    }
    Ok(from)
}

/// The last epoch the run can continue after: its checkpoint loads into the run's model (and
/// optimizer), and its records are on disk. A damaged checkpoint (a crash mid-write, a full disk,
/// a file from another run) or one whose records were lost is reported and skipped, so a resume
/// never hands burn a file it would panic on, nor leaves a gap in the records.
fn resume_point(
    run: &RunDir,
    plan: &Plan,
    backend: &Backend,
    observer: &Observer,
) -> Result<usize, Error> {
    let recorded = recorded_epochs(run)?;
    for epoch in run
        .checkpoint_epochs(plan.trainer().kind())
        .into_iter()
        .rev()
    {
        let why = if epoch > recorded {
            "has no epoch records (the run stopped before writing them)".to_string()
        } else {
            match checkpoint_loads(run, plan, epoch, backend) {
                Ok(()) => return Ok(epoch),
                Err(why) => format!("cannot be loaded ({why})"),
            }
        };
        observer.warning(&format!(
            "checkpoint of epoch {epoch} {why}; trying the one before"
        ));
    }
    Ok(0)
}

/// The number of leading epochs 1, 2, … whose epoch and iteration records both exist.
fn recorded_epochs(run: &RunDir) -> Result<usize, Error> {
    let epochs = run.epochs()?;
    let iterations = run.iterations()?;
    let mut n = 0;
    for (i, record) in epochs.iter().enumerate() {
        let has_iterations = iterations.iter().any(|it| it.epoch == record.epoch);
        if record.epoch != i + 1 || !has_iterations {
            break;
        }
        n = record.epoch;
    }
    Ok(n)
}

fn checkpoint_loads(
    run: &RunDir,
    plan: &Plan,
    epoch: usize,
    backend: &Backend,
) -> Result<(), String> {
    run.load_model(plan, Weights::Checkpoint(epoch), &backend.device)
        .map_err(|e| e.to_string())?;
    if let Trainer::Learner { optimizer, .. } = plan.trainer() {
        let file = run.checkpoint_file(CheckpointPart::Optimizer, epoch);
        optimizer
            .init(backend)
            .load(&file)
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(())
}

/// Free space the run needs: every epoch's checkpoint (weights, and for the Learner two Adam
/// moments and a copy in flight), plus records and figures.
fn space_needed(plan: &Plan) -> u64 {
    // Saturating: a config may ask for absurd sizes, which must be refused, not overflow.
    let params = plan
        .model()
        .parameter_count()
        .map_or(u64::MAX, |n| n as u64);
    let per_epoch = params.saturating_mul(4 * 4);
    (plan.epochs() as u64)
        .saturating_mul(per_epoch)
        .saturating_add(32 * 1024 * 1024)
}

/// Refuses to start when the run directory's file system is too full for the run. With
/// `--force` the old run's files count as free: they go before the new run writes anything.
fn check_free_space(run: &RunDir, plan: &Plan, replacing: bool) -> Result<(), Error> {
    let needed = space_needed(plan);
    let Ok(free) = fs4::available_space(run.path()) else {
        // A file system that cannot say: the writes themselves report a full disk.
        return Ok(());
    };
    let reclaimed = if replacing { run.size_on_disk() } else { 0 };
    let free = free.saturating_add(reclaimed);
    if free < needed {
        return Err(Error::run(
            run.path(),
            format!(
                "only {:.1} MB free, the run needs about {:.1} MB (a checkpoint per epoch, records, figures)",
                free as f64 / 1e6,
                needed as f64 / 1e6
            ),
        ));
    }
    Ok(())
}
