"""LiteLLM's `GET /health`, `/model/info` and `/model_group/info` through the real
gateway (Envoy 1.40, the built .wasm, the keyservice for the keyed half).

`/health` probes every deployment once, through the deployment's own probe cluster
and the upstream stage's real translation: a stopped mock deployment is listed
unhealthy with an error, an Anthropic deployment's probe reaches its mock as a native
Messages request. With keys, only the master key may call it; `/model/info` and
`/model_group/info` take any key and show only its models. None of the three answers
holds a secret of the config.
"""

from __future__ import annotations

import json
import os

import pytest

import harness
from mocks import ANTHROPIC_KEY, OPENAI_KEY, AnthropicMock, OpenAIMock

MASTER = "sk-master-health-0123456789"
#: Distinctive secrets the config holds: none may appear in any answer.
SECRETS = [
    OPENAI_KEY,
    ANTHROPIC_KEY,
    MASTER,
    "HEADERSECRET0005",
    "XAPIKEYSECRET0009",
    "AKIASECRETACCESSID02",
    "aws-SECRET-ACCESS-KEY-0003",
    "VERTEXCREDSECRET0004",
    "USERINFOSECRET0006",
    "QUERYSECRET0007",
]


def config(up: OpenAIMock, down_url: str, claude: AnthropicMock, keys: bool) -> str:
    text = f"""
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {up.base_url}
      api_key: os.environ/TEST_OPENAI_KEY
      extra_headers: {{x-team: blue}}
    model_info: {{id: gpt-up}}
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {down_url}
      api_key: os.environ/TEST_OPENAI_KEY
    model_info: {{id: gpt-down, health_check_timeout: 5}}
  - model_name: claude
    litellm_params:
      model: anthropic/claude-3-5-haiku-20241022
      api_base: {claude.base_url}
      api_key: os.environ/TEST_ANTHROPIC_KEY
    model_info: {{id: claude-1}}
  - model_name: emb
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: {up.base_url}
      api_key: os.environ/TEST_OPENAI_KEY
    model_info: {{id: emb-1, mode: embedding}}
  - model_name: demo
    litellm_params:
      model: openai/x
      mock_response: hi
      extra_headers: {{Authorization: "Bearer HEADERSECRET0005", x-api-key: XAPIKEYSECRET0009}}
      api_base: https://admin:USERINFOSECRET0006@mock.example.com/v1?key=QUERYSECRET0007
      aws_access_key_id: AKIASECRETACCESSID02
      aws_secret_access_key: aws-SECRET-ACCESS-KEY-0003
      vertex_credentials: '{{"private_key": "VERTEXCREDSECRET0004"}}'
    model_info: {{id: demo-1}}
"""
    if keys:
        text += "general_settings:\n  master_key: os.environ/TEST_MASTER\n"
    return text


def _require_gateway_prerequisites() -> None:
    """Skip (or, with SWITCHYARD_REQUIRE_GATEWAY=1, fail) without Envoy and the builds,
    as the ``gateway_factory`` fixture does."""
    missing = harness.missing_prerequisites()
    if missing:
        message = "gateway prerequisites missing: " + "; ".join(missing)
        if os.environ.get("SWITCHYARD_REQUIRE_GATEWAY") == "1":
            pytest.fail(message)
        pytest.skip(message)


ENV = {"TEST_OPENAI_KEY": OPENAI_KEY, "TEST_ANTHROPIC_KEY": ANTHROPIC_KEY, "TEST_MASTER": MASTER}


@pytest.fixture(scope="module")
def mocks():
    with OpenAIMock(api_key=OPENAI_KEY) as up, OpenAIMock(api_key=OPENAI_KEY) as down, \
            AnthropicMock(api_key=ANTHROPIC_KEY) as claude:
        down_url = down.base_url
        down.stop()  # the deployment whose provider is gone
        yield up, down_url, claude


@pytest.fixture(scope="module")
def open_gateway(mocks, tmp_path_factory):
    _require_gateway_prerequisites()
    up, down, claude = mocks
    gw = harness.Gateway(config(up, down, claude, keys=False), ENV,
                         workdir=tmp_path_factory.mktemp("health-open"))
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def keyed(mocks, tmp_path_factory):
    _require_gateway_prerequisites()
    up, down, claude = mocks
    with harness.keyed_gateway(config(up, down, claude, keys=True), ENV,
                               tmp_path_factory.mktemp("health-keyed"), master=MASTER) as (gw, ks):
        yield gw, ks


def assert_secret_free(raw: str) -> None:
    for secret in SECRETS:
        assert secret not in raw, f"{secret} in {raw}"


def check_health(body) -> None:
    assert set(body) == {"healthy_endpoints", "unhealthy_endpoints", "healthy_count", "unhealthy_count"}, body
    healthy = {e["model_id"]: e for e in body["healthy_endpoints"]}
    unhealthy = {e["model_id"]: e for e in body["unhealthy_endpoints"]}
    assert set(healthy) == {"gpt-up", "claude-1", "emb-1", "demo-1"}, body
    assert set(unhealthy) == {"gpt-down"}, body
    assert body["healthy_count"] == 4 and body["unhealthy_count"] == 1
    assert isinstance(unhealthy["gpt-down"]["error"], str) and unhealthy["gpt-down"]["error"], body
    assert "error" not in healthy["gpt-up"]
    assert healthy["gpt-up"]["model"] == "openai/gpt-4o-mini"
    assert healthy["claude-1"]["model"] == "anthropic/claude-3-5-haiku-20241022"
    assert_secret_free(json.dumps(body))


