//! MNIST for burn: the course's `mnist_all.mat` (the default, committed in `data/`) or a folder of
//! IDX files (MNIST, Fashion-MNIST), loaded strictly and exposed as burn [`Dataset`]s and a
//! [`Batcher`] that yields `[batch, 784]` pixels in [0, 1] and `[batch]` labels.

mod augment;
mod batcher;
mod error;
pub mod idx;
mod loader;
pub mod mat;
pub mod summary;
/// Test tooling (file writers, damaged inputs, fixture paths): only with the `fixtures` feature,
/// which only dev-dependencies turn on.
#[cfg(feature = "fixtures")]
pub mod testing;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::data::dataset::{Dataset, DatasetError};
use sha2::{Digest, Sha256};

pub use augment::{Augment, Distortion};
pub use batcher::{MnistBatch, MnistBatcher};
pub use error::{DataError, ErrorKind, Result};
pub use loader::{MnistLoader, batch_of, epoch_seed};

pub const IMAGE_SIDE: usize = 28;
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
pub const NUM_CLASSES: usize = 10;

/// Where the repository keeps the course's data file, relative to its root.
pub const DEFAULT_MAT: &str = "data/mnist_all.mat";
/// sha256 of the committed `data/mnist_all.mat` (the course's file, 60,000 + 10,000 images).
pub const DEFAULT_MAT_SHA256: &str =
    "9c6f5338d14de445c43c381103b721c12d29d742e153dbc4ce510bf8fe2c72ed";

/// The `n` indices of `0..len` a hold-out of `n` takes for `seed`, ascending: a seeded
/// shuffle's first `n` (the seed is salted, so the hold-out is not epoch 0's batch order).
pub fn holdout_indices(len: usize, n: usize, seed: u64) -> Vec<usize> {
    use rand::SeedableRng;
    use rand::seq::index::sample;
    assert!(
        n < len,
        "a hold-out of {n} from {len} images leaves nothing to train on"
    );
    // "holdout" in ASCII: a fixed salt, so the choice never changes for a seed.
    const SALT: u64 = 0x0068_6f6c_646f_7574;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ SALT);
    let mut held = sample(&mut rng, len, n).into_vec();
    held.sort_unstable();
    held
}

/// One image and its label, as the dataset hands them out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MnistItem {
    /// 28 rows of 28 pixels, row-major, 0 = background.
    pub image: [u8; IMAGE_PIXELS],
    pub label: u8,
}

/// One split (train or test), held as one contiguous buffer: `images` is `[len, 784]` row-major.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl Split {
    /// `images` is `[labels.len(), 784]` row-major.
    pub fn new(images: Vec<u8>, labels: Vec<u8>) -> Self {
        assert_eq!(
            images.len(),
            labels.len() * IMAGE_PIXELS,
            "one 784-pixel image per label"
        );
        Self { images, labels }
    }

    /// `n` random images with MNIST's sparsity, for tests of the kernels that skip zero pixels:
    /// each pixel 0 with probability 0.8 (MNIST: 150 of 784 inked on average), else 1..=255;
    /// labels 0..10. Deterministic in `seed`.
    pub fn synthetic(n: usize, seed: u64) -> Self {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let images = (0..n * IMAGE_PIXELS)
            .map(|_| {
                if rng.random_bool(0.2) {
                    rng.random_range(1u8..=255)
                } else {
                    0
                }
            })
            .collect();
        let labels = (0..n)
            .map(|_| rng.random_range(0..NUM_CLASSES as u8))
            .collect();
        Self::new(images, labels)
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]
    }
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }
    pub fn images(&self) -> &[u8] {
        &self.images
    }
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }
    /// The items at `indices`, in that order (for subsets and fixtures).
    pub fn select(&self, indices: impl IntoIterator<Item = usize>) -> Split {
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.label(i));
        }
        Split { images, labels }
    }
    /// Sets `n` images aside, chosen by `seed`: (the rest, the `n`), each in the split's order.
    /// `n` must be smaller than the split.
    pub fn hold_out(&self, n: usize, seed: u64) -> (Split, Split) {
        let held = holdout_indices(self.len(), n, seed);
        let mut is_held = vec![false; self.len()];
        for &i in &held {
            is_held[i] = true;
        }
        let kept = (0..self.len()).filter(|&i| !is_held[i]);
        (self.select(kept), self.select(held))
    }
    /// How many images of each class.
    pub fn class_counts(&self) -> [usize; NUM_CLASSES] {
        let mut counts = [0; NUM_CLASSES];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
    /// Minimum, maximum and mean pixel value over the split.
    pub fn pixel_stats(&self) -> (u8, u8, f64) {
        let min = self.images.iter().copied().min().unwrap_or(0);
        let max = self.images.iter().copied().max().unwrap_or(0);
        let sum: u64 = self.images.iter().map(|&p| p as u64).sum();
        (min, max, sum as f64 / self.images.len().max(1) as f64)
    }
}

