"""Anthropic-format clients on the gateway: ``POST /v1/messages`` and
``/v1/messages/count_tokens`` with the official ``anthropic`` Python client (real
Envoy, the built .wasm, mock providers that speak each native API and reject
requests wrong for it).

The same client calls two model groups: ``claude`` (an Anthropic deployment, which
gets the body natively and whose answer comes back untouched) and ``gpt`` (an
OpenAI-compatible deployment, reached through the Anthropic → OpenAI translation),
each plain and streamed, with a tool round trip, an image and a system prompt. The
SDK parses every answer (``messages.create``, ``messages.stream`` and its
``get_final_message()``, ``messages.count_tokens``); errors are Anthropic's shape.
A second gateway with virtual keys on checks that the key may come as
``x-api-key`` (what the SDK sends) or ``Authorization: Bearer`` (Claude Code's
``ANTHROPIC_AUTH_TOKEN``), and that spend is recorded as ``anthropic_messages``.
"""

from __future__ import annotations

import base64
import json
import time

import anthropic
import pytest

import harness
from mocks import ANTHROPIC_KEY, OPENAI_KEY, AnthropicMock, OpenAIMock
from mocks import DEFAULT_TOOL_ARGS

CLIENT_KEY = "sk-client-key-must-not-reach-providers"
#: A 1×1 PNG.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                     "required": ["location"]},
}
MODELS = ["claude", "gpt"]


def config(anthropic_mock: AnthropicMock, openai_mock: OpenAIMock, keys: bool = False) -> str:
    text = f"""
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {anthropic_mock.root_url}
      api_key: os.environ/TEST_ANTHROPIC_KEY
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-real
      api_base: {openai_mock.base_url}
      api_key: os.environ/TEST_OPENAI_KEY
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
  - model_name: demo
    litellm_params: {{model: openai/x, mock_response: "mocked answer"}}
router_settings:
  num_retries: 0
"""
    if keys:
        text += "general_settings:\n  master_key: os.environ/TEST_MASTER\n"
    return text


@pytest.fixture(scope="module")
def mocks():
    with AnthropicMock(api_key=ANTHROPIC_KEY) as c, OpenAIMock(api_key=OPENAI_KEY) as o:
        yield c, o


@pytest.fixture(scope="module")
def gateway(mocks, tmp_path_factory):
    missing = harness.missing_prerequisites()
    if missing:
        pytest.fail("gateway prerequisites missing: " + "; ".join(missing))
    env = {"TEST_ANTHROPIC_KEY": ANTHROPIC_KEY, "TEST_OPENAI_KEY": OPENAI_KEY}
    gw = harness.Gateway(config(*mocks), env, workdir=tmp_path_factory.mktemp("messages"))
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture
def env(mocks, gateway):
    """(client, anthropic mock, openai mock), the mocks cleared."""
    for m in mocks:
        m.clear_requests()
        m.clear_faults()
        m.usage = {}
        m.reply_text = None
    client = anthropic.Anthropic(base_url=gateway.base_url, api_key=CLIENT_KEY, max_retries=0)
    return client, mocks[0], mocks[1]


def mock_for(model, anthropic_mock, openai_mock):
    return anthropic_mock if model == "claude" else openai_mock


def sse_events(gateway, body, headers=None):
    """The raw stream of ``/v1/messages``: [(event name, data)]."""
    hdrs = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01", **(headers or {})}
    with harness.open_stream("POST", gateway.url("/v1/messages"), body, headers=hdrs) as resp:
        assert resp.status == 200, resp.read()
        assert resp.getheader("content-type", "").startswith("text/event-stream")
        return [(e.event, json.loads(e.data)) for e in harness.iter_sse(resp)]


# --------------------------------------------------------------------------------------
# Plain and streamed answers
# --------------------------------------------------------------------------------------


