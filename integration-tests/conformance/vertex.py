"""Vertex AI (``vertex_ai/``) behind one two-worker gateway (the ``vertex`` group, the
gateway of ``test_vertex.py``), and its two conformance rows: Gemini on Vertex and
Claude on Vertex.

The group's mocks are Google's token endpoint (:class:`mocks.GoogleOAuthMock`, which
verifies the service account's JWT) and Vertex itself (:class:`mocks.VertexMock`,
which accepts only the tokens the OAuth mock issued); its Envoy runs two workers, so
that ``test_vertex.py`` can show their filter VMs share one token. Both rows send to
the one Vertex mock, which answers Gemini (``publishers/google``, the mock's own
words are Gemini's) and Claude (``publishers/anthropic``, the
``claude-on-vertex`` mock) models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai

from mocks import DEFAULT_TOOL_ARGS, GoogleOAuthMock, MockProvider, VertexMock

from .case import PIXEL, GatewayGroup, ProviderCase, reset_mock

ROOT = Path(__file__).resolve().parent.parent.parent
#: The tests' own RSA key of the service account (the filter's unit tests use it too).
TEST_KEY = (ROOT / "filter" / "src" / "testdata" / "google_test_key.pem").read_text()
CLIENT_EMAIL = "gateway@proj-1.iam.gserviceaccount.com"
PROJECT, LOCATION = "proj-1", "us-east5"
CLIENT_KEY = "sk-client-key-must-not-reach-vertex"
MODELS = {"gemini-2.5-flash", "claude-sonnet-4@20250514", "text-embedding-005"}
#: The token lifetime of the group's OAuth mock. Google's is 3599 s and the gateway
#: refreshes at half life; the group lives from ``test_conformance.py`` to the end of
#: ``test_vertex.py``, whose ``test_one_token_for_many_requests`` counts one token
#: fetch since the gateway started, so the shared token must outlive a long session.
#: (Refreshing is ``test_vertex.py``'s own gateway with 8-second tokens.)
GROUP_TOKEN_SECONDS = 4 * 3600


def service_account(token_uri: str, email: str = CLIENT_EMAIL) -> str:
    """A throwaway service-account key file's JSON (the key is the tests' own)."""
    return json.dumps({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "test-key-1",
        "private_key": TEST_KEY,
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": token_uri,
    })


def deployment(name: str, model: str, vertex: VertexMock, credentials: str, extra: str = "") -> str:
    """One ``vertex_ai/`` deployment of a config's ``model_list``."""
    return f"""
  - model_name: {name}
    litellm_params:
      model: vertex_ai/{model}
      vertex_project: {PROJECT}
      vertex_location: {LOCATION}
      vertex_credentials: {credentials}
      api_base: {vertex.root_url}
{extra}"""


def vertex_mocks() -> dict[str, MockProvider]:
    # Started in this order: the token endpoint first.
    oauth = GoogleOAuthMock(CLIENT_EMAIL, TEST_KEY, expires_in=GROUP_TOKEN_SECONDS)
    return {"oauth": oauth, "vertex": VertexMock(oauth, PROJECT, LOCATION, models=MODELS)}


def vertex_config(mocks: dict[str, Any]) -> str:
    # One account for three route clusters, on two workers (six root contexts): one token.
    vertex = mocks["vertex"]
    return "model_list:" + "".join([
        deployment("vertex-gemini", "gemini-2.5-flash", vertex, "os.environ/VERTEX_SA_JSON"),
        deployment("vertex-claude", "claude-sonnet-4@20250514", vertex, "os.environ/VERTEX_SA_JSON"),
        deployment("vertex-embed", "text-embedding-005", vertex, "os.environ/VERTEX_SA_JSON",
                   "    model_info: {mode: embedding}\n"),
    ])


def vertex_env(mocks: dict[str, Any]) -> dict[str, str | None]:
    return {"VERTEX_SA_JSON": service_account(mocks["oauth"].token_uri)}


VERTEX_GROUP = GatewayGroup("vertex", vertex_mocks, vertex_config, vertex_env, workers=2)

#: The forced tool choice of the Vertex rows' tool round trip.
FORCED_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


# --- Gemini on Vertex ------------------------------------------------------------------


