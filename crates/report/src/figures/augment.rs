//! What an augmented run trains on: one training image per digit, as stored and as the first
//! epochs distort it.

use std::path::Path;

use burn::prelude::*;
use mnist_data::{Augment, NUM_CLASSES, Split};
use mnist_trainer::Error;

use super::draw::{axis_labels, draw_digit, figure, text};

pub const AUGMENTED_SIZE: (u32, u32) = (990, 1030);
/// Epochs shown after the original (the grid's columns 2..=10).
pub const EPOCHS_SHOWN: usize = 9;

/// A row per digit (its first training image): the image as stored, then as epochs 1..=9 of a
/// run with `seed` distort it, drawn by the same code the training batches go through.
pub fn augmented(
    train: &Split,
    augment: Augment,
    seed: u64,
    path: &Path,
    device: &Device,
) -> Result<(), Error> {
    let picks: Vec<usize> = (0..NUM_CLASSES as u8)
        .filter_map(|d| train.labels().iter().position(|&l| l == d))
        .collect();
    // [digit][column] → 784 pixels, 0..=255 like the stored images.
    let mut rows: Vec<Vec<Vec<u8>>> = picks
        .iter()
        .map(|&i| vec![train.image(i).to_vec()])
        .collect();
    for epoch in 1..=EPOCHS_SHOWN {
        let batch = mnist_data::batch_of(train, &picks, device);
        let images = augment.apply(batch.images, seed, epoch, &picks);
        let values = mnist_models::host_values(images);
        for (row, image) in rows.iter_mut().zip(values.chunks(mnist_data::IMAGE_PIXELS)) {
            row.push(
                image
                    .iter()
                    .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                    .collect(),
            );
        }
    }
    let title = format!("Augmented: {}", augment.describe());
    figure(path, AUGMENTED_SIZE, &title, |body| {
        let (scale, cell, left, top) = (3, 90, 80, 10);
        for (r, (row, &i)) in rows.iter().zip(&picks).enumerate() {
            let y = top + r as i32 * cell;
            text(
                body,
                &train.label(i).to_string(),
                (left - 30, y + 30),
                24,
                path,
            )?;
            for (col, image) in row.iter().enumerate() {
                draw_digit(body, image, (left + col as i32 * cell, y), scale, path)?;
            }
        }
        let x_label = (left + 3 * cell, top + NUM_CLASSES as i32 * cell + 8);
        axis_labels(
            body,
            ("stored, then epochs 1-9", x_label),
            ("digit", (8, top + 5 * cell + 25)),
            20,
            path,
        )
    })
}
