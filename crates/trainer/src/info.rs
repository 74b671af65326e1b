//! `mnist data info`: what a data source holds and what loading it costs.

use std::fmt::Write;
use std::path::Path;

use mnist_data::{Format, Mnist, NUM_CLASSES, Split};

use crate::sys;

/// Loads the source and describes it; the text ends with load time and peak memory.
pub fn data_info(path: Option<&Path>) -> Result<String, mnist_data::DataError> {
    let mnist = mnist_data::load(path)?;
    Ok(describe(&mnist))
}

pub fn describe(m: &Mnist) -> String {
    let mut s = String::new();
    let format = match m.format {
        Format::Mat => "MAT v5 (course layout: train0..train9, test0..test9)",
        Format::Idx => "IDX folder",
    };
    let _ = writeln!(s, "source     {}", m.path.display());
    let _ = writeln!(s, "format     {format}");
    if m.checksum_verified {
        let _ = writeln!(
            s,
            "sha256     {} (verified)",
            mnist_data::DEFAULT_MAT_SHA256
        );
    }
    let _ = write!(s, "{:<7}{:>7}", "split", "total");
    for d in 0..NUM_CLASSES {
        let _ = write!(s, "{:>6}", d);
    }
    let _ = writeln!(s, "{:>6}{:>6}{:>9}", "min", "max", "mean");
    for (name, split) in [("train", &m.train), ("test", &m.test)] {
        let _ = writeln!(s, "{}", split_line(name, split));
    }
    let _ = writeln!(s, "load time  {:.3} s", m.load_time.as_secs_f64());
    let _ = writeln!(s, "peak RSS   {}", sys::peak_rss_text());
    s
}

fn split_line(name: &str, split: &Split) -> String {
    let mut line = format!("{name:<7}{:>7}", split.len());
    for c in split.class_counts() {
        let _ = write!(line, "{c:>6}");
    }
    let (min, max, mean) = split.pixel_stats();
    let _ = write!(line, "{min:>6}{max:>6}{mean:>9.3}");
    line
}
