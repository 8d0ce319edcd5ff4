//! The request's record, from the router stage's side: the call drawn when the
//! request comes (`observe::call`), the `x-litellm-*` headers on its answer, the
//! access log's fields when the answer ends, and — when Envoy logs the request —
//! the one [`RequestRecord`] handed to the observers, with the attempts the
//! upstream stage left in the worker's ledger.
//!
//! The first pass of an error fallback (an internal redirect) is no request end:
//! its attempts stay in the ledger for the replay, which continues the call.

use super::*;
use crate::observe::call::{self, CALL_ID_PROPERTY, CALL_ID_RESPONSE_HEADER, CALL_START_PROPERTY};
use crate::observe::{AttemptRecord, KeyLabels, RequestRecord};
use crate::spend::{KeyFacts, INTERNAL_REDIRECT_DETAILS, KEY_PROPERTY};
use switchyard_contract::filter_state::access_log as log_field;

/// What the router stage learns of a request for its record.
#[derive(Debug, Default, Clone)]
pub(super) struct CallFacts {
    /// The call id (`observe::call`).
    pub(super) call_id: String,
    /// The redacted path, as the access log prints it (`log_path`).
    pub(super) route: String,
    /// When the request came (the first pass's start, on a replay), Unix ms.
    pub(super) start_ms: u64,
    /// The model the client asked for, bounded.
    pub(super) requested_model: String,
    /// The client asked for a stream.
    pub(super) stream: bool,
    /// The body's `user`, bounded.
    pub(super) end_user: String,
    /// The client's `user-agent` header, bounded.
    pub(super) user_agent: String,
    /// LiteLLM's call type, for an LLM call.
    pub(super) call_type: &'static str,
    /// The error this stage answered with, bounded.
    pub(super) error: Option<String>,
    /// The access log's fields are set (at the answer's end).
    pub(super) logged: bool,
    /// Who the request was admitted for, as read for the access log's fields (read
    /// once: the record reuses it).
    pub(super) key: Option<KeyLabels>,
    /// What the logging callbacks carry beyond the facts above (the client's
    /// metadata, parameters, messages), when callbacks are configured.
    pub(super) details: Option<Box<crate::observe::RequestDetails>>,
}

/// Envoy's `response.code`: an integer attribute, which proxy-wasm hands over as
/// eight little-endian bytes (text accepted too).
fn response_code(raw: &[u8]) -> Option<u16> {
    if let Ok(bytes) = <[u8; 8]>::try_from(raw) {
        return u16::try_from(i64::from_le_bytes(bytes)).ok();
    }
    std::str::from_utf8(raw).ok()?.trim().parse().ok()
}

fn text_property(host: &dyn Host, path: &[&str]) -> Option<String> {
    host.property(path)
        .and_then(|raw| String::from_utf8(raw).ok())
        .filter(|text| !text.is_empty())
}

impl RouterExchange {
    /// Draws the request's call id (or, on an error fallback's replay, continues
    /// the call its redirect carried) and records it in filter state.
    pub(super) fn start_call(&mut self, host: &mut dyn Host, replay: bool, carried: Option<&str>) {
        let now = host.now_unix_millis();
        let (id, start) = call::for_request(host, replay, carried, now);
        host.set_property(&[CALL_ID_PROPERTY], id.as_bytes());
        host.set_property(&[CALL_START_PROPERTY], start.to_string().as_bytes());
        self.call.call_id = id;
        self.call.start_ms = start;
    }

    /// The call id of this request (empty before its headers came).
    pub fn call_id(&self) -> &str {
        &self.call.call_id
    }

    /// A client error answered here (now, or by the responder once the key is
    /// checked); remembered for the request's record.
    pub(super) fn reply_error(
        &mut self,
        router: &Router,
        host: &mut dyn Host,
        err: &GatewayError,
    ) -> Flow {
        self.call.error = Some(crate::observe::bounded(&err.message));
        reply_error(router, host, err, self.api)
    }

    /// Response headers: the call id and the timing headers, on every answer (a
    /// provider's, a local one, Envoy's own errors).
    pub fn on_response_headers(&mut self, host: &mut dyn Host) {
        if self.call.call_id.is_empty() {
            return;
        }
        // A redirect Envoy did not follow never shows the call's carrier.
        host.set_response_header(call::CALL_ID_CARRIER_HEADER, None);
        let attempts = host.peek_attempts(&self.call.call_id);
        let [duration, overhead] = call::timing_headers(
            self.call.start_ms,
            host.now_unix_millis(),
            call::provider_ms(&attempts),
        );
        host.set_response_header(CALL_ID_RESPONSE_HEADER, Some(&self.call.call_id));
        host.set_response_header(duration.0, Some(&duration.1));
        host.set_response_header(overhead.0, Some(&overhead.1));
    }

    /// The answer's last byte went by: the access log's fields, from the attempts
    /// left so far (the answering attempt left its record before its last chunk
    /// came here).
    pub fn on_response_end(&mut self, host: &mut dyn Host) {
        if self.call.call_id.is_empty() {
            return;
        }
        let attempts = host.peek_attempts(&self.call.call_id);
        let key = key_labels(host);
        set_access_log_fields(host, &self.call, &key, &attempts);
        self.call.key = Some(key);
        self.call.logged = true;
    }

