"""Issue 12, points 1 and 5: spend identity and parallel-request slots, attacked
through the real gateway.

Real Envoy with the built filter, the real ``switchyard-keyservice`` (SQLite) behind
:class:`harness.RecordingProxy` (which keeps what Envoy asked it), strict
mock providers. Each test sends the attack and asserts on what the keyservice
recorded (``/key/info``, ``/spend/logs``) and admitted, and on what the mock got.

- Spend identity: a spend row is keyed on the admission id the keyservice issues
  through ext_authz, never on the client's ``x-request-id`` (which the row keeps as
  ``metadata.client_request_id``); a client cannot send an admission id of its own.
- Slots: a ``max_parallel_requests`` slot is freed when the downstream request ends,
  however it ends, and an error fallback (an Envoy internal redirect, replayed through
  ext_authz) is one request: one rpm count, one slot.

Slots are freed by a release the gateway sends with its spend reports (every 100 ms):
the tests poll for the next admission with a bound of seconds, where the old code
held the slot for 10 minutes.
"""

from __future__ import annotations

import datetime
import socket
import time
import uuid
from typing import Any, Callable, Iterator

import pytest

import harness
from harness import RecordingProxy, poll
from mocks import OPENAI_KEY, OpenAIMock
from test_fallback_keys import CONTEXT_WINDOW_OPENAI

MASTER = "sk-master-trust-admission-0123"
ADMISSION = "x-switchyard-admission"
#: Each answer: 10 prompt + 5 completion tokens at $0.00005 each = $0.00075.
PRICE = 0.00075


@pytest.fixture(scope="module")
def keyservice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingProxy, str]]:
    """The keyservice behind a recording proxy; yields the proxy and the SQLite URL."""
    with harness.keyservice_behind_recording_proxy(
            tmp_path_factory.mktemp("trust-admission"), master=MASTER,
            master_env="TRUST_ADMISSION_MASTER") as recorded:
        yield recorded


def dep(group: str, base_url: str, priced: bool = True) -> str:
    price = ", input_cost_per_token: 0.00005, output_cost_per_token: 0.00005" if priced else ""
    return f"""
  - model_name: {group}
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{base_url}", api_key: os.environ/OPENAI_API_KEY{price}}}
    model_info: {{id: dep-{group}}}"""


