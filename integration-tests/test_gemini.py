"""Gemini (Google AI Studio, ``gemini/``) through the gateway with the official
``openai`` client: chat, streams, tools with thought signatures, images, JSON mode,
reasoning, embeddings, errors and safety stops, against :class:`mocks.GeminiMock`,
which speaks the native ``generateContent`` API and refuses requests malformed for
it. The last tests check the mock itself refuses what Google refuses.
"""

from __future__ import annotations

import base64
import json
import urllib.request

import openai
import pytest

import harness
from conformance import GEMINI_WEATHER_TOOL as WEATHER_TOOL
from mocks import GEMINI_KEY, GeminiMock
from mocks.gemini import SKIP_SIGNATURE

CLIENT_KEY = "sk-client-key-must-not-reach-gemini"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@pytest.fixture(scope="module")
def mock(provider_stacks):
    """The ``gemini`` row's mock (conformance/), shared with test_conformance.py."""
    return provider_stacks("gemini").mock


@pytest.fixture(scope="module")
def gateway(provider_stacks):
    """The gateway in front of it (the row's config), shared with test_conformance.py."""
    return provider_stacks("gemini").gateway


@pytest.fixture
def gemini(mock, gateway):
    mock.clear_requests()
    mock.clear_faults()
    return mock


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=20)


def test_chat_goes_to_generate_content(client, gemini):
    r = client.chat.completions.create(
        model="gemini-flash",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}],
        max_tokens=50,
        temperature=0.2,
        stop=["zzz"],
        seed=4,
    )
    assert r.object == "chat.completion"
    assert r.choices[0].message.content == "Hello from gemini mock: hi there"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "gemini-2.5-flash"
    # 2.5 models think by default: the thought tokens count as completion tokens.
    assert r.usage.prompt_tokens == 4
    assert r.usage.completion_tokens == 6 + GeminiMock.thought_tokens
    assert r.usage.completion_tokens_details.reasoning_tokens == GeminiMock.thought_tokens
    assert r.usage.total_tokens == 4 + 6 + GeminiMock.thought_tokens
    req = gemini.last_request
    assert req.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert req.query == {}
    assert req.json == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "hi there"}]}],
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 50, "stopSequences": ["zzz"], "seed": 4},
    }
    assert req.header("x-goog-api-key") == GEMINI_KEY
    assert req.header("authorization") is None
    assert all(CLIENT_KEY not in v for v in req.headers.values())


def test_litellm_variables_supply_base_and_key(client, gemini):
    r = client.chat.completions.create(
        model="gemini-default", messages=[{"role": "user", "content": "from env"}]
    )
    assert r.choices[0].message.content == "Hello from gemini mock: from env"
    assert r.usage.completion_tokens == 6, "gemini-2.0-flash does not think"
    req = gemini.last_request
    assert req.path == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert req.header("x-goog-api-key") == GEMINI_KEY


def test_max_tokens_cut_is_length_and_n_gives_candidates(client, gemini):
    r = client.chat.completions.create(
        model="gemini-flash", messages=[{"role": "user", "content": "one two three"}], max_tokens=2, n=2
    )
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.finish_reason == "length" and c.message.content == "Hello from" for c in r.choices)
    assert gemini.last_request.json["generationConfig"] == {"maxOutputTokens": 2, "candidateCount": 2}


def test_tool_call_round_trip_keeps_the_thought_signature(client, gemini):
    first = client.chat.completions.create(
        model="gemini-flash",
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris", "unit": "celsius"}
    sent = gemini.last_request.json
    # strict, additionalProperties removed (Gemini's Schema refuses them).
    assert sent["tools"] == [{"functionDeclarations": [{
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
                       "required": ["location"]},
    }]}]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    # The signature Gemini gave travels in the tool call id (LiteLLM's scheme).
    base_id, _, signature = call.id.partition("__thought__")
    assert base_id and signature in gemini.issued_signatures

    second = client.chat.completions.create(
        model="gemini-flash",
        messages=[
            {"role": "user", "content": "What's the weather in Paris?"},
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18, "sky": "sunny"}'},
        ],
        tools=[WEATHER_TOOL],
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == (
        'gemini mock received tool result: get_weather={"temp_c":18,"sky":"sunny"}')
    turns = gemini.last_request.json["contents"]
    assert turns[1] == {"role": "model", "parts": [{
        "functionCall": {"name": "get_weather", "args": {"location": "Paris", "unit": "celsius"}},
        "thoughtSignature": signature,
    }]}
    assert turns[2] == {"role": "user", "parts": [{
        "functionResponse": {"name": "get_weather", "response": {"temp_c": 18, "sky": "sunny"}}}]}

    # A signature Gemini did not issue is refused by Gemini, and the client hears it.
    forged = choice.message.model_dump(exclude_none=True)
    forged["tool_calls"][0]["id"] = base_id + "__thought__Zm9yZ2Vk"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="gemini-flash",
            messages=[{"role": "user", "content": "weather?"}, forged,
                      {"role": "tool", "tool_call_id": forged["tool_calls"][0]["id"], "content": "18C"}],
        )
    assert err.value.body["message"] == "Corrupted thought signature."


