//! The course's Figure 6 for the scratch linear classifier: the batch's NLL of the correct class
//! against the number of weights its step changed, one point per iteration.

use std::path::Path;

use mnist_trainer::Error;
use mnist_trainer::run::metrics::IterationRecord;
use plotters::prelude::*;

use super::draw::{FONT, fail, figure};
use crate::stats::pearson;

pub const NLL_VS_UPDATES_SIZE: (u32, u32) = (900, 640);
/// Colours of the first and the last iteration; the points in between are interpolated.
const EARLY: (f64, f64, f64) = (253.0, 231.0, 37.0);
const LATE: (f64, f64, f64) = (68.0, 1.0, 84.0);

fn shade(t: f64) -> RGBColor {
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(
        mix(EARLY.0, LATE.0),
        mix(EARLY.1, LATE.1),
        mix(EARLY.2, LATE.2),
    )
}

/// Draws the figure if every iteration has its count (runs of the scratch trainer); returns
/// whether it did.
pub fn nll_vs_updates(iterations: &[IterationRecord], path: &Path) -> Result<bool, Error> {
    let points: Option<Vec<(f64, f64)>> = iterations
        .iter()
        .map(|r| r.weights_updated.map(|u| (u as f64, r.loss)))
        .collect();
    let Some(points) = points.filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    let err = fail(path);
    let (xs, ys): (Vec<f64>, Vec<f64>) = points.iter().copied().unzip();
    let r = pearson(&xs, &ys);
    let title = format!("NLL against weights updated per step (Pearson r = {r:.2})");
    figure(path, NLL_VS_UPDATES_SIZE, &title, |body| {
        let (x_low, x_high) = range(&xs);
        let (_, y_high) = range(&ys);
        let mut chart = ChartBuilder::on(body)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(x_low..x_high, 0.0..y_high)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("weights the step changed (of 7,850: non-zero entries of the gradient)")
            .y_desc("NLL of the correct class (batch mean)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .light_line_style(WHITE)
            .label_style((FONT, 14).into_font())
            .axis_desc_style((FONT, 16).into_font())
            .draw()
            .map_err(|e| err(&e))?;
        let last = (points.len() - 1).max(1) as f64;
        chart
            .draw_series(
                points
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| Circle::new(p, 2, shade(i as f64 / last).mix(0.7).filled())),
            )
            .map_err(|e| err(&e))?;
        // The colour key: a bar from the first iteration to the last.
        let key = body.margin(30, 0, 0, 40);
        let (width, _) = key.dim_in_pixel();
        let (left, top, bar) = (width as i32 - 260, 10, 160);
        for k in 0..bar {
            let color = shade(k as f64 / (bar - 1) as f64);
            key.draw(&Rectangle::new(
                [(left + k, top), (left + k + 1, top + 14)],
                color.filled(),
            ))
            .map_err(|e| err(&e))?;
        }
        let label = |s: String, x: i32| Text::new(s, (x, top + 18), (FONT, 13).into_font());
        key.draw(&label("iteration 1".into(), left - 10))
            .map_err(|e| err(&e))?;
        key.draw(&label(format!("{}", points.len()), left + bar - 20))
            .map_err(|e| err(&e))?;
        Ok(())
    })?;
    Ok(true)
}

/// The range of `values` with 5% to spare on each side.
fn range(values: &[f64]) -> (f64, f64) {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((high - low) * 0.05).max(1.0);
    (low - pad, high + pad)
}
