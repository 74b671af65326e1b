//! Errors of the commands; each names the file or directory involved and, where there is one, the fix.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Data(#[from] mnist_data::DataError),
    #[error("{}: {why}", path.display())]
    Config { path: PathBuf, why: String },
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error(
        "{}: run directory already exists; pass --resume to continue it or --force to start it over",
        .0.display()
    )]
    RunExists(PathBuf),
    #[error("{}: {why}", path.display())]
    Run { path: PathBuf, why: String },
    #[error("training failed: {0}")]
    Training(String),
    #[error("{0}")]
    Check(String),
    /// Training stopped on request (Ctrl-C, SIGTERM, the web app's stop button) at a clean
    /// point: the run keeps the checkpoints of the epochs done before.
    #[error(
        "{}: stopped on request after epoch {after_epoch} of {epochs}; continue it with the same command and --resume",
        run.display()
    )]
    Stopped {
        run: PathBuf,
        after_epoch: usize,
        epochs: usize,
    },
    /// A sweep stopped on request: its trainers stopped at clean points, no new point started.
    #[error(
        "{}: the sweep stopped on request with {finished} of {points} points finished; run the \
         same sweep again to go on (finished points are skipped, stopped ones resumed)",
        sweep.display()
    )]
    SweepStopped {
        sweep: PathBuf,
        finished: usize,
        points: usize,
    },
}

impl Error {
    pub fn io(path: &Path, what: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            what,
            source,
        }
    }

    pub fn run(path: &Path, why: impl Into<String>) -> Self {
        Error::Run {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }
}
