//! Line charts of the figures: a raw series with its moving average, labelled lines with a
//! legend, and the colours they use.

use std::path::Path;

use mnist_trainer::Error;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::draw::{Area, FONT, fail};
use crate::stats::moving_average;

/// One chart of a raw series (light) and its moving average (dark) against x = 1, 2, ...
#[allow(clippy::too_many_arguments)]
pub(crate) fn series_chart(
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
    draw_legend(&mut chart, path)
}

/// A chart of the figures: f64 on both axes, drawn into a PNG.
pub(crate) type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The legend of a chart's labelled series, in the figures' style.
pub(crate) fn draw_legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, path: &Path) -> Result<(), Error> {
    chart
        .configure_series_labels()
        .label_font((FONT, 14).into_font())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(path)(&e))
}

/// Line colours, one per series or run (matplotlib's first colours: blue, red, green, purple,
/// orange, brown).
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

/// One labelled line of a [`line_panel`].
pub(crate) struct Series {
    pub label: String,
    pub color: RGBAColor,
    pub points: Vec<(f64, f64)>,
    /// A dot at every point (few points: epochs), or a plain line (many: iterations).
    pub markers: bool,
}

impl Series {
    pub fn new(
        label: &str,
        color: impl Into<RGBAColor>,
        points: Vec<(f64, f64)>,
        markers: bool,
    ) -> Self {
        Self {
            label: label.to_string(),
            color: color.into(),
            points,
            markers,
        }
    }
}

/// The axes of a [`line_panel`].
pub(crate) struct Axes<'a> {
    pub caption: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub x_range: std::ops::Range<f64>,
    /// How many x labels (None: plotters' choice).
    pub x_labels: Option<usize>,
}

/// A chart of labelled lines with a legend; the y range covers every point with 10% to spare.
pub(crate) fn line_panel(
    area: &Area,
    axes: &Axes,
    series: &[Series],
    path: &Path,
) -> Result<(), Error> {
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let err = fail(path);
    let mut chart = ChartBuilder::on(area)
        .caption(axes.caption, (FONT, 20).into_font())
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(axes.x_range.clone(), (lo - pad)..(hi + pad))
        .map_err(|e| err(&e))?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style((FONT, 14).into_font())
        .axis_desc_style((FONT, 16).into_font());
    if let Some(n) = axes.x_labels {
        mesh.x_labels(n);
    }
    mesh.draw().map_err(|e| err(&e))?;
    for s in series {
        let color = s.color;
        chart
            .draw_series(LineSeries::new(s.points.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(&s.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        if s.markers {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|e| err(&e))?;
        }
    }
    draw_legend(&mut chart, path)
}
