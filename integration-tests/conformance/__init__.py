"""The conformance table: one row per provider, for ``test_conformance.py``.

A :class:`~conformance.case.ProviderCase` says how to start the provider's mock, the
gateway config in front of it and its environment (or which :class:`GatewayGroup`
it shares a gateway in), and what the provider does with each feature of the OpenAI
API that ``test_conformance.py`` tests once for every row (tool round trips, streamed
tool calls, images, JSON mode, embeddings, streams with and without usage, errors
mid-stream, unsupported parameters, provider errors). A feature the provider does
not have, or whose test lives in the provider's own file, is left out of
``supports`` with a comment that says which; what the provider does that others
don't (the native request it receives, its own ids) is a ``check_*`` function of the
row, so each assertion of the old per-provider copies lives on in exactly one place.

One module per row (or group of rows sharing a gateway): ``cohere``, ``gemini``,
``ollama``, ``huggingface``, ``bedrock``, ``clouds`` (the OpenAI-compatible clouds),
``providers`` (OpenAI, Azure, Anthropic), ``vertex`` (Gemini and Claude on Vertex, one
two-worker gateway: ``GatewayGroup.workers``); ``case`` has the row types and the
helpers.

The provider's own tests (quirks, auth, special endpoints) stay in its
``test_<provider>.py`` and share the row's gateway: ``conftest.provider_stacks``
starts each group's mocks and gateway once per session, whichever file asks first.

Adding a provider: its mock module in ``mocks/``, its row module here, and the row
in :data:`CONFORMANCE`.
"""

from __future__ import annotations

from mocks import DEFAULT_TOOL_ARGS

from .bedrock import BEDROCK
from .case import (
    FEATURES,
    PIXEL,
    WEATHER_TOOL,
    GatewayGroup,
    MidStreamError,
    ProviderCase,
    ProviderError,
    ProviderStack,
    Unsupported,
    collect_tool_calls,
    timed_chunks,
    tool_args,
)
from .clouds import CLOUD_ROWS, CLOUDS, CLOUDS_GROUP, SENT_MODEL, cloud_key
from .cohere import COHERE
from .gemini import GEMINI, GEMINI_WEATHER_TOOL
from .huggingface import HF_WEATHER_TOOL, HUGGINGFACE
from .ollama import OLLAMA
from .providers import ANTHROPIC, AZURE, OPENAI, PROVIDERS_GROUP
from .vertex import VERTEX_CLAUDE, VERTEX_GEMINI, VERTEX_GROUP

#: Every provider, in the order the suite runs them.
CONFORMANCE: list[ProviderCase] = [OPENAI, AZURE, ANTHROPIC, BEDROCK, COHERE, GEMINI, VERTEX_GEMINI,
                                   VERTEX_CLAUDE, HUGGINGFACE, OLLAMA, *CLOUD_ROWS]


def group(name: str) -> GatewayGroup:
    """The gateway group named ``name``."""
    for row in CONFORMANCE:
        if row.group is not None and row.group.name == name:
            return row.group
    raise KeyError(name)


__all__ = [
    "CLOUDS", "CLOUDS_GROUP", "CONFORMANCE", "DEFAULT_TOOL_ARGS", "FEATURES", "GEMINI_WEATHER_TOOL",
    "GatewayGroup", "HF_WEATHER_TOOL", "MidStreamError", "PIXEL", "PROVIDERS_GROUP", "ProviderCase",
    "ProviderError", "ProviderStack", "SENT_MODEL", "Unsupported", "VERTEX_GROUP", "WEATHER_TOOL", "cloud_key",
    "collect_tool_calls", "group", "timed_chunks", "tool_args",
]
