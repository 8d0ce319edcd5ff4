//! A minimal stderr logger for the `log` facade.
//!
//! Level from `SWITCHYARD_LOG` (or `RUST_LOG`): `error`, `warn`, `info` (default),
//! `debug`, `trace`. Other crates' records (sqlx, hyper) are capped at `warn` unless the
//! level is `trace`. Rule for every log call in this crate: never a key, a token hash,
//! a master key or a database password — log aliases, ids and counts instead.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        let ours = m.target().starts_with("switchyard");
        let cap = if ours || self.level == LevelFilter::Trace {
            self.level
        } else {
            self.level.min(LevelFilter::Warn)
        };
        m.level() <= cap
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let ts = crate::time::format_iso(crate::time::now_ms());
        let level = match r.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{ts} {level} {}: {}", r.target(), r.args());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Parses a level name; unknown names give `info`.
pub fn level_from(name: Option<&str>) -> LevelFilter {
    match name.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("off") => LevelFilter::Off,
        Some("error") => LevelFilter::Error,
        Some("warn") | Some("warning") => LevelFilter::Warn,
        Some("debug") => LevelFilter::Debug,
        Some("trace") => LevelFilter::Trace,
        _ => LevelFilter::Info,
    }
}

/// Installs the logger (once; later calls do nothing).
pub fn init() {
    let name = std::env::var("SWITCHYARD_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let level = level_from(name.as_deref());
    let logger: &'static StderrLogger = Box::leak(Box::new(StderrLogger { level }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse() {
        assert_eq!(level_from(Some("DEBUG")), LevelFilter::Debug);
        assert_eq!(level_from(Some("nonsense")), LevelFilter::Info);
        assert_eq!(level_from(None), LevelFilter::Info);
        let l = StderrLogger {
            level: LevelFilter::Debug,
        };
        let ours = Metadata::builder()
            .level(Level::Debug)
            .target("switchyard_keyservice::api")
            .build();
        let theirs = Metadata::builder()
            .level(Level::Debug)
            .target("sqlx::query")
            .build();
        assert!(l.enabled(&ours));
        assert!(!l.enabled(&theirs));
    }
}
