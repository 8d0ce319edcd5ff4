"""Issue 12, point 2: a key's `aliases` route where they authorize.

LiteLLM's "upgrade/downgrade a key's model": `/key/generate` with
`"aliases": {"gpt-3.5-turbo": "my-free-tier"}` sends the key's `gpt-3.5-turbo`
requests to `my-free-tier`. The keyservice checks the alias's target against the
key's `models`; before this fix Envoy still routed the group the client named, so a
key limited to a cheap group was served by an expensive one. Each test sends the
request through the real gateway (Envoy, the built .wasm, the real keyservice) and
asserts on what each mock provider received and what the keyservice recorded.
"""

from __future__ import annotations

import pytest

import harness
from harness import poll
from mocks import OPENAI_KEY, AnthropicMock, OpenAIMock
from test_keys import MASTER, admin

ANTHROPIC_KEY = "sk-ant-test-aliases"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    work = tmp_path_factory.mktemp("trust-aliases")
    # Two providers, so that "which group served it" is what each one received.
    with OpenAIMock(api_key=OPENAI_KEY) as expensive, OpenAIMock(api_key=OPENAI_KEY) as cheap, \
            AnthropicMock(api_key=ANTHROPIC_KEY) as claude:
        config = f"""
model_list:
  - model_name: gpt-3.5-turbo
    litellm_params: {{model: openai/gpt-4o, api_base: "{expensive.base_url}", api_key: os.environ/TEST_OPENAI_KEY, input_cost_per_token: 0.01, output_cost_per_token: 0.03}}
  - model_name: my-free-tier
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{cheap.base_url}", api_key: os.environ/TEST_OPENAI_KEY, input_cost_per_token: 0.0000001, output_cost_per_token: 0.0000002}}
  - model_name: claude-cheap
    litellm_params: {{model: anthropic/claude-3-5-haiku-20241022, api_base: "{claude.root_url}", api_key: os.environ/TEST_ANTHROPIC_KEY}}
  - model_name: canned
    litellm_params: {{model: openai/x, mock_response: "canned answer"}}
general_settings:
  master_key: os.environ/TEST_MASTER
"""
        env = {"TEST_OPENAI_KEY": OPENAI_KEY, "TEST_MASTER": MASTER,
               "TEST_ANTHROPIC_KEY": ANTHROPIC_KEY}
        with harness.keyed_gateway(config, env, work, master=MASTER) as (gw, _):
            yield gw, expensive, cheap, claude


def generate(gw, body):
    status, _, key = admin(gw, "POST", "/key/generate", body)
    assert status == 200, key
    return key["key"]


def chat(gw, key, model, **extra):
    return harness.request_json(
        "POST", gw.url("/v1/chat/completions"),
        {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra},
        headers={"Authorization": f"Bearer {key}"})


def test_a_downgraded_key_is_served_by_the_alias_target(gateway):
    """The attack: a key limited to `my-free-tier` with the alias
    `gpt-3.5-turbo → my-free-tier` asks for `gpt-3.5-turbo`. It must be served by
    `my-free-tier`'s provider, never by the `gpt-3.5-turbo` group's (which the key may
    not use), and the spend row names the group that served it."""
    gw, expensive, cheap, _ = gateway
    expensive.clear_requests()
    cheap.clear_requests()
    key = generate(gw, {"models": ["my-free-tier"], "aliases": {"gpt-3.5-turbo": "my-free-tier"}})
    status, headers, body = chat(gw, key, "gpt-3.5-turbo")
    assert status == 200, body
    assert expensive.requests == [], "the group the key may not use was called"
    assert [r.json["model"] for r in cheap.requests] == ["gpt-4o-mini"]
    assert headers.get("x-litellm-model-group") in (None, "my-free-tier"), headers
    logs = poll(lambda: admin(gw, "GET", f"/spend/logs?api_key={key}")[2],
                    lambda rows: isinstance(rows, list) and len(rows) == 1)
    assert [row["model_group"] for row in logs] == ["my-free-tier"], logs

    # A stream takes the same road.
    with harness.open_stream("POST", gw.url("/v1/chat/completions"),
                             {"model": "gpt-3.5-turbo", "stream": True,
                              "messages": [{"role": "user", "content": "s"}]},
                             headers={"Authorization": f"Bearer {key}"}) as resp:
        assert resp.status == 200
        events = [e.data for e in harness.iter_sse(resp)]
    assert events[-1] == "[DONE]"
    assert expensive.requests == []
    assert len(cheap.requests) == 2


def test_an_alias_the_config_does_not_know_routes_to_its_target(gateway):
    """LiteLLM applies a key's aliases to the client's model name even when no model
    group has that name: the request is served by the target, not refused."""
    gw, expensive, cheap, _ = gateway
    expensive.clear_requests()
    cheap.clear_requests()
    key = generate(gw, {"models": ["my-free-tier"], "aliases": {"my-nickname": "my-free-tier"}})
    status, _, body = chat(gw, key, "my-nickname")
    assert status == 200, body
    assert len(cheap.requests) == 1 and expensive.requests == []


def test_an_upgraded_key_reaches_its_target_across_formats(gateway):
    """An alias across providers and formats: the Anthropic target gets an Anthropic
    request; a mock group target answers its canned text (its provider never called)."""
    gw, expensive, cheap, claude = gateway
    for mock in (expensive, cheap, claude):
        mock.clear_requests()
    key = generate(gw, {"models": ["claude-cheap", "canned"],
                        "aliases": {"gpt-3.5-turbo": "claude-cheap", "my-free-tier": "canned"}})
    status, _, body = chat(gw, key, "gpt-3.5-turbo")
    assert status == 200, body
    assert [r.path for r in claude.requests] == ["/v1/messages"]
    assert body["choices"][0]["message"]["content"], body
    status, _, body = chat(gw, key, "my-free-tier")
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == "canned answer", body
    assert expensive.requests == [] and cheap.requests == []


def test_a_key_without_the_target_is_refused_and_nothing_is_called(gateway):
    """An alias whose target the key may not use is refused before any provider is
    called, as in LiteLLM (the target is what is checked)."""
    gw, expensive, cheap, _ = gateway
    expensive.clear_requests()
    cheap.clear_requests()
    key = generate(gw, {"models": ["my-free-tier"], "aliases": {"my-free-tier": "gpt-3.5-turbo"}})
    status, _, body = chat(gw, key, "my-free-tier")
    assert status == 401, body
    assert body["error"]["type"] == "key_model_access_denied", body
    assert expensive.requests == [] and cheap.requests == []


def test_client_sent_routing_headers_are_ignored(gateway):
    """A client naming an alias target (or the model the keyservice should alias)
    itself changes nothing: the headers are the gateway's, removed on arrival."""
    gw, expensive, cheap, _ = gateway
    expensive.clear_requests()
    cheap.clear_requests()
    key = generate(gw, {"models": ["my-free-tier"]})
    status, _, body = harness.request_json(
        "POST", gw.url("/v1/chat/completions"),
        {"model": "my-free-tier", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}",
                 "x-switchyard-alias-target": "gpt-3.5-turbo",
                 "x-switchyard-requested-model": "gpt-3.5-turbo"})
    assert status == 200, body
    assert expensive.requests == [] and len(cheap.requests) == 1
    # And the other way: asking the expensive group with a forged "target" is refused.
    status, _, body = harness.request_json(
        "POST", gw.url("/v1/chat/completions"),
        {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}",
                 "x-switchyard-alias-target": "my-free-tier"})
    assert status == 401, body
    assert expensive.requests == []
