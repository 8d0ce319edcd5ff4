"""The conformance table: one row per provider whose mock runs behind a gateway of its own.

A :class:`ProviderCase` says how to start the provider's mock, the gateway config in
front of it (the ``model_list`` its tests use) and its environment, and what the
provider does with each feature of the OpenAI API that ``test_conformance.py`` tests
once for every row (streams, streamed tool calls, errors mid-stream, unsupported
parameters, provider errors). A feature the provider does not have is left out of
``supports``; what the provider does that others don't (the native request it
receives, its own ids) is a ``check_*`` function of the row, so each assertion of the
old per-provider copies lives on in exactly one place.

The provider's own tests (quirks, auth, special endpoints) stay in its
``test_<provider>.py`` and share the row's gateway: :func:`conftest.provider_stacks`
starts each row's mock and gateway once per session, whichever file asks first.

Adding a provider: its mock module in ``mocks/`` and one row in :data:`CONFORMANCE`.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import openai
import pytest

import harness
from mocks import (
    ANTHROPIC_KEY,
    AZURE_API_VERSION,
    AZURE_DEPLOYMENTS,
    AZURE_KEY,
    CLOUD_PROFILES,
    DEFAULT_TOOL_ARGS,
    GEMINI_KEY,
    GeminiMock,
    OPENAI_KEY,
    AnthropicMock,
    AzureMock,
    MockProvider,
    OllamaMock,
    OpenAIMock,
)
from mocks.bedrock import BEDROCK_API_KEY, SESSION_KEY, STATIC_KEY, BedrockMock
from mocks.cohere import COHERE_KEY, CohereMock
from mocks.huggingface import HF_KEY, HuggingFaceMock

#: The OpenAI features the conformance suite tests for every row that supports them.
FEATURES = frozenset({
    "tool_round_trip",     # a tool call, and the answer to its result
    "image",               # a data-URI image reaches the provider the provider's way
    "json_mode",           # response_format json_object answers JSON
    "embeddings",          # embeddings of a list of inputs
    "stream_usage",        # a stream asked for usage ends with it (and a paced one arrives paced)
    "stream_no_usage",     # a stream the client asked no usage for has no usage chunk
    "streamed_tool_call",  # a tool call arrives as streamed tool_call deltas
    "mid_stream_error",    # a native error event mid-stream ends the client's stream with it
    "unsupported_params",  # a parameter the provider lacks is named in a 400 unless dropped
    "provider_errors",     # the provider's native errors reach the client as OpenAI errors
})

#: A 1×1 PNG, base64 (the image tests send it as a data URI).
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

#: The OpenAI tool every row's tool tests call (a row may use its own, see ``tool``).
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["location"],
        },
    },
}


@dataclass(frozen=True)
class MidStreamError:
    """The provider's native error event, sent after ``after_events`` events of a stream
    of ``model``: the client's stream ends with an error containing ``message``, after
    the text ``text_before`` (None: not checked)."""

    model: str
    after_events: int
    message: str
    prompt: str = "a b c d e f"
    text_before: str | None = "Hello from "


@dataclass(frozen=True)
class Unsupported:
    """A parameter the provider lacks: ``params`` sent to ``model`` is a 400 whose
    ``param`` is one of ``named`` and whose message contains ``message``; the same
    ``params`` sent to ``drop_model`` (``drop_params: true``; None: no such group) are
    dropped and the answer is the mock's greeting for ``drop_prompt``."""

    model: str
    params: dict[str, Any]
    named: tuple[str, ...]
    message: str
    prompt: str = "x"
    #: How ``message`` is found in the error's message: ``"in"`` or ``"startswith"``.
    match: str = "in"
    drop_model: str | None = None
    drop_params: dict[str, Any] | None = None
    drop_prompt: str = "x"


