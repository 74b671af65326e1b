//! `mnist predict` on real test images written out as image files, as a user would have them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use image::{GrayImage, Luma};
use mnist_data::{IMAGE_SIDE, Split};
use mnist_infer::predict::{self, PredictRequest};
use mnist_infer::prepare;
use mnist_trainer::backend::default_backend;
use mnist_trainer::run::dir::{RunDir, Weights};
use mnist_trainer::testing::{TestConfig, adam};
use mnist_trainer::training::observer::quiet;
use mnist_trainer::training::train::{self, TrainRequest};

/// One MLP trained for one epoch on the full committed data (about 3 s), shared by the tests.
fn trained_run() -> &'static (tempfile::TempDir, PathBuf, Arc<Split>) {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf, Arc<Split>)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let plan = TestConfig::mlp(300)
            .data(&mnist_data::default_path())
            .batch_size(50)
            .epochs(1)
            .optimizer(adam(0.001))
            .artifacts(&dir.path().join("runs"))
            .plan();
        let request = TrainRequest {
            plan,
            name: "mlp".into(),
            resume: false,
            force: false,
        };
        let outcome = train::train(&request, &default_backend(), quiet()).unwrap();
        (dir, outcome.run.path().to_path_buf(), outcome.test)
    })
}

/// The model of a run's final weights.
fn final_model(run_dir: &Path) -> mnist_models::Model {
    let device = default_backend().device;
    mnist_infer::model::open(&RunDir::new(run_dir), Weights::Final, &device)
        .unwrap()
        .1
}

/// 500 test images spread over all digits (the .mat file orders them by digit).
fn sample(test: &Split) -> Vec<usize> {
    (0..500).map(|k| k * test.len() / 500).collect()
}

fn to_image(pixels: &[u8]) -> GrayImage {
    GrayImage::from_raw(IMAGE_SIDE as u32, IMAGE_SIDE as u32, pixels.to_vec()).unwrap()
}

/// Writes each image in `style` and returns the paths.
fn write_style(dir: &Path, test: &Split, indices: &[usize], style: &str) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir.join(style)).unwrap();
    indices
        .iter()
        .map(|&i| {
            let digit = to_image(test.image(i));
            let img = match style {
                "as-is" => digit,
                // Black ink on white paper.
                "inverted" => {
                    GrayImage::from_fn(28, 28, |x, y| Luma([255 - digit.get_pixel(x, y).0[0]]))
                }
                // 4× larger, off-centre on a wide dark page.
                _ => {
                    let big = image::imageops::resize(
                        &digit,
                        112,
                        112,
                        image::imageops::FilterType::Triangle,
                    );
                    let mut page = GrayImage::new(260, 200);
                    image::imageops::overlay(
                        &mut page,
                        &big,
                        30 + (i % 90) as i64,
                        20 + (i % 60) as i64,
                    );
                    page
                }
            };
            let path = dir.join(style).join(format!("{i}.png"));
            img.save(&path).unwrap();
            path
        })
        .collect()
}

fn accuracy(predictions: &[u8], test: &Split, indices: &[usize]) -> f64 {
    let right = indices
        .iter()
        .zip(predictions)
        .filter(|(i, p)| test.label(**i) == **p)
        .count();
    right as f64 / indices.len() as f64
}

#[test]
fn prepared_images_are_predicted_as_well_as_the_dataset_tensors() {
    let (_, run_dir, test) = trained_run();
    let device = default_backend().device;
    let indices = sample(test);
    let model = final_model(run_dir);
    let tensors: Vec<Vec<u8>> = indices.iter().map(|&i| test.image(i).to_vec()).collect();
    let argmax = |p: &Vec<f32>| (0..10).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap() as u8;
    let reference: Vec<u8> = predict::probabilities(&model, &tensors, &device)
        .iter()
        .map(argmax)
        .collect();
    let reference_acc = accuracy(&reference, test, &indices);
    assert!(
        reference_acc > 0.9,
        "the 1-epoch MLP reaches {reference_acc}"
    );

    let dir = tempfile::tempdir().unwrap();
    for style in ["as-is", "inverted", "scaled-4x"] {
        let images = write_style(dir.path(), test, &indices, style);
        let request = PredictRequest {
            run: run_dir.clone(),
            images,
            ..Default::default()
        };
        let results = predict::predict(&request, &default_backend()).unwrap();
        let predicted: Vec<u8> = results
            .iter()
            .map(|r| r.as_ref().unwrap().top[0].0)
            .collect();
        let acc = accuracy(&predicted, test, &indices);
        eprintln!(
            "{style}: {:.1}% (dataset tensors {:.1}%)",
            100.0 * acc,
            100.0 * reference_acc
        );
        assert!(
            (acc - reference_acc).abs() <= 0.01,
            "{style}: {acc} vs {reference_acc}"
        );
    }
}

