//! The Anthropic Messages wire model: answer and stream-event shapes, content
//! blocks, stop reasons, usage and error bodies, as Anthropic sends them. Shared by
//! the Anthropic provider, Claude on Vertex (which answers in Anthropic's shapes)
//! and the Anthropic-format client side ([`crate::client::anthropic`]); Bedrock's
//! Converse mapping shares the usage arithmetic ([`UsageOut::from_counts`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::GatewayError;
use crate::request::CowStr;
use crate::wire::openai::{invalid, ToolCallView};

pub(crate) fn opt_str<'s>(v: &'s Option<CowStr<'_>>) -> Option<&'s str> {
    v.as_ref().map(CowStr::as_str)
}

/// Anthropic's `usage` (message and `message_delta` alike). Also read by
/// the Anthropic-format client side for answers passed back to it untouched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct UsageIn {
    #[serde(default)]
    pub(crate) input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) output_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cache_read_input_tokens: Option<u64>,
}

impl UsageIn {
    /// Counts in `newer` replace ours (`message_delta` counts are cumulative).
    pub(crate) fn merge(&mut self, newer: &UsageIn) {
        self.input_tokens = newer.input_tokens.or(self.input_tokens);
        self.output_tokens = newer.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = newer
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = newer
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
    }

    /// The answer's usage for cost and spend (cache reads and writes counted into
    /// the prompt, as LiteLLM does), or `None` before any count was seen.
    pub(crate) fn to_cost(self) -> Option<crate::cost::Usage> {
        if self.input_tokens.is_none() && self.output_tokens.is_none() {
            return None;
        }
        Some(self.to_openai().to_cost())
    }

    /// OpenAI's `usage` for these counts.
    pub(crate) fn to_openai(self) -> UsageOut {
        UsageOut::from_counts(
            self.input_tokens,
            self.output_tokens,
            self.cache_read_input_tokens,
            self.cache_creation_input_tokens,
        )
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct UsageOut {
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) total_tokens: u64,
    pub(crate) prompt_tokens_details: PromptTokensDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cache_creation_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cache_read_input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct PromptTokensDetails {
    pub(crate) cached_tokens: u64,
}

impl UsageOut {
    /// OpenAI's `usage` from the counts Anthropic's Messages API and Bedrock's
    /// Converse report: `prompt_tokens` counts the uncached input, cache reads and
    /// cache writes (saturating: the numbers are the provider's, and a sum past
    /// u64::MAX must not wrap or panic), `prompt_tokens_details.cached_tokens` the
    /// reads; the two cache counts are repeated as given.
    pub(crate) fn from_counts(
        input: Option<u64>,
        output: Option<u64>,
        cache_read: Option<u64>,
        cache_write: Option<u64>,
    ) -> UsageOut {
        let read = cache_read.unwrap_or(0);
        let prompt = input
            .unwrap_or(0)
            .saturating_add(read)
            .saturating_add(cache_write.unwrap_or(0));
        let completion = output.unwrap_or(0);
        UsageOut {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens: read,
            },
            cache_creation_input_tokens: cache_write,
            cache_read_input_tokens: cache_read,
        }
    }

    /// The usage for cost and spend.
    pub(crate) fn to_cost(self) -> crate::cost::Usage {
        crate::cost::Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cache_read_tokens: self.prompt_tokens_details.cached_tokens,
            cache_creation_tokens: self.cache_creation_input_tokens.unwrap_or(0),
        }
    }
}

/// Anthropic `stop_reason` → OpenAI `finish_reason` (table in the module docs).
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn, and anything new.
        _ => "stop",
    }
}

/// Anthropic's error types and the HTTP status each comes with (Anthropic's Errors
/// reference). Read both ways: the status of a type that arrives without one
/// ([`error_status`]) and the type of a status ([`error_type_for_status`]).
pub(crate) const ERROR_TYPES: [(&str, u16); 10] = [
    ("invalid_request_error", 400),
    ("authentication_error", 401),
    ("billing_error", 402),
    ("permission_error", 403),
    ("not_found_error", 404),
    ("request_too_large", 413),
    ("rate_limit_error", 429),
    ("api_error", 500),
    ("timeout_error", 504),
    ("overloaded_error", 503),
];

/// The status Anthropic gives an error `type`, if it is one of [`ERROR_TYPES`].
pub(crate) fn error_status(kind: &str) -> Option<u16> {
    ERROR_TYPES
        .iter()
        .find(|(t, _)| *t == kind)
        .map(|(_, status)| *status)
}

