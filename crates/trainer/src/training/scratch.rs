//! `trainer = "scratch"`: the course's mini-batch SGD on the linear classifier with the
//! hand-written gradient, no autodiff and no Learner. Same parameters, data order, checkpoints
//! and records as a Learner run.

use std::time::Instant;

use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderIterator};
use mnist_data::MnistBatch;
use mnist_models::linear_host::HostLinear;
use mnist_models::{LinearSoftmax, Model, correct_count, predicted_classes};

use crate::Error;
use crate::run::dir::Weights;
use crate::run::metrics::{EpochRecord, Running};
use crate::run::plan::LearningRate;
use crate::training::evaluate::evaluate_split;
use crate::training::observer::{Phase, Progress};
use crate::training::session::{BatchResult, Session, stopped};

/// Trains the linear model by hand from epoch `resume_from + 1`, a checkpoint per epoch.
pub(crate) fn train(
    session: Session,
    lr: LearningRate,
) -> Result<(Vec<EpochRecord>, Model), Error> {
    let loader = session.train_loader();
    let (plan, run, device, resume_from) = (
        session.plan,
        session.run,
        &session.backend.device,
        session.resume_from,
    );
    let (valid, mut recorder, stop) = (session.valid, session.recorder, session.stop);
    let mut snapshots = session.snapshots;
    let mut model = if resume_from > 0 {
        match run.load_model(plan, Weights::Checkpoint(resume_from), device)? {
            Model::Linear(m) => m,
            _ => {
                let file = run.weights_file(Weights::Checkpoint(resume_from));
                return Err(Error::run(
                    &file,
                    "holds another model; the scratch trainer trains the linear model",
                ));
            }
        }
    } else {
        LinearSoftmax::new(plan.seed(), device)
    };
    // On the CPU backends, unless the images are distorted (then they exist only as the
    // loader's batches), the step runs fused on host memory (`linear_host`), reading the images'
    // bytes: the weights live there while an epoch trains and go back into `model` at its end.
    let mut host = (session.backend.host_memory() && !loader.augments())
        .then(|| HostLinear::from_weights(&model.weights_vec()));
    let split = Arc::clone(loader.split());
    let total_items = loader.num_items();
    for epoch in resume_from + 1..=plan.epochs() {
        let start = Instant::now();
        recorder.start_epoch(epoch);
        let mut batches: Vec<BatchResult> = Vec::new();
        let mut loss = Running::default();
        // Counted, not averaged: the epoch's accuracy is exactly correct / seen.
        let (mut done, mut correct_sum) = (0usize, 0usize);
        let source = match host {
            Some(_) => Batches::Indices(
                loader
                    .next_epoch_indices()
                    .expect("the loader does not augment")
                    .into_iter(),
            ),
            None => Batches::Tensors(loader.iter()),
        };
        for batch in source {
            let batch = batch?;
            let n = batch.len();
            if let Some(s) = &mut snapshots {
                s.before_step(|| match &host {
                    Some(h) => Model::Linear(model.clone().with_weights(h.weights(), device)),
                    None => Model::Linear(model.clone()),
                });
            }
            let (batch_loss, right, weights_updated) = match (&mut host, batch) {
                (Some(h), Batch::Indices(indices)) => {
                    let report = h.step(&split, &indices, lr.get() as f32);
                    (report.loss, report.correct, report.weights_updated)
                }
                (Some(_), Batch::Tensors(_)) => unreachable!("host steps read indices"),
                (None, Batch::Indices(_)) => unreachable!("tensor steps read tensors"),
                (None, Batch::Tensors(batch)) => {
                    let step = model.hand_gradient(batch.images, batch.targets.clone());
                    let weights_updated = step.weights_updated();
                    let right = correct_count(predicted_classes(step.probs), batch.targets);
                    let batch_loss = step.loss.into_scalar::<f64>();
                    model = model.sgd_step(step.gradient, lr.get());
                    (batch_loss, right, weights_updated)
                }
            };
            let batch_acc = right as f64 / n as f64;
            let result = BatchResult {
                loss: batch_loss,
                accuracy: batch_acc,
                weights_updated: Some(weights_updated),
                // The course's constant rate: not recorded per iteration.
                lr: None,
            };
            recorder.iteration(&result);
            batches.push(result);
            loss.add(batch_loss, n);
            correct_sum += right;
            done += n;
            recorder.progress(&Progress {
                epoch,
                epochs: plan.epochs(),
                phase: Phase::Train,
                items_done: done,
                items_total: total_items,
                loss: loss.mean(),
                accuracy: correct_sum as f64 / done as f64,
            });
            if stop.is_requested() {
                // The epoch in progress is dropped; the one before has its checkpoint.
                return Err(stopped(run, plan, epoch - 1));
            }
        }
        let train_seconds = start.elapsed().as_secs_f64();
        if let Some(h) = &host {
            model = model.with_weights(h.weights(), device);
        }
        let eval_model = Model::Linear(model.clone());
        let valid = evaluate_split(&eval_model, valid.clone(), device);
        let record = EpochRecord {
            epoch,
            train_loss: loss.mean(),
            train_acc: correct_sum as f64 / done.max(1) as f64,
            valid_loss: valid.loss,
            valid_acc: valid.accuracy(),
            seconds: start.elapsed().as_secs_f64(),
            train_seconds,
        };
        // Persist the epoch before starting the next: weights, then its records.
        run.save_model(&eval_model, Weights::Checkpoint(epoch))?;
        recorder.epoch_done(record, &batches)?;
    }
    let final_model = Model::Linear(model);
    run.save_model(&final_model, Weights::Final)?;
    if let Some(warning) = snapshots.and_then(|s| s.finish(&final_model, &final_model)) {
        recorder.observer().warning(&warning);
    }
    Ok((recorder.epochs().to_vec(), final_model))
}

/// An epoch's batches: indices into the split for the host step, tensors otherwise.
enum Batches<'a> {
    Indices(std::vec::IntoIter<Vec<usize>>),
    Tensors(Box<dyn DataLoaderIterator<MnistBatch> + 'a>),
}

enum Batch {
    Indices(Vec<usize>),
    Tensors(Box<MnistBatch>),
}

impl Batch {
    fn len(&self) -> usize {
        match self {
            Batch::Indices(indices) => indices.len(),
            Batch::Tensors(batch) => batch.targets.dims()[0],
        }
    }
}

impl Iterator for Batches<'_> {
    type Item = Result<Batch, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Batches::Indices(it) => it.next().map(|i| Ok(Batch::Indices(i))),
            Batches::Tensors(it) => it.next().map(|b| {
                b.map(|b| Batch::Tensors(Box::new(b)))
                    .map_err(|e| Error::Training(e.to_string()))
            }),
        }
    }
}
