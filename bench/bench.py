"""Switchyard's side-by-side benchmark (issue 5): one run, every target interleaved.

Targets (each a wrk load against one URL and body):

  (a) direct        wrk → the mock upstream (nginx), no proxy
  (b) envoy         plain Envoy: Switchyard's own rendered listener and cluster with the
                    filters taken out — the ceiling
  (c) sy-openai     Switchyard, OpenAI-compatible passthrough
      sy-cb-ok, sy-cb-dead, sy-cb-slow: the same with `langfuse` and `otel` callbacks
                    whose collector is healthy and fast (bench/collector.py, which
                    counts what arrives), dead (connections refused) or never answers
  (d) sy-anthropic  Switchyard translating to Anthropic Messages
  (e) sy-keys       Switchyard with virtual keys on (ext_authz to the keyservice, spend
                    reports), OpenAI-compatible passthrough
  (f) envoy-stream, sy-openai-stream, sy-anthropic-stream: the same, streamed (SSE)
  (g) litellm       the LiteLLM proxy from PyPI, offline, same model list

Every measurement is `wrk -t1 -cN -dD` with a Lua script that POSTs the body and prints
latency percentiles. The rounds interleave all targets at all connection counts, and
the table reports the median of the rounds, so a noisy neighbour hurts every target
alike. Proxies (Envoy with one worker, the keyservice, LiteLLM with one worker) are
pinned to CPU 0; wrk and nginx to CPU 1.

Usage: bench/run [--quick] [--update-readme] [--json FILE]   (environment: BENCH_DURATION
seconds, BENCH_ROUNDS, BENCH_CONNS "1,16,64", BENCH_TARGETS "envoy,sy-openai,…",
BENCH_COMPARE_WASM, BENCH_COMPARE_SWITCHYARD, SWITCHYARD_BIN, ENVOY_BIN, and
BENCH_VARIANTS "name=FILE.wasm;…": more builds of the filter, each an Envoy rendered by
this tree's switchyard, each `sy` target run again on it as `<target>@name` right after
its own row; their CPU time per request is in the --json output).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

import payloads

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
ENVOY = Path(os.environ.get("ENVOY_BIN") or ROOT / ".venv" / "bin" / "envoy")
WASM = ROOT / "target" / "wasm32-wasip1" / "wasm" / "switchyard_filter.wasm"
# The config compiler only renders here, so CI's benchmark tier (bench/ci) passes its
# debug build rather than building a release one.
SWITCHYARD = Path(os.environ.get("SWITCHYARD_BIN") or ROOT / "target" / "release" / "switchyard")
KEYSERVICE = ROOT / "target" / "release" / "switchyard-keyservice"
NOOP_WASM = ROOT / "target" / "noop" / "wasm32-wasip1" / "release" / "noop_filter.wasm"
LITELLM = BENCH_DIR / ".venv" / "bin" / "litellm"

MASTER_KEY = "sk-bench-master-0123456789"
PROVIDER_KEY = "sk-bench-provider"

#: Processes whose CPU time per request the report shows (service name → column).
CPU_COLUMNS = {"envoy": "plain Envoy", "wasm-pass": "Envoy + no-op wasm",
               "wasm-buffer": "Envoy + buffering no-op", "wasm-calls:50": "Envoy + no-op, 50 lookups",
               "sy": "switchyard Envoy",
               "sy-b": "switchyard Envoy (B)", "sy-keys": "switchyard Envoy (keys)",
               "sy-cb-ok": "switchyard Envoy (callbacks, ok)",
               "sy-cb-dead": "switchyard Envoy (callbacks, dead)",
               "sy-cb-slow": "switchyard Envoy (callbacks, slow)",
               "sy-cb-ok-b": "switchyard Envoy (callbacks, ok, B)",
               "sy-cb-dead-b": "switchyard Envoy (callbacks, dead, B)",
               "sy-cb-slow-b": "switchyard Envoy (callbacks, slow, B)",
               "keyservice": "keyservice", "litellm": "LiteLLM", "mock": "nginx",
               "collector": "collector"}

#: The callback targets, compared with each other and with `sy-openai` (no callbacks).
CALLBACK_TARGETS = ("sy-cb-ok", "sy-cb-dead", "sy-cb-slow")

PROXY_CPU = "0"
LOAD_CPU = "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu: str, argv: list[str]) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", cpu, *argv]
    return argv


def call(method: str, port: int, path: str, body: dict | None = None,
         headers: dict | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"content-type": "application/json", **(headers or {})}
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_until(what: str, check, timeout: float, proc: subprocess.Popen | None = None,
               log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise SystemExit(f"{what} exited with {proc.returncode} while starting:\n{tail}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise SystemExit(f"{what} did not become ready within {timeout:.0f} s\n{tail}")


def rss_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of one process, KiB, from /proc."""
    cur = peak = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    return cur, peak


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree so far."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (LiteLLM's workers)."""
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out += process_tree(int(child))
    return out


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def peak_rss_kib(self) -> int:
        """Sum over the process tree of each process's peak RSS."""
        total = 0
        for pid in process_tree(self.proc.pid):
            try:
                total += rss_kib(pid)[1]
            except OSError:
                pass
        return total


