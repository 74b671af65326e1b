//! The loaders on small real fixtures (cut from the real data by `examples/make_fixtures.rs`),
//! on the real committed `data/mnist_all.mat`, and on every kind of damaged input.

use std::path::{Path, PathBuf};

use burn::data::dataset::Dataset;
use mnist_data::testing::{self, MatData, MatVar, fixtures_dir as fixtures};
use mnist_data::{DataError, ErrorKind, IMAGE_PIXELS, Split, idx, mat};

fn repo_mat() -> PathBuf {
    mnist_data::repo_root().join("data/mnist_all.mat")
}

/// The IDX fixtures (200 training and 100 test images), loaded as `mnist train` loads data.
fn idx_fixtures() -> mnist_data::Mnist {
    mnist_data::load(Some(&fixtures().join("mnist-idx"))).unwrap()
}

/// Groups a split by label, keeping order within each label: the `.mat` layout of IDX data.
fn digit_major(split: &Split) -> Split {
    let mut order: Vec<usize> = (0..split.len()).collect();
    order.sort_by_key(|&i| split.label(i)); // stable: IDX order within a digit
    split.select(order)
}

fn load_err(path: &Path) -> DataError {
    match mnist_data::load(Some(path)) {
        Ok(m) => panic!(
            "{} loaded ({} + {} images) but should have failed",
            path.display(),
            m.train.len(),
            m.test.len()
        ),
        Err(e) => e,
    }
}

/// Every error names the file and fits on one line.
fn assert_names_file(e: &DataError, path: &Path, cause: &str) {
    let text = e.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "no file name in: {text}"
    );
    assert!(text.contains(cause), "expected {cause:?} in: {text}");
    assert!(!text.contains('\n'), "multi-line error: {text}");
}

#[test]
fn mat_and_idx_fixtures_hold_the_same_images() {
    let from_mat = mnist_data::load(Some(&fixtures().join("mnist-mini.mat"))).unwrap();
    let from_idx = idx_fixtures();
    assert_eq!((from_idx.train.len(), from_idx.test.len()), (200, 100));
    assert_eq!(from_mat.train, digit_major(&from_idx.train));
    assert_eq!(from_mat.test, digit_major(&from_idx.test));
    // And item by item through the burn Dataset interface.
    let idx_sorted = digit_major(&from_idx.test);
    for i in 0..from_mat.test.len() {
        assert_eq!(
            Dataset::get(&from_mat.test, i).unwrap(),
            Dataset::get(&idx_sorted, i).unwrap()
        );
    }
}

#[test]
fn real_mat_file_is_row_major_after_loading() {
    // The IDX fixture was cut from LeCun's IDX files, which are row-major by definition; the
    // committed .mat file is column-major. Its train{d} holds the digits in IDX order, so the
    // first images of each digit must match the IDX fixture byte for byte.
    let full = mat::load(&repo_mat()).unwrap();
    let (idx_train, _) = idx::load(&fixtures().join("mnist-idx")).unwrap();
    for digit in 0..10u8 {
        let from_idx: Vec<&[u8]> = (0..idx_train.len())
            .filter(|&i| idx_train.label(i) == digit)
            .map(|i| idx_train.image(i))
            .collect();
        let from_mat: Vec<&[u8]> = (0..full.0.len())
            .filter(|&i| full.0.label(i) == digit)
            .take(from_idx.len())
            .map(|i| full.0.image(i))
            .collect();
        assert_eq!(from_mat, from_idx, "digit {digit}");
    }
    // A known pixel: MNIST's first training image is a 5 whose row 14 reads ... 81, 240, 253 ...
    let first_five = (0..full.0.len()).find(|&i| full.0.label(i) == 5).unwrap();
    let image = full.0.image(first_five);
    assert_eq!(&image[14 * 28 + 13..14 * 28 + 16], &[81, 240, 253]);
    assert_eq!(image[5 * 28 + 16], 126);
}

