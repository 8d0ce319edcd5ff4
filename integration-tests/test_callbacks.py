"""The logging callbacks (``litellm_settings.success_callback`` / ``failure_callback`` /
``callbacks``): Langfuse's ingestion API, OTLP/HTTP JSON (``otel``, ``langfuse_otel``)
and LiteLLM's generic logger (``generic_api``), against strict mocks
(``mocks/langfuse.py``, ``mocks/otlp.py``, the ``WebhookMock`` here).

Which request reached which collector is checked by polling the mocks (the filter
sends from the router stage's root-context tick, off the request path). A dead
(port closed) or slow collector must never fail an LLM request: those tests assert
success, not timing (``bench/bench.py`` measures the cost).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from typing import Any

import pytest

import harness
from harness import open_stream, iter_sse, request_json, wait_for
from mocks import ANTHROPIC_KEY, OPENAI_KEY
from mocks.base import JsonResponse, MockProvider, RecordedRequest
from mocks.langfuse import INGESTION_PATH, LangfuseMock, validate_event
from mocks.otlp import OtlpMock, span_attributes, validate_export

PUBLIC, SECRET = "pk-lf-test", "sk-lf-test"
CHAT = {"model": "gpt", "messages": [{"role": "user", "content": "tell me a secret"}]}


class WebhookMock(MockProvider):
    """LiteLLM's generic logger's receiver: ``POST /hook`` with ``x-api-key``, a JSON
    array of logging payloads; keeps them in :attr:`payloads`."""

    name = "webhook"

    def __init__(self, api_key: str = "hook-key") -> None:
        super().__init__()
        self.api_key = api_key
        self._payloads: list[Any] = []
        self._payload_lock = threading.Lock()

    @property
    def payloads(self) -> list[Any]:
        with self._payload_lock:
            return list(self._payloads)

    def handle(self, req: RecordedRequest) -> JsonResponse:
        if (req.method, req.path) != ("POST", "/hook"):
            return JsonResponse(404, {"error": "not found"})
        if req.header("x-api-key") != self.api_key:
            return JsonResponse(401, {"error": "bad key"})
        if req.header("content-type") != "application/json" or not isinstance(req.json, list):
            return JsonResponse(400, {"error": "expected a JSON array"})
        with self._payload_lock:
            self._payloads.extend(req.json)
        return JsonResponse(200, {"ok": True})

    def error_body(self, status: int) -> Any:
        return {"error": status}

    def stream_error_event(self, body: Any) -> bytes:
        return b""


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(openai_mock: Any, settings: str) -> str:
    return f"""
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {openai_mock.base_url}
      api_key: os.environ/OPENAI_API_KEY
