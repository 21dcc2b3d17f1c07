//! The process' own figures under the names every Prometheus client
//! library gives them (`process_resident_memory_bytes`,
//! `process_open_fds`…), read from `/proc` as they are encoded. Nothing
//! on systems without `/proc`.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

#[derive(Debug)]
pub(crate) struct Process;

/// What `/proc/self` says now.
#[derive(Debug, Default, PartialEq)]
struct Figures {
    cpu_seconds: f64,
    resident_bytes: i64,
    virtual_bytes: i64,
    start_time: f64,
    open_fds: i64,
    max_fds: i64,
}

impl Collector for Process {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(f) = read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(f.cpu_seconds);
        cpu.encode(e.encode_descriptor(
            "process_cpu",
            "User and system CPU time spent",
            Some(&Unit::Seconds),
            cpu.metric_type(),
        )?)?;
        let gauges: [(&str, &str, Option<&Unit>, f64); 5] = [
            (
                "process_resident_memory",
                "Resident memory size",
                Some(&Unit::Bytes),
                f.resident_bytes as f64,
            ),
            (
                "process_virtual_memory",
                "Virtual memory size",
                Some(&Unit::Bytes),
                f.virtual_bytes as f64,
            ),
            (
                "process_start_time",
                "Start time of the process since the Unix epoch",
                Some(&Unit::Seconds),
                f.start_time,
            ),
            (
                "process_open_fds",
                "Open file descriptors",
                None,
                f.open_fds as f64,
            ),
            (
                "process_max_fds",
                "Limit on open file descriptors",
                None,
                f.max_fds as f64,
            ),
        ];
        for (name, help, unit, value) in gauges {
            let g = ConstGauge::new(value);
            g.encode(e.encode_descriptor(name, help, unit, g.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn read() -> Option<Figures> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    // SAFETY: sysconf only reads a system constant.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    // c_long: i64 here, i32 on 32-bit targets
    #[allow(clippy::unnecessary_cast)]
    let mut f = parse(&stat, &boot, ticks as f64, page as i64)?;
    f.open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as i64;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        f.max_fds = i64::try_from(limit.rlim_cur).unwrap_or(i64::MAX);
    }
    Some(f)
}

#[cfg(not(target_os = "linux"))]
fn read() -> Option<Figures> {
    None
}

/// `/proc/self/stat` (fields after the command name, which may hold
/// spaces and parentheses) and `/proc/stat`'s boot time.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse(stat: &str, proc_stat: &str, ticks: f64, page: i64) -> Option<Figures> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts at field 3 (state): utime is field 14, starttime 22,
    // vsize 23, rss 24
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let btime: u64 = proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    if ticks <= 0.0 {
        return None;
    }
    Some(Figures {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        start_time: btime as f64 + field(22)? as f64 / ticks,
        virtual_bytes: field(23)? as i64,
        resident_bytes: field(24)? as i64 * page,
        open_fds: 0,
        max_fds: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_stat_line_whose_name_has_spaces_and_parentheses() {
        let stat = "4242 (tokio (rt) 1) S 1 4242 4242 0 -1 4194560 2000 0 0 0 \
                    250 150 0 0 20 0 9 0 123400 1048576000 25600 18446744073709551615";
        let f = parse(
            stat,
            "cpu 1 2 3\nbtime 1700000000\nprocesses 9\n",
            100.0,
            4096,
        )
        .expect("parsed");
        assert_eq!(f.cpu_seconds, 4.0);
        assert_eq!(f.start_time, 1_700_000_000.0 + 1234.0);
        assert_eq!(f.virtual_bytes, 1_048_576_000);
        assert_eq!(f.resident_bytes, 25_600 * 4096);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let f = read().expect("/proc");
        assert!(f.resident_bytes > 0 && f.open_fds > 0 && f.max_fds >= f.open_fds);
        assert!(f.start_time > 1.6e9, "{f:?}");
    }
}
