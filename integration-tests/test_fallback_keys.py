"""Error fallbacks and retries with virtual keys on: whose credentials go where.

A context-window or content-policy fallback is an Envoy internal redirect: the
request is replayed through the listener's filters, ext_authz included, starting
from the request headers the failed attempt's upstream stage had rewritten (the
client's key removed, the provider's key set). The gateway must present the
client's key again on every replay, and a provider credential must never leave the
upstream stage: not to the keyservice, not into the access log, not to the next
attempt's provider.

Real Envoy with the built filter, the real ``switchyard-keyservice`` (SQLite), and,
between them, :class:`harness.RecordingProxy`: a pass-through HTTP proxy given to ``switchyard
render --keyservice`` that keeps every request Envoy sends the keyservice, so the
tests assert on what the keyservice was asked (ext_authz checks and spend reports),
not on logs. Virtual keys are on through ``general_settings.database_url`` (LiteLLM
turns keys on for a master key *or* a database); the keys are made with the
keyservice's master key through the gateway's ``/key/generate``.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

import harness
from harness import RecordingProxy
from mocks import ANTHROPIC_KEY, OPENAI_KEY, AnthropicMock, OpenAIMock

MASTER = "sk-master-fallback-keys-0123"
#: Every provider secret the deployments hold.
PROVIDER_KEYS = (OPENAI_KEY, ANTHROPIC_KEY)
#: The headers a client's gateway key may come in (LiteLLM's).
CREDENTIAL_HEADERS = ("authorization", "x-litellm-api-key", "api-key", "x-api-key",
                      "x-goog-api-key")
#: The gateway's reporting credential (a database and no master key in the config: the
#: keyservice and Envoy share SWITCHYARD_REPORTER_KEY).
REPORTER_KEY = "fallback-keys-reporter-0123456789"
ENV = {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
       "SWITCHYARD_REPORTER_KEY": REPORTER_KEY}
CLAUDE = "claude-3-5-haiku-20241022"

#: Native provider errors that have error fallbacks (as the real APIs send them).
CONTEXT_WINDOW_OPENAI = {"error": {
    "message": "This model's maximum context length is 128000 tokens. However, your messages "
               "resulted in 130017 tokens. Please reduce the length of the messages.",
    "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}
CONTEXT_WINDOW_ANTHROPIC = {"type": "error", "error": {
    "type": "invalid_request_error", "message": "prompt is too long: 210517 tokens > 200000 maximum"}}
CONTENT_POLICY_OPENAI = {"error": {
    "message": "Your request was rejected as a result of our safety system. Your prompt may "
               "contain text that is not allowed by our safety system.",
    "type": "invalid_request_error", "param": None, "code": "content_policy_violation"}}


# --------------------------------------------------------------------------------------
# The keyservice and the proxy in front of it
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyservice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingProxy, str]]:
    """The keyservice behind a recording proxy; yields the proxy and the SQLite URL."""
    with harness.keyservice_behind_recording_proxy(
            tmp_path_factory.mktemp("fallback-keys"), master=MASTER,
            master_env="FALLBACK_KEYS_MASTER", reporter_key=REPORTER_KEY) as recorded:
        yield recorded


# --------------------------------------------------------------------------------------
# Config and requests
# --------------------------------------------------------------------------------------


def openai_dep(group: str, mock: OpenAIMock) -> str:
    return f"""
  - model_name: {group}
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{mock.base_url}", api_key: os.environ/OPENAI_API_KEY}}
    model_info: {{id: dep-{group}}}"""


def anthropic_dep(group: str, mock: AnthropicMock) -> str:
    return f"""
  - model_name: {group}
    litellm_params: {{model: anthropic/{CLAUDE}, api_base: "{mock.base_url}", api_key: os.environ/ANTHROPIC_API_KEY}}
    model_info: {{id: dep-{group}}}"""


def start(gateway_factory: Any, keyservice: tuple[RecordingProxy, str], deployments: list[str],
          router_settings: str) -> harness.Gateway:
    proxy, database_url = keyservice
    config = ("model_list:" + "".join(deployments) + "\nrouter_settings:\n" + router_settings
              + f"\ngeneral_settings:\n  database_url: \"{database_url}\"\n")
    return gateway_factory(config, ENV,
                           extra_render_args=["--keyservice", f"127.0.0.1:{proxy.port}"])


def virtual_key(gw: harness.Gateway) -> str:
    status, _, made = harness.request_json("POST", gw.url("/key/generate"), {},
                                           headers={"Authorization": f"Bearer {MASTER}"})
    assert status == 200, made
    return made["key"]


def chat(gw: harness.Gateway, model: str, key: str, header: str = "Authorization",
         text: str = "a very long prompt") -> tuple[int, dict[str, str], Any]:
    value = f"Bearer {key}" if header == "Authorization" else key
    return harness.request_json(
        "POST", gw.url("/v1/chat/completions"),
        {"model": model, "messages": [{"role": "user", "content": text}]},
        headers={header: value})


def assert_keyservice_saw_only_the_clients_key(proxy: RecordingProxy, key: str,
                                               checks_at_least: int) -> None:
    """Every ext_authz check carried the client's key and no other credential; no
    request to the keyservice carried a provider secret anywhere."""
    checks = proxy.checks()
    assert len(checks) >= checks_at_least, f"{len(checks)} checks: {checks}"
    for headers in checks:
        presented = {name: headers[name] for name in CREDENTIAL_HEADERS if name in headers}
        assert presented, f"a check without the client's key: {headers}"
        for name, value in presented.items():
            assert value in (key, f"Bearer {key}"), f"the keyservice was shown {name}: {value!r}"
    for method, path, headers, body in proxy.snapshot():
        seen = json.dumps(headers) + body.decode("utf-8", "replace")
        for secret in PROVIDER_KEYS:
            assert secret not in seen, f"a provider key reached the keyservice: {method} {path}"


def assert_provider_saw_only_its_key(mock: Any, expected: dict[str, str], key: str) -> None:
    """Each request the mock got carries exactly ``expected`` among the credential
    headers, and the client's key nowhere."""
    assert mock.requests, f"{type(mock).__name__} got no request"
    for req in mock.requests:
        presented = {name: req.headers[name] for name in CREDENTIAL_HEADERS if name in req.headers}
        assert presented == expected, f"{type(mock).__name__} got {presented}"
        assert key not in json.dumps(req.headers), f"{type(mock).__name__} saw the client's key"
        assert not any(h.startswith("x-switchyard-") for h in req.headers), req.headers


