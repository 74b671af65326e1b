//! The CNN's answer to the course's weight heatmaps: the first convolution's filters, and what
//! they pick out of a few test images (the first layer's feature maps).

use std::path::Path;

use mnist_data::{IMAGE_SIDE, Split};
use mnist_models::Activation;
use mnist_trainer::Error;

use crate::figures::draw::{Colours, HeatmapGrid, Tile};

/// Tiles per row in both figures.
const COLUMNS: usize = 8;
/// About 120 pixels a tile, whatever the kernel's size.
const TILE_PIXELS: usize = 120;
/// Rows of feature maps the figure shows in all (images × rows per image).
const FEATURE_ROWS: usize = 10;
/// At most this many test images.
const MAX_IMAGES: usize = 4;

/// The first convolution's filters, `weights` `[channels, 1, k, k]` (MNIST has one input
/// channel), one heatmap each on one symmetric scale.
pub fn filters(weights: &[f32], channels: usize, kernel: usize, path: &Path) -> Result<(), Error> {
    let size = kernel * kernel;
    let tiles: Vec<Tile> = weights
        .chunks(size)
        .take(channels)
        .enumerate()
        .map(|(c, w)| Tile {
            title: format!("filter {}", c + 1),
            values: w.to_vec(),
            side: kernel,
        })
        .collect();
    HeatmapGrid {
        tiles: &tiles,
        columns: COLUMNS.min(channels),
        scale: (TILE_PIXELS / kernel).max(1) as i32,
        colours: Colours::Diverging,
        quantity: "weight",
    }
    .draw(
        &format!("First convolution: {channels} filters of {kernel}×{kernel}"),
        None,
        path,
    )
}

/// How many test images [`feature_maps`] shows for a first layer of `channels` channels: as
/// many as fit [`FEATURE_ROWS`] rows (one row per eight channels, each image on rows of its own).
pub fn feature_map_images(channels: usize) -> usize {
    let rows_per_image = channels.div_ceil(COLUMNS - 1).max(1);
    (FEATURE_ROWS / rows_per_image).clamp(1, MAX_IMAGES)
}

/// The first convolution's activations (after its activation function, before pooling) for
/// test images `picks`: `maps` is `[picks.len(), channels, side, side]`. Each image is shown at
/// the start of its row, then its maps, all on one scale.
pub fn feature_maps(
    test: &Split,
    picks: &[usize],
    maps: &[f32],
    (channels, side): (usize, usize),
    activation: Activation,
    path: &Path,
) -> Result<(), Error> {
    let per_image = channels * side * side;
    let limit = maps.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    let mut tiles = Vec::new();
    for (n, &i) in picks.iter().enumerate() {
        let image = test.image(i).iter().map(|&p| p as f32 / 255.0 * limit);
        tiles.push(Tile {
            title: format!("test {i}: a {}", test.label(i)),
            values: image.collect(),
            side: IMAGE_SIDE,
        });
        let own = &maps[n * per_image..(n + 1) * per_image];
        for (c, map) in own.chunks(side * side).enumerate() {
            // A new row of maps starts under the image's, leaving its column empty.
            if c > 0 && c.is_multiple_of(COLUMNS - 1) {
                tiles.push(Tile::blank());
            }
            tiles.push(Tile {
                title: format!("ch {}", c + 1),
                values: map.to_vec(),
                side,
            });
        }
        while !tiles.len().is_multiple_of(COLUMNS) {
            tiles.push(Tile::blank());
        }
    }
    // After a ReLU or a sigmoid every value is ≥ 0: white to black. tanh's are signed.
    let colours = match activation {
        Activation::Tanh => Colours::Diverging,
        Activation::Relu | Activation::Sigmoid => Colours::Intensity,
    };
    HeatmapGrid {
        tiles: &tiles,
        columns: COLUMNS,
        scale: 3,
        colours,
        quantity: "activation",
    }
    .draw(
        &format!(
            "First convolution's feature maps ({channels} channels, {side}×{side}) of {} test images",
            picks.len()
        ),
        None,
        path,
    )
}
