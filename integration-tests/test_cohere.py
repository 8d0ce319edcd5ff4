"""Cohere through the gateway with the official ``openai`` client: ``cohere/`` and
``cohere_chat/`` deployments (Cohere's v2 API: ``/v2/chat``, ``/v2/embed``) against
:class:`mocks.cohere.CohereMock`, which speaks Cohere's native v2 API (JSON and
typed SSE events) and refuses requests malformed for it.
"""

from __future__ import annotations

import base64
import json
import struct

import openai
import pytest

from conformance import WEATHER_TOOL
from mocks.cohere import COHERE_KEY

CLIENT_KEY = "sk-client-key-must-not-reach-cohere"
PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture(scope="module")
def mock(provider_stacks):
    """The ``cohere`` row's mock (conformance/), shared with test_conformance.py."""
    return provider_stacks("cohere").mock


@pytest.fixture(scope="module")
def gateway(provider_stacks):
    """The gateway in front of it (the row's config), shared with test_conformance.py."""
    return provider_stacks("cohere").gateway


@pytest.fixture
def cohere(mock, gateway):
    mock.clear_requests()
    mock.clear_faults()
    mock.slow_stream(0.02)
    return mock


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=20)


@pytest.mark.parametrize("model", ["command", "command-chat"])
def test_chat_goes_to_v2_chat(client, cohere, model):
    r = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}],
        max_tokens=50,
        temperature=0.2,
        top_p=0.5,
        stop=["zzz"],
        seed=4,
    )
    assert r.object == "chat.completion"
    assert r.choices[0].message.content == "Hello from cohere mock: hi there"
    assert r.choices[0].finish_reason == "stop"
    # usage.tokens (what the model saw: 4 words + Cohere's 64 overhead), not billed_units.
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (68, 6, 74)
    req = cohere.last_request
    assert req.path == "/v2/chat"
    assert req.header("authorization") == f"Bearer {COHERE_KEY}"
    assert all(CLIENT_KEY not in v for v in req.headers.values())
    assert req.json == {
        "model": "command-a-03-2025",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}],
        "stream": False,
        "max_tokens": 50,
        "temperature": 0.2,
        "p": 0.5,
        "seed": 4,
        "stop_sequences": ["zzz"],
    }


def test_length_and_stop_sequence(client, cohere):
    r = client.chat.completions.create(
        model="command", messages=[{"role": "user", "content": "one two three four"}], max_completion_tokens=2
    )
    assert (r.choices[0].message.content, r.choices[0].finish_reason) == ("Hello from", "length")
    assert cohere.last_request.json["max_tokens"] == 2
    r = client.chat.completions.create(
        model="command", messages=[{"role": "user", "content": "one two"}], stop="mock"
    )
    assert (r.choices[0].message.content, r.choices[0].finish_reason) == ("Hello from cohere ", "stop")
    assert cohere.last_request.json["stop_sequences"] == ["mock"]


def test_tool_choice_maps_to_cohere(client, cohere):
    client.chat.completions.create(
        model="command", messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL], tool_choice="required"
    )
    assert cohere.last_request.json["tool_choice"] == "REQUIRED"
    r = client.chat.completions.create(
        model="command", messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert cohere.last_request.json["tool_choice"] == "NONE"
    assert r.choices[0].message.content == "Hello from cohere mock: x"
    r = client.chat.completions.create(
        model="command", messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    sent = cohere.last_request.json
    assert (sent["tool_choice"], [t["function"]["name"] for t in sent["tools"]]) == ("REQUIRED", ["get_time"])
    assert r.choices[0].message.tool_calls[0].function.name == "get_time"


def test_images_go_as_image_url_parts(client, cohere):
    r = client.chat.completions.create(
        model="command-vision",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": PIXEL, "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ]}],
    )
    assert r.choices[0].message.content == "Hello from cohere mock: what is this"
    assert cohere.last_request.json["messages"][0]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": PIXEL, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="command-vision",
            messages=[{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]}],
        )
    assert err.value.body["param"] == "messages[0].content[0].type"


def test_embeddings_float_and_base64(client, cohere):
    e64 = client.embeddings.create(model="embed", input=["alpha", "beta gamma"])  # SDK asks base64
    req = cohere.last_request
    assert req.path == "/v2/embed"
    assert req.json == {
        "model": "embed-v4.0", "texts": ["alpha", "beta gamma"],
        "input_type": "search_document", "embedding_types": ["float"],
    }
    ef = client.embeddings.create(model="embed", input="alpha", encoding_format="float", dimensions=4)
    assert cohere.last_request.json["output_dimension"] == 4
    assert len(ef.data[0].embedding) == 4
    assert len(e64.data) == 2 and len(e64.data[0].embedding) == 8
    assert e64.data[0].embedding[:4] == pytest.approx(ef.data[0].embedding, abs=1e-6)
    assert e64.usage.prompt_tokens == 3 and ef.usage.prompt_tokens == 1
    raw = client.embeddings.with_raw_response.create(model="embed", input="alpha", encoding_format="base64")
    b64 = json.loads(raw.text)["data"][0]["embedding"]
    floats = struct.unpack("<8f", base64.b64decode(b64))
    assert floats == pytest.approx(e64.data[0].embedding, abs=1e-6)
    client.embeddings.create(model="embed", input="q", extra_body={"input_type": "search_query"})
    assert cohere.last_request.json["input_type"] == "search_query"

