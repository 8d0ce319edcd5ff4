"""Cohere's conformance row (v2: ``/v2/chat``, ``/v2/embed``):
its gateway config and what only Cohere does."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from mocks.cohere import COHERE_KEY, CohereMock

from .case import (
    FEATURES,
    MidStreamError,
    ProviderCase,
    ProviderError,
    Unsupported,
    WEATHER_TOOL,
    reset_mock_and_pacing,
)


#: LiteLLM's thinking budgets for reasoning_effort.
COHERE_BUDGETS = {"low": 1024, "medium": 2048}


def cohere_config(mock: CohereMock) -> str:
    # `command` names the chat endpoint itself, as LiteLLM's Cohere api_base does;
    # `command-chat` finds the mock through COHERE_API_BASE and the key through
    # COHERE_API_KEY (LiteLLM's variables).
    return f"""
model_list:
  - model_name: command
    litellm_params:
      model: cohere/command-a-03-2025
      api_base: {mock.root_url}/v2/chat
      api_key: os.environ/COHERE_API_KEY
  - model_name: command-chat
    litellm_params:
      model: cohere_chat/v2/command-a-03-2025
  - model_name: command-vision
    litellm_params:
      model: cohere/command-a-vision-07-2025
  - model_name: command-drop
    litellm_params:
      model: cohere/command-a-03-2025
      drop_params: true
  - model_name: embed
    litellm_params:
      model: cohere/embed-v4.0
    model_info: {{mode: embedding}}
  - model_name: command-flaky
    litellm_params:
      model: cohere/command-a-03-2025
  - model_name: missing-model
    litellm_params:
      model: cohere/command-nope
  - model_name: wrong-key
    litellm_params:
      model: cohere/command-a-03-2025
      api_key: not-the-key
"""


def _cohere_stream_usage(mock: CohereMock, model: str, chunks: list[Any],
                         arrivals: list[float], usage: Any) -> None:
    assert (usage.prompt_tokens, usage.completion_tokens) == (67, 7)
    sent = mock.last_request.json
    assert sent["stream"] is True and "stream_options" not in sent


def _cohere_streamed_tool_call(mock: CohereMock, calls: dict[int, dict], plan: str,
                               usage: Any) -> None:
    assert plan == "I will call get_weather."
    assert list(calls) == [0]
    assert calls[0]["id"].startswith("get_weather_")
    assert usage is not None and usage.completion_tokens > 0


def _cohere_tool_call(mock: CohereMock, choice: Any) -> None:
    call = choice.message.tool_calls[0]
    assert call.id.startswith("get_weather_")
    assert choice.message.content is None
    assert choice.message.model_extra["tool_plan"] == "I will call get_weather."
    sent = mock.last_request.json
    assert sent["tools"] == [WEATHER_TOOL]
    assert "tool_choice" not in sent, "auto is Cohere's default: not sent"


def _cohere_tool_result(mock: CohereMock, call: Any) -> None:
    turns = mock.last_request.json["messages"]
    assert turns[1] == {
        "role": "assistant",
        "tool_plan": "I will call get_weather.",
        "tool_calls": [{"id": call.id, "type": "function",
                        "function": {"name": "get_weather", "arguments": call.function.arguments}}],
    }
    assert turns[2] == {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}


def _cohere_json_mode(client: openai.OpenAI, mock: CohereMock) -> None:
    assert mock.last_request.json["response_format"] == {"type": "json_object"}
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    r = client.chat.completions.create(
        model="command", messages=[{"role": "user", "content": "schema please"}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema, "strict": True}},
    )
    assert json.loads(r.choices[0].message.content)["answer"].endswith("schema please")
    assert mock.last_request.json["response_format"] == {"type": "json_object", "json_schema": schema}


def _cohere_reasoning(client: openai.OpenAI, mock: CohereMock, model: str) -> None:
    assert mock.last_request.json["thinking"] == {"type": "enabled", "token_budget": 2048}
    client.chat.completions.create(
        model="command", messages=[{"role": "user", "content": "no"}], reasoning_effort="none"
    )
    assert mock.last_request.json["thinking"] == {"type": "disabled"}


def _cohere_completion(mock: CohereMock, model: str) -> None:
    assert mock.last_request.json["messages"] == [{"role": "user", "content": "Say hi"}]


def _cohere_unsupported(client: openai.OpenAI, mock: CohereMock, body: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="command", messages=[{"role": "user", "content": "x"}], n=2)
    assert err.value.body["param"] == "n"


def _cohere_dropped(sent: dict[str, Any]) -> None:
    assert "logit_bias" not in sent and "user" not in sent


COHERE = ProviderCase(
    name="cohere",
    mock=lambda: CohereMock(models={"command-a-03-2025", "command-a-vision-07-2025", "embed-v4.0"}),
    config=cohere_config,
    env=lambda mock: {"COHERE_API_BASE": mock.root_url, "COHERE_API_KEY": COHERE_KEY},
    # Images (several parts, to a vision model) and embeddings (float and base64):
    # test_cohere.py.
    supports=FEATURES - {"image", "embeddings"},
    greeting="Hello from cohere mock: ",
    reset=reset_mock_and_pacing,
    chat_model="command",
    no_usage_model="command-chat",
    stream_models=("command",),
    tools_model="command-chat",
    round_trip_model="command",
    tool_result_answer="cohere mock received tool result: get_weather=18C and sunny",
    json_model="command",
    reasoning_models=("command",),
    completion_models=("command",),
    reasoning_answer=lambda effort: f"cohere mock thought (budget {COHERE_BUDGETS[effort]})",
    tool_stream_params={"stream_options": {"include_usage": True}},
    mid_stream_error=MidStreamError("command", 3, "internal server error"),
    unsupported=Unsupported("command", {"logit_bias": {"1": 2}}, ("logit_bias",),
                            "cohere does not support parameters",
                            drop_model="command-drop",
                            drop_params={"logit_bias": {"1": 2}, "user": "u1"}),
    errors=(
        ProviderError("unknown-model", "missing-model", openai.NotFoundError,
                      "model 'command-nope' not found", "startswith", code="404"),
        ProviderError("wrong-key", "wrong-key", openai.AuthenticationError, "invalid api token"),
        # Every attempt (num_retries 2), on a group of its own: the deployment then
        # cools down (allowed_fails 3), which must not hit the other tests.
        ProviderError("rate-limit", "command-flaky", openai.RateLimitError,
                      "You are using a Trial key", "startswith", type="rate_limit_error",
                      fault=lambda mock: mock.fail_next(3, status=429)),
    ),
    check_tool_call=_cohere_tool_call,
    check_tool_result=_cohere_tool_result,
    check_json_mode=_cohere_json_mode,
    check_reasoning=_cohere_reasoning,
    check_completion=_cohere_completion,
    check_stream_usage=_cohere_stream_usage,
    check_streamed_tool_call=_cohere_streamed_tool_call,
    check_unsupported=_cohere_unsupported,
    check_dropped=_cohere_dropped,
)
