//! What explains a run: test-set analysis, every figure and `report.html`, all derived from the
//! run directory's files and the run's model, so `mnist report` can redo them without training.
//! `mnist eval` lives here too, since it writes the confusion matrix of the weights it evaluates.

pub mod compare;
pub mod figures;
pub mod html;
pub mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use mnist_data::{NUM_CLASSES, Split};
use mnist_models::{Cnn, Model, host_values};
use mnist_trainer::Error;
use mnist_trainer::backend::Backend;
use mnist_trainer::run::config::Validation;
use mnist_trainer::run::dir::{Figure, RunDir, Weights};
use mnist_trainer::run::plan::{Plan, display_path};
use mnist_trainer::training::evaluate::{SplitEvaluation, evaluate_split};
use mnist_trainer::training::train::TrainOutcome;
use serde::Serialize;

use figures::course::{self, TEST_BATCH};
use stats::ConfusionMatrix;

/// Writes `test_batches.csv`, `confusion.csv`, every figure that applies to the model, and
/// `report.html` for a run that has just finished training.
pub fn write_outcome(outcome: &TrainOutcome, device: &Device) -> Result<(), Error> {
    write_outputs(
        &outcome.run,
        &outcome.plan,
        &outcome.model,
        &outcome.train,
        &outcome.test,
        device,
    )
}

/// Writes everything that explains a run from its files, its model and its data.
pub fn write_outputs(
    run: &RunDir,
    plan: &Plan,
    model: &Model,
    train: &Split,
    test: &Arc<Split>,
    device: &Device,
) -> Result<(), Error> {
    let epochs = run.epochs()?;
    let iterations = run.iterations()?;
    let evaluation = evaluate_split(model, test.clone(), device);
    let predictions = &evaluation.predictions;
    let test_batches = write_test_batches(run, test.labels(), predictions)?;
    let confusion = write_confusion(
        &run.confusion_files(None),
        run,
        test.labels(),
        predictions,
        "Confusion matrix of the test set (final model)",
    )?;
    course::samples_grid(train, &run.figure(Figure::Samples))?;
    course::predictions_panel(test, predictions, &run.figure(Figure::Predictions))?;
    course::training_curves(
        &iterations,
        plan.batch_size(),
        &test_batches,
        TEST_BATCH,
        &run.figure(Figure::TrainingCurves),
    )?;
    let validated_on = match plan.validation() {
        Validation::Test => "test set",
        Validation::Holdout(_) => "hold-out",
    };
    figures::run::epoch_curves(&epochs, validated_on, &run.figure(Figure::Epochs))?;
    if let Some(augment) = plan.augment() {
        let file = run.figure(Figure::Augmented);
        figures::augment::augmented(train, augment, plan.seed(), &file, device)?;
    }
    // Only runs with a [scheduler] record their rate per iteration.
    if let Some(scheduler) = plan.trainer().scheduler() {
        let title = format!("Learning rate per iteration: {}", scheduler.describe());
        figures::rates::learning_rate(&run.rates()?, &title, &run.figure(Figure::LearningRate))?;
    }
    // Only the scratch trainer counts the weights each step changes.
    figures::updates::nll_vs_updates(&iterations, &run.figure(Figure::NllVsUpdates))?;
    match model {
        Model::Linear(linear) => {
            course::linear_weights(&linear.weights_vec(), &run.figure(Figure::Weights))?
        }
        Model::Mlp(mlp) => {
            let hidden = mlp.hidden.weight.dims()[1];
            course::hidden_units(
                &host_values(mlp.hidden.weight.val()),
                &host_values(mlp.output.weight.val()),
                hidden,
                &run.figure(Figure::HiddenUnits),
            )?
        }
        Model::Cnn(cnn) => cnn_figures(cnn, test, run, device)?,
    }
    // Runs from before snapshots, and CNNs, have none.
    if let Some(frames) = run.snapshots().frames()? {
        let title = match model {
            Model::Linear(_) => "The linear model's output weights forming",
            _ => "The input weights of the hidden units that feed each digit most, forming",
        };
        let gif = run.figure(Figure::WeightsEvolution);
        figures::evolution::weights_evolution(&frames, &iterations, title, &gif)?;
    }
    let page = html::report(run, plan, &epochs, &evaluation, &confusion);
    run.write(&run.report_html(), page.as_bytes())
}

/// The first convolution's filters, and its feature maps of the first few test images.
fn cnn_figures(cnn: &Cnn, test: &Split, run: &RunDir, device: &Device) -> Result<(), Error> {
    let first = &cnn.conv[0];
    let [channels, _, kernel, _] = first.conv.weight.dims();
    figures::cnn::filters(
        &host_values(first.conv.weight.val()),
        channels,
        kernel,
        &run.figure(Figure::Filters),
    )?;
    // The first test image of digits spread over 0–9 (the course's test set is ordered by digit,
    // so its first images are all zeros).
    let wanted = figures::cnn::feature_map_images(channels);
    let picks: Vec<usize> = (0..wanted)
        .filter_map(|k| {
            let digit = (k * NUM_CLASSES / wanted) as u8;
            test.labels().iter().position(|&l| l == digit)
        })
        .collect();
    let batch = mnist_data::batch_of(test, &picks, device);
    let maps = cnn.first_feature_maps(batch.images);
    let [_, _, side, _] = maps.dims();
    figures::cnn::feature_maps(
        test,
        &picks,
        &host_values(maps),
        (channels, side),
        first.activation,
        &run.figure(Figure::FeatureMaps),
    )
}

/// A CSV writer into memory, its lines ending in `\n`; rows are serialized with serde.
fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new())
}

