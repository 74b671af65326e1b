//! What the models' tests compare: a tensor's values, and two forms of one computation.

use burn::prelude::*;

/// A tensor's values as f32, in order.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec().unwrap()
}

/// The largest absolute difference between two equally long lists of values.
pub fn worst_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lists of different lengths");
    a.iter().zip(b).fold(0f32, |m, (p, q)| m.max((p - q).abs()))
}

/// `got` is `expected` to within 1e-5 of the larger of 1 and `expected`'s largest magnitude,
/// and `expected` is not all zero (so the comparison says something). `what` names it.
pub fn assert_same_to_scale(what: &str, got: &[f32], expected: &[f32]) {
    let worst = worst_difference(got, expected);
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "{what} all zero");
    assert!(
        worst <= 1e-5 * scale.max(1.0),
        "{what}: {worst} (scale {scale})"
    );
}
