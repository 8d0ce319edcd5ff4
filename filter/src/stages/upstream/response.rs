//! The answer of one attempt: how it is handled (passed, held, translated whole,
//! streamed), translated by the deployment's provider and tagged.

use super::*;

impl UpstreamExchange {
    /// Response headers: tag the answer, decide how the body will be handled.
    pub fn on_response_headers(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        end_of_stream: bool,
    ) -> Flow {
        let status = host
            .response_header(":status")
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        let (Some(dep), Some(endpoint)) =
            (self.deployment(up), self.facts.as_ref().map(|f| f.endpoint))
        else {
            self.response = ResponseMode::Passthrough;
            return Flow::Continue;
        };
        self.log_status(dep, host, status);
        self.status = status;
        // Until the answer ends: the attempt so far, for the answer's timing headers.
        self.leave_provisional_record(dep, host);
        host.set_response_header("x-litellm-model-id", Some(&dep.deployment_id));
        host.set_response_header("x-litellm-model-group", Some(&dep.group));
        host.set_response_header("x-litellm-model-api-base", Some(&dep.api_base));
        host.set_response_header(
            "x-litellm-attempted-retries",
            Some(&self.attempt.saturating_sub(1).to_string()),
        );
        let error_steps = self
            .facts
            .as_ref()
            .and_then(|f| f.error_fallback.as_ref())
            .map_or(0, |f| f.step + 1);
        host.set_response_header(
            "x-litellm-attempted-fallbacks",
            Some(&(dep.fallback_index + error_steps).to_string()),
        );

        if !(200..300).contains(&status) {
            if end_of_stream {
                // No body to map: answer with the error for the status alone.
                let err = provider_error(dep, host, status, b"");
                self.error_message = Some(crate::observe::bounded(&err.message));
                self.response = ResponseMode::Passthrough;
                reply_error(host, &err, self.api);
                return Flow::Pause;
            }
            self.response = ResponseMode::Error {
                upstream_status: status,
            };
            host.set_response_header("content-length", None);
            return Flow::Pause;
        }
        self.content_length = host
            .response_header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if self.key.is_some() && self.stream {
            self.output = Some(estimate::OutputCounter::new());
        }
        let ctx = ResponseContext {
            created: self.start_ms / 1000,
            model: self.model.clone(),
            // An Anthropic-format client's stream ends with the usage, always.
            include_usage: self.include_usage || self.api == ClientApi::Messages,
        };
        self.response = if self.native && self.stream {
            host.set_response_header("content-length", None);
            ResponseMode::Stream(Box::new(anthropic_client::NativeTap::new()))
        } else if self.native {
            ResponseMode::Hold
        } else if self.rewritten.fake_stream || (self.rewritten.json_tool && !self.stream) {
            // Read whole: the answer is rewritten (and replayed as a stream when
            // the client asked for one the provider could not give).
            host.set_response_header("content-length", None);
            if self.rewritten.fake_stream {
                host.set_response_header("content-type", Some("text/event-stream"));
            }
            ResponseMode::Translate
        } else if self.stream {
            host.set_response_header("content-length", None);
            if dep.provider.response_format() == ResponseFormat::Native || self.api.is_anthropic() {
                host.set_response_header("content-type", Some("text/event-stream"));
            }
            let translator = dep.provider.stream_translator(
                &self.answer(dep, endpoint, &|name| host.response_header(name)),
                ctx,
            );
            if self.api.is_anthropic() {
                ResponseMode::Stream(Box::new(anthropic_client::Chain::new(
                    translator,
                    self.messages_context(),
                )))
            } else {
                ResponseMode::Stream(translator)
            }
        } else if dep.provider.response_format() == ResponseFormat::Native
            || self.api.is_anthropic()
            || (endpoint == Endpoint::ChatCompletions && dep.quirks.answer_fix().is_some())
        {
            host.set_response_header("content-length", None);
            ResponseMode::Translate
        } else {
            // Held whole before the headers go on: an answer cut midway is then still
            // an upstream failure Envoy can retry, never half an answer.
            ResponseMode::Hold
        };
        match self.response {
            ResponseMode::Translate | ResponseMode::Hold => Flow::Pause,
            _ => Flow::Continue,
        }
    }

