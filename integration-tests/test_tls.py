"""TLS upstreams, and a fallback chain that mixes plain-HTTP and HTTPS deployments.

LiteLLM's documented fallback example (``docs/my-website/docs/proxy/reliability.md``,
"Fallbacks + Retries + Timeouts + Cooldowns") puts three local ``huggingface/``
servers on ``http://0.0.0.0:800x`` in front of OpenAI. Its route cluster holds the
local servers at priority 0 and OpenAI at priority 1, so one Envoy cluster mixes
plain-TCP and TLS endpoints: each endpoint must get the transport its ``api_base``
names, and the cluster must start at all (Envoy refuses ALPN on a cluster with a
plain socket).

The HTTPS mock serves a certificate of a throw-away CA (``mocks/tls.py``) for
``localhost``; the gateway trusts it through ``switchyard render --ca-file``, as an
operator with a private CA would. No traffic leaves 127.0.0.0/8.
"""

from __future__ import annotations

import json
import subprocess
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Iterator

import pytest
from openai import OpenAI

import harness
from harness import request_json
from mocks import OPENAI_KEY, OpenAIMock
from mocks.huggingface import HuggingFaceMock
from mocks.tls import TLS_HOST, MockCertificates, make_certificates

GatewayFactory = Callable[..., harness.Gateway]