def test_gemini_3_history_without_signatures_gets_googles_sentinel(client, gemini):
    # Tool history from another provider carries no signature: Gemini 3 refuses
    # unsigned calls, so the gateway marks them with Google's documented sentinel.
    r = client.chat.completions.create(
        model="gemini-3",
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_from_openai", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"location": "Rome"}'}}]},
            {"role": "tool", "tool_call_id": "call_from_openai", "content": "21C"},
        ],
        reasoning_effort="low",
    )
    assert r.choices[0].message.content == 'gemini mock received tool result: get_weather={"content":"21C"}'
    req = gemini.last_request
    assert req.path == "/v1beta/models/gemini-3-pro-preview:generateContent", "the base's /v1beta is kept"
    assert req.json["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE
    assert req.json["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "low", "includeThoughts": True}
    assert r.choices[0].message.reasoning_content == "gemini mock thought (low)"


def test_images_data_uri_inline_and_url_as_file_data(client, gemini):
    r = client.chat.completions.create(
        model="gemini-flash",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/photos/cat.JPG?w=2"}},
        ]}],
    )
    assert r.choices[0].message.content == "Hello from gemini mock: what is this"
    # Gemini fetches public and signed HTTPS URLs itself (fileData); the gateway
    # downloads nothing.
    assert gemini.last_request.json["contents"][0]["parts"] == [
        {"text": "what is this"},
        {"inlineData": {"mimeType": "image/png", "data": PIXEL}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/photos/cat.JPG?w=2"}},
    ]


def test_image_url_without_a_known_type_is_a_clear_400(client, gemini):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="gemini-flash",
            messages=[{"role": "user", "content": [
                {"type": "text", "text": "x"},
                {"type": "image_url", "image_url": {"url": "https://example.com/render?id=3"}},
            ]}],
        )
    assert err.value.body["param"] == "messages[0].content[1].image_url"
    assert "data URI" in err.value.body["message"]
    assert gemini.request_count == 0


def test_reasoning_effort_is_thinking_config_and_comes_back_as_reasoning(client, gemini):
    r = client.chat.completions.create(
        model="gemini-flash", messages=[{"role": "user", "content": "think"}], reasoning_effort="medium"
    )
    assert gemini.last_request.json["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}}
    assert r.choices[0].message.reasoning_content == "gemini mock thought (2048)"
    assert r.choices[0].message.content == "Hello from gemini mock: think"
    reasoning, text = "", ""
    for chunk in client.chat.completions.create(
        model="gemini-flash", messages=[{"role": "user", "content": "think"}], reasoning_effort="low", stream=True
    ):
        if chunk.choices:
            reasoning += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
            text += chunk.choices[0].delta.content or ""
    assert reasoning == "gemini mock thought (1024)"
    assert text == "Hello from gemini mock: think"
    # Thinking off: no thoughts, no thought tokens.
    r = client.chat.completions.create(
        model="gemini-flash", messages=[{"role": "user", "content": "no thinking"}], reasoning_effort="none"
    )
    assert getattr(r.choices[0].message, "reasoning_content", None) is None
    assert r.usage.completion_tokens == 6


def test_embeddings_float_and_base64(client, gemini):
    e64 = client.embeddings.create(model="gemini-embed", input=["alpha", "beta"])  # SDK asks base64
    req = gemini.last_request
    assert req.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert req.json == {"requests": [
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "alpha"}]}},
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "beta"}]}},
    ]}
    ef = client.embeddings.create(model="gemini-embed", input="alpha", encoding_format="float", dimensions=4)
    assert gemini.last_request.json["requests"][0]["outputDimensionality"] == 4
    assert len(e64.data) == 2 and len(e64.data[0].embedding) == GeminiMock.embedding_dims
    assert len(ef.data[0].embedding) == 4
    assert e64.data[0].embedding[:4] != e64.data[1].embedding[:4]
    raw = client.embeddings.with_raw_response.create(model="gemini-embed", input="alpha", encoding_format="base64")
    b64 = json.loads(raw.text)["data"][0]["embedding"]
    assert isinstance(b64, str) and len(base64.b64decode(b64)) == GeminiMock.embedding_dims * 4


