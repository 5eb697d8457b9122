//! The server's resident memory over a soak, and whether it stayed flat after warm-up.

use std::fmt;

/// The resident memory (`VmRSS`) of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The server's resident memory over a run: (seconds since the start, KiB).
#[derive(Clone, Debug, Default)]
pub struct MemoryCurve {
    pub samples: Vec<(f64, u64)>,
}

/// Whether memory stayed flat after warm-up: the largest sample of the second half (after
/// warm-up) against the largest of the first half, with a tolerance.
#[derive(Clone, Copy, Debug)]
pub struct MemoryVerdict {
    /// Samples before this many seconds are warm-up and not judged.
    pub warm_up_secs: f64,
    pub first_half_max_kib: u64,
    pub second_half_max_kib: u64,
    /// How much the second half may exceed the first: 10% of it or 32 MiB, whichever is more.
    pub tolerance_kib: u64,
    pub flat: bool,
    /// The least-squares slope of the samples after warm-up, in MiB per minute.
    pub slope_mib_per_min: f64,
}

impl MemoryCurve {
    /// Judges the curve of a run `duration_secs` long: the first fifth is warm-up.
    pub fn verdict(&self, duration_secs: f64) -> Option<MemoryVerdict> {
        let warm_up_secs = duration_secs / 5.0;
        let judged: Vec<&(f64, u64)> = self
            .samples
            .iter()
            .filter(|(t, _)| *t >= warm_up_secs)
            .collect();
        if judged.len() < 2 {
            return None;
        }
        let (first, second) = judged.split_at(judged.len() / 2);
        let first_half_max_kib = first.iter().map(|s| s.1).max()?;
        let second_half_max_kib = second.iter().map(|s| s.1).max()?;
        let tolerance_kib = (first_half_max_kib / 10).max(32 * 1024);
        let n = judged.len() as f64;
        let mean_t = judged.iter().map(|s| s.0).sum::<f64>() / n;
        let mean_kib = judged.iter().map(|s| s.1 as f64).sum::<f64>() / n;
        let covariance: f64 = judged
            .iter()
            .map(|s| (s.0 - mean_t) * (s.1 as f64 - mean_kib))
            .sum();
        let variance: f64 = judged.iter().map(|s| (s.0 - mean_t).powi(2)).sum();
        let slope_mib_per_min = covariance / variance.max(f64::EPSILON) * 60.0 / 1024.0;
        Some(MemoryVerdict {
            slope_mib_per_min,
            warm_up_secs,
            first_half_max_kib,
            second_half_max_kib,
            tolerance_kib,
            flat: second_half_max_kib <= first_half_max_kib + tolerance_kib,
        })
    }
}

impl fmt::Display for MemoryCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server RSS (s: MiB):")?;
        for (i, (t, kib)) in self.samples.iter().enumerate() {
            if i % 10 == 0 {
                writeln!(f)?;
                write!(f, " ")?;
            }
            write!(f, " {t:.0}:{:.1}", *kib as f64 / 1024.0)?;
        }
        Ok(())
    }
}

impl fmt::Display for MemoryVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |kib: u64| kib as f64 / 1024.0;
        write!(
            f,
            "memory after warm-up ({:.0} s): max of first half {:.1} MiB, of second half {:.1} MiB, \
             tolerance {:.1} MiB: {} (trend {:+.2} MiB/min)",
            self.warm_up_secs,
            mib(self.first_half_max_kib),
            mib(self.second_half_max_kib),
            mib(self.tolerance_kib),
            if self.flat { "flat" } else { "GROWING" },
            self.slope_mib_per_min
        )
    }
}
