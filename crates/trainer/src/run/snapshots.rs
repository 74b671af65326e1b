//! Weight snapshots: the weights a run's page shows forming, taken at log-spaced steps (0, 1, 2,
//! 5, 10, 20, 50, … optimizer steps) and at every epoch's end.
//!
//! ```text
//! <run>/snapshots/
//!   index.toml             the layout, the steps per epoch and the steps taken so far
//!   <layout>-<step>.f32    one snapshot, little-endian f32, row-major
//! ```
//!
//! What a snapshot holds ([`Layout`]):
//! - the linear model: its 785×10 weights (31.4 KB);
//! - an MLP while it trains: its hidden layer's input weights `[784, hidden]` and its output
//!   weights `[hidden, 10]` (0.95 MB at 300 units), as the 10 units `hidden_units.png` shows
//!   are known only once training ends; when it ends, every snapshot is cut to those units'
//!   input weights, `[784, 10]` (31.4 KB);
//! - a CNN: nothing (no snapshots).
//!
//! The size bound: at most [`BUDGET_BYTES`] while a run trains (the schedule is thinned, evenly,
//! to fit) and [`MAX_EPOCH_ENDS`] epoch ends; so a finished run's snapshots take at most
//! 31.4 KB × (3·log₁₀(steps) + 1 + 24), about 1.5 MB.
//!
//! A resumed run drops the snapshots past its checkpoint and takes them again: it ends with the
//! same files as a run that was never stopped. A run from before snapshots has no folder: the
//! readers answer `None`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mnist_data::{IMAGE_PIXELS, NUM_CLASSES};
use mnist_models::{Model, ModelConfig, host_values, strongest_hidden_units};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::run::fsutil::atomic_write;

const INDEX: &str = "index.toml";
/// The most bytes a run's snapshots may hold while it trains.
pub const BUDGET_BYTES: usize = 32 << 20;
/// The most epoch ends snapshotted: a longer run takes every k-th epoch's end (and the last).
pub const MAX_EPOCH_ENDS: usize = 24;

/// What each snapshot file of a run holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// The linear model's weights `[785, 10]`, row 0 the bias.
    Linear,
    /// An MLP in training: input weights `[784, hidden]`, then output weights `[hidden, 10]`.
    Hidden,
    /// A finished MLP: the input weights of the unit shown for each digit, `[784, 10]`.
    Units,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Linear => "linear",
            Layout::Hidden => "hidden",
            Layout::Units => "units",
        }
    }

    /// Values in one snapshot.
    fn values(self, hidden: usize) -> usize {
        match self {
            Layout::Linear => (IMAGE_PIXELS + 1) * NUM_CLASSES,
            Layout::Hidden => IMAGE_PIXELS * hidden + hidden * NUM_CLASSES,
            Layout::Units => IMAGE_PIXELS * NUM_CLASSES,
        }
    }
}

/// `index.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub layout: Layout,
    /// The MLP's hidden units (0 for the linear model).
    #[serde(default)]
    pub hidden: usize,
    /// [`Layout::Units`]: the unit shown for each digit.
    #[serde(default)]
    pub units: Vec<usize>,
    /// Optimizer steps (batches) per epoch.
    pub steps_per_epoch: usize,
    /// The steps the snapshots were taken after, ascending.
    pub steps: Vec<usize>,
}

impl Index {
    /// The epoch step `step` is in (0 before the first step), and whether it ends that epoch.
    pub fn epoch_of(&self, step: usize) -> (usize, bool) {
        let per_epoch = self.steps_per_epoch.max(1);
        (
            step.div_ceil(per_epoch),
            step > 0 && step.is_multiple_of(per_epoch),
        )
    }
}

/// One snapshot as the run page and the GIF show it: ten 28×28 templates, one per digit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Frame {
    /// Optimizer steps done.
    pub step: usize,
    /// The epoch the step is in (0 before the first step), and whether it is that epoch's end.
    pub epoch: usize,
    pub epoch_end: bool,
    /// Digit d's template: the linear model's weights into output d, or the input weights of
    /// the hidden unit `units[d]`; `[10][784]`.
    pub templates: Vec<Vec<f32>>,
    /// The linear model's bias per digit; the MLP's unit per digit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<Vec<usize>>,
}

