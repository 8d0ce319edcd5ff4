"""Run the real gateway (``switchyard render`` + Envoy with the built filter) in tests.

A :class:`Gateway` takes a LiteLLM-style ``config.yaml`` text and an environment,
renders the Envoy bootstrap with the ``switchyard`` CLI, starts Envoy on
ephemeral ports (127.0.0.1 only), waits until it is ready, and stops it again:

    gw = Gateway(config_yaml, env={"OPENAI_API_KEY": "sk-test"}, workdir=tmp).start()
    status, headers, body = request_json("POST", gw.url("/v1/chat/completions"), {...})
    gw.stop()

The fixed CLI contract is::

    switchyard render --config CONFIG --out OUTDIR --wasm WASM --port 0 --admin-port 0

which writes ``OUTDIR/envoy.yaml``. Envoy is then started as::

    envoy -c OUTDIR/envoy.yaml --disable-hot-restart --concurrency 1 \
          --admin-address-path OUTDIR/admin.txt --log-level warn

(``--base-id`` is not needed: with hot restart disabled Envoy uses no shared
memory, so several Envoys run side by side.) The bound listener port is read
from the admin endpoint ``GET /listeners?format=json``.

Where things are (environment variables override):

* ``ENVOY_BIN``       — Envoy, default ``<repo>/.venv/bin/envoy``;
* ``SWITCHYARD_BIN``  — the CLI, default ``<repo>/target/debug/switchyard``;
* ``SWITCHYARD_WASM`` — the filter, default
  ``<repo>/target/wasm32-wasip1/wasm/switchyard_filter.wasm``.

The module also has small stdlib HTTP helpers for tests: :func:`request_json`,
:func:`open_stream` and :func:`iter_sse`; the polls :func:`poll` and :func:`wait_for`;
and the keyservice side of a keyed gateway: :class:`Keyservice` (one
``switchyard-keyservice`` process), :func:`keyed_gateway` (a keyservice and a gateway
asking it, both stopped afterwards), :class:`RecordingProxy` and
:func:`keyservice_behind_recording_proxy` (a keyservice whose every request from Envoy
is kept, so tests assert on what the keyservice was asked).
"""

from __future__ import annotations

import http.client
import http.server
import itertools
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

__all__ = [
    "ENVOY_BIN",
    "KEYSERVICE_BIN",
    "REPO_ROOT",
    "SWITCHYARD_BIN",
    "SWITCHYARD_WASM",
    "Gateway",
    "GatewayError",
    "Keyservice",
    "RecordingProxy",
    "SSEEvent",
    "iter_sse",
    "keyed_gateway",
    "keyservice_behind_recording_proxy",
    "missing_prerequisites",
    "open_stream",
    "poll",
    "request_json",
    "require_keyservice",
    "start_failure",
    "wait_for",
]

#: The repository root: the parent of integration-tests/.
REPO_ROOT = Path(__file__).resolve().parent.parent
ENVOY_BIN = Path(os.environ.get("ENVOY_BIN") or REPO_ROOT / ".venv" / "bin" / "envoy")
SWITCHYARD_BIN = Path(
    os.environ.get("SWITCHYARD_BIN") or REPO_ROOT / "target" / "debug" / "switchyard"
)
SWITCHYARD_WASM = Path(
    os.environ.get("SWITCHYARD_WASM")
    or REPO_ROOT / "target" / "wasm32-wasip1" / "wasm" / "switchyard_filter.wasm"
)
KEYSERVICE_BIN = Path(
    os.environ.get("SWITCHYARD_KEYSERVICE_BIN")
    or REPO_ROOT / "target" / "debug" / "switchyard-keyservice"
)

#: Seconds allowed for ``switchyard render``.
RENDER_TIMEOUT = 60.0
#: Seconds allowed for Envoy to become ready.
STARTUP_TIMEOUT = 30.0
#: Seconds between SIGTERM and SIGKILL when stopping Envoy.
STOP_GRACE = 5.0
#: How many lines of the Envoy log go into failure messages.
LOG_TAIL_LINES = 60

_instance_counter = itertools.count(1)


class GatewayError(AssertionError):
    """The gateway could not be rendered or started (message has the log tail)."""


