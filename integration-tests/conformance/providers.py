"""OpenAI, Azure OpenAI and Anthropic behind one gateway (the ``providers`` group, the
gateway of ``test_providers.py`` and ``test_azure_filters.py``), and their conformance
rows."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from mocks import (
    ANTHROPIC_KEY,
    AZURE_API_VERSION,
    AZURE_DEPLOYMENTS,
    AZURE_KEY,
    DEFAULT_TOOL_ARGS,
    OPENAI_KEY,
    AnthropicMock,
    AzureMock,
    MockProvider,
    OpenAIMock,
)

from .case import GatewayGroup, PIXEL, ProviderCase, reset_mock


def providers_mocks() -> dict[str, MockProvider]:
    return {"openai": OpenAIMock(api_key=OPENAI_KEY),
            "azure": AzureMock(api_key=AZURE_KEY, deployments=dict(AZURE_DEPLOYMENTS)),
            "anthropic": AnthropicMock(api_key=ANTHROPIC_KEY)}


def providers_config(mocks: dict[str, Any]) -> str:
    return f"""
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-real
      api_base: {mocks["openai"].base_url}
      api_key: os.environ/TEST_OPENAI_KEY
      extra_headers: {{X-Team: research}}
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
  - model_name: embed-small
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: {mocks["openai"].base_url}
      api_key: os.environ/TEST_OPENAI_KEY
    model_info: {{mode: embedding}}
  - model_name: "openai/*"
    litellm_params:
      model: "openai/*"
      api_base: {mocks["openai"].base_url}
      api_key: os.environ/TEST_OPENAI_KEY
  - model_name: azure-gpt
    litellm_params:
      model: azure/gpt-4o-deploy
      api_base: {mocks["azure"].root_url}
      api_key: os.environ/TEST_AZURE_KEY
      api_version: "{AZURE_API_VERSION}"
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
  - model_name: azure-embed
    litellm_params:
      model: azure/embedding-deploy
      api_base: {mocks["azure"].root_url}
      api_key: os.environ/TEST_AZURE_KEY
      api_version: os.environ/TEST_AZURE_VERSION
  - model_name: claude
    litellm_params:
      model: anthropic/claude-3-5-sonnet-20240620
      api_base: {mocks["anthropic"].root_url}
      api_key: os.environ/TEST_ANTHROPIC_KEY
      temperature: 0.3
router_settings:
  model_group_alias: {{"gpt-4": "gpt-4o"}}
