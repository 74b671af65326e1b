//! The sweep: how the cost of an MLP training epoch grows with the hidden layer and
//! the batch, for this project and for PyTorch side by side.
//!
//! Every point runs in a process of its own (the caller's program, launched as the caller says,
//! which times it with [`time_point`], and `benches/compare/torch_mlp.py` with the same
//! options), so that the peak memory reported is that point's alone and no point warms the
//! caches or the allocator for the next.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::Command;

use mnist_trainer::Error;
use mnist_trainer::backend::Backend;
use mnist_trainer::run::fsutil::atomic_write;
use mnist_trainer::run::plan::Plan;
use mnist_trainer::training::observer::Observer;

use crate::speed::{in_scratch_dir, timed_run};

pub mod figure;

/// The sweep's hidden-layer sizes: the course's 300, and about 3× and 10× that.
pub const HIDDEN: [usize; 3] = [300, 1000, 3000];
/// The sweep's batch sizes: the course's 50, and 10× that.
pub const BATCH: [usize; 2] = [50, 500];

/// One implementation at one point (see [`crate::speed::Timing`]).
pub use crate::speed::Timing;

/// One point of the sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    pub hidden: usize,
    pub batch: usize,
    pub ours: Timing,
    pub torch: Option<Timing>,
}

/// How to run PyTorch's side.
#[derive(Clone, Debug)]
pub struct Torch {
    /// A Python with torch and scipy installed.
    pub python: PathBuf,
    /// `benches/compare/torch_mlp.py`.
    pub script: PathBuf,
    pub threads: usize,
}

/// What to sweep.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The MLP config whose data, optimizer and seed every point shares.
    pub config: PathBuf,
    pub epochs: NonZeroUsize,
    pub torch: Option<Torch>,
}

/// One point of the sweep, as the launcher is asked to run it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    pub hidden: usize,
    pub batch: usize,
    pub epochs: NonZeroUsize,
}

/// In the process of one point: trains the config's MLP at `hidden` × `batch` for `epochs`.
pub fn time_point(
    plan: &Plan,
    hidden: NonZeroUsize,
    batch: NonZeroUsize,
    epochs: NonZeroUsize,
    backend: &Backend,
    observer: Observer,
) -> Result<Timing, Error> {
    let plan = plan
        .clone()
        .with_mlp_shape(hidden, batch)
        .map_err(Error::Check)?;
    let outcome = in_scratch_dir(|dir| timed_run(&plan, "sweep", epochs, dir, backend, observer))?;
    Ok(Timing::of(&outcome, backend))
}

/// Runs every point, ours then PyTorch's; `launch` gives the command of this project's process
/// for a point (which must print its [`Timing`] as the last line, as [`time_point`] measures
/// it); `each` sees every row as it is done.
pub fn run(
    sweep: &Sweep,
    launch: impl Fn(Point) -> Command,
    mut each: impl FnMut(&SweepRow),
) -> Result<Vec<SweepRow>, Error> {
    let plan = Plan::load(&sweep.config)?;
    if let Some(torch) = &sweep.torch
        && !torch.script.is_file()
    {
        return Err(Error::run(
            &torch.script,
            "no such PyTorch script (it is benches/compare/torch_mlp.py in the repository: run \
             from the repository's root or pass --torch-script)",
        ));
    }
    let mut rows = Vec::new();
    for hidden in HIDDEN {
        for batch in BATCH {
            let ours = run_point(launch(Point {
                hidden,
                batch,
                epochs: sweep.epochs,
            }))?;
            let torch = match &sweep.torch {
                Some(torch) => Some(pytorch(torch, &plan, sweep.epochs, hidden, batch)?),
                None => None,
            };
            let row = SweepRow {
                hidden,
                batch,
                ours,
                torch,
            };
            each(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}

fn pytorch(
    torch: &Torch,
    plan: &Plan,
    epochs: NonZeroUsize,
    hidden: usize,
    batch: usize,
) -> Result<Timing, Error> {
    let mut command = Command::new(&torch.python);
    command
        .arg(&torch.script)
        .arg("--data")
        .arg(plan.data())
        .args([
            "--hidden",
            &hidden.to_string(),
            "--batch",
            &batch.to_string(),
            "--epochs",
            &epochs.to_string(),
            "--threads",
            &torch.threads.to_string(),
            "--json",
        ]);
    run_point(command)
}

/// Runs one point's process and reads the [`Timing`] on the last line of its output.
fn run_point(mut command: Command) -> Result<Timing, Error> {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(|e| Error::Check(format!("cannot run {shown}: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(Error::Check(format!(
            "{shown} failed ({}):\n{}",
            output.status,
            tail(&stderr, 20)
        )));
    }
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    last.and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| {
            Error::Check(format!(
                "{shown} printed no timing (a JSON line) at the end of its output:\n{}",
                tail(&stdout, 5)
            ))
        })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

const MB: f64 = 1e6;

/// The sweep as a Markdown table (the README's).
pub fn table(rows: &[SweepRow]) -> String {
    let mut out = String::from(
        "| hidden | batch | project s/epoch | PyTorch s/epoch | project ÷ PyTorch | project peak RSS | PyTorch peak RSS | project acc. | PyTorch acc. |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let t = row.torch.as_ref();
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "–".to_string());
        out.push_str(&format!(
            "| {} | {} | {:.2} | {} | {} | {:.0} MB | {} | {:.2}% | {} |\n",
            row.hidden,
            row.batch,
            row.ours.seconds_per_epoch,
            or_dash(t.map(|t| format!("{:.2}", t.seconds_per_epoch))),
            or_dash(t.map(|t| format!("{:.2}", row.ours.seconds_per_epoch / t.seconds_per_epoch))),
            row.ours.peak_rss_bytes as f64 / MB,
            or_dash(t.map(|t| format!("{:.0} MB", t.peak_rss_bytes as f64 / MB))),
            100.0 * row.ours.accuracy,
            or_dash(t.map(|t| format!("{:.2}%", 100.0 * t.accuracy))),
        ));
    }
    out
}

/// The sweep as CSV, one row per point and side; the free-text implementation last, quoted.
pub fn csv(rows: &[SweepRow]) -> String {
    let mut out = String::from(
        "hidden,batch,side,seconds_per_epoch,peak_rss_bytes,accuracy,implementation\n",
    );
    for row in rows {
        for (side, t) in [
            ("project", Some(&row.ours)),
            ("pytorch", row.torch.as_ref()),
        ] {
            if let Some(t) = t {
                out.push_str(&format!(
                    "{},{},{side},{:.4},{},{:.4},\"{}\"\n",
                    row.hidden,
                    row.batch,
                    t.seconds_per_epoch,
                    t.peak_rss_bytes,
                    t.accuracy,
                    t.implementation.replace('"', "\"\"")
                ));
            }
        }
    }
    out
}

/// Writes `sweep.md`, `sweep.csv` and `sweep.png` into `out` (created if needed).
pub fn write(rows: &[SweepRow], out: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "cannot create", e))?;
    atomic_write(&out.join("sweep.md"), table(rows).as_bytes())?;
    atomic_write(&out.join("sweep.csv"), csv(rows).as_bytes())?;
    figure::sweep(rows, &out.join("sweep.png"))
}
