//! Models loaded once per run and kept; a run whose final weights change (a new run trained
//! with `--force`, a finished resume) is loaded again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use burn::prelude::Device;
use mnist_models::Model;
use mnist_trainer::rundir::{RunDir, Weights};

/// A loaded model; inference takes the lock (a forward pass of one image is well under a
/// millisecond, so requests queue only briefly).
pub type Shared = Arc<Mutex<Model>>;

#[derive(Default)]
pub struct ModelCache {
    loaded: Mutex<HashMap<String, (Stamp, Shared)>>,
}

/// What identifies a weights file's version: its modification time and size.
type Stamp = (SystemTime, u64);

impl ModelCache {
    /// The run's final model, loaded now if it is not loaded yet or its file changed.
    /// Blocking: call it off the async threads.
    pub fn get(&self, run: &RunDir, device: &Device) -> Result<Shared, String> {
        let file = run.weights_file(Weights::Final);
        let meta = std::fs::metadata(&file).map_err(|_| {
            "the run has no final model yet (still training, or stopped early)".to_string()
        })?;
        let stamp = (
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
        );
        let name = run.name();
        if let Some((s, model)) = self.loaded.lock().ok().and_then(|m| m.get(&name).cloned())
            && s == stamp
        {
            return Ok(model);
        }
        let (_, model) = run
            .open(Weights::Final, device)
            .map_err(|e| e.to_string())?;
        let shared = Arc::new(Mutex::new(model));
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.insert(name, (stamp, shared.clone()));
        }
        Ok(shared)
    }
}
