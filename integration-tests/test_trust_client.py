"""Issue 12, points 7 and 9: what a client sends cannot multiply the operator's
provider calls, put a key in a log, or choose what the operator's account pays for.

One test per attack, each through the real gateway (real Envoy, the built .wasm, the
real keyservice where keys matter, strict mock providers), asserting on what the mock
provider received, Envoy's own counters and the logs the gateway and the keyservice
wrote.
"""

from __future__ import annotations

import threading
import time

import pytest

import harness
from mocks import ANTHROPIC_KEY, OPENAI_KEY, AnthropicMock, OpenAIMock
from test_keys import MASTER

ENV = {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY}
MESSAGES = [{"role": "user", "content": "hi"}]

#: Client headers that choose what the operator's provider account is billed for.
BILLING_HEADERS = {
    "OpenAI-Organization": "org-client-chosen",
    "OpenAI-Project": "proj_client_chosen",
    "x-goog-user-project": "client-billing-project",
    "X-Vertex-AI-LLM-Shared-Request-Type": "priority",
    "X-Amzn-Bedrock-Service-Tier": "priority",
    "X-HF-Bill-To": "client-org",
}


def chat(gw, model: str, body: dict | None = None, headers: dict | None = None,
         timeout: float = 30.0):
    return harness.request_json(
        "POST", gw.url("/v1/chat/completions"),
        {"model": model, "messages": MESSAGES, **(body or {})},
        headers=headers, timeout=timeout)


def overflow_stats(gw) -> dict[str, int]:
    """Every route cluster's `upstream_rq_retry_overflow` (retries Envoy dropped)."""
    return {name: value for name, value in gw.stats(filter="upstream_rq_retry_overflow$").items()
            if name.startswith("cluster.route_")}


# --------------------------------------------------------------------------------------
# 7. Client-controlled retries are bounded; circuit breakers sized for LLM traffic.

def test_body_num_retries_cannot_raise_the_configs(tmp_path):
    """Attack (issue 12, point 7): a body `num_retries: 1000` became
    `x-envoy-max-retries: 1000`, so one request to a failing provider made as many
    provider calls as the route's timeout allowed. The config's `num_retries: 1` caps
    it: the mock sees 2 attempts, not more."""
    with OpenAIMock(api_key=OPENAI_KEY) as mock:
        config = f"""
model_list:
  - model_name: gpt
    litellm_params: {{model: openai/gpt-4o, api_base: "{mock.base_url}", api_key: os.environ/OPENAI_API_KEY}}
router_settings:
  num_retries: 1
  allowed_fails: 1000
  timeout: 6
"""
        with harness.Gateway(config, ENV, workdir=tmp_path / "gw") as gw:
            mock.fail_next(None, 500)
            status, _, body = chat(gw, "gpt", {"num_retries": 1000})
            attempts = mock.request_count
            print(f"\nbody num_retries 1000, config 1: status {status}, provider calls {attempts}")
            assert status >= 500, body
            assert attempts == 2, f"the provider was called {attempts} times (config: 1 retry)"
            # Lowering stays the client's choice.
            mock.clear_requests()
            status, _, body = chat(gw, "gpt", {"num_retries": 0})
            assert status >= 500 and mock.request_count == 1, (status, mock.request_count)


