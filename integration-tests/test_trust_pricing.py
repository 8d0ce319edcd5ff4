"""Issue 12, points 3 and 4: no silent $0, and answers that do not finish are charged.

Each test sends the attack (or the operator's mistake) through the real gateway — real
Envoy, the built .wasm, the real keyservice on SQLite, strict mock providers — and
asserts on what the keyservice recorded (`/key/info`, `/spend/logs`) and what the mock
provider received.

Point 3: a deployment without a price records spend 0, so a budget never stops it.
Wildcard groups (`openai/*`, `*`) are priced by the model served (the one the request
named), a fine-tune as its base model, an Azure deployment by `model_info.base_model`
(dated snapshots included) or else by the model its answer names; `switchyard check`
names every deployment that stays unpriced while keys are on.

Point 4: usage comes at the end of an answer. A client that reads a stream up to its
last content chunk and leaves, a provider that cuts its stream, and an answer larger
than Envoy's buffer (its 502) are charged for what the provider produced: the prompt
(estimated from the request) plus the output so far (counted from the streamed text,
one token per 3 bytes, rounded up; see `filter/src/estimate.rs`).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from typing import Any

import pytest

import harness
from harness import poll
from mocks import ANTHROPIC_KEY, AZURE_API_VERSION, AZURE_KEY, OPENAI_KEY
from mocks import AnthropicMock, AzureMock, OpenAIMock
from test_keys import MASTER

#: Shipped prices (config/prices.json, LiteLLM's list prices), USD per token.
GPT_4O_MINI = (1.5e-7, 6e-7)
GPT_4O = (2.5e-6, 1e-5)
HAIKU = (8e-7, 4e-6)

USAGE = {"prompt_tokens": 1000, "completion_tokens": 500}

ENV = {"OPENAI_API_KEY": OPENAI_KEY, "AZURE_API_KEY": AZURE_KEY,
       "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "TEST_MASTER": MASTER}


def config_text(openai: OpenAIMock, azure: AzureMock, anthropic: AnthropicMock) -> str:
    return f"""
model_list:
  - model_name: "openai/*"
    litellm_params: {{model: "openai/*", api_base: "{openai.base_url}", api_key: os.environ/OPENAI_API_KEY}}
  - model_name: "*"
    litellm_params: {{model: "openai/*", api_base: "{openai.base_url}", api_key: os.environ/OPENAI_API_KEY}}
  - model_name: ft-mini
    litellm_params: {{model: "openai/ft:gpt-4o-mini:acme::abc123", api_base: "{openai.base_url}", api_key: os.environ/OPENAI_API_KEY}}
  - model_name: az-based
    litellm_params: {{model: azure/mini-deploy, api_base: "{azure.root_url}", api_key: os.environ/AZURE_API_KEY, api_version: "{AZURE_API_VERSION}"}}
    model_info: {{base_model: azure/gpt-4o-mini-2024-07-18}}
  - model_name: az-named
    litellm_params: {{model: azure/gpt-4o-deploy, api_base: "{azure.root_url}", api_key: os.environ/AZURE_API_KEY, api_version: "{AZURE_API_VERSION}"}}
  - model_name: mini
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{openai.base_url}", api_key: os.environ/OPENAI_API_KEY}}
  - model_name: haiku
    litellm_params: {{model: anthropic/claude-3-5-haiku-20241022, api_base: "{anthropic.base_url}", api_key: os.environ/ANTHROPIC_API_KEY}}
  - model_name: unpriced
    litellm_params: {{model: hosted_vllm/my-own-model, api_base: "{openai.base_url}"}}
general_settings:
  master_key: os.environ/TEST_MASTER
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    missing = harness.missing_prerequisites()
    if missing:
        pytest.fail("missing: " + ", ".join(missing))
    work = tmp_path_factory.mktemp("trust-pricing")
    deployments = {"mini-deploy": "gpt-4o-mini-2024-07-18", "gpt-4o-deploy": "gpt-4o-2024-08-06"}
    with OpenAIMock(api_key=OPENAI_KEY) as openai, \
            AzureMock(api_key=AZURE_KEY, deployments=deployments) as azure, \
            AnthropicMock(api_key=ANTHROPIC_KEY) as anthropic:
        config = config_text(openai, azure, anthropic)
        with harness.keyed_gateway(config, ENV, work, master=MASTER) as (gw, ks):
            yield gw, ks, openai, azure, anthropic, config, work


