//! A run config, validated once: what every library entry point takes.
//!
//! A [`Plan`] can only be made by [`Plan::load`] or [`Plan::from_config`], which check every
//! value; its types leave out what cannot be run: sizes are non-zero, the scratch trainer carries
//! only its learning rate (it trains the linear model with plain SGD, nothing else), and every
//! path is absolute, resolved against the folder of the config file that names it.

use std::num::NonZeroUsize;
use std::path::{Component, Path, PathBuf};

use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use mnist_models::{ModelConfig, ModelSummary};

use crate::Error;
use crate::backend::Backend;
use crate::run::config::{
    AugmentConfig, EarlyStoppingConfig, OptimizerConfig, RunConfig, SchedulerConfig, StopMetric,
    TrainerKind, Validation, defaults,
};
use crate::training::adam::{AdamHyper, FusedAdam};

/// A validated run.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    batch_size: NonZeroUsize,
    epochs: NonZeroUsize,
    seed: u64,
    shuffle: bool,
    num_workers: usize,
    data: PathBuf,
    artifacts: PathBuf,
    trainer: Trainer,
    validation: Validation,
    early_stopping: Option<EarlyStoppingConfig>,
    augment: Option<mnist_data::Augment>,
    origin: Origin,
}

/// The file a plan was read from and its text, to point checks made later (against the data)
/// at a line. Not part of what a plan runs: two plans that differ only here are equal.
#[derive(Clone, Debug, Default)]
struct Origin(Option<(PathBuf, String)>);

impl PartialEq for Origin {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// How the run trains, with exactly what that way of training uses.
#[derive(Clone, Debug, PartialEq)]
pub enum Trainer {
    /// burn's Learner with autodiff: any model, any optimizer.
    Learner {
        model: ModelConfig,
        optimizer: Optimizer,
        /// `None`: `optimizer.lr` throughout, not recorded (the course's runs).
        scheduler: Option<Scheduler>,
    },
    /// The course's loop: the linear model, the hand-written gradient, plain SGD at `lr`.
    Scratch { lr: LearningRate },
}

/// A learning rate: finite and positive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LearningRate(f64);

impl LearningRate {
    pub fn new(lr: f64) -> Result<Self, String> {
        if lr.is_finite() && lr > 0.0 {
            Ok(Self(lr))
        } else {
            Err(format!("optimizer.lr must be a positive number, got {lr}"))
        }
    }
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A checked `[optimizer]` table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Optimizer(OptimizerConfig);

impl Optimizer {
    pub fn new(config: OptimizerConfig) -> Result<Self, String> {
        let in_unit = |v: f32, key: &str| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("optimizer.{key} must be in [0, 1), got {v}"))
            }
        };
        let non_negative = |v: f32, key: &str| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("optimizer.{key} must be 0 or more, got {v}"))
            }
        };
        let adam = |beta1, beta2, epsilon: f32| {
            in_unit(beta1, "beta1")?;
            in_unit(beta2, "beta2")?;
            if !(epsilon.is_finite() && epsilon > 0.0) {
                return Err(format!("optimizer.epsilon must be positive, got {epsilon}"));
            }
            Ok::<(), String>(())
        };
        match config {
            OptimizerConfig::Sgd {
                lr,
                momentum,
                nesterov,
                weight_decay,
            } => {
                LearningRate::new(lr)?;
                in_unit(momentum, "momentum")?;
                non_negative(weight_decay, "weight_decay")?;
                if nesterov && momentum == 0.0 {
                    return Err(
                        "optimizer.nesterov needs momentum: set optimizer.momentum (e.g. 0.9)"
                            .into(),
                    );
                }
            }
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                epsilon,
            } => {
                LearningRate::new(lr)?;
                adam(beta1, beta2, epsilon)?;
            }
            OptimizerConfig::Adamw {
                lr,
                beta1,
                beta2,
                epsilon,
                weight_decay,
            } => {
                LearningRate::new(lr)?;
                adam(beta1, beta2, epsilon)?;
                non_negative(weight_decay, "weight_decay")?;
            }
        }
        Ok(Self(config))
    }

    pub fn config(&self) -> OptimizerConfig {
        self.0
    }

    pub fn lr(&self) -> f64 {
        match self.0 {
            OptimizerConfig::Sgd { lr, .. }
            | OptimizerConfig::Adam { lr, .. }
            | OptimizerConfig::Adamw { lr, .. } => lr,
        }
    }

    /// The optimizer for this table on `backend`. Adam is [`FusedAdam`]: one pass over memory per
    /// parameter on the CPU backends, burn's own Adam elsewhere, the same results either way.
    /// SGD and AdamW are burn's.
    pub fn init(&self, backend: &Backend) -> burn::optim::ModuleOptimizer {
        use burn::optim::decay::WeightDecayConfig;
        use burn::optim::{AdamWConfig, SgdConfig, momentum::MomentumConfig};
        match self.0 {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
                ..
            } => {
                // PyTorch's and Keras' momentum: no dampening (burn defaults to 0.1).
                let momentum = (momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(momentum as f64)
                        .with_dampening(0.0)
                        .with_nesterov(nesterov)
                });
                let decay = (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay));
                SgdConfig::new()
                    .with_momentum(momentum)
                    .with_weight_decay(decay)
                    .init()
            }
            OptimizerConfig::Adam {
                beta1,
                beta2,
                epsilon,
                ..
            } => {
                let hyper = AdamHyper {
                    beta_1: beta1,
                    beta_2: beta2,
                    epsilon,
                };
                FusedAdam::new(hyper, backend.host_memory()).into()
            }
            OptimizerConfig::Adamw {
                beta1,
                beta2,
                epsilon,
                weight_decay,
                ..
            } => AdamWConfig::new()
                .with_beta_1(beta1)
                .with_beta_2(beta2)
                .with_epsilon(epsilon)
                .with_weight_decay(weight_decay)
                .init(),
        }
    }

    /// The optimizer's kind as tables show it: `SGD`, `Adam` or `AdamW`.
    pub fn name(&self) -> &'static str {
        match self.0 {
            OptimizerConfig::Sgd { .. } => "SGD",
            OptimizerConfig::Adam { .. } => "Adam",
            OptimizerConfig::Adamw { .. } => "AdamW",
        }
    }

    /// `Adam lr 0.001` / `SGD lr 0.01 momentum 0.9 nesterov` / `AdamW lr 0.001 weight decay
    /// 0.01`, for tables and logs.
    pub fn describe(&self) -> String {
        let mut text = format!("{} lr {}", self.name(), self.lr());
        match self.0 {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
                ..
            } => {
                if momentum > 0.0 {
                    text += &format!(" momentum {momentum}");
                }
                if nesterov {
                    text += " nesterov";
                }
                if weight_decay > 0.0 {
                    text += &format!(" weight decay {weight_decay}");
                }
            }
            OptimizerConfig::Adamw { weight_decay, .. } => {
                text += &format!(" weight decay {weight_decay}");
            }
            OptimizerConfig::Adam { .. } => {}
        }
        text
    }
}