def test_anthropic_deployment_gets_the_body_natively(env):
    client, claude, _ = env
    raw = client.messages.with_raw_response.create(
        model="claude", max_tokens=100, system="Be brief.",
        messages=[{"role": "user", "content": "Hello there"}],
        extra_headers={"anthropic-beta": "test-beta-2025-01-01"})
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].text == "Hello from anthropic mock: Hello there"
    assert message.stop_reason == "end_turn"
    assert message.model == "claude-sonnet-4-5"
    assert message.usage.input_tokens == 4 and message.usage.output_tokens == 6
    assert raw.headers["x-litellm-model-group"] == "claude"
    assert float(raw.headers["x-litellm-response-cost"]) == pytest.approx(4 * 3e-6 + 6 * 15e-6)

    seen = claude.last_request
    assert seen.path == "/v1/messages"
    assert seen.header("x-api-key") == ANTHROPIC_KEY, "the deployment's key, never the client's"
    assert CLIENT_KEY not in json.dumps(seen.headers)
    assert seen.header("anthropic-version") == "2023-06-01"
    assert seen.header("anthropic-beta") == "test-beta-2025-01-01"
    assert seen.json == {"model": "claude-sonnet-4-5", "max_tokens": 100, "system": "Be brief.",
                         "messages": [{"role": "user", "content": "Hello there"}]}


def test_openai_deployment_gets_a_chat_request_and_answers_as_anthropic(env):
    client, _, gpt = env
    raw = client.messages.with_raw_response.create(
        model="gpt", max_tokens=100, system="Be brief.", extra_body={"temperature": 0.5},
        stop_sequences=["NEVER"], metadata={"user_id": "user-7"},
        messages=[{"role": "user", "content": "Hello there"}])
    message = raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from openai mock: Hello there"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.model == "gpt-4o-real"
    assert message.id.startswith("chatcmpl-")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 6)
    assert raw.headers["x-litellm-model-group"] == "gpt"

    seen = gpt.last_request
    assert seen.path == "/v1/chat/completions"
    assert seen.header("authorization") == f"Bearer {OPENAI_KEY}"
    assert seen.json == {
        "model": "gpt-4o-real",
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Hello there"}],
        "stop": ["NEVER"], "user": "user-7", "max_tokens": 100, "temperature": 0.5,
    }

    # max_tokens cuts the answer: stop_reason max_tokens.
    short = client.messages.create(model="gpt", max_tokens=2,
                                   messages=[{"role": "user", "content": "Hello there"}])
    assert short.stop_reason == "max_tokens"
    assert short.content[0].text == "Hello from"


@pytest.mark.parametrize("model", MODELS)
def test_streams_parse_and_end_with_usage(env, gateway, model):
    client, claude, gpt = env
    with client.messages.stream(model=model, max_tokens=100, system="Be brief.",
                                messages=[{"role": "user", "content": "Stream this please"}]) as s:
        pieces = list(s.text_stream)
        final = s.get_final_message()
    expected = f"Hello from {mock_for(model, claude, gpt).name} mock: Stream this please"
    assert "".join(pieces) == expected
    assert len(pieces) > 1, "delivered in pieces"
    assert final.content[0].text == expected
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 7
    assert final.usage.input_tokens == 5

    # The raw event sequence is Anthropic's, for both deployments.
    events = sse_events(gateway, {"model": model, "max_tokens": 50, "stream": True,
                                  "messages": [{"role": "user", "content": "Hi"}]})
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"], names
    assert set(names[3:-3]) == {"content_block_delta"}, names
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"], names
    for name, data in events:
        assert data["type"] == name
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    if model == "gpt":
        sent = gpt.last_request.json
        assert sent["stream"] is True
        assert sent["stream_options"] == {"include_usage": True}, "the gateway asks for usage"


def test_streams_are_delivered_incrementally(env, gateway):
    _, _, gpt = env
    gpt.slow_stream(0.3)
    body = {"model": "gpt", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "one two three four five six"}]}
    hdrs = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
    start = time.monotonic()
    with harness.open_stream("POST", gateway.url("/v1/messages"), body, headers=hdrs) as resp:
        first = next(e for e in harness.iter_sse(resp) if e.event == "content_block_delta")
        first_at = time.monotonic() - start
        rest = list(harness.iter_sse(resp))
        total = time.monotonic() - start
    assert json.loads(first.data)["delta"]["type"] == "text_delta"
    assert rest[-1].event == "message_stop"
    assert total - first_at > 0.9, (first_at, total)


