"""Issue 12, the link between Envoy and the keyservice, attacked through the real
gateway (real Envoy, the built .wasm, the real `switchyard-keyservice`, strict mocks).

* Point 6 — the keyservice's write paths need the gateway's credentials: the internal
  spend report (`POST /spend/record`) is never reachable through the public listener
  (with or without a master key, whatever the caller presents), and the keyservice
  itself refuses a report without the gateway's reporting credential
  (`SWITCHYARD_REPORTER_KEY`, or the master key) in every mode.
* Point 8 — the keyservice link can leave the machine: a keyservice serving TLS, the
  gateway checking its certificate (`--keyservice https://…`, `--keyservice-ca`); with
  the wrong CA every request fails closed and no provider is called; the bytes on the
  link never hold a key in cleartext.
* Point 10 — spend survives an ordinary restart: `switchyard up` stopped (SIGTERM)
  while requests are in flight still records every answered request's spend.

Each test names the attack it sends. Every one of them failed on the code before
issue 12 (main at 8744b82): through the listener `/spend/record` answered 200 and
recorded $1000 with no credential (no master key) and with the master key; the
keyservice took a report with no credential; the old keyservice cannot serve TLS (no
`--tls-cert-file`); `up` stopped with requests in flight reset them (the client saw
the connection close) and lost their spend.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import harness
from harness import wait_for
from mocks import OPENAI_KEY, OpenAIMock
from mocks.tls import make_certificates

MASTER = "sk-link-master-0123456789"
REPORTER = "link-reporter-secret-abcdef0123456789"

#: $0.001 per prompt token and $0.002 per completion token: every answered request
#: costs something, so a lost report shows.
PRICED = "input_cost_per_token: 0.001, output_cost_per_token: 0.002"


class LinkKeyservice:
    """One `switchyard-keyservice` process: a database, optionally a master key, a
    reporting credential and TLS."""

    def __init__(self, workdir: Path, *, master: str | None, reporter: str | None,
                 tls: tuple[str, str] | None = None, database_url: str | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = workdir / "keys.db"
        self.database_url = database_url or f"sqlite://{self.db_path}"
        self.master = master
        self.reporter = reporter
        self.tls = tls
        self.port: int | None = None
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> "LinkKeyservice":
        env = dict(os.environ)
        env.pop("SY_LINK_MASTER", None)
        # The reporting credential's default variable (no flag: an older keyservice
        # starts too, and the attack shows what it accepts).
        env.pop("SWITCHYARD_REPORTER_KEY", None)
        if self.master:
            env["SY_LINK_MASTER"] = self.master
        if self.reporter:
            env["SWITCHYARD_REPORTER_KEY"] = self.reporter
        cmd = [str(harness.KEYSERVICE_BIN), "--listen", f"127.0.0.1:{self.port or 0}",
               "--database-url", self.database_url,
               "--master-key-env", "SY_LINK_MASTER"]
        if self.tls:
            cmd += ["--tls-cert-file", self.tls[0], "--tls-key-file", self.tls[1]]
        self.log = open(self.workdir / "keyservice.log", "a")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=env)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), (
            f"the keyservice did not start ({line!r}):\n"
            + (self.workdir / "keyservice.log").read_text()[-2000:])
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def spend_rows(self) -> list[tuple[str, float]]:
        """`(request_id, spend)` of every spend log row, read from SQLite directly."""
        with sqlite3.connect(self.db_path) as db:
            return list(db.execute("SELECT request_id, spend FROM spend_logs"))

    def key_spend(self, key_hash: str) -> float:
        with sqlite3.connect(self.db_path) as db:
            row = db.execute("SELECT spend FROM keys WHERE token = ?", (key_hash,)).fetchone()
        assert row is not None, key_hash
        return float(row[0])


def keyservice_http(ks: LinkKeyservice, method: str, path: str, body=None,
                    headers: dict[str, str] | None = None):
    return harness.request_json(method, f"http://127.0.0.1:{ks.port}{path}", body,
                                headers=headers)


def generate_key(ks: LinkKeyservice, body: dict) -> tuple[str, str]:
    """A key made with the master key, straight on the keyservice: (key, token hash)."""
    status, _, out = keyservice_http(ks, "POST", "/key/generate", body,
                                     {"Authorization": f"Bearer {ks.master}"})
    assert status == 200, out
    return out["key"], out["token"]


def config_for(mock: OpenAIMock, *, master: bool, database: str | None = None) -> str:
    general = []
    if master:
        general.append("  master_key: os.environ/LINK_MASTER")
    if database:
        general.append(f"  database_url: \"{database}\"")
    return f"""
model_list:
  - model_name: gpt-a
    litellm_params: {{model: openai/a, api_base: "{mock.base_url}", api_key: os.environ/TEST_OPENAI_KEY, {PRICED}}}
