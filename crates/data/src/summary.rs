//! What a data source holds: its splits' sizes, per-class counts and pixel range, and what
//! loading it took (`mnist data info`).

use std::path::PathBuf;

use crate::{DEFAULT_MAT_SHA256, Format, Mnist, NUM_CLASSES, Split};

/// A loaded source, summarised.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSummary {
    pub source: PathBuf,
    pub format: Format,
    /// The SHA-256 the file was verified against (the repository's own data file only).
    pub verified_sha256: Option<&'static str>,
    /// `train`, then `test`.
    pub splits: Vec<SplitSummary>,
    pub load_seconds: f64,
}

/// One split's counts and pixel range.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitSummary {
    pub name: &'static str,
    pub total: usize,
    pub class_counts: [usize; NUM_CLASSES],
    pub min: u8,
    pub max: u8,
    pub mean: f64,
}

impl DataSummary {
    pub fn of(m: &Mnist) -> Self {
        Self {
            source: m.path.clone(),
            format: m.format,
            verified_sha256: m.checksum_verified.then_some(DEFAULT_MAT_SHA256),
            splits: vec![
                SplitSummary::of("train", &m.train),
                SplitSummary::of("test", &m.test),
            ],
            load_seconds: m.load_time.as_secs_f64(),
        }
    }
}

impl SplitSummary {
    pub fn of(name: &'static str, split: &Split) -> Self {
        let (min, max, mean) = split.pixel_stats();
        Self {
            name,
            total: split.len(),
            class_counts: split.class_counts(),
            min,
            max,
            mean,
        }
    }
}

impl Format {
    /// How `mnist data info` names the format.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Mat => "MAT v5 (course layout: train0..train9, test0..test9)",
            Format::Idx => "IDX folder",
        }
    }
}