#: LiteLLM's documented example, as its docs write it (placeholders and comments
#: included). Rendered and validated only: it names OpenAI and 0.0.0.0.
LITELLM_FALLBACK_EXAMPLE = """\
model_list:
  - model_name: zephyr-beta
    litellm_params:
        model: huggingface/HuggingFaceH4/zephyr-7b-beta
        api_base: http://0.0.0.0:8001
  - model_name: zephyr-beta
    litellm_params:
        model: huggingface/HuggingFaceH4/zephyr-7b-beta
        api_base: http://0.0.0.0:8002
  - model_name: zephyr-beta
    litellm_params:
        model: huggingface/HuggingFaceH4/zephyr-7b-beta
        api_base: http://0.0.0.0:8003
  - model_name: gpt-3.5-turbo
    litellm_params:
        model: gpt-3.5-turbo
        api_key: <my-openai-key>
  - model_name: gpt-3.5-turbo-16k
    litellm_params:
        model: gpt-3.5-turbo-16k
        api_key: <my-openai-key>

litellm_settings:
  num_retries: 3 # retry call 3 times on each model_name (e.g. zephyr-beta)
  request_timeout: 10 # raise Timeout error if call takes longer than 10s. Sets litellm.request_timeout 
  fallbacks: [{"zephyr-beta": ["gpt-3.5-turbo"]}] # fallback to gpt-3.5-turbo if call fails num_retries 
  allowed_fails: 3 # cooldown model if it fails > 1 call in a minute. 
  cooldown_time: 30 # how long to cooldown model if fails/min > allowed_fails
"""


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> MockCertificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def test_litellms_documented_mixed_fallback_chain_renders_and_validates(tmp_path: Path) -> None:
    missing = harness.missing_prerequisites()
    if missing:
        pytest.skip("; ".join(missing))
    config = tmp_path / "config.yaml"
    config.write_text(LITELLM_FALLBACK_EXAMPLE)
    out = tmp_path / "out"
    env = {"PATH": "/usr/bin:/bin"}
    render = subprocess.run(
        [str(harness.SWITCHYARD_BIN), "render", "--config", str(config), "--out", str(out),
         "--wasm", str(harness.SWITCHYARD_WASM), "--port", "0"],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert render.returncode == 0, render.stderr
    envoy_yaml = (out / "envoy.yaml").read_text()
    validate = subprocess.run(
        [str(harness.ENVOY_BIN), "--mode", "validate", "-c", str(out / "envoy.yaml")],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert validate.returncode == 0, (validate.stdout + validate.stderr)[-3000:]

    # The render is YAML (no YAML reader here): the unit tests in config/src/render/
    # check the cluster's structure; this checks that it names what Envoy needs.
    assert "sni: api.openai.com" in envoy_yaml
    for port in (8001, 8002, 8003):
        assert f"port_value: {port}" in envoy_yaml


@pytest.fixture
def mixed_chain(certificates: MockCertificates,
                gateway_factory: GatewayFactory) -> Iterator[tuple[harness.Gateway, list[HuggingFaceMock], OpenAIMock]]:
    """LiteLLM's example with its servers on 127.0.0.1: three plain-HTTP TGI mocks,
    falling back to an HTTPS OpenAI mock named ``localhost``."""
    with ExitStack() as stack:
        local = [stack.enter_context(HuggingFaceMock(api_key=None)) for _ in range(3)]
        cloud = OpenAIMock(api_key=OPENAI_KEY)
        cloud.serve_tls(certificates.cert_file, certificates.key_file, host=TLS_HOST)
        stack.enter_context(cloud)
        cloud.reply_text = "answered by the https fallback"
        entries = "".join(f"""
  - model_name: zephyr-beta
    litellm_params:
        model: huggingface/HuggingFaceH4/zephyr-7b-beta
        api_base: {m.root_url}""" for m in local)
        config = f"""
model_list:{entries}
  - model_name: gpt-3.5-turbo
    litellm_params:
        model: gpt-3.5-turbo
        api_base: {cloud.base_url}
        api_key: os.environ/OPENAI_API_KEY
litellm_settings:
  num_retries: 1
  request_timeout: 10
  fallbacks: [{{"zephyr-beta": ["gpt-3.5-turbo"]}}]
"""
        gw = gateway_factory(config, {"OPENAI_API_KEY": OPENAI_KEY},
                             extra_render_args=["--ca-file", certificates.ca_file])
        yield gw, local, cloud


def test_a_plain_http_group_falls_back_to_an_https_one(mixed_chain) -> None:
    gw, local, cloud = mixed_chain
    client = OpenAI(base_url=gw.url("/v1"), api_key="anything", max_retries=0)

    # Plain TCP to the local servers, from the same cluster that holds the TLS one.
    first = client.chat.completions.with_raw_response.create(
        model="zephyr-beta", messages=[{"role": "user", "content": "hi"}])
    assert first.headers["x-litellm-model-group"] == "zephyr-beta"
    assert "huggingface mock" in first.parse().choices[0].message.content
    served = [r for m in local for r in m.requests]
    assert len(served) == 1 and not served[0].tls
    assert cloud.request_count == 0

    # The local servers fail: the request moves to the https group.
    for m in local:
        m.fail_next(10, 503)
    second = client.chat.completions.with_raw_response.create(
        model="zephyr-beta", messages=[{"role": "user", "content": "fall back"}])
    assert second.headers["x-litellm-model-group"] == "gpt-3.5-turbo"
    assert second.headers["x-litellm-attempted-fallbacks"] == "1"
    assert second.parse().choices[0].message.content == "answered by the https fallback"
    req = cloud.last_request
    assert req.tls, "the https deployment is reached over TLS"
    assert req.tls_server_name == TLS_HOST, "with SNI for its host"
    assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert req.json["messages"][-1]["content"] == "fall back"


def test_the_https_group_is_reached_over_tls_directly(mixed_chain) -> None:
    gw, local, cloud = mixed_chain
    status, _, body = request_json("POST", gw.url("/v1/chat/completions"), {
        "model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "direct"}]})
    assert status == 200, body
    assert body["choices"][0]["message"]["content"] == "answered by the https fallback"
    assert cloud.last_request.tls and cloud.last_request.tls_server_name == TLS_HOST
    assert all(m.request_count == 0 for m in local)


def test_an_untrusted_certificate_is_refused(certificates: MockCertificates,
                                              gateway_factory: GatewayFactory) -> None:
    """Without the CA (the system bundle only) the mock's certificate is not trusted:
    the client gets Envoy's OpenAI-shaped 502/503, never the mock's answer."""
    cloud = OpenAIMock(api_key=OPENAI_KEY)
    cloud.serve_tls(certificates.cert_file, certificates.key_file, host=TLS_HOST)
    with cloud:
        config = f"""
model_list:
  - model_name: gpt-3.5-turbo
    litellm_params:
        model: gpt-3.5-turbo
        api_base: {cloud.base_url}
        api_key: os.environ/OPENAI_API_KEY
litellm_settings:
  num_retries: 0
"""
        gw = gateway_factory(config, {"OPENAI_API_KEY": OPENAI_KEY})
        status, _, body = request_json("POST", gw.url("/v1/chat/completions"), {
            "model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "x"}]})
        assert status in (502, 503), body
        assert set(body["error"]) >= {"message", "type", "code"}, json.dumps(body)
        assert cloud.request_count == 0