general_settings:
{chr(10).join(general)}
"""


def chat(url: str, key: str, model: str = "gpt-a", timeout: float = 15.0):
    return harness.request_json(
        "POST", f"{url}/v1/chat/completions",
        {"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}"}, timeout=timeout)


def assert_openai_error(status, body, *, min_status: int = 400):
    assert status >= min_status, (status, body)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert {"message", "type", "code"} <= set(body["error"]), body


# ---- point 6: nobody but the gateway writes spend -------------------------------------

#: What an attacker sends to the public listener: a report charging $1000 to the
#: victim's key (and a made-up team), on the paths that could reach the keyservice.
ATTACK_PATHS = ["/spend/record", "/spend/record/", "/spend/logs/../record",
                "/key/../spend/record", "/v1/spend/record"]


def report_row(request_id: str, key: str) -> dict:
    return {"request_id": request_id, "api_key": key, "spend": 1000.0, "team_id": "victims",
            "model": "gpt-a", "total_tokens": 1}


def attack_through_listener(gw: harness.Gateway, victim_key: str, credentials: list[str | None]):
    """Every attack path × every credential: never a 2xx, always a 401/404."""
    answers = []
    for path in ATTACK_PATHS:
        for cred in credentials:
            headers = {"Authorization": f"Bearer {cred}"} if cred else {}
            rid = f"attack-{len(answers)}"
            for body in (report_row(rid, victim_key), [report_row(rid + "-batch", victim_key)]):
                status, _, out = harness.request_json("POST", gw.url(path), body, headers=headers)
                answers.append((path, cred is not None, status))
                assert status in (401, 403, 404), (path, cred, status, out)
    return answers


@pytest.fixture
def mock():
    with OpenAIMock(api_key=OPENAI_KEY) as m:
        yield m


def test_spend_report_through_the_listener_is_refused_without_a_master_key(tmp_path, mock):
    """Point 6, attack: with `database_url` and no `master_key` (LiteLLM's open key
    API), anyone POSTs `/spend/record` to the public listener and charges $1000 to any
    key. The listener must not expose the path (404/401), nothing is recorded, and the
    gateway's own reports (with `SWITCHYARD_REPORTER_KEY`) still are."""
    # The victim's key is made with a master key, then the keyservice runs without one
    # (the deployment under attack: a database and no master key).
    setup = LinkKeyservice(tmp_path / "ks", master=MASTER, reporter=None).start()
    victim, victim_hash = generate_key(setup, {"max_budget": 5.0})
    setup.stop()
    ks = LinkKeyservice(tmp_path / "ks", master=None, reporter=REPORTER).start()
    gw = harness.Gateway(config_for(mock, master=False, database=ks.database_url),
                         {"TEST_OPENAI_KEY": OPENAI_KEY, "SWITCHYARD_REPORTER_KEY": REPORTER,
                          "LITELLM_MASTER_KEY": None, "DATABASE_URL": None},
                         workdir=tmp_path / "gw",
                         extra_render_args=["--keyservice", f"127.0.0.1:{ks.port}"])
    try:
        gw.start()
        attack_through_listener(gw, victim, [None, victim, "sk-guess", REPORTER])
        assert ks.spend_rows() == []
        assert ks.key_spend(victim_hash) == 0.0
        # `render` names the variable in Envoy's environment.
        assert "SWITCHYARD_REPORTER_KEY" in gw.render_output, gw.render_output
        # The gateway's own report of a real request is recorded.
        status, _, body = chat(gw.base_url, victim)
        assert status == 200, body
        rows = wait_for(ks.spend_rows, what="the gateway's spend report")
        assert len(rows) == 1 and 0 < rows[0][1] < 1, rows
        assert 0 < ks.key_spend(victim_hash) < 1
    finally:
        gw.stop()
        ks.stop()


def test_spend_report_through_the_listener_is_refused_with_a_master_key(tmp_path, mock):
    """Point 6, attack: with a master key, `/spend/record` through the public listener
    (even presenting the master key, the way a leaked admin script would) writes spend
    rows; the listener must answer 404/401 and the keyservice record nothing."""
    ks = LinkKeyservice(tmp_path / "ks", master=MASTER, reporter=None).start()
    victim, victim_hash = generate_key(ks, {"max_budget": 5.0})
    gw = harness.Gateway(config_for(mock, master=True),
                         {"TEST_OPENAI_KEY": OPENAI_KEY, "LINK_MASTER": MASTER},
                         workdir=tmp_path / "gw",
                         extra_render_args=["--keyservice", f"127.0.0.1:{ks.port}"])
    try:
        gw.start()
        attack_through_listener(gw, victim, [None, victim, MASTER])
        assert ks.spend_rows() == []
        assert ks.key_spend(victim_hash) == 0.0
        # LiteLLM's spend API stays reachable through the listener.
        status, _, body = harness.request_json(
            "GET", gw.url("/spend/logs"), headers={"Authorization": f"Bearer {MASTER}"})
        assert status == 200 and body == [], body
        status, _, body = chat(gw.base_url, victim)
        assert status == 200, body
        wait_for(lambda: ks.key_spend(victim_hash) > 0, what="the gateway's spend report")
    finally:
        gw.stop()
        ks.stop()


