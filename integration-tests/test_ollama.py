"""Ollama through the gateway with the official ``openai`` client: ``ollama_chat/``
(``/api/chat``), ``ollama/`` (``/api/generate`` with LiteLLM's prompt) and
embeddings (``/api/embed``), against :class:`mocks.OllamaMock`, which speaks
Ollama's native API (JSON and NDJSON streams) and refuses requests malformed for it.
"""

from __future__ import annotations

import base64
import json

import openai
import pytest

from conformance import WEATHER_TOOL

CLIENT_KEY = "sk-client-key-must-not-reach-ollama"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@pytest.fixture(scope="module")
def mock(provider_stacks):
    """The ``ollama`` row's mock (conformance.py), shared with test_conformance.py."""
    return provider_stacks("ollama").mock


@pytest.fixture(scope="module")
def gateway(provider_stacks):
    """The gateway in front of it (the row's config), shared with test_conformance.py."""
    return provider_stacks("ollama").gateway


@pytest.fixture
def ollama(mock, gateway):
    mock.clear_requests()
    mock.clear_faults()
    return mock


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=20)


def test_chat_goes_to_api_chat(client, ollama):
    r = client.chat.completions.create(
        model="llama-chat",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}],
        max_tokens=50,
        temperature=0.2,
        stop=["zzz"],
        seed=4,
    )
    assert r.object == "chat.completion"
    assert r.choices[0].message.content == "Hello from ollama mock: hi there"
    assert r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (4, 6)
    assert r.usage.total_tokens == 10
    req = ollama.last_request
    assert req.path == "/api/chat"
    assert req.json["model"] == "llama3.1"
    assert req.json["stream"] is False
    assert req.json["options"] == {
        "num_ctx": 4096, "num_predict": 50, "temperature": 0.2, "seed": 4, "stop": ["zzz"],
    }
    assert req.json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert "authorization" not in req.headers, "no key configured, none sent"
    assert all(CLIENT_KEY not in v for v in req.headers.values())


def test_max_tokens_cut_is_length(client, ollama):
    r = client.chat.completions.create(
        model="llama-chat", messages=[{"role": "user", "content": "one two three four"}], max_tokens=2
    )
    assert r.choices[0].finish_reason == "length"
    assert r.choices[0].message.content == "Hello from"


def test_generate_builds_litellms_prompt(client, ollama):
    r = client.chat.completions.create(
        model="llama-generate",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "generate me"}],
    )
    assert r.choices[0].message.content == "Hello from ollama mock: generate me"
    req = ollama.last_request
    assert req.path == "/api/generate"
    assert req.json["prompt"] == "### System:\nBe brief.\n\n### User:\ngenerate me\n\n"
    assert req.json["stream"] is False


def test_tool_call_round_trip(client, ollama):
    first = client.chat.completions.create(
        model="llama-chat",
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.id and call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris", "unit": "celsius"}
    sent = ollama.last_request.json
    assert sent["tools"] == [WEATHER_TOOL]
    assert "tool_choice" not in sent, "LiteLLM drops it: it hangs Ollama"

    second = client.chat.completions.create(
        model="llama-chat",
        messages=[
            {"role": "user", "content": "What's the weather in Paris?"},
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"},
        ],
        tools=[WEATHER_TOOL],
    )
    assert second.choices[0].message.content == "ollama mock received tool result: get_weather=18C and sunny"
    turns = ollama.last_request.json["messages"]
    # Arguments go back as an object (Ollama's Go decoder refuses a string).
    assert turns[1]["tool_calls"] == [
        {"function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}}
    ]
    assert turns[2] == {"role": "tool", "content": "18C and sunny", "tool_name": "get_weather"}


@pytest.mark.parametrize("model", ["llama-chat", "llama-generate"])
def test_image_goes_as_plain_base64(client, ollama, model):
    r = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        ]}],
    )
    assert r.choices[0].message.content == "Hello from ollama mock: what is this"
    sent = ollama.last_request.json
    images = sent["messages"][0]["images"] if model == "llama-chat" else sent["images"]
    assert images == [PIXEL]


