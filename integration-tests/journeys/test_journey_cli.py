"""LiteLLM's command line, typed at ``./switchyard`` as a LiteLLM user types it.

A user's scripts and compose files start the proxy with ``litellm --config
config.yaml --port 4000 --num_workers 8 --detailed_debug`` or, without a config,
``litellm --model ollama/llama3``. Each test here runs ``./switchyard`` with such
flags (with ``up`` or, as LiteLLM users type it, without) and checks the flag's
effect on the running gateway: the port and address Envoy listens on (asked from
Envoy's admin API), its worker count, the models served and what the mock
providers receive, the debug mode's request lines (with every credential masked,
checked by searching the whole output and every log for each secret), ``--test``
against a running gateway, and ``--telemetry``.
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.parse
from pathlib import Path

import pytest
from openai import OpenAI

from harness import request_json
from mocks import AZURE_API_VERSION, AZURE_KEY, OPENAI_KEY, AzureMock, GoogleOAuthMock, OllamaMock, OpenAIMock, VertexMock
from mocks.bedrock import SESSION_KEY, BedrockMock
from user import ONE_OPENAI_MODEL, free_port, switchyard

ROOT = Path(__file__).resolve().parents[2]
GOOGLE_TEST_KEY = (ROOT / "filter" / "src" / "testdata" / "google_test_key.pem").read_text()
SA_EMAIL = "gateway@proj-1.iam.gserviceaccount.com"
VERTEX_PROJECT, VERTEX_LOCATION = "proj-1", "us-east5"
NOVA = "amazon.nova-lite-v1:0"
MASTER = "sk-master-journey-0123456789"

# The line LiteLLM's debug output starts each provider request with.
REQUEST_LINE = "POST Request Sent from LiteLLM:"




@pytest.fixture
def ollama_mock():
    with OllamaMock() as mock:
        yield mock


def admin_url(run) -> str:
    m = re.search(r"Envoy admin: (http://\S+)", run.output())
    assert m, run.output()
    return m.group(1)


def admin_json(run, path: str):
    status, _, body = request_json("GET", admin_url(run) + path)
    assert status == 200, body
    return body


def listener_address(run) -> str:
    listeners = admin_json(run, "/listeners?format=json")["listener_statuses"]
    return listeners[0]["local_address"]["socket_address"]["address"]


def chat(url: str, model: str, text: str = "hi", key: str = "anything", **extra) -> str:
    client = OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=20)
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], **extra)
    return answer.choices[0].message.content


def model_ids(url: str, key: str | None = None) -> list[str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    status, _, body = request_json("GET", f"{url}/v1/models", headers=headers)
    assert status == 200, body
    return [m["id"] for m in body["data"]]


def non_loopback_address() -> str | None:
    """This machine's address on its default route (a UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def wait_for(run, text: str, count: int = 1, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = run.output()
        if out.count(text) >= count:
            return out
        time.sleep(0.1)
    raise AssertionError(f"{text!r} did not appear {count} time(s):\n{run.output()}")


# -- --config, --port, --host, --num_workers ---------------------------------------


@pytest.mark.parametrize("args", [
    ["up", "--config", "config.yaml"],
    ["up", "--config=config.yaml"],
    ["up", "-c", "config.yaml"],
    ["--config", "config.yaml"],            # `litellm --config config.yaml`: no command
    ["--config=config.yaml"],
], ids=["up--config", "up--config=", "up-c", "no-command", "no-command="])
def test_config_flag_forms(args, project, up, openai_mock):
    (project / "config.yaml").write_text(ONE_OPENAI_MODEL.format(base=openai_mock.base_url))
    port = free_port()
    run = up([*args, "--port", str(port)], {"OPENAI_API_KEY": OPENAI_KEY})
    assert run.url == f"http://127.0.0.1:{port}"
    assert model_ids(run.url) == ["gpt-3.5-turbo"]
    assert chat(run.url, "gpt-3.5-turbo") == "Hello from openai mock: hi"
    # The debug mode is off unless asked for: no request lines.
    time.sleep(0.5)
    assert REQUEST_LINE not in run.output()


