"""Vertex AI (``vertex_ai/``) through the gateway with the official ``openai``
client: Gemini and Claude on Vertex, Google's embeddings, and the service-account
OAuth flow the gateway runs itself — a JWT signed with the account's key,
exchanged at the account's ``token_uri`` (:class:`mocks.GoogleOAuthMock`, which
verifies the signature with the public key) for an access token that every
request then carries and that is fetched once and refreshed before it expires.
:class:`mocks.VertexMock` accepts only tokens the OAuth mock issued and still
holds valid.

The gateway and the mocks are the ``vertex`` group of ``conformance/vertex.py`` (an
Envoy with two workers), shared with the ``vertex_ai-gemini`` and ``vertex_ai-claude``
rows of ``test_conformance.py``, which test the tool round trip, streamed tool calls,
images, JSON mode, reasoning and the stream with usage.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import openai
import pytest

import harness
from conformance.vertex import (
    CLIENT_EMAIL,
    CLIENT_KEY,
    LOCATION,
    MODELS,
    PROJECT,
    TEST_KEY,
    deployment,
    service_account,
)
from mocks import GoogleOAuthMock, VertexMock


def start_gateway(config: str, env: dict, tmp_path_factory, name: str) -> harness.Gateway:
    missing = harness.missing_prerequisites()
    if missing:
        pytest.fail("gateway prerequisites missing: " + "; ".join(missing))
    gw = harness.Gateway(config, env, workdir=tmp_path_factory.mktemp(name))
    gw.start()
    return gw


@pytest.fixture(scope="module")
def oauth(provider_stacks):
    """The vertex group's token endpoint (conformance/vertex.py), shared with test_conformance.py."""
    return provider_stacks("vertex").mocks["oauth"]


@pytest.fixture(scope="module")
def vertex(provider_stacks):
    """The vertex group's Vertex mock."""
    return provider_stacks("vertex").mocks["vertex"]


@pytest.fixture(scope="module")
def gateway(provider_stacks):
    """The group's gateway: one account for three route clusters, on two workers (six
    root contexts): one token."""
    return provider_stacks("vertex").gateway


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

    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="vertex-claude", messages=[{"role": "user", "content": "x"}], logit_bias={"1": 2})
    assert err.value.body["param"] == "logit_bias"


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
