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
    register_font();
    let err = fail(path);
    let mut pixels = vec![0u8; 3 * size.0 as usize * size.1 as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let body = root
            .titled(title, (FONT, 26).into_font())
            .map_err(|e| err(&e))?;
        draw(&body)?;
        root.present().map_err(|e| err(&e))?;
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&pixels, size.0, size.1, ExtendedColorType::Rgb8)
        .map_err(|e| Error::run(path, format!("cannot encode the figure as PNG: {e}")))?;
    atomic_write(path, &png)
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

/// 28×28 heatmaps of weight vectors (784 each) on one symmetric scale, with a colour bar.
/// `tiles` are (title, weights); laid out in rows of 5.
pub fn heatmaps(
    tiles: &[(String, Vec<f32>)],
    title: &str,
    size: (u32, u32),
    path: &Path,
) -> Result<(), Error> {
    figure(path, size, title, |body| {
        let limit = tiles
            .iter()
            .flat_map(|(_, w)| w.iter())
            .fold(0f32, |m, v| m.max(v.abs()))
            .max(1e-12) as f64;
        let (scale, cell_w, cell_h, left, top) = (6, 190, 240, 20, 10);
        for (k, (name, w)) in tiles.iter().enumerate() {
            let (row, col) = ((k / 5) as i32, (k % 5) as i32);
            let (x, y) = (left + col * cell_w, top + row * cell_h);
            text(body, name, (x, y), 16, path)?;
            let y = y + 22;
            for (p, &v) in w.iter().take(IMAGE_PIXELS).enumerate() {
                let (r, c) = ((p / IMAGE_SIDE) as i32, (p % IMAGE_SIDE) as i32);
                let (x0, y0) = (x + c * scale, y + r * scale);
                body.draw(&Rectangle::new(
                    [(x0, y0), (x0 + scale, y0 + scale)],
                    diverging(v as f64 / limit).filled(),
                ))
                .map_err(|e| fail(path)(&e))?;
            }
        }
        // Colour bar: +limit at the top, −limit at the bottom.
        let (bx, by, bw, bh) = (left + 5 * cell_w + 10, top + 30, 24, 400);
        for i in 0..bh {
            let t = 1.0 - 2.0 * i as f64 / (bh - 1) as f64;
            body.draw(&Rectangle::new(
                [(bx, by + i), (bx + bw, by + i + 1)],
                diverging(t).filled(),
            ))
            .map_err(|e| fail(path)(&e))?;
        }
        body.draw(&Rectangle::new([(bx, by), (bx + bw, by + bh)], BLACK))
            .map_err(|e| fail(path)(&e))?;
        for (t, label) in [
            (1.0, format!("{limit:+.3}")),
            (0.0, "0".to_string()),
            (-1.0, format!("{:+.3}", -limit)),
        ] {
            let y = by + ((1.0 - t) / 2.0 * (bh - 1) as f64) as i32;
            text(body, &label, (bx + bw + 6, y - 8), 15, path)?;
        }
        text(body, "weight", (bx - 4, by + bh + 12), 15, path)?;
        Ok(())
    })
}
