//! Training and everything around it: configs validated into plans, backend selection, the run
//! directory, burn's Learner and the hand-written loop, evaluation, prediction, the gradient
//! check and the benchmark. What explains a finished run (figures, report) is `mnist-report`'s.
//!
//! Nothing here prints: training reports to a [`observer::TrainObserver`] the caller passes in.

pub mod adam;
pub mod backend;
pub mod bench;
pub mod compare;
pub mod config;
mod error;
pub mod evaluate;
pub mod export;
pub mod fsutil;
pub mod gradcheck;
pub mod info;
mod learner;
pub mod metrics;
pub mod observer;
pub mod plan;
pub mod predict;
pub mod rundir;
mod scratch;
mod session;
pub mod sweep;
pub mod sys;
/// Test tooling: configs on the fixture data (only with the `fixtures` feature).
#[cfg(feature = "fixtures")]
pub mod testing;
pub mod threads;
pub mod train;

pub use error::Error;
