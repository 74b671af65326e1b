//! Turns dataset items into tensors.

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;

use crate::{IMAGE_PIXELS, MnistItem};

/// Stateless: pixels are scaled to [0, 1] as the course did (x / 255), no mean/std normalisation.
#[derive(Clone, Debug, Default)]
pub struct MnistBatcher;

/// A batch on a device.
#[derive(Clone, Debug)]
pub struct MnistBatch {
    /// `[batch, 784]`, f32 in [0, 1].
    pub images: Tensor<2>,
    /// `[batch]`, class indices 0..=9.
    pub targets: Tensor<1, Int>,
}

impl MnistBatch {
    /// A batch from images (784 pixels each, 0..=255) and their labels.
    pub fn from_pixels<'a>(
        images: impl ExactSizeIterator<Item = &'a [u8]>,
        labels: impl Iterator<Item = u8>,
        device: &Device,
    ) -> Self {
        let n = images.len();
        // One allocation per batch, not one per item.
        let mut pixels = Vec::with_capacity(n * IMAGE_PIXELS);
        for image in images {
            pixels.extend(image.iter().map(|&p| p as f32 / 255.0));
        }
        let labels: Vec<i64> = labels.map(i64::from).collect();
        MnistBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, IMAGE_PIXELS]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

impl Batcher<MnistItem, MnistBatch> for MnistBatcher {
    fn batch(&self, items: Vec<MnistItem>, device: &Device) -> MnistBatch {
        let images = items.iter().map(|item| &item.image[..]);
        MnistBatch::from_pixels(images, items.iter().map(|item| item.label), device)
    }
}
