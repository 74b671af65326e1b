//! A request to stop training at the next clean point: after the batch in progress, keeping the
//! checkpoints of the epochs already done, so the run can go on with `--resume`. The command line
//! sets it on Ctrl-C or SIGTERM; the web app's stop button sends SIGTERM to its child process.
//!
//! It is burn's own `Interrupter`, which the Learner checks after every batch; the hand-written
//! loop of the scratch trainer checks it after every batch too.

use burn::train::Interrupter;

/// Cloned handles share one request.
#[derive(Clone, Default)]
pub struct StopFlag {
    interrupter: Interrupter,
}

impl std::fmt::Debug for StopFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopFlag")
            .field("requested", &self.is_requested())
            .finish()
    }
}

/// Why a run stopped, as `Interruption::reason` carries it.
pub const REASON: &str = "a stop was requested";

impl StopFlag {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks training to stop after the batch in progress. Safe to call from any thread (a signal
    /// handler's thread included), more than once.
    pub fn stop(&self) {
        self.interrupter.stop(Some(REASON));
    }

    pub fn is_requested(&self) -> bool {
        self.interrupter.should_stop()
    }

    /// The interrupter the Learner is given.
    pub(crate) fn interrupter(&self) -> Interrupter {
        self.interrupter.clone()
    }
}
