//! Speed, measured on the full data: [`speed`] times the figures of the README's speed table
//! (data load, an epoch of each course config, inference, peak memory), with [`gemm`]'s
//! matrix-product rate and the floor it puts under the MLP epoch, [`sweep`] times the
//! MLP's training epoch over hidden sizes × batches, each point in a process of its own, beside
//! PyTorch's, and draws it log-log ([`sweep::figure`]).
//!
//! The caller says how to launch a point's process (this crate never spells the binary's
//! command line), and renders the returned values: nothing here prints.

pub mod gemm;
pub mod speed;
pub mod sweep;