#[test]
fn raw_28x28_png_gives_exactly_the_dataset_probabilities() {
    let (_, run_dir, test) = trained_run();
    let device = default_backend().device;
    let indices = [3, 1234, 9999];
    let dir = tempfile::tempdir().unwrap();
    let images = write_style(dir.path(), test, &indices, "as-is");
    let request = PredictRequest {
        run: run_dir.clone(),
        images,
        raw: true,
        ..Default::default()
    };
    let results = predict::predict(&request, &default_backend()).unwrap();
    let model = final_model(run_dir);
    let tensors: Vec<Vec<u8>> = indices.iter().map(|&i| test.image(i).to_vec()).collect();
    let expected = predict::probabilities(&model, &tensors, &device);
    for (r, e) in results.iter().zip(&expected) {
        let r = r.as_ref().unwrap();
        assert_eq!(&r.probabilities, e);
        assert_eq!(
            r.prepared,
            tensors[results
                .iter()
                .position(|x| x.as_ref().unwrap().file == r.file)
                .unwrap()]
        );
    }
}

#[test]
fn preparation_inverts_crops_scales_and_centres() {
    // A dark, thick bar on a white page, far off-centre: it comes out light on dark, 20 pixels
    // tall, centred by its centre of mass.
    let mut page = image::RgbImage::from_pixel(300, 400, image::Rgb([250, 248, 240]));
    for y in 40..200 {
        for x in 200..240 {
            page.put_pixel(x, y, image::Rgb([20, 20, 30]));
        }
    }
    let out = prepare::prepare(&image::DynamicImage::ImageRgb8(page)).unwrap();
    let rows: Vec<usize> = (0..28)
        .filter(|&y| (0..28).any(|x| out[y * 28 + x] > 128))
        .collect();
    let cols: Vec<usize> = (0..28)
        .filter(|&x| (0..28).any(|y| out[y * 28 + x] > 128))
        .collect();
    assert_eq!(rows.len(), 20, "{rows:?}");
    // Centre of mass 9.5 rows into the 20-row box goes to row 14: rows 5..=24 (4.5 rounds up).
    assert_eq!((rows[0], rows[19]), (5, 24));
    assert_eq!(cols.len(), 5, "{cols:?}"); // 40:160 → 5:20
    let (mass, cx): (f64, f64) = (0..784).fold((0.0, 0.0), |(m, c), k| {
        (m + out[k] as f64, c + out[k] as f64 * (k % 28) as f64)
    });
    assert!(
        (cx / mass - 14.0).abs() <= 1.0,
        "centre of mass x = {}",
        cx / mass
    );
    assert_eq!(out[0], 0, "background must be dark");
}

#[test]
fn bad_images_get_their_own_error_and_the_rest_are_predicted() {
    let (_, run_dir, test) = trained_run();
    let dir = tempfile::tempdir().unwrap();
    let good = write_style(dir.path(), test, &[42], "as-is").remove(0);
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "not an image").unwrap();
    let blank = dir.path().join("blank.png");
    GrayImage::from_pixel(64, 64, Luma([255]))
        .save(&blank)
        .unwrap();
    let huge = dir.path().join("huge.png");
    std::fs::write(&huge, png_header(20_000, 20_000)).unwrap();
    let missing = dir.path().join("missing.png");
    let images = vec![
        text.clone(),
        good.clone(),
        blank.clone(),
        huge.clone(),
        missing.clone(),
    ];
    let request = PredictRequest {
        run: run_dir.clone(),
        images,
        ..Default::default()
    };
    let results = predict::predict(&request, &default_backend()).unwrap();
    let message = |k: usize| results[k].as_ref().unwrap_err().to_string();
    assert!(
        message(0).contains("notes.png")
            && message(0).contains("not an image in a supported format"),
        "{}",
        message(0)
    );
    assert_eq!(results[1].as_ref().unwrap().file, good);
    assert!(
        message(2).contains("blank.png") && message(2).contains("blank image"),
        "{}",
        message(2)
    );
    assert!(
        message(3).contains("huge.png") && message(3).contains("over the limit"),
        "{}",
        message(3)
    );
    assert!(
        message(4).contains("missing.png") && message(4).contains("cannot read"),
        "{}",
        message(4)
    );
}

