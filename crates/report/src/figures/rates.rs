//! The learning rate of every training iteration, for a run with a `[scheduler]`.

use std::path::Path;

use mnist_trainer::Error;
use mnist_trainer::run::metrics::RateRecord;
use plotters::prelude::*;

use super::chart::PALETTE;
use super::draw::{FONT, fail, figure};

pub const LEARNING_RATE_SIZE: (u32, u32) = (900, 420);

/// Draws the figure if the run recorded its rates (only scheduled runs do); returns whether it
/// did. Epoch boundaries are light orange vertical lines.
pub fn learning_rate(rates: &[RateRecord], title: &str, path: &Path) -> Result<bool, Error> {
    let Some(last) = rates.last() else {
        return Ok(false);
    };
    let err = fail(path);
    let high = rates.iter().map(|r| r.lr).fold(0.0, f64::max);
    // A constant rate of 0 would give an empty range.
    let top = if high > 0.0 { high * 1.08 } else { 1.0 };
    let x_end = (last.iteration as f64).max(2.0);
    figure(path, LEARNING_RATE_SIZE, title, |body| {
        let mut chart = ChartBuilder::on(body)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(1f64..x_end, 0f64..top)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .y_desc("learning rate")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.1e}"))
            .light_line_style(WHITE)
            .label_style((FONT, 14).into_font())
            .axis_desc_style((FONT, 16).into_font())
            .draw()
            .map_err(|e| err(&e))?;
        let boundaries = rates
            .windows(2)
            .filter(|w| w[0].epoch != w[1].epoch)
            .map(|w| w[1].iteration as f64);
        for x in boundaries {
            chart
                .draw_series(LineSeries::new(
                    [(x, 0.0), (x, top)],
                    RGBColor(255, 170, 90),
                ))
                .map_err(|e| err(&e))?;
        }
        chart
            .draw_series(LineSeries::new(
                rates.iter().map(|r| (r.iteration as f64, r.lr)),
                PALETTE[0].stroke_width(2),
            ))
            .map_err(|e| err(&e))?;
        Ok(())
    })?;
    Ok(true)
}
