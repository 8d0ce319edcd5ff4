"""Per-deployment ``timeout``, ``stream_timeout`` and ``max_retries`` (LiteLLM's
``litellm_params``), through real Envoy with the built filter, measured from the
client's side.

The contract (``config/src/plan/timeouts.rs``, ``docs/routing.md``):

* ``timeout`` bounds each attempt's wait for its answer; where a group's deployments
  disagree the strictest applies to every attempt of the group (a fallback attempt
  included). A late attempt is a timeout error (OpenAI-shaped), retried and fallen
  back from like any failure;
* ``stream_timeout`` bounds a stream's first byte (the group's strictest, retried) and
  then every silence between two chunks (the deployment's own): a stalled stream ends
  with ``data: {"error": …}`` then ``data: [DONE]`` (Anthropic's ``event: error`` on
  ``/v1/messages``); a stream that keeps talking is never cut, however long it runs;
* ``max_retries`` changes nothing, as behind LiteLLM's proxy (its router sets the
  SDK's retries to 0); ``check`` says so.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import anthropic
import openai
import pytest

import harness
from mocks import ANTHROPIC_KEY, GEMINI_KEY, OPENAI_KEY, AnthropicMock, GeminiMock, OpenAIMock

ENV = {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY}
CLAUDE = "claude-3-5-haiku-20241022"
#: How late a deadline may fire: the stage's tick (50 ms) plus scheduling on a
#: loaded two-core machine.
SLACK = 0.9
#: Envoy's timers may fire a millisecond or so before the client's clock says the
#: timeout has passed (coarse monotonic time): a lower bound allows this much early.
EARLY = 0.05

GatewayFactory = Callable[..., harness.Gateway]


def openai_dep(group: str, mock: OpenAIMock, dep_id: str, **params: Any) -> str:
    extra = "".join(f", {k}: {json.dumps(v)}" for k, v in params.items())
    return f"""
  - model_name: {group}
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{mock.base_url}", api_key: os.environ/OPENAI_API_KEY{extra}}}
    model_info: {{id: {dep_id}}}"""


def anthropic_dep(group: str, mock: AnthropicMock, dep_id: str, **params: Any) -> str:
    extra = "".join(f", {k}: {json.dumps(v)}" for k, v in params.items())
    return f"""
  - model_name: {group}
    litellm_params: {{model: anthropic/{CLAUDE}, api_base: "{mock.base_url}", api_key: os.environ/ANTHROPIC_API_KEY{extra}}}
    model_info: {{id: {dep_id}}}"""


def config(deployments: list[str], router_settings: str) -> str:
    return "model_list:" + "".join(deployments) + "\nrouter_settings:\n" + router_settings + "\n"


def chat(gw: harness.Gateway, model: str, text: str = "hi", **extra: Any
         ) -> tuple[int, dict[str, str], Any, float]:
    started = time.monotonic()
    status, headers, body = harness.request_json(
        "POST", gw.url("/v1/chat/completions"),
        {"model": model, "messages": [{"role": "user", "content": text}], **extra}, timeout=20)
    return status, headers, body, time.monotonic() - started


def assert_timeout_error(status: int, body: Any) -> dict[str, Any]:
    assert status in (408, 504), (status, body)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert err["type"] == "timeout_error" and err["code"] == str(status), err
    return err


@dataclass
class Stream:
    """A streamed answer as the client read it: each SSE event with the second it
    arrived, and how the transfer ended."""

    status: int
    events: list[tuple[float, str | None, str]] = field(default_factory=list)
    clean_end: bool = False
    ended: float = 0.0

    def data(self) -> list[str]:
        return [d for _, _, d in self.events]

    def first_error(self) -> tuple[float, dict[str, Any]]:
        for at, _, data in self.events:
            if data != "[DONE]" and "error" in json.loads(data):
                return at, json.loads(data)
        raise AssertionError(f"no error event in {self.data()}")


def read_stream(gw: harness.Gateway, path: str, body: dict[str, Any]) -> Stream:
    """POST a streamed request and read it to its end, timing every event."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=20)
    conn.request("POST", path, body=json.dumps(body).encode(),
                 headers={"content-type": "application/json", "x-api-key": "unused"})
    resp = conn.getresponse()
    out = Stream(resp.status)
    buffer = b""
    try:
        while True:
            piece = resp.read1(65536)
            if not piece:
                out.clean_end = True
                break
            buffer += piece.replace(b"\r\n", b"\n")
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                lines = block.decode().split("\n")
                event = next((ln[6:].strip() for ln in lines if ln.startswith("event:")), None)
                data = "\n".join(ln[5:].lstrip() for ln in lines if ln.startswith("data:"))
                out.events.append((time.monotonic() - started, event, data))
    except (http.client.HTTPException, ConnectionError):
        out.clean_end = False
    finally:
        out.ended = time.monotonic() - started
        conn.close()
    return out


