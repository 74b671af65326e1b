//! A model's layers, output shapes and parameter counts, worked out from its config alone.
//!
//! The same walk through the layers validates the config: a kernel or a pool window that does
//! not fit what reaches it is found here, before any tensor is made, and named by its key.

use mnist_data::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};
use serde::Serialize;

use crate::config::{CnnConfig, ModelConfig};

/// One row of a model summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerSummary {
    /// What the layer does: `conv 3×3, 32 channels, relu`.
    pub layer: String,
    /// Its output shape for one image: `[32, 26, 26]`, `[128]`.
    pub output: Vec<usize>,
    /// Trainable parameters.
    pub params: usize,
}

/// Every layer of a model, input first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelSummary {
    pub layers: Vec<LayerSummary>,
}

impl ModelSummary {
    /// Trainable parameters in all.
    pub fn params(&self) -> usize {
        self.layers.iter().map(|l| l.params).sum()
    }

    /// Multiply-adds of one image's forward pass, about: each layer's parameters once per
    /// output position (a dense layer's output has one position, a convolution's `[C, H, W]`
    /// has H·W; bias adds are counted with the weights).
    pub fn multiply_adds_per_image(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.params * l.output.iter().skip(1).product::<usize>())
            .sum()
    }

    fn push(&mut self, layer: String, output: Vec<usize>, params: usize) {
        self.layers.push(LayerSummary {
            layer,
            output,
            params,
        });
    }
}

/// `[32, 26, 26]`, as tables show a shape.
pub fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// A count with thousands separated: `1,199,882`.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A dropout probability: in [0, 1), where 0 means no dropout layer.
fn check_rate(rate: f64, key: &str) -> Result<(), String> {
    if (0.0..1.0).contains(&rate) {
        Ok(())
    } else {
        Err(format!("{key} must be in [0, 1), got {rate}"))
    }
}

fn at_least_one(v: usize, key: &str) -> Result<(), String> {
    if v == 0 {
        Err(format!("{key} must be at least 1"))
    } else {
        Ok(())
    }
}

impl ModelConfig {
    /// The model's layers, or the first impossible value, named by its key (`model.hidden`,
    /// `model.conv[2].kernel`; blocks are counted from 1, as they appear in the file).
    pub fn summary(&self) -> Result<ModelSummary, String> {
        let mut s = ModelSummary { layers: Vec::new() };
        s.push("input".into(), vec![IMAGE_PIXELS], 0);
        match self {
            ModelConfig::Linear => s.push(
                format!("linear {IMAGE_PIXELS}+1 → {NUM_CLASSES} (bias as row 0)"),
                vec![NUM_CLASSES],
                (IMAGE_PIXELS + 1) * NUM_CLASSES,
            ),
            ModelConfig::Mlp {
                hidden,
                activation,
                dropout,
            } => {
                at_least_one(*hidden, "model.hidden")?;
                check_rate(*dropout, "model.dropout")?;
                s.push(
                    format!("dense {hidden}, {}", activation.name()),
                    vec![*hidden],
                    (IMAGE_PIXELS + 1) * hidden,
                );
                if *dropout > 0.0 {
                    s.push(format!("dropout {dropout}"), vec![*hidden], 0);
                }
                s.push(
                    format!("dense {NUM_CLASSES} (logits)"),
                    vec![NUM_CLASSES],
                    (hidden + 1) * NUM_CLASSES,
                );
            }
            ModelConfig::Cnn(cnn) => {
                cnn_layers(cnn, &mut s)?;
            }
        }
        Ok(s)
    }

    /// Trainable parameters: what a checkpoint holds, in f32 values.
    pub fn parameter_count(&self) -> Result<usize, String> {
        self.summary().map(|s| s.params())
    }
}

/// The flattened features the conv blocks of `cnn` hand the first dense layer (`cnn` is
/// validated): what `Cnn::new` sizes that layer by, from the same walk the summary takes.
pub(crate) fn flattened_features(cnn: &CnnConfig) -> usize {
    cnn_layers(cnn, &mut ModelSummary { layers: Vec::new() })
        .expect("a CNN is built from a validated config")
}

