//! Everything behind the `mnist` command: configs, training (burn's Learner), evaluation and
//! data reports. The binary only parses arguments and picks the backend.

pub mod backend;
pub mod bench;
pub mod config;
mod error;
pub mod eval;
pub mod figures;
pub mod fsutil;
pub mod gradcheck;
pub mod info;
pub mod metrics;
pub mod predict;
pub mod progress;
pub mod report;
pub mod run;
pub mod scratch;
pub mod sys;

pub use error::Error;
