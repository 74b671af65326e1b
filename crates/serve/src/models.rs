//! Models loaded once per run and kept; a run whose final weights change (a new run trained
//! with `--force`, a finished resume, a model copied over it) is loaded again.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use burn::prelude::Device;
use mnist_models::Model;
use mnist_trainer::run::dir::{RunDir, Weights};

/// A loaded model; inference takes the lock (a forward pass of one image is well under a
/// millisecond, so requests queue only briefly).
pub type Shared = Arc<Mutex<Model>>;

/// What tells one version of a file from another without reading it. Modification time and
/// size alone miss a retrained model of the same size copied with its time kept (`cp -p`,
/// rsync): a copy put in place by rename is a new inode, and one written over the old file
/// changes its status-change time, which no tool can set back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stamp {
    inode: (u64, u64),
    changed: (i64, i64),
    modified: SystemTime,
    size: u64,
}

/// The file's stamp, or `None` if it cannot be read.
pub fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let (inode, changed) = {
        use std::os::unix::fs::MetadataExt;
        ((meta.dev(), meta.ino()), (meta.ctime(), meta.ctime_nsec()))
    };
    #[cfg(not(unix))]
    let (inode, changed) = ((0, 0), (0, 0));
    Some(Stamp {
        inode,
        changed,
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        size: meta.len(),
    })
}

/// A run's loaded model and the stamp of the file it came from.
type Slot = Arc<Mutex<Option<(Stamp, Shared)>>>;

#[derive(Default)]
pub struct ModelCache {
    runs: Mutex<HashMap<String, Slot>>,
    /// How many times a model was loaded from disk.
    loads: AtomicUsize,
}

/// A lock whose holder panicked: the data is a cache entry, still usable or replaced next.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ModelCache {
    /// The run's final model, loaded now if it is not loaded yet or its file changed.
    /// Blocking: call it off the async threads. Concurrent first requests for a run wait for
    /// one load instead of each loading the model.
    pub fn get(&self, run: &RunDir, device: &Device) -> Result<Shared, String> {
        let no_model =
            || "the run has no final model yet (still training, or stopped early)".to_string();
        let stamp = stamp(&run.weights_file(Weights::Final)).ok_or_else(no_model)?;
        let slot = lock(&self.runs).entry(run.name()).or_default().clone();
        // Held while loading: the others asking for this run wait here, then find it loaded.
        let mut slot = lock(&slot);
        if let Some((s, model)) = &*slot
            && *s == stamp
        {
            return Ok(model.clone());
        }
        let (_, model) =
            mnist_infer::model::open(run, Weights::Final, device).map_err(|e| e.to_string())?;
        self.loads.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Mutex::new(model));
        *slot = Some((stamp, shared.clone()));
        Ok(shared)
    }

    /// How many times a model was loaded from disk.
    #[cfg(test)]
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mnist_trainer::backend::default_backend;
    use mnist_trainer::testing::TestConfig;
    use mnist_trainer::training::observer::quiet;
    use mnist_trainer::training::train::{self, TrainRequest};

    #[test]
    fn concurrent_first_requests_load_the_model_once() {
        let dir = tempfile::tempdir().unwrap();
        let request = TrainRequest {
            plan: TestConfig::scratch()
                .epochs(1)
                .artifacts(&dir.path().join("artifacts"))
                .plan(),
            name: "linear".into(),
            resume: false,
            force: false,
        };
        let backend = default_backend();
        let run = train::train(&request, &backend, quiet()).unwrap().run;
        let cache = ModelCache::default();
        let barrier = std::sync::Barrier::new(8);
        let models: Vec<Shared> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        cache.get(&run, &backend.device).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(cache.loads(), 1, "8 concurrent first requests");
        assert!(models.iter().all(|m| Arc::ptr_eq(m, &models[0])));
        // Unchanged file: the same model again, no load.
        let again = cache.get(&run, &backend.device).unwrap();
        assert!(Arc::ptr_eq(&again, &models[0]));
        assert_eq!(cache.loads(), 1);
    }
}