def missing_prerequisites() -> list[str]:
    """Human-readable list of the binaries a Gateway needs but cannot find."""
    missing = []
    for label, path, var in (
        ("Envoy", ENVOY_BIN, "ENVOY_BIN"),
        ("switchyard CLI", SWITCHYARD_BIN, "SWITCHYARD_BIN"),
        ("filter wasm", SWITCHYARD_WASM, "SWITCHYARD_WASM"),
    ):
        if not path.exists():
            missing.append(f"{label} not found at {path} (set {var})")
    return missing


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _merged_env(env: Mapping[str, str | None] | None, inherit: bool) -> dict[str, str]:
    """os.environ (when ``inherit``) updated with ``env``; a None value removes a variable."""
    merged = dict(os.environ) if inherit else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for key, value in (env or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


class Gateway:
    """One rendered and running gateway (an Envoy process).

    ``config_yaml``: the LiteLLM-style config text (written to ``WORKDIR/config.yaml``).
    ``env``: extra environment for render and Envoy (``os.environ/NAME`` secrets);
    a None value removes a variable. ``inherit_env``: start from os.environ.
    ``workdir``: where config, rendered output and logs go (a new temp dir by default).
    ``listener``: which listener's port becomes :attr:`port` (default: the first one).
    ``extra_envoy_args``: more Envoy command-line arguments
    (e.g. ``["--component-log-level", "wasm:debug"]``).
    ``concurrency``: Envoy's worker threads (each runs VMs of the filter of its own).
    """

    def __init__(
        self,
        config_yaml: str,
        env: Mapping[str, str | None] | None = None,
        *,
        workdir: str | Path | None = None,
        inherit_env: bool = True,
        log_level: str | None = None,
        listener: str | None = None,
        extra_envoy_args: list[str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        extra_render_args: list[str] | None = None,
        concurrency: int = 1,
    ) -> None:
        self.config_yaml = config_yaml
        self.concurrency = concurrency
        self.env = _merged_env(env, inherit_env)
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="switchyard-gw-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "config.yaml"
        self.out_dir = self.workdir / "out"
        self.envoy_yaml = self.out_dir / "envoy.yaml"
        self.admin_path = self.out_dir / "admin.txt"
        self.log_path = self.workdir / "envoy.log"
        self.log_level = log_level or os.environ.get("SWITCHYARD_TEST_ENVOY_LOG_LEVEL", "warn")
        self.listener_name = listener
        self.extra_envoy_args = list(extra_envoy_args or [])
        self.extra_render_args = list(extra_render_args or [])
        self.startup_timeout = startup_timeout
        self.instance = next(_instance_counter)
        self.render_output = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.admin_address: str | None = None
        self.listeners: dict[str, int] = {}
        self.port: int | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def render(self) -> subprocess.CompletedProcess[str]:
        """Run ``switchyard render``; return the completed process (does not raise)."""
        self.config_path.write_text(self.config_yaml)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(SWITCHYARD_BIN), "render",
            "--config", str(self.config_path),
            "--out", str(self.out_dir),
            "--wasm", str(SWITCHYARD_WASM),
            "--port", "0",
            "--admin-port", "0",
            *self.extra_render_args,
        ]
        try:
            proc = subprocess.run(
                cmd, env=self.env, capture_output=True, text=True, timeout=RENDER_TIMEOUT,
                cwd=self.workdir, stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError as err:
            raise GatewayError(f"cannot run {SWITCHYARD_BIN}: {err}") from err
        except subprocess.TimeoutExpired as err:
            raise GatewayError(f"switchyard render did not finish within {RENDER_TIMEOUT}s") from err
        self.render_output = (proc.stdout or "") + (proc.stderr or "")
        return proc

    def spawn_envoy(self) -> subprocess.Popen[bytes]:
        """Start Envoy on the rendered bootstrap (without waiting for readiness)."""
        if self.admin_path.exists():
            self.admin_path.unlink()
        cmd = [
            str(ENVOY_BIN),
            "-c", str(self.envoy_yaml),
            "--disable-hot-restart",
            "--concurrency", str(self.concurrency),
            "--admin-address-path", str(self.admin_path),
            "--log-level", self.log_level,
            *self.extra_envoy_args,
        ]
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.workdir, start_new_session=True,
            )
        except OSError as err:
            raise GatewayError(f"cannot run {ENVOY_BIN}: {err}") from err
        finally:
            log.close()
        return self.process

    def start(self) -> "Gateway":
        """Render, start Envoy and wait until it is ready; raise GatewayError otherwise."""
        proc = self.render()
        if proc.returncode != 0:
            raise GatewayError(
                f"switchyard render failed (exit {proc.returncode}):\n{_tail(self.render_output)}")
        if not self.envoy_yaml.exists():
            raise GatewayError(f"switchyard render wrote no {self.envoy_yaml}:\n"
                               f"{_tail(self.render_output)}")
        self.spawn_envoy()
        try:
            self._wait_ready()
            self._read_listeners()
        except BaseException:
            self.stop()
            raise
        return self

    def _fail(self, why: str) -> GatewayError:
        return GatewayError(f"{why}\n--- envoy log ({self.log_path}) ---\n{_tail(self.log_text())}")

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise self._fail(f"Envoy exited with code {code} during startup")
            if self.admin_address is None and self.admin_path.exists():
                text = self.admin_path.read_text().strip()
                if text:
                    self.admin_address = text
            if self.admin_address is not None:
                try:
                    status, body = _http_get(f"{self.admin_url}/ready", timeout=1.0)
                    if status == 200 and body.strip() == "LIVE":
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise self._fail(f"Envoy was not ready (admin /ready LIVE) within {self.startup_timeout}s")

    def _read_listeners(self) -> None:
        status, body = _http_get(f"{self.admin_url}/listeners?format=json", timeout=2.0)
        if status != 200:
            raise self._fail(f"admin /listeners answered {status}: {body[:500]}")
        data = json.loads(body)
        self.listeners = {}
        for entry in data.get("listener_statuses", []):
            addr = (entry.get("local_address") or {}).get("socket_address") or {}
            if "port_value" in addr:
                self.listeners[entry.get("name", "")] = int(addr["port_value"])
        if not self.listeners:
            raise self._fail(f"Envoy has no listener with a bound port: {body[:500]}")
        if self.listener_name is not None:
            if self.listener_name not in self.listeners:
                raise self._fail(f"no listener named {self.listener_name!r}: {self.listeners}")
            self.port = self.listeners[self.listener_name]
        else:
            self.port = next(iter(self.listeners.values()))

    def stop(self) -> int | None:
        """Stop Envoy by PID: SIGTERM, then SIGKILL after 5 s. Returns the exit code."""
        proc, self.process = self.process, None
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_GRACE)
            except ProcessLookupError:
                pass
        return proc.returncode

    def __enter__(self) -> "Gateway":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- addresses ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the gateway listener."""
        if self.port is None:
            raise RuntimeError("gateway is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        if self.admin_address is None:
            raise RuntimeError("gateway admin address is unknown (not started?)")
        return f"http://{self.admin_address}"

    def url(self, path: str) -> str:
        """``base_url`` + ``path``."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- introspection ------------------------------------------------------------------
    def log_text(self) -> str:
        """Everything Envoy wrote to stdout/stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def admin_get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        return _http_get(self.admin_url + path, timeout=timeout)

    def stats(self, filter: str | None = None) -> dict[str, int | str]:  # noqa: A002
        """Envoy ``/stats`` as a dict; numeric values as int, others (histograms) as str."""
        path = "/stats"
        if filter:
            path += "?" + urllib.parse.urlencode({"filter": filter})
        status, body = self.admin_get(path)
        if status != 200:
            raise AssertionError(f"admin {path} answered {status}: {body[:300]}")
        stats: dict[str, int | str] = {}
        for line in body.splitlines():
            name, sep, value = line.partition(": ")
            if not sep:
                continue
            value = value.strip()
            stats[name] = int(value) if re.fullmatch(r"-?\d+", value) else value
        return stats

    def stat(self, name: str, default: int = 0) -> int | str:
        """One stat by exact name (``default`` when absent)."""
        return self.stats(filter=f"^{re.escape(name)}$").get(name, default)

    def wait_for_stat(self, name: str, at_least: int, timeout: float = 5.0) -> int:
        """Wait until the numeric stat ``name`` reaches ``at_least``; return its value."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            value = self.stat(name, 0)
            if isinstance(value, int) and value >= at_least:
                return value
            time.sleep(0.05)
        raise AssertionError(f"stat {name} = {value!r}, expected >= {at_least} within {timeout}s")


