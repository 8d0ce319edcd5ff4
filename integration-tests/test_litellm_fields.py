"""Request fields that belong to LiteLLM (real Envoy, the built .wasm, the mock
providers, the keyservice where keys matter).

* Every field of the filter's list (``contract/src/litellm_fields.rs``, read here from
  that file: one list, not a copy) sent to an OpenAI-compatible, an Anthropic (on
  ``/v1/chat/completions`` and natively on ``/v1/messages``) and a Bedrock deployment:
  none reaches the provider, and the request is answered as without them.
* LiteLLM's mock-testing fields are refused with LiteLLM's 400, before any provider.
* A client's ``mock_response``: stripped (the provider answers) for an open gateway,
  the master key and a key without the metadata flag, even with a forged allow
  header; answered without any provider for a key — or its team — with
  ``metadata: {"allow_client_mock_response": true}``.
* Per-request ``fallbacks``: the group asked for fails (500 after its retries, 429,
  401) and the request's own fallback group answers, replacing the config's
  fallbacks; a group not in the config is a 400; a group the key may not use is
  refused by the keyservice.
* ``metadata`` and ``tags`` land in ``/spend/logs``; oversize ones are bounded.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import harness
from harness import poll
from harness import request_json
from mocks import ANTHROPIC_KEY, OPENAI_KEY, AnthropicMock, OpenAIMock
from mocks.bedrock import STATIC_KEY, BedrockMock
from test_keys import MASTER, admin

FILTER_TABLE = harness.REPO_ROOT / "contract" / "src" / "litellm_fields.rs"
CLAUDE = "claude-3-5-haiku-20241022"
BEDROCK_CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
ENV = {"TEST_OPENAI_KEY": OPENAI_KEY, "TEST_ANTHROPIC_KEY": ANTHROPIC_KEY,
       "BR_KEY_ID": STATIC_KEY.access_key_id, "BR_SECRET": STATIC_KEY.secret_access_key}
#: The header the keyservice sets for keys that may send their own mock_response.
CLIENT_MOCK_HEADER = "x-switchyard-client-mock"


def _rust_list(text: str, const: str) -> list[str]:
    """The string literals of the Rust array constant ``const`` in ``text``."""
    match = re.search(rf"pub const {const}: [^=]+= (?:&)?\[(.*?)\n\];", text, re.S)
    assert match, f"{const} not found in {FILTER_TABLE}"
    body = re.sub(r"//[^\n]*", "", match.group(1))
    return re.findall(r'"([^"]+)"', body)


_TABLE = FILTER_TABLE.read_text()
#: The filter's list of LiteLLM-only fields, its prefixes, and the refused ones.
LITELLM_FIELDS = _rust_list(_TABLE, "LITELLM_ONLY_FIELDS")
PREFIXES = re.findall(r'"([^"]+)"', re.search(
    r"pub const LITELLM_ONLY_PREFIXES: [^=]+= \[([^\]]*)\]", _TABLE).group(1))
REFUSED = set(re.findall(r'"([^"]+)"', re.search(
    r"pub const REFUSED_MOCK_TESTING_FIELDS: [^=]+= \[(.*?)\];", _TABLE, re.S).group(1)))


def is_litellm_field(name: str) -> bool:
    return name in LITELLM_FIELDS or any(name.startswith(p) for p in PREFIXES)


def plausible(name: str) -> Any:
    """A value a LiteLLM client could send for field ``name``."""
    special: dict[str, Any] = {
        "metadata": {"user_id": "u-1", "spend_logs_metadata": {"job": "nightly"}},
        "litellm_metadata": {"trace_id": "t-1"},
        "tags": ["batch", "eu"],
        "num_retries": 1,
        "timeout": 30,
        "request_timeout": 30,
        "stream_timeout": 30,
        "max_retries": 1,
        "fallbacks": ["backup"],
        "context_window_fallbacks": [{"primary": ["backup"]}],
        "content_policy_fallbacks": [{"primary": ["backup"]}],
        "mock_response": "a mock the provider must never see",
        "mock_tool_calls": [{"id": "call_1", "type": "function",
                             "function": {"name": "f", "arguments": "{}"}}],
        "cache": {"no-cache": True},
        "caching": False,
        "ttl": 60,
        "guardrails": ["pii"],
        "headers": {"x-evil-header": "1"},
        "extra_headers": {"x-evil-header": "1"},
        "default_headers": {"x-evil-header": "1"},
        "api_key": "sk-client-side-key",
        "api_base": "http://169.254.169.254/",
        "base_url": "http://169.254.169.254/",
        "model_list": [],
        "user_config": {"model_list": []},
        "weight": 1,
        "rpm": 10,
        "tpm": 1000,
        "order": 1,
        "max_budget": 1.0,
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "base_model": "gpt-4o",
        "model_info": {"id": "forged"},
        "roles": {"user": {"pre_message": "", "post_message": ""}},
        "callbacks": ["langfuse"],
        "no-log": True,
        "verbose": True,
    }
    if name in special:
        return special[name]
    if "cost" in name or name.endswith("_multiplier") or name.endswith("_rate"):
        return 0.0
    return "litellm-test"


def every_field() -> dict[str, Any]:
    """Every LiteLLM-only field the proxy accepts (the refused ones apart), plus
    the two prefixes."""
    fields = {name: plausible(name) for name in LITELLM_FIELDS if name not in REFUSED}
    fields["_litellm_anything"] = 1
    fields["user_api_key_alias"] = "forged"
    return fields


def all_keys(value: Any) -> list[str]:
    """Every object key in ``value``, at any depth."""
    if isinstance(value, dict):
        return [k for k, v in value.items() for k in [k, *all_keys(v)]]
    if isinstance(value, list):
        return [k for item in value for k in all_keys(item)]
    return []


def assert_nothing_leaked(mock: Any, deep: bool = False) -> None:
    req = mock.last_request
    body = req.json
    assert isinstance(body, dict), req.body[:200]
    keys = all_keys(body) if deep else list(body)
    leaked = sorted(k for k in set(keys) if is_litellm_field(k)
                    # Anthropic's own metadata (its user_id), natively on /v1/messages.
                    and not (k == "metadata" and set(body.get("metadata") or {}) == {"user_id"}))
    assert not leaked, f"{type(mock).__name__} received {leaked}"
    assert "x-evil-header" not in req.headers, req.headers


def test_the_field_list_is_read_from_the_filter() -> None:
    # The list the tests use is the filter's own, with LiteLLM's well-known fields.
    assert len(LITELLM_FIELDS) > 400, len(LITELLM_FIELDS)
    for name in ("metadata", "tags", "caching", "cache", "mock_response", "num_retries",
                 "fallbacks", "context_window_fallbacks", "request_timeout", "timeout",
                 "proxy_server_request", "guardrails", "mock_timeout", "litellm_metadata"):
        assert name in LITELLM_FIELDS, name
    assert PREFIXES == ["_litellm_", "user_api_key_"]
    assert REFUSED <= set(LITELLM_FIELDS) | {"mock_timeout"}


# --------------------------------------------------------------------------------------
# Stripping: every field, three providers, four routes
# --------------------------------------------------------------------------------------


@pytest.fixture
def bedrock_mock():
    with BedrockMock() as mock:
        yield mock


def providers_config(openai: OpenAIMock, backup: OpenAIMock, anthropic: AnthropicMock,
                     bedrock: BedrockMock) -> str:
    return f"""