def _gemini_image(mock: VertexMock, model: str, part: dict[str, Any]) -> None:
    sent = mock.last_request.json
    assert sent["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PIXEL}}


def _gemini_reasoning(client: openai.OpenAI, mock: VertexMock, model: str) -> None:
    assert mock.last_request.json["generationConfig"]["thinkingConfig"]["includeThoughts"] is True


def _gemini_stream_usage(mock: VertexMock, model: str, chunks: list[Any],
                         arrivals: list[float], usage: Any) -> None:
    assert usage.prompt_tokens == 3 and usage.completion_tokens == 7 + VertexMock.thought_tokens
    req = mock.last_request
    assert req.path.endswith("/publishers/google/models/gemini-2.5-flash:streamGenerateContent")
    assert req.query == {"alt": "sse"}


VERTEX_GEMINI = ProviderCase(
    name="vertex_ai-gemini",
    group=VERTEX_GROUP,
    mock_name="vertex",
    # Chat and the service account's token, embeddings (predict), the token's refresh
    # and failures, the two workers' one token: test_vertex.py.
    supports=frozenset({"tool_round_trip", "image", "json_mode", "streamed_tool_call", "reasoning",
                        "stream_usage"}),
    greeting="Hello from vertex mock: ",
    reset=reset_mock,
    client_key=CLIENT_KEY,
    tools_model="vertex-gemini",
    tool_choice=FORCED_WEATHER,
    # The Gemini mock's own wording names Gemini (VertexMock is a GeminiMock).
    tool_result_answer='gemini mock received tool result: get_weather={"content":"18C and sunny"}',
    image_models=("vertex-gemini",),
    json_model="vertex-gemini",
    reasoning_models=("vertex-gemini",),
    reasoning_efforts=("low", "low"),
    reasoning_answer=lambda effort: "gemini mock thought (1024)",
    stream_models=("vertex-gemini",),
    stream_prompt="stream on vertex",
    stream_pace=None,
    check_image=_gemini_image,
    check_reasoning=_gemini_reasoning,
    check_stream_usage=_gemini_stream_usage,
)


# --- Claude on Vertex ------------------------------------------------------------------


def _claude_image(mock: VertexMock, model: str, part: dict[str, Any]) -> None:
    assert mock.last_request.json["messages"][0]["content"][1] == {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}}


def _claude_json_mode(client: openai.OpenAI, mock: VertexMock) -> None:
    """Claude's JSON mode: LiteLLM's forced ``json_tool_call``, its input as the
    content, streamed too."""
    assert mock.last_request.json["tool_choice"] == {"name": "json_tool_call", "type": "tool"}
    content = ""
    for chunk in client.chat.completions.create(
        model="vertex-claude", messages=[{"role": "user", "content": "json please"}],
        response_format={"type": "json_object"}, stream=True,
    ):
        if chunk.choices:
            content += chunk.choices[0].delta.content or ""
    assert json.loads(content) == DEFAULT_TOOL_ARGS


def _claude_stream_usage(mock: VertexMock, model: str, chunks: list[Any],
                         arrivals: list[float], usage: Any) -> None:
    assert usage.completion_tokens == 6  # the words of "Hello from claude-on-vertex mock: stream claude"
    req = mock.last_request
    assert req.path.endswith(":streamRawPredict") and req.json["stream"] is True


def _claude_reasoning(client: openai.OpenAI, mock: VertexMock, model: str) -> None:
    assert mock.last_request.json["thinking"] == {"type": "enabled", "budget_tokens": 1024}


VERTEX_CLAUDE = ProviderCase(
    name="vertex_ai-claude",
    group=VERTEX_GROUP,
    mock_name="vertex",
    # Chat (rawPredict), unsupported parameters: test_vertex.py.
    supports=frozenset({"tool_round_trip", "image", "json_mode", "streamed_tool_call", "reasoning",
                        "stream_usage"}),
    greeting="Hello from claude-on-vertex mock: ",
    reset=reset_mock,
    client_key=CLIENT_KEY,
    tools_model="vertex-claude",
    tool_choice=FORCED_WEATHER,
    tool_result_answer="claude-on-vertex mock received tool result: 18C and sunny",
    image_models=("vertex-claude",),
    json_model="vertex-claude",
    # The forced json_tool_call's input: the mock's tool arguments.
    json_answer=DEFAULT_TOOL_ARGS,
    reasoning_models=("vertex-claude",),
    reasoning_efforts=("low", "low"),
    reasoning_answer=lambda effort: "claude-on-vertex mock thought (1024 tokens)",
    stream_models=("vertex-claude",),
    stream_prompt="stream claude",
    stream_pace=None,
    check_stream_usage=_claude_stream_usage,
    check_image=_claude_image,
    check_json_mode=_claude_json_mode,
    check_reasoning=_claude_reasoning,
)
