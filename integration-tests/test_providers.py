"""The data path with the official ``openai`` client: OpenAI-compatible, Azure and
Anthropic deployments behind one gateway (real Envoy, the built .wasm, mock
providers that speak each native API and reject requests wrong for it).

One gateway and one set of mocks (the ``providers`` group of ``conformance/providers.py``,
shared with the OpenAI, Azure and Anthropic rows of ``test_conformance.py``, which test
their tools, images, JSON mode, reasoning and streams) serve the whole module; each
test clears the mocks' recorded requests and faults first.
"""

from __future__ import annotations

import openai
import pytest

from mocks import ANTHROPIC_KEY, AZURE_API_VERSION, AZURE_KEY, OPENAI_KEY

CLIENT_KEY = "sk-client-key-must-not-reach-providers"


@pytest.fixture(scope="module")
def mocks(provider_stacks):
    """The providers group's mocks (conformance/), shared with test_conformance.py."""
    return provider_stacks("providers").mocks


@pytest.fixture(scope="module")
def gateway(provider_stacks):
    """The gateway in front of them (the group's config), shared with test_conformance.py."""
    return provider_stacks("providers").gateway


@pytest.fixture
def openai_mock(mocks, gateway):
    for m in mocks.values():
        m.clear_requests()
        m.clear_faults()
        m.usage = {}
    return mocks["openai"]


@pytest.fixture
def azure_mock(mocks, openai_mock):
    return mocks["azure"]


@pytest.fixture
def anthropic_mock(mocks, openai_mock):
    return mocks["anthropic"]


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url("/v1"), api_key=CLIENT_KEY, max_retries=0, timeout=20)


def assert_no_client_key(req) -> None:
    for value in req.headers.values():
        assert CLIENT_KEY not in value, "the client's gateway key reached the provider"


# --- the model list ------------------------------------------------------------------


def test_models_list_comes_from_the_config(client, openai_mock):
    ids = [m.id for m in client.models.list()]
    assert ids == ["gpt-4o", "embed-small", "openai/*", "azure-gpt", "azure-embed", "claude", "gpt-4"]
    assert openai_mock.request_count == 0, "/models must not call a provider"


# --- OpenAI-compatible ---------------------------------------------------------------


def test_openai_chat(client, openai_mock):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi there"}], seed=5
    )
    r = raw.parse()
    # LiteLLM's x-litellm-response-cost, from the deployment's custom prices.
    expected = r.usage.prompt_tokens * 1e-6 + r.usage.completion_tokens * 2e-6
    assert float(raw.headers["x-litellm-response-cost"]) == pytest.approx(expected)
    assert r.choices[0].message.content == "Hello from openai mock: hi there"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens > 0
    req = openai_mock.last_request
    assert req.path == "/v1/chat/completions"
    assert req.json["model"] == "gpt-4o-real"
    assert req.json["seed"] == 5
    assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert req.headers["x-team"] == "research"
    assert_no_client_key(req)


def test_alias_and_response_headers(client, openai_mock):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4", messages=[{"role": "user", "content": "x"}])
    assert raw.headers["x-litellm-model-group"] == "gpt-4o"
    assert raw.headers["x-litellm-model-api-base"] == openai_mock.base_url
    assert raw.headers["x-litellm-model-id"]
    assert raw.parse().choices[0].message.content == "Hello from openai mock: x"
    assert openai_mock.last_request.json["model"] == "gpt-4o-real"


def test_wildcard_group_sends_the_matched_model(client, openai_mock):
    r = client.chat.completions.create(model="openai/gpt-4.1-nano", messages=[{"role": "user", "content": "w"}])
    assert r.choices[0].message.content == "Hello from openai mock: w"
    assert openai_mock.last_request.json["model"] == "gpt-4.1-nano"


def test_openai_text_completion(client, openai_mock):
    r = client.completions.create(model="gpt-4o", prompt="Say hi", max_tokens=20)
    assert "Say hi" in r.choices[0].text
    assert openai_mock.last_request.path == "/v1/completions"


def test_embedding_group_refuses_chat(client, openai_mock):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="embed-small", messages=[{"role": "user", "content": "x"}])
    assert "model_info.mode" in str(err.value)
    assert openai_mock.request_count == 0


# --- Azure OpenAI --------------------------------------------------------------------


def test_azure_chat_and_stream(client, azure_mock):
    r = client.chat.completions.create(model="azure-gpt", messages=[{"role": "user", "content": "az"}])
    assert r.choices[0].message.content == "Hello from azure mock: az"
    req = azure_mock.last_request
    assert req.path == "/openai/deployments/gpt-4o-deploy/chat/completions"
    assert req.query["api-version"] == AZURE_API_VERSION
    assert req.headers["api-key"] == AZURE_KEY
    assert "authorization" not in req.headers
    assert_no_client_key(req)

    # Azure streams open with a choices-less prompt_filter_results chunk.
    text = ""
    for chunk in client.chat.completions.create(
        model="azure-gpt", messages=[{"role": "user", "content": "azs"}], stream=True
    ):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    assert text == "Hello from azure mock: azs"


