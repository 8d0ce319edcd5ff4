//! Where the metric series live: one Envoy stat per number, process-wide, and a
//! catalog of every series in the VM's shared data.
//!
//! A series (a family and its label values) is counted in Envoy stats the filter
//! defines under internal names, `switchyard_series_<16 hex of the series' hash>`
//! (a histogram has one counter per bucket, a `_sum` in microseconds and a
//! `_count`). Envoy's stats are process-wide and atomic: every worker that defines
//! the same name adds to the same number, so a count is exact whatever the number
//! of workers, with no flush to wait for. What a stat name does not say (the labels)
//! is in the catalog: per family one shared-data value that every worker's VM of the
//! plugin reads, one JSON line per series, appended to with compare-and-swap when a
//! worker first sees a series. Each worker remembers the series it has seen, how far
//! it has read each family's catalog (appends only ever add lines, so it parses only
//! the new ones) and the families that are full: the catalog is read only on a
//! series' first sight on a worker.
//!
//! A family holds at most [`MAX_SERIES_PER_FAMILY`] series; past it, a new label set
//! is counted in the family's overflow series (every label
//! [`OVERFLOW_LABEL_VALUE`]), so no client can grow the catalog without bound.

use std::collections::{HashMap, HashSet};

use switchyard_contract::metrics::{
    Family, MetricKind, FAMILIES, LATENCY_BUCKETS, MAX_SERIES_PER_FAMILY, OVERFLOW_LABEL_VALUE,
};

use crate::host::{Host, Level, SharedWriteError, StatKind};

/// The shared-data key of a family's catalog.
pub fn catalog_key(family: &str) -> String {
    format!("switchyard.metrics.catalog.{family}")
}

/// The prefix of every internal stat name (dropped from Envoy's own stats when
/// `/metrics` appends them).
pub const STAT_PREFIX: &str = "switchyard_series_";

/// How often an append is tried again after losing a compare-and-swap race.
const CAS_ATTEMPTS: usize = 32;

/// One series: its family and its labels (name, value), in the family's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// The family's name.
    pub family: &'static str,
    /// Label names and values.
    pub labels: Vec<(String, String)>,
}

impl Series {
    /// The series' hash: FNV-1a over the family name and each label, each value
    /// preceded by its length.
    pub fn hash(&self) -> u64 {
        hash_labels(
            self.family,
            self.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        )
    }

    fn is_overflow(&self) -> bool {
        !self.labels.is_empty() && self.labels.iter().all(|(_, v)| v == OVERFLOW_LABEL_VALUE)
    }

    /// The series' catalog line (JSON, newline-terminated).
    fn line(&self) -> Option<Vec<u8>> {
        let mut line = serde_json::to_vec(&self.labels).ok()?;
        line.push(b'\n');
        Some(line)
    }
}

/// The hash of a series from borrowed labels (see [`Series::hash`]): a series is
/// recognised without building its labels.
pub fn hash_labels<'l>(family: &str, labels: impl Iterator<Item = (&'l str, &'l str)>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(family.as_bytes());
    for (name, value) in labels {
        eat(&[0xff]);
        eat(name.as_bytes());
        eat(&[0xfe]);
        eat(&(value.len() as u64).to_le_bytes());
        eat(value.as_bytes());
    }
    h
}

/// The Envoy stat names of one series: one name for a counter or a gauge; the
/// buckets (not cumulative, `+Inf` last) and `_sum` (microseconds) for a histogram.
/// A histogram's `_count` is the sum of its buckets, so that a scrape between two
/// stat updates never sees a count its buckets do not add up to.
pub fn stat_names(kind: MetricKind, hash: u64) -> Vec<(StatKind, String)> {
    let base = format!("{STAT_PREFIX}{hash:016x}");
    match kind {
        MetricKind::Counter => vec![(StatKind::Counter, base)],
        MetricKind::Gauge => vec![(StatKind::Gauge, base)],
        MetricKind::Histogram => {
            let mut names: Vec<(StatKind, String)> = (0..=LATENCY_BUCKETS.len())
                .map(|i| (StatKind::Counter, format!("{base}_b{i}")))
                .collect();
            names.push((StatKind::Counter, format!("{base}_sum")));
            names
        }
    }
}

/// The series of a family's catalog (lines that do not parse are skipped).
pub fn decode(family: &'static Family, raw: &[u8]) -> Vec<Series> {
    raw.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice::<Vec<(String, String)>>(l).ok())
        .map(|labels| Series {
            family: family.name,
            labels,
        })
        .collect()
}

/// Every series of `family`, oldest first.
pub fn read(host: &dyn Host, family: &'static Family) -> Vec<Series> {
    host.shared_data_versioned(&catalog_key(family.name))
        .map(|(raw, _)| decode(family, &raw))
        .unwrap_or_default()
}

/// Writes an empty catalog for each family that has none yet (at configure time,
/// before the worker serves: Envoy checks a CAS only against a value that exists,
/// so the first write is the one a race between workers could lose).
pub fn prepare(host: &dyn Host) {
    for family in FAMILIES {
        let key = catalog_key(family.name);
        if host.shared_data_versioned(&key).is_none()
            && host.set_shared_data(&key, b"", None).is_err()
        {
            host.log(
                Level::Warn,
                "switchyard metrics: could not create the catalog",
            );
            return;
        }
    }
}

/// What a worker knows of one family's catalog.
#[derive(Debug, Default)]
struct FamilyView {
    /// The series it knows are in the catalog.
    known: HashSet<u64>,
    /// How many of them are not the overflow series.
    count: usize,
    /// How many bytes of the catalog it has read.
    read_len: usize,
    /// The family is full: new label sets go to the overflow series.
    full: bool,
}

