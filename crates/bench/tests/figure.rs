//! The sweep's figure, drawn from rows like a real sweep's: a whole PNG of the figure's size,
//! redrawn over its file (never into it), changed by its inputs, with no temporary file left.

use mnist_bench::sweep::figure::sweep;
use mnist_bench::sweep::{BATCH, HIDDEN, SweepRow, Timing};

/// Every point of the sweep, slower with the hidden size and the batch; `scale` changes all of
/// them, and PyTorch's side is only at the first batch size (a sweep where its points failed).
fn rows(scale: f64) -> Vec<SweepRow> {
    let mut rows = Vec::new();
    for (i, &hidden) in HIDDEN.iter().enumerate() {
        for (j, &batch) in BATCH.iter().enumerate() {
            let timing = |f: f64| Timing {
                seconds_per_epoch: f * scale * (1.0 + i as f64) * (1.0 + j as f64),
                accuracy: 0.97,
                peak_rss_bytes: 1 << 28,
                implementation: "test".into(),
            };
            rows.push(SweepRow {
                hidden,
                batch,
                ours: timing(1.0),
                torch: (j == 0).then(|| timing(1.6)),
            });
        }
    }
    rows
}

fn decode(path: &std::path::Path) -> image::RgbImage {
    let bytes = std::fs::read(path).unwrap();
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("{}: not a whole PNG: {e}", path.display()))
        .to_rgb8()
}

#[cfg(unix)]
#[test]
fn the_sweep_figure_is_drawn_whole_and_replaces_its_file() {
    use std::os::unix::fs::MetadataExt;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sweep.png");
    sweep(&rows(0.4), &path).unwrap();
    let first = decode(&path);
    assert_eq!(first.dimensions(), (900, 620));
    let inode = std::fs::metadata(&path).unwrap().ino();

    // A partial sweep (its first four points) and slower points: another figure, a new file.
    sweep(&rows(0.9)[..4], &path).unwrap();
    let second = decode(&path);
    assert_eq!(second.dimensions(), first.dimensions());
    assert!(second != first, "the inputs did not change the figure");
    assert_ne!(std::fs::metadata(&path).unwrap().ino(), inode);

    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["sweep.png"], "temporary files left");
}
