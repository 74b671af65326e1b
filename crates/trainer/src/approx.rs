//! Comparisons of number sequences that cannot pass by accident.
//!
//! `f64::max` ignores NaN (`0.0.max(NaN) == 0.0`), so a maximum folded with it reports 0 for a
//! sequence of NaNs, and `zip` stops at the shorter side, so a short sequence compares "equal".
//! Every check of the project that compares numbers goes through here instead.

/// The largest of `values`; NaN if any value is NaN; `None` for no values.
pub fn max_or_nan(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut max: Option<f64> = None;
    for v in values {
        if v.is_nan() {
            return Some(f64::NAN);
        }
        max = Some(max.map_or(v, |m| m.max(v)));
    }
    max
}

/// Why two sequences cannot be compared element by element.
#[derive(Clone, Debug, PartialEq)]
pub struct LengthMismatch {
    pub left: usize,
    pub right: usize,
}

impl std::fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lengths differ: {} vs {}", self.left, self.right)
    }
}

/// max |a − b| over equal-length sequences: NaN if either side has a NaN, 0 for two empty ones.
pub fn max_abs_difference<A, B>(a: &[A], b: &[B]) -> Result<f64, LengthMismatch>
where
    A: Copy + Into<f64>,
    B: Copy + Into<f64>,
{
    if a.len() != b.len() {
        return Err(LengthMismatch {
            left: a.len(),
            right: b.len(),
        });
    }
    let diffs = a.iter().zip(b).map(|(&x, &y)| (x.into() - y.into()).abs());
    Ok(max_or_nan(diffs).unwrap_or(0.0))
}

/// Whether `a` and `b` have the same length and differ nowhere by more than `tolerance`
/// (false on any NaN).
pub fn all_close<A, B>(a: &[A], b: &[B], tolerance: f64) -> bool
where
    A: Copy + Into<f64>,
    B: Copy + Into<f64>,
{
    max_abs_difference(a, b).is_ok_and(|d| d <= tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_never_close() {
        assert!(max_or_nan([1.0, f64::NAN, 3.0]).unwrap().is_nan());
        assert!(max_or_nan([f64::NAN]).unwrap().is_nan());
        assert!(!all_close(&[f32::NAN; 4], &[0.0f32; 4], 1e9));
        assert!(!all_close(&[0.0f32; 4], &[f32::NAN; 4], 1e9));
        assert!(
            max_abs_difference(&[1.0f32, f32::NAN], &[1.0f32, 1.0])
                .unwrap()
                .is_nan()
        );
    }

    #[test]
    fn a_short_side_is_an_error() {
        assert_eq!(
            max_abs_difference(&[1.0f32; 3], &[1.0f64; 2]),
            Err(LengthMismatch { left: 3, right: 2 })
        );
        assert!(!all_close(&[1.0f32; 3], &[1.0f32; 2], 1.0));
        assert!(!all_close::<f32, f32>(&[], &[1.0], 1.0));
    }

    #[test]
    fn finite_values_compare_by_their_largest_difference() {
        assert_eq!(max_abs_difference(&[1.0f32, 2.0], &[1.5f32, 1.0]), Ok(1.0));
        assert_eq!(max_or_nan(Vec::<f64>::new()), None);
        assert!(all_close::<f32, f32>(&[], &[], 0.0));
        assert!(all_close(&[1.0f32, 2.0], &[1.0f64, 2.0 + 1e-7], 1e-6));
    }
}
