//! Test tooling: run configs on the fixture data, built in one place (`fixtures` feature only).

use std::path::{Path, PathBuf};

use mnist_models::{
    Activation, CnnConfig, ConvLayer, DenseLayer, ModelConfig, Normalize, PoolConfig, PoolKind,
};

use crate::run::config::{
    AugmentConfig, EarlyStoppingConfig, OptimizerConfig, RunConfig, SchedulerConfig, TrainerKind,
    Validation,
};
use crate::run::plan::Plan;

pub use mnist_data::testing::{fixtures_dir, mnist_idx};

/// A run config for tests: small, on the fixture images (200 train, 100 test), seed 7,
/// batch 20, 2 epochs; change what a test needs.
#[derive(Clone, Debug)]
pub struct TestConfig(RunConfig);

impl TestConfig {
    fn new(trainer: TrainerKind, model: ModelConfig, optimizer: OptimizerConfig) -> Self {
        Self(RunConfig {
            trainer,
            batch_size: 20,
            epochs: 2,
            seed: 7,
            shuffle: true,
            num_workers: 0,
            data: Some(mnist_idx()),
            artifacts: None,
            model,
            optimizer,
            scheduler: None,
            validation: Validation::Test,
            early_stopping: None,
            augment: None,
        })
    }

    /// An MLP with `hidden` tanh units, Adam lr 0.005, through burn's Learner.
    pub fn mlp(hidden: usize) -> Self {
        let model = ModelConfig::Mlp {
            hidden,
            activation: Activation::Tanh,
            dropout: 0.0,
        };
        Self::new(TrainerKind::Learner, model, adam(0.005))
    }

    /// A small CNN with what the CNN configs use (standardised input, max-pooling, dropout after
    /// a conv block and after a dense one), Adam lr 0.005: conv 5×5 ×4 → pool 2 → dense 16.
    pub fn cnn() -> Self {
        let model = ModelConfig::Cnn(CnnConfig {
            normalize: Some(Normalize {
                mean: 0.1307,
                std: 0.3081,
            }),
            conv: vec![ConvLayer {
                channels: 4,
                kernel: 5,
                padding: 0,
                activation: Activation::Relu,
                pool: Some(PoolConfig {
                    kind: PoolKind::Max,
                    size: 2,
                }),
                dropout: 0.25,
            }],
            dense: vec![DenseLayer {
                units: 16,
                activation: Activation::Relu,
                dropout: 0.5,
            }],
        });
        Self::new(TrainerKind::Learner, model, adam(0.005))
    }

    /// The linear model, plain SGD lr 0.05, through burn's Learner.
    pub fn linear() -> Self {
        Self::new(TrainerKind::Learner, ModelConfig::Linear, sgd(0.05))
    }

    /// The linear model, plain SGD lr 0.05, by the hand-written gradient.
    pub fn scratch() -> Self {
        Self::new(TrainerKind::Scratch, ModelConfig::Linear, sgd(0.05))
    }

    pub fn epochs(mut self, epochs: usize) -> Self {
        self.0.epochs = epochs;
        self
    }
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.0.batch_size = batch_size;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
    pub fn optimizer(mut self, optimizer: OptimizerConfig) -> Self {
        self.0.optimizer = optimizer;
        self
    }
    pub fn scheduler(mut self, scheduler: SchedulerConfig) -> Self {
        self.0.scheduler = Some(scheduler);
        self
    }
    pub fn validation(mut self, validation: Validation) -> Self {
        self.0.validation = validation;
        self
    }
    pub fn early_stopping(mut self, early_stopping: EarlyStoppingConfig) -> Self {
        self.0.early_stopping = Some(early_stopping);
        self
    }
    pub fn augment(mut self, augment: AugmentConfig) -> Self {
        self.0.augment = Some(augment);
        self
    }

    /// The data source (absolute, or relative to the written file's folder).
    pub fn data(mut self, data: &Path) -> Self {
        self.0.data = Some(data.to_path_buf());
        self
    }
    /// Where run directories go (absolute, or relative to the written file's folder).
    pub fn artifacts(mut self, artifacts: &Path) -> Self {
        self.0.artifacts = Some(artifacts.to_path_buf());
        self
    }

    pub fn config(&self) -> RunConfig {
        self.0.clone()
    }

    /// The config as TOML text.
    pub fn toml(&self) -> String {
        self.0.to_toml().expect("test configs have UTF-8 paths")
    }

    /// Writes the config to `path` and returns the path.
    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.toml()).expect("write the test config");
        path.to_path_buf()
    }

    /// The validated plan (relative paths against the working directory).
    pub fn plan(&self) -> Plan {
        Plan::from_config(self.config(), Path::new(".")).expect("a valid test config")
    }
}

pub fn adam(lr: f64) -> OptimizerConfig {
    OptimizerConfig::Adam {
        lr,
        beta1: crate::run::config::defaults::BETA1,
        beta2: crate::run::config::defaults::BETA2,
        epsilon: crate::run::config::defaults::EPSILON,
    }
}

pub fn sgd(lr: f64) -> OptimizerConfig {
    OptimizerConfig::Sgd {
        lr,
        momentum: 0.0,
        nesterov: false,
        weight_decay: 0.0,
    }
}

/// Makes every training in this process write its live files (`live_iterations.csv`,
/// `progress.toml`) at most once per `every` instead of once a second: the fixture's epochs take
/// milliseconds, so a test that looks at an epoch in progress flushes after every batch
/// (`Duration::ZERO`).
pub fn flush_live_every(every: std::time::Duration) {
    let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
    crate::run::live::FLUSH_EVERY_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}
