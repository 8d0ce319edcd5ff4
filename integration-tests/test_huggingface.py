"""Hugging Face through the gateway with the official ``openai`` client, against
:class:`mocks.huggingface.HuggingFaceMock` (a TGI server / Inference Endpoint):
``huggingface/`` deployments on the OpenAI-compatible Messages API
(``/v1/chat/completions``) and in text-generation mode (TGI's native ``/generate``
and ``/generate_stream``, the prompt built with LiteLLM's ``custom_prompt`` from the
deployment's template, which the mock echoes back).
"""

from __future__ import annotations

import json
import time

import openai
import pytest

from conformance import HF_WEATHER_TOOL as WEATHER_TOOL
from mocks.huggingface import HF_KEY

CLIENT_KEY = "sk-client-key-must-not-reach-huggingface"
ECHO = "Hello from huggingface mock: "


@pytest.fixture(scope="module")
def mock(provider_stacks):
    """The ``huggingface`` row's mock (conformance/), shared with test_conformance.py."""
    return provider_stacks("huggingface").mock


@pytest.fixture(scope="module")
def gateway(provider_stacks):
    """The gateway in front of it (the row's config), shared with test_conformance.py."""
    return provider_stacks("huggingface").gateway


@pytest.fixture
def hf(mock, gateway):
    mock.clear_requests()
    mock.clear_faults()
    mock.slow_stream(0.02)
    return mock


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=20)


# -- the Messages API ------------------------------------------------------------------


def test_chat_goes_to_the_messages_api(client, hf):
    r = client.chat.completions.create(
        model="hf-chat", messages=[{"role": "user", "content": "hi there"}], max_tokens=20, temperature=0.5
    )
    assert r.choices[0].message.content == ECHO + "hi there"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (2, 6)
    req = hf.last_request
    assert req.path == "/v1/chat/completions"
    assert req.header("authorization") == f"Bearer {HF_KEY}"
    assert all(CLIENT_KEY not in v for v in req.headers.values())
    assert req.json == {"model": "tgi", "messages": [{"role": "user", "content": "hi there"}],
                        "max_tokens": 20, "temperature": 0.5}


def test_messages_api_stream_ends_with_usage(client, hf):
    text, usage = "", None
    for chunk in client.chat.completions.create(
        model="hf-chat", messages=[{"role": "user", "content": "stream me"}], stream=True,
        stream_options={"include_usage": True},
    ):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage
    assert text == ECHO + "stream me"
    assert usage is not None and usage.completion_tokens == 6
    # Not asked by the client: the gateway asks for usage itself and drops the chunk.
    chunks = list(client.chat.completions.create(
        model="hf-chat", messages=[{"role": "user", "content": "quiet"}], stream=True
    ))
    assert hf.last_request.json["stream_options"] == {"include_usage": True}
    assert all(c.choices for c in chunks)


def test_messages_api_tools(client, hf):
    r = client.chat.completions.create(
        model="hf-chat", messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER_TOOL]
    )
    call = r.choices[0].message.tool_calls[0]
    assert (call.function.name, r.choices[0].finish_reason) == ("get_weather", "tool_calls")
    assert hf.last_request.json["tools"] == [WEATHER_TOOL]
    args = ""
    for chunk in client.chat.completions.create(
        model="hf-chat", messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER_TOOL], stream=True
    ):
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            args += tc.function.arguments or ""
    assert json.loads(args) == {"location": "Paris", "unit": "celsius"}


def test_messages_api_passes_images_json_and_embeddings(client, hf):
    parts = [{"type": "text", "text": "what"}, {"type": "image_url", "image_url": {"url": "https://x.example/cat.png"}}]
    r = client.chat.completions.create(
        model="hf-chat", messages=[{"role": "user", "content": parts}], response_format={"type": "json_object"}
    )
    sent = hf.last_request.json
    assert sent["messages"][0]["content"] == parts
    assert sent["response_format"] == {"type": "json_object"}
    assert json.loads(r.choices[0].message.content) == {"answer": ECHO + "what"}
    e = client.embeddings.create(model="hf-chat", input=["a", "b c"], encoding_format="float")
    assert hf.last_request.path == "/v1/embeddings"
    assert len(e.data) == 2 and len(e.data[0].embedding) == 8 and e.usage.prompt_tokens == 3


