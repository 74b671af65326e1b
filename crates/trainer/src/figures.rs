//! The course's figures, as PNG files drawn with `plotters` (font embedded: no system fonts needed).

use std::path::Path;
use std::sync::Once;

use mnist_data::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES, Split};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::Error;
use crate::metrics::IterationRecord;

pub const SAMPLES_PNG: &str = "samples.png";
pub const PREDICTIONS_PNG: &str = "predictions.png";
pub const CURVES_PNG: &str = "training_curves.png";
pub const WEIGHTS_PNG: &str = "weights.png";

/// Pixel sizes of the figures (width, height).
pub const SAMPLES_SIZE: (u32, u32) = (990, 1030);
pub const PREDICTIONS_SIZE: (u32, u32) = (1000, 400);
pub const CURVES_SIZE: (u32, u32) = (1000, 1100);
pub const WEIGHTS_SIZE: (u32, u32) = (1100, 560);

const FONT: &str = "sans-serif";
/// How many correct and wrong predictions the panel shows (the course's problem 5).
pub const N_CORRECT: usize = 20;
pub const N_WRONG: usize = 10;
/// Moving-average window for the per-iteration curves.
pub const SMOOTHING: usize = 50;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // DejaVu Sans (Bitstream Vera licence, see assets/DejaVuSans.LICENSE).
        let bytes: &'static [u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
        plotters::style::register_font(FONT, FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the embedded DejaVuSans.ttf is a valid font"));
    });
}

fn fail(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> Error + '_ {
    move |e| Error::run(path, format!("cannot draw the figure: {e}"))
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// A white canvas with a title; returns the drawing area below the title.
fn canvas<'a>(
    path: &'a Path,
    size: (u32, u32),
    title: &str,
) -> Result<(Area<'a>, Area<'a>), Error> {
    register_font();
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(path)(&e))?;
    let body = root
        .titled(title, (FONT, 26).into_font())
        .map_err(|e| fail(path)(&e))?;
    Ok((root, body))
}

fn text(area: &Area, s: &str, (x, y): (i32, i32), size: u32, path: &Path) -> Result<(), Error> {
    area.draw(&Text::new(s.to_string(), (x, y), (FONT, size).into_font()))
        .map_err(|e| fail(path)(&e))
}

/// A horizontal axis label and a vertical one (rotated), each at its position.
fn axis_labels(
    area: &Area,
    (x_label, x_at): (&str, (i32, i32)),
    (y_label, y_at): (&str, (i32, i32)),
    size: u32,
    path: &Path,
) -> Result<(), Error> {
    text(area, x_label, x_at, size, path)?;
    let font = (FONT, size).into_font().transform(FontTransform::Rotate270);
    area.draw(&Text::new(y_label.to_string(), y_at, font))
        .map_err(|e| fail(path)(&e))
}

/// Draws a 28×28 image, ink dark on white, at (x, y) with each pixel `scale`×`scale`.
fn draw_digit(
    area: &Area,
    image: &[u8],
    (x, y): (i32, i32),
    scale: i32,
    path: &Path,
) -> Result<(), Error> {
    for (k, &p) in image.iter().enumerate() {
        let (r, c) = ((k / IMAGE_SIDE) as i32, (k % IMAGE_SIDE) as i32);
        let v = 255 - p;
        let (x0, y0) = (x + c * scale, y + r * scale);
        area.draw(&Rectangle::new(
            [(x0, y0), (x0 + scale, y0 + scale)],
            RGBColor(v, v, v).filled(),
        ))
        .map_err(|e| fail(path)(&e))?;
    }
    let side = IMAGE_SIDE as i32 * scale;
    area.draw(&Rectangle::new(
        [(x, y), (x + side, y + side)],
        RGBColor(200, 200, 200),
    ))
    .map_err(|e| fail(path)(&e))
}

/// A digit with caption lines under it.
fn captioned_digit(
    area: &Area,
    image: &[u8],
    (x, y): (i32, i32),
    scale: i32,
    captions: &[String],
    path: &Path,
) -> Result<(), Error> {
    draw_digit(area, image, (x, y), scale, path)?;
    let below = y + IMAGE_SIDE as i32 * scale + 4;
    for (line, caption) in captions.iter().enumerate() {
        text(area, caption, (x, below + 18 * line as i32), 16, path)?;
    }
    Ok(())
}

