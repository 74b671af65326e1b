//! The numbers the figures and the report show, computed from labels, predictions and weights.
//! Pure functions: no files, no drawing.

use mnist_data::NUM_CLASSES;

/// `[true][predicted]` counts.
pub type ConfusionMatrix = [[usize; NUM_CLASSES]; NUM_CLASSES];

/// The confusion matrix of `predictions` against `labels` (equal lengths).
pub fn confusion_matrix(labels: &[u8], predictions: &[u8]) -> ConfusionMatrix {
    assert_eq!(labels.len(), predictions.len(), "one prediction per label");
    let mut m = [[0; NUM_CLASSES]; NUM_CLASSES];
    for (&l, &p) in labels.iter().zip(predictions) {
        m[l as usize][p as usize] += 1;
    }
    m
}

/// How a class fares in a confusion matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerClass {
    /// Of the images of this class, the fraction predicted as it: the accuracy on the class.
    pub recall: f64,
    /// Of the images predicted as this class, the fraction that are it.
    pub precision: f64,
    /// Images of this class.
    pub images: usize,
}

/// Recall, precision and image count of every class (0 where a class has no images or no
/// predictions).
pub fn per_class(m: &ConfusionMatrix) -> Vec<PerClass> {
    (0..NUM_CLASSES)
        .map(|c| {
            let row: usize = m[c].iter().sum();
            let col: usize = m.iter().map(|r| r[c]).sum();
            let tp = m[c][c] as f64;
            PerClass {
                recall: tp / row.max(1) as f64,
                precision: tp / col.max(1) as f64,
                images: row,
            }
        })
        .collect()
}