# --------------------------------------------------------------------------------------
# timeout
# --------------------------------------------------------------------------------------


def test_deployment_timeout_ends_a_slow_call_with_a_timeout_error_in_time(
        gateway_factory: GatewayFactory, openai_mock: OpenAIMock) -> None:
    # The router allows a minute; the deployment's own timeout is 2 s.
    gw = gateway_factory(config([openai_dep("gpt", openai_mock, "dep-slow", timeout=2)],
                                "  num_retries: 0\n  timeout: 60"), ENV)
    openai_mock.delay_next(5)
    status, _, body, elapsed = chat(gw, "gpt")
    assert_timeout_error(status, body)
    assert 2.0 - EARLY <= elapsed < 2.0 + SLACK, f"answered after {elapsed:.2f}s under timeout: 2"
    assert openai_mock.request_count == 1

    # The OpenAI SDK sees an error it knows (no SDK retries, to time it).
    client = openai.OpenAI(base_url=gw.url("/v1"), api_key="unused", max_retries=0)
    openai_mock.delay_next(5)
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code in (408, 504)
    assert time.monotonic() - started < 2.0 + SLACK


def test_a_request_timeout_wins_over_the_deployments(
        gateway_factory: GatewayFactory, openai_mock: OpenAIMock) -> None:
    # LiteLLM: the request's own `timeout` is each attempt's, over litellm_params'.
    gw = gateway_factory(config([openai_dep("gpt", openai_mock, "dep", timeout=1)],
                                "  num_retries: 0"), ENV)
    openai_mock.delay_next(2)
    status, _, body, elapsed = chat(gw, "gpt", timeout=5)
    assert status == 200, body
    assert elapsed >= 2.0
    assert "timeout" not in (openai_mock.last_request.json or {}), "a gateway field reached the provider"


def test_a_timed_out_attempt_falls_back_under_the_asked_groups_timeout(
        gateway_factory: GatewayFactory) -> None:
    # gpt (timeout 2) falls back to spare (timeout 30). A fallback attempt runs under
    # the asked group's per-try timeout: spare answering after 3 s is cut too.
    with OpenAIMock(api_key=OPENAI_KEY) as slow, OpenAIMock(api_key=OPENAI_KEY) as spare:
        spare.reply_text = "from the spare"
        gw = gateway_factory(config(
            [openai_dep("gpt", slow, "dep-slow", timeout=2),
             openai_dep("spare", spare, "dep-spare", timeout=30)],
            '  num_retries: 0\n  timeout: 60\n  fallbacks: [{"gpt": ["spare"]}]'), ENV)
        slow.delay_next(5)
        status, headers, body, elapsed = chat(gw, "gpt")
        assert status == 200, body
        assert body["choices"][0]["message"]["content"] == "from the spare"
        assert headers.get("x-litellm-model-group") == "spare", headers
        assert 2.0 - EARLY <= elapsed < 2.0 + SLACK, f"{elapsed:.2f}s"
        assert (slow.request_count, spare.request_count) == (1, 1)

        slow.delay_next(5)
        spare.delay_next(3)
        status, _, body, elapsed = chat(gw, "gpt")
        assert_timeout_error(status, body)
        assert 4.0 - EARLY <= elapsed < 4.0 + 2 * SLACK, f"two attempts of 2 s, {elapsed:.2f}s"


def test_max_retries_changes_nothing_as_behind_litellm(
        gateway_factory: GatewayFactory, openai_mock: OpenAIMock, tmp_path: Path) -> None:
    text = config([openai_dep("gpt", openai_mock, "dep", max_retries=3)], "  num_retries: 0")
    gw = gateway_factory(text, ENV)
    openai_mock.fail_next(1, 500)
    status, _, body, _ = chat(gw, "gpt")
    assert status == 500, body
    time.sleep(0.3)
    assert openai_mock.request_count == 1, "max_retries retried (LiteLLM's router does not)"
    path = tmp_path / "config.yaml"
    path.write_text(text)
    out = subprocess.run([str(harness.SWITCHYARD_BIN), "check", "--config", str(path)],
                         capture_output=True, text=True, timeout=30, env=dict(ENV))
    assert out.returncode == 0, out.stderr
    assert ("model_list[0].litellm_params.max_retries: has no effect behind LiteLLM's proxy"
            in out.stderr), out.stderr


