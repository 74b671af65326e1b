//! The command line: every subcommand, flag and help text of `mnist`, in clap's derive form.
//! Only parsing lives here; `main` dispatches, `render` prints.

use std::ffi::OsStr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Parser, Subcommand};
use mnist_trainer::backend;

#[derive(Parser)]
#[command(
    name = "mnist",
    version,
    about = "MNIST: a linear softmax classifier from scratch vs an MLP in Burn",
    long_about = "MNIST: a linear softmax classifier from scratch vs an MLP in Burn.\n\n\
        Data defaults to the repository's data/mnist_all.mat (the course's file, checksum-verified);\n\
        configs and --data also take another course-layout .mat file or a folder of IDX files\n\
        (MNIST, Fashion-MNIST). Every run lives in its own directory (artifacts/<name>/): the\n\
        resolved config.toml, a checkpoint per epoch, metrics.csv and the final model.bpk.\n\
        Relative paths inside a config file are relative to that file's folder.\n\n\
        Cargo features decide which backends are compiled in (flex, ndarray, wgpu); --backend\n\
        picks one of them at run time."
)]
pub struct Cli {
    /// The backend to compute on: one compiled into this binary.
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        default_value = backend::default_name(),
        value_parser = BackendName
    )]
    pub backend: String,
    #[command(subcommand)]
    pub command: Command,
}

/// Accepts the names of the compiled backends; `--help` lists them from the same list.
#[derive(Clone)]
pub struct BackendName;