litellm_settings:
{settings}
"""


def langfuse_env(host: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": OPENAI_KEY, "LANGFUSE_PUBLIC_KEY": PUBLIC,
            "LANGFUSE_SECRET_KEY": SECRET, "LANGFUSE_HOST": host}


# ----------------------------------------------------------------------------------
# The mocks themselves (no gateway): strict both ways.
# ----------------------------------------------------------------------------------

#: A batch as the filter writes it (`observe::callbacks::langfuse`'s unit test).
GOOD_BATCH = {"batch": [
    {"id": "c1-trace", "timestamp": "2026-12-07T12:52:17.000Z", "type": "trace-create",
     "body": {"id": "c1", "timestamp": "2026-12-07T12:52:16.000Z", "name": "litellm-acompletion",
              "userId": "u", "tags": []}},
    {"id": "c1-generation", "timestamp": "2026-12-07T12:52:17.000Z", "type": "generation-create",
     "body": {"id": "c1", "traceId": "c1", "name": "litellm-acompletion",
              "startTime": "2026-12-07T12:52:16.000Z", "endTime": "2026-12-07T12:52:17.000Z",
              "completionStartTime": "2026-12-07T12:52:16.250Z", "model": "gpt-4o",
              "modelParameters": {"temperature": 0.2, "max_tokens": 5},
              "usage": {"input": 8, "output": 7, "total": 18, "unit": "TOKENS"},
              "usageDetails": {"input": 8, "output": 7, "total": 18},
              "costDetails": {"total": 0.00042}, "level": "DEFAULT", "metadata": {"a": 1}}},
]}


def _post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    status, _, parsed = request_json("POST", url, body, headers=headers)
    return status, parsed


def test_langfuse_mock_takes_the_filters_batch_and_refuses_anything_else() -> None:
    auth = "Basic " + base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()
    with LangfuseMock(PUBLIC, SECRET) as lf:
        url = lf.root_url + INGESTION_PATH
        status, body = _post(url, GOOD_BATCH, {"Authorization": auth})
        assert status == 207 and body["errors"] == [], body
        assert [e["type"] for e in lf.events] == ["trace-create", "generation-create"]
        assert _post(url, GOOD_BATCH, {"Authorization": "Basic " + base64.b64encode(b"pk:wrong").decode()})[0] == 401
        assert _post(url, {"events": []}, {"Authorization": auth})[0] == 400
        generation = GOOD_BATCH["batch"][1]
        for bad in [
            dict(generation, extra=1),
            dict(generation, type="span-create"),
            dict(generation, timestamp="yesterday"),
            dict(generation, body=dict(generation["body"], level="FATAL")),
            dict(generation, body=dict(generation["body"], usage={"input": 1.5, "unit": "TOKENS"})),
            dict(generation, body=dict(generation["body"], usage={"input": 1, "unit": "WORDS"})),
            dict(generation, body=dict(generation["body"], promptTokens=3)),
            dict(generation, body=dict(generation["body"], startTime=1796647936)),
            dict(generation, body=dict(generation["body"], costDetails={"total": "0.1"})),
            dict(generation, body={k: v for k, v in generation["body"].items() if k != "id"}),
        ]:
            with pytest.raises(ValueError):
                validate_event(bad)
        status, body = _post(url, {"batch": [GOOD_BATCH["batch"][0], dict(generation, extra=1)]},
                             {"Authorization": auth})
        assert status == 207 and len(body["successes"]) == 1 and len(body["errors"]) == 1, body


#: An export as the filter writes it (`observe::callbacks::otlp`).
GOOD_EXPORT = {"resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "litellm"}}]},
    "scopeSpans": [{"scope": {"name": "switchyard"}, "spans": [{
        "traceId": "0d2f6a1c9b3e4c5d8e7fa1b2c3d4e5f6", "spanId": "1a2b3c4d5e6f7081",
        "name": "litellm_request", "kind": 3,
        "startTimeUnixNano": "1796647936000000000", "endTimeUnixNano": "1796647937000000000",
        "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "11"}},
                       {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.2}}],
        "status": {"code": 1}}]}]}]}


def test_otlp_mock_takes_otlp_json_and_refuses_protobufs_default_mapping() -> None:
    with OtlpMock(required_headers={"x-api-key": "k"}) as otlp:
        url = otlp.root_url + "/v1/traces"
        assert _post(url, GOOD_EXPORT, {"x-api-key": "k"}) == (200, {"partialSuccess": {}})
        assert span_attributes(otlp.spans[0])["gen_ai.usage.input_tokens"] == 11
        assert _post(url, GOOD_EXPORT, {})[0] == 401
        span = GOOD_EXPORT["resourceSpans"][0]["scopeSpans"][0]["spans"][0]

        def export(**changes: Any) -> dict[str, Any]:
            return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [dict(span, **changes)]}]}]}

        for bad in [
            export(traceId=base64.b64encode(bytes.fromhex(span["traceId"])).decode()),  # base64, not hex
            export(spanId="0" * 16),
            export(startTimeUnixNano=1796647936000000000),  # a number, not a string
            export(endTimeUnixNano="1"),  # ends before it starts
            export(kind="SPAN_KIND_CLIENT"),
            export(attributes=[{"key": "a", "value": {"intValue": 3}}]),
            export(attributes=[{"key": "a", "value": {"stringValue": "x", "boolValue": True}}]),
            export(trace_id=span["traceId"]),
            export(status={"code": 3}),
        ]:
            with pytest.raises(ValueError):
                validate_export(bad)
        assert _post(url, export(kind="CLIENT"), {"x-api-key": "k"})[0] == 400
        status, _, _ = request_json("POST", url, json.dumps(GOOD_EXPORT),
                                    headers={"x-api-key": "k", "Content-Type": "application/x-protobuf"})
        assert status == 415


# ----------------------------------------------------------------------------------
# The gateway: a dead or slow collector never fails a request.
# ----------------------------------------------------------------------------------

def _chat_and_stream(gw: harness.Gateway) -> None:
    for _ in range(5):
        status, _, body = request_json("POST", gw.url("/v1/chat/completions"), CHAT)
        assert status == 200, body
        assert body["choices"][0]["message"]["content"].startswith("Hello from")
    with open_stream("POST", gw.url("/v1/chat/completions"), dict(CHAT, stream=True)) as resp:
        assert resp.status == 200
        events = [e.data for e in iter_sse(resp)]
    assert events[-1] == "[DONE]"


def test_requests_succeed_with_every_collector_dead(gateway_factory, openai_mock) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    env = dict(langfuse_env(dead), OTEL_EXPORTER="otlp_http", OTEL_ENDPOINT=dead,
               GENERIC_LOGGER_ENDPOINT=dead + "/hook")
    gw = gateway_factory(config(openai_mock, "  success_callback: [langfuse, generic_api]\n"
                                             "  failure_callback: [langfuse]\n"
                                             "  callbacks: [otel, langfuse_otel]\n"), env=env)
    _chat_and_stream(gw)
    openai_mock.fail_next(1, 500)
    status, _, _ = request_json("POST", gw.url("/v1/chat/completions"), dict(CHAT, model="gpt"))
    assert status in (200, 500)  # retried by the router, or the provider's error: never the collector's


def test_requests_succeed_with_a_slow_collector(gateway_factory, openai_mock) -> None:
    with LangfuseMock(PUBLIC, SECRET) as lf:
        lf.delay_next(30.0, n=None)  # longer than the callouts' 5 s timeout
        gw = gateway_factory(config(openai_mock, "  callbacks: [langfuse]\n"),
                             env=langfuse_env(lf.root_url))
        _chat_and_stream(gw)


def test_a_callback_without_its_credentials_is_warned_and_sends_nothing(gateway_factory, openai_mock) -> None:
    # LiteLLM starts without Langfuse's keys too; Switchyard says so and sends nothing.
    gw = gateway_factory(config(openai_mock, "  success_callback: [langfuse]\n"),
                         env={"OPENAI_API_KEY": OPENAI_KEY, "LANGFUSE_PUBLIC_KEY": None,
                              "LANGFUSE_SECRET_KEY": None})
    assert "litellm_settings.success_callback: langfuse needs LANGFUSE_PUBLIC_KEY" in gw.render_output
    assert "callback_langfuse" not in gw.envoy_yaml.read_text()
    assert request_json("POST", gw.url("/v1/chat/completions"), CHAT)[0] == 200


# ----------------------------------------------------------------------------------
# What each collector receives (once the request record reaches the observers).
# ----------------------------------------------------------------------------------

def test_langfuse_gets_one_trace_and_one_generation_per_request(gateway_factory, openai_mock) -> None:
    with LangfuseMock(PUBLIC, SECRET) as lf:
        gw = gateway_factory(config(openai_mock, "  success_callback: [langfuse]\n"
                                                 "  failure_callback: [langfuse]\n"),
                             env=langfuse_env(lf.root_url))
        status, headers, _ = request_json("POST", gw.url("/v1/chat/completions"),
                                          dict(CHAT, metadata={"trace_name": "support", "session_id": "s-1",
                                                               "tags": ["prod"]}))
        assert status == 200
        with open_stream("POST", gw.url("/v1/chat/completions"),
                         dict(CHAT, stream=True, stream_options={"include_usage": True})) as resp:
            list(iter_sse(resp))
        openai_mock.fail_next(1, 400)
        status, _, _ = request_json("POST", gw.url("/v1/chat/completions"), CHAT)
        assert status == 400
        wait_for(lambda: len(lf.events_of("generation-create")) >= 3, timeout=15, what="three generations")
        assert lf.invalid == []
        traces, generations = lf.events_of("trace-create"), lf.events_of("generation-create")
        assert len(traces) == len(generations) == 3
        assert len({g["id"] for g in generations}) == 3, "one generation per request"
        ok, streamed, failed = generations
        assert ok["id"] == headers.get("x-litellm-call-id", ok["id"])
        assert traces[0]["name"] == "support" and traces[0]["sessionId"] == "s-1"
        assert traces[0]["tags"] == ["prod"]
        for g in (ok, streamed):
            assert g["level"] == "DEFAULT"
            assert g["model"] == "gpt-4o-mini"
            assert g["usage"]["unit"] == "TOKENS"
            assert g["usage"]["input"] > 0 and g["usage"]["output"] > 0
            assert g["usage"]["total"] == g["usage"]["input"] + g["usage"]["output"]
        assert streamed.get("completionStartTime")
        assert failed["level"] == "ERROR" and failed["statusMessage"]
        request = lf.requests[-1]
        assert request.header("authorization") == "Basic " + base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()


def test_success_only_callbacks_skip_failures(gateway_factory, openai_mock) -> None:
    with LangfuseMock(PUBLIC, SECRET) as lf:
        gw = gateway_factory(config(openai_mock, "  success_callback: [langfuse]\n"),
                             env=langfuse_env(lf.root_url))
        openai_mock.fail_next(1, 400)
        assert request_json("POST", gw.url("/v1/chat/completions"), CHAT)[0] == 400
        assert request_json("POST", gw.url("/v1/chat/completions"), CHAT)[0] == 200
        wait_for(lambda: lf.events_of("generation-create"), timeout=15, what="a generation")
        assert [g["level"] for g in lf.events_of("generation-create")] == ["DEFAULT"]


def test_otel_spans_carry_the_genai_attributes(gateway_factory, openai_mock) -> None:
    with OtlpMock(required_headers={"x-collector-key": "otel-secret"}) as otlp:
        gw = gateway_factory(config(openai_mock, "  callbacks: [otel]\n"),
                             env={"OPENAI_API_KEY": OPENAI_KEY, "OTEL_EXPORTER": "otlp_http",
                                  "OTEL_ENDPOINT": otlp.root_url, "OTEL_HEADERS": "x-collector-key=otel-secret"})
        assert request_json("POST", gw.url("/v1/chat/completions"), dict(CHAT, max_tokens=20, temperature=0.5))[0] == 200
        wait_for(lambda: otlp.spans, timeout=15, what="a span")
        assert otlp.rejections == []
        span = otlp.spans[0]
        attrs = span_attributes(span)
        assert span["name"] == "litellm_request" and span["status"]["code"] == 1
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == "openai"
        assert attrs["gen_ai.request.model"] == "gpt"
        assert attrs["gen_ai.response.model"] == "gpt-4o-mini"
        assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
        assert attrs["gen_ai.request.max_tokens"] == 20
        assert {"key": "service.name", "value": {"stringValue": "litellm"}} in span["resource"]
        assert "otel-secret" not in gw.envoy_yaml.read_text()


def test_langfuse_otel_posts_spans_to_langfuse(gateway_factory, openai_mock) -> None:
    with LangfuseMock(PUBLIC, SECRET) as lf:
        gw = gateway_factory(config(openai_mock, "  callbacks: [langfuse_otel]\n"),
                             env=langfuse_env(lf.root_url))
        assert request_json("POST", gw.url("/v1/chat/completions"), CHAT)[0] == 200
        wait_for(lambda: lf.otel, timeout=15, what="a span at Langfuse")
        assert lf.otel_rejections == []
        assert lf.requests[-1].header("x-langfuse-ingestion-version") == "4"


def test_generic_api_posts_litellms_logging_payload(gateway_factory, openai_mock) -> None:
    with WebhookMock() as hook:
        gw = gateway_factory(config(openai_mock, "  callbacks: [generic_api]\n"),
                             env={"OPENAI_API_KEY": OPENAI_KEY,
                                  "GENERIC_LOGGER_ENDPOINT": hook.root_url + "/hook",
                                  "GENERIC_LOGGER_HEADERS": "x-api-key=hook-key"})
        assert request_json("POST", gw.url("/v1/chat/completions"), CHAT)[0] == 200
        wait_for(lambda: hook.payloads, timeout=15, what="a payload")
        p = hook.payloads[0]
        assert p["status"] == "success" and p["call_type"] == "acompletion"
        assert p["model"] == "gpt-4o-mini" and p["custom_llm_provider"] == "openai"
        assert p["total_tokens"] == p["prompt_tokens"] + p["completion_tokens"] > 0
        assert p["startTime"] <= p["endTime"]


def test_no_content_with_turn_off_message_logging(gateway_factory, openai_mock) -> None:
    with LangfuseMock(PUBLIC, SECRET) as lf, WebhookMock() as hook:
        gw = gateway_factory(config(openai_mock, "  callbacks: [langfuse, generic_api]\n"
                                                 "  turn_off_message_logging: true\n"),
                             env=dict(langfuse_env(lf.root_url),
                                      GENERIC_LOGGER_ENDPOINT=hook.root_url + "/hook",
                                      GENERIC_LOGGER_HEADERS="x-api-key=hook-key"))
        assert request_json("POST", gw.url("/v1/chat/completions"), CHAT)[0] == 200
        wait_for(lambda: lf.events_of("generation-create") and hook.payloads, timeout=15, what="both")
        everything = json.dumps(lf.events) + json.dumps(hook.payloads)
        assert "tell me a secret" not in everything
        assert "Hello from" not in everything


# ----------------------------------------------------------------------------------
# The answer's content: what the client got, whole or streamed, in each format.
# ----------------------------------------------------------------------------------

def content_gateway(gateway_factory, openai_mock, anthropic_mock, lf, otlp, hook):
    """A gateway with an OpenAI group ``gpt`` and an Anthropic group ``claude`` whose
    successes go to Langfuse, OTLP and the webhook, message logging on."""
    text = f"""
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {openai_mock.base_url}
      api_key: os.environ/OPENAI_API_KEY
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {anthropic_mock.root_url}
      api_key: os.environ/ANTHROPIC_API_KEY
