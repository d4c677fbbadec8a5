//! Resident memory of the server process, read from Linux `/proc`.
//!
//! Sampling from outside needs no support from the server and sees what the
//! operating system charges it, allocator slack included.

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Time between two samples: fine enough to catch the burst's peak, coarse
/// enough to cost nothing.
const INTERVAL: Duration = Duration::from_millis(200);

/// `(offset from run start, resident KiB)` pairs.
pub(crate) type RssSamples = Vec<(Duration, u64)>;

/// Samples `pid` until `stop` fires or `deadline` passes. Returns what was
/// read, or why nothing could be.
pub(crate) async fn sample(
    pid: u32,
    start: Instant,
    mut stop: watch::Receiver<bool>,
    deadline: Instant,
) -> Result<RssSamples, String> {
    let path = format!("/proc/{pid}/status");
    let mut samples = RssSamples::new();
    let mut ticker = tokio::time::interval(INTERVAL);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(deadline.into()) => break,
            _ = ticker.tick() => {}
        }

        // The first failure decides: the process is gone or not ours.
        let status = match tokio::fs::read_to_string(&path).await {
            Ok(status) => status,
            Err(error) if samples.is_empty() => return Err(format!("{path}: {error}")),
            Err(_) => break,
        };
        match vm_rss_kib(&status) {
            Some(kib) => samples.push((start.elapsed(), kib)),
            None => return Err(format!("{path} has no VmRSS line")),
        }
    }
    Ok(samples)
}

/// The resident memory of `pid` now, in KiB.
pub(crate) fn rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|error| format!("{path}: {error}"))?;
    vm_rss_kib(&status).ok_or_else(|| format!("{path} has no VmRSS line"))
}

/// The `VmRSS:  12345 kB` line of a `/proc/<pid>/status` file, in KiB.
fn vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_resident_set_line() {
        let status = "Name:\tkaizen\nVmPeak:\t  900 kB\nVmRSS:\t   20480 kB\nThreads:\t3\n";
        assert_eq!(vm_rss_kib(status), Some(20_480));
    }

    #[test]
    fn rejects_missing_or_odd_lines() {
        assert_eq!(vm_rss_kib("Name:\tkaizen\n"), None);
        assert_eq!(vm_rss_kib("VmRSS:\t12 MB\n"), None);
        assert_eq!(vm_rss_kib("VmRSS:\n"), None);
    }
}
