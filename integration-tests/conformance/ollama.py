"""Ollama's conformance row (``/api/chat``, ``/api/generate``, ``/api/embed``):
its gateway config and what only Ollama does."""

from __future__ import annotations

import base64
import json
from typing import Any

import openai
import pytest

from mocks import OllamaMock

from .case import (
    FEATURES,
    MidStreamError,
    PIXEL,
    ProviderCase,
    ProviderError,
    Unsupported,
    WEATHER_TOOL,
    reset_mock,
)


def ollama_config(mock: OllamaMock) -> str:
    # ollama/ finds its server through OLLAMA_API_BASE (LiteLLM's variable); the
    # others name it.
    return f"""
model_list:
  - model_name: llama-chat
    litellm_params:
      model: ollama_chat/llama3.1
      api_base: {mock.root_url}
      num_ctx: 4096
  - model_name: llama-generate
    litellm_params:
      model: ollama/llama3.1
  - model_name: nomic
    litellm_params:
      model: ollama/nomic-embed-text
      api_base: {mock.root_url}
    model_info: {{mode: embedding}}
  - model_name: llama-flaky
    litellm_params:
      model: ollama_chat/llama3.1
      api_base: {mock.root_url}
  - model_name: missing-model
    litellm_params:
      model: ollama_chat/not-pulled
      api_base: {mock.root_url}
"""


def _ollama_stream_usage(mock: OllamaMock, model: str, chunks: list[Any],
                         arrivals: list[float], usage: Any) -> None:
    assert usage.completion_tokens == 7 and usage.prompt_tokens > 0
    assert mock.last_request.json["stream"] is True


def _ollama_tool_call(mock: OllamaMock, choice: Any) -> None:
    sent = mock.last_request.json
    assert sent["tools"] == [WEATHER_TOOL]
    assert "tool_choice" not in sent, "LiteLLM drops it: it hangs Ollama"


def _ollama_tool_result(mock: OllamaMock, call: Any) -> None:
    turns = mock.last_request.json["messages"]
    # Arguments go back as an object (Ollama's Go decoder refuses a string).
    assert turns[1]["tool_calls"] == [
        {"function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}}
    ]
    assert turns[2] == {"role": "tool", "content": "18C and sunny", "tool_name": "get_weather"}


def _ollama_image(mock: OllamaMock, model: str, part: dict[str, Any]) -> None:
    sent = mock.last_request.json
    images = sent["messages"][0]["images"] if model == "llama-chat" else sent["images"]
    assert images == [PIXEL]


def _ollama_json_mode(client: openai.OpenAI, mock: OllamaMock) -> None:
    assert mock.last_request.json["format"] == "json"
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    r = client.chat.completions.create(
        model="llama-generate",
        messages=[{"role": "user", "content": "schema please"}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    assert json.loads(r.choices[0].message.content)["answer"].endswith("schema please")
    assert mock.last_request.json["format"] == schema


def _ollama_embeddings(client: openai.OpenAI, mock: OllamaMock, e64: Any) -> None:
    req = mock.last_request
    assert req.path == "/api/embed"
    assert req.json == {"model": "nomic-embed-text", "input": ["alpha", "beta"]}
    ef = client.embeddings.create(model="nomic", input="alpha", encoding_format="float")
    assert e64.data[0].embedding == pytest.approx(ef.data[0].embedding, abs=1e-6)
    assert e64.data[0].embedding != e64.data[1].embedding
    assert e64.usage.prompt_tokens == 2 and ef.usage.prompt_tokens == 1
    # ollama_chat/ deployments embed through /api/embed too (with their options).
    client.embeddings.create(model="llama-chat", input="gamma")
    assert mock.last_request.path == "/api/embed"
    assert mock.last_request.json == {"model": "llama3.1", "input": "gamma", "options": {"num_ctx": 4096}}
    raw = client.embeddings.with_raw_response.create(model="nomic", input="alpha", encoding_format="base64")
    b64 = json.loads(raw.text)["data"][0]["embedding"]
    assert isinstance(b64, str) and len(base64.b64decode(b64)) == 8 * 4


def _ollama_reasoning(client: openai.OpenAI, mock: OllamaMock, model: str) -> None:
    assert mock.last_request.json["think"] is True


def _ollama_completion(mock: OllamaMock, model: str) -> None:
    req = mock.last_request
    assert req.path == "/api/generate"
    assert (req.json["prompt"], req.json["options"]["num_predict"]) == ("Say hi", 4)


def _ollama_unsupported(client: openai.OpenAI, mock: OllamaMock, body: dict[str, Any]) -> None:
    # Tools exist on /api/chat only: ollama/ refuses them.
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="llama-generate", messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL]
        )
    assert err.value.body["param"] == "tools"


OLLAMA = ProviderCase(
    name="ollama",
    mock=lambda: OllamaMock(models={"llama3.1", "nomic-embed-text"}),
    config=ollama_config,
    env=lambda mock: {"OLLAMA_API_BASE": mock.root_url},
    supports=FEATURES,
    greeting="Hello from ollama mock: ",
    reset=reset_mock,
    chat_model="llama-chat",
    no_usage_model="llama-chat",
    stream_models=("llama-chat", "llama-generate"),
    tools_model="llama-chat",
    tool_result_answer="ollama mock received tool result: get_weather=18C and sunny",
    json_model="llama-chat",
    image_models=("llama-chat", "llama-generate"),
    embedding_model="nomic",
    reasoning_models=("llama-chat", "llama-generate"),
    completion_models=("llama-chat", "llama-generate"),
    reasoning_answer=lambda effort: "ollama mock thought (True)",
    mid_stream_error=MidStreamError("llama-chat", 1, "unexpected EOF"),
    unsupported=Unsupported("llama-chat", {"logit_bias": {"1": 2}}, ("logit_bias",),
                            "ollama_chat does not support parameters"),
    errors=(
        ProviderError("unknown-model", "missing-model", openai.NotFoundError,
                      'model "not-pulled" not found, try pulling it first', code="404"),
        # Every attempt (num_retries 2), on a group of its own: the deployment then
        # cools down (allowed_fails 3), which must not hit the other tests.
        ProviderError("server-error", "llama-flaky", openai.InternalServerError,
                      "llama runner process has terminated", "in",
                      fault=lambda mock: mock.fail_next(3, status=500)),
    ),
    check_tool_call=_ollama_tool_call,
    check_tool_result=_ollama_tool_result,
    check_image=_ollama_image,
    check_json_mode=_ollama_json_mode,
    check_embeddings=_ollama_embeddings,
    check_reasoning=_ollama_reasoning,
    check_completion=_ollama_completion,
    check_stream_usage=_ollama_stream_usage,
    check_unsupported=_ollama_unsupported,
)
