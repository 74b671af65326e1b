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

/// Runs `work` on a worker of rayon's global pool (directly, when already on one).
pub fn on_compute_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        work()
    } else {
        rayon::scope(|_| work())
    }
}
