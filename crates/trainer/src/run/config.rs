//! Run configs as written: the TOML files in `configs/` and each run's own `config.toml`.
//!
//! [`RunConfig`] mirrors the file, key for key; it is only ever parsed, printed and turned into
//! a [`Plan`](crate::run::plan::Plan), which is what the library runs. Defaults live in [`defaults`].

use std::path::PathBuf;

use mnist_models::ModelConfig;
use serde::{Deserialize, Serialize};

/// Every default of a run config, in one place.
pub mod defaults {
    /// The course's seed for initial weights and shuffle order.
    pub const SEED: u64 = 42;
    /// Reshuffle the training set every epoch.
    pub const SHUFFLE: bool = true;
    /// Where run directories go, relative to the config file's folder.
    pub const ARTIFACTS: &str = "artifacts";
    /// Adam's moment decay rates (Kingma & Ba; Keras, PyTorch and burn agree).
    pub const BETA1: f32 = 0.9;
    pub const BETA2: f32 = 0.999;
    /// Keras' default, which the course used (PyTorch uses 1e-8, burn 1e-5).
    pub const EPSILON: f32 = 1e-7;

    pub(super) fn seed() -> u64 {
        SEED
    }
    pub(super) fn shuffle() -> bool {
        SHUFFLE
    }
    pub(super) fn beta1() -> f32 {
        BETA1
    }
    pub(super) fn beta2() -> f32 {
        BETA2
    }
    pub(super) fn epsilon() -> f32 {
        EPSILON
    }
}

/// A run, as a TOML file describes it. Unknown keys are errors, so a typo cannot silently fall
/// back to a default. Relative paths are relative to the folder of the file they are written in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// `learner` (burn's Learner with autodiff) or `scratch` (the hand-written gradient).
    #[serde(default)]
    pub trainer: TrainerKind,
    pub batch_size: usize,
    pub epochs: usize,
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    #[serde(default = "defaults::shuffle")]
    pub shuffle: bool,
    /// 0: batches are built on the training thread; n > 0: up to n batches are built ahead on a
    /// background thread.
    #[serde(default)]
    pub num_workers: usize,
    /// A course-layout `.mat` file or a folder of IDX files [default: the repository's
    /// `data/mnist_all.mat`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Where run directories are created [default: [`defaults::ARTIFACTS`]].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<PathBuf>,
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
        #[serde(default = "defaults::beta1")]
        beta1: f32,
        #[serde(default = "defaults::beta2")]
        beta2: f32,
        #[serde(default = "defaults::epsilon")]
        epsilon: f32,
    },
}

impl RunConfig {
    /// Parses TOML text; the error is one line naming the line and the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| describe_toml_error(text, &e))
    }

    /// The config as TOML text; an error where a path in it is not UTF-8 (TOML is text).
    pub fn to_toml(&self) -> Result<String, String> {
        toml::to_string(self).map_err(|e| {
            format!("cannot store the config as TOML ({e}); use paths that are valid UTF-8")
        })
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