impl Dataset<MnistItem> for Split {
    fn get(&self, index: usize) -> std::result::Result<MnistItem, DatasetError> {
        if index >= self.len() {
            let msg = format!("index {index} out of bounds for a split of {}", self.len());
            return Err(DatasetError::new(std::io::Error::other(msg)));
        }
        let mut image = [0u8; IMAGE_PIXELS];
        image.copy_from_slice(self.image(index));
        Ok(MnistItem {
            image,
            label: self.labels[index],
        })
    }
    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// The format a dataset was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Mat,
    Idx,
}

/// Both splits and where they came from.
#[derive(Clone, Debug)]
pub struct Mnist {
    pub train: Split,
    pub test: Split,
    pub path: PathBuf,
    pub format: Format,
    /// Set when the file was the repository's own copy and its sha256 matched.
    pub checksum_verified: bool,
    pub load_time: Duration,
}

/// The repository's `data/mnist_all.mat`: relative to the working directory when run from the
/// repository root, else in [`repo_root`].
pub fn default_path() -> PathBuf {
    let local = PathBuf::from(DEFAULT_MAT);
    if local.exists() {
        return local;
    }
    repo_root().join(DEFAULT_MAT)
}

/// The repository's root (the folder holding `Cargo.lock`) above the package cargo is running
/// (cargo sets `CARGO_MANIFEST_DIR` when it runs a test, an example or a bench), else above
/// where this crate was built from. Read at run time first: two clones sharing one target
/// folder share compiled crates, and a crate compiled in one clone would otherwise keep that
/// clone's path and read its files while testing the other's.
pub fn repo_root() -> PathBuf {
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    package
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .map_or_else(|| package.join("../.."), Path::to_path_buf)
}

/// Loads `path` (a `.mat` file or a folder of IDX files), or the repository's default file when
/// `None`. The default file's checksum is verified, so a damaged copy cannot pass for the data.
pub fn load(path: Option<&Path>) -> Result<Mnist> {
    let start = Instant::now();
    let default = default_path();
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default.clone());
    if !path.exists() {
        let hint = if path == default {
            "the repository's data file is missing; restore it with `git checkout -- data/mnist_all.mat`"
        } else {
            "give a course-layout .mat file or a folder holding the four IDX files"
        };
        return Err(DataError::new(&path, ErrorKind::NotFound(hint.into())));
    }
    let (train, test, format, checksum_verified) = if path.is_dir() {
        let (train, test) = idx::load(&path)?;
        (train, test, Format::Idx, false)
    } else {
        let bytes = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
        let is_default = same_file(&path, &default);
        if is_default {
            verify_sha256(&path, &bytes, DEFAULT_MAT_SHA256)?;
        }
        if idx::looks_like_idx_file(&bytes) {
            return Err(DataError::new(&path, ErrorKind::IdxFile));
        }
        let (train, test) = mat::parse(&path, &bytes)?;
        (train, test, Format::Mat, is_default)
    };
    Ok(Mnist {
        train,
        test,
        path,
        format,
        checksum_verified,
        load_time: start.elapsed(),
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Checks `bytes` (read from `path`) against an expected sha256 in hex.
pub fn verify_sha256(path: &Path, bytes: &[u8], expected: &str) -> Result<()> {
    let found: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if found == expected {
        return Ok(());
    }
    Err(DataError::new(
        path,
        ErrorKind::Checksum {
            found,
            expected: expected.to_string(),
            lfs_pointer: bytes.starts_with(b"version https://git-lfs"),
        },
    ))
}
