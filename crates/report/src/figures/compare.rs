//! Figures that put runs side by side: the smoothed training NLL of each, and the test images
//! two runs disagree on.

use std::path::Path;

use mnist_data::Split;
use mnist_trainer::Error;
use mnist_trainer::run::metrics::IterationRecord;

use super::chart::{Axes, PALETTE, Series, line_panel};
use super::course::SMOOTHING;
use super::draw::{captioned_digit, figure, text};
use crate::stats::moving_average;

pub const NLL_SIZE: (u32, u32) = (1000, 450);
pub const DISAGREEMENTS_SIZE: (u32, u32) = (1000, 420);
/// How many images of each kind of disagreement the gallery shows.
pub const N_DISAGREEMENTS: usize = 10;

/// Each run's training NLL per iteration, as a moving average over [`SMOOTHING`] iterations,
/// against the epoch (iteration k of an epoch of n sits at e − 1 + k/n), so runs with different
/// batch sizes share the axis.
pub fn compare_nll(runs: &[(&str, &[IterationRecord])], path: &Path) -> Result<(), Error> {
    figure(
        path,
        NLL_SIZE,
        "Training NLL of the correct class",
        |body| {
            let mut series = Vec::new();
            let mut last = 1.0f64;
            for (k, (name, iterations)) in runs.iter().enumerate() {
                let smooth = moving_average(
                    &iterations.iter().map(|r| r.loss).collect::<Vec<_>>(),
                    SMOOTHING,
                );
                let mut points = Vec::with_capacity(iterations.len());
                for (i, r) in iterations.iter().enumerate() {
                    let in_epoch = iterations
                        .iter()
                        .filter(|o| o.epoch == r.epoch)
                        .count()
                        .max(1);
                    let k = iterations[..=i]
                        .iter()
                        .filter(|o| o.epoch == r.epoch)
                        .count();
                    let x = (r.epoch - 1) as f64 + k as f64 / in_epoch as f64;
                    last = last.max(x);
                    points.push((x, smooth[i]));
                }
                let label = format!("{name} (moving average of {SMOOTHING})");
                series.push(Series::new(
                    &label,
                    PALETTE[k % PALETTE.len()],
                    points,
                    false,
                ));
            }
            let axes = Axes {
                caption: "per training batch, smoothed",
                x_desc: "epoch",
                y_desc: "NLL",
                x_range: 0.0..last,
                x_labels: None,
            };
            line_panel(body, &axes, &series, path)?;
            Ok(())
        },
    )
}

/// The test images run A classifies right and run B wrong (top row), and the other way round
/// (bottom row), with both predictions under each; at most [`N_DISAGREEMENTS`] a row, spread
/// over all such images.
pub fn disagreements(
    test: &Split,
    (a, a_predictions): (&str, &[u8]),
    (b, b_predictions): (&str, &[u8]),
    path: &Path,
) -> Result<(), Error> {
    let (a_only, b_only) = crate::stats::disagreements(test.labels(), a_predictions, b_predictions);
    let title = format!(
        "Where {a} and {b} disagree ({} and {} test images)",
        a_only.len(),
        b_only.len()
    );
    figure(path, DISAGREEMENTS_SIZE, &title, |body| {
        let (scale, cell_w, row_h, left) = (2, 98, 170, 12);
        let rows = [("A", a, "B", b, &a_only), ("B", b, "A", a, &b_only)];
        for (row, (right, right_name, wrong, wrong_name, indices)) in rows.into_iter().enumerate() {
            let y = 4 + row as i32 * row_h;
            let heading = format!(
                "{right} = {right_name} right, {wrong} = {wrong_name} wrong: {} images",
                indices.len()
            );
            text(body, &heading, (left, y), 18, path)?;
            // Spread over the whole list: the test set may be ordered by digit.
            let shown = indices.len().min(N_DISAGREEMENTS);
            for k in 0..shown {
                let i = indices[k * indices.len() / shown];
                let at = (left + k as i32 * cell_w, y + 26);
                let captions = [
                    format!("true {}", test.label(i)),
                    format!("A: {}", a_predictions[i]),
                    format!("B: {}", b_predictions[i]),
                ];
                captioned_digit(body, test.image(i), at, scale, &captions, path)?;
            }
            if indices.is_empty() {
                text(body, "(none)", (left, y + 40), 18, path)?;
            }
        }
        Ok(())
    })
}