def admin(gw, method, path, body=None):
    return harness.request_json(method, gw.url(path), body,
                                headers={"Authorization": f"Bearer {MASTER}"})


def new_key(gw, **fields) -> str:
    status, _, made = admin(gw, "POST", "/key/generate", fields)
    assert status == 200, made
    return made["key"]


def chat(gw, model: str, key: str, text: str = "hi") -> tuple[int, dict[str, str], Any]:
    return harness.request_json(
        "POST", gw.url("/v1/chat/completions"),
        {"model": model, "messages": [{"role": "user", "content": text}]},
        headers={"Authorization": f"Bearer {key}"}, timeout=60)


def spend_rows(gw, key: str, at_least: int = 1) -> list[dict[str, Any]]:
    _, _, logs = poll(lambda: admin(gw, "GET", f"/spend/logs?api_key={key}"),
                          lambda r: r[0] == 200 and len(r[2]) >= at_least)
    assert isinstance(logs, list), logs
    return logs


def key_spend(gw, key: str, above: float = 0.0) -> float:
    info = poll(lambda: admin(gw, "GET", f"/key/info?key={key}")[2],
                    lambda i: i.get("info", {}).get("spend", 0) > above)
    return float(info["info"]["spend"])


def price(usage: dict[str, int], prices: tuple[float, float]) -> float:
    return usage["prompt_tokens"] * prices[0] + usage["completion_tokens"] * prices[1]


def run_until_refused(gw, model: str, key: str, limit: int) -> int:
    """Sends requests until the budget refuses one; returns how many were served."""
    served = 0
    for _ in range(limit):
        status, _, body = chat(gw, model, key)
        if status != 200:
            assert status == 400 and body["error"]["type"] == "budget_exceeded", body
            return served
        served += 1
        # The answer's report reaches the keyservice within its 100 ms batch.
        spend_rows(gw, key, at_least=served + 1)
    return served


# ---------------------------------------------------------------------------------------
# Point 3: no silent $0
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("group,model,served,prices", [
    ("openai/*", "openai/gpt-4o-mini", "gpt-4o-mini", GPT_4O_MINI),
    ("openai/*", "openai/gpt-4o", "gpt-4o", GPT_4O),
    ("*", "gpt-4o-mini", "gpt-4o-mini", GPT_4O_MINI),
    ("*", "gpt-4o", "gpt-4o", GPT_4O),
], ids=["openai-star-mini", "openai-star-4o", "star-mini", "star-4o"])
def test_wildcard_group_is_priced_by_the_model_served_and_its_budget_triggers(
        setup, group, model, served, prices):
    """Point 3, attack: use a wildcard group (`openai/*`, `*`) under a budget. Today it
    has no price: every answer records $0 and the budget never stops the key. Now the
    spend is the served model's price and the budget refuses once it is spent."""
    gw, _, openai, *_ = setup
    expected = price(USAGE, prices)
    key = new_key(gw, max_budget=expected * 2.5)
    openai.usage = dict(USAGE)
    openai.clear_requests()
    try:
        status, _, body = chat(gw, model, key)
        assert status == 200, body
        assert openai.last_request.json["model"] == served
        rows = spend_rows(gw, key)
        assert rows[0]["model_group"] == group, rows
        assert rows[0]["spend"] == pytest.approx(expected), rows
        assert key_spend(gw, key) == pytest.approx(expected)
        # 2.5 answers' worth of budget: the 3rd crosses it, the next is refused.
        served_more = run_until_refused(gw, model, key, limit=8)
        assert served_more <= 3, f"{served_more} more answers served over the budget"
    finally:
        openai.usage = {}


def test_fine_tune_is_priced_as_its_base_model(setup):
    """Point 3, attack: use an OpenAI fine-tune (`ft:gpt-4o-mini:org::id`) under a
    budget. Today no price matches the fine-tune's id: $0. Now it is priced as its base
    model (LiteLLM looks for an `ft:<base>` row first; Switchyard falls back to the base
    model's price rather than $0)."""
    gw, _, openai, *_ = setup
    key = new_key(gw)
    openai.usage = dict(USAGE)
    openai.clear_requests()
    try:
        status, _, body = chat(gw, "ft-mini", key)
        assert status == 200, body
        assert openai.last_request.json["model"] == "ft:gpt-4o-mini:acme::abc123"
        rows = spend_rows(gw, key)
        assert rows[0]["spend"] == pytest.approx(price(USAGE, GPT_4O_MINI)), rows
    finally:
        openai.usage = {}


