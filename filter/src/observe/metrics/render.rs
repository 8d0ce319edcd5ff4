//! The Prometheus text format (0.0.4) of every series in the catalog, written the
//! way LiteLLM's `prometheus_client` writes it (`prometheus_client.exposition.
//! generate_latest`): per family `# HELP` and `# TYPE` (a counter's under
//! `<name>_total`), then its samples, labels in the family's order, values as
//! Python floats (`floatToGoString`); histogram buckets cumulative with `le` last,
//! then `_count`, then `_sum`. prometheus_client's `_created` gauges are not
//! written: Switchyard keeps no creation time per series, and neither Prometheus
//! nor LiteLLM's dashboards read them.

use std::fmt::Write as _;

use switchyard_contract::metrics::{Family, MetricKind, FAMILIES, LATENCY_BUCKETS};

use super::catalog::{self, stat_names, Recorder, Series};
use crate::host::Host;

/// Nano-USD per USD: the spend counter's unit.
pub const NANOS_PER_USD: f64 = 1e9;
/// Microseconds per second: a histogram `_sum`'s unit.
pub const MICROS_PER_SEC: f64 = 1e6;

/// `value` as Python's `repr(float)` then prometheus_client's `floatToGoString`.
pub fn go_float(value: f64) -> String {
    if value == f64::INFINITY {
        return "+Inf".into();
    }
    if value == f64::NEG_INFINITY {
        return "-Inf".into();
    }
    if value.is_nan() {
        return "NaN".into();
    }
    let repr = python_repr(value);
    let Some(dot) = repr.find('.') else {
        return repr;
    };
    if value > 0.0 && dot > 6 {
        // Go writes exponents sooner than Python: 1234567.0 → 1.234567e+06.
        let digits: String = repr.chars().filter(|c| *c != '.').collect();
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let mantissa = format!("{first}.{rest}");
        let mantissa = mantissa.trim_end_matches(['0', '.']);
        return format!("{mantissa}e+0{}", dot - 1);
    }
    repr
}

/// Python's `repr` of a float: the shortest round-trip digits, `1.0` for whole
/// numbers, exponent form below 1e-4 and from 1e16 (`1e-05`, `1e+16`).
fn python_repr(value: f64) -> String {
    // Rust's `{:?}` has the same digits and thresholds; only the exponent's
    // spelling differs (`1e-5` vs `1e-05`, `1e16` vs `1e+16`).
    let debug = format!("{value:?}");
    let Some((mantissa, exp)) = debug.split_once('e') else {
        return debug;
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    let digits = if digits.len() < 2 {
        format!("0{digits}")
    } else {
        digits.to_string()
    };
    format!("{mantissa}e{sign}{digits}")
}

/// A label value escaped as prometheus_client does: `\`, newline, `"`.
pub fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('\n', r"\n")
        .replace('"', r#"\""#)
}

fn escape_help(help: &str) -> String {
    help.replace('\\', r"\\").replace('\n', r"\n")
}

/// `{name="value",…}` with the names sorted, `le` among them (prometheus_client's
/// `sample_line` sorts a sample's labels); empty without labels.
fn label_text(labels: &[(String, String)], le: Option<&str>) -> String {
    let mut pairs: Vec<(&str, String)> = labels
        .iter()
        .map(|(n, v)| (n.as_str(), escape_label_value(v)))
        .collect();
    if let Some(le) = le {
        pairs.push(("le", le.to_string()));
    }
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}=\"{v}\"")).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// The values of a series' stats, in [`stat_names`]'s order (0 for one this host
/// cannot read).
fn values(host: &dyn Host, recorder: &mut Recorder, family: &Family, series: &Series) -> Vec<u64> {
    stat_names(family.kind, series.hash())
        .into_iter()
        .map(|(kind, name)| {
            recorder
                .stat_id(host, kind, &name)
                .and_then(|id| host.get_metric(id))
                .unwrap_or(0)
        })
        .collect()
}

/// Every enabled family (HELP and TYPE even with no series yet, as
/// prometheus_client does) and every series of the catalog, as Prometheus text.
/// `enabled` says whether a family is exported under this config.
pub fn render(
    host: &dyn Host,
    recorder: &mut Recorder,
    enabled: &dyn Fn(&Family) -> bool,
) -> String {
    let mut out = String::new();
    for family in FAMILIES.iter().filter(|f| enabled(f)) {
        let catalog = catalog::read(host, family);
        let exposed = match family.kind {
            MetricKind::Counter => format!("{}_total", family.name),
            _ => family.name.to_string(),
        };
        let _ = writeln!(out, "# HELP {exposed} {}", escape_help(family.help));
        let _ = writeln!(out, "# TYPE {exposed} {}", family.kind.as_str());
        for series in &catalog {
            let values = values(host, recorder, family, series);
            match family.kind {
                MetricKind::Counter => {
                    let raw = values.first().copied().unwrap_or(0) as f64;
                    let value = if family.name == switchyard_contract::metrics::SPEND {
                        raw / NANOS_PER_USD
                    } else {
                        raw
                    };
                    let _ = writeln!(
                        out,
                        "{exposed}{} {}",
                        label_text(&series.labels, None),
                        go_float(value)
                    );
                }
                MetricKind::Gauge => {
                    // A gauge's stat holds an f64's bits (`Metrics::set`).
                    let value = f64::from_bits(values.first().copied().unwrap_or(0));
                    let _ = writeln!(
                        out,
                        "{exposed}{} {}",
                        label_text(&series.labels, None),
                        go_float(value)
                    );
                }
                MetricKind::Histogram => {
                    let buckets = LATENCY_BUCKETS.len() + 1;
                    let mut cumulative = 0u64;
                    for (i, count) in values.iter().take(buckets).enumerate() {
                        cumulative = cumulative.saturating_add(*count);
                        let le = LATENCY_BUCKETS
                            .get(i)
                            .map(|b| go_float(*b))
                            .unwrap_or_else(|| "+Inf".into());
                        let _ = writeln!(
                            out,
                            "{exposed}_bucket{} {}",
                            label_text(&series.labels, Some(&le)),
                            go_float(cumulative as f64)
                        );
                    }
                    let sum_us = values.get(buckets).copied().unwrap_or(0) as f64;
                    let _ = writeln!(
                        out,
                        "{exposed}_count{} {}",
                        label_text(&series.labels, None),
                        go_float(cumulative as f64)
                    );
                    let _ = writeln!(
                        out,
                        "{exposed}_sum{} {}",
                        label_text(&series.labels, None),
                        go_float(sum_us / MICROS_PER_SEC)
                    );
                }
            }
        }
    }
    out
}

/// Envoy's own `/stats/prometheus` without the filter's internal series (each
/// `switchyard_series_*` stat, and its `# TYPE` line).
pub fn envoy_stats_without_internal(envoy: &str) -> String {
    let mut out = String::with_capacity(envoy.len());
    for line in envoy.lines() {
        if line.contains(catalog::STAT_PREFIX) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
