//! Figures replace their file in one step: a reader (the web app sending a PNG) sees the old
//! figure or the new one, whole, never a half-drawn file, and no temporary file stays behind.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mnist_data::{IMAGE_PIXELS, NUM_CLASSES, Split};
use mnist_report::figures::{compare, course, run, updates};
use mnist_report::stats;
use mnist_trainer::Error;
use mnist_trainer::run::metrics::{EpochRecord, IterationRecord};
use mnist_trainer::testing::mnist_idx;

/// What every figure is drawn from: the fixture images and made-up records; `variant` changes
/// the numbers so that two drawings differ.
struct Inputs {
    variant: usize,
    train: Split,
    test: Split,
    predictions: Vec<u8>,
    iterations: Vec<IterationRecord>,
    epochs: Vec<EpochRecord>,
    linear: Vec<f32>,
    hidden: Vec<f32>,
    output: Vec<f32>,
}

const HIDDEN_UNITS: usize = 16;

fn inputs(variant: usize) -> Inputs {
    let data = mnist_data::load(Some(&mnist_idx())).unwrap();
    let v = variant as f64;
    let predictions = data
        .test
        .labels()
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            if i % (5 + variant) == 0 {
                (l + 1) % 10
            } else {
                l
            }
        })
        .collect();
    let iterations = (1..=60)
        .map(|i| IterationRecord {
            epoch: 1 + (i - 1) / 20,
            iteration: i,
            loss: 2.3 / (1.0 + 0.1 * i as f64 + v),
            accuracy: (0.1 + 0.012 * i as f64 + 0.05 * v).min(1.0),
            weights_updated: Some(7850 - 40 * i - 100 * variant),
        })
        .collect();
    let epochs = (1..=3)
        .map(|e| EpochRecord {
            epoch: e,
            train_loss: 1.0 / (e as f64 + v),
            train_acc: 0.8 + 0.05 * e as f64,
            valid_loss: 1.1 / (e as f64 + v),
            valid_acc: 0.78 + 0.05 * e as f64 - 0.01 * v,
            seconds: 1.0,
            train_seconds: 0.9,
        })
        .collect();
    let wave = |n: usize, k: f64| -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f64 * k + v).sin() * 0.3) as f32)
            .collect()
    };
    Inputs {
        variant,
        train: data.train,
        test: data.test,
        predictions,
        iterations,
        epochs,
        linear: wave((IMAGE_PIXELS + 1) * NUM_CLASSES, 0.013),
        hidden: wave(IMAGE_PIXELS * HIDDEN_UNITS, 0.007),
        output: wave(HIDDEN_UNITS * NUM_CLASSES, 0.9),
    }
}

impl Inputs {
    /// The images of the samples figure: the training images, or the test images to change it.
    fn samples(&self) -> &Split {
        if self.variant == 0 {
            &self.train
        } else {
            &self.test
        }
    }
}

type Draw = fn(&Inputs, &Path) -> Result<(), Error>;

/// Every figure the crate draws, by the file name the test gives it.
const FIGURES: [(&str, Draw); 11] = [
    ("samples.png", |x, p| course::samples_grid(x.samples(), p)),
    ("predictions.png", |x, p| {
        course::predictions_panel(&x.test, &x.predictions, p)
    }),
    ("curves.png", |x, p| {
        course::training_curves(&x.iterations, 20, &[45, 47], 50, p)
    }),
    ("weights.png", |x, p| course::linear_weights(&x.linear, p)),
    ("hidden.png", |x, p| {
        course::hidden_units(&x.hidden, &x.output, HIDDEN_UNITS, p)
    }),
    ("epochs.png", |x, p| {
        run::epoch_curves(&x.epochs, "test set", p)
    }),
    ("compare-epochs.png", |x, p| {
        run::compare_epoch_curves(&[("a", &x.epochs), ("b", &x.epochs[1..])], p)
    }),
    ("confusion.png", |x, p| {
        let m = stats::confusion_matrix(x.test.labels(), &x.predictions);
        run::confusion_figure(&m, "Confusion matrix", p)
    }),
    ("updates.png", |x, p| {
        assert!(updates::nll_vs_updates(&x.iterations, p)?);
        Ok(())
    }),
    ("compare-nll.png", |x, p| {
        compare::compare_nll(&[("a", &x.iterations), ("b", &x.iterations[5..])], p)
    }),
    ("disagreements.png", |x, p| {
        let a: &[u8] = &x.predictions;
        compare::disagreements(&x.test, ("a", a), ("b", x.test.labels()), p)
    }),
];

