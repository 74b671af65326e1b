//! Drawing helpers shared by every figure: the embedded font, a titled canvas drawn in memory
//! and written as a PNG in one atomic step, text, digits and weight heatmaps.

use std::path::Path;
use std::sync::Once;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use mnist_data::{IMAGE_PIXELS, IMAGE_SIDE};
use mnist_trainer::Error;
use mnist_trainer::run::fsutil::atomic_write;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

pub const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // DejaVu Sans (Bitstream Vera licence, see assets/DejaVuSans.LICENSE).
        let bytes: &'static [u8] = include_bytes!("../../../../assets/DejaVuSans.ttf");
        plotters::style::register_font(FONT, FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the embedded DejaVuSans.ttf is a valid font"));
    });
}

pub fn fail(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> Error + '_ {
    move |e| Error::run(path, format!("cannot draw the figure: {e}"))
}

pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws one figure and writes it: a white canvas of `size` with `title` in an in-memory RGB
/// buffer, `draw` drawing in the area below the title; then the pixels are encoded as PNG in
/// memory and written to `path` in one atomic step, so whoever reads the file (the web app
/// sending it) finds the old figure or the new one, whole, never half of one.
pub fn figure(
    path: &Path,
    size: (u32, u32),
    title: &str,
    draw: impl FnOnce(&Area) -> Result<(), Error>,
) -> Result<(), Error> {
    let pixels = render(path, size, title, 26, draw)?;
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&pixels, size.0, size.1, ExtendedColorType::Rgb8)
        .map_err(|e| Error::run(path, format!("cannot encode the figure as PNG: {e}")))?;
    atomic_write(path, &png)
}

