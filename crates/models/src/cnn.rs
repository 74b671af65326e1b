//! `kind = "cnn"`: convolution blocks, then dense blocks, then the 10 logits, built from burn's
//! own layers (`Conv2d`, `MaxPool2d`, `AvgPool2d`, `Dropout`, `Linear`).

use burn::nn::conv::Conv2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::ops::PadMode;
use mnist_data::{IMAGE_SIDE, NUM_CLASSES};
use rand::rngs::StdRng;

use crate::config::{CnnConfig, Normalize, PoolKind};
use crate::dropout::{dropout, maybe_dropout};
use crate::{Activation, init};

#[derive(Module, Debug)]
pub struct Cnn {
    pub conv: Vec<ConvBlock>,
    pub dense: Vec<DenseBlock>,
    /// weight `[features, 10]`
    pub output: Linear,
    /// The input standardisation, a constant of the model (not trained).
    #[module(skip)]
    pub normalize: Option<Normalize>,
}

/// conv → activation → pool → dropout.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// weight `[channels_out, channels_in, k, k]`, bias `[channels_out]`
    pub conv: Conv2d,
    #[module(skip)]
    pub activation: Activation,
    pub pool: Option<Pool>,
    pub dropout: Option<Dropout>,
}

#[derive(Module, Debug)]
pub enum Pool {
    Max(MaxPool2d),
    Avg(AvgPool2d),
}

/// dense → activation → dropout.
#[derive(Module, Debug)]
pub struct DenseBlock {
    pub linear: Linear,
    #[module(skip)]
    pub activation: Activation,
    pub dropout: Option<Dropout>,
}

/// PyTorch's default initialisation of `Conv2d` and `Linear` (`kaiming_uniform_(a=√5)`, which
/// comes to U(±1/√fan_in) for weights and biases alike): what `examples/mnist` trains from.
fn uniform_fan_in(rng: &mut StdRng, n: usize, fan_in: usize) -> Vec<f32> {
    init::uniform(rng, n, 1.0 / (fan_in as f32).sqrt())
}

fn dense(rng: &mut StdRng, fan_in: usize, fan_out: usize, device: &Device) -> Linear {
    Linear {
        weight: init::param2(
            uniform_fan_in(rng, fan_in * fan_out, fan_in),
            [fan_in, fan_out],
            device,
        ),
        bias: Some(init::param1(uniform_fan_in(rng, fan_out, fan_in), device)),
    }
}

impl Cnn {
    /// The network `config` describes (validated: [`crate::ModelConfig::validate`]), its
    /// weights drawn from `seed`.
    pub fn new(config: &CnnConfig, seed: u64, device: &Device) -> Self {
        let mut rng = init::rng(seed);
        let mut channels = 1;
        let mut conv = Vec::with_capacity(config.conv.len());
        for c in &config.conv {
            let k = c.kernel;
            let fan_in = channels * k * k;
            let weight = uniform_fan_in(&mut rng, c.channels * fan_in, fan_in);
            let bias = uniform_fan_in(&mut rng, c.channels, fan_in);
            let p = c.padding;
            let layer = Conv2d {
                weight: init::param4(weight, [c.channels, channels, k, k], device),
                bias: Some(init::param1(bias, device)),
                stride: [1, 1],
                kernel_size: [k, k],
                dilation: [1, 1],
                groups: 1,
                padding: PaddingConfig2d::Explicit(p, p, p, p),
            };
            channels = c.channels;
            let pool = c.pool.map(|pool| {
                let window = [pool.size, pool.size];
                match pool.kind {
                    PoolKind::Max => Pool::Max(MaxPool2dConfig::new(window).init()),
                    PoolKind::Avg => Pool::Avg(AvgPool2dConfig::new(window).init()),
                }
            });
            conv.push(ConvBlock {
                conv: layer,
                activation: c.activation,
                pool,
                dropout: dropout(c.dropout),
            });
        }
        let mut features = crate::summary::flattened_features(config);
        let mut dense_blocks = Vec::with_capacity(config.dense.len());
        for d in &config.dense {
            dense_blocks.push(DenseBlock {
                linear: dense(&mut rng, features, d.units, device),
                activation: d.activation,
                dropout: dropout(d.dropout),
            });
            features = d.units;
        }
        Self {
            conv,
            dense: dense_blocks,
            output: dense(&mut rng, features, NUM_CLASSES, device),
            normalize: config.normalize,
        }
    }

    /// `[batch, 784]` pixels, row by row, as an image batch `[batch, 1, 28, 28]`.
    pub fn images(images: Tensor<2>) -> Tensor<4> {
        let [batch, _] = images.dims();
        images.reshape([batch, 1, IMAGE_SIDE, IMAGE_SIDE])
    }