def test_azure_deployment_is_priced_by_base_model_or_by_its_answer(setup):
    """Point 3, attack: an Azure deployment (named freely) under a budget. With
    `model_info.base_model: azure/gpt-4o-mini-2024-07-18` (a dated snapshot the price
    table lists undated) today's gateway finds no price; without base_model neither.
    Now the first is priced by its base model (snapshot date stripped, as LiteLLM
    does), the second by the model its answer names (`gpt-4o-2024-08-06`)."""
    gw, _, _, azure, *_ = setup
    azure.usage = dict(USAGE)
    try:
        key = new_key(gw)
        status, _, body = chat(gw, "az-based", key)
        assert status == 200, body
        assert azure.last_request.path.startswith("/openai/deployments/mini-deploy/")
        rows = spend_rows(gw, key)
        assert rows[0]["spend"] == pytest.approx(price(USAGE, GPT_4O_MINI)), rows

        key = new_key(gw)
        status, _, body = chat(gw, "az-named", key)
        assert status == 200, body
        assert body["model"] == "gpt-4o-2024-08-06"
        rows = spend_rows(gw, key)
        assert rows[0]["spend"] == pytest.approx(price(USAGE, GPT_4O)), rows
    finally:
        azure.usage = {}


def test_check_names_every_deployment_without_a_price(setup, tmp_path):
    """Point 3, the operator's mistake: a config with keys on and a deployment no price
    names. `switchyard check` (and render, which runs the same validation) warns about
    it, naming the file, the entry and the field, and how to give it a price; priced
    deployments (wildcards included) are not named."""
    gw, *_, config, _ = setup
    path = tmp_path / "config.yaml"
    path.write_text(config)
    proc = subprocess.run([str(harness.SWITCHYARD_BIN), "check", "--config", str(path)],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **ENV))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    warnings = [line for line in out.splitlines() if "NO PRICE" in line]
    assert len(warnings) == 2, out
    vllm = next(w for w in warnings if "model_list[7]" in w)
    assert str(path) in vllm or "config.yaml" in vllm, vllm
    assert '"unpriced"' in vllm and "litellm_params.model" in vllm and "hosted_vllm/my-own-model" in vllm
    for fix in ("input_cost_per_token", "base_model", "SWITCHYARD_MODEL_PRICES"):
        assert fix in vllm, vllm
    azure = next(w for w in warnings if "model_list[4]" in w)
    assert "base_model" in azure, azure
    assert "NO PRICE" in gw.render_output and "model_list[7]" in gw.render_output


# ---------------------------------------------------------------------------------------
# Point 4: answers that do not finish are still charged
# ---------------------------------------------------------------------------------------

#: The streamed answer of the cut-stream tests: 60 words, sent two words per chunk.
REPLY = " ".join(f"word{i:02d}" for i in range(60))
PROMPT = "Tell me sixty words, " * 10


def stream_body(model: str) -> dict[str, Any]:
    return {"model": model, "stream": True,
            "messages": [{"role": "user", "content": PROMPT}]}


def bounds(prompt_body: dict[str, Any], output_text: str, prices: tuple[float, float]):
    """What a partial answer may be charged: at least the prompt and output at a
    tokenizer's ~4 bytes a token, at most the whole request body and the output at
    3 bytes a token (rounded up) plus the per-message allowance."""
    body = json.dumps(prompt_body)
    prompt_text = prompt_body["messages"][0]["content"]
    low = (len(prompt_text) / 4) * prices[0] + (len(output_text) / 4) * prices[1]
    high = (math.ceil(len(body) / 3) + 4) * prices[0] + (math.ceil(len(output_text) / 3) + 1) * prices[1]
    return low, high


def read_content_then_close(gw, key: str, model: str, want: str) -> str:
    """Reads the stream until the text `want` arrived, then closes the connection."""
    got = ""
    resp = harness.open_stream("POST", gw.url("/v1/chat/completions"), stream_body(model),
                               headers={"Authorization": f"Bearer {key}"}, timeout=20)
    try:
        assert resp.status == 200, resp.read()
        for event in harness.iter_sse(resp):
            if event.data == "[DONE]":
                break
            for choice in event.json().get("choices", []):
                got += (choice.get("delta") or {}).get("content") or ""
            if got == want:
                break
    finally:
        resp.close()
    return got


