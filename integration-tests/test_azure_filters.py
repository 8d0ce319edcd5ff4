"""Azure OpenAI's content-filter events in streams, through the real gateway.

Azure streams carry events of its own (its "Content streaming" guide): a prompt
annotation first (``"object": ""``, ``"choices": []``, ``prompt_filter_results``),
and with the Asynchronous Filter annotation events without a ``delta`` between and
after the content, one of which may stop the answer (``finish_reason:
content_filter``). The gateway normalizes them chunk by chunk as LiteLLM does
(``filter/src/providers/azure/``): clients see only ``chat.completion.chunk``
events with the answer's id, model and created. The :class:`AzureMock` emits them as
Azure does (``filter_mode``).

Checked with the ``openai`` client, with a strict check of the raw SSE, and with the
``anthropic`` client on ``/v1/messages`` (whose translation reads the same stream).

The gateway and the Azure mock are the ``providers`` group's (``conformance/providers.py``),
shared with ``test_providers.py`` and the ``azure`` row of ``test_conformance.py``.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

import harness
from mocks import AZURE_API_VERSION, AZURE_DEPLOYMENTS, AZURE_KEY, AzureMock

GROUP = "azure-gpt"
#: What Azure's deployment reports as its model.
AZURE_MODEL = AZURE_DEPLOYMENTS["gpt-4o-deploy"]
FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter", "function_call"}


@pytest.fixture(scope="module")
def azure(provider_stacks) -> AzureMock:
    """The providers group's Azure mock (conformance/providers.py), shared with
    test_providers.py and test_conformance.py."""
    return provider_stacks("providers").mocks["azure"]


@pytest.fixture(scope="module")
def gateway(provider_stacks) -> harness.Gateway:
    """The providers group's gateway: its ``azure-gpt`` deployment
    (``azure/gpt-4o-deploy`` with custom prices)."""
    return provider_stacks("providers").gateway


@pytest.fixture(params=["default", "asynchronous"])
def mode(request: pytest.FixtureRequest, azure: AzureMock, gateway: harness.Gateway) -> str:
    azure.clear_requests()
    azure.clear_faults()
    azure.filter_mode = request.param
    azure.filter_block_after = None
    yield request.param
    azure.filter_mode = "default"
    azure.filter_block_after = None


def strict_sse(gw: harness.Gateway, body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The raw events of a streamed chat completion, checked strictly: every event but
    the final ``[DONE]`` is a ``chat.completion.chunk`` with a non-empty id and model,
    a positive ``created`` (the same three on every chunk), and choices that each
    have an integer index, an object delta and a known finish reason or null."""
    with harness.open_stream("POST", gw.url("/v1/chat/completions"), body) as resp:
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = [e.data for e in harness.iter_sse(resp)]
    assert raw and raw[-1] == "[DONE]", raw
    assert "[DONE]" not in raw[:-1]
    chunks = [json.loads(data) for data in raw[:-1]]
    identity = {(c.get("id"), c.get("model"), c.get("created")) for c in chunks}
    assert len(identity) == 1, f"one id/model/created for the answer: {identity}"
    for c in chunks:
        assert c["object"] == "chat.completion.chunk", c
        assert isinstance(c["id"], str) and c["id"], c
        assert isinstance(c["model"], str) and c["model"], c
        assert isinstance(c["created"], int) and c["created"] > 0, c
        assert isinstance(c["choices"], list), c
        for choice in c["choices"]:
            assert isinstance(choice["index"], int), c
            assert isinstance(choice["delta"], dict), c
            assert choice.get("finish_reason") in FINISH_REASONS | {None}, c
        usage = c.get("usage")
        assert usage is None or all(isinstance(usage[k], int) for k in
                                    ("prompt_tokens", "completion_tokens", "total_tokens")), c
    return chunks, raw


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join((ch["delta"].get("content") or "") for c in chunks for ch in c["choices"])