def test_spend_report_straight_to_the_keyservice_needs_the_gateway_credential(tmp_path):
    """Point 6, attack: a process that can reach the keyservice (same host, same
    network) reports spend without the gateway's credential. Refused (401) in every
    mode, nothing recorded; with the credential the report is taken."""
    for master, reporter in ((None, REPORTER), (MASTER, None), (MASTER, REPORTER), (None, None)):
        ks = LinkKeyservice(tmp_path / f"ks-{master is not None}-{reporter is not None}",
                            master=master, reporter=reporter).start()
        try:
            for headers in ({}, {"Authorization": "Bearer sk-guess"},
                            {"Authorization": f"Bearer {REPORTER}x"}):
                status, _, body = keyservice_http(
                    ks, "POST", "/spend/record", {"request_id": "forged", "spend": 5.0}, headers)
                assert status == 401, (master, reporter, headers, body)
                assert_openai_error(status, body)
            for cred in (reporter, master):
                if cred is None:
                    continue
                status, _, body = keyservice_http(
                    ks, "POST", "/spend/record", {"request_id": f"ok-{cred[:4]}", "spend": 0.5},
                    {"Authorization": f"Bearer {cred}"})
                assert status == 200, (master, reporter, body)
            expected = {f"ok-{c[:4]}" for c in (reporter, master) if c}
            assert {r[0] for r in ks.spend_rows()} == expected
        finally:
            ks.stop()


# ---- point 8: TLS to the keyservice ---------------------------------------------------