@dataclass(frozen=True)
class ProviderError:
    """A native error of the provider and the OpenAI error the client gets for it.

    ``fault`` (on the mock) makes the provider fail; ``model`` and ``params`` make the
    request; the client gets ``exception`` whose body's ``message`` is ``message``
    (``match``: ``"=="``, ``"startswith"`` or ``"in"``), and, when given, ``code``,
    ``type`` and ``status_code``. ``then`` checks the mock afterwards."""

    name: str
    model: str
    exception: type[openai.APIError]
    message: str | None = None
    match: str = "=="
    code: str | None = None
    type: str | None = None
    status_code: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    fault: Callable[[Any], None] | None = None
    then: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class GatewayGroup:
    """Mocks and the one gateway in front of them (``provider_stacks(name)``)."""

    name: str
    #: New, not yet started mocks by name.
    mocks: Callable[[], dict[str, MockProvider]]
    #: The gateway config in front of the started mocks.
    config: Callable[[dict[str, Any]], str]
    #: The gateway's environment for the started mocks.
    env: Callable[[dict[str, Any]], dict[str, str | None]]


@dataclass(frozen=True)
class ProviderCase:
    """One provider: a row of :data:`CONFORMANCE`.

    A provider with a gateway of its own gives ``mock``, ``config`` and ``env`` (its
    group is then named after it); providers that share a gateway (the
    OpenAI-compatible clouds) give the shared ``group`` and their ``mock_name`` in it.
    """

    #: The provider's name (the test ids).
    name: str
    #: The features of :data:`FEATURES` the provider has.
    supports: frozenset[str]
    #: What the mock answers to a prompt P: ``greeting + P``.
    greeting: str
    #: Put the mock back before each test (requests, faults, pacing).
    reset: Callable[[Any], None]
    #: A new, not yet started mock of the provider's native API.
    mock: Callable[[], MockProvider] | None = None
    #: The gateway config in front of the started mock.
    config: Callable[[Any], str] | None = None
    #: The gateway's environment for the started mock.
    env: Callable[[Any], dict[str, str | None]] | None = None
    #: The gateway group the provider is in (default: one of its own).
    group: GatewayGroup | None = None
    #: The provider's mock in its group (default: ``name``).
    mock_name: str = ""
    #: The client's own key, which must never reach the provider.
    client_key: str = ""
    #: The groups a feature test sends to.
    chat_model: str = ""
    no_usage_model: str = ""
    stream_models: tuple[str, ...] = ()
    tools_model: str = ""
    #: The group of the non-streamed tool round trip (default: ``tools_model``).
    round_trip_model: str = ""
    #: What the mock answers to the tool result "18C and sunny".
    tool_result_answer: str = ""
    json_model: str = ""
    #: What JSON mode answers (default: ``{"answer": greeting + "json please"}``).
    json_answer: dict[str, Any] | None = None
    image_models: tuple[str, ...] = ()
    embedding_model: str = ""
    #: The tool the tool tests give (some providers' tests use a stricter schema).
    tool: dict[str, Any] = field(default_factory=lambda: WEATHER_TOOL)
    #: More arguments for the streamed tool call (e.g. ``stream_options``).
    tool_stream_params: dict[str, Any] = field(default_factory=dict)
    #: The provider ends every stream with usage, asked or not (the gateway passes it on
    #: in the last chunk; Mistral, Perplexity, Cerebras, Fireworks).
    usage_always: bool = False
    #: A paced stream must spread its chunks over at least this many seconds.
    stream_spread: float = 0.5
    #: Seconds between the provider's stream events in the stream test (None: the
    #: mock's default pacing, and no spread checked).
    stream_pace: float | None = 0.15
    #: What the stream test asks for.
    stream_prompt: str = "stream please now"
    mid_stream_error: MidStreamError | None = None
    unsupported: Unsupported | None = None
    errors: tuple[ProviderError, ...] = ()
    #: Provider-specific checks after each feature (see the test of the same name).
    check_tool_call: Callable[..., None] | None = None
    check_tool_result: Callable[..., None] | None = None
    check_image: Callable[..., None] | None = None
    check_json_mode: Callable[..., None] | None = None
    check_embeddings: Callable[..., None] | None = None
    check_stream_usage: Callable[..., None] | None = None
    check_stream_no_usage: Callable[..., None] | None = None
    check_streamed_tool_call: Callable[..., None] | None = None
    check_unsupported: Callable[..., None] | None = None
    check_dropped: Callable[..., None] | None = None

    def __post_init__(self) -> None:
        unknown = self.supports - FEATURES
        assert not unknown, f"{self.name}: unknown features {sorted(unknown)}"
        if not self.client_key:
            object.__setattr__(self, "client_key", f"sk-client-key-must-not-reach-{self.name}")
        if not self.mock_name:
            object.__setattr__(self, "mock_name", self.name)
        if not self.round_trip_model:
            object.__setattr__(self, "round_trip_model", self.tools_model)
        if self.group is None:
            assert self.mock and self.config and self.env, f"{self.name}: mock, config and env"
            name, mock, config, env = self.name, self.mock, self.config, self.env
            object.__setattr__(self, "group", GatewayGroup(
                name=name,
                mocks=lambda: {name: mock()},
                config=lambda mocks: config(mocks[name]),
                env=lambda mocks: env(mocks[name]),
            ))