    /// Images `[batch, 1, 28, 28]` in [0, 1] as the first block sees them: standardised if the
    /// config says so.
    fn input(&self, x: Tensor<4>) -> Tensor<4> {
        match self.normalize {
            Some(n) => (x - n.mean) / n.std,
            None => x,
        }
    }

    /// Logits `[batch, 10]` of `[batch, 784]` images.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        self.forward_images(Self::images(images))
    }

    /// Logits `[batch, 10]` of images `[batch, 1, 28, 28]` in [0, 1].
    pub fn forward_images(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_as(images, Convolution::Fastest)
    }

    /// [`Self::forward_images`] with every convolution and max-pool as burn's `Conv2d` and
    /// `MaxPool2d` compute them: one burn operation a layer, the graph ONNX export traces (its
    /// exporter records every slice's bounds, so the first layer's window product would fix the
    /// batch size, and it has no entry for the fused Flex operations).
    pub fn forward_layers(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_as(images, Convolution::Layer)
    }

    fn forward_as(&self, images: Tensor<4>, form: Convolution) -> Tensor<2> {
        let mut x = self.input(images);
        for block in &self.conv {
            x = block.forward(x, form);
        }
        let mut h: Tensor<2> = x.flatten(1, 3); // [batch, channels·height·width]
        for block in &self.dense {
            h = maybe_dropout(
                &block.dropout,
                block.activation.apply(block.linear.forward(h)),
            );
        }
        self.output.forward(h)
    }

    /// The first convolution's activations of `[batch, 784]` images, `[batch, channels, h, w]`
    /// (before any pooling): what its filters pick out of each image.
    pub fn first_feature_maps(&self, images: Tensor<2>) -> Tensor<4> {
        let block = &self.conv[0];
        block.activation.apply(block.convolve(
            self.input(Self::images(images)),
            Convolution::Fastest,
            None,
        ))
    }
}

/// How [`ConvBlock`] computes its convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Convolution {
    /// The fastest form measured for the backend and the layer: on Flex the fused convolution
    /// ([`crate::conv`]); elsewhere the window product for a layer that reads one channel,
    /// burn's `Conv2d` for the others.
    Fastest,
    /// The window product for a layer that reads one channel, burn's `Conv2d` for the others,
    /// on every backend (what [`Self::Fastest`] is off Flex, kept testable on Flex).
    #[cfg_attr(not(test), allow(dead_code))]
    Windows,
    /// burn's `Conv2d`.
    Layer,
}

impl ConvBlock {
    /// The block's output. A max-pool is taken before the activation: every activation here is
    /// non-decreasing, so the largest of a window's activations is the activation of its
    /// largest value, and the gradient reaches the same element (where ReLU ties a window's
    /// negative values at 0, its gradient there is 0 either way). The activation then runs
    /// over a quarter of the values: for the course CNN's second layer 0.6 M instead of
    /// 2.4 M a batch, forward and backward.
    fn forward(&self, x: Tensor<4>, form: Convolution) -> Tensor<4> {
        let x = match &self.pool {
            Some(Pool::Max(p)) => self.activation.apply(self.convolve(x, form, Some(p))),
            Some(Pool::Avg(p)) => p.forward(self.activation.apply(self.convolve(x, form, None))),
            None => self.activation.apply(self.convolve(x, form, None)),
        };
        maybe_dropout(&self.dropout, x)
    }