def test_port_with_a_config_is_the_flags(project, up, openai_mock):
    # LiteLLM's config has no port: --port decides, and Envoy listens there.
    (project / "config.yaml").write_text(ONE_OPENAI_MODEL.format(base=openai_mock.base_url))
    port = free_port()
    run = up(["--config", "config.yaml", "--port", str(port)], {"OPENAI_API_KEY": OPENAI_KEY})
    listeners = admin_json(run, "/listeners?format=json")["listener_statuses"]
    assert listeners[0]["local_address"]["socket_address"]["port_value"] == port
    assert chat(f"http://127.0.0.1:{port}", "gpt-3.5-turbo") == "Hello from openai mock: hi"


def test_default_host_stays_on_this_machine(project, up, openai_mock):
    # LiteLLM listens on 0.0.0.0 by default; Switchyard on 127.0.0.1 unless told.
    (project / "config.yaml").write_text(ONE_OPENAI_MODEL.format(base=openai_mock.base_url))
    port = free_port()
    run = up(["--config", "config.yaml", "--port", str(port)], {"OPENAI_API_KEY": OPENAI_KEY})
    assert listener_address(run) == "127.0.0.1"
    other = non_loopback_address()
    if other:
        with pytest.raises(OSError):
            socket.create_connection((other, port), timeout=2).close()


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_host_all_interfaces(host, project, up, openai_mock):
    (project / "config.yaml").write_text(ONE_OPENAI_MODEL.format(base=openai_mock.base_url))
    port = free_port()
    run = up(["--config", "config.yaml", "--host", host, "--port", str(port)],
             {"OPENAI_API_KEY": OPENAI_KEY})
    assert listener_address(run) == host
    # The printed URL is usable from this machine.
    loopback = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    assert run.url == f"http://{loopback}:{port}"
    assert "Listening on every interface" in run.output()
    assert chat(run.url, "gpt-3.5-turbo") == "Hello from openai mock: hi"
    if host == "0.0.0.0":
        other = non_loopback_address()
        if other:  # other machines reach it on this machine's address
            status, _, body = request_json("GET", f"http://{other}:{port}/health/liveliness")
            assert status == 200, body
            assert f"http://{other}:{port}" in run.output()


@pytest.mark.parametrize("flag,workers", [("--num_workers", 2), ("--num-workers", 3)])
def test_num_workers_is_envoys_concurrency(flag, workers, project, up, openai_mock):
    (project / "config.yaml").write_text(ONE_OPENAI_MODEL.format(base=openai_mock.base_url))
    run = up(["--config", "config.yaml", "--port", str(free_port()), flag, str(workers)],
             {"OPENAI_API_KEY": OPENAI_KEY})
    info = admin_json(run, "/server_info")
    assert info["command_line_options"]["concurrency"] == workers
    # Envoy really runs that many workers: one listener per worker in its stats.
    pattern = urllib.parse.quote(r"^listener\..*\.worker_\d+\.")
    stats = admin_json(run, f"/stats?format=json&filter={pattern}")["stats"]
    worker_ids = {re.search(r"\.worker_(\d+)\.", s["name"]).group(1) for s in stats}
    assert len(worker_ids) == workers, stats
    assert chat(run.url, "gpt-3.5-turbo") == "Hello from openai mock: hi"


# -- the config-less quick start -----------------------------------------------------


def test_model_alone_serves_that_model_for_every_name(project, up, ollama_mock):
    run = up(["up", "--model", "ollama/llama3", "--api_base", ollama_mock.base_url,
              "--port", str(free_port())])
    assert model_ids(run.url) == ["ollama/llama3"]
    assert chat(run.url, "ollama/llama3") == "Hello from ollama mock: hi"
    assert ollama_mock.last_request.json["model"] == "llama3"
    # As with `litellm --model …`, a client asking for another name gets this model
    # (LiteLLM's quick start sends "gpt-3.5-turbo").
    assert chat(run.url, "gpt-3.5-turbo", "again") == "Hello from ollama mock: again"
    assert ollama_mock.last_request.json["model"] == "llama3"


