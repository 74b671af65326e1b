//! Image decoding and preparation: the user's own digit images, prepared the way MNIST itself
//! was made.
//!
//! LeCun et al. describe the preparation: the digits were size-normalised to fit a 20×20 box
//! keeping their aspect ratio (anti-aliased, hence grey levels), then centred in a 28×28 image by
//! their centre of mass. MNIST digits are light ink on a dark background. A photo or scan of
//! handwriting is the opposite on every count, which is why it must be prepared the same way.

use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageReader, Luma};
use mnist_data::{IMAGE_PIXELS, IMAGE_SIDE};

/// Largest image accepted, per side and in total: a 40-megapixel photo is plenty for one digit,
/// and the limit stops a hostile header from making the decoder allocate gigabytes.
pub const MAX_SIDE: u32 = 10_000;
pub const MAX_PIXELS: u64 = 40_000_000;
/// Most bytes a decoded image may take: a 40-megapixel RGB photo (3 bytes a pixel) fits; an
/// RGBA or 16-bit image must be smaller. With the pixel limits this bounds what one decode
/// holds, whatever the file's header claims (a few kilobytes of PNG can decode to this much).
pub const MAX_DECODED_BYTES: u64 = MAX_PIXELS * 3;
/// Preparation works on at most this many pixels. A larger image is first averaged down by the
/// smallest whole factor that brings it within (each pixel the mean of a k×k block), a strip
/// at a time, so no full-size float copy of it is ever made. The digit ends up 20×20, so 4
/// megapixels keeps far more than it needs; images this size or smaller are prepared exactly
/// as they always were.
pub const WORK_PIXELS: u64 = 2048 * 2048;
/// The digit's box inside the 28×28 frame (MNIST's 20×20).
pub const BOX: u32 = 20;
/// Levels below this fraction of the background-to-brightest-ink range are set to 0: paper
/// texture, sensor noise.
pub const NOISE_FLOOR: f32 = 0.1;
/// The bounding box is that of the levels above this: MNIST boxed its (binary) source digits, so
/// an anti-aliased or blurred edge should not widen the box. Of 0, 0.2, 0.35 and 0.5, 0.2 kept the
/// accuracy of 500 re-prepared test images closest to the dataset's in all three test styles.
pub const INK_THRESHOLD: f32 = 0.2;

/// Opens an image file with size limits, checked on the header before decoding; only the
/// header is read before the format is known to be one of ours.
pub fn open(path: &Path) -> Result<DynamicImage, String> {
    let mut head = [0u8; 32];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| format!("cannot read: {e}"))?;
    decode_with(&head[..n], || {
        ImageReader::open(path).map_err(|e| format!("cannot read: {e}"))
    })
}

/// Decodes an image held in memory (an upload), with the same checks as [`open`].
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    decode_with(bytes, || Ok(ImageReader::new(std::io::Cursor::new(bytes))))
}