model_list:
  - model_name: primary
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{openai.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
  - model_name: backup
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{backup.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
  - model_name: claude
    litellm_params: {{model: anthropic/{CLAUDE}, api_base: "{anthropic.base_url}", api_key: os.environ/TEST_ANTHROPIC_KEY}}
  - model_name: bedrock-claude
    litellm_params:
      model: bedrock/{BEDROCK_CLAUDE}
      aws_access_key_id: os.environ/BR_KEY_ID
      aws_secret_access_key: os.environ/BR_SECRET
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: {bedrock.root_url}
"""


def test_no_litellm_field_reaches_a_provider(gateway_factory, openai_mock, anthropic_mock,
                                             bedrock_mock) -> None:
    with OpenAIMock(api_key=OPENAI_KEY) as backup:
        gw = gateway_factory(
            providers_config(openai_mock, backup, anthropic_mock, bedrock_mock), ENV)
        fields = every_field()
        messages = [{"role": "user", "content": "hi"}]
        cases = [
            ("/v1/chat/completions", {"model": "primary", "messages": messages}, openai_mock),
            ("/v1/completions", {"model": "primary", "prompt": "hi"}, openai_mock),
            ("/v1/embeddings", {"model": "primary", "input": "hi"}, openai_mock),
            ("/v1/chat/completions", {"model": "claude", "messages": messages}, anthropic_mock),
            ("/v1/messages", {"model": "claude", "max_tokens": 20, "messages": messages},
             anthropic_mock),
            ("/v1/messages/count_tokens", {"model": "claude", "messages": messages},
             anthropic_mock),
            ("/v1/chat/completions", {"model": "bedrock-claude", "messages": messages},
             bedrock_mock),
            ("/v1/messages", {"model": "primary", "max_tokens": 20, "messages": messages},
             openai_mock),
        ]
        for path, body, mock in cases:
            mock.clear_requests()
            status, _, answer = request_json("POST", gw.url(path), {**body, **fields},
                                             headers={"x-request-id": f"req-{path}"})
            assert status == 200, (path, body["model"], answer)
            assert mock.request_count == 1, (path, body["model"], mock.request_count)
            # Bedrock would carry unknown fields inside additionalModelRequestFields.
            assert_nothing_leaked(mock, deep=mock is bedrock_mock)
            if path == "/v1/messages" and mock is anthropic_mock:
                # Natively, Anthropic's own metadata keeps its user_id (as LiteLLM sends it).
                assert mock.last_request.json["metadata"] == {"user_id": "u-1"}
        # The open gateway has no key metadata to allow a client mock (LiteLLM's rule):
        # every answer above came from a provider, never from `mock_response`.
        assert backup.request_count == 0, "no fallback was needed"


def test_litellm_mock_testing_fields_are_refused(gateway_factory, openai_mock, anthropic_mock,
                                                 bedrock_mock) -> None:
    with OpenAIMock(api_key=OPENAI_KEY) as backup:
        gw = gateway_factory(
            providers_config(openai_mock, backup, anthropic_mock, bedrock_mock), ENV)
        for field in sorted(REFUSED):
            status, _, body = request_json("POST", gw.url("/v1/chat/completions"), {
                "model": "primary", "messages": [{"role": "user", "content": "hi"}],
                field: True})
            assert status == 400, (field, body)
            assert body["error"]["param"] == field, body
            assert body["error"]["message"].startswith(
                "Mock testing request params are disabled on this proxy"), body
        assert openai_mock.request_count == 0


# --------------------------------------------------------------------------------------
# Keys: a client's mock_response, fallbacks the key may not use, spend-log labels
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    work = tmp_path_factory.mktemp("litellm-fields-keys")
    with OpenAIMock(api_key=OPENAI_KEY) as mock, AnthropicMock(api_key=ANTHROPIC_KEY) as claude:
        config = f"""
model_list:
  - model_name: primary
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{mock.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
  - model_name: backup
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{mock.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
  - model_name: claude
    litellm_params: {{model: anthropic/{CLAUDE}, api_base: "{claude.base_url}", api_key: os.environ/TEST_ANTHROPIC_KEY}}
general_settings:
  master_key: os.environ/TEST_MASTER
"""
        with harness.keyed_gateway(config, {**ENV, "TEST_MASTER": MASTER}, work,
                                   master=MASTER) as (gw, _):
            yield gw, mock, claude


def new_key(gw, **fields) -> str:
    status, _, body = admin(gw, "POST", "/key/generate", fields)
    assert status == 200, body
    return body["key"]


def chat(gw, key: str, extra: dict[str, Any] | None = None, model: str = "primary",
         headers: dict[str, str] | None = None, path: str = "/v1/chat/completions"):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **(extra or {})}
    if path.endswith("/messages"):
        body["max_tokens"] = 20
    return request_json("POST", gw.url(path), body,
                        headers={"Authorization": f"Bearer {key}", **(headers or {})})


MOCKED = {"mock_response": "Mocked by the client"}


def test_a_client_mock_is_stripped_unless_the_key_allows_it(keyed) -> None:
    gw, mock, _ = keyed
    plain = new_key(gw)
    # A key without the flag, the master key, and a forged allow header: the provider
    # answers, and never sees the field.
    for key, headers in [(plain, {}), (MASTER, {}),
                         (plain, {CLIENT_MOCK_HEADER: "allowed"}),
                         (plain, {"X-Switchyard-Client-Mock": "allowed"})]:
        mock.clear_requests()
        status, _, body = chat(gw, key, MOCKED, headers=headers)
        assert status == 200, body
        assert body["choices"][0]["message"]["content"].startswith("Hello from openai mock"), body
        assert mock.request_count == 1
        assert "mock_response" not in mock.last_request.json
        assert CLIENT_MOCK_HEADER not in mock.last_request.headers


def test_a_client_mock_is_answered_for_a_key_or_team_that_allows_it(keyed) -> None:
    gw, mock, claude = keyed
    status, _, team = admin(gw, "POST", "/team/new",
                            {"team_alias": "mockers", "metadata": {"allow_client_mock_response": True}})
    assert status == 200, team
    keys = {
        "key metadata": new_key(gw, metadata={"allow_client_mock_response": True}),
        "team metadata": new_key(gw, team_id=team["team_id"]),
    }
    for how, key in keys.items():
        mock.clear_requests()
        status, _, body = chat(gw, key, MOCKED)
        assert status == 200, (how, body)
        assert body["choices"][0]["message"]["content"] == "Mocked by the client", (how, body)
        assert mock.request_count == 0, how

    key = keys["key metadata"]
    # Tool calls, as LiteLLM's mock_completion puts them.
    calls = [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    status, _, body = chat(gw, key, {**MOCKED, "mock_tool_calls": calls})
    assert status == 200 and body["choices"][0]["message"]["tool_calls"] == calls, body
    # Streamed.
    with harness.open_stream("POST", gw.url("/v1/chat/completions"),
                             {"model": "primary", "stream": True, **MOCKED,
                              "messages": [{"role": "user", "content": "hi"}]},
                             headers={"Authorization": f"Bearer {key}"}) as resp:
        assert resp.status == 200
        events = [e.data for e in harness.iter_sse(resp)]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                   for e in events[:-1] if json.loads(e)["choices"])
    assert text == "Mocked by the client"
    # Anthropic's shape on /v1/messages, even for an Anthropic deployment.
    claude.clear_requests()
    status, _, body = chat(gw, key, MOCKED, model="claude", path="/v1/messages")
    assert status == 200, body
    assert (body["type"], body["content"][0]["text"]) == ("message", "Mocked by the client")
    assert claude.request_count == 0
    # LiteLLM's error texts are the errors they name.
    status, _, body = chat(gw, key, {"mock_response": "litellm.RateLimitError"})
    assert status == 429 and body["error"]["type"] == "rate_limit_error", body
    assert mock.request_count == 0


def test_a_client_mock_frees_its_parallel_request_slot(keyed) -> None:
    gw, mock, _ = keyed
    key = new_key(gw, max_parallel_requests=1, metadata={"allow_client_mock_response": True})
    labelled = {**MOCKED, "tags": ["mocked"]}
    sent_before = mock.request_count
    for _ in range(3):
        status, _, body = poll(lambda: chat(gw, key, labelled), lambda r: r[0] != 429,
                                   timeout=5)
        assert status == 200, body
    status, _, logs = poll(lambda: admin(gw, "GET", f"/spend/logs?api_key={key}"),
                               lambda r: r[0] == 200 and len(r[2]) >= 3)
    assert [row["status"] for row in logs] == ["success"] * 3, logs
    assert all(row["request_tags"] == ["mocked"] for row in logs), logs
    assert mock.request_count == sent_before, "mocks never reach the provider"


def test_fallback_groups_the_key_may_not_use_are_refused(keyed) -> None:
    gw, mock, _ = keyed
    key = new_key(gw, models=["primary"])
    mock.clear_requests()
    status, _, body = chat(gw, key, {"fallbacks": ["backup"]})
    assert status == 401, body
    assert (body["error"]["type"], body["error"]["param"]) == ("key_model_access_denied",
                                                              "fallbacks")
    assert "backup" in body["error"]["message"]
    assert mock.request_count == 0
    # Allowed both: admitted (and the fallbacks never reach the provider).
    key = new_key(gw, models=["primary", "backup"])
    status, _, body = chat(gw, key, {"fallbacks": ["backup"]})
    assert status == 200, body
    assert "fallbacks" not in mock.last_request.json
    # A group the config does not have: a 400 naming it, nothing sent.
    mock.clear_requests()
    status, _, body = chat(gw, key, {"fallbacks": ["no-such-group"]})
    assert status == 400 and body["error"]["param"] == "fallbacks", body
    assert "no-such-group" in body["error"]["message"]
    assert mock.request_count == 0


def test_request_fallbacks_with_keys_on(keyed) -> None:
    gw, mock, _ = keyed
    key = new_key(gw, models=["primary", "backup"])
    mock.clear_requests()
    mock.fail_next(3, 500)  # primary's three attempts (num_retries 2), then backup
    status, headers, body = chat(gw, key, {"fallbacks": ["backup"]})
    assert status == 200, body
    assert headers["x-litellm-model-group"] == "backup"


def test_metadata_and_tags_are_in_the_spend_logs_bounded(keyed) -> None:
    gw, mock, _ = keyed
    key = new_key(gw)
    labels = {"metadata": {"spend_logs_metadata": {"job": "nightly"}, "env": "ci",
                           "user_api_key_alias": "forged"},
              "tags": ["batch", "eu"]}
    status, _, body = chat(gw, key, labels, headers={"x-request-id": "labelled-1"})
    assert status == 200, body
    assert not {"metadata", "tags"} & set(mock.last_request.json)
    # Hostile: 1 MB of metadata and 10 000 tags.
    huge = {"metadata": {"pad": "x" * (1024 * 1024)},
            "tags": [f"t{i}" for i in range(10_000)]}
    status, _, body = chat(gw, key, huge, headers={"x-request-id": "huge-1"})
    assert status == 200, body

    def row(client_request_id: str) -> dict[str, Any]:
        # Rows are keyed on the gateway's admission id; the client's x-request-id is
        # kept as `metadata.client_request_id` (issue 12).
        def mine(r):
            return [row for row in (r[2] if r[0] == 200 else [])
                    if row["metadata"].get("client_request_id") == client_request_id]
        found = mine(poll(lambda: admin(gw, "GET", f"/spend/logs?api_key={key}"),
                              lambda r: len(mine(r)) == 1))
        assert len(found) == 1, found
        assert found[0]["request_id"] != client_request_id, found[0]
        return found[0]

    labelled = row("labelled-1")
    assert labelled["metadata"] == {"spend_logs_metadata": {"job": "nightly"},
                                    "requester_metadata": {"env": "ci"},
                                    "client_request_id": "labelled-1"}, labelled
    assert labelled["request_tags"] == ["batch", "eu"]
    big = row("huge-1")
    assert big["metadata"]["metadata_truncated"]["limit"] == 2048, big["metadata"]
    assert big["metadata"]["metadata_truncated"]["bytes"] > 1024 * 1024
    assert big["request_tags"] == [f"t{i}" for i in range(32)]


# --------------------------------------------------------------------------------------
# Per-request fallbacks (no keys: an internal redirect replays through ext_authz
# with the provider's credentials until issue 11's section 4 lands)
# --------------------------------------------------------------------------------------


@pytest.fixture
def fallback_gateway(gateway_factory):
    with OpenAIMock(api_key=OPENAI_KEY) as primary, OpenAIMock(api_key=OPENAI_KEY) as backup, \
            OpenAIMock(api_key=OPENAI_KEY) as configured, \
            AnthropicMock(api_key=ANTHROPIC_KEY) as claude:
        primary.reply_text = "from primary"
        backup.reply_text = "from backup"
        configured.reply_text = "from the config's fallback"
        gw = gateway_factory(f"""
model_list:
  - model_name: primary
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{primary.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
  - model_name: backup
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{backup.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
  - model_name: configured
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{configured.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
  - model_name: claude
    litellm_params: {{model: anthropic/{CLAUDE}, api_base: "{claude.base_url}", api_key: os.environ/TEST_ANTHROPIC_KEY}}
router_settings:
  num_retries: 2
  fallbacks: [{{"primary": ["configured"]}}]
""", ENV)
        yield gw, primary, backup, configured, claude


def ask(gw, fallbacks: Any = None, model: str = "primary", **extra: Any):
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}],
                            **extra}
    if fallbacks is not None:
        body["fallbacks"] = fallbacks
    return request_json("POST", gw.url("/v1/chat/completions"), body)


@pytest.mark.parametrize("status", [500, 429])
def test_request_fallbacks_answer_when_the_group_fails(fallback_gateway, status) -> None:
    gw, primary, backup, configured, _ = fallback_gateway
    primary.fail_next(None, status)  # type: ignore[arg-type]
    code, headers, body = ask(gw, ["backup"])
    assert code == 200, body
    assert body["choices"][0]["message"]["content"] == "from backup"
    assert headers["x-litellm-model-group"] == "backup"
    assert headers["x-litellm-attempted-fallbacks"] == "1"
    # The group's own retries first (num_retries: 2), then the request's chain, which
    # replaces the config's fallbacks (LiteLLM's rule).
    assert primary.request_count == 3
    assert backup.request_count == 1
    assert configured.request_count == 0
    assert "fallbacks" not in backup.last_request.json


def test_request_fallbacks_follow_the_chain_and_keep_streams(fallback_gateway) -> None:
    gw, primary, backup, configured, claude = fallback_gateway
    primary.fail_next(None, 401)  # type: ignore[arg-type]
    backup.fail_next(None, 503)  # type: ignore[arg-type]
    code, headers, body = ask(gw, ["backup", "claude"])
    assert code == 200, body
    assert body["choices"][0]["message"]["content"].startswith("Hello from anthropic mock")
    assert headers["x-litellm-model-group"] == "claude"
    assert headers["x-litellm-attempted-fallbacks"] == "2"
    # A 401 is not retried by Envoy: one attempt, then the chain (LiteLLM falls back).
    assert (primary.request_count, backup.request_count, claude.request_count) == (1, 3, 1)
    # Streamed, on LiteLLM's mapping form.
    with harness.open_stream("POST", gw.url("/v1/chat/completions"), {
            "model": "primary", "stream": True, "fallbacks": [{"primary": ["claude"]}],
            "messages": [{"role": "user", "content": "stream"}]}) as resp:
        assert resp.status == 200
        events = [e.data for e in harness.iter_sse(resp)]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                   for e in events[:-1] if json.loads(e)["choices"])
    assert text == "Hello from anthropic mock: stream"
    assert configured.request_count == 0


def test_request_fallbacks_are_not_used_for_a_plain_400_or_unknown_groups(
        fallback_gateway) -> None:
    gw, primary, backup, configured, _ = fallback_gateway
    primary.fail_next(1, 400)
    code, _, body = ask(gw, ["backup"])
    assert code == 400, body
    assert backup.request_count == 0 and primary.request_count == 1
    for fallbacks, says in [(["nope"], "nope"), ("backup", "must be a list"),
                            ([{"model": "backup", "temperature": 0}], "parameter overrides")]:
        code, _, body = ask(gw, fallbacks)
        assert code == 400 and body["error"]["param"] == "fallbacks", body
        assert says in body["error"]["message"], body
    assert primary.request_count == 1, "nothing sent for a refused chain"
    # Without per-request fallbacks, the config's own chain is used.
    primary.fail_next(None, 500)  # type: ignore[arg-type]
    code, headers, body = ask(gw)
    assert code == 200 and body["choices"][0]["message"]["content"] == "from the config's fallback"


def test_request_fallbacks_on_the_anthropic_route(fallback_gateway) -> None:
    gw, primary, backup, _, _ = fallback_gateway
    primary.fail_next(None, 500)  # type: ignore[arg-type]
    code, _, body = request_json("POST", gw.url("/v1/messages"), {
        "model": "primary", "max_tokens": 20, "fallbacks": ["backup"],
        "messages": [{"role": "user", "content": "hi"}]})
    assert code == 200, body
    assert body["type"] == "message" and body["content"][0]["text"] == "from backup", body
    assert "fallbacks" not in backup.last_request.json
