//! What an attempt costs and the spend report it queues (keys checked only):
//! answered, failed, cut short or estimated.

use super::*;

impl UpstreamExchange {
    /// What an answer that did not finish is charged: the provider's counts so far
    /// (Anthropic's `message_start` has the prompt's), else the estimates of
    /// [`estimate`] — the prompt from the request, the output from the text
    /// streamed (or the bytes of a held answer). `true` when anything is estimated.
    pub(super) fn partial_usage(&self) -> (cost::Usage, bool) {
        let reported = match &self.response {
            ResponseMode::Stream(translator) => translator.usage(),
            _ => None,
        };
        let mut usage = reported.or(self.usage).unwrap_or_default();
        let mut estimated = false;
        if usage.prompt_tokens == 0 && self.prompt_estimate > 0 {
            usage.prompt_tokens = self.prompt_estimate;
            estimated = true;
        }
        let produced = match &self.response {
            ResponseMode::Stream(_) => self.output.as_ref().map_or(0, |c| c.tokens()),
            _ => estimate::bytes_to_tokens(self.body_bytes.max(self.content_length)),
        };
        if produced > usage.completion_tokens {
            usage.completion_tokens = produced;
            estimated = true;
        }
        (usage, estimated)
    }

    /// The price of what was served: the one fixed when the request was sent, else
    /// that of the model the stream's events named.
    pub(super) fn served_pricing(&self, dep: &Deployment) -> Option<Pricing> {
        self.pricing.or_else(|| {
            self.output
                .as_ref()
                .and_then(|c| c.model())
                .and_then(|m| dep.price_for(m))
        })
    }

    /// Queues the spend report of an answered request (keys checked only).
    pub(super) fn record_spend(&self, dep: &Deployment, host: &dyn Host) {
        let usage = self.usage.unwrap_or_default();
        let pricing = self.served_pricing(dep);
        let (spend, unpriced) = match (self.provider_cost, pricing) {
            (Some(provider_cost), _) => (provider_cost, false),
            (None, Some(p)) => (cost::cost(&usage, &p), false),
            (None, None) => (0.0, true),
        };
        self.report(dep, host, "success", usage, spend, unpriced, Map::new());
    }

    /// Queues a failed attempt's report: no spend, but its lease is released. Each
    /// attempt gets its own id, as Envoy may retry and the request then succeed.
    pub(super) fn record_failure(&self, dep: &Deployment, host: &dyn Host) {
        self.report(
            dep,
            host,
            "failure",
            cost::Usage::default(),
            0.0,
            false,
            Map::new(),
        );
    }

    /// Queues the report of an answer that began and did not finish: status
    /// `failure`, spend charged for what the provider
    /// produced, metadata `{"switchyard_partial": true, "estimated": …}`.
    pub(super) fn record_partial(&self, dep: &Deployment, host: &dyn Host) {
        let (usage, estimated) = self.partial_usage();
        let pricing = self.served_pricing(dep);
        let spend = pricing.map_or(0.0, |p| cost::cost(&usage, &p));
        let mut marks = Map::new();
        marks.insert("switchyard_partial".into(), Value::Bool(true));
        marks.insert("estimated".into(), Value::Bool(estimated));
        self.report(dep, host, "failure", usage, spend, pricing.is_none(), marks);
    }

    /// Queues the report of a stream that ended without usage: status `success`,
    /// spend charged for the estimate, metadata `{"estimated": true}`.
    pub(super) fn record_estimated(&self, dep: &Deployment, host: &dyn Host) {
        let (usage, _) = self.partial_usage();
        let pricing = self.served_pricing(dep);
        let spend = pricing.map_or(0.0, |p| cost::cost(&usage, &p));
        let mut marks = Map::new();
        marks.insert("estimated".into(), Value::Bool(true));
        self.report(dep, host, "success", usage, spend, pricing.is_none(), marks);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn report(
        &self,
        dep: &Deployment,
        host: &dyn Host,
        status: &str,
        usage: cost::Usage,
        spend: f64,
        unpriced: bool,
        mut marks: Map<String, Value>,
    ) {
        let failed = status != "success";
        self.leave_final_record(dep, host, usage, spend, failed);
        let (Some(key), Some(facts)) = (&self.key, &self.facts) else {
            return;
        };
        self.reported.set(true);
        if unpriced {
            // No silent $0: served under a budget without a price (`check` warned).
            host.log(
                Level::Warn,
                &format!(
                    "switchyard: deployment {} (group {}) served model {} with no price: spend recorded as 0, budgets do not count it; give it input_cost_per_token/output_cost_per_token, model_info.base_model or a SWITCHYARD_MODEL_PRICES entry",
                    dep.deployment_id, dep.group, self.model
                ),
            );
            marks.insert("switchyard_unpriced".into(), Value::Bool(true));
        }
        let now = host.now_unix_millis();
        let admitted = key.spend_key(&self.request_id, now);
        let request_id = match (&facts.error_fallback, failed) {
            (_, false) => admitted,
            (None, true) => format!("{admitted}:attempt-{}:failed", self.attempt),
            (Some(step), true) => format!(
                "{admitted}:fallback-{}:attempt-{}:failed",
                step.step, self.attempt
            ),
        };
        let call_type = spend::call_type(facts.api, facts.endpoint);
        let body = spend::report(
            key,
            &Answered {
                request_id: &request_id,
                client_request_id: &self.request_id,
                call_type,
                model: &self.model,
                model_id: &dep.deployment_id,
                model_group: &dep.group,
                provider: dep.provider.kind().as_str(),
                api_base: &dep.api_base,
                usage,
                spend,
                start_ms: self.start_ms,
                end_ms: now,
                status,
                labels: &self.labels,
                marks: &marks,
            },
        );
        host.queue_spend_report(body, now);
    }
}

/// Sets `x-litellm-response-cost` (USD) on a held, non-streamed answer: the
/// provider's own price when it reports one, else the deployment's prices.
pub(super) fn report_cost(
    host: &mut dyn Host,
    pricing: Option<&Pricing>,
    usage: Option<cost::Usage>,
    provider_cost: Option<f64>,
) {
    let usd = match (provider_cost, pricing, usage) {
        (Some(usd), _, _) => usd,
        (None, Some(pricing), Some(usage)) => cost::cost(&usage, pricing),
        _ => return,
    };
    host.set_response_header("x-litellm-response-cost", Some(&usd.to_string()));
}
