"""The README's run command: ``./switchyard up --config config/example.yaml`` starts
the gateway, curl gets a chat completion (plain and streamed) from the example's
mock model, and Ctrl-C (SIGINT) stops Envoy cleanly.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl(*args: str) -> str:
    out = subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, check=True)
    return out.stdout


@pytest.fixture
def gateway_up(tmp_path):
    port = free_port()
    log = open(tmp_path / "up.log", "w+")
    proc = subprocess.Popen(
        ["./switchyard", "up", "--config", "config/example.yaml", "--port", str(port),
         "--workdir", str(tmp_path / "work")],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
    )
    deadline = time.monotonic() + 180  # includes a possible first build
    url = None
    while time.monotonic() < deadline and proc.poll() is None:
        log.seek(0)
        m = re.search(r"Switchyard is up: (http://\S+)", log.read())
        if m:
            url = m.group(1)
            break
        time.sleep(0.2)
    log.seek(0)
    assert url, f"`switchyard up` did not report a URL:\n{log.read()}"
    yield proc, url, tmp_path
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def envoy_pids(workdir: Path) -> list[int]:
    out = subprocess.run(["pgrep", "-f", "--", f"-c {workdir / 'work' / 'envoy' / 'envoy.yaml'}"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_up_serves_the_example_and_stops_on_ctrl_c(gateway_up):
    proc, url, tmp = gateway_up
    assert url.endswith(str(proc.args[proc.args.index("--port") + 1]))

    body = json.dumps({"model": "demo-chat", "messages": [{"role": "user", "content": "Hi"}]})
    answer = json.loads(curl(f"{url}/v1/chat/completions", "-H", "content-type: application/json", "-d", body))
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["choices"][0]["message"]["content"].startswith("Hello from Switchyard!")

    stream_body = json.dumps({"model": "demo-chat", "stream": True, "messages": [{"role": "user", "content": "Hi"}]})
    raw = curl("-N", f"{url}/v1/chat/completions", "-H", "content-type: application/json", "-d", stream_body)
    events = [e[len("data: "):] for e in raw.split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == answer["choices"][0]["message"]["content"]

    models = json.loads(curl(f"{url}/v1/models"))
    assert {m["id"] for m in models["data"]} >= {"demo-chat", "demo-fast"}
    assert curl(f"{url}/health/liveliness") == '"I\'m alive!"'

    assert envoy_pids(tmp), "Envoy should be running under the workdir"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
    time.sleep(0.2)
    assert envoy_pids(tmp) == [], "Ctrl-C must stop Envoy too"
