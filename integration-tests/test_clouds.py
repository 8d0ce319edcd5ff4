"""The OpenAI-compatible clouds and servers through the gateway with the official
``openai`` client: ``openai/`` itself (a custom ``api_base``, as ``openai_like``
servers are), ``mistral/``, ``groq/``, ``deepseek/``, ``together_ai/``,
``openrouter/``, ``xai/``, ``fireworks_ai/``, ``perplexity/``, ``cerebras/``,
``deepinfra/``, ``hosted_vllm/``, ``lm_studio/``, ``llamafile/``.

Each prefix gets an :class:`mocks.OpenAIMock` of its own, mounted the way LiteLLM
finds the cloud: its key from LiteLLM's key variable (no ``api_key`` in the config),
its address from LiteLLM's ``<PROVIDER>_API_BASE`` variable where LiteLLM reads one
(Mistral and LM Studio get an ``api_base``). Clouds whose API differs from
OpenAI's get the mock's profile for them (see ``mocks.CLOUD_PROFILES``): the
parameters they accept, their ``tool_choice`` values, usage always at the end of
their streams. The clouds' table, their gateway config and their rows of the
conformance suite (streams without usage, streamed tool calls, unsupported
parameters, errors) are in ``conformance/clouds.py``; this file has the rest.
"""

from __future__ import annotations

import json

import openai
import pytest

from conformance import CLOUDS, SENT_MODEL, WEATHER_TOOL, cloud_key

CLIENT_KEY = "sk-client-key-must-not-reach-clouds"
PREFIXES = list(CLOUDS)
@pytest.fixture(scope="module")
def mocks(provider_stacks):
    """The clouds group's mocks (conformance/), shared with test_conformance.py."""
    return provider_stacks("clouds").mocks


@pytest.fixture(scope="module")
def gateway(provider_stacks):
    """The gateway in front of them (the group's config), shared with test_conformance.py."""
    return provider_stacks("clouds").gateway


@pytest.fixture
def clouds(mocks, gateway):
    for m in mocks.values():
        m.clear_requests()
        m.clear_faults()
    return mocks


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=20)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_chat(client, clouds, prefix):
    raw = client.chat.completions.with_raw_response.create(
        model=prefix, messages=[{"role": "user", "content": "hi there"}], max_tokens=40
    )
    r = raw.parse()
    assert r.choices[0].message.content == f"Hello from {prefix} mock: hi there"
    assert r.usage.total_tokens > 0
    assert raw.headers["x-litellm-model-group"] == prefix
    req = clouds[prefix].last_request
    assert req.path == "/v1/chat/completions"
    assert req.json["model"] == SENT_MODEL[prefix]
    # The key from LiteLLM's variable (or LiteLLM's placeholder for keyless servers).
    assert req.headers["authorization"] == f"Bearer {cloud_key(prefix)}"
    assert all(CLIENT_KEY not in v for v in req.headers.values())


def test_magistral_reasoning(client, clouds):
    """Magistral: reasoning_effort becomes LiteLLM's reasoning system prompt, and the
    `thinking` content chunks Mistral answers with come back as reasoning_content."""
    mistral = clouds["mistral"]
    r = client.chat.completions.create(
        model="magistral",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "think"}],
        reasoning_effort="medium",
    )
    message = r.choices[0].message
    assert message.content == "Hello from mistral mock: think"
    assert message.reasoning_content == "mistral mock thought it through"
    sent = mistral.last_request.json
    assert "reasoning_effort" not in sent
    system = sent["messages"][0]
    assert system["role"] == "system" and len(sent["messages"]) == 2
    assert "[SYSTEM_PROMPT]system_prompt" in system["content"]
    assert system["content"].endswith("\n\nBe brief.")
    text, reasoning, usage = "", "", None
    for chunk in client.chat.completions.create(
        model="magistral", messages=[{"role": "user", "content": "think"}],
        reasoning_effort="high", stream=True, stream_options={"include_usage": True},
    ):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            reasoning += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
        usage = chunk.usage or usage
    assert (text, reasoning) == ("Hello from mistral mock: think", "mistral mock thought it through")
    assert usage is not None and usage.completion_tokens == 5
    assert mistral.last_request.json["messages"][0]["role"] == "system"
    # Without reasoning_effort Magistral gets the messages as they are.
    client.chat.completions.create(model="magistral", messages=[{"role": "user", "content": "plain"}])
    assert mistral.last_request.json["messages"] == [{"role": "user", "content": "plain"}]


def test_openrouter_cost_is_the_spend(client, clouds):
    """OpenRouter is asked for `usage: {include: true}`; its `usage.cost` is the
    answer's price (x-litellm-response-cost), as LiteLLM takes it."""
    raw = client.chat.completions.with_raw_response.create(
        model="openrouter", messages=[{"role": "user", "content": "what does it cost"}]
    )
    r = raw.parse()
    sent = clouds["openrouter"].last_request.json
    assert sent["usage"] == {"include": True}
    expected = r.usage.prompt_tokens * 1e-6 + r.usage.completion_tokens * 2e-6
    assert float(raw.headers["x-litellm-response-cost"]) == pytest.approx(expected, rel=1e-9)
    # A client that asks itself keeps its own choice.
    client.chat.completions.create(
        model="openrouter", messages=[{"role": "user", "content": "x"}], extra_body={"usage": {"include": False}}
    )
    assert clouds["openrouter"].last_request.json["usage"] == {"include": False}


