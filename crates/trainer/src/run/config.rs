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

    /// AdamW's decoupled weight decay: PyTorch's `torch.optim.AdamW` default (Loshchilov &
    /// Hutter use 0.01-0.1 scaled by the schedule; burn's default is 1e-4).
    pub const ADAMW_WEIGHT_DECAY: f32 = 0.01;
    /// A step schedule multiplies the rate every epoch unless told otherwise (PyTorch's
    /// examples/mnist: StepLR(step_size=1, gamma=0.7) stepped once per epoch).
    pub const STEP_EVERY_EPOCHS: usize = 1;

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
    pub(super) fn adamw_weight_decay() -> f32 {
        ADAMW_WEIGHT_DECAY
    }
    pub(super) fn step_every_epochs() -> usize {
        STEP_EVERY_EPOCHS
    }
    pub(super) fn is_zero(v: &f32) -> bool {
        *v == 0.0
    }
    pub(super) fn is_false(v: &bool) -> bool {
        !*v
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
    /// `[scheduler]`: how the learning rate changes over the run [default: constant at
    /// `optimizer.lr`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<SchedulerConfig>,
    /// What each epoch is validated on: `"test"` (the course's way) or `{ holdout = N }`, N
    /// training images set aside by the seed [default: `"test"`].
    #[serde(default, skip_serializing_if = "Validation::is_test")]
    pub validation: Validation,
    /// `[early_stopping]`: stop when the validation metric stops improving, keep the best epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStoppingConfig>,
    /// `[augment]`: random affine distortions of the training images, per image and epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment: Option<AugmentConfig>,
}

/// `validation`: the images each epoch's validation numbers (and so early stopping and the
/// choice of the final weights) come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Validation {
    /// The test set, as the course did: every choice made on it leaks into the test accuracy.
    #[default]
    Test,
    /// This many training images, chosen by the seed, never trained on; the test set is
    /// evaluated once, at the end.
    Holdout(usize),
}

impl Validation {
    fn is_test(&self) -> bool {
        *self == Validation::Test
    }
}

impl Serialize for Validation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match *self {
            Validation::Test => s.serialize_str("test"),
            Validation::Holdout(n) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("holdout", &n)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Validation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        const EXPECTED: &str = "\"test\" or { holdout = N }";
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Validation;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Validation, E> {
                match v {
                    "test" => Ok(Validation::Test),
                    other => Err(E::custom(format!(
                        "validation = \"{other}\": expected {EXPECTED}"
                    ))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Validation, A::Error> {
                use serde::de::Error;
                let mut holdout = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "holdout" => holdout = Some(map.next_value::<usize>()?),
                        other => {
                            return Err(A::Error::custom(format!(
                                "unknown field `{other}`, expected `holdout`"
                            )));
                        }
                    }
                }
                holdout
                    .map(Validation::Holdout)
                    .ok_or_else(|| A::Error::custom(format!("expected {EXPECTED}")))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `[early_stopping]`: burn's Learner stops once `metric` has not improved by more than
/// `min_delta` for `patience` epochs; the run keeps the best epoch's weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    pub metric: StopMetric,
    pub patience: usize,
    /// An epoch improves on the best only by more than this (loss, or accuracy as a fraction).
    #[serde(default)]
    pub min_delta: f64,
}

/// The validation number early stopping watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMetric {
    /// Lower is better.
    ValidLoss,
    /// Higher is better.
    ValidAccuracy,
}

/// `[augment]`: ranges of the random affine distortion drawn per training image and epoch
/// (torchvision's `RandomAffine`, symmetric ranges). Keys left out do not distort.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// Degrees either way.
    #[serde(default)]
    pub rotation: f32,
    /// Relative size change either way (0.1: 90-110%).
    #[serde(default)]
    pub scale: f32,
    /// Pixels either way, horizontally and vertically.
    #[serde(default)]
    pub shift: f32,
    /// Horizontal shear, degrees either way.
    #[serde(default)]
    pub shear: f32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainerKind {
    #[default]
    Learner,
    Scratch,
}

/// `[optimizer]`: `kind = "sgd"`, `"adam"` or `"adamw"`. SGD's `nesterov` and `weight_decay`
/// are not written into a run's `config.toml` while off, so an SGD run's stored config reads as it
/// did before those keys existed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerConfig {
    Sgd {
        lr: f64,
        #[serde(default)]
        momentum: f32,
        /// Nesterov's momentum (needs `momentum` > 0).
        #[serde(default, skip_serializing_if = "defaults::is_false")]
        nesterov: bool,
        /// L2 penalty added to the gradient (PyTorch's SGD `weight_decay`).
        #[serde(default, skip_serializing_if = "defaults::is_zero")]
        weight_decay: f32,
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
    /// Adam with decoupled weight decay (Loshchilov & Hutter 2019), burn's `AdamW`.
    Adamw {
        lr: f64,
        #[serde(default = "defaults::beta1")]
        beta1: f32,
        #[serde(default = "defaults::beta2")]
        beta2: f32,
        #[serde(default = "defaults::epsilon")]
        epsilon: f32,
        #[serde(default = "defaults::adamw_weight_decay")]
        weight_decay: f32,
    },
}

/// `[scheduler]`: the learning rate over the run, starting from `optimizer.lr`; burn's
/// `lr_scheduler`s, stepped once per training iteration. Written in epochs, turned into
/// iterations once the training set's size is known.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SchedulerConfig {
    /// `optimizer.lr` throughout (as without a `[scheduler]`, but the rate is recorded).
    Constant,
    /// Multiplied by `gamma` every `every_epochs` epochs (PyTorch's `StepLR`).
    Step {
        #[serde(default = "defaults::step_every_epochs")]
        every_epochs: usize,
        gamma: f64,
    },
    /// Multiplied by `gamma` over each epoch, smoothly (`gamma^(1/iterations)` per iteration).
    Exponential { gamma: f64 },
    /// A linear warm-up over `warmup_epochs` (from `lr / warm-up iterations` up to `lr`), then
    /// a cosine down to `min_lr` at the last iteration (burn's linear, cosine and sequential
    /// schedulers).
    Cosine {
        #[serde(default)]
        min_lr: f64,
        #[serde(default)]
        warmup_epochs: f64,
    },
}

