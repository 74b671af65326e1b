//! A run config, validated once: what every library entry point takes.
//!
//! A [`Plan`] can only be made by [`Plan::load`] or [`Plan::from_config`], which check every
//! value; its types leave out what cannot be run: sizes are non-zero, the scratch trainer carries
//! only its learning rate (it trains the linear model with plain SGD, nothing else), and every
//! path is absolute, resolved against the folder of the config file that names it.

use std::num::NonZeroUsize;
use std::path::{Component, Path, PathBuf};

use mnist_models::{ModelConfig, ModelSummary};

use crate::Error;
use crate::backend::Backend;
use crate::run::config::{OptimizerConfig, RunConfig, TrainerKind, defaults};
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
}

/// How the run trains, with exactly what that way of training uses.
#[derive(Clone, Debug, PartialEq)]
pub enum Trainer {
    /// burn's Learner with autodiff: any model, any optimizer.
    Learner {
        model: ModelConfig,
        optimizer: Optimizer,
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
        let in_unit = |v: f32| (0.0..1.0).contains(&v);
        match config {
            OptimizerConfig::Sgd { lr, momentum } => {
                LearningRate::new(lr)?;
                if !in_unit(momentum) {
                    return Err(format!(
                        "optimizer.momentum must be in [0, 1), got {momentum}"
                    ));
                }
            }
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                epsilon,
            } => {
                LearningRate::new(lr)?;
                if !in_unit(beta1) {
                    return Err(format!("optimizer.beta1 must be in [0, 1), got {beta1}"));
                }
                if !in_unit(beta2) {
                    return Err(format!("optimizer.beta2 must be in [0, 1), got {beta2}"));
                }
                if !(epsilon.is_finite() && epsilon > 0.0) {
                    return Err(format!("optimizer.epsilon must be positive, got {epsilon}"));
                }
            }
        }
        Ok(Self(config))
    }

    pub fn config(&self) -> OptimizerConfig {
        self.0
    }

    pub fn lr(&self) -> f64 {
        match self.0 {
            OptimizerConfig::Sgd { lr, .. } | OptimizerConfig::Adam { lr, .. } => lr,
        }
    }

    /// The optimizer for this table on `backend`. Adam is [`FusedAdam`]: one pass over memory per
    /// parameter on the CPU backends, burn's own Adam elsewhere, the same results either way.
    pub fn init(&self, backend: &Backend) -> burn::optim::ModuleOptimizer {
        use burn::optim::{SgdConfig, momentum::MomentumConfig};
        match self.0 {
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
            } => {
                let hyper = AdamHyper {
                    beta_1: beta1,
                    beta_2: beta2,
                    epsilon,
                };
                FusedAdam::new(hyper, backend.host_memory()).into()
            }
        }
    }

    /// The optimizer's kind as tables show it: `SGD` or `Adam`.
    pub fn name(&self) -> &'static str {
        match self.0 {
            OptimizerConfig::Sgd { .. } => "SGD",
            OptimizerConfig::Adam { .. } => "Adam",
        }
    }

    /// `Adam lr 0.001` / `SGD lr 0.01 momentum 0.9`, for tables and logs.
    pub fn describe(&self) -> String {
        let (name, lr) = (self.name(), self.lr());
        match self.0 {
            OptimizerConfig::Sgd { momentum, .. } if momentum > 0.0 => {
                format!("{name} lr {lr} momentum {momentum}")
            }
            _ => format!("{name} lr {lr}"),
        }
    }
}

impl Trainer {
    /// The model this trainer trains.
    pub fn model(&self) -> ModelConfig {
        match self {
            Trainer::Learner { model, .. } => model.clone(),
            Trainer::Scratch { .. } => ModelConfig::Linear,
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
            }),
        }
    }
}

impl Plan {
    /// Reads and validates a config file; every error names the file, and the key where it can.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "cannot read", e))?;
        let fail = |why| Error::Config {
            path: path.to_path_buf(),
            why,
        };
        let config = RunConfig::parse(&text).map_err(fail)?;
        Self::from_config(config, &folder_of(path))
            .map_err(|why| fail(crate::run::config::with_line(&text, why)))
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
            TrainerKind::Learner => Trainer::Learner {
                model: config.model,
                optimizer: Optimizer::new(config.optimizer)?,
            },
            TrainerKind::Scratch => {
                if config.model != ModelConfig::Linear {
                    return Err("trainer = \"scratch\" trains the linear model by hand: set model.kind = \"linear\"".into());
                }
                match config.optimizer {
                    OptimizerConfig::Sgd { lr, momentum: 0.0 } => Trainer::Scratch {
                        lr: LearningRate::new(lr)?,
                    },
                    _ => return Err("trainer = \"scratch\" runs plain SGD: set optimizer.kind = \"sgd\" without momentum".into()),
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
        Ok(Self {
            batch_size,
            epochs,
            seed: config.seed,
            shuffle: config.shuffle,
            num_workers: config.num_workers,
            data,
            artifacts: resolve(base, &artifacts),
            trainer,
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

    /// The model's layers, shapes and parameter counts (its config was checked when the plan
    /// was made, so there is always one).
    pub fn model_summary(&self) -> ModelSummary {
        self.model()
            .summary()
            .expect("a plan's model config was validated when the plan was made")
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

    /// `batch 50, Adam lr 0.001` for tables and logs.
    pub fn describe_training(&self) -> String {
        format!(
            "batch {}, {}",
            self.batch_size,
            self.trainer.optimizer().describe()
        )
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
        let sgd = |momentum| Optimizer::new(OptimizerConfig::Sgd { lr: 0.01, momentum }).unwrap();
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
