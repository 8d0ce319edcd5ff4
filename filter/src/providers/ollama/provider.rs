//! Ollama: its row in the provider registry — the [`Provider`] implementation
//! the stages call (configure-time facts and per-attempt translation).

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::provider::{Answer, Attempt, Provider};
use crate::providers::{
    ollama, ParamTable, ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};

/// Ollama: `/api/generate` (a prompt built from the messages) or `/api/chat`.
#[derive(Debug)]
pub struct Ollama {
    /// `/api/chat` (`ollama_chat/`).
    chat: bool,
}

pub(crate) static OLLAMA: Ollama = Ollama { chat: false };
pub(crate) static OLLAMA_CHAT: Ollama = Ollama { chat: true };

impl Provider for Ollama {
    fn kind(&self) -> ProviderKind {
        if self.chat {
            ProviderKind::OllamaChat
        } else {
            ProviderKind::Ollama
        }
    }

    fn param_table(&self, endpoint: Endpoint, _model: &str) -> ParamTable {
        ParamTable::Only(ollama::supported_params(self.chat, endpoint))
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        ollama::translate_request(self.chat, attempt.endpoint, request, attempt.model)
    }

    fn translate_response(
        &self,
        answer: &Answer<'_>,
        ctx: &ResponseContext,
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError> {
        ollama::translate_response(answer.endpoint, body, ctx)
    }

    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate> {
        Box::new(ollama::StreamTranslator::new(answer.endpoint, ctx))
    }

    // Ollama's errors are `{"error": "<text>"}`, which the OpenAI mapping reads.
}
