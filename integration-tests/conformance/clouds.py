"""The OpenAI-compatible clouds and servers: one gateway (the ``clouds`` group), a mock
and a conformance row for each."""

from __future__ import annotations

from typing import Any

import openai

from mocks import CLOUD_PROFILES, MockProvider, OpenAIMock

from .case import GatewayGroup, ProviderCase, ProviderError, Unsupported, reset_mock


# Each prefix gets an OpenAIMock of its own, mounted the way LiteLLM finds the cloud:
# its key from LiteLLM's key variable (no ``api_key`` in the config), its address from
# LiteLLM's ``<PROVIDER>_API_BASE`` variable where LiteLLM reads one (Mistral and LM
# Studio get an ``api_base``). Clouds whose API differs from OpenAI's get the mock's
# profile for them (``mocks.CLOUD_PROFILES``).
#
# prefix: (model id, key variable or None for keyless servers, base variable or None
# for an api_base in the config, tools, embeddings — False where the provider has
# no embeddings API: Groq, DeepSeek, Perplexity, Cerebras)
CLOUDS: dict[str, tuple[str, str | None, str | None, bool, bool]] = {
    "openai": ("gpt-4o-mini", "OPENAI_API_KEY", None, True, True),
    "mistral": ("mistral-small-latest", "MISTRAL_API_KEY", None, True, True),
    "groq": ("llama-3.1-8b-instant", "GROQ_API_KEY", "GROQ_API_BASE", True, False),
    "deepseek": ("deepseek-chat", "DEEPSEEK_API_KEY", "DEEPSEEK_API_BASE", True, False),
    "together_ai": ("meta-llama/Llama-3-8b-chat-hf", "TOGETHERAI_API_KEY", "TOGETHER_AI_API_BASE", True, True),
    "openrouter": ("anthropic/claude-3.5-sonnet", "OPENROUTER_API_KEY", "OPENROUTER_API_BASE", True, True),
    "xai": ("grok-2", "XAI_API_KEY", "XAI_API_BASE", True, True),
    "fireworks_ai": ("llama-v3p1-8b-instruct", "FIREWORKS_AI_API_KEY", "FIREWORKS_API_BASE", True, True),
    "perplexity": ("sonar", "PERPLEXITYAI_API_KEY", "PERPLEXITY_API_BASE", False, False),
    "cerebras": ("llama3.1-8b", "CEREBRAS_API_KEY", "CEREBRAS_API_BASE", True, False),
    "deepinfra": ("meta-llama/Meta-Llama-3-8B-Instruct", "DEEPINFRA_API_KEY", "DEEPINFRA_API_BASE", True, True),
    "hosted_vllm": ("meta-llama/Llama-3.1-8B-Instruct", "HOSTED_VLLM_API_KEY", "HOSTED_VLLM_API_BASE", True, True),
    "lm_studio": ("qwen2.5-7b-instruct", None, None, True, True),
    "llamafile": ("LLaMA_CPP", None, "LLAMAFILE_API_BASE", True, True),
}


def cloud_key(prefix: str) -> str:
    # LiteLLM sends "fake-api-key" to keyless local servers.
    return f"sk-{prefix}-key" if CLOUDS[prefix][1] else "fake-api-key"


def clouds_mocks() -> dict[str, MockProvider]:
    return {prefix: OpenAIMock(api_key=cloud_key(prefix), name=prefix,
                               profile=prefix if prefix in CLOUD_PROFILES else None)
            for prefix in CLOUDS}


def clouds_config(mocks: dict[str, Any]) -> str:
    lines = ["model_list:"]
    for prefix, (model, _, base_var, _, _) in CLOUDS.items():
        lines += [f"  - model_name: {prefix}", "    litellm_params:", f"      model: {prefix}/{model}"]
        if base_var is None:
            lines.append(f"      api_base: {mocks[prefix].base_url}")
        if prefix == "openai":
            # With a custom api_base, openai/ reads no default key (LiteLLM neither).
            lines.append("      api_key: os.environ/OPENAI_API_KEY")
    lines += [
        "  - model_name: mistral-drop",
        "    litellm_params:",
        "      model: mistral/mistral-small-latest",
        f"      api_base: {mocks['mistral'].base_url}",
        "      drop_params: true",
        "  - model_name: magistral",
        "    litellm_params:",
        "      model: mistral/magistral-medium-2506",
        f"      api_base: {mocks['mistral'].base_url}",
    ]
    return "\n".join(lines) + "\n"


def clouds_env(mocks: dict[str, Any]) -> dict[str, str | None]:
    env: dict[str, str | None] = {}
    for prefix, (_, key_var, base_var, _, _) in CLOUDS.items():
        if key_var:
            env[key_var] = cloud_key(prefix)
        if base_var:
            env[base_var] = mocks[prefix].base_url
    return env


CLOUDS_GROUP = GatewayGroup("clouds", clouds_mocks, clouds_config, clouds_env)