def test_messages_api_passes_reasoning_effort_on(client, hf):
    """The Messages API gets `reasoning_effort` as sent (the router's providers take
    it); TGI's own server has no such field and refuses it, which the client hears
    with TGI's message."""
    with pytest.raises(openai.UnprocessableEntityError) as err:
        client.chat.completions.create(
            model="hf-chat", messages=[{"role": "user", "content": "think"}], reasoning_effort="low"
        )
    assert "unknown field `reasoning_effort`" in err.value.body["message"]
    assert hf.last_request.json["reasoning_effort"] == "low"


# -- text generation (TGI's /generate) -------------------------------------------------

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": [{"type": "text", "text": "Tell "}, {"type": "text", "text": "more"}]},
]
# LiteLLM's custom_prompt for MESSAGES and hf-generate's template.
PROMPT = (
    "<s><<start>><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    "<|im_start|>assistant\nHello!<|im_end|>\n</s><|im_start|>user\nTell more<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def test_generate_builds_the_template_prompt(client, hf):
    r = client.chat.completions.create(model="hf-generate", messages=MESSAGES, seed=7, top_p=0.5)
    req = hf.last_request
    assert req.path == "/generate"
    assert req.json == {
        "inputs": PROMPT,
        "parameters": {"details": True, "return_full_text": False, "decoder_input_details": True,
                       "top_p": 0.5, "seed": 7},
    }
    assert r.object == "chat.completion"
    assert r.choices[0].message.content == ECHO + PROMPT
    assert r.choices[0].finish_reason == "stop"
    # The prompt's tokens (details.prefill) and the generated ones.
    assert r.usage.prompt_tokens == len(PROMPT.split())
    assert r.usage.completion_tokens == len((ECHO + PROMPT).split())


def test_generate_stream_ends_with_usage(client, hf):
    hf.slow_stream(0.1)
    started = time.monotonic()
    arrivals, text, finish, usage = [], "", None, None
    for chunk in client.chat.completions.create(
        model="hf-generate", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ):
        arrivals.append(time.monotonic() - started)
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage
    req = hf.last_request
    assert req.path == "/generate_stream"
    assert req.json == {"inputs": PROMPT, "parameters": {"details": True, "return_full_text": False}}
    assert text == ECHO + PROMPT, "the special </s> token is not text"
    assert finish == "stop"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (len(PROMPT.split()), len(text.split()))
    assert arrivals[-1] - arrivals[0] >= 0.5, arrivals


def test_generate_without_template_joins_contents(client, hf):
    r = client.chat.completions.create(
        model="hf-tgi", messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "def f():"}],
        max_tokens=3, stop="zzz", temperature=0,
    )
    sent = hf.last_request.json
    assert sent["inputs"] == "sys def f():"
    assert sent["parameters"]["max_new_tokens"] == 3
    assert sent["parameters"]["stop"] == ["zzz"]
    assert sent["parameters"]["temperature"] == 0.01, "TGI wants it positive (LiteLLM's mapping)"
    assert (r.choices[0].message.content, r.choices[0].finish_reason) == ("Hello from huggingface", "length")


def test_generate_text_completion_and_json_mode(client, hf):
    r = client.completions.create(model="hf-generate", prompt="raw prompt", max_tokens=50)
    assert hf.last_request.json["inputs"] == "raw prompt"
    assert (r.object, r.choices[0].text) == ("text_completion", ECHO + "raw prompt")
    text = ""
    for chunk in client.completions.create(model="hf-tgi", prompt="stream raw", stream=True):
        if chunk.choices:
            text += chunk.choices[0].text
    assert text == ECHO + "stream raw"
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    r = client.chat.completions.create(
        model="hf-tgi", messages=[{"role": "user", "content": "json"}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    assert hf.last_request.json["parameters"]["grammar"] == {"type": "json", "value": schema}
    assert json.loads(r.choices[0].message.content) == {"answer": ECHO + "json"}