/// A run's snapshot folder (it need not exist).
#[derive(Clone, Debug)]
pub struct Snapshots {
    dir: PathBuf,
}

/// The bytes of a snapshot of `model` in `layout`; `None` for a model without snapshots.
fn capture(model: &Model) -> Option<Vec<f32>> {
    match model {
        Model::Linear(m) => Some(host_values(m.weight.val())),
        Model::Mlp(m) => {
            let mut v = host_values(m.hidden.weight.val()); // [784, hidden]
            v.extend(host_values(m.output.weight.val())); // [hidden, 10]
            Some(v)
        }
        Model::Cnn(_) => None,
    }
}

fn to_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The steps a run of `epochs` × `per_epoch` steps snapshots, each `bytes` long: the 1-2-5
/// sequence from 0 and every epoch's end (every k-th where there are more than
/// [`MAX_EPOCH_ENDS`]), thinned evenly, keeping the first and the last, to fit [`BUDGET_BYTES`].
pub fn schedule(epochs: usize, per_epoch: usize, bytes: usize) -> Vec<usize> {
    let total = epochs * per_epoch;
    let mut steps = BTreeSet::from([0]);
    let mut decade = 1;
    'outer: loop {
        for m in [1, 2, 5] {
            if m * decade > total {
                break 'outer;
            }
            steps.insert(m * decade);
        }
        decade *= 10;
    }
    let every = epochs.div_ceil(MAX_EPOCH_ENDS).max(1);
    steps.extend((every..=epochs).step_by(every).map(|e| e * per_epoch));
    steps.insert(total);
    let steps: Vec<usize> = steps.into_iter().collect();
    let cap = (BUDGET_BYTES / bytes.max(1)).max(2);
    if steps.len() <= cap {
        return steps;
    }
    let last = steps.len() - 1;
    (0..cap)
        .map(|k| steps[k * last / (cap - 1)])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

impl Snapshots {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn index_file(&self) -> PathBuf {
        self.dir.join(INDEX)
    }

    fn file(&self, layout: Layout, step: usize) -> PathBuf {
        self.dir.join(format!("{}-{step:08}.f32", layout.name()))
    }

