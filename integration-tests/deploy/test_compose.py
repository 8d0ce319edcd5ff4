"""The Docker deployment, for real: the stand-in images, the gateway image built from
this checkout, and the repository's own ``docker-compose.yml`` (no second compose
file: only the project name and the published ports are set, through the variables
the file reads).

Each step is bounded in time (``STEP_TIMEOUTS``); whatever happens, the stack is
taken down with its volumes. Run by ``scripts/test-compose`` (the compose tier of
``scripts/test``); ``docs/deploy-docker.md`` says what this was run against.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest
from openai import OpenAI

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
EXAMPLE_CONFIG = ROOT / "config" / "example.yaml"
# The names docker-compose.yml and the docs give the images (defined there; read back
# here so that a rename cannot leave the test on an old name).
GATEWAY_IMAGE = re.search(r"^\s*image:\s*(ghcr\.io/\S+/switchyard:\S+)", COMPOSE_FILE.read_text(), re.M).group(1)
WASM_IMAGE = GATEWAY_IMAGE.replace("/switchyard:", "/switchyard-wasm:")
GATEWAY_SERVICE = "switchyard"
DB_SERVICE = "db"
WASM_IN_IMAGE = "/usr/local/lib/switchyard/switchyard_filter.wasm"

# Seconds each step may take. The image build is the long one: a cold cargo build
# of the filter, the command and the keyservice on a small CI machine.
STEP_TIMEOUTS = {
    "standins": 1200,
    "build": 2400,
    "up": 300,
    "healthy": 240,
    "request": 30,
    "spend": 60,
    "scrape": 120,
    "stop": 60,
    "refused": 90,
    "admitted": 180,
    "down": 120,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compose_command() -> list[str]:
    """``docker compose`` (v2) when the plugin is there, else ``docker-compose`` (v1)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed")


def run(cmd: list[str], step: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    started = time.monotonic()
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUTS[step])
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{step}: {' '.join(cmd)} took more than {STEP_TIMEOUTS[step]} s\n{e.stdout or ''}\n{e.stderr or ''}")
    if step != "request":
        print(f"[{step}] {' '.join(cmd)}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    if check and done.returncode != 0:
        pytest.fail(f"{step}: {' '.join(cmd)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def poll(what: str, step: str, fn: Callable[[], Any], ok: Callable[[Any], bool]) -> Any:
    """Calls ``fn`` until ``ok`` holds of its value, for at most the step's bound."""
    deadline = time.monotonic() + STEP_TIMEOUTS[step]
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if ok(last):
                return last
        except Exception as e:  # noqa: BLE001 - kept as the last value, reported below
            last = e
        time.sleep(1)
    pytest.fail(f"{what}: not within {STEP_TIMEOUTS[step]} s; last: {last!r}")


def http(method: str, url: str, key: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=STEP_TIMEOUTS["request"]) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def mock_answer(group: str) -> str:
    """The ``mock_response`` config/example.yaml gives ``group``."""
    text = EXAMPLE_CONFIG.read_text()
    entry = text.split(f"model_name: {group}\n", 1)[1]
    return re.search(r'mock_response:\s*"([^"]*)"', entry).group(1)


class Stack:
    """The compose project under test: its command line, environment and ports."""

    def __init__(self) -> None:
        self.project = os.environ.get("SWITCHYARD_COMPOSE_PROJECT") or f"switchyard-test-{os.getpid()}"
        self.master_key = "sk-" + secrets.token_hex(16)
        self.port = free_port()
        self.prometheus_port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "LITELLM_MASTER_KEY": self.master_key,
            "SWITCHYARD_PORT": str(self.port),
            "PROMETHEUS_PORT": str(self.prometheus_port),
        })
        self.compose = [*compose_command(), "-p", self.project, "-f", str(COMPOSE_FILE)]
        self.url = f"http://127.0.0.1:{self.port}"
        self.shared: dict[str, Any] = {}

    def __call__(self, *args: str, step: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([*self.compose, *args], step, env=self.env, check=check)

    def container(self, service: str) -> str:
        ids = self("ps", "-q", service, step="request").stdout.split()
        assert len(ids) == 1, f"{service}: containers {ids}"
        return ids[0]

    def states(self) -> dict[str, str]:
        """Each container's state: its health if it has a health check, else its status."""
        ids = self("ps", "-q", step="request").stdout.split()
        out = {}
        for cid in ids:
            fmt = "{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"
            name, status, *health = run(["docker", "inspect", "-f", fmt, cid], "request").stdout.split()
            out[name.lstrip("/")] = health[0] if health else status
        return out

    def wait_healthy(self, services: int) -> dict[str, str]:
        return poll("every container healthy", "healthy", self.states,
                    lambda s: len(s) == services and all(v == "healthy" for v in s.values()))

    def chat(self, key: str, model: str = "demo-chat") -> tuple[int, Any]:
        return http("POST", f"{self.url}/v1/chat/completions", key,
                    {"model": model, "messages": [{"role": "user", "content": "Hi"}]})


SERVICES = 4  # switchyard, db, redis, prometheus (Langfuse is a profile, not started)


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest):
    stack = Stack()
    run([str(ROOT / "deploy" / "standins" / "build")], "standins")
    stack("build", step="build")
    try:
        stack("up", "-d", step="up")
        stack.wait_healthy(SERVICES)
        yield stack
    finally:
        if request.session.testsfailed:
            logs = stack("logs", "--no-color", "--tail", "80", step="down", check=False)
            print(logs.stdout[-20000:], file=sys.stderr)
        stack("down", "-v", "--remove-orphans", "-t", "20", step="down", check=False)


