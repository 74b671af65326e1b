//! Figures of any run: loss and accuracy per epoch, and the test set's confusion matrix.

use std::path::Path;

use mnist_trainer::Error;
use mnist_trainer::run::metrics::EpochRecord;
use plotters::prelude::*;

use super::chart::{Axes, PALETTE, Series, line_panel};
use super::draw::{FONT, axis_labels, fail, figure, text};
use crate::stats::{ConfusionMatrix, per_class};

pub const EPOCHS_SIZE: (u32, u32) = (1000, 820);
pub const CONFUSION_SIZE: (u32, u32) = (1000, 620);

/// Problem 8: loss and accuracy per epoch, training and validation on the same axes;
/// `validated_on` names the validation set in the legend (`test set`, `hold-out`).
pub fn epoch_curves(records: &[EpochRecord], validated_on: &str, path: &Path) -> Result<(), Error> {
    let valid = format!("validation ({validated_on})");
    let series = |pick_train: Pick, pick_valid: Pick| {
        vec![
            Series::new("training", PALETTE[0], points(records, pick_train), true),
            Series::new(&valid, PALETTE[1], points(records, pick_valid), true),
        ]
    };
    epoch_panels(series, path)
}

/// Several runs' loss and accuracy per epoch on the same axes: validation (each run's name says
/// where it is not the test set) as a solid line with markers, training as a plain line of the same colour.
pub fn compare_epoch_curves(runs: &[(&str, &[EpochRecord])], path: &Path) -> Result<(), Error> {
    let series = |pick_train: Pick, pick_valid: Pick| {
        let mut out = Vec::new();
        for (k, (name, records)) in runs.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let valid = format!("{name}: validation");
            out.push(Series::new(
                &valid,
                color,
                points(records, pick_valid),
                true,
            ));
            let train = points(records, pick_train);
            out.push(Series::new(
                &format!("{name}: training"),
                color.mix(0.45),
                train,
                false,
            ));
        }
        out
    };
    epoch_panels(series, path)
}

type Pick = fn(&EpochRecord) -> f64;

fn points(records: &[EpochRecord], pick: Pick) -> Vec<(f64, f64)> {
    records.iter().map(|r| (r.epoch as f64, pick(r))).collect()
}

/// The two panels of an epoch figure, loss above and accuracy in % below; `series` gives a
/// panel's lines from what it plots of the training and of the validation epochs.
fn epoch_panels(series: impl Fn(Pick, Pick) -> Vec<Series>, path: &Path) -> Result<(), Error> {
    figure(path, EPOCHS_SIZE, "Loss and accuracy per epoch", |body| {
        let panels = body.split_evenly((2, 1));
        let charts = [
            (
                "Loss (mean cross-entropy)",
                "loss",
                series(|r| r.train_loss, |r| r.valid_loss),
            ),
            (
                "Accuracy",
                "accuracy (%)",
                series(|r| 100.0 * r.train_acc, |r| 100.0 * r.valid_acc),
            ),
        ];
        // The last epoch any line reaches (x is the epoch), at least 2 for a readable axis.
        let last = charts[0]
            .2
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .fold(1.0f64, f64::max)
            .max(2.0);
        for (area, (caption, y_desc, series)) in panels.iter().zip(charts) {
            let axes = Axes {
                caption,
                x_desc: "epoch",
                y_desc,
                x_range: 0.8..last + 0.2,
                x_labels: Some(last as usize + 1),
            };
            line_panel(area, &axes, &series, path)?;
        }
        Ok(())
    })
}

/// The test set's confusion matrix: counts in the cells, colour by the row-normalised rate, and a
/// per-class table of recall (the accuracy on the class), precision and image count.
pub fn confusion_figure(m: &ConfusionMatrix, title: &str, path: &Path) -> Result<(), Error> {
    figure(path, CONFUSION_SIZE, title, |body| {
        let (cell, left, top) = (50, 90, 30);
        let x_label = (left + 5 * cell - 60, top - 26);
        axis_labels(
            body,
            ("predicted label", x_label),
            ("true label", (20, top + 5 * cell + 40)),
            18,
            path,
        )?;
        for (t, row) in m.iter().enumerate() {
            let total: usize = row.iter().sum();
            let y = top + t as i32 * cell;
            text(body, &t.to_string(), (left - 22, y + 16), 16, path)?;
            for (p, &count) in row.iter().enumerate() {
                let x = left + p as i32 * cell;
                if t == 0 {
                    text(
                        body,
                        &p.to_string(),
                        (x + 20, top + 10 * cell + 6),
                        16,
                        path,
                    )?;
                }
                let rate = count as f64 / total.max(1) as f64;
                // White (0) to dark blue (1); the diagonal near 1, errors light.
                let v = |end: f64| (255.0 + (end - 255.0) * rate.sqrt()).round() as u8;
                let color = RGBColor(v(8.0), v(48.0), v(107.0));
                body.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    color.filled(),
                ))
                .map_err(|e| fail(path)(&e))?;
                body.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    RGBColor(220, 220, 220),
                ))
                .map_err(|e| fail(path)(&e))?;
                let ink = if rate > 0.35 { WHITE } else { BLACK };
                let label = count.to_string();
                let tx = x + cell / 2 - 4 * label.len() as i32;
                body.draw(&Text::new(
                    label,
                    (tx, y + 17),
                    (FONT, 15).into_font().color(&ink),
                ))
                .map_err(|e| fail(path)(&e))?;
            }
        }
        // The per-class table to the right, one x position per column.
        let tx = left + 10 * cell + 40;
        let columns = [0, 70, 170, 270];
        for (x, head) in columns
            .iter()
            .zip(["class", "recall", "precision", "images"])
        {
            text(body, head, (tx + x, top), 17, path)?;
        }
        for (c, class) in per_class(m).into_iter().enumerate() {
            let y = top + 30 + c as i32 * 28;
            let cells = [
                c.to_string(),
                format!("{:.2}%", 100.0 * class.recall),
                format!("{:.2}%", 100.0 * class.precision),
                class.images.to_string(),
            ];
            for (x, v) in columns.iter().zip(cells) {
                text(body, &v, (tx + x, y), 16, path)?;
            }
        }
        text(
            body,
            "recall: the accuracy on the class's own images",
            (tx, top + 30 + 10 * 28 + 10),
            14,
            path,
        )?;
        Ok(())
    })
}
