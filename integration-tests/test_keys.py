"""Virtual keys through the gateway: Envoy ext_authz asks the keyservice about every
LLM request (real Envoy, the built .wasm, the real `switchyard-keyservice` on SQLite).

Covers, so far: no/unknown key → 401 with no upstream call; the master key; a key
generated through the Envoy listener with LiteLLM's `/key/generate`, limited to some
models (aliases and mock groups included); health without a key; and failing closed:
with the keyservice down every LLM request gets an OpenAI-shaped 503 and none reaches
a provider, and requests are admitted again once it is back.
"""

from __future__ import annotations

import http.client
import time

import pytest

import harness
from harness import poll
from mocks import OPENAI_KEY, OpenAIMock

MASTER = "sk-master-test-0123456789"
#: Every key this module made, plaintext and hash: none may appear in a log.
SECRETS: list[str] = [MASTER]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    work = tmp_path_factory.mktemp("keys")
    with OpenAIMock(api_key=OPENAI_KEY) as mock:
        config = f"""
model_list:
  - model_name: gpt-a
    litellm_params: {{model: openai/a, api_base: "{mock.base_url}", api_key: os.environ/TEST_OPENAI_KEY, input_cost_per_token: 0.001, output_cost_per_token: 0.002}}
  - model_name: gpt-b
    litellm_params: {{model: openai/b, api_base: "{mock.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
  - model_name: demo
    litellm_params: {{model: openai/x, mock_response: "mocked"}}
router_settings:
  model_group_alias: {{"a-alias": "gpt-a"}}
general_settings:
  master_key: os.environ/TEST_MASTER
"""
        with harness.keyed_gateway(config, {"TEST_OPENAI_KEY": OPENAI_KEY, "TEST_MASTER": MASTER},
                                   work, master=MASTER) as (gw, ks):
            yield gw, ks, mock


def chat(gw, model: str, key: str | None, header: str = "Authorization"):
    headers = {}
    if key is not None:
        headers[header] = f"Bearer {key}" if header == "Authorization" else key
    return harness.request_json("POST", gw.url("/v1/chat/completions"),
                                {"model": model, "messages": [{"role": "user", "content": "hi"}]},
                                headers=headers)


def assert_error(status, body, want_status, want_type):
    assert status == want_status, body
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["type"] == want_type, body
    assert body["error"]["code"] == str(want_status), body


def test_no_key_or_unknown_key_is_refused_before_any_upstream_call(setup):
    gw, _, mock = setup
    mock.clear_requests()
    status, _, body = chat(gw, "gpt-a", None)
    assert_error(status, body, 401, "auth_error")
    assert "No api key passed in" in body["error"]["message"]
    status, _, body = chat(gw, "gpt-a", "sk-not-a-real-key")
    assert_error(status, body, 401, "auth_error")
    # A mock group and /models are answered only after the key check too.
    status, _, body = chat(gw, "demo", None)
    assert_error(status, body, 401, "auth_error")
    status, _, body = harness.request_json("GET", gw.url("/v1/models"))
    assert status == 401, body
    assert mock.request_count == 0


def test_health_needs_no_key(setup):
    gw, _, _ = setup
    status, _, body = harness.request_json("GET", gw.url("/health/liveliness"))
    assert (status, body) == (200, "I'm alive!")
    # Readiness is the keyservice's answer: its database is connected (SQLite here).
    for path in ("/health/readiness", "/v1/health/readiness", "/health/readiness?x=1"):
        status, _, body = harness.request_json("GET", gw.url(path))
        assert status == 200, (path, body)
        assert body["status"] == "healthy" and body["db"] == "connected", (path, body)


def test_master_key_reaches_everything(setup):
    gw, _, mock = setup
    status, _, body = chat(gw, "gpt-a", MASTER)
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == "Hello from openai mock: hi"
    # The provider gets the deployment's key, never the caller's.
    assert mock.last_request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert not any(h.startswith("x-switchyard-") for h in mock.last_request.headers)
    status, _, body = chat(gw, "demo", MASTER)
    assert status == 200 and body["choices"][0]["message"]["content"] == "mocked"


