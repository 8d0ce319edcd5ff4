"""Vertex AI (``vertex_ai/``) through the gateway with the official ``openai``
client: Gemini and Claude on Vertex, Google's embeddings, and the service-account
OAuth flow the gateway runs itself — a JWT signed with the account's key,
exchanged at the account's ``token_uri`` (:class:`mocks.GoogleOAuthMock`, which
verifies the signature with the public key) for an access token that every
request then carries and that is fetched once and refreshed before it expires.
:class:`mocks.VertexMock` accepts only tokens the OAuth mock issued and still
holds valid.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import openai
import pytest

import harness
from mocks import GoogleOAuthMock, VertexMock

ROOT = Path(__file__).resolve().parent.parent
TEST_KEY = (ROOT / "filter" / "src" / "testdata" / "google_test_key.pem").read_text()
CLIENT_EMAIL = "gateway@proj-1.iam.gserviceaccount.com"
PROJECT, LOCATION = "proj-1", "us-east5"
CLIENT_KEY = "sk-client-key-must-not-reach-vertex"
MODELS = {"gemini-2.5-flash", "claude-sonnet-4@20250514", "text-embedding-005"}


def service_account(token_uri: str, email: str = CLIENT_EMAIL) -> str:
    """A throwaway service-account key file's JSON (the key is the tests' own)."""
    return json.dumps({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "test-key-1",
        "private_key": TEST_KEY,
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": token_uri,
    })


def deployment(name: str, model: str, vertex: VertexMock, credentials: str, extra: str = "") -> str:
    return f"""
  - model_name: {name}
    litellm_params:
      model: vertex_ai/{model}
      vertex_project: {PROJECT}
      vertex_location: {LOCATION}
      vertex_credentials: {credentials}
      api_base: {vertex.root_url}
{extra}"""


class TwoWorkerGateway(harness.Gateway):
    """A gateway whose Envoy runs two workers (two VMs of the filter): their root
    contexts must share one token through shared data."""

    def spawn_envoy(self):
        popen = harness.subprocess.Popen

        def two_workers(cmd, **kwargs):
            at = cmd.index("--concurrency")
            return popen([*cmd[:at + 1], "2", *cmd[at + 2:]], **kwargs)

        harness.subprocess.Popen = two_workers
        try:
            return super().spawn_envoy()
        finally:
            harness.subprocess.Popen = popen


def start_gateway(config: str, env: dict, tmp_path_factory, name: str,
                  workers: int = 1) -> harness.Gateway:
    missing = harness.missing_prerequisites()
    if missing:
        pytest.fail("gateway prerequisites missing: " + "; ".join(missing))
    kind = TwoWorkerGateway if workers == 2 else harness.Gateway
    gw = kind(config, env, workdir=tmp_path_factory.mktemp(name))
    gw.start()
    return gw


@pytest.fixture(scope="module")
def oauth():
    with GoogleOAuthMock(CLIENT_EMAIL, TEST_KEY) as m:
        yield m


@pytest.fixture(scope="module")
def vertex(oauth):
    with VertexMock(oauth, PROJECT, LOCATION, models=MODELS) as m:
        yield m


@pytest.fixture(scope="module")
def gateway(oauth, vertex, tmp_path_factory):
    # One account for three route clusters, on two workers (six root contexts):
    # one token.
    config = "model_list:" + "".join([
        deployment("vertex-gemini", "gemini-2.5-flash", vertex, "os.environ/VERTEX_SA_JSON"),
        deployment("vertex-claude", "claude-sonnet-4@20250514", vertex, "os.environ/VERTEX_SA_JSON"),
        deployment("vertex-embed", "text-embedding-005", vertex, "os.environ/VERTEX_SA_JSON",
                   "    model_info: {mode: embedding}\n"),
    ])
    gw = start_gateway(config, {"VERTEX_SA_JSON": service_account(oauth.token_uri)}, tmp_path_factory,
                       "vertex", workers=2)
    yield gw
    gw.stop()


@pytest.fixture
def client(gateway, vertex) -> openai.OpenAI:
    vertex.clear_requests()
    vertex.clear_faults()
    return openai.OpenAI(base_url=gateway.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=20)


def test_gemini_on_vertex_carries_the_service_accounts_token(client, vertex, oauth):
    r = client.chat.completions.create(
        model="vertex-gemini", messages=[{"role": "user", "content": "hi vertex"}], max_tokens=40)
    assert r.choices[0].message.content == "Hello from vertex mock: hi vertex"
    assert r.usage.prompt_tokens == 2
    req = vertex.last_request
    assert req.path == (f"/v1/projects/{PROJECT}/locations/{LOCATION}"
                        "/publishers/google/models/gemini-2.5-flash:generateContent")
    assert req.json == {"contents": [{"role": "user", "parts": [{"text": "hi vertex"}]}],
                        "generationConfig": {"maxOutputTokens": 40}}
    token = req.header("authorization").removeprefix("Bearer ")
    assert oauth.token_valid(token)
    assert req.header("x-goog-api-key") is None
    assert all(CLIENT_KEY not in v for v in req.headers.values())
    # The token request the gateway made: Google's JWT-bearer grant.
    token_req = oauth.requests[0]
    assert token_req.path == "/token"
    assert token_req.header("content-type") == "application/x-www-form-urlencoded"
    assert token_req.body.startswith(b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")


def test_stream_ends_with_usage(client, vertex):
    text, usage = "", None
    for chunk in client.chat.completions.create(
        model="vertex-gemini", messages=[{"role": "user", "content": "stream on vertex"}],
        stream=True, stream_options={"include_usage": True},
    ):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage
    assert text == "Hello from vertex mock: stream on vertex"
    assert usage.prompt_tokens == 3 and usage.completion_tokens == 7 + VertexMock.thought_tokens
    req = vertex.last_request
    assert req.path.endswith("/publishers/google/models/gemini-2.5-flash:streamGenerateContent")
    assert req.query == {"alt": "sse"}


def test_claude_on_vertex(client, vertex):
    r = client.chat.completions.create(
        model="vertex-claude", messages=[{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "hi claude"}])
    assert r.choices[0].message.content == "Hello from claude-on-vertex mock: hi claude"
    assert r.choices[0].finish_reason == "stop"
    req = vertex.last_request
    assert req.path == (f"/v1/projects/{PROJECT}/locations/{LOCATION}"
                        "/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict")
    assert req.json == {"anthropic_version": "vertex-2023-10-16", "max_tokens": 4096,
                        "system": "Be brief.", "messages": [{"role": "user", "content": "hi claude"}]}
    assert req.header("anthropic-version") is None and req.header("x-api-key") is None

    text, usage, finish = "", None, None
    for chunk in client.chat.completions.create(
        model="vertex-claude", messages=[{"role": "user", "content": "stream claude"}],
        stream=True, stream_options={"include_usage": True},
    ):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage
    assert text == "Hello from claude-on-vertex mock: stream claude"
    assert finish == "stop" and usage.completion_tokens == 6
    req = vertex.last_request
    assert req.path.endswith(":streamRawPredict") and req.json["stream"] is True

    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="vertex-claude", messages=[{"role": "user", "content": "x"}], logit_bias={"1": 2})
    assert err.value.body["param"] == "logit_bias"


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                       "required": ["location"]},
    },
}
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@pytest.mark.parametrize("model,mock_name", [("vertex-gemini", "vertex"),
                                             ("vertex-claude", "claude-on-vertex")])
def test_tool_call_round_trip_image_and_json_mode(client, vertex, model, mock_name):
    """The Gemini and Claude translations on Vertex: a tool call and its result,
    an image as data, JSON output."""
    first = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[WEATHER_TOOL], tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["location"] == "Paris"
    second = client.chat.completions.create(
        model=model, tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "weather in Paris?"},
                  first.choices[0].message.model_dump(exclude_none=True),
                  {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}],
    )
    # The Gemini mock's own wording names Gemini (VertexMock is a GeminiMock).
    says = "gemini" if model == "vertex-gemini" else mock_name
    assert second.choices[0].message.content.startswith(f"{says} mock received tool result:")
    assert "18C and sunny" in second.choices[0].message.content

    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}]}],
    )
    assert r.choices[0].message.content == f"Hello from {mock_name} mock: what is this"
    sent = vertex.last_request.json
    if model == "vertex-gemini":
        assert sent["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PIXEL}}
    else:
        assert sent["messages"][0]["content"][1] == {
            "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}}

    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "json please"}],
        response_format={"type": "json_object"},
    )
    answer = json.loads(r.choices[0].message.content)
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.tool_calls is None
    if model == "vertex-gemini":
        assert answer == {"answer": "Hello from vertex mock: json please"}
    else:
        # Claude's JSON mode: LiteLLM's forced json_tool_call, its input as the content.
        assert answer["location"] == "Paris"
        assert vertex.last_request.json["tool_choice"] == {"name": "json_tool_call", "type": "tool"}
        content = ""
        for chunk in client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "json please"}],
            response_format={"type": "json_object"}, stream=True,
        ):
            if chunk.choices:
                content += chunk.choices[0].delta.content or ""
        assert json.loads(content) == answer


@pytest.mark.parametrize("model,mock_name", [("vertex-gemini", "vertex"),
                                             ("vertex-claude", "claude-on-vertex")])
def test_streamed_tool_call_and_reasoning(client, vertex, model, mock_name):
    calls: dict[int, dict] = {}
    finish = None
    for chunk in client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER_TOOL],
        stream=True,
    ):
        if not chunk.choices:
            continue
        for tc in chunk.choices[0].delta.tool_calls or []:
            slot = calls.setdefault(tc.index, {"name": "", "arguments": ""})
            slot["name"] += (tc.function.name or "") if tc.function else ""
            slot["arguments"] += (tc.function.arguments or "") if tc.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls" and calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"])["location"] == "Paris"

    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "think"}], reasoning_effort="low")
    says = "gemini" if model == "vertex-gemini" else mock_name
    assert r.choices[0].message.reasoning_content.startswith(f"{says} mock thought")
    assert r.choices[0].message.content == f"Hello from {mock_name} mock: think"
    sent = vertex.last_request.json
    if model == "vertex-gemini":
        assert sent["generationConfig"]["thinkingConfig"]["includeThoughts"] is True
    else:
        assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    reasoning = ""
    for chunk in client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "think"}], reasoning_effort="low",
        stream=True,
    ):
        if chunk.choices:
            reasoning += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
    assert reasoning == r.choices[0].message.reasoning_content


def test_embeddings_through_predict(client, vertex):
    e = client.embeddings.create(model="vertex-embed", input=["alpha beta", "gamma"],
                                 encoding_format="float", dimensions=4)
    req = vertex.last_request
    assert req.path.endswith("/publishers/google/models/text-embedding-005:predict")
    assert req.json == {"instances": [{"content": "alpha beta"}, {"content": "gamma"}],
                        "parameters": {"outputDimensionality": 4}}
    assert [len(d.embedding) for d in e.data] == [4, 4]
    assert e.usage.prompt_tokens == 3


def test_one_token_for_many_requests(client, vertex, oauth, gateway):
    status, info = gateway.admin_get("/server_info")
    assert status == 200 and json.loads(info)["command_line_options"]["concurrency"] == 2

    def ask(i: int) -> None:
        r = client.chat.completions.create(
            model="vertex-gemini" if i % 2 else "vertex-claude",
            messages=[{"role": "user", "content": f"request {i}"}])
        assert r.choices[0].message.content.endswith(f"request {i}")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert vertex.request_count == 16
    tokens = {r.header("authorization") for r in vertex.requests}
    assert len(tokens) == 1, tokens
    # Fetched once since the gateway started, for every route cluster.
    assert oauth.request_count == 1 and oauth.tokens_issued == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_token_refresh_and_token_endpoint_failures(vertex, tmp_path_factory):
    short = GoogleOAuthMock(CLIENT_EMAIL, TEST_KEY, expires_in=8).start()
    refused = GoogleOAuthMock("someone-else@proj-1.iam.gserviceaccount.com", TEST_KEY).start()
    vertex_short = VertexMock(short, PROJECT, LOCATION, models=MODELS).start()
    gw = None
    try:
        dead_uri = f"http://127.0.0.1:{_closed_port()}/token"
        config = "model_list:" + "".join([
            deployment("short", "gemini-2.5-flash", vertex_short, "os.environ/SA_SHORT"),
            # The token endpoint refuses this account (not the key's email).
            deployment("refused", "gemini-2.5-flash", vertex_short, "os.environ/SA_REFUSED"),
            # Nobody listens at this token endpoint.
            deployment("unreachable", "gemini-2.5-flash", vertex_short, "os.environ/SA_DEAD"),
        ])
        env = {
            "SA_SHORT": service_account(short.token_uri),
            "SA_REFUSED": service_account(refused.token_uri),
            "SA_DEAD": service_account(dead_uri, email="dead@proj-1.iam.gserviceaccount.com"),
        }
        gw = start_gateway(config, env, tmp_path_factory, "vertex-refresh")
        client = openai.OpenAI(base_url=gw.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=20)

        seen = []
        deadline = time.monotonic() + 14
        while time.monotonic() < deadline:
            r = client.chat.completions.create(model="short", messages=[{"role": "user", "content": "tick"}])
            assert r.choices[0].message.content == "Hello from vertex mock: tick"
            token = vertex_short.last_request.header("authorization")
            if not seen or seen[-1] != token:
                seen.append(token)
            time.sleep(0.5)
        # 8-second tokens, refreshed at half their life: several tokens in 14 s,
        # every request accepted (none carried an expired token).
        assert len(seen) >= 2, seen
        assert 2 <= short.tokens_issued <= 5, short.tokens_issued

        with pytest.raises(openai.AuthenticationError) as err:
            client.chat.completions.create(model="refused", messages=[{"role": "user", "content": "x"}])
        assert err.value.status_code == 401
        assert "invalid_grant" in err.value.body["message"] and refused.token_uri in err.value.body["message"]
        assert err.value.body["type"] == "authentication_error"

        with pytest.raises(openai.InternalServerError) as err:
            client.chat.completions.create(model="unreachable", messages=[{"role": "user", "content": "x"}])
        assert err.value.status_code == 503
        assert "Could not get a Vertex AI access token" in err.value.body["message"]
        assert dead_uri in err.value.body["message"]
    finally:
        if gw is not None:
            gw.stop()
        for m in (vertex_short, short, refused):
            m.stop()


def test_requests_before_the_first_token_wait_for_it(tmp_path_factory):
    # The token endpoint takes 2.5 s to answer the first fetch: the requests that
    # arrive meanwhile are held (not failed, not sent without a token) and go on
    # once the token is there, all with it.
    slow = GoogleOAuthMock(CLIENT_EMAIL, TEST_KEY).start()
    slow.delay_next(2.5)
    vertex_slow = VertexMock(slow, PROJECT, LOCATION, models=MODELS).start()
    gw = None
    try:
        config = "model_list:" + deployment("slow", "gemini-2.5-flash", vertex_slow, "os.environ/SA")
        gw = start_gateway(config, {"SA": service_account(slow.token_uri)}, tmp_path_factory, "vertex-slow")
        client = openai.OpenAI(base_url=gw.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=20)
        results: dict[int, str] = {}

        def ask(i: int) -> None:
            r = client.chat.completions.create(model="slow", messages=[{"role": "user", "content": f"early {i}"}])
            results[i] = r.choices[0].message.content

        started = time.monotonic()
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        waited = time.monotonic() - started
        assert results == {i: f"Hello from vertex mock: early {i}" for i in range(4)}
        assert waited >= 1.0, f"the requests did not wait for the token ({waited:.2f}s)"
        assert slow.request_count == 1
        assert len({r.header("authorization") for r in vertex_slow.requests}) == 1
        assert vertex_slow.request_count == 4, "nothing was sent before the token came"
    finally:
        if gw is not None:
            gw.stop()
        vertex_slow.stop()
        slow.stop()


def test_the_mocks_refuse_what_google_refuses(oauth, vertex):
    # A JWT signed with another key, or a missing/expired token, gets nowhere.
    status, _, body = harness.request_json(
        "POST", oauth.token_uri,
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=eyJhbGciOiJSUzI1NiJ9.e30.AAAA",
        {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body["error"]) == (400, "invalid_grant")
    path = f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/gemini-2.5-flash:generateContent"
    ok = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    status, _, body = harness.request_json("POST", vertex.root_url + path, ok,
                                           {"Authorization": "Bearer ya29.forged"})
    assert (status, body["error"]["status"]) == (401, "UNAUTHENTICATED")
    claude = f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict"
    valid = next(iter(oauth._tokens))
    for body_in, needle in [
        ({"model": "claude", "anthropic_version": "vertex-2023-10-16", "max_tokens": 5,
          "messages": [{"role": "user", "content": "x"}]}, "model: Extra inputs"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "anthropic_version"),
    ]:
        status, _, body = harness.request_json("POST", vertex.root_url + claude, body_in,
                                               {"Authorization": f"Bearer {valid}"})
        assert status == 400 and needle in body["error"]["message"], body
