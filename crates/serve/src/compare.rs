//! The compare page's work, kept: each run's evaluation on its test set per version of its
//! weights, and the figures of the last comparisons (files in the scratch folder, the oldest
//! deleted past a bound). A repeated comparison is then a lookup, not a reload of the dataset,
//! two evaluations over the whole test set and new figures.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tempfile::TempDir;

use mnist_data::Split;
use mnist_report::compare::{CompareFigures, Compared, Curves};
use mnist_trainer::backend::Backend;
use mnist_trainer::run::dir::{RunDir, Weights};

use crate::catalog;
use crate::models::{Stamp, stamp};

/// Evaluations kept (one per run; each holds its test set, about 8 MB for MNIST).
pub const KEPT_RUNS: usize = 8;
/// Comparisons whose figures are kept on disk (about 600 KB each on the full data).
pub const KEPT_COMPARISONS: usize = 8;

/// A run's evaluation and its test set.
type Evaluation = Arc<(Compared, Arc<Split>)>;
type Slot = Arc<Mutex<Option<(Stamp, Evaluation)>>>;

/// What identifies a comparison: its runs, in order, and the version of each one's weights.
type Key = Vec<(String, Stamp)>;

struct Page {
    key: Key,
    html: String,
    files: Vec<String>,
}

/// The server's scratch folder: a `tempfile` folder with an unpredictable name
/// (`mnist-serve-XXXXXX`), made at the first comparison (a server that never compares, or is
/// killed before it does, leaves nothing) and removed by [`Scratch::close`] when the server
/// stops.
pub struct Scratch {
    parent: PathBuf,
    dir: Mutex<Option<TempDir>>,
    closed: std::sync::atomic::AtomicBool,
}

impl Scratch {
    /// A scratch folder to be made in `parent`.
    pub fn new(parent: &Path) -> Self {
        Self {
            parent: parent.to_path_buf(),
            dir: Mutex::default(),
            closed: Default::default(),
        }
    }

    /// The folder, made now if it is not there yet.
    fn path(&self) -> Result<PathBuf, String> {
        let mut dir = lock(&self.dir);
        if self.closed.load(Ordering::SeqCst) {
            return Err("the server is stopping".into());
        }
        if dir.is_none() {
            let made = tempfile::Builder::new()
                .prefix("mnist-serve-")
                .tempdir_in(&self.parent)
                .map_err(|e| {
                    format!(
                        "cannot create a scratch folder in {}: {e}",
                        self.parent.display()
                    )
                })?;
            *dir = Some(made);
        }
        Ok(dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default())
    }

    /// The folder if it was made.
    pub fn existing(&self) -> Option<PathBuf> {
        lock(&self.dir).as_ref().map(|d| d.path().to_path_buf())
    }

    /// Removes the folder and everything in it; no folder is made after this.
    pub fn close(&self) {
        let mut dir = lock(&self.dir);
        self.closed.store(true, Ordering::SeqCst);
        if let Some(d) = dir.take() {
            let _ = d.close();
        }
    }
}

pub struct Comparisons {
    scratch: Arc<Scratch>,
    /// By run name, the most recently used last.
    runs: Mutex<VecDeque<(String, Slot)>>,
    /// The most recently used last.
    pages: Mutex<VecDeque<Page>>,
    /// Numbers each comparison's figure files apart.
    drawn: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The run's slot, moved to the most recent end; the least recently used one is dropped past
/// [`KEPT_RUNS`].
fn slot(runs: &Mutex<VecDeque<(String, Slot)>>, name: &str) -> Slot {
    let mut runs = lock(runs);
    let slot = match runs.iter().position(|(n, _)| n == name) {
        Some(k) => runs.remove(k).map(|(_, s)| s).unwrap_or_default(),
        None => Slot::default(),
    };
    runs.push_back((name.to_string(), slot.clone()));
    while runs.len() > KEPT_RUNS {
        runs.pop_front();
    }
    slot
}

impl Comparisons {
    /// Comparisons drawn into `scratch`.
    pub fn new(scratch: Arc<Scratch>) -> Self {
        Self {
            scratch,
            runs: Mutex::default(),
            pages: Mutex::default(),
            drawn: AtomicUsize::new(0),
        }
    }