impl RunConfig {
    /// Parses TOML text; the error is one line naming the line and the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| describe_toml_error(text, &e))?;
        // serde's `deny_unknown_fields` does not reach a variant without fields: `[model]
        // kind = "linear"` with `hidden = 300` would parse, and the key be silently ignored.
        if config.model == ModelConfig::Linear
            && let Ok(table) = text.parse::<toml::Table>()
            && let Some(toml::Value::Table(model)) = table.get("model")
            && let Some(key) = model.keys().find(|k| *k != "kind")
        {
            return Err(with_line(
                text,
                format!(
                    "model.{key}: the linear model has no `{key}` (it is 785×10 weights); remove \
                     it, or set model.kind = \"mlp\" or \"cnn\""
                ),
            ));
        }
        Ok(config)
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
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    // Inside a tagged table (`[model]`) serde loses the key's place and reports the table's
    // header; the key itself is somewhere in that table, maybe in a `[[model.conv]]` below it.
    if let (Some(name), Some(tagged)) = (unknown, header(line))
        && let Some((path, line_no)) = find_key(text, &tagged, name)
    {
        return format!("line {line_no}, key `{path}`: {message}");
    }
    let key = unknown
        .map(str::to_string)
        .or_else(|| line.split_once('=').map(|(k, _)| k.trim().to_string()));
    match (key, table) {
        (Some(key), Some(table)) => format!("line {line_no}, key `{table}.{key}`: {message}"),
        (Some(key), None) => format!("line {line_no}, key `{key}`: {message}"),
        (None, Some(table)) => format!("line {line_no}, table `[{table}]`: {message}"),
        _ => format!("line {line_no} (`{line}`): {message}"),
    }
}

/// A validation message that starts with its key (`model.conv[2].kernel = 27 is …`), prefixed
/// with the line that key is written on, or the line of the nearest table above it that is
/// (a key left to its default is not in the file): `line 24: model.conv[2].kernel = 27 is …`.
pub(crate) fn with_line(text: &str, why: String) -> String {
    let key = why
        .split([' ', ':'])
        .next()
        .unwrap_or("")
        .trim_end_matches(['.', ',']);
    let is_key = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c));
    match is_key.then(|| key_line(text, key)).flatten() {
        Some(line) => format!("line {line}: {why}"),
        None => why,
    }
}

