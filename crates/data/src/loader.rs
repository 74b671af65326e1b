//! A burn `DataLoader` that reads batches straight out of a [`Split`]'s contiguous buffer.
//!
//! Why not burn's `DataLoaderBuilder`: its shuffle order is a stream drawn from one RNG, so a run
//! resumed at epoch k+1 would see epoch 1's order again and end somewhere else than the
//! uninterrupted run. Here the order of epoch e is a function of (seed, e) alone. It also builds
//! each batch with one allocation instead of one per item.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::{Augment, MnistBatch, Split};

/// Batches of one split, in a fixed or per-epoch shuffled order.
#[derive(Clone)]
pub struct MnistLoader {
    split: Arc<Split>,
    /// Indices into `split` this loader covers (all of them unless sliced).
    range: std::ops::Range<usize>,
    batch_size: usize,
    shuffle_seed: Option<u64>,
    /// Epochs already iterated: `iter()` serves epoch `epochs_done + 1`.
    epochs_done: Arc<AtomicUsize>,
    prefetch: usize,
    device: Device,
    /// Called with the epoch's number as each epoch begins, on the thread that iterates.
    on_epoch_start: Option<Arc<dyn Fn(usize) + Send + Sync>>,
    /// Distortions of every image, drawn from `(seed, epoch, image)`.
    augment: Option<(Augment, u64)>,
}

/// The seed of epoch `epoch`'s random draws (its shuffle, its dropout masks): a function of the
/// run's seed and the epoch alone, so a resumed run draws what an uninterrupted one would. The
/// epoch is mixed in with SplitMix64's constant so nearby epochs are unrelated.
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl MnistLoader {
    /// `batch_size` ≥ 1. The last batch of an epoch may be smaller.
    pub fn new(split: Arc<Split>, batch_size: usize, device: &Device) -> Self {
        assert!(batch_size > 0, "batch_size must be at least 1");
        let len = split.len();
        Self {
            split,
            range: 0..len,
            batch_size,
            shuffle_seed: None,
            epochs_done: Arc::new(AtomicUsize::new(0)),
            prefetch: 0,
            device: device.clone(),
            on_epoch_start: None,
            augment: None,
        }
    }

    /// Distorts every image as `augment` draws it for `(seed, epoch, image index)`.
    pub fn augment(mut self, augment: Augment, seed: u64) -> Self {
        self.augment = Some((augment, seed));
        self
    }

    /// Shuffles every epoch, with epoch e's order determined by `(seed, e)`.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle_seed = Some(seed);
        self
    }

    /// The next `iter()` serves epoch `epochs_done + 1` (for resuming after a checkpoint).
    pub fn starting_after_epoch(self, epochs_done: usize) -> Self {
        self.epochs_done.store(epochs_done, Ordering::SeqCst);
        self
    }

    /// Calls `f(epoch)` as each epoch begins, before its first batch, on the thread that
    /// iterates (the training loop's): the place to seed what that epoch draws at random.
    pub fn on_epoch_start(mut self, f: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.on_epoch_start = Some(Arc::new(f));
        self
    }

    /// Builds up to `batches` batches ahead on a background thread (0: on the caller's thread).
    pub fn prefetch(mut self, batches: usize) -> Self {
        self.prefetch = batches;
        self
    }

    /// The item order of epoch `epoch` (1-based).
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = self.range.clone().collect();
        if let Some(seed) = self.shuffle_seed {
            order.shuffle(&mut StdRng::seed_from_u64(epoch_seed(seed, epoch)));
        }
        order
    }

    /// Whether the loader distorts the images (then they exist only as its batches).
    pub fn augments(&self) -> bool {
        self.augment.is_some()
    }

    /// The split the loader reads.
    pub fn split(&self) -> &Arc<Split> {
        &self.split
    }

    /// The next epoch's batches as indices into [`Self::split`], for a trainer that reads the
    /// images' bytes itself; advances the epoch as `iter()` does. `None`, advancing nothing,
    /// where the loader augments.
    pub fn next_epoch_indices(&self) -> Option<Vec<Vec<usize>>> {
        (!self.augments()).then(|| self.start_epoch().1)
    }

    /// Starts the next epoch: its number, and its batches as indices.
    fn start_epoch(&self) -> (usize, Vec<Vec<usize>>) {
        let epoch = self.epochs_done.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(f) = &self.on_epoch_start {
            f(epoch);
        }
        let batches = self
            .order(epoch)
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        (epoch, batches)
    }

    fn fork(&self) -> Self {
        let mut copy = self.clone();
        copy.epochs_done = Arc::new(AtomicUsize::new(self.epochs_done.load(Ordering::SeqCst)));
        copy
    }
}