def test_azure_embeddings_with_env_api_version(client, azure_mock):
    r = client.embeddings.create(model="azure-embed", input="vector please", encoding_format="float")
    assert len(r.data[0].embedding) == 8
    req = azure_mock.last_request
    assert req.path == "/openai/deployments/embedding-deploy/embeddings"
    assert req.query["api-version"] == AZURE_API_VERSION


def test_azure_style_client_path(gateway, azure_mock):
    client = openai.AzureOpenAI(
        azure_endpoint=gateway.base_url, api_key=CLIENT_KEY, api_version="2024-10-21", max_retries=0
    )
    r = client.chat.completions.create(model="azure-gpt", messages=[{"role": "user", "content": "via azure sdk"}])
    assert r.choices[0].message.content == "Hello from azure mock: via azure sdk"
    assert azure_mock.last_request.headers["api-key"] == AZURE_KEY


# --- Anthropic -----------------------------------------------------------------------


def test_anthropic_chat(client, anthropic_mock):
    anthropic_mock.usage = {"input_tokens": 7, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20, "output_tokens": 6}
    raw = client.chat.completions.with_raw_response.create(
        model="claude",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello claude"},
        ],
        stop=["zzz"],
        user="user-42",
    )
    r = raw.parse()
    # Shipped price of claude-3-5-sonnet-20240620, cache reads and writes at their own prices.
    expected = 7 * 3e-6 + 100 * 3e-7 + 20 * 3.75e-6 + 6 * 1.5e-5
    assert float(raw.headers["x-litellm-response-cost"]) == pytest.approx(expected)
    assert r.choices[0].message.content == "Hello from anthropic mock: hello claude"
    assert r.choices[0].finish_reason == "stop"
    assert r.object == "chat.completion"
    # LiteLLM's usage: cache reads and writes count as prompt tokens.
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (127, 6, 133)
    assert r.usage.prompt_tokens_details.cached_tokens == 100
    req = anthropic_mock.last_request
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == ANTHROPIC_KEY
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert_no_client_key(req)
    body = req.json
    assert body["model"] == "claude-3-5-sonnet-20240620"
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 4096, "documented default when the client sets none"
    assert body["temperature"] == 0.3, "deployment default"
    assert body["stop_sequences"] == ["zzz"]
    assert body["metadata"] == {"user_id": "user-42"}


def test_anthropic_client_overrides_default_param(client, anthropic_mock):
    client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "x"}], temperature=0.9, max_tokens=50
    )
    assert anthropic_mock.last_request.json["temperature"] == 0.9
    assert anthropic_mock.last_request.json["max_tokens"] == 50


def test_anthropic_reasoning_effort_becomes_thinking(client, anthropic_mock):
    """LiteLLM's budgets (low 1024, medium 2048, high 4096), max_tokens the budget
    plus the default when the client sets none; thinking comes back as
    reasoning_content, streamed too."""
    r = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "think"}], reasoning_effort="low"
    )
    assert r.choices[0].message.reasoning_content == "anthropic mock thought (1024 tokens)"
    assert r.choices[0].message.content == "Hello from anthropic mock: think"
    body = anthropic_mock.last_request.json
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert body["max_tokens"] == 1024 + 4096
    reasoning, text = "", ""
    for chunk in client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "think"}], reasoning_effort="high",
        max_tokens=8000, stream=True,
    ):
        if chunk.choices:
            reasoning += getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
            text += chunk.choices[0].delta.content or ""
    assert reasoning == "anthropic mock thought (4096 tokens)"
    assert text == "Hello from anthropic mock: think"
    assert anthropic_mock.last_request.json["max_tokens"] == 8000, "the client's limit stays"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "think"}], reasoning_effort="extreme"
        )
    assert err.value.body["param"] == "reasoning_effort"


# --- errors through the client -------------------------------------------------------


def test_unknown_model_is_a_bad_request(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 400
    body = err.value.body
    assert "model=no-such-model" in body["message"] and "/v1/models" in body["message"]
    assert body["code"] == "400" and body["param"] == "model"


def test_provider_rate_limit_is_retried_then_reaches_the_client(client, anthropic_mock):
    # One 429: Envoy retries (LiteLLM's default num_retries is 2) and the client never sees it.
    anthropic_mock.fail_next(1, status=429)
    raw = client.chat.completions.with_raw_response.create(model="claude", messages=[{"role": "user", "content": "x"}])
    assert raw.parse().choices[0].message.content == "Hello from anthropic mock: x"
    assert raw.headers["x-litellm-attempted-retries"] == "1"
    assert anthropic_mock.request_count == 2

    # Every attempt rate-limited: the client gets the provider's 429 as RateLimitError.
    anthropic_mock.clear_requests()
    anthropic_mock.fail_next(3, status=429)
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}])
    assert err.value.body["type"] == "rate_limit_error"
    assert err.value.body["code"] == "429"
    assert anthropic_mock.request_count == 3
    # The next request is fine.
    r = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "again"}])
    assert r.choices[0].message.content == "Hello from anthropic mock: again"
