"""One conformance suite for every provider with a gateway of its own: each feature of
the OpenAI API is one test function, run for every row of
:data:`conformance.CONFORMANCE` that supports it, with the official ``openai`` client
against the provider's strict native mock.

The rows share their gateway with the provider's own test file (one Envoy per
provider, as before): see ``conftest.provider_stacks``. What is special about a
provider is in its row (``check_*``) or in its own ``test_<provider>.py``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from conformance import (
    CONFORMANCE,
    DEFAULT_TOOL_ARGS,
    PIXEL,
    ProviderCase,
    collect_tool_calls,
    timed_chunks,
    tool_args,
)


def rows(feature: str) -> list[Any]:
    """The rows that support ``feature`` (or refuse it, see ``ProviderCase.refuses``), as
    pytest parameters named by provider."""
    return [pytest.param(row, id=row.name) for row in CONFORMANCE
            if feature in row.supports | row.refuses]


def reasoning_rows() -> list[Any]:
    return [pytest.param(row, model, id=f"{row.name}-{model}")
            for row in CONFORMANCE if "reasoning" in row.supports | row.refuses
            for model in row.reasoning_models]


def stream_rows() -> list[Any]:
    return [pytest.param(row, model, id=f"{row.name}-{model}")
            for row in CONFORMANCE if "stream_usage" in row.supports
            for model in row.stream_models]


def image_rows() -> list[Any]:
    return [pytest.param(row, model, id=f"{row.name}-{model}")
            for row in CONFORMANCE if "image" in row.supports
            for model in row.image_models]


def completion_rows() -> list[Any]:
    return [pytest.param(row, model, id=f"{row.name}-{model}")
            for row in CONFORMANCE if "text_completion" in row.supports
            for model in row.completion_models]


def error_rows() -> list[Any]:
    return [pytest.param(row, error, id=f"{row.name}-{error.name}")
            for row in CONFORMANCE if "provider_errors" in row.supports
            for error in row.errors]


@pytest.fixture
def provider(case: ProviderCase, provider_stacks: Any) -> Any:
    """The row's started mock, reset for this test."""
    mock = provider_stacks(case.group.name).mocks[case.mock_name]
    case.reset(mock)
    return mock


@pytest.fixture
def client(case: ProviderCase, provider_stacks: Any) -> openai.OpenAI:
    return provider_stacks(case.group.name).client(case.client_key)


# --------------------------------------------------------------------------------------
# Chat: tools, images, JSON mode; embeddings
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", rows("tool_round_trip"))
def test_tool_call_round_trip(case, client, provider):
    if "tool_round_trip" in case.refuses:
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(
                model=case.tools_model, messages=[{"role": "user", "content": "x"}], tools=[case.tool]
            )
        assert err.value.body["param"] == "tools"
        assert provider.request_count == 0
        return
    question = {"role": "user", "content": "What's the weather in Paris?"}
    first = client.chat.completions.create(
        model=case.round_trip_model, messages=[question], tools=[case.tool], tool_choice=case.tool_choice,
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.id and call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == DEFAULT_TOOL_ARGS
    if case.check_tool_call:
        case.check_tool_call(provider, choice)

    second = client.chat.completions.create(
        model=case.round_trip_model,
        messages=[
            question,
            # As clients send it back (an OpenAI answer's empty `annotations` left out).
            choice.message.model_dump(exclude_none=True, exclude={"annotations"}),
            {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"},
        ],
        tools=[case.tool],
    )
    assert second.choices[0].message.content == case.tool_result_answer
    if case.check_tool_result:
        case.check_tool_result(provider, call)


@pytest.mark.parametrize("case,model", image_rows())
def test_data_uri_image(case, model, client, provider):
    part = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}
    r = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": [{"type": "text", "text": "what is this"}, part]}],
    )
    assert r.choices[0].message.content == case.greeting + "what is this"
    if case.check_image:
        case.check_image(provider, model, part)


@pytest.mark.parametrize("case", rows("json_mode"))
def test_json_mode(case, client, provider):
    r = client.chat.completions.create(
        model=case.json_model,
        messages=[{"role": "user", "content": "json please"}],
        response_format={"type": "json_object"},
    )
    answer = case.json_answer or {"answer": case.greeting + "json please"}
    assert json.loads(r.choices[0].message.content) == answer
    assert r.choices[0].message.tool_calls is None and r.choices[0].finish_reason == "stop"
    if case.check_json_mode:
        case.check_json_mode(client, provider)


@pytest.mark.parametrize("case", rows("embeddings"))
def test_embeddings(case, client, provider):
    e = client.embeddings.create(model=case.embedding_model, input=["alpha", "beta"])  # SDK asks base64
    assert len(e.data) == 2 and len(e.data[0].embedding) == 8
    if case.check_embeddings:
        case.check_embeddings(client, provider, e)


@pytest.mark.parametrize("case,model", reasoning_rows())
def test_reasoning(case, model, client, provider):
    plain, streamed = case.reasoning_efforts
    if "reasoning" in case.refuses:
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "think"}], reasoning_effort=plain
            )
        assert err.value.body["param"] == "reasoning_effort"
        return
    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "think"}], reasoning_effort=plain
    )
    if case.check_reasoning:
        case.check_reasoning(client, provider, model)
    assert r.choices[0].message.reasoning_content == case.reasoning_answer(plain)
    assert r.choices[0].message.content == case.greeting + "think"
    reasoning, text = "", ""
    for chunk in client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "think"}], reasoning_effort=streamed, stream=True
    ):
        if chunk.choices:
            reasoning += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
            text += chunk.choices[0].delta.content or ""
    assert reasoning == case.reasoning_answer(streamed)
    assert text == case.greeting + "think"


