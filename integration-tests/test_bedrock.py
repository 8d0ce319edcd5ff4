"""Amazon Bedrock through the gateway with the official ``openai`` client: Converse,
ConverseStream (AWS binary event streams), tools, images, JSON mode, reasoning,
Titan and Cohere embeddings, SigV4 (long-term and session credentials), Bedrock API
keys, and Bedrock's errors — against :class:`mocks.bedrock.BedrockMock`, which
verifies every signature and refuses requests malformed for Bedrock.
"""

from __future__ import annotations

import base64
import json
import struct
import time

import openai
import pytest

from conformance import WEATHER_TOOL
from mocks.base import _embedding
from mocks.bedrock import (
    BEDROCK_API_KEY,
    SESSION_KEY,
    STATIC_KEY,
    BedrockMock,
    encode_frame,
    sigv4_signature,
)

CLIENT_KEY = "sk-client-key-must-not-reach-bedrock"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@pytest.fixture(scope="module")
def mock(provider_stacks):
    """The ``bedrock`` row's mock (conformance/), shared with test_conformance.py."""
    return provider_stacks("bedrock").mock


@pytest.fixture(scope="module")
def gateway(provider_stacks):
    """The gateway in front of it (the row's config), shared with test_conformance.py."""
    return provider_stacks("bedrock").gateway


@pytest.fixture
def bedrock(mock, gateway):
    mock.clear_requests()
    mock.clear_faults()
    mock.embedding_delays = {}
    mock.embedding_failures = {}
    return mock


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=20)


def signed_with(req, key) -> bool:
    auth = req.header("authorization") or ""
    return auth.startswith(f"AWS4-HMAC-SHA256 Credential={key.access_key_id}/")


def test_the_mock_verifies_aws_vectors():
    # The mock's verifier and framing against AWS's published vectors (the SigV4
    # test suite's get-vanilla; the CRT event-stream "{'foo':'bar'}" frame).
    creq = ("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert sigv4_signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830T123600Z",
                           "us-east-1", "service", creq) == \
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    assert encode_frame({}, b"{'foo':'bar'}") == \
        b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfd\x52\x8c\x5a{'foo':'bar'}\xc3\x65\x39\x36"


def test_chat_is_signed_and_translated(client, bedrock):
    r = client.chat.completions.create(
        model="claude",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}],
        max_tokens=50,
        temperature=0.2,
        stop=["zzz"],
    )
    assert r.object == "chat.completion"
    assert r.choices[0].message.content == "Hello from bedrock mock: hi there"
    assert r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (4, 6)
    assert r.usage.total_tokens == 10
    assert r.id.startswith("chatcmpl-") and len(r.id) > len("chatcmpl-")
    req = bedrock.last_request
    assert req.raw_path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert req.status == 200, "the mock verified the signature"
    assert signed_with(req, STATIC_KEY)
    assert "SignedHeaders=content-type;host;x-amz-date," in req.header("authorization")
    assert req.header("x-amz-security-token") is None
    assert not req.chunked and req.header("content-length") == str(len(req.body))
    assert req.json == {
        "messages": [{"role": "user", "content": [{"text": "hi there"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 50, "temperature": 0.2, "stopSequences": ["zzz"]},
    }
    assert all(CLIENT_KEY not in v for v in req.headers.values())


def test_max_tokens_cut_is_length(client, bedrock):
    r = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "one two three four"}], max_tokens=2
    )
    assert r.choices[0].finish_reason == "length"
    assert r.choices[0].message.content == "Hello from"


def test_tool_call_round_trip(client, bedrock):
    first = client.chat.completions.create(
        model="claude",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris", "unit": "celsius"}
    sent = bedrock.last_request.json
    assert sent["toolConfig"]["toolChoice"] == {"any": {}}
    assert sent["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"] == WEATHER_TOOL["function"]["parameters"]

    second = client.chat.completions.create(
        model="claude",
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "18 degrees"},
        ],
        tools=[WEATHER_TOOL],
    )
    assert second.choices[0].message.content == f"bedrock mock received tool result: {call.id}=18 degrees"
    sent = bedrock.last_request.json
    assert sent["messages"][1]["content"][0]["toolUse"]["input"] == {"location": "Paris", "unit": "celsius"}
    assert sent["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": call.id, "content": [{"text": "18 degrees"}]}}]


def test_image_data_uri_becomes_bytes(client, bedrock):
    r = client.chat.completions.create(
        model="claude",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        ]}],
    )
    assert r.choices[0].message.content == "Hello from bedrock mock: What is this?"
    assert bedrock.last_request.json["messages"][0]["content"][1] == {
        "image": {"format": "png", "source": {"bytes": PIXEL}}}


