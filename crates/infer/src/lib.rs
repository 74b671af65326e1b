//! Inference on a finished run: its model loaded from the run directory ([`model`]), a user's
//! image decoded within limits and prepared the way MNIST was made ([`prepare`]), prediction
//! ([`predict`]), why the model gave its answer ([`explain`]), and, with the `onnx` feature, the
//! model written as ONNX ([`export`]).
//!
//! The web server depends on this crate without `onnx`, so it never compiles burn-onnx (which
//! turns on burn's `capture`). Nothing here prints: results are values the caller renders.

pub mod explain;
#[cfg(feature = "onnx")]
pub mod export;
pub mod model;
pub mod predict;
pub mod prepare;
