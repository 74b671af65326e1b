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
/// few microseconds of hand-off per operation and dozens of operations per step, and gemm's own
/// threading of a 50-row product slowed it down; since the MLP's hidden product runs as two
/// halves, one thread each, from 4 million multiply-adds on (`SPLIT_FROM` in
/// `crates/models/src/mlp.rs`), two threads pay from about there. Measured on this project's
/// 2-core machine (`mnist bench --only`, one thread against two, alternated, README "Speed"):
/// hidden 300 at batch 50 (11.9 million), 1.13–1.22 s an epoch on one thread against 0.95–1.07 s
/// on two; hidden 100 (4.0 million) a tie, 0.52–0.54 against 0.51–0.53 s; hidden 50 (2.0
/// million) one thread ahead, 0.35–0.38 against 0.39–0.44 s.
pub const ONE_THREAD_BELOW: usize = 4_000_000;

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
/// pass through burn's Learner on a CPU backend. `None` where step size does not decide: the
/// scratch trainer's host step runs on one thread anyway, and on a GPU the arithmetic is not on
/// the pool.
pub fn step_multiply_adds(plan: &Plan, backend: &Backend) -> Option<usize> {
    (matches!(plan.trainer(), Trainer::Learner { .. }) && backend.host_memory())
        .then(|| plan.step_multiply_adds())
}

/// The compute threads `plan`'s training loop runs on with `backend`.
pub fn training_threads(plan: &Plan, backend: &Backend) -> usize {
    let available = rayon::current_num_threads();
    step_multiply_adds(plan, backend).map_or(available, |m| threads_for_step(m, available))
}

/// `n` and `noun`, plural unless `n` is 1: "1 compute thread", "2 compute threads".
pub fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Runs the training loop `work` on `threads` threads: on a pool of its own when that is fewer
/// than the global pool has ([`training_threads`]), else on the global pool
/// ([`on_compute_pool`]).
pub fn on_threads<R: Send>(threads: usize, work: impl FnOnce() -> R + Send) -> R {
    if threads < rayon::current_num_threads()
        && let Ok(pool) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("train-{i}"))
            .build()
    {
        return pool.install(work);
    }
    on_compute_pool(work)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_steps_get_one_thread_and_the_work_runs_there() {
        assert_eq!(threads_for_step(ONE_THREAD_BELOW - 1, 8), 1);
        assert_eq!(threads_for_step(ONE_THREAD_BELOW, 8), 8);
        assert_eq!(on_threads(1, rayon::current_num_threads), 1);
        let all = rayon::current_num_threads();
        assert_eq!(on_threads(all, rayon::current_num_threads), all);
        assert_eq!(counted(1, "compute thread"), "1 compute thread");
        assert_eq!(counted(2, "compute thread"), "2 compute threads");
    }
}