class ProviderStack:
    """A group's mocks and the gateway in front of them, started once (see
    ``conftest.provider_stacks``)."""

    def __init__(self, group: GatewayGroup, workdir: Path) -> None:
        self.group = group
        self.workdir = workdir
        self.mocks: dict[str, Any] = {}
        self.gateway: harness.Gateway | None = None

    @property
    def mock(self) -> Any:
        """The mock of a group of one provider."""
        (mock,) = self.mocks.values()
        return mock

    def start(self) -> "ProviderStack":
        missing = harness.missing_prerequisites()
        if missing:
            pytest.fail("gateway prerequisites missing: " + "; ".join(missing))
        try:
            for name, mock in self.group.mocks().items():
                self.mocks[name] = mock.start()
            self.gateway = harness.Gateway(self.group.config(self.mocks),
                                           self.group.env(self.mocks), workdir=self.workdir).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        for mock in self.mocks.values():
            mock.stop()

    def client(self, client_key: str) -> openai.OpenAI:
        assert self.gateway is not None
        return openai.OpenAI(base_url=self.gateway.url("/v1"), api_key=client_key,
                             max_retries=0, timeout=20)


def _clear(mock: Any) -> None:
    mock.clear_requests()
    mock.clear_faults()


def _clear_and_pace(mock: Any) -> None:
    _clear(mock)
    mock.slow_stream(0.02)


# --------------------------------------------------------------------------------------
# Cohere (v2: /v2/chat, /v2/embed)
# --------------------------------------------------------------------------------------


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
    reset=_clear_and_pace,
    chat_model="command",
    no_usage_model="command-chat",
    stream_models=("command",),
    tools_model="command-chat",
    round_trip_model="command",
    tool_result_answer="cohere mock received tool result: get_weather=18C and sunny",
    json_model="command",
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
    check_stream_usage=_cohere_stream_usage,
    check_streamed_tool_call=_cohere_streamed_tool_call,
    check_unsupported=_cohere_unsupported,
    check_dropped=_cohere_dropped,
)


# --------------------------------------------------------------------------------------
# Gemini (Google AI Studio: generateContent)
# --------------------------------------------------------------------------------------

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
    # data, embeddings come float and base64: test_gemini.py.
    supports=FEATURES - {"tool_round_trip", "image", "embeddings"},
    greeting="Hello from gemini mock: ",
    reset=_clear,
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


# --------------------------------------------------------------------------------------
# Ollama (/api/chat, /api/generate, /api/embed)
# --------------------------------------------------------------------------------------


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
    reset=_clear,
    chat_model="llama-chat",
    no_usage_model="llama-chat",
    stream_models=("llama-chat", "llama-generate"),
    tools_model="llama-chat",
    tool_result_answer="ollama mock received tool result: get_weather=18C and sunny",
    json_model="llama-chat",
    image_models=("llama-chat", "llama-generate"),
    embedding_model="nomic",
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
    check_stream_usage=_ollama_stream_usage,
    check_unsupported=_ollama_unsupported,
)


# --------------------------------------------------------------------------------------
# Hugging Face (a TGI server / Inference Endpoint)
# --------------------------------------------------------------------------------------

#: Hugging Face's tests give a smaller tool.
HF_WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}},
}