def test_the_image_runs_as_non_root_with_a_health_check(stack: Stack) -> None:
    config = json.loads(run(["docker", "image", "inspect", GATEWAY_IMAGE], "request").stdout)[0]["Config"]
    uid = config["User"].split(":")[0]
    assert uid and uid not in ("0", "root"), config["User"]
    assert "/health/liveliness" in " ".join(config["Healthcheck"]["Test"]), config["Healthcheck"]
    assert "4000/tcp" in config["ExposedPorts"], config["ExposedPorts"]
    inside = run(["docker", "exec", stack.container(GATEWAY_SERVICE), "id", "-u"], "request").stdout.strip()
    assert inside == uid
    # The same image runs the keyservice (render --target istio) and the operator
    # (deploy/kubernetes): both binaries and the filter are where those manifests say.
    for command in (["switchyard-keyservice", "--help"], ["switchyard-operator", "--help"],
                    ["test", "-s", "/usr/local/lib/switchyard/switchyard_filter.wasm"]):
        run(["docker", "exec", stack.container(GATEWAY_SERVICE), *command], "request")


def test_a_chat_completion_through_the_composed_gateway(stack: Stack) -> None:
    client = OpenAI(base_url=f"{stack.url}/v1", api_key=stack.master_key, timeout=STEP_TIMEOUTS["request"], max_retries=0)
    answer = client.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": "Hi"}])
    assert answer.choices[0].message.content == mock_answer("demo-chat")
    # Keys are on (LITELLM_MASTER_KEY and DATABASE_URL from the compose file): no key, no answer.
    status, body = stack.chat("")
    assert status == 401, body