def test_model_with_alias_temperature_and_max_tokens(project, up, ollama_mock):
    run = up(["--model", "ollama/llama3", "--alias", "llama", "--api_base", ollama_mock.base_url,
              "--temperature", "0.3", "--max_tokens", "7", "--port", str(free_port())])
    assert model_ids(run.url) == ["ollama/llama3", "llama"]
    assert chat(run.url, "llama") == "Hello from ollama mock: hi"
    sent = ollama_mock.last_request.json
    assert sent["options"]["temperature"] == 0.3
    assert sent["options"]["num_predict"] == 7
    # The client's own value wins over the flag's default.
    chat(run.url, "llama", temperature=0.9)
    assert ollama_mock.last_request.json["options"]["temperature"] == 0.9


def test_request_timeout_bounds_a_call(project, up, ollama_mock):
    run = up(["--model", "ollama/llama3", "--api_base", ollama_mock.base_url,
              "--request_timeout", "1", "--port", str(free_port())])
    ollama_mock.delay_next(5, n=None)
    started = time.monotonic()
    status, _, body = request_json("POST", f"{run.url}/v1/chat/completions",
                                   {"model": "llama3", "messages": [{"role": "user", "content": "hi"}]},
                                   timeout=10)
    elapsed = time.monotonic() - started
    assert status == 504, body
    assert "error" in body, body
    assert elapsed < 3, f"answered after {elapsed:.1f} s"


def test_drop_params(project, up, ollama_mock):
    body = {"model": "llama3", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"1": 2}}
    plain = up(["--model", "ollama/llama3", "--api_base", ollama_mock.base_url,
                "--port", str(free_port())])
    status, _, answer = request_json("POST", f"{plain.url}/v1/chat/completions", body)
    assert status == 400 and "logit_bias" in json.dumps(answer), answer
    plain.stop()
    dropping = up(["--model", "ollama/llama3", "--api_base", ollama_mock.base_url, "--drop_params",
                   "--port", str(free_port())])
    status, _, answer = request_json("POST", f"{dropping.url}/v1/chat/completions", body)
    assert status == 200, answer
    assert "logit_bias" not in ollama_mock.last_request.json


def test_api_version_reaches_azure(project, up):
    with AzureMock(api_key=AZURE_KEY, deployments={"gpt-4o-deploy": "gpt-4o-2024-08-06"}) as azure:
        run = up(["--model", "azure/gpt-4o-deploy", "--api_base", azure.base_url,
                  "--api_version", AZURE_API_VERSION, "--port", str(free_port())],
                 {"AZURE_API_KEY": AZURE_KEY})
        assert chat(run.url, "azure/gpt-4o-deploy").startswith("Hello from azure mock")
        req = azure.last_request
        assert req.query["api-version"] == AZURE_API_VERSION
        assert req.path == "/openai/deployments/gpt-4o-deploy/chat/completions"


def test_model_with_a_config_takes_every_request(project, up, openai_mock, ollama_mock):
    # LiteLLM sends every request to the command-line model, even one naming a
    # group of the config; /models lists both.
    (project / "config.yaml").write_text(ONE_OPENAI_MODEL.format(base=openai_mock.base_url))
    run = up(["--config", "config.yaml", "--model", "ollama/llama3", "--api_base",
              ollama_mock.base_url, "--port", str(free_port())], {"OPENAI_API_KEY": OPENAI_KEY})
    assert model_ids(run.url) == ["gpt-3.5-turbo", "ollama/llama3"]
    assert chat(run.url, "gpt-3.5-turbo") == "Hello from ollama mock: hi"
    assert openai_mock.request_count == 0


def test_no_config_and_no_model_is_refused(project):
    result = switchyard(["up", "--port", str(free_port())], project)
    assert result.returncode != 0
    assert "--config FILE" in result.stderr and "--model" in result.stderr, result.stderr


# -- --test -----------------------------------------------------------------------------