def test_health_lists_a_stopped_deployment_unhealthy(open_gateway, mocks):
    up, _, claude = mocks
    up.clear_requests()
    claude.clear_requests()
    status, _, body = harness.request_json("GET", open_gateway.url("/health"), timeout=30)
    assert status == 200, body
    check_health(body)
    # One probe per deployment, LiteLLM's minimal requests, each translated.
    paths = sorted(r.path for r in up.requests)
    assert paths == ["/chat/completions", "/embeddings"] or paths == ["/v1/chat/completions", "/v1/embeddings"], paths
    chat = next(r for r in up.requests if r.path.endswith("/chat/completions"))
    assert chat.json["model"] == "gpt-4o-mini"
    assert chat.json["max_tokens"] == 16
    assert chat.json["messages"] == [{"role": "user", "content": "test from litellm"}]
    assert chat.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert "x-switchyard-health-probe" not in chat.headers
    emb = next(r for r in up.requests if r.path.endswith("/embeddings"))
    assert emb.json["input"] == ["test from litellm"]
    # The Anthropic deployment's probe went through translation: a native request.
    [native] = claude.requests
    assert native.path.endswith("/messages"), native.path
    assert native.json["model"] == "claude-3-5-haiku-20241022"
    assert native.json["max_tokens"] == 16
    assert native.headers["x-api-key"] == ANTHROPIC_KEY


def test_health_of_one_model_or_deployment(open_gateway):
    status, _, body = harness.request_json("GET", open_gateway.url("/health?model=gpt"), timeout=30)
    assert status == 200, body
    assert body["healthy_count"] == 1 and body["unhealthy_count"] == 1, body
    # Only unhealthy deployments: 503, LiteLLM's status for a targeted call.
    status, _, body = harness.request_json("GET", open_gateway.url("/health?model_id=gpt-down"), timeout=30)
    assert status == 503, body
    assert [e["model_id"] for e in body["unhealthy_endpoints"]] == ["gpt-down"], body
    assert body["healthy_endpoints"] == []


def test_info_endpoints_have_litellms_shapes(open_gateway):
    status, _, info = harness.request_json("GET", open_gateway.url("/v1/model/info"))
    assert status == 200, info
    assert [d["model_name"] for d in info["data"]] == ["gpt", "gpt", "claude", "emb", "demo"]
    first = info["data"][0]
    assert set(first) == {"model_name", "litellm_params", "model_info"}
    assert first["model_info"]["id"] == "gpt-up" and first["model_info"]["db_model"] is False
    assert first["litellm_params"]["model"] == "openai/gpt-4o-mini"
    assert "api_key" not in first["litellm_params"]
    assert first["litellm_params"]["extra_headers"]["x-team"] == "blue"
    assert info["data"][4]["litellm_params"]["api_base"] == "https://mock.example.com/v1"
    status, _, groups = harness.request_json("GET", open_gateway.url("/model_group/info"))
    assert status == 200, groups
    by_name = {g["model_group"]: g for g in groups["data"]}
    assert list(by_name) == ["gpt", "claude", "emb", "demo"]
    assert by_name["gpt"]["providers"] == ["openai"]
    assert by_name["claude"]["providers"] == ["anthropic"]
    assert by_name["emb"]["mode"] == "embedding"
    assert by_name["gpt"]["supports_function_calling"] is False
    assert_secret_free(json.dumps(info) + json.dumps(groups))


def test_a_client_cannot_pin_a_deployment(open_gateway, mocks):
    """The probe header from a client is removed: its chat goes where the balancer
    sends it, translated for that deployment (the claude group has one)."""
    _, _, claude = mocks
    claude.clear_requests()
    status, _, body = harness.request_json(
        "POST", open_gateway.url("/v1/chat/completions"),
        {"model": "claude", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-switchyard-health-probe": "gpt-down"})
    assert status == 200, body
    assert "x-switchyard-health-probe" not in claude.last_request.headers


def admin(gw, method, path, body=None, key=MASTER):
    return harness.request_json(method, gw.url(path), body,
                                headers={"Authorization": f"Bearer {key}"} if key else {},
                                timeout=30)


def test_with_keys_health_is_for_the_master_key(keyed, mocks):
    gw, _ = keyed
    up, _, _ = mocks
    status, _, body = admin(gw, "GET", "/health", key=None)
    assert status == 401, body
    status, _, made = admin(gw, "POST", "/key/generate", {"models": ["claude"]})
    assert status == 200, made
    virtual = made["key"]
    up.clear_requests()
    status, _, body = admin(gw, "GET", "/health", key=virtual)
    assert status == 403, body
    assert body["error"]["type"] == "auth_error"
    assert up.request_count == 0, "no probe for a virtual key"
    status, _, body = admin(gw, "GET", "/health")
    assert status == 200, body
    check_health(body)
    # Probes are not client requests: no spend row for them.
    status, _, logs = admin(gw, "GET", "/spend/logs")
    assert status == 200, logs
    assert logs == [] or not [row for row in logs if row.get("model_group") in ("gpt", "claude", "emb")], logs


def test_with_keys_info_is_narrowed_to_the_keys_models(keyed):
    gw, _ = keyed
    status, _, made = admin(gw, "POST", "/key/generate", {"models": ["claude", "emb"]})
    assert status == 200, made
    status, _, info = admin(gw, "GET", "/model/info", key=made["key"])
    assert status == 200, info
    assert [d["model_name"] for d in info["data"]] == ["claude", "emb"]
    status, _, groups = admin(gw, "GET", "/model_group/info", key=made["key"])
    assert [g["model_group"] for g in groups["data"]] == ["claude", "emb"]
    status, _, info = admin(gw, "GET", "/model/info")
    assert len(info["data"]) == 5, "the master key sees every deployment"
    status, _, _ = admin(gw, "GET", "/model/info", key=None)
    assert status == 401
    assert_secret_free(json.dumps(info) + json.dumps(groups))