# --------------------------------------------------------------------------------------
# Tools, images
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_tool_use_round_trip(env, model):
    client, claude, gpt = env
    mock = mock_for(model, claude, gpt)
    question = {"role": "user", "content": "What is the weather in Paris?"}
    first = client.messages.create(model=model, max_tokens=200, tools=[WEATHER],
                                   tool_choice={"type": "auto"}, messages=[question])
    assert first.stop_reason == "tool_use"
    calls = [b for b in first.content if b.type == "tool_use"]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert calls[0].input == DEFAULT_TOOL_ARGS
    assert calls[0].id

    second = client.messages.create(
        model=model, max_tokens=200, tools=[WEATHER],
        messages=[question,
                  {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                  {"role": "user", "content": [
                      {"type": "tool_result", "tool_use_id": calls[0].id, "content": "15 degrees"}]}])
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == f"{mock.name} mock received tool result: 15 degrees"
    if model == "gpt":
        sent = gpt.last_request.json
        assert sent["tools"] == [{"type": "function", "function": {
            "name": "get_weather", "description": WEATHER["description"],
            "parameters": WEATHER["input_schema"]}}]
        assert sent["messages"][1]["tool_calls"][0]["id"] == calls[0].id
        assert json.loads(sent["messages"][1]["tool_calls"][0]["function"]["arguments"]) == DEFAULT_TOOL_ARGS
        assert sent["messages"][2] == {"role": "tool", "tool_call_id": calls[0].id,
                                       "content": "15 degrees"}

    # The same call streamed: the tool input arrives as input_json_delta pieces.
    with client.messages.stream(model=model, max_tokens=200, tools=[WEATHER],
                                tool_choice={"type": "tool", "name": "get_weather"},
                                messages=[question]) as s:
        final = s.get_final_message()
    block = [b for b in final.content if b.type == "tool_use"][0]
    assert (block.name, block.input) == ("get_weather", DEFAULT_TOOL_ARGS)
    assert final.stop_reason == "tool_use"
    if model == "gpt":
        assert gpt.last_request.json["tool_choice"] == {"type": "function",
                                                        "function": {"name": "get_weather"}}


@pytest.mark.parametrize("model", MODELS)
def test_image_and_system_prompt(env, model):
    client, claude, gpt = env
    message = client.messages.create(
        model=model, max_tokens=100, system=[{"type": "text", "text": "You see images."}],
        messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
            {"type": "text", "text": "Describe it"}]}])
    assert message.content[0].text.endswith("Describe it")
    if model == "claude":
        sent = claude.last_request.json
        assert sent["system"] == [{"type": "text", "text": "You see images."}]
        assert sent["messages"][0]["content"][0]["source"]["data"] == PNG
    else:
        sent = gpt.last_request.json
        assert sent["messages"][0] == {"role": "system", "content": "You see images."}
        assert sent["messages"][1]["content"] == [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {"type": "text", "text": "Describe it"}]


def test_thinking_becomes_reasoning_effort_and_comes_back_as_a_thinking_block(env):
    client, _, gpt = env
    message = client.messages.create(
        model="gpt", max_tokens=5000, thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "Think first"}])
    assert gpt.last_request.json["reasoning_effort"] == "medium"
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "openai mock reasoned (medium)"


# --------------------------------------------------------------------------------------
# Token counting
# --------------------------------------------------------------------------------------


