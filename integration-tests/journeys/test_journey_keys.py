"""Virtual keys, started the way LiteLLM's documentation starts them.

Every LiteLLM proxy example sets ``general_settings: master_key: sk-1234``; others
write ``os.environ/LITELLM_MASTER_KEY`` or set only the variable. Likewise for the
database: ``database_url`` written out, as ``os.environ/NAME``, or only
``DATABASE_URL``. Each form must start with ``./switchyard up --config config.yaml``
and nothing else, the master key must create a key with ``/key/generate``, and the
generated key must be served by a real (mock) provider. A request without a key is
refused, and one with the provider's key (not a virtual key) too.
"""

from __future__ import annotations

import os
import time

import pytest
from openai import AuthenticationError, OpenAI

from harness import request_json
from mocks import OPENAI_KEY, OpenAIMock
from user import ONE_OPENAI_MODEL, free_port

MASTER = "sk-1234"




def generate_and_use(url: str, master: str, mock: OpenAIMock) -> str:
    """Creates a key with the master key and uses it through the openai client."""
    status, _, body = request_json("POST", f"{url}/key/generate", {"models": ["gpt-3.5-turbo"]},
                                   headers={"Authorization": f"Bearer {master}"})
    assert status == 200, body
    key = body["key"]
    assert key.startswith("sk-") and key != master
    client = OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    answer = client.chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello from openai mock: hi"
    # The provider got the deployment's key, never the virtual key.
    assert mock.last_request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=f"{url}/v1", api_key="sk-not-a-key", max_retries=0).chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    return key


@pytest.mark.parametrize("form", ["literal", "os.environ", "LITELLM_MASTER_KEY only"])
def test_master_key_forms_start_and_serve_generated_keys(form, project, up, openai_mock):
    config = ONE_OPENAI_MODEL.format(base=openai_mock.base_url)
    env = {"OPENAI_API_KEY": OPENAI_KEY}
    if form == "literal":
        config += f"general_settings:\n  master_key: {MASTER}\n"
    elif form == "os.environ":
        config += "general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n"
        env["LITELLM_MASTER_KEY"] = MASTER
    else:
        env["LITELLM_MASTER_KEY"] = MASTER
    (project / "config.yaml").write_text(config)
    run = up(["up", "--config", "config.yaml", "--port", str(free_port())], env)
    key = generate_and_use(run.url, MASTER, openai_mock)

    # Spend reports reach the keyservice with the master key (they are sent in
    # batches every 100 ms): the key's spend row appears.
    deadline = time.monotonic() + 10
    while True:
        status, _, logs = request_json("GET", f"{run.url}/spend/logs?api_key={key}",
                                       headers={"Authorization": f"Bearer {MASTER}"})
        assert status == 200, logs
        if logs or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(logs) == 1, f"no spend row for the generated key: {logs}\n{run.output()}"


POSTGRES = os.environ.get("SWITCHYARD_TEST_POSTGRES_URL")  # test plumbing: scripts/test starts it


@pytest.mark.skipif(not POSTGRES, reason="needs the PostgreSQL that scripts/test starts")
@pytest.mark.parametrize("form", ["literal", "os.environ", "DATABASE_URL only"])
def test_database_url_forms_start_and_keep_keys_in_postgres(form, project, up, openai_mock):
    config = ONE_OPENAI_MODEL.format(base=openai_mock.base_url) + f"general_settings:\n  master_key: {MASTER}\n"
    env = {"OPENAI_API_KEY": OPENAI_KEY}
    if form == "literal":
        config += f"  database_url: {POSTGRES}\n"
    elif form == "os.environ":
        config += "  database_url: os.environ/MY_DB\n"
        env["MY_DB"] = POSTGRES
    else:
        env["DATABASE_URL"] = POSTGRES
    (project / "config.yaml").write_text(config)
    run = up(["up", "--config", "config.yaml", "--port", str(free_port())], env)
    key = generate_and_use(run.url, MASTER, openai_mock)

    # Readiness tells the truth: the keyservice and its database are connected.
    status, _, ready = request_json("GET", f"{run.url}/health/readiness")
    assert status == 200, ready
    assert ready["db"] == "connected", ready

    # The key lives in PostgreSQL: a second gateway on the same database serves it.
    run.stop()
    again = up(["up", "--config", "config.yaml", "--port", str(free_port())], env)
    client = OpenAI(base_url=f"{again.url}/v1", api_key=key, max_retries=0)
    answer = client.chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "again"}])
    assert answer.choices[0].message.content == "Hello from openai mock: again"