/// Problem 1: the first 10 training images of each digit, a row per digit.
pub fn samples_grid(train: &Split, path: &Path) -> Result<(), Error> {
    let (root, body) = canvas(path, SAMPLES_SIZE, "10 training samples of each digit")?;
    let (scale, cell, left, top) = (3, 90, 80, 10);
    for digit in 0..NUM_CLASSES as u8 {
        let row = digit as i32;
        text(
            &body,
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
                &body,
                train.image(i),
                (left + col as i32 * cell, top + row * cell),
                scale,
                path,
            )?;
        }
    }
    let x_label = (left + 5 * cell - 30, top + 10 * cell + 8);
    axis_labels(
        &body,
        ("sample", x_label),
        ("digit", (8, top + 5 * cell + 25)),
        20,
        path,
    )?;
    root.present().map_err(|e| fail(path)(&e))
}

/// Indices of the test images the prediction panel shows: two correct ones of each digit and
/// one wrong one of each true digit (the first in test order; more from other digits where a digit
/// has none). Every "correct" index has prediction = label, every "wrong" one prediction ≠ label.
pub fn select_examples(labels: &[u8], predictions: &[u8]) -> (Vec<usize>, Vec<usize>) {
    let per_digit = N_CORRECT / NUM_CLASSES;
    let mut correct = Vec::new();
    for digit in 0..NUM_CLASSES as u8 {
        correct.extend(
            (0..labels.len())
                .filter(|&i| labels[i] == digit && predictions[i] == digit)
                .take(per_digit),
        );
    }
    let wrong_of = |digit: u8| {
        (0..labels.len()).filter(move |&i| labels[i] == digit && predictions[i] != digit)
    };
    let mut wrong: Vec<usize> = (0..NUM_CLASSES as u8)
        .filter_map(|d| wrong_of(d).next())
        .collect();
    for i in (0..labels.len()).filter(|&i| predictions[i] != labels[i]) {
        if wrong.len() >= N_WRONG {
            break;
        }
        if !wrong.contains(&i) {
            wrong.push(i);
        }
    }
    wrong.truncate(N_WRONG);
    (correct, wrong)
}

/// Problem 5: 20 correctly classified test images with their prediction, 10 misclassified with
/// prediction and truth.
pub fn predictions_panel(test: &Split, predictions: &[u8], path: &Path) -> Result<(), Error> {
    let (correct, wrong) = select_examples(test.labels(), predictions);
    let accuracy = test
        .labels()
        .iter()
        .zip(predictions)
        .filter(|(l, p)| l == p)
        .count() as f64
        / test.len().max(1) as f64;
    let title = format!("Test predictions (accuracy {:.2}%)", 100.0 * accuracy);
    let (root, body) = canvas(path, PREDICTIONS_SIZE, &title)?;
    let (scale, cell_w, cell_h, left) = (2, 98, 90, 12);
    text(
        &body,
        "correctly classified: predicted label",
        (left, 4),
        18,
        path,
    )?;
    for (k, &i) in correct.iter().enumerate() {
        let (row, col) = ((k / 10) as i32, (k % 10) as i32);
        let at = (left + col * cell_w, 30 + row * cell_h);
        let captions = [format!("pred {}", predictions[i])];
        captioned_digit(&body, test.image(i), at, scale, &captions, path)?;
    }
    let y0 = 30 + 2 * cell_h + 30;
    text(
        &body,
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
        captioned_digit(&body, test.image(i), at, scale, &captions, path)?;
    }
    if wrong.is_empty() {
        text(
            &body,
            "(no misclassified test image)",
            (left, y0 + 20),
            18,
            path,
        )?;
    }
    root.present().map_err(|e| fail(path)(&e))
}

/// Trailing moving average over up to `window` values.
pub fn moving_average(values: &[f64], window: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0;
    for (i, v) in values.iter().enumerate() {
        sum += v;
        if i >= window {
            sum -= values[i - window];
        }
        out.push(sum / (i + 1).min(window) as f64);
    }
    out
}

/// One chart of a raw series (light) and its moving average (dark) against x = 1, 2, ...
#[allow(clippy::too_many_arguments)]
fn series_chart(
    area: &Area,
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    values: &[f64],
    smooth: Option<usize>,
    y_range: std::ops::Range<f64>,
    path: &Path,
) -> Result<(), Error> {
    let err = fail(path);
    let integer_y = y_range.end > 10.0;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 20).into_font())
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1f64..(values.len().max(2) as f64), y_range)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if integer_y {
                format!("{y:.0}")
            } else {
                format!("{y:.1}")
            }
        })
        .label_style((FONT, 14).into_font())
        .axis_desc_style((FONT, 16).into_font())
        .draw()
        .map_err(|e| err(&e))?;
    let raw_color = RGBColor(140, 170, 220);
    chart
        .draw_series(LineSeries::new(
            values.iter().enumerate().map(|(i, &v)| (i as f64 + 1.0, v)),
            raw_color,
        ))
        .map_err(|e| err(&e))?
        .label("raw")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], raw_color));
    if let Some(window) = smooth {
        let avg = moving_average(values, window);
        chart
            .draw_series(LineSeries::new(
                avg.iter().enumerate().map(|(i, &v)| (i as f64 + 1.0, v)),
                RGBColor(200, 40, 40).stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(format!("moving average ({window})"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(200, 40, 40)));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 14).into_font())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))
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
    let (root, body) = canvas(path, CURVES_SIZE, "Training curves")?;
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
    root.present().map_err(|e| fail(path)(&e))
}

