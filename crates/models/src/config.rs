//! The `[model]` table of a run config.

use serde::{Deserialize, Serialize};

/// Which model, and its shape. In TOML: `kind = "linear"`, or `kind = "mlp"` with `hidden` and
/// `activation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ModelConfig {
    /// Softmax regression: 785×10 weights, row 0 the bias.
    Linear,
    /// Linear(784→hidden) → activation → Linear(hidden→10).
    Mlp {
        /// Hidden units; the course used 300.
        #[serde(default = "default_hidden")]
        hidden: usize,
        /// The course used tanh.
        #[serde(default)]
        activation: Activation,
    },
}

fn default_hidden() -> usize {
    300
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    Tanh,
    Relu,
    Sigmoid,
}

impl ModelConfig {
    /// Impossible values, named by their key.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ModelConfig::Mlp { hidden: 0, .. } => Err("model.hidden must be at least 1".into()),
            _ => Ok(()),
        }
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
    /// The config's `kind`: `linear` or `mlp`.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Linear => "linear",
            ModelConfig::Mlp { .. } => "mlp",
        }
    }

    /// A short name for a table: `linear` or `mlp 300 tanh`.
    pub fn short_name(&self) -> String {
        match self {
            ModelConfig::Linear => self.kind().to_string(),
            ModelConfig::Mlp { hidden, activation } => {
                format!("{} {hidden} {}", self.kind(), activation.name())
            }
        }
    }

    /// The shape spelled out: `linear softmax, 785×10 weights (bias as row 0)` or
    /// `mlp 784-300(tanh)-10`.
    pub fn description(&self) -> String {
        match self {
            ModelConfig::Linear => format!(
                "{} softmax, {}×{} weights (bias as row 0)",
                self.kind(),
                mnist_data::IMAGE_PIXELS + 1,
                mnist_data::NUM_CLASSES
            ),
            ModelConfig::Mlp { hidden, activation } => format!(
                "{} {}-{hidden}({})-{}",
                self.kind(),
                mnist_data::IMAGE_PIXELS,
                activation.name(),
                mnist_data::NUM_CLASSES
            ),
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
