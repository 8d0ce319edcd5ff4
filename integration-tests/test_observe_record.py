"""One record per client request, as a LiteLLM user sees it (issue 14): the
``x-litellm-call-id``, ``x-litellm-response-duration-ms`` and
``x-litellm-overhead-duration-ms`` headers on every answer, and the access log's
fields (call id, tokens, spend, key alias, team, user, time to first token, cache
hit, requested model, model id), with virtual keys off and on. Real Envoy, the
built .wasm, the OpenAI mock, and (keys on) the real keyservice on SQLite.

The call id is the gateway's: a client forging ``x-litellm-call-id``,
``x-request-id`` or the internal carrier header, or calling an error fallback's
replay path itself, changes nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

import harness
from harness import open_stream, poll, request_json
from mocks import OPENAI_KEY, OpenAIMock

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CHAT = "/v1/chat/completions"
MASTER = "sk-master-observe-0123456789"
#: A provider error that has an error fallback (OpenAI's own body).
CONTEXT_WINDOW = {"error": {
    "message": "This model's maximum context length is 128000 tokens. However, your messages "
               "resulted in 130017 tokens. Please reduce the length of the messages.",
    "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}
#: Headers a client might forge to choose its call id.
CHOSEN = "12345678-1234-4234-8234-123456789012"
FORGED = {"x-litellm-call-id": CHOSEN, "x-request-id": CHOSEN,
          "x-switchyard-call-id": f"{CHOSEN} 1 00112233445566778899aabbccddeeff"}


def config(mock: OpenAIMock, keys: bool) -> str:
    deployments = "".join(f"""
  - model_name: {group}
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{mock.base_url}", api_key: os.environ/OPENAI_API_KEY, input_cost_per_token: 0.001, output_cost_per_token: 0.002}}
    model_info: {{id: dep-{group}}}""" for group in ("small", "big"))
    text = ("model_list:" + deployments + """
  - model_name: canned
    litellm_params: {model: openai/x, mock_response: "canned answer"}
router_settings:
  num_retries: 0
  context_window_fallbacks: [{"small": ["big"]}]