def test_count_tokens(env):
    client, claude, _ = env
    counted = client.messages.count_tokens(
        model="claude", system="Be brief.", tools=[WEATHER],
        messages=[{"role": "user", "content": "How many tokens is this?"}])
    assert counted.input_tokens == 7
    seen = claude.last_request
    assert seen.path == "/v1/messages/count_tokens"
    assert seen.header("x-api-key") == ANTHROPIC_KEY
    assert seen.json["model"] == "claude-sonnet-4-5"

    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.count_tokens(model="gpt", messages=[{"role": "user", "content": "Hi"}])
    assert err.value.body["type"] == "error"
    assert err.value.body["error"]["type"] == "invalid_request_error"
    assert "only by Anthropic deployments" in err.value.body["error"]["message"]


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def assert_anthropic_error(body, kind):
    assert set(body) == {"type", "error"} or set(body) == {"type", "error", "request_id"}, body
    assert body["type"] == "error"
    assert body["error"]["type"] == kind, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_gateway_errors_are_anthropic_shaped(env, gateway):
    client, claude, gpt = env
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model="no-such-model", max_tokens=10,
                               messages=[{"role": "user", "content": "Hi"}])
    assert err.value.status_code == 400
    assert_anthropic_error(err.value.body, "invalid_request_error")
    assert "model=no-such-model" in err.value.body["error"]["message"]

    status, _, body = harness.request_json(
        "POST", gateway.url("/v1/messages"), b'{"model": "claude", "messages": [',
        headers={"x-api-key": CLIENT_KEY, "content-type": "application/json"})
    assert status == 400
    assert_anthropic_error(body, "invalid_request_error")
    assert "not valid JSON" in body["error"]["message"]

    status, _, body = harness.request_json("GET", gateway.url("/v1/messages"))
    assert status == 405
    assert_anthropic_error(body, "invalid_request_error")

    # A request the translation cannot carry to an OpenAI deployment: a 400 naming it.
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model="gpt", max_tokens=10,
                               tools=[{"type": "web_search_20250305", "name": "web_search"}],
                               messages=[{"role": "user", "content": "Hi"}])
    assert "web_search_20250305" in err.value.body["error"]["message"]
    assert gpt.requests == [] and claude.requests == []


def test_provider_errors_are_anthropic_shaped(env):
    client, claude, gpt = env
    claude.fail_next(1, 429)
    with pytest.raises(anthropic.RateLimitError) as err:
        client.messages.create(model="claude", max_tokens=10,
                               messages=[{"role": "user", "content": "Hi"}])
    assert_anthropic_error(err.value.body, "rate_limit_error")
    assert err.value.body["request_id"].startswith("req_mock"), "Anthropic's own, untouched"

    claude.fail_next(1, 529)
    with pytest.raises(anthropic.APIStatusError) as err:
        client.messages.create(model="claude", max_tokens=10,
                               messages=[{"role": "user", "content": "Hi"}])
    assert err.value.status_code == 529
    assert_anthropic_error(err.value.body, "overloaded_error")

    gpt.fail_next(1, 429)
    with pytest.raises(anthropic.RateLimitError) as err:
        client.messages.create(model="gpt", max_tokens=10,
                               messages=[{"role": "user", "content": "Hi"}])
    assert_anthropic_error(err.value.body, "rate_limit_error")

    gpt.fail_next(1, 401)
    with pytest.raises(anthropic.AuthenticationError) as err:
        client.messages.create(model="gpt", max_tokens=10,
                               messages=[{"role": "user", "content": "Hi"}])
    assert_anthropic_error(err.value.body, "authentication_error")


@pytest.mark.parametrize("model", MODELS)
def test_envoys_own_errors_are_anthropic_shaped(env, model):
    # The provider resets the connection: Envoy answers itself (local_reply_config),
    # in Anthropic's shape for this route although the upstream path was rewritten.
    client, claude, gpt = env
    mock_for(model, claude, gpt).reset_next(1)
    with pytest.raises(anthropic.InternalServerError) as err:
        client.messages.create(model=model, max_tokens=10,
                               messages=[{"role": "user", "content": "Hi"}])
    assert err.value.status_code == 502
    assert_anthropic_error(err.value.body, "api_error")
    assert err.value.body["error"]["message"].startswith("Could not reach the model provider")


@pytest.mark.parametrize("model", MODELS)
def test_mid_stream_errors_reach_the_client_as_error_events(env, model):
    client, claude, gpt = env
    mock_for(model, claude, gpt).stream_error_next(1, after_events=3)
    with pytest.raises(anthropic.APIStatusError) as err:
        with client.messages.stream(model=model, max_tokens=100,
                                    messages=[{"role": "user", "content": "one two three"}]) as s:
            s.get_final_message()
    assert err.value.body["type"] == "error", err.value.body


