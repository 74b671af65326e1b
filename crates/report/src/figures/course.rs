//! The course's figures: training samples, test predictions, per-iteration curves, the linear
//! model's weights and the MLP's strongest hidden units.

use std::path::Path;

use mnist_data::{IMAGE_PIXELS, NUM_CLASSES, Split};
use mnist_trainer::Error;
use mnist_trainer::run::metrics::IterationRecord;

use super::chart::series_chart;
use super::draw::{axis_labels, captioned_digit, draw_digit, figure, heatmaps, text};
use crate::stats::{accuracy, select_examples, strongest_hidden_units};

/// Pixel sizes of the figures (width, height).
pub const SAMPLES_SIZE: (u32, u32) = (990, 1030);
pub const PREDICTIONS_SIZE: (u32, u32) = (1000, 400);
pub const CURVES_SIZE: (u32, u32) = (1000, 1100);
/// Both heatmap figures (output-neuron weights, hidden units).
pub const WEIGHTS_SIZE: (u32, u32) = (1100, 560);
/// How many correct and wrong predictions the panel shows (the course's problem 5).
pub const N_CORRECT: usize = 20;
pub const N_WRONG: usize = 10;
/// The course counted the correct predictions per test batch of 50 (`test_batches.csv`, the
/// curves figure's last panel).
pub const TEST_BATCH: usize = 50;
/// Moving-average window for the per-iteration curves.
pub const SMOOTHING: usize = 50;

/// Problem 1: the first 10 training images of each digit, a row per digit.
pub fn samples_grid(train: &Split, path: &Path) -> Result<(), Error> {
    figure(
        path,
        SAMPLES_SIZE,
        "10 training samples of each digit",
        |body| {
            let (scale, cell, left, top) = (3, 90, 80, 10);
            for digit in 0..NUM_CLASSES as u8 {
                let row = digit as i32;
                text(
                    body,
                    &digit.to_string(),
                    (left - 30, top + row * cell + 30),
                    24,
                    path,
                )?;
                let samples = (0..train.len())
                    .filter(|&i| train.label(i) == digit)
                    .take(10);
                for (col, i) in samples.enumerate() {
                    draw_digit(
                        body,
                        train.image(i),
                        (left + col as i32 * cell, top + row * cell),
                        scale,
                        path,
                    )?;
                }
            }
            let x_label = (left + 5 * cell - 30, top + 10 * cell + 8);
            axis_labels(
                body,
                ("sample", x_label),
                ("digit", (8, top + 5 * cell + 25)),
                20,
                path,
            )?;
            Ok(())
        },
    )
}

/// Problem 5: 20 correctly classified test images with their prediction, 10 misclassified with
/// prediction and truth.
pub fn predictions_panel(test: &Split, predictions: &[u8], path: &Path) -> Result<(), Error> {
    let (correct, wrong) = select_examples(test.labels(), predictions, N_CORRECT, N_WRONG);
    let accuracy = accuracy(test.labels(), predictions);
    let title = format!("Test predictions (accuracy {:.2}%)", 100.0 * accuracy);
    figure(path, PREDICTIONS_SIZE, &title, |body| {
        let (scale, cell_w, cell_h, left) = (2, 98, 90, 12);
        text(
            body,
            "correctly classified: predicted label",
            (left, 4),
            18,
            path,
        )?;
        for (k, &i) in correct.iter().enumerate() {
            let (row, col) = ((k / 10) as i32, (k % 10) as i32);
            let at = (left + col * cell_w, 30 + row * cell_h);
            let captions = [format!("pred {}", predictions[i])];
            captioned_digit(body, test.image(i), at, scale, &captions, path)?;
        }
        let y0 = 30 + 2 * cell_h + 30;
        text(
            body,
            "misclassified: predicted / true label",
            (left, y0 - 26),
            18,
            path,
        )?;
        for (k, &i) in wrong.iter().enumerate() {
            let at = (left + k as i32 * cell_w, y0);
            let captions = [
                format!("pred {}", predictions[i]),
                format!("true {}", test.label(i)),
            ];
            captioned_digit(body, test.image(i), at, scale, &captions, path)?;
        }
        if wrong.is_empty() {
            text(
                body,
                "(no misclassified test image)",
                (left, y0 + 20),
                18,
                path,
            )?;
        }
        Ok(())
    })
}

/// Problem 5's curves: the NLL of the correct class per training iteration, the number correct
/// per training batch, and the number correct per test batch.
pub fn training_curves(
    iterations: &[IterationRecord],
    batch_size: usize,
    test_batches: &[usize],
    test_batch_size: usize,
    path: &Path,
) -> Result<(), Error> {
    figure(path, CURVES_SIZE, "Training curves", |body| {
        let panels = body.split_evenly((3, 1));
        let nll: Vec<f64> = iterations.iter().map(|r| r.loss).collect();
        let top = nll.iter().cloned().fold(0.0, f64::max).max(1e-3) * 1.05;
        series_chart(
            &panels[0],
            "NLL of the correct class (training batch mean)",
            "iteration",
            "NLL",
            &nll,
            Some(SMOOTHING),
            0.0..top,
            path,
        )?;
        let correct: Vec<f64> = iterations
            .iter()
            .map(|r| (r.accuracy * batch_size as f64).round())
            .collect();
        series_chart(
            &panels[1],
            &format!("Correct per training batch (of {batch_size})"),
            "iteration",
            "correct",
            &correct,
            Some(SMOOTHING),
            0.0..batch_size as f64 + 1.0,
            path,
        )?;
        let test: Vec<f64> = test_batches.iter().map(|&c| c as f64).collect();
        series_chart(
            &panels[2],
            &format!("Correct per test batch (of {test_batch_size}), final model"),
            "test batch",
            "correct",
            &test,
            None,
            0.0..test_batch_size as f64 + 1.0,
            path,
        )?;
        Ok(())
    })
}

/// Problem 6: the 784 input weights of each of the 10 output neurons (rows 1..=784 of the
/// 785×10 matrix, column d), as 28×28 heatmaps.
pub fn linear_weights(weights: &[f32], path: &Path) -> Result<(), Error> {
    let tiles: Vec<(String, Vec<f32>)> = (0..NUM_CLASSES)
        .map(|d| {
            let column = (1..=IMAGE_PIXELS)
                .map(|r| weights[r * NUM_CLASSES + d])
                .collect();
            (format!("digit {d}"), column)
        })
        .collect();
    heatmaps(
        &tiles,
        "Output-neuron weights of the linear classifier (bias row left out)",
        WEIGHTS_SIZE,
        path,
    )
}

/// Problem 9, for all ten digits: the 784 input weights of the hidden unit that feeds each
/// output digit most strongly. `hidden_weights` is `[784, hidden]`, `output_weights` `[hidden, 10]`.
pub fn hidden_units(
    hidden_weights: &[f32],
    output_weights: &[f32],
    hidden: usize,
    path: &Path,
) -> Result<(), Error> {
    let tiles: Vec<(String, Vec<f32>)> = strongest_hidden_units(output_weights, hidden)
        .into_iter()
        .enumerate()
        .map(|(d, (h, w))| {
            let inputs = (0..IMAGE_PIXELS)
                .map(|p| hidden_weights[p * hidden + h])
                .collect();
            (format!("digit {d}: unit {h}, w = {w:.2}"), inputs)
        })
        .collect();
    heatmaps(
        &tiles,
        "Input weights of the hidden unit feeding each digit most strongly",
        WEIGHTS_SIZE,
        path,
    )
}