    /// The layer's convolution of `x` `[batch, channels, h, w]`, as `form` says, max-pooled by
    /// `pool` when one is given. On Flex the fused convolution and its pool are one operation
    /// each way ([`crate::conv::forward_max_pooled`]) that never holds the convolution's whole
    /// output or its gradient: 9.4 MB each for the course CNN's second layer at a training
    /// batch of 64, 74 MB (in fresh pages each batch) at the evaluation batch of 500.
    ///
    /// The window product: a layer that reads a single channel (the grey image) as one batched
    /// matrix product over its windows (im2col from slices), in burn's own operations. burn's
    /// `Conv2d` spends most of such a layer's step in its weight gradient (burn's generic
    /// `conv2d_weight_backward`, a convolution with the batch as channels and a 26×26 kernel).
    /// On Flex, batch 64, 1 → 32 channels, 3×3, with a dense output after it: 16-23 ms a
    /// forward + backward against 28-30 for `Conv2d` (`examples/conv_forms.rs`). With 32 input
    /// channels the 9 copied slices cost more than burn's convolution saves (170-185 against
    /// 80-97 ms for the CNN's second layer), so such layers keep `Conv2d`.
    fn convolve(&self, x: Tensor<4>, form: Convolution, pool: Option<&MaxPool2d>) -> Tensor<4> {
        let pooled = |y: Tensor<4>| match pool {
            Some(p) => p.forward(y),
            None => y,
        };
        let [batch, channels, ..] = x.dims();
        let conv = &self.conv;
        let fused = form == Convolution::Fastest && crate::conv::takes(conv, &x);
        let plain = conv.stride == [1, 1] && conv.dilation == [1, 1] && conv.groups == 1;
        if form == Convolution::Layer || !(fused || (channels == 1 && plain)) {
            return pooled(conv.forward(x));
        }
        let [out, _, kh, kw] = conv.weight.dims();
        let x = match conv.padding {
            PaddingConfig2d::Explicit(top, left, bottom, right)
                if top + left + bottom + right > 0 =>
            {
                x.pad((left, right, top, bottom), PadMode::Constant(0.0))
            }
            PaddingConfig2d::Explicit(..) | PaddingConfig2d::Valid => x,
            PaddingConfig2d::Same => return pooled(conv.forward(x)),
        };
        if fused {
            return match pool {
                Some(p) if crate::pool::takes(p, &x) => {
                    crate::conv::forward_max_pooled(conv, x, p.kernel_size[0])
                }
                _ => pooled(crate::conv::forward(conv, x)),
            };
        }
        let [_, _, h, w] = x.dims();
        let (oh, ow) = (h + 1 - kh, w + 1 - kw);
        // Window position (i, j) of every output pixel, as row i·kw + j of the columns.
        let windows = (0..kh)
            .flat_map(|i| (0..kw).map(move |j| (i, j)))
            .map(|(i, j)| {
                x.clone()
                    .slice([0..batch, 0..1, i..i + oh, j..j + ow])
                    .reshape([batch, 1, oh * ow])
            })
            .collect();
        let columns = Tensor::cat(windows, 1); // [batch, kh·kw, oh·ow]
        // [out, 1, kh, kw] row-major is [out, kh·kw] with the columns' row order.
        let weight = conv.weight.val().reshape([1, out, kh * kw]);
        let mut y = weight.matmul(columns); // [batch, out, oh·ow]
        if let Some(bias) = &conv.bias {
            y = y + bias.val().reshape([1, out, 1]);
        }
        pooled(y.reshape([batch, out, oh, ow]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConvLayer, DenseLayer, PoolConfig};
    use crate::testing::{assert_same_to_scale, values};

    fn config(normalize: Option<Normalize>, dropout: f64) -> CnnConfig {
        CnnConfig {
            normalize,
            conv: vec![ConvLayer {
                channels: 3,
                kernel: 3,
                padding: 1,
                activation: Activation::Relu,
                pool: Some(PoolConfig {
                    kind: PoolKind::Avg,
                    size: 2,
                }),
                dropout,
            }],
            dense: vec![DenseLayer {
                units: 8,
                activation: Activation::Tanh,
                dropout,
            }],
        }
    }

    fn images(device: &Device) -> Tensor<2> {
        let values: Vec<f32> = (0..2 * 784).map(|i| (i % 255) as f32 / 255.0).collect();
        Tensor::from_data(TensorData::new(values, [2, 784]), device)
    }

    /// The fused convolution (Flex's fastest form) and the window product are burn's
    /// `Conv2d`: the same activations and the same gradients for the first layer's weights
    /// and bias and for the images, with and without padding, through two layers (the second,
    /// of 3 channels, is fused in the fastest form and burn's in the other two).
    #[test]
    fn every_form_of_convolution_is_the_layers_forward_and_backward() {
        let device = Device::flex().autodiff();
        for padding in [0, 1, 2] {
            let mut config = config(None, 0.0);
            config.conv[0].padding = padding;
            let mut second = config.conv[0];
            (second.channels, second.padding, second.pool) = (4, 0, None);
            config.conv.push(second);
            let model = Cnn::new(&config, 7, &device);
            let run = |form| {
                let x = Cnn::images(images(&device)).require_grad();
                let logits = model.forward_as(x.clone(), form);
                let grads = (logits.clone() * logits.clone()).sum().backward();
                let conv = &model.conv[0].conv;
                let grad = |t: Option<Tensor<4>>| values(t.unwrap());
                let bias = conv.bias.as_ref().unwrap().val();
                [
                    values(logits),
                    grad(conv.weight.val().grad(&grads)),
                    values(bias.grad(&grads).unwrap()),
                    grad(x.grad(&grads)),
                ]
            };
            let layer = run(Convolution::Layer);
            for form in [Convolution::Fastest, Convolution::Windows] {
                let got = run(form);
                for (what, (f, l)) in ["logits", "dW", "db", "dx"]
                    .iter()
                    .zip(got.iter().zip(&layer))
                {
                    assert_same_to_scale(&format!("{form:?}, padding {padding}, {what}"), f, l);
                }
            }
        }
    }

    /// A max-pooled block is PyTorch's order, activation then pool, to the bit: the same
    /// output and the same gradient of its input, for each activation, with windows whose
    /// values are all negative (ReLU ties them at 0) and windows with a tie.
    #[test]
    fn a_max_pooled_block_is_activation_then_pool() {
        let device = Device::flex().autodiff();
        for activation in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
            let mut config = config(None, 0.0);
            config.conv[0].activation = activation;
            config.conv[0].pool = Some(PoolConfig {
                kind: PoolKind::Max,
                size: 2,
            });
            let model = Cnn::new(&config, 5, &device);
            let block = &model.conv[0];
            let Some(Pool::Max(pool)) = &block.pool else {
                unreachable!("a max-pool")
            };
            // Values -3..3 in steps of 0.5 repeat, so windows tie and some are all negative.
            let raw: Vec<f32> = (0..2 * 784)
                .map(|i| ((i * 5) % 13) as f32 * 0.5 - 3.0)
                .collect();
            let run = |reordered: bool| {
                let x =
                    Tensor::<4>::from_data(TensorData::new(raw.clone(), [2, 1, 28, 28]), &device)
                        .require_grad();
                let y = if reordered {
                    block.forward(x.clone(), Convolution::Layer)
                } else {
                    pool.forward(activation.apply(block.convolve(
                        x.clone(),
                        Convolution::Layer,
                        None,
                    )))
                };
                let weights = Tensor::<4>::from_data(
                    TensorData::new(
                        (0..y.dims().iter().product::<usize>())
                            .map(|i| (i % 7) as f32 - 3.0)
                            .collect::<Vec<f32>>(),
                        y.dims(),
                    ),
                    &device,
                );
                let grads = (y.clone() * weights).sum().backward();
                (values(y), values(x.grad(&grads).unwrap()))
            };
            let ((y, dx), (y_torch, dx_torch)) = (run(true), run(false));
            assert_eq!(y, y_torch, "{activation:?}: output");
            assert_eq!(dx, dx_torch, "{activation:?}: gradient");
            assert!(dx.iter().any(|g| *g != 0.0), "{activation:?}: no gradient");
        }
    }

    /// Evaluation on Flex (no autodiff: the convolution and its max-pool in one pass) gives
    /// the logits of burn's own layers.
    #[test]
    fn evaluation_with_a_max_pool_is_the_layers_forward() {
        let device = Device::flex();
        let mut config = config(None, 0.0);
        config.conv[0].pool = Some(PoolConfig {
            kind: PoolKind::Max,
            size: 3,
        });
        let model = Cnn::new(&config, 9, &device);
        let x = Cnn::images(images(&device));
        let fast = values(model.forward_as(x.clone(), Convolution::Fastest));
        let layer = values(model.forward_as(x, Convolution::Layer));
        assert_same_to_scale("logits", &fast, &layer);
    }

    #[test]
    fn normalisation_is_the_models_first_step() {
        let device = Device::default();
        let n = Normalize {
            mean: 0.1307,
            std: 0.3081,
        };
        let with = Cnn::new(&config(Some(n), 0.0), 3, &device);
        let without = Cnn::new(&config(None, 0.0), 3, &device);
        let x = images(&device);
        let standardised = (x.clone() - n.mean) / n.std;
        let (a, b) = (
            values(with.forward(x.clone())),
            values(without.forward(standardised)),
        );
        assert_eq!(a.len(), 2 * NUM_CLASSES);
        let worst = a
            .iter()
            .zip(&b)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "{worst}");
        // And it is not a no-op: the same weights give other logits on raw pixels.
        assert!(values(without.forward(x)) != a);
    }

    #[test]
    fn dropout_acts_only_while_training_and_the_seed_draws_the_weights() {
        let device = Device::default();
        let model = Cnn::new(&config(None, 0.5), 3, &device);
        // No autodiff device: evaluation and prediction, where dropout is off.
        let x = images(&device);
        assert_eq!(values(model.forward(x.clone())), values(model.forward(x)));
        let autodiff = device.clone().autodiff();
        let trained = Cnn::new(&config(None, 0.5), 3, &autodiff);
        let x = images(&autodiff);
        assert_ne!(
            values(trained.forward(x.clone())),
            values(trained.forward(x))
        );
        let same = Cnn::new(&config(None, 0.5), 3, &device);
        let other = Cnn::new(&config(None, 0.5), 4, &device);
        let weights = |m: &Cnn| values(m.conv[0].conv.weight.val());
        assert_eq!(weights(&model), weights(&same));
        assert_ne!(weights(&model), weights(&other));
        // A feature map per channel, padded to the image's size.
        assert_eq!(
            model.first_feature_maps(images(&device)).dims(),
            [2, 3, 28, 28]
        );
    }
}