    /// Response body: translate whole bodies at the end, streams chunk by chunk.
    pub fn on_response_body(
        &mut self,
        up: &Upstream,
        host: &mut dyn Host,
        size: usize,
        end_of_stream: bool,
    ) -> Flow {
        let endpoint = self
            .facts
            .as_ref()
            .map_or(Endpoint::ChatCompletions, |f| f.endpoint);
        let Some(dep) = up.deployments.get(self.deployment) else {
            return Flow::Continue;
        };
        match &self.response {
            ResponseMode::Pending | ResponseMode::Passthrough => Flow::Continue,
            ResponseMode::Hold if end_of_stream => self.held_answer_complete(dep, host, size),
            ResponseMode::Hold => {
                self.body_bytes = self.body_bytes.max(size as u64);
                Flow::Pause
            }
            ResponseMode::Stream(_) => self.stream_chunk(dep, host, size, end_of_stream),
            ResponseMode::Translate => {
                if !end_of_stream {
                    self.body_bytes = self.body_bytes.max(size as u64);
                    return Flow::Pause;
                }
                if self.fanout.is_some() {
                    return self.first_input_answered(up, host, size);
                }
                self.translate_whole_answer(dep, host, size, endpoint)
            }
            ResponseMode::Error { upstream_status } => {
                if !end_of_stream {
                    return Flow::Pause;
                }
                let status = *upstream_status;
                self.error_answer(up, dep, host, size, status)
            }
        }
    }

    /// A held answer is whole: priced, reported, passed on untouched.
    fn held_answer_complete(&mut self, dep: &Deployment, host: &mut dyn Host, size: usize) -> Flow {
        let body = host.response_body(size).unwrap_or_default();
        self.first_token_ms = Some(host.now_unix_millis());
        self.usage = if self.native {
            anthropic_client::native_usage(&body)
        } else {
            cost::usage_of(&body)
        };
        if self.pricing.is_none() {
            // The answer may name a model the deployment's table prices
            // (an Azure deployment's `model`).
            self.pricing = cost::model_of(&body).and_then(|m| dep.price_for(&m));
        }
        report_cost(host, self.pricing.as_ref(), self.usage, None);
        self.record_spend(dep, host);
        Flow::Continue
    }

    /// One chunk of a stream: translated, counted; at the end, the usage read and
    /// the spend reported.
    fn stream_chunk(
        &mut self,
        dep: &Deployment,
        host: &mut dyn Host,
        size: usize,
        end_of_stream: bool,
    ) -> Flow {
        let ResponseMode::Stream(translator) = &mut self.response else {
            return Flow::Continue;
        };
        let buffered = host.response_body(size).unwrap_or_default();
        // Bytes translated earlier and not yet passed on stay as they are.
        let (held, chunk) = buffered
            .split_at_checked(self.stream_held)
            .unwrap_or((&[], buffered.as_slice()));
        let mut out = Vec::with_capacity(held.len() + chunk.len() * 2);
        out.extend_from_slice(held);
        translator.push(chunk, &mut out);
        if self.first_token_ms.is_none() && out.len() > held.len() {
            self.first_token_ms = Some(host.now_unix_millis());
        }
        if let Some(counter) = self.output.as_mut() {
            counter.push(out.get(held.len()..).unwrap_or_default());
        }
        if end_of_stream {
            translator.finish(&mut out);
            self.usage = translator.usage();
            self.provider_cost = translator.provider_cost();
        }
        host.replace_response_body(size, &out);
        self.stream_written = out.len();
        if end_of_stream {
            if self.usage.is_none() && self.provider_cost.is_none() {
                // A stream that ended without its usage (cut by an error
                // event, or a server that reports none): charged the
                // estimate of what it carried, not $0.
                self.record_estimated(dep, host);
            } else {
                self.record_spend(dep, host);
            }
        }
        Flow::Continue
    }

    /// A successful answer read whole: translated by the provider, rewritten as
    /// the request's rewrite needs, priced, and sent on in the client's format.
    fn translate_whole_answer(
        &mut self,
        dep: &Deployment,
        host: &mut dyn Host,
        size: usize,
        endpoint: Endpoint,
    ) -> Flow {
        let body = host.response_body(size).unwrap_or_default();
        self.first_token_ms = Some(host.now_unix_millis());
        let ctx = ResponseContext {
            created: self.start_ms / 1000,
            model: self.model.clone(),
            include_usage: self.include_usage,
        };
        let header = |name: &str| host.response_header(name);
        let answer = self.answer(dep, endpoint, &header);
        let translated = dep.provider.translate_response(&answer, &ctx, &body);
        match translated {
            Ok(out) => {
                let out = if self.base64_embeddings {
                    providers::embeddings_to_base64(out)
                } else if self.rewritten.json_tool {
                    providers::openai_compat::json_tool_answer(out)
                } else {
                    out
                };
                let out = match dep.quirks.answer_fix() {
                    Some(fix) if endpoint == Endpoint::ChatCompletions => {
                        self.provider_cost = fix.cost_of(&out);
                        fix.fix_answer(out)
                    }
                    _ => out,
                };
                self.usage = cost::usage_of(&out);
                if self.pricing.is_none() {
                    self.pricing = cost::model_of(&out).and_then(|m| dep.price_for(&m));
                }
                let anthropic = self.api.is_anthropic();
                let out = if self.rewritten.fake_stream {
                    // A stream: no cost header, as for streams.
                    let sse = providers::openai_compat::fake_stream(
                        &out,
                        self.include_usage || anthropic,
                    );
                    if anthropic {
                        use providers::StreamTranslate as _;
                        let mut t =
                            anthropic_client::StreamToMessages::new(self.messages_context());
                        let mut events = Vec::with_capacity(sse.len() * 2);
                        t.push(&sse, &mut events);
                        t.finish(&mut events);
                        Ok(events)
                    } else {
                        Ok(sse)
                    }
                } else {
                    report_cost(host, self.pricing.as_ref(), self.usage, self.provider_cost);
                    if anthropic {
                        anthropic_client::from_openai_response(&out, &self.messages_context())
                    } else {
                        Ok(out)
                    }
                };
                match out {
                    Ok(out) => {
                        host.replace_response_body(size, &out);
                        self.record_spend(dep, host);
                    }
                    Err(err) => {
                        host.set_response_header("x-litellm-response-cost", None);
                        self.error_message = Some(crate::observe::bounded(&err.message));
                        set_error(host, size, &err, self.api);
                    }
                }
            }
            Err(err) => {
                host.log(
                    Level::Warn,
                    &format!("switchyard upstream {}: {err}", dep.deployment_id),
                );
                self.error_message = Some(crate::observe::bounded(&err.message));
                set_error(host, size, &err, self.api);
            }
        }
        Flow::Continue
    }