#[test]
fn column_to_row_major_transposes() {
    // A 2×3 matrix [[1, 2, 3], [4, 5, 6]] is stored by MATLAB as 1 4 2 5 3 6.
    assert_eq!(
        mat::column_to_row_major(&[1, 4, 2, 5, 3, 6], 2, 3),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        testing::row_to_column_major(&[1, 2, 3, 4, 5, 6], 2, 3),
        [1, 4, 2, 5, 3, 6]
    );
    // Tiles are 64 wide: check sizes that are not multiples of it.
    let (rows, cols) = (130, 70);
    let row_major: Vec<u8> = (0..rows * cols).map(|k| (k % 251) as u8).collect();
    let col_major = testing::row_to_column_major(&row_major, rows, cols);
    assert_eq!(mat::column_to_row_major(&col_major, rows, cols), row_major);
}

#[test]
fn batcher_scales_pixels_and_keeps_labels() {
    use burn::data::dataloader::batcher::Batcher;
    let split = idx_fixtures().test;
    let items: Vec<_> = (0..7).map(|i| Dataset::get(&split, i).unwrap()).collect();
    let device = burn::prelude::Device::default();
    let batch = mnist_data::MnistBatcher.batch(items.clone(), &device);
    assert_eq!(batch.images.dims(), [7, IMAGE_PIXELS]);
    assert_eq!(batch.targets.dims(), [7]);
    let pixels = batch.images.into_data().try_to_vec::<f32>().unwrap();
    let labels = batch
        .targets
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap();
    for (k, item) in items.iter().enumerate() {
        assert_eq!(labels[k], item.label as i64);
        for p in 0..IMAGE_PIXELS {
            assert_eq!(pixels[k * IMAGE_PIXELS + p], item.image[p] as f32 / 255.0);
        }
    }
    assert!(pixels.iter().all(|&p| (0.0..=1.0).contains(&p)));
}

#[test]
fn loads_fashion_mnist_idx() {
    let fashion = mnist_data::load(Some(&fixtures().join("fashion-idx"))).unwrap();
    assert_eq!((fashion.train.len(), fashion.test.len()), (100, 50));
    // Fashion-MNIST's first training item is an ankle boot (class 9).
    assert_eq!(fashion.train.label(0), 9);
}

#[test]
fn dataset_get_past_the_end_is_an_error() {
    let split = idx_fixtures().test;
    assert!(Dataset::get(&split, split.len()).is_err());
}

// ---- damaged inputs ----

#[test]
fn every_bad_input_is_an_error_naming_the_file_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let cases = testing::bad_inputs(dir.path(), &fixtures());
    assert!(cases.len() >= 15);
    for case in cases {
        let e = load_err(&case.path);
        assert_names_file(&e, &case.file, case.cause);
        let expected_kind = match case.name {
            "empty" => matches!(e.kind, ErrorKind::Empty),
            "garbage" => matches!(e.kind, ErrorKind::NotMat(_)),
            "v73" => matches!(e.kind, ErrorKind::MatV73),
            "truncated" => matches!(e.kind, ErrorKind::Truncated(_)),
            "corrupt" => matches!(e.kind, ErrorKind::Corrupt(_)),
            "missing" => matches!(&e.kind, ErrorKind::MissingVariable(n) if n == "test7"),
            "double" => matches!(&e.kind, ErrorKind::WrongClass { class, .. } if class == "double"),
            "783-columns" => {
                matches!(&e.kind, ErrorKind::WrongShape { shape, .. } if shape[1] == 783)
            }
            "idx-file" => matches!(e.kind, ErrorKind::IdxFile),
            _ => matches!(e.kind, ErrorKind::Idx(_)),
        };
        assert!(expected_kind, "{}: unexpected kind {:?}", case.name, e.kind);
    }
}