def test_generated_key_is_limited_to_its_models(setup):
    gw, _, mock = setup
    made = generate(gw, {"models": ["gpt-a"], "key_alias": "team-a"})
    key = made["key"]
    assert key.startswith("sk-") and len(key) == 25 and made["key_name"] == f"sk-...{key[-4:]}"

    for header in ["Authorization", "x-litellm-api-key", "api-key", "x-api-key"]:
        status, headers, body = chat(gw, "gpt-a", key, header)
        assert status == 200, (header, body)
    # An alias resolves to its group before the check.
    status, _, body = chat(gw, "a-alias", key)
    assert status == 200, body
    mock.clear_requests()
    status, _, body = chat(gw, "gpt-b", key)
    assert_error(status, body, 401, "key_model_access_denied")
    assert body["error"]["param"] == "model" and "gpt-a" in body["error"]["message"]
    status, _, body = chat(gw, "demo", key)
    assert_error(status, body, 401, "key_model_access_denied")
    assert mock.request_count == 0

    # /models lists only what the key may use; the master key sees everything.
    status, _, listed = harness.request_json("GET", gw.url("/v1/models"), headers={"Authorization": f"Bearer {key}"})
    assert status == 200 and [m["id"] for m in listed["data"]] == ["gpt-a"], listed
    status, _, listed = harness.request_json("GET", gw.url("/v1/models"), headers={"Authorization": f"Bearer {MASTER}"})
    assert {m["id"] for m in listed["data"]} == {"gpt-a", "gpt-b", "demo", "a-alias"}, listed

    # The management API needs the master key.
    status, _, body = harness.request_json("POST", gw.url("/key/generate"), {},
                                           headers={"Authorization": f"Bearer {key}"})
    assert status == 401, body
    status, _, info = harness.request_json("GET", gw.url(f"/key/info?key={key}"),
                                           headers={"Authorization": f"Bearer {MASTER}"})
    assert status == 200 and info["info"]["key_alias"] == "team-a", info


def admin(gw, method, path, body=None):
    return harness.request_json(method, gw.url(path), body, headers={"Authorization": f"Bearer {MASTER}"})


def test_spend_is_recorded_per_key_and_the_budget_holds(setup):
    gw, _, mock = setup
    key = generate(gw, {"models": ["gpt-a"], "max_budget": 0.05})["key"]
    mock.usage = {"prompt_tokens": 10, "completion_tokens": 5}
    try:
        status, headers, body = chat(gw, "gpt-a", key)
        assert status == 200, body
        expected = 10 * 0.001 + 5 * 0.002
        assert float(headers["x-litellm-response-cost"]) == pytest.approx(expected)
        info = poll(lambda: admin(gw, "GET", f"/key/info?key={key}")[2],
                        lambda i: i["info"]["spend"] > 0)
        assert info["info"]["spend"] == pytest.approx(expected), info
        status, _, logs = admin(gw, "GET", f"/spend/logs?api_key={key}")
        assert status == 200 and len(logs) == 1, logs
        row = logs[0]
        assert (row["model_group"], row["prompt_tokens"], row["completion_tokens"]) == ("gpt-a", 10, 5)
        assert row["spend"] == pytest.approx(expected)

        # A stream's spend is recorded too (the gateway asked for its usage chunk).
        stream_body = {"model": "gpt-a", "stream": True, "messages": [{"role": "user", "content": "s"}]}
        with harness.open_stream("POST", gw.url("/v1/chat/completions"), stream_body,
                                 headers={"Authorization": f"Bearer {key}"}) as resp:
            assert resp.status == 200
            events = [e.data for e in harness.iter_sse(resp)]
        assert events[-1] == "[DONE]"
        info = poll(lambda: admin(gw, "GET", f"/key/info?key={key}")[2],
                        lambda i: i["info"]["spend"] > expected * 1.5)
        assert info["info"]["spend"] == pytest.approx(2 * expected), info

        # Spend (0.04) is now within 0.05; the next request crosses the budget and
        # succeeds, as in LiteLLM; the ones after it are refused once it is recorded.
        status, _, body = chat(gw, "gpt-a", key)
        assert status == 200, body
        status, _, body = poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] != 200)
        assert_error(status, body, 400, "budget_exceeded")
        assert "Budget has been exceeded" in body["error"]["message"]
    finally:
        mock.usage = {}