def huggingface_config(mock: HuggingFaceMock) -> str:
    # hf-generate has a ChatML-style template (the bos/eos tokens included); hf-tgi
    # names the text-generation task and has none (LiteLLM's default_pt).
    return f"""
model_list:
  - model_name: hf-chat
    litellm_params:
      model: huggingface/tgi
      api_base: {mock.root_url}/v1/
  - model_name: hf-generate
    litellm_params:
      model: huggingface/mistralai/Mistral-7B-Instruct-v0.2
      api_base: {mock.root_url}
      initial_prompt_value: "<<start>>"
      roles:
        system: {{pre_message: "<|im_start|>system\\n", post_message: "<|im_end|>\\n"}}
        user: {{pre_message: "<|im_start|>user\\n", post_message: "<|im_end|>\\n"}}
        assistant: {{pre_message: "<|im_start|>assistant\\n", post_message: "<|im_end|>\\n"}}
      final_prompt_value: "<|im_start|>assistant\\n"
      bos_token: "<s>"
      eos_token: "</s>"
  - model_name: hf-tgi
    litellm_params:
      model: huggingface/text-generation-inference/bigcode/starcoder
      api_base: {mock.root_url}
  - model_name: hf-drop
    litellm_params:
      model: huggingface/text-generation-inference/bigcode/starcoder
      api_base: {mock.root_url}
      drop_params: true
  - model_name: hf-flaky
    litellm_params:
      model: huggingface/text-generation-inference/bigcode/starcoder
      api_base: {mock.root_url}/generate
"""


def _huggingface_unsupported(client: openai.OpenAI, mock: HuggingFaceMock,
                             body: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="hf-generate", messages=[{"role": "user", "content": "x"}],
                                       tools=[HF_WEATHER_TOOL])
    assert err.value.body["param"] == "tools"
    assert "huggingface does not support parameters" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="hf-generate",
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
        )
    assert err.value.body["param"] == "messages[0].content[0].type"
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="hf-generate", input="x")


def _huggingface_dropped(sent: dict[str, Any]) -> None:
    assert set(sent) == {"inputs", "parameters"}


def _huggingface_flaky_path(mock: HuggingFaceMock) -> None:
    assert mock.last_request.path == "/generate", "a base naming /generate is cut back to the endpoint"


HUGGINGFACE = ProviderCase(
    name="huggingface",
    mock=HuggingFaceMock,
    config=huggingface_config,
    env=lambda mock: {"HF_TOKEN": HF_KEY},
    # Streams, tools, images, JSON mode and embeddings: test_huggingface.py (the
    # Messages API passes them through; /generate has its own grammar and prompt).
    supports=frozenset({"mid_stream_error", "unsupported_params", "provider_errors"}),
    greeting="Hello from huggingface mock: ",
    reset=_clear_and_pace,
    chat_model="hf-chat",
    tool=HF_WEATHER_TOOL,
    mid_stream_error=MidStreamError("hf-tgi", 2, "CUDA out of memory", prompt="a b c d"),
    unsupported=Unsupported("hf-generate", {"logit_bias": {"1": 2}}, ("logit_bias",),
                            "huggingface does not support parameters",
                            drop_model="hf-drop",
                            drop_params={"logit_bias": {"1": 2}, "tools": [HF_WEATHER_TOOL]}),
    errors=(
        # TGI's own validation (top_p must be < 1) comes back with its message and status.
        ProviderError("validation", "hf-tgi", openai.UnprocessableEntityError,
                      "Input validation error: `top_p` must be > 0.0 and < 1.0",
                      params={"top_p": 1.0}),
        # Every attempt (num_retries 2), on a group of its own.
        ProviderError("generation-failed", "hf-flaky", openai.InternalServerError,
                      "Request failed during generation", "startswith",
                      fault=lambda mock: mock.fail_next(3, status=424),
                      then=_huggingface_flaky_path),
    ),
    check_unsupported=_huggingface_unsupported,
    check_dropped=_huggingface_dropped,
)


# --------------------------------------------------------------------------------------
# Amazon Bedrock (Converse, ConverseStream, invoke; SigV4)
# --------------------------------------------------------------------------------------

BEDROCK_CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
BEDROCK_CLAUDE_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"


