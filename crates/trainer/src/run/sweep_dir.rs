//! A sweep's own folder: the one owner of its layout. Every file and folder name in it is spelled
//! here and nowhere else. The runs of the sweep's points are ordinary run directories beside it,
//! in the same artifacts folder, named after the sweep and the point.
//!
//! ```text
//! <artifacts>/<sweep name>/
//!   sweep.toml            the sweep file as given; running the sweep again needs the same file
//!   points/<run>.toml     each point's resolved config (absolute paths): what its
//!                         `mnist train` process is given
//!   logs/<run>.log        the output of each point's `mnist train`, every attempt appended
//!   sweep.log             the output of `mnist sweep` itself, where the web app launched it
//!   sweep.csv             one row per point: its values, state, epochs, accuracies, seconds
//!   sweep.png             accuracy against each swept key (a heatmap for two keys)
//!   curves.png            every point's training NLL against updates and against seconds
//! <artifacts>/<run>/      a point's run directory (`RunDir`)
//! ```

use std::path::{Path, PathBuf};

use crate::Error;
use crate::run::dir::RunDir;
use crate::run::fsutil::atomic_write;
use crate::sweep::spec::{PointSpec, SweepSpec};
use crate::sweep::summary::{self, SweepRow};

const SWEEP_FILE: &str = "sweep.toml";
const POINTS: &str = "points";
const LOGS: &str = "logs";
const CSV: &str = "sweep.csv";
const SWEEP_LOG: &str = "sweep.log";
const ACCURACY_FIGURE: &str = "sweep.png";
const CURVES_FIGURE: &str = "curves.png";

/// A sweep's folder (it need not exist yet).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepDir {
    path: PathBuf,
}

impl SweepDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Whether `path` is a sweep's folder (it holds a `sweep.toml`): one file test, cheap
    /// enough for every entry of a runs listing.
    pub fn is_sweep(path: &Path) -> bool {
        path.join(SWEEP_FILE).is_file()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sweep's name: its folder's name.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// The sweep file as stored when the sweep first ran.
    pub fn sweep_file(&self) -> PathBuf {
        self.path.join(SWEEP_FILE)
    }

    /// The text of the stored sweep file, if there is one.
    pub fn stored_text(&self) -> Option<String> {
        std::fs::read_to_string(self.sweep_file()).ok()
    }

    /// The resolved config of the point whose run is called `run`.
    pub fn point_config(&self, run: &str) -> PathBuf {
        self.path.join(POINTS).join(format!("{run}.toml"))
    }

    /// Where the output of the point whose run is called `run` goes.
    pub fn log_file(&self, run: &str) -> PathBuf {
        self.path.join(LOGS).join(format!("{run}.log"))
    }

    /// Where the output of `mnist sweep` itself goes when the web app launches it.
    pub fn sweep_log(&self) -> PathBuf {
        self.path.join(SWEEP_LOG)
    }

    /// The sweep's figures by file name: the only files of the folder the web app serves.
    pub const FIGURES: [&'static str; 2] = [ACCURACY_FIGURE, CURVES_FIGURE];

    /// The figure called `file`, if it is one of the sweep's figure names.
    pub fn figure(&self, file: &str) -> Option<PathBuf> {
        Self::FIGURES.contains(&file).then(|| self.path.join(file))
    }

    pub fn csv_file(&self) -> PathBuf {
        self.path.join(CSV)
    }

    pub fn accuracy_figure(&self) -> PathBuf {
        self.path.join(ACCURACY_FIGURE)
    }

    pub fn curves_figure(&self) -> PathBuf {
        self.path.join(CURVES_FIGURE)
    }

    /// The run directory of the point whose run is called `run`: beside the sweep's folder.
    pub fn run_dir(&self, run: &str) -> RunDir {
        let artifacts = self.path.parent().unwrap_or(Path::new("."));
        RunDir::new(artifacts.join(run))
    }

    /// Makes the folder and its `points/` and `logs/` folders.
    pub fn create(&self) -> Result<(), Error> {
        for dir in [self.path.join(POINTS), self.path.join(LOGS)] {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "cannot create", e))?;
        }
        Ok(())
    }

    /// Writes one of the sweep's files (a path from this type) atomically.
    pub fn write(&self, file: &Path, bytes: &[u8]) -> Result<(), Error> {
        atomic_write(file, bytes)
    }

    /// The sweep's points, in the order they run, with their run names, from the stored sweep
    /// file (no config is resolved: what the web app needs to list a sweep).
    pub fn points(&self) -> Result<Vec<PointSpec>, Error> {
        let file = self.sweep_file();
        let text =
            std::fs::read_to_string(&file).map_err(|e| Error::io(&file, "cannot read", e))?;
        let (spec, _) = SweepSpec::parse(&text).map_err(|why| Error::Config {
            path: file.clone(),
            why,
        })?;
        Ok(spec.points(&self.name()))
    }

    /// One summary row per point, read from the points' run directories as they are now.
    pub fn rows(&self) -> Result<Vec<SweepRow>, Error> {
        Ok(self
            .points()?
            .iter()
            .map(|p| summary::row(&self.run_dir(&p.run), p))
            .collect())
    }
}
