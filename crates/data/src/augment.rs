//! Random affine distortions of training images: a rotation, a scale, a shift and a shear drawn
//! per image and epoch, applied to a whole batch at once with burn's `affine_grid_2d` and
//! bilinear `grid_sample_2d`.
//!
//! Why not burn-vision's `Transform2D`: it applies one matrix to every image of a batch (it
//! expands a single 2×3 matrix over the batch dimension), and the distortions here are drawn per
//! image. The two burn operations it is built on take one matrix per image, so those are used
//! directly, with the same conventions (normalised coordinates, corners aligned).
//!
//! The draws of image `i` in epoch `e` come from an RNG seeded by `(seed, e, i)` alone, so two
//! runs with the same seed train on the same images, whatever their batch order, prefetching or
//! resume point.

use burn::prelude::*;
use burn::tensor::grid::affine_grid_2d;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{IMAGE_PIXELS, IMAGE_SIDE, epoch_seed};

/// Ranges of the distortions, each drawn uniformly and symmetrically around "unchanged".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augment {
    /// Rotation in degrees, in [-rotation, rotation].
    rotation: f32,
    /// Relative scale change: the size is multiplied by a factor in [1 - scale, 1 + scale].
    scale: f32,
    /// Shift in pixels, horizontal and vertical each in [-shift, shift].
    shift: f32,
    /// Horizontal shear angle in degrees, in [-shear, shear].
    shear: f32,
}

/// One image's distortion.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Distortion {
    pub rotation_deg: f32,
    pub scale: f32,
    pub shift_x: f32,
    pub shift_y: f32,
    pub shear_deg: f32,
}

impl Augment {
    /// Checks the ranges: every one finite and 0 or more, a rotation up to 180°, a scale change
    /// under 1 (the image cannot shrink to nothing), a shift under half the image, a shear under
    /// 60°, and at least one of them not 0. The error starts with the key (`augment.scale`).
    pub fn new(rotation: f32, scale: f32, shift: f32, shear: f32) -> Result<Self, String> {
        let half = (IMAGE_SIDE / 2) as f32;
        let check = |key: &str, v: f32, below: f32, inclusive: bool, unit: &str| {
            let fits = v.is_finite() && v >= 0.0 && (v < below || (inclusive && v == below));
            if fits {
                Ok(())
            } else {
                let bound = if inclusive { "]" } else { ")" };
                Err(format!(
                    "augment.{key} = {v} must be in [0, {below}{bound}{unit}"
                ))
            }
        };
        check("rotation", rotation, 180.0, true, " (degrees either way)")?;
        check(
            "scale",
            scale,
            1.0,
            false,
            " (a fraction either way: 0.1 is 90-110%)",
        )?;
        check("shift", shift, half, false, " (pixels either way)")?;
        check("shear", shear, 60.0, false, " (degrees either way)")?;
        if rotation == 0.0 && scale == 0.0 && shift == 0.0 && shear == 0.0 {
            return Err(
                "augment: every range is 0, so nothing would change; set rotation, scale, shift \
                 or shear, or remove [augment]"
                    .into(),
            );
        }
        Ok(Self {
            rotation,
            scale,
            shift,
            shear,
        })
    }

    pub fn rotation(&self) -> f32 {
        self.rotation
    }
    pub fn scale(&self) -> f32 {
        self.scale
    }
    pub fn shift(&self) -> f32 {
        self.shift
    }
    pub fn shear(&self) -> f32 {
        self.shear
    }

