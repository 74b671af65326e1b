//! Run configuration: the TOML files in `configs/` and the resolved `config.toml` of each run.

use std::path::{Path, PathBuf};

use mnist_models::ModelConfig;
use serde::{Deserialize, Serialize};

use crate::Error;

/// A run, as a TOML file describes it. Unknown keys are errors, so a typo cannot silently fall
/// back to a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// `learner` (burn's Learner with autodiff) or `scratch` (the hand-written gradient).
    #[serde(default)]
    pub trainer: TrainerKind,
    pub batch_size: usize,
    pub epochs: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Reshuffle the training set every epoch.
    #[serde(default = "default_true")]
    pub shuffle: bool,
    /// 0: batches are built on the training thread; n > 0: up to n batches are built ahead on a
    /// background thread.
    #[serde(default)]
    pub num_workers: usize,
    /// A course-layout `.mat` file or a folder of IDX files.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// Where run directories are created.
    #[serde(default = "default_artifacts")]
    pub artifacts: PathBuf,
    pub model: ModelConfig,
    pub optimizer: OptimizerConfig,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainerKind {
    #[default]
    Learner,
    Scratch,
}

/// `[optimizer]`: `kind = "sgd"` or `kind = "adam"`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerConfig {
    Sgd {
        lr: f64,
        #[serde(default)]
        momentum: f32,
    },
    Adam {
        lr: f64,
        #[serde(default = "default_beta1")]
        beta1: f32,
        #[serde(default = "default_beta2")]
        beta2: f32,
        /// Keras' default, which the course used (PyTorch uses 1e-8, burn 1e-5).
        #[serde(default = "default_epsilon")]
        epsilon: f32,
    },
}

fn default_seed() -> u64 {
    42
}
fn default_true() -> bool {
    true
}
fn default_data() -> PathBuf {
    PathBuf::from(mnist_data::DEFAULT_MAT)
}
fn default_artifacts() -> PathBuf {
    PathBuf::from("artifacts")
}
fn default_beta1() -> f32 {
    0.9
}
fn default_beta2() -> f32 {
    0.999
}
fn default_epsilon() -> f32 {
    1e-7
}

impl OptimizerConfig {
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd { lr, .. } | OptimizerConfig::Adam { lr, .. } => *lr,
        }
    }

    pub fn init(&self) -> burn::optim::ModuleOptimizer {
        use burn::optim::{AdamConfig, SgdConfig, momentum::MomentumConfig};
        match *self {
            OptimizerConfig::Sgd { momentum, .. } => {
                let config = SgdConfig::new();
                let config = if momentum > 0.0 {
                    // PyTorch's and Keras' momentum: no dampening (burn defaults to 0.1).
                    config.with_momentum(Some(
                        MomentumConfig::new()
                            .with_momentum(momentum as f64)
                            .with_dampening(0.0),
                    ))
                } else {
                    config
                };
                config.init()
            }
            OptimizerConfig::Adam {
                beta1,
                beta2,
                epsilon,
                ..
            } => AdamConfig::new()
                .with_beta_1(beta1)
                .with_beta_2(beta2)
                .with_epsilon(epsilon)
                .init(),
        }
    }
}

impl RunConfig {
    /// Reads and checks a config file; every error names the file, and the key where it can.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "cannot read", e))?;
        let config = Self::parse(&text).map_err(|why| Error::Config {
            path: path.to_path_buf(),
            why,
        })?;
        Ok(config)
    }

    /// Parses and validates TOML text; the error is one line naming the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: RunConfig = toml::from_str(text).map_err(|e| describe_toml_error(text, &e))?;
        config.validate()?;
        Ok(config)
    }

    /// Impossible values, caught before any work starts.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("batch_size must be at least 1".into());
        }
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        self.model.validate()?;
        if self.trainer == TrainerKind::Scratch {
            if self.model != ModelConfig::Linear {
                return Err("trainer = \"scratch\" trains the linear model by hand: set model.kind = \"linear\"".into());
            }
            if !matches!(self.optimizer, OptimizerConfig::Sgd { momentum, .. } if momentum == 0.0) {
                return Err("trainer = \"scratch\" runs plain SGD: set optimizer.kind = \"sgd\" without momentum".into());
            }
        }
        let lr = self.optimizer.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(format!("optimizer.lr must be a positive number, got {lr}"));
        }
        match self.optimizer {
            OptimizerConfig::Sgd { momentum, .. } if !(0.0..1.0).contains(&momentum) => Err(
                format!("optimizer.momentum must be in [0, 1), got {momentum}"),
            ),
            OptimizerConfig::Adam { beta1, .. } if !(0.0..1.0).contains(&beta1) => {
                Err(format!("optimizer.beta1 must be in [0, 1), got {beta1}"))
            }
            OptimizerConfig::Adam { beta2, .. } if !(0.0..1.0).contains(&beta2) => {
                Err(format!("optimizer.beta2 must be in [0, 1), got {beta2}"))
            }
            OptimizerConfig::Adam { epsilon, .. } if !(epsilon.is_finite() && epsilon > 0.0) => {
                Err(format!("optimizer.epsilon must be positive, got {epsilon}"))
            }
            _ => Ok(()),
        }
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a RunConfig always serialises")
    }
}

/// toml's errors quote the offending line over several lines; this makes one line of it that
/// names the line number and the key (`table.key`), which is what a user needs to fix it.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end_matches('.');
    let Some(span) = e.span() else {
        return message.to_string();
    };
    if span.start == 0 && message.starts_with("missing field") {
        // A key missing at the top level: the span is the whole document, no line to show.
        return message.to_string();
    }
    let before = &text[..span.start.min(text.len())];
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
    let header = |l: &str| {
        let l = l.trim();
        (l.starts_with('[') && l.ends_with(']'))
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    };
    // The table the line sits in: the line itself if it is a `[header]` (serde reports errors
    // inside a tagged table there), else the last header above it.
    let table = header(line).or_else(|| before.lines().rev().find_map(header));
    // serde names an unknown key in its message; otherwise the key is left of the `=`.
    let key = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
        .map(str::to_string)
        .or_else(|| line.split_once('=').map(|(k, _)| k.trim().to_string()));
    match (key, table) {
        (Some(key), Some(table)) => format!("line {line_no}, key `{table}.{key}`: {message}"),
        (Some(key), None) => format!("line {line_no}, key `{key}`: {message}"),
        (None, Some(table)) => format!("line {line_no}, table `[{table}]`: {message}"),
        _ => format!("line {line_no} (`{line}`): {message}"),
    }
}