#[test]
fn truncated_file_is_never_loaded_as_less_data() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(fixtures().join("mnist-mini.mat")).unwrap();
    // Cut at many points, including inside the last variable's stream and its tag.
    for cut in (129..full.len())
        .step_by(997)
        .chain([full.len() - 1, full.len() - 9])
    {
        let path = write_bytes(dir.path(), "cut.mat", &full[..cut]);
        let e = load_err(&path);
        assert!(
            matches!(e.kind, ErrorKind::Truncated(_)),
            "cut at {cut}: {e}"
        );
        assert_names_file(&e, &path, "truncated");
    }
}

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn uncompressed_mat_loads_and_its_truncation_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let compressed = mnist_data::load(Some(&fixtures().join("mnist-mini.mat"))).unwrap();
    let path = dir.path().join("plain.mat");
    testing::write_mat(
        &path,
        &testing::course_variables(&compressed.train, &compressed.test),
        false,
    )
    .unwrap();
    let plain = mnist_data::load(Some(&path)).unwrap();
    assert_eq!(
        (plain.train, plain.test),
        (compressed.train, compressed.test)
    );
    let full = std::fs::read(&path).unwrap();
    let cut = write_bytes(dir.path(), "plain-cut.mat", &full[..full.len() * 2 / 3]);
    assert_names_file(&load_err(&cut), &cut, "truncated");
}

#[test]
fn extra_variables_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let m = mnist_data::load(Some(&fixtures().join("mnist-mini.mat"))).unwrap();
    let mut vars = testing::course_variables(&m.train, &m.test);
    vars.push(MatVar {
        name: "notes".into(),
        rows: 1,
        cols: 3,
        data: MatData::F64(vec![1.0, 2.0, 3.0]),
    });
    let path = dir.path().join("extra.mat");
    testing::write_mat(&path, &vars, true).unwrap();
    let m = mnist_data::load(Some(&path)).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (200, 100));
}

#[test]
fn checksum_catches_a_damaged_copy_and_an_lfs_pointer() {
    let path = repo_mat();
    let mut bytes = std::fs::read(&path).unwrap();
    mnist_data::verify_sha256(&path, &bytes, mnist_data::DEFAULT_MAT_SHA256).unwrap();
    bytes[5000] ^= 1;
    let e = mnist_data::verify_sha256(&path, &bytes, mnist_data::DEFAULT_MAT_SHA256).unwrap_err();
    assert_names_file(&e, &path, "checksum mismatch");
    assert!(e.to_string().contains("git checkout"), "{e}");
    let pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:9c6f53\nsize 13195324\n";
    let e = mnist_data::verify_sha256(&path, pointer, mnist_data::DEFAULT_MAT_SHA256).unwrap_err();
    assert_names_file(&e, &path, "Git LFS pointer");
}

#[test]
fn idx_missing_file_names_the_folder_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = testing::idx_copy(
        dir.path(),
        &fixtures().join("mnist-idx"),
        idx::TEST_FILES.1,
        &|_| {},
    );
    std::fs::remove_file(&file).unwrap();
    let e = load_err(file.parent().unwrap());
    assert_names_file(&e, file.parent().unwrap(), "t10k-labels-idx1-ubyte");
}

#[test]
fn missing_path() {
    let path = Path::new("/nonexistent/mnist.mat");
    assert_names_file(&load_err(path), path, "not found");
}

#[test]
fn one_file_of_an_idx_set_is_recognised_and_its_folder_suggested() {
    let dir = tempfile::tempdir().unwrap();
    let folder = fixtures().join("mnist-idx");
    for entry in std::fs::read_dir(&folder).unwrap() {
        let gz = entry.unwrap().path();
        // Gzipped as in the set, and unpacked: both are IDX files.
        let raw = dir.path().join(gz.file_stem().unwrap());
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()),
            &mut bytes,
        )
        .unwrap();
        std::fs::write(&raw, bytes).unwrap();
        for (file, parent) in [(&gz, &folder), (&raw, &dir.path().to_path_buf())] {
            let e = load_err(file);
            assert!(matches!(e.kind, ErrorKind::IdxFile), "{e}");
            let text = e.to_string();
            assert!(text.starts_with(&file.display().to_string()), "{text}");
            assert!(
                text.contains(&format!(
                    "pass the folder that holds all four (--data {})",
                    parent.display()
                )),
                "{text}"
            );
        }
    }
    // Anything else that is not a MAT file is still called that.
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, b"\x00\x00\x08\x07 not an IDX magic").unwrap();
    assert!(matches!(load_err(&other).kind, ErrorKind::NotMat(_)));
}