def bedrock_config(mock: BedrockMock) -> str:
    # `claude` signs with litellm_params keys (os.environ/), `claude-37` and the
    # embedding models with the standard AWS variables (session credentials), one
    # uses a Bedrock API key, one a wrong secret.
    return f"""
model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/converse/{BEDROCK_CLAUDE}
      aws_access_key_id: os.environ/BR_KEY_ID
      aws_secret_access_key: os.environ/BR_SECRET
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: {mock.root_url}
  - model_name: claude-drop
    litellm_params:
      model: bedrock/{BEDROCK_CLAUDE}
      aws_access_key_id: os.environ/BR_KEY_ID
      aws_secret_access_key: os.environ/BR_SECRET
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: {mock.root_url}
      drop_params: true
  - model_name: claude-37
    litellm_params:
      model: bedrock/{BEDROCK_CLAUDE_37}
      aws_bedrock_runtime_endpoint: {mock.root_url}
  - model_name: claude-bearer
    litellm_params:
      model: bedrock/{BEDROCK_CLAUDE}
      api_key: os.environ/BR_API_KEY
      api_base: {mock.root_url}
  - model_name: claude-wrong-secret
    litellm_params:
      model: bedrock/{BEDROCK_CLAUDE}
      aws_access_key_id: os.environ/BR_KEY_ID
      aws_secret_access_key: os.environ/BR_WRONG_SECRET
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: {mock.root_url}
  - model_name: titan
    litellm_params:
      model: bedrock/amazon.titan-embed-text-v2:0
      aws_bedrock_runtime_endpoint: {mock.root_url}
      input_cost_per_token: 0.0000001
    model_info: {{mode: embedding}}
  - model_name: cohere-embed
    litellm_params:
      model: bedrock/cohere.embed-english-v3
      aws_bedrock_runtime_endpoint: {mock.root_url}
    model_info: {{mode: embedding}}
router_settings:
  num_retries: 0
"""


def bedrock_env(mock: BedrockMock) -> dict[str, str | None]:
    return {
        "BR_KEY_ID": STATIC_KEY.access_key_id,
        "BR_SECRET": STATIC_KEY.secret_access_key,
        "BR_WRONG_SECRET": "not-the-secret-" + STATIC_KEY.secret_access_key,
        "BR_API_KEY": BEDROCK_API_KEY,
        # The standard variables: temporary (session) credentials.
        "AWS_ACCESS_KEY_ID": SESSION_KEY.access_key_id,
        "AWS_SECRET_ACCESS_KEY": SESSION_KEY.secret_access_key,
        "AWS_SESSION_TOKEN": SESSION_KEY.session_token,
        "AWS_REGION": "us-east-1",
        "AWS_BEARER_TOKEN_BEDROCK": None,
        "AWS_REGION_NAME": None,
        "AWS_BEDROCK_RUNTIME_ENDPOINT": None,
    }


def _bedrock_reset(mock: BedrockMock) -> None:
    _clear(mock)
    mock.embedding_delays = {}
    mock.embedding_failures = {}


def _bedrock_stream_usage(mock: BedrockMock, model: str, chunks: list[Any],
                          arrivals: list[float], usage: Any) -> None:
    for chunk in chunks:
        if chunk.usage:
            assert chunk.choices == [], "usage comes in its own last chunk"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 7, 10)
    arrivals = [at for at, chunk in zip(arrivals, chunks)
                if chunk.choices and chunk.choices[0].delta.content]
    assert arrivals[-1] - arrivals[0] > 0.3, f"chunks were buffered: {arrivals}"
    req = mock.last_request
    assert req.raw_path.endswith("/converse-stream")
    assert req.status == 200


def _bedrock_streamed_tool_call(mock: BedrockMock, calls: dict[int, dict], plan: str,
                                usage: Any) -> None:
    assert list(calls) == [0]
    assert calls[0]["id"].startswith("tooluse_")


def _bedrock_refused_with_400(mock: BedrockMock) -> None:
    assert mock.last_request.status == 400


def _bedrock_dropped(sent: dict[str, Any]) -> None:
    assert sent == {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}


