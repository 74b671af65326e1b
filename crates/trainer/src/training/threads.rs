//! Where the training loop runs.
//!
//! burn's CPU backends parallelise their kernels (gemm's matrix products, Flex's element-wise
//! operations) on rayon's global pool. Called from a thread outside the pool, every such kernel
//! is handed to a sleeping worker while the caller blocks on a lock until it is done: at the
//! MLP's sizes (a batch of 50 through 784 × 300 weights) those hand-offs cost more than the
//! arithmetic. Run from a worker of the pool, the same calls split the work in place (rayon's
//! `join`) and the caller computes its half. Measured on this project's 2-core machine: the
//! forward product and the weight-gradient product of the hidden layer took 1.5 ms per step
//! from outside the pool and 0.5 ms from inside (`examples/step_profile.rs`, README "Speed").

use crate::backend::Backend;
use crate::run::plan::{Plan, Trainer};

/// Runs `work` on a worker of rayon's global pool (directly, when already on one).
pub fn on_compute_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        work()
    } else {
        rayon::scope(|_| work())
    }
}

/// Multiply-adds of a batch's forward pass below which the training loop runs on one thread.
/// Each of Flex's kernels splits its work between the pool's threads and joins them again, a
/// few microseconds of hand-off per operation and dozens of operations per step; at the course
/// MLP's batch of 50 (11.9 million multiply-adds) that costs more than the second core gains.
/// Measured on this project's 2-core machine (`RAYON_NUM_THREADS=1` against 2, `mnist bench`,
/// alternated, README "Speed"): hidden 300 at batch 50, 1.48–1.67 s an epoch on one thread
/// against 1.69–1.85 s on two; at hidden 300 × batch 500 (119 million) a tie; at hidden 1,000 ×
/// batch 50 (40 million) and above, two threads ahead.
pub const ONE_THREAD_BELOW: usize = 20_000_000;

/// The compute threads for a training loop whose batches take `step_multiply_adds` in the
/// forward pass, on a machine whose pool has `available`.
pub fn threads_for_step(step_multiply_adds: usize, available: usize) -> usize {
    if step_multiply_adds < ONE_THREAD_BELOW {
        1
    } else {
        available.max(1)
    }
}

/// The multiply-adds that decide `plan`'s training threads on `backend`: a batch's forward
/// pass through burn's Learner on a CPU backend; `usize::MAX` (all threads) otherwise: the
/// scratch trainer's host step runs on one thread anyway, and on a GPU the arithmetic is not
/// on the pool.
pub fn step_multiply_adds(plan: &Plan, backend: &Backend) -> usize {
    if matches!(plan.trainer(), Trainer::Learner { .. }) && backend.host_memory() {
        plan.step_multiply_adds()
    } else {
        usize::MAX
    }
}

/// The compute threads `plan`'s training loop runs on with `backend`.
pub fn training_threads(plan: &Plan, backend: &Backend) -> usize {
    threads_for_step(
        step_multiply_adds(plan, backend),
        rayon::current_num_threads(),
    )
}

/// Runs the training loop `work` on [`threads_for_step`]'s threads: on a pool of its own with
/// one thread for small steps, else on the global pool ([`on_compute_pool`]). Returns what
/// `work` returns and the threads it ran on.
pub fn for_step<R: Send>(step_multiply_adds: usize, work: impl FnOnce() -> R + Send) -> (R, usize) {
    let available = rayon::current_num_threads();
    let threads = threads_for_step(step_multiply_adds, available);
    if threads < available
        && let Ok(pool) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("train-{i}"))
            .build()
    {
        return (pool.install(work), threads);
    }
    (on_compute_pool(work), available)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_steps_get_one_thread_and_the_work_runs_there() {
        assert_eq!(threads_for_step(ONE_THREAD_BELOW - 1, 8), 1);
        assert_eq!(threads_for_step(ONE_THREAD_BELOW, 8), 8);
        let (seen, threads) = for_step(1, rayon::current_num_threads);
        assert_eq!((seen, threads), (1, 1));
        let (seen, threads) = for_step(ONE_THREAD_BELOW, rayon::current_num_threads);
        assert_eq!(seen, threads);
        assert_eq!(threads, rayon::current_num_threads());
    }
}