/// The first key called `name` in table `table` (dotted) or any table inside it, depth first:
/// its full path (arrays of tables indexed from 1: `model.conv[2].chanels`) and its line.
fn find_key(text: &str, table: &str, name: &str) -> Option<(String, usize)> {
    use toml::de::{DeTable, DeValue};
    fn search(t: &DeTable, path: &str, name: &str) -> Option<(String, usize)> {
        for (k, v) in t {
            let here = format!("{path}.{}", k.get_ref());
            if k.get_ref().as_ref() == name {
                return Some((here, k.span().start));
            }
            let found = match v.get_ref() {
                DeValue::Table(inner) => search(inner, &here, name),
                DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| match item
                    .get_ref()
                {
                    DeValue::Table(inner) => search(inner, &format!("{here}[{}]", i + 1), name),
                    _ => None,
                }),
                _ => None,
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }
    let doc = DeTable::parse(text).ok()?;
    let mut t = doc.get_ref();
    for segment in table.split('.') {
        let (_, v) = t
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == segment.trim())?;
        match v.get_ref() {
            DeValue::Table(inner) => t = inner,
            _ => return None,
        }
    }
    let (path, start) = search(t, table, name)?;
    Some((path, line_of(text, start)))
}

/// The 1-based line of byte offset `start` in `text`.
fn line_of(text: &str, start: usize) -> usize {
    text[..start.min(text.len())].matches('\n').count() + 1
}

/// The line of `key` (dotted, arrays of tables indexed from 1: `model.conv[2].kernel`) in
/// `text`; of its nearest ancestor written out where the key itself is not.
fn key_line(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut found = None;
    for segment in key.split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some((k, mut value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name) else {
            break;
        };
        found = Some(k.span().start);
        if let Some(i) = index {
            let DeValue::Array(items) = value.get_ref() else {
                break;
            };
            let Some(item) = i.checked_sub(1).and_then(|i| items.get(i)) else {
                break;
            };
            found = Some(item.span().start);
            value = item;
        }
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    found.map(|start| line_of(text, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "batch_size = 0\nepochs = 1\n\n[model]\nkind = \"cnn\"\n\n[[model.conv]]\nchannels = 4\nkernel = 3\n\n[[model.conv]]\nchannels = 8\nkernel = 40\n";

    #[test]
    fn validation_messages_get_the_line_of_their_key() {
        let at = |why: &str| with_line(TEXT, why.to_string());
        assert_eq!(
            at("batch_size must be at least 1"),
            "line 1: batch_size must be at least 1"
        );
        assert_eq!(
            at("model.conv[2].kernel = 40 is larger"),
            "line 13: model.conv[2].kernel = 40 is larger"
        );
        assert!(at("model.conv[1].kernel must be").starts_with("line 9: "));
        // A key left to its default: the line of its block.
        let padding = at("model.conv[2].padding must be");
        assert_eq!(padding, "line 11: model.conv[2].padding must be");
        // A key the file does not write, and no key at all: unchanged.
        assert_eq!(
            at("trainer = \"scratch\" trains"),
            "trainer = \"scratch\" trains"
        );
        assert_eq!(at("no key here: at all"), "no key here: at all");
    }

    #[test]
    fn a_key_the_linear_model_does_not_have_is_an_error_naming_its_line() {
        let base = "batch_size = 50\nepochs = 1\noptimizer = { kind = \"sgd\", lr = 0.01 }\n\n[model]\nkind = \"linear\"\n";
        assert!(RunConfig::parse(base).is_ok());
        let why = RunConfig::parse(&format!("{base}hidden = 300\n")).unwrap_err();
        assert!(
            why.starts_with("line 7: model.hidden: the linear model has no `hidden`"),
            "{why}"
        );
        let inline = "batch_size = 50\nepochs = 1\noptimizer = { kind = \"sgd\", lr = 0.01 }\nmodel = { kind = \"linear\", dropout = 0.5 }\n";
        let why = RunConfig::parse(inline).unwrap_err();
        assert!(why.contains("model.dropout"), "{why}");
        // The other models' unknown keys are serde's to refuse, as before.
        let mlp = "batch_size = 50\nepochs = 1\noptimizer = { kind = \"sgd\", lr = 0.01 }\n\n[model]\nkind = \"mlp\"\nwidth = 3\n";
        assert!(RunConfig::parse(mlp).unwrap_err().contains("width"));
    }
}