/// Draws a white canvas of `size` with `title` (in `title_size` points) into an RGB buffer,
/// `draw` drawing below the title; `path` is what errors name.
pub(crate) fn render(
    path: &Path,
    size: (u32, u32),
    title: &str,
    title_size: u32,
    draw: impl FnOnce(&Area) -> Result<(), Error>,
) -> Result<Vec<u8>, Error> {
    register_font();
    let err = fail(path);
    let mut pixels = vec![0u8; 3 * size.0 as usize * size.1 as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let body = root
            .titled(title, (FONT, title_size).into_font())
            .map_err(|e| err(&e))?;
        draw(&body)?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(pixels)
}

pub(crate) fn text(
    area: &Area,
    s: &str,
    (x, y): (i32, i32),
    size: u32,
    path: &Path,
) -> Result<(), Error> {
    area.draw(&Text::new(s.to_string(), (x, y), (FONT, size).into_font()))
        .map_err(|e| fail(path)(&e))
}

/// A horizontal axis label and a vertical one (rotated), each at its position.
pub(crate) fn axis_labels(
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
pub(crate) fn draw_digit(
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
pub(crate) fn captioned_digit(
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

/// One square tile of a heatmap grid: a title and `side`×`side` values, row by row.
pub struct Tile {
    pub title: String,
    pub values: Vec<f32>,
    pub side: usize,
}

impl Tile {
    /// An empty cell of the grid.
    pub fn blank() -> Self {
        Self {
            title: String::new(),
            values: Vec::new(),
            side: 0,
        }
    }
}

/// How a heatmap grid colours its values, on one scale for all its tiles.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Colours {
    /// Blue (−) through white (0) to red (+), symmetric about 0: weights.
    Diverging,
    /// White (0) to black (the largest value): activations, which are ≥ 0 after a ReLU.
    Intensity,
}

impl Colours {
    fn colour(self, v: f64, limit: f64) -> RGBColor {
        match self {
            Colours::Diverging => diverging(v / limit),
            Colours::Intensity => {
                let g = (255.0 * (1.0 - (v / limit).clamp(0.0, 1.0))).round() as u8;
                RGBColor(g, g, g)
            }
        }
    }
}

/// A grid of square heatmaps, `columns` to a row, each value a `scale`×`scale` block, with a
/// colour bar on the right. `size`: the canvas, or `None` to fit the grid.
pub struct HeatmapGrid<'a> {
    pub tiles: &'a [Tile],
    pub columns: usize,
    pub scale: i32,
    pub colours: Colours,
    /// What the colour bar measures: `weight`, `activation`.
    pub quantity: &'a str,
}

const GRID_LEFT: i32 = 20;
const GRID_TOP: i32 = 10;
const TITLE_BAND: u32 = 50;

impl HeatmapGrid<'_> {
    fn cell(&self) -> (i32, i32) {
        let side = self.tiles.iter().map(|t| t.side).max().unwrap_or(1) as i32;
        let image = side * self.scale;
        (image + 22, image + 72)
    }

    /// The canvas that fits the grid: the tiles, the colour bar and the title.
    pub fn fitted_size(&self) -> (u32, u32) {
        let (cell_w, cell_h) = self.cell();
        let rows = self.tiles.len().div_ceil(self.columns) as i32;
        (
            (GRID_LEFT + self.columns as i32 * cell_w + 120) as u32,
            (GRID_TOP + rows * cell_h) as u32 + TITLE_BAND,
        )
    }

    pub fn draw(&self, title: &str, size: Option<(u32, u32)>, path: &Path) -> Result<(), Error> {
        let size = size.unwrap_or_else(|| self.fitted_size());
        let (cell_w, cell_h) = self.cell();
        let rows = self.tiles.len().div_ceil(self.columns) as i32;
        let limit = self
            .tiles
            .iter()
            .flat_map(|t| t.values.iter())
            .fold(0f32, |m, v| m.max(v.abs()))
            .max(1e-12) as f64;
        figure(path, size, title, |body| {
            for (k, tile) in self.tiles.iter().enumerate() {
                let (row, col) = ((k / self.columns) as i32, (k % self.columns) as i32);
                let (x, y) = (GRID_LEFT + col * cell_w, GRID_TOP + row * cell_h);
                text(body, &tile.title, (x, y), 16, path)?;
                let y = y + 22;
                let scale = self.scale;
                for (p, &v) in tile.values.iter().take(tile.side * tile.side).enumerate() {
                    let (r, c) = ((p / tile.side) as i32, (p % tile.side) as i32);
                    let (x0, y0) = (x + c * scale, y + r * scale);
                    body.draw(&Rectangle::new(
                        [(x0, y0), (x0 + scale, y0 + scale)],
                        self.colours.colour(v as f64, limit).filled(),
                    ))
                    .map_err(|e| fail(path)(&e))?;
                }
            }
            // Colour bar: the largest value at the top, −limit (or 0) at the bottom.
            let (bx, by, bw) = (
                GRID_LEFT + self.columns as i32 * cell_w + 10,
                GRID_TOP + 30,
                24,
            );
            let bh = (rows * cell_h - 80).clamp(100, 400);
            let low = match self.colours {
                Colours::Diverging => -1.0,
                Colours::Intensity => 0.0,
            };
            for i in 0..bh {
                let t = 1.0 - (1.0 - low) * i as f64 / (bh - 1) as f64;
                body.draw(&Rectangle::new(
                    [(bx, by + i), (bx + bw, by + i + 1)],
                    self.colours.colour(t * limit, limit).filled(),
                ))
                .map_err(|e| fail(path)(&e))?;
            }
            body.draw(&Rectangle::new([(bx, by), (bx + bw, by + bh)], BLACK))
                .map_err(|e| fail(path)(&e))?;
            let mut labels = vec![
                (1.0, format!("{limit:+.3}")),
                (low, format!("{:+.3}", low * limit)),
            ];
            if self.colours == Colours::Diverging {
                labels.push((0.0, "0".to_string()));
            }
            for (t, label) in labels {
                let y = by + ((1.0 - t) / (1.0 - low) * (bh - 1) as f64) as i32;
                text(body, &label, (bx + bw + 6, y - 8), 15, path)?;
            }
            text(body, self.quantity, (bx - 4, by + bh + 12), 15, path)?;
            Ok(())
        })
    }
}

/// 28×28 heatmaps of weight vectors (784 each) on one symmetric scale, with a colour bar.
/// `tiles` are (title, weights); laid out in rows of 5.
pub fn heatmaps(
    tiles: &[(String, Vec<f32>)],
    title: &str,
    size: (u32, u32),
    path: &Path,
) -> Result<(), Error> {
    let tiles: Vec<Tile> = tiles
        .iter()
        .map(|(title, values)| Tile {
            title: title.clone(),
            values: values[..IMAGE_PIXELS.min(values.len())].to_vec(),
            side: IMAGE_SIDE,
        })
        .collect();
    HeatmapGrid {
        tiles: &tiles,
        columns: 5,
        scale: 6,
        colours: Colours::Diverging,
        quantity: "weight",
    }
    .draw(title, Some(size), path)
}