/// Diverging colormap (blue, white, red) for t in [-1, 1].
pub fn diverging(t: f64) -> RGBColor {
    let t = t.clamp(-1.0, 1.0);
    let (end, s) = if t < 0.0 {
        ((33.0, 102.0, 172.0), -t)
    } else {
        ((178.0, 24.0, 43.0), t)
    };
    let mix = |e: f64| (255.0 + (e - 255.0) * s).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

/// 28×28 heatmaps of weight vectors (784 each) on one symmetric scale, with a colour bar.
/// `tiles` are (title, weights); laid out in rows of 5.
pub fn heatmaps(tiles: &[(String, Vec<f32>)], title: &str, path: &Path) -> Result<(), Error> {
    let (root, body) = canvas(path, WEIGHTS_SIZE, title)?;
    let limit = tiles
        .iter()
        .flat_map(|(_, w)| w.iter())
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(1e-12) as f64;
    let (scale, cell_w, cell_h, left, top) = (6, 190, 240, 20, 10);
    for (k, (name, w)) in tiles.iter().enumerate() {
        let (row, col) = ((k / 5) as i32, (k % 5) as i32);
        let (x, y) = (left + col * cell_w, top + row * cell_h);
        text(&body, name, (x, y), 16, path)?;
        let y = y + 22;
        for (p, &v) in w.iter().take(IMAGE_PIXELS).enumerate() {
            let (r, c) = ((p / IMAGE_SIDE) as i32, (p % IMAGE_SIDE) as i32);
            let (x0, y0) = (x + c * scale, y + r * scale);
            body.draw(&Rectangle::new(
                [(x0, y0), (x0 + scale, y0 + scale)],
                diverging(v as f64 / limit).filled(),
            ))
            .map_err(|e| fail(path)(&e))?;
        }
    }
    // Colour bar: +limit at the top, −limit at the bottom.
    let (bx, by, bw, bh) = (left + 5 * cell_w + 10, top + 30, 24, 400);
    for i in 0..bh {
        let t = 1.0 - 2.0 * i as f64 / (bh - 1) as f64;
        body.draw(&Rectangle::new(
            [(bx, by + i), (bx + bw, by + i + 1)],
            diverging(t).filled(),
        ))
        .map_err(|e| fail(path)(&e))?;
    }
    body.draw(&Rectangle::new([(bx, by), (bx + bw, by + bh)], BLACK))
        .map_err(|e| fail(path)(&e))?;
    for (t, label) in [
        (1.0, format!("{limit:+.3}")),
        (0.0, "0".to_string()),
        (-1.0, format!("{:+.3}", -limit)),
    ] {
        let y = by + ((1.0 - t) / 2.0 * (bh - 1) as f64) as i32;
        text(&body, &label, (bx + bw + 6, y - 8), 15, path)?;
    }
    text(&body, "weight", (bx - 4, by + bh + 12), 15, path)?;
    root.present().map_err(|e| fail(path)(&e))
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
        path,
    )
}

pub const EPOCHS_PNG: &str = "epochs.png";
pub const HIDDEN_PNG: &str = "hidden_units.png";
pub const CONFUSION_PNG: &str = "confusion.png";
pub const EPOCHS_SIZE: (u32, u32) = (1000, 820);
pub const CONFUSION_SIZE: (u32, u32) = (1000, 620);