def test_a_key_made_against_postgres_is_used_and_charged(stack: Stack) -> None:
    status, made = http("POST", f"{stack.url}/key/generate", stack.master_key,
                        {"models": ["demo-chat"], "key_alias": "compose-test", "max_budget": 5})
    assert status == 200, made
    key = made["key"]
    stack.shared["key"] = key
    # The key is a row of PostgreSQL in its container (stored hashed, found by alias).
    rows = stack("exec", "-T", DB_SERVICE, "psql", "-U", "llmproxy", "-d", "litellm", "-tAc",
                 "SELECT count(*) FROM keys WHERE key_alias = 'compose-test'", step="request").stdout.strip()
    assert rows == "1", rows
    client = OpenAI(base_url=f"{stack.url}/v1", api_key=key, timeout=STEP_TIMEOUTS["request"], max_retries=0)
    for _ in range(2):
        answer = client.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": "Hi"}])
        assert answer.choices[0].message.content == mock_answer("demo-chat")
    # A model the key may not use is refused.
    status, body = stack.chat(key, model="demo-fast")
    assert status in (401, 403), body
    logs = poll("two spend logs for the key", "spend",
                lambda: http("GET", f"{stack.url}/spend/logs?api_key={key}", stack.master_key),
                lambda r: r[0] == 200 and isinstance(r[1], list) and len(r[1]) >= 2)
    # Each answer is a spend log row of the key, with its usage. The example config's
    # groups are mock groups, which the gateway charges nothing (as their price is
    # not a provider's): the key's spend is the sum of its rows, 0 here.
    assert all(row["model_group"] == "demo-chat" and row["total_tokens"] > 0 for row in logs[1]), logs
    info = http("GET", f"{stack.url}/key/info?key={key}", stack.master_key)
    assert info[0] == 200, info
    spend = info[1]["info"]["spend"]
    assert spend == pytest.approx(sum(row["spend"] for row in logs[1])), (info, logs)
    stack.shared["spend"] = spend
    stack.shared["spend_logs"] = len(logs[1])


def test_prometheus_scrapes_the_gateway(stack: Stack) -> None:
    base = f"http://127.0.0.1:{stack.prometheus_port}/api/v1/query?query="

    def query(q: str) -> list[dict]:
        status, body = http("GET", base + urllib.request.quote(q))
        assert status == 200 and body["status"] == "success", body
        return body["data"]["result"]

    # `up` is 1 only when the scrape with the master key succeeded.
    poll("Prometheus scraped the gateway", "scrape", lambda: query('up{job="switchyard"}'),
         lambda r: len(r) == 1 and r[0]["value"][1] == "1")
    result = poll("the gateway's request counter in Prometheus", "scrape",
                  lambda: query('sum(litellm_proxy_total_requests_metric_total{job="switchyard"})'),
                  lambda r: len(r) == 1 and float(r[0]["value"][1]) >= 3)
    assert float(result[0]["value"][1]) >= 3, result


def test_docker_stop_is_a_clean_exit_and_a_restart_keeps_key_and_spend(stack: Stack) -> None:
    key, spend = stack.shared["key"], stack.shared["spend"]
    gateway = stack.container(GATEWAY_SERVICE)
    stack("stop", "-t", "30", GATEWAY_SERVICE, step="stop")
    code = run(["docker", "inspect", "-f", "{{.State.ExitCode}}", gateway], "request").stdout.strip()
    assert code == "0", f"the gateway exited {code} on SIGTERM (137: killed after the grace period)"
    stack("start", GATEWAY_SERVICE, step="up")
    stack.wait_healthy(SERVICES)
    info = http("GET", f"{stack.url}/key/info?key={key}", stack.master_key)
    assert info[0] == 200 and info[1]["info"]["spend"] == pytest.approx(spend), info
    status, body = stack.chat(key)
    assert status == 200, body
    # The rows from before the restart are still there, and the new answer adds one.
    poll("the new request's spend log", "spend",
         lambda: http("GET", f"{stack.url}/spend/logs?api_key={key}", stack.master_key),
         lambda r: r[0] == 200 and len(r[1]) == stack.shared["spend_logs"] + 1)


def test_requests_are_refused_closed_while_the_database_is_down(stack: Stack) -> None:
    key = stack.shared["key"]
    stack("stop", "-t", "20", DB_SERVICE, step="stop")
    try:
        status, body = poll("a 503 while PostgreSQL is stopped", "refused",
                            lambda: stack.chat(key), lambda r: r[0] != 200)
        assert status == 503, body
        assert isinstance(body, dict) and "error" in body, body
    finally:
        stack("start", DB_SERVICE, step="up")
    poll("requests admitted again once PostgreSQL is back", "admitted",
         lambda: stack.chat(key), lambda r: r[0] == 200)