class Stack:
    """Every process of the run: the mock, the proxies, the keyservice."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.services: dict[str, Service] = {}
        self.ports: dict[str, int] = {}
        #: Listening sockets that never accept: collectors that never answer.
        self.black_holes: list[socket.socket] = []

    def spawn(self, name: str, argv: list[str], env: dict | None = None,
              stdout=None) -> Service:
        log = self.work / f"{name}.log"
        logf = open(log, "ab")
        proc = subprocess.Popen(argv, stdout=stdout if stdout is not None else logf,
                                stderr=logf, env={**os.environ, **(env or {})},
                                start_new_session=True, cwd=self.work)
        svc = Service(name, proc, log)
        self.services[name] = svc
        return svc

    def stop(self) -> None:
        for svc in reversed(list(self.services.values())):
            svc.stop()
        for hole in self.black_holes:
            hole.close()

    # --- logging-callback collectors that do not work ------------------------------------
    def collector(self, kind: str, name: str = "collector") -> str:
        """The URL of a collector that is `ok` (bench/collector.py: answers at once, as
        Langfuse and an OTLP collector do, and counts the events), `dead` (nothing
        listens: connections are refused) or `slow` (it accepts connections into its
        backlog and never answers: every callout waits for its timeout)."""
        if kind == "ok":
            svc = self.spawn(name, pinned(LOAD_CPU, [
                sys.executable, str(BENCH_DIR / "collector.py")]), stdout=subprocess.PIPE)
            line = svc.proc.stdout.readline().decode()
            if not line.startswith("listening on "):
                raise SystemExit(f"collector did not start: {line!r}\n{svc.log.read_text()[-2000:]}")
            self.ports[name] = int(line.rsplit(" ", 1)[1])
            return f"http://127.0.0.1:{self.ports[name]}"
        if kind == "dead":
            return f"http://127.0.0.1:{free_port()}"
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(4096)
        self.black_holes.append(hole)
        return f"http://127.0.0.1:{hole.getsockname()[1]}"

    @staticmethod
    def callback_env(collector: str) -> dict:
        """LiteLLM's variables for `langfuse` and `otel` callbacks to `collector`."""
        return {"LANGFUSE_PUBLIC_KEY": "pk-lf-bench", "LANGFUSE_SECRET_KEY": "sk-lf-bench",
                "LANGFUSE_HOST": collector, "OTEL_EXPORTER": "otlp_http",
                "OTEL_ENDPOINT": collector}

    # --- the mock upstream -------------------------------------------------------------
    def start_mock(self) -> None:
        port = free_port()
        # nginx serves a POST from a file by way of error_page: `return 405` →
        # error_page (an internal redirect, as GET) → the static file.
        files = self.work / "mock-files"
        files.mkdir()
        locations = []
        for i, (path, (ctype, make)) in enumerate(payloads.MOCK_ROUTES.items()):
            ext = "sse" if ctype == "text/event-stream" else "json"
            (files / f"{i}.{ext}").write_bytes(make())
            locations.append(
                f"    location = {path} {{ error_page 405 =200 /files/{i}.{ext}; return 405; }}")
        conf = self.work / "nginx.conf"
        conf.write_text(f"""
worker_processes 1;
daemon off;
pid {self.work}/nginx.pid;
error_log {self.work}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  types {{ application/json json; text/event-stream sse; }}
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_buffer_size 64k;
  client_body_temp_path {self.work}/nginx-body;
  proxy_temp_path {self.work}/nginx-proxy;
  fastcgi_temp_path {self.work}/nginx-fastcgi;
  uwsgi_temp_path {self.work}/nginx-uwsgi;
  scgi_temp_path {self.work}/nginx-scgi;
  server {{
    listen 127.0.0.1:{port};
    location /files/ {{ internal; alias {files}/; etag off; }}
{chr(10).join(locations)}
  }}
}}
""")
        svc = self.spawn("mock", pinned(LOAD_CPU, ["nginx", "-p", str(self.work), "-c", str(conf)]))
        wait_until("nginx", lambda: call("POST", port, "/v1/chat/completions", {})[0] == 200,
                   10, svc.proc, svc.log)
        self.ports["mock"] = port

    # --- Switchyard and plain Envoy ----------------------------------------------------
    def switchyard_config(self, keys: bool, callbacks: bool = False) -> str:
        mock = self.ports["mock"]
        base = f"http://127.0.0.1:{mock}"
        config = f"""
model_list:
  - model_name: bench-openai
    litellm_params: {{model: openai/gpt-bench, api_base: "{base}/v1", api_key: os.environ/BENCH_PROVIDER_KEY}}
  - model_name: bench-openai-stream
    litellm_params: {{model: openai/gpt-bench, api_base: "{base}/stream/v1", api_key: os.environ/BENCH_PROVIDER_KEY}}
  - model_name: bench-claude
    litellm_params: {{model: anthropic/claude-bench, api_base: "{base}", api_key: os.environ/BENCH_PROVIDER_KEY}}
  - model_name: bench-claude-stream
    litellm_params: {{model: anthropic/claude-bench, api_base: "{base}/stream", api_key: os.environ/BENCH_PROVIDER_KEY}}
"""
        if keys:
            config += "general_settings:\n  master_key: os.environ/BENCH_MASTER_KEY\n"
        if callbacks:
            config += "litellm_settings:\n  callbacks: [langfuse, otel]\n"
        return config

    def render(self, name: str, config: str, extra: list[str], wasm: Path = WASM,
               switchyard: Path = SWITCHYARD, env: dict | None = None) -> dict:
        out = self.work / name
        out.mkdir()
        cfg = out / "config.yaml"
        cfg.write_text(config)
        proc = subprocess.run(
            [str(switchyard), "render", "--config", str(cfg), "--out", str(out),
             "--wasm", str(wasm), "--port", "0", "--admin-port", "0", *extra],
            capture_output=True, text=True, env={**os.environ, **self.secrets(), **(env or {})})
        if proc.returncode != 0:
            raise SystemExit(f"switchyard render failed:\n{proc.stderr}")
        return yaml.safe_load((out / "envoy.yaml").read_text())

    def secrets(self) -> dict:
        return {"BENCH_PROVIDER_KEY": PROVIDER_KEY, "BENCH_MASTER_KEY": MASTER_KEY,
                "SWITCHYARD_MASTER_KEY": MASTER_KEY}

    def start_envoy(self, name: str, bootstrap: dict, env: dict | None = None) -> None:
        path = self.work / f"{name}.envoy.yaml"
        path.write_text(yaml.safe_dump(bootstrap, sort_keys=False))
        admin_file = self.work / f"{name}.admin"
        argv = [str(ENVOY), "-c", str(path), "--disable-hot-restart", "--concurrency", "1",
                "--admin-address-path", str(admin_file), "--log-level", "warn"]
        # Access logs go to stdout: /dev/null, for every Envoy alike.
        svc = self.spawn(name, pinned(PROXY_CPU, argv), env={**self.secrets(), **(env or {})},
                         stdout=subprocess.DEVNULL)
        wait_until(f"Envoy {name}", admin_file.exists, 30, svc.proc, svc.log)
        admin = admin_file.read_text().strip()
        admin_port = int(admin.rsplit(":", 1)[1])
        self.ports[f"{name}-admin"] = admin_port

        def ready() -> bool:
            status, body = call("GET", admin_port, "/listeners?format=json")
            if status != 200:
                return False
            for listener in json.loads(body).get("listener_statuses", []):
                port = listener.get("local_address", {}).get("socket_address", {}).get("port_value")
                if port:
                    self.ports[name] = port
                    return True
            return False

        wait_until(f"Envoy {name}", ready, 30, svc.proc, svc.log)
        wait_until(f"Envoy {name} ready",
                   lambda: call("GET", admin_port, "/ready")[0] == 200, 30, svc.proc, svc.log)

    @staticmethod
    def strip_filters(bootstrap: dict) -> dict:
        """Switchyard's bootstrap with every Switchyard filter taken out: the same
        listener, HTTP connection manager, cluster and route settings, plain Envoy."""
        plain = json.loads(json.dumps(bootstrap))
        listener = plain["static_resources"]["listeners"][0]
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["http_filters"] = [f for f in hcm["http_filters"]
                               if f["name"] == "envoy.filters.http.router"]
        routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
        group_route = next(r for r in routes if r.get("name") == "bench-openai")
        group_route["match"] = {"prefix": "/"}
        hcm["route_config"]["virtual_hosts"][0]["routes"] = [group_route]
        clusters = plain["static_resources"]["clusters"]
        for cluster in clusters:
            opts = cluster.get("typed_extension_protocol_options", {}).get(
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
            if opts:
                opts.pop("http_filters", None)
        plain["static_resources"]["clusters"] = [
            c for c in clusters if c["name"] == group_route["route"]["cluster"]]
        return plain

    @staticmethod
    def with_noop_filters(bootstrap: dict, plain: dict, mode: str) -> dict:
        """Plain Envoy plus the no-op wasm filter (bench/noop-filter) in exactly the two
        places Switchyard's filters sit: before the router in the listener, and in the
        cluster's upstream filter chain. `mode` is its plugin configuration."""
        out = json.loads(json.dumps(plain))
        sy_hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
        wasm = json.loads(json.dumps(next(f for f in sy_hcm["http_filters"]
                                          if f["name"] == "switchyard.router")))
        wasm["name"] = "bench.noop"
        cfg = wasm["typed_config"]["config"]
        cfg["name"] = "bench-noop"
        cfg["root_id"] = ""
        cfg["vm_config"]["vm_id"] = "bench-noop"
        cfg["vm_config"]["code"]["local"]["filename"] = str(NOOP_WASM)
        cfg["vm_config"]["environment_variables"] = {}
        cfg["configuration"]["value"] = mode
        hcm = out["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["http_filters"].insert(0, wasm)
        for cluster in out["static_resources"]["clusters"]:
            opts = cluster.get("typed_extension_protocol_options", {}).get(
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
            if opts is not None:
                opts["http_filters"] = [wasm, {
                    "name": "envoy.filters.http.upstream_codec",
                    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec"}}]
        return out

    def start_keyservice(self) -> None:
        svc = self.spawn("keyservice", pinned(PROXY_CPU, [
            str(KEYSERVICE), "--listen", "127.0.0.1:0",
            "--database-url", f"sqlite://{self.work / 'keys.db'}",
            "--master-key-env", "BENCH_MASTER_KEY"]), env=self.secrets(),
            stdout=subprocess.PIPE)
        line = svc.proc.stdout.readline().decode()
        if not line.startswith("listening on "):
            raise SystemExit(f"keyservice did not start: {line!r}\n{svc.log.read_text()[-2000:]}")
        self.ports["keyservice"] = int(line.rsplit(":", 1)[1])

    def virtual_key(self) -> str:
        status, body = call("POST", self.ports["sy-keys"], "/key/generate",
                            {"models": ["bench-openai"], "max_budget": 1000000},
                            {"authorization": f"Bearer {MASTER_KEY}"})
        if status != 200:
            raise SystemExit(f"/key/generate: {status} {body[:500]!r}")
        return json.loads(body)["key"]

    # --- LiteLLM -------------------------------------------------------------------------
    def start_litellm(self) -> None:
        port = free_port()
        cfg = self.work / "litellm.yaml"
        cfg.write_text(f"""
model_list:
  - model_name: bench-openai
    litellm_params:
      model: openai/gpt-bench
      api_base: http://127.0.0.1:{self.ports['mock']}/v1
      api_key: {PROVIDER_KEY}
litellm_settings:
  telemetry: false
  turn_off_message_logging: true
""")
        env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
               "NO_DOCS": "True", "DISABLE_ADMIN_UI": "True", "LITELLM_TELEMETRY": "False"}
        svc = self.spawn("litellm", pinned(PROXY_CPU, [
            str(LITELLM), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port),
            "--num_workers", "1", "--telemetry", "False"]), env=env)
        wait_until("LiteLLM", lambda: call("GET", port, "/health/liveliness")[0] == 200,
                   180, svc.proc, svc.log)
        self.ports["litellm"] = port


@dataclass
class Target:
    name: str
    label: str
    service: str  # the key into Stack.ports
    path: str
    body: dict
    headers: dict = field(default_factory=dict)
    stream: bool = False
    baseline: str = "envoy"

    def url(self, stack: Stack) -> str:
        return f"http://127.0.0.1:{stack.ports[self.service]}{self.path}"


def targets(virtual_key: str | None) -> list[Target]:
    req = payloads.chat_request
    out = [
        Target("direct", "(a) direct to mock", "mock", "/v1/chat/completions", req("gpt-bench")),
        Target("envoy", "(b) plain Envoy", "envoy", "/v1/chat/completions", req("gpt-bench")),
        Target("wasm-pass", "(b+) plain Envoy + 2 no-op wasm filters", "wasm-pass",
               "/v1/chat/completions", req("gpt-bench")),
        Target("wasm-buffer", "(b+) plain Envoy + 2 buffering no-op wasm filters",
               "wasm-buffer", "/v1/chat/completions", req("gpt-bench")),
        Target("wasm-calls:50", "(b+) no-op wasm filters, 50 header lookups each", "wasm-calls:50",
               "/v1/chat/completions", req("gpt-bench")),
        Target("sy-openai", "(c) Switchyard, OpenAI passthrough", "sy",
               "/v1/chat/completions", req("bench-openai")),
        Target("sy-cb-ok", "(c) Switchyard, OpenAI passthrough, callbacks to a healthy collector",
               "sy-cb-ok", "/v1/chat/completions", req("bench-openai")),
        Target("sy-cb-dead", "(c) Switchyard, OpenAI passthrough, callbacks to a dead collector",
               "sy-cb-dead", "/v1/chat/completions", req("bench-openai")),
        Target("sy-cb-slow", "(c) Switchyard, OpenAI passthrough, callbacks to a collector that never answers",
               "sy-cb-slow", "/v1/chat/completions", req("bench-openai")),
        Target("sy-anthropic", "(d) Switchyard → Anthropic", "sy",
               "/v1/chat/completions", req("bench-claude")),
        Target("sy-keys", "(e) Switchyard + virtual keys", "sy-keys", "/v1/chat/completions",
               req("bench-openai"), {"Authorization": f"Bearer {virtual_key}"}),
        Target("envoy-stream", "(f) plain Envoy, stream", "envoy",
               "/stream/v1/chat/completions", req("gpt-bench", True), stream=True,
               baseline="envoy-stream"),
        Target("sy-openai-stream", "(f) Switchyard passthrough, stream", "sy",
               "/v1/chat/completions", req("bench-openai-stream", True), stream=True,
               baseline="envoy-stream"),
        Target("sy-anthropic-stream", "(f) Switchyard → Anthropic, stream", "sy",
               "/v1/chat/completions", req("bench-claude-stream", True), stream=True,
               baseline="envoy-stream"),
        Target("litellm", "(g) LiteLLM proxy", "litellm", "/v1/chat/completions",
               req("bench-openai")),
    ]
    if virtual_key is None:
        out = [t for t in out if t.name != "sy-keys"]
    if os.environ.get("BENCH_COMPARE_WASM"):
        # A/B: every target the `sy` Envoy serves again against the other build,
        # right after its own row (`sy-openai@b`, `sy-openai-stream@b`, …).
        with_b = []
        for t in out:
            with_b.append(t)
            if t.service == "sy":
                with_b.append(replace(
                    t, name=f"{t.name}@b", label=f"{t.label}, BENCH_COMPARE_WASM",
                    service="sy-b"))
            elif t.name in CALLBACK_TARGETS and os.environ.get("BENCH_COMPARE_CALLBACKS"):
                with_b.append(replace(
                    t, name=f"{t.name}@b", label=f"{t.label}, BENCH_COMPARE_WASM",
                    service=f"{t.service}-b"))
        out = with_b
    if variants():
        with_v = []
        for t in out:
            with_v.append(t)
            if t.service == "sy":
                for vn, _ in variants():
                    with_v.append(replace(t, name=f"{t.name}@{vn}", label=f"{t.label} @{vn}",
                                          service=f"sy-{vn}"))
        out = with_v
    return out


def variants() -> list[tuple[str, str]]:
    """BENCH_VARIANTS, `name=FILE.wasm;…`: (name, file) of each other build to run."""
    out = []
    for item in filter(None, os.environ.get("BENCH_VARIANTS", "").split(";")):
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"BENCH_VARIANTS: {item!r} is not name=FILE.wasm")
        out.append((name, path))
    return out


def check_answer(stack: Stack, target: Target) -> None:
    """One request before the load: the answer must be the right shape, translated."""
    status, body = call("POST", stack.ports[target.service], target.path, target.body,
                        target.headers)
    if status != 200:
        raise SystemExit(f"{target.name}: HTTP {status}: {body[:500]!r}")
    text = body.decode()
    if target.stream:
        chunks = [json.loads(line[6:]) for line in text.splitlines()
                  if line.startswith("data: ") and line != "data: [DONE]"]
        content = "".join(c["choices"][0]["delta"].get("content") or ""
                          for c in chunks if c.get("choices"))
        ok = (text.rstrip().endswith("data: [DONE]")
              and all(c["object"] == "chat.completion.chunk" for c in chunks)
              and content.strip() == payloads.ANSWER)
    else:
        answer = json.loads(text)
        ok = (answer.get("object") == "chat.completion"
              and answer["choices"][0]["message"]["content"] == payloads.ANSWER)
    if not ok:
        raise SystemExit(f"{target.name}: unexpected answer: {text[:800]}")


LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"mean":%.1f}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def write_lua(work: Path, target: Target) -> Path:
    headers = "\n".join(f'wrk.headers["{k}"] = {lua_string(v)}' for k, v in target.headers.items())
    path = work / f"{target.name}.lua"
    path.write_text(LUA.format(body=lua_string(json.dumps(target.body)), headers=headers))
    return path


def run_wrk(url: str, script: Path, conns: int, seconds: float) -> dict:
    argv = pinned(LOAD_CPU, ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                             "-s", str(script), url])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^RESULT (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or not match:
        raise SystemExit(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


def admin_stats(stack: Stack, name: str) -> dict[str, int]:
    """Envoy `name`'s counters and gauges (admin `/stats`)."""
    status, body = call("GET", stack.ports[f"{name}-admin"], "/stats")
    if status != 200:
        raise SystemExit(f"Envoy {name} /stats: HTTP {status}")
    out = {}
    for line in body.decode().splitlines():
        key, _, value = line.partition(": ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def collector_check(stack: Stack, envoy: str = "sy-cb-ok", collector: str = "collector",
                    settle_s: float = 20.0) -> dict:
    """Whether every request the healthy-collector Envoy (`sy-cb-ok`) logged reached
    the collector, once per callback: the collector's distinct Langfuse generations
    and OTLP spans against the Envoy's `downstream_rq_total` (each logged request
    makes one event per callback, a failure too), and the callbacks' loss counters
    (`litellm_callback_logging_failures_metric_*`) at 0. Waits up to `settle_s` for
    the last batches (the queues tick every 100 ms)."""
    deadline = time.monotonic() + settle_s
    while True:
        stats = admin_stats(stack, envoy)
        requests = sum(v for k, v in stats.items()
                       if k.startswith("http.") and k.endswith(".downstream_rq_total")
                       and not k.startswith("http.admin."))
        lost = {k.rsplit("_", 1)[1]: v for k, v in stats.items()
                if "litellm_callback_logging_failures_metric_" in k}
        got = json.loads(call("GET", stack.ports[collector], "/count")[1])
        ok = (got["langfuse_ids"] == requests and got["otlp_ids"] == requests
              and not any(lost.values()))
        if ok or time.monotonic() > deadline:
            return {"envoy": envoy, "ok": ok, "requests": requests, "langfuse": got["langfuse_ids"],
                    "otlp": got["otlp_ids"], "callouts": got["callouts"],
                    "unreadable": got["unreadable"], "lost": lost}
        time.sleep(0.5)


def callbacks_report(results: dict, cpu: dict, conns: list[int], tlist: list[Target],
                     delivered: dict | None) -> str:
    """The callback targets side by side (healthy, dead and never-answering collector,
    and `sy-openai` without callbacks), with their ratios: what callbacks cost, and
    whether a broken collector slows requests."""
    names = [t.name for t in tlist
             if t.name.removesuffix("@b") in ("sy-openai", *CALLBACK_TARGETS)]
    if not any(n in CALLBACK_TARGETS for n in names):
        return ""
    service = {t.name: t.service for t in tlist}
    lines = ["Logging callbacks (`langfuse` + `otel`) — does the collector's state touch "
             "requests? (medians of the rounds; Envoy CPU µs/request over all of them)", "",
             "| target | conns | req/s | p50 ms | p99 ms | non-2xx + socket errors | Envoy CPU µs/req |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    med: dict = {}
    for n in names:
        used, reqs = cpu.get((n, service[n]), [0.0, 0])
        us = used / reqs * 1e6 if reqs else float("nan")
        for c in conns:
            runs = results.get((n, c))
            if not runs:
                continue
            med[(n, c)] = m = {"rps": statistics.median(r["rps"] for r in runs),
                               "p50": statistics.median(r["p50"] for r in runs),
                               "p99": statistics.median(r["p99"] for r in runs),
                               "errors": sum(r["errors"] for r in runs), "cpu": us}
            lines.append(f"| {n} | {c} | {m['rps']:,.0f} | {fmt_ms(m['p50'])} | "
                         f"{fmt_ms(m['p99'])} | {m['errors']} | {us:.1f} |")
    lines += ["", "| ratio | conns | req/s | p50 | p99 | Envoy CPU µs/req |",
              "|---|---:|---:|---:|---:|---:|"]
    pairs = [("sy-cb-dead", "sy-cb-ok"), ("sy-cb-slow", "sy-cb-ok"), ("sy-cb-ok", "sy-openai")]
    pairs += [(n.removesuffix("@b"), n) for n in names if n.endswith("@b")]
    for a, b in pairs:
        for c in conns:
            if (a, c) in med and (b, c) in med:
                x, y = med[(a, c)], med[(b, c)]
                lines.append(f"| {a} / {b} | {c} | {x['rps'] / y['rps']:.2f} | "
                             f"{x['p50'] / y['p50']:.2f} | {x['p99'] / y['p99']:.2f} | "
                             f"{x['cpu'] / y['cpu']:.2f} |")
    for d in (delivered, (delivered or {}).get("b")):
        if d is None:
            continue
        lines += ["", f"Healthy collector of {d['envoy']}: {d['langfuse']} Langfuse generations "
                  f"and {d['otlp']} OTLP spans (distinct ids) for {d['requests']} requests the "
                  f"Envoy logged, in {d['callouts']} callouts; losses counted {d['lost']} — "
                  + ("every report arrived" if d["ok"] else "**reports missing**")]
    return "\n".join(lines)


def machine_line() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        mem_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    envoy = subprocess.run([str(ENVOY), "--version"], capture_output=True, text=True).stdout
    envoy_ver = re.search(r"/(\d+\.\d+\.\d+)/", envoy)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    # LiteLLM is optional (the peer target runs only when bench/run installed it).
    venv_python = BENCH_DIR / ".venv" / "bin" / "python"
    litellm = "" if not venv_python.exists() else subprocess.run(
        [str(venv_python), "-c", "import importlib.metadata as m;print(m.version('litellm'))"],
        capture_output=True, text=True).stdout.strip()
    return (f"{datetime.date.today().isoformat()} · {cpu} · {os.cpu_count()} CPUs · "
            f"{mem_gib:.0f} GiB · Linux {platform.release()} · Envoy "
            f"{envoy_ver.group(1) if envoy_ver else '?'} · LiteLLM {litellm or '?'} · "
            f"wrk 4.1 · commit {commit}")


def fmt_ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def report(results: dict, conns: list[int], tlist: list[Target], rss: dict,
           settings: str) -> tuple[str, list[tuple[str, bool, str]]]:
    """The markdown table and the target checks."""
    med = {}
    for (name, c), runs in results.items():
        med[(name, c)] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "p50": statistics.median(r["p50"] for r in runs),
            "p90": statistics.median(r["p90"] for r in runs),
            "p99": statistics.median(r["p99"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
            "requests": sum(r["requests"] for r in runs),
        }
    lines = [f"Settings: {settings}", "",
             "| target | conns | req/s | p50 ms | p90 ms | p99 ms | added p50 ms | × baseline | × LiteLLM | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t in tlist:
        for c in conns:
            m = med.get((t.name, c))
            if not m:
                continue
            base = med.get((t.baseline, c))
            lite = med.get(("litellm", c))
            added = "" if t.name in ("direct", t.baseline) or not base else \
                f"{(m['p50'] - base['p50']) / 1000:+.3f}"
            ratio = "" if t.name == t.baseline or not base else f"{m['rps'] / base['rps']:.2f}"
            vs_lite = "" if t.name == "litellm" or not lite or t.stream else \
                f"{m['rps'] / lite['rps']:.0f}"
            lines.append(
                f"| {t.label} | {c} | {m['rps']:,.0f} | {fmt_ms(m['p50'])} | {fmt_ms(m['p90'])} | "
                f"{fmt_ms(m['p99'])} | {added} | {ratio} | {vs_lite} | "
                f"{m['errors']} of {m['requests']:,} |")
    lines += ["", "Peak RSS (VmHWM, whole process tree) after the run:", "",
              "| process | peak RSS MiB |", "|---|---:|"]
    for name, kib in rss.items():
        lines.append(f"| {name} | {kib / 1024:.1f} |")

    checks: list[tuple[str, bool, str]] = []

    def ratio(a: str, b: str, c: int) -> float | None:
        if (a, c) in med and (b, c) in med:
            return med[(a, c)]["rps"] / med[(b, c)]["rps"]
        return None

    top = max(conns)
    for name, goal, label in (("sy-openai", 0.85, "(c) passthrough"),
                              ("sy-anthropic", 0.75, "(d) → Anthropic"),
                              ("sy-keys", 0.5, "(e) virtual keys")):
        r = ratio(name, "envoy", top)
        if r is not None:
            checks.append((f"{label} ≥ {goal}× plain Envoy at {top} connections", r >= goal,
                           f"{r:.2f}×"))
    r = ratio("sy-anthropic-stream", "envoy-stream", top)
    if r is not None:
        checks.append((f"streaming (d) ≥ 0.7× plain Envoy streaming at {top} connections",
                       r >= 0.7, f"{r:.2f}×"))
    if ("sy-openai", 1) in med and ("envoy", 1) in med:
        added = (med[("sy-openai", 1)]["p50"] - med[("envoy", 1)]["p50"]) / 1000
        checks.append(("(c) adds ≤ 0.05 ms p50 over plain Envoy at 1 connection",
                       added <= 0.05, f"{added:+.3f} ms"))
    if "switchyard Envoy" in rss and "plain Envoy" in rss:
        r = rss["switchyard Envoy"] / rss["plain Envoy"]
        checks.append(("Switchyard's RSS ≤ 1.5× plain Envoy's", r <= 1.5, f"{r:.2f}×"))
    r = ratio("sy-openai", "litellm", top)
    if r is not None:
        checks.append((f"≥ 50× LiteLLM's throughput at {top} connections", r >= 50, f"{r:.0f}×"))
    lines += ["", "| target | met | measured |", "|---|---|---|"]
    for label, ok, value in checks:
        lines.append(f"| {label} | {'yes' if ok else '**no**'} | {value} |")
    return "\n".join(lines), checks


def perf_profile(stack: Stack, tlist: list[Target], scripts: dict, seconds: float) -> str:
    """CPU profile of the proxy process while wrk loads one target (perf, cpu-clock
    sampling: these machines have no hardware counters). Envoy's binary is stripped,
    so the split is by object: Envoy's own code, the kernel, and JIT code (V8's
    compiled wasm — the filter — and V8's generated stubs)."""
    out = ["| target | samples | Envoy binary | JIT (wasm + V8 stubs) | kernel | libc & other |",
           "|---|---:|---:|---:|---:|---:|"]
    for t in tlist:
        svc = stack.services.get(t.service)
        if svc is None or t.service in ("mock", "litellm"):
            continue
        data = stack.work / f"perf-{t.name}.data"
        perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999",
                                 "-p", str(svc.proc.pid), "-o", str(data)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        run_wrk(t.url(stack), scripts[t.name], 64, seconds)
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=30)
        rep = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--sort", "dso",
                              "--percent-limit", "0"], capture_output=True, text=True).stdout
        shares: dict[str, float] = {}
        samples = re.search(r"# Samples: (\S+)", rep)
        for line in rep.splitlines():
            m = re.match(r"\s*([\d.]+)%\s+(\S.*)$", line)
            if m:
                shares[m.group(2).strip()] = float(m.group(1))
        envoy = sum(v for k, v in shares.items() if k == "envoy")
        kernel = sum(v for k, v in shares.items() if "kernel" in k)
        jit = sum(v for k, v in shares.items() if k.startswith("[unknown]") or
                  k.startswith("[JIT]") or k.startswith("perf-") or k == "[anon]")
        other = max(0.0, 100.0 - envoy - kernel - jit)
        out.append(f"| {t.label} | {samples.group(1) if samples else '?'} | {envoy:.1f}% | "
                   f"{jit:.1f}% | {kernel:.1f}% | {other:.1f}% |")
    return "\n".join(out)


def update_readme(text: str) -> None:
    readme = BENCH_DIR / "README.md"
    current = readme.read_text()
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin not in current or end not in current:
        raise SystemExit(f"{readme} lacks the {begin} … {end} markers")
    head, rest = current.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{text}\n{end}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="1 round of 2 s per measurement (a smoke run)")
    parser.add_argument("--update-readme", action="store_true",
                        help="write the table into bench/README.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the medians and CPU time per request as JSON "
                             "(bench/ci reads it)")
    parser.add_argument("--profile", action="store_true",
                        help="instead of the table: perf CPU profiles of each proxy under load")
    args = parser.parse_args()

    duration = float(os.environ.get("BENCH_DURATION", "2" if args.quick else "5"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "1" if args.quick else "3"))
    conns = [int(c) for c in os.environ.get("BENCH_CONNS", "1,16,64").split(",")]
    wanted = set(filter(None, os.environ.get("BENCH_TARGETS", "").split(",")))

    needed = [(ENVOY, "scripts/test or ./switchyard installs it"),
              (WASM, "bench/run builds it"), (SWITCHYARD, "bench/run builds it")]
    if not wanted or "sy-keys" in wanted:
        needed.append((KEYSERVICE, "bench/run builds it"))
    for path, hint in needed:
        if not path.exists():
            raise SystemExit(f"missing {path} ({hint})")
    use_litellm = LITELLM.exists() and (not wanted or "litellm" in wanted)

    work = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
    work.chmod(0o755)  # nginx's workers (www-data when started as root) read files here
    stack = Stack(work)
    try:
        stack.start_mock()
        sy = stack.render("sy", stack.switchyard_config(keys=False), [])
        stack.start_envoy("sy", sy)
        compare = os.environ.get("BENCH_COMPARE_WASM")
        if compare:
            # A/B: another build of the filter, as target `sy-openai@b`, rendered by
            # BENCH_COMPARE_SWITCHYARD when given (that build's own config compiler, so
            # a plugin config newer than the other filter reads does not break the A/B).
            stack.start_envoy("sy-b", stack.render(
                "sy-b", stack.switchyard_config(keys=False), [], Path(compare),
                Path(os.environ.get("BENCH_COMPARE_SWITCHYARD") or SWITCHYARD)))
        for vn, vp in variants():
            # BENCH_VARIANTS: more builds of the filter (`sy-openai@name`, …).
            stack.start_envoy(f"sy-{vn}", stack.render(
                f"sy-{vn}", stack.switchyard_config(keys=False), [], Path(vp)))
        plain = Stack.strip_filters(sy)
        stack.start_envoy("envoy", plain)
        for mode in ("pass", "buffer", "calls:50"):
            if not wanted or f"wasm-{mode}" in wanted:
                stack.start_envoy(f"wasm-{mode}", Stack.with_noop_filters(sy, plain, mode))
        for kind in ("ok", "dead", "slow"):
            # langfuse + otel callbacks whose collector is healthy, dead or never answers.
            name = f"sy-cb-{kind}"
            if not wanted or name in wanted:
                env = Stack.callback_env(stack.collector(kind))
                stack.start_envoy(name, stack.render(
                    name, stack.switchyard_config(keys=False, callbacks=True), [], env=env),
                    env=env)
                if compare and os.environ.get("BENCH_COMPARE_CALLBACKS"):
                    # The same callbacks on the other build (`sy-cb-ok@b`, …), to a
                    # collector of the same kind (its own, so each is counted).
                    env = Stack.callback_env(stack.collector(kind, "collector-b"))
                    stack.start_envoy(f"{name}-b", stack.render(
                        f"{name}-b", stack.switchyard_config(keys=False, callbacks=True), [],
                        Path(compare), Path(os.environ.get("BENCH_COMPARE_SWITCHYARD") or SWITCHYARD),
                        env=env), env=env)
        virtual_key = None
        if not wanted or "sy-keys" in wanted:
            stack.start_keyservice()
            keyed = stack.render("sy-keys", stack.switchyard_config(keys=True),
                                 ["--keyservice", f"127.0.0.1:{stack.ports['keyservice']}"])
            stack.start_envoy("sy-keys", keyed)
            virtual_key = stack.virtual_key()
        if use_litellm:
            stack.start_litellm()
        tlist = [t for t in targets(virtual_key)
                 if (not wanted or t.name in wanted or t.name.split("@")[0] in wanted)
                 and (t.name != "litellm" or use_litellm)]
        scripts = {t.name: write_lua(work, t) for t in tlist}
        for t in tlist:
            check_answer(stack, t)
            run_wrk(t.url(stack), scripts[t.name], 16, 1)  # warm-up

        if args.profile:
            print(perf_profile(stack, tlist, scripts, max(duration, 5)))
            return 0

        results: dict = {}
        cpu: dict = {}  # (target, service) → [CPU seconds, requests]
        total = rounds * len(conns) * len(tlist)
        n = 0
        for rnd in range(rounds):
            for c in conns:
                for t in tlist:
                    n += 1
                    before = {name: cpu_seconds(svc.proc.pid) for name, svc in stack.services.items()}
                    r = run_wrk(t.url(stack), scripts[t.name], c, duration)
                    for name, svc in stack.services.items():
                        used = cpu_seconds(svc.proc.pid) - before[name]
                        if used > 0:
                            cpu.setdefault((t.name, name), [0.0, 0])
                            cpu[(t.name, name)][0] += used
                            cpu[(t.name, name)][1] += r["requests"]
                    results.setdefault((t.name, c), []).append(r)
                    print(f"[{n}/{total}] round {rnd + 1} {t.name:20} c={c:<3} "
                          f"{r['rps']:>9,.0f} req/s  p50 {fmt_ms(r['p50'])} ms  "
                          f"errors {r['errors']}", flush=True)
        for t in tlist:
            check_answer(stack, t)  # still answering right after the load
        delivered = collector_check(stack) if "sy-cb-ok" in stack.services else None
        if delivered is not None and "sy-cb-ok-b" in stack.services:
            delivered_b = collector_check(stack, "sy-cb-ok-b", "collector-b")
            delivered["b"] = delivered_b
            delivered["ok"] = delivered["ok"] and delivered_b["ok"]

        rss = {}
        for name, label in (("mock", "mock (nginx)"), ("envoy", "plain Envoy"),
                            ("collector", "callback collector (Python)"),
                            ("wasm-pass", "Envoy + no-op wasm"),
                            ("wasm-buffer", "Envoy + buffering no-op wasm"),
                            ("sy", "switchyard Envoy"), ("sy-b", "switchyard Envoy, BENCH_COMPARE_WASM"),
                            ("sy-keys", "switchyard Envoy, keys on"),
                            ("sy-cb-ok", "switchyard Envoy, callbacks to a healthy collector"),
                            ("sy-cb-dead", "switchyard Envoy, callbacks to a dead collector"),
                            ("sy-cb-slow", "switchyard Envoy, callbacks to a collector that never answers"),
                            ("keyservice", "keyservice"), ("litellm", "LiteLLM proxy")):
            if name in stack.services:
                rss[label] = stack.services[name].peak_rss_kib()
        settings = (f"{rounds} round(s) × {duration:g} s per target and connection count, "
                    f"medians of the rounds; wrk -t1; proxies pinned to CPU {PROXY_CPU} "
                    f"(Envoy --concurrency 1, LiteLLM 1 worker), wrk and nginx to CPU {LOAD_CPU}")
        table, checks = report(results, conns, tlist, rss, settings)
        # The columns of processes that ran (plain Envoy's always: bench/ci looks for it).
        columns = {name: label for name, label in CPU_COLUMNS.items()
                   if name == "envoy" or name in stack.services}
        table += ("\n\nCPU time per request (µs, all connection counts and rounds; "
                  "from /proc, each process's user + system time during the target's runs):\n\n"
                  "| target | " + " | ".join(columns.values()) + " |\n|---|"
                  + "---:|" * len(columns))
        for t in tlist:
            cells = []
            for name in columns:
                used, reqs = cpu.get((t.name, name), [0.0, 0])
                cells.append(f"{used / reqs * 1e6:.1f}" if reqs and used >= 0.05 else "")
            table += f"\n| {t.label} | " + " | ".join(cells) + " |"
        cb_table = callbacks_report(results, cpu, conns, tlist, delivered)
        if cb_table:
            table += "\n\n" + cb_table
        if args.json:
            args.json.write_text(json.dumps({
                "targets": [{
                    "name": t.name, "service": t.service,
                    "rps": {str(c): statistics.median(r["rps"] for r in results[(t.name, c)])
                            for c in conns if (t.name, c) in results},
                    "errors": sum(r["errors"] for c in conns for r in results.get((t.name, c), [])),
                    "p50_us": {str(c): statistics.median(r["p50"] for r in results[(t.name, c)])
                               for c in conns if (t.name, c) in results},
                    "p99_us": {str(c): statistics.median(r["p99"] for r in results[(t.name, c)])
                               for c in conns if (t.name, c) in results},
                    "cpu_us_per_request": {
                        name: used / reqs * 1e6
                        for (tn, name), (used, reqs) in cpu.items() if tn == t.name and reqs},
                } for t in tlist], "collector": delivered}, indent=1))
        text = f"Machine: {machine_line()}\n\n{table}"
        print()
        print(text)
        if args.update_readme:
            update_readme(text)
        errors = sum(r["errors"] for runs in results.values() for r in runs)
        if delivered is not None and not delivered["ok"]:
            print(f"\nthe healthy collector did not get every request's report: {delivered}",
                  file=sys.stderr)
            return 1
        if errors:
            print(f"\n{errors} requests failed during the load (see the errors column)",
                  file=sys.stderr)
            return 1
        return 0
    finally:
        stack.stop()
        if args.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