/// A checked `[scheduler]` table, and the burn scheduler it makes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scheduler(SchedulerConfig);

impl Scheduler {
    /// Checks `config` for a run of `epochs` epochs starting at `lr`.
    pub fn new(config: SchedulerConfig, lr: f64, epochs: usize) -> Result<Self, String> {
        // burn's linear, cosine and exponential schedulers refuse a start above 1.
        let at_most_one = |kind: &str| {
            if lr <= 1.0 {
                Ok(())
            } else {
                Err(format!(
                    "optimizer.lr = {lr}: burn's {kind} schedule takes learning rates up to 1"
                ))
            }
        };
        match config {
            SchedulerConfig::Constant => {}
            SchedulerConfig::Step {
                every_epochs,
                gamma,
            } => {
                if every_epochs == 0 {
                    return Err("scheduler.every_epochs must be at least 1".into());
                }
                if !(gamma.is_finite() && gamma > 0.0) {
                    return Err(format!("scheduler.gamma must be positive, got {gamma}"));
                }
            }
            SchedulerConfig::Exponential { gamma } => {
                at_most_one("exponential")?;
                if !(gamma > 0.0 && gamma <= 1.0) {
                    return Err(format!("scheduler.gamma must be in (0, 1], got {gamma}"));
                }
            }
            SchedulerConfig::Cosine {
                min_lr,
                warmup_epochs,
            } => {
                at_most_one("cosine")?;
                if !(min_lr >= 0.0 && min_lr <= lr) {
                    return Err(format!(
                        "scheduler.min_lr must be in [0, optimizer.lr = {lr}], got {min_lr}"
                    ));
                }
                if !(warmup_epochs >= 0.0 && warmup_epochs < epochs as f64) {
                    return Err(format!(
                        "scheduler.warmup_epochs must be in [0, epochs = {epochs}), got {warmup_epochs}"
                    ));
                }
            }
        }
        Ok(Self(config))
    }

