//! The figures of `mnist sweep`: accuracy against each swept key (`sweep.png`, with a heatmap
//! where exactly two keys are swept) and every point's training loss against updates and
//! against seconds (`curves.png`).

use std::path::Path;

use mnist_trainer::Error;
use mnist_trainer::run::dir::RunState;
use mnist_trainer::run::metrics::{EpochRecord, IterationRecord};
use mnist_trainer::run::sweep_dir::SweepDir;
use mnist_trainer::sweep::summary::SweepRow;
use plotters::prelude::*;

use super::chart::PALETTE;
use super::draw::{Area, FONT, fail, figure};

/// One panel's size; a figure is panels side by side.
const PANEL: (u32, u32) = (640, 520);
/// Bins per decade of the log x axis the loss curves are averaged over.
pub const BINS_PER_DECADE: f64 = 20.0;

/// Line colours: the figures' palette, then plotters' 99 colours.
fn colour(i: usize) -> RGBColor {
    match PALETTE.get(i) {
        Some(c) => *c,
        None => {
            let c = Palette99::pick(i).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

/// Writes `sweep.png` and `curves.png` for the finished points of `rows`; nothing when no point
/// has finished. Returns the figures written.
pub fn write(dir: &SweepDir, rows: &[SweepRow]) -> Result<Vec<std::path::PathBuf>, Error> {
    let finished: Vec<&SweepRow> = rows
        .iter()
        .filter(|r| r.state == Some(RunState::Finished))
        .collect();
    if finished.is_empty() {
        return Ok(Vec::new());
    }
    accuracy(&finished, &dir.accuracy_figure())?;
    let mut curves = Vec::new();
    for row in &finished {
        let run = dir.run_dir(&row.run);
        curves.push((label(row), run.epochs()?, run.iterations()?));
    }
    loss_curves(&curves, &dir.curves_figure())?;
    Ok(vec![dir.accuracy_figure(), dir.curves_figure()])
}

/// `batch_size = 50, lr = 0.01`: a point as the legends name it.
fn label(row: &SweepRow) -> String {
    row.values
        .iter()
        .map(|v| {
            format!(
                "{} = {}",
                v.key.rsplit('.').next().unwrap_or(&v.key),
                v.text
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a swept key's values sit on a panel's x axis: at log10 of the value when every value
/// is a positive number and they span 10× or more, at the value when they are numbers, at
/// 0, 1, 2, … in the sweep's order otherwise (strings, tables).
struct KeyAxis {
    /// (value text, position), in order along the axis.
    ticks: Vec<(String, f64)>,
    log: bool,
}

impl KeyAxis {
    fn of(rows: &[&SweepRow], k: usize) -> Self {
        let mut texts: Vec<(String, Option<f64>)> = Vec::new();
        for r in rows {
            let v = &r.values[k];
            if !texts.iter().any(|(t, _)| *t == v.text) {
                texts.push((v.text.clone(), v.number));
            }
        }
        let numbers: Option<Vec<f64>> = texts.iter().map(|(_, n)| *n).collect();
        let (ticks, log) = match numbers {
            Some(ns) => {
                let lo = ns.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = ns.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                // Values a decade or more apart are spread evenly on a log axis; on a linear
                // one the smaller would crowd into a corner.
                let log = lo > 0.0 && hi / lo >= 10.0;
                let at = |n: f64| if log { n.log10() } else { n };
                let mut ticks: Vec<(String, f64)> = texts
                    .iter()
                    .zip(&ns)
                    .map(|((t, _), n)| (t.clone(), at(*n)))
                    .collect();
                ticks.sort_by(|a, b| a.1.total_cmp(&b.1));
                (ticks, log)
            }
            None => (
                texts
                    .into_iter()
                    .enumerate()
                    .map(|(i, (t, _))| (t, i as f64))
                    .collect(),
                false,
            ),
        };
        KeyAxis { ticks, log }
    }

    fn position(&self, text: &str) -> f64 {
        self.ticks
            .iter()
            .find(|(t, _)| t == text)
            .map_or(0.0, |(_, p)| *p)
    }

    /// The axis range with room on both sides.
    fn range(&self) -> std::ops::Range<f64> {
        let lo = self.ticks.first().map_or(0.0, |t| t.1);
        let hi = self.ticks.last().map_or(1.0, |t| t.1);
        let pad = if hi > lo {
            (hi - lo) * 0.08
        } else {
            (0.5 * lo.abs()).max(0.5)
        };
        (lo - pad)..(hi + pad)
    }
}

/// `sweep.png`: a panel per swept key, accuracy (%) against its values; with two keys, a
/// heatmap of the test accuracy over both.
fn accuracy(rows: &[&SweepRow], path: &Path) -> Result<(), Error> {
    let keys = rows[0].values.len();
    let panels = keys + usize::from(keys == 2);
    let size = (PANEL.0 * panels as u32, PANEL.1);
    figure(path, size, "Accuracy of each point of the sweep", |body| {
        let areas = body.split_evenly((1, panels));
        for (k, area) in areas.iter().take(keys).enumerate() {
            key_panel(area, rows, k, path)?;
        }
        if keys == 2 {
            heatmap(&areas[2], rows, path)?;
        }
        Ok(())
    })
}

/// Accuracy against the values of key `k`: every point's final test accuracy (dots) and its
/// best epoch's validation accuracy (rings); with other keys swept too, the line joins the best
/// test accuracy at each value.
fn key_panel(area: &Area, rows: &[&SweepRow], k: usize, path: &Path) -> Result<(), Error> {
    let err = fail(path);
    let axis = KeyAxis::of(rows, k);
    let pct = |v: Option<f64>| v.map(|v| 100.0 * v);
    let all: Vec<f64> = rows
        .iter()
        .flat_map(|r| [pct(r.test_accuracy), pct(r.best_valid_accuracy)])
        .flatten()
        .filter(|v| v.is_finite())
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() {
        (lo, hi)
    } else {
        (0.0, 100.0)
    };
    let pad = ((hi - lo) * 0.1).max(0.2);
    let key = &rows[0].values[k].key;
    let x_desc = if axis.log {
        format!("{key} (log scale)")
    } else {
        key.clone()
    };
    let mut chart = ChartBuilder::on(area)
        .caption(format!("accuracy against {key}"), (FONT, 20).into_font())
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(60)
        .build_cartesian_2d(axis.range(), (lo - pad)..(hi + pad).min(100.5))
        .map_err(|e| err(&e))?;
    // The swept values are the x axis's labels, where they are (plotters would label round
    // numbers instead).
    chart
        .configure_mesh()
        .x_labels(0)
        .x_desc(x_desc)
        .y_desc("accuracy (%)")
        .y_label_formatter(&|y| format!("{y:.1}"))
        .light_line_style(WHITE)
        .label_style((FONT, 14).into_font())
        .axis_desc_style((FONT, 16).into_font())
        .draw()
        .map_err(|e| err(&e))?;
    let bottom = (lo - pad, Axis::X);
    ticks(area, &chart, &axis.ticks, bottom, path)?;
    let at = |r: &SweepRow| axis.position(&r.values[k].text);
    // The best test accuracy at each value (the only one, with one key swept).
    let line: Vec<(f64, f64)> = axis
        .ticks
        .iter()
        .filter_map(|(text, x)| {
            rows.iter()
                .filter(|r| r.values[k].text == *text)
                .filter_map(|r| pct(r.test_accuracy))
                .reduce(f64::max)
                .map(|best| (*x, best))
        })
        .collect();
    let blue = PALETTE[0];
    let red = PALETTE[1];
    let line_label = if rows[0].values.len() > 1 {
        "best test accuracy at this value"
    } else {
        "test accuracy (final weights)"
    };
    chart
        .draw_series(LineSeries::new(line, blue.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label(line_label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));
    chart
        .draw_series(rows.iter().filter_map(|r| {
            pct(r.test_accuracy).map(|a| Circle::new((at(r), a), 5, blue.filled()))
        }))
        .map_err(|e| err(&e))?
        .label("test accuracy of a point")
        .legend(move |(x, y)| Circle::new((x + 10, y), 5, blue.filled()));
    chart
        .draw_series(rows.iter().filter_map(|r| {
            pct(r.best_valid_accuracy).map(|a| Circle::new((at(r), a), 7, red.stroke_width(2)))
        }))
        .map_err(|e| err(&e))?
        .label("best epoch's validation accuracy")
        .legend(move |(x, y)| Circle::new((x + 10, y), 6, red.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .label_font((FONT, 14).into_font())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Axis {
    X,
    Y,
}

/// Writes `labels` (text, position) along an axis of `chart`, outside the plot: below it for
/// x (`edge.0` is the y at the bottom of the plot), left of it for y (`edge.0` the left x).
fn ticks(
    area: &Area,
    chart: &super::chart::Chart,
    labels: &[(String, f64)],
    edge: (f64, Axis),
    path: &Path,
) -> Result<(), Error> {
    let (base_x, base_y) = area.get_base_pixel();
    let font = (FONT, 14).into_font();
    for (text, at) in labels {
        let (px, py) = match edge.1 {
            Axis::X => chart.backend_coord(&(*at, edge.0)),
            Axis::Y => chart.backend_coord(&(edge.0, *at)),
        };
        let (w, h) = area
            .estimate_text_size(text, &TextStyle::from(font.clone()))
            .map_err(|e| fail(path)(&e))?;
        let (x, y) = match edge.1 {
            Axis::X => (px - base_x - w as i32 / 2, py - base_y + 6),
            Axis::Y => (px - base_x - w as i32 - 8, py - base_y - h as i32 / 2),
        };
        area.draw(&Text::new(text.clone(), (x, y), font.clone()))
            .map_err(|e| fail(path)(&e))?;
    }
    Ok(())
}

/// White (the lowest accuracy shown) to dark blue (the highest).
fn shade(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}

/// The test accuracy over both swept keys: the first key down, the second across, each cell
/// written out; an empty cell is a point that has not finished.
fn heatmap(area: &Area, rows: &[&SweepRow], path: &Path) -> Result<(), Error> {
    let err = fail(path);
    let (down, across) = (KeyAxis::of(rows, 0), KeyAxis::of(rows, 1));
    // Cells in the sweep's order, not at the values: a heatmap's cells are all one size.
    let index = |axis: &KeyAxis, text: &str| axis.ticks.iter().position(|t| t.0 == text);
    let (rows_n, cols_n) = (down.ticks.len(), across.ticks.len());
    let accs: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.test_accuracy.map(|a| 100.0 * a))
        .collect();
    let lo = accs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = accs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let keys = (&rows[0].values[0].key, &rows[0].values[1].key);
    let mut chart = ChartBuilder::on(area)
        .caption("test accuracy (%)", (FONT, 20).into_font())
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..cols_n as f64 - 0.5, -0.5..rows_n as f64 - 0.5)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .x_desc(keys.1.as_str())
        .y_desc(keys.0.as_str())
        .axis_desc_style((FONT, 16).into_font())
        .draw()
        .map_err(|e| err(&e))?;
    let cells = |axis: &KeyAxis| -> Vec<(String, f64)> {
        (axis.ticks.iter().enumerate())
            .map(|(i, t)| (t.0.clone(), i as f64))
            .collect()
    };
    ticks(area, &chart, &cells(&across), (-0.5, Axis::X), path)?;
    ticks(area, &chart, &cells(&down), (-0.5, Axis::Y), path)?;
    for r in rows {
        let (Some(i), Some(j), Some(acc)) = (
            index(&down, &r.values[0].text),
            index(&across, &r.values[1].text),
            r.test_accuracy,
        ) else {
            continue;
        };
        let acc = 100.0 * acc;
        let t = if hi > lo { (acc - lo) / (hi - lo) } else { 1.0 };
        let (x, y) = (j as f64, i as f64);
        chart
            .draw_series([Rectangle::new(
                [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                shade(t).filled(),
            )])
            .map_err(|e| err(&e))?;
        let ink = if t > 0.55 { WHITE } else { BLACK };
        let style = (FONT, 16)
            .into_font()
            .color(&ink)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            ));
        chart
            .draw_series([Text::new(format!("{acc:.2}"), (x, y), style)])
            .map_err(|e| err(&e))?;
    }
    Ok(())
}

/// Averages `points` (x > 0, ascending) over bins of equal width on a log x axis
/// ([`BINS_PER_DECADE`] a decade): one point per bin, at the bin's mean x and mean y. Early
/// updates keep a bin each; later ones are averaged over thousands, so a curve is as smooth
/// at 10⁵ updates as a plain moving average would leave it at 10.
pub fn log_binned(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut current: Option<(i64, f64, f64, usize)> = None;
    for &(x, y) in points.iter().filter(|p| p.0 > 0.0 && p.1.is_finite()) {
        let bin = (x.log10() * BINS_PER_DECADE).floor() as i64;
        match &mut current {
            Some((b, sx, sy, n)) if *b == bin => {
                *sx += x;
                *sy += y;
                *n += 1;
            }
            _ => {
                if let Some((_, sx, sy, n)) = current {
                    out.push((sx / n as f64, sy / n as f64));
                }
                current = Some((bin, x, y, 1));
            }
        }
    }
    if let Some((_, sx, sy, n)) = current {
        out.push((sx / n as f64, sy / n as f64));
    }
    out
}

/// (x, loss) points of one run.
type Curve = Vec<(f64, f64)>;

/// Each iteration's training loss at its update number (1, 2, … over the run) and at its time:
/// an epoch's training seconds (`train_seconds`) spread evenly over its iterations.
pub fn loss_points(epochs: &[EpochRecord], iterations: &[IterationRecord]) -> (Curve, Curve) {
    let by_update = iterations
        .iter()
        .map(|r| (r.iteration as f64, r.loss))
        .collect();
    let mut by_time = Vec::with_capacity(iterations.len());
    let mut elapsed = 0.0;
    for e in epochs {
        let its: Vec<&IterationRecord> = iterations.iter().filter(|r| r.epoch == e.epoch).collect();
        let n = its.len().max(1) as f64;
        for (j, r) in its.iter().enumerate() {
            by_time.push((elapsed + e.train_seconds * (j + 1) as f64 / n, r.loss));
        }
        elapsed += e.train_seconds;
    }
    (by_update, by_time)
}

/// `curves.png`: every point's training loss, averaged over log-spaced bins, against updates
/// (left) and against training seconds (right), both log x.
fn loss_curves(
    runs: &[(String, Vec<EpochRecord>, Vec<IterationRecord>)],
    path: &Path,
) -> Result<(), Error> {
    let series: Vec<(String, Curve, Curve)> = runs
        .iter()
        .map(|(label, epochs, iterations)| {
            let (u, t) = loss_points(epochs, iterations);
            (label.clone(), log_binned(&u), log_binned(&t))
        })
        .collect();
    let title = format!(
        "Training NLL (batch mean), averaged over log-spaced bins ({BINS_PER_DECADE} a decade)"
    );
    figure(path, (2 * PANEL.0 + 120, PANEL.1 + 60), &title, |body| {
        let areas = body.split_evenly((1, 2));
        let updates: Vec<(&str, &[(f64, f64)])> = series
            .iter()
            .map(|s| (s.0.as_str(), s.1.as_slice()))
            .collect();
        let seconds: Vec<(&str, &[(f64, f64)])> = series
            .iter()
            .map(|s| (s.0.as_str(), s.2.as_slice()))
            .collect();
        log_x_panel(
            &areas[0],
            "against updates",
            "updates (log scale)",
            &updates,
            path,
        )?;
        log_x_panel(
            &areas[1],
            "against training time",
            "training seconds (log scale)",
            &seconds,
            path,
        )
    })
}

/// Powers of ten within `range`, for a log axis's labels.
fn decades(range: &std::ops::Range<f64>) -> Vec<f64> {
    (-4..=9)
        .map(|e| 10f64.powi(e))
        .filter(|t| range.contains(t))
        .collect()
}

fn log_x_panel(
    area: &Area,
    caption: &str,
    x_desc: &str,
    series: &[(&str, &[(f64, f64)])],
    path: &Path,
) -> Result<(), Error> {
    let err = fail(path);
    let xs = series.iter().flat_map(|s| s.1.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.1.iter().map(|p| p.1));
    let x_lo = xs.clone().fold(f64::INFINITY, f64::min);
    let x_hi = xs.fold(f64::NEG_INFINITY, f64::max);
    let y_hi = ys.fold(0.0, f64::max);
    if !(x_lo.is_finite() && x_lo > 0.0 && x_hi >= x_lo) {
        return Err(Error::run(path, "no training records to plot"));
    }
    let x_range = (x_lo / 1.5)..(x_hi * 1.5);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 20).into_font())
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(60)
        .build_cartesian_2d(
            x_range
                .clone()
                .log_scale()
                .with_key_points(decades(&x_range)),
            0.0..(y_hi * 1.05).max(0.1),
        )
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("training NLL (batch mean)")
        .x_label_formatter(&|x| {
            if *x >= 1.0 {
                format!("{x:.0}")
            } else {
                format!("{x}")
            }
        })
        .y_label_formatter(&|y| format!("{y:.1}"))
        .light_line_style(WHITE)
        .label_style((FONT, 14).into_font())
        .axis_desc_style((FONT, 16).into_font())
        .draw()
        .map_err(|e| err(&e))?;
    for (i, (label, points)) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        // A point with few updates (a whole-batch run) is a line of few segments: mark them.
        if points.len() <= 60 {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(|e| err(&e))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .label_font((FONT, 14).into_font())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_bins_keep_early_points_and_average_late_ones() {
        // y = x: updates 1-10 lie in bins of their own (1/20 decade is ×1.12),
        // the last bin holds many and averages them.
        // 1..1000: the last bin, [10^2.95, 10^3), holds 891-999.
        let points: Vec<(f64, f64)> = (1..1000).map(|i| (i as f64, i as f64)).collect();
        let binned = log_binned(&points);
        assert_eq!(&binned[..3], &[(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]);
        assert!(binned.len() < 70 && binned.len() > 40, "{}", binned.len());
        // Means of a bin: x and y alike, so y = x survives binning.
        assert!(binned.iter().all(|(x, y)| (x - y).abs() < 1e-9));
        let last = binned.last().unwrap();
        assert!(last.0 > 900.0 && last.0 < 1000.0, "{last:?}");
    }

    #[test]
    fn an_epochs_seconds_are_spread_over_its_iterations() {
        let epoch = |epoch, train_seconds| EpochRecord {
            epoch,
            train_loss: 0.0,
            train_acc: 0.0,
            valid_loss: 0.0,
            valid_acc: 0.0,
            seconds: train_seconds + 1.0,
            train_seconds,
        };
        let it = |epoch, iteration, loss| IterationRecord {
            epoch,
            iteration,
            loss,
            accuracy: 0.0,
            weights_updated: None,
        };
        let (by_update, by_time) = loss_points(
            &[epoch(1, 2.0), epoch(2, 4.0)],
            &[it(1, 1, 5.0), it(1, 2, 4.0), it(2, 3, 3.0), it(2, 4, 2.0)],
        );
        assert_eq!(by_update, [(1.0, 5.0), (2.0, 4.0), (3.0, 3.0), (4.0, 2.0)]);
        assert_eq!(by_time, [(1.0, 5.0), (2.0, 4.0), (4.0, 3.0), (6.0, 2.0)]);
    }
}