def test_test_prints_the_answer_of_a_running_gateway(project, up, openai_mock):
    (project / "config.yaml").write_text(
        ONE_OPENAI_MODEL.format(base=openai_mock.base_url) + f"general_settings:\n  master_key: {MASTER}\n")
    port = free_port()
    up(["--config", "config.yaml", "--port", str(port)], {"OPENAI_API_KEY": OPENAI_KEY})
    # LiteLLM's `litellm --test` (with the port and the config whose master key it uses).
    result = switchyard(["--test", "--port", str(port), "--config", "config.yaml"], project,
                        {"OPENAI_API_KEY": OPENAI_KEY})
    assert result.returncode == 0, result.stderr
    assert "Hello from openai mock: this is a test request, write a short poem" in result.stdout
    sent = openai_mock.last_request.json
    assert sent["model"] == "gpt-3.5-turbo" and sent["max_tokens"] == 256
    # The master key from LITELLM_MASTER_KEY works as well.
    result = switchyard(["up", "--test", "--port", str(port), "--model", "gpt-3.5-turbo"], project,
                        {"LITELLM_MASTER_KEY": MASTER})
    assert result.returncode == 0, result.stderr
    # Without a key the gateway refuses, and so does --test.
    result = switchyard(["--test", "--port", str(port)], project)
    assert result.returncode != 0
    assert "401" in result.stderr, result.stderr


def test_test_without_a_gateway_fails(project):
    port = free_port()
    result = switchyard(["--test", "--port", str(port)], project)
    assert result.returncode != 0
    assert f"http://127.0.0.1:{port}" in result.stderr, result.stderr


# -- --telemetry --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["False", "True"])
def test_telemetry_is_accepted(value, project, up, openai_mock):
    (project / "config.yaml").write_text(ONE_OPENAI_MODEL.format(base=openai_mock.base_url))
    run = up(["--config", "config.yaml", "--telemetry", value, "--port", str(free_port())],
             {"OPENAI_API_KEY": OPENAI_KEY})
    assert "Switchyard sends no telemetry" in run.output()
    assert chat(run.url, "gpt-3.5-turbo") == "Hello from openai mock: hi"


def test_help_says_there_is_no_telemetry(project):
    for args in (["--help"], ["up", "--help"]):
        result = switchyard(args, project)
        assert result.returncode == 0, result.stderr
        assert "no telemetry" in result.stdout, result.stdout
    bad = switchyard(["--config", "c.yaml", "--telemetry", "maybe"], project)
    assert bad.returncode != 0 and "telemetry" in bad.stderr


# -- the debug mode -------------------------------------------------------------------------


def service_account(token_uri: str) -> str:
    return json.dumps({
        "type": "service_account", "project_id": VERTEX_PROJECT, "private_key_id": "k1",
        "private_key": GOOGLE_TEST_KEY, "client_email": SA_EMAIL, "client_id": "1",
        "token_uri": token_uri,
    })


def debug_config(openai_mock, bedrock, vertex, verbose: bool) -> str:
    text = f"""model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_base: {openai_mock.base_url}
      api_key: os.environ/OPENAI_API_KEY
  - model_name: nova
    litellm_params:
      model: bedrock/{NOVA}
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_session_token: os.environ/AWS_SESSION_TOKEN
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: {bedrock.root_url}
  - model_name: gemini
    litellm_params:
      model: vertex_ai/gemini-2.5-flash
      vertex_project: {VERTEX_PROJECT}
      vertex_location: {VERTEX_LOCATION}
      vertex_credentials: os.environ/VERTEX_SA_JSON
      api_base: {vertex.root_url}
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
"""
    if verbose:
        text += "litellm_settings:\n  set_verbose: true\n"
    return text