impl TypedValueParser for BackendName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        backend::compiled_name(&value.to_string_lossy())
            .map(str::to_string)
            .map_err(|e| {
                clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{e}\n"))
                    .with_cmd(cmd)
            })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            backend::names().into_iter().map(PossibleValue::new),
        ))
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Train a model from a TOML run config (see configs/).
    Train {
        /// The run config, e.g. configs/mlp.toml
        config: PathBuf,
        /// Name of the run directory under the config's `artifacts` folder [default: the
        /// config file's name without .toml]
        #[arg(long)]
        name: Option<String>,
        /// Continue the run from its last complete checkpoint; it ends where an uninterrupted
        /// run would have ended.
        #[arg(long, conflicts_with = "force")]
        resume: bool,
        /// Delete an existing run directory of the same name and start over.
        #[arg(long)]
        force: bool,
    },
    /// Train one config over lists of values: a run per point, then a table, CSV and figures.
    ///
    /// FILE is a run config (what `mnist train` takes) plus a [sweep] table. Every key there
    /// whose value is a list is swept, written as the config's key path:
    ///
    ///   [sweep]
    ///   "optimizer.lr" = [1e-4, 1e-3, 1e-2]
    ///   batch_size = [10, 50, 500]
    ///   mode = "grid"      # every combination (default), or "random":
    ///   # trials = 4       #   that many of them, drawn without repeats
    ///   # seed = 1         #   by this seed [default: the config's seed]
    ///
    /// (`seed = [1, 2, 3]`, a list, sweeps the run config's seed.) Every point is checked by
    /// `mnist train`'s own checks before anything runs; an error names the file, line and key.
    ///
    /// Each point is a run `<sweep>-<key>-<value>-…` (e.g. sweep-batch-batch_size-500) in the
    /// config's artifacts folder, trained by `mnist train` in a process of its own. The sweep's
    /// folder, <artifacts>/<sweep>/, keeps sweep.toml (the file as given), points/<run>.toml
    /// (each point's resolved config), logs/<run>.log (each point's output), and when all have
    /// run sweep.csv, sweep.png (accuracy against each swept key) and curves.png (training
    /// loss against updates and seconds).
    ///
    /// Running a sweep again skips finished points, resumes interrupted ones (--resume) and
    /// starts over those stopped before their first checkpoint; a run directory holding another
    /// config is never overwritten, and a changed sweep file needs a new --name. A failed point
    /// does not stop the others; the sweep then exits 1.
    Sweep {
        /// The sweep file, e.g. configs/sweep-batch.toml
        file: PathBuf,
        /// The sweep's name: its folder and its runs' prefix [default: FILE's name without
        /// .toml]
        #[arg(long)]
        name: Option<String>,
        /// Train up to N points at once (they share the machine, and so their seconds).
        #[arg(long, value_name = "N", default_value = "1")]
        parallel: NonZeroUsize,
    },
    /// Evaluate a run on the test set: loss, accuracy, confusion matrix.
    ///
    /// Rebuilds the model from the run's own config.toml, loads its final weights (or a
    /// checkpoint's) and writes the confusion matrix of exactly those weights into the run
    /// directory (confusion-final.png / confusion-epoch-N.png, with a CSV beside each).
    Eval {
        /// The run directory, e.g. artifacts/mlp
        run: PathBuf,
        /// Use the checkpoint of epoch N instead of the final model.
        #[arg(long, value_name = "N")]
        checkpoint: Option<usize>,
        /// Test data to use instead of the run's own (a .mat file or an IDX folder).
        #[arg(long, value_name = "PATH")]
        data: Option<PathBuf>,
    },
    /// Predict your own digit images (PNG, JPEG, BMP) with a trained run.
    ///
    /// Prints the top 3 classes per image. Images are prepared the way MNIST was: grayscale,
    /// inverted when the background is light, cropped to the ink, scaled to fit 20×20, centred
    /// by centre of mass in 28×28. Exits 1 if any image failed (the others are still predicted).
    Predict {
        /// The run directory, e.g. artifacts/mlp
        run: PathBuf,
        /// Image files
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Use the checkpoint of epoch N instead of the final model.
        #[arg(long, value_name = "N")]
        checkpoint: Option<usize>,
        /// Skip the preparation: the images are already 28×28, light ink on dark.
        #[arg(long)]
        raw: bool,
        /// Print one JSON object per image instead of text.
        #[arg(long)]
        json: bool,
        /// Write the 28×28 image the model saw for each input into DIR.
        #[arg(long, value_name = "DIR")]
        save_prepared: Option<PathBuf>,
        /// Explain each answer: figures beside the --save-prepared image (the saliency map, and
        /// the linear model's evidence, the MLP's strongest hidden units or the CNN's first
        /// feature maps); with --json, the numbers behind them too.
        #[arg(long, requires = "save_prepared")]
        explain: bool,
    },
    /// Measure speed on the full data (medians of several runs).
    ///
    /// Data load, an epoch of the MLP config through burn's Learner beside this machine's
    /// matrix-product rate and the floor it puts under that epoch, an epoch of the scratch
    /// linear config, full test-set inference, single-image latency and peak memory, on the data
    /// the MLP config names. Training output goes to a temporary folder that is removed
    /// afterwards.
    ///
    /// With --only FILE: that config alone, its training epochs then its inference, as one JSON
    /// line (what benches/compare/alternate.py sets beside PyTorch and numpy).
    ///
    /// With --sweep: the MLP config's training epoch at hidden 300 / 1000 / 3000 × batch
    /// 50 / 500, each point in a process of its own (seconds per epoch, peak memory), and with
    /// --torch the same points in PyTorch (benches/compare/torch_mlp.py); writes sweep.md,
    /// sweep.csv and the log-log plot sweep.png into --out.
    Bench {
        /// Epochs per training measurement.
        #[arg(long, default_value = "3")]
        epochs: NonZeroUsize,
        /// Repetitions of the load and inference measurements.
        #[arg(long, default_value = "5")]
        repeats: NonZeroUsize,
        /// The MLP config to time.
        #[arg(long, default_value = "configs/mlp.toml")]
        mlp_config: PathBuf,
        /// The scratch linear config to time.
        #[arg(long, default_value = "configs/linear-scratch.toml")]
        linear_config: PathBuf,
        /// Time this config alone (training epochs, then inference) and print one JSON line.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["sweep", "point"])]
        only: Option<PathBuf>,
        /// Sweep the MLP's hidden size and batch instead.
        #[arg(long, conflicts_with = "point")]
        sweep: bool,
        /// With --sweep: a Python that has torch and scipy, to time PyTorch at the same points.
        #[arg(long, value_name = "PYTHON", requires = "sweep")]
        torch: Option<PathBuf>,
        /// With --torch: the PyTorch script.
        #[arg(
            long,
            value_name = "FILE",
            default_value = "benches/compare/torch_mlp.py"
        )]
        torch_script: PathBuf,
        /// With --sweep: the folder for sweep.md, sweep.csv and sweep.png.
        #[arg(long, value_name = "DIR", default_value = "bench-sweep")]
        out: PathBuf,
        /// One point of a sweep, HIDDENxBATCH: time it in this process and print its timing as
        /// JSON (what --sweep runs).
        #[arg(long, value_name = "HIDDENxBATCH", value_parser = parse_point)]
        point: Option<(NonZeroUsize, NonZeroUsize)>,
    },
    /// Write a run's model as ONNX (default: model.onnx in the run directory).
    ///
    /// One input, `[batch, 784]` f32 pixels in [0, 1] (row-major 28×28, light ink on dark, as
    /// the data), one output, `[batch, 10]` logits (apply softmax for probabilities); any batch
    /// size; weights embedded. burn-onnx's exporter is experimental.
    Export {
        /// The run directory, e.g. artifacts/mlp
        run: PathBuf,
        /// Export the checkpoint of epoch N instead of the final model.
        #[arg(long, value_name = "N")]
        checkpoint: Option<usize>,
        /// Write here instead.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Redo a run's figures, confusion matrix and report.html from its saved files.
    Report {
        /// The run directory, e.g. artifacts/mlp
        run: PathBuf,
    },
    /// Check the hand-written gradient of the linear classifier.
    ///
    /// Compares it with central finite differences (f64) and with burn's autodiff on a real
    /// batch of 50 training images at random weights; exits 1 above tolerance.
    Gradcheck {
        /// A run config whose data and seed to use [default: data/mnist_all.mat, seed 42]
        config: Option<PathBuf>,
    },
    /// Serve a local web app: the runs, each run's report with a canvas to draw digits on, and
    /// comparisons of runs.
    ///
    /// Everything works offline; the page's assets are in the binary. Binds to loopback unless
    /// --addr says otherwise. The New run page launches `mnist train` (this program) for a
    /// config edited in the browser, at most --max-parallel at once; runs can be stopped (at a
    /// clean point), resumed and deleted from their page.
    ///
    /// A random token is made at start and printed in the address to open: requests that change
    /// something (launch, stop, resume, delete) need it (the page keeps it in a cookie; API
    /// clients send `Authorization: Bearer TOKEN`), requests from other sites' pages are
    /// refused, and on loopback so is any Host but localhost, 127.0.0.1 and [::1]. The API is
    /// described in the README.
    Serve {
        /// The folder of run directories.
        #[arg(long, value_name = "DIR", default_value = "artifacts")]
        artifacts: PathBuf,
        /// Address and port to listen on (port 0: any free port).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// The folder of config files the New run page starts from; relative paths in a config
        /// typed in the browser resolve against it, as if the file were there.
        #[arg(long, value_name = "DIR", default_value = "configs")]
        configs: PathBuf,
        /// Runs trained at once; more wait as `queued` [default: one per two cores, at least 1]
        #[arg(long, value_name = "N")]
        max_parallel: Option<NonZeroUsize>,
    },
    /// Compare finished runs in one static HTML page, figures beside it.
    ///
    /// Loss and accuracy per epoch and the smoothed training NLL of every run on the same axes,
    /// per-class accuracy side by side, each confusion matrix, and the test images the first two
    /// runs disagree on. The same page as the web app's /compare.
    Compare {
        /// Run directories, e.g. artifacts/linear-scratch artifacts/mlp
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
        /// The HTML file to write (figures go beside it).
        #[arg(long, value_name = "FILE", default_value = "compare.html")]
        out: PathBuf,
    },
    /// Inspect a data source.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Subcommand)]
pub enum DataCommand {
    /// Load a data source and print its splits, per-class counts, pixel range, load time and
    /// peak memory.
    Info {
        /// A course-layout .mat file or a folder of IDX files [default: data/mnist_all.mat]
        #[arg(long, value_name = "PATH")]
        data: Option<PathBuf>,
    },
}

/// `300x50` → (300, 50), for `bench --point`.
pub fn parse_point(text: &str) -> Result<(NonZeroUsize, NonZeroUsize), String> {
    let (hidden, batch) = text
        .split_once('x')
        .ok_or_else(|| format!("`{text}` is not HIDDENxBATCH, e.g. 300x50"))?;
    let positive = |v: &str, what: &str| {
        v.parse::<NonZeroUsize>()
            .map_err(|_| format!("{what} `{v}` in `{text}` is not a positive whole number"))
    };
    Ok((positive(hidden, "hidden")?, positive(batch, "batch")?))
}