def test_http_image_urls_are_refused(client, bedrock):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="claude",
            messages=[{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}],
        )
    assert err.value.body["param"] == "messages[0].content[0].image_url.url"
    assert "base64 data URI" in err.value.body["message"]
    assert bedrock.request_count == 0, "nothing reached Bedrock"


@pytest.mark.parametrize("stream", [False, True])
def test_json_mode_through_a_forced_tool(client, bedrock, stream):
    fmt = {"type": "json_schema", "json_schema": {"name": "reply", "schema": {
        "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}}}
    messages = [{"role": "user", "content": "json please"}]
    if stream:
        content, finish = "", None
        for chunk in client.chat.completions.create(model="claude", messages=messages,
                                                    response_format=fmt, stream=True):
            if chunk.choices:
                content += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
    else:
        r = client.chat.completions.create(model="claude", messages=messages, response_format=fmt)
        content, finish = r.choices[0].message.content, r.choices[0].finish_reason
        assert r.choices[0].message.tool_calls is None
    assert json.loads(content) == {"answer": "Hello from bedrock mock: json please"}
    assert finish == "stop"
    req = bedrock.last_request
    assert req.raw_path.endswith("/converse"), "JSON mode is asked whole, even for a stream"
    assert req.json["toolConfig"]["toolChoice"] == {"tool": {"name": "json_tool_call"}}


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_effort_becomes_thinking(client, bedrock, stream):
    messages = [{"role": "user", "content": "think first"}]
    if stream:
        reasoning, content = "", ""
        for chunk in client.chat.completions.create(model="claude-37", messages=messages,
                                                    reasoning_effort="low", stream=True):
            if chunk.choices:
                delta = chunk.choices[0].delta
                reasoning += getattr(delta, "reasoning_content", None) or ""
                content += delta.content or ""
    else:
        r = client.chat.completions.create(model="claude-37", messages=messages, reasoning_effort="low")
        message = r.choices[0].message
        reasoning, content = message.reasoning_content, message.content
        assert message.thinking_blocks[0]["signature"] == "bW9jay1zaWduYXR1cmU="
    assert reasoning == "bedrock mock thought about it"
    assert content == "Hello from bedrock mock: think first"
    sent = bedrock.last_request.json
    assert sent["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert sent["inferenceConfig"]["maxTokens"] == 1024 + 4096


def test_session_credentials_send_and_sign_their_token(client, bedrock):
    r = client.chat.completions.create(model="claude-37", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "Hello from bedrock mock: hi"
    req = bedrock.last_request
    assert signed_with(req, SESSION_KEY)
    assert req.header("x-amz-security-token") == SESSION_KEY.session_token
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, " in req.header("authorization")
    assert req.raw_path == "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"


def test_bedrock_api_key_is_a_bearer_token(client, bedrock):
    r = client.chat.completions.create(model="claude-bearer", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "Hello from bedrock mock: hi"
    req = bedrock.last_request
    assert req.header("authorization") == f"Bearer {BEDROCK_API_KEY}"
    assert req.header("x-amz-date") is None


def test_a_wrong_secret_is_bedrocks_signature_error(client, bedrock):
    with pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(model="claude-wrong-secret",
                                       messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 401
    assert err.value.body["message"].startswith(
        "The request signature we calculated does not match the signature you provided.")
    assert bedrock.last_request.status == 403, "Bedrock said 403 InvalidSignatureException"


def test_model_specific_params_go_to_additional_fields(client, bedrock):
    client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}],
                                   extra_body={"top_k": 7, "requestMetadata": {"team": "search"}})
    sent = bedrock.last_request.json
    assert sent["additionalModelRequestFields"] == {"top_k": 7}
    assert sent["requestMetadata"] == {"team": "search"}
    # Claude refuses keys it does not know, through Bedrock's own 400.
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}],
                                       extra_body={"frobnicate": 1})
    assert "extraneous key [frobnicate]" in err.value.body["message"]


def _floats(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def test_titan_embeddings(client, bedrock):
    r = client.embeddings.create(model="titan", input="hello bedrock world", dimensions=256)
    assert len(r.data) == 1 and len(r.data[0].embedding) == 8
    assert (r.usage.prompt_tokens, r.usage.total_tokens) == (3, 3)
    req = bedrock.last_request
    assert req.raw_path == "/model/amazon.titan-embed-text-v2%3A0/invoke"
    assert req.json == {"inputText": "hello bedrock world", "dimensions": 256}
    assert signed_with(req, SESSION_KEY)
    # Floats when asked for floats, as numbers.
    r = client.embeddings.create(model="titan", input=["one"], encoding_format="float")
    assert isinstance(r.data[0].embedding[0], float)


# --- Titan with a list `input`: one call per input, merged (LiteLLM's loop) ----------

TITAN_DIMS = 256


def same_vectors(got: list[list[float]], want: list[list[float]], rel: float = 1e-9) -> bool:
    return len(got) == len(want) and all(g == pytest.approx(w, rel=rel) for g, w in zip(got, want))


def titan_vector(text: str) -> list[float]:
    """What the mock's Titan answers for ``text`` (its vectors depend on the text only)."""
    return _embedding(text, min(TITAN_DIMS, BedrockMock.embedding_dims))


def test_titan_list_input_is_one_signed_call_per_input_merged_in_order(client, bedrock):
    inputs = ["first text", "the second", "third one is longer", "4", "first text"]
    raw = client.embeddings.with_raw_response.create(model="titan", input=inputs,
                                                     dimensions=TITAN_DIMS, encoding_format="float")
    r = raw.parse()
    assert [d.index for d in r.data] == list(range(len(inputs)))
    assert same_vectors([d.embedding for d in r.data], [titan_vector(t) for t in inputs])
    tokens = sum(max(1, len(t.split())) for t in inputs)
    assert (r.usage.prompt_tokens, r.usage.total_tokens) == (tokens, tokens), "usage summed"
    assert r.model == "amazon.titan-embed-text-v2:0"
    assert float(raw.headers["x-litellm-response-cost"]) == pytest.approx(tokens * 1e-7)
    assert raw.headers["x-litellm-model-group"] == "titan"
    calls = bedrock.requests
    assert sorted(c.json["inputText"] for c in calls) == sorted(inputs)
    for c in calls:
        assert c.raw_path == "/model/amazon.titan-embed-text-v2%3A0/invoke"
        assert c.json == {"inputText": c.json["inputText"], "dimensions": TITAN_DIMS}
        assert c.status == 200, "each call's own signature verified"
        assert signed_with(c, SESSION_KEY)
        assert CLIENT_KEY not in json.dumps(c.headers)

    # base64, as the openai client asks by default.
    r = client.embeddings.create(model="titan", input=["alpha", "beta gamma"])
    assert same_vectors([_floats(d.embedding) if isinstance(d.embedding, str) else d.embedding
                         for d in r.data],
                        [_embedding(t, BedrockMock.embedding_dims) for t in ("alpha", "beta gamma")],
                        rel=1e-6)


def test_titan_calls_run_in_parallel(client, bedrock):
    inputs = [f"text number {i}" for i in range(8)]
    bedrock.delay_next(0.5, n=None)
    try:
        start = time.monotonic()
        r = client.embeddings.create(model="titan", input=inputs, encoding_format="float")
        elapsed = time.monotonic() - start
    finally:
        bedrock.clear_faults()
    assert same_vectors([d.embedding for d in r.data],
                        [_embedding(t, BedrockMock.embedding_dims) for t in inputs])
    # One after the other (LiteLLM) would take 8 × 0.5 s.
    assert elapsed < 2.0, f"{elapsed:.2f}s for 8 calls of 0.5 s"


def test_titan_more_inputs_than_calls_in_flight(client, bedrock):
    inputs = [f"input {i}" for i in range(100)]  # more than the 32 calls out at once
    r = client.embeddings.create(model="titan", input=inputs, encoding_format="float")
    assert same_vectors([d.embedding for d in r.data],
                        [_embedding(t, BedrockMock.embedding_dims) for t in inputs])
    assert r.usage.prompt_tokens == 200
    assert len(bedrock.requests) == 100


def test_titan_one_failed_call_fails_the_request_with_bedrocks_error(client, bedrock):
    # A refused input: the provider's 400 and message, naming the input.
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model="titan", input=["fine", ""], encoding_format="float")
    body = err.value.body
    assert set(body) >= {"message", "type", "param", "code"} and body["code"] == "400"
    assert "inputText" in body["message"] and "input[1] of 2" in body["message"]
    # Throttled: a 429 (Bedrock's ThrottlingException), whatever the other calls did.
    bedrock.fail_with("ThrottlingException", "Too many requests, please wait.", 429, n=1)
    with pytest.raises(openai.RateLimitError) as err:
        client.embeddings.create(model="titan", input=["a", "b", "c"], encoding_format="float")
    assert "Too many requests" in err.value.body["message"]
    assert err.value.body["type"] == "rate_limit_error"


@pytest.mark.parametrize("slow", ["first", "second"])
def test_titan_answers_wait_for_the_slowest_call(client, bedrock, slow):
    """The attempt's own request carries the first input; the others are calls of the
    gateway's own. Whichever answers last, the list comes back whole and in order
    (a slow second input holds the first's answer until it is there)."""
    inputs = ["first", "second", "third"]
    bedrock.embedding_delays = {slow: 0.6}
    r = client.embeddings.create(model="titan", input=inputs, encoding_format="float")
    assert same_vectors([d.embedding for d in r.data],
                        [_embedding(t, BedrockMock.embedding_dims) for t in inputs])
    assert r.usage.prompt_tokens == 3


def test_titan_a_call_failing_after_the_first_answer_fails_the_request(client, bedrock):
    bedrock.embedding_delays = {"too long": 0.4}
    bedrock.embedding_failures = {"too long": (
        "ValidationException", "Malformed input request: expected maxLength: 50000", 400)}
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model="titan", input=["fine", "too long"], encoding_format="float")
    assert "maxLength" in err.value.body["message"]
    assert "input[1] of 2" in err.value.body["message"]