fn decode(bytes: &[u8], what: &str) -> image::RgbImage {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("{what}: not a whole PNG ({} bytes): {e}", bytes.len()))
        .to_rgb8()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A reader that opened a figure before it was redrawn (the web app in the middle of sending
/// it) still reads the old figure to its end: the new one is a new file renamed over the path,
/// not the old file truncated and drawn again.
#[cfg(unix)]
#[test]
fn every_figure_replaces_its_file_instead_of_drawing_into_it() {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;

    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (inputs(0), inputs(1));
    let mut in_place = Vec::new();
    for (name, draw) in FIGURES {
        let path = dir.path().join(name);
        draw(&first, &path).unwrap();
        let old = std::fs::read(&path).unwrap();
        let old_image = decode(&old, name);
        let mut held = std::fs::File::open(&path).unwrap();
        draw(&second, &path).unwrap();
        let mut seen = Vec::new();
        held.read_to_end(&mut seen).unwrap();
        let same_file = held.metadata().unwrap().ino() == std::fs::metadata(&path).unwrap().ino();
        if seen != old || same_file {
            in_place.push(format!(
                "{name} (the reader read {} bytes, not the old {})",
                seen.len(),
                old.len()
            ));
        }
        let new_image = decode(&std::fs::read(&path).unwrap(), name);
        assert_eq!(new_image.dimensions(), old_image.dimensions(), "{name}");
        assert!(
            new_image != old_image,
            "{name}: the inputs did not change it"
        );
    }
    assert!(
        in_place.is_empty(),
        "figures drawn into their file: {}",
        in_place.join(", ")
    );
    // Each figure's file and nothing else: no temporary file is left behind.
    let mut expected: Vec<String> = FIGURES.iter().map(|(n, _)| n.to_string()).collect();
    expected.sort();
    assert_eq!(names_in(dir.path()), expected);
}

/// Two threads redraw a figure over and over, each its own version, while a third reads the
/// file and decodes it each time: every read is one of the two figures, whole.
#[test]
fn a_figure_redrawn_under_a_reader_is_always_a_whole_png() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("confusion.png");
    let matrices: Vec<_> = [inputs(0), inputs(1)]
        .iter()
        .map(|x| stats::confusion_matrix(x.test.labels(), &x.predictions))
        .collect();
    let draw = |k: usize, to: &Path| run::confusion_figure(&matrices[k], "Confusion matrix", to);
    let versions: Vec<image::RgbImage> = (0..2)
        .map(|k| {
            let to = dir.path().join(format!("version-{k}.png"));
            draw(k, &to).unwrap();
            let image = decode(&std::fs::read(&to).unwrap(), "a version");
            std::fs::remove_file(&to).unwrap();
            image
        })
        .collect();
    assert!(versions[0] != versions[1]);
    draw(0, &path).unwrap();

    let (writing, reads) = (AtomicUsize::new(2), AtomicUsize::new(0));
    let limit = Duration::from_secs(60);
    let start = Instant::now();
    let (redraws, bad_reads) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..2)
            .map(|k| {
                let (path, draw, writing, reads) = (&path, &draw, &writing, &reads);
                s.spawn(move || {
                    // At least 15 redraws each, and on until the reader has looked 30 times
                    // (bounded in time).
                    let mut redraws = 0;
                    while (redraws < 15 || reads.load(Ordering::Acquire) < 30)
                        && start.elapsed() < limit
                    {
                        draw(k, path).unwrap();
                        redraws += 1;
                    }
                    writing.fetch_sub(1, Ordering::Release);
                    redraws
                })
            })
            .collect();
        let mut bad = Vec::new();
        while writing.load(Ordering::Acquire) > 0 && start.elapsed() < limit {
            let bytes = std::fs::read(&path).expect("the figure is always there");
            match image::load_from_memory_with_format(&bytes, image::ImageFormat::Png) {
                Ok(img) if versions.contains(&img.to_rgb8()) => {}
                Ok(img) => bad.push(format!(
                    "a {}x{} image that is neither version",
                    img.width(),
                    img.height()
                )),
                Err(e) => bad.push(format!("{} bytes: {e}", bytes.len())),
            }
            reads.fetch_add(1, Ordering::Release);
        }
        let redraws: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
        (redraws, bad)
    });
    let reads = reads.load(Ordering::Acquire);
    assert!(
        bad_reads.is_empty(),
        "{} of {reads} reads during {redraws} redraws were not a whole figure, e.g. {}",
        bad_reads.len(),
        bad_reads[0]
    );
    assert!(reads >= 30, "only {reads} reads in {limit:?}");
    assert_eq!(
        names_in(dir.path()),
        ["confusion.png"],
        "temporary files left"
    );
}