@pytest.mark.parametrize("owner", ["user", "team"])
def test_user_and_team_budgets_hold_through_the_gateway(setup, owner):
    gw, _, mock = setup
    owner_id = f"{owner}-budget-{int(time.time() * 1000)}"
    id_field = f"{owner}_id"
    status, _, body = admin(gw, "POST", f"/{owner}/new", {id_field: owner_id, "max_budget": 0.015})
    assert status == 200, body
    key = generate(gw, {id_field: owner_id})["key"]
    mock.usage = {"prompt_tokens": 10, "completion_tokens": 5}  # 0.02 per answer
    try:
        status, _, body = chat(gw, "gpt-a", key)
        assert status == 200, body
        status, _, body = poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] != 200)
    finally:
        mock.usage = {}
    assert_error(status, body, 400, "budget_exceeded")
    assert owner_id in body["error"]["message"]


def test_a_failed_answer_frees_its_parallel_request_slot(setup):
    gw, _, mock = setup
    key = generate(gw, {"max_parallel_requests": 1})["key"]
    assert chat(gw, "gpt-a", key)[0] == 200
    # A slot is freed when the request's release reaches the keyservice (it goes out
    # with the spend reports, every 100 ms): until then the key's one slot is taken.
    status, _, body = poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] != 429, timeout=5)
    assert status == 200, body
    # A plain 400 is not retried: the client gets it, and the request's end frees the
    # slot too (else it would wait for the lease to expire, 10 minutes).
    time.sleep(0.5)
    mock.fail_next(1, 400)
    status, _, body = chat(gw, "gpt-a", key)
    assert status == 400, body
    status, _, body = poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] == 200, timeout=5)
    assert status == 200, body
    status, _, logs = poll(lambda: admin(gw, "GET", f"/spend/logs?api_key={key}"),
                               lambda r: r[0] == 200 and len(r[2]) >= 4)
    assert sorted(row["status"] for row in logs) == ["failure", "success", "success", "success"], logs


def test_a_stream_cut_midway_frees_its_parallel_request_slot(setup):
    """A stream that never ends — the client leaves after the first event, or the
    provider's connection breaks midway — gives its max_parallel_requests slot back
    when the request ends (the attempt is a failure row, charged for what was produced:
    issue 12 point 4, test_trust_pricing.py), not when the lease expires
    (10 minutes): a chat UI's "stop" must not lock a key out."""
    gw, _, mock = setup
    key = generate(gw, {"max_parallel_requests": 1})["key"]
    body = {"model": "gpt-a", "stream": True, "messages": [{"role": "user", "content": "a b c d e f"}]}
    headers = {"Authorization": f"Bearer {key}"}
    with harness.open_stream("POST", gw.url("/v1/chat/completions"), body, headers=headers) as resp:
        assert resp.status == 200
        next(harness.iter_sse(resp))
    # The client left. The slot is free once the request's release lands (~100 ms).
    status, _, answer = poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] == 200, timeout=5)
    assert status == 200, answer

    time.sleep(0.5)  # that answer's own end frees the slot again
    mock.reset_next(after_events=2)
    events = []
    try:
        with harness.open_stream("POST", gw.url("/v1/chat/completions"), body,
                                 headers=headers) as resp:
            assert resp.status == 200
            events = [e.data for e in harness.iter_sse(resp)]
    except (ConnectionError, http.client.HTTPException):
        pass
    assert "[DONE]" not in events, "the stream was cut midway"
    status, _, answer = poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] == 200, timeout=5)
    assert status == 200, answer
    status, _, logs = poll(lambda: admin(gw, "GET", f"/spend/logs?api_key={key}"),
                               lambda r: r[0] == 200 and len(r[2]) >= 4)
    rows = sorted((row["status"], row["spend"]) for row in logs)
    assert [r[0] for r in rows] == ["failure", "failure", "success", "success"], logs
    partial = [row for row in logs if row["status"] == "failure"]
    assert all(row["spend"] > 0 and row["metadata"]["switchyard_partial"] for row in partial), logs


def test_expired_key_is_refused(setup):
    gw, _, mock = setup
    key = generate(gw, {"duration": "1s"})["key"]
    time.sleep(1.3)
    mock.clear_requests()
    status, _, body = chat(gw, "gpt-a", key)
    assert_error(status, body, 401, "expired_key")
    assert mock.request_count == 0