def test_the_mock_streams_azures_filter_events(azure: AzureMock, mode: str) -> None:
    """The mock itself sends what the gateway must normalize (else the tests below
    prove nothing)."""
    import urllib.request

    req = urllib.request.Request(
        f"{azure.root_url}/openai/deployments/gpt-4o-deploy/chat/completions"
        f"?api-version={AZURE_API_VERSION}",
        data=json.dumps({"messages": [{"role": "user", "content": "a b c d e"}],
                         "stream": True}).encode(),
        headers={"api-key": AZURE_KEY, "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        events = [json.loads(line[6:]) for line in resp.read().decode().split("\n\n")
                  if line.startswith("data: {")]
    assert events[0]["object"] == "" and events[0]["choices"] == []
    assert "prompt_filter_results" in events[0]
    annotations = [e for e in events[1:] if e["object"] == ""]
    if mode == "asynchronous":
        assert len(annotations) >= 2
        assert all("delta" not in e["choices"][0] and "content_filter_offsets" in e["choices"][0]
                   for e in annotations)
    else:
        assert annotations == []


def test_openai_client_streams_see_only_proper_chunks(gateway: harness.Gateway, azure: AzureMock,
                                                      mode: str) -> None:
    client = openai.OpenAI(base_url=gateway.url("/v1"), api_key="anything", max_retries=0)
    chunks = list(client.chat.completions.create(
        model=GROUP, messages=[{"role": "user", "content": "one two three four"}], stream=True))
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.id for c in chunks} != {""} and len({c.id for c in chunks}) == 1
    assert all(c.choices for c in chunks), "no choices-less annotation reaches the client"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == \
        "Hello from azure mock: one two three four"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert azure.last_request.json["stream_options"] == {"include_usage": True}


def test_raw_stream_passes_a_strict_check(gateway: harness.Gateway, mode: str) -> None:
    chunks, raw = strict_sse(gateway, {
        "model": GROUP, "stream": True, "messages": [{"role": "user", "content": "strict please"}]})
    assert chunks[0]["model"] == AZURE_MODEL
    assert text_of(chunks) == "Hello from azure mock: strict please"
    assert not any("prompt_filter_results" in d or "content_filter_offsets" in d for d in raw)
    assert all(c["choices"] for c in chunks), "the usage chunk was not asked for"


def test_usage_chunk_survives_and_counts(gateway: harness.Gateway, mode: str) -> None:
    chunks, _ = strict_sse(gateway, {
        "model": GROUP, "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "count these words"}]})
    usage_chunks = [c for c in chunks if c.get("usage")]
    assert len(usage_chunks) == 1 and usage_chunks[0]["choices"] == []
    assert usage_chunks[0] is chunks[-1]
    usage = usage_chunks[0]["usage"]
    assert usage["completion_tokens"] == len("Hello from azure mock: count these words".split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_a_filter_that_stops_the_answer_ends_the_stream_properly(gateway: harness.Gateway,
                                                                   azure: AzureMock) -> None:
    azure.filter_mode = "asynchronous"
    azure.filter_block_after = 2
    try:
        chunks, _ = strict_sse(gateway, {
            "model": GROUP, "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "sing a copyrighted song please"}]})
        client = openai.OpenAI(base_url=gateway.url("/v1"), api_key="anything", max_retries=0)
        sdk_chunks = list(client.chat.completions.create(
            model=GROUP, messages=[{"role": "user", "content": "again"}], stream=True))
    finally:
        azure.filter_mode = "default"
        azure.filter_block_after = None
    finishes = [ch for c in chunks for ch in c["choices"] if ch.get("finish_reason")]
    assert len(finishes) == 1, chunks
    last = finishes[0]
    assert last["finish_reason"] == "content_filter"
    assert last["delta"] == {}
    assert last["content_filter_results"]["protected_material_text"]["filtered"] is True
    assert chunks[-1].get("usage"), "the usage chunk still ends the stream"
    assert sdk_chunks[-1].choices[0].finish_reason == "content_filter"
    assert {c.id for c in sdk_chunks} == {sdk_chunks[0].id} and sdk_chunks[0].id


def test_non_streamed_answers_keep_azures_filter_results(gateway: harness.Gateway,
                                                         azure: AzureMock) -> None:
    """A non-streamed Azure answer is a valid chat.completion as it is: it passes
    untouched, filter results included (LiteLLM keeps them too)."""
    client = openai.OpenAI(base_url=gateway.url("/v1"), api_key="anything", max_retries=0)
    r = client.chat.completions.with_raw_response.create(
        model=GROUP, messages=[{"role": "user", "content": "plain"}])
    body = json.loads(r.text)
    assert body["object"] == "chat.completion"
    assert body["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert "content_filter_results" in body["choices"][0]
    assert float(r.headers["x-litellm-response-cost"]) > 0
    assert r.parse().choices[0].message.content == "Hello from azure mock: plain"


def test_anthropic_clients_stream_through_the_filter_events(gateway: harness.Gateway,
                                                            mode: str) -> None:
    client = anthropic.Anthropic(base_url=gateway.url(""), api_key="anything", max_retries=0)
    with client.messages.stream(model=GROUP, max_tokens=100,
                                messages=[{"role": "user", "content": "via messages"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from azure mock: via messages"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len(text.split())
