//! The course's network: Flatten → Dense(300, tanh) → Dense(10) (softmax in the loss), with
//! optional dropout on the hidden layer.

use burn::nn::{Dropout, Linear};
use burn::prelude::*;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES};

use crate::dropout::maybe_dropout;
use crate::{Activation, fused, init};

#[derive(Module, Debug)]
pub struct Mlp {
    /// weight `[784, hidden]`, bias `[hidden]`
    pub hidden: Linear,
    /// weight `[hidden, 10]`, bias `[10]`
    pub output: Linear,
    #[module(skip)]
    pub activation: Activation,
    /// Absent at dropout 0 (the course's MLP): the module, its records and its results are
    /// then exactly what they were before dropout existed.
    pub dropout: Option<Dropout>,
}

impl Mlp {
    /// Glorot-uniform weights and zero biases: Keras' `Dense` defaults, which the course used.
    pub fn new(
        hidden: usize,
        activation: Activation,
        dropout: f64,
        seed: u64,
        device: &Device,
    ) -> Self {
        let mut rng = init::rng(seed);
        let mut layer = |fan_in: usize, fan_out: usize| {
            let limit = (6.0 / (fan_in + fan_out) as f32).sqrt();
            Linear {
                weight: init::param2(
                    init::uniform(&mut rng, fan_in * fan_out, limit),
                    [fan_in, fan_out],
                    device,
                ),
                bias: Some(init::param1(vec![0.0; fan_out], device)),
            }
        };
        let hidden_layer = layer(IMAGE_PIXELS, hidden);
        let output = layer(hidden, NUM_CLASSES);
        Self {
            hidden: hidden_layer,
            output,
            activation,
            dropout: crate::dropout::dropout(dropout),
        }
    }

    /// Logits `[batch, 10]` of `[batch, 784]` images.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        self.forward_as(images, Product::Fastest)
    }

    /// [`Self::forward`] with the hidden layer as burn's `Linear` computes it, at any batch: the
    /// graph ONNX export traces (one product a layer, as a reader of the file expects, and no
    /// reshape sized by the batch it was traced with).
    pub fn forward_layers(&self, images: Tensor<2>) -> Tensor<2> {
        self.forward_as(images, Product::Layer)
    }

    fn forward_as(&self, images: Tensor<2>, form: Product) -> Tensor<2> {
        let z = match form {
            Product::Fastest => self.hidden_product(images),
            Product::Layer => self.hidden.forward(images),
        };
        let h = self.activation.apply(z); // [batch, hidden]
        self.output.forward(maybe_dropout(&self.dropout, h))
    }

    /// The hidden layer's pre-activations `[batch, hidden]` of `[batch, 784]` images. On Flex,
    /// from [`SPLIT_FROM`] to [`SPLIT_BELOW`] multiply-adds, the product runs over the two halves of the pixels as one
    /// batched product, `[2, batch, 392] × [2, 392, hidden]`, whose two parts are then added:
    /// Flex hands the parts of a batched product to its threads whole, each a single-threaded
    /// gemm call over half the rows of W₁, where gemm's own threading of one `[50, 784] ×
    /// [784, 300]` product made it slower, not faster (231 µs alone, 265 µs on two threads, 126 µs
    /// as two halves on two threads, timed with gemm 0.19 directly). gemm itself sums a depth of
    /// 784 in two blocks of 392, one added onto the other, so the halves give the same bits (all
    /// 15,000 of a `[50, 300]` product checked directly; the course MLP's `metrics.csv` is
    /// byte-identical). Both halves are views of the weights, so W₁'s gradient needs no copy.
    fn hidden_product(&self, images: Tensor<2>) -> Tensor<2> {
        let Some(z) = split_product(&images, &self.hidden.weight.val()) else {
            return self.hidden.forward(images);
        };
        match &self.hidden.bias {
            Some(bias) => z + bias.val().unsqueeze(),
            None => z,
        }
    }
}

/// `images · weight` `[batch, hidden]` (of `[batch, pixels]` and `[pixels, hidden]`) as the sum
/// of its two half products, where [`Mlp::forward`] splits the product (see
/// `Mlp::hidden_product`); `None` where it does not. `mnist bench` times the step's forward
/// product through it.
pub fn split_product(images: &Tensor<2>, weight: &Tensor<2>) -> Option<Tensor<2>> {
    let [batch, pixels] = images.dims();
    let [_, hidden] = weight.dims();
    if !(splits(batch, pixels, hidden) && fused::runs_on(&images.device())) {
        return None;
    }
    let half = pixels / 2;
    let x = images.clone().reshape([batch, 2, half]).swap_dims(0, 1); // [2, batch, half]
    let w = weight.clone().reshape([2, half, hidden]); // [2, half, hidden]
    Some(x.matmul(w).sum_dim(0).reshape([batch, hidden])) // [batch, hidden]
}

