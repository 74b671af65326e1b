//! `weights_evolution.gif`: the run's weight snapshots ([`mnist_trainer::run::snapshots`]) as an
//! animation, the ten templates forming from their initial noise. Each frame has its own
//! symmetric colour scale (the weights grow as training goes on: one scale for all would show
//! the first frames blank), stated under it.

use std::path::Path;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, RgbaImage};
use mnist_data::IMAGE_SIDE;
use mnist_models::grouped;
use mnist_trainer::Error;
use mnist_trainer::run::fsutil::atomic_write;
use mnist_trainer::run::metrics::IterationRecord;
use mnist_trainer::run::snapshots::Frame;
use plotters::prelude::*;

use super::draw::{diverging, fail, render, text};

/// Pixels per weight, and the frame's layout: 2 rows of 5 templates.
const SCALE: i32 = 4;
const COLUMNS: usize = 5;
const CELL: (i32, i32) = (
    IMAGE_SIDE as i32 * SCALE + 16,
    IMAGE_SIDE as i32 * SCALE + 26,
);
const MARGIN: i32 = 12;
const SIZE: (u32, u32) = (
    (2 * MARGIN + COLUMNS as i32 * CELL.0) as u32,
    (2 * CELL.1 + 90) as u32,
);
/// How long a frame shows, and the last one (the finished weights) before the loop restarts.
const FRAME_MS: u32 = 600;
const LAST_FRAME_MS: u32 = 2500;
/// The GIF encoder's colour quantiser speed (1 best … 30 fastest); 10 is its usual balance.
const QUANTISER_SPEED: i32 = 10;

/// What the frame's caption says of its moment: the step, the epoch, and the loss of the
/// training batch that step trained on.
fn caption(frame: &Frame, iterations: &[IterationRecord]) -> String {
    if frame.step == 0 {
        return "before training (initial weights)".into();
    }
    let steps = grouped(frame.step);
    let when = if frame.epoch_end {
        format!("after {steps} steps, end of epoch {}", frame.epoch)
    } else {
        format!("after {steps} steps, epoch {}", frame.epoch)
    };
    match iterations.iter().find(|r| r.iteration == frame.step) {
        Some(r) => format!(
            "{when}: batch loss {:.3}, accuracy {:.0}%",
            r.loss,
            100.0 * r.accuracy
        ),
        None => when,
    }
}

/// Writes the GIF of `frames` to `path` (nothing to write for no frames).
pub fn weights_evolution(
    frames: &[Frame],
    iterations: &[IterationRecord],
    title: &str,
    path: &Path,
) -> Result<(), Error> {
    if frames.is_empty() {
        return Ok(());
    }
    let err = fail(path);
    let mut gif = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut gif, QUANTISER_SPEED);
        encoder.set_repeat(Repeat::Infinite).map_err(|e| err(&e))?;
        for (k, frame) in frames.iter().enumerate() {
            let rgb = render(path, SIZE, title, 20, |body| {
                draw_frame(body, frame, iterations, path)
            })?;
            let rgba: Vec<u8> = rgb
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect();
            let image = RgbaImage::from_raw(SIZE.0, SIZE.1, rgba).expect("the frame's size");
            let ms = if k + 1 == frames.len() {
                LAST_FRAME_MS
            } else {
                FRAME_MS
            };
            let delay = Delay::from_numer_denom_ms(ms, 1);
            encoder
                .encode_frame(image::Frame::from_parts(image, 0, 0, delay))
                .map_err(|e| err(&e))?;
        }
    }
    atomic_write(path, &gif)
}

fn draw_frame(
    body: &super::draw::Area,
    frame: &Frame,
    iterations: &[IterationRecord],
    path: &Path,
) -> Result<(), Error> {
    let limit = frame
        .templates
        .iter()
        .flatten()
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(1e-12) as f64;
    for (d, template) in frame.templates.iter().enumerate() {
        let (row, col) = ((d / COLUMNS) as i32, (d % COLUMNS) as i32);
        let (x, y) = (MARGIN + col * CELL.0, 4 + row * CELL.1);
        let label = match &frame.units {
            Some(units) => format!("{d}: unit {}", units[d]),
            None => format!("digit {d}"),
        };
        text(body, &label, (x, y), 15, path)?;
        for (p, &v) in template.iter().enumerate() {
            let (r, c) = ((p / IMAGE_SIDE) as i32, (p % IMAGE_SIDE) as i32);
            let (x0, y0) = (x + c * SCALE, y + 20 + r * SCALE);
            body.draw(&Rectangle::new(
                [(x0, y0), (x0 + SCALE, y0 + SCALE)],
                diverging(v as f64 / limit).filled(),
            ))
            .map_err(|e| fail(path)(&e))?;
        }
    }
    let y = 2 * CELL.1 + 6;
    text(body, &caption(frame, iterations), (MARGIN, y), 17, path)?;
    text(
        body,
        &format!("colour scale of this frame: ±{limit:.3} (blue −, red +)"),
        (MARGIN, y + 22),
        14,
        path,
    )
}