    /// Envoy logs the request: unless it ended by an internal redirect (its replay
    /// goes on with the call), its record is built, its access-log fields set, and
    /// the record handed to the observers. Returns the record (tests look at it).
    pub fn on_log(&mut self, router: &Router, host: &mut dyn Host) -> Option<RequestRecord> {
        if self.call.call_id.is_empty() {
            return None;
        }
        let details = text_property(host, &["response", "code_details"]);
        if details.as_deref() == Some(INTERNAL_REDIRECT_DETAILS) {
            return None;
        }
        let status = host
            .property(&["response", "code"])
            .and_then(|raw| response_code(&raw))
            .unwrap_or(0);
        self.finish_answer();
        let attempts = host.take_attempts(&self.call.call_id);
        let key = self.call.key.take().unwrap_or_else(|| key_labels(host));
        if !self.call.logged {
            // The answer never ended here (the client left, Envoy reset it).
            set_access_log_fields(host, &self.call, &key, &attempts);
        }
        let failed = !(200..300).contains(&status);
        let error = if failed {
            self.call
                .error
                .clone()
                .or_else(|| attempts.last().and_then(|a| a.error.clone()))
                .or(details)
                .or_else(|| Some(format!("HTTP {status}")))
        } else {
            None
        };
        let record = RequestRecord {
            call_id: self.call.call_id.clone(),
            route: std::mem::take(&mut self.call.route),
            call_type: self.call.call_type.to_string(),
            requested_model: self.call.requested_model.clone(),
            stream: self.call.stream,
            status,
            error,
            start_ms: self.call.start_ms,
            end_ms: host.now_unix_millis(),
            key,
            budgets: host
                .property(&[crate::observe::record::BUDGETS_PROPERTY])
                .map(|raw| crate::observe::record::AdmissionBudgets::decode(&raw))
                .unwrap_or_default(),
            end_user: self.call.end_user.clone(),
            client_ip: text_property(host, &["source", "address"])
                .map(|a| crate::observe::bounded(crate::observe::record::address_without_port(&a)))
                .unwrap_or_default(),
            user_agent: self.call.user_agent.clone(),
            attempts,
            details: self.call.details.take(),
        };
        router.observers().finish(host, &record);
        Some(record)
    }
}

/// Who the request was admitted for (the responder stage's [`KeyFacts`]), when
/// keys are checked.
fn key_labels(host: &dyn Host) -> KeyLabels {
    let Some(facts) = host
        .property(&[KEY_PROPERTY])
        .filter(|raw| !raw.is_empty())
        .and_then(|raw| KeyFacts::decode(&raw))
    else {
        return KeyLabels::default();
    };
    KeyLabels {
        hashed_api_key: facts.key_hash,
        api_key_alias: facts.key_alias,
        team: facts.team_id,
        team_alias: facts.team_alias,
        user: facts.user_id,
    }
}

/// Sets the access log's fields (`switchyard_contract::filter_state::access_log`).
fn set_access_log_fields(
    host: &mut dyn Host,
    call: &CallFacts,
    key: &KeyLabels,
    attempts: &[AttemptRecord],
) {
    let last = attempts
        .iter()
        .rev()
        .find(|a| a.succeeded())
        .or(attempts.last());
    let mut fields: Vec<(&str, String)> = Vec::with_capacity(12);
    if let Some(usage) = last.and_then(|a| a.usage) {
        fields.push((log_field::PROMPT_TOKENS, usage.prompt_tokens.to_string()));
        fields.push((
            log_field::COMPLETION_TOKENS,
            usage.completion_tokens.to_string(),
        ));
        fields.push((
            log_field::TOTAL_TOKENS,
            usage
                .prompt_tokens
                .saturating_add(usage.completion_tokens)
                .to_string(),
        ));
    }
    if !attempts.is_empty() {
        let spend: f64 = attempts.iter().map(|a| a.spend).sum();
        fields.push((log_field::SPEND, spend.to_string()));
    }
    if let Some(first) = last.and_then(|a| a.first_token_ms) {
        fields.push((
            log_field::TIME_TO_FIRST_TOKEN_MS,
            first.saturating_sub(call.start_ms).to_string(),
        ));
    }
    if let Some(a) = last {
        fields.push((log_field::MODEL_ID, a.model_id.clone()));
    }
    for (name, value) in [
        (log_field::KEY_ALIAS, &key.api_key_alias),
        (log_field::USER, &key.user),
        (log_field::TEAM, &key.team),
        (log_field::END_USER, &call.end_user),
        (log_field::REQUESTED_MODEL, &call.requested_model),
    ] {
        if !value.is_empty() {
            fields.push((name, value.clone()));
        }
    }
    // No response cache yet: never a hit.
    fields.push((log_field::CACHE_HIT, "false".to_string()));
    for (name, value) in fields {
        host.set_property(&[name], value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_envoys_response_code_in_either_form() {
        assert_eq!(response_code(&200i64.to_le_bytes()), Some(200));
        assert_eq!(response_code(b"503"), Some(503));
        assert_eq!(response_code(&(-1i64).to_le_bytes()), None);
        assert_eq!(response_code(b""), None);
    }
}
