//! The `[model]` table of a run config.

use serde::{Deserialize, Serialize};

/// Which model, and its shape. In TOML: `kind = "linear"`; `kind = "mlp"` with `hidden`,
/// `activation` and `dropout`; or `kind = "cnn"` with `[[model.conv]]` and `[[model.dense]]`
/// layers (see [`CnnConfig`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ModelConfig {
    /// Softmax regression: 785×10 weights, row 0 the bias.
    Linear,
    /// Linear(784→hidden) → activation → dropout → Linear(hidden→10).
    Mlp {
        /// Hidden units; the course used 300.
        #[serde(default = "default_hidden")]
        hidden: usize,
        /// The course used tanh.
        #[serde(default)]
        activation: Activation,
        /// Probability of zeroing a hidden unit while training; 0 (the course's) leaves the
        /// model exactly as it was, with no dropout layer at all.
        #[serde(default, skip_serializing_if = "is_zero")]
        dropout: f64,
    },
    /// A convolutional network: conv blocks, then dense blocks, then a dense layer to 10.
    Cnn(CnnConfig),
}

fn default_hidden() -> usize {
    300
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    Tanh,
    Relu,
    Sigmoid,
}

/// `kind = "cnn"`. The image enters as `[1, 28, 28]` with pixels in [0, 1]; each `conv` block
/// is conv → activation → pool → dropout, its output flattened into the `dense` blocks
/// (dense → activation → dropout), and a last dense layer gives the 10 logits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnnConfig {
    /// `(x − mean) / std` as the model's first step, so every caller (predict, the web app, the
    /// ONNX file) still hands it pixels in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<Normalize>,
    pub conv: Vec<ConvLayer>,
    #[serde(default)]
    pub dense: Vec<DenseLayer>,
}

/// Input standardisation: PyTorch's `examples/mnist` uses mean 0.1307, std 0.3081 (the
/// training set's pixel mean and standard deviation).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    pub mean: f64,
    pub std: f64,
}

/// One `[[model.conv]]` block: a square `kernel`, stride 1, `padding` zeros on every side.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvLayer {
    pub channels: usize,
    pub kernel: usize,
    #[serde(default)]
    pub padding: usize,
    #[serde(default = "default_conv_activation")]
    pub activation: Activation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolConfig>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropout: f64,
}

fn default_conv_activation() -> Activation {
    Activation::Relu
}

/// Pooling after a conv block: `size`×`size` windows, stride `size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    pub kind: PoolKind,
    pub size: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    Max,
    Avg,
}

/// One `[[model.dense]]` block between the conv blocks and the output layer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseLayer {
    pub units: usize,
    #[serde(default = "default_conv_activation")]
    pub activation: Activation,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropout: f64,
}

impl ModelConfig {
    /// Impossible values, named by their key: sizes of 0, rates outside [0, 1), a kernel or a
    /// pool window larger than what reaches it.
    pub fn validate(&self) -> Result<(), String> {
        self.summary().map(|_| ())
    }
}

impl Activation {
    /// The name a config spells it with: `tanh`, `relu`, `sigmoid`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
        }
    }
}

/// The model's names, in one place: what the runs table, the report and `mnist export` call it.
impl ModelConfig {
    /// The config's `kind`: `linear`, `mlp` or `cnn`.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Linear => "linear",
            ModelConfig::Mlp { .. } => "mlp",
            ModelConfig::Cnn(_) => "cnn",
        }
    }

    /// A short name for a table: `linear`, `mlp 300 tanh`, or a CNN in the usual shorthand,
    /// `cnn 32c3-64c3-mp2-128` (`32c3`: 32 channels of 3×3, `p2` padding 2, `mp2`/`ap2`: max or
    /// average pooling by 2, a bare number: a dense layer).
    pub fn short_name(&self) -> String {
        match self {
            ModelConfig::Linear => self.kind().to_string(),
            ModelConfig::Mlp {
                hidden,
                activation,
                dropout,
            } => {
                let name = format!("{} {hidden} {}", self.kind(), activation.name());
                if *dropout > 0.0 {
                    format!("{name} dropout {dropout}")
                } else {
                    name
                }
            }
            ModelConfig::Cnn(cnn) => {
                let mut parts = Vec::new();
                for c in &cnn.conv {
                    let pad = if c.padding > 0 {
                        format!("p{}", c.padding)
                    } else {
                        String::new()
                    };
                    parts.push(format!("{}c{}{pad}", c.channels, c.kernel));
                    if let Some(pool) = c.pool {
                        parts.push(format!("{}p{}", pool.kind.letter(), pool.size));
                    }
                }
                parts.extend(cnn.dense.iter().map(|d| d.units.to_string()));
                format!("{} {}", self.kind(), parts.join("-"))
            }
        }
    }

    /// The shape spelled out: `linear softmax, 785×10 weights (bias as row 0)`,
    /// `mlp 784-300(tanh)-10`, or a CNN's blocks in order.
    pub fn description(&self) -> String {
        let (pixels, classes) = (mnist_data::IMAGE_PIXELS, mnist_data::NUM_CLASSES);
        match self {
            ModelConfig::Linear => format!(
                "{} softmax, {}×{classes} weights (bias as row 0)",
                self.kind(),
                pixels + 1,
            ),
            ModelConfig::Mlp {
                hidden,
                activation,
                dropout,
            } => {
                let drop = if *dropout > 0.0 {
                    format!(", dropout {dropout}")
                } else {
                    String::new()
                };
                format!(
                    "{} {pixels}-{hidden}({}{drop})-{classes}",
                    self.kind(),
                    activation.name(),
                )
            }
            ModelConfig::Cnn(_) => {
                let layers: Vec<String> = match self.summary() {
                    Ok(summary) => summary
                        .layers
                        .into_iter()
                        .skip(1)
                        .map(|l| l.layer)
                        .collect(),
                    Err(e) => vec![e],
                };
                format!("{} {}", self.kind(), layers.join(", "))
            }
        }
    }
}

impl PoolKind {
    /// The name a config spells it with: `max`, `avg`.
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::Max => "max",
            PoolKind::Avg => "avg",
        }
    }

    fn letter(self) -> &'static str {
        match self {
            PoolKind::Max => "m",
            PoolKind::Avg => "a",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_spell_the_config() {
        let mlp = ModelConfig::Mlp {
            hidden: 300,
            activation: Activation::Tanh,
            dropout: 0.0,
        };
        assert_eq!(mlp.kind(), "mlp");
        assert_eq!(mlp.short_name(), "mlp 300 tanh");
        assert_eq!(mlp.description(), "mlp 784-300(tanh)-10");
        assert_eq!(ModelConfig::Linear.short_name(), "linear");
        assert_eq!(
            ModelConfig::Linear.description(),
            "linear softmax, 785×10 weights (bias as row 0)"
        );
        // The names are the config's own spelling: what serde writes for the activation.
        for a in [Activation::Tanh, Activation::Relu, Activation::Sigmoid] {
            assert_eq!(toml::Value::try_from(a).unwrap().as_str(), Some(a.name()));
        }
    }
}
