//! A look at the model as each training step begins, for records that need the weights while
//! they change (the run's weight snapshots).
//!
//! burn's Learner owns the model between steps and offers no hook that sees it; the one place
//! that does is the model's own [`burn::train::TrainStep::step`], which burn's single-device
//! training calls on the thread that launched the training. So the tap is a thread-local: set
//! around a `launch` by [`with_tap`], called by `step` before the batch is trained, and reset when
//! `with_tap` returns (or unwinds), so no other training on another thread ever sees it.

use std::cell::RefCell;

use crate::Model;

type Tap = Box<dyn FnMut(&Model)>;

thread_local! {
    static TAP: RefCell<Option<Tap>> = const { RefCell::new(None) };
}

/// Runs `f` with `tap` called on the model at the start of every training step on this thread.
pub fn with_tap<R>(tap: impl FnMut(&Model) + 'static, f: impl FnOnce() -> R) -> R {
    /// Removes the tap however `f` ends.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            TAP.with(|t| t.borrow_mut().take());
        }
    }
    TAP.with(|t| *t.borrow_mut() = Some(Box::new(tap)));
    let _reset = Reset;
    f()
}

/// Called by `step`: the model as it is before this batch's update.
pub(crate) fn before_step(model: &Model) {
    TAP.with(|t| {
        if let Some(tap) = t.borrow_mut().as_mut() {
            tap(model)
        }
    });
}