def test_http_image_url_is_a_clear_400(client, ollama):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="llama-chat",
            messages=[{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            ]}],
        )
    assert err.value.body["param"] == "messages[0].content[0].image_url"
    assert "base64" in err.value.body["message"]
    assert ollama.request_count == 0


def test_json_mode(client, ollama):
    r = client.chat.completions.create(
        model="llama-chat",
        messages=[{"role": "user", "content": "json please"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(r.choices[0].message.content) == {"answer": "Hello from ollama mock: json please"}
    assert ollama.last_request.json["format"] == "json"

    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    r = client.chat.completions.create(
        model="llama-generate",
        messages=[{"role": "user", "content": "schema please"}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    assert json.loads(r.choices[0].message.content)["answer"].endswith("schema please")
    assert ollama.last_request.json["format"] == schema


@pytest.mark.parametrize("model", ["llama-chat", "llama-generate"])
def test_text_completions_go_to_generate(client, ollama, model):
    r = client.completions.create(model=model, prompt="Say hi", max_tokens=4)
    assert r.object == "text_completion"
    assert r.choices[0].text == "Hello from ollama mock:"
    assert r.choices[0].finish_reason == "length"
    req = ollama.last_request
    assert req.path == "/api/generate"
    assert (req.json["prompt"], req.json["options"]["num_predict"]) == ("Say hi", 4)
    text, usage = "", None
    for chunk in client.completions.create(
        model=model, prompt="Stream hi", stream=True, stream_options={"include_usage": True}
    ):
        if chunk.choices:
            text += chunk.choices[0].text
        usage = chunk.usage or usage
    assert text == "Hello from ollama mock: Stream hi"
    assert usage is not None and usage.completion_tokens == 6


@pytest.mark.parametrize("model", ["llama-chat", "llama-generate"])
def test_reasoning(client, ollama, model):
    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "think"}], reasoning_effort="medium"
    )
    assert ollama.last_request.json["think"] is True
    assert r.choices[0].message.reasoning_content == "ollama mock thought (True)"
    assert r.choices[0].message.content == "Hello from ollama mock: think"
    reasoning, text = "", ""
    for chunk in client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "think"}], reasoning_effort="low", stream=True
    ):
        if chunk.choices:
            reasoning += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
            text += chunk.choices[0].delta.content or ""
    assert reasoning == "ollama mock thought (True)"
    assert text == "Hello from ollama mock: think"


def test_embeddings_float_and_base64(client, ollama):
    e64 = client.embeddings.create(model="nomic", input=["alpha", "beta"])  # SDK asks base64
    req = ollama.last_request
    assert req.path == "/api/embed"
    assert req.json == {"model": "nomic-embed-text", "input": ["alpha", "beta"]}
    ef = client.embeddings.create(model="nomic", input="alpha", encoding_format="float")
    assert len(e64.data) == 2 and len(e64.data[0].embedding) == 8
    assert e64.data[0].embedding == pytest.approx(ef.data[0].embedding, abs=1e-6)
    assert e64.data[0].embedding != e64.data[1].embedding
    assert e64.usage.prompt_tokens == 2 and ef.usage.prompt_tokens == 1
    # ollama_chat/ deployments embed through /api/embed too (with their options).
    client.embeddings.create(model="llama-chat", input="gamma")
    assert ollama.last_request.path == "/api/embed"
    assert ollama.last_request.json == {"model": "llama3.1", "input": "gamma", "options": {"num_ctx": 4096}}
    raw = client.embeddings.with_raw_response.create(model="nomic", input="alpha", encoding_format="base64")
    b64 = json.loads(raw.text)["data"][0]["embedding"]
    assert isinstance(b64, str) and len(base64.b64decode(b64)) == 8 * 4