def test_titan_input_lists_are_capped(client, bedrock):
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model="titan", input=["x"] * 2049, encoding_format="float")
    assert err.value.body["param"] == "input"
    assert "2048" in err.value.body["message"] and "2049" in err.value.body["message"]
    # A client sending 10,000 inputs gets the same 400 at once; nothing reaches Bedrock.
    start = time.monotonic()
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model="titan", input=[f"t{i}" for i in range(10_000)],
                                 encoding_format="float")
    assert err.value.body["param"] == "input" and time.monotonic() - start < 2.0
    # Token arrays and non-strings are refused before any call, as for one input.
    for bad in ([[1, 2], [3, 4]], ["a", 5], ["a", None]):
        with pytest.raises(openai.BadRequestError) as err:
            client.embeddings.create(model="titan", input=bad, encoding_format="float")
        assert err.value.body["param"] == "input", bad
    assert bedrock.request_count == 0


def test_cohere_embeddings(client, bedrock):
    r = client.embeddings.create(model="cohere-embed", input=["first text", "second one here"],
                                 extra_body={"input_type": "search_query"})
    assert [d.index for d in r.data] == [0, 1]
    assert r.usage.prompt_tokens == 5, "from X-Amzn-Bedrock-Input-Token-Count"
    assert bedrock.last_request.json == {"texts": ["first text", "second one here"],
                                         "input_type": "search_query"}
    r = client.embeddings.create(model="cohere-embed", input="x")
    assert bedrock.last_request.json["input_type"] == "search_document"


