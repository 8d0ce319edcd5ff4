"""Tests of the mock providers themselves, over plain HTTP (no gateway).

They pin down that each mock speaks its provider's native API — and refuses
what the real provider refuses, with the provider's own error body — so that a
gateway test failing against a mock means the gateway is wrong. They also
check the fault switches, and run the official ``openai`` SDK against the
OpenAI and Azure mocks as a wire-compatibility check.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import struct
import time
import urllib.error
from typing import Any

import openai
import pytest

from harness import SSEEvent, iter_sse, open_stream, request_json
from mocks import (
    ANTHROPIC_KEY,
    AZURE_API_VERSION,
    AZURE_DEPLOYMENTS,
    AZURE_KEY,
    OPENAI_KEY,
    AnthropicMock,
    AzureMock,
    MockProvider,
    OpenAIMock,
)
from mocks import DEFAULT_TOOL_ARGS

AZURE_VERSION = AZURE_API_VERSION
OPENAI_AUTH = {"Authorization": f"Bearer {OPENAI_KEY}"}
AZURE_AUTH = {"api-key": AZURE_KEY}
ANTHROPIC_AUTH = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}

WEATHER_TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                       "required": ["location"]},
    },
}
WEATHER_TOOL_ANTHROPIC = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                     "required": ["location"]},
}


def chat_body(text: str = "hi there", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def messages_body(text: str = "hi there", **extra: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "max_tokens": 256,
            "messages": [{"role": "user", "content": text}], **extra}


def azure_url(mock: AzureMock, deployment: str = "gpt-4o-deploy",
              operation: str = "chat/completions", version: str | None = AZURE_VERSION) -> str:
    url = f"{mock.root_url}/openai/deployments/{deployment}/{operation}"
    return url + (f"?api-version={version}" if version else "")


def read_events(url: str, body: Any, headers: dict[str, str]) -> list[SSEEvent]:
    with open_stream("POST", url, body, headers) as resp:
        assert resp.status == 200, resp.read()
        assert resp.getheader("Transfer-Encoding") == "chunked"
        assert resp.getheader("Content-Type", "").startswith("text/event-stream")
        return list(iter_sse(resp))


def openai_chunks(events: list[SSEEvent]) -> list[dict[str, Any]]:
    assert events[-1].data == "[DONE]"
    return [e.json() for e in events[:-1]]


# ======================================================================================
# OpenAI
# ======================================================================================


class TestOpenAIMock:
    def test_chat_completion(self, openai_mock: OpenAIMock) -> None:
        status, headers, body = request_json(
            "POST", f"{openai_mock.base_url}/chat/completions",
            chat_body(user="u-1", temperature=0.2), OPENAI_AUTH)
        assert status == 200, body
        assert headers["content-type"] == "application/json"
        assert body["object"] == "chat.completion"
        assert body["model"] == "gpt-4o-mini"
        assert body["id"].startswith("chatcmpl-")
        choice = body["choices"][0]
        assert choice["message"] == {"role": "assistant",
                                     "content": "Hello from openai mock: hi there",
                                     "refusal": None, "annotations": []}
        assert choice["finish_reason"] == "stop"
        usage = body["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        req = openai_mock.last_request
        assert (req.method, req.path) == ("POST", "/v1/chat/completions")
        assert req.header("Authorization") == f"Bearer {OPENAI_KEY}"
        assert req.json["user"] == "u-1"
        assert req.status == 200

    def test_missing_auth(self, openai_mock: OpenAIMock) -> None:
        status, _, body = request_json("POST", f"{openai_mock.base_url}/chat/completions",
                                       chat_body())
        assert status == 401
        assert body["error"]["message"].startswith("You didn't provide an API key.")
        assert body["error"]["type"] == "invalid_request_error"
        assert body["error"]["code"] is None

    @pytest.mark.parametrize("headers", [
        {"Authorization": "Bearer sk-wrong-key-123"},
        {"Authorization": OPENAI_KEY},  # no Bearer scheme
        {"x-api-key": OPENAI_KEY},  # Anthropic style
        {"api-key": OPENAI_KEY},  # Azure style
    ])
    def test_wrong_auth_styles(self, openai_mock: OpenAIMock, headers: dict[str, str]) -> None:
        status, _, body = request_json("POST", f"{openai_mock.base_url}/chat/completions",
                                       chat_body(), headers)
        assert status == 401
        assert set(body["error"]) == {"message", "type", "param", "code"}

    @pytest.mark.parametrize("method,path", [
        ("POST", "/chat/completions"),  # missing /v1 prefix
        ("POST", "/v1/messages"),
        ("GET", "/v1/chat/completions"),
        ("POST", "/openai/deployments/x/chat/completions"),
    ])
    def test_wrong_path_or_method(self, openai_mock: OpenAIMock, method: str,
                                  path: str) -> None:
        status, _, body = request_json(method, openai_mock.root_url + path,
                                       chat_body() if method == "POST" else None, OPENAI_AUTH)
        assert status == 404
        assert body["error"]["message"] == f"Invalid URL ({method} {path})"
        assert body["error"]["type"] == "invalid_request_error"

    @pytest.mark.parametrize("body,param,fragment", [
        ({"messages": [{"role": "user", "content": "x"}]}, None,
         "you must provide a model parameter"),
        ({"model": "m"}, "messages", "Missing required parameter: 'messages'."),
        ({"model": "m", "messages": []}, "messages", "empty array"),
        (chat_body(max_tokens_to_sample=5), None,
         "Unrecognized request argument supplied: max_tokens_to_sample"),
        (chat_body(mock_response="x"), None, "Unrecognized request argument supplied"),
        ({"model": "m", "messages": [{"role": "human", "content": "x"}]}, "messages[0].role",
         "Invalid value: 'human'"),
        ({"model": "m", "messages": [{"content": "x"}]}, "messages[0].role",
         "Missing required parameter"),
        ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content",
         "Missing required parameter"),
        ({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}]}]},
         "messages.0.content.0", "Additional properties are not allowed ('cache_control'"),
        ({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image", "source": {}}]}]}, "messages[0].content[0].type",
         "Invalid value: 'image'"),
        ({"model": "m", "messages": [{"role": "tool", "tool_call_id": "c1", "content": "x"}]},
         "messages.[0].role", "must be a response to a preceeding message with 'tool_calls'"),
        ({"model": "m", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "user", "content": "y"}]},
         "messages.[1].role", "did not have response messages: c1"),
        (chat_body(stream_options={"include_usage": True}), "stream_options",
         "only allowed when 'stream' is enabled"),
        (chat_body(temperature=3), "temperature", "decimal above maximum value"),
        (chat_body(max_tokens="10"), "max_tokens", "Invalid type for 'max_tokens'"),
        (chat_body(tool_choice="auto"), "tool_choice", "only allowed when 'tools'"),
        (chat_body(tools=[{"name": "f", "input_schema": {"type": "object"}}]), "tools.0",
         "Additional properties are not allowed ('name'"),
        (chat_body(tools=[{"type": "function", "function": {"name": "bad name"}}]),
         "tools[0].function.name", "does not match pattern"),
    ])
    def test_rejects_bad_shapes(self, openai_mock: OpenAIMock, body: Any, param: str | None,
                                fragment: str) -> None:
        status, _, resp = request_json("POST", f"{openai_mock.base_url}/chat/completions", body,
                                       OPENAI_AUTH)
        assert status == 400, resp
        assert resp["error"]["type"] == "invalid_request_error"
        assert fragment in resp["error"]["message"]
        assert resp["error"]["param"] == param

    def test_invalid_json(self, openai_mock: OpenAIMock) -> None:
        status, _, resp = request_json("POST", f"{openai_mock.base_url}/chat/completions",
                                       "{not json", {**OPENAI_AUTH,
                                                     "Content-Type": "application/json"})
        assert status == 400
        assert "could not parse the JSON body" in resp["error"]["message"]

    def test_unknown_model_when_models_are_restricted(self) -> None:
        with OpenAIMock(OPENAI_KEY, models=["gpt-4o"]) as mock:
            status, _, resp = request_json("POST", f"{mock.base_url}/chat/completions",
                                           chat_body(), OPENAI_AUTH)
        assert status == 404
        assert resp["error"]["code"] == "model_not_found"

    def test_custom_path_prefix(self) -> None:
        with OpenAIMock(OPENAI_KEY, path_prefix="/openai/v1") as mock:
            assert mock.base_url.endswith("/openai/v1")
            status, _, _ = request_json("POST", f"{mock.base_url}/chat/completions",
                                        chat_body(), OPENAI_AUTH)
            assert status == 200
            status, _, _ = request_json("POST", f"{mock.root_url}/v1/chat/completions",
                                        chat_body(), OPENAI_AUTH)
            assert status == 404

    def test_stream_without_usage(self, openai_mock: OpenAIMock) -> None:
        events = read_events(f"{openai_mock.base_url}/chat/completions",
                             chat_body(stream=True), OPENAI_AUTH)
        chunks = openai_chunks(events)
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert len({c["id"] for c in chunks}) == 1
        assert all("usage" not in c for c in chunks)
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        assert text == "Hello from openai mock: hi there"
        assert len(chunks) >= 4  # role chunk, several content chunks, finish chunk
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])

    def test_stream_with_usage(self, openai_mock: OpenAIMock) -> None:
        events = read_events(f"{openai_mock.base_url}/chat/completions",
                             chat_body(stream=True, stream_options={"include_usage": True}),
                             OPENAI_AUTH)
        chunks = openai_chunks(events)
        *content, last = chunks
        assert all(c["usage"] is None for c in content)
        assert last["choices"] == []
        assert last["usage"]["completion_tokens"] == 6
        assert content[-1]["choices"][0]["finish_reason"] == "stop"

    def test_stream_is_incremental(self, openai_mock: OpenAIMock) -> None:
        openai_mock.slow_stream(0.05)
        events = read_events(f"{openai_mock.base_url}/chat/completions",
                             chat_body(stream=True), OPENAI_AUTH)
        assert events[-1].received_at - events[0].received_at >= 0.05 * (len(events) - 2)

    def test_tool_call(self, openai_mock: OpenAIMock) -> None:
        status, _, body = request_json("POST", f"{openai_mock.base_url}/chat/completions",
                                       chat_body(tools=[WEATHER_TOOL_OPENAI]), OPENAI_AUTH)
        assert status == 200
        choice = body["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        call = choice["message"]["tool_calls"][0]
        assert choice["message"]["content"] is None
        assert call["type"] == "function" and call["id"].startswith("call_")
        assert call["function"]["name"] == "get_weather"
        assert json.loads(call["function"]["arguments"]) == DEFAULT_TOOL_ARGS

    def test_tool_choice_none_answers_text(self, openai_mock: OpenAIMock) -> None:
        _, _, body = request_json("POST", f"{openai_mock.base_url}/chat/completions",
                                  chat_body(tools=[WEATHER_TOOL_OPENAI], tool_choice="none"),
                                  OPENAI_AUTH)
        assert body["choices"][0]["message"]["content"] == "Hello from openai mock: hi there"

    def test_tool_call_stream(self, openai_mock: OpenAIMock) -> None:
        events = read_events(f"{openai_mock.base_url}/chat/completions",
                             chat_body(stream=True, tools=[WEATHER_TOOL_OPENAI]), OPENAI_AUTH)
        chunks = openai_chunks(events)
        deltas = [c["choices"][0]["delta"] for c in chunks]
        first = deltas[0]["tool_calls"][0]
        assert first["index"] == 0 and first["id"].startswith("call_")
        assert first["function"] == {"name": "get_weather", "arguments": ""}
        arg_pieces = [d["tool_calls"][0]["function"]["arguments"] for d in deltas[1:]
                      if d.get("tool_calls")]
        assert len(arg_pieces) >= 2
        assert json.loads("".join(arg_pieces)) == DEFAULT_TOOL_ARGS
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"

    def test_answer_after_tool_result(self, openai_mock: OpenAIMock) -> None:
        body = {"model": "m", "tools": [WEATHER_TOOL_OPENAI], "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
        ]}
        status, _, resp = request_json("POST", f"{openai_mock.base_url}/chat/completions",
                                       body, OPENAI_AUTH)
        assert status == 200, resp
        assert resp["choices"][0]["message"]["content"] == (
            "openai mock received tool result: sunny, 21C")

    def test_max_tokens_gives_length(self, openai_mock: OpenAIMock) -> None:
        _, _, body = request_json("POST", f"{openai_mock.base_url}/chat/completions",
                                  chat_body(max_tokens=2), OPENAI_AUTH)
        assert body["choices"][0]["message"]["content"] == "Hello from"
        assert body["choices"][0]["finish_reason"] == "length"

    def test_completions(self, openai_mock: OpenAIMock) -> None:
        status, _, body = request_json("POST", f"{openai_mock.base_url}/completions",
                                       {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi",
                                        "max_tokens": 50}, OPENAI_AUTH)
        assert status == 200, body
        assert body["object"] == "text_completion"
        assert body["choices"][0]["text"] == "Hello from openai mock: Say hi"
        events = read_events(f"{openai_mock.base_url}/completions",
                             {"model": "m", "prompt": "Say hi", "max_tokens": 50,
                              "stream": True}, OPENAI_AUTH)
        chunks = openai_chunks(events)
        assert "".join(c["choices"][0]["text"] for c in chunks) == (
            "Hello from openai mock: Say hi")
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"

    def test_embeddings(self, openai_mock: OpenAIMock) -> None:
        url = f"{openai_mock.base_url}/embeddings"
        status, _, body = request_json("POST", url, {"model": "text-embedding-3-small",
                                                     "input": ["a", "b"]}, OPENAI_AUTH)
        assert status == 200, body
        assert body["object"] == "list" and len(body["data"]) == 2
        vec = body["data"][0]["embedding"]
        assert len(vec) == 8 and all(isinstance(x, float) for x in vec)
        _, _, b64 = request_json("POST", url, {"model": "m", "input": "a",
                                               "encoding_format": "base64", "dimensions": 4},
                                 OPENAI_AUTH)
        raw = base64.b64decode(b64["data"][0]["embedding"])
        assert len(struct.unpack("<4f", raw)) == 4
        status, _, err = request_json("POST", url, {"model": "m"}, OPENAI_AUTH)
        assert status == 400 and err["error"]["param"] == "input"

    def test_chunked_request_body(self, openai_mock: OpenAIMock) -> None:
        payload = json.dumps(chat_body("chunked body")).encode()
        conn = http.client.HTTPConnection("127.0.0.1", openai_mock.port, timeout=5)
        conn.putrequest("POST", "/v1/chat/completions")
        conn.putheader("Authorization", f"Bearer {OPENAI_KEY}")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for piece in (payload[:10], payload[10:]):
            conn.send(b"%X\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        assert body["choices"][0]["message"]["content"] == "Hello from openai mock: chunked body"
        assert openai_mock.last_request.chunked

    def test_keep_alive(self, openai_mock: OpenAIMock) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", openai_mock.port, timeout=5)
        for _ in range(3):
            conn.request("POST", "/v1/chat/completions", json.dumps(chat_body()),
                         {**OPENAI_AUTH, "Content-Type": "application/json"})
            resp = conn.getresponse()
            assert resp.status == 200
            resp.read()
        conn.close()
        assert openai_mock.request_count == 3

    def test_official_sdk(self, openai_mock: OpenAIMock) -> None:
        client = openai.OpenAI(api_key=OPENAI_KEY, base_url=openai_mock.base_url,
                               max_retries=0, timeout=10)
        done = client.chat.completions.create(model="gpt-4o-mini",
                                              messages=[{"role": "user", "content": "sdk"}])
        assert done.choices[0].message.content == "Hello from openai mock: sdk"
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "sdk"}], stream=True,
            stream_options={"include_usage": True})
        pieces, usage = [], None
        for chunk in stream:
            if chunk.choices:
                pieces.append(chunk.choices[0].delta.content or "")
            if chunk.usage:
                usage = chunk.usage
        assert "".join(pieces) == "Hello from openai mock: sdk"
        assert usage is not None and usage.total_tokens > 0
        emb = client.embeddings.create(model="text-embedding-3-small", input="hello")
        assert len(emb.data[0].embedding) == 8
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(api_key="sk-wrong", base_url=openai_mock.base_url, max_retries=0,
                          timeout=10).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}])


# ======================================================================================
# Azure OpenAI
# ======================================================================================


class TestAzureMock:
    def test_chat_completion(self, azure_mock: AzureMock) -> None:
        status, headers, body = request_json("POST", azure_url(azure_mock),
                                             {"messages": [{"role": "user", "content": "hey"}]},
                                             AZURE_AUTH)
        assert status == 200, body
        assert body["model"] == "gpt-4o-2024-08-06"  # the deployment's model
        assert body["choices"][0]["message"]["content"] == "Hello from azure mock: hey"
        assert "content_filter_results" in body["choices"][0]
        assert body["prompt_filter_results"][0]["prompt_index"] == 0
        assert "apim-request-id" in headers
        req = azure_mock.last_request
        assert req.path == "/openai/deployments/gpt-4o-deploy/chat/completions"
        assert req.query == {"api-version": AZURE_VERSION}

    def test_missing_api_version(self, azure_mock: AzureMock) -> None:
        status, _, body = request_json("POST", azure_url(azure_mock, version=None),
                                       chat_body(), AZURE_AUTH)
        assert (status, body) == (404, {"error": {"code": "404",
                                                  "message": "Resource not found"}})

    def test_unsupported_api_version(self, azure_mock: AzureMock) -> None:
        status, _, body = request_json("POST", azure_url(azure_mock, version="latest"),
                                       chat_body(), AZURE_AUTH)
        assert status == 400
        assert body == {"error": {"code": "BadRequest", "message": "API version not supported"}}

    @pytest.mark.parametrize("headers", [
        {},
        {"Authorization": f"Bearer {AZURE_KEY}"},
        {"api-key": "wrong"},
        {"x-api-key": AZURE_KEY},
    ])
    def test_auth(self, azure_mock: AzureMock, headers: dict[str, str]) -> None:
        status, _, body = request_json("POST", azure_url(azure_mock), chat_body(), headers)
        assert status == 401
        assert body["error"]["code"] == "401"
        assert body["error"]["message"].startswith("Access denied due to invalid subscription key")

    def test_unknown_deployment(self, azure_mock: AzureMock) -> None:
        status, _, body = request_json("POST", azure_url(azure_mock, deployment="gpt-4o"),
                                       chat_body(), AZURE_AUTH)
        assert status == 404
        assert body["error"]["code"] == "DeploymentNotFound"

    @pytest.mark.parametrize("path", ["/v1/chat/completions", "/openai/deployments/x",
                                      "/openai/chat/completions"])
    def test_wrong_path(self, azure_mock: AzureMock, path: str) -> None:
        status, _, body = request_json(
            "POST", f"{azure_mock.root_url}{path}?api-version={AZURE_VERSION}", chat_body(),
            AZURE_AUTH)
        assert (status, body["error"]["code"]) == (404, "404")

    def test_body_errors_are_openai_shaped(self, azure_mock: AzureMock) -> None:
        status, _, body = request_json("POST", azure_url(azure_mock),
                                       {"messages": [{"role": "user", "content": "x"}],
                                        "fallbacks": ["x"]}, AZURE_AUTH)
        assert status == 400
        assert body["error"]["message"] == "Unrecognized request argument supplied: fallbacks"
        assert body["error"]["type"] == "invalid_request_error"

    def test_stream_starts_with_prompt_filter_chunk(self, azure_mock: AzureMock) -> None:
        events = read_events(azure_url(azure_mock),
                             {"messages": [{"role": "user", "content": "hey"}], "stream": True,
                              "stream_options": {"include_usage": True}}, AZURE_AUTH)
        chunks = openai_chunks(events)
        assert chunks[0]["choices"] == [] and chunks[0]["id"] == ""
        assert "prompt_filter_results" in chunks[0]
        text = "".join(c["choices"][0]["delta"].get("content") or ""
                       for c in chunks[1:] if c["choices"])
        assert text == "Hello from azure mock: hey"
        assert chunks[-1]["usage"]["prompt_tokens"] >= 1
        assert all(c["model"] == "gpt-4o-2024-08-06" for c in chunks[1:])

    def test_embeddings_and_completions(self, azure_mock: AzureMock) -> None:
        status, _, body = request_json(
            "POST", azure_url(azure_mock, "embedding-deploy", "embeddings"),
            {"input": "text"}, AZURE_AUTH)
        assert status == 200 and body["model"] == "text-embedding-3-small"
        status, _, body = request_json(
            "POST", azure_url(azure_mock, operation="completions"),
            {"prompt": "p", "max_tokens": 20}, AZURE_AUTH)
        assert status == 200 and body["choices"][0]["text"] == "Hello from azure mock: p"

    def test_official_sdk(self, azure_mock: AzureMock) -> None:
        client = openai.AzureOpenAI(api_key=AZURE_KEY, azure_endpoint=azure_mock.root_url,
                                    api_version=AZURE_VERSION, max_retries=0, timeout=10)
        done = client.chat.completions.create(model="gpt-4o-deploy",
                                              messages=[{"role": "user", "content": "sdk"}])
        assert done.choices[0].message.content == "Hello from azure mock: sdk"
        req = azure_mock.last_request
        assert req.path == "/openai/deployments/gpt-4o-deploy/chat/completions"
        assert req.header("api-key") == AZURE_KEY
        pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="gpt-4o-deploy", messages=[{"role": "user", "content": "sdk"}], stream=True)
            if c.choices]
        assert "".join(pieces) == "Hello from azure mock: sdk"


# ======================================================================================
# Anthropic
# ======================================================================================


def anthropic_post(mock: AnthropicMock, body: Any, headers: dict[str, str] | None = None):
    return request_json("POST", f"{mock.root_url}/v1/messages", body,
                        ANTHROPIC_AUTH if headers is None else headers)


class TestAnthropicMock:
    def test_message(self, anthropic_mock: AnthropicMock) -> None:
        status, headers, body = anthropic_post(
            anthropic_mock, messages_body(system="be brief", metadata={"user_id": "u"}))
        assert status == 200, body
        assert headers["request-id"].startswith("req_")
        assert body["type"] == "message" and body["role"] == "assistant"
        assert body["id"].startswith("msg_")
        assert body["model"] == "claude-sonnet-4-5"
        assert body["content"] == [{"type": "text", "text": "Hello from anthropic mock: hi there"}]
        assert body["stop_reason"] == "end_turn" and body["stop_sequence"] is None
        usage = body["usage"]
        assert usage["input_tokens"] == 4  # "be brief" + "hi there"
        assert usage["output_tokens"] == 6
        assert usage["cache_read_input_tokens"] == 0
        assert usage["cache_creation_input_tokens"] == 0

    def test_usage_override(self, anthropic_mock: AnthropicMock) -> None:
        anthropic_mock.usage = {"input_tokens": 10, "cache_read_input_tokens": 90,
                                "cache_creation_input_tokens": 5, "output_tokens": 7}
        _, _, body = anthropic_post(anthropic_mock, messages_body())
        assert body["usage"] == {"input_tokens": 10, "cache_read_input_tokens": 90,
                                 "cache_creation_input_tokens": 5, "output_tokens": 7,
                                 "service_tier": "standard"}

    @pytest.mark.parametrize("headers,status,message", [
        ({"anthropic-version": "2023-06-01"}, 401, "x-api-key header is required"),
        ({"Authorization": f"Bearer {ANTHROPIC_KEY}", "anthropic-version": "2023-06-01"}, 401,
         "x-api-key header is required"),
        ({"api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}, 401,
         "x-api-key header is required"),
        ({"x-api-key": "wrong", "anthropic-version": "2023-06-01"}, 401, "invalid x-api-key"),
        ({"x-api-key": ANTHROPIC_KEY}, 400, "anthropic-version: header is required"),
        ({"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2024-01-01"}, 400,
         'anthropic-version: "2024-01-01" is not a valid version'),
    ])
    def test_auth_and_version(self, anthropic_mock: AnthropicMock, headers: dict[str, str],
                              status: int, message: str) -> None:
        got, _, body = anthropic_post(anthropic_mock, messages_body(), headers)
        assert got == status
        assert body["type"] == "error"
        assert body["error"]["message"] == message
        assert body["error"]["type"] == ("authentication_error" if status == 401
                                         else "invalid_request_error")

    @pytest.mark.parametrize("method,path", [("POST", "/v1/chat/completions"),
                                             ("POST", "/messages"), ("GET", "/v1/messages")])
    def test_wrong_path(self, anthropic_mock: AnthropicMock, method: str, path: str) -> None:
        status, _, body = request_json(method, anthropic_mock.root_url + path,
                                       messages_body() if method == "POST" else None,
                                       ANTHROPIC_AUTH)
        assert status == 404
        assert body["type"] == "error" and body["error"]["type"] == "not_found_error"

    @pytest.mark.parametrize("body,fragment", [
        ({"model": "c", "messages": [{"role": "user", "content": "x"}]},
         "max_tokens: Field required"),
        (messages_body(max_tokens="100"), "max_tokens: Input should be a valid integer"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
         "model: Field required"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "system", "content": "s"}, {"role": "user", "content": "x"}]},
         'Unexpected role "system"'),
        ({"model": "c", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]},
         "messages.0.role: Input should be 'user' or 'assistant'"),
        (messages_body(stream_options={"include_usage": True}),
         "stream_options: Extra inputs are not permitted"),
        (messages_body(n=1), "n: Extra inputs are not permitted"),
        (messages_body(temperature=1.5), "temperature: Input should be less than or equal to 1"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": "x", "name": "bob"}]},
         "messages.0.name: Extra inputs are not permitted"),
        ({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": ""}]},
         "all messages must have non-empty content"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "text", "text": ""}]}]},
         "text content blocks must be non-empty"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "Input tag 'image_url' found using 'type'"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "text"}]}]},
         "messages.0.content.0.text.text: Field required"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "image", "source": {
                "type": "base64", "media_type": "image/bmp", "data": "AA=="}}]}]},
         "media_type"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"}]}]},
         "unexpected `tool_use_id` found in `tool_result` blocks: toolu_1"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
            {"role": "user", "content": "no result"}]},
         "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
            {"role": "user", "content": [
                {"type": "text", "text": "here"},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"}]}]},
         "`tool_result` blocks must come first"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": "{}"}]}]},
         "input: Input should be a valid dictionary"),
        ({"model": "c", "max_tokens": 5, "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": "y", "tool_calls": []}]},
         "messages.1.tool_calls: Extra inputs are not permitted"),
        (messages_body(tools=[WEATHER_TOOL_OPENAI]),
         "tools.0: Input tag 'function' found using 'type'"),
        (messages_body(tools=[{"name": "f", "input_schema": {"type": "object"},
                               "function": {}}]),
         "tools.0.custom.function: Extra inputs are not permitted"),
        (messages_body(tools=[{"name": "f"}]), "tools.0.custom.input_schema: Field required"),
        (messages_body(tools=[{"name": "f", "parameters": {"type": "object"}}]),
         "tools.0.custom.parameters: Extra inputs are not permitted"),
        (messages_body(tool_choice={"type": "auto"}),
         "tool_choice may only be specified while providing tools."),
        (messages_body(tools=[WEATHER_TOOL_ANTHROPIC], tool_choice="auto"), "tool_choice"),
        (messages_body(system=[{"type": "text", "text": "s", "cache_control": {"type": "x"}}]),
         "cache_control.type: Input should be 'ephemeral'"),
        (messages_body(metadata={"user_id": "u", "tags": []}),
         "metadata.tags: Extra inputs are not permitted"),
    ])
    def test_rejects_bad_shapes(self, anthropic_mock: AnthropicMock, body: Any,
                                fragment: str) -> None:
        status, _, resp = anthropic_post(anthropic_mock, body)
        assert status == 400, resp
        assert resp["type"] == "error"
        assert resp["error"]["type"] == "invalid_request_error"
        assert fragment in resp["error"]["message"]

    def test_consecutive_user_turns_are_combined(self, anthropic_mock: AnthropicMock) -> None:
        status, _, body = anthropic_post(anthropic_mock, {
            "model": "c", "max_tokens": 50, "messages": [
                {"role": "user", "content": "first"},
                {"role": "user", "content": [{"type": "text", "text": "second"}]}]})
        assert status == 200, body
        assert body["content"][0]["text"] == "Hello from anthropic mock: first second"

    def test_tool_use_then_tool_result(self, anthropic_mock: AnthropicMock) -> None:
        status, _, first = anthropic_post(anthropic_mock, messages_body(
            "weather in Paris?", tools=[WEATHER_TOOL_ANTHROPIC]))
        assert status == 200, first
        assert first["stop_reason"] == "tool_use"
        (block,) = first["content"]
        assert block["type"] == "tool_use" and block["id"].startswith("toolu_")
        assert block["name"] == "get_weather" and block["input"] == DEFAULT_TOOL_ARGS
        status, _, second = anthropic_post(anthropic_mock, {
            "model": "c", "max_tokens": 100, "tools": [WEATHER_TOOL_ANTHROPIC], "messages": [
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": first["content"]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": block["id"],
                     "content": [{"type": "text", "text": "sunny"}]},
                    {"type": "text", "text": "thanks"}]}]})
        assert status == 200, second
        assert second["stop_reason"] == "end_turn"
        assert second["content"][0]["text"] == "anthropic mock received tool result: sunny"

    def test_tool_choice(self, anthropic_mock: AnthropicMock) -> None:
        other = dict(WEATHER_TOOL_ANTHROPIC, name="get_time")
        _, _, body = anthropic_post(anthropic_mock, messages_body(
            tools=[WEATHER_TOOL_ANTHROPIC, other],
            tool_choice={"type": "tool", "name": "get_time", "disable_parallel_tool_use": True}))
        assert body["content"][0]["name"] == "get_time"
        _, _, body = anthropic_post(anthropic_mock, messages_body(
            tools=[WEATHER_TOOL_ANTHROPIC], tool_choice={"type": "none"}))
        assert body["content"][0]["type"] == "text"

    def test_stop_reasons(self, anthropic_mock: AnthropicMock) -> None:
        _, _, body = anthropic_post(anthropic_mock, messages_body(max_tokens=2))
        assert (body["stop_reason"], body["content"][0]["text"]) == ("max_tokens", "Hello from")
        _, _, body = anthropic_post(anthropic_mock, messages_body(stop_sequences=["mock"]))
        assert body["stop_reason"] == "stop_sequence" and body["stop_sequence"] == "mock"
        assert body["content"][0]["text"] == "Hello from anthropic "

    def test_stream_event_sequence(self, anthropic_mock: AnthropicMock) -> None:
        anthropic_mock.usage = {"cache_read_input_tokens": 12}
        events = read_events(f"{anthropic_mock.root_url}/v1/messages",
                             messages_body(stream=True), ANTHROPIC_AUTH)
        names = [e.event for e in events]
        assert all(e.event == e.json()["type"] for e in events)
        assert names[:3] == ["message_start", "content_block_start", "ping"]
        deltas = names[3:-3]
        assert len(deltas) >= 2 and set(deltas) == {"content_block_delta"}
        assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
        start = events[0].json()["message"]
        assert start["content"] == [] and start["stop_reason"] is None
        assert start["usage"]["cache_read_input_tokens"] == 12
        text = "".join(e.json()["delta"]["text"] for e in events
                       if e.event == "content_block_delta")
        assert text == "Hello from anthropic mock: hi there"
        delta = events[-2].json()
        assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
        assert delta["usage"]["output_tokens"] == 6
        assert delta["usage"]["cache_read_input_tokens"] == 12

    def test_stream_is_incremental(self, anthropic_mock: AnthropicMock) -> None:
        anthropic_mock.slow_stream(0.05)
        events = read_events(f"{anthropic_mock.root_url}/v1/messages",
                             messages_body(stream=True), ANTHROPIC_AUTH)
        # The server pauses between events, so the last one arrives well after the first.
        assert events[-1].received_at - events[0].received_at >= 0.05 * (len(events) - 2)

    def test_stream_tool_use(self, anthropic_mock: AnthropicMock) -> None:
        anthropic_mock.tool_use_preamble = "Let me check."
        events = read_events(f"{anthropic_mock.root_url}/v1/messages",
                             messages_body(stream=True, tools=[WEATHER_TOOL_ANTHROPIC]),
                             ANTHROPIC_AUTH)
        datas = [e.json() for e in events]
        starts = [d for d in datas if d["type"] == "content_block_start"]
        assert [s["content_block"]["type"] for s in starts] == ["text", "tool_use"]
        assert starts[1]["index"] == 1
        assert starts[1]["content_block"]["input"] == {}
        json_deltas = [d["delta"] for d in datas if d["type"] == "content_block_delta"
                       and d["delta"]["type"] == "input_json_delta"]
        assert json_deltas[0]["partial_json"] == "" and len(json_deltas) >= 3
        assert json.loads("".join(d["partial_json"] for d in json_deltas)) == DEFAULT_TOOL_ARGS
        stops = [d["index"] for d in datas if d["type"] == "content_block_stop"]
        assert stops == [0, 1]
        assert datas[-2]["delta"]["stop_reason"] == "tool_use"

    def test_restricted_models(self) -> None:
        with AnthropicMock(ANTHROPIC_KEY, models=["claude-sonnet-4-5"]) as mock:
            status, _, body = anthropic_post(mock, dict(messages_body(), model="gpt-4o"))
        assert status == 404 and body["error"] == {"type": "not_found_error",
                                                   "message": "model: gpt-4o"}


# ======================================================================================
# Fault switches (every mock)
# ======================================================================================


class Target:
    """How to send a valid plain and streaming request to one mock."""

    def __init__(self, mock: MockProvider, url: str, body: dict[str, Any],
                 headers: dict[str, str]):
        self.mock, self.url, self.body, self.headers = mock, url, body, headers

    def send(self, timeout: float = 10.0):
        return request_json("POST", self.url, self.body, self.headers, timeout=timeout)

    def stream_body(self) -> dict[str, Any]:
        return {**self.body, "stream": True}

    def stream(self) -> list[SSEEvent]:
        return read_events(self.url, self.stream_body(), self.headers)


@pytest.fixture(params=["openai", "azure", "anthropic"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "openai":
        mock = request.getfixturevalue("openai_mock")
        return Target(mock, f"{mock.base_url}/chat/completions", chat_body(), OPENAI_AUTH)
    if request.param == "azure":
        mock = request.getfixturevalue("azure_mock")
        return Target(mock, azure_url(mock), {"messages": chat_body()["messages"]}, AZURE_AUTH)
    mock = request.getfixturevalue("anthropic_mock")
    return Target(mock, f"{mock.root_url}/v1/messages", messages_body(), ANTHROPIC_AUTH)


def is_native_error(mock: MockProvider, body: Any) -> bool:
    if isinstance(mock, AnthropicMock):
        return body["type"] == "error" and {"type", "message"} <= set(body["error"])
    if isinstance(mock, AzureMock):
        return set(body["error"]) == {"code", "message"}
    return set(body["error"]) == {"message", "type", "param", "code"}


class TestFaults:
    def test_fail_next(self, target: Target) -> None:
        target.mock.fail_next(2, 429, headers={"retry-after": "1"})
        for _ in range(2):
            status, headers, body = target.send()
            assert status == 429
            assert headers["retry-after"] == "1"
            assert is_native_error(target.mock, body)
        status, _, _ = target.send()
        assert status == 200
        assert [r.status for r in target.mock.requests] == [429, 429, 200]

    @pytest.mark.parametrize("status", [400, 401, 404, 500, 503, 529])
    def test_default_error_bodies(self, target: Target, status: int) -> None:
        target.mock.fail_next(1, status)
        got, _, body = target.send()
        assert got == status and is_native_error(target.mock, body)

    def test_anthropic_overloaded_body(self, anthropic_mock: AnthropicMock) -> None:
        anthropic_mock.fail_next(1, 529)
        _, _, body = anthropic_post(anthropic_mock, messages_body())
        assert body["error"] == {"type": "overloaded_error", "message": "Overloaded"}

    def test_fail_with_custom_body_and_until_cleared(self, target: Target) -> None:
        target.mock.fail_next(None, 503, body={"custom": True})
        for _ in range(3):
            assert target.send()[:3:2] == (503, {"custom": True})
        target.mock.clear_faults()
        assert target.send()[0] == 200

    def test_fault_applies_before_validation(self, openai_mock: OpenAIMock) -> None:
        openai_mock.fail_next(1, 500)
        status, _, _ = request_json("POST", f"{openai_mock.base_url}/chat/completions", {}, {})
        assert status == 500

    def test_delay(self, target: Target) -> None:
        target.mock.delay_next(0.4)
        start = time.monotonic()
        assert target.send()[0] == 200
        assert time.monotonic() - start >= 0.4
        start = time.monotonic()
        assert target.send()[0] == 200
        assert time.monotonic() - start < 0.4

    def test_delay_beyond_client_timeout(self, target: Target) -> None:
        target.mock.delay_next(1.0)
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            target.send(timeout=0.3)

    def test_reset_before_answer(self, target: Target) -> None:
        target.mock.reset_next()
        with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
            target.send()
        assert target.send()[0] == 200
        assert [r.status for r in target.mock.requests] == [None, 200]

    def test_reset_mid_stream(self, target: Target) -> None:
        target.mock.reset_next(after_events=2)
        received: list[SSEEvent] = []
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            with open_stream("POST", target.url, target.stream_body(), target.headers) as resp:
                assert resp.status == 200
                for event in iter_sse(resp):
                    received.append(event)
        assert len(received) == 2

    def test_reset_mid_json_body(self, target: Target) -> None:
        target.mock.reset_next(after_events=0)
        with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
            target.send()

    def test_stall_mid_stream(self, target: Target) -> None:
        target.mock.stall_next(0.6, after_events=2)
        events = target.stream()
        gaps = [b.received_at - a.received_at for a, b in zip(events, events[1:])]
        assert gaps[1] >= 0.6  # between the 2nd and the 3rd event
        assert gaps[1] == max(gaps)
        assert events[-1].data == "[DONE]" or events[-1].event == "message_stop"

    def test_stall_json(self, target: Target) -> None:
        target.mock.stall_next(0.4)
        start = time.monotonic()
        status, _, body = target.send()
        assert status == 200 and body
        assert time.monotonic() - start >= 0.4

    def test_stream_error_event(self, target: Target) -> None:
        target.mock.stream_error_next(after_events=2)
        events = target.stream()
        assert len(events) == 3
        last = events[-1]
        if isinstance(target.mock, AnthropicMock):
            assert last.event == "error"
            assert last.json()["error"]["type"] == "overloaded_error"
        else:
            assert "error" in last.json()

    def test_slow_stream(self, target: Target) -> None:
        target.mock.slow_stream(0.15)
        events = target.stream()
        assert events[-1].received_at - events[0].received_at >= 0.15 * (len(events) - 2)

    def test_split_events(self, target: Target) -> None:
        plain = [e.data for e in target.stream()]
        target.mock.split_events = True
        split = [e.data for e in target.stream()]

        def strip_ids(datas: list[str]) -> list[str]:
            return [re.sub(r'"(id|created)":("[^"]*"|\d+)', "", d) for d in datas]

        assert strip_ids(split) == strip_ids(plain)

    def test_wait_for_requests(self, target: Target) -> None:
        target.send()
        assert len(target.mock.wait_for_requests(1, timeout=1)) == 1
        with pytest.raises(AssertionError):
            target.mock.wait_for_requests(2, timeout=0.2)

    def test_stop_interrupts_a_stalled_stream(self, target: Target) -> None:
        target.mock.stall_next(60, after_events=1)
        resp = open_stream("POST", target.url, target.stream_body(), target.headers, timeout=10)
        events = iter_sse(resp)
        next(events)
        start = time.monotonic()
        target.mock.stop()
        assert time.monotonic() - start < 3
        with pytest.raises((ConnectionError, http.client.HTTPException, StopIteration)):
            next(events)
            next(events)
        resp.close()

    def test_only_loopback(self, target: Target) -> None:
        assert target.mock._server is not None
        assert target.mock._server.server_address[0] == "127.0.0.1"


def test_mocks_are_independent() -> None:
    with OpenAIMock(OPENAI_KEY) as a, OpenAIMock(OPENAI_KEY) as b:
        assert a.port != b.port
        a.fail_next(1, 500)
        assert request_json("POST", f"{b.base_url}/chat/completions", chat_body(),
                            OPENAI_AUTH)[0] == 200
        assert a.request_count == 0 and b.request_count == 1


def test_recorded_request_fields(openai_mock: OpenAIMock) -> None:
    request_json("POST", f"{openai_mock.base_url}/chat/completions?trace=1&trace=2",
                 chat_body(), {**OPENAI_AUTH, "X-Custom": "v"})
    req = openai_mock.last_request
    assert req.query == {"trace": "1"} and req.query_list == {"trace": ["1", "2"]}
    assert req.target == "/v1/chat/completions?trace=1&trace=2"
    assert req.header("x-custom") == "v" and req.headers["x-custom"] == "v"
    assert json.loads(req.body) == req.json == chat_body()
    openai_mock.clear_requests()
    assert openai_mock.requests == []



# ======================================================================================
# Directives (opt-in): the request names its own fault
# ======================================================================================


@pytest.fixture(params=["openai", "azure", "anthropic"])
def directed(request: pytest.FixtureRequest):
    """A mock of each provider created with ``directives=True``, and a Target on it."""
    if request.param == "openai":
        with OpenAIMock(OPENAI_KEY, directives=True) as mock:
            yield Target(mock, f"{mock.base_url}/chat/completions", chat_body(), OPENAI_AUTH)
    elif request.param == "azure":
        with AzureMock(AZURE_KEY, dict(AZURE_DEPLOYMENTS), directives=True) as mock:
            yield Target(mock, azure_url(mock), {"messages": chat_body()["messages"]}, AZURE_AUTH)
    else:
        with AnthropicMock(ANTHROPIC_KEY, directives=True) as mock:
            yield Target(mock, f"{mock.root_url}/v1/messages", messages_body(), ANTHROPIC_AUTH)


def with_text(target: Target, text: str, stream: bool = False) -> dict[str, Any]:
    body = json.loads(json.dumps(target.body))
    body["messages"][-1]["content"] = text
    if stream:
        body["stream"] = True
    return body


class TestDirectives:
    @pytest.mark.parametrize("status", [500, 429, 503])
    def test_status(self, directed: Target, status: int) -> None:
        for stream in (False, True):
            got, _, body = request_json("POST", directed.url,
                                        with_text(directed, f"#fault:{status} please", stream),
                                        directed.headers)
            assert got == status and is_native_error(directed.mock, body)
        # Only the request that asks fails.
        assert directed.send()[0] == 200

    def test_status_in_text_parts_and_after_other_turns(self, openai_mock_directed) -> None:
        mock = openai_mock_directed
        body = chat_body()
        body["messages"] = [{"role": "user", "content": "#fault:500 earlier turn"},
                            {"role": "assistant", "content": "ok"},
                            {"role": "user", "content": [{"type": "text", "text": "#fault:429"}]}]
        status, _, _ = request_json("POST", f"{mock.base_url}/chat/completions", body, OPENAI_AUTH)
        assert status == 429, "the last user message decides"

    def test_reset(self, directed: Target) -> None:
        with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
            request_json("POST", directed.url, with_text(directed, "#fault:reset"),
                         directed.headers)
        assert directed.send()[0] == 200
        assert [r.status for r in directed.mock.requests] == [None, 200]

    @pytest.mark.parametrize("after", [None, 1, 5])
    def test_reset_mid_stream(self, directed: Target, after: int | None) -> None:
        directive = "#fault:reset-mid-stream" + (f":{after}" if after is not None else "")
        received: list[SSEEvent] = []
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            with open_stream("POST", directed.url, with_text(directed, directive, stream=True),
                             directed.headers) as resp:
                assert resp.status == 200
                for event in iter_sse(resp):
                    received.append(event)
        assert len(received) == (3 if after is None else after)

    def test_reset_mid_stream_on_a_json_answer_cuts_its_body(self, directed: Target) -> None:
        with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
            request_json("POST", directed.url, with_text(directed, "#fault:reset-mid-stream"),
                         directed.headers)

    def test_unknown_directive_is_a_400(self, directed: Target) -> None:
        status, _, body = request_json("POST", directed.url, with_text(directed, "#fault:boom"),
                                       directed.headers)
        assert (status, body) == (400, {"mock_directive_error": "unknown directive '#fault:boom'"})

    def test_off_by_default(self, target: Target) -> None:
        """Without directives=True a directive is just text: answered as usual."""
        for stream in (False, True):
            body = with_text(target, "#fault:500", stream)
            if stream:
                with open_stream("POST", target.url, body, target.headers) as resp:
                    assert resp.status == 200
                    events = list(iter_sse(resp))
                assert events[-1].data == "[DONE]" or events[-1].event == "message_stop"
            else:
                status, _, answer = request_json("POST", target.url, body, target.headers)
                assert status == 200
                assert "#fault:500" in json.dumps(answer)
        status, _, answer = request_json("POST", target.url, with_text(target, "#fault:reset"),
                                         target.headers)
        assert status == 200

    def test_directive_of(self) -> None:
        of = MockProvider.directive_of
        assert of(chat_body("#fault:500 x")) == "#fault:500"
        assert of(chat_body("  #fault:reset")) == "#fault:reset"
        assert of(chat_body("hi #fault:500")) is None
        assert of({"prompt": "#fault:429"}) == "#fault:429"
        assert of({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "#fault:reset-mid-stream:2"}]}]}) == "#fault:reset-mid-stream:2"
        assert of(None) is None and of({"messages": "x"}) is None


@pytest.fixture
def openai_mock_directed():
    with OpenAIMock(OPENAI_KEY, directives=True) as mock:
        yield mock


# --------------------------------------------------------------------------------------
# Ollama mock and cloud profiles
# --------------------------------------------------------------------------------------

from mocks import OllamaMock  # noqa: E402

PIXEL_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@pytest.fixture
def ollama_mock():
    with OllamaMock(models={"llama3.1"}) as mock:
        yield mock


class TestOllamaMock:
    def test_chat_answers_natively(self, ollama_mock: OllamaMock) -> None:
        status, _, body = request_json("POST", f"{ollama_mock.root_url}/api/chat", {
            "model": "llama3.1", "stream": False,
            "messages": [{"role": "user", "content": "hi", "images": [PIXEL_B64]}],
            "options": {"num_predict": 3, "temperature": 0.1},
        })
        assert status == 200, body
        assert body["message"] == {"role": "assistant", "content": "Hello from ollama"}
        assert (body["done"], body["done_reason"]) == (True, "length")
        assert body["eval_count"] == 3 and body["prompt_eval_count"] >= 1

    def test_stream_is_ndjson_by_default(self, ollama_mock: OllamaMock) -> None:
        with open_stream("POST", f"{ollama_mock.root_url}/api/chat", {
            "model": "llama3.1", "messages": [{"role": "user", "content": "a b"}]
        }) as resp:
            assert resp.status == 200
            assert resp.getheader("Content-Type") == "application/x-ndjson"
            lines = [json.loads(line) for line in resp.read().splitlines() if line]
        assert "".join(l["message"]["content"] for l in lines) == "Hello from ollama mock: a b"
        assert [l["done"] for l in lines][-1] is True
        assert all(not l["done"] for l in lines[:-1])

    @pytest.mark.parametrize("message, needle", [
        ({"role": "user", "content": [{"type": "text", "text": "x"}]}, "cannot unmarshal array"),
        ({"role": "user", "content": "x", "images": [f"data:image/png;base64,{PIXEL_B64}"]},
         "illegal base64"),
        ({"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "f", "arguments": "{\"a\": 1}"}}]}, "cannot unmarshal string"),
        ({"role": "developer", "content": "x"}, "invalid role"),
        ({"role": "user", "content": "x", "name": "bob"}, "unknown message field"),
    ])
    def test_refuses_what_ollama_refuses(self, ollama_mock: OllamaMock, message, needle) -> None:
        status, _, body = request_json("POST", f"{ollama_mock.root_url}/api/chat",
                                       {"model": "llama3.1", "messages": [message]})
        assert status == 400, body
        assert needle in body["error"]

    def test_unknown_model_options_and_paths(self, ollama_mock: OllamaMock) -> None:
        status, _, body = request_json("POST", f"{ollama_mock.root_url}/api/chat",
                                       {"model": "nope", "messages": []})
        assert (status, body) == (404, {"error": 'model "nope" not found, try pulling it first'})
        status, _, body = request_json("POST", f"{ollama_mock.root_url}/api/generate",
                                       {"model": "llama3.1", "prompt": "x", "options": {"max_tokens": 3}})
        assert status == 400 and "invalid option" in body["error"]
        status, _, body = request_json("POST", f"{ollama_mock.root_url}/api/generate",
                                       {"model": "llama3.1", "prompt": "x", "options": {"stop": "x"}})
        assert status == 400
        status, _, _ = request_json("POST", f"{ollama_mock.root_url}/v1/chat/completions", {})
        assert status == 404

    def test_tool_call_arguments_are_objects_and_embed(self, ollama_mock: OllamaMock) -> None:
        status, _, body = request_json("POST", f"{ollama_mock.root_url}/api/chat", {
            "model": "llama3.1", "stream": False,
            "messages": [{"role": "user", "content": "weather?"}], "tools": [WEATHER_TOOL_OPENAI],
        })
        assert status == 200, body
        assert body["message"]["tool_calls"] == [
            {"function": {"name": "get_weather", "arguments": DEFAULT_TOOL_ARGS}}]
        status, _, body = request_json("POST", f"{ollama_mock.root_url}/api/embed",
                                       {"model": "llama3.1", "input": ["a", "b c"]})
        assert status == 200
        assert len(body["embeddings"]) == 2 and len(body["embeddings"][0]) == 8
        assert body["prompt_eval_count"] == 3


def test_cloud_profile_is_as_picky_as_the_cloud() -> None:
    with OpenAIMock(api_key="k", name="mistral", profile="mistral") as mock:
        url, auth = f"{mock.base_url}/chat/completions", {"Authorization": "Bearer k"}
        status, _, body = request_json("POST", url, chat_body(seed=1), auth)
        assert status == 400 and "seed" in body["error"]["message"]
        status, _, body = request_json("POST", url, chat_body(random_seed=1), auth)
        assert status == 200 and body["choices"][0]["message"]["content"] == "Hello from mistral mock: hi there"
        status, _, body = request_json(
            "POST", url, chat_body(stream=True, stream_options={"include_usage": True}), auth)
        assert status == 400
        chunks = openai_chunks(read_events(url, chat_body(stream=True), auth))
        finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
        assert finish[0]["usage"]["completion_tokens"] > 0, "usage unasked, on the finish chunk"
        status, _, _ = request_json(
            "POST", url, chat_body(tools=[WEATHER_TOOL_OPENAI], tool_choice="any"), auth)
        assert status == 200
