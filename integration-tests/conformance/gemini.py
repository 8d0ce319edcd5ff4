"""Gemini's conformance row (Google AI Studio, ``generateContent``):
its gateway config and what only Gemini does."""

from __future__ import annotations

import json
from typing import Any

import openai

from mocks import GEMINI_KEY, GeminiMock

from .case import FEATURES, MidStreamError, ProviderCase, ProviderError, Unsupported, reset_mock


GEMINI_MODELS = {"gemini-2.5-flash", "gemini-2.0-flash", "gemini-3-pro-preview", "gemini-embedding-001"}
#: Gemini's tests give the strict form of the tool (Gemini takes a subset of JSON Schema).
GEMINI_WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["location"],
            "additionalProperties": False,
        },
    },
}


def gemini_config(mock: GeminiMock) -> str:
    # gemini-default finds its server and key through LiteLLM's variables
    # (GEMINI_API_BASE, GEMINI_API_KEY); the others name them.
    return f"""
model_list:
  - model_name: gemini-flash
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: {mock.root_url}
      api_key: os.environ/GEMINI_TEST_KEY
  - model_name: gemini-default
    litellm_params:
      model: gemini/gemini-2.0-flash
  - model_name: gemini-3
    litellm_params:
      model: gemini/gemini-3-pro-preview
      api_base: {mock.root_url}/v1beta
      api_key: os.environ/GEMINI_TEST_KEY
  - model_name: gemini-embed
    litellm_params:
      model: gemini/gemini-embedding-001
      api_base: {mock.root_url}
      api_key: os.environ/GEMINI_TEST_KEY
    model_info: {{mode: embedding}}
  - model_name: gemini-drop
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: {mock.root_url}
      api_key: os.environ/GEMINI_TEST_KEY
      drop_params: true
  - model_name: gemini-wrong-key
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: {mock.root_url}
      api_key: os.environ/GEMINI_WRONG_KEY
  - model_name: gemini-flaky
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: {mock.root_url}
      api_key: os.environ/GEMINI_TEST_KEY
"""


def gemini_env(mock: GeminiMock) -> dict[str, str | None]:
    return {
        "GEMINI_TEST_KEY": GEMINI_KEY,
        "GEMINI_WRONG_KEY": "AIza-not-the-key",
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_API_BASE": mock.root_url,
        # LiteLLM reads GOOGLE_API_KEY before GEMINI_API_KEY: keep the runner's out.
        "GOOGLE_API_KEY": None,
    }


def _gemini_stream_usage(mock: GeminiMock, model: str, chunks: list[Any],
                         arrivals: list[float], usage: Any) -> None:
    assert chunks[-1].usage is not None and chunks[-1].choices == [], "the usage chunk comes last"
    assert usage.prompt_tokens == 3
    assert usage.completion_tokens == 7 + GeminiMock.thought_tokens
    req = mock.last_request
    assert req.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert req.query == {"alt": "sse"}
    assert "stream" not in req.json and "stream_options" not in req.json


def _gemini_streamed_tool_call(mock: GeminiMock, calls: dict[int, dict], plan: str,
                               usage: Any) -> None:
    assert calls[0]["id"].partition("__thought__")[2] in mock.issued_signatures


def _gemini_json_mode(client: openai.OpenAI, mock: GeminiMock) -> None:
    assert mock.last_request.json["generationConfig"] == {"responseMimeType": "application/json"}
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
              "required": ["city", "days"], "additionalProperties": False}
    r = client.chat.completions.create(
        model="gemini-flash",
        messages=[{"role": "user", "content": "schema please"}],
        response_format={"type": "json_schema", "json_schema": {"name": "trip", "strict": True, "schema": schema}},
    )
    assert json.loads(r.choices[0].message.content) == {"city": "Hello from gemini mock: schema please", "days": 1}
    assert mock.last_request.json["generationConfig"] == {
        "responseMimeType": "application/json", "responseJsonSchema": schema}


def _gemini_dropped(sent: dict[str, Any]) -> None:
    assert sent == {"contents": [{"role": "user", "parts": [{"text": "dropped"}]}]}


GEMINI = ProviderCase(
    name="gemini",
    mock=lambda: GeminiMock(api_key=GEMINI_KEY, models=GEMINI_MODELS),
    config=gemini_config,
    env=gemini_env,
    # Tool round trips keep Gemini's thought signatures, images go inline or as file
    # data, embeddings come float and base64, reasoning is thinkingConfig with
    # thought-token usage: test_gemini.py. No text completions test (Gemini's never had one).
    supports=FEATURES - {"tool_round_trip", "image", "embeddings", "reasoning", "text_completion"},
    greeting="Hello from gemini mock: ",
    reset=reset_mock,
    chat_model="gemini-flash",
    no_usage_model="gemini-flash",
    stream_models=("gemini-flash",),
    tools_model="gemini-flash",
    tool=GEMINI_WEATHER_TOOL,
    json_model="gemini-flash",
    stream_spread=0.3,
    mid_stream_error=MidStreamError("gemini-flash", 1, "The model is overloaded"),
    unsupported=Unsupported("gemini-flash", {"logit_bias": {"1": 2}}, ("logit_bias",),
                            "gemini does not support parameters",
                            drop_model="gemini-drop",
                            drop_params={"logit_bias": {"1": 2}, "user": "u1"},
                            drop_prompt="dropped"),
    errors=(
        ProviderError("wrong-key", "gemini-wrong-key", openai.BadRequestError,
                      "API key not valid. Please pass a valid API key.", code="400"),
        # Every attempt (num_retries 2), on a group of its own: the deployment then
        # cools down (allowed_fails 3), which must not hit the other tests.
        ProviderError("rate-limit", "gemini-flaky", openai.RateLimitError,
                      "Resource has been exhausted (e.g. check quota).", type="rate_limit_error",
                      fault=lambda mock: mock.fail_next(3, status=429)),
    ),
    check_json_mode=_gemini_json_mode,
    check_stream_usage=_gemini_stream_usage,
    check_streamed_tool_call=_gemini_streamed_tool_call,
    check_dropped=_gemini_dropped,
)