#[test]
fn a_holdout_is_disjoint_from_the_training_batches_and_fixed_by_the_seed() {
    use burn::data::dataloader::DataLoader;
    let train = idx_fixtures().train;
    let n = 50;
    let held = mnist_data::holdout_indices(train.len(), n, 7);
    assert_eq!(held, mnist_data::holdout_indices(train.len(), n, 7));
    assert_ne!(held, mnist_data::holdout_indices(train.len(), n, 8));
    assert_eq!(held.len(), n);
    assert!(
        held.windows(2).all(|w| w[0] < w[1]),
        "ascending, no repeats"
    );
    // Not simply the first images.
    assert_ne!(held, (0..n).collect::<Vec<_>>());
    let (kept, set_aside) = train.hold_out(n, 7);
    assert_eq!((kept.len(), set_aside.len()), (train.len() - n, n));
    assert_eq!(set_aside, train.select(held.iter().copied()));
    // Every image the training batches serve, over two shuffled epochs, is one of the kept
    // images and none of the held-out ones (MNIST's fixture images are all different).
    let is_held = |image: &[u8]| (0..n).any(|k| set_aside.image(k) == image);
    let device = burn::prelude::Device::default();
    let loader =
        mnist_data::MnistLoader::new(std::sync::Arc::new(kept.clone()), 16, &device).shuffle(7);
    for _epoch in 0..2 {
        let mut served = 0;
        for batch in loader.iter() {
            let pixels = batch
                .unwrap()
                .images
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            for image in pixels.chunks(IMAGE_PIXELS) {
                let bytes: Vec<u8> = image.iter().map(|&p| (p * 255.0).round() as u8).collect();
                assert!(!is_held(&bytes), "a held-out image in a training batch");
                served += 1;
            }
        }
        assert_eq!(served, train.len() - n);
    }
}

#[test]
fn augmentation_is_seeded_per_epoch_and_changes_the_images() {
    use burn::data::dataloader::DataLoader;
    let train = std::sync::Arc::new(idx_fixtures().train);
    let device = burn::prelude::Device::default();
    let augment = mnist_data::Augment::new(10.0, 0.1, 2.0, 5.0).unwrap();
    // Two epochs of a loader: every batch's pixels, in order.
    let epochs = |loader: mnist_data::MnistLoader| -> Vec<Vec<f32>> {
        (0..2)
            .flat_map(|_| {
                loader
                    .iter()
                    .map(|b| b.unwrap().images.into_data().try_to_vec::<f32>().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    // A new loader each time: clones of a loader share its epoch count (they are one loader).
    let plain = || mnist_data::MnistLoader::new(train.clone(), 25, &device).shuffle(3);
    let with = |seed| plain().augment(augment, seed);
    let (a, b, other) = (epochs(with(3)), epochs(with(3)), epochs(with(4)));
    let unchanged = epochs(plain());
    assert_eq!(a, b, "the same seed distorts the same way");
    assert_ne!(a, other, "another seed distorts another way");
    assert_ne!(a, unchanged);
    // Each epoch distorts anew: epoch 1's and epoch 2's first image differ even where they are
    // the same stored image, and prefetching on a thread serves the same pixels.
    let prefetched = epochs(with(3).prefetch(2));
    assert_eq!(a, prefetched);
    let order = with(3).order(1);
    let fresh = with(3);
    let first: Vec<_> = fresh.iter().map(|b| b.unwrap()).collect();
    let second: Vec<_> = fresh.iter().map(|b| b.unwrap()).collect();
    assert_eq!(first.len(), second.len());
    let pos = with(3)
        .order(2)
        .iter()
        .position(|&i| i == order[0])
        .unwrap();
    let image = |batches: &[mnist_data::MnistBatch], k: usize| -> Vec<f32> {
        let pixels = batches[k / 25]
            .images
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        pixels[(k % 25) * IMAGE_PIXELS..(k % 25 + 1) * IMAGE_PIXELS].to_vec()
    };
    assert_ne!(image(&first, 0), image(&second, pos));
    // Distorted pixels stay pixels.
    assert!(
        a.iter()
            .flatten()
            .all(|&p| (-1e-6..=1.0 + 1e-6).contains(&p))
    );
}