# The model id each cloud receives (Fireworks ids get their account path).
SENT_MODEL = {p: CLOUDS[p][0] for p in CLOUDS} | {
    "fireworks_ai": "accounts/fireworks/models/llama-v3p1-8b-instruct"
}


def _cloud_stream_usage(mock: OpenAIMock, model: str, chunks: list[Any],
                        arrivals: list[float], usage: Any) -> None:
    assert usage.completion_tokens == 6
    sent = mock.last_request.json
    if mock.stream_usage_always:
        assert "stream_options" not in sent, "this cloud refuses it; its streams carry usage"
    else:
        assert sent["stream_options"] == {"include_usage": True}


def _cloud_image(mock: OpenAIMock, model: str, part: dict[str, Any]) -> None:
    assert mock.last_request.json["messages"][0]["content"][1] == part


def _cloud_json_mode(client: openai.OpenAI, mock: OpenAIMock) -> None:
    assert mock.last_request.json["response_format"] == {"type": "json_object"}


def _cloud_embeddings(client: openai.OpenAI, mock: OpenAIMock, e: Any) -> None:
    req = mock.last_request
    assert req.path == "/v1/embeddings"
    assert req.json["model"] == SENT_MODEL[mock.name]


# LiteLLM's tables leave reasoning_effort out for DeepInfra and Fireworks, and for
# Mistral's models other than Magistral (test_clouds.py: test_magistral_reasoning).
NO_REASONING = {"mistral", "deepinfra", "fireworks_ai"}


def _cloud_reasoning(client: openai.OpenAI, mock: OpenAIMock, model: str) -> None:
    assert mock.last_request.json["reasoning_effort"] == "low"


def _mistral_unsupported(client: openai.OpenAI, mock: OpenAIMock, body: dict[str, Any]) -> None:
    assert "drop_params" in body["message"]


def _mistral_dropped(sent: dict[str, Any]) -> None:
    assert "logit_bias" not in sent


def cloud(prefix: str, **row: Any) -> ProviderCase:
    """The row of one cloud of :data:`CLOUDS` (in :data:`CLOUDS_GROUP`)."""
    _, _, _, tools, embeddings = CLOUDS[prefix]
    # Perplexity has no tools (refused: a 400 naming `tools`); Groq, DeepSeek,
    # Perplexity and Cerebras no embeddings API.
    supports = {"stream_usage", "stream_no_usage", "image", "json_mode"}
    supports |= {"streamed_tool_call", "tool_round_trip"} if tools else set()
    supports |= {"embeddings"} if embeddings else set()
    supports |= set() if prefix in NO_REASONING else {"reasoning"}
    supports |= {"unsupported_params"} if "unsupported" in row else set()
    supports |= {"provider_errors"} if "errors" in row else set()
    return ProviderCase(
        # openai/ with a custom api_base is what openai_like servers are.
        name="openai_like" if prefix == "openai" else prefix,
        group=CLOUDS_GROUP,
        mock_name=prefix,
        supports=frozenset(supports),
        greeting=f"Hello from {prefix} mock: ",
        reset=reset_mock,
        client_key="sk-client-key-must-not-reach-clouds",
        chat_model=prefix,
        no_usage_model=prefix,
        tools_model=prefix,
        tool_result_answer=f"{prefix} mock received tool result: 18C and sunny",
        json_model=prefix,
        image_models=(prefix,),
        embedding_model=prefix,
        stream_models=(prefix,),
        refuses=frozenset(({"reasoning"} if prefix in NO_REASONING else set())
                          | (set() if tools else {"tool_round_trip"})),
        reasoning_models=(prefix,),
        reasoning_efforts=("low", "high"),
        reasoning_answer=lambda effort: f"{prefix} mock reasoned ({effort})",
        check_reasoning=_cloud_reasoning,
        stream_pace=None,
        stream_prompt="stream me",
        check_stream_usage=_cloud_stream_usage,
        check_image=_cloud_image,
        check_json_mode=_cloud_json_mode,
        check_embeddings=_cloud_embeddings,
        usage_always=bool(CLOUD_PROFILES.get(prefix, {}).get("stream_usage_always")),
        **row,
    )


CLOUD_ROWS = [
    cloud("mistral",
          unsupported=Unsupported("mistral", {"logit_bias": {"1": 2}}, ("logit_bias",),
                                  "mistral does not support parameters", match="startswith",
                                  drop_model="mistral-drop", drop_params={"logit_bias": {"1": 2}},
                                  drop_prompt="dropped"),
          check_unsupported=_mistral_unsupported,
          check_dropped=_mistral_dropped),
    cloud("groq",
          errors=(ProviderError("bad-key", "groq", openai.AuthenticationError,
                                "Incorrect API key provided", "startswith", code="401",
                                fault=lambda mock: mock.fail_next(1, status=401)),)),
    *(cloud(prefix) for prefix in CLOUDS if prefix not in ("mistral", "groq")),
]