def test_down_removes_containers_volumes_and_network(stack: Stack) -> None:
    stack("down", "-v", "--remove-orphans", "-t", "20", step="down")
    label = f"label=com.docker.compose.project={stack.project}"
    for kind in (["ps", "-a", "-q"], ["volume", "ls", "-q"], ["network", "ls", "-q"]):
        left = run(["docker", *kind, "--filter", label], "request").stdout.split()
        assert left == [], (kind, left)


def test_litellms_docker_run_line_with_only_the_image_name_replaced(stack: Stack, tmp_path: Path) -> None:
    # LiteLLM's line: docker run -v $(pwd)/config.yaml:/app/config.yaml -e LITELLM_MASTER_KEY=sk-1234
    #   -p 4000:4000 IMAGE --config /app/config.yaml --detailed_debug (here on a free port).
    config = tmp_path / "config.yaml"
    config.write_text(EXAMPLE_CONFIG.read_text())
    config.chmod(0o644)
    port = free_port()
    name = f"{stack.project}-run"
    run(["docker", "run", "-d", "--name", name, "-v", f"{config}:/app/config.yaml",
         "-e", "LITELLM_MASTER_KEY=sk-1234", "-p", f"{port}:4000", GATEWAY_IMAGE,
         "--config", "/app/config.yaml", "--detailed_debug"], "up")
    try:
        poll("the container healthy", "healthy",
             lambda: run(["docker", "inspect", "-f", "{{.State.Health.Status}}", name], "request").stdout.strip(),
             lambda s: s == "healthy")
        url = f"http://127.0.0.1:{port}"
        # LITELLM_MASTER_KEY alone turns keys on (SQLite inside the container).
        status, body = http("POST", f"{url}/v1/chat/completions", None,
                            {"model": "demo-chat", "messages": [{"role": "user", "content": "Hi"}]})
        assert status == 401, body
        status, body = http("POST", f"{url}/v1/chat/completions", "sk-1234",
                            {"model": "demo-chat", "messages": [{"role": "user", "content": "Hi"}]})
        assert status == 200 and body["choices"][0]["message"]["content"] == mock_answer("demo-chat"), body
        # Docker's default grace period (10 s), as a LiteLLM user stops it: exit 0, not
        # 137 (killed).
        run(["docker", "stop", name], "stop")
        code = run(["docker", "inspect", "-f", "{{.State.ExitCode}}", name], "request").stdout.strip()
        logs = run(["docker", "logs", name], "request")
        assert code == "0", logs.stdout + logs.stderr
        assert "debug mode (--detailed_debug)" in logs.stdout, logs.stdout
    finally:
        run(["docker", "rm", "-f", "-v", name], "down", check=False)


def test_the_wasm_image_holds_only_plugin_wasm_the_built_filter(stack: Stack, tmp_path: Path) -> None:
    run(["docker", "build", "-q", "--target", "wasm", "-t", WASM_IMAGE, "."], "build")
    saved = run(["docker", "save", "-o", str(tmp_path / "wasm.tar"), WASM_IMAGE], "request")
    assert saved.returncode == 0
    with tarfile.open(tmp_path / "wasm.tar") as image:
        manifest = json.load(image.extractfile("manifest.json"))
        layers = manifest[0]["Layers"]
        assert len(layers) == 1, manifest  # Istio's "compat" variant: exactly one layer
        with tarfile.open(fileobj=io.BytesIO(image.extractfile(layers[0]).read())) as layer:
            files = [m for m in layer.getmembers() if m.isfile()]
            assert [m.name.lstrip("./") for m in files] == ["plugin.wasm"], [m.name for m in layer.getmembers()]
            plugin = layer.extractfile(files[0]).read()
    assert plugin[:4] == b"\0asm", plugin[:8]
    # The same bytes as the filter the gateway image runs.
    cid = run(["docker", "create", GATEWAY_IMAGE], "request").stdout.strip()
    try:
        run(["docker", "cp", f"{cid}:{WASM_IN_IMAGE}", str(tmp_path / "filter.wasm")], "request")
    finally:
        run(["docker", "rm", cid], "down", check=False)
    assert plugin == (tmp_path / "filter.wasm").read_bytes()