""")
    if keys:
        text += "general_settings:\n  master_key: os.environ/TEST_MASTER\n"
    return text


@pytest.fixture(scope="module")
def mock():
    with OpenAIMock(api_key=OPENAI_KEY) as m:
        yield m


@pytest.fixture(scope="module")
def open_gw(mock, tmp_path_factory):
    gw = harness.Gateway(config(mock, keys=False), {"OPENAI_API_KEY": OPENAI_KEY},
                         workdir=tmp_path_factory.mktemp("observe-open"))
    if harness.missing_prerequisites():
        pytest.skip("gateway prerequisites missing: " + ", ".join(harness.missing_prerequisites()))
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture(autouse=True)
def clean_mock(mock):
    mock.clear_faults()
    mock.clear_requests()
    yield
    mock.clear_faults()


def chat(gw: harness.Gateway, model: str, headers: dict[str, str] | None = None,
         path: str = CHAT, **extra: Any) -> tuple[int, dict[str, str], Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return request_json("POST", gw.url(path), body, headers=headers or {})


def access_log(gw: harness.Gateway) -> list[dict[str, Any]]:
    """Every access-log line Envoy printed so far (JSON lines with a call id field)."""
    out = []
    for line in gw.log_text().splitlines():
        line = line.strip()
        if line.startswith("{") and '"call_id"' in line:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def log_line(gw: harness.Gateway, call_id: str, status: int) -> dict[str, Any]:
    """The access-log line of request ``call_id`` that ended with ``status``
    (polled: Envoy writes it after the answer)."""
    def find() -> list[dict[str, Any]]:
        return [row for row in access_log(gw)
                if row.get("call_id") == call_id and str(row.get("status")) == str(status)]
    rows = poll(find, lambda rows: len(rows) == 1, timeout=10)
    assert len(rows) == 1, f"access log lines of {call_id}: {find()}"
    return rows[0]


def absent(value: Any) -> bool:
    """An access-log field Envoy had no value for."""
    return value in (None, "-", "")


def assert_call_headers(headers: dict[str, str]) -> str:
    """The call headers are there and sane; returns the call id."""
    call_id = headers.get("x-litellm-call-id", "")
    assert UUID4.match(call_id), headers
    assert call_id != CHOSEN
    duration = float(headers["x-litellm-response-duration-ms"])
    overhead = float(headers["x-litellm-overhead-duration-ms"])
    assert duration >= overhead >= 0, headers
    # Printed as LiteLLM prints it: a Python float.
    assert "." in headers["x-litellm-response-duration-ms"], headers
    return call_id


def test_answers_carry_a_fresh_gateway_call_id_and_timings(open_gw, mock):
    ids = set()
    for _ in range(3):
        status, headers, body = chat(open_gw, "small", FORGED)
        assert status == 200, body
        ids.add(assert_call_headers(headers))
    assert len(ids) == 3, "one call id per request"
    # The forged headers reached no decision: the provider never sees the carrier.
    for req in mock.requests:
        assert "x-switchyard-call-id" not in {k.lower() for k in req.headers}


def test_the_access_log_line_has_the_records_fields(open_gw, mock):
    mock.usage = {"prompt_tokens": 11, "completion_tokens": 7}
    try:
        status, headers, body = chat(open_gw, "small", FORGED, user="end-user-42")
    finally:
        mock.usage = {}
    assert status == 200, body
    call_id = assert_call_headers(headers)
    row = log_line(open_gw, call_id, 200)
    usage = body["usage"]
    assert (str(row["prompt_tokens"]), str(row["completion_tokens"]), str(row["total_tokens"])) == (
        str(usage["prompt_tokens"]), str(usage["completion_tokens"]), str(usage["total_tokens"]))
    expected = usage["prompt_tokens"] * 0.001 + usage["completion_tokens"] * 0.002
    assert abs(float(row["spend"]) - expected) < 1e-9, row
    assert float(headers["x-litellm-response-cost"]) == pytest.approx(float(row["spend"]))
    assert row["requested_model"] == "small"
    assert row["model_id"] == "dep-small"
    assert row["end_user"] == "end-user-42"
    assert str(row["cache_hit"]) == "false"
    assert float(row["ttft_ms"]) >= 0
    # Keys off: no key labels.
    for name in ("key_alias", "team", "user"):
        assert absent(row[name]), row


def test_a_stream_logs_its_time_to_first_token(open_gw):
    with open_stream("POST", open_gw.url(CHAT), {
            "model": "small", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "hi"}]}, headers=FORGED) as resp:
        headers = {k.lower(): v for k, v in resp.headers.items()}
        resp.read()
    call_id = assert_call_headers(headers)
    row = log_line(open_gw, call_id, 200)
    assert float(row["ttft_ms"]) >= 0
    assert int(row["completion_tokens"]) > 0
    assert row["model_id"] == "dep-small"


def test_local_answers_carry_the_call_headers(open_gw, mock):
    for model, path, want in (("canned", CHAT, 200), ("no-such-model", CHAT, 400),
                              ("small", "/v1/not-a-route", 404)):
        status, headers, body = chat(open_gw, model, FORGED, path=path)
        assert status == want, (model, path, body)
        call_id = assert_call_headers(headers)
        row = log_line(open_gw, call_id, want)
        assert row["call_id"] == call_id
    # A malformed body too.
    status, headers, _ = request_json("POST", open_gw.url(CHAT), "{not json", headers=FORGED)
    assert status == 400
    assert_call_headers(headers)
    assert mock.request_count == 0


def test_an_error_fallback_keeps_one_call_id(open_gw, mock):
    mock.fail_next(1, 400, body=CONTEXT_WINDOW)
    status, headers, body = chat(open_gw, "small", FORGED)
    assert status == 200, body
    assert headers.get("x-litellm-model-id") == "dep-big"
    call_id = assert_call_headers(headers)
    row = log_line(open_gw, call_id, 200)
    assert row["model_id"] == "dep-big"
    assert row["requested_model"] == "small"
    # Two provider calls behind one call id; no line names the client's choice.
    assert mock.request_count == 2
    assert not [r for r in access_log(open_gw) if r.get("call_id") == CHOSEN]


def test_a_client_calling_a_fallback_path_cannot_choose_the_call_id(open_gw):
    path = "/switchyard-fallback/context_window/0/small/v1/chat/completions"
    status, headers, body = chat(open_gw, "small", FORGED, path=path)
    call_id = headers.get("x-litellm-call-id", "")
    assert UUID4.match(call_id), (status, headers, body)
    assert call_id != CHOSEN


def test_with_keys_the_log_names_the_keys_alias_and_team(mock, tmp_path_factory):
    if harness.missing_prerequisites():
        pytest.skip("gateway prerequisites missing: " + ", ".join(harness.missing_prerequisites()))
    work = tmp_path_factory.mktemp("observe-keys")
    env = {"OPENAI_API_KEY": OPENAI_KEY, "TEST_MASTER": MASTER}
    with harness.keyed_gateway(config(mock, keys=True), env, work, master=MASTER) as (gw, _):
        admin = {"Authorization": f"Bearer {MASTER}"}
        status, _, team = request_json("POST", gw.url("/team/new"),
                                       {"team_alias": "Observers"}, headers=admin)
        assert status == 200, team
        status, _, made = request_json("POST", gw.url("/key/generate"),
                                       {"key_alias": "prod-key", "team_id": team["team_id"],
                                        "user_id": "user-7"}, headers=admin)
        assert status == 200, made
        key = made["key"]
        auth = {"Authorization": f"Bearer {key}", **FORGED}
        status, headers, body = chat(gw, "small", auth)
        assert status == 200, body
        call_id = assert_call_headers(headers)
        row = log_line(gw, call_id, 200)
        assert row["key_alias"] == "prod-key"
        assert row["team"] == team["team_id"]
        assert row["user"] == "user-7"
        assert int(row["total_tokens"]) > 0
        line = json.dumps(row)
        assert key not in line and MASTER not in line
        # Refused by the key check: Envoy's own answer still carries the call.
        status, headers, _ = chat(gw, "small", {"Authorization": "Bearer sk-unknown"})
        assert status == 401
        assert_call_headers(headers)
        # A deferred local answer (a mock group) after the key check.
        status, headers, _ = chat(gw, "canned", auth)
        assert status == 200
        call_id = assert_call_headers(headers)
        assert log_line(gw, call_id, 200)["key_alias"] == "prod-key"
        # An error fallback with keys: one call id, the key's labels.
        mock.fail_next(1, 400, body=CONTEXT_WINDOW)
        status, headers, body = chat(gw, "small", auth)
        assert status == 200, body
        call_id = assert_call_headers(headers)
        row = log_line(gw, call_id, 200)
        assert (row["model_id"], row["key_alias"]) == ("dep-big", "prod-key")
        uuid.UUID(call_id)
