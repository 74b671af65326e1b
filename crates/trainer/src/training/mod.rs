//! The training: [`train::train`] takes a plan to a finished run directory through one of the
//! two trainers (burn's Learner, or the hand-written loop of the from-scratch classifier), both
//! inside one [`session`] that records metrics and checkpoints; the fused Adam, the compute
//! threads, the observer the caller watches through, and evaluation on a split.

pub mod adam;
pub mod evaluate;
mod learner;
pub mod observer;
mod scratch;
mod session;
pub mod stop;
pub mod stopping;
pub mod threads;
pub mod train;
