//! Process measurements reported next to the results.

/// Peak resident memory of this process in bytes (Linux `VmHWM`), `None` where unavailable.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `peak_rss_bytes` for humans.
pub fn peak_rss_text() -> String {
    match peak_rss_bytes() {
        Some(b) => format!("{:.0} MB", b as f64 / 1e6),
        None => "n/a (no /proc/self/status)".to_string(),
    }
}