def test_check_says_which_timeout_applies_when_deployments_disagree(
        openai_mock: OpenAIMock, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config(
        [openai_dep("gpt", openai_mock, "dep-a", timeout=2, stream_timeout=4),
         openai_dep("gpt", openai_mock, "dep-b", timeout=30, stream_timeout=10)],
        "  num_retries: 1"))
    out = subprocess.run([str(harness.SWITCHYARD_BIN), "check", "--config", str(path)],
                         capture_output=True, text=True, timeout=30, env=dict(ENV))
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if "disagree" in ln]
    assert len(lines) == 2, out.stderr
    timeout_line, stream_line = lines
    for needle in ('model group "gpt"', "model_list[0] (dep-a): 2s", "model_list[1] (dep-b): 30s",
                   "at most 2s for its answer"):
        assert needle in timeout_line, (needle, timeout_line)
    for needle in ("model_list[0] (dep-a): 4s", "model_list[1] (dep-b): 10s",
                   "at most 4s for a stream's first byte"):
        assert needle in stream_line, (needle, stream_line)


# --------------------------------------------------------------------------------------
# stream_timeout
# --------------------------------------------------------------------------------------


def test_a_stream_that_does_not_start_in_time_is_retried(
        gateway_factory: GatewayFactory) -> None:
    with OpenAIMock(api_key=OPENAI_KEY) as slow, OpenAIMock(api_key=OPENAI_KEY) as spare:
        spare.reply_text = "from the spare"
        gw = gateway_factory(config(
            [openai_dep("gpt", slow, "dep-slow", stream_timeout=2),
             openai_dep("spare", spare, "dep-spare")],
            '  num_retries: 0\n  timeout: 60\n  fallbacks: [{"gpt": ["spare"]}]'), ENV)
        slow.delay_next(5)
        stream = read_stream(gw, "/v1/chat/completions", {
            "model": "gpt", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        assert stream.status == 200
        assert stream.clean_end and stream.data()[-1] == "[DONE]", stream.data()
        first_at = stream.events[0][0]
        assert 2.0 <= first_at < 2.0 + SLACK, f"first byte after {first_at:.2f}s"
        text = "".join(json.loads(d)["choices"][0]["delta"].get("content") or ""
                       for d in stream.data()[:-1] if json.loads(d).get("choices"))
        assert text == "from the spare"


def test_a_stalled_stream_ends_with_an_error_event_then_done(
        gateway_factory: GatewayFactory, openai_mock: OpenAIMock) -> None:
    # The deployment's stream_timeout (2 s), not the router's (30 s), cuts it.
    gw = gateway_factory(config([openai_dep("gpt", openai_mock, "dep-st", stream_timeout=2)],
                                "  num_retries: 0\n  stream_timeout: 30"), ENV)
    openai_mock.stall_next(8, after_events=2)
    stream = read_stream(gw, "/v1/chat/completions", {
        "model": "gpt", "stream": True, "messages": [{"role": "user", "content": "stall"}]})
    assert stream.status == 200
    # The provider sent its two chunks at once: the silence began at most when the
    # client read the second one, and at the earliest when the request went out.
    last_chunk_at = stream.events[1][0]
    error_at, error = stream.first_error()
    assert error_at >= 2.0, f"cut after {error_at:.2f}s (stream_timeout: 2)"
    assert error_at - last_chunk_at < 2.0 + SLACK, f"cut {error_at - last_chunk_at:.2f}s after the last chunk"
    assert error["error"]["type"] == "timeout_error", error
    assert "stream_timeout" in error["error"]["message"] and "dep-st" in error["error"]["message"]
    data = stream.data()
    assert data[-1] == "[DONE]" and "error" in json.loads(data[-2]), data
    assert len(data) == 4, f"2 chunks, the error, [DONE]: {data}"
    # Envoy cannot end a response whose provider is silent, only reset it: the
    # client sees the error event, [DONE], then the connection closed mid-body.
    assert not stream.clean_end
    assert stream.ended < 2.0 + 3.0, f"the connection stayed open {stream.ended:.2f}s"

    # The OpenAI SDK raises on the error event.
    client = openai.OpenAI(base_url=gw.url("/v1"), api_key="unused", max_retries=0)
    openai_mock.stall_next(8, after_events=2)
    started = time.monotonic()
    got = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in client.chat.completions.create(
                model="gpt", stream=True, messages=[{"role": "user", "content": "stall"}]):
            got.append(chunk)
    assert "stream_timeout" in raised.value.message
    assert len(got) == 2 and time.monotonic() - started < 2.0 + SLACK + 1.0


def test_a_stalled_messages_stream_ends_with_anthropics_error_event(
        gateway_factory: GatewayFactory, anthropic_mock: AnthropicMock) -> None:
    gw = gateway_factory(config([anthropic_dep("claude", anthropic_mock, "dep-c", stream_timeout=1)],
                                "  num_retries: 0"), ENV)
    anthropic_mock.stall_next(6, after_events=3)
    stream = read_stream(gw, "/v1/messages", {
        "model": "claude", "max_tokens": 50, "stream": True,
        "messages": [{"role": "user", "content": "stall"}]})
    assert stream.status == 200
    kinds = [e for _, e, _ in stream.events]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"], kinds
    assert kinds[-1] == "error", kinds
    body = json.loads(stream.events[-1][2])
    assert body["type"] == "error" and body["error"]["type"] == "timeout_error", body
    error_at = stream.events[-1][0]
    assert error_at >= 1.0, f"cut after {error_at:.2f}s (stream_timeout: 1)"
    assert error_at - stream.events[-2][0] < 1.0 + SLACK, f"{error_at - stream.events[-2][0]:.2f}s"

    client = anthropic.Anthropic(base_url=gw.url(""), api_key="unused", max_retries=0)
    anthropic_mock.stall_next(6, after_events=3)
    with pytest.raises(anthropic.APIError) as raised:
        with client.messages.stream(model="claude", max_tokens=50,
                                    messages=[{"role": "user", "content": "stall"}]) as s:
            for _ in s:
                pass
    assert "stream_timeout" in str(raised.value)


def test_a_stream_that_keeps_talking_is_never_cut(
        gateway_factory: GatewayFactory, openai_mock: OpenAIMock) -> None:
    # stream_timeout 1 s and timeout 1 s; chunks every 0.4 s for about 6 s.
    words = " ".join(f"w{i}" for i in range(30))
    gw = gateway_factory(config([openai_dep("gpt", openai_mock, "dep", stream_timeout=1, timeout=1)],
                                "  num_retries: 0"), ENV)
    openai_mock.reply_text = words
    openai_mock.slow_stream(0.4)
    stream = read_stream(gw, "/v1/chat/completions", {
        "model": "gpt", "stream": True, "messages": [{"role": "user", "content": "long"}]})
    assert stream.status == 200
    assert stream.clean_end, stream.data()[-3:]
    assert stream.data()[-1] == "[DONE]"
    assert not any("error" in json.loads(d) for d in stream.data()[:-1])
    text = "".join(json.loads(d)["choices"][0]["delta"].get("content") or ""
                   for d in stream.data()[:-1] if json.loads(d).get("choices"))
    assert text == words
    assert stream.ended >= 5.0, f"lasted {stream.ended:.2f}s, not several times stream_timeout"
    # The stream-route marker stays inside the gateway.
    assert not any(h.startswith("x-switchyard-") for h in openai_mock.last_request.headers)


def test_a_fallback_streams_silence_is_bounded_by_its_own_deployment(
        gateway_factory: GatewayFactory, anthropic_mock: AnthropicMock,
        openai_mock: OpenAIMock) -> None:
    # gpt (stream_timeout 1) fails; the stream comes from claude (stream_timeout 4),
    # which pauses 2 s midway: its own limit applies, so it is not cut.
    gw = gateway_factory(config(
        [openai_dep("gpt", openai_mock, "dep-gpt", stream_timeout=1),
         anthropic_dep("claude", anthropic_mock, "dep-claude", stream_timeout=4)],
        '  num_retries: 0\n  fallbacks: [{"gpt": ["claude"]}]'), ENV)
    openai_mock.fail_next(1, 500)
    anthropic_mock.stall_next(2, after_events=3)
    stream = read_stream(gw, "/v1/chat/completions", {
        "model": "gpt", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    assert stream.status == 200
    assert stream.clean_end and stream.data()[-1] == "[DONE]", stream.data()
    assert not any("error" in json.loads(d) for d in stream.data()[:-1]), stream.data()
    assert stream.ended >= 2.0


def test_a_stream_whose_body_ends_late_keeps_its_last_chunks(
        gateway_factory: GatewayFactory) -> None:
    # Every event arrives, then the end of the body 0.5 s later. Gemini's stream has
    # no end event: the usage chunk and [DONE] are written when the body ends, and
    # must still reach the client. (Once a stream was held, Envoy gives the filter
    # its buffered body; a last chunk passed on without a hold of its own was lost.)
    with GeminiMock(api_key=GEMINI_KEY, models=["gemini-2.5-flash"]) as gemini:
        gw = gateway_factory(config([f"""
  - model_name: flash
    litellm_params: {{model: gemini/gemini-2.5-flash, api_base: "{gemini.root_url}", api_key: os.environ/GEMINI_KEY}}"""],
            "  num_retries: 0"), {"GEMINI_KEY": GEMINI_KEY})
        gemini.stall_next(0.5, after_events=10_000)
        stream = read_stream(gw, "/v1/chat/completions", {
            "model": "flash", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "late end"}]})
    assert stream.status == 200
    assert stream.clean_end, stream.data()
    data = stream.data()
    assert data[-1] == "[DONE]", data
    usage = json.loads(data[-2])
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0, usage
    assert stream.ended >= 0.5