def partial_row(gw, key: str) -> dict[str, Any]:
    rows = spend_rows(gw, key)
    assert len(rows) == 1, rows
    return rows[0]


def test_client_that_reads_to_the_last_chunk_then_closes_is_charged(setup):
    """Point 4, attack: read a stream up to its last content chunk, then close before
    the usage chunk. Today the attempt is reported with no spend: a free answer. Now
    it is charged the prompt (estimated from the request) plus the output streamed."""
    gw, _, openai, *_ = setup
    key = new_key(gw)
    openai.reply_text = REPLY
    pieces = math.ceil(60 / 2)
    # role chunk + content chunks go out, then the provider pauses before the finish
    # chunk and usage: the client has all the text and leaves.
    openai.stall_next(8, after_events=1 + pieces)
    try:
        got = read_content_then_close(gw, key, "mini", REPLY)
        assert got == REPLY
        row = partial_row(gw, key)
    finally:
        openai.reply_text = None
        openai.clear_faults()
    low, high = bounds(stream_body("gpt-4o-mini"), REPLY, GPT_4O_MINI)
    assert low <= row["spend"] <= high, (low, row, high)
    assert row["spend"] == pytest.approx(key_spend(gw, key))
    assert row["status"] == "failure"
    assert row["metadata"]["switchyard_partial"] is True and row["metadata"]["estimated"] is True
    assert row["completion_tokens"] >= len(REPLY) / 4


def test_provider_that_cuts_its_stream_midway_is_charged_for_what_it_sent(setup):
    """Point 4, attack (or accident): the provider resets the connection midway through
    a stream. Today: $0. Now: the prompt plus the text that arrived."""
    gw, _, openai, *_ = setup
    key = new_key(gw)
    openai.reply_text = REPLY
    sent_pieces = 10  # 20 words
    openai.reset_next(after_events=1 + sent_pieces)
    got = ""
    try:
        resp = harness.open_stream("POST", gw.url("/v1/chat/completions"), stream_body("mini"),
                                   headers={"Authorization": f"Bearer {key}"}, timeout=20)
        try:
            assert resp.status == 200
            try:
                for event in harness.iter_sse(resp):
                    if event.data.startswith("{"):
                        for choice in event.json().get("choices", []):
                            got += (choice.get("delta") or {}).get("content") or ""
            except (OSError, ValueError, Exception):  # the cut reaches the client as a reset
                pass
        finally:
            resp.close()
        row = partial_row(gw, key)
    finally:
        openai.reply_text = None
        openai.clear_faults()
    sent = " ".join(REPLY.split(" ")[:2 * sent_pieces])
    assert got.strip() == sent.strip()
    low, high = bounds(stream_body("gpt-4o-mini"), sent + " ", GPT_4O_MINI)
    assert low <= row["spend"] <= high, (low, row, high)
    assert row["metadata"]["switchyard_partial"] is True


def test_answer_larger_than_the_buffer_is_charged_and_still_a_json_502(setup):
    """Point 4: an answer larger than Envoy's response buffer. The client gets the
    OpenAI-shaped 502 (as before), but the provider produced and billed the answer:
    today $0 is recorded; now the prompt and the answer's size (bytes / 3) are charged."""
    gw, _, _, _, anthropic, *_ = setup
    key = new_key(gw)
    text = "y" * (12 * 1024 * 1024)
    anthropic.reply_text = text
    anthropic.clear_requests()
    try:
        status, _, body = chat(gw, "haiku", key)
    finally:
        anthropic.reply_text = None
    assert status == 502, str(body)[:300]
    assert set(body) == {"error"} and "larger than the gateway's response buffer" in body["error"]["message"]
    assert anthropic.request_count == 1
    row = partial_row(gw, key)
    # At least the buffered 10 MiB at 4 bytes a token; at most the whole answer (its
    # content-length: the text and a little JSON) at 3 bytes a token.
    low = (10 * 1024 * 1024 / 4) * HAIKU[1]
    high = (len(text) + 2048) / 3 * HAIKU[1] + 100 * HAIKU[0]
    assert low <= row["spend"] <= high, (low, row["spend"], high)
    assert row["metadata"]["switchyard_partial"] is True
    assert key_spend(gw, key) == pytest.approx(row["spend"])
