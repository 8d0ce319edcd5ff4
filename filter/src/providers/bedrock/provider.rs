//! Amazon Bedrock: its row in the provider registry — the [`Provider`] implementation
//! the stages call (configure-time facts and per-attempt translation).

use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::providers::provider::{into_map, Answer, Attempt, Provider, Translated};
use crate::providers::{
    bedrock, ParamTable, ProviderKind, ProviderRequest, ResponseContext, StreamTranslate,
};
use crate::request::TopLevel;

/// Amazon Bedrock Runtime: Converse, ConverseStream, InvokeModel embeddings.
#[derive(Debug)]
pub struct Bedrock;

/// The header naming a Bedrock request (the answer's id).
const BEDROCK_REQUEST_ID: &str = "x-amzn-requestid";

impl Provider for Bedrock {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Bedrock
    }

    fn param_table(&self, endpoint: Endpoint, model: &str) -> ParamTable {
        bedrock::param_table(endpoint, model)
    }

    fn translate(
        &self,
        attempt: &Attempt<'_>,
        request: &Map<String, Value>,
    ) -> Result<ProviderRequest, GatewayError> {
        bedrock::translate_request(
            attempt.endpoint,
            request,
            attempt.model,
            attempt.drop_params,
        )
        .map(|(r, _)| r)
    }

    fn translate_request(
        &self,
        attempt: &Attempt<'_>,
        request: TopLevel<'_>,
    ) -> Result<Translated, GatewayError> {
        let request = into_map(request)?;
        // AWS's SDKs send the length; so does the gateway (the body is whole).
        if attempt.endpoint == Endpoint::Embeddings {
            if let Some(calls) = bedrock::titan_calls(&request, attempt.model)? {
                // Titan, a list `input`: this request carries the first input, the
                // others are calls of the stage's own.
                let mut calls = calls.into_iter();
                if let Some(first) = calls.next() {
                    return Ok(Translated {
                        content_length: true,
                        fan_out: Some(calls.collect()),
                        ..Translated::replaced(first)
                    });
                }
            }
        }
        let (translated, rewritten) = bedrock::translate_request(
            attempt.endpoint,
            &request,
            attempt.model,
            attempt.drop_params,
        )?;
        Ok(Translated {
            rewritten,
            content_length: true,
            ..Translated::replaced(translated)
        })
    }

    fn translate_response(
        &self,
        answer: &Answer<'_>,
        ctx: &ResponseContext,
        body: &[u8],
    ) -> Result<Vec<u8>, GatewayError> {
        let request_id = (answer.header)(BEDROCK_REQUEST_ID);
        let out = bedrock::translate_response(answer.endpoint, body, ctx, request_id.as_deref())?;
        Ok(if answer.endpoint == Endpoint::Embeddings {
            let tokens = (answer.header)("x-amzn-bedrock-input-token-count");
            bedrock::embedding_usage_from_header(out, tokens.as_deref())
        } else {
            out
        })
    }

    fn fan_out_embedding(&self, body: &[u8]) -> Result<(Vec<f64>, u64), GatewayError> {
        bedrock::titan_answer(body)
    }

    fn fan_out_list(
        &self,
        vectors: &[Vec<f64>],
        tokens: u64,
        model: &str,
        base64: bool,
    ) -> Result<Vec<u8>, GatewayError> {
        bedrock::titan_embedding_list(vectors, tokens, model, base64)
    }

    fn stream_translator(
        &self,
        answer: &Answer<'_>,
        ctx: ResponseContext,
    ) -> Box<dyn StreamTranslate> {
        let request_id = (answer.header)(BEDROCK_REQUEST_ID);
        Box::new(bedrock::StreamTranslator::new(
            answer.endpoint,
            ctx,
            request_id.as_deref(),
        ))
    }

    fn translate_error(
        &self,
        status: u16,
        body: &[u8],
        header: &dyn Fn(&str) -> Option<String>,
    ) -> GatewayError {
        // Bedrock names the error's type in a header.
        let error_type = header("x-amzn-errortype");
        bedrock::translate_error(status, body, error_type.as_deref())
    }
}