def assert_log_has_no_secret(gw: harness.Gateway, key: str) -> None:
    text = gw.log_text()
    for secret in (*PROVIDER_KEYS, key):
        assert secret not in text, "a credential is in Envoy's log"


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [
    ("context_window_fallbacks", "openai", CONTEXT_WINDOW_OPENAI, "Authorization"),
    ("context_window_fallbacks", "anthropic", CONTEXT_WINDOW_ANTHROPIC, "x-api-key"),
    ("content_policy_fallbacks", "openai", CONTENT_POLICY_OPENAI, "x-litellm-api-key"),
], ids=["context-window-openai", "context-window-anthropic", "content-policy-openai"])
def test_error_fallback_with_keys_is_answered_by_the_fallback_group(
        gateway_factory: Any, keyservice: tuple[RecordingProxy, str], openai_mock: OpenAIMock,
        anthropic_mock: AnthropicMock, case: tuple[str, str, Any, str]) -> None:
    kind, provider, native_error, header = case
    proxy, _ = keyservice
    with OpenAIMock(api_key=OPENAI_KEY) as big:
        big.reply_text = "answer from the bigger model"
        small: Any = openai_mock if provider == "openai" else anthropic_mock
        small_dep = openai_dep("small", small) if provider == "openai" else anthropic_dep("small", small)
        gw = start(gateway_factory, keyservice, [small_dep, openai_dep("big", big)],
                   f"  num_retries: 0\n  {kind}: [{{\"small\": [\"big\"]}}]")
        key = virtual_key(gw)
        proxy.clear()
        small.fail_next(1, 400, body=native_error)

        status, headers, body = chat(gw, "small", key, header)

        assert status == 200, body
        assert body["choices"][0]["message"]["content"] == "answer from the bigger model"
        assert headers.get("x-litellm-model-group") == "big", headers
        assert (small.request_count, big.request_count) == (1, 1)
        # The original request and its replay were both checked, each with the
        # client's key and only that.
        assert_keyservice_saw_only_the_clients_key(proxy, key, checks_at_least=2)
        small_key = ({"authorization": f"Bearer {OPENAI_KEY}"} if provider == "openai"
                     else {"x-api-key": ANTHROPIC_KEY})
        assert_provider_saw_only_its_key(small, small_key, key)
        assert_provider_saw_only_its_key(big, {"authorization": f"Bearer {OPENAI_KEY}"}, key)
        assert "anthropic-version" not in big.last_request.headers
        assert_log_has_no_secret(gw, key)