/// The bytes a [`csv_writer`] wrote.
fn csv_bytes(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner().expect("writing to memory")
}

/// A row of `test_batches.csv`.
#[derive(Serialize)]
struct TestBatch {
    batch: usize,
    size: usize,
    correct: usize,
}

/// `test_batches.csv`: the number correct in each consecutive test batch of 50, as the course
/// plotted it, counted from the test set's predictions (no second pass over the data).
fn write_test_batches(
    run: &RunDir,
    labels: &[u8],
    predictions: &[u8],
) -> Result<Vec<usize>, Error> {
    let counts = stats::correct_per_batch(labels, predictions, TEST_BATCH);
    run.write(&run.test_batches_csv(), &test_batches_csv(&counts))?;
    Ok(counts.into_iter().map(|(_, right)| right).collect())
}

/// The text of `test_batches.csv` for (size, correct) per batch.
fn test_batches_csv(counts: &[(usize, usize)]) -> Vec<u8> {
    let mut csv = csv_writer();
    csv.write_record(["batch", "size", "correct"])
        .expect("writing to memory");
    for (i, &(size, correct)) in counts.iter().enumerate() {
        let row = TestBatch {
            batch: i + 1,
            size,
            correct,
        };
        csv.serialize(row).expect("writing to memory");
    }
    csv_bytes(csv)
}

/// The text of a confusion matrix's CSV: a row per true class, a column per predicted one.
fn confusion_csv(m: &ConfusionMatrix) -> Vec<u8> {
    let mut csv = csv_writer();
    let header = (0..NUM_CLASSES).map(|p| p.to_string());
    csv.write_record(std::iter::once("true\\predicted".to_string()).chain(header))
        .expect("writing to memory");
    // A row: the true class, then the count predicted as each class.
    for (t, row) in m.iter().enumerate() {
        csv.serialize((t, row)).expect("writing to memory");
    }
    csv_bytes(csv)
}

/// The confusion matrix as CSV (rows: true class, columns: predicted) and as a figure, into
/// `files` (figure, CSV: one of `RunDir::confusion_files*`).
pub fn write_confusion(
    (png, csv_path): &(PathBuf, PathBuf),
    run: &RunDir,
    labels: &[u8],
    predictions: &[u8],
    title: &str,
) -> Result<ConfusionMatrix, Error> {
    let m = stats::confusion_matrix(labels, predictions);
    run.write(csv_path, &confusion_csv(&m))?;
    figures::run::confusion_figure(&m, title, png)?;
    Ok(m)
}

/// `mnist report RUN`: figures and report again from the run's saved files, without training.
pub fn regenerate(run: &RunDir, backend: &Backend) -> Result<(), Error> {
    let (plan, model) = mnist_infer::model::open(run, Weights::Final, &backend.device)?;
    let data = mnist_data::load(Some(plan.data()))?;
    // The images the run trained on (its hold-out set aside, as training did).
    let (train, _) = plan.split_training(data.train, &data.path)?;
    write_outputs(
        run,
        &plan,
        &model,
        &train,
        &Arc::new(data.test),
        &backend.device,
    )
}

/// Test-set figures of one set of weights.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub weights: PathBuf,
    /// The confusion-matrix figure written for this evaluation (a CSV beside it).
    pub confusion: PathBuf,
    pub test: SplitEvaluation,
}

/// `mnist eval RUN [--checkpoint N] [--data PATH]`: the run's model, rebuilt from its own
/// config, on the test set; writes the confusion matrix of exactly these weights on exactly this
/// data into the run directory (under a name of its own for data other than the run's).
pub fn eval(
    run: &RunDir,
    weights: Weights,
    data: Option<&Path>,
    backend: &Backend,
) -> Result<Evaluation, Error> {
    let (plan, model) = mnist_infer::model::open(run, weights, &backend.device)?;
    let mnist = mnist_data::load(Some(data.unwrap_or(plan.data())))?;
    let labels = mnist.test.labels().to_vec();
    let test = evaluate_split(&model, Arc::new(mnist.test), &backend.device);
    let file = run.weights_file(weights);
    let title = format!(
        "Confusion matrix, {} on {}",
        display_path(&file),
        display_path(&mnist.path)
    );
    let other_data = data.filter(|d| !same_path(d, plan.data()));
    let files = run.confusion_files_on(Some(weights), other_data);
    write_confusion(&files, run, &labels, &test.predictions, &title)?;
    Ok(Evaluation {
        weights: file,
        confusion: files.0,
        test,
    })
}

/// Whether two paths name the same file or folder (through links and `..`), or are equal.
fn same_path(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_batches_csv_is_a_line_per_batch() {
        let text = test_batches_csv(&[(50, 47), (50, 50), (7, 0)]);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "batch,size,correct\n1,50,47\n2,50,50\n3,7,0\n"
        );
        assert_eq!(test_batches_csv(&[]), b"batch,size,correct\n");
    }

    #[test]
    fn confusion_csv_is_a_row_per_true_class() {
        let mut m: ConfusionMatrix = [[0; NUM_CLASSES]; NUM_CLASSES];
        for (t, row) in m.iter_mut().enumerate() {
            for (p, c) in row.iter_mut().enumerate() {
                *c = if t == p { 1000 + t } else { t * p };
            }
        }
        // As the hand-written writer before csv made it.
        let mut expected = String::from("true\\predicted,0,1,2,3,4,5,6,7,8,9\n");
        for (t, row) in m.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|c| c.to_string()).collect();
            expected += &format!("{t},{}\n", cells.join(","));
        }
        assert_eq!(String::from_utf8(confusion_csv(&m)).unwrap(), expected);
    }
}