def test_budget_duration_resets_spend(setup):
    gw, _, mock = setup
    key = generate(gw, {"max_budget": 0.01, "budget_duration": "2s"})["key"]
    mock.usage = {"prompt_tokens": 10, "completion_tokens": 5}  # 0.02 per answer
    try:
        assert chat(gw, "gpt-a", key)[0] == 200
        status, _, body = poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] != 200)
        assert_error(status, body, 400, "budget_exceeded")
        # The budget period ends: spend starts again from 0.
        status, _, body = poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] == 200, timeout=6)
        assert status == 200, body
    finally:
        mock.usage = {}


def test_budget_overshoot_is_bounded_by_requests_in_flight(setup):
    """Spend is recorded when answers complete, so every request admitted before the
    crossing is recorded may overshoot: with N requests in flight at once the spend
    ends at most at max_budget + N × (cost of one answer), and nothing is admitted
    after that."""
    import concurrent.futures

    gw, _, mock = setup
    per_answer = 10 * 0.001 + 5 * 0.002
    budget = per_answer / 2
    key = generate(gw, {"max_budget": budget})["key"]
    in_flight = 5
    mock.usage = {"prompt_tokens": 10, "completion_tokens": 5}
    try:
        with concurrent.futures.ThreadPoolExecutor(in_flight) as pool:
            statuses = [f.result()[0] for f in [pool.submit(chat, gw, "gpt-a", key) for _ in range(in_flight)]]
        admitted = statuses.count(200)
        assert admitted >= 1, statuses
        info = poll(lambda: admin(gw, "GET", f"/key/info?key={key}")[2],
                        lambda i: i["info"]["spend"] >= admitted * per_answer - 1e-9)
        spend = info["info"]["spend"]
        assert spend == pytest.approx(admitted * per_answer)
        assert spend <= budget + in_flight * per_answer + 1e-9, (spend, statuses)
        mock.clear_requests()
        status, _, body = chat(gw, "gpt-a", key)
        assert_error(status, body, 400, "budget_exceeded")
        assert mock.request_count == 0
    finally:
        mock.usage = {}


def test_malformed_authorization_is_refused(setup):
    gw, _, mock = setup
    mock.clear_requests()
    status, _, body = harness.request_json(
        "POST", gw.url("/v1/chat/completions"), {"model": "gpt-a", "messages": []},
        headers={"Authorization": MASTER})  # no "Bearer "
    assert_error(status, body, 401, "auth_error")
    assert "Bearer" in body["error"]["message"]
    assert mock.request_count == 0


def test_tpm_limit_refuses_once_the_window_has_its_tokens(setup):
    gw, _, mock = setup
    key = generate(gw, {"tpm_limit": 20})["key"]
    into_minute = time.time() % 60
    if into_minute > 50:
        time.sleep(60.5 - into_minute)
    mock.usage = {"prompt_tokens": 10, "completion_tokens": 5}  # 15 tokens per answer
    try:
        assert chat(gw, "gpt-a", key)[0] == 200
        # Tokens count once the answer's report lands; 15 < 20 still admits one more.
        time.sleep(0.5)
        status, _, body = chat(gw, "gpt-a", key)
        assert status == 200, body
        # 30 tokens once the second report lands (well within 0.5 s): the next is refused.
        time.sleep(0.5)
        mock.clear_requests()
        status, headers, body = chat(gw, "gpt-a", key)
    finally:
        mock.usage = {}
    assert_error(status, body, 429, "rate_limit_error")
    assert int(headers["retry-after"]) >= 1
    assert mock.request_count == 0, "a refused request never reaches the provider"


def test_rate_limit_and_key_headers(setup):
    gw, _, mock = setup
    key = generate(gw, {"rpm_limit": 2})["key"]
    # The keyservice's windows are whole minutes: start well inside one.
    into_minute = time.time() % 60
    if into_minute > 50:
        time.sleep(60.5 - into_minute)
    status, headers, body = chat(gw, "gpt-a", key)
    assert status == 200, body
    # LiteLLM's headers on an admitted answer.
    assert float(headers["x-litellm-key-spend"]) == 0.0
    assert headers["x-ratelimit-api_key-limit-requests"] == "2"
    assert headers["x-ratelimit-api_key-remaining-requests"] == "1"
    mock.clear_requests()
    status, _, body = chat(gw, "gpt-a", key)
    assert status == 200, body
    status, headers, body = chat(gw, "gpt-a", key)
    assert_error(status, body, 429, "rate_limit_error")
    assert int(headers["retry-after"]) >= 1
    assert mock.request_count == 1, "the refused request never reached the provider"


