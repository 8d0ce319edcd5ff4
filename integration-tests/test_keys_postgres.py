"""Virtual keys shared through PostgreSQL: two gateways (two Envoys), each with its own
keyservice, on one database; and a PostgreSQL restart that loses no key and no spend.

Needs the throwaway PostgreSQL `scripts/test` starts (SWITCHYARD_TEST_POSTGRES_URL,
PG_BIN, PG_DIR, PG_PORT); CI always has it, and without it these tests fail rather
than skip when SWITCHYARD_REQUIRE_GATEWAY=1.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

import harness
from harness import poll
from mocks import OPENAI_KEY, OpenAIMock
from test_keys import MASTER, admin, assert_error, chat

PG_URL = os.environ.get("SWITCHYARD_TEST_POSTGRES_URL")


def pg_ctl(action: str) -> None:
    cmd = (f"{os.environ['PG_BIN']}/pg_ctl -D {os.environ['PG_DIR']}/data -m fast -w "
           f"-o '-p {os.environ['PG_PORT']} -k {os.environ['PG_DIR']} -c listen_addresses=127.0.0.1' "
           f"-l {os.environ['PG_DIR']}/log {action}")
    subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", cmd], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def two_gateways(tmp_path_factory):
    if not PG_URL:
        if os.environ.get("SWITCHYARD_REQUIRE_GATEWAY") == "1":
            pytest.fail("SWITCHYARD_TEST_POSTGRES_URL is not set (scripts/test starts PostgreSQL)")
        pytest.skip("no PostgreSQL (run through scripts/test)")
    # A database of its own, so earlier runs and the keyservice's own tests don't mix in.
    db = f"gw_{uuid.uuid4().hex[:10]}"
    base = PG_URL.rsplit("/", 1)[0]
    subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c",
                    f"{os.environ['PG_BIN']}/createdb -h 127.0.0.1 -p {os.environ['PG_PORT']} {db}"],
                   check=True, capture_output=True, timeout=30)
    url = f"{base}/{db}"
    work = tmp_path_factory.mktemp("pgkeys")
    with OpenAIMock(api_key=OPENAI_KEY) as mock:
        config = f"""
model_list:
  - model_name: gpt-a
    litellm_params: {{model: openai/a, api_base: "{mock.base_url}", api_key: os.environ/TEST_OPENAI_KEY, input_cost_per_token: 0.001, output_cost_per_token: 0.002}}
general_settings:
  master_key: os.environ/TEST_MASTER
"""
        env = {"TEST_OPENAI_KEY": OPENAI_KEY, "TEST_MASTER": MASTER}
        services, gateways = [], []
        try:
            for i in range(2):
                (work / f"ks{i}").mkdir()
                ks = harness.Keyservice(work / f"ks{i}", url, master=MASTER).start()
                services.append(ks)
                gw = ks.gateway(config, env, work / f"gw{i}")
                gateways.append(gw.start())
            yield gateways, services, mock
        finally:
            for gw in gateways:
                gw.stop()
            for ks in services:
                ks.stop()


def test_a_key_made_on_one_gateway_works_on_the_other_and_spend_adds_up(two_gateways):
    (gw1, gw2), _, mock = two_gateways
    status, _, made = admin(gw1, "POST", "/key/generate", {"models": ["gpt-a"]})
    assert status == 200, made
    key = made["key"]
    mock.usage = {"prompt_tokens": 10, "completion_tokens": 5}
    try:
        assert chat(gw2, "gpt-a", key)[0] == 200
        assert chat(gw1, "gpt-a", key)[0] == 200
    finally:
        mock.usage = {}
    info = poll(lambda: admin(gw2, "GET", f"/key/info?key={key}")[2],
                    lambda i: i["info"]["spend"] >= 0.04 - 1e-9)
    assert info["info"]["spend"] == pytest.approx(2 * (10 * 0.001 + 5 * 0.002)), info
    # Blocked through one, refused through the other (within the 2 s cache).
    assert admin(gw1, "POST", "/key/block", {"key": key})[0] == 200
    status, _, body = poll(lambda: chat(gw2, "gpt-a", key), lambda r: r[0] != 200, timeout=6)
    assert_error(status, body, 401, "auth_error")


def test_postgres_restart_loses_no_key_and_no_spend(two_gateways):
    (gw1, gw2), _, mock = two_gateways
    status, _, made = admin(gw1, "POST", "/key/generate", {"models": ["gpt-a"]})
    key = made["key"]
    mock.usage = {"prompt_tokens": 100, "completion_tokens": 0}
    try:
        assert chat(gw1, "gpt-a", key)[0] == 200  # spend 0.1
        poll(lambda: admin(gw1, "GET", f"/key/info?key={key}")[2],
                 lambda i: i["info"]["spend"] > 0)
        pg_ctl("stop")
        try:
            # The key is still in the keyservice's 2 s cache: this request may be
            # admitted; its spend report then waits in Envoy's queue until the
            # database is back. Either way nothing is lost.
            admitted = chat(gw1, "gpt-a", key)[0] == 200
        finally:
            pg_ctl("start")
    finally:
        mock.usage = {}
    expected = 0.1 * (2 if admitted else 1)
    info = poll(lambda: admin(gw1, "GET", f"/key/info?key={key}"),
                    lambda r: r[0] == 200 and r[2]["info"]["spend"] >= expected - 1e-9, timeout=30)
    assert info[0] == 200, info
    assert info[2]["info"]["spend"] == pytest.approx(expected), (admitted, info)
    # The key works again through both gateways.
    assert poll(lambda: chat(gw2, "gpt-a", key), lambda r: r[0] == 200, timeout=15)[0] == 200