    /// `rotation ±10°, scale ±10%, shift ±2 px` (the ranges in use), for tables and logs.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.rotation > 0.0 {
            parts.push(format!("rotation ±{}°", self.rotation));
        }
        if self.scale > 0.0 {
            parts.push(format!("scale ±{}%", self.scale * 100.0));
        }
        if self.shift > 0.0 {
            parts.push(format!("shift ±{} px", self.shift));
        }
        if self.shear > 0.0 {
            parts.push(format!("shear ±{}°", self.shear));
        }
        parts.join(", ")
    }

    /// The distortion of image `index` (its position in the training split) in `epoch`.
    pub fn distortion(&self, seed: u64, epoch: usize, index: usize) -> Distortion {
        // A stream per (seed, epoch) and image: the image index mixed in like an epoch.
        let mut rng = StdRng::seed_from_u64(epoch_seed(epoch_seed(seed, epoch), index + 1));
        let mut symmetric = |range: f32| {
            if range > 0.0 {
                rng.random_range(-range..=range)
            } else {
                0.0
            }
        };
        Distortion {
            rotation_deg: symmetric(self.rotation),
            scale: 1.0 + symmetric(self.scale),
            shift_x: symmetric(self.shift),
            shift_y: symmetric(self.shift),
            shear_deg: symmetric(self.shear),
        }
    }

    /// `images` (`[batch, 784]`, the training split's images at `indices`) distorted as epoch
    /// `epoch` draws them. Pixels moved in from outside the image are background (0).
    pub fn apply(
        &self,
        images: Tensor<2>,
        seed: u64,
        epoch: usize,
        indices: &[usize],
    ) -> Tensor<2> {
        let n = indices.len();
        let device = images.device();
        let matrices: Vec<f32> = indices
            .iter()
            .flat_map(|&i| self.distortion(seed, epoch, i).sampling_matrix())
            .collect();
        let theta = Tensor::<3>::from_data(TensorData::new(matrices, [n, 2, 3]), &device);
        let dims = [n, 1, IMAGE_SIDE, IMAGE_SIDE];
        let grid = affine_grid_2d(theta, dims); // [batch, 28, 28, 2]
        let options = GridSampleOptions::new(InterpolateMode::Bilinear)
            .with_padding_mode(GridSamplePaddingMode::Zeros)
            .with_align_corners(true);
        images
            .reshape(dims)
            .grid_sample_2d(grid, options)
            .reshape([n, IMAGE_PIXELS])
    }
}