def generate(gw, body):
    status, _, made = admin(gw, "POST", "/key/generate", body)
    assert status == 200, made
    SECRETS.extend([made["key"], made["token"]])
    return made


def test_key_lifecycle_through_the_gateway(setup):
    gw, _, _ = setup
    made = generate(gw, {"models": ["gpt-a"]})
    key = made["key"]
    assert chat(gw, "gpt-a", key)[0] == 200
    # info shows the spend of that use (gpt-a is priced; the mock reports usage)
    info = poll(lambda: admin(gw, "GET", f"/key/info?key={key}")[2], lambda i: i["info"]["spend"] > 0)
    assert info["info"]["spend"] > 0, info
    assert chat(gw, "gpt-b", key)[0] == 401

    status, _, body = admin(gw, "POST", "/key/update", {"key": key, "models": ["gpt-a", "gpt-b"]})
    assert status == 200, body
    # Lookups are cached for 2 s: the change shows within that.
    assert poll(lambda: chat(gw, "gpt-b", key), lambda r: r[0] == 200)[0] == 200

    assert admin(gw, "POST", "/key/block", {"key": key})[0] == 200
    status, _, body = poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] != 200)
    assert_error(status, body, 401, "auth_error")
    assert admin(gw, "POST", "/key/unblock", {"key": key})[0] == 200
    assert poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] == 200)[0] == 200

    status, _, fresh = admin(gw, "POST", "/key/regenerate", {"key": key})
    assert status == 200 and fresh["key"] != key, fresh
    SECRETS.extend([fresh["key"], fresh["token"]])
    assert poll(lambda: chat(gw, "gpt-a", key), lambda r: r[0] == 401)[0] == 401, "old key dead"
    assert chat(gw, "gpt-a", fresh["key"])[0] == 200

    status, _, body = admin(gw, "POST", "/key/delete", {"keys": [fresh["key"]]})
    assert status == 200, body
    assert poll(lambda: chat(gw, "gpt-a", fresh["key"]), lambda r: r[0] == 401)[0] == 401


def test_keyservice_down_fails_closed_and_recovers(setup):
    gw, ks, mock = setup
    mock.clear_requests()
    ks.stop()
    status, _, body = chat(gw, "gpt-a", MASTER)
    assert_error(status, body, 503, "service_unavailable_error")
    assert "keyservice" in body["error"]["message"]
    status, _, body = chat(gw, "demo", MASTER)
    assert status == 503, body
    assert mock.request_count == 0, "nothing is admitted while the keyservice is down"
    # Unready while the keyservice is down: LiteLLM's 503 with its `db` field.
    status, _, body = harness.request_json("GET", gw.url("/health/readiness"))
    assert status == 503, body
    assert body["status"] == "unhealthy" and body["db"] == "disconnected", body
    ks.start()  # same port, same database
    deadline = time.monotonic() + 10
    while True:
        status, _, body = chat(gw, "gpt-a", MASTER)
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, body


def test_no_key_or_hash_in_any_log(setup):
    """Runs last: every gateway and keyservice log of this module, searched for every
    key and hash it made (and the master key)."""
    gw, ks, _ = setup
    # The key-management API takes keys in query strings (`/key/info?key=`,
    # `/spend/logs?api_key=`), which the access log must not keep. Envoy writes its
    # access log in batches (up to 10 s late) and flushes the rest when it exits; a
    # loaded CI machine once took longer than the stop's grace to exit, and the lines
    # were lost to the SIGKILL. So wait for the lines first, then stop.
    deadline = time.monotonic() + 20
    while not ("/key/info" in gw.log_text() and "/spend/logs" in gw.log_text()):
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    gw.stop()
    ks.stop()
    logs = {"envoy": gw.log_text(), "keyservice": (ks.workdir / "keyservice.log").read_text()}
    assert "/key/info" in logs["envoy"] and "/spend/logs" in logs["envoy"]
    assert len(SECRETS) > 6, "the search means something only if keys were made"
    assert logs["envoy"].strip(), "Envoy logged (access log lines at least)"
    for name, text in logs.items():
        for secret in SECRETS:
            assert secret not in text, f"a key or hash appears in the {name} log"