def test_fireworks_json_schema_is_sent_as_json_object_with_schema(client, clouds):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    client.chat.completions.create(
        model="fireworks_ai",
        messages=[{"role": "user", "content": "schema"}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    assert clouds["fireworks_ai"].last_request.json["response_format"] == {"type": "json_object", "schema": schema}


def test_groq_json_schema_through_a_forced_tool_call_and_faked_json_streams(client, clouds):
    groq = clouds["groq"]
    schema = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "w", "schema": schema}}
    r = client.chat.completions.create(
        model="groq", messages=[{"role": "user", "content": "where?"}], response_format=fmt
    )
    assert json.loads(r.choices[0].message.content) == {"location": "Paris", "unit": "celsius"}
    assert r.choices[0].message.tool_calls is None and r.choices[0].finish_reason == "stop"
    sent = groq.last_request.json
    assert "response_format" not in sent
    assert sent["tools"] == [{"type": "function", "function": {"name": "json_tool_call", "parameters": schema}}]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "json_tool_call"}}

    # Groq's JSON mode does not stream: asked whole, replayed as a stream.
    text, usage, finish = "", None, None
    for chunk in client.chat.completions.create(
        model="groq", messages=[{"role": "user", "content": "json stream"}],
        response_format={"type": "json_object"}, stream=True, stream_options={"include_usage": True},
    ):
        assert chunk.object == "chat.completion.chunk"
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage
    assert json.loads(text) == {"answer": "Hello from groq mock: json stream"}
    assert finish == "stop" and usage is not None and usage.total_tokens > 0
    sent = groq.last_request.json
    assert sent["stream"] is False and "stream_options" not in sent
    # … and a schema request streamed gets both.
    chunks = list(client.chat.completions.create(
        model="groq", messages=[{"role": "user", "content": "w"}], response_format=fmt, stream=True
    ))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(content) == {"location": "Paris", "unit": "celsius"}


def test_lm_studio_bare_schema_is_wrapped(client, clouds):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    client.chat.completions.create(
        model="lm_studio",
        messages=[{"role": "user", "content": "schema"}],
        response_format={"type": "json_schema", "schema": schema},
    )
    assert clouds["lm_studio"].last_request.json["response_format"] == {
        "type": "json_schema", "json_schema": {"schema": schema}
    }


def test_mistral_parameters_are_mapped_as_litellm_does(client, clouds):
    client.chat.completions.create(
        model="mistral",
        messages=[{"role": "user", "content": "x"}],
        max_completion_tokens=30,
        seed=7,
        tools=[WEATHER_TOOL],
        tool_choice="required",
    )
    sent = clouds["mistral"].last_request.json
    assert (sent["max_tokens"], sent["random_seed"], sent["tool_choice"]) == (30, 7, "any")
    assert "seed" not in sent and "max_completion_tokens" not in sent


def test_mistral_messages_and_vllm_tool_schemas_are_cleaned(client, clouds):
    # Mistral refuses `name` on messages (422 extra_forbidden); LiteLLM drops it.
    r = client.chat.completions.create(
        model="mistral",
        messages=[{"role": "system", "content": "s", "name": "rules"},
                  {"role": "user", "content": "named", "name": "bob"}],
    )
    assert r.choices[0].message.content == "Hello from mistral mock: named"
    assert [set(m) for m in clouds["mistral"].last_request.json["messages"]] == [{"role", "content"}] * 2

    tool = {"type": "function", "function": {"name": "get_weather", "strict": True, "parameters": {
        "type": "object", "additionalProperties": False,
        "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
    client.chat.completions.create(
        model="hosted_vllm", messages=[{"role": "user", "content": "w"}], tools=[tool]
    )
    sent = clouds["hosted_vllm"].last_request.json["tools"][0]["function"]
    assert "strict" not in sent and "additionalProperties" not in sent["parameters"]
    assert sent["parameters"]["required"] == ["location"]


def test_provider_specific_parameters_pass(client, clouds):
    # As in LiteLLM, only OpenAI's own parameters are checked against a cloud's
    # table; the cloud's own ones go through.
    client.chat.completions.create(
        model="perplexity", messages=[{"role": "user", "content": "x"}],
        extra_body={"search_domain_filter": ["example.com"]},
    )
    assert clouds["perplexity"].last_request.json["search_domain_filter"] == ["example.com"]
    client.chat.completions.create(
        model="mistral", messages=[{"role": "user", "content": "x"}], extra_body={"safe_prompt": True}
    )
    assert clouds["mistral"].last_request.json["safe_prompt"] is True


def test_deepinfra_refuses_a_forced_tool_choice(client, clouds):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="deepinfra",
            messages=[{"role": "user", "content": "x"}],
            tools=[WEATHER_TOOL],
            tool_choice="required",
        )
    assert err.value.body["param"] == "tool_choice"
    assert clouds["deepinfra"].request_count == 0