litellm_settings:
  success_callback: [langfuse, generic_api, otel]
"""
    env = dict(langfuse_env(lf.root_url), ANTHROPIC_API_KEY=ANTHROPIC_KEY,
               OTEL_EXPORTER="otlp_http", OTEL_ENDPOINT=otlp.root_url,
               GENERIC_LOGGER_ENDPOINT=hook.root_url + "/hook",
               GENERIC_LOGGER_HEADERS="x-api-key=hook-key")
    return gateway_factory(text, env=env)


def collected(lf, otlp, hook, n: int) -> list[tuple[Any, Any, Any]]:
    """The answers the three collectors got for the first ``n`` requests, in order:
    (Langfuse generation output, OTLP ``gen_ai.output.messages``, webhook ``response``),
    matched by call id."""
    wait_for(lambda: len(lf.events_of("generation-create")) >= n and len(otlp.spans) >= n
             and len(hook.payloads) >= n, timeout=20, what=f"{n} events at each collector")
    assert lf.invalid == [] and otlp.rejections == []
    spans = {span_attributes(s)["litellm.call_id"]: span_attributes(s) for s in otlp.spans}
    hooks = {p["litellm_call_id"]: p for p in hook.payloads}
    out = []
    for g in lf.events_of("generation-create")[:n]:
        messages = spans[g["id"]].get("gen_ai.output.messages")
        out.append((g.get("output"), json.loads(messages) if messages else None,
                    hooks[g["id"]]["response"]))
    return out


def test_the_collectors_get_exactly_the_answer_whole_and_streamed(
        gateway_factory, openai_mock, anthropic_mock) -> None:
    with LangfuseMock(PUBLIC, SECRET) as lf, OtlpMock() as otlp, WebhookMock() as hook:
        gw = content_gateway(gateway_factory, openai_mock, anthropic_mock, lf, otlp, hook)
        openai_mock.reply_text = "The capital of France is Paris, \"naturally\" — é."
        status, _, body = request_json("POST", gw.url("/v1/chat/completions"), CHAT)
        assert status == 200
        whole = body["choices"][0]["message"]["content"]
        openai_mock.reply_text = "Streamed: one, two, three, four, five, six."
        openai_mock.split_events = True  # every event cut across writes
        with open_stream("POST", gw.url("/v1/chat/completions"), dict(CHAT, stream=True)) as resp:
            deltas = [json.loads(e.data) for e in iter_sse(resp) if e.data != "[DONE]"]
        openai_mock.split_events = False
        streamed = "".join(d["choices"][0]["delta"].get("content") or ""
                           for d in deltas if d["choices"])
        assert len(deltas) > 4 and streamed == openai_mock.reply_text
        got = collected(lf, otlp, hook, 2)
        for (output, messages, response), text in zip(got, [whole, streamed]):
            assert output == {"role": "assistant", "content": text}
            assert messages == [{"role": "assistant", "finish_reason": "stop",
                                 "parts": [{"type": "text", "content": text}]}]
            assert response["choices"][0]["message"] == {"role": "assistant", "content": text}
            assert response["choices"][0]["finish_reason"] == "stop"


def test_the_collectors_get_the_tool_calls(gateway_factory, openai_mock, anthropic_mock) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    with LangfuseMock(PUBLIC, SECRET) as lf, OtlpMock() as otlp, WebhookMock() as hook:
        gw = content_gateway(gateway_factory, openai_mock, anthropic_mock, lf, otlp, hook)
        openai_mock.tool_args = {"city": "Paris"}
        status, _, body = request_json("POST", gw.url("/v1/chat/completions"), dict(CHAT, tools=tools))
        assert status == 200
        call = body["choices"][0]["message"]["tool_calls"][0]
        with open_stream("POST", gw.url("/v1/chat/completions"),
                         dict(CHAT, tools=tools, stream=True)) as resp:
            list(iter_sse(resp))
        for output, messages, response in collected(lf, otlp, hook, 2):
            (got,) = output["tool_calls"]
            assert got["function"] == {"name": "get_weather", "arguments": call["function"]["arguments"]}
            assert got["id"].startswith("call_")
            assert output["content"] is None
            assert response["choices"][0]["message"] == output
            assert response["choices"][0]["finish_reason"] == "tool_calls"
            (part,) = messages[0]["parts"]
            assert part == {"type": "tool_call", "id": got["id"], "name": "get_weather",
                            "arguments": {"city": "Paris"}}
            assert messages[0]["finish_reason"] == "tool_call"


@pytest.mark.parametrize("model", ["claude", "gpt"])
def test_the_collectors_get_the_anthropic_answer_on_v1_messages(
        gateway_factory, openai_mock, anthropic_mock, model) -> None:
    # `claude` answers natively; `gpt`'s OpenAI answer is translated to Anthropic's
    # shape by the upstream stage: the collectors get what the client got either way.
    with LangfuseMock(PUBLIC, SECRET) as lf, OtlpMock() as otlp, WebhookMock() as hook:
        gw = content_gateway(gateway_factory, openai_mock, anthropic_mock, lf, otlp, hook)
        for mock in (openai_mock, anthropic_mock):
            mock.reply_text = "Bonjour: a, b, c, d, e, f, g."
        ask = {"model": model, "max_tokens": 100,
               "messages": [{"role": "user", "content": "say hello"}]}
        headers = {"x-api-key": "anything", "anthropic-version": "2023-06-01"}
        status, _, body = request_json("POST", gw.url("/v1/messages"), ask, headers=headers)
        assert status == 200, body
        whole = "".join(b["text"] for b in body["content"] if b["type"] == "text")
        with open_stream("POST", gw.url("/v1/messages"), dict(ask, stream=True),
                         headers=headers) as resp:
            events = [json.loads(e.data) for e in iter_sse(resp)]
        streamed = "".join(e["delta"].get("text", "") for e in events
                           if e["type"] == "content_block_delta")
        assert whole == streamed == "Bonjour: a, b, c, d, e, f, g."
        for output, messages, response in collected(lf, otlp, hook, 2):
            assert output == {"role": "assistant", "content": whole}
            assert messages[0]["parts"] == [{"type": "text", "content": whole}]
            assert messages[0]["finish_reason"] == "stop"
            assert response["choices"][0]["message"]["content"] == whole


def test_no_content_with_turn_off_message_logging_streamed_or_not(
        gateway_factory, openai_mock, anthropic_mock) -> None:
    with LangfuseMock(PUBLIC, SECRET) as lf, OtlpMock() as otlp, WebhookMock() as hook:
        text = config(openai_mock, "  callbacks: [langfuse, generic_api, otel]\n"
                                   "  turn_off_message_logging: true\n")
        gw = gateway_factory(text, env=dict(langfuse_env(lf.root_url),
                                            OTEL_EXPORTER="otlp_http", OTEL_ENDPOINT=otlp.root_url,
                                            GENERIC_LOGGER_ENDPOINT=hook.root_url + "/hook",
                                            GENERIC_LOGGER_HEADERS="x-api-key=hook-key"))
        openai_mock.reply_text = "a private answer"
        assert request_json("POST", gw.url("/v1/chat/completions"), CHAT)[0] == 200
        with open_stream("POST", gw.url("/v1/chat/completions"), dict(CHAT, stream=True)) as resp:
            assert "private" in "".join(e.data for e in iter_sse(resp))
        got = collected(lf, otlp, hook, 2)
        assert got == [(None, None, None)] * 2
        everything = json.dumps(lf.events) + json.dumps(otlp.spans) + json.dumps(hook.payloads)
        assert "private" not in everything and "tell me a secret" not in everything


def test_callbacks_work_with_virtual_keys(tmp_path, openai_mock) -> None:
    master = "sk-master-callbacks"
    with LangfuseMock(PUBLIC, SECRET) as lf:
        text = config(openai_mock, "  callbacks: [langfuse]\n") + "general_settings:\n  master_key: os.environ/TEST_MASTER\n"
        env = dict(langfuse_env(lf.root_url), TEST_MASTER=master)
        with harness.keyed_gateway(text, env, tmp_path, master=master) as (gw, _ks):
            status, _, _ = request_json("POST", gw.url("/v1/chat/completions"), CHAT,
                                        headers={"Authorization": f"Bearer {master}"})
            assert status == 200
            wait_for(lambda: lf.events_of("generation-create"), timeout=15, what="a generation")
            assert lf.invalid == []