@pytest.fixture
def gateway(gateway_factory: Any, keyservice: tuple[RecordingProxy, str],
            openai_mock: OpenAIMock) -> Callable[..., harness.Gateway]:
    """A gateway asking the keyservice, with the mock's `gpt` group (priced), a mock
    group, and whatever deployments and router settings a test adds."""
    proxy, database_url = keyservice
    openai_mock.usage = {"prompt_tokens": 10, "completion_tokens": 5}

    def make(extra: str = "", router_settings: str = "  num_retries: 0") -> harness.Gateway:
        config = ("model_list:" + dep("gpt", openai_mock.base_url) + """
  - model_name: demo
    litellm_params: {model: openai/x, mock_response: "mocked"}""" + extra
                  + "\nrouter_settings:\n" + router_settings
                  + "\ngeneral_settings:\n  master_key: os.environ/TEST_MASTER\n"
                  + f"  database_url: \"{database_url}\"\n")
        return gateway_factory(config, {"OPENAI_API_KEY": OPENAI_KEY, "TEST_MASTER": MASTER},
                               extra_render_args=["--keyservice", f"127.0.0.1:{proxy.port}"])
    return make


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin(gw: harness.Gateway, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, answer = harness.request_json(method, gw.url(path), body,
                                             headers={"Authorization": f"Bearer {MASTER}"})
    return status, answer


def new_key(gw: harness.Gateway, **settings: Any) -> str:
    status, made = admin(gw, "POST", "/key/generate", settings)
    assert status == 200, made
    return made["key"]


def chat(gw: harness.Gateway, key: str, model: str = "gpt", headers: dict[str, str] | None = None,
         path: str = "/v1/chat/completions", body: Any = None) -> tuple[int, dict[str, str], Any]:
    return harness.request_json(
        "POST", gw.url(path),
        body if body is not None else {"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}", **(headers or {})})


def spend_rows(gw: harness.Gateway, key: str) -> list[dict[str, Any]]:
    status, rows = admin(gw, "GET", f"/spend/logs?api_key={key}")
    assert status == 200, rows
    return rows


def key_spend(gw: harness.Gateway, key: str) -> float:
    status, info = admin(gw, "GET", f"/key/info?key={key}")
    assert status == 200, info
    return info["info"]["spend"]


def admitted_again(gw: harness.Gateway, key: str) -> tuple[int, dict[str, str], Any]:
    """The next chat request, once the key's one slot is free (seconds, not the
    10-minute lease expiry)."""
    return poll(lambda: chat(gw, key), lambda r: r[0] != 429, timeout=5.0)


def away_from_a_minute_boundary() -> None:
    """rpm windows are minute-aligned: start a short rpm test well inside one."""
    second = datetime.datetime.now(datetime.timezone.utc).second
    if second > 45:
        time.sleep(61 - second)


# --------------------------------------------------------------------------------------
# Point 1: spend identity
# --------------------------------------------------------------------------------------


def test_a_fixed_x_request_id_does_not_make_requests_free(gateway: Any,
                                                          openai_mock: OpenAIMock) -> None:
    """Issue 12 point 1, the measured attack: a key with max_budget 0.01, each answer
    priced $0.00075, twenty requests sent with ``x-request-id: fixed-1``. Every answer
    is charged (its own spend row), and the key is refused once its budget is used."""
    gw = gateway()
    key = new_key(gw, max_budget=0.01)
    served = 0
    refused = None
    for i in range(20):
        status, _, body = chat(gw, key, headers={"x-request-id": "fixed-1"})
        if status != 200:
            refused = (i, status, body)
            break
        served += 1
        # Each answer's row lands before the next request (reports go out every 100 ms).
        spend = poll(lambda: key_spend(gw, key), lambda s: s >= served * PRICE - 1e-9, timeout=3)
        assert spend == pytest.approx(served * PRICE), f"request {i}: spend {spend} after {served} answers"
    assert refused is not None, f"all 20 served: spend {key_spend(gw, key)}"
    _, status, body = refused
    assert status == 400 and body["error"]["type"] == "budget_exceeded", body
    assert served == 14, f"$0.01 / $0.00075 → 14 answers until spend >= budget, got {served}"
    rows = spend_rows(gw, key)
    assert len(rows) == served and all(r["status"] == "success" for r in rows), rows
    assert len({r["request_id"] for r in rows}) == served
    assert all(r["request_id"] != "fixed-1" for r in rows), rows
    # The client's id is kept as a label only.
    assert all(r["metadata"].get("client_request_id") == "fixed-1" for r in rows), rows
    assert key_spend(gw, key) == pytest.approx(served * PRICE)
    assert openai_mock.request_count == served


def test_clients_numbering_their_own_requests_lose_no_spend_rows(gateway: Any) -> None:
    """Issue 12 point 1: an ordinary client that numbers its own requests (the same
    ``x-request-id`` on two different requests, or two clients using the same ids)
    loses no spend row and no spend."""
    gw = gateway()
    alice, bob = new_key(gw), new_key(gw)
    for key in (alice, bob, alice):
        for n in ("req-1", "req-2"):
            status, _, body = chat(gw, key, headers={"x-request-id": n})
            assert status == 200, body
    for key, answers in ((alice, 4), (bob, 2)):
        rows = poll(lambda: spend_rows(gw, key), lambda r: len(r) >= answers, timeout=3)
        assert len(rows) == answers, rows
        assert sorted(r["metadata"]["client_request_id"] for r in rows) == \
            sorted(["req-1", "req-2"] * (answers // 2))
        assert key_spend(gw, key) == pytest.approx(answers * PRICE)


def test_a_client_sent_admission_id_changes_nothing(gateway: Any, keyservice: Any,
                                                    openai_mock: OpenAIMock) -> None:
    """Issue 12 point 1: a client sends the gateway's internal admission header itself
    — a random value, and the id of one of its own earlier requests (what a real one
    looks like) — with a fixed ``x-request-id``. Each request is still admitted,
    counted and charged as its own: the keyservice never sees the client's value."""
    proxy, _ = keyservice
    gw = gateway(dep("big", openai_mock.base_url))
    key = new_key(gw, rpm_limit=100)
    status, _, body = chat(gw, key, headers={"x-request-id": "same"})
    assert status == 200, body
    first = poll(lambda: spend_rows(gw, key), lambda r: len(r) == 1, timeout=3)
    assert len(first) == 1, first
    real_shaped = first[0]["request_id"]
    forged = [str(uuid.uuid4()), real_shaped, real_shaped]
    proxy.clear()
    for value in forged:
        status, headers, body = chat(gw, key, headers={ADMISSION: value, "x-request-id": "same"})
        assert status == 200, body
        assert ADMISSION not in {h.lower() for h in headers}, headers
    # Sent straight to the path of an error fallback's replay (where the gateway keeps
    # the header, for its own redirects): the keyservice sees the client's id, finds
    # no live admission of this key under it, and admits the request as a new one.
    status, _, body = chat(gw, key, path="/switchyard-fallback/request/0/gpt/v1/chat/completions",
                           headers={ADMISSION: real_shaped, "x-request-id": "same"},
                           body={"model": "gpt", "fallbacks": ["big"],
                                 "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200, body
    rows = poll(lambda: spend_rows(gw, key), lambda r: len(r) >= 5, timeout=3)
    assert len(rows) == 5, rows
    ids = [r["request_id"] for r in rows]
    assert len(set(ids)) == 5 and not set(ids) & set(forged[:1]), ids
    assert key_spend(gw, key) == pytest.approx(5 * PRICE)
    # The keyservice was asked about three fresh requests, none carrying the client's
    # id, then about the one on the replay path, which it did not continue.
    checks = proxy.checks()
    assert len(checks) == 4, checks
    assert all(ADMISSION not in c for c in checks[:3]), checks
    assert checks[3].get(ADMISSION) == real_shaped
    # Neither the provider nor the client ever sees an admission id.
    assert all(ADMISSION not in r.headers for r in openai_mock.requests)


# --------------------------------------------------------------------------------------
# Point 5: parallel-request slots
# --------------------------------------------------------------------------------------


def test_listing_models_does_not_hold_a_parallel_slot(gateway: Any) -> None:
    """Issue 12 point 5: with ``max_parallel_requests: 1``, a key that lists models
    (answered by the gateway, no provider, no spend report) was locked out for the
    lease's 10 minutes. The slot is freed when the request ends."""
    gw = gateway()
    key = new_key(gw, max_parallel_requests=1)
    status, _, listed = harness.request_json("GET", gw.url("/v1/models"),
                                             headers={"Authorization": f"Bearer {key}"})
    assert status == 200, listed
    status, _, body = admitted_again(gw, key)
    assert status == 200, body


@pytest.mark.parametrize("ending", ["mock-group", "router-400", "no-healthy-upstream",
                                    "connect-failure", "client-disconnect"])
def test_every_way_a_request_ends_frees_its_slot(gateway: Any, openai_mock: OpenAIMock,
                                                 ending: str) -> None:
    """Issue 12 point 5: a request that never reaches a provider, or whose client
    leaves, frees its ``max_parallel_requests: 1`` slot when it ends: a mock group's
    answer, a 400 from the router stage (bad body), "no healthy upstream" (a
    deployment whose host has no address), a deployment on a closed port, a client
    that disconnects mid-stream. The next request is admitted at once."""
    gw = gateway(dep("nowhere", "http://no-such-host.invalid:9")
                 + dep("closed", f"http://127.0.0.1:{closed_port()}"))
    key = new_key(gw, max_parallel_requests=1)
    if ending == "mock-group":
        status, _, body = chat(gw, key, model="demo")
        assert status == 200 and body["choices"][0]["message"]["content"] == "mocked", body
    elif ending == "router-400":
        status, _, body = chat(gw, key, body={"model": "gpt", "messages": "not a list"})
        assert status == 400, body
    elif ending == "no-healthy-upstream":
        status, _, body = chat(gw, key, model="nowhere")
        assert status == 503, body
    elif ending == "connect-failure":
        status, _, body = chat(gw, key, model="closed")
        assert status >= 500, body
    else:
        body = {"model": "gpt", "stream": True, "messages": [{"role": "user", "content": "a b c d e f"}]}
        openai_mock.slow_stream(0.3)
        with harness.open_stream("POST", gw.url("/v1/chat/completions"), body,
                                 headers={"Authorization": f"Bearer {key}"}) as resp:
            assert resp.status == 200
            next(harness.iter_sse(resp))
        openai_mock.slow_stream(0)
    status, _, answer = admitted_again(gw, key)
    assert status == 200, (ending, answer)


def test_an_error_fallback_is_one_request_one_count_one_slot(
        gateway: Any, keyservice: Any, openai_mock: OpenAIMock) -> None:
    """Issue 12 point 5 (and the double counting of replays): an error fallback is an
    internal redirect that replays the request through ext_authz. With ``rpm_limit:
    1`` and ``max_parallel_requests: 1`` the request falls back from a failing group
    to a working one and is answered — counted once, holding one slot, one admission
    (the replay continues it) — and its slot is free once it is over."""
    proxy, _ = keyservice
    with OpenAIMock(api_key=OPENAI_KEY) as big:
        big.usage = {"prompt_tokens": 10, "completion_tokens": 5}
        big.reply_text = "answer from the bigger model"
        gw = gateway(dep("big", big.base_url),
                     '  num_retries: 0\n  context_window_fallbacks: [{"gpt": ["big"]}]')
        away_from_a_minute_boundary()
        key = new_key(gw, rpm_limit=1, max_parallel_requests=1)
        proxy.clear()
        openai_mock.fail_next(1, 400, body=CONTEXT_WINDOW_OPENAI)

        status, headers, body = chat(gw, key)

        assert status == 200, body
        assert body["choices"][0]["message"]["content"] == "answer from the bigger model"
        assert (openai_mock.request_count, big.request_count) == (1, 1)
        checks = proxy.checks()
        assert len(checks) == 2, "the request and its replay are both checked"
        assert ADMISSION not in checks[0]
        replayed = checks[1].get(ADMISSION)
        assert replayed, "the replay continues the first admission"
        rows = poll(lambda: spend_rows(gw, key), lambda r: len(r) >= 2, timeout=3)
        by_status = {r["status"]: r for r in rows}
        assert len(rows) == 2 and set(by_status) == {"success", "failure"}, rows
        assert by_status["success"]["request_id"] == replayed
        assert by_status["failure"]["request_id"].startswith(replayed + ":"), rows
        assert key_spend(gw, key) == pytest.approx(PRICE)
        # Counted once: the one request of this minute is used, so the next is refused
        # for rpm (not for a slot: that is free again).
        status, _, body = poll(lambda: chat(gw, key),
                               lambda r: r[0] != 429 or "parallel" not in r[2]["error"]["message"],
                               timeout=5.0)
        assert status == 429, body
        assert "Limit type: requests" in body["error"]["message"], body
        assert big.request_count == 1