def test_mock_groups_answer_in_anthropic_format(env):
    client, _, _ = env
    message = client.messages.create(model="demo", max_tokens=10,
                                     messages=[{"role": "user", "content": "Hi"}])
    assert message.content[0].text == "mocked answer"
    with client.messages.stream(model="demo", max_tokens=10,
                                messages=[{"role": "user", "content": "Hi"}]) as s:
        assert s.get_final_message().content[0].text == "mocked answer"


# --------------------------------------------------------------------------------------
# Virtual keys
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(mocks, tmp_path_factory):
    from test_keys import MASTER

    work = tmp_path_factory.mktemp("messages-keys")
    env = {"TEST_ANTHROPIC_KEY": ANTHROPIC_KEY, "TEST_OPENAI_KEY": OPENAI_KEY,
           "TEST_MASTER": MASTER}
    with harness.keyed_gateway(config(*mocks, keys=True), env, work, master=MASTER) as (gw, _):
        yield gw, MASTER


def test_virtual_keys_come_as_x_api_key_and_spend_is_anthropic_messages(keyed, mocks):
    gw, master = keyed
    for m in mocks:
        m.clear_requests()
        m.clear_faults()
        m.usage = {}
    admin = {"Authorization": f"Bearer {master}"}
    status, _, made = harness.request_json("POST", gw.url("/key/generate"),
                                           {"models": ["claude", "gpt"]}, headers=admin)
    assert status == 200, made
    key = made["key"]

    # The SDK sends api_key as x-api-key.
    client = anthropic.Anthropic(base_url=gw.base_url, api_key=key, max_retries=0)
    message = client.messages.create(model="claude", max_tokens=20,
                                     messages=[{"role": "user", "content": "Hi"}])
    assert message.content[0].text == "Hello from anthropic mock: Hi"
    assert mocks[0].last_request.header("x-api-key") == ANTHROPIC_KEY
    # Claude Code's ANTHROPIC_AUTH_TOKEN: Authorization: Bearer.
    bearer = anthropic.Anthropic(base_url=gw.base_url, auth_token=key, max_retries=0)
    with bearer.messages.stream(model="gpt", max_tokens=20,
                                messages=[{"role": "user", "content": "Hi"}]) as s:
        assert s.get_final_message().content[0].text == "Hello from openai mock: Hi"

    deadline = time.monotonic() + 10
    while True:
        _, _, logs = harness.request_json("GET", gw.url(f"/spend/logs?api_key={key}"), headers=admin)
        if len(logs) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted((row["call_type"], row["model_group"]) for row in logs) == [
        ("anthropic_messages", "claude"), ("anthropic_messages", "gpt")], logs
    claude_row = next(row for row in logs if row["model_group"] == "claude")
    assert claude_row["spend"] == pytest.approx(1 * 3e-6 + 5 * 15e-6)
    gpt_row = next(row for row in logs if row["model_group"] == "gpt")
    assert (gpt_row["prompt_tokens"], gpt_row["completion_tokens"]) == (1, 5)

    # Refusals are Anthropic's shape, from the keyservice too.
    bad = anthropic.Anthropic(base_url=gw.base_url, api_key="sk-unknown", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as err:
        bad.messages.create(model="claude", max_tokens=20,
                            messages=[{"role": "user", "content": "Hi"}])
    assert_anthropic_error(err.value.body, "authentication_error")
    status, _, made = harness.request_json("POST", gw.url("/key/generate"),
                                           {"models": ["gpt"]}, headers=admin)
    only_gpt = anthropic.Anthropic(base_url=gw.base_url, api_key=made["key"], max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as err:
        only_gpt.messages.count_tokens(model="claude",
                                       messages=[{"role": "user", "content": "Hi"}])
    assert_anthropic_error(err.value.body, "authentication_error")
    assert "claude" in err.value.body["error"]["message"]