    /// The index, or `None` for a run without snapshots (a CNN, or a run from before them).
    pub fn index(&self) -> Result<Option<Index>, Error> {
        let path = self.index_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, "cannot read", e)),
        };
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| Error::run(&path, format!("is not a snapshot index: {e}")))
    }

    fn write_index(&self, index: &Index) -> Result<(), Error> {
        let text = toml::to_string(index).expect("an index serializes");
        atomic_write(&self.index_file(), text.as_bytes())
    }

    /// The values of the snapshot after `step`, checked against the index's layout.
    fn read(&self, index: &Index, step: usize) -> Result<Vec<f32>, Error> {
        let path = self.file(index.layout, step);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, "cannot read", e))?;
        let expected = index.layout.values(index.hidden);
        if bytes.len() != 4 * expected {
            return Err(Error::run(
                &path,
                format!(
                    "holds {} bytes, expected {} ({expected} values): the snapshot is damaged",
                    bytes.len(),
                    4 * expected
                ),
            ));
        }
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// The digit → unit choice of an MLP's snapshots: the final one once the run has finished,
    /// while it trains the choice the newest snapshot's output weights make.
    pub fn units(&self, index: &Index) -> Result<Vec<usize>, Error> {
        match index.layout {
            Layout::Linear => Ok(Vec::new()),
            Layout::Units => Ok(index.units.clone()),
            Layout::Hidden => {
                let Some(&newest) = index.steps.last() else {
                    return Ok(Vec::new());
                };
                let v = self.read(index, newest)?;
                let output = &v[IMAGE_PIXELS * index.hidden..];
                Ok(strongest_hidden_units(output, index.hidden)
                    .into_iter()
                    .map(|(h, _)| h)
                    .collect())
            }
        }
    }

    /// The snapshot after `step` as ten templates; `units` as [`Snapshots::units`] answers.
    pub fn frame(&self, index: &Index, units: &[usize], step: usize) -> Result<Frame, Error> {
        if !index.steps.contains(&step) {
            return Err(Error::run(
                &self.dir,
                format!("has no snapshot after step {step}"),
            ));
        }
        let v = self.read(index, step)?;
        let column = |width: usize, skip_rows: usize, c: usize| -> Vec<f32> {
            (0..IMAGE_PIXELS)
                .map(|p| v[(p + skip_rows) * width + c])
                .collect()
        };
        let (templates, bias, units) = match index.layout {
            Layout::Linear => (
                (0..NUM_CLASSES)
                    .map(|d| column(NUM_CLASSES, 1, d))
                    .collect(),
                Some(v[..NUM_CLASSES].to_vec()),
                None,
            ),
            Layout::Units => (
                (0..NUM_CLASSES)
                    .map(|d| column(NUM_CLASSES, 0, d))
                    .collect(),
                None,
                Some(index.units.clone()),
            ),
            Layout::Hidden => (
                units.iter().map(|&h| column(index.hidden, 0, h)).collect(),
                None,
                Some(units.to_vec()),
            ),
        };
        let (epoch, epoch_end) = index.epoch_of(step);
        Ok(Frame {
            step,
            epoch,
            epoch_end,
            templates,
            bias,
            units,
        })
    }

    /// Every snapshot, oldest first (for the GIF); `None` for a run without them.
    pub fn frames(&self) -> Result<Option<Vec<Frame>>, Error> {
        let Some(index) = self.index()? else {
            return Ok(None);
        };
        let units = self.units(&index)?;
        index
            .steps
            .iter()
            .map(|&s| self.frame(&index, &units, s))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// The trainer's side: takes the snapshots the schedule asks for as steps begin.
pub struct Snapshotter {
    snapshots: Snapshots,
    index: Index,
    schedule: Vec<usize>,
    /// Optimizer steps done so far.
    step: usize,
    /// Why snapshots stopped (a write failed); the run goes on without them.
    failed: Option<String>,
}

impl Snapshotter {
    /// Starts (or, `resume_from` epochs done, continues) the snapshots of a run training
    /// `model` for `epochs` of `per_epoch` steps; `None` for a model without snapshots.
    pub(crate) fn start(
        snapshots: Snapshots,
        model: &ModelConfig,
        epochs: usize,
        per_epoch: usize,
        resume_from: usize,
    ) -> Result<Option<Self>, Error> {
        let (layout, hidden) = match model {
            ModelConfig::Linear => (Layout::Linear, 0),
            ModelConfig::Mlp { hidden, .. } => (Layout::Hidden, *hidden),
            ModelConfig::Cnn(_) => return Ok(None),
        };
        let resume_step = resume_from * per_epoch;
        let fresh = Index {
            layout,
            hidden,
            units: Vec::new(),
            steps_per_epoch: per_epoch,
            steps: Vec::new(),
        };
        // A resumed run keeps the snapshots up to its checkpoint, if they are of this layout
        // (a run whose MLP snapshots were already cut to 10 units cannot go on with them).
        let kept = match snapshots.index() {
            Ok(Some(old))
                if resume_from > 0
                    && old.layout == layout
                    && old.hidden == hidden
                    && old.steps_per_epoch == per_epoch =>
            {
                let steps = old.steps.iter().copied().filter(|&s| s <= resume_step);
                Index {
                    steps: steps.collect(),
                    ..fresh.clone()
                }
            }
            _ => fresh.clone(),
        };
        // Whatever else the folder holds goes: files of later steps, of another layout, or of
        // a run this one replaces.
        std::fs::create_dir_all(&snapshots.dir)
            .map_err(|e| Error::io(&snapshots.dir, "cannot create", e))?;
        let keep: BTreeSet<PathBuf> = kept
            .steps
            .iter()
            .map(|&s| snapshots.file(layout, s))
            .collect();
        let entries = std::fs::read_dir(&snapshots.dir)
            .map_err(|e| Error::io(&snapshots.dir, "cannot read", e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path != snapshots.index_file() && !keep.contains(&path) {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, "cannot remove", e))?;
            }
        }
        snapshots.write_index(&kept)?;
        let bytes = 4 * layout.values(hidden);
        Ok(Some(Self {
            snapshots,
            schedule: schedule(epochs, per_epoch, bytes),
            index: kept,
            step: resume_step,
            failed: None,
        }))
    }

    /// Called as each step begins, with the model before the step's update (asked for only
    /// when the schedule takes this step).
    pub fn before_step(&mut self, model: impl FnOnce() -> Model) {
        if self.schedule.binary_search(&self.step).is_ok() {
            self.take(&model());
        }
        self.step += 1;
    }

    fn take(&mut self, model: &Model) {
        if self.failed.is_some() || self.index.steps.contains(&self.step) {
            return;
        }
        let Some(values) = capture(model) else {
            return;
        };
        let file = self.snapshots.file(self.index.layout, self.step);
        let mut index = self.index.clone();
        index.steps.push(self.step);
        let written = atomic_write(&file, &to_bytes(&values))
            .and_then(|()| self.snapshots.write_index(&index));
        match written {
            Ok(()) => self.index = index,
            Err(e) => self.failed = Some(format!("weight snapshots stopped: {e}")),
        }
    }

    /// Training ended after the steps counted: the last weights' snapshot (whatever the
    /// schedule says), then an MLP's snapshots cut to the units `final_model` shows (the
    /// model the run keeps: the best epoch's, with early stopping). Answers a warning if the
    /// snapshots failed.
    pub fn finish(mut self, last: &Model, final_model: &Model) -> Option<String> {
        self.take(last);
        if self.failed.is_none()
            && let Model::Mlp(m) = final_model
            && let Err(e) = self.cut_to_units(&host_values(m.output.weight.val()))
        {
            self.failed = Some(format!("weight snapshots not cut to 10 units: {e}"));
        }
        self.failed
    }

    /// Rewrites every `hidden` snapshot as its 10 shown units' input weights: the new files
    /// first, then the index, then the old files go, so a crash leaves one whole set.
    fn cut_to_units(&mut self, output_weights: &[f32]) -> Result<(), Error> {
        let hidden = self.index.hidden;
        let units: Vec<usize> = strongest_hidden_units(output_weights, hidden)
            .into_iter()
            .map(|(h, _)| h)
            .collect();
        for &step in &self.index.steps {
            let v = self.snapshots.read(&self.index, step)?;
            // [784, 10]: row p holds pixel p's weight into each digit's unit.
            let cut: Vec<f32> = (0..IMAGE_PIXELS)
                .flat_map(|p| units.iter().map(move |&h| (p, h)))
                .map(|(p, h)| v[p * hidden + h])
                .collect();
            atomic_write(&self.snapshots.file(Layout::Units, step), &to_bytes(&cut))?;
        }
        let index = Index {
            layout: Layout::Units,
            units,
            ..self.index.clone()
        };
        self.snapshots.write_index(&index)?;
        for &step in &self.index.steps {
            let old = self.snapshots.file(Layout::Hidden, step);
            std::fs::remove_file(&old).map_err(|e| Error::io(&old, "cannot remove", e))?;
        }
        self.index = index;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_log_spaced_with_every_epoch_end() {
        let s = schedule(6, 1200, 31_400);
        assert_eq!(
            s,
            [
                0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 1200, 2000, 2400, 3600, 4800, 5000,
                6000, 7200
            ]
        );
    }

    #[test]
    fn a_long_run_takes_every_kth_epoch_end_and_a_big_snapshot_fewer() {
        let s = schedule(100, 10, 31_400);
        let ends = s
            .iter()
            .filter(|&&x| x > 0 && x % 10 == 0 && x >= 50)
            .count();
        assert!(ends <= MAX_EPOCH_ENDS + 3, "{s:?}");
        assert_eq!(*s.last().unwrap(), 1000);
        // 10 MB snapshots: 3 fit in the budget; the first and the last are among them.
        let s = schedule(6, 1200, 10 << 20);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!((s[0], s[2]), (0, 7200));
    }
}