impl Distortion {
    /// The 2×3 matrix `affine_grid_2d` takes, row-major: for each output pixel, where in the
    /// input to sample, in coordinates normalised to [-1, 1] (corners aligned). That is the
    /// inverse of the distortion `p ↦ R·S·H·p + t` (shear, then scale, then rotation about the
    /// centre, then the shift).
    pub fn sampling_matrix(&self) -> [f32; 6] {
        let (sin, cos) = self.rotation_deg.to_radians().sin_cos();
        let shear = self.shear_deg.to_radians().tan();
        let s = self.scale;
        // Forward linear part A = R · (s·I) · [[1, shear], [0, 1]].
        let a = [
            [s * cos, s * (cos * shear - sin)],
            [s * sin, s * (sin * shear + cos)],
        ];
        let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
        let inv = [
            [a[1][1] / det, -a[0][1] / det],
            [-a[1][0] / det, a[0][0] / det],
        ];
        // A shift of one pixel is 2 / (side - 1) in normalised coordinates.
        let unit = 2.0 / (IMAGE_SIDE - 1) as f32;
        let (tx, ty) = (self.shift_x * unit, self.shift_y * unit);
        // p_in = A⁻¹ (p_out - t)
        [
            inv[0][0],
            inv[0][1],
            -(inv[0][0] * tx + inv[0][1] * ty),
            inv[1][0],
            inv[1][1],
            -(inv[1][0] * tx + inv[1][1] * ty),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn augment() -> Augment {
        Augment::new(15.0, 0.1, 2.0, 10.0).unwrap()
    }

    #[test]
    fn ranges_are_checked_and_name_their_key() {
        assert!(
            Augment::new(-1.0, 0.0, 0.0, 0.0)
                .unwrap_err()
                .starts_with("augment.rotation")
        );
        assert!(
            Augment::new(0.0, 1.0, 0.0, 0.0)
                .unwrap_err()
                .starts_with("augment.scale")
        );
        assert!(
            Augment::new(0.0, 0.0, 14.0, 0.0)
                .unwrap_err()
                .starts_with("augment.shift")
        );
        assert!(
            Augment::new(0.0, 0.0, 0.0, f32::NAN)
                .unwrap_err()
                .starts_with("augment.shear")
        );
        assert!(
            Augment::new(0.0, 0.0, 0.0, 0.0)
                .unwrap_err()
                .contains("nothing would change")
        );
        assert!(Augment::new(180.0, 0.0, 0.0, 0.0).is_ok());
    }

    #[test]
    fn draws_depend_on_seed_epoch_and_image_only() {
        let a = augment();
        assert_eq!(a.distortion(42, 3, 17), a.distortion(42, 3, 17));
        assert_ne!(a.distortion(42, 3, 17), a.distortion(42, 4, 17));
        assert_ne!(a.distortion(42, 3, 17), a.distortion(42, 3, 18));
        assert_ne!(a.distortion(42, 3, 17), a.distortion(43, 3, 17));
        for i in 0..200 {
            let d = a.distortion(1, 1, i);
            assert!(d.rotation_deg.abs() <= 15.0 && (0.9..=1.1).contains(&d.scale));
            assert!(d.shift_x.abs() <= 2.0 && d.shift_y.abs() <= 2.0 && d.shear_deg.abs() <= 10.0);
        }
    }

    #[test]
    fn the_identity_matrix_for_no_distortion_and_the_inverse_otherwise() {
        let none = Distortion {
            rotation_deg: 0.0,
            scale: 1.0,
            shift_x: 0.0,
            shift_y: 0.0,
            shear_deg: 0.0,
        };
        assert_eq!(none.sampling_matrix(), [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        // A shift right by one pixel samples one pixel to the left.
        let right = Distortion {
            shift_x: 1.0,
            ..none
        };
        let m = right.sampling_matrix();
        assert!((m[2] + 2.0 / 27.0).abs() < 1e-6 && m[5] == 0.0);
        // Doubling the size samples at half the distance from the centre.
        let big = Distortion { scale: 2.0, ..none };
        assert_eq!(big.sampling_matrix(), [0.5, 0.0, 0.0, 0.0, 0.5, 0.0]);
    }

    #[test]
    fn a_shift_moves_the_pixels_and_a_distortion_keeps_them_in_range() {
        let device = Device::default();
        // One bright pixel at row 10, column 10.
        let mut pixels = vec![0.0f32; IMAGE_PIXELS];
        pixels[10 * IMAGE_SIDE + 10] = 1.0;
        let images = Tensor::<2>::from_data(TensorData::new(pixels, [1, IMAGE_PIXELS]), &device);
        let shift = Augment::new(0.0, 0.0, 3.0, 0.0).unwrap();
        let d = shift.distortion(7, 1, 0);
        let out = shift.apply(images.clone(), 7, 1, &[0]);
        let out: Vec<f32> = out.into_data().try_to_vec::<f32>().unwrap();
        // Bilinear: the pixel's mass lands around (10 + dy, 10 + dx) and sums to about 1.
        let (sum, cx, cy) = out
            .iter()
            .enumerate()
            .fold((0.0, 0.0, 0.0), |(s, x, y), (i, &v)| {
                (
                    s + v,
                    x + v * (i % IMAGE_SIDE) as f32,
                    y + v * (i / IMAGE_SIDE) as f32,
                )
            });
        assert!((sum - 1.0).abs() < 1e-4, "mass {sum}");
        assert!(
            (cx / sum - (10.0 + d.shift_x)).abs() < 1e-3,
            "x {} vs {}",
            cx / sum,
            d.shift_x
        );
        assert!(
            (cy / sum - (10.0 + d.shift_y)).abs() < 1e-3,
            "y {} vs {}",
            cy / sum,
            d.shift_y
        );
        let all = augment().apply(images, 7, 1, &[0]);
        let all: Vec<f32> = all.into_data().try_to_vec::<f32>().unwrap();
        assert!(all.iter().all(|v| (0.0..=1.0 + 1e-6).contains(v)));
    }
}