/// PNG, JPEG or BMP judged by `head` (the content, not a name), dimensions checked against the
/// limits before the pixels are decoded; `reader` opens the image anew for each pass.
fn decode_with<R: std::io::BufRead + std::io::Seek>(
    head: &[u8],
    reader: impl Fn() -> Result<ImageReader<R>, String>,
) -> Result<DynamicImage, String> {
    let format = image::guess_format(head)
        .ok()
        .filter(|f| {
            matches!(
                f,
                image::ImageFormat::Png | image::ImageFormat::Jpeg | image::ImageFormat::Bmp
            )
        })
        .ok_or("not an image in a supported format (PNG, JPEG, BMP)")?;
    let reader = || {
        reader().map(|mut r| {
            r.set_format(format);
            r
        })
    };
    // The header alone: dimensions and what the pixels would take once decoded.
    let (w, h, color, bytes) = {
        let decoder = reader()?
            .into_decoder()
            .map_err(|e| format!("cannot decode: {e}"))?;
        let (w, h) = decoder.dimensions();
        (w, h, decoder.color_type(), decoder.total_bytes())
    };
    if w > MAX_SIDE || h > MAX_SIDE || w as u64 * h as u64 > MAX_PIXELS {
        return Err(format!(
            "image is {w}×{h}, over the limit of {MAX_SIDE} pixels a side and {} megapixels",
            MAX_PIXELS / 1_000_000
        ));
    }
    if bytes > MAX_DECODED_BYTES {
        return Err(format!(
            "image is {w}×{h} {color:?}: {} MB decoded, over the limit of {} MB; scale it down \
             or save it as 8-bit RGB or greyscale",
            bytes.div_ceil(1_000_000),
            MAX_DECODED_BYTES / 1_000_000
        ));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // The decoded pixels plus a little for the decoder's own buffers.
    limits.max_alloc = Some(MAX_DECODED_BYTES + 16_000_000);
    let mut reader = reader()?;
    reader.limits(limits);
    reader.decode().map_err(|e| format!("cannot decode: {e}"))
}

/// The 28×28 image the model sees: `raw` takes the image as it is ([`prepare_raw`]), otherwise
/// it is prepared as MNIST was ([`prepare`]). The one choice `mnist predict --raw` and the
/// web app's `?raw` make.
pub fn for_model(img: &DynamicImage, raw: bool) -> Result<Vec<u8>, String> {
    if raw { prepare_raw(img) } else { prepare(img) }
}

/// `--raw`: an image that is already 28×28 MNIST-style (light ink on dark), taken as is.
pub fn prepare_raw(img: &DynamicImage) -> Result<Vec<u8>, String> {
    if img.width() as usize != IMAGE_SIDE || img.height() as usize != IMAGE_SIDE {
        return Err(format!(
            "--raw needs a 28×28 image, this one is {}×{}; leave out --raw to prepare it",
            img.width(),
            img.height()
        ));
    }
    Ok(img.to_luma8().into_raw())
}

/// MNIST-style preparation; returns 784 pixels, ink bright on dark.
pub fn prepare(img: &DynamicImage) -> Result<Vec<u8>, String> {
    if img.width() == 0 || img.height() == 0 {
        return Err(format!("empty image ({}×{})", img.width(), img.height()));
    }
    let (mut gray, w, h) = grey_levels(img);
    // The background is what the border mostly is; light background: invert so ink is bright.
    let mut border: Vec<f32> = (0..w)
        .flat_map(|x| [gray[x], gray[(h - 1) * w + x]])
        .chain((0..h).flat_map(|y| [gray[y * w], gray[y * w + w - 1]]))
        .collect();
    border.sort_by(f32::total_cmp);
    let mut background = border[border.len() / 2];
    if background > 0.5 {
        gray.iter_mut().for_each(|v| *v = 1.0 - *v);
        background = 1.0 - background;
    }
    let brightest = gray.iter().cloned().fold(0.0, f32::max);
    if brightest - background < 0.1 {
        return Err("blank image: no ink stands out from the background".into());
    }
    // Background to 0, brightest ink to 1 (in place: the grey levels are not needed after).
    let mut level = gray;
    level.iter_mut().for_each(|v| {
        let t = ((*v - background) / (brightest - background)).clamp(0.0, 1.0);
        *v = if t < NOISE_FLOOR { 0.0 } else { t };
    });
    // The ink's bounding box.
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (k, &v) in level.iter().enumerate() {
        if v > INK_THRESHOLD {
            let (x, y) = (k % w, k / w);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x1 < x0 {
        return Err("blank image: no ink stands out from the background".into());
    }
    let (bw, bh) = ((x1 - x0 + 1) as u32, (y1 - y0 + 1) as u32);
    let crop: ImageBuffer<Luma<f32>, Vec<f32>> = ImageBuffer::from_fn(bw, bh, |x, y| {
        Luma([level[(y0 + y as usize) * w + x0 + x as usize]])
    });
    // Longer side to 20 pixels, aspect ratio kept; a triangle filter averages when shrinking.
    let scale = BOX as f32 / bw.max(bh) as f32;
    let (sw, sh) = (
        ((bw as f32 * scale).round() as u32).clamp(1, BOX),
        ((bh as f32 * scale).round() as u32).clamp(1, BOX),
    );
    let scaled = image::imageops::resize(&crop, sw, sh, FilterType::Triangle);
    // Centre of mass of the scaled digit (in pixel indices) goes to pixel (14, 14): where MNIST's
    // own digits have it (the mean over its test set is (14.00, 13.98)).
    let (mut mass, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y, p) in scaled.enumerate_pixels() {
        let v = p.0[0].max(0.0);
        mass += v;
        mx += v * x as f32;
        my += v * y as f32;
    }
    let (cx, cy) = if mass > 0.0 {
        (mx / mass, my / mass)
    } else {
        (sw as f32 / 2.0, sh as f32 / 2.0)
    };
    let centre = (IMAGE_SIDE / 2) as f32;
    let ox = ((centre - cx).round() as i64).clamp(0, (IMAGE_SIDE as u32 - sw) as i64) as usize;
    let oy = ((centre - cy).round() as i64).clamp(0, (IMAGE_SIDE as u32 - sh) as i64) as usize;
    let mut out = vec![0u8; IMAGE_PIXELS];
    for (x, y, p) in scaled.enumerate_pixels() {
        let v = (p.0[0].clamp(0.0, 1.0) * 255.0).round() as u8;
        out[(oy + y as usize) * IMAGE_SIDE + ox + x as usize] = v;
    }
    Ok(out)
}

/// The whole factor an image of `w`×`h` is averaged down by before preparation: the smallest
/// that brings it within [`WORK_PIXELS`] (1 for any image already within).
pub fn reduction(w: u32, h: u32) -> u32 {
    (1..)
        .find(|&k: &u32| u64::from(w.div_ceil(k)) * u64::from(h.div_ceil(k)) <= WORK_PIXELS)
        .unwrap_or(1)
}

/// Grey levels in [0, 1] (transparent parts as white paper) of `img` reduced by
/// [`reduction`], row by row, with the width and height. The image is converted to floats a
/// strip of rows at a time (the same per-pixel conversion as a whole-image `to_rgba32f`, so an
/// image that is not reduced gets exactly the levels it always got); a reduced pixel is the
/// mean of its block (fewer pixels at the right and bottom edges).
fn grey_levels(img: &DynamicImage) -> (Vec<f32>, usize, usize) {
    let (w, h) = (img.width(), img.height());
    let level = |p: &image::Rgba<f32>| {
        let [r, g, b, a] = p.0;
        let luma = 0.299 * r + 0.587 * g + 0.114 * b;
        a * luma + (1.0 - a)
    };
    let k = reduction(w, h);
    let (gw, gh) = (w.div_ceil(k), h.div_ceil(k));
    let mut gray = Vec::with_capacity(gw as usize * gh as usize);
    // About 64K pixels (1 MB of floats) per strip when not reducing; one block row otherwise.
    let strip = if k == 1 { (65_536 / w).max(1) } else { k };
    let mut sums = vec![0.0f32; gw as usize];
    for y0 in (0..h).step_by(strip as usize) {
        let rows = strip.min(h - y0);
        let floats = img.crop_imm(0, y0, w, rows).to_rgba32f();
        if k == 1 {
            gray.extend(floats.pixels().map(level));
            continue;
        }
        sums.fill(0.0);
        for (x, _, p) in floats.enumerate_pixels() {
            sums[(x / k) as usize] += level(p);
        }
        gray.extend(sums.iter().enumerate().map(|(bx, s)| {
            let cols = k.min(w - bx as u32 * k);
            s / (cols * rows) as f32
        }));
    }
    (gray, gw as usize, gh as usize)
}