def test_titan_failed_calls_are_retried_and_fall_back_like_any_attempt(gateway_factory):
    """A failed call fails the attempt with the provider's status before Envoy's router
    sees it: the route retries it (the next attempt fans out again) and, once the group
    is exhausted, falls back to the next group."""
    with BedrockMock() as mock:
        config = f"""
model_list:
  - model_name: titan
    litellm_params:
      model: bedrock/amazon.titan-embed-text-v2:0
      aws_bedrock_runtime_endpoint: {mock.root_url}
    model_info: {{mode: embedding}}
  - model_name: cohere-embed
    litellm_params:
      model: bedrock/cohere.embed-english-v3
      aws_bedrock_runtime_endpoint: {mock.root_url}
    model_info: {{mode: embedding}}
router_settings:
  num_retries: 1
  fallbacks: [{{"titan": ["cohere-embed"]}}]
"""
        env = {"AWS_ACCESS_KEY_ID": SESSION_KEY.access_key_id,
               "AWS_SECRET_ACCESS_KEY": SESSION_KEY.secret_access_key,
               "AWS_SESSION_TOKEN": SESSION_KEY.session_token, "AWS_REGION": "us-east-1",
               "AWS_BEARER_TOKEN_BEDROCK": None, "AWS_BEDROCK_RUNTIME_ENDPOINT": None}
        gw = gateway_factory(config, env)
        client = openai.OpenAI(base_url=gw.url("/v1"), api_key=CLIENT_KEY, max_retries=0)
        inputs = ["one", "two", "three", "four"]

        # One call throttled (the attempt's own or one of the others): retried.
        mock.fail_with("ThrottlingException", "Too many requests, please wait.", 429, n=1)
        raw = client.embeddings.with_raw_response.create(model="titan", input=inputs,
                                                         encoding_format="float")
        assert raw.headers["x-litellm-attempted-retries"] == "1"
        assert raw.headers["x-litellm-model-group"] == "titan"
        r = raw.parse()
        assert same_vectors([d.embedding for d in r.data],
                            [_embedding(t, BedrockMock.embedding_dims) for t in inputs])

        # Titan keeps failing for one input: both attempts fail, Cohere answers.
        mock.embedding_failures = {"three": ("ServiceUnavailableException", "busy", 503)}
        raw = client.embeddings.with_raw_response.create(model="titan", input=inputs,
                                                         encoding_format="float")
        assert raw.headers["x-litellm-model-group"] == "cohere-embed"
        assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
        assert [d.index for d in raw.parse().data] == [0, 1, 2, 3]