/// The error `type` for an HTTP status: the contract's
/// ([`switchyard_contract::error_body::anthropic_error_type`]), which the keyservice
/// and Envoy's local replies use too; a test checks it agrees with [`ERROR_TYPES`].
pub(crate) fn error_type_for_status(status: u16) -> &'static str {
    switchyard_contract::error_body::anthropic_error_type(status)
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorIn<'a> {
    #[serde(rename = "type", default, borrow)]
    pub(crate) kind: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) message: Option<CowStr<'a>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody<'a> {
    #[serde(borrow)]
    pub(crate) error: ErrorIn<'a>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MessageBody<'a> {
    #[serde(rename = "type", default, borrow)]
    pub(crate) kind: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) model: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) content: Option<Vec<BlockOut<'a>>>,
    #[serde(default, borrow)]
    pub(crate) stop_reason: Option<CowStr<'a>>,
    #[serde(default)]
    pub(crate) usage: Option<UsageIn>,
    #[serde(default, borrow)]
    pub(crate) error: Option<ErrorIn<'a>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BlockOut<'a> {
    #[serde(rename = "type", borrow)]
    pub(crate) kind: CowStr<'a>,
    #[serde(default, borrow)]
    pub(crate) text: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) thinking: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) name: Option<CowStr<'a>>,
    #[serde(default)]
    pub(crate) input: Option<Value>,
}

/// One Anthropic stream event; every field any event type uses, all optional.
#[derive(Debug, Deserialize)]
pub(crate) struct StreamEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub(crate) kind: CowStr<'a>,
    #[serde(default)]
    pub(crate) index: Option<u64>,
    #[serde(default, borrow)]
    pub(crate) message: Option<StartMessage<'a>>,
    #[serde(default, borrow)]
    pub(crate) content_block: Option<BlockStart<'a>>,
    #[serde(default, borrow)]
    pub(crate) delta: Option<DeltaIn<'a>>,
    #[serde(default)]
    pub(crate) usage: Option<UsageIn>,
    #[serde(default, borrow)]
    pub(crate) error: Option<ErrorIn<'a>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct StartMessage<'a> {
    #[serde(default, borrow)]
    pub(crate) id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) model: Option<CowStr<'a>>,
    #[serde(default)]
    pub(crate) usage: Option<UsageIn>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BlockStart<'a> {
    #[serde(rename = "type", borrow)]
    pub(crate) kind: CowStr<'a>,
    #[serde(default, borrow)]
    pub(crate) text: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) thinking: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) id: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) name: Option<CowStr<'a>>,
}

/// `content_block_delta.delta` and `message_delta.delta` in one shape.
#[derive(Debug, Deserialize)]
pub(crate) struct DeltaIn<'a> {
    #[serde(rename = "type", default, borrow)]
    pub(crate) kind: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) text: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) partial_json: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) thinking: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub(crate) stop_reason: Option<CowStr<'a>>,
}

/// An OpenAI tool call's `function.arguments` as the `input` object of a
/// `tool_use` block (Anthropic's, and Bedrock Converse's `toolUse`): the JSON
/// string decoded (absent, `null` or blank arguments are `{}`; an object passes as
/// it is); anything but an object is a 400 naming `….function.arguments`.
pub(crate) fn tool_input(call: &ToolCallView<'_>) -> Result<Value, GatewayError> {
    let at = || format!("{}.function.arguments", call.at);
    let input = match call.arguments {
        None => Value::Object(Map::new()),
        Some(Value::String(s)) if s.trim().is_empty() => Value::Object(Map::new()),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .map_err(|e| invalid(at(), format!("`function.arguments` is not valid JSON: {e}")))?,
        Some(other) => other.clone(),
    };
    if !input.is_object() {
        return Err(invalid(
            at(),
            "`function.arguments` must encode a JSON object.",
        ));
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cow_str_borrows_unescaped_and_owns_escaped() {
        let d: DeltaIn<'_> =
            serde_json::from_str(r#"{"type":"text_delta","text":"plain"}"#).unwrap();
        assert!(matches!(
            d.text,
            Some(CowStr(std::borrow::Cow::Borrowed("plain")))
        ));
        let d: DeltaIn<'_> = serde_json::from_str(r#"{"text":"a\nb"}"#).unwrap();
        assert_eq!(opt_str(&d.text), Some("a\nb"));
    }

    #[test]
    fn error_types_and_statuses_read_both_ways() {
        for (kind, status) in ERROR_TYPES {
            assert_eq!(error_status(kind), Some(status));
            assert_eq!(error_type_for_status(status), kind);
        }
        assert_eq!(error_type_for_status(529), "overloaded_error");
        assert_eq!(error_type_for_status(422), "invalid_request_error");
        assert_eq!(error_type_for_status(418), "invalid_request_error");
        assert_eq!(error_type_for_status(502), "api_error");
        assert_eq!(error_status("no_such_error"), None);
    }
}