/// One batch of the items at `indices`.
pub fn batch_of(split: &Split, indices: &[usize], device: &Device) -> MnistBatch {
    let images = indices.iter().map(|&i| split.image(i));
    let labels = indices.iter().map(|&i| split.label(i));
    MnistBatch::from_pixels(images, labels, device)
}

/// The batch of `indices` as epoch `epoch` serves it: distorted where the loader augments.
fn epoch_batch(
    split: &Split,
    indices: &[usize],
    epoch: usize,
    augment: Option<(Augment, u64)>,
    device: &Device,
) -> MnistBatch {
    let batch = batch_of(split, indices, device);
    match augment {
        Some((augment, seed)) => MnistBatch {
            images: augment.apply(batch.images, seed, epoch, indices),
            targets: batch.targets,
        },
        None => batch,
    }
}

impl DataLoader<MnistBatch> for MnistLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<MnistBatch> + 'a> {
        let (epoch, batches) = self.start_epoch();
        let total = batches.iter().map(Vec::len).sum();
        let source = if self.prefetch == 0 {
            Source::Inline(batches.into_iter())
        } else {
            let (tx, rx) = sync_channel(self.prefetch);
            let split = self.split.clone();
            let device = self.device.clone();
            let augment = self.augment;
            std::thread::spawn(move || {
                for indices in batches {
                    let batch = epoch_batch(&split, &indices, epoch, augment, &device);
                    // The receiver is gone when the epoch was abandoned: stop quietly.
                    if tx.send((indices.len(), batch)).is_err() {
                        break;
                    }
                }
            });
            Source::Prefetched(rx)
        };
        Box::new(MnistLoaderIter {
            loader: self,
            epoch,
            source,
            done: 0,
            total,
        })
    }

    fn num_items(&self) -> usize {
        self.range.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<MnistBatch>> {
        let mut copy = self.fork();
        copy.device = device.clone();
        Arc::new(copy)
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<MnistBatch>> {
        let mut copy = self.fork();
        let base = self.range.start;
        copy.range = (base + start).min(self.range.end)..(base + end).min(self.range.end);
        Arc::new(copy)
    }
}

enum Source {
    Inline(std::vec::IntoIter<Vec<usize>>),
    Prefetched(Receiver<(usize, MnistBatch)>),
}

struct MnistLoaderIter<'a> {
    loader: &'a MnistLoader,
    epoch: usize,
    source: Source,
    done: usize,
    total: usize,
}

impl Iterator for MnistLoaderIter<'_> {
    type Item = Result<MnistBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (n, batch) = match &mut self.source {
            Source::Inline(batches) => {
                let indices = batches.next()?;
                let loader = self.loader;
                let batch = epoch_batch(
                    &loader.split,
                    &indices,
                    self.epoch,
                    loader.augment,
                    &loader.device,
                );
                (indices.len(), batch)
            }
            Source::Prefetched(rx) => rx.recv().ok()?,
        };
        self.done += n;
        Some(Ok(batch))
    }
}

impl DataLoaderIterator<MnistBatch> for MnistLoaderIter<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.done, self.total, None)
    }
}
