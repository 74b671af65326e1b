//! Dropout as the configs ask for it: a rate of 0 means no layer at all (so a model without
//! dropout has exactly the records and results it had before dropout existed).

use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;

/// burn's `Dropout` at `rate`, or none at 0.
pub(crate) fn dropout(rate: f64) -> Option<Dropout> {
    (rate > 0.0).then(|| DropoutConfig::new(rate).init())
}

/// `x` through the layer where there is one (it acts only while training), else `x` itself.
pub(crate) fn maybe_dropout<const D: usize>(layer: &Option<Dropout>, x: Tensor<D>) -> Tensor<D> {
    match layer {
        Some(d) => d.forward(x),
        None => x,
    }
}
