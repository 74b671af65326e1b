//! `mnist predict --explain`'s figures: one image's explanation ([`mnist_infer::explain`]) as
//! heatmaps, each figure on one colour scale: the saliency map, and the linear model's evidence
//! for its answer and the runner-up, the MLP's strongest hidden units, or the CNN's first
//! feature maps.

use std::path::{Path, PathBuf};

use mnist_data::IMAGE_SIDE;
use mnist_infer::explain::{Detail, Explanation, Unit};
use mnist_trainer::Error;

use super::draw::{Colours, HeatmapGrid, Tile};

/// Tiles per row at most, and pixels per input pixel.
const TILES: (usize, i32) = (4, 8);
/// The CNN's feature maps: more of them (often 32), smaller.
const MAPS: (usize, i32) = (8, 4);

fn tile(title: String, values: &[f32]) -> Tile {
    Tile {
        title,
        values: values.to_vec(),
        side: IMAGE_SIDE,
    }
}

fn unit_tiles(units: &[Unit]) -> Vec<Tile> {
    units
        .iter()
        .map(|u| {
            tile(
                format!("unit {}: {:+.2}", u.unit, u.contribution),
                &u.template,
            )
        })
        .collect()
}

/// Writes the explanation's figures as `<stem>.<what>.png` into `dir`; returns their paths.
pub fn explanation(e: &Explanation, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, Error> {
    let (p, r) = (e.predicted as usize, e.runner_up as usize);
    let mut written = Vec::new();
    let mut grid =
        |what: &str, title: String, tiles: Vec<Tile>, colours, quantity, layout: (usize, i32)| {
            let path = dir.join(format!("{stem}.{what}.png"));
            HeatmapGrid {
                tiles: &tiles,
                columns: tiles.len().min(layout.0),
                scale: layout.1,
                colours,
                quantity,
            }
            .draw(&title, None, &path)?;
            written.push(path);
            Ok::<(), Error>(())
        };
    grid(
        "saliency",
        format!("Saliency: how logit {p} moves with each pixel"),
        vec![tile(format!("∂logit[{p}] / ∂pixel"), &e.saliency)],
        Colours::Diverging,
        "gradient",
        TILES,
    )?;
    match &e.detail {
        Detail::Linear { evidence, bias } => {
            let tiles = [(p, "answer"), (r, "runner-up")]
                .iter()
                .map(|&(c, role)| {
                    let sum: f32 = evidence[c].iter().sum();
                    tile(
                        format!(
                            "{c} ({role}): {sum:+.2} {:+.2} = {:+.2}",
                            bias[c], e.logits[c]
                        ),
                        &evidence[c],
                    )
                })
                .collect();
            grid(
                "evidence",
                "Evidence, weight × pixel (red for, blue against); sum + bias = logit".into(),
                tiles,
                Colours::Diverging,
                "evidence",
                TILES,
            )?;
        }
        Detail::Mlp {
            units,
            runner_up_units,
            ..
        } => {
            grid(
                "units",
                format!("The hidden units that pushed {p} up most: input weights, contribution"),
                unit_tiles(units),
                Colours::Diverging,
                "weight",
                TILES,
            )?;
            grid(
                "runner-up-units",
                format!("The hidden units that pushed {r} (runner-up) up most"),
                unit_tiles(runner_up_units),
                Colours::Diverging,
                "weight",
                TILES,
            )?;
        }
        Detail::Cnn { feature_maps: maps } => {
            let size = maps.height * maps.width;
            let tiles: Vec<Tile> = maps
                .values
                .chunks(size)
                .enumerate()
                .map(|(k, values)| Tile {
                    title: format!("channel {k}"),
                    values: values.to_vec(),
                    side: maps.width,
                })
                .collect();
            // After a ReLU every activation is ≥ 0: white to black; otherwise blue to red.
            let colours = if maps.values.iter().all(|&v| v >= 0.0) {
                Colours::Intensity
            } else {
                Colours::Diverging
            };
            grid(
                "feature-maps",
                "The first convolution's feature maps".into(),
                tiles,
                colours,
                "activation",
                MAPS,
            )?;
        }
    }
    Ok(written)
}
