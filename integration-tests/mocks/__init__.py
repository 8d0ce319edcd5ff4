"""Mock LLM providers for the integration tests: one module per provider's native API.

``base`` has the HTTP plumbing they share (:class:`MockProvider`); ``openai``
(and the OpenAI-compatible clouds' :data:`CLOUD_PROFILES`), ``azure``,
``anthropic``, ``ollama``, ``gemini``, ``vertex``, ``cohere``, ``huggingface`` and
``bedrock`` each hold one provider's mock.

The constants are the credentials and Azure deployments the pytest fixtures
(conftest.py) start the mocks with, so tests and gateway configs can use them.
"""

from .anthropic import AnthropicMock
from .azure import AzureMock
from .base import DEFAULT_TOOL_ARGS, MockProvider, RecordedRequest
from .gemini import GeminiMock
from .ollama import OllamaMock
from .openai import CLOUD_PROFILES, OpenAIMock
from .vertex import GoogleOAuthMock, VertexMock

OPENAI_KEY = "sk-openai-mock-key"
AZURE_KEY = "azure-mock-key-0123456789"
ANTHROPIC_KEY = "sk-ant-mock-key"
GEMINI_KEY = "AIza-gemini-mock-key"
AZURE_API_VERSION = "2024-10-21"
AZURE_DEPLOYMENTS = {
    "gpt-4o-deploy": "gpt-4o-2024-08-06",
    "embedding-deploy": "text-embedding-3-small",
}

__all__ = [
    "ANTHROPIC_KEY",
    "AZURE_API_VERSION",
    "AZURE_DEPLOYMENTS",
    "AZURE_KEY",
    "OPENAI_KEY",
    "AnthropicMock",
    "AzureMock",
    "CLOUD_PROFILES",
    "DEFAULT_TOOL_ARGS",
    "GEMINI_KEY",
    "GeminiMock",
    "GoogleOAuthMock",
    "MockProvider",
    "OllamaMock",
    "OpenAIMock",
    "RecordedRequest",
    "VertexMock",
]