@pytest.mark.parametrize("case,model", completion_rows())
def test_text_completion(case, model, client, provider):
    r = client.completions.create(model=model, prompt="Say hi", max_tokens=4)
    assert r.object == "text_completion"
    assert (r.choices[0].text, r.choices[0].finish_reason) == (case.greeting.rstrip(" "), "length")
    if case.check_completion:
        case.check_completion(provider, model)
    text, usage = "", None
    for chunk in client.completions.create(
        model=model, prompt="Stream hi", stream=True, stream_options={"include_usage": True}
    ):
        if chunk.choices:
            text += chunk.choices[0].text
        usage = chunk.usage or usage
    assert text == case.greeting + "Stream hi"
    assert usage is not None and usage.completion_tokens == 6


# --------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case,model", stream_rows())
def test_stream_ends_with_usage(case, model, client, provider):
    if case.stream_pace is not None:
        provider.slow_stream(case.stream_pace)
    started = time.monotonic()
    chunks, arrivals = timed_chunks(client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": case.stream_prompt}],
        stream=True,
        stream_options={"include_usage": True},
    ))
    text, finish, usage = "", None, None
    for chunk in chunks:
        assert chunk.object == "chat.completion.chunk"
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == case.greeting + case.stream_prompt
    assert finish == "stop"
    assert usage is not None
    if case.stream_pace is not None:
        # Events paced apart: a gateway that buffered the stream would deliver every
        # chunk at once at the end.
        since_start = [at - started for at in arrivals]
        assert since_start[-1] - since_start[0] >= case.stream_spread, since_start
    if case.check_stream_usage:
        case.check_stream_usage(provider, model, chunks, arrivals, usage)


@pytest.mark.parametrize("case", rows("stream_no_usage"))
def test_stream_without_usage_request_has_no_usage_chunk(case, client, provider):
    chunks = list(client.chat.completions.create(
        model=case.no_usage_model, messages=[{"role": "user", "content": "quiet"}], stream=True
    ))
    # The gateway's own usage request never shows: no choices-less chunk, and no usage
    # (but the one a provider always sends, in the last chunk).
    assert chunks and all(c.choices for c in chunks)
    without_usage = chunks[:-1] if case.usage_always else chunks
    assert all(c.usage is None for c in without_usage)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == case.greeting + "quiet"
    assert chunks[-1].choices[0].finish_reason == "stop"
    if case.check_stream_no_usage:
        case.check_stream_no_usage(provider)


# --------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", rows("streamed_tool_call"))
def test_streamed_tool_call(case, client, provider):
    calls, finish, plan, usage = collect_tool_calls(list(client.chat.completions.create(
        model=case.tools_model, messages=[{"role": "user", "content": "weather?"}], tools=[case.tool],
        stream=True, **case.tool_stream_params,
    )))
    assert finish == "tool_calls"
    assert calls[0]["id"] and calls[0]["name"] == "get_weather"
    assert tool_args(calls) == DEFAULT_TOOL_ARGS
    if case.check_streamed_tool_call:
        case.check_streamed_tool_call(provider, calls, plan, usage)


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", rows("mid_stream_error"))
def test_error_mid_stream(case, client, provider):
    spec = case.mid_stream_error
    provider.stream_error_next(after_events=spec.after_events)
    text = ""
    with pytest.raises(openai.APIError) as err:
        for chunk in client.chat.completions.create(
            model=spec.model, messages=[{"role": "user", "content": spec.prompt}], stream=True
        ):
            text += chunk.choices[0].delta.content or ""
    assert spec.message in str(err.value)
    if spec.text_before is not None:
        assert text == spec.text_before


@pytest.mark.parametrize("case", rows("unsupported_params"))
def test_unsupported_parameter_is_named_unless_dropped(case, client, provider):
    spec = case.unsupported
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=spec.model, messages=[{"role": "user", "content": spec.prompt}], **spec.params
        )
    assert err.value.body["param"] in spec.named
    if spec.match == "startswith":
        assert err.value.body["message"].startswith(spec.message), err.value.body
    else:
        assert spec.message in err.value.body["message"], err.value.body
    if case.check_unsupported:
        case.check_unsupported(client, provider, err.value.body)
    assert provider.request_count == 0
    if spec.drop_model is None:
        return
    r = client.chat.completions.create(
        model=spec.drop_model, messages=[{"role": "user", "content": spec.drop_prompt}],
        **(spec.drop_params or spec.params),
    )
    assert r.choices[0].message.content == case.greeting + spec.drop_prompt
    if case.check_dropped:
        case.check_dropped(provider.last_request.json)


@pytest.mark.parametrize("case,error", error_rows())
def test_provider_errors_become_openai_errors(case, error, client, provider):
    if error.fault:
        error.fault(provider)
    request = {"messages": [{"role": "user", "content": "x"}], **error.params}
    with pytest.raises(error.exception) as err:
        client.chat.completions.create(model=error.model, **request)
    body = err.value.body
    if error.message is not None:
        message = body["message"]
        if error.match == "==":
            assert message == error.message
        elif error.match == "startswith":
            assert message.startswith(error.message), message
        else:
            assert error.message in message, message
    if error.code is not None:
        assert body["code"] == error.code
    if error.type is not None:
        assert body["type"] == error.type
    if error.status_code is not None:
        assert err.value.status_code == error.status_code
    if error.then:
        error.then(provider)