def start_failure(
    config_yaml: str,
    env: Mapping[str, str | None] | None = None,
    *,
    workdir: str | Path | None = None,
    timeout: float = STARTUP_TIMEOUT,
    inherit_env: bool = True,
) -> str:
    """Expect the gateway NOT to start; return the combined render + Envoy output.

    A failing ``switchyard render`` counts as a startup failure (its output is
    returned). Otherwise Envoy must exit non-zero within ``timeout``; if it
    becomes ready instead, it is stopped and AssertionError is raised.
    """
    gw = Gateway(config_yaml, env, workdir=workdir, inherit_env=inherit_env,
                 startup_timeout=timeout)
    proc = gw.render()
    if proc.returncode != 0:
        return gw.render_output
    if not gw.envoy_yaml.exists():
        return gw.render_output
    process = gw.spawn_envoy()
    try:
        gw._wait_ready()
    except GatewayError:
        exited = process.poll()
        gw.stop()
        if exited is None:
            raise AssertionError(
                f"Envoy neither failed nor became ready within {timeout}s:\n"
                + _tail(gw.log_text())) from None
        if exited == 0:
            raise AssertionError("Envoy exited 0 instead of failing:\n" + _tail(gw.log_text()))
        return gw.render_output + gw.log_text()
    gw.stop()
    raise AssertionError(
        "expected a startup failure, but the gateway became ready\n--- render ---\n"
        f"{_tail(gw.render_output)}\n--- envoy log ---\n{_tail(gw.log_text())}")