    pub fn config(&self) -> SchedulerConfig {
        self.0
    }

    /// burn's scheduler for a run of `epochs` epochs of `iterations` steps each, from `lr`.
    pub fn init(
        &self,
        lr: f64,
        epochs: usize,
        iterations: usize,
    ) -> Result<ModuleLrScheduler, String> {
        use burn::lr_scheduler::LrSchedulerConfig;
        use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
        use burn::lr_scheduler::exponential::ExponentialLrSchedulerConfig;
        use burn::lr_scheduler::linear::LinearLrSchedulerConfig;
        use burn::lr_scheduler::sequential::SequentialLrSchedulerConfig;
        use burn::lr_scheduler::step::StepLrSchedulerConfig;
        let iterations = iterations.max(1);
        let total = epochs * iterations;
        match self.0 {
            SchedulerConfig::Constant => Ok(lr.into()),
            SchedulerConfig::Step {
                every_epochs,
                gamma,
            } => StepLrSchedulerConfig::new(lr, every_epochs * iterations)
                .with_gamma(gamma)
                .init(),
            SchedulerConfig::Exponential { gamma } => {
                ExponentialLrSchedulerConfig::new(lr, gamma.powf(1.0 / iterations as f64)).init()
            }
            SchedulerConfig::Cosine {
                min_lr,
                warmup_epochs,
            } => {
                let warmup = warmup_iterations(warmup_epochs, iterations).min(total - 1);
                // The cosine reaches min_lr at the run's last step.
                let cosine = CosineAnnealingLrSchedulerConfig::new(lr, (total - warmup).max(1))
                    .with_min_lr(min_lr);
                if warmup <= 1 {
                    return cosine.init();
                }
                // lr·(k+1)/W at warm-up step k: lr at step W-1, where the cosine takes over.
                let ramp = LinearLrSchedulerConfig::new(lr / warmup as f64, lr, warmup - 1);
                SequentialLrSchedulerConfig::new(
                    vec![
                        LrSchedulerConfig::Linear(ramp),
                        LrSchedulerConfig::Cosine(cosine),
                    ],
                    vec![warmup],
                )
                .init()
            }
        }
    }

    /// `step ×0.7 every epoch` / `cosine to 0 after 1 warm-up epoch`, for tables and logs.
    pub fn describe(&self) -> String {
        match self.0 {
            SchedulerConfig::Constant => "constant".into(),
            SchedulerConfig::Step {
                every_epochs: 1,
                gamma,
            } => format!("step ×{gamma} every epoch"),
            SchedulerConfig::Step {
                every_epochs,
                gamma,
            } => format!("step ×{gamma} every {every_epochs} epochs"),
            SchedulerConfig::Exponential { gamma } => format!("exponential ×{gamma} per epoch"),
            SchedulerConfig::Cosine {
                min_lr,
                warmup_epochs,
            } if warmup_epochs > 0.0 => {
                let unit = if warmup_epochs == 1.0 {
                    "epoch"
                } else {
                    "epochs"
                };
                format!("cosine to {min_lr} after {warmup_epochs} warm-up {unit}")
            }
            SchedulerConfig::Cosine { min_lr, .. } => format!("cosine to {min_lr}"),
        }
    }
}

/// `early stopping on valid_loss, patience 3` (and `, min delta 0.001`).
pub fn describe_stopping(stop: EarlyStoppingConfig) -> String {
    let metric = match stop.metric {
        StopMetric::ValidLoss => "valid_loss",
        StopMetric::ValidAccuracy => "valid_accuracy",
    };
    let mut text = format!("early stopping on {metric}, patience {}", stop.patience);
    if stop.min_delta > 0.0 {
        text += &format!(", min delta {}", stop.min_delta);
    }
    text
}

/// Warm-up epochs as whole iterations (rounded).
fn warmup_iterations(epochs: f64, iterations: usize) -> usize {
    (epochs * iterations as f64).round() as usize
}

