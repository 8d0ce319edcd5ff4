//! The record of one attempt (`observe::AttemptRecord`), left in the worker's
//! attempt ledger under the request's call id for the request's end, whether or
//! not keys are checked: a provisional one when the provider's response headers
//! come (the answer's timing headers read it), the final one when the attempt's
//! outcome is known (answered, failed, cut short, redirected to a fallback).

use super::*;
use crate::observe::AttemptRecord;

impl UpstreamExchange {
    fn attempt_record(
        &self,
        dep: &Deployment,
        now_ms: u64,
        usage: Option<cost::Usage>,
        spend: f64,
        error: Option<String>,
    ) -> AttemptRecord {
        let served = if self.model.is_empty() {
            &dep.model
        } else {
            &self.model
        };
        AttemptRecord {
            model_id: dep.deployment_id.clone(),
            model: format!("{}/{served}", dep.provider.kind().as_str()),
            model_group: dep.group.clone(),
            api_provider: dep.provider.kind().as_str().to_string(),
            api_base: dep.api_base.clone(),
            status: self.status,
            fallback_index: dep.fallback_index.saturating_add(
                self.facts
                    .as_ref()
                    .and_then(|f| f.error_fallback.as_ref())
                    .map_or(0, |f| f.step.saturating_add(1)),
            ),
            start_ms: self.start_ms,
            end_ms: now_ms,
            first_token_ms: self.first_token_ms,
            usage,
            spend,
            error,
            redirect_token: self.redirect_token.clone(),
        }
    }

    fn call_id(&self) -> Option<&str> {
        self.facts
            .as_ref()
            .map(|f| f.call_id.as_str())
            .filter(|id| !id.is_empty())
    }

    /// The attempt so far (its response headers came), replaced by its final
    /// record later.
    pub(super) fn leave_provisional_record(&self, dep: &Deployment, host: &dyn Host) {
        let Some(call_id) = self.call_id() else {
            return;
        };
        let record = self.attempt_record(dep, host.now_unix_millis(), None, 0.0, None);
        host.leave_attempt(call_id, self.attempt_id, record);
    }

    /// The attempt's final record, once (the first outcome known is the one kept).
    pub(super) fn leave_final_record(
        &self,
        dep: &Deployment,
        host: &dyn Host,
        usage: cost::Usage,
        spend: f64,
        failed: bool,
    ) {
        if self.left.get() {
            return;
        }
        let Some(call_id) = self.call_id() else {
            return;
        };
        self.left.set(true);
        let error = if failed {
            Some(self.error_message.clone().unwrap_or_else(|| {
                if self.status == 0 {
                    "no answer from the provider (connection reset, timeout, or the client left)"
                        .to_string()
                } else if (200..300).contains(&self.status) {
                    "the answer was cut short".to_string()
                } else {
                    format!("provider answered HTTP {}", self.status)
                }
            }))
        } else {
            None
        };
        let usage = (usage != cost::Usage::default()).then_some(usage);
        let record = self.attempt_record(dep, host.now_unix_millis(), usage, spend, error);
        host.leave_attempt(call_id, self.attempt_id, record);
    }
}