/// Appends the CNN's layers to `s`; the number of features after flattening.
fn cnn_layers(cnn: &CnnConfig, s: &mut ModelSummary) -> Result<usize, String> {
    let mut shape = [1, IMAGE_SIDE, IMAGE_SIDE]; // [channels, height, width]
    s.push("reshape".into(), shape.to_vec(), 0);
    if let Some(n) = cnn.normalize {
        if !(n.mean.is_finite() && n.std.is_finite() && n.std > 0.0) {
            return Err(format!(
                "model.normalize needs a finite mean and a positive std, got mean {} std {}",
                n.mean, n.std
            ));
        }
        s.push(
            format!("normalize (x − {}) / {}", n.mean, n.std),
            shape.to_vec(),
            0,
        );
    }
    if cnn.conv.is_empty() {
        return Err("model.conv needs at least one [[model.conv]] block".into());
    }
    for (i, c) in cnn.conv.iter().enumerate() {
        let key = |k: &str| format!("model.conv[{}].{k}", i + 1);
        at_least_one(c.channels, &key("channels"))?;
        at_least_one(c.kernel, &key("kernel"))?;
        check_rate(c.dropout, &key("dropout"))?;
        let [channels, h, w] = shape;
        let (ph, pw) = (h + 2 * c.padding, w + 2 * c.padding);
        if c.kernel > ph.min(pw) {
            return Err(format!(
                "{} = {} is larger than the {h}×{w} input of that block (padding {}); use a \
                 smaller kernel or more padding",
                key("kernel"),
                c.kernel,
                c.padding
            ));
        }
        shape = [c.channels, ph - c.kernel + 1, pw - c.kernel + 1];
        let pad = if c.padding > 0 {
            format!(", padding {}", c.padding)
        } else {
            String::new()
        };
        s.push(
            format!(
                "conv {k}×{k}, {} channels{pad}, {}",
                c.channels,
                c.activation.name(),
                k = c.kernel
            ),
            shape.to_vec(),
            (channels * c.kernel * c.kernel + 1) * c.channels,
        );
        if let Some(pool) = c.pool {
            at_least_one(pool.size, &key("pool.size"))?;
            let [channels, h, w] = shape;
            if pool.size > h.min(w) {
                return Err(format!(
                    "{} = {} is larger than the {h}×{w} output of that block's convolution",
                    key("pool.size"),
                    pool.size
                ));
            }
            shape = [channels, h / pool.size, w / pool.size];
            s.push(
                format!("{}-pool {k}×{k}", pool.kind.name(), k = pool.size),
                shape.to_vec(),
                0,
            );
        }
        if c.dropout > 0.0 {
            s.push(format!("dropout {}", c.dropout), shape.to_vec(), 0);
        }
    }
    let flattened = shape.iter().product::<usize>();
    s.push("flatten".into(), vec![flattened], 0);
    let mut features = flattened;
    for (i, d) in cnn.dense.iter().enumerate() {
        let key = |k: &str| format!("model.dense[{}].{k}", i + 1);
        at_least_one(d.units, &key("units"))?;
        check_rate(d.dropout, &key("dropout"))?;
        s.push(
            format!("dense {}, {}", d.units, d.activation.name()),
            vec![d.units],
            (features + 1) * d.units,
        );
        if d.dropout > 0.0 {
            s.push(format!("dropout {}", d.dropout), vec![d.units], 0);
        }
        features = d.units;
    }
    s.push(
        format!("dense {NUM_CLASSES} (logits)"),
        vec![NUM_CLASSES],
        (features + 1) * NUM_CLASSES,
    );
    Ok(flattened)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `[model]` table of a config in the repository's `configs/`.
    fn shipped(name: &str) -> ModelConfig {
        let path = mnist_data::repo_root().join("configs").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let value: toml::Table = toml::from_str(&text).unwrap();
        value["model"].clone().try_into().unwrap()
    }

    #[test]
    fn the_shipped_cnns_have_their_published_sizes() {
        let cnn = shipped("cnn.toml").summary().unwrap();
        // PyTorch's examples/mnist `Net`: 320 + 18,496 + 1,179,776 + 1,290.
        assert_eq!(cnn.params(), 1_199_882);
        let shapes: Vec<&[usize]> = cnn.layers.iter().map(|l| l.output.as_slice()).collect();
        assert_eq!(
            shapes,
            [
                &[784][..],
                &[1, 28, 28],
                &[1, 28, 28],
                &[32, 26, 26],
                &[64, 24, 24],
                &[64, 12, 12],
                &[64, 12, 12],
                &[9216],
                &[128],
                &[128],
                &[10],
            ]
        );
        // Each convolution's parameters once per output position, each dense layer's once:
        // 320·26² + 18,496·24² + 1,179,776 + 1,290.
        assert_eq!(
            cnn.multiply_adds_per_image(),
            320 * 26 * 26 + 18_496 * 24 * 24 + 1_179_776 + 1_290
        );
        let mlp = shipped("mlp.toml").summary().unwrap();
        assert_eq!(mlp.multiply_adds_per_image(), 235_500 + 3_010);
        // LeNet-5: C1 156, C3 2,416, C5 48,120, F6 10,164, output 850.
        let lenet = shipped("lenet5.toml").summary().unwrap();
        assert_eq!(lenet.params(), 61_706);
        assert_eq!(shipped("cnn.toml").short_name(), "cnn 32c3-64c3-mp2-128");
        assert_eq!(
            shipped("lenet5.toml").short_name(),
            "cnn 6c5p2-ap2-16c5-ap2-120-84"
        );
        // The course's models, for the same table.
        assert_eq!(shipped("mlp.toml").parameter_count(), Ok(238_510));
        assert_eq!(shipped("linear.toml").parameter_count(), Ok(7_850));
    }

    fn cnn_with(edit: impl FnOnce(&mut CnnConfig)) -> Result<ModelSummary, String> {
        let ModelConfig::Cnn(mut cnn) = shipped("cnn.toml") else {
            unreachable!()
        };
        edit(&mut cnn);
        ModelConfig::Cnn(cnn).summary()
    }

    #[test]
    fn impossible_shapes_and_rates_are_named_by_their_key() {
        type Edit = Box<dyn FnOnce(&mut CnnConfig)>;
        let cases: [(Edit, &str); 8] = [
            (
                Box::new(|c| c.conv[1].kernel = 27),
                "model.conv[2].kernel = 27 is larger than the 26×26 input",
            ),
            (
                Box::new(|c| c.conv[0].kernel = 0),
                "model.conv[1].kernel must be at least 1",
            ),
            (
                Box::new(|c| c.conv[0].channels = 0),
                "model.conv[1].channels must be at least 1",
            ),
            (
                Box::new(|c| c.conv[1].pool.as_mut().unwrap().size = 25),
                "model.conv[2].pool.size = 25 is larger",
            ),
            (
                Box::new(|c| c.conv[1].dropout = 1.0),
                "model.conv[2].dropout must be in [0, 1)",
            ),
            (
                Box::new(|c| c.dense[0].dropout = -0.1),
                "model.dense[1].dropout must be in [0, 1)",
            ),
            (
                Box::new(|c| c.conv.clear()),
                "model.conv needs at least one",
            ),
            (
                Box::new(|c| c.normalize.as_mut().unwrap().std = 0.0),
                "model.normalize needs",
            ),
        ];
        for (edit, expected) in cases {
            let e = cnn_with(edit).unwrap_err();
            assert!(e.starts_with(expected), "{e}");
        }
        // Padding makes room for a kernel the image alone could not hold.
        assert!(
            cnn_with(|c| {
                c.conv[0].kernel = 30;
                c.conv[0].padding = 1;
                c.conv[1].kernel = 1;
                c.conv[1].pool = None;
            })
            .is_ok()
        );
        let mlp = ModelConfig::Mlp {
            hidden: 300,
            activation: Default::default(),
            dropout: 1.5,
        };
        assert!(mlp.validate().unwrap_err().starts_with("model.dropout"));
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_199_882), "1,199,882");
    }
}