    /// The figure file called `file`, if figures were drawn.
    pub fn figure(&self, file: &str) -> Option<PathBuf> {
        self.scratch.existing().map(|d| d.join(file))
    }

    /// The comparison of the runs called `names` as HTML (figures linked as `/compare/<file>`),
    /// from what is kept where the runs are unchanged. Blocking. The error is a sentence for
    /// the page.
    pub fn page(
        &self,
        artifacts: &Path,
        backend: &Backend,
        names: &[String],
    ) -> Result<String, String> {
        if names.len() < 2 {
            return Err(
                "Choose at least two runs to compare (check them on the runs page).".into(),
            );
        }
        let mut runs = Vec::new();
        let mut key = Key::new();
        for name in names {
            let run = catalog::find(artifacts, name).ok_or(format!("No run called `{name}`."))?;
            let version = stamp(&run.weights_file(Weights::Final)).ok_or(format!(
                "Run `{name}` cannot be compared: it has no final model yet."
            ))?;
            key.push((name.clone(), version));
            runs.push(run);
        }
        if let Some(html) = self.kept(&key) {
            return Ok(html);
        }
        let pairs: Vec<_> = key.iter().zip(&runs).collect();
        // Copies of the kept evaluations: cheap next to drawing.
        let (compared, test) = mnist_report::compare::gather(&pairs, |((name, version), run)| {
            self.evaluation(run, *version, backend)
                .map(|e| (e.0.clone(), e.1.clone()))
                .map_err(|e| format!("Run `{name}` cannot be compared: {e}"))
        })?;
        let test = test.expect("at least two runs");
        let prefix = format!("{}-", self.drawn.fetch_add(1, Ordering::Relaxed));
        let scratch = self.scratch.path()?;
        // The page's interactive charts show the epoch and NLL curves (from the same records):
        // not drawn a second time as figures.
        let figures = mnist_report::compare::write_figures(
            &compared,
            &test,
            &scratch,
            &prefix,
            Curves::Omitted,
        )
        .map_err(|e| e.to_string())?;
        let html = mnist_report::compare::html(&compared, &figures, &|f| format!("/compare/{f}"));
        Ok(self.keep(Page {
            key,
            html,
            files: files(&figures),
        }))
    }

    /// A kept comparison's page, marked as the most recently used.
    fn kept(&self, key: &Key) -> Option<String> {
        let mut pages = lock(&self.pages);
        let k = pages.iter().position(|p| &p.key == key)?;
        let page = pages.remove(k)?;
        let html = page.html.clone();
        pages.push_back(page);
        Some(html)
    }

    /// Keeps `page` and answers its HTML; the figures of the least recently used comparisons
    /// past [`KEPT_COMPARISONS`] are deleted. If the same comparison was kept meanwhile (two
    /// requests at once), that one stays and these figures go.
    fn keep(&self, page: Page) -> String {
        let mut pages = lock(&self.pages);
        let mut gone = Vec::new();
        let html = if let Some(same) = pages.iter().find(|p| p.key == page.key) {
            let html = same.html.clone();
            gone.push(page);
            html
        } else {
            let html = page.html.clone();
            pages.push_back(page);
            while pages.len() > KEPT_COMPARISONS {
                gone.extend(pages.pop_front());
            }
            html
        };
        drop(pages);
        if let Some(scratch) = self.scratch.existing() {
            for file in gone.iter().flat_map(|p| &p.files) {
                let _ = std::fs::remove_file(scratch.join(file));
            }
        }
        html
    }

    /// The run's evaluation for weights `version`, made now if it is not kept. Concurrent
    /// comparisons of one run wait for one evaluation.
    fn evaluation(
        &self,
        run: &RunDir,
        version: Stamp,
        backend: &Backend,
    ) -> Result<Evaluation, mnist_trainer::Error> {
        let slot = slot(&self.runs, &run.name());
        let mut slot = lock(&slot);
        if let Some((v, e)) = &*slot
            && *v == version
        {
            return Ok(e.clone());
        }
        let evaluation = Arc::new(mnist_report::compare::load(run, backend)?);
        *slot = Some((version, evaluation.clone()));
        Ok(evaluation)
    }
}

fn files(f: &CompareFigures) -> Vec<String> {
    f.epochs
        .iter()
        .chain(&f.nll)
        .chain(&f.disagreements)
        .chain(&f.confusions)
        .cloned()
        .collect()
}
