//! One error type for every loader: it always names the file and says what is wrong with it.

use std::fmt;
use std::path::{Path, PathBuf};

/// A data file that could not be loaded. `Display` gives one line: `<file>: <cause>`.
#[derive(Debug)]
pub struct DataError {
    pub path: PathBuf,
    pub kind: ErrorKind,
}

/// What went wrong, so callers (and tests) can match on the cause rather than the text.
#[derive(Debug)]
pub enum ErrorKind {
    Io(std::io::Error),
    Empty,
    NotMat(String),
    MatV73,
    Truncated(String),
    Corrupt(String),
    MissingVariable(String),
    WrongClass {
        name: String,
        class: String,
    },
    WrongShape {
        name: String,
        shape: Vec<usize>,
    },
    Checksum {
        found: String,
        expected: String,
        lfs_pointer: bool,
    },
    Idx(String),
    /// One file of an IDX set given where its folder was expected.
    IdxFile,
    NotFound(String),
}

impl DataError {
    pub fn new(path: impl AsRef<Path>, kind: ErrorKind) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            kind,
        }
    }

    pub(crate) fn io(path: impl AsRef<Path>, err: std::io::Error) -> Self {
        Self::new(path, ErrorKind::Io(err))
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        match &self.kind {
            ErrorKind::Io(e) => write!(f, "cannot read: {e}"),
            ErrorKind::Empty => write!(f, "file is empty (0 bytes)"),
            ErrorKind::NotMat(why) => write!(f, "not a MAT v5 file: {why}"),
            ErrorKind::IdxFile => {
                let folder = self.path.parent().filter(|p| !p.as_os_str().is_empty());
                write!(
                    f,
                    "this is one file of an IDX set; pass the folder that holds all four \
                     (--data {})",
                    folder.map_or_else(|| ".".to_string(), |p| p.display().to_string())
                )
            }
            ErrorKind::MatV73 => write!(
                f,
                "MAT v7.3 (HDF5) file, which this reader does not support; \
                 re-save it as MAT v7 in MATLAB/Octave with `save -v7 <file>.mat <variables>`"
            ),
            ErrorKind::Truncated(why) => write!(f, "file is truncated: {why}"),
            ErrorKind::Corrupt(why) => write!(f, "file is corrupt: {why}"),
            ErrorKind::MissingVariable(name) => write!(
                f,
                "missing variable `{name}` (the course layout has train0..train9 and test0..test9)"
            ),
            ErrorKind::WrongClass { name, class } => write!(
                f,
                "variable `{name}` has class {class}, expected uint8 pixels (0..255)"
            ),
            ErrorKind::WrongShape { name, shape } => {
                let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
                write!(
                    f,
                    "variable `{name}` has shape {}, expected N×784 (one 28×28 image per row)",
                    dims.join("×")
                )
            }
            ErrorKind::Checksum {
                found,
                expected,
                lfs_pointer,
            } => {
                if *lfs_pointer {
                    write!(
                        f,
                        "is a Git LFS pointer, not the data; fetch the real file with `git lfs pull` \
                         or re-clone the repository"
                    )
                } else {
                    write!(
                        f,
                        "checksum mismatch (sha256 {found}, expected {expected}): the copy is damaged; \
                         restore it with `git checkout -- data/mnist_all.mat`"
                    )
                }
            }
            ErrorKind::Idx(why) => write!(f, "bad IDX file: {why}"),
            ErrorKind::NotFound(why) => write!(f, "not found: {why}"),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, DataError>;
