//! The resident memory of this process, from `/proc/self/status` (Linux).
//!
//! `VmRSS` is what the process holds in RAM now; `VmHWM` ("high water
//! mark") the most it ever held. Both are reported in kB by the kernel.

use std::fmt;

/// One reading of the process's resident memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessMemory {
    /// Resident set size now, in KiB.
    pub rss_kib: u64,
    /// Peak resident set size so far, in KiB.
    pub peak_rss_kib: u64,
}

impl ProcessMemory {
    /// Reads `/proc/self/status`.
    pub fn read() -> anyhow::Result<Self> {
        Self::read_status("/proc/self/status")
    }

    /// Reads `/proc/<pid>/status`: another process's memory.
    pub fn of(pid: u32) -> anyhow::Result<Self> {
        Self::read_status(&format!("/proc/{pid}/status"))
    }

    fn read_status(path: &str) -> anyhow::Result<Self> {
        let status = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {path} (Linux only): {e}"))?;
        Self::parse(&status)
    }

    /// Reads the `VmRSS` and `VmHWM` lines of a `/proc/<pid>/status` text.
    pub fn parse(status: &str) -> anyhow::Result<Self> {
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .ok_or_else(|| anyhow::anyhow!("no {name} line in /proc/self/status"))?;
            let kib = line
                .trim()
                .strip_suffix("kB")
                .ok_or_else(|| anyhow::anyhow!("{name} is not in kB: {line}"))?;
            Ok(kib.trim().parse()?)
        };
        Ok(Self {
            rss_kib: field("VmRSS")?,
            peak_rss_kib: field("VmHWM")?,
        })
    }
}

/// KiB as MiB with one decimal.
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl fmt::Display for ProcessMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VmRSS {:.1} MiB, VmHWM {:.1} MiB",
            mib(self.rss_kib),
            mib(self.peak_rss_kib)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_peak_from_a_status_text() {
        let status = "Name:\tqiye-bench\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t3\n";
        let memory = ProcessMemory::parse(status).unwrap();
        assert_eq!(
            memory,
            ProcessMemory {
                rss_kib: 102_400,
                peak_rss_kib: 204_800
            }
        );
        assert_eq!(memory.to_string(), "VmRSS 100.0 MiB, VmHWM 200.0 MiB");
    }

    #[test]
    fn a_status_without_rss_is_an_error() {
        assert!(ProcessMemory::parse("Name:\tx\n").is_err());
    }

    #[test]
    fn this_process_has_resident_memory() {
        let memory = ProcessMemory::read().unwrap();
        assert!(memory.rss_kib > 0 && memory.peak_rss_kib >= memory.rss_kib);
        let by_pid = ProcessMemory::of(std::process::id()).unwrap();
        assert!(by_pid.rss_kib > 0);
    }
}
