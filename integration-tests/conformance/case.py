"""What a conformance row is (:class:`ProviderCase`, :class:`GatewayGroup` and the
feature specs), the running group (:class:`ProviderStack`), and the helpers the
feature tests share."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import openai
import pytest

import harness
from mocks import MockProvider

#: The OpenAI features the conformance suite tests for every row that supports them.
FEATURES = frozenset({
    "tool_round_trip",     # a tool call, and the answer to its result
    "image",               # a data-URI image reaches the provider the provider's way
    "json_mode",           # response_format json_object answers JSON
    "embeddings",          # embeddings of a list of inputs
    "reasoning",           # reasoning_effort comes back as reasoning_content, streamed too
    "text_completion",     # /v1/completions, plain (cut at max_tokens) and streamed with usage
    "stream_usage",        # a stream asked for usage ends with it (and a paced one arrives paced)
    "stream_no_usage",     # a stream the client asked no usage for has no usage chunk
    "streamed_tool_call",  # a tool call arrives as streamed tool_call deltas
    "mid_stream_error",    # a native error event mid-stream ends the client's stream with it
    "unsupported_params",  # a parameter the provider lacks is named in a 400 unless dropped
    "provider_errors",     # the provider's native errors reach the client as OpenAI errors
})

#: The features whose test asserts the documented 400 for a row that ``refuses`` them.
REFUSABLE = frozenset({"tool_round_trip", "reasoning"})

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
    #: Envoy's worker threads (Vertex runs two: their filter VMs share one token).
    workers: int = 1


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
    #: Features of :data:`FEATURES` the provider does not have and refuses with a 400
    #: naming the parameter (the feature's test asserts that error).
    refuses: frozenset[str] = frozenset()
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
    reasoning_models: tuple[str, ...] = ()
    completion_models: tuple[str, ...] = ()
    #: The ``reasoning_effort`` of the plain request, then of the streamed one.
    reasoning_efforts: tuple[str, str] = ("medium", "low")
    #: The reasoning the mock answers for an effort.
    reasoning_answer: Callable[[str], str] | None = None
    #: The tool the tool tests give (some providers' tests use a stricter schema).
    tool: dict[str, Any] = field(default_factory=lambda: WEATHER_TOOL)
    #: The ``tool_choice`` of the non-streamed tool round trip.
    tool_choice: Any = "auto"
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
    check_reasoning: Callable[..., None] | None = None
    check_completion: Callable[..., None] | None = None
    check_stream_usage: Callable[..., None] | None = None
    check_stream_no_usage: Callable[..., None] | None = None
    check_streamed_tool_call: Callable[..., None] | None = None
    check_unsupported: Callable[..., None] | None = None
    check_dropped: Callable[..., None] | None = None

    def __post_init__(self) -> None:
        unknown = (self.supports | self.refuses) - FEATURES
        assert not unknown, f"{self.name}: unknown features {sorted(unknown)}"
        assert not self.supports & self.refuses, f"{self.name}: supports what it refuses"
        assert self.refuses <= REFUSABLE, f"{self.name}: no test asserts refusing {self.refuses}"
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
            self.gateway = harness.Gateway(self.group.config(self.mocks), self.group.env(self.mocks),
                                           workdir=self.workdir,
                                           concurrency=self.group.workers).start()
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


def reset_mock(mock: Any) -> None:
    mock.clear_requests()
    mock.clear_faults()


def reset_mock_and_pacing(mock: Any) -> None:
    reset_mock(mock)
    mock.slow_stream(0.02)


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