impl Trainer {
    /// The model this trainer trains.
    pub fn model(&self) -> ModelConfig {
        match self {
            Trainer::Learner { model, .. } => model.clone(),
            Trainer::Scratch { .. } => ModelConfig::Linear,
        }
    }

    /// The learning-rate schedule, if the run has one.
    pub fn scheduler(&self) -> Option<Scheduler> {
        match self {
            Trainer::Learner { scheduler, .. } => *scheduler,
            Trainer::Scratch { .. } => None,
        }
    }

    pub fn kind(&self) -> TrainerKind {
        match self {
            Trainer::Learner { .. } => TrainerKind::Learner,
            Trainer::Scratch { .. } => TrainerKind::Scratch,
        }
    }

    /// The optimizer as a config table (the scratch loop's plain SGD included).
    pub fn optimizer(&self) -> Optimizer {
        match *self {
            Trainer::Learner { optimizer, .. } => optimizer,
            Trainer::Scratch { lr } => Optimizer(OptimizerConfig::Sgd {
                lr: lr.get(),
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.0,
            }),
        }
    }
}

impl Plan {
    /// Reads and validates a config file; every error names the file, and the key where it can.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "cannot read", e))?;
        Self::parse(&text, path)
    }

    /// Validates config `text` as if it were the file at `path` (which need not exist): relative
    /// paths resolve against its folder, and errors name it, the line and the key. The web app
    /// checks a config typed in the browser so, as a file of its configs folder.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let text = text.to_string();
        let fail = |why| Error::Config {
            path: path.to_path_buf(),
            why,
        };
        let config = RunConfig::parse(&text).map_err(fail)?;
        let mut plan = Self::from_config(config, &folder_of(path))
            .map_err(|why| fail(crate::run::config::with_line(&text, why)))?;
        plan.origin = Origin(Some((path.to_path_buf(), text)));
        Ok(plan)
    }

    /// An error about a key of this plan (`why` starts with the key), found once the data is
    /// known: it names the config file and the key's line where the plan came from a file.
    pub(crate) fn key_error(&self, why: String) -> Error {
        match &self.origin.0 {
            Some((path, text)) => Error::Config {
                path: path.clone(),
                why: crate::run::config::with_line(text, why),
            },
            None => Error::Check(why),
        }
    }

    /// Validates `config`, resolving its relative paths against `base` (the folder of the file
    /// it came from).
    pub(crate) fn from_config(config: RunConfig, base: &Path) -> Result<Self, String> {
        let nonzero = |v: usize, key: &str| {
            NonZeroUsize::new(v).ok_or_else(|| format!("{key} must be at least 1"))
        };
        let batch_size = nonzero(config.batch_size, "batch_size")?;
        let epochs = nonzero(config.epochs, "epochs")?;
        config.model.validate()?;
        let trainer = match config.trainer {
            TrainerKind::Learner => {
                let optimizer = Optimizer::new(config.optimizer)?;
                let scheduler = config
                    .scheduler
                    .map(|s| Scheduler::new(s, optimizer.lr(), epochs.get()))
                    .transpose()?;
                Trainer::Learner {
                    model: config.model,
                    optimizer,
                    scheduler,
                }
            }
            TrainerKind::Scratch => {
                let learner_only = [
                    ("early_stopping", config.early_stopping.is_some()),
                    ("augment", config.augment.is_some()),
                ];
                if let Some((key, _)) = learner_only.iter().find(|(_, set)| *set) {
                    return Err(format!(
                        "{key}: the scratch trainer runs the course's loop; remove [{key}] or set trainer = \"learner\""
                    ));
                }
                if config.scheduler.is_some() {
                    return Err("scheduler: the scratch trainer runs the course's constant-rate SGD; remove [scheduler] or set trainer = \"learner\"".into());
                }
                if config.model != ModelConfig::Linear {
                    return Err("trainer = \"scratch\" trains the linear model by hand: set model.kind = \"linear\"".into());
                }
                match config.optimizer {
                    OptimizerConfig::Sgd {
                        lr,
                        momentum: 0.0,
                        nesterov: false,
                        weight_decay: 0.0,
                    } => Trainer::Scratch {
                        lr: LearningRate::new(lr)?,
                    },
                    _ => return Err("trainer = \"scratch\" runs plain SGD: set optimizer.kind = \"sgd\" without momentum or weight decay".into()),
                }
            }
        };
        let data = match config.data {
            Some(p) => resolve(base, &p),
            // The repository's own file, wherever the binary runs from (not relative to `base`).
            None => resolve(Path::new("."), &mnist_data::default_path()),
        };
        let artifacts = config
            .artifacts
            .unwrap_or_else(|| PathBuf::from(defaults::ARTIFACTS));
        if config.validation == Validation::Holdout(0) {
            return Err("validation.holdout must be at least 1 (or validation = \"test\")".into());
        }
        if let Some(stop) = config.early_stopping {
            if stop.patience == 0 {
                return Err("early_stopping.patience must be at least 1 epoch".into());
            }
            if !(stop.min_delta.is_finite() && stop.min_delta >= 0.0) {
                return Err(format!(
                    "early_stopping.min_delta must be 0 or more, got {}",
                    stop.min_delta
                ));
            }
        }
        let augment = config
            .augment
            .map(|a| mnist_data::Augment::new(a.rotation, a.scale, a.shift, a.shear))
            .transpose()?;
        Ok(Self {
            batch_size,
            epochs,
            seed: config.seed,
            shuffle: config.shuffle,
            num_workers: config.num_workers,
            data,
            artifacts: resolve(base, &artifacts),
            trainer,
            validation: config.validation,
            early_stopping: config.early_stopping,
            augment,
            origin: Origin::default(),
        })
    }

    /// The config file of this plan as it would be stored in folder `base`: every value written
    /// out, paths relative to `base` where the two share a folder (so a repository can move with
    /// its runs), absolute otherwise.
    pub fn to_config(&self, base: &Path) -> RunConfig {
        let base = resolve(Path::new("."), base);
        RunConfig {
            trainer: self.trainer.kind(),
            batch_size: self.batch_size.get(),
            epochs: self.epochs.get(),
            seed: self.seed,
            shuffle: self.shuffle,
            num_workers: self.num_workers,
            data: Some(relative_to(&self.data, &base)),
            artifacts: Some(relative_to(&self.artifacts, &base)),
            model: self.trainer.model(),
            optimizer: self.trainer.optimizer().config(),
            scheduler: self.trainer.scheduler().map(|s| s.config()),
            validation: self.validation,
            early_stopping: self.early_stopping,
            augment: self.augment.map(|a| AugmentConfig {
                rotation: a.rotation(),
                scale: a.scale(),
                shift: a.shift(),
                shear: a.shear(),
            }),
        }
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size.get()
    }
    pub fn epochs(&self) -> usize {
        self.epochs.get()
    }
    pub fn seed(&self) -> u64 {
        self.seed
    }
    pub fn shuffle(&self) -> bool {
        self.shuffle
    }
    pub(crate) fn num_workers(&self) -> usize {
        self.num_workers
    }
    /// The data source, absolute.
    pub fn data(&self) -> &Path {
        &self.data
    }
    /// The folder run directories go into, absolute.
    pub fn artifacts(&self) -> &Path {
        &self.artifacts
    }
    pub fn trainer(&self) -> &Trainer {
        &self.trainer
    }
    pub fn model(&self) -> ModelConfig {
        self.trainer.model()
    }
    /// What each epoch is validated on.
    pub fn validation(&self) -> Validation {
        self.validation
    }
    pub fn early_stopping(&self) -> Option<EarlyStoppingConfig> {
        self.early_stopping
    }
    pub fn augment(&self) -> Option<mnist_data::Augment> {
        self.augment
    }

    /// The images this run trains on, out of the data's training set `train` (read from
    /// `data`), and with a hold-out the images set aside from them, chosen by the seed; a
    /// hold-out that leaves nothing to train on is an error on its key.
    pub fn split_training(
        &self,
        train: mnist_data::Split,
        data: &Path,
    ) -> Result<(mnist_data::Split, Option<mnist_data::Split>), Error> {
        match self.validation {
            Validation::Test => Ok((train, None)),
            Validation::Holdout(n) if n >= train.len() => Err(self.key_error(format!(
                "validation.holdout = {n} leaves nothing to train on: {} has {} training images",
                display_path(data),
                train.len()
            ))),
            Validation::Holdout(n) => {
                let (train, held) = train.hold_out(n, self.seed);
                Ok((train, Some(held)))
            }
        }
    }

    /// `test set` / `hold-out of 5,000 training images`, for tables and logs.
    pub fn describe_validation(&self) -> String {
        match self.validation {
            Validation::Test => "test set".into(),
            Validation::Holdout(n) => {
                format!("hold-out of {} training images", mnist_models::grouped(n))
            }
        }
    }

    /// The model's layers, shapes and parameter counts (its config was checked when the plan
    /// was made, so there is always one).
    pub fn model_summary(&self) -> ModelSummary {
        self.model()
            .summary()
            .expect("a plan's model config was validated when the plan was made")
    }

    /// Multiply-adds of one training batch's forward pass, about (the backward pass does about
    /// twice as many): what decides the training loop's threads (`threads::training_threads`).
    pub fn step_multiply_adds(&self) -> usize {
        self.batch_size.get() * self.model_summary().multiply_adds_per_image()
    }

    /// The same run with another number of epochs (benchmarks, tests).
    pub fn with_epochs(mut self, epochs: NonZeroUsize) -> Self {
        self.epochs = epochs;
        self
    }

    /// The same run with its run directories in `artifacts` (benchmarks, tests).
    pub fn with_artifacts(mut self, artifacts: &Path) -> Self {
        self.artifacts = resolve(Path::new("."), artifacts);
        self
    }

    /// The same MLP run with `hidden` units and batches of `batch` (the benchmark's sweep); an
    /// error for a run that does not train an MLP.
    pub fn with_mlp_shape(
        mut self,
        hidden: NonZeroUsize,
        batch: NonZeroUsize,
    ) -> Result<Self, String> {
        match &mut self.trainer {
            Trainer::Learner {
                model: ModelConfig::Mlp { hidden: h, .. },
                ..
            } => *h = hidden.get(),
            _ => return Err(format!("the run trains {:?}, not an MLP", self.model())),
        }
        self.batch_size = batch;
        Ok(self)
    }

    /// `batch 50, Adam lr 0.001` (and `, cosine to 0` with a schedule) for tables and logs.
    pub fn describe_training(&self) -> String {
        let mut text = format!(
            "batch {}, {}",
            self.batch_size,
            self.trainer.optimizer().describe()
        );
        if let Some(scheduler) = self.trainer.scheduler() {
            text += &format!(", {}", scheduler.describe());
        }
        if let Some(stop) = self.early_stopping {
            text += &format!(", {}", describe_stopping(stop));
        }
        if let Some(augment) = self.augment {
            text += &format!(", augment {}", augment.describe());
        }
        text
    }
}

