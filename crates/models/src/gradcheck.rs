//! The pure side of the gradient check, beside the hand gradient it checks (`linear.rs`,
//! [`crate::hand_gradient`]): the mean cross-entropy of the linear classifier and its central
//! finite differences, in f64, with no tensor library involved. The check itself (these and
//! burn's autodiff against the hand gradient) is `mnist_trainer::gradcheck`'s.

use mnist_data::{IMAGE_PIXELS, NUM_CLASSES};

/// Step of the central differences. In f64 the truncation error is O(h²) ≈ 1e-10 and the rounding
/// error ≈ 1e-16 / h ≈ 1e-11, both far below what an f32 gradient can resolve.
pub const H: f64 = 1e-5;
/// Rows of the weights: the bias row, then one per pixel.
pub const ROWS: usize = IMAGE_PIXELS + 1;

/// Mean cross-entropy of weights `w` (`[785, 10]` row-major) on images `x` (`[batch, 784]`,
/// [0, 1]) in f64, with the logits given so that one weight's change can be applied cheaply.
pub fn loss_from_logits(logits: &[f64], labels: &[u8]) -> f64 {
    let mut total = 0.0;
    for (row, &y) in logits.chunks_exact(NUM_CLASSES).zip(labels) {
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + row.iter().map(|z| (z - max).exp()).sum::<f64>().ln();
        total += lse - row[y as usize];
    }
    total / labels.len() as f64
}

/// Central finite differences of the mean cross-entropy with respect to all 7,850 weights, in f64.
/// Changing `W[i][k]` by ±h moves only logit k of each image, by ±h·xᵢ (x₀ = 1), so each of the
/// 15,700 loss evaluations reuses the base logits instead of redoing the product.
pub fn finite_differences(w: &[f32], x: &[f32], labels: &[u8]) -> Vec<f64> {
    let batch = labels.len();
    let input = |b: usize, i: usize| {
        if i == 0 {
            1.0
        } else {
            x[b * IMAGE_PIXELS + i - 1] as f64
        }
    };
    let mut logits = vec![0.0f64; batch * NUM_CLASSES];
    for b in 0..batch {
        for i in 0..ROWS {
            let xi = input(b, i);
            if xi != 0.0 {
                for k in 0..NUM_CLASSES {
                    logits[b * NUM_CLASSES + k] += xi * w[i * NUM_CLASSES + k] as f64;
                }
            }
        }
    }
    let mut grad = vec![0.0f64; ROWS * NUM_CLASSES];
    let mut shifted = logits.clone();
    for i in 0..ROWS {
        for k in 0..NUM_CLASSES {
            let mut at = |h: f64| {
                for b in 0..batch {
                    shifted[b * NUM_CLASSES + k] = logits[b * NUM_CLASSES + k] + h * input(b, i);
                }
                let loss = loss_from_logits(&shifted, labels);
                for b in 0..batch {
                    shifted[b * NUM_CLASSES + k] = logits[b * NUM_CLASSES + k];
                }
                loss
            };
            grad[i * NUM_CLASSES + k] = (at(H) - at(-H)) / (2.0 * H);
        }
    }
    grad
}
