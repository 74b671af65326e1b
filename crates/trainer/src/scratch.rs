//! `trainer = "scratch"`: the course's mini-batch SGD on the linear classifier with the
//! hand-written gradient, no autodiff and no Learner. Same parameters, data order, checkpoints
//! and files as a Learner run, plus what the course plotted: per-iteration NLL and correct count,
//! and the number correct in each test batch of 50.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::module::Module;
use burn::prelude::*;
use mnist_data::Split;
use mnist_models::{LinearSoftmax, Model};

use crate::Error;
use crate::backend::Backend;
use crate::config::{OptimizerConfig, RunConfig};
use crate::eval::{evaluate_split, load_run_model};
use crate::fsutil::atomic_write;
use crate::metrics;
use crate::progress::{Console, EpochRecord, HEADER};
use crate::run::{FINAL_MODEL, checkpoint_path, kept_epochs, train_loader};

/// The course counted correct predictions per test batch of 50.
pub const TEST_BATCH: usize = 50;
pub const TEST_BATCHES_FILE: &str = "test_batches.csv";

/// Number correct in a batch: argmax of the probabilities against the labels.
fn correct(probs: Tensor<2>, targets: Tensor<1, Int>) -> usize {
    probs
        .argmax(1)
        .flatten::<1>(0, 1)
        .equal(targets)
        .int()
        .sum()
        .into_scalar::<i64>() as usize
}

pub fn train_scratch(
    config: &RunConfig,
    run_dir: &Path,
    train: Arc<Split>,
    test: Arc<Split>,
    resume_from: usize,
    backend: &Backend,
) -> Result<(Vec<EpochRecord>, Model), Error> {
    let device = &backend.device;
    let OptimizerConfig::Sgd { lr, .. } = config.optimizer else {
        unreachable!("validated: the scratch trainer takes plain SGD");
    };
    let mut model = if resume_from > 0 {
        match load_run_model(run_dir, Some(resume_from), device)?.1 {
            Model::Linear(m) => m,
            Model::Mlp(_) => unreachable!("validated: the scratch trainer takes the linear model"),
        }
    } else {
        LinearSoftmax::new(config.seed, device)
    };
    let loader = train_loader(config, train, resume_from, device);
    let mut records = kept_epochs(run_dir, resume_from)?;

    let mut console = Console::default();
    println!("{HEADER}");
    let total_items = loader.num_items();
    for epoch in resume_from + 1..=config.epochs {
        let start = Instant::now();
        let (mut losses, mut accuracies) = (Vec::new(), Vec::new());
        let (mut done, mut loss_sum, mut correct_sum) = (0usize, 0.0f64, 0usize);
        for batch in loader.iter() {
            let batch = batch.map_err(|e| Error::Training(e.to_string()))?;
            let n = batch.targets.dims()[0];
            let step = model.hand_gradient(batch.images, batch.targets.clone());
            let right = correct(step.probs, batch.targets);
            let loss = step.loss.into_scalar::<f64>();
            model = model.sgd_step(step.gradient, lr);
            losses.push(loss);
            accuracies.push(right as f64 / n as f64);
            done += n;
            loss_sum += loss * n as f64;
            correct_sum += right;
            let (mean_loss, acc) = (loss_sum / done as f64, correct_sum as f64 / done as f64);
            console.progress(
                epoch,
                config.epochs,
                "train",
                done,
                total_items,
                mean_loss,
                acc,
            );
        }
        let train_seconds = start.elapsed().as_secs_f64();
        let eval_model = Model::Linear(model.clone());
        let (valid_loss, valid_correct, _) = evaluate_split(&eval_model, test.clone(), device);
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / done.max(1) as f64,
            train_acc: correct_sum as f64 / done.max(1) as f64,
            valid_loss,
            valid_acc: valid_correct as f64 / test.len().max(1) as f64,
            seconds: start.elapsed().as_secs_f64(),
            train_seconds,
        };
        console.epoch_line(&record, config.epochs);
        // Persist the epoch before starting the next: weights, iteration logs, epoch row.
        let path = checkpoint_path(run_dir, "model", epoch)?;
        eval_model
            .save_file(&path)
            .map_err(|e| Error::run(&path, format!("cannot save checkpoint: {e}")))?;
        metrics::write_iteration_logs(run_dir, epoch, &losses, &accuracies)?;
        records.push(record);
        metrics::write_epochs(run_dir, &records)?;
    }

    let final_model = Model::Linear(model);
    let path = run_dir.join(FINAL_MODEL);
    final_model
        .clone()
        .save_file(&path)
        .map_err(|e| Error::run(&path, format!("cannot save the final model: {e}")))?;
    Ok((records, final_model))
}

/// `test_batches.csv`: the number correct in each consecutive test batch of 50, as the course
/// plotted it, counted from the test set's predictions (no second pass over the data).
pub fn write_test_batches(
    run_dir: &Path,
    labels: &[u8],
    predictions: &[u8],
) -> Result<Vec<usize>, Error> {
    let mut counts = Vec::new();
    let mut text = String::from("batch,size,correct\n");
    for (i, (l, p)) in labels
        .chunks(TEST_BATCH)
        .zip(predictions.chunks(TEST_BATCH))
        .enumerate()
    {
        let right = l.iter().zip(p).filter(|(l, p)| l == p).count();
        text.push_str(&format!("{},{},{right}\n", i + 1, l.len()));
        counts.push(right);
    }
    atomic_write(&run_dir.join(TEST_BATCHES_FILE), text.as_bytes())?;
    Ok(counts)
}
