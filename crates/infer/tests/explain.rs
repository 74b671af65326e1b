//! The explanation of an answer adds up: the linear model's evidence plus its bias is each
//! logit, the MLP's unit contributions plus the output bias is the predicted class's logit, and
//! every model's saliency map is the finite-difference slope of that logit. The identities hold
//! for any weights, so the models here are freshly initialised ones (no training needed), on
//! real test images from the fixture data.

use burn::prelude::*;
use mnist_data::{IMAGE_PIXELS, NUM_CLASSES, Split};
use mnist_infer::explain::{Detail, Explanation, TOP_UNITS, explain};
use mnist_models::{
    Activation, CnnConfig, ConvLayer, DenseLayer, Mlp, Model, ModelConfig, PoolConfig, PoolKind,
    host_values,
};
use mnist_trainer::approx::max_abs_difference;
use mnist_trainer::backend::default_backend;
use mnist_trainer::testing::mnist_idx;

/// The identities' tolerance (f32 sums of 784 or 300 terms of size ≤ 1).
const SUM_TOLERANCE: f64 = 1e-4;
/// Central differences in [0, 1] pixel units: the truncation error of a smooth net is O(h²) ≈
/// 1e-4, the f32 rounding of the logits ≈ 1e-7 / h ≈ 1e-5.
const H: f32 = 1e-2;
const SLOPE_TOLERANCE: f64 = 1e-3;

fn test_images() -> Split {
    mnist_data::load(Some(&mnist_idx())).unwrap().test
}

/// Three test images of different digits.
fn images(test: &Split) -> Vec<Vec<u8>> {
    [1u8, 4, 7]
        .iter()
        .map(|&d| {
            let i = (0..test.len()).find(|&i| test.label(i) == d).unwrap();
            test.image(i).to_vec()
        })
        .collect()
}

fn logits(model: &Model, pixels: &[f32], device: &Device) -> Vec<f32> {
    let x = Tensor::<2>::from_data(TensorData::new(pixels.to_vec(), [1, IMAGE_PIXELS]), device);
    host_values(model.forward(x))
}

/// Central differences of logit[class] at the given pixels, through the model's forward pass.
fn finite_differences(
    model: &Model,
    pixels: &[u8],
    class: usize,
    at: &[usize],
    device: &Device,
) -> Vec<f64> {
    let x: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    at.iter()
        .map(|&p| {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[p] += H;
            down[p] -= H;
            let slope = logits(model, &up, device)[class] - logits(model, &down, device)[class];
            slope as f64 / (2.0 * H as f64)
        })
        .collect()
}

/// The saliency map against finite differences at its 6 largest entries, 3 inked pixels and
/// 3 blank ones.
fn check_saliency(model: &Model, pixels: &[u8], e: &Explanation, device: &Device) {
    assert_eq!(e.saliency.len(), IMAGE_PIXELS);
    let mut by_size: Vec<usize> = (0..IMAGE_PIXELS).collect();
    by_size.sort_by(|&a, &b| e.saliency[b].abs().total_cmp(&e.saliency[a].abs()));
    let mut at: Vec<usize> = by_size[..6].to_vec();
    at.extend(
        (0..IMAGE_PIXELS)
            .filter(|&p| pixels[p] > 128)
            .step_by(7)
            .take(3),
    );
    at.extend(
        (0..IMAGE_PIXELS)
            .filter(|&p| pixels[p] == 0)
            .step_by(50)
            .take(3),
    );
    let expected = finite_differences(model, pixels, e.predicted as usize, &at, device);
    let got: Vec<f32> = at.iter().map(|&p| e.saliency[p]).collect();
    let worst = max_abs_difference(&expected, &got).unwrap();
    assert!(
        worst <= SLOPE_TOLERANCE,
        "{}: saliency differs from the finite differences by {worst:.2e} at pixels {at:?}:\n\
         autodiff {got:?}\nfinite differences {expected:?}",
        e.model
    );
    assert!(
        e.saliency.iter().any(|&s| s != 0.0),
        "{}: an all-zero saliency map",
        e.model
    );
}

fn check_answer(e: &Explanation, model: &Model, pixels: &[u8], device: &Device) {
    let x: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    assert_eq!(e.logits, logits(model, &x, device), "{}", e.model);
    let mut order: Vec<usize> = (0..NUM_CLASSES).collect();
    order.sort_by(|&a, &b| e.logits[b].total_cmp(&e.logits[a]));
    assert_eq!(
        (e.predicted as usize, e.runner_up as usize),
        (order[0], order[1])
    );
}