BEDROCK = ProviderCase(
    name="bedrock",
    mock=BedrockMock,
    config=bedrock_config,
    env=bedrock_env,
    # No test of a stream without a usage request: Bedrock's never had one. Tool round
    # trips (tool_choice required), images (bytes; URLs refused), JSON mode (through a
    # forced tool) and embeddings (Titan, Cohere): test_bedrock.py.
    supports=FEATURES - {"stream_no_usage", "tool_round_trip", "image", "json_mode", "embeddings"},
    greeting="Hello from bedrock mock: ",
    reset=_bedrock_reset,
    chat_model="claude",
    stream_models=("claude",),
    tools_model="claude",
    stream_spread=0.0,
    mid_stream_error=MidStreamError("claude", 2, "Too many tokens", prompt="stream then fail",
                                    text_before=None),
    unsupported=Unsupported("claude", {"user": "u-1", "seed": 3}, ("user", "seed"), "drop_params",
                            prompt="hi", drop_model="claude-drop",
                            drop_params={"user": "u-1", "seed": 3}, drop_prompt="hi"),
    errors=(
        ProviderError("throttling", "claude", openai.RateLimitError,
                      "Too many requests, please wait before trying again.", type="rate_limit_error",
                      params={"messages": [{"role": "user", "content": "hi"}]},
                      fault=lambda mock: mock.fail_with(
                          "ThrottlingException",
                          "Too many requests, please wait before trying again.", 429)),
        ProviderError("model-not-ready", "claude", openai.InternalServerError, status_code=503,
                      params={"messages": [{"role": "user", "content": "hi"}]},
                      fault=lambda mock: mock.fail_with(
                          "ModelNotReadyException",
                          "Model is not ready to serve inference requests.", 429)),
        # temperature 1.5 passes the gateway and is Bedrock's to refuse.
        ProviderError("validation", "claude", openai.BadRequestError,
                      "The value at inferenceConfig.temperature must be between 0 and 1.",
                      params={"messages": [{"role": "user", "content": "hi"}], "temperature": 1.5},
                      then=_bedrock_refused_with_400),
    ),
    check_stream_usage=_bedrock_stream_usage,
    check_streamed_tool_call=_bedrock_streamed_tool_call,
    check_dropped=_bedrock_dropped,
)


# --------------------------------------------------------------------------------------
# The OpenAI-compatible clouds and servers: one gateway, a mock for each
# --------------------------------------------------------------------------------------

# Each prefix gets an OpenAIMock of its own, mounted the way LiteLLM finds the cloud:
# its key from LiteLLM's key variable (no ``api_key`` in the config), its address from
# LiteLLM's ``<PROVIDER>_API_BASE`` variable where LiteLLM reads one (Mistral and LM
# Studio get an ``api_base``). Clouds whose API differs from OpenAI's get the mock's
# profile for them (``mocks.CLOUD_PROFILES``).
#
# prefix: (model id, key variable or None for keyless servers, base variable or None
# for an api_base in the config, tools, embeddings — False where the provider has
# no embeddings API: Groq, DeepSeek, Perplexity, Cerebras)
CLOUDS: dict[str, tuple[str, str | None, str | None, bool, bool]] = {
    "openai": ("gpt-4o-mini", "OPENAI_API_KEY", None, True, True),
    "mistral": ("mistral-small-latest", "MISTRAL_API_KEY", None, True, True),
    "groq": ("llama-3.1-8b-instant", "GROQ_API_KEY", "GROQ_API_BASE", True, False),
    "deepseek": ("deepseek-chat", "DEEPSEEK_API_KEY", "DEEPSEEK_API_BASE", True, False),
    "together_ai": ("meta-llama/Llama-3-8b-chat-hf", "TOGETHERAI_API_KEY", "TOGETHER_AI_API_BASE", True, True),
    "openrouter": ("anthropic/claude-3.5-sonnet", "OPENROUTER_API_KEY", "OPENROUTER_API_BASE", True, True),
    "xai": ("grok-2", "XAI_API_KEY", "XAI_API_BASE", True, True),
    "fireworks_ai": ("llama-v3p1-8b-instruct", "FIREWORKS_AI_API_KEY", "FIREWORKS_API_BASE", True, True),
    "perplexity": ("sonar", "PERPLEXITYAI_API_KEY", "PERPLEXITY_API_BASE", False, False),
    "cerebras": ("llama3.1-8b", "CEREBRAS_API_KEY", "CEREBRAS_API_BASE", True, False),
    "deepinfra": ("meta-llama/Meta-Llama-3-8B-Instruct", "DEEPINFRA_API_KEY", "DEEPINFRA_API_BASE", True, True),
    "hosted_vllm": ("meta-llama/Llama-3.1-8B-Instruct", "HOSTED_VLLM_API_KEY", "HOSTED_VLLM_API_BASE", True, True),
    "lm_studio": ("qwen2.5-7b-instruct", None, None, True, True),
    "llamafile": ("LLaMA_CPP", None, "LLAMAFILE_API_BASE", True, True),
}