/// Multiply-adds of the hidden layer's product (`batch × 784 × hidden`) from which
/// [`Mlp::forward`] runs it as two half products: where the training loop has two threads
/// (`ONE_THREAD_BELOW` in the trainer's `training/threads.rs`, the same size). Below it the
/// split would only add an operation (one image in the web app: 21 against 25 µs). A fixed
/// size, not the machine's thread count, so a config's results are the same on every machine.
pub const SPLIT_FROM: usize = 4_000_000;

/// Multiply-adds from which the hidden product is not split again: where each half reaches
/// Flex's threshold for threading a product inside gemm (192³, `PARALLEL_THRESHOLD` in
/// burn-flex's `ops/matmul.rs`), Flex runs the halves one after the other, each on all threads,
/// and the split only adds the sum of the halves: hidden 1,000 × batch 500, 1.46–1.63 s an epoch
/// split against 1.36–1.48 s not (`mnist bench --point`, 3 rounds alternated); hidden 300 ×
/// batch 500, 0.47–0.51 against 0.44–0.46 s.
pub const SPLIT_BELOW: usize = 2 * 192 * 192 * 192;

/// Whether [`Mlp::forward`] splits the `[batch, pixels] × [pixels, hidden]` product.
fn splits(batch: usize, pixels: usize, hidden: usize) -> bool {
    (SPLIT_FROM..SPLIT_BELOW).contains(&(batch * pixels * hidden)) && pixels.is_multiple_of(2)
}

/// How [`Mlp`] computes its hidden layer's product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Product {
    /// Split over the pixels' halves from [`SPLIT_FROM`] to [`SPLIT_BELOW`] on Flex
    /// ([`Mlp::hidden_product`]).
    Fastest,
    /// burn's `Linear`.
    Layer,
}

/// For each output class d, the hidden unit with the largest weight into d:
/// `(h*, w[h*][d])` where `output_weights` is `[hidden, 10]` row-major.
pub fn strongest_hidden_units(output_weights: &[f32], hidden: usize) -> Vec<(usize, f32)> {
    (0..NUM_CLASSES)
        .map(|d| {
            (0..hidden)
                .map(|h| (h, output_weights[h * NUM_CLASSES + d]))
                .fold((0, f32::NEG_INFINITY), |best, cur| {
                    if cur.1 > best.1 { cur } else { best }
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_same_to_scale, values};

    /// The split product is burn's `Linear`: the same logits and the same gradients for W₁, b₁
    /// and the images, at a batch large enough to split. (It fails when the halves of W₁ are
    /// paired with the wrong halves of the pixels.)
    #[test]
    fn the_split_product_is_the_linear_layer_forward_and_backward() {
        let device = Device::flex().autodiff();
        let (batch, hidden) = (20, 300);
        assert!(splits(batch, IMAGE_PIXELS, hidden));
        let model = Mlp::new(hidden, Activation::Tanh, 0.0, 5, &device);
        let pixels: Vec<f32> = (0..batch * IMAGE_PIXELS)
            .map(|i| ((i * 7919) % 256) as f32 / 255.0)
            .collect();
        let images = || {
            Tensor::<2>::from_data(
                TensorData::new(pixels.clone(), [batch, IMAGE_PIXELS]),
                &device,
            )
        };
        let run = |form| {
            let x = images().require_grad();
            let logits = model.forward_as(x.clone(), form);
            let grads = (logits.clone() * logits.clone()).sum().backward();
            let layer = &model.hidden;
            let bias = layer.bias.as_ref().unwrap().val();
            [
                values(logits),
                values(layer.weight.val().grad(&grads).unwrap()),
                values(bias.grad(&grads).unwrap()),
                values(x.grad(&grads).unwrap()),
            ]
        };
        let (split, layer) = (run(Product::Fastest), run(Product::Layer));
        for (what, (s, l)) in ["logits", "dW", "db", "dx"]
            .iter()
            .zip(split.iter().zip(&layer))
        {
            assert_same_to_scale(what, s, l);
        }
    }

    /// Small products (one image, the web app's case) keep burn's `Linear`, bit for bit.
    #[test]
    fn a_small_product_is_not_split() {
        let device = Device::flex();
        let model = Mlp::new(300, Activation::Tanh, 0.0, 5, &device);
        assert!(!splits(1, IMAGE_PIXELS, 300));
        // The course MLP's batch of 50 splits; one image of the widest sweep point does not,
        // nor a batch of 500 (each half then threaded inside gemm).
        assert!(splits(50, IMAGE_PIXELS, 300) && !splits(1, IMAGE_PIXELS, 3000));
        assert!(!splits(500, IMAGE_PIXELS, 300) && !splits(50, IMAGE_PIXELS, 1000));
        let x = Tensor::<2>::from_data(
            TensorData::new(
                (0..IMAGE_PIXELS)
                    .map(|i| (i % 256) as f32 / 255.0)
                    .collect::<Vec<_>>(),
                [1, IMAGE_PIXELS],
            ),
            &device,
        );
        assert_eq!(
            values(model.forward(x.clone())),
            values(model.forward_layers(x))
        );
    }
}
