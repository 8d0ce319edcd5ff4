"""Amazon Bedrock's conformance row (Converse, ConverseStream, invoke; SigV4):
its gateway config and what only Bedrock does."""

from __future__ import annotations

from typing import Any

import openai

from mocks.bedrock import BEDROCK_API_KEY, SESSION_KEY, STATIC_KEY, BedrockMock

from .case import FEATURES, MidStreamError, ProviderCase, ProviderError, Unsupported, reset_mock


BEDROCK_CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
BEDROCK_CLAUDE_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"


def bedrock_config(mock: BedrockMock) -> str:
    # `claude` signs with litellm_params keys (os.environ/), `claude-37` and the
    # embedding models with the standard AWS variables (session credentials), one
    # uses a Bedrock API key, one a wrong secret.
    return f"""
model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/converse/{BEDROCK_CLAUDE}
      aws_access_key_id: os.environ/BR_KEY_ID
      aws_secret_access_key: os.environ/BR_SECRET
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: {mock.root_url}
  - model_name: claude-drop
    litellm_params:
      model: bedrock/{BEDROCK_CLAUDE}
      aws_access_key_id: os.environ/BR_KEY_ID
      aws_secret_access_key: os.environ/BR_SECRET
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: {mock.root_url}
      drop_params: true
  - model_name: claude-37
    litellm_params:
      model: bedrock/{BEDROCK_CLAUDE_37}
      aws_bedrock_runtime_endpoint: {mock.root_url}
  - model_name: claude-bearer
    litellm_params:
      model: bedrock/{BEDROCK_CLAUDE}
      api_key: os.environ/BR_API_KEY
      api_base: {mock.root_url}
  - model_name: claude-wrong-secret
    litellm_params:
      model: bedrock/{BEDROCK_CLAUDE}
      aws_access_key_id: os.environ/BR_KEY_ID
      aws_secret_access_key: os.environ/BR_WRONG_SECRET
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: {mock.root_url}
  - model_name: titan
    litellm_params:
      model: bedrock/amazon.titan-embed-text-v2:0
      aws_bedrock_runtime_endpoint: {mock.root_url}
      input_cost_per_token: 0.0000001
    model_info: {{mode: embedding}}
  - model_name: cohere-embed
    litellm_params:
      model: bedrock/cohere.embed-english-v3
      aws_bedrock_runtime_endpoint: {mock.root_url}
    model_info: {{mode: embedding}}
router_settings:
  num_retries: 0
"""


def bedrock_env(mock: BedrockMock) -> dict[str, str | None]:
    return {
        "BR_KEY_ID": STATIC_KEY.access_key_id,
        "BR_SECRET": STATIC_KEY.secret_access_key,
        "BR_WRONG_SECRET": "not-the-secret-" + STATIC_KEY.secret_access_key,
        "BR_API_KEY": BEDROCK_API_KEY,
        # The standard variables: temporary (session) credentials.
        "AWS_ACCESS_KEY_ID": SESSION_KEY.access_key_id,
        "AWS_SECRET_ACCESS_KEY": SESSION_KEY.secret_access_key,
        "AWS_SESSION_TOKEN": SESSION_KEY.session_token,
        "AWS_REGION": "us-east-1",
        "AWS_BEARER_TOKEN_BEDROCK": None,
        "AWS_REGION_NAME": None,
        "AWS_BEDROCK_RUNTIME_ENDPOINT": None,
    }


def _bedrock_reset(mock: BedrockMock) -> None:
    reset_mock(mock)
    mock.embedding_delays = {}
    mock.embedding_failures = {}


def _bedrock_stream_usage(mock: BedrockMock, model: str, chunks: list[Any],
                          arrivals: list[float], usage: Any) -> None:
    for chunk in chunks:
        if chunk.usage:
            assert chunk.choices == [], "usage comes in its own last chunk"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 7, 10)
    arrivals = [at for at, chunk in zip(arrivals, chunks)
                if chunk.choices and chunk.choices[0].delta.content]
    assert arrivals[-1] - arrivals[0] > 0.3, f"chunks were buffered: {arrivals}"
    req = mock.last_request
    assert req.raw_path.endswith("/converse-stream")
    assert req.status == 200


def _bedrock_streamed_tool_call(mock: BedrockMock, calls: dict[int, dict], plan: str,
                                usage: Any) -> None:
    assert list(calls) == [0]
    assert calls[0]["id"].startswith("tooluse_")


def _bedrock_refused_with_400(mock: BedrockMock) -> None:
    assert mock.last_request.status == 400


def _bedrock_dropped(sent: dict[str, Any]) -> None:
    assert sent == {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}


BEDROCK = ProviderCase(
    name="bedrock",
    mock=BedrockMock,
    config=bedrock_config,
    env=bedrock_env,
    # No test of a stream without a usage request or of text completions: Bedrock's
    # never had one. Tool round
    # trips (tool_choice required), images (bytes; URLs refused), JSON mode (through a
    # forced tool), embeddings (Titan, Cohere) and reasoning (thinking, streamed):
    # test_bedrock.py.
    supports=FEATURES - {"stream_no_usage", "tool_round_trip", "image", "json_mode", "embeddings",
                         "reasoning", "text_completion"},
    greeting="Hello from bedrock mock: ",
    reset=_bedrock_reset,
    chat_model="claude",
    stream_models=("claude",),
    tools_model="claude",
    stream_spread=0.0,
    mid_stream_error=MidStreamError("claude", 2, "Too many tokens", prompt="stream then fail",
                                    text_before=None),
    unsupported=Unsupported("claude", {"user": "u-1", "seed": 3}, ("user", "seed"), "drop_params",
                            prompt="hi", drop_model="claude-drop",
                            drop_params={"user": "u-1", "seed": 3}, drop_prompt="hi"),
    errors=(
        ProviderError("throttling", "claude", openai.RateLimitError,
                      "Too many requests, please wait before trying again.", type="rate_limit_error",
                      params={"messages": [{"role": "user", "content": "hi"}]},
                      fault=lambda mock: mock.fail_with(
                          "ThrottlingException",
                          "Too many requests, please wait before trying again.", 429)),
        ProviderError("model-not-ready", "claude", openai.InternalServerError, status_code=503,
                      params={"messages": [{"role": "user", "content": "hi"}]},
                      fault=lambda mock: mock.fail_with(
                          "ModelNotReadyException",
                          "Model is not ready to serve inference requests.", 429)),
        # temperature 1.5 passes the gateway and is Bedrock's to refuse.
        ProviderError("validation", "claude", openai.BadRequestError,
                      "The value at inferenceConfig.temperature must be between 0 and 1.",
                      params={"messages": [{"role": "user", "content": "hi"}], "temperature": 1.5},
                      then=_bedrock_refused_with_400),
    ),
    check_stream_usage=_bedrock_stream_usage,
    check_streamed_tool_call=_bedrock_streamed_tool_call,
    check_dropped=_bedrock_dropped,
)