"""


def providers_env(mocks: dict[str, Any]) -> dict[str, str | None]:
    return {
        "TEST_OPENAI_KEY": OPENAI_KEY,
        "TEST_AZURE_KEY": AZURE_KEY,
        "TEST_AZURE_VERSION": AZURE_API_VERSION,
        "TEST_ANTHROPIC_KEY": ANTHROPIC_KEY,
    }


PROVIDERS_GROUP = GatewayGroup("providers", providers_mocks, providers_config, providers_env)


def _clear_usage(mock: Any) -> None:
    reset_mock(mock)
    mock.usage = {}


def _openai_stream_no_usage(mock: OpenAIMock) -> None:
    # The gateway asked the provider for the usage chunk (it needs the tokens) ...
    assert mock.last_request.json["stream_options"] == {"include_usage": True}


def _openai_stream_usage(mock: OpenAIMock, model: str, chunks: list[Any],
                         arrivals: list[float], usage: Any) -> None:
    assert usage.total_tokens > 0
    assert mock.last_request.json["stream"] is True


def _openai_embeddings(client: openai.OpenAI, mock: OpenAIMock, e64: Any) -> None:
    # The SDK asks for base64 by default and decodes it; both forms must agree.
    assert mock.last_request.json.get("encoding_format") == "base64"
    ef = client.embeddings.create(model="embed-small", input=["alpha", "beta"], encoding_format="float")
    assert e64.data[0].embedding == pytest.approx(ef.data[0].embedding)
    assert e64.data[0].embedding != e64.data[1].embedding
    assert mock.last_request.path == "/v1/embeddings"
    assert mock.last_request.json["model"] == "text-embedding-3-small"


OPENAI = ProviderCase(
    name="openai",
    group=PROVIDERS_GROUP,
    # Chat, tools, images and JSON mode of OpenAI itself: the openai_like row (the
    # same mock, in the clouds' gateway) and test_providers.py.
    supports=frozenset({"stream_usage", "stream_no_usage", "streamed_tool_call", "embeddings"}),
    greeting="Hello from openai mock: ",
    reset=_clear_usage,
    client_key="sk-client-key-must-not-reach-providers",
    no_usage_model="gpt-4o",
    stream_models=("gpt-4o",),
    stream_pace=None,
    stream_prompt="stream me",
    tools_model="gpt-4o",
    embedding_model="embed-small",
    check_stream_usage=_openai_stream_usage,
    check_stream_no_usage=_openai_stream_no_usage,
    check_embeddings=_openai_embeddings,
)


def _azure_stream_no_usage(mock: AzureMock) -> None:
    # The gateway asked Azure for the usage chunk, and Azure's choices-less prompt
    # annotation did not reach the client either.
    assert mock.last_request.json["stream_options"] == {"include_usage": True}


def _azure_stream_usage(mock: AzureMock, model: str, chunks: list[Any],
                        arrivals: list[float], usage: Any) -> None:
    assert usage.completion_tokens == 5  # the words of "Hello from azure mock: u"


def _azure_image(mock: AzureMock, model: str, part: dict[str, Any]) -> None:
    # Azure takes OpenAI's image part as it is.
    assert mock.last_request.json["messages"][0]["content"][1] == part


AZURE = ProviderCase(
    name="azure",
    group=PROVIDERS_GROUP,
    # Chat (the deployment's path, api-version, api-key), embeddings with the
    # api-version from the environment and the Azure SDK's client path:
    # test_providers.py; Azure's content-filter events in streams: test_azure_filters.py.
    supports=frozenset({"tool_round_trip", "image", "json_mode", "reasoning", "stream_usage",
                        "stream_no_usage", "streamed_tool_call"}),
    greeting="Hello from azure mock: ",
    reset=reset_mock,
    client_key="sk-client-key-must-not-reach-providers",
    no_usage_model="azure-gpt",
    stream_models=("azure-gpt",),
    stream_pace=None,
    stream_prompt="u",
    tools_model="azure-gpt",
    tool_result_answer="azure mock received tool result: 18C and sunny",
    image_models=("azure-gpt",),
    json_model="azure-gpt",
    reasoning_models=("azure-gpt",),
    reasoning_efforts=("low", "high"),
    reasoning_answer=lambda effort: f"azure mock reasoned ({effort})",
    check_stream_usage=_azure_stream_usage,
    check_stream_no_usage=_azure_stream_no_usage,
    check_image=_azure_image,
)


def _anthropic_stream_usage(mock: AnthropicMock, model: str, chunks: list[Any],
                            arrivals: list[float], usage: Any) -> None:
    assert usage.completion_tokens > 0


def _anthropic_tool_call(mock: AnthropicMock, choice: Any) -> None:
    sent = mock.last_request.json
    assert sent["tools"][0]["name"] == "get_weather"
    assert sent["tools"][0]["input_schema"]["required"] == ["location"]
    assert sent["tool_choice"] == {"type": "auto"}


def _anthropic_tool_result(mock: AnthropicMock, call: Any) -> None:
    turns = mock.last_request.json["messages"]
    assert turns[1]["content"][-1]["type"] == "tool_use"
    assert turns[2]["content"][0] == {"type": "tool_result", "tool_use_id": call.id, "content": "18C and sunny"}


def _anthropic_streamed_tool_call(mock: AnthropicMock, calls: dict[int, dict], plan: str,
                                  usage: Any) -> None:
    assert mock.last_request.json["tool_choice"] == {"type": "tool", "name": "get_weather"}


def _anthropic_image(mock: AnthropicMock, model: str, part: dict[str, Any]) -> None:
    blocks = mock.last_request.json["messages"][0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}}


def _anthropic_json_mode(client: openai.OpenAI, mock: AnthropicMock) -> None:
    """LiteLLM's JSON mode for Anthropic: a forced `json_tool_call` tool whose input
    schema is the wanted one; its input comes back as the content."""
    body = mock.last_request.json
    assert body["tools"] == [{"name": "json_tool_call", "input_schema": {
        "type": "object", "additionalProperties": True, "properties": {}}}]
    assert body["tool_choice"] == {"name": "json_tool_call", "type": "tool"}
    assert "response_format" not in body
    schema = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
    content, finish, tool_deltas = "", None, 0
    for chunk in client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "json please"}], stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": schema}},
    ):
        if chunk.choices:
            content += chunk.choices[0].delta.content or ""
            tool_deltas += len(chunk.choices[0].delta.tool_calls or [])
            finish = chunk.choices[0].finish_reason or finish
    assert json.loads(content) == {"location": "Paris", "unit": "celsius"}
    assert (finish, tool_deltas) == ("stop", 0)
    assert mock.last_request.json["tools"][0]["input_schema"] == schema


ANTHROPIC = ProviderCase(
    name="anthropic",
    group=PROVIDERS_GROUP,
    # Embeddings: none (anthropic.rs embeddings_are_refused); Anthropic's errors and
    # retries: test_providers.py.
    supports=frozenset({"stream_usage", "tool_round_trip", "streamed_tool_call", "image",
                        "json_mode"}),
    greeting="Hello from anthropic mock: ",
    reset=_clear_usage,
    client_key="sk-client-key-must-not-reach-providers",
    stream_models=("claude",),
    stream_prompt="stream please",
    tools_model="claude",
    tool_result_answer="anthropic mock received tool result: 18C and sunny",
    tool_stream_params={"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
    image_models=("claude",),
    json_model="claude",
    # The forced tool's input: the mock's tool arguments.
    json_answer=DEFAULT_TOOL_ARGS,
    check_stream_usage=_anthropic_stream_usage,
    check_tool_call=_anthropic_tool_call,
    check_tool_result=_anthropic_tool_result,
    check_streamed_tool_call=_anthropic_streamed_tool_call,
    check_image=_anthropic_image,
    check_json_mode=_anthropic_json_mode,
)
