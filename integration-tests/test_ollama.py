"""Ollama through the gateway with the official ``openai`` client: ``ollama_chat/``
(``/api/chat``), ``ollama/`` (``/api/generate`` with LiteLLM's prompt) and
embeddings (``/api/embed``), against :class:`mocks.OllamaMock`, which speaks
Ollama's native API (JSON and NDJSON streams) and refuses requests malformed for it.
"""

from __future__ import annotations

import base64

import openai
import pytest


CLIENT_KEY = "sk-client-key-must-not-reach-ollama"


@pytest.fixture(scope="module")
def mock(provider_stacks):
    """The ``ollama`` row's mock (conformance/), shared with test_conformance.py."""
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

