//! Training the MNIST models. Two rooms: [`run`] (configs validated into plans, the run
//! directory and its files) and [`training`] (the trainers and what they run on), and
//! [`sweep`], which trains one config over lists of values, a `mnist train` process per point;
//! beside them
//! backend selection, the gradient check of the hand-written gradient, and NaN-aware number
//! checks ([`approx`]). Inference is `mnist-infer`'s, benchmarks `mnist-bench`'s, what explains
//! a finished run (figures, report) `mnist-report`'s.
//!
//! Nothing here prints: training reports to a [`training::observer::TrainObserver`] the caller
//! passes in, and every command's result is a value the binary renders.

pub mod approx;
pub mod backend;
mod error;
pub mod gradcheck;
pub mod run;
pub mod sweep;
pub mod sys;
/// Test tooling: configs on the fixture data (only with the `fixtures` feature).
#[cfg(feature = "fixtures")]
pub mod testing;
pub mod training;

pub use error::Error;
