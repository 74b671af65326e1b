//! `mnist bench --sweep`'s files: the table (Markdown), the numbers (CSV) and the log-log plot.

use std::path::Path;

use mnist_trainer::Error;
use mnist_trainer::fsutil::atomic_write;
use mnist_trainer::sweep::{self, SweepRow};

/// Writes `sweep.md`, `sweep.csv` and `sweep.png` into `out` (created if needed).
pub fn write(rows: &[SweepRow], out: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "cannot create", e))?;
    atomic_write(&out.join("sweep.md"), sweep::table(rows).as_bytes())?;
    atomic_write(&out.join("sweep.csv"), sweep::csv(rows).as_bytes())?;
    crate::figures::bench::sweep(rows, &out.join("sweep.png"))
}