/// Problem 8: loss and accuracy per epoch, training and validation on the same axes.
pub fn epoch_curves(records: &[crate::progress::EpochRecord], path: &Path) -> Result<(), Error> {
    let (root, body) = canvas(path, EPOCHS_SIZE, "Loss and accuracy per epoch")?;
    let panels = body.split_evenly((2, 1));
    let last = records.iter().map(|r| r.epoch).max().unwrap_or(1).max(2) as f64;
    type Pick = fn(&crate::progress::EpochRecord) -> f64;
    let charts: [(&str, &str, Pick, Pick); 2] = [
        (
            "Loss (mean cross-entropy)",
            "loss",
            |r| r.train_loss,
            |r| r.valid_loss,
        ),
        (
            "Accuracy",
            "accuracy (%)",
            |r| 100.0 * r.train_acc,
            |r| 100.0 * r.valid_acc,
        ),
    ];
    for (area, (caption, y_desc, train, valid)) in panels.iter().zip(charts) {
        let values: Vec<f64> = records.iter().flat_map(|r| [train(r), valid(r)]).collect();
        let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.1).max(1e-3);
        let err = fail(path);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, 20).into_font())
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.8f64..last + 0.2, (lo - pad)..(hi + pad))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(y_desc)
            .x_labels(last as usize + 1)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style((FONT, 14).into_font())
            .axis_desc_style((FONT, 16).into_font())
            .draw()
            .map_err(|e| err(&e))?;
        for (name, pick, color) in [
            ("training", train, RGBColor(31, 119, 180)),
            ("validation (test set)", valid, RGBColor(214, 39, 40)),
        ] {
            let points: Vec<(f64, f64)> =
                records.iter().map(|r| (r.epoch as f64, pick(r))).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 14).into_font())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| fail(path)(&e))
}

/// For each output class d, the hidden unit with the largest weight into d:
/// `(h*, w[h*][d])` where `output_weights` is `[hidden, 10]` row-major.
pub fn strongest_hidden_units(output_weights: &[f32], hidden: usize) -> Vec<(usize, f32)> {
    (0..NUM_CLASSES)
        .map(|d| {
            (0..hidden)
                .map(|h| (h, output_weights[h * NUM_CLASSES + d]))
                .fold((0, f32::NEG_INFINITY), |best, cur| {
                    if cur.1 > best.1 { cur } else { best }
                })
        })
        .collect()
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
        path,
    )
}

/// `[true][predicted]` counts.
pub fn confusion_matrix(labels: &[u8], predictions: &[u8]) -> [[usize; NUM_CLASSES]; NUM_CLASSES] {
    let mut m = [[0; NUM_CLASSES]; NUM_CLASSES];
    for (&l, &p) in labels.iter().zip(predictions) {
        m[l as usize][p as usize] += 1;
    }
    m
}

/// Per class: (accuracy on that class = recall, precision, recall).
pub fn per_class(m: &[[usize; NUM_CLASSES]; NUM_CLASSES]) -> Vec<(f64, f64, f64)> {
    (0..NUM_CLASSES)
        .map(|c| {
            let row: usize = m[c].iter().sum();
            let col: usize = m.iter().map(|r| r[c]).sum();
            let tp = m[c][c] as f64;
            let recall = tp / row.max(1) as f64;
            let precision = tp / col.max(1) as f64;
            (recall, precision, recall)
        })
        .collect()
}

/// The test set's confusion matrix: counts in the cells, colour by the row-normalised rate, and a
/// per-class table of accuracy, precision and recall.
pub fn confusion_figure(
    m: &[[usize; NUM_CLASSES]; NUM_CLASSES],
    title: &str,
    path: &Path,
) -> Result<(), Error> {
    let (root, body) = canvas(path, CONFUSION_SIZE, title)?;
    let (cell, left, top) = (50, 90, 30);
    let x_label = (left + 5 * cell - 60, top - 26);
    axis_labels(
        &body,
        ("predicted label", x_label),
        ("true label", (20, top + 5 * cell + 40)),
        18,
        path,
    )?;
    for (t, row) in m.iter().enumerate() {
        let total: usize = row.iter().sum();
        let y = top + t as i32 * cell;
        text(&body, &t.to_string(), (left - 22, y + 16), 16, path)?;
        for (p, &count) in row.iter().enumerate() {
            let x = left + p as i32 * cell;
            if t == 0 {
                text(
                    &body,
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
        .zip(["class", "accuracy", "precision", "recall"])
    {
        text(&body, head, (tx + x, top), 17, path)?;
    }
    for (c, (acc, prec, rec)) in per_class(m).into_iter().enumerate() {
        let y = top + 30 + c as i32 * 28;
        let cells = [
            c.to_string(),
            format!("{:.2}%", 100.0 * acc),
            format!("{:.2}%", 100.0 * prec),
            format!("{:.2}%", 100.0 * rec),
        ];
        for (x, v) in columns.iter().zip(cells) {
            text(&body, &v, (tx + x, y), 16, path)?;
        }
    }
    text(
        &body,
        "accuracy on a class = its recall",
        (tx, top + 30 + 10 * 28 + 10),
        14,
        path,
    )?;
    root.present().map_err(|e| fail(path)(&e))
}
