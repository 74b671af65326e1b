//! The files a finished run gets beyond its weights and metrics: test-batch counts and figures.

use std::path::Path;
use std::sync::Arc;

use burn::prelude::*;
use mnist_data::Split;
use mnist_models::Model;

use crate::Error;
use crate::config::RunConfig;
use crate::eval::evaluate_split;
use crate::figures;
use crate::metrics::IterationRecord;
use crate::scratch::{TEST_BATCH, write_test_batches};

/// Writes `test_batches.csv` and every figure that applies to the run's model.
pub fn write_figures(
    run_dir: &Path,
    config: &RunConfig,
    model: &Model,
    train: &Arc<Split>,
    test: &Arc<Split>,
    iterations: &[IterationRecord],
    device: &Device,
) -> Result<(), Error> {
    let test_batches = write_test_batches(run_dir, model, test, device)?;
    let (_, _, predictions) = evaluate_split(model, test.clone(), device);
    figures::samples_grid(train, &run_dir.join(figures::SAMPLES_PNG))?;
    figures::predictions_panel(test, &predictions, &run_dir.join(figures::PREDICTIONS_PNG))?;
    figures::training_curves(
        iterations,
        config.batch_size,
        &test_batches,
        TEST_BATCH,
        &run_dir.join(figures::CURVES_PNG),
    )?;
    if let Model::Linear(linear) = model {
        figures::linear_weights(&linear.weights_vec(), &run_dir.join(figures::WEIGHTS_PNG))?;
    }
    Ok(())
}