@pytest.mark.parametrize("stream", [False, True])
def test_safety_stop_is_content_filter(client, gemini, stream):
    gemini.block_next("SAFETY")
    messages = [{"role": "user", "content": "something unsafe"}]
    if stream:
        chunks = list(client.chat.completions.create(
            model="gemini-flash", messages=messages, stream=True, stream_options={"include_usage": True}))
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert finishes == ["content_filter"]
        assert chunks[-1].usage.prompt_tokens == 2
    else:
        r = client.chat.completions.create(model="gemini-flash", messages=messages)
        assert r.choices[0].finish_reason == "content_filter"
        assert r.choices[0].message.content is None
    # A prompt blocked before any candidate, likewise.
    gemini.block_next("PROHIBITED_CONTENT", prompt=True)
    r = client.chat.completions.create(model="gemini-flash", messages=messages)
    assert r.choices[0].finish_reason == "content_filter"
    assert r.usage.prompt_tokens == 2


# -- the mock refuses what Google refuses ------------------------------------------------


def _post(mock: GeminiMock, path: str, body, key: str | None = GEMINI_KEY, headers=None):
    hdrs = {"content-type": "application/json", **(headers or {})}
    if key is not None:
        hdrs["x-goog-api-key"] = key
    status, _, parsed = harness.request_json("POST", mock.root_url + path, body, hdrs)
    return status, parsed


def test_mock_refuses_malformed_requests(mock):
    path = "/v1beta/models/gemini-2.5-flash:generateContent"
    ok = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    assert _post(mock, path, ok)[0] == 200
    # Proto field names are accepted as Google does.
    assert _post(mock, path, {"contents": ok["contents"], "system_instruction": {"parts": [{"text": "s"}]},
                              "generation_config": {"max_output_tokens": 3}})[0] == 200
    cases = [
        ({"messages": [{"role": "user", "content": "hi"}]}, 'Unknown name "messages"'),
        ({**ok, "generationConfig": {"max_tokens": 5}}, 'Unknown name "max_tokens" at \'generation_config\''),
        ({"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]}, "valid role"),
        ({"contents": [{"role": "user", "parts": [{"text": "a", "inlineData": {"mimeType": "image/png", "data": PIXEL}}]}]},
         "Oneof field 'data' is already set"),
        ({"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "data:image/png;base64,xx"}}]}]},
         "Base64 decoding failed"),
        ({**ok, "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
            "type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}}]}]},
         'Unknown name "additionalProperties"'),
        ({**ok, "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object", "properties": {}}}]}]},
         "should be non-empty for OBJECT type"),
        ({**ok, "generationConfig": {"responseJsonSchema": {"type": "object"}}}, "application/json"),
        ({"contents": [{"role": "user", "parts": [{"text": "q"}]},
                       {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "Zm9v"}]},
                       {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]},
         "Corrupted thought signature."),
        ({"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]},
         "number of function response parts"),
    ]
    for body, needle in cases:
        status, parsed = _post(mock, path, body)
        assert status == 400, (body, parsed)
        assert parsed["error"]["status"] == "INVALID_ARGUMENT" and needle in parsed["error"]["message"], parsed
    status, parsed = _post(mock, "/v1beta/models/gemini-2.0-flash:generateContent",
                           {**ok, "generationConfig": {"thinkingConfig": {"thinkingBudget": 10}}})
    assert status == 400 and "Thinking is not enabled" in parsed["error"]["message"]
    gemini3 = {"contents": [{"role": "user", "parts": [{"text": "q"}]},
                            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
                            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]}
    status, parsed = _post(mock, "/v1beta/models/gemini-3-pro-preview:generateContent", gemini3)
    assert status == 400 and "missing a thought_signature" in parsed["error"]["message"]


def test_mock_checks_the_key_and_the_model(mock):
    path = "/v1beta/models/gemini-2.5-flash:generateContent"
    ok = {"contents": [{"parts": [{"text": "hi"}]}]}
    status, parsed = _post(mock, path, ok, key=None)
    assert (status, parsed["error"]["status"]) == (403, "PERMISSION_DENIED")
    status, parsed = _post(mock, path, ok, key="wrong")
    assert (status, parsed["error"]["message"]) == (400, "API key not valid. Please pass a valid API key.")
    status, parsed = _post(mock, path, ok, headers={"authorization": "Bearer sk-openai"})
    assert (status, parsed["error"]["status"]) == (401, "UNAUTHENTICATED")
    status, parsed = _post(mock, "/v1beta/models/gemini-9:generateContent", ok)
    assert (status, parsed["error"]["status"]) == (404, "NOT_FOUND")
    assert _post(mock, "/v1/chat/completions", ok)[0] == 404
    # Without alt=sse a stream is one JSON array, as Google sends it.
    req = urllib.request.Request(
        mock.root_url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?key=" + GEMINI_KEY,
        data=json.dumps(ok).encode(), headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        events = json.loads(resp.read())
    assert isinstance(events, list) and events[-1]["candidates"][0]["finishReason"] == "STOP"