def test_outage_retries_are_not_dropped_by_default_circuit_breakers(tmp_path):
    """Attack/failure (issue 12, point 7): under an outage, Envoy's default circuit
    breaker (3 concurrent retries per cluster) silently dropped the retries of every
    request beyond the third retried at the same time (`upstream_rq_retry_overflow`),
    so clients got errors the config's retries and fallbacks should have absorbed.
    With N = 12 concurrent requests to a failing provider and `num_retries: 2`, the
    mock must see every request's 3 attempts and Envoy must drop none."""
    n = 12
    with OpenAIMock(api_key=OPENAI_KEY) as mock:
        config = f"""
model_list:
  - model_name: gpt
    litellm_params: {{model: openai/gpt-4o, api_base: "{mock.base_url}", api_key: os.environ/OPENAI_API_KEY}}
router_settings:
  num_retries: 2
  allowed_fails: 100000
  timeout: 30
"""
        with harness.Gateway(config, ENV, workdir=tmp_path / "gw") as gw:
            # Every call fails after a moment, so the requests' retries overlap.
            mock.fail_next(None, 500)
            mock.delay_next(0.3, None)
            results: list[int] = []
            lock = threading.Lock()

            def one() -> None:
                status, _, _ = chat(gw, "gpt", timeout=60)
                with lock:
                    results.append(status)

            started = time.monotonic()
            threads = [threading.Thread(target=one) for _ in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(90)
            elapsed = time.monotonic() - started
            overflow = overflow_stats(gw)
            calls = mock.request_count
            print(f"\n{n} concurrent requests, outage, num_retries 2: provider calls {calls} "
                  f"(expected {n * 3}), retry overflow {overflow}, {elapsed:.1f}s")
            assert len(results) == n and all(s >= 500 for s in results), results
            assert sum(overflow.values()) == 0, f"Envoy dropped retries: {overflow}"
            assert calls == n * 3, f"the provider saw {calls} attempts, not {n} × 3"


# --------------------------------------------------------------------------------------
# 9a. Keys stay out of logs.

@pytest.fixture
def keyed(tmp_path):
    with OpenAIMock(api_key=OPENAI_KEY) as mock:
        config = f"""
model_list:
  - model_name: gpt
    litellm_params: {{model: openai/gpt-4o, api_base: "{mock.base_url}", api_key: os.environ/OPENAI_API_KEY}}
general_settings:
  master_key: os.environ/TEST_MASTER
"""
        with harness.keyed_gateway(config, {**ENV, "TEST_MASTER": MASTER}, tmp_path,
                                   master=MASTER) as (gw, ks):
            yield gw, ks, mock


def test_regenerate_by_path_keeps_the_key_out_of_every_log(keyed):
    """Attack/leak (issue 12, point 9): LiteLLM's `POST /key/{key}/regenerate` carries
    the key in the path, and Envoy's access log printed the path: anyone reading the
    gateway's logs got a live key. After regenerating a key through the gateway (by
    path, and looking it up by query), neither the access log nor the keyservice's
    log holds the old or the new key."""
    gw, ks, _ = keyed
    admin = {"Authorization": f"Bearer {MASTER}"}
    status, _, made = harness.request_json("POST", gw.url("/key/generate"), {"models": ["gpt"]},
                                           headers=admin)
    assert status == 200, made
    old = made["key"]
    assert chat(gw, "gpt", headers={"Authorization": f"Bearer {old}"})[0] == 200
    status, _, fresh = harness.request_json("POST", gw.url(f"/key/{old}/regenerate"), {},
                                            headers=admin)
    assert status == 200 and fresh["key"] != old, fresh
    new = fresh["key"]
    status, _, _ = harness.request_json("GET", gw.url(f"/key/info?key={new}"), headers=admin)
    assert status == 200
    # A key in a path that matches nothing is not logged either.
    harness.request_json("GET", gw.url(f"/v1/{new}"), headers=admin)
    # Envoy writes its access log in batches: stop both to flush every line.
    gw.stop()
    ks.stop()
    logs = {"envoy": gw.log_text(), "keyservice": (ks.workdir / "keyservice.log").read_text()}
    for name, text in logs.items():
        for key in (old, new):
            secret = key.removeprefix("sk-")
            assert secret not in text, f"a key ({key[:6]}…) appears in the {name} log"
    assert "/key/{key}/regenerate" in logs["envoy"], "the regenerate call is logged, redacted"


# --------------------------------------------------------------------------------------
# 9b. Client headers that choose what the operator's account pays for.

@pytest.fixture(scope="module")
def billed(tmp_path_factory):
    work = tmp_path_factory.mktemp("billing")
    with OpenAIMock(api_key=OPENAI_KEY) as openai, AnthropicMock(api_key=ANTHROPIC_KEY) as anthropic:
        config = f"""
model_list:
  - model_name: plain
    litellm_params: {{model: openai/gpt-4o, api_base: "{openai.base_url}", api_key: os.environ/OPENAI_API_KEY}}
  - model_name: org-allowed
    litellm_params: {{model: openai/gpt-4o, api_base: "{openai.base_url}", api_key: os.environ/OPENAI_API_KEY}}
    model_info: {{forward_client_headers: [OpenAI-Organization, OpenAI-Project]}}
  - model_name: claude
    litellm_params: {{model: anthropic/claude-3-5-haiku-20241022, api_base: "{anthropic.root_url}", api_key: os.environ/ANTHROPIC_API_KEY}}
"""
        with harness.Gateway(config, ENV, workdir=work / "gw") as gw:
            yield gw, openai, anthropic


def billing_headers_seen(request) -> dict[str, str]:
    return {k: request.headers[k.lower()] for k in BILLING_HEADERS if k.lower() in request.headers}


def test_billing_headers_do_not_reach_the_provider_by_default(billed):
    """Attack (issue 12, point 9): a client sent `OpenAI-Organization`,
    `OpenAI-Project`, `x-goog-user-project` (and the Vertex, Bedrock and Hugging Face
    billing-tier headers) and the provider received them under the operator's
    credentials: the client chose which organization, project or tier the operator
    pays for. By default none reaches the provider."""
    gw, openai, _ = billed
    openai.clear_requests()
    status, _, body = chat(gw, "plain", headers=BILLING_HEADERS)
    assert status == 200, body
    seen = billing_headers_seen(openai.last_request)
    assert seen == {}, f"the provider received the client's billing headers: {seen}"
    assert openai.last_request.headers["authorization"] == f"Bearer {OPENAI_KEY}"


def test_billing_headers_reach_the_provider_where_the_deployment_allows(billed):
    """Issue 12, point 9: a deployment that allows a billing header
    (`model_info.forward_client_headers`) passes exactly those on; the others are
    still removed."""
    gw, openai, _ = billed
    openai.clear_requests()
    status, _, body = chat(gw, "org-allowed", headers=BILLING_HEADERS)
    assert status == 200, body
    seen = billing_headers_seen(openai.last_request)
    assert seen == {"OpenAI-Organization": "org-client-chosen",
                    "OpenAI-Project": "proj_client_chosen"}, seen


def test_anthropic_beta_still_reaches_anthropic(billed):
    """Issue 12, point 9: `anthropic-beta` is not a billing header to strip (Claude
    Code needs it; docs/keys.md states its pricing caveat); billing headers sent beside
    it on `/v1/messages` are removed."""
    gw, _, anthropic = billed
    anthropic.clear_requests()
    status, _, body = harness.request_json(
        "POST", gw.url("/v1/messages"),
        {"model": "claude", "max_tokens": 16, "messages": MESSAGES},
        headers={"anthropic-version": "2023-06-01",
                 "anthropic-beta": "prompt-caching-2024-07-31", **BILLING_HEADERS})
    assert status == 200, body
    request = anthropic.last_request
    assert request.headers.get("anthropic-beta") == "prompt-caching-2024-07-31"
    seen = billing_headers_seen(request)
    assert seen == {}, f"the provider received the client's billing headers: {seen}"
