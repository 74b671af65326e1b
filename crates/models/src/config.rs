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
