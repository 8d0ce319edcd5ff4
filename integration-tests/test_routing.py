"""Routing and resilience (issue 3): load balancing, retries, fallbacks, cooldowns and
timeouts, driven by the ``config.yaml`` a LiteLLM user writes and checked by what a
client and the providers observe.

Every test starts its own small gateway (``gateway_factory``: render + Envoy, about
half a second) in front of function-scoped mocks, so that Envoy's per-host state
(outlier ejections, active requests) never leaks from one test into another. A
deployment is identified by the mock instance that recorded the request: groups of
several OpenAI-compatible deployments use one :class:`OpenAIMock` per deployment,
each with its own ``reply_text``, and every deployment sets ``model_info.id`` so the
``x-litellm-model-id`` header can be compared with the mock that answered.

The contract (LiteLLM names, Envoy machinery):

* ``litellm_params.weight`` → weighted random choice inside a group;
* ``num_retries`` → retries on 5xx, 429 and resets, to another deployment of the
  group; a plain 400 is not retried; ``x-litellm-attempted-retries`` counts them;
* ``fallbacks`` / ``default_fallbacks`` (router_settings or litellm_settings) →
  another group once the first is exhausted, translated for its provider, still
  streamed; ``x-litellm-attempted-fallbacks`` and ``x-litellm-model-group`` say so;
  ``context_window_fallbacks`` / ``content_policy_fallbacks`` → another group on the
  provider's context-length / content-policy 400 (any other 400 goes to the client);
* ``allowed_fails`` / ``cooldown_time`` → outlier detection: ``allowed_fails``
  consecutive failures take a deployment out for ``cooldown_time`` seconds; with no
  deployment left the client gets an OpenAI-shaped 429/503;
* ``timeout`` → whole request (504/408), ``stream_timeout`` → longest silence in a
  stream; a stream that keeps talking is never cut;
* nothing is ever answered twice, and a stream is never retried once it started;
* per-request ``num_retries`` / ``timeout`` / ``fallbacks`` never reach a provider.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import harness
from harness import SSEEvent, request_json
from mocks import (
    ANTHROPIC_KEY,
    AZURE_API_VERSION,
    AZURE_KEY,
    OPENAI_KEY,
    AnthropicMock,
    AzureMock,
    OpenAIMock,
)

CHAT = "/v1/chat/completions"
ENV = {"OPENAI_API_KEY": OPENAI_KEY, "AZURE_API_KEY": AZURE_KEY,
       "ANTHROPIC_API_KEY": ANTHROPIC_KEY}
CLAUDE_MODEL = "claude-3-5-haiku-20241022"
#: The second Azure deployment the fallback tests add to the Azure mock.
AZURE_DEPLOYMENT_B = "gpt-4o-deploy-b"
#: Retry / cooldown headers, LiteLLM's names.
RETRIES = "x-litellm-attempted-retries"
FALLBACKS = "x-litellm-attempted-fallbacks"
MODEL_ID = "x-litellm-model-id"
MODEL_GROUP = "x-litellm-model-group"

GatewayFactory = Callable[..., harness.Gateway]


# --------------------------------------------------------------------------------------
# Config builders: the YAML a LiteLLM user writes
# --------------------------------------------------------------------------------------


def _params(extra: dict[str, Any]) -> str:
    return "".join(f"\n      {key}: {json.dumps(value)}" for key, value in extra.items())


def openai_dep(group: str, mock: OpenAIMock, dep_id: str, **extra: Any) -> str:
    """One OpenAI-compatible deployment of ``group`` on ``mock`` (``extra``: more
    ``litellm_params``, e.g. ``weight``)."""
    return f"""
  - model_name: {group}
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {mock.base_url}
      api_key: os.environ/OPENAI_API_KEY{_params(extra)}
    model_info:
      id: {dep_id}"""


def azure_dep(group: str, mock: AzureMock, deployment: str, dep_id: str) -> str:
    return f"""
  - model_name: {group}
    litellm_params:
      model: azure/{deployment}
      api_base: {mock.base_url}
      api_key: os.environ/AZURE_API_KEY
      api_version: "{AZURE_API_VERSION}"
    model_info:
      id: {dep_id}"""


def anthropic_dep(group: str, mock: AnthropicMock, dep_id: str) -> str:
    return f"""
  - model_name: {group}
    litellm_params:
      model: anthropic/{CLAUDE_MODEL}
      api_base: {mock.base_url}
      api_key: os.environ/ANTHROPIC_API_KEY
    model_info:
      id: {dep_id}"""


def config(deployments: list[str], settings: str = "") -> str:
    """``model_list`` from ``deployments`` plus the settings sections (YAML text)."""
    return "model_list:" + "".join(deployments) + "\n" + settings.strip("\n") + "\n"


# --------------------------------------------------------------------------------------
# Fixtures: several mocks of one kind, one per deployment
# --------------------------------------------------------------------------------------


def reply_of(name: str) -> str:
    """What deployment ``dep-<name>`` answers (set as its mock's ``reply_text``)."""
    return f"answer from dep-{name}"


def _named_openai_mocks(names: str) -> Iterator[tuple[OpenAIMock, ...]]:
    with ExitStack() as stack:
        mocks = []
        for name in names:
            mock = stack.enter_context(OpenAIMock(api_key=OPENAI_KEY))
            mock.reply_text = reply_of(name)
            mocks.append(mock)
        yield tuple(mocks)


@pytest.fixture
def pair() -> Iterator[tuple[OpenAIMock, ...]]:
    """Two OpenAI mocks: deployments ``dep-a`` and ``dep-b``."""
    yield from _named_openai_mocks("ab")


@pytest.fixture
def trio() -> Iterator[tuple[OpenAIMock, ...]]:
    """Three OpenAI mocks: deployments ``dep-a``, ``dep-b`` and ``dep-c``."""
    yield from _named_openai_mocks("abc")


@pytest.fixture
def azure2(azure_mock: AzureMock) -> AzureMock:
    """The Azure mock with a second deployment, so an Azure group has two."""
    azure_mock.deployments[AZURE_DEPLOYMENT_B] = "gpt-4o-2024-08-06"
    return azure_mock


# --------------------------------------------------------------------------------------
# Request helpers
# --------------------------------------------------------------------------------------


def chat_body(model: str, text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def chat(gw: harness.Gateway, model: str, text: str = "hi", timeout: float = 10.0,
         **extra: Any) -> tuple[int, dict[str, str], Any]:
    return request_json("POST", gw.url(CHAT), chat_body(model, text, **extra), timeout=timeout)


def content_of(body: Any) -> str:
    assert isinstance(body, dict) and body.get("object") == "chat.completion", body
    return body["choices"][0]["message"]["content"]


def assert_openai_error(status: int, headers: dict[str, str], body: Any,
                        statuses: set[int]) -> dict[str, Any]:
    """An OpenAI-shaped error, ``{"error": {message, type, param, code}}`` with
    ``code == str(status)``, status in ``statuses``; returns the error object."""
    assert status in statuses, f"status {status}, expected one of {sorted(statuses)}: {body!r}"
    assert headers.get("content-type", "").startswith("application/json"), (headers, body)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["type"], str) and err["type"], err
    assert err["code"] == str(status), err
    return err


def raw_chat(gw: harness.Gateway, body: dict[str, Any], timeout: float = 10.0
             ) -> tuple[int, dict[str, str], bytes, str | None]:
    """POST and read the whole answer as bytes; a cut answer is reported, not raised:
    returns (status, headers, bytes read, error or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=timeout)
    try:
        conn.request("POST", CHAT, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        try:
            return resp.status, headers, resp.read(), None
        except http.client.IncompleteRead as err:
            return resp.status, headers, err.partial, f"IncompleteRead: {err!r}"
        except (ConnectionError, http.client.HTTPException) as err:
            return resp.status, headers, b"", f"{type(err).__name__}: {err}"
    finally:
        conn.close()


@dataclass
class Stream:
    """A streamed answer as the client saw it."""

    status: int
    headers: dict[str, str]
    events: list[SSEEvent] = field(default_factory=list)
    body: Any = None  # the parsed body when the status is not 200
    cut: str | None = None  # how the read ended early (reset / incomplete), if it did
    started: float = 0.0
    ended: float = 0.0

    @property
    def elapsed(self) -> float:
        return self.ended - self.started

    @property
    def done_count(self) -> int:
        return sum(1 for e in self.events if e.data == "[DONE]")

    @property
    def chunks(self) -> list[dict[str, Any]]:
        out = []
        for e in self.events:
            if e.data == "[DONE]":
                continue
            obj = json.loads(e.data)
            if "error" not in obj:
                out.append(obj)
        return out

    @property
    def error_events(self) -> list[dict[str, Any]]:
        return [json.loads(e.data) for e in self.events
                if e.data != "[DONE]" and "error" in json.loads(e.data)]

    @property
    def text(self) -> str:
        return "".join((c["choices"][0]["delta"].get("content") or "")
                       for c in self.chunks if c.get("choices"))

    @property
    def role_count(self) -> int:
        return sum(1 for c in self.chunks
                   if c.get("choices") and c["choices"][0]["delta"].get("role"))


def read_stream(gw: harness.Gateway, body: dict[str, Any], timeout: float = 8.0) -> Stream:
    """Send a streamed chat request and read it to its end (or its cut).

    Reads with ``read1`` (``harness.iter_sse`` reads lines, and a line reader takes a
    truncated chunked body for a clean end), splitting SSE events as they arrive.
    ``timeout`` bounds each socket read: a stream that hangs that long fails the test
    instead of counting as cut.
    """
    started = time.monotonic()
    with harness.open_stream("POST", gw.url(CHAT), {**body, "stream": True},
                             timeout=timeout) as resp:
        headers = {k.lower(): v for k, v in resp.getheaders()}
        out = Stream(resp.status, headers, started=started)
        if resp.status != 200:
            raw = resp.read()
            try:
                out.body = json.loads(raw)
            except ValueError:
                out.body = raw.decode("utf-8", "replace")
            out.ended = time.monotonic()
            return out
        buffer = b""
        try:
            while True:
                piece = resp.read1(65536)
                if not piece:
                    break
                buffer += piece.replace(b"\r\n", b"\n")
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    data = [line[5:].lstrip(b" ") for line in block.split(b"\n")
                            if line.startswith(b"data:")]
                    if data:
                        out.events.append(SSEEvent(None, b"\n".join(data).decode()))
        except TimeoutError as err:
            pytest.fail(f"the stream hung for {timeout}s after {len(out.events)} events: {err}")
        except (http.client.HTTPException, ConnectionError) as err:
            out.cut = f"{type(err).__name__}: {err!r}"
        if buffer.strip() and out.cut is None:
            out.cut = f"stream ended inside an event: {buffer[:200]!r}"
        out.ended = time.monotonic()
    return out


def counts(*mocks: Any) -> list[int]:
    return [m.request_count for m in mocks]


def assert_no_routing_fields(mock: Any, *names: str) -> None:
    for req in mock.requests:
        body = req.json if isinstance(req.json, dict) else {}
        leaked = [n for n in names if n in body]
        assert not leaked, f"{type(mock).__name__} received gateway-only fields {leaked}: {body}"


def _require_gateway() -> None:
    missing = harness.missing_prerequisites()
    if not missing:
        return
    message = "gateway prerequisites missing: " + "; ".join(missing)
    if os.environ.get("SWITCHYARD_REQUIRE_GATEWAY") == "1":
        pytest.fail(message)
    pytest.skip(message)


# --------------------------------------------------------------------------------------
# The config is accepted and applied, not warned about
# --------------------------------------------------------------------------------------


def test_check_applies_router_settings_instead_of_ignoring_them(tmp_path: Path) -> None:
    _require_gateway()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"""
model_list:
  - model_name: azure-group
    litellm_params:
      model: azure/gpt-4o-deploy
      api_base: http://127.0.0.1:9
      api_key: os.environ/AZURE_API_KEY
      api_version: "{AZURE_API_VERSION}"
      weight: 2
    model_info: {{id: az-1}}
  - model_name: azure-group
    litellm_params:
      model: azure/{AZURE_DEPLOYMENT_B}
      api_base: http://127.0.0.1:9
      api_key: os.environ/AZURE_API_KEY
      api_version: "{AZURE_API_VERSION}"
      weight: 1
  - model_name: claude-group
    litellm_params:
      model: anthropic/{CLAUDE_MODEL}
      api_base: http://127.0.0.1:9
      api_key: os.environ/ANTHROPIC_API_KEY
router_settings:
  routing_strategy: least-busy
  num_retries: 2
  timeout: 30
  stream_timeout: 10
  allowed_fails: 2
  cooldown_time: 3
  fallbacks: [{{"azure-group": ["claude-group"]}}]
litellm_settings:
  default_fallbacks: ["claude-group"]
""")
    proc = subprocess.run([str(harness.SWITCHYARD_BIN), "check", "--config", str(cfg)],
                          env={**os.environ, **ENV}, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    keys = ("routing_strategy", "num_retries", "timeout", "stream_timeout", "allowed_fails",
            "cooldown_time", "fallbacks", "default_fallbacks", "weight")
    ignored = [line for line in output.splitlines()
               if re.search(r"ignored|not applied|not mapped|not supported", line, re.I)
               and any(k in line for k in keys)]
    assert not ignored, "router settings of issue 3 are still ignored:\n" + "\n".join(ignored)


# --------------------------------------------------------------------------------------
# Load balancing
# --------------------------------------------------------------------------------------


def test_weights_share_the_traffic_and_the_header_names_who_answered(
        gateway_factory: GatewayFactory, trio: tuple[OpenAIMock, ...]) -> None:
    a, b, c = trio
    gw = gateway_factory(config([
        openai_dep("balanced", a, "dep-a", weight=1),
        openai_dep("balanced", b, "dep-b", weight=1),
        openai_dep("balanced", c, "dep-c", weight=2),
    ]), ENV)
    names = ["dep-a", "dep-b", "dep-c"]
    total = 300
    answered: Counter[str] = Counter()
    for i in range(total):
        before = counts(a, b, c)
        status, headers, body = chat(gw, "balanced", f"n{i}")
        assert status == 200, (i, body)
        deltas = [n1 - n0 for n0, n1 in zip(before, counts(a, b, c))]
        assert sorted(deltas) == [0, 0, 1], f"request {i}: per-deployment requests {deltas}"
        who = names[deltas.index(1)]
        assert headers.get(MODEL_ID) == who, (
            f"request {i} reached {who} but {MODEL_ID} says {headers.get(MODEL_ID)!r}")
        assert headers.get(MODEL_GROUP) == "balanced", headers
        assert content_of(body) == reply_of(who[-1]), body
        answered[who] += 1
    shares = {n: answered[n] / total for n in names}
    want = {"dep-a": 0.25, "dep-b": 0.25, "dep-c": 0.50}
    for name in names:
        assert abs(shares[name] - want[name]) <= 0.12, (
            f"weights 1:1:2 gave shares {shares} over {total} requests")


@pytest.mark.parametrize("strategy", ["least-busy", "latency-based-routing"])
def test_least_request_strategies_serve_from_every_deployment(
        gateway_factory: GatewayFactory, pair: tuple[OpenAIMock, ...],
        strategy: str) -> None:
    a, b = pair
    gw = gateway_factory(config(
        [openai_dep("busy", a, "dep-a"), openai_dep("busy", b, "dep-b")],
        f"router_settings:\n  routing_strategy: {strategy}\n"), ENV)

    def one(i: int) -> tuple[int, str | None, Any]:
        status, headers, body = chat(gw, "busy", f"busy {i}")
        return status, headers.get(MODEL_ID), body

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, range(40)))
    for status, model_id, body in results:
        assert status == 200, body
        assert model_id in ("dep-a", "dep-b"), model_id
        assert content_of(body) == reply_of(model_id[-1]), (model_id, body)
    by_header = Counter(model_id for _, model_id, _ in results)
    assert counts(a, b) == [by_header["dep-a"], by_header["dep-b"]], by_header
    assert min(counts(a, b)) >= 4, f"{strategy}: traffic split {counts(a, b)} over 40 requests"


# --------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------


def _arm(mock: OpenAIMock, fault: str) -> None:
    """Make every request to ``mock`` fail the way ``fault`` says."""
    if fault == "500":
        mock.fail_next(None, 500)  # type: ignore[arg-type]
    elif fault == "429":
        mock.fail_next(None, 429)  # type: ignore[arg-type]
    elif fault == "reset":
        mock.reset_next(None)  # type: ignore[arg-type]
    else:
        raise ValueError(fault)


def _retry_gateway(gateway_factory: GatewayFactory, a: OpenAIMock, b: OpenAIMock,
                   num_retries: int) -> harness.Gateway:
    return gateway_factory(config(
        [openai_dep("pair", a, "dep-a"), openai_dep("pair", b, "dep-b")],
        f"router_settings:\n  num_retries: {num_retries}\n"), ENV)


@pytest.mark.parametrize("fault", ["500", "429", "reset"])
def test_failed_attempt_is_retried_on_the_other_deployment(
        gateway_factory: GatewayFactory, pair: tuple[OpenAIMock, ...], fault: str) -> None:
    a, b = pair
    gw = _retry_gateway(gateway_factory, a, b, num_retries=2)
    # Healthy: one attempt, and the header says no retry happened.
    for i in range(2):
        status, headers, body = chat(gw, "pair", f"healthy {i}")
        assert status == 200, body
        assert headers.get(RETRIES) == "0", headers
    assert sum(counts(a, b)) == 2
    # dep-a fails every attempt: whoever is picked first, dep-b answers.
    _arm(a, fault)
    retried = 0
    for i in range(10):
        before = counts(a, b)
        status, headers, body = chat(gw, "pair", f"retry {i}")
        a_hits, b_hits = (n1 - n0 for n0, n1 in zip(before, counts(a, b)))
        assert status == 200, f"request {i} ({a_hits} attempts on failing dep-a): {body}"
        assert b_hits == 1, f"request {i}: dep-b saw {b_hits} attempts"
        assert content_of(body) == reply_of("b")
        assert headers.get(MODEL_ID) == "dep-b", headers
        # Each failed attempt on dep-a was followed by one retry: the header counts them.
        assert headers.get(RETRIES) == str(a_hits), (
            f"request {i}: {a_hits} failed attempt(s) on dep-a, {RETRIES}="
            f"{headers.get(RETRIES)!r}")
        retried += a_hits > 0
    assert retried >= 1, f"no request was retried (requests on dep-a, dep-b: {counts(a, b)})"


def test_plain_400_is_not_retried(gateway_factory: GatewayFactory,
                                  pair: tuple[OpenAIMock, ...]) -> None:
    a, b = pair
    gw = _retry_gateway(gateway_factory, a, b, num_retries=2)
    for mock in pair:
        mock.fail_next(None, 400)  # type: ignore[arg-type]
    status, headers, body = chat(gw, "pair")
    err = assert_openai_error(status, headers, body, {400})
    assert err["message"] == "Bad request (mock fault).", err
    time.sleep(0.2)
    assert sum(counts(a, b)) == 1, f"a 400 was retried: attempts {counts(a, b)}"


def test_num_retries_zero_lets_a_500_through_after_one_attempt(
        gateway_factory: GatewayFactory, pair: tuple[OpenAIMock, ...]) -> None:
    a, b = pair
    gw = _retry_gateway(gateway_factory, a, b, num_retries=0)
    for mock in pair:
        mock.fail_next(None, 500)  # type: ignore[arg-type]
    status, headers, body = chat(gw, "pair")
    assert_openai_error(status, headers, body, {500})
    time.sleep(0.2)
    assert sum(counts(a, b)) == 1, f"num_retries: 0 but attempts {counts(a, b)}"


def test_per_request_num_retries_and_timeout_are_honoured_and_not_forwarded(
        gateway_factory: GatewayFactory, pair: tuple[OpenAIMock, ...]) -> None:
    a, b = pair
    gw = _retry_gateway(gateway_factory, a, b, num_retries=2)
    for mock in pair:
        mock.fail_next(None, 500)  # type: ignore[arg-type]
    # The config's num_retries: 2 means three attempts in all.
    status, headers, body = chat(gw, "pair", "configured")
    assert_openai_error(status, headers, body, {500})
    assert sum(counts(a, b)) == 3, f"num_retries: 2 gave attempts {counts(a, b)}"
    # The body's num_retries: 0 wins: one attempt.
    for mock in pair:
        mock.clear_requests()
    status, headers, body = chat(gw, "pair", "no retries", num_retries=0, timeout=30)
    assert_openai_error(status, headers, body, {500})
    time.sleep(0.2)
    assert sum(counts(a, b)) == 1, f"body num_retries: 0 gave attempts {counts(a, b)}"
    # A healthy request with the fields: the providers (which reject unknown fields)
    # answer, and never see them.
    for mock in pair:
        mock.clear_faults()
    status, _, body = chat(gw, "pair", "healthy", num_retries=1, timeout=30)
    assert status == 200, body
    assert content_of(body) in (reply_of("a"), reply_of("b"))
    for mock in pair:
        assert_no_routing_fields(mock, "num_retries", "timeout")


# --------------------------------------------------------------------------------------
# Cross-provider fallbacks
# --------------------------------------------------------------------------------------

FALLBACK_SETTINGS = {
    "router_settings.fallbacks": """
router_settings:
  num_retries: 1
  fallbacks: [{"azure-group": ["claude-group"]}]
""",
    "litellm_settings.fallbacks": """
litellm_settings:
  num_retries: 1
  fallbacks: [{"azure-group": ["claude-group"]}]
""",
    "litellm_settings.default_fallbacks": """
litellm_settings:
  num_retries: 1
  default_fallbacks: ["claude-group"]
""",
    "router_settings.default_fallbacks": """
router_settings:
  num_retries: 1
  default_fallbacks: ["claude-group"]
""",
}


def _fallback_gateway(gateway_factory: GatewayFactory, azure: AzureMock,
                      anthropic: AnthropicMock, settings: str) -> harness.Gateway:
    return gateway_factory(config([
        azure_dep("azure-group", azure, "gpt-4o-deploy", "az-1"),
        azure_dep("azure-group", azure, AZURE_DEPLOYMENT_B, "az-2"),
        anthropic_dep("claude-group", anthropic, "claude-1"),
    ], settings), ENV)


@pytest.mark.parametrize("where", list(FALLBACK_SETTINGS))
def test_failing_azure_group_falls_back_to_anthropic(
        gateway_factory: GatewayFactory, azure2: AzureMock, anthropic_mock: AnthropicMock,
        where: str) -> None:
    gw = _fallback_gateway(gateway_factory, azure2, anthropic_mock, FALLBACK_SETTINGS[where])
    # Healthy: Azure answers, no fallback.
    status, headers, body = chat(gw, "azure-group", "healthy")
    assert status == 200, body
    assert content_of(body) == "Hello from azure mock: healthy"
    assert headers.get(MODEL_GROUP) == "azure-group", headers
    assert headers.get(MODEL_ID) in ("az-1", "az-2"), headers
    assert anthropic_mock.request_count == 0
    # Every Azure deployment fails: the request lands on Anthropic, translated for it.
    azure2.clear_requests()
    azure2.fail_next(None, 500)  # type: ignore[arg-type]
    status, headers, body = chat(gw, "azure-group", "fall back please")
    assert status == 200, body
    assert content_of(body) == "Hello from anthropic mock: fall back please"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] > 0, body
    assert headers.get(MODEL_GROUP) == "claude-group", headers
    assert headers.get(MODEL_ID) == "claude-1", headers
    assert int(headers.get(FALLBACKS, "0")) >= 1, headers
    assert azure2.request_count >= 1, "Azure was never tried"
    assert anthropic_mock.request_count == 1, anthropic_mock.requests
    sent = anthropic_mock.last_request
    assert sent.path == "/v1/messages"
    assert sent.headers.get("x-api-key") == ANTHROPIC_KEY
    assert sent.json["model"] == CLAUDE_MODEL
    assert sent.json["messages"] == [{"role": "user", "content": "fall back please"}]


def test_streamed_fallback_still_streams(gateway_factory: GatewayFactory, azure2: AzureMock,
                                         anthropic_mock: AnthropicMock) -> None:
    gw = _fallback_gateway(gateway_factory, azure2, anthropic_mock,
                           FALLBACK_SETTINGS["router_settings.fallbacks"])
    azure2.fail_next(None, 500)  # type: ignore[arg-type]
    anthropic_mock.slow_stream(0.15)
    stream = read_stream(gw, chat_body("azure-group", "stream the fallback",
                                       stream_options={"include_usage": True}))
    assert stream.status == 200, stream.body
    assert stream.headers.get("content-type", "").startswith("text/event-stream"), stream.headers
    assert stream.cut is None, stream.cut
    assert stream.text == "Hello from anthropic mock: stream the fallback"
    assert all(c["object"] == "chat.completion.chunk" for c in stream.chunks)
    assert not stream.error_events, stream.error_events
    assert stream.events[-1].data == "[DONE]" and stream.done_count == 1
    assert stream.role_count == 1
    assert any(c.get("usage") for c in stream.chunks), "include_usage asked for a usage chunk"
    assert stream.headers.get(MODEL_GROUP) == "claude-group", stream.headers
    assert int(stream.headers.get(FALLBACKS, "0")) >= 1, stream.headers
    # The mock paces its events 150 ms apart: buffering would deliver them all at once.
    arrivals = [e.received_at for e in stream.events]
    assert arrivals[-1] - arrivals[0] >= 0.4, arrivals
    assert anthropic_mock.request_count == 1
    assert anthropic_mock.last_request.json["stream"] is True


def test_per_request_fallbacks_work_or_are_refused_and_never_forwarded(
        gateway_factory: GatewayFactory, azure_mock: AzureMock,
        anthropic_mock: AnthropicMock) -> None:
    gw = gateway_factory(config([
        azure_dep("azure-group", azure_mock, "gpt-4o-deploy", "az-1"),
        anthropic_dep("claude-group", anthropic_mock, "claude-1"),
    ], "router_settings:\n  num_retries: 0\n"), ENV)
    azure_mock.fail_next(None, 500)  # type: ignore[arg-type]
    status, headers, body = chat(gw, "azure-group", "client fallbacks",
                                 fallbacks=["claude-group"])
    if status == 200:  # honoured, as LiteLLM does
        assert content_of(body) == "Hello from anthropic mock: client fallbacks"
        assert headers.get(MODEL_GROUP) == "claude-group", headers
        assert anthropic_mock.request_count == 1
    else:  # refused up front, clearly
        err = assert_openai_error(status, headers, body, {400})
        assert err["param"] == "fallbacks" or "fallbacks" in err["message"], err
        assert counts(azure_mock, anthropic_mock) == [0, 0], "refused, yet sent upstream"
    for mock in (azure_mock, anthropic_mock):
        assert_no_routing_fields(mock, "fallbacks")


#: Provider errors that move a request to context_window_fallbacks /
#: content_policy_fallbacks (native bodies, as the real APIs send them).
SPECIAL_400 = {
    "openai-context-window": ("context_window_fallbacks", "openai", {"error": {
        "message": "This model's maximum context length is 128000 tokens. However, your "
                   "messages resulted in 130017 tokens. Please reduce the length of the "
                   "messages.",
        "type": "invalid_request_error", "param": "messages",
        "code": "context_length_exceeded"}}),
    "anthropic-context-window": ("context_window_fallbacks", "anthropic", {
        "type": "error", "error": {"type": "invalid_request_error",
                                   "message": "prompt is too long: 210517 tokens > 200000 "
                                              "maximum"}}),
    "openai-content-policy": ("content_policy_fallbacks", "openai", {"error": {
        "message": "Your request was rejected as a result of our safety system. Your prompt "
                   "may contain text that is not allowed by our safety system.",
        "type": "invalid_request_error", "param": None,
        "code": "content_policy_violation"}}),
}


@pytest.mark.parametrize("case", list(SPECIAL_400))
def test_context_window_and_content_policy_errors_fall_back(
        gateway_factory: GatewayFactory, pair: tuple[OpenAIMock, ...],
        anthropic_mock: AnthropicMock, case: str) -> None:
    key, provider, native = SPECIAL_400[case]
    small_openai, big = pair
    small: Any = small_openai if provider == "openai" else anthropic_mock
    small_dep = (openai_dep("small", small, "dep-small") if provider == "openai"
                 else anthropic_dep("small", small, "dep-small"))
    gw = gateway_factory(config([small_dep, openai_dep("big", big, "dep-big")], f"""
router_settings:
  num_retries: 1
  {key}: [{{"small": ["big"]}}]
"""), ENV)
    small.fail_next(1, 400, body=native)
    status, headers, body = chat(gw, "small", "a very long prompt")
    assert status == 200, body
    assert content_of(body) == reply_of("b")
    assert headers.get(MODEL_GROUP) == "big", headers
    assert headers.get(MODEL_ID) == "dep-big", headers
    assert int(headers.get(FALLBACKS, "0")) >= 1, headers
    assert counts(small, big) == [1, 1], "a 400 is not retried on the same group"
    # Any other 400 is the client's problem: no retry, no fallback.
    small.fail_next(1, 400)
    status, headers, body = chat(gw, "small", "a bad request")
    assert_openai_error(status, headers, body, {400})
    time.sleep(0.2)
    assert counts(small, big) == [2, 1], "a plain 400 was retried or fell back"


# --------------------------------------------------------------------------------------
# Cooldowns
# --------------------------------------------------------------------------------------


def test_failing_deployment_cools_down_and_comes_back(
        gateway_factory: GatewayFactory, pair: tuple[OpenAIMock, ...]) -> None:
    a, b = pair
    allowed_fails, cooldown = 2, 3.0
    gw = gateway_factory(config(
        [openai_dep("cool", a, "dep-a"), openai_dep("cool", b, "dep-b")],
        f"""
router_settings:
  num_retries: 0
  allowed_fails: {allowed_fails}
  cooldown_time: {int(cooldown)}
"""), ENV)
    a.fail_next(None, 500)  # type: ignore[arg-type]
    for i in range(40):
        status, _, body = chat(gw, "cool", f"fail {i}")
        assert status in (200, 500), body
        if a.request_count >= allowed_fails:
            break
    assert a.request_count == allowed_fails, f"dep-a got {a.request_count} requests"
    ejected_at = time.monotonic()
    a.clear_faults()

    # Cooling down: dep-a gets nothing, dep-b serves everything.
    for i in range(10):
        status, headers, body = chat(gw, "cool", f"during {i}")
        assert status == 200, body
        assert headers.get(MODEL_ID) == "dep-b", (i, headers)
        time.sleep(0.15)
    during = time.monotonic() - ejected_at
    assert a.request_count == allowed_fails, (
        f"dep-a got traffic {during:.1f}s into a {cooldown}s cooldown")
    assert during < cooldown, f"too slow to observe the cooldown ({during:.1f}s)"

    # After the cooldown dep-a is back in rotation.
    time.sleep(max(0.0, ejected_at + cooldown + 1.5 - time.monotonic()))
    for i in range(20):
        status, headers, body = chat(gw, "cool", f"after {i}")
        assert status == 200, body
        if a.request_count > allowed_fails:
            assert headers.get(MODEL_ID) == "dep-a", headers
            break
        time.sleep(0.1)
    assert a.request_count > allowed_fails, (
        f"dep-a got no traffic {time.monotonic() - ejected_at:.1f}s after being taken out "
        f"for {cooldown}s (dep-b: {b.request_count} requests)")


def test_group_with_every_deployment_cooling_down_says_so(
        gateway_factory: GatewayFactory, openai_mock: OpenAIMock) -> None:
    gw = gateway_factory(config([openai_dep("lonely", openai_mock, "dep-only")], """
router_settings:
  num_retries: 0
  allowed_fails: 1
  cooldown_time: 5
"""), ENV)
    openai_mock.fail_next(None, 500)  # type: ignore[arg-type]
    status, headers, body = chat(gw, "lonely", "first")
    assert_openai_error(status, headers, body, {500})
    assert openai_mock.request_count == 1
    # Envoy ejects on its main thread after the worker reports the failure: wait until
    # the ejection is in place (its own counter), as a second client would find it.
    harness.wait_for(
        lambda: gw.stats("cluster.route_0_lonely.outlier_detection.ejections_active").get(
            "cluster.route_0_lonely.outlier_detection.ejections_active") == 1,
        timeout=5, what="Envoy's ejection of the failed deployment")
    status, headers, body = chat(gw, "lonely", "second")
    err = assert_openai_error(status, headers, body, {429, 503})
    assert re.search(r"available|cool", err["message"], re.I), err
    assert openai_mock.request_count == 1, "a cooling-down deployment got the request"


# --------------------------------------------------------------------------------------
# Timeouts
# --------------------------------------------------------------------------------------

def _single_gateway(gateway_factory: GatewayFactory, mock: OpenAIMock,
                    settings: str) -> harness.Gateway:
    return gateway_factory(config([openai_dep("gpt", mock, "dep-gpt")], settings), ENV)


def test_slow_provider_trips_the_timeout(gateway_factory: GatewayFactory,
                                         openai_mock: OpenAIMock) -> None:
    gw = _single_gateway(gateway_factory, openai_mock, """
router_settings:
  num_retries: 0
  timeout: 1
""")
    openai_mock.delay_next(3)
    started = time.monotonic()
    status, headers, body = chat(gw, "gpt", "slow")
    elapsed = time.monotonic() - started
    assert_openai_error(status, headers, body, {504, 408})
    assert 0.9 <= elapsed < 2.5, f"answered after {elapsed:.2f}s with timeout: 1"
    assert openai_mock.request_count == 1


def test_stalled_stream_is_cut_after_stream_timeout(gateway_factory: GatewayFactory,
                                                    openai_mock: OpenAIMock) -> None:
    # The whole-request timeout is long: only stream_timeout can cut this stream early.
    gw = _single_gateway(gateway_factory, openai_mock, """
router_settings:
  num_retries: 0
  timeout: 30
  stream_timeout: 1
""")
    openai_mock.stall_next(4, after_events=2)
    stream = read_stream(gw, chat_body("gpt", "stall"))
    assert stream.status == 200, stream.body
    assert stream.chunks, "the stream never started"
    assert stream.elapsed < 3.0, f"cut only after {stream.elapsed:.2f}s (stream_timeout: 1)"
    # Cut with an error event (then [DONE]), never as if it were complete.
    assert [e["error"]["type"] for e in stream.error_events] == ["timeout_error"], stream.events
    assert [e.data for e in stream.events[-1:]] == ["[DONE]"], stream.events
    assert "error" in json.loads(stream.events[-2].data), "[DONE] without the error before it"
    assert stream.text != "Hello from openai mock: stall", "the whole answer came through"


def test_stream_that_keeps_talking_outlives_the_timeouts(gateway_factory: GatewayFactory,
                                                         openai_mock: OpenAIMock) -> None:
    # 11 events 0.4 s apart: never silent for stream_timeout, 4 s in all (> timeout).
    gw = _single_gateway(gateway_factory, openai_mock, """
router_settings:
  num_retries: 0
  timeout: 1
  stream_timeout: 1
""")
    words = ("one two three four five six seven eight nine ten eleven twelve thirteen "
             "fourteen fifteen")
    openai_mock.reply_text = words
    openai_mock.slow_stream(0.4)
    stream = read_stream(gw, chat_body("gpt", "long"))
    assert stream.status == 200, stream.body
    assert stream.cut is None, f"cut after {stream.elapsed:.2f}s: {stream.cut}"
    assert not stream.error_events, stream.error_events
    assert stream.text == words
    assert stream.events[-1].data == "[DONE]" and stream.done_count == 1
    assert stream.elapsed >= 3.0, f"the stream lasted only {stream.elapsed:.2f}s"


# --------------------------------------------------------------------------------------
# Nothing answered twice
# --------------------------------------------------------------------------------------


def test_stream_broken_after_its_first_bytes_is_not_retried(
        gateway_factory: GatewayFactory, pair: tuple[OpenAIMock, ...],
        anthropic_mock: AnthropicMock) -> None:
    a, b = pair
    gw = gateway_factory(config([
        openai_dep("pair", a, "dep-a"),
        openai_dep("pair", b, "dep-b"),
        anthropic_dep("claude-group", anthropic_mock, "claude-1"),
    ], """
router_settings:
  num_retries: 2
  fallbacks: [{"pair": ["claude-group"]}]
"""), ENV)
    for mock in (a, b, anthropic_mock):
        mock.reset_next(1, after_events=2)
    stream = read_stream(gw, chat_body("pair", "once only"))
    time.sleep(0.5)  # room for a (wrong) second attempt to arrive
    attempts = counts(a, b, anthropic_mock)
    assert sum(attempts) == 1, f"a started stream was sent again: attempts {attempts}"
    assert stream.status == 200, stream.body
    assert stream.done_count <= 1, "two [DONE]s"
    assert stream.role_count <= 1, "two answers started"
    assert any(stream.text == reply[:len(stream.text)]
               for reply in (reply_of("a"), reply_of("b"))), stream.text
    assert stream.done_count == 0 or stream.error_events, (
        "a stream cut by the provider looked complete")


@pytest.mark.parametrize("fault", ["500", "reset-mid-body"])
def test_retried_request_gets_exactly_one_answer(
        gateway_factory: GatewayFactory, pair: tuple[OpenAIMock, ...],
        fault: str) -> None:
    a, b = pair
    gw = _retry_gateway(gateway_factory, a, b, num_retries=2)
    if fault == "500":
        a.fail_next(None, 500)  # type: ignore[arg-type]
    else:
        a.reset_next(None, after_events=1)  # type: ignore[arg-type]  # head + half a body
    hit_a = 0
    for i in range(40):
        before = counts(a, b)
        status, headers, raw, cut = raw_chat(gw, chat_body("pair", f"once {i}"))
        a_hits, b_hits = (n1 - n0 for n0, n1 in zip(before, counts(a, b)))
        hit_a += a_hits > 0
        if cut is not None:
            # Only when dep-a's answer broke after the gateway had started passing it
            # on (it cannot take that back): the client sees a cut, never a second body.
            assert fault == "reset-mid-body" and a_hits == 1 and b_hits == 0, (
                i, status, cut, raw[:300])
            continue
        assert status == 200, (i, a_hits, b_hits, raw[:300])
        body = json.loads(raw)  # one JSON document, nothing before or after it
        assert b_hits == 1, f"request {i}: dep-b saw {b_hits} attempts"
        assert content_of(body) == reply_of("b"), body
        assert raw.count(b'"chat.completion"') == 1, raw
        if "content-length" in headers:
            assert int(headers["content-length"]) == len(raw), (headers, len(raw))
        if hit_a >= 2:
            break
    assert hit_a >= 2, f"the failing deployment was hit {hit_a} times"
