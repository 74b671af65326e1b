//! The benchmark sweep's figure: seconds per training epoch against hidden units, log-log, one
//! line per implementation and batch size.

use std::path::Path;

use super::{BATCH, HIDDEN, SweepRow};
use mnist_trainer::Error;
use plotters::prelude::*;

use mnist_report::figures::chart::PALETTE;
use mnist_report::figures::draw::{FONT, fail, figure};

const SIZE: (u32, u32) = (900, 620);

/// Seconds marked on the y axis within `range`: 1-2-5 steps, as on log paper.
fn y_ticks(range: &std::ops::Range<f64>) -> Vec<f64> {
    (-3..=4)
        .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
        .filter(|t| range.contains(t))
        .collect()
}

/// One line: label, colour, solid (the project) or thin (PyTorch), points (hidden, s/epoch).
struct Line {
    label: String,
    color: RGBColor,
    solid: bool,
    points: Vec<(f64, f64)>,
}

pub fn sweep(rows: &[SweepRow], path: &Path) -> Result<(), Error> {
    let err = fail(path);
    let mut lines: Vec<Line> = Vec::new();
    for (i, batch) in BATCH.iter().enumerate() {
        let at = |pick: &dyn Fn(&SweepRow) -> Option<f64>| -> Vec<(f64, f64)> {
            rows.iter()
                .filter(|r| r.batch == *batch)
                .filter_map(|r| pick(r).map(|s| (r.hidden as f64, s)))
                .collect()
        };
        let ours = at(&|r| Some(r.ours.seconds_per_epoch));
        let torch = at(&|r| r.torch.as_ref().map(|t| t.seconds_per_epoch));
        lines.push(Line {
            label: format!("project, batch {batch}"),
            color: PALETTE[i],
            solid: true,
            points: ours,
        });
        if !torch.is_empty() {
            lines.push(Line {
                label: format!("PyTorch, batch {batch}"),
                color: PALETTE[i],
                solid: false,
                points: torch,
            });
        }
    }
    let all: Vec<f64> = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .collect();
    let low = all.iter().copied().fold(f64::INFINITY, f64::min);
    let high = all.iter().copied().fold(0.0, f64::max);
    if !(low.is_finite() && low > 0.0 && high >= low) {
        return Err(Error::run(path, "no positive timings to plot"));
    }
    let (x_low, x_high) = (
        HIDDEN[0] as f64 * 0.8,
        HIDDEN[HIDDEN.len() - 1] as f64 * 1.25,
    );
    let y_range = low / 1.5..high * 1.5;
    figure(
        path,
        SIZE,
        "MLP training epoch: cost against hidden units",
        |body| {
            let mut chart = ChartBuilder::on(body)
                .margin(16)
                .x_label_area_size(50)
                .y_label_area_size(70)
                .build_cartesian_2d(
                    (x_low..x_high)
                        .log_scale()
                        .with_key_points(HIDDEN.iter().map(|&h| h as f64).collect()),
                    y_range
                        .clone()
                        .log_scale()
                        .with_key_points(y_ticks(&y_range)),
                )
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_desc("hidden units (log scale)")
                .y_desc("seconds per epoch (log scale)")
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| format!("{y}"))
                .light_line_style(WHITE)
                .label_style((FONT, 14).into_font())
                .axis_desc_style((FONT, 16).into_font())
                .draw()
                .map_err(|e| err(&e))?;
            for Line {
                label,
                color,
                solid,
                points,
            } in lines
            {
                let style = color.stroke_width(if solid { 3 } else { 1 });
                chart
                    .draw_series(LineSeries::new(points.clone(), style))
                    .map_err(|e| err(&e))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                let marker = move |p: (f64, f64)| -> DynElement<BitMapBackend, (f64, f64)> {
                    if solid {
                        Circle::new(p, 5, color.filled()).into_dyn()
                    } else {
                        TriangleMarker::new(p, 6, color.stroke_width(2)).into_dyn()
                    }
                };
                chart
                    .draw_series(points.into_iter().map(marker))
                    .map_err(|e| err(&e))?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font((FONT, 14).into_font())
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(&e))?;
            Ok(())
        },
    )
}