/// The folder a file is in, absolute (a bare file name is in the working directory).
pub(crate) fn folder_of(file: &Path) -> PathBuf {
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
    resolve(Path::new("."), parent.unwrap_or(Path::new(".")))
}

/// `path` made absolute against `base`, then cleaned: symbolic links resolved where the path
/// exists, `.` and `..` removed by hand where it does not yet.
pub fn resolve(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let base = if base.is_absolute() {
            base.to_path_buf()
        } else {
            std::env::current_dir()
                .unwrap_or_else(|_| PathBuf::from("/"))
                .join(base)
        };
        base.join(path)
    };
    if let Ok(real) = joined.canonicalize() {
        return real;
    }
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `target` relative to the folder `base` (both absolute) when they share a folder below the
/// root; `target` itself otherwise.
pub(crate) fn relative_to(target: &Path, base: &Path) -> PathBuf {
    let (t, b): (Vec<_>, Vec<_>) = (target.components().collect(), base.components().collect());
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // Only the root in common: a relative path would climb all the way up; keep it absolute.
    if common <= 1 {
        return target.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for part in &t[common..] {
        out.push(part);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `path` as a user would write it from the working directory: relative when inside it.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    match cwd.as_deref().and_then(|c| path.strip_prefix(c).ok()) {
        Some(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<Plan, String> {
        Plan::from_config(RunConfig::parse(text)?, Path::new("/base/configs"))
    }

    const MLP: &str = "batch_size = 50\nepochs = 6\ndata = \"../data/x.mat\"\n\
                       [model]\nkind = \"mlp\"\n[optimizer]\nkind = \"adam\"\nlr = 1e-3\n";

    #[test]
    fn the_optimizer_is_named_once_for_tables_and_logs() {
        let sgd = |momentum| {
            Optimizer::new(OptimizerConfig::Sgd {
                lr: 0.01,
                momentum,
                nesterov: false,
                weight_decay: 0.0,
            })
            .unwrap()
        };
        assert_eq!(
            (sgd(0.0).name(), sgd(0.0).describe().as_str()),
            ("SGD", "SGD lr 0.01")
        );
        assert_eq!(sgd(0.9).describe(), "SGD lr 0.01 momentum 0.9");
        let adam = config(MLP).unwrap().trainer().optimizer();
        assert_eq!(
            (adam.name(), adam.describe().as_str()),
            ("Adam", "Adam lr 0.001")
        );
    }

    #[test]
    fn sgd_and_adamw_keys_are_checked_and_named() {
        let with = |optimizer: &str| {
            config(&MLP.replace("[optimizer]\nkind = \"adam\"\nlr = 1e-3\n", optimizer))
        };
        let plan = with("[optimizer]\nkind = \"sgd\"\nlr = 0.1\nmomentum = 0.9\nnesterov = true\nweight_decay = 5e-4\n").unwrap();
        assert_eq!(
            plan.describe_training(),
            "batch 50, SGD lr 0.1 momentum 0.9 nesterov weight decay 0.0005"
        );
        let plan = with("[optimizer]\nkind = \"adamw\"\nlr = 1e-3\n").unwrap();
        assert_eq!(
            plan.trainer().optimizer().describe(),
            format!(
                "AdamW lr 0.001 weight decay {}",
                defaults::ADAMW_WEIGHT_DECAY
            )
        );
        for (table, why) in [
            (
                "kind = \"sgd\"\nlr = 0.1\nnesterov = true\n",
                "optimizer.nesterov needs momentum",
            ),
            (
                "kind = \"sgd\"\nlr = 0.1\nweight_decay = -1\n",
                "optimizer.weight_decay must be 0 or more",
            ),
            (
                "kind = \"adamw\"\nlr = 1e-3\nbeta2 = 1\n",
                "optimizer.beta2 must be in [0, 1)",
            ),
        ] {
            let e = with(&format!("[optimizer]\n{table}")).unwrap_err();
            assert!(e.contains(why), "{table}: {e}");
        }
    }

    #[test]
    fn schedules_are_checked_and_follow_burns_schedulers_over_the_run() {
        let with = |table: &str| config(&format!("{MLP}[scheduler]\n{table}"));
        let rates = |table: &str, epochs: usize, iterations: usize| {
            let plan = with(table).unwrap();
            let scheduler = plan.trainer().scheduler().unwrap();
            let mut s = scheduler.init(1e-3, epochs, iterations).unwrap();
            (0..epochs * iterations)
                .map(|_| s.step().base())
                .collect::<Vec<f64>>()
        };
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-3);
        // Step: ×0.5 after every 2 epochs of 3 iterations.
        let step = rates("kind = \"step\"\nevery_epochs = 2\ngamma = 0.5\n", 6, 3);
        assert!(step[..6].iter().all(|&r| close(r, 1e-3)), "{step:?}");
        assert!(step[6..12].iter().all(|&r| close(r, 5e-4)), "{step:?}");
        assert!(close(step[12], 2.5e-4), "{step:?}");
        // Exponential: ×gamma over each epoch, smoothly.
        let exp = rates("kind = \"exponential\"\ngamma = 0.5\n", 6, 4);
        assert!(close(exp[4], 5e-4) && close(exp[8], 2.5e-4), "{exp:?}");
        assert!(exp.windows(2).all(|w| w[1] < w[0]), "{exp:?}");
        // Cosine with one warm-up epoch of 10 iterations: lr·(k+1)/10, then down to min_lr.
        let cos = rates(
            "kind = \"cosine\"\nmin_lr = 1e-5\nwarmup_epochs = 1\n",
            6,
            10,
        );
        for (k, &r) in cos[..10].iter().enumerate() {
            assert!(close(r, 1e-3 * (k + 1) as f64 / 10.0), "{k}: {cos:?}");
        }
        assert!(close(cos[10], 1e-3), "{cos:?}");
        assert!(cos[10..].windows(2).all(|w| w[1] <= w[0]), "{cos:?}");
        assert!((cos[59] - 1e-5).abs() < 1e-6, "{cos:?}");
        assert_eq!(
            with("kind = \"cosine\"\nwarmup_epochs = 1\n")
                .unwrap()
                .describe_training(),
            "batch 50, Adam lr 0.001, cosine to 0 after 1 warm-up epoch"
        );
        for (table, why) in [
            (
                "kind = \"step\"\ngamma = 0\n",
                "scheduler.gamma must be positive",
            ),
            (
                "kind = \"step\"\nevery_epochs = 0\ngamma = 0.7\n",
                "scheduler.every_epochs",
            ),
            (
                "kind = \"exponential\"\ngamma = 1.5\n",
                "scheduler.gamma must be in (0, 1]",
            ),
            (
                "kind = \"cosine\"\nmin_lr = 0.1\n",
                "scheduler.min_lr must be in [0",
            ),
            (
                "kind = \"cosine\"\nwarmup_epochs = 6\n",
                "scheduler.warmup_epochs",
            ),
        ] {
            let e = with(table).unwrap_err();
            assert!(e.contains(why), "{table}: {e}");
        }
        let e = config(
            "trainer = \"scratch\"\nbatch_size = 50\nepochs = 1\n[model]\nkind = \"linear\"\n\
             [optimizer]\nkind = \"sgd\"\nlr = 0.01\n[scheduler]\nkind = \"constant\"\n",
        )
        .unwrap_err();
        assert!(e.starts_with("scheduler:"), "{e}");
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let plan = config(MLP).unwrap();
        assert_eq!(plan.data(), Path::new("/base/data/x.mat"));
        assert_eq!(plan.artifacts(), Path::new("/base/configs/artifacts"));
        // Stored in a run directory, the paths point at the same places from there.
        let stored = plan.to_config(Path::new("/base/artifacts/mlp"));
        assert_eq!(stored.data.as_deref(), Some(Path::new("../../data/x.mat")));
        let again = Plan::from_config(stored, Path::new("/base/artifacts/mlp")).unwrap();
        assert_eq!(again, plan);
    }

    #[test]
    fn impossible_runs_are_refused_with_their_key() {
        for (from, to, why) in [
            (
                "batch_size = 50",
                "batch_size = 0",
                "batch_size must be at least 1",
            ),
            ("epochs = 6", "epochs = 0", "epochs must be at least 1"),
            ("lr = 1e-3", "lr = -1.0", "optimizer.lr must be a positive"),
            ("lr = 1e-3", "lr = nan", "optimizer.lr must be a positive"),
            ("lr = 1e-3", "lr = 1e-3\nbeta1 = 1.0", "optimizer.beta1"),
            ("lr = 1e-3", "lr = 1e-3\nepsilon = 0.0", "optimizer.epsilon"),
            (
                "kind = \"mlp\"",
                "kind = \"mlp\"\nhidden = 0",
                "model.hidden",
            ),
            (
                "epochs = 6",
                "epochs = 6\ntrainer = \"scratch\"",
                "model.kind = \"linear\"",
            ),
        ] {
            let text = MLP.replace(from, to);
            let e = config(&text).unwrap_err();
            assert!(e.contains(why), "{to}: {e}");
        }
        let scratch_adam = MLP
            .replace("kind = \"mlp\"", "kind = \"linear\"")
            .replace("epochs = 6", "epochs = 6\ntrainer = \"scratch\"");
        assert!(config(&scratch_adam).unwrap_err().contains("plain SGD"));
    }

    #[test]
    fn the_scratch_trainer_carries_only_its_learning_rate() {
        let text = "trainer = \"scratch\"\nbatch_size = 50\nepochs = 1\n[model]\nkind = \"linear\"\n\
                    [optimizer]\nkind = \"sgd\"\nlr = 0.01\n";
        let plan = config(text).unwrap();
        assert!(matches!(plan.trainer(), Trainer::Scratch { lr } if lr.get() == 0.01));
        assert_eq!(plan.model(), ModelConfig::Linear);
        assert_eq!(plan.seed(), defaults::SEED);
        assert_eq!(plan.describe_training(), "batch 50, SGD lr 0.01");
    }

    #[test]
    fn relative_to_climbs_only_as_far_as_the_shared_folder() {
        let rel = |t: &str, b: &str| relative_to(Path::new(t), Path::new(b));
        assert_eq!(rel("/a/b/c", "/a/b"), PathBuf::from("c"));
        assert_eq!(rel("/a/x", "/a/b/c"), PathBuf::from("../../x"));
        assert_eq!(rel("/a/b", "/a/b"), PathBuf::from("."));
        assert_eq!(
            rel("/usr/share/x", "/work/runs"),
            PathBuf::from("/usr/share/x")
        );
    }
}