@pytest.mark.parametrize("how", ["--debug", "--detailed_debug", "set_verbose", "LITELLM_LOG=DEBUG"])
def test_debug_mode_logs_requests_with_every_key_masked(how, project, up, openai_mock):
    with BedrockMock() as bedrock, GoogleOAuthMock(SA_EMAIL, GOOGLE_TEST_KEY) as oauth, \
            VertexMock(oauth, VERTEX_PROJECT, VERTEX_LOCATION, models={"gemini-2.5-flash"}) as vertex:
        (project / "config.yaml").write_text(
            debug_config(openai_mock, bedrock, vertex, verbose=how == "set_verbose"))
        env = {
            "OPENAI_API_KEY": OPENAI_KEY,
            "AWS_ACCESS_KEY_ID": SESSION_KEY.access_key_id,
            "AWS_SECRET_ACCESS_KEY": SESSION_KEY.secret_access_key,
            "AWS_SESSION_TOKEN": SESSION_KEY.session_token,
            "VERTEX_SA_JSON": service_account(oauth.token_uri),
            "LITELLM_MASTER_KEY": MASTER,
        }
        args = ["--config", "config.yaml", "--port", str(free_port())]
        if how.startswith("--"):
            args.append(how)
        if how == "LITELLM_LOG=DEBUG":
            env["LITELLM_LOG"] = "DEBUG"
        run = up(args, env)

        status, _, body = request_json("POST", f"{run.url}/key/generate", {},
                                       headers={"Authorization": f"Bearer {MASTER}"})
        assert status == 200, body
        virtual_key = body["key"]
        assert chat(run.url, "gpt", key=virtual_key) == "Hello from openai mock: hi"
        out = wait_for(run, "Provider status: 200 for POST", 1)
        assert chat(run.url, "nova", key=virtual_key) == "Hello from bedrock mock: hi"
        assert chat(run.url, "gemini", key=virtual_key) == "Hello from vertex mock: hi"
        out = wait_for(run, "Provider status: 200 for POST", 3)

        # One curl command per provider request, LiteLLM's shape, with its status.
        openai_url = f"{openai_mock.base_url}/chat/completions"
        curl = out[out.index(f"\n{REQUEST_LINE}\n") + 1:].splitlines()
        assert curl[1] == "curl -X POST \\"
        assert curl[2] == f"{openai_url} \\"
        assert curl[3].startswith("-H ") and "-H 'authorization: Be****ey'" in curl[3], curl[3]
        assert curl[4].startswith("-d '{") and curl[4].endswith("}'"), curl[4]
        sent = json.loads(curl[4][len("-d '"):-1])
        assert sent == {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, sent
        assert re.search(rf"Provider status: 200 for POST {re.escape(openai_url)} \(model group gpt, "
                         r"deployment \S+, attempt 1\)", out), out
        bedrock_url = f"{bedrock.root_url}/model/amazon.nova-lite-v1%3A0/converse"
        assert f"{REQUEST_LINE}\ncurl -X POST \\\n{bedrock_url} \\\n" in out, out
        assert f"Provider status: 200 for POST {bedrock_url} (model group nova" in out
        assert "-H 'x-amz-security-token: IQ****D='" in out, out
        vertex_url = (f"{vertex.root_url}/v1/projects/{VERTEX_PROJECT}/locations/{VERTEX_LOCATION}"
                      "/publishers/google/models/gemini-2.5-flash:generateContent")
        assert f"Provider status: 200 for POST {vertex_url} (model group gemini" in out, out

        # No credential anywhere: not in up's output, not in any file of the work
        # directory (Envoy's and the keyservice's logs, the rendered configuration).
        signature = bedrock.last_request.header("authorization").split("Signature=")[1]
        google_token = vertex.last_request.header("authorization").split(" ", 1)[1]
        secrets = {
            "provider key": OPENAI_KEY,
            "virtual key": virtual_key,
            "master key": MASTER,
            "AWS secret": SESSION_KEY.secret_access_key,
            "AWS session token": SESSION_KEY.session_token,
            "SigV4 signature": signature,
            "Google token": google_token,
            "service account key": GOOGLE_TEST_KEY.splitlines()[1],
        }
        workdir = project / ".switchyard"
        texts = {"up's output": run.output()}
        for path in workdir.rglob("*"):
            if path.is_file() and ".db" not in path.name:
                texts[str(path.relative_to(project))] = path.read_text(errors="replace")
        assert "envoy.log" in " ".join(texts) and len(texts) > 3, list(texts)
        assert REQUEST_LINE in texts[".switchyard/envoy.log"]
        for what, secret in secrets.items():
            for where, text in texts.items():
                assert secret not in text, f"the {what} is in {where}"