def test_a_second_error_fallback_replays_with_the_clients_key_again(
        gateway_factory: Any, keyservice: tuple[RecordingProxy, str],
        anthropic_mock: AnthropicMock, openai_mock: OpenAIMock) -> None:
    # small (Anthropic) → mid (OpenAI) → big (OpenAI): two replays in a row.
    proxy, _ = keyservice
    with OpenAIMock(api_key=OPENAI_KEY) as big:
        big.reply_text = "answer from the biggest model"
        gw = start(gateway_factory, keyservice,
                   [anthropic_dep("small", anthropic_mock), openai_dep("mid", openai_mock),
                    openai_dep("big", big)],
                   '  num_retries: 0\n  context_window_fallbacks: [{"small": ["mid", "big"]}]')
        key = virtual_key(gw)
        proxy.clear()
        anthropic_mock.fail_next(1, 400, body=CONTEXT_WINDOW_ANTHROPIC)
        openai_mock.fail_next(1, 400, body=CONTEXT_WINDOW_OPENAI)
        status, headers, body = chat(gw, "small", key)
        assert status == 200, body
        assert body["choices"][0]["message"]["content"] == "answer from the biggest model"
        assert headers.get("x-litellm-model-group") == "big", headers
        assert_keyservice_saw_only_the_clients_key(proxy, key, checks_at_least=3)
        assert_provider_saw_only_its_key(anthropic_mock, {"x-api-key": ANTHROPIC_KEY}, key)
        assert_provider_saw_only_its_key(openai_mock, {"authorization": f"Bearer {OPENAI_KEY}"}, key)
        assert_provider_saw_only_its_key(big, {"authorization": f"Bearer {OPENAI_KEY}"}, key)


@pytest.mark.parametrize("first", ["anthropic", "openai"])
def test_a_retry_to_another_provider_sends_each_only_its_own_credentials(
        gateway_factory: Any, keyservice: tuple[RecordingProxy, str], openai_mock: OpenAIMock,
        anthropic_mock: AnthropicMock, first: str) -> None:
    # One request, one header map: the first group fails with a 500 and Envoy moves
    # the same request to the fallback group's deployment (another provider).
    proxy, _ = keyservice
    failing: Any = anthropic_mock if first == "anthropic" else openai_mock
    answering: Any = openai_mock if first == "anthropic" else anthropic_mock
    deployments = ([anthropic_dep("first", anthropic_mock), openai_dep("second", openai_mock)]
                   if first == "anthropic"
                   else [openai_dep("first", openai_mock), anthropic_dep("second", anthropic_mock)])
    gw = start(gateway_factory, keyservice, deployments,
               '  num_retries: 0\n  fallbacks: [{"first": ["second"]}]')
    key = virtual_key(gw)
    proxy.clear()
    failing.fail_next(1, 500)

    status, headers, body = chat(gw, "first", key, text="hi")

    assert status == 200, body
    assert headers.get("x-litellm-model-group") == "second", headers
    assert (failing.request_count, answering.request_count) == (1, 1)
    assert_provider_saw_only_its_key(anthropic_mock, {"x-api-key": ANTHROPIC_KEY}, key)
    assert_provider_saw_only_its_key(openai_mock, {"authorization": f"Bearer {OPENAI_KEY}"}, key)
    assert "anthropic-version" not in openai_mock.last_request.headers
    assert_keyservice_saw_only_the_clients_key(proxy, key, checks_at_least=1)
    assert_log_has_no_secret(gw, key)