class Tap:
    """A TCP relay between Envoy and the keyservice that keeps every byte it carries
    (both directions), to show what an observer of the link sees."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.captured = bytearray()
        self.lock = threading.Lock()
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    self.captured += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        self.server.close()


def test_tls_keyservice_serves_keys_and_records_spend_with_nothing_in_cleartext(tmp_path, mock):
    """Point 8, attack: an observer on the network between Envoy and a remote
    keyservice reads virtual keys (ext_authz) and the reporting credential (spend
    reports). With `--keyservice https://…` the link is TLS, Envoy checks the
    keyservice's certificate and name, keys are served, spend is recorded, and the
    captured bytes hold neither a key nor the credential."""
    certs = make_certificates(tmp_path / "certs")
    ks = LinkKeyservice(tmp_path / "ks", master=MASTER, reporter=None,
                        tls=(certs.cert_file, certs.key_file)).start()
    tap = Tap(ks.port)
    gw = harness.Gateway(config_for(mock, master=True),
                         {"TEST_OPENAI_KEY": OPENAI_KEY, "LINK_MASTER": MASTER},
                         workdir=tmp_path / "gw",
                         extra_render_args=["--keyservice", f"https://localhost:{tap.port}",
                                            "--keyservice-ca", certs.ca_file])
    try:
        gw.start()
        # A key made through the listener (LiteLLM's API, over the TLS link).
        status, _, out = harness.request_json("POST", gw.url("/key/generate"), {"max_budget": 5.0},
                                              headers={"Authorization": f"Bearer {MASTER}"})
        assert status == 200, out
        key = out["key"]
        for _ in range(3):
            status, _, body = chat(gw.base_url, key)
            assert status == 200, body
        assert mock.request_count == 3
        wait_for(lambda: len(ks.spend_rows()) == 3, what="three spend rows")
        status, _, info = harness.request_json("GET", gw.url(f"/key/info?key={key}"),
                                               headers={"Authorization": f"Bearer {MASTER}"})
        assert status == 200 and info["info"]["spend"] > 0, info
        with tap.lock:
            seen = bytes(tap.captured)
        assert len(seen) > 1000, len(seen)
        for secret in (key, MASTER, "/spend/record", "authorization"):
            assert secret.encode() not in seen, f"{secret!r} crossed the link in cleartext"
    finally:
        gw.stop()
        tap.close()
        ks.stop()


def test_tls_keyservice_with_an_untrusted_certificate_fails_closed(tmp_path, mock):
    """Point 8, attack: something else answers at the keyservice's address (a
    man-in-the-middle with a certificate from another CA). The gateway must refuse to
    talk to it: every request fails closed (OpenAI-shaped 5xx), no key is admitted, no
    provider is called, and the impostor never sees a key."""
    certs = make_certificates(tmp_path / "certs")
    other = make_certificates(tmp_path / "other-ca")
    ks = LinkKeyservice(tmp_path / "ks", master=MASTER, reporter=None,
                        tls=(certs.cert_file, certs.key_file)).start()
    key, _ = generate_key_tls(ks)
    gw = harness.Gateway(config_for(mock, master=True),
                         {"TEST_OPENAI_KEY": OPENAI_KEY, "LINK_MASTER": MASTER},
                         workdir=tmp_path / "gw",
                         extra_render_args=["--keyservice", f"https://localhost:{ks.port}",
                                            "--keyservice-ca", other.ca_file])
    try:
        gw.start()
        for k in (key, MASTER):
            status, _, body = chat(gw.base_url, k)
            assert_openai_error(status, body, min_status=500)
        status, _, body = harness.request_json("POST", gw.url("/key/generate"), {},
                                               headers={"Authorization": f"Bearer {MASTER}"})
        assert status >= 500, (status, body)
        assert mock.request_count == 0
        assert ks.spend_rows() == []
        log = (ks.workdir / "keyservice.log").read_text()
        assert "TLS handshake" in log, log[-2000:]
    finally:
        gw.stop()
        ks.stop()


def generate_key_tls(ks: LinkKeyservice) -> tuple[str, str]:
    """A key made with the master key on a TLS keyservice (curl with its CA unchecked:
    this is the test's own set-up, not the gateway)."""
    out = subprocess.run(
        ["curl", "-sS", "-k", "--max-time", "10", "-X", "POST", f"{ks.url}/key/generate",
         "-H", f"Authorization: Bearer {ks.master}", "-H", "content-type: application/json",
         "-d", "{}"], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    return data["key"], data["token"]


# ---- point 10: spend survives `switchyard up` stopping ---------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_up_stopped_with_requests_in_flight_records_every_answered_request(tmp_path, mock):
    """Point 10, attack (an ordinary restart): `switchyard up` gets SIGTERM while slow
    requests are in flight and quick ones were just answered. Every request must get
    its answer, and each answer's spend row must be in the database afterwards (the
    queued reports flushed before Envoy stops, the keyservice stopped last)."""
    db = tmp_path / "keys.db"
    config = config_for(mock, master=True, database=f"sqlite://{db}")
    (tmp_path / "config.yaml").write_text(config)
    port = free_port()
    env = dict(os.environ, TEST_OPENAI_KEY=OPENAI_KEY, LINK_MASTER=MASTER,
               SWITCHYARD_WASM=str(harness.SWITCHYARD_WASM),
               SWITCHYARD_KEYSERVICE_BIN=str(harness.KEYSERVICE_BIN), ENVOY_BIN=str(harness.ENVOY_BIN))
    env.pop("DATABASE_URL", None)
    env.pop("LITELLM_MASTER_KEY", None)
    log = open(tmp_path / "up.log", "w+")
    proc = subprocess.Popen(
        [str(harness.SWITCHYARD_BIN), "up", "--config", str(tmp_path / "config.yaml"),
         "--port", str(port), "--workdir", str(tmp_path / "work"), "--num_workers", "2"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        def up_line():
            log.seek(0)
            return "Switchyard is up" in log.read() or proc.poll() is not None
        wait_for(up_line, timeout=60, what="`switchyard up` to start")
        assert proc.poll() is None, (tmp_path / "up.log").read_text()
        url = f"http://127.0.0.1:{port}"
        status, _, out = harness.request_json("POST", f"{url}/key/generate", {},
                                              headers={"Authorization": f"Bearer {MASTER}"})
        assert status == 200, out
        key = out["key"]

        # Quick requests, answered just before the stop (their reports still queued).
        quick = 40
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: chat(url, key)[0], range(quick)))
        assert results == [200] * quick
        # Slow ones, in flight when `up` gets SIGTERM.
        slow = 4
        mock.delay_next(1.5, n=slow)
        pool = ThreadPoolExecutor(slow)
        futures = [pool.submit(chat, url, key, "gpt-a", 30.0) for _ in range(slow)]
        mock.wait_for_requests(quick + slow, timeout=10)
        proc.send_signal(signal.SIGTERM)
        slow_statuses = [f.result()[0] for f in futures]
        pool.shutdown()
        proc.wait(timeout=60)
        assert slow_statuses == [200] * slow, slow_statuses

        answered = quick + slow
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT count(*), sum(spend) FROM spend_logs").fetchone()
        assert rows[0] == answered, (
            f"{rows[0]} spend rows for {answered} answered requests\n"
            + (tmp_path / "up.log").read_text()[-3000:])
        assert rows[1] > 0
    finally:
        if proc.poll() is None:
            # The session this test started: `up`, its Envoy and its keyservice.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
