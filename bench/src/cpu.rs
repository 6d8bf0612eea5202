//! Where the machine's CPU went while a scenario delivered, per delivery:
//! the database (every local PostgreSQL process), the service, this harness
//! (the receiver, and in some scenarios the inserts' client side), anything
//! else, and idle. Read from `/proc` (Linux).
//!
//! Wall-clock throughput on a shared two-core machine swings from run to run
//! (the scenarios' writers, drain and receiver compete for the same cores);
//! the CPU a delivery costs each part moves much less, and says which part a
//! change made cheaper. Against the ceiling: at a fraction `f` of the combined
//! ceiling `c` deliveries/s, a delivery may cost `cores / (f × c)` of CPU.

use std::collections::HashMap;

/// Cumulative CPU ticks at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    database: u64,
    service: u64,
    harness: u64,
    /// Every CPU's busy and idle ticks since boot, from `/proc/stat`.
    busy: u64,
    idle: u64,
}

/// Microseconds of CPU per delivery, by part.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PerDelivery {
    pub database: f64,
    pub service: f64,
    pub harness: f64,
    pub other: f64,
    pub idle: f64,
}

impl PerDelivery {
    pub fn total(&self) -> f64 {
        self.database + self.service + self.harness + self.other + self.idle
    }

    /// One line for the results table.
    pub fn describe(&self) -> String {
        format!(
            "CPU per delivery: database {:.0} µs, service {:.0}, receiver {:.0}, other {:.0}, idle {:.0} (of {:.0} µs)",
            self.database,
            self.service,
            self.harness,
            self.other,
            self.idle,
            self.total()
        )
    }
}

/// Takes a sample; `None` where `/proc` cannot be read (not Linux).
pub fn sample(service_pid: u32) -> Option<Sample> {
    let (busy, idle) = machine()?;
    Some(Sample {
        database: postgres()?,
        service: process(&format!("/proc/{service_pid}/stat"))?.own(),
        harness: process("/proc/self/stat")?.own(),
        busy,
        idle,
    })
}

/// The CPU between two samples, spread over `deliveries`.
pub fn per_delivery(before: &Sample, after: &Sample, deliveries: u64) -> PerDelivery {
    let us = |ticks: u64| ticks as f64 * 1e6 / ticks_per_second() / deliveries.max(1) as f64;
    let database = after.database.saturating_sub(before.database);
    let service = after.service.saturating_sub(before.service);
    let harness = after.harness.saturating_sub(before.harness);
    let busy = after.busy.saturating_sub(before.busy);
    PerDelivery {
        database: us(database),
        service: us(service),
        harness: us(harness),
        other: us(busy.saturating_sub(database + service + harness)),
        idle: us(after.idle.saturating_sub(before.idle)),
    }
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// Busy and idle (idle + iowait) ticks of all CPUs.
fn machine() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|t| t.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user)
    let idle = ticks.get(3)? + ticks.get(4)?;
    let busy = ticks.iter().take(8).sum::<u64>() - idle;
    Some((busy, idle))
}

struct Process {
    comm: String,
    ppid: u32,
    /// utime + stime of the process itself (all its threads).
    own: u64,
    /// cutime + cstime: its children that have exited and been waited for.
    children: u64,
}

impl Process {
    fn own(&self) -> u64 {
        self.own
    }
}

fn process(path: &str) -> Option<Process> {
    let stat = std::fs::read_to_string(path).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    // Fields after the command: state ppid ... utime(12th) stime cutime cstime.
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(Process {
        comm,
        ppid: num(1)? as u32,
        own: num(11)? + num(12)?,
        children: num(13)? + num(14)?,
    })
}

/// Every local PostgreSQL process, plus the backends that have exited (the
/// postmaster's waited-for children), so connections that come and go are
/// counted too.
fn postgres() -> Option<u64> {
    let mut all: HashMap<u32, Process> = HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Some(p) = process(&format!("/proc/{pid}/stat")) {
            if p.comm == "postgres" {
                all.insert(pid, p);
            }
        }
    }
    let mut ticks = 0;
    for p in all.values() {
        ticks += p.own;
        if !all.contains_key(&p.ppid) {
            // The postmaster.
            ticks += p.children;
        }
    }
    Some(ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_harness_own_cpu_is_counted() {
        let before = sample(std::process::id()).expect("/proc is readable");
        let mut x = 0u64;
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = sample(std::process::id()).unwrap();
        let split = per_delivery(&before, &after, 1);
        // 300 ms of spinning is about 300,000 µs for the harness (and the
        // "service", which is this process here too); ticks are 10 ms.
        assert!(split.harness >= 200_000.0, "{split:?}");
        assert!(split.total() >= split.harness);
    }
}