def cloud_key(prefix: str) -> str:
    # LiteLLM sends "fake-api-key" to keyless local servers.
    return f"sk-{prefix}-key" if CLOUDS[prefix][1] else "fake-api-key"


def clouds_mocks() -> dict[str, MockProvider]:
    return {prefix: OpenAIMock(api_key=cloud_key(prefix), name=prefix,
                               profile=prefix if prefix in CLOUD_PROFILES else None)
            for prefix in CLOUDS}


def clouds_config(mocks: dict[str, Any]) -> str:
    lines = ["model_list:"]
    for prefix, (model, _, base_var, _, _) in CLOUDS.items():
        lines += [f"  - model_name: {prefix}", "    litellm_params:", f"      model: {prefix}/{model}"]
        if base_var is None:
            lines.append(f"      api_base: {mocks[prefix].base_url}")
        if prefix == "openai":
            # With a custom api_base, openai/ reads no default key (LiteLLM neither).
            lines.append("      api_key: os.environ/OPENAI_API_KEY")
    lines += [
        "  - model_name: mistral-drop",
        "    litellm_params:",
        "      model: mistral/mistral-small-latest",
        f"      api_base: {mocks['mistral'].base_url}",
        "      drop_params: true",
        "  - model_name: magistral",
        "    litellm_params:",
        "      model: mistral/magistral-medium-2506",
        f"      api_base: {mocks['mistral'].base_url}",
    ]
    return "\n".join(lines) + "\n"


def clouds_env(mocks: dict[str, Any]) -> dict[str, str | None]:
    env: dict[str, str | None] = {}
    for prefix, (_, key_var, base_var, _, _) in CLOUDS.items():
        if key_var:
            env[key_var] = cloud_key(prefix)
        if base_var:
            env[base_var] = mocks[prefix].base_url
    return env


CLOUDS_GROUP = GatewayGroup("clouds", clouds_mocks, clouds_config, clouds_env)


# The model id each cloud receives (Fireworks ids get their account path).
SENT_MODEL = {p: CLOUDS[p][0] for p in CLOUDS} | {
    "fireworks_ai": "accounts/fireworks/models/llama-v3p1-8b-instruct"
}


def _cloud_stream_usage(mock: OpenAIMock, model: str, chunks: list[Any],
                        arrivals: list[float], usage: Any) -> None:
    assert usage.completion_tokens == 6
    sent = mock.last_request.json
    if mock.stream_usage_always:
        assert "stream_options" not in sent, "this cloud refuses it; its streams carry usage"
    else:
        assert sent["stream_options"] == {"include_usage": True}


def _cloud_image(mock: OpenAIMock, model: str, part: dict[str, Any]) -> None:
    assert mock.last_request.json["messages"][0]["content"][1] == part


def _cloud_json_mode(client: openai.OpenAI, mock: OpenAIMock) -> None:
    assert mock.last_request.json["response_format"] == {"type": "json_object"}


def _cloud_embeddings(client: openai.OpenAI, mock: OpenAIMock, e: Any) -> None:
    req = mock.last_request
    assert req.path == "/v1/embeddings"
    assert req.json["model"] == SENT_MODEL[mock.name]


def _mistral_unsupported(client: openai.OpenAI, mock: OpenAIMock, body: dict[str, Any]) -> None:
    assert "drop_params" in body["message"]


def _mistral_dropped(sent: dict[str, Any]) -> None:
    assert "logit_bias" not in sent


