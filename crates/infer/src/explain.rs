//! Why a model gave its answer for one prepared image: the numbers behind the draw panel's
//! explanation and `mnist predict --explain`'s figures, computed once, here.
//!
//! - every model: the ten logits and a saliency map, ∂logit[predicted] / ∂pixel over the 784
//!   inputs (pixels scaled to [0, 1] as the model sees them), through burn's autodiff;
//! - the linear model: its evidence, weight × pixel, for every class (a class's 784 values plus
//!   its bias add up to its logit);
//! - the MLP: each hidden unit's contribution to a class, activation × outgoing weight (all of
//!   them plus the output bias add up to the logit), and the strongest units' input templates;
//! - the CNN: the first convolution's feature maps of the image.

use burn::prelude::*;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES};
use mnist_models::{Cnn, LinearSoftmax, Mlp, Model, host_values};
use serde::Serialize;

/// How many hidden units the MLP's explanation lists per class (the "say the top 8").
pub const TOP_UNITS: usize = 8;

/// One image's explanation.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    /// `linear`, `mlp` or `cnn`.
    pub model: &'static str,
    /// `[10]`
    pub logits: Vec<f32>,
    /// The class with the largest logit, and the one after it.
    pub predicted: u8,
    pub runner_up: u8,
    /// ∂logit[predicted] / ∂x for the 784 inputs x ∈ [0, 1], row by row.
    pub saliency: Vec<f32>,
    #[serde(flatten)]
    pub detail: Detail,
}

/// What only one kind of model can show.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Detail {
    Linear {
        /// `evidence[c][p]` = W[1 + p][c] · x[p]: class c's evidence from pixel p, `[10][784]`.
        evidence: Vec<Vec<f32>>,
        /// W[0][c], `[10]`.
        bias: Vec<f32>,
    },
    Mlp {
        /// The predicted class's strongest units, largest contribution first.
        units: Vec<Unit>,
        /// The runner-up's.
        runner_up_units: Vec<Unit>,
        /// Every hidden unit's contribution to the predicted class, `[hidden]`.
        contributions: Vec<f32>,
        /// The output layer's bias of the predicted class.
        output_bias: f32,
    },
    Cnn {
        /// The first convolution's activations, `[channels, height, width]` flattened.
        feature_maps: FeatureMaps,
    },
}

/// A hidden unit of the MLP, as one class sees it.
#[derive(Clone, Debug, Serialize)]
pub struct Unit {
    pub unit: usize,
    /// Its activation for this image.
    pub activation: f32,
    /// activation × its weight into the class.
    pub contribution: f32,
    /// Its 784 input weights, row by row.
    pub template: Vec<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FeatureMaps {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

/// `pixels` (784, 0..=255, ink bright) as the model's input `[1, 784]` in [0, 1].
fn input(pixels: &[u8], device: &Device) -> Tensor<2> {
    let x: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    Tensor::from_data(TensorData::new(x, [1, IMAGE_PIXELS]), device)
}

/// The classes by logit, largest first.
fn ranking(logits: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    order
}

/// Explains `model`'s answer for one prepared image (784 pixels, 0..=255, ink bright on dark).
pub fn explain(model: &Model, pixels: &[u8], device: &Device) -> Explanation {
    assert_eq!(
        pixels.len(),
        IMAGE_PIXELS,
        "a prepared image has 784 pixels"
    );
    let x = input(pixels, device);
    let logits = host_values(model.forward(x.clone())); // [10]
    let order = ranking(&logits);
    let (predicted, runner_up) = (order[0], order[1]);
    let (kind, detail) = match model {
        Model::Linear(m) => ("linear", linear(m, &x)),
        Model::Mlp(m) => ("mlp", mlp(m, x, predicted, runner_up)),
        Model::Cnn(m) => ("cnn", cnn(m, x)),
    };
    Explanation {
        model: kind,
        saliency: saliency(model, pixels, predicted, device),
        logits,
        predicted: predicted as u8,
        runner_up: runner_up as u8,
        detail,
    }
}

/// ∂logit[class] / ∂x `[784]`: the input alone is tracked on the autodiff device; the model's
/// weights stay on the plain device, where burn treats them as constants.
pub fn saliency(model: &Model, pixels: &[u8], class: usize, device: &Device) -> Vec<f32> {
    let ad = device.clone().autodiff();
    let x = input(pixels, &ad).require_grad();
    let logit = model
        .forward(x.clone())
        .slice([0..1, class..class + 1])
        .sum(); // [1]
    let grads = logit.backward();
    let grad = x.grad(&grads).expect("the input is tracked"); // [1, 784]
    host_values(grad)
}

fn linear(model: &LinearSoftmax, x: &Tensor<2>) -> Detail {
    let w = host_values(model.weight.val()); // [785, 10] row-major, row 0 the bias
    let x = host_values(x.clone()); // [784]
    let evidence = (0..NUM_CLASSES)
        .map(|c| {
            (0..IMAGE_PIXELS)
                .map(|p| w[(p + 1) * NUM_CLASSES + c] * x[p])
                .collect()
        })
        .collect();
    Detail::Linear {
        evidence,
        bias: w[..NUM_CLASSES].to_vec(),
    }
}

fn mlp(model: &Mlp, x: Tensor<2>, predicted: usize, runner_up: usize) -> Detail {
    // Dropout is off on the plain device: the activations are the ones the logits came from.
    let activations = host_values(model.activation.apply(model.hidden.forward(x))); // [hidden]
    let hidden = activations.len();
    let templates = host_values(model.hidden.weight.val()); // [784, hidden]
    let outgoing = host_values(model.output.weight.val()); // [hidden, 10]
    let output_bias = model
        .output
        .bias
        .as_ref()
        .map_or_else(|| vec![0.0; NUM_CLASSES], |b| host_values(b.val()));
    let contributions = |class: usize| -> Vec<f32> {
        (0..hidden)
            .map(|h| activations[h] * outgoing[h * NUM_CLASSES + class])
            .collect()
    };
    let top = |class: usize| -> Vec<Unit> {
        let c = contributions(class);
        let mut order: Vec<usize> = (0..hidden).collect();
        order.sort_by(|&a, &b| c[b].total_cmp(&c[a]));
        order
            .into_iter()
            .take(TOP_UNITS)
            .map(|h| Unit {
                unit: h,
                activation: activations[h],
                contribution: c[h],
                template: (0..IMAGE_PIXELS)
                    .map(|p| templates[p * hidden + h])
                    .collect(),
            })
            .collect()
    };
    Detail::Mlp {
        units: top(predicted),
        runner_up_units: top(runner_up),
        contributions: contributions(predicted),
        output_bias: output_bias[predicted],
    }
}

fn cnn(model: &Cnn, x: Tensor<2>) -> Detail {
    let maps = model.first_feature_maps(x); // [1, channels, h, w]
    let [_, channels, height, width] = maps.dims();
    Detail::Cnn {
        feature_maps: FeatureMaps {
            channels,
            height,
            width,
            values: host_values(maps),
        },
    }
}
