//! A run's model for inference: rebuilt from the run's own `config.toml` (nothing re-guesses a
//! hyperparameter) and loaded with the chosen weights.

use burn::prelude::Device;
use mnist_models::Model;
use mnist_trainer::Error;
use mnist_trainer::run::dir::{RunDir, Weights};
use mnist_trainer::run::plan::Plan;

/// The run's plan and its model with the chosen weights; errors name the file (and, for
/// missing weights, the checkpoints that do exist).
pub fn open(run: &RunDir, weights: Weights, device: &Device) -> Result<(Plan, Model), Error> {
    let plan = run.plan()?;
    let model = run.load_model(&plan, weights, device)?;
    Ok((plan, model))
}