/// The first bytes of a PNG claiming `w`×`h` pixels, with no image data: a decoder that trusted
/// the header would allocate w·h bytes.
pub fn png_header(w: u32, h: u32) -> Vec<u8> {
    png_header_of(w, h, 8, 0) // 8-bit grayscale
}

/// [`png_header`] with PNG's bit depth and colour type (0 grey, 2 RGB, 6 RGBA).
pub fn png_header_of(w: u32, h: u32, depth: u8, colour: u8) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &ihdr[..]), (b"IDAT", &[]), (b"IEND", &[])] {
        // A chunk: data length, type, data, CRC-32 of type and data.
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        png.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    png
}

#[test]
fn crafted_headers_are_well_formed_pngs() {
    // A PNG decoder checks the header chunk's CRC before it gives the dimensions.
    let header = png_header_of(20_000, 6_000, 16, 6);
    let reader =
        image::ImageReader::with_format(std::io::Cursor::new(&header), image::ImageFormat::Png);
    assert_eq!(reader.into_dimensions().unwrap(), (20_000, 6_000));
    // IEND's CRC is the same in every PNG.
    assert!(header.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
}

#[test]
fn an_image_that_would_decode_past_the_byte_limit_is_refused_before_decoding() {
    // 6,000 × 6,000 is within the pixel limits, but as 16-bit RGBA it is 288 MB decoded.
    let header = png_header_of(6_000, 6_000, 16, 6);
    let why = prepare::decode(&header).unwrap_err();
    assert!(
        why.contains("288 MB decoded, over the limit of 120 MB"),
        "{why}"
    );
    // The same file through `mnist predict`'s path.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.png");
    std::fs::write(&path, &header).unwrap();
    let why = prepare::open(&path).unwrap_err();
    assert!(why.contains("over the limit of 120 MB"), "{why}");
    // 6,300 × 6,300 8-bit grey (40 MB) is within it: the header passes, the missing pixels fail.
    let why = prepare::decode(&png_header(6_300, 6_300)).unwrap_err();
    assert!(!why.contains("over the limit"), "{why}");
}

/// The preparation as it was before large images were reduced first (the code of commit
/// e3e48e6, whole-image float conversion and all): the reference for images within
/// `WORK_PIXELS`, which must come out exactly as they did.
fn prepare_before(img: &image::DynamicImage) -> Result<Vec<u8>, String> {
    use image::imageops::FilterType;
    use image::{ImageBuffer, Luma};
    use mnist_data::IMAGE_PIXELS;
    use prepare::{BOX, INK_THRESHOLD, NOISE_FLOOR};
    let (w, h) = (img.width() as usize, img.height() as usize);
    let rgba = img.to_rgba32f();
    let mut gray: Vec<f32> = rgba
        .pixels()
        .map(|p| {
            let [r, g, b, a] = p.0;
            let luma = 0.299 * r + 0.587 * g + 0.114 * b;
            a * luma + (1.0 - a)
        })
        .collect();
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
    let level: Vec<f32> = gray
        .iter()
        .map(|&v| {
            let t = ((v - background) / (brightest - background)).clamp(0.0, 1.0);
            if t < NOISE_FLOOR { 0.0 } else { t }
        })
        .collect();
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
    let scale = BOX as f32 / bw.max(bh) as f32;
    let (sw, sh) = (
        ((bw as f32 * scale).round() as u32).clamp(1, BOX),
        ((bh as f32 * scale).round() as u32).clamp(1, BOX),
    );
    let scaled = image::imageops::resize(&crop, sw, sh, FilterType::Triangle);
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

/// Test image `k` drawn black on white in a `w`×`h` page, the digit filling a `side` square at
/// (`x`, `y`), each of its pixels a block.
fn page_with_digit(
    test: &Split,
    k: usize,
    (w, h): (u32, u32),
    (x, y, side): (u32, u32, u32),
) -> GrayImage {
    let digit = test.image(k);
    GrayImage::from_fn(w, h, |px, py| {
        if px < x || py < y || px >= x + side || py >= y + side {
            return Luma([255]);
        }
        let (i, j) = (
            ((py - y) * 28 / side) as usize,
            ((px - x) * 28 / side) as usize,
        );
        Luma([255 - digit[i * 28 + j]])
    })
}

#[test]
fn images_within_the_work_size_are_prepared_exactly_as_before() {
    let (_, _, test) = trained_run();
    let canvas = page_with_digit(test, 7, (280, 280), (0, 0, 280));
    // Transparent paper with ink in alpha, as a drawing app saves it.
    let page = page_with_digit(test, 11, (300, 200), (100, 20, 160));
    let transparent = image::RgbaImage::from_fn(300, 200, |x, y| {
        image::Rgba([10, 10, 40, 255 - page.get_pixel(x, y).0[0]])
    });
    // 16-bit grey with paper texture.
    let page = page_with_digit(test, 23, (120, 90), (40, 10, 70));
    let deep = image::ImageBuffer::<Luma<u16>, Vec<u16>>::from_fn(120, 90, |x, y| {
        Luma([(page.get_pixel(x, y).0[0] as u16) * 250 + ((x * 7 + y * 13) % 97) as u16])
    });
    // A colour photo-like page, and the largest page that is not reduced (2048 × 2048).
    let page = page_with_digit(test, 42, (640, 480), (300, 100, 200));
    let photo = image::RgbImage::from_fn(640, 480, |x, y| {
        let v = page.get_pixel(x, y).0[0];
        image::Rgb([v.saturating_sub(20), v.saturating_sub(10), v])
    });
    let largest = page_with_digit(test, 99, (2048, 2048), (500, 700, 900));
    assert_eq!(prepare::reduction(2048, 2048), 1);
    let images = [
        image::DynamicImage::ImageLuma8(canvas),
        image::DynamicImage::ImageRgba8(transparent),
        image::DynamicImage::ImageLuma16(deep),
        image::DynamicImage::ImageRgb8(photo),
        image::DynamicImage::ImageLuma8(to_image(test.image(5))),
        image::DynamicImage::ImageLuma8(largest),
    ];
    for (k, img) in images.iter().enumerate() {
        let now = prepare::prepare(img).unwrap();
        assert_eq!(now, prepare_before(img).unwrap(), "image {k}");
        assert!(now.iter().any(|&v| v > 200), "image {k} has ink");
    }
}

#[test]
fn a_huge_image_is_reduced_first_and_prepared_like_its_small_copy() {
    let (_, run_dir, test) = trained_run();
    let device = default_backend().device;
    let model = final_model(run_dir);
    assert_eq!(prepare::reduction(6_300, 6_300), 4);
    assert_eq!(prepare::reduction(3_000, 2_000), 2);
    let argmax = |p: &Vec<f32>| (0..10).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
    for (k, size, place) in [
        (0, (6_300, 6_300), (0, 0, 6_300)),
        (1234, (6_300, 6_300), (3_000, 500, 2_500)),
        (7777, (3_000, 2_000), (1_000, 100, 1_700)),
    ] {
        let huge = page_with_digit(test, k, size, place);
        let small = page_with_digit(test, k, (280, 280), (0, 0, 280));
        let huge = prepare::prepare(&image::DynamicImage::ImageLuma8(huge)).unwrap();
        let small = prepare::prepare(&image::DynamicImage::ImageLuma8(small)).unwrap();
        let diff: f64 = huge
            .iter()
            .zip(&small)
            .map(|(&a, &b)| (a as f64 - b as f64).abs())
            .sum::<f64>()
            / 784.0;
        assert!(
            diff < 6.0,
            "test image {k}: mean difference {diff:.2} of 255"
        );
        let p = predict::probabilities(&model, &[huge, small], &device);
        assert_eq!(argmax(&p[0]), argmax(&p[1]), "test image {k}");
    }
}