/// Fraction of `predictions` equal to `labels`, in [0, 1].
pub fn accuracy(labels: &[u8], predictions: &[u8]) -> f64 {
    let right = labels
        .iter()
        .zip(predictions)
        .filter(|(l, p)| l == p)
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// The number correct in each consecutive batch of `batch` images (the last may be smaller),
/// as the course counted its test batches.
pub fn correct_per_batch(labels: &[u8], predictions: &[u8], batch: usize) -> Vec<(usize, usize)> {
    labels
        .chunks(batch)
        .zip(predictions.chunks(batch))
        .map(|(l, p)| (l.len(), l.iter().zip(p).filter(|(l, p)| l == p).count()))
        .collect()
}

/// Indices of the test images a prediction panel shows: `n_correct / 10` correct ones of each
/// digit and one wrong one of each true digit (the first in test order; more from other digits
/// where a digit has none), at most `n_wrong`. Every "correct" index has prediction = label,
/// every "wrong" one prediction ≠ label.
pub fn select_examples(
    labels: &[u8],
    predictions: &[u8],
    n_correct: usize,
    n_wrong: usize,
) -> (Vec<usize>, Vec<usize>) {
    let per_digit = n_correct / NUM_CLASSES;
    let mut correct = Vec::new();
    for digit in 0..NUM_CLASSES as u8 {
        correct.extend(
            (0..labels.len())
                .filter(|&i| labels[i] == digit && predictions[i] == digit)
                .take(per_digit),
        );
    }
    let wrong_of = |digit: u8| {
        (0..labels.len()).filter(move |&i| labels[i] == digit && predictions[i] != digit)
    };
    let mut wrong: Vec<usize> = (0..NUM_CLASSES as u8)
        .filter_map(|d| wrong_of(d).next())
        .collect();
    for i in (0..labels.len()).filter(|&i| predictions[i] != labels[i]) {
        if wrong.len() >= n_wrong {
            break;
        }
        if !wrong.contains(&i) {
            wrong.push(i);
        }
    }
    wrong.truncate(n_wrong);
    (correct, wrong)
}

/// Indices where run A is right and run B wrong, and where B is right and A wrong.
pub fn disagreements(labels: &[u8], a: &[u8], b: &[u8]) -> (Vec<usize>, Vec<usize>) {
    let right = |p: &[u8], i: usize| p.get(i) == Some(&labels[i]);
    let a_only = (0..labels.len())
        .filter(|&i| right(a, i) && !right(b, i))
        .collect();
    let b_only = (0..labels.len())
        .filter(|&i| right(b, i) && !right(a, i))
        .collect();
    (a_only, b_only)
}

/// Trailing moving average over up to `window` values.
pub fn moving_average(values: &[f64], window: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut sum = 0.0;
    for (i, v) in values.iter().enumerate() {
        sum += v;
        if i >= window {
            sum -= values[i - window];
        }
        out.push(sum / (i + 1).min(window) as f64);
    }
    out
}

pub use mnist_models::strongest_hidden_units;

/// Pearson's correlation coefficient of paired samples (NaN when either side is constant or
/// there are fewer than two pairs).
pub fn pearson(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return f64::NAN;
    }
    let mean = |v: &[f64]| v[..n].iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(xs), mean(ys));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs[..n].iter().zip(&ys[..n]) {
        let (dx, dy) = (x - mx, y - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_lines_noise_and_constants() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert!((pearson(&xs, &[2.0, 4.0, 6.0, 8.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&xs, &[8.0, 6.0, 4.0, 2.0]) + 1.0).abs() < 1e-12);
        // By hand: x̄ = 2.5, ȳ = 2; Σdx·dy = 2, Σdx² = 5, Σdy² = 4 → 2 / √20.
        let r = pearson(&xs, &[1.0, 3.0, 1.0, 3.0]);
        assert!((r - 2.0 / 20f64.sqrt()).abs() < 1e-12, "{r}");
        assert!(pearson(&xs, &[5.0; 4]).is_nan());
        assert!(pearson(&[1.0], &[1.0]).is_nan());
    }

    #[test]
    fn per_class_tells_recall_from_precision() {
        // Class 0: 4 images, 3 right, 1 called 1. Class 1: 2 images, both right.
        let labels = [0, 0, 0, 0, 1, 1];
        let predictions = [0, 0, 0, 1, 1, 1];
        let m = confusion_matrix(&labels, &predictions);
        assert_eq!((m[0][0], m[0][1], m[1][1]), (3, 1, 2));
        let pc = per_class(&m);
        assert_eq!(
            pc[0],
            PerClass {
                recall: 0.75,
                precision: 1.0,
                images: 4
            }
        );
        assert_eq!(
            pc[1],
            PerClass {
                recall: 1.0,
                precision: 2.0 / 3.0,
                images: 2
            }
        );
        assert_eq!(
            pc[2],
            PerClass {
                recall: 0.0,
                precision: 0.0,
                images: 0
            }
        );
        assert_eq!(accuracy(&labels, &predictions), 5.0 / 6.0);
    }

    #[test]
    fn test_batches_count_each_batch_once() {
        let labels: Vec<u8> = (0..120).map(|i| (i % 10) as u8).collect();
        let mut predictions = labels.clone();
        predictions[3] = 9; // batch 1
        predictions[110] = 5; // batch 3, which has 20 images
        let counts = correct_per_batch(&labels, &predictions, 50);
        assert_eq!(counts, vec![(50, 49), (50, 50), (20, 19)]);
    }

    #[test]
    fn disagreements_are_one_right_and_the_other_wrong() {
        let labels = [1, 2, 3, 4, 5];
        let a = [1, 2, 0, 0, 5];
        let b = [1, 0, 3, 0, 0];
        assert_eq!(disagreements(&labels, &a, &b), (vec![1, 4], vec![2]));
        // A run with fewer predictions is wrong where it has none.
        assert_eq!(disagreements(&labels, &a, &b[..2]), (vec![1, 4], vec![]));
    }

    #[test]
    fn moving_average_warms_up_then_slides() {
        let avg = moving_average(&[2.0, 4.0, 6.0, 8.0], 2);
        assert_eq!(avg, vec![2.0, 3.0, 5.0, 7.0]);
    }

    #[test]
    fn hidden_unit_selection_picks_the_largest_weight_into_each_digit() {
        let hidden = 7;
        // Small noise everywhere, then one planted winner per digit (negative weights elsewhere
        // larger in magnitude, to catch an |w| instead of w).
        let mut w: Vec<f32> = (0..hidden * 10)
            .map(|k| ((k * 37 % 11) as f32 - 5.0) * 0.01)
            .collect();
        let planted = [3, 0, 6, 6, 1, 2, 5, 4, 0, 3];
        for (d, &h) in planted.iter().enumerate() {
            w[h * 10 + d] = 1.0 + d as f32;
            w[((h + 1) % hidden) * 10 + d] = -5.0;
        }
        let picked = strongest_hidden_units(&w, hidden);
        for (d, &(h, v)) in picked.iter().enumerate() {
            assert_eq!(h, planted[d], "digit {d}");
            assert_eq!(v, 1.0 + d as f32);
        }
    }

    #[test]
    fn prediction_panel_selects_only_wrong_predictions_as_wrong() {
        let labels: Vec<u8> = (0..300).map(|i| (i % 10) as u8).collect();
        // Every 7th prediction is wrong (shifted by one class).
        let predictions: Vec<u8> = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| if i % 7 == 0 { (l + 1) % 10 } else { l })
            .collect();
        let (correct, wrong) = select_examples(&labels, &predictions, 20, 10);
        assert_eq!((correct.len(), wrong.len()), (20, 10));
        assert!(wrong.iter().all(|&i| predictions[i] != labels[i]));
        assert!(correct.iter().all(|&i| predictions[i] == labels[i]));
        for d in 0..10u8 {
            assert_eq!(correct.iter().filter(|&&i| labels[i] == d).count(), 2);
        }
    }
}