impl FamilyView {
    /// Learns the lines of `raw` past what was read (all of it if the catalog
    /// shrank, which only a lost first write can do).
    fn learn(&mut self, family: &'static Family, raw: &[u8]) {
        if raw.len() < self.read_len {
            *self = FamilyView::default();
        }
        let new = raw.get(self.read_len..).unwrap_or_default();
        // Only whole lines: a line is written whole, with its newline.
        let Some(end) = new.iter().rposition(|b| *b == b'\n') else {
            return;
        };
        for series in decode(family, new.get(..=end).unwrap_or_default()) {
            if self.known.insert(series.hash()) && !series.is_overflow() {
                self.count += 1;
            }
        }
        self.read_len += end + 1;
    }
}

/// One worker's view: per family the series it knows are in the catalog, and its
/// VM's ids for the stats it defined.
#[derive(Debug, Default)]
pub struct Recorder {
    families: HashMap<&'static str, FamilyView>,
    ids: HashMap<String, u32>,
    /// Per label set seen (its hash): the ids of the stats it is counted in (its own
    /// series', or the overflow series').
    counted_in: HashMap<u64, std::sync::Arc<[u32]>>,
}

impl Recorder {
    /// This VM's id of stat `name`, defining it on first use.
    pub fn stat_id(&mut self, host: &dyn Host, kind: StatKind, name: &str) -> Option<u32> {
        if let Some(id) = self.ids.get(name) {
            return Some(*id);
        }
        let id = host.define_metric(kind, name)?;
        self.ids.insert(name.to_string(), id);
        Some(id)
    }

    /// The ids of the stats a label set whose [`hash_labels`] is `key` is counted in,
    /// if this worker has counted it before.
    pub fn counted(&self, key: u64) -> Option<std::sync::Arc<[u32]>> {
        self.counted_in.get(&key).cloned()
    }

    /// The ids of the stats (in [`stat_names`]'s order) that `labels` of `family` are
    /// counted in: its series' once it is in the catalog, else the family's overflow
    /// series'. The catalog is read only for a label set this worker has not seen.
    pub fn stat_ids(
        &mut self,
        host: &dyn Host,
        family: &'static Family,
        labels: &[(&str, &str)],
    ) -> Option<std::sync::Arc<[u32]>> {
        let key = hash_labels(family.name, labels.iter().copied());
        if let Some(ids) = self.counted_in.get(&key) {
            return Some(std::sync::Arc::clone(ids));
        }
        let owned = labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let hash = self.series(host, family, owned)?;
        let ids: Option<Vec<u32>> = stat_names(family.kind, hash)
            .iter()
            .map(|(kind, name)| self.stat_id(host, *kind, name))
            .collect();
        let ids: std::sync::Arc<[u32]> = ids?.into();
        self.counted_in.insert(key, std::sync::Arc::clone(&ids));
        Some(ids)
    }

    /// The hash of the series to count `labels` of `family` in: the series itself
    /// once it is in the catalog, else the family's overflow series when the family
    /// is full. `None` when the catalog cannot be written (logged).
    pub fn series(
        &mut self,
        host: &dyn Host,
        family: &'static Family,
        labels: Vec<(String, String)>,
    ) -> Option<u64> {
        let series = Series {
            family: family.name,
            labels,
        };
        let hash = series.hash();
        let view = self.families.entry(family.name).or_default();
        if view.known.contains(&hash) {
            return Some(hash);
        }
        if !view.full && append(host, family, view, &series, hash)? {
            return Some(hash);
        }
        view.full = true;
        let overflow = Series {
            family: family.name,
            labels: series
                .labels
                .iter()
                .map(|(n, _)| (n.clone(), OVERFLOW_LABEL_VALUE.to_string()))
                .collect(),
        };
        let overflow_hash = overflow.hash();
        if view.known.contains(&overflow_hash) {
            return Some(overflow_hash);
        }
        append(host, family, view, &overflow, overflow_hash)?.then_some(overflow_hash)
    }
}

/// Puts `series` in its family's catalog unless it is there (`true`) or the family is
/// full (`false`), retrying when another worker's append won the compare-and-swap.
fn append(
    host: &dyn Host,
    family: &'static Family,
    view: &mut FamilyView,
    series: &Series,
    hash: u64,
) -> Option<bool> {
    let key = catalog_key(family.name);
    let line = series.line()?;
    for _ in 0..CAS_ATTEMPTS {
        let (mut raw, cas) = match host.shared_data_versioned(&key) {
            Some((raw, cas)) => (raw, Some(cas)),
            None => (Vec::new(), None),
        };
        // Lines are learnt whoever wrote them: fewer reads next time.
        view.learn(family, &raw);
        if view.known.contains(&hash) {
            return Some(true);
        }
        if !series.is_overflow() && view.count >= MAX_SERIES_PER_FAMILY {
            return Some(false);
        }
        // A torn tail (never written by this code) is cut off.
        raw.truncate(view.read_len);
        raw.extend_from_slice(&line);
        match host.set_shared_data(&key, &raw, cas) {
            Ok(()) => {
                view.learn(family, &raw);
                return Some(true);
            }
            Err(SharedWriteError::CasMismatch) => continue,
            Err(SharedWriteError::Failed) => {
                host.log(
                    Level::Warn,
                    "switchyard metrics: could not write the catalog",
                );
                return None;
            }
        }
    }
    host.log(
        Level::Warn,
        "switchyard metrics: the catalog kept changing; a series was not recorded",
    );
    None
}
