//! Shared by the micro-benchmarks (`filter/benches/translate.rs`,
//! `config/benches/compile.rs`, each including this file with `#[path]`): a counting
//! global allocator, a [`Suite`] of cases timed by criterion and measured for
//! allocations in a separate pass, and the markdown table `bench/micro` collects.
//!
//! Allocation numbers: every `alloc`, `alloc_zeroed` and `realloc` counts as one
//! allocation, its bytes are the requested size (a `realloc` counts its new size).
//! So "bytes allocated" is allocation traffic, not peak memory. They are measured
//! around the operation only (a batched case's setup is not counted), over as many
//! runs as fit in a short budget, and divided by the runs.
//!
//! Times are criterion's median per iteration. A case may stand for several units
//! of work (`per`, e.g. the events of one stream): both columns are then divided by
//! it.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Bencher, Criterion, SamplingMode};

/// `System`, counting what is allocated.
pub struct CountingAlloc;

static BYTES: AtomicU64 = AtomicU64::new(0);
static COUNT: AtomicU64 = AtomicU64::new(0);

fn note(size: usize) {
    COUNT.fetch_add(1, Relaxed);
    BYTES.fetch_add(size as u64, Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; only counters are added.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocation counters (totals since start, or a difference of two snapshots).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allocs {
    /// Bytes requested.
    pub bytes: u64,
    /// Allocations (and reallocations).
    pub count: u64,
}

impl Allocs {
    /// The counters now.
    pub fn now() -> Allocs {
        Allocs {
            bytes: BYTES.load(Relaxed),
            count: COUNT.load(Relaxed),
        }
    }
}

impl std::ops::Sub for Allocs {
    type Output = Allocs;
    fn sub(self, rhs: Allocs) -> Allocs {
        Allocs {
            bytes: self.bytes - rhs.bytes,
            count: self.count - rhs.count,
        }
    }
}

impl std::ops::AddAssign for Allocs {
    fn add_assign(&mut self, rhs: Allocs) {
        self.bytes += rhs.bytes;
        self.count += rhs.count;
    }
}

/// What `f` allocates, with its result (dropped by the caller, outside the count).
pub fn count<O>(f: impl FnOnce() -> O) -> (O, Allocs) {
    let before = Allocs::now();
    let out = black_box(f());
    (out, Allocs::now() - before)
}

/// How a case is driven: timed by criterion, or run once with allocations counted.
enum Drive<'a, 'b> {
    Bench(&'a mut Bencher<'b>),
    Count(&'a mut Allocs),
}

type Routine = Box<dyn FnMut(Drive<'_, '_>)>;

/// One measured operation.
pub struct Case {
    id: String,
    label: String,
    per: u64,
    heavy: bool,
    section: Option<String>,
    routine: Routine,
}

impl Case {
    /// The case stands for `n` units of work (both columns are divided by `n`).
    pub fn per(&mut self, n: u64) -> &mut Case {
        self.per = n.max(1);
        self
    }
    /// A slow case (milliseconds): fewer, flat samples.
    pub fn heavy(&mut self) -> &mut Case {
        self.heavy = true;
        self
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Criterion id (`<suite>/<id>`).
    pub id: String,
    /// What the table calls it.
    pub label: String,
    /// Median ns per unit, when criterion ran this case in this process.
    pub ns: Option<f64>,
    /// Per unit.
    pub bytes: f64,
    /// Per unit.
    pub allocs: f64,
}

/// The cases of one bench binary.
pub struct Suite {
    key: String,
    title: String,
    cases: Vec<Case>,
    notes: Vec<String>,
    section: Option<String>,
}

impl Suite {
    /// `key` names the criterion group and the table file; `title` heads the table.
    pub fn new(key: &str, title: &str) -> Suite {
        Suite {
            key: key.to_string(),
            title: title.to_string(),
            cases: Vec::new(),
            notes: Vec::new(),
            section: None,
        }
    }

    /// The following cases form a section (a header row in the table).
    pub fn section(&mut self, title: &str) {
        self.section = Some(title.to_string());
    }

    /// A line printed under the table.
    pub fn note(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }

    fn push(&mut self, id: &str, label: &str, routine: Routine) -> &mut Case {
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "case id {id:?}: use [A-Za-z0-9_-] (it is a directory name)"
        );
        let section = self.section.take();
        self.cases.push(Case {
            id: id.to_string(),
            label: label.to_string(),
            per: 1,
            heavy: false,
            section,
            routine,
        });
        self.cases.last_mut().expect("just pushed")
    }

    /// A case whose whole run is `op` (its inputs are borrowed, not rebuilt).
    pub fn case<O: 'static>(
        &mut self,
        id: &str,
        label: &str,
        mut op: impl FnMut() -> O + 'static,
    ) -> &mut Case {
        self.push(
            id,
            label,
            Box::new(move |drive| match drive {
                Drive::Bench(b) => b.iter(&mut op),
                Drive::Count(total) => {
                    let (out, a) = count(&mut op);
                    drop(out);
                    *total += a;
                }
            }),
        )
    }

    /// A case that consumes a fresh input each run: `setup` is neither timed nor
    /// counted, and the output is dropped outside the measurement.
    pub fn batched<S: 'static, O: 'static>(
        &mut self,
        id: &str,
        label: &str,
        mut setup: impl FnMut() -> S + 'static,
        mut routine: impl FnMut(S) -> O + 'static,
    ) -> &mut Case {
        self.push(
            id,
            label,
            Box::new(move |drive| match drive {
                Drive::Bench(b) => b.iter_batched(&mut setup, &mut routine, BatchSize::SmallInput),
                Drive::Count(total) => {
                    let input = setup();
                    let (out, a) = count(|| routine(black_box(input)));
                    drop(out);
                    *total += a;
                }
            }),
        )
    }

    /// Runs the allocation pass and criterion, then prints the table (and writes it
    /// for `bench/micro`). Under `cargo test --benches` every case runs once.
    pub fn run(mut self) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let bench_mode = has("--bench") && !has("--test") && !has("--list");
        let filter = positional_filter(&args);
        let selected = |case: &Case| filter.as_deref().is_none_or(|f| case.id.contains(f));

        // 1. Allocations, outside criterion (whose own bookkeeping allocates).
        let budget = Duration::from_millis(if bench_mode { 300 } else { 0 });
        let mut allocs: Vec<Option<(f64, f64)>> = Vec::new();
        for case in &mut self.cases {
            if !selected(case) || has("--list") {
                allocs.push(None);
                continue;
            }
            // One unmeasured run first: lazily built statics are not per request.
            (case.routine)(Drive::Count(&mut Allocs::default()));
            let mut total = Allocs::default();
            let start = Instant::now();
            let mut runs = 0u64;
            while runs < 3 || (runs < 10_000 && start.elapsed() < budget) {
                (case.routine)(Drive::Count(&mut total));
                runs += 1;
            }
            let units = (runs * case.per) as f64;
            allocs.push(Some((
                total.bytes as f64 / units,
                total.count as f64 / units,
            )));
        }

        // 2. Time.
        let started = SystemTime::now();
        let dir = criterion_dir();
        let secs: f64 = std::env::var("MICRO_MEASURE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2.0);
        let mut c = Criterion::default()
            .output_directory(&dir)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs_f64(secs))
            .configure_from_args();
        {
            let mut group = c.benchmark_group(&self.key);
            for case in &mut self.cases {
                if case.heavy {
                    group.sample_size(20).sampling_mode(SamplingMode::Flat);
                } else {
                    group.sample_size(100).sampling_mode(SamplingMode::Auto);
                }
                let routine = &mut case.routine;
                group.bench_function(&case.id, |b| routine(Drive::Bench(b)));
            }
            group.finish();
        }
        c.final_summary();

        // 3. The table.
        let mut rows = Vec::new();
        let mut sections = Vec::new();
        for (case, a) in self.cases.iter().zip(allocs) {
            let Some((bytes, count)) = a else { continue };
            let ns = if bench_mode {
                median_ns(&dir, &self.key, &case.id, started).map(|ns| ns / case.per as f64)
            } else {
                None
            };
            sections.push(case.section.clone());
            rows.push(Row {
                id: format!("{}/{}", self.key, case.id),
                label: case.label.clone(),
                ns,
                bytes,
                allocs: count,
            });
        }
        if rows.is_empty() {
            return;
        }
        let table = markdown(&self.title, &rows, &sections, &self.notes);
        println!("\n{table}");
        if bench_mode {
            let out = std::env::var_os("MICRO_TABLE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| dir.clone());
            let path = out.join(format!("micro-{}.md", self.key));
            if let Err(e) =
                std::fs::create_dir_all(&out).and_then(|_| std::fs::write(&path, &table))
            {
                eprintln!("could not write {}: {e}", path.display());
            } else {
                eprintln!("table written to {}", path.display());
            }
        }
    }
}

/// Criterion's filter argument (the first positional one), if any.
fn positional_filter(args: &[String]) -> Option<String> {
    const WITH_VALUE: &[&str] = &[
        "--save-baseline",
        "-s",
        "--baseline",
        "-b",
        "--baseline-lenient",
        "--load-baseline",
        "--color",
        "-c",
        "--format",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "--plotting-backend",
        "--output-format",
    ];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if WITH_VALUE.contains(&a.as_str()) {
            it.next();
        } else if !a.starts_with('-') {
            return Some(a.clone());
        }
    }
    None
}

/// Where criterion keeps its results (as criterion itself decides, made explicit).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // `<target>/tmp`, set by cargo for benches.
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map_or(tmp.clone(), |t| t.to_path_buf())
        .join("criterion")
}

/// Criterion's median for a case, if it was measured by this process.
fn median_ns(dir: &std::path::Path, group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(group).join(id).join("new").join("estimates.json");
    let fresh = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= since);
    if !fresh {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// `12,345`, or one decimal under 100.
fn num(x: f64) -> String {
    if x < 100.0 && x.fract().abs() > 0.05 {
        return format!("{x:.1}");
    }
    let n = x.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The table, with section rows and notes.
pub fn markdown(
    title: &str,
    rows: &[Row],
    sections: &[Option<String>],
    notes: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### {title}\n");
    let _ = writeln!(
        s,
        "| case | ns/op (median) | bytes allocated/op | allocations/op |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|");
    for (row, section) in rows.iter().zip(sections) {
        if let Some(section) = section {
            let _ = writeln!(s, "| **{section}** | | | |");
        }
        let ns = row.ns.map_or_else(|| "—".to_string(), num);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            row.label,
            ns,
            num(row.bytes),
            num(row.allocs)
        );
    }
    if !notes.is_empty() {
        s.push('\n');
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    s
}