    /// A provider error read whole: redirected to an error fallback, or mapped to
    /// an error in the client's format.
    fn error_answer(
        &mut self,
        up: &Upstream,
        dep: &Deployment,
        host: &mut dyn Host,
        size: usize,
        status: u16,
    ) -> Flow {
        let body = host.response_body(size).unwrap_or_default();
        let err = provider_error(dep, host, status, &body);
        self.error_message = Some(crate::observe::bounded(&err.message));
        if let Some(location) = self.error_fallback_location(up, status, &body) {
            // The replay continues the call: this attempt's record is left now,
            // before the replay begins, and the redirect carries the call.
            let token = crate::observe::call::redirect_token(host);
            self.redirect_token = Some(token.clone());
            self.leave_final_record(dep, host, cost::Usage::default(), 0.0, true);
            if let Some(facts) = self.facts.as_ref().filter(|f| !f.call_id.is_empty()) {
                host.set_response_header(
                    crate::observe::call::CALL_ID_CARRIER_HEADER,
                    Some(&crate::observe::call::carrier(
                        &facts.call_id,
                        facts.call_start_ms,
                        &token,
                    )),
                );
            }
            // Envoy follows this internally (internal_redirect_policy) and
            // replays the request through the router stage.
            host.set_response_header(":status", Some("307"));
            host.set_response_header("location", Some(&location));
            host.set_response_header("content-type", None);
            // The replay presents the client's credentials, not the provider's,
            // and continues this admission (one request: one count, one slot).
            crate::credentials::restore_for_replay(host);
            host.set_response_header(
                spend::ADMISSION_HEADER,
                self.key
                    .as_ref()
                    .map(|k| k.admission.as_str())
                    .filter(|a| !a.is_empty()),
            );
            host.replace_response_body(size, b"");
            return Flow::Continue;
        }
        if self.native {
            // Anthropic's own error, for an Anthropic client: as it came.
            host.set_response_header("content-type", Some("application/json"));
            host.replace_response_body(size, &anthropic_client::native_error_body(status, &body));
        } else {
            set_error(host, size, &err, self.api);
        }
        self.record_failure(dep, host);
        Flow::Continue
    }

    /// What the provider needs to translate this attempt's answer.
    pub(super) fn answer<'h>(
        &self,
        dep: &Deployment,
        endpoint: Endpoint,
        header: &'h dyn Fn(&str) -> Option<String>,
    ) -> Answer<'h> {
        Answer {
            endpoint,
            rewritten: self.rewritten,
            quirks: dep.quirks,
            client_include_usage: self.include_usage,
            header,
        }
    }

    /// What the Anthropic answer translation needs.
    pub(super) fn messages_context(&self) -> anthropic_client::MessagesContext {
        anthropic_client::MessagesContext {
            model: self.model.clone(),
            id: format!("msg_{}", self.request_id.replace('-', "")),
            stop_sequences: self.stop_sequences.clone(),
        }
    }
}

/// A provider's error answer as an OpenAI error (the provider may read the
/// answer's headers: Bedrock names the error's type in one).
pub(super) fn provider_error(
    dep: &Deployment,
    host: &dyn Host,
    status: u16,
    body: &[u8],
) -> GatewayError {
    dep.provider
        .translate_error(status, body, &|name| host.response_header(name))
}

/// Replaces a held response with an error in the client's format.
pub(super) fn set_error(host: &mut dyn Host, size: usize, err: &GatewayError, api: ClientApi) {
    host.set_response_header(":status", Some(&err.status.to_string()));
    host.set_response_header("content-type", Some("application/json"));
    host.replace_response_body(size, &error_body(err, api));
}