# --------------------------------------------------------------------------------------
# HTTP helpers for tests (stdlib only)
# --------------------------------------------------------------------------------------


def request_json(
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], Any]:
    """Send a request; return (status, lower-cased headers, parsed JSON or raw text).

    ``body``: dict/list → JSON, str/bytes → as-is, None → no body. Never raises
    for an HTTP error status.
    """
    data: bytes | None
    hdrs = dict(headers or {})
    if body is None:
        data = None
    elif isinstance(body, (bytes, str)):
        data = body.encode() if isinstance(body, str) else body
    else:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as err:
        resp = err
    with resp:
        raw = resp.read()
        status = resp.status if hasattr(resp, "status") else resp.code
        resp_headers = {k.lower(): v for k, v in resp.headers.items()}
    text = raw.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return status, resp_headers, parsed


def open_stream(
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> http.client.HTTPResponse:
    """Send a request and return the open response, to read a stream incrementally.

    The caller closes it (``with open_stream(...) as resp:``). ``timeout`` bounds
    each socket read.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"tests only talk to loopback addresses, not {parts.hostname}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        if not isinstance(body, (bytes, str)):
            hdrs.setdefault("Content-Type", "application/json")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn.request(method, target or "/", body=data, headers=hdrs)
    return conn.getresponse()


@dataclass
class SSEEvent:
    """One server-sent event: its ``event`` name (None when absent), ``data``
    text (lines joined with "\\n"), and the monotonic time it was completed."""

    event: str | None
    data: str
    received_at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.data)


def iter_sse(resp: Any) -> Iterator[SSEEvent]:
    """Yield SSE events from a response as they arrive (reads line by line)."""
    event: str | None = None
    data: list[str] = []
    while True:
        line = resp.readline()
        if not line:
            if data or event is not None:
                yield SSEEvent(event, "\n".join(data))
            return
        text = line.decode("utf-8").rstrip("\r\n")
        if text == "":
            if data or event is not None:
                yield SSEEvent(event, "\n".join(data))
            event, data = None, []
        elif text.startswith(":"):
            continue
        else:
            name, _, value = text.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


# --------------------------------------------------------------------------------------
# Polls
# --------------------------------------------------------------------------------------


def poll(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 10.0,
         interval: float = 0.05) -> Any:
    """``fetch()`` until ``ok`` holds or ``timeout`` seconds passed; the last value
    (the caller asserts on it, so a failure shows what was fetched last)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition",
             interval: float = 0.05) -> Any:
    """``predicate()`` until its value is truthy, and return it; AssertionError naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


# --------------------------------------------------------------------------------------
# The keyservice of a keyed gateway
# --------------------------------------------------------------------------------------


def require_keyservice() -> None:
    """Fail (not skip) when the keyservice binary is missing."""
    if not KEYSERVICE_BIN.is_file():
        raise GatewayError(f"{KEYSERVICE_BIN} is missing: cargo build -p switchyard-keyservice")


class Keyservice:
    """One ``switchyard-keyservice`` process on a loopback port, with a SQLite database
    in ``workdir`` unless ``database_url`` is given, the master key ``master`` (passed
    in the variable ``master_env``) and, when given, the reporting credential
    ``reporter_key`` (``SWITCHYARD_REPORTER_KEY``). ``stop()`` then ``start()`` again
    restarts it on the same port."""

    def __init__(self, workdir: Path, database_url: str | None = None, *, master: str,
                 master_env: str = "SY_TEST_MASTER", reporter_key: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.database_url = database_url or f"sqlite://{self.workdir / 'keys.db'}"
        self.master = master
        self.master_env = master_env
        self.reporter_key = reporter_key
        self.port: int | None = None
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> "Keyservice":
        listen = f"127.0.0.1:{self.port or 0}"
        env = dict(os.environ, **{self.master_env: self.master})
        if self.reporter_key is not None:
            env["SWITCHYARD_REPORTER_KEY"] = self.reporter_key
        self.log = open(self.workdir / "keyservice.log", "a")
        self.proc = subprocess.Popen(
            [str(KEYSERVICE_BIN), "--listen", listen,
             "--database-url", self.database_url,
             "--master-key-env", self.master_env],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        assert line.startswith("listening on "), line
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if getattr(self, "log", None) is not None:
            self.log.close()

    def gateway(self, config: str, env: Mapping[str, str | None], workdir: Path,
                **kwargs: Any) -> Gateway:
        """A gateway (not started) rendered to ask this keyservice
        (``switchyard render --keyservice``)."""
        return Gateway(config, env, workdir=workdir,
                       extra_render_args=["--keyservice", f"127.0.0.1:{self.port}"], **kwargs)


@contextmanager
def keyed_gateway(config: str, env: Mapping[str, str | None], workdir: Path, *,
                  master: str) -> Iterator[tuple[Gateway, Keyservice]]:
    """A keyservice (SQLite in ``workdir``, master key ``master``) and a started gateway
    asking it (in ``workdir / "gw"``); both are stopped afterwards."""
    require_keyservice()
    ks = Keyservice(Path(workdir), master=master).start()
    try:
        gw = ks.gateway(config, env, Path(workdir) / "gw")
        gw.start()
        try:
            yield gw, ks
        finally:
            gw.stop()
    finally:
        ks.stop()


class RecordingProxy:
    """Forwards every request to ``target_port`` on 127.0.0.1 and keeps a copy of it
    (method, path, lower-cased headers, body) in :attr:`requests`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with proxy.lock:
                    proxy.requests.append((self.command, self.path, headers, body))
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=10)
                try:
                    forwarded = {k: v for k, v in self.headers.items()
                                 if k.lower() not in ("connection", "transfer-encoding")}
                    conn.request(self.command, self.path, body=body or None, headers=forwarded)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                            self.send_header(k, v)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def snapshot(self) -> list[tuple[str, str, dict[str, str], bytes]]:
        with self.lock:
            return list(self.requests)

    def checks(self) -> list[dict[str, str]]:
        """The headers of every ext_authz check (the keyservice's ``/check`` path)."""
        return [h for (_, path, h, _) in self.snapshot() if path.startswith("/check")]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def keyservice_behind_recording_proxy(
    workdir: Path, *, master: str, master_env: str, reporter_key: str | None = None,
) -> Iterator[tuple[RecordingProxy, str]]:
    """A keyservice (SQLite in ``workdir``) behind a :class:`RecordingProxy`; yields the
    proxy (give ``127.0.0.1:{proxy.port}`` to ``switchyard render --keyservice``) and
    the database URL (for ``general_settings.database_url``)."""
    require_keyservice()
    ks = Keyservice(Path(workdir), master=master, master_env=master_env,
                    reporter_key=reporter_key).start()
    try:
        proxy = RecordingProxy(ks.port or 0)
        try:
            yield proxy, ks.database_url
        finally:
            proxy.stop()
    finally:
        ks.stop()
