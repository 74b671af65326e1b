//! `mnist predict` on real test images written out as image files, as a user would have them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use image::{GrayImage, Luma};
use mnist_data::{IMAGE_SIDE, Split};
use mnist_trainer::backend::default_backend;
use mnist_trainer::observer::quiet;
use mnist_trainer::predict::{self, PredictRequest};
use mnist_trainer::rundir::{RunDir, Weights};
use mnist_trainer::testing::{TestConfig, adam};
use mnist_trainer::train::{self, TrainRequest};

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
    RunDir::new(run_dir)
        .open(Weights::Final, &device)
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
    let out = predict::prepare(&image::DynamicImage::ImageRgb8(page)).unwrap();
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
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grayscale
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for chunk in [ihdr, b"IDAT".to_vec(), b"IEND".to_vec()] {
        png.extend_from_slice(&(chunk.len() as u32 - 4).to_be_bytes());
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