def cloud(prefix: str, **row: Any) -> ProviderCase:
    """The row of one cloud of :data:`CLOUDS` (in :data:`CLOUDS_GROUP`)."""
    _, _, _, tools, embeddings = CLOUDS[prefix]
    # Perplexity has no tools (test_clouds.py: test_perplexity_has_no_tools); Groq,
    # DeepSeek, Perplexity and Cerebras no embeddings API.
    supports = {"stream_usage", "stream_no_usage", "image", "json_mode"}
    supports |= {"streamed_tool_call", "tool_round_trip"} if tools else set()
    supports |= {"embeddings"} if embeddings else set()
    supports |= {"unsupported_params"} if "unsupported" in row else set()
    supports |= {"provider_errors"} if "errors" in row else set()
    return ProviderCase(
        # openai/ with a custom api_base is what openai_like servers are.
        name="openai_like" if prefix == "openai" else prefix,
        group=CLOUDS_GROUP,
        mock_name=prefix,
        supports=frozenset(supports),
        greeting=f"Hello from {prefix} mock: ",
        reset=_clear,
        client_key="sk-client-key-must-not-reach-clouds",
        chat_model=prefix,
        no_usage_model=prefix,
        tools_model=prefix,
        tool_result_answer=f"{prefix} mock received tool result: 18C and sunny",
        json_model=prefix,
        image_models=(prefix,),
        embedding_model=prefix,
        stream_models=(prefix,),
        stream_pace=None,
        stream_prompt="stream me",
        check_stream_usage=_cloud_stream_usage,
        check_image=_cloud_image,
        check_json_mode=_cloud_json_mode,
        check_embeddings=_cloud_embeddings,
        usage_always=bool(CLOUD_PROFILES.get(prefix, {}).get("stream_usage_always")),
        **row,
    )


CLOUD_ROWS = [
    cloud("mistral",
          unsupported=Unsupported("mistral", {"logit_bias": {"1": 2}}, ("logit_bias",),
                                  "mistral does not support parameters", match="startswith",
                                  drop_model="mistral-drop", drop_params={"logit_bias": {"1": 2}},
                                  drop_prompt="dropped"),
          check_unsupported=_mistral_unsupported,
          check_dropped=_mistral_dropped),
    cloud("groq",
          errors=(ProviderError("bad-key", "groq", openai.AuthenticationError,
                                "Incorrect API key provided", "startswith", code="401",
                                fault=lambda mock: mock.fail_next(1, status=401)),)),
    *(cloud(prefix) for prefix in CLOUDS if prefix not in ("mistral", "groq")),
]


# --------------------------------------------------------------------------------------
# OpenAI, Azure OpenAI and Anthropic: one gateway, a mock for each
# --------------------------------------------------------------------------------------


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
    _clear(mock)
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


#: Every provider, in the order the suite runs them.
CONFORMANCE: list[ProviderCase] = [OPENAI, ANTHROPIC, BEDROCK, COHERE, GEMINI, HUGGINGFACE, OLLAMA,
                                   *CLOUD_ROWS]


def group(name: str) -> GatewayGroup:
    """The gateway group named ``name``."""
    for row in CONFORMANCE:
        if row.group is not None and row.group.name == name:
            return row.group
    raise KeyError(name)


# --------------------------------------------------------------------------------------
# Helpers the feature tests share
# --------------------------------------------------------------------------------------

def timed_chunks(stream: Any) -> tuple[list[Any], list[float]]:
    """Every chunk of an OpenAI stream and when each arrived (monotonic seconds)."""
    chunks, arrivals = [], []
    for chunk in stream:
        arrivals.append(time.monotonic())
        chunks.append(chunk)
    return chunks, arrivals


def collect_tool_calls(chunks: list[Any]) -> tuple[dict[int, dict], str | None, str, Any]:
    """The streamed tool calls by index (``id``, ``name``, ``arguments``), the finish
    reason, Cohere-style ``tool_plan`` text and the usage of a chat stream."""
    calls: dict[int, dict] = {}
    finish, plan, usage = None, "", None
    for chunk in chunks:
        usage = chunk.usage or usage
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        plan += (delta.model_extra or {}).get("tool_plan") or ""
        for tc in delta.tool_calls or []:
            slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
            slot["id"] = tc.id or slot["id"]
            if tc.function and tc.function.name:
                slot["name"] += tc.function.name
            if tc.function and tc.function.arguments:
                slot["arguments"] += tc.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    return calls, finish, plan, usage


def tool_args(calls: dict[int, dict]) -> Any:
    return json.loads(calls[0]["arguments"])


__all__ = [
    "CONFORMANCE", "DEFAULT_TOOL_ARGS", "FEATURES", "GatewayGroup", "MidStreamError", "ProviderCase",
    "ProviderError", "ProviderStack", "Unsupported", "WEATHER_TOOL", "group",
    "CLOUDS", "CLOUDS_GROUP", "PIXEL", "PROVIDERS_GROUP", "SENT_MODEL", "cloud_key", "collect_tool_calls", "timed_chunks", "tool_args",
]
