//! `[early_stopping]`: the rule (patience, min delta, best epoch) and its place in burn's
//! Learner, an `EarlyStoppingStrategy` that reads the epoch records the run has just written.
//!
//! Why not burn's `MetricEarlyStoppingStrategy`: it has no min delta, and it starts from nothing
//! when a run is resumed (its best epoch and value are not checkpointed), so a resumed run would
//! stop elsewhere than the uninterrupted one. Here the state is a function of the run's epoch
//! records, which a resumed run has.

use std::sync::{Arc, Mutex};

use burn::train::EarlyStoppingStrategy;
use burn::train::metric::store::EventStoreClient;

use crate::run::config::{EarlyStoppingConfig, StopMetric};
use crate::run::metrics::EpochRecord;
use crate::training::session::Recorder;

/// The best epoch so far and whether patience has run out.
#[derive(Clone, Debug)]
pub struct Patience {
    config: EarlyStoppingConfig,
    /// (epoch, value) of the best epoch so far.
    best: Option<(usize, f64)>,
    last: usize,
}

impl Patience {
    pub fn new(config: EarlyStoppingConfig) -> Self {
        Self {
            config,
            best: None,
            last: 0,
        }
    }

    pub fn config(&self) -> EarlyStoppingConfig {
        self.config
    }

    /// The rule after `records` (epochs 1, 2, … in order).
    pub fn after(config: EarlyStoppingConfig, records: &[EpochRecord]) -> Self {
        let mut patience = Self::new(config);
        for r in records {
            patience.observe(r);
        }
        patience
    }

    /// Takes an epoch's record; true when training should stop after it.
    pub fn observe(&mut self, record: &EpochRecord) -> bool {
        let value = match self.config.metric {
            StopMetric::ValidLoss => record.valid_loss,
            StopMetric::ValidAccuracy => record.valid_acc,
        };
        let improves = match self.best {
            None => !value.is_nan(),
            Some((_, best)) => match self.config.metric {
                StopMetric::ValidLoss => value < best - self.config.min_delta,
                StopMetric::ValidAccuracy => value > best + self.config.min_delta,
            },
        };
        if improves {
            self.best = Some((record.epoch, value));
        }
        self.last = record.epoch;
        self.exhausted()
    }

    /// True once `patience` epochs have passed without an improvement.
    pub fn exhausted(&self) -> bool {
        let best = self.best.map_or(0, |(epoch, _)| epoch);
        self.last > 0 && self.last - best >= self.config.patience
    }

    /// The best epoch so far, if any epoch had a number.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.map(|(epoch, _)| epoch)
    }

    /// `valid_loss did not improve by more than 0 for 3 epochs after epoch 5 (0.0312)`.
    pub fn why_stopped(&self) -> String {
        let metric = match self.config.metric {
            StopMetric::ValidLoss => "valid_loss",
            StopMetric::ValidAccuracy => "valid_accuracy",
        };
        match self.best {
            Some((epoch, value)) => format!(
                "early stopping: {metric} did not improve by more than {} for {} epochs after \
                 epoch {epoch} ({value:.4})",
                self.config.min_delta, self.config.patience
            ),
            None => format!(
                "early stopping: {metric} had no value for {} epochs",
                self.config.patience
            ),
        }
    }
}

/// burn's hook: asked after each epoch's validation and checkpoint, once the epoch's records
/// are written (the renderer's `update_epoch` runs before it).
#[derive(Clone)]
pub(crate) struct Stopper {
    pub patience: Arc<Mutex<Patience>>,
    pub recorder: Arc<Mutex<Recorder>>,
}

impl EarlyStoppingStrategy for Stopper {
    fn should_stop(&mut self, epoch: usize, _store: &EventStoreClient) -> bool {
        let record = self
            .recorder
            .lock()
            .ok()
            .and_then(|r| r.epochs().iter().find(|r| r.epoch == epoch).cloned());
        match (record, self.patience.lock()) {
            (Some(record), Ok(mut patience)) => patience.observe(&record),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, valid_loss: f64, valid_acc: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 0.0,
            train_acc: 0.0,
            valid_loss,
            valid_acc,
            seconds: 0.0,
            train_seconds: 0.0,
        }
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement_and_keeps_the_best() {
        let config = EarlyStoppingConfig {
            metric: StopMetric::ValidLoss,
            patience: 2,
            min_delta: 0.0,
        };
        let mut p = Patience::new(config);
        assert!(!p.observe(&record(1, 0.5, 0.0)));
        assert!(!p.observe(&record(2, 0.3, 0.0)));
        assert!(!p.observe(&record(3, 0.4, 0.0)));
        assert!(p.observe(&record(4, 0.31, 0.0)));
        assert_eq!(p.best_epoch(), Some(2));
        assert!(p.why_stopped().contains("after epoch 2 (0.3000)"));
        // The same state from the records, as a resumed run rebuilds it.
        let again = Patience::after(
            config,
            &[
                record(1, 0.5, 0.0),
                record(2, 0.3, 0.0),
                record(3, 0.4, 0.0),
            ],
        );
        assert!(!again.exhausted() && again.best_epoch() == Some(2));
    }

    #[test]
    fn min_delta_and_accuracy_count_the_right_way() {
        let config = EarlyStoppingConfig {
            metric: StopMetric::ValidAccuracy,
            patience: 1,
            min_delta: 0.01,
        };
        let mut p = Patience::new(config);
        assert!(!p.observe(&record(1, 9.0, 0.90)));
        // Better, but not by more than min delta: no improvement, patience 1 is used up.
        assert!(p.observe(&record(2, 9.0, 0.905)));
        assert_eq!(p.best_epoch(), Some(1));
        let mut q = Patience::new(config);
        q.observe(&record(1, 9.0, 0.90));
        assert!(!q.observe(&record(2, 9.0, 0.92)));
        assert_eq!(q.best_epoch(), Some(2));
        // A NaN epoch never becomes the best.
        let mut r = Patience::new(config);
        assert!(r.observe(&record(1, f64::NAN, f64::NAN)));
        assert_eq!(r.best_epoch(), None);
    }
}