#[test]
fn the_linear_models_evidence_adds_up_to_its_logits() {
    let device = default_backend().device;
    // A bias that is not zero, so that it has to be counted.
    let model = match Model::new(&ModelConfig::Linear, 3, &device) {
        Model::Linear(mut m) => {
            m.weight = m.weight.map(|w| {
                let bias = Tensor::<2>::ones([1, NUM_CLASSES], &w.device()) * 0.3;
                w.slice_assign([0..1, 0..NUM_CLASSES], bias)
            });
            Model::Linear(m)
        }
        _ => unreachable!(),
    };
    for pixels in images(&test_images()) {
        let e = explain(&model, &pixels, &device);
        check_answer(&e, &model, &pixels, &device);
        let Detail::Linear { evidence, bias } = &e.detail else {
            panic!(
                "the linear model's explanation has no evidence: {:?}",
                e.model
            );
        };
        assert_eq!(evidence.len(), NUM_CLASSES);
        let sums: Vec<f64> = (0..NUM_CLASSES)
            .map(|c| evidence[c].iter().map(|&v| v as f64).sum::<f64>() + bias[c] as f64)
            .collect();
        let worst = max_abs_difference(&sums, &e.logits).unwrap();
        assert!(
            worst <= SUM_TOLERANCE,
            "evidence + bias is off the logits by {worst}"
        );
        assert!(bias.iter().all(|&b| (b - 0.3).abs() < 1e-6), "{bias:?}");
        // No ink, no evidence.
        let blank = (0..IMAGE_PIXELS).find(|&p| pixels[p] == 0).unwrap();
        assert!(evidence.iter().all(|m| m[blank] == 0.0));
        check_saliency(&model, &pixels, &e, &device);
    }
}

#[test]
fn the_mlps_unit_contributions_add_up_to_the_predicted_logit() {
    let device = default_backend().device;
    let mlp = Mlp::new(300, Activation::Tanh, 0.0, 5, &device);
    let templates = host_values(mlp.hidden.weight.val()); // [784, 300]
    let model = Model::Mlp(mlp);
    for pixels in images(&test_images()) {
        let e = explain(&model, &pixels, &device);
        check_answer(&e, &model, &pixels, &device);
        let Detail::Mlp {
            units,
            runner_up_units,
            contributions,
            output_bias,
        } = &e.detail
        else {
            panic!("the MLP's explanation has no units: {:?}", e.model);
        };
        assert_eq!(contributions.len(), 300);
        let total = contributions.iter().map(|&c| c as f64).sum::<f64>() + *output_bias as f64;
        let logit = e.logits[e.predicted as usize] as f64;
        assert!(
            (total - logit).abs() <= SUM_TOLERANCE,
            "Σ contributions + bias = {total}, logit {logit}"
        );
        // The top units are the largest contributions, largest first, each with its own
        // 784 input weights.
        assert_eq!((units.len(), runner_up_units.len()), (TOP_UNITS, TOP_UNITS));
        let mut sorted = contributions.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let listed: Vec<f32> = units.iter().map(|u| u.contribution).collect();
        assert_eq!(listed, sorted[..TOP_UNITS]);
        for u in units {
            assert_eq!(contributions[u.unit], u.contribution);
            let column: Vec<f32> = (0..IMAGE_PIXELS)
                .map(|p| templates[p * 300 + u.unit])
                .collect();
            assert_eq!(u.template, column, "unit {}'s template", u.unit);
            assert!(
                (u.activation.abs()) <= 1.0,
                "tanh activation {}",
                u.activation
            );
        }
        check_saliency(&model, &pixels, &e, &device);
    }
}

#[test]
fn the_cnns_explanation_has_its_first_feature_maps_and_a_true_saliency_map() {
    let device = default_backend().device;
    // Smooth throughout (tanh, average pooling), so that central differences are exact to
    // O(h²) wherever they are taken.
    let config = ModelConfig::Cnn(CnnConfig {
        normalize: None,
        conv: vec![ConvLayer {
            channels: 6,
            kernel: 5,
            padding: 2,
            activation: Activation::Tanh,
            pool: Some(PoolConfig {
                kind: PoolKind::Avg,
                size: 2,
            }),
            dropout: 0.0,
        }],
        dense: vec![DenseLayer {
            units: 32,
            activation: Activation::Tanh,
            dropout: 0.0,
        }],
    });
    let model = Model::new(&config, 9, &device);
    for pixels in images(&test_images()) {
        let e = explain(&model, &pixels, &device);
        check_answer(&e, &model, &pixels, &device);
        let Detail::Cnn { feature_maps } = &e.detail else {
            panic!("the CNN's explanation has no feature maps: {:?}", e.model);
        };
        assert_eq!(
            (
                feature_maps.channels,
                feature_maps.height,
                feature_maps.width
            ),
            (6, 28, 28)
        );
        assert_eq!(feature_maps.values.len(), 6 * 28 * 28);
        check_saliency(&model, &pixels, &e, &device);
    }
}
