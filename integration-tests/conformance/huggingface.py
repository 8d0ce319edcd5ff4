"""Hugging Face's conformance row (a TGI server / Inference Endpoint):
its gateway config and what only it does."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from mocks.huggingface import HF_KEY, HuggingFaceMock

from .case import MidStreamError, ProviderCase, ProviderError, Unsupported, reset_mock_and_pacing


#: Hugging Face's tests give a smaller tool.
HF_WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}},
}


def huggingface_config(mock: HuggingFaceMock) -> str:
    # hf-generate has a ChatML-style template (the bos/eos tokens included); hf-tgi
    # names the text-generation task and has none (LiteLLM's default_pt).
    return f"""
model_list:
  - model_name: hf-chat
    litellm_params:
      model: huggingface/tgi
      api_base: {mock.root_url}/v1/
  - model_name: hf-generate
    litellm_params:
      model: huggingface/mistralai/Mistral-7B-Instruct-v0.2
      api_base: {mock.root_url}
      initial_prompt_value: "<<start>>"
      roles:
        system: {{pre_message: "<|im_start|>system\\n", post_message: "<|im_end|>\\n"}}
        user: {{pre_message: "<|im_start|>user\\n", post_message: "<|im_end|>\\n"}}
        assistant: {{pre_message: "<|im_start|>assistant\\n", post_message: "<|im_end|>\\n"}}
      final_prompt_value: "<|im_start|>assistant\\n"
      bos_token: "<s>"
      eos_token: "</s>"
  - model_name: hf-tgi
    litellm_params:
      model: huggingface/text-generation-inference/bigcode/starcoder
      api_base: {mock.root_url}
  - model_name: hf-drop
    litellm_params:
      model: huggingface/text-generation-inference/bigcode/starcoder
      api_base: {mock.root_url}
      drop_params: true
  - model_name: hf-flaky
    litellm_params:
      model: huggingface/text-generation-inference/bigcode/starcoder
      api_base: {mock.root_url}/generate
"""


def _huggingface_unsupported(client: openai.OpenAI, mock: HuggingFaceMock,
                             body: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="hf-generate", messages=[{"role": "user", "content": "x"}],
                                       tools=[HF_WEATHER_TOOL])
    assert err.value.body["param"] == "tools"
    assert "huggingface does not support parameters" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="hf-generate",
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
        )
    assert err.value.body["param"] == "messages[0].content[0].type"
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="hf-generate", input="x")


def _huggingface_dropped(sent: dict[str, Any]) -> None:
    assert set(sent) == {"inputs", "parameters"}


def _huggingface_flaky_path(mock: HuggingFaceMock) -> None:
    assert mock.last_request.path == "/generate", "a base naming /generate is cut back to the endpoint"


HUGGINGFACE = ProviderCase(
    name="huggingface",
    mock=HuggingFaceMock,
    config=huggingface_config,
    env=lambda mock: {"HF_TOKEN": HF_KEY},
    # Streams, tools, images, JSON mode and embeddings: test_huggingface.py (the
    # Messages API passes them through; /generate has its own grammar and prompt).
    supports=frozenset({"mid_stream_error", "unsupported_params", "provider_errors"}),
    greeting="Hello from huggingface mock: ",
    reset=reset_mock_and_pacing,
    chat_model="hf-chat",
    tool=HF_WEATHER_TOOL,
    mid_stream_error=MidStreamError("hf-tgi", 2, "CUDA out of memory", prompt="a b c d"),
    unsupported=Unsupported("hf-generate", {"logit_bias": {"1": 2}}, ("logit_bias",),
                            "huggingface does not support parameters",
                            drop_model="hf-drop",
                            drop_params={"logit_bias": {"1": 2}, "tools": [HF_WEATHER_TOOL]}),
    errors=(
        # TGI's own validation (top_p must be < 1) comes back with its message and status.
        ProviderError("validation", "hf-tgi", openai.UnprocessableEntityError,
                      "Input validation error: `top_p` must be > 0.0 and < 1.0",
                      params={"top_p": 1.0}),
        # Every attempt (num_retries 2), on a group of its own.
        ProviderError("generation-failed", "hf-flaky", openai.InternalServerError,
                      "Request failed during generation", "startswith",
                      fault=lambda mock: mock.fail_next(3, status=424),
                      then=_huggingface_flaky_path),
    ),
    check_unsupported=_huggingface_unsupported,
    check_dropped=_huggingface_dropped,
)
