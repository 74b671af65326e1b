//! The process: its peak memory, reported next to the results, and how its allocator keeps memory.

/// Peak resident memory of this process in bytes (Linux `VmHWM`), `None` where unavailable.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Asks glibc's allocator to keep the memory a training step frees for the next step instead
/// of handing it back to the kernel; call once, first thing in `main`.
///
/// A CNN step allocates and frees buffers of megabytes (im2col, gradients, the NHWC copies), and
/// by default glibc maps the larger ones fresh and trims the heap after each free: every step
/// then faults its pages in again, and each fault on this 2-core VM also flushes the other
/// core's TLB. Measured on `configs/cnn.toml`, 180 steps (`STEPS=60 perf stat -e page-faults
/// …/examples/step_profile configs/cnn.toml`): 1,326,000 page faults and 42.2 s of CPU by
/// default, 59,000 and 32.7 s with these settings. The values: 32 MiB is the largest mmap
/// threshold glibc accepts (and setting it stops glibc raising it on its own); freed memory is
/// returned to the kernel only above 256 MiB; the heap grows 64 MiB at a time.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters; it is called before any thread
    // of ours exists, and a value it refuses leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
